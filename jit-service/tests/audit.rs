//! The audit chain under attack, on SQLite and PostgreSQL: a record's data edited, a middle
//! record deleted, two records reordered, the tail cut (with the head rewound to match), the
//! rest of the chain rewritten — each found at the right record with the right reason, by
//! `audit::verify` and by `iam-jit audit verify` (exit 1 naming the record; 0 when intact).
//! Also: the chain survives a restart, and concurrent approvals and comments append exactly
//! one transition to a chain that still verifies.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use jit_service::identity::Role;
use jit_service::{audit, AppState};
use serde_json::json;
use sqlx::Row;
use std::sync::Arc;

const KEY: &str = "audit-checkpoint-key-for-tests";

/// Run `$f(app)` on both backends; `$config` adjusts the configuration.
macro_rules! on_both {
    ($name:ident, $config:expr, $f:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $f(TestApp::with_config(Kind::Sqlite, $config).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $f(TestApp::with_config(Kind::Postgres, $config).await).await
            }
        }
    };
}

fn no_key(_: &mut jit_service::Config) {}

fn with_key(c: &mut jit_service::Config) {
    c.audit_key = Some(KEY.into());
}

/// Some real history: users, tokens, a request approved to active, comments. Returns the
/// head's sequence number.
async fn populate(app: &TestApp, tag: &str) -> i64 {
    let alice = app.user(&format!("email:alice-{tag}@example.com"), Role::Requester, &[]).await;
    let bob = app.user(&format!("email:bob-{tag}@example.com"), Role::Approver, &[]).await;
    let id = app.submit(&alice, role_request("111122223333", 2, read_policy())).await;
    let (st, v) =
        app.post(&format!("/api/v1/requests/{id}/comments"), &alice, json!({"body": "for the release"})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = app.post(&format!("/api/v1/requests/{id}/approve"), &bob, json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    head(app).await.0
}

async fn head(app: &TestApp) -> (i64, String) {
    let r =
        sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&app.state.store.pool).await.unwrap();
    (r.get(0), r.get(1))
}

async fn hash_of(app: &TestApp, seq: i64) -> String {
    sqlx::query("SELECT hash FROM audit_log WHERE seq = $1")
        .bind(seq)
        .fetch_one(&app.state.store.pool)
        .await
        .unwrap()
        .get(0)
}

async fn exec(app: &TestApp, sql: &str, args: &[i64]) {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
    for a in args {
        q = q.bind(*a);
    }
    q.execute(&app.state.store.pool).await.unwrap();
}

/// `iam-jit audit verify --database URL` (with the audit key in the environment, or not):
/// (exit code, stdout).
fn cli_verify(database: &str, key: Option<&str>) -> (i32, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_iam-jit"));
    cmd.args(["audit", "verify", "--database", database]);
    for var in ["IAM_JIT_CONFIG", "IAM_JIT_DATABASE", "IAM_JIT_AUDIT_KEY"] {
        cmd.env_remove(var);
    }
    if let Some(k) = key {
        cmd.env("IAM_JIT_AUDIT_KEY", k);
    }
    let out = cmd.output().expect("run iam-jit");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The chain is reported broken at `seq` with a reason containing `reason`, by the library
/// and by the command line (exit 1, naming the record).
async fn assert_broken(app: &TestApp, key: Option<&str>, seq: i64, reason: &str) {
    let v = audit::verify(&app.state.store, key.map(str::as_bytes)).await.unwrap();
    assert!(!v.ok, "tampering went unnoticed: {v:?}");
    let bad = v.first_bad.clone().unwrap();
    assert_eq!(bad.seq, seq, "{v:?}");
    assert!(bad.reason.contains(reason), "reason `{}` does not say `{reason}`", bad.reason);
    let (code, out) = cli_verify(&app.database, key);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("audit chain BROKEN at record {seq}: ")), "{out}");
    assert!(out.contains(reason), "{out}");
}

