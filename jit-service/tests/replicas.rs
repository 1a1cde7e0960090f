//! Several replicas on one database: two real `iam-jit serve` processes on one PostgreSQL
//! taking concurrent submissions, racing approvals (quorum 2, approvers on different
//! replicas at the same moment), comments and cancellations, with both delivery workers
//! running; and, in process, two services sharing a database whose background work (expiry
//! warnings, expiry, webhook retries) must still happen once.

mod common;
mod support;

use axum::http::StatusCode;
use common::*;
use jit_service::identity::Role;
use jit_service::{notify, requests, AppState};
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};
use support::*;

const IAM_JIT: &str = env!("CARGO_BIN_EXE_iam-jit");
/// Both replicas sign audit checkpoints with it (each second), so truncation is checked too.
const AUDIT_KEY: &str = "replica-test-audit-key-0123456789";

// ---------------------------------------------------------------------------------------------
// In process: two services on one database
// ---------------------------------------------------------------------------------------------

/// A second service on `app`'s database (another replica, as far as the database can tell).
async fn second_replica(app: &TestApp) -> AppState {
    AppState::new(dev_config(&app.database)).await.expect("second replica")
}

async fn count(app: &TestApp, sql: &'static str, id: &str) -> i64 {
    sqlx::query_scalar(sql).bind(id).fetch_one(&app.state.store.pool).await.unwrap()
}

