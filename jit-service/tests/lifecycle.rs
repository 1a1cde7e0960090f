//! The request lifecycle end to end through the HTTP API, on SQLite and PostgreSQL.

mod common;

use axum::http::StatusCode;
use common::*;
use jit_service::approval::{self, ApprovalPolicy};
use jit_service::identity::Role;
use jit_service::{audit, requests};
use serde_json::json;

both!(contract_submit_then_quorum_reaches_active, |app| async move {
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let bob = app.user("email:bob@example.com", Role::Approver, &[]).await;
    let (st, v) = app.post("/api/v1/requests", &alice, role_request("111122223333", 2, read_policy())).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let id = v["request"]["metadata"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["request"]["status"]["state"], "pending");
    assert!(v["request"]["status"]["review"]["risk_score"].as_u64().unwrap() >= 1);
    assert_eq!(v["review"]["api_version"], "v1");
    // The owner cannot approve their own request.
    let (st, _) = app.post(&format!("/api/v1/requests/{id}/approve"), &alice, json!({})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = app.post(&format!("/api/v1/requests/{id}/approve"), &bob, json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["request"]["status"]["state"], "active", "{v}");
    assert!(app.verify_audit().await.ok);
});

async fn set_policy(app: &TestApp, f: impl FnOnce(&mut ApprovalPolicy)) {
    let mut p = ApprovalPolicy::default();
    f(&mut p);
    let mut w = app.state.store.write().await.unwrap();
    approval::propose(&mut w, "system:test", &p, true).await.unwrap();
    w.commit().await.unwrap();
}

async fn audit_actions(app: &TestApp, id: &str) -> Vec<String> {
    audit::list(&app.state.store, &audit::Filter { subject: Some(id.into()), limit: 1000, ..Default::default() })
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect()
}

/// Move a request's clock: set a timestamp column to `ms` (tests only).
async fn set_time(app: &TestApp, id: &str, column: &str, ms: i64) {
    sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE requests SET {column} = $1 WHERE id = $2")))
        .bind(ms)
        .bind(id)
        .execute(&app.state.store.pool)
        .await
        .unwrap();
}

both!(high_risk_needs_two_distinct_approvers, |app| async move {
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let b1 = app.user("email:b1@example.com", Role::Approver, &[]).await;
    let b2 = app.user("email:b2@example.com", Role::Approver, &[]).await;
    let id = app.submit(&alice, role_request("111122223333", 1, admin_policy())).await;
    let (_, v) = app.get(&format!("/api/v1/requests/{id}"), &alice).await;
    assert_eq!(v["request"]["status"]["review"]["tier"], "high");
    assert_eq!(v["request"]["status"]["quorum"]["required"], 2);
    let (st, v) = app.post(&format!("/api/v1/requests/{id}/approve"), &b1, json!({"comment": "ok"})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["request"]["status"]["state"], "pending");
    assert_eq!(v["request"]["status"]["quorum"]["have"], 1);
    let (st, _) = app.post(&format!("/api/v1/requests/{id}/approve"), &b1, json!({})).await;
    assert_eq!(st, StatusCode::CONFLICT, "the same approver cannot count twice");
    let (_, v) = app.post(&format!("/api/v1/requests/{id}/approve"), &b2, json!({})).await;
    assert_eq!(v["request"]["status"]["state"], "active", "{v}");
    let actions = audit_actions(&app, &id).await;
    assert_eq!(actions.iter().filter(|a| *a == "request.approved").count(), 1, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "request.active").count(), 1, "{actions:?}");
});

both!(self_approval_only_when_the_tier_opts_in_and_is_audited, |app| async move {
    let carol = app.user("email:carol@example.com", Role::Approver, &[]).await;
    let id = app.submit(&carol, role_request("111122223333", 1, read_policy())).await;
    let (st, v) = app.post(&format!("/api/v1/requests/{id}/approve"), &carol, json!({})).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    set_policy(&app, |p| p.tiers.get_mut("low").unwrap().allow_self_approval = true).await;
    let (st, v) = app.post(&format!("/api/v1/requests/{id}/approve"), &carol, json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["request"]["status"]["state"], "active");
    assert_eq!(v["request"]["status"]["approvals"][0]["self_approval"], true);
    assert!(audit_actions(&app, &id).await.contains(&"request.self_approved".to_string()));
});

