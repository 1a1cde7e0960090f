//! The request lifecycle end to end through the HTTP API, on SQLite and PostgreSQL.

mod common;

use axum::http::StatusCode;
use common::*;
use jit_service::identity::Role;
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