both!(expiry_warnings_and_expiry_happen_once_across_replicas, |app| async move {
    let other = second_replica(&app).await;
    let rx = Receiver::start().await;
    let (st, v) = app
        .post(
            "/api/v1/webhooks",
            &app.admin,
            json!({"url": rx.url("/"), "events": ["request.expiring", "request.expired"]}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let bob = app.user("email:bob@example.com", Role::Approver, &[]).await;
    let mut ids = Vec::new();
    for _ in 0..10 {
        let id = app.submit(&alice, role_request("111122223333", 2, read_policy())).await;
        let (st, v) = app.post(&format!("/api/v1/requests/{id}/approve"), &bob, json!({})).await;
        assert_eq!((st, v["request"]["status"]["state"].as_str()), (StatusCode::OK, Some("active")), "{v}");
        ids.push(id);
    }
    let set_expiry = |at: i64| {
        let pool = app.state.store.pool.clone();
        async move { sqlx::query("UPDATE requests SET expires_at = $1").bind(at).execute(&pool).await.unwrap() }
    };

    // Both replicas sweep at the same moment, each having read the same due list.
    set_expiry(jit_service::now_ms() + 5 * 60_000).await;
    let (a, b) = tokio::join!(requests::sweep(&app.state), requests::sweep(&other));
    a.unwrap();
    b.unwrap();
    for id in &ids {
        let n = count(
            &app,
            "SELECT COUNT(*) FROM outbox WHERE event = 'request.expiring' AND body LIKE '%' || $1 || '%'",
            id,
        )
        .await;
        assert_eq!(n, 1, "{id}: the owner is warned once, not once per replica");
    }

    set_expiry(jit_service::now_ms() - 1000).await;
    let (a, b) = tokio::join!(requests::sweep(&app.state), requests::sweep(&other));
    assert_eq!(a.unwrap() + b.unwrap(), ids.len(), "each grant is ended by one replica");
    for id in &ids {
        assert_eq!(app.state_of(id).await, "expired");
        let sql = "SELECT COUNT(*) FROM outbox WHERE event = 'request.expired' AND body LIKE '%' || $1 || '%'";
        assert_eq!(count(&app, sql, id).await, 1, "{id}");
        let sql = "SELECT COUNT(*) FROM audit_log WHERE action = 'request.expired' AND subject = $1";
        assert_eq!(count(&app, sql, id).await, 1, "{id}");
        let sql = "SELECT COUNT(*) FROM provisioning_calls WHERE request_id = $1 AND call LIKE '%\"DeleteRole\"%'";
        assert_eq!(count(&app, sql, id).await, 1, "{id}: the role is removed once");
    }
    assert!(app.verify_audit().await.ok);
});

both!(failed_webhook_deliveries_are_retried_once_per_backoff_across_replicas, |app| async move {
    let other = second_replica(&app).await;
    let rx = Receiver::start().await;
    rx.set_status(500);
    let (st, v) =
        app.post("/api/v1/webhooks", &app.admin, json!({"url": rx.url("/"), "events": ["request.submitted"]})).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let n = 12;
    for _ in 0..n {
        app.submit(&alice, role_request("111122223333", 2, read_policy())).await;
    }
    // The first attempt is slow: while one replica waits for it, the other fails the rest
    // quickly. The slow one must not then take those again before their backoff has passed.
    rx.stall_next(1500);
    let (a, b) = tokio::join!(
        tokio::spawn({
            let s = app.state.clone();
            async move { notify::deliver_due(&s, 50).await }
        }),
        tokio::spawn({
            let s = other.clone();
            async move { notify::deliver_due(&s, 50).await }
        })
    );
    let attempted = a.unwrap().unwrap() + b.unwrap().unwrap();
    assert_eq!(attempted, n, "each message is attempted once");
    assert_eq!(rx.received().len(), n);
    let rows = sqlx::query("SELECT o.id, o.attempts, o.status, (SELECT COUNT(*) FROM deliveries d WHERE d.outbox_id = o.id) AS logged FROM outbox o")
        .fetch_all(&app.state.store.pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), n);
    for r in rows {
        let (attempts, logged): (i64, i64) = (r.get("attempts"), r.get("logged"));
        assert_eq!(
            (attempts, logged, r.get::<String, _>("status")),
            (1, 1, "pending".into()),
            "{}",
            r.get::<String, _>("id")
        );
    }
});

// ---------------------------------------------------------------------------------------------
// Two `iam-jit serve` processes on one PostgreSQL
// ---------------------------------------------------------------------------------------------

/// One `iam-jit serve` process; killed when dropped (also when the test panics).
struct Replica {
    name: String,
    base: String,
    log: PathBuf,
    _process: ChildGuard,
}

impl Replica {
    fn start(name: &str, database: &str, dir: &Path) -> Replica {
        let log = dir.join(format!("{name}.log"));
        let mut cmd = Command::new(IAM_JIT);
        for (k, _) in std::env::vars() {
            if k.starts_with("IAM_JIT_") {
                cmd.env_remove(k);
            }
        }
        // Port 0: the system picks a free port, and the --dev banner says which.
        cmd.args(["serve", "--dev", "--listen", "127.0.0.1:0", "--database", database])
            .env("IAM_JIT_OUTBOX_INTERVAL_SECS", "1")
            .env("IAM_JIT_SWEEP_INTERVAL_SECS", "1")
            .env("IAM_JIT_CHECKPOINT_INTERVAL_SECS", "1")
            .env("IAM_JIT_AUDIT_KEY", AUDIT_KEY)
            .env("IAM_JIT_RATE_LIMIT_PER_MINUTE", "0")
            .env("IAM_JIT_LOG", "warn,sqlx=error")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("cannot start iam-jit serve");
        let stderr = child.stderr.take().unwrap();
        let guard = ChildGuard(child);
        let (tx, rx) = std::sync::mpsc::channel();
        let log_path = log.clone();
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(log_path).unwrap();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                if let Some(rest) = line.split("iam-jit --dev on http://").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_string());
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| {
            panic!("replica {name} did not start:\n{}", std::fs::read_to_string(&log).unwrap_or_default())
        });
        Replica { name: name.into(), base: format!("http://{addr}"), log, _process: guard }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A blocking HTTP client (one per test, shared by its threads).
#[derive(Clone)]
struct Http(ureq::Agent);

impl Http {
    fn new() -> Http {
        Http(
            ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(60)))
                .http_status_as_error(false)
                .build()
                .into(),
        )
    }

    fn finish(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>, what: &str) -> (u16, Value) {
        let mut resp = resp.unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    fn get(&self, base: &str, path: &str, token: &str) -> (u16, Value) {
        let req = self.0.get(format!("{base}{path}")).header("Authorization", &format!("Bearer {token}"));
        Self::finish(req.call(), path)
    }

    fn post(&self, base: &str, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let req = self
            .0
            .post(format!("{base}{path}"))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json");
        Self::finish(req.send(body.to_string().as_bytes()), path)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// High risk, quorum 2: three approvers at once, on both replicas.
    Quorum,
    /// Quorum 1: two approvers at once, on different replicas.
    DoubleApprove,
    /// An approval and the owner's cancellation at once.
    ApproveVsCancel,
    /// A rejection and a request for changes at once.
    RejectVsChanges,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Approve,
    Reject,
    Changes,
    Cancel,
    Comment,
}

struct User {
    id: String,
    token: String,
}

#[derive(Debug)]
struct Submitted {
    id: String,
    owner: usize,
    plan: Plan,
}

/// Outcome of one call: what, by whom, answer.
type Outcomes = Vec<(Act, String, u16)>;

/// One call to make: what, as whom (user id, token), on which replica.
type Step = (Act, (String, String), usize);

fn status_of(out: &Outcomes, act: Act) -> Vec<u16> {
    let mut v: Vec<u16> = out.iter().filter(|o| o.0 == act).map(|o| o.2).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_on_one_postgres_decide_each_request_once() {
    let started = Instant::now();
    let database = fresh_database(Kind::Postgres).await;
    let dir = scratch_dir("jit-replicas");

    // The first admin, on the host, before the service runs.
    let out = Command::new(IAM_JIT)
        .args(["seed-admin", "--email", "admin@example.com", "--token", "--database", &database])
        .output()
        .unwrap();
    assert!(out.status.success(), "seed-admin: {}", String::from_utf8_lossy(&out.stderr));
    let admin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(admin.starts_with("iamjit_"), "{admin}");

    let replicas = [Replica::start("a", &database, &dir), Replica::start("b", &database, &dir)];
    let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
    let rx = Receiver::start().await;
    let secret = "whsec_replicas_0123456789abcdef";
    let http = Http::new();

    let setup = {
        let (http, bases, admin, hook_url) = (http.clone(), bases.clone(), admin.clone(), rx.url("/hook"));
        tokio::task::spawn_blocking(move || {
            for base in &bases {
                let deadline = Instant::now() + Duration::from_secs(30);
                while http.0.get(format!("{base}/readyz")).call().map(|r| r.status().as_u16()).unwrap_or(0) != 200 {
                    assert!(Instant::now() < deadline, "{base} never became ready");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            let (st, v) = http.post(
                &bases[1],
                "/api/v1/webhooks",
                &admin,
                &json!({"url": hook_url, "events": ["*"], "secret": secret}),
            );
            assert_eq!(st, 201, "{v}");
            // Approvers and requesters through the API, half on each replica.
            let make = |name: &str, role: &str, i: usize| -> User {
                let base = &bases[i % 2];
                let id = format!("email:{name}@example.com");
                let (st, v) = http.post(base, "/api/v1/users", &admin, &json!({"user_id": id, "roles": [role]}));
                assert_eq!(st, 201, "{v}");
                let (st, v) = http.post(base, "/api/v1/tokens", &admin, &json!({"name": "test", "user_id": id}));
                assert_eq!(st, 201, "{v}");
                User { id, token: v["token"].as_str().unwrap().to_string() }
            };
            let approvers: Vec<User> = (0..3).map(|i| make(&format!("approver{i}"), "approver", i)).collect();
            let requesters: Vec<User> = (0..4).map(|i| make(&format!("requester{i}"), "requester", i)).collect();
            (approvers, requesters)
        })
    };
    let (approvers, requesters) = setup.await.unwrap();

    // Phase 1: every requester submits at once, alternating replicas: even = high risk.
    let per_requester = 6;
    let plans = [Plan::DoubleApprove, Plan::ApproveVsCancel, Plan::RejectVsChanges];
    let submitted: Vec<Submitted> = {
        let (http, bases) = (http.clone(), bases.clone());
        let tokens: Vec<String> = requesters.iter().map(|u| u.token.clone()).collect();
        tokio::task::spawn_blocking(move || {
            let barrier = Barrier::new(tokens.len());
            let out = Mutex::new(Vec::new());
            std::thread::scope(|scope| {
                for (r, token) in tokens.iter().enumerate() {
                    let (http, bases, barrier, out) = (&http, &bases, &barrier, &out);
                    scope.spawn(move || {
                        barrier.wait();
                        for k in 0..per_requester {
                            let n = r * per_requester + k;
                            let high = n % 2 == 0;
                            let policy = if high { admin_policy() } else { read_policy() };
                            let (st, v) = http.post(
                                &bases[n % 2],
                                "/api/v1/requests",
                                token,
                                &role_request("111122223333", 2, policy),
                            );
                            assert_eq!(st, 201, "{v}");
                            let tier = v["request"]["status"]["review"]["tier"].as_str().unwrap().to_string();
                            assert_eq!(tier == "high", high, "{v}");
                            let plan = if high { Plan::Quorum } else { plans[(n / 2) % plans.len()] };
                            let id = v["request"]["metadata"]["id"].as_str().unwrap().to_string();
                            out.lock().unwrap().push(Submitted { id, owner: r, plan });
                        }
                    });
                }
            });
            out.into_inner().unwrap()
        })
        .await
        .unwrap()
    };
    assert_eq!(submitted.len(), requesters.len() * per_requester);

    // Phase 2: for every request at once, its deciders (and commenters) start together.
    let outcomes: BTreeMap<String, Outcomes> = {
        let http = http.clone();
        let bases = bases.clone();
        let ap: Vec<(String, String)> = approvers.iter().map(|u| (u.id.clone(), u.token.clone())).collect();
        let rq: Vec<(String, String)> = requesters.iter().map(|u| (u.id.clone(), u.token.clone())).collect();
        let jobs: Vec<(String, Vec<Step>)> = submitted
            .iter()
            .map(|s| {
                let owner = rq[s.owner].clone();
                let acts = match s.plan {
                    Plan::Quorum => vec![
                        (Act::Approve, ap[0].clone(), 0),
                        (Act::Approve, ap[1].clone(), 1),
                        (Act::Approve, ap[2].clone(), 0),
                        (Act::Comment, owner, 1),
                        (Act::Comment, ap[2].clone(), 1),
                    ],
                    Plan::DoubleApprove => vec![
                        (Act::Approve, ap[0].clone(), 0),
                        (Act::Approve, ap[1].clone(), 1),
                        (Act::Comment, owner, 0),
                        (Act::Comment, ap[2].clone(), 1),
                    ],
                    Plan::ApproveVsCancel => vec![
                        (Act::Approve, ap[2].clone(), 0),
                        (Act::Cancel, owner.clone(), 1),
                        (Act::Comment, owner, 0),
                        (Act::Comment, ap[0].clone(), 1),
                    ],
                    Plan::RejectVsChanges => vec![
                        (Act::Reject, ap[0].clone(), 0),
                        (Act::Changes, ap[1].clone(), 1),
                        (Act::Comment, owner, 1),
                        (Act::Comment, ap[2].clone(), 0),
                    ],
                };
                (s.id.clone(), acts)
            })
            .collect();
        tokio::task::spawn_blocking(move || {
            let out = Mutex::new(BTreeMap::<String, Outcomes>::new());
            std::thread::scope(|scope| {
                for (id, acts) in &jobs {
                    let barrier = std::sync::Arc::new(Barrier::new(acts.len()));
                    for (act, (user, token), replica) in acts {
                        let (http, base, out, barrier) = (&http, &bases[*replica], &out, barrier.clone());
                        scope.spawn(move || {
                            let (path, body) = match act {
                                Act::Approve => ("approve", json!({"comment": "ok"})),
                                Act::Reject => ("reject", json!({"comment": "too broad"})),
                                Act::Changes => ("request-changes", json!({"comment": "narrow the resources"})),
                                Act::Cancel => ("cancel", json!({"reason": "no longer needed"})),
                                Act::Comment => ("comments", json!({"body": format!("a note from {user}")})),
                            };
                            barrier.wait();
                            let (st, v) = http.post(base, &format!("/api/v1/requests/{id}/{path}"), token, &body);
                            assert!(st == 200 || st == 201 || st == 409, "{act:?} by {user} on {id}: {st} {v}");
                            out.lock().unwrap().entry(id.clone()).or_default().push((*act, user.clone(), st));
                        });
                    }
                }
            });
            out.into_inner().unwrap()
        })
        .await
        .unwrap()
    };

    // Phase 3: every request is in one consistent state, reached through one chain of
    // transitions, each decided once.
    let pool = sqlx::AnyPool::connect(&database).await.unwrap();
    let mut approved_count = 0;
    let mut paths: BTreeMap<String, usize> = BTreeMap::new();
    for s in &submitted {
        let out = &outcomes[&s.id];
        let approves = status_of(out, Act::Approve);
        let state: String =
            sqlx::query_scalar("SELECT state FROM requests WHERE id = $1").bind(&s.id).fetch_one(&pool).await.unwrap();
        let (expected_state, expected_chain): (&str, Vec<&str>) = match s.plan {
            Plan::Quorum => {
                assert_eq!(approves, vec![200, 200, 409], "{}: quorum 2 of 3 racing approvers", s.id);
                ("active", vec!["approved", "provisioning", "active"])
            }
            Plan::DoubleApprove => {
                assert_eq!(approves, vec![200, 409], "{}: quorum 1, one approval counts", s.id);
                ("active", vec!["approved", "provisioning", "active"])
            }
            Plan::ApproveVsCancel => match (approves[0], status_of(out, Act::Cancel)[0]) {
                (200, 200) => ("cancelled", vec!["approved", "cancelled"]),
                (409, 200) => ("cancelled", vec!["cancelled"]),
                (200, 409) => ("active", vec!["approved", "provisioning", "active"]),
                other => panic!("{}: approve/cancel answered {other:?}", s.id),
            },
            Plan::RejectVsChanges => {
                assert_eq!(status_of(out, Act::Reject), vec![200], "{}: a rejection always lands", s.id);
                match status_of(out, Act::Changes)[0] {
                    200 => ("rejected", vec!["needs_changes", "rejected"]),
                    _ => ("rejected", vec!["rejected"]),
                }
            }
        };
        assert_eq!(state, expected_state, "{}: {out:?}", s.id);
        assert_eq!(status_of(out, Act::Comment), vec![201, 201], "{}", s.id);

        // The audit trail: one chain of transitions from `pending`, none repeated.
        let records = sqlx::query("SELECT action, data FROM audit_log WHERE subject = $1 ORDER BY seq")
            .bind(&s.id)
            .fetch_all(&pool)
            .await
            .unwrap();
        let mut chain = Vec::new();
        let mut actions: BTreeMap<String, usize> = BTreeMap::new();
        let mut at = "pending".to_string();
        for r in &records {
            let action: String = r.get("action");
            *actions.entry(action.clone()).or_default() += 1;
            let data: Value = serde_json::from_str(&r.get::<String, _>("data")).unwrap();
            if let Some(to) = data.get("to").and_then(Value::as_str) {
                assert_eq!(data["from"], at.as_str(), "{}: a transition from a state it was not in: {data}", s.id);
                assert_eq!(action, format!("request.{to}"));
                chain.push(to.to_string());
                at = to.to_string();
            }
        }
        assert_eq!(chain, expected_chain, "{}: {out:?}", s.id);
        *paths.entry(format!("{:?}: pending → {}", s.plan, chain.join(" → "))).or_default() += 1;
        let approvals_ok = approves.iter().filter(|&&c| c == 200).count();
        assert_eq!(actions.get("request.approval_recorded").copied().unwrap_or(0), approvals_ok, "{}", s.id);
        assert_eq!(actions.get("request.commented").copied().unwrap_or(0), 2, "{}", s.id);
        let reached_approved = chain.first().is_some_and(|c| c == "approved");
        assert_eq!(actions.get("request.approved").copied().unwrap_or(0), usize::from(reached_approved), "{}", s.id);
        approved_count += usize::from(reached_approved);

        // Stored approvals: one per successful approve, by those approvers, in round r1.
        let rows = sqlx::query("SELECT approver, round FROM approvals WHERE request_id = $1")
            .bind(&s.id)
            .fetch_all(&pool)
            .await
            .unwrap();
        let stored: BTreeSet<String> = rows.iter().map(|r| r.get::<String, _>("approver")).collect();
        let answered: BTreeSet<String> =
            out.iter().filter(|o| o.0 == Act::Approve && o.2 == 200).map(|o| o.1.clone()).collect();
        assert_eq!((rows.len(), &stored), (answered.len(), &answered), "{}", s.id);
        assert!(rows.iter().all(|r| r.get::<String, _>("round") == "r1"));
        if s.plan == Plan::Quorum {
            assert_eq!(rows.len(), 2, "{}: a high request has exactly two approvals", s.id);
        }
        let comments: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM comments WHERE request_id = $1 AND kind = 'comment'")
                .bind(&s.id)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(comments, 2, "{}", s.id);
    }
    assert!(approved_count >= submitted.len() / 2, "the high requests at least were approved");

    // Both replicas agree with the database.
    {
        let (http, bases, admin) = (http.clone(), bases.clone(), admin.clone());
        let ids: Vec<String> = submitted.iter().map(|s| s.id.clone()).collect();
        let pool = pool.clone();
        let states: Vec<String> = {
            let mut v = Vec::new();
            for id in &ids {
                v.push(
                    sqlx::query_scalar("SELECT state FROM requests WHERE id = $1")
                        .bind(id)
                        .fetch_one(&pool)
                        .await
                        .unwrap(),
                );
            }
            v
        };
        tokio::task::spawn_blocking(move || {
            for (id, state) in ids.iter().zip(&states) {
                for base in &bases {
                    let (st, v) = http.get(base, &format!("/api/v1/requests/{id}"), &admin);
                    assert_eq!(st, 200, "{v}");
                    assert_eq!(v["request"]["status"]["state"], state.as_str(), "{base}: {v}");
                }
            }
        })
        .await
        .unwrap();
    }

    // The audit chain is intact, checked by the command an operator runs.
    let verify = {
        let database = database.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(IAM_JIT)
                .args(["audit", "verify", "--database", &database])
                .env("IAM_JIT_AUDIT_KEY", AUDIT_KEY)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    assert!(
        verify.status.success(),
        "audit verify: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    let said = String::from_utf8_lossy(&verify.stdout).to_string();
    assert!(said.contains("audit chain intact") && !said.contains("truncation not checked"), "{said}");
    let checkpoints: u64 = said
        .split(" checkpoint(s)")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    assert!(checkpoints >= 1, "the replicas signed no checkpoint: {said}");

    // Webhooks: every message delivered by one of the two workers, once.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status <> 'delivered'")
            .fetch_one(&pool)
            .await
            .unwrap();
        if pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{pending} webhook messages still undelivered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Two more ticks of both workers: nothing may arrive twice.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let rows = sqlx::query("SELECT o.id, o.body, o.attempts, o.event, (SELECT COUNT(*) FROM deliveries d WHERE d.outbox_id = o.id) AS logged FROM outbox o WHERE o.kind = 'webhook'")
        .fetch_all(&pool)
        .await
        .unwrap();
    let mut sent: Vec<String> = Vec::new();
    let mut events_by_request: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &rows {
        let (attempts, logged): (i64, i64) = (r.get("attempts"), r.get("logged"));
        assert_eq!((attempts, logged), (1, 1), "outbox {}", r.get::<String, _>("id"));
        let body: String = r.get("body");
        let v: Value = serde_json::from_str(&body).unwrap();
        events_by_request
            .entry(v["request"]["id"].as_str().unwrap().to_string())
            .or_default()
            .push(r.get::<String, _>("event"));
        sent.push(body);
    }
    let now = now_s();
    let mut got: Vec<String> = rx
        .received()
        .into_iter()
        .map(|r| {
            assert_eq!(r.answered, 200);
            verify_signature(secret, r.signature.as_deref().unwrap(), r.body.as_bytes(), now).unwrap();
            r.body
        })
        .collect();
    sent.sort();
    got.sort();
    assert_eq!(got.len(), sent.len(), "deliveries received vs messages queued");
    assert_eq!(got, sent, "each queued message arrives exactly once");
    // One message per event that happened: submitted, two comments, and each decision.
    for s in &submitted {
        let mut events = events_by_request.remove(&s.id).unwrap_or_default();
        events.sort();
        let state: String =
            sqlx::query_scalar("SELECT state FROM requests WHERE id = $1").bind(&s.id).fetch_one(&pool).await.unwrap();
        let transitions: Vec<String> = sqlx::query_scalar(
            "SELECT action FROM audit_log WHERE subject = $1 AND action IN ('request.approved', 'request.active', 'request.cancelled', 'request.rejected', 'request.needs_changes') ORDER BY seq",
        )
        .bind(&s.id)
        .fetch_all(&pool)
        .await
        .unwrap();
        let mut expected: Vec<String> =
            vec!["request.commented".into(), "request.commented".into(), "request.submitted".into()];
        expected.extend(transitions.iter().map(|t| t.replace("needs_changes", "changes_requested")));
        expected.sort();
        assert_eq!(events, expected, "{} ({state})", s.id);
    }

    // Neither replica logged a failure.
    for r in &replicas {
        let log = r.log_text();
        let bad: Vec<&str> =
            log.lines().filter(|l| l.contains(" WARN ") || l.contains(" ERROR ") || l.contains("panicked")).collect();
        assert!(bad.is_empty(), "replica {} logged:\n{}", r.name, bad.join("\n"));
    }
    drop(replicas);
    eprintln!(
        "two replicas: {} requests in {:.1} s; paths taken: {paths:#?}",
        submitted.len(),
        started.elapsed().as_secs_f64()
    );
}