both!(changes_requested_then_edit_starts_a_new_revision, |app| async move {
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let b1 = app.user("email:b1@example.com", Role::Approver, &[]).await;
    let b2 = app.user("email:b2@example.com", Role::Approver, &[]).await;
    let id = app.submit(&alice, role_request("111122223333", 1, admin_policy())).await;
    app.post(&format!("/api/v1/requests/{id}/approve"), &b1, json!({})).await;
    let (st, v) = app
        .post(&format!("/api/v1/requests/{id}/request-changes"), &b2, json!({"comment": "narrow it to the bucket", "suggested_constraints": {"resources": ["arn:aws:s3:::cfg/*"]}}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["request"]["status"]["state"], "needs_changes");
    // A stale version is refused (optimistic locking).
    let mut body = role_request("111122223333", 1, admin_policy());
    body["version"] = json!(1);
    let (st, _) =
        app.call(axum::http::Method::PATCH, &format!("/api/v1/requests/{id}"), Some(&alice), Some(body)).await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (st, v) = app
        .call(
            axum::http::Method::PATCH,
            &format!("/api/v1/requests/{id}"),
            Some(&alice),
            Some(role_request("111122223333", 1, read_policy())),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["request"]["status"]["state"], "pending");
    assert_eq!(v["request"]["status"]["revision"], 2);
    assert_eq!(v["request"]["status"]["review"]["tier"], "low");
    // b1's approval was for revision 1: it no longer counts.
    assert_eq!(v["request"]["status"]["quorum"]["have"], 0);
    let (_, c) = app.get(&format!("/api/v1/requests/{id}/comments"), &alice).await;
    assert_eq!(c["comments"][0]["kind"], "changes_requested");
    assert_eq!(c["comments"][0]["suggested_constraints"]["resources"][0], "arn:aws:s3:::cfg/*");
    let (_, h) = app.get(&format!("/api/v1/requests/{id}/history"), &alice).await;
    assert_eq!(h["revisions"].as_array().unwrap().len(), 2);
    assert!(h["revisions"][0]["review"]["score"].as_u64().unwrap() >= 9);
});

both!(bad_bodies_get_clear_errors, |app| async move {
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let mut body = role_request("111122223333", 1, read_policy());
    body["spec"]["colour"] = json!("blue");
    body["metadata"]["id"] = json!("req-mine");
    body["spec"]["accounts"][0]["account_id"] = json!("12");
    let (st, v) = app.post("/api/v1/requests", &alice, body).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let paths: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["path"].as_str().unwrap()).collect();
    for p in ["spec.colour", "metadata.id", "spec.accounts[0].account_id"] {
        assert!(paths.contains(&p), "{p} in {paths:?}");
    }
    // A policy the engine refuses: the engine's message, under spec.policy.
    let (st, v) = app
        .post(
            "/api/v1/requests",
            &alice,
            role_request(
                "111122223333",
                1,
                json!({"Statement": [{"Effect": "Allow", "Action": "nosuchservice:Get", "Resource": "*"}]}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["errors"][0]["path"].as_str().unwrap().starts_with("spec.policy"), "{v}");
    // Malformed JSON, wrong media type, too large.
    let req = |ct: &str, body: String| {
        axum::http::Request::builder()
            .method("POST")
            .uri("/api/v1/requests")
            .header("authorization", format!("Bearer {alice}"))
            .header("content-type", ct)
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    assert_eq!(app.raw(req("application/json", "{\"spec\": ".into())).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.raw(req("text/plain", "{}".into())).await.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(300 * 1024));
    assert_eq!(app.raw(req("application/json", big)).await.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Longer than the account's maximum duration.
    let (st, v) = app.post("/api/v1/requests", &alice, role_request("111122223333", 48, read_policy())).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["detail"].as_str().unwrap().contains("24 h"), "{v}");
});

/// `/mcp` (rmcp's service, outside the API's handlers) is held to the same body limit, also
/// for a body that does not declare its length (chunked): it is refused, not read whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_bodies_are_limited_like_the_apis() {
    let app = TestApp::new(Kind::Sqlite).await;
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let limit = app.state.config.body_limit_bytes;
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"pad":"{}"}}}}"#,
        "a".repeat(limit + 1024)
    );
    let chunks = || {
        big.as_bytes()
            .chunks(16 * 1024)
            .map(|c| Ok::<_, std::io::Error>(String::from_utf8(c.to_vec()).unwrap()))
            .collect::<Vec<_>>()
    };
    for declared in [true, false] {
        let mut req = axum::http::Request::builder()
            .method("POST")
            .uri("/mcp")
            .header("host", "127.0.0.1")
            .header("authorization", format!("Bearer {alice}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        if declared {
            req = req.header("content-length", big.len());
        }
        let body = if declared {
            axum::body::Body::from(big.clone())
        } else {
            axum::body::Body::from_stream(futures_util::stream::iter(chunks()))
        };
        let resp = app.raw(req.body(body).unwrap()).await;
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE, "declared length: {declared}");
    }
    // Without a token the body is never read: the token check answers first.
    let anonymous = axum::http::Request::builder()
        .method("POST")
        .uri("/mcp")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .body(axum::body::Body::from_stream(futures_util::stream::iter(chunks())))
        .unwrap();
    assert_eq!(app.raw(anonymous).await.status(), StatusCode::UNAUTHORIZED);
}

