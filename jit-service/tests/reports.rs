//! The admin reports through the HTTP API, on SQLite and PostgreSQL: what each report counts,
//! its filters, CSV quoting and formula defusing, and who may read them.

mod common;

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use jit_service::identity::Role;
use jit_service::util::fmt_ts;
use serde_json::{json, Value};

/// The requests every report test starts from, with their ids.
struct Scenario {
    alice: String,
    /// Approved by bob, active; submitted 60 s before its approval.
    approved: String,
    /// High risk, approved by bob then carol, then revoked by the admin; 120 s latency.
    revoked: String,
    /// Rejected by bob; 30 s latency.
    rejected: String,
    /// Still pending.
    pending: String,
    /// Break-glass, active at once; its reason looks like a spreadsheet formula.
    break_glass: String,
    /// Approved by the evaluator at submission.
    auto: String,
}

const FORMULA: &str = "=HYPERLINK(\"http://evil.example\",\"click\") urgent, \"prod\" down";

fn request(account: &str, hours: u32, policy: Value, name: &str) -> Value {
    let mut r = role_request(account, hours, policy);
    r["metadata"]["name"] = json!(name);
    r
}

/// Shift a request's submission time so its decision latency is exactly `secs`.
async fn set_latency(app: &TestApp, id: &str, decided_col: &str, secs: i64) {
    let sql = format!("UPDATE requests SET created_at = {decided_col} - $1 WHERE id = $2");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(secs * 1000)
        .bind(id.to_string())
        .execute(&app.state.store.pool)
        .await
        .unwrap();
}