async fn assert_intact(app: &TestApp, key: Option<&str>) {
    let v = audit::verify(&app.state.store, key.map(str::as_bytes)).await.unwrap();
    assert!(v.ok, "{v:?}");
    let (code, out) = cli_verify(&app.database, key);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with(&format!("audit chain intact: {} records, head {}", v.records, v.head_seq)), "{out}");
}

// ---------------------------------------------------------------------------------------------
// Tampering
// ---------------------------------------------------------------------------------------------

async fn edited_data(app: TestApp) {
    let last = populate(&app, "a").await;
    assert_intact(&app, None).await;
    let k = last / 2;
    exec(&app, r#"UPDATE audit_log SET data = '{"forged":true}' WHERE seq = $1"#, &[k]).await;
    assert_broken(&app, None, k, &format!("record {k} was altered")).await;
}
on_both!(edited_data_is_found, no_key, edited_data);

async fn edited_actor_and_time(app: TestApp) {
    let last = populate(&app, "a").await;
    exec(&app, "UPDATE audit_log SET actor = 'email:someone-else@example.com' WHERE seq = $1", &[last - 1]).await;
    assert_broken(&app, None, last - 1, "was altered").await;
    let app2 = TestApp::new(app.kind).await;
    let last = populate(&app2, "b").await;
    exec(&app2, "UPDATE audit_log SET ts = ts - 3600000 WHERE seq = $1", &[last]).await;
    assert_broken(&app2, None, last, &format!("record {last} was altered")).await;
}
on_both!(edited_actor_or_time_is_found, no_key, edited_actor_and_time);

async fn deleted_middle(app: TestApp) {
    let last = populate(&app, "a").await;
    let k = last / 2;
    exec(&app, "DELETE FROM audit_log WHERE seq = $1", &[k]).await;
    assert_broken(&app, None, k, &format!("record {k} is missing (the next record is {})", k + 1)).await;
}
on_both!(deleted_middle_record_is_found, no_key, deleted_middle);

async fn reordered(app: TestApp) {
    let last = populate(&app, "a").await;
    let k = last / 2;
    // Swap the sequence numbers of records k and k+1 (through a free number: seq is the key).
    exec(&app, "UPDATE audit_log SET seq = -1 WHERE seq = $1", &[k]).await;
    exec(&app, "UPDATE audit_log SET seq = $1 WHERE seq = $2", &[k, k + 1]).await;
    exec(&app, "UPDATE audit_log SET seq = $1 WHERE seq = -1", &[k + 1]).await;
    assert_broken(&app, None, k, &format!("record {k} does not link to record {}", k - 1)).await;
}
on_both!(reordered_records_are_found, no_key, reordered);

/// A cut tail with the head left alone: the head names a record the log no longer has.
async fn truncated_head_kept(app: TestApp) {
    let last = populate(&app, "a").await;
    let k = last - 3;
    exec(&app, "DELETE FROM audit_log WHERE seq > $1", &[k]).await;
    let reason = format!("the chain head says record {last} is the last, but the log ends at record {k}");
    assert_broken(&app, None, k + 1, &reason).await;
}
on_both!(truncated_tail_is_found_by_the_head, no_key, truncated_head_kept);

/// A cut tail with the head rewound to match is only visible to signed checkpoints.
async fn truncated_head_rewound(app: TestApp) {
    populate(&app, "a").await;
    let signed = audit::checkpoint(&app.state.store, KEY.as_bytes()).await.unwrap().unwrap();
    let last = populate(&app, "b").await;
    assert!(last > signed + 3);
    assert_intact(&app, Some(KEY)).await;
    // Cut to before the checkpoint, and rewind the head to the new last record.
    let k = signed - 2;
    let h = hash_of(&app, k).await;
    exec(&app, "DELETE FROM audit_log WHERE seq > $1", &[k]).await;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(k)
        .bind(&h)
        .execute(&app.state.store.pool)
        .await
        .unwrap();
    let reason =
        format!("the log was truncated: a signed checkpoint names record {signed}, but the log ends at record {k}");
    assert_broken(&app, Some(KEY), k + 1, &reason).await;
    // Without the key the shortened log cannot be told from a shorter one, and says so.
    let v = audit::verify(&app.state.store, None).await.unwrap();
    assert!(v.ok && !v.truncation_checked, "{v:?}");
    let (code, out) = cli_verify(&app.database, None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(no audit_key: truncation not checked)"), "{out}");
}
on_both!(truncated_tail_with_rewound_head_is_found_by_checkpoints, with_key, truncated_head_rewound);

/// Editing a record and recomputing every later hash (the hash is unkeyed) rebuilds a chain
/// that links; the signed checkpoint still holds the old hash.
async fn rewritten_chain(app: TestApp) {
    populate(&app, "a").await;
    let signed = audit::checkpoint(&app.state.store, KEY.as_bytes()).await.unwrap().unwrap();
    populate(&app, "b").await;
    let k = signed - 2;
    exec(&app, r#"UPDATE audit_log SET data = '{"forged":true}' WHERE seq = $1"#, &[k]).await;
    let rows = sqlx::query(
        "SELECT seq, ts, actor, action, subject, data, prev_hash FROM audit_log WHERE seq >= $1 ORDER BY seq",
    )
    .bind(k)
    .fetch_all(&app.state.store.pool)
    .await
    .unwrap();
    let mut prev: String = rows[0].get("prev_hash");
    for r in &rows {
        let seq: i64 = r.get("seq");
        let h = audit::record_hash(
            seq,
            r.get("ts"),
            &r.get::<String, _>("actor"),
            &r.get::<String, _>("action"),
            &r.get::<String, _>("subject"),
            &r.get::<String, _>("data"),
            &prev,
        );
        sqlx::query("UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3")
            .bind(&prev)
            .bind(&h)
            .bind(seq)
            .execute(&app.state.store.pool)
            .await
            .unwrap();
        prev = h;
    }
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(&prev)
        .execute(&app.state.store.pool)
        .await
        .unwrap();
    let v = audit::verify(&app.state.store, None).await.unwrap();
    assert!(v.ok, "the rewritten chain links, so without a key it passes: {v:?}");
    assert_broken(&app, Some(KEY), signed, &format!("record {signed} differs from its signed checkpoint")).await;
}
on_both!(rewritten_chain_is_found_by_checkpoints, with_key, rewritten_chain);

/// A checkpoint whose signature was replaced is reported, not trusted.
async fn forged_checkpoint(app: TestApp) {
    let last = populate(&app, "a").await;
    audit::checkpoint(&app.state.store, KEY.as_bytes()).await.unwrap();
    sqlx::query("UPDATE audit_checkpoints SET mac = $1 WHERE seq = $2")
        .bind(jit_service::util::hmac_hex(b"a guessed key", last.to_string().as_bytes()))
        .bind(last)
        .execute(&app.state.store.pool)
        .await
        .unwrap();
    assert_broken(&app, Some(KEY), last, &format!("checkpoint at record {last} has a bad signature")).await;
}
on_both!(forged_checkpoint_is_found, with_key, forged_checkpoint);

// ---------------------------------------------------------------------------------------------
// Restart and concurrency
// ---------------------------------------------------------------------------------------------

/// A new process (new AppState, new pool) on the same database keeps appending to the same
/// chain, and checkpoints written before the restart still verify.
async fn restart(app: TestApp) {
    let before = populate(&app, "a").await;
    audit::checkpoint(&app.state.store, KEY.as_bytes()).await.unwrap();
    let database = app.database.clone();
    let kind = app.kind;
    app.state.store.pool.close().await;
    drop(app);
    let mut config = dev_config(&database);
    with_key(&mut config);
    let state = AppState::new(config).await.expect("restart on the same database");
    let router = jit_service::api::app(state.clone());
    let admin = seed(&state, "email:admin-after@example.com", Role::Admin, &[]).await;
    let app = TestApp { kind, state, router, database, admin };
    let after = populate(&app, "b").await;
    assert!(after > before);
    let v = app.verify_audit().await;
    assert!(v.ok && v.records == after && v.head_seq == after && v.checkpoints == 1, "{v:?}");
    let first_new: String = sqlx::query("SELECT prev_hash FROM audit_log WHERE seq = $1")
        .bind(before + 1)
        .fetch_one(&app.state.store.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(first_new, hash_of(&app, before).await, "the first record after the restart links to the last before");
    assert_intact(&app, Some(KEY)).await;
}
on_both!(chain_survives_a_restart, with_key, restart);

/// Three approvers approve one high-tier request (quorum 2) at once while comments pour in:
/// exactly one transition to approved (and on to active), every comment recorded once, and a
/// chain that verifies.
async fn concurrent(app: TestApp) {
    let app = Arc::new(app);
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let mut approvers = Vec::new();
    for i in 0..3 {
        approvers.push(app.user(&format!("email:approver{i}@example.com"), Role::Approver, &[]).await);
    }
    let id = app.submit(&alice, role_request("111122223333", 2, admin_policy())).await;
    let (_, v) = app.get(&format!("/api/v1/requests/{id}"), &app.admin).await;
    assert_eq!(v["request"]["status"]["review"]["tier"], "high", "{v}");
    assert_eq!(v["request"]["status"]["quorum"]["required"], 2, "{v}");
    let before = app.verify_audit().await.head_seq;

    const COMMENTS: usize = 24;
    let mut tasks = Vec::new();
    for (i, t) in approvers.iter().enumerate() {
        let (app, t, id) = (app.clone(), t.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let r = app.post(&format!("/api/v1/requests/{id}/approve"), &t, json!({})).await;
            (format!("approve{i}"), r)
        }));
    }
    for i in 0..COMMENTS {
        let t = if i % 2 == 0 { alice.clone() } else { approvers[i % 3].clone() };
        let (app, id) = (app.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let r =
                app.post(&format!("/api/v1/requests/{id}/comments"), &t, json!({"body": format!("note {i}")})).await;
            (format!("comment{i}"), r)
        }));
    }
    let mut approved = 0;
    let mut conflicts = 0;
    for t in tasks {
        let (what, (st, v)) = t.await.unwrap();
        if what.starts_with("approve") {
            match st {
                StatusCode::OK => approved += 1,
                StatusCode::CONFLICT => conflicts += 1,
                other => panic!("{what}: {other}: {v}"),
            }
        } else {
            assert_eq!(st, StatusCode::CREATED, "{what}: {v}");
        }
    }
    // The quorum is two: two approvals are recorded; the third finds the request decided.
    assert_eq!((approved, conflicts), (2, 1));
    assert_eq!(app.state_of(&id).await, "active");
    let count = |action: &'static str| {
        let (app, id) = (app.clone(), id.clone());
        async move {
            sqlx::query("SELECT COUNT(*) FROM audit_log WHERE subject = $1 AND action = $2")
                .bind(id)
                .bind(action)
                .fetch_one(&app.state.store.pool)
                .await
                .unwrap()
                .get::<i64, _>(0)
        }
    };
    assert_eq!(count("request.approved").await, 1, "exactly one transition to approved");
    assert_eq!(count("request.provisioning").await, 1);
    assert_eq!(count("request.active").await, 1);
    assert_eq!(count("request.approval_recorded").await, 2);
    assert_eq!(count("request.commented").await, COMMENTS as i64);
    let (_, v) = app.get(&format!("/api/v1/requests/{id}/comments"), &alice).await;
    assert_eq!(v["comments"].as_array().unwrap().len(), COMMENTS, "{v}");
    // The recorded quorum counts went 1 then 2, never 2 twice.
    let haves: Vec<i64> = audit::list(
        &app.state.store,
        &audit::Filter {
            subject: Some(id.clone()),
            action_prefix: Some("request.approval_recorded".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.data["have"].as_i64().unwrap())
    .collect();
    assert_eq!(haves, vec![1, 2]);
    // Newest first with a limit: the last record, not the first (the admin page's shadow log).
    let newest = audit::list(
        &app.state.store,
        &audit::Filter {
            subject: Some(id.clone()),
            action_prefix: Some("request.approval_recorded".into()),
            limit: 1,
            newest_first: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(newest.iter().map(|r| r.data["have"].as_i64().unwrap()).collect::<Vec<_>>(), vec![2]);
    let v = app.verify_audit().await;
    assert!(v.ok, "{v:?}");
    assert_eq!(v.head_seq, before + 2 + 3 + COMMENTS as i64, "{v:?}");
    let (code, out) = cli_verify(&app.database, None);
    assert_eq!(code, 0, "{out}");
}
on_both!(concurrent_approvals_make_one_transition, no_key, concurrent);

/// Checkpoints: nothing to sign on an empty log, one per new head, and the same head is not
/// signed twice.
async fn checkpoints(app: TestApp) {
    let head_seq = head(&app).await.0;
    let first = audit::checkpoint(&app.state.store, KEY.as_bytes()).await.unwrap();
    assert_eq!(first, Some(head_seq));
    assert_eq!(audit::checkpoint(&app.state.store, KEY.as_bytes()).await.unwrap(), None);
    let (st, _) = app.call(Method::GET, "/api/v1/audit/verify", Some(&app.admin), None).await;
    assert_eq!(st, StatusCode::OK);
    let last = populate(&app, "a").await;
    assert_eq!(audit::checkpoint(&app.state.store, KEY.as_bytes()).await.unwrap(), Some(last));
    let v = app.verify_audit().await;
    assert!(v.ok && v.checkpoints == 2 && v.truncation_checked, "{v:?}");
    let fresh = TestApp::new(app.kind).await;
    sqlx::query("DELETE FROM audit_log").execute(&fresh.state.store.pool).await.unwrap();
    sqlx::query("UPDATE audit_head SET seq = 0, hash = 'genesis' WHERE id = 1")
        .execute(&fresh.state.store.pool)
        .await
        .unwrap();
    assert_eq!(audit::checkpoint(&fresh.state.store, KEY.as_bytes()).await.unwrap(), None);
}
on_both!(checkpoints_sign_each_head_once, with_key, checkpoints);

/// The audit-log report's filters, on both backends: an action prefix with `_` in it (most
/// action names) matches literally, and `%`/`_` typed by the caller are not wildcards.
async fn report_filters(app: TestApp) {
    populate(&app, "a").await;
    let get = |q: &'static str| {
        let app = &app;
        async move {
            let (st, v) = app.get(&format!("/api/v1/reports/audit-log?{q}"), &app.admin).await;
            assert_eq!(st, StatusCode::OK, "{q}: {v}");
            assert_eq!(v["verification"]["ok"], true, "{v}");
            v["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["action"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(get("action=request.approval_recorded").await, vec!["request.approval_recorded"]);
    assert_eq!(
        get("action=request.").await.len(),
        6,
        "submitted, commented, approval_recorded, approved, provisioning, active"
    );
    assert_eq!(get("action=token.created").await.len(), 3);
    assert!(get("action=request_approval").await.is_empty(), "`_` is not a wildcard");
    assert!(get("action=%25").await.is_empty(), "`%` is not a wildcard");
}
on_both!(audit_log_report_filters_by_action, no_key, report_filters);

/// Verifying a live log: records appended while the walk runs are not mistaken for tampering
/// (the walk reads one consistent snapshot of head, records and checkpoints).
async fn verify_while_appending(app: TestApp) {
    populate(&app, "a").await;
    let store = app.state.store.clone();
    let writer = tokio::spawn(async move {
        for i in 0..300 {
            audit::append_now(&store, "system:test", "test.append", "load", json!({"i": i})).await.unwrap();
        }
    });
    let mut runs = 0;
    while !writer.is_finished() {
        let v = audit::verify(&app.state.store, Some(KEY.as_bytes())).await.unwrap();
        assert!(v.ok, "a live log reported broken after {runs} clean runs: {v:?}");
        runs += 1;
        if runs % 5 == 0 {
            audit::checkpoint(&app.state.store, KEY.as_bytes()).await.unwrap();
        }
    }
    writer.await.unwrap();
    assert!(runs > 0);
    let v = app.verify_audit().await;
    assert!(v.ok, "{v:?}");
}
on_both!(verify_is_not_fooled_by_concurrent_appends, with_key, verify_while_appending);