both!(expiry_revokes_exactly_once_and_keeps_history, |app| async move {
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let bob = app.user("email:bob@example.com", Role::Approver, &[]).await;
    let id = app.submit(&alice, role_request("111122223333", 1, read_policy())).await;
    app.post(&format!("/api/v1/requests/{id}/approve"), &bob, json!({})).await;
    assert_eq!(app.state_of(&id).await, "active");
    let (_, a) = app.get(&format!("/api/v1/requests/{id}/assume"), &alice).await;
    assert!(a["roles"][0]["role_arn"].as_str().unwrap().ends_with(&format!(":role/iam-jit/{id}")));
    set_time(&app, &id, "expires_at", jit_service::now_ms() - 1000).await;
    requests::sweep(&app.state).await.unwrap();
    requests::sweep(&app.state).await.unwrap();
    assert_eq!(app.state_of(&id).await, "expired");
    let actions = audit_actions(&app, &id).await;
    assert_eq!(actions.iter().filter(|a| *a == "request.expired").count(), 1, "{actions:?}");
    let calls = jit_service::provision::recorded_calls(&app.state.store, &id).await.unwrap();
    let deletes = calls.iter().filter(|c| c["call"] == "DeleteRole").count();
    assert_eq!(deletes, 1, "{calls:?}");
    // The trust and the Deny-after carry the expiry; the approved statement is unchanged.
    let put = calls.iter().find(|c| c["call"] == "PutRolePolicy").unwrap();
    let stmts = put["params"]["PolicyDocument"]["Statement"].as_array().unwrap();
    assert_eq!(stmts[0], read_policy()["Statement"][0]);
    assert_eq!(stmts.last().unwrap()["Effect"], "Deny");
    // Terminal: revoke and cancel are refused, history is kept.
    let (st, _) = app.post(&format!("/api/v1/requests/{id}/revoke"), &alice, json!({})).await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (st, h) = app.get(&format!("/api/v1/requests/{id}/history"), &alice).await;
    assert_eq!(st, StatusCode::OK);
    assert!(h["events"].as_array().unwrap().len() >= 6);
});

both!(pending_requests_expire_when_undecided, |app| async move {
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let id = app.submit(&alice, role_request("111122223333", 1, read_policy())).await;
    set_time(&app, &id, "pending_until", jit_service::now_ms() - 1).await;
    requests::sweep(&app.state).await.unwrap();
    assert_eq!(app.state_of(&id).await, "expired");
});