async fn scenario(app: &TestApp) -> Scenario {
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let bob = app.user("email:bob@example.com", Role::Approver, &[]).await;
    let carol = app.user("email:carol@example.com", Role::Approver, &["-ops"]).await;
    let admin2 = app.user("email:admin2@example.com", Role::Admin, &[]).await;
    // A display name made to run in a spreadsheet.
    let (st, v) = app
        .call(
            Method::PATCH,
            "/api/v1/users/email:carol@example.com",
            Some(&app.admin),
            Some(json!({"display_name": "@SUM(1+1)*cmd|' /C calc'!A0"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");

    let approved = app.submit(&alice, request("111122223333", 2, read_policy(), "read-cfg")).await;
    let (st, v) = app.post(&format!("/api/v1/requests/{approved}/approve"), &bob, json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    set_latency(app, &approved, "approved_at", 60).await;

    let revoked = app.submit(&alice, request("444455556666", 1, admin_policy(), "-admin")).await;
    for who in [&bob, &carol] {
        let (st, v) = app.post(&format!("/api/v1/requests/{revoked}/approve"), who, json!({})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
    }
    assert_eq!(app.state_of(&revoked).await, "active");
    let (st, v) = app.post(&format!("/api/v1/requests/{revoked}/revoke"), &app.admin, json!({"reason": "done"})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    set_latency(app, &revoked, "approved_at", 120).await;

    let rejected = app.submit(&alice, request("111122223333", 1, read_policy(), "rejected-one")).await;
    let (st, v) = app.post(&format!("/api/v1/requests/{rejected}/reject"), &bob, json!({"comment": "no"})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    set_latency(app, &rejected, "ended_at", 30).await;

    let pending = app.submit(&alice, request("111122223333", 1, read_policy(), "waiting")).await;

    let mut bg = request("111122223333", 1, read_policy(), "break-glass");
    bg["spec"]["break_glass"] = json!({"reason": FORMULA});
    let break_glass = app.submit(&alice, bg).await;
    assert_eq!(app.state_of(&break_glass).await, "active");

    // Auto-approval needs a policy change, which needs a second admin.
    let mut policy = jit_service::approval::ApprovalPolicy::default();
    policy.auto_approval.enabled = true;
    policy.auto_approval.shadow = false;
    policy.auto_approval.accounts = vec!["777788889999".into()];
    let (st, v) = app.call(Method::PUT, "/api/v1/approval-policy", Some(&app.admin), Some(json!(policy))).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let version = v["proposal"]["version"].as_i64().unwrap();
    let (st, v) = app.post(&format!("/api/v1/approval-policy/versions/{version}/approve"), &admin2, json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let auto = app.submit(&alice, request("777788889999", 1, read_policy(), "auto")).await;
    assert_eq!(app.state_of(&auto).await, "active");

    Scenario { alice, approved, revoked, rejected, pending, break_glass, auto }
}

async fn report(app: &TestApp, path: &str) -> Value {
    let (st, v) = app.get(path, &app.admin).await;
    assert_eq!(st, StatusCode::OK, "{path}: {v}");
    v
}

async fn csv(app: &TestApp, path: &str) -> String {
    let req = Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {}", app.admin))
        .body(Body::empty())
        .unwrap();
    let resp = app.raw(req).await;
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(resp.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"iam-jit-"));
    String::from_utf8(to_bytes(resp.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap()
}

fn ids(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list.as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<&String>) -> Vec<String> {
    v.sort();
    v.into_iter().cloned().collect()
}

both!(grants_report_lists_every_grant_with_filters, |app| async move {
    let s = scenario(&app).await;
    let v = report(&app, "/api/v1/reports/grants").await;
    assert_eq!(ids(&v["grants"]), sorted(vec![&s.approved, &s.revoked, &s.break_glass, &s.auto]));
    assert_eq!(v["count"], 4);
    let g = v["grants"].as_array().unwrap();
    let by = |id: &str| g.iter().find(|x| x["id"] == id).unwrap().clone();
    let r = by(&s.revoked);
    assert_eq!(r["state"], "revoked");
    assert_eq!(r["owner"], "email:alice@example.com");
    assert_eq!(r["accounts"], json!(["444455556666"]));
    assert_eq!(r["tier"], "high");
    assert!(r["risk_score"].as_i64().unwrap() >= 6);
    assert!(r["ended_at"].is_string() && r["activated_at"].is_string() && r["expires_at"].is_string());
    assert_eq!(r["break_glass"], false);
    let b = by(&s.break_glass);
    assert_eq!((b["break_glass"].clone(), b["break_glass_reason"].as_str()), (json!(true), Some(FORMULA)));
    assert_eq!(by(&s.auto)["auto_approved"], true);
    assert_eq!(by(&s.approved)["state"], "active");
    assert!(by(&s.approved)["ended_at"].is_null());

    // Filters: account, user, state.
    let v = report(&app, "/api/v1/reports/grants?account=444455556666").await;
    assert_eq!(ids(&v["grants"]), [s.revoked.as_str()]);
    assert_eq!(v["filters"]["account"], "444455556666");
    let v = report(&app, "/api/v1/reports/grants?user=alice@example.com").await;
    assert_eq!(v["count"], 4);
    assert_eq!(v["filters"]["user"], "email:alice@example.com");
    let v = report(&app, "/api/v1/reports/grants?user=email:bob@example.com").await;
    assert_eq!(v["count"], 0);
    let v = report(&app, "/api/v1/reports/grants?state=revoked,expired").await;
    assert_eq!(ids(&v["grants"]), [s.revoked.as_str()]);
    // Time window: grants active at some point in it. An hour from now only the grants that
    // have not ended count; a window that closed before anything was activated has none.
    let later = fmt_ts(jit_service::now_ms() + 3_600_000);
    let v = report(&app, &format!("/api/v1/reports/grants?since={later}")).await;
    assert_eq!(ids(&v["grants"]), sorted(vec![&s.approved, &s.break_glass, &s.auto]));
    let v = report(&app, "/api/v1/reports/grants?until=2001-01-01T00:00:00Z").await;
    assert_eq!(v["count"], 0);

    // CSV: header, CRLF records, RFC 4180 quoting, the formula defused.
    let text = csv(&app, "/api/v1/reports/grants?format=csv").await;
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "id,owner,name,accounts,risk_score,tier,activated_at,expires_at,ended_at,state,break_glass,break_glass_reason,auto_approved"
    );
    assert_eq!(lines.len(), 1 + 4 + 1, "{text}");
    assert_eq!(lines[5], "");
    let bg = lines.iter().find(|l| l.starts_with(&s.break_glass)).unwrap();
    assert!(
        bg.ends_with(
            ",true,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\") urgent, \"\"prod\"\" down\",false"
        ),
        "{bg}"
    );
    // A request name starting with `-` is user text: defused too.
    let rv = lines.iter().find(|l| l.starts_with(&s.revoked)).unwrap();
    assert!(rv.contains(",email:alice@example.com,'-admin,444455556666,"), "{rv}");
    let _ = (&s.alice, &s.pending, &s.rejected);
});

both!(activity_report_summarises_the_audit_log_per_day, |app| async move {
    let s = scenario(&app).await;
    let v = report(&app, "/api/v1/reports/activity").await;
    let today = fmt_ts(jit_service::now_ms())[..10].to_string();
    let rows = v["activity"].as_array().unwrap().clone();
    let row = |actor: &str, action: &str| {
        rows.iter().find(|r| r["actor"] == actor && r["action"] == action).cloned().unwrap_or(Value::Null)
    };
    let submitted = row("email:alice@example.com", "request.submitted");
    assert_eq!(submitted["count"], 6, "{v}");
    assert_eq!(submitted["day"], today);
    assert!(submitted["first_at"].as_str().unwrap() <= submitted["last_at"].as_str().unwrap());
    assert_eq!(row("email:bob@example.com", "request.rejected")["count"], 1);
    assert_eq!(row("evaluator:auto", "request.approved")["count"], 1);
    let total: i64 = rows.iter().map(|r| r["count"].as_i64().unwrap()).sum();
    assert_eq!(v["records"], total);
    assert_eq!(total, app.verify_audit().await.records);
    assert!(v["actors"].as_u64().unwrap() >= 5);

    // Only one actor; only records about requests touching one account.
    let v = report(&app, "/api/v1/reports/activity?user=email:bob@example.com").await;
    assert!(v["activity"].as_array().unwrap().iter().all(|r| r["actor"] == "email:bob@example.com"));
    let v = report(&app, "/api/v1/reports/activity?user=evaluator:auto").await;
    assert_eq!(v["records"], 1);
    let v = report(&app, "/api/v1/reports/activity?account=444455556666").await;
    let actions: Vec<&str> = v["activity"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"request.revoked") && !actions.contains(&"request.rejected"), "{actions:?}");
    let v = report(&app, "/api/v1/reports/activity?since=2001-01-01T00:00:00Z&until=2001-01-02T00:00:00Z").await;
    assert_eq!(v["records"], 0);

    // Audit records have no state: the filter is refused, not ignored.
    let (st, v) = app.get("/api/v1/reports/activity?state=active", &app.admin).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["path"], "state");

    let text = csv(&app, "/api/v1/reports/activity?format=csv&user=email:alice@example.com").await;
    assert!(text.starts_with("day,actor,action,count,first_at,last_at\r\n"));
    assert!(text.contains(&format!("{today},email:alice@example.com,request.submitted,6,")), "{text}");
    let _ = s;
});

both!(approvals_report_has_deciders_and_latency, |app| async move {
    let s = scenario(&app).await;
    let v = report(&app, "/api/v1/reports/approvals").await;
    let rows = v["approvals"].as_array().unwrap().clone();
    let by = |id: &str| rows.iter().find(|x| x["id"] == id).cloned().unwrap_or(Value::Null);
    // Decided: approved, revoked (approved first), rejected, break-glass, auto. Not: pending.
    assert_eq!(ids(&v["approvals"]), sorted(vec![&s.approved, &s.revoked, &s.rejected, &s.break_glass, &s.auto]));
    assert!(by(&s.pending).is_null());
    let a = by(&s.approved);
    assert_eq!(a["decision"], "approved");
    assert_eq!(a["approvers"], json!(["email:bob@example.com"]));
    assert_eq!(a["approvals"], 1);
    assert_eq!(a["decided_by"], "email:bob@example.com");
    assert_eq!(a["latency_seconds"], 60.0);
    let r = by(&s.revoked);
    assert_eq!(r["approvers"], json!(["email:bob@example.com", "email:carol@example.com"]));
    assert_eq!((r["approvals"].clone(), r["decided_by"].clone()), (json!(2), json!("email:carol@example.com")));
    assert_eq!((r["state"].clone(), r["latency_seconds"].clone()), (json!("revoked"), json!(120.0)));
    let j = by(&s.rejected);
    assert_eq!((j["decision"].clone(), j["decided_by"].clone()), (json!("rejected"), json!("email:bob@example.com")));
    assert_eq!((j["approvals"].clone(), j["latency_seconds"].clone()), (json!(0), json!(30.0)));
    let b = by(&s.break_glass);
    assert_eq!(
        (b["decision"].clone(), b["decided_by"].clone()),
        (json!("break_glass"), json!("email:alice@example.com"))
    );
    let u = by(&s.auto);
    assert_eq!((u["decision"].clone(), u["decided_by"].clone()), (json!("auto_approved"), json!("evaluator:auto")));
    assert_eq!(u["approvers"], json!(["evaluator:auto"]));

    // People decided three (30 s, 60 s, 120 s): median 60, p90 (nearest rank) 120.
    let sum = &v["summary"];
    assert_eq!(sum["decided"], 5);
    assert_eq!(sum["median_latency_seconds"], 60.0);
    assert_eq!(sum["p90_latency_seconds"], 120.0);
    assert_eq!(sum["by_decision"]["approved"]["count"], 2);
    assert_eq!(sum["by_decision"]["approved"]["median_seconds"], 90.0);
    assert_eq!(sum["by_decision"]["rejected"]["max_seconds"], 30.0);
    assert_eq!(sum["by_decision"]["auto_approved"]["count"], 1);
    assert_eq!(sum["by_decision"]["break_glass"]["count"], 1);

    // Filters: since/until compare the submission time; state is the state now.
    let v = report(&app, "/api/v1/reports/approvals?state=rejected").await;
    assert_eq!(ids(&v["approvals"]), [s.rejected.as_str()]);
    assert_eq!(v["summary"]["median_latency_seconds"], 30.0);
    let v = report(&app, "/api/v1/reports/approvals?account=444455556666").await;
    assert_eq!(ids(&v["approvals"]), [s.revoked.as_str()]);
    let later = fmt_ts(jit_service::now_ms() + 60_000);
    let v = report(&app, &format!("/api/v1/reports/approvals?since={later}")).await;
    assert_eq!(v["summary"]["decided"], 0);
    assert!(v["summary"]["median_latency_seconds"].is_null());

    let text = csv(&app, "/api/v1/reports/approvals?format=csv").await;
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "id,owner,tier,risk_score,state,decision,decided_by,approvers,approvals,submitted_at,decided_at,latency_seconds"
    );
    let rv = lines.iter().find(|l| l.starts_with(&s.revoked)).unwrap();
    assert!(rv.contains(",email:carol@example.com,email:bob@example.com email:carol@example.com,2,"), "{rv}");
    assert!(rv.ends_with(",120"), "{rv}");
});

both!(risk_distribution_counts_per_score_tier_and_state, |app| async move {
    let s = scenario(&app).await;
    let v = report(&app, "/api/v1/reports/risk-distribution").await;
    let overall = &v["overall"];
    assert_eq!(overall["total"], 6);
    let by_score = overall["by_score"].as_array().unwrap();
    assert_eq!(by_score.len(), 10);
    assert_eq!(by_score.iter().map(|s| s["score"].as_i64().unwrap()).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
    assert_eq!(by_score.iter().map(|s| s["count"].as_i64().unwrap()).sum::<i64>(), 6);
    let tiers: Vec<(String, i64)> = overall["by_tier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tier"].as_str().unwrap().to_string(), t["count"].as_i64().unwrap()))
        .collect();
    assert_eq!(tiers.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), ["low", "medium", "high"]);
    assert_eq!(tiers.iter().find(|t| t.0 == "high").unwrap().1, 1);
    let states = v["states"].as_array().unwrap();
    assert_eq!(states.len(), 11, "every state is listed");
    let total = |st: &str| states.iter().find(|x| x["state"] == st).unwrap()["total"].as_i64().unwrap();
    assert_eq!(
        [total("pending"), total("active"), total("revoked"), total("rejected"), total("expired")],
        [1, 3, 1, 1, 0]
    );
    let revoked = states.iter().find(|x| x["state"] == "revoked").unwrap();
    assert_eq!(revoked["by_tier"][2], json!({"tier": "high", "count": 1}));

    let v = report(&app, "/api/v1/reports/risk-distribution?state=pending,revoked&user=email:alice@example.com").await;
    assert_eq!(v["overall"]["total"], 2);
    assert_eq!(
        v["states"].as_array().unwrap().iter().map(|x| x["state"].clone()).collect::<Vec<_>>(),
        [json!("pending"), json!("revoked")]
    );
    let v = report(&app, "/api/v1/reports/risk-distribution?account=777788889999").await;
    assert_eq!(v["overall"]["total"], 1);

    let text = csv(&app, "/api/v1/reports/risk-distribution?format=csv").await;
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "state,total,score_1,score_2,score_3,score_4,score_5,score_6,score_7,score_8,score_9,score_10,tier_low,tier_medium,tier_high"
    );
    assert_eq!(lines.len(), 1 + 11 + 1 + 1);
    assert!(lines[12].starts_with("all,6,"), "{text}");
    let _ = s;
});

both!(users_report_has_roles_groups_counts_and_activity, |app| async move {
    let s = scenario(&app).await;
    let v = report(&app, "/api/v1/reports/users").await;
    let users = v["users"].as_array().unwrap().clone();
    let by = |id: &str| users.iter().find(|u| u["user_id"] == id).cloned().unwrap();
    assert_eq!(v["count"], 5);
    let alice = by("email:alice@example.com");
    assert_eq!(alice["requests"], 6);
    assert_eq!(alice["requests_by_state"]["active"], 3);
    assert_eq!(alice["requests_by_state"]["pending"], 1);
    assert_eq!(alice["requests_by_state"].as_object().unwrap().len(), 11);
    assert_eq!(alice["roles"], json!(["requester"]));
    assert!(alice["last_activity_at"].is_string());
    let bob = by("email:bob@example.com");
    assert_eq!((bob["role"].clone(), bob["approvals_given"].clone()), (json!("approver"), json!(2)));
    assert_eq!(bob["roles"], json!(["requester", "approver"]));
    let carol = by("email:carol@example.com");
    assert_eq!(carol["groups"], json!(["-ops"]));
    assert_eq!(carol["approvals_given"], 1);
    assert_eq!(by("email:admin@example.com")["role"], "admin");
    assert_eq!(
        (by("email:admin@example.com")["enabled"].clone(), by("email:admin@example.com")["deleted"].clone()),
        (json!(true), json!(false))
    );

    // `user` picks one user; the other filters narrow the counts.
    let v = report(&app, "/api/v1/reports/users?user=email:alice@example.com&state=active").await;
    assert_eq!(v["count"], 1);
    assert_eq!(v["users"][0]["requests"], 3);
    let v = report(&app, "/api/v1/reports/users?account=444455556666").await;
    let users = v["users"].as_array().unwrap();
    let get = |id: &str| users.iter().find(|u| u["user_id"] == id).unwrap().clone();
    assert_eq!(get("email:alice@example.com")["requests"], 1);
    assert_eq!(get("email:bob@example.com")["approvals_given"], 1);
    assert_eq!(get("email:carol@example.com")["approvals_given"], 1);

    let text = csv(&app, "/api/v1/reports/users?format=csv").await;
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(lines[0]
        .starts_with("user_id,display_name,role,roles,groups,enabled,deleted,created_at,requests,requests_pending,"));
    assert!(lines[0].ends_with(",approvals_given,last_activity_at"));
    let carol = lines.iter().find(|l| l.starts_with("email:carol@example.com,")).unwrap();
    assert!(
        carol.starts_with(
            "email:carol@example.com,'@SUM(1+1)*cmd|' /C calc'!A0,approver,requester approver,'-ops,true,false,"
        ),
        "{carol}"
    );
    let _ = s;
});

both!(reports_refuse_bad_queries_and_non_admins, |app| async move {
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let approver = app.user("email:bob@example.com", Role::Approver, &[]).await;
    for kind in ["grants", "activity", "approvals", "risk-distribution", "users"] {
        let path = format!("/api/v1/reports/{kind}");
        let (st, _) = app.call(Method::GET, &path, None, None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{path}");
        for who in [&alice, &approver] {
            let (st, v) = app.get(&path, who).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{path}: {v}");
        }
        // Unknown parameters are named.
        let (st, v) = app.get(&format!("{path}?limit=5"), &app.admin).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert!(v["detail"].as_str().unwrap().contains("limit"), "{v}");
        let (st, v) = app.get(&format!("{path}?format=xml"), &app.admin).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert!(v["detail"].as_str().unwrap().contains("csv"), "{v}");
        // Every bad filter at once, each named.
        let (st, v) = app.get(&format!("{path}?since=yesterday&account=12&user=bob"), &app.admin).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
        let paths: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
        assert_eq!(paths, ["since", "account", "user"], "{v}");
        let (st, v) =
            app.get(&format!("{path}?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z"), &app.admin).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
        // An empty database gives empty reports, with a header row in CSV.
        let (st, _) = app.get(&format!("{path}?format=json"), &app.admin).await;
        assert_eq!(st, StatusCode::OK);
    }
    let (st, v) = app.get("/api/v1/reports/grants?state=active,gone", &app.admin).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["detail"].as_str().unwrap().contains("`gone`"), "{v}");
    let text = csv(&app, "/api/v1/reports/grants?format=csv").await;
    assert_eq!(text.matches("\r\n").count(), 1, "header only: {text}");
});
