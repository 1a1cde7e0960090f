//! `POST /api/v1/intake/turn`: the stateless intake over HTTP — questions first, the state sent
//! back with the answers, then the writer's draft and the engine's score; bad bodies are 422;
//! every answer conforms to the OpenAPI document.

#[path = "support/schema_check.rs"]
mod schema_check;

use axum::body::Body;
use axum::http::{header, Request};
use http_body_util::BodyExt;
use scorer_api::{app, AppState, Config};
use serde_json::{json, Value};
use tower::ServiceExt;

async fn turn(app: &axum::Router, doc: &Value, body: Value) -> (u16, Value) {
    let req = Request::post("/api/v1/intake/turn")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let v: Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let documented = &doc["paths"]["/api/v1/intake/turn"]["post"]["responses"][status.to_string()];
    let schema = &documented["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "status {status} is not documented");
    let mut errs = Vec::new();
    schema_check::check(doc, schema, &v, "$", &mut errs);
    assert!(errs.is_empty(), "{status}:\n{}\n{v}", errs.join("\n"));
    (status, v)
}

#[tokio::test]
async fn two_turns_give_the_writers_draft() {
    let state = AppState::new(Config { log_requests: false, rate_per_minute: 0, llm: None, ..Config::default() });
    let doc: Value = serde_json::to_value(scorer_api::docs::openapi()).unwrap();
    let app = app(state);
    let (status, first) = turn(&app, &doc, json!({"answer": "read the reports bucket in s3"})).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = first["questions"].as_array().unwrap().iter().map(|q| q["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["resources:s3:read", "accounts", "duration"]);
    assert_eq!(first["draft"], Value::Null);
    assert_eq!(first["source"], "form");

    let answers = json!({"resources:s3:read": "arn:aws:s3:::reports/*", "accounts": "123456789012", "duration": "8h"});
    let (status, second) = turn(&app, &doc, json!({"state": first["state"], "answer": {"answers": answers}})).await;
    assert_eq!(status, 200);
    assert_eq!(second["complete"], true, "{second}");
    assert_eq!(second["template"]["read"], json!(["arn:aws:s3:::reports/*"]));
    assert_eq!(second["draft"]["policy"]["Statement"][0]["Resource"], json!(["arn:aws:s3:::reports/*"]));
    // The score is the engine's for that policy, as /api/v1/score gives it.
    let scored = risk_core::score_value(&second["draft"]["policy"], &risk_core::ScoreOptions::default()).unwrap();
    assert_eq!(second["draft"]["report"]["score"], scored.score);
}

#[tokio::test]
async fn invalid_bodies_are_422() {
    let state = AppState::new(Config { log_requests: false, rate_per_minute: 0, llm: None, ..Config::default() });
    let doc: Value = serde_json::to_value(scorer_api::docs::openapi()).unwrap();
    let app = app(state);
    for body in [
        json!({}),
        json!({"answer": 3}),
        json!({"answer": "x", "policy": {}}),
        json!({"answer": "x", "state": {"Statement": []}}),
        json!({"answer": "x".repeat(5000)}),
    ] {
        let (status, v) = turn(&app, &doc, body.clone()).await;
        assert_eq!(status, 422, "{body}: {v}");
    }
}