both!(extension_keeps_access_until_decided, |app| async move {
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let bob = app.user("email:bob@example.com", Role::Approver, &[]).await;
    let id = app.submit(&alice, role_request("111122223333", 2, read_policy())).await;
    let (_, v) = app.post(&format!("/api/v1/requests/{id}/approve"), &bob, json!({})).await;
    let before = jit_service::util::parse_ts(v["request"]["status"]["expires_at"].as_str().unwrap()).unwrap();
    let (st, v) = app
        .post(
            &format!("/api/v1/requests/{id}/extend"),
            &alice,
            json!({"hours": 2, "reason": "the migration is taking longer"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["request"]["status"]["state"], "active");
    assert_eq!(v["request"]["status"]["extension"]["hours"], 2);
    let (st, _) = app
        .post(&format!("/api/v1/requests/{id}/extend"), &alice, json!({"hours": 1, "reason": "and a little more"}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (_, v) = app.post(&format!("/api/v1/requests/{id}/approve"), &bob, json!({})).await;
    assert_eq!(v["request"]["status"]["state"], "active");
    assert!(v["request"]["status"].get("extension").is_none(), "{v}");
    let after = jit_service::util::parse_ts(v["request"]["status"]["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(after - before, 2 * 3_600_000);
    // Past the account's maximum: refused with the limit named.
    let (st, v) = app
        .post(
            &format!("/api/v1/requests/{id}/extend"),
            &alice,
            json!({"hours": 40, "reason": "a lot more time please"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
});

both!(break_glass_needs_a_reason_is_capped_and_queued_for_review, |app| async move {
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let bob = app.user("email:bob@example.com", Role::Approver, &[]).await;
    let mut body = role_request("111122223333", 8, admin_policy());
    body["spec"]["break_glass"] = json!({});
    let (st, v) = app.post("/api/v1/requests", &alice, body.clone()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    body["spec"]["break_glass"] = json!({"reason": "production outage INC-4411, database is down"});
    let (st, v) = app.post("/api/v1/requests", &alice, body).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let r = &v["request"];
    let id = r["metadata"]["id"].as_str().unwrap().to_string();
    assert_eq!(r["status"]["state"], "active");
    let granted = jit_service::util::parse_ts(r["status"]["expires_at"].as_str().unwrap()).unwrap()
        - jit_service::util::parse_ts(r["status"]["activated_at"].as_str().unwrap()).unwrap();
    assert!(granted <= 3_600_000 + 1000, "capped to 1 h, got {granted} ms");
    assert_eq!(r["status"]["break_glass"]["review_required"], true);
    let (_, q) = app.get("/api/v1/requests?review_required=true", &bob).await;
    assert_eq!(q["requests"].as_array().unwrap().len(), 1);
    let (st, _) = app.post(&format!("/api/v1/requests/{id}/review"), &alice, json!({"comment": "fine"})).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "the requester cannot review their own break-glass");
    let (st, v) =
        app.post(&format!("/api/v1/requests/{id}/review"), &bob, json!({"comment": "checked the session log"})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (_, q) = app.get("/api/v1/requests?review_required=true", &bob).await;
    assert!(q["requests"].as_array().unwrap().is_empty());
    assert!(audit_actions(&app, &id).await.contains(&"request.break_glass".to_string()));
});

both!(auto_approval_shadow_records_and_live_approves, |app| async move {
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    set_policy(&app, |p| {
        p.auto_approval.enabled = true;
        p.auto_approval.shadow = true;
        p.auto_approval.accounts = vec!["111122223333".into()];
    })
    .await;
    let id = app.submit(&alice, role_request("111122223333", 1, read_policy())).await;
    assert_eq!(app.state_of(&id).await, "pending");
    let rec = audit::list(
        &app.state.store,
        &audit::Filter {
            subject: Some(id.clone()),
            action_prefix: Some("auto_approval".into()),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(rec[0].action, "auto_approval.shadow");
    assert_eq!(rec[0].data["would_approve"], true, "{:?}", rec[0].data);
    set_policy(&app, |p| {
        p.auto_approval.enabled = true;
        p.auto_approval.shadow = false;
        p.auto_approval.accounts = vec!["111122223333".into()];
    })
    .await;
    let id = app.submit(&alice, role_request("111122223333", 1, read_policy())).await;
    let (_, v) = app.get(&format!("/api/v1/requests/{id}"), &alice).await;
    assert_eq!(v["request"]["status"]["state"], "active");
    assert_eq!(v["request"]["status"]["auto_approved"], true);
    // Never iam (sensitive), never another account, never write access.
    let iam =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetRole", "Resource": "*"}]});
    let id = app.submit(&alice, role_request("111122223333", 1, iam)).await;
    assert_eq!(app.state_of(&id).await, "pending");
    let id = app.submit(&alice, role_request("999988887777", 1, read_policy())).await;
    assert_eq!(app.state_of(&id).await, "pending");
});

both!(approval_policy_change_needs_a_second_admin, |app| async move {
    let admin2 = app.user("email:admin2@example.com", Role::Admin, &[]).await;
    let mut p = ApprovalPolicy::default();
    p.tiers.get_mut("medium").unwrap().quorum = 3;
    let (st, v) = app.call(axum::http::Method::PUT, "/api/v1/approval-policy", Some(&app.admin), Some(json!(p))).await;
    assert_eq!(st, StatusCode::ACCEPTED, "{v}");
    let version = v["proposal"]["version"].as_i64().unwrap();
    let (_, cur) = app.get("/api/v1/approval-policy", &app.admin).await;
    assert_eq!(cur["policy"]["tiers"]["medium"]["quorum"], 1, "not active before a second admin approves");
    let (st, _) = app.post(&format!("/api/v1/approval-policy/versions/{version}/approve"), &app.admin, json!({})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = app.post(&format!("/api/v1/approval-policy/versions/{version}/approve"), &admin2, json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (_, cur) = app.get("/api/v1/approval-policy", &app.admin).await;
    assert_eq!(cur["policy"]["tiers"]["medium"]["quorum"], 3);
    // Invalid policies name the field.
    p.tiers.remove("high");
    let (st, v) = app.call(axum::http::Method::PUT, "/api/v1/approval-policy", Some(&app.admin), Some(json!(p))).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["errors"][0]["path"], "tiers.high");
});

both!(approver_groups_scope_accounts_and_tiers, |app| async move {
    set_policy(&app, |p| {
        p.approver_groups = vec![
            approval::ApproverGroup {
                group: "prod".into(),
                accounts: vec!["111122223333".into()],
                tiers: vec!["low".into(), "medium".into()],
            },
            approval::ApproverGroup { group: "sec".into(), accounts: vec!["*".into()], tiers: vec!["high".into()] },
        ]
    })
    .await;
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let prod = app.user("email:prod@example.com", Role::Approver, &["prod"]).await;
    let nogroup = app.user("email:nogroup@example.com", Role::Approver, &[]).await;
    let other = app.submit(&alice, role_request("999988887777", 1, read_policy())).await;
    let (st, v) = app.post(&format!("/api/v1/requests/{other}/approve"), &prod, json!({})).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let high = app.submit(&alice, role_request("111122223333", 1, admin_policy())).await;
    let (st, _) = app.post(&format!("/api/v1/requests/{high}/approve"), &prod, json!({})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let ok = app.submit(&alice, role_request("111122223333", 1, read_policy())).await;
    let (st, _) = app.post(&format!("/api/v1/requests/{ok}/approve"), &nogroup, json!({})).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = app.post(&format!("/api/v1/requests/{ok}/approve"), &prod, json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["request"]["status"]["state"], "active");
});

both!(magic_link_session_and_csrf, |app| async move {
    app.user("email:alice@example.com", Role::Requester, &[]).await;
    let (st, v) = app
        .call(axum::http::Method::POST, "/api/v1/auth/login", None, Some(json!({"email": "Alice@Example.com"})))
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let url = v["login_url"].as_str().unwrap().to_string();
    let path = &url[url.find("/api/").unwrap()..];
    let resp = app.raw(axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_string();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    let csrf = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["csrf_token"].as_str().unwrap().to_string();
    // Single use.
    let again = app.raw(axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap()).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    let me = app
        .raw(axum::http::Request::get("/api/v1/me").header("cookie", &session).body(axum::body::Body::empty()).unwrap())
        .await;
    assert_eq!(me.status(), StatusCode::OK);
    let post = |csrf: Option<&str>| {
        let mut b = axum::http::Request::post("/api/v1/requests")
            .header("cookie", &session)
            .header("content-type", "application/json");
        if let Some(c) = csrf {
            b = b.header("x-csrf-token", c);
        }
        b.body(axum::body::Body::from(role_request("111122223333", 1, read_policy()).to_string())).unwrap()
    };
    assert_eq!(app.raw(post(None)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.raw(post(Some(&csrf))).await.status(), StatusCode::CREATED);
    // Unknown addresses get the same answer and no link.
    let (st, v) = app
        .call(axum::http::Method::POST, "/api/v1/auth/login", None, Some(json!({"email": "nobody@example.com"})))
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    assert!(v.get("login_url").is_none());
});

both!(displayed_quorum_counts_only_approvers_still_eligible, |app| async move {
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let b1 = app.user("email:b1@example.com", Role::Approver, &[]).await;
    let id = app.submit(&alice, role_request("111122223333", 1, admin_policy())).await;
    let (_, v) = app.post(&format!("/api/v1/requests/{id}/approve"), &b1, json!({})).await;
    assert_eq!(v["request"]["status"]["quorum"]["have"], 1);
    let (st, _) = app
        .call(
            axum::http::Method::PATCH,
            "/api/v1/users/email:b1@example.com",
            Some(&app.admin),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, v) = app.get(&format!("/api/v1/requests/{id}"), &alice).await;
    assert_eq!(v["request"]["status"]["quorum"]["have"], 0, "{v}");
    assert_eq!(v["request"]["status"]["approvals"][0]["counts"], false);
});
