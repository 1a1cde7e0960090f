//! Every route and every error, through `app()` without a network.

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use scorer_api::{app, AppState, Config};
use serde_json::{json, Value};
use tower::ServiceExt;

const PASSROLE: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Deploy","Effect":"Allow","Action":["iam:PassRole","lambda:CreateFunction","lambda:InvokeFunction"],"Resource":"*"}]}"#;
const READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#;

fn router(tweak: impl FnOnce(&mut Config)) -> Router {
    let mut c = Config { log_requests: false, rate_per_minute: 0, ..Config::default() };
    tweak(&mut c);
    app(AppState::new(c))
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// Assert the one error shape and return it.
    fn error(&self, status: StatusCode, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.headers[header::CONTENT_TYPE], "application/json");
        let v = self.json();
        let e = &v["error"];
        assert_eq!(e["code"], code, "{v}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        assert!(e["details"].is_array(), "{v}");
        assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
        assert_eq!(e.as_object().unwrap().len(), 3, "{v}");
        e.clone()
    }
}

async fn send(app: &Router, req: Request<Body>) -> Answer {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    Answer { status, headers, body }
}

fn post(uri: &str, body: impl Into<String>) -> Request<Body> {
    Request::post(uri).header(header::CONTENT_TYPE, "application/json").body(Body::from(body.into())).unwrap()
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn score_body(policy: &str) -> String {
    format!(r#"{{"policy": {policy}}}"#)
}

#[tokio::test]
async fn score_returns_the_core_report() {
    let app = router(|_| {});
    let a = send(&app, post("/api/v1/score", score_body(PASSROLE))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/json");
    let expected = risk_core::score_json(PASSROLE, &risk_core::ScoreOptions::default()).unwrap();
    let got: risk_core::Report = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(got, expected);
    // The predecessor's keys come first, in its order.
    assert!(a.text().starts_with(r#"{"score":"#));
    assert_eq!(a.json()["llm_narrative"], Value::Null);
    assert_eq!(a.json()["analyzer"], "deterministic");
}

#[tokio::test]
async fn score_accepts_every_context_field() {
    let app = router(|_| {});
    let body = json!({
        "policy": serde_json::from_str::<Value>(PASSROLE).unwrap(),
        "access_type": "read-only",
        "duration_hours": 72,
        "description": "deploy the billing lambda",
        "additional_sensitive_services": ["lambda"],
        "additional_high_impact_actions": ["lambda:Create*"],
        "policy_type": "identity",
        "narrative": false
    });
    let a = send(&app, post("/api/v1/score", body.to_string())).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let options = risk_core::ScoreOptions {
        access_type: Some(risk_core::AccessType::ReadOnly),
        duration_hours: Some(72),
        description: Some("deploy the billing lambda".into()),
        extra_sensitive_services: vec!["lambda".into()],
        extra_high_impact_actions: vec!["lambda:Create*".into()],
        policy_type: Some(risk_core::PolicyType::Identity),
    };
    let expected = risk_core::score_json(PASSROLE, &options).unwrap();
    assert_eq!(serde_json::from_slice::<risk_core::Report>(&a.body).unwrap(), expected);
    assert_eq!(a.json()["context"], json!({"access_type": "read-only", "duration_hours": 72}));
    // The policy may also be sent as JSON text.
    let a = send(&app, post("/api/v1/score", json!({"policy": READ}).to_string())).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
}

#[tokio::test]
async fn narrative_true_without_a_model_gives_the_template() {
    let app = router(|_| {});
    let a = send(&app, post("/api/v1/score", format!(r#"{{"policy": {PASSROLE}, "narrative": true}}"#))).await;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json();
    assert!(v["llm_narrative"].as_str().unwrap().starts_with("This identity policy scores"), "{v}");
    assert_eq!(v["analyzer"], "deterministic");
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = router(|_| {});
    let e = send(&app, post("/api/v1/score", r#"{"policy": {"Statement": ["#))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_json");
    assert!(e["message"].as_str().unwrap().contains("line 1"), "{e}");
    let e = send(&app, post("/api/v1/score", r#"{"policy": "{not json"}"#))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_policy");
    assert_eq!(e["details"][0]["path"], "policy");
}

#[tokio::test]
async fn an_invalid_policy_is_400_naming_the_json_path() {
    let app = router(|_| {});
    let body = score_body(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Effect":"Perhaps","Action":"s3:GetObject","Resource":"*"}]}"#,
    );
    let e = send(&app, post("/api/v1/score", body)).await.error(StatusCode::BAD_REQUEST, "invalid_policy");
    let path = e["details"][0]["path"].as_str().unwrap();
    assert!(path.starts_with("policy.Statement[1]"), "{e}");
    let e = send(&app, post("/api/v1/score", score_body(r#"{"Version":"2012-10-17"}"#)))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_policy");
    assert!(e["details"][0]["path"].as_str().unwrap().starts_with("policy"), "{e}");
}

#[tokio::test]
async fn invalid_fields_are_422_each_with_its_path() {
    let app = router(|_| {});
    let long = "x".repeat(501);
    let body = json!({
        "policy": serde_json::from_str::<Value>(READ).unwrap(),
        "access_type": "sometimes",
        "duration_hours": 0,
        "description": long,
        "additional_sensitive_services": ["dynamodb", "nosuchservice", 3],
        "additional_high_impact_actions": ["s3:NoSuchAction"],
        "policy_type": "group",
        "narrative": "yes",
        "colour": "blue"
    });
    let e = send(&app, post("/api/v1/score", body.to_string()))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let paths: Vec<&str> = e["details"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    for p in [
        "access_type",
        "duration_hours",
        "description",
        "additional_sensitive_services[1]",
        "additional_sensitive_services[2]",
        "additional_high_impact_actions[0]",
        "policy_type",
        "narrative",
        "colour",
    ] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
    let e = send(&app, post("/api/v1/score", "{}")).await.error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(e["details"][0]["path"], "policy");
    send(&app, post("/api/v1/score", "[1]")).await.error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    send(&app, post("/api/v1/score", r#"{"policy": 3}"#))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let ok = json!({"policy": serde_json::from_str::<Value>(READ).unwrap(), "duration_hours": 8760, "description": "y".repeat(500)});
    assert_eq!(send(&app, post("/api/v1/score", ok.to_string())).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = router(|c| c.body_limit = 1024);
    let big =
        json!({"policy": serde_json::from_str::<Value>(READ).unwrap(), "description": "z".repeat(2000)}).to_string();
    let e =
        send(&app, post("/api/v1/score", big.clone())).await.error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(e["message"].as_str().unwrap().contains("1024"));
    // Without a Content-Length (streamed), the limit still holds.
    let chunks = futures_stream(big.into_bytes());
    let req = Request::post("/api/v1/score").header(header::CONTENT_TYPE, "application/json").body(chunks).unwrap();
    send(&app, req).await.error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // The default limit is 256 KiB.
    let app = router(|_| {});
    let big =
        json!({"policy": serde_json::from_str::<Value>(READ).unwrap(), "padding": "p".repeat(300 * 1024)}).to_string();
    send(&app, post("/api/v1/score", big)).await.error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

/// A body without a known length.
fn futures_stream(bytes: Vec<u8>) -> Body {
    let chunks: Vec<Result<axum::body::Bytes, std::io::Error>> =
        bytes.chunks(100).map(|c| Ok(axum::body::Bytes::copy_from_slice(c))).collect();
    Body::from_stream(tokio_stream_iter(chunks))
}

fn tokio_stream_iter<T: Send + Unpin + 'static>(items: Vec<T>) -> impl futures_core::Stream<Item = T> + Send {
    struct Iter<T>(std::vec::IntoIter<T>);
    impl<T> futures_core::Stream for Iter<T>
    where
        T: Unpin,
    {
        type Item = T;
        fn poll_next(mut self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<Option<T>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    Iter(items.into_iter())
}

#[tokio::test]
async fn non_json_bodies_are_415() {
    let app = router(|_| {});
    let req = Request::post("/api/v1/score").body(Body::from(score_body(READ))).unwrap();
    send(&app, req).await.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let req = Request::post("/api/v1/score")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(score_body(READ)))
        .unwrap();
    send(&app, req).await.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let req = Request::post("/api/v1/diff")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("a=b"))
        .unwrap();
    send(&app, req).await.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let req = Request::post("/api/v1/score")
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(score_body(READ)))
        .unwrap();
    assert_eq!(send(&app, req).await.status, StatusCode::OK);
}

#[tokio::test]
async fn api_keys_are_required_when_configured() {
    let app = router(|c| c.api_keys = vec!["first-key".into(), "second-key".into()]);
    let a = send(&app, post("/api/v1/score", score_body(READ))).await;
    a.error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(a.headers[header::WWW_AUTHENTICATE], r#"Bearer realm="iam-risk-score""#);
    let with = |key: &str| {
        Request::post("/api/v1/score")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, key)
            .body(Body::from(score_body(READ)))
            .unwrap()
    };
    let a = send(&app, with("Bearer wrong-key")).await;
    a.error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(a.headers[header::WWW_AUTHENTICATE].to_str().unwrap().contains("invalid_token"));
    send(&app, with("Basic Zmlyc3Qta2V5")).await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    send(&app, with("Bearer first-key-and-more")).await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(send(&app, with("Bearer first-key")).await.status, StatusCode::OK);
    assert_eq!(send(&app, with("bearer second-key")).await.status, StatusCode::OK);
    // The predecessor also accepted the bare key.
    assert_eq!(send(&app, with("second-key")).await.status, StatusCode::OK);
    // Every /api route is protected; operations routes are not.
    for uri in ["/api/v1/rules", "/api/v1/rules/PE002", "/api/v1/catalog"] {
        send(&app, get(uri)).await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    for uri in ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"] {
        assert_eq!(send(&app, get(uri)).await.status, StatusCode::OK, "{uri}");
    }
}

#[tokio::test]
async fn the_rate_limit_is_429_with_retry_after() {
    let app = router(|c| {
        c.rate_per_minute = 6;
        c.rate_burst = 2;
        c.api_keys = vec!["k1".into(), "k2".into()];
    });
    let with = |key: &str| {
        Request::post("/api/v1/score")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Body::from(score_body(READ)))
            .unwrap()
    };
    assert_eq!(send(&app, with("k1")).await.status, StatusCode::OK);
    assert_eq!(send(&app, with("k1")).await.status, StatusCode::OK);
    let a = send(&app, with("k1")).await;
    let e = a.error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let retry: u64 = a.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    assert!(e["message"].as_str().unwrap().contains(&retry.to_string()));
    // Another key is another client.
    assert_eq!(send(&app, with("k2")).await.status, StatusCode::OK);
    // Failed authentications count against the caller too, so guessing runs into 429.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(send(&app, with("guess")).await.status);
    }
    assert_eq!(statuses, [StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS]);
}

#[tokio::test]
async fn forwarded_addresses_are_trusted_only_when_configured() {
    let app = router(|c| {
        c.rate_per_minute = 1;
        c.rate_burst = 1;
        c.trust_forwarded_for = true;
    });
    let from = |ip: &str| {
        Request::get("/api/v1/catalog")
            .header("x-forwarded-for", format!("203.0.113.9, {ip}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&app, from("198.51.100.1")).await.status, StatusCode::OK);
    assert_eq!(send(&app, from("198.51.100.1")).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(send(&app, from("198.51.100.2")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn batch_scores_each_item_and_reports_failures_in_place() {
    let app = router(|c| c.batch_max = 3);
    let body = format!(
        r#"{{"items": [{{"policy": {PASSROLE}}}, {{"policy": {{"Statement": [{{"Effect": "Nope"}}]}}}}, {{"policy": {READ}, "duration_hours": 2}}]}}"#
    );
    let a = send(&app, post("/api/v1/score/batch", body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let v = a.json();
    assert_eq!((v["scored"].as_u64(), v["failed"].as_u64()), (Some(2), Some(1)));
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 3);
    let expected = risk_core::score_json(PASSROLE, &risk_core::ScoreOptions::default()).unwrap();
    assert_eq!(serde_json::from_value::<risk_core::Report>(r[0]["result"].clone()).unwrap(), expected);
    assert_eq!(r[1]["error"]["code"], "invalid_policy");
    assert!(r[1]["error"]["details"][0]["path"].as_str().unwrap().starts_with("items[1].policy.Statement[0]"), "{v}");
    assert_eq!(r[2]["result"]["context"]["duration_hours"], 2);
    // Invalid fields in any item: the whole request is a 422 naming each.
    let bad = format!(
        r#"{{"items": [{{"policy": {READ}}}, {{"policy": {READ}, "duration_hours": 0}}, {{"policy": {READ}, "x": 1}}]}}"#
    );
    let e =
        send(&app, post("/api/v1/score/batch", bad)).await.error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let paths: Vec<&str> = e["details"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["items[1].duration_hours", "items[2].x"]);
    let too_many = format!(
        r#"{{"items": [{{"policy": {READ}}}, {{"policy": {READ}}}, {{"policy": {READ}}}, {{"policy": {READ}}}]}}"#
    );
    let e = send(&app, post("/api/v1/score/batch", too_many))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(e["details"][0]["path"], "items");
    send(&app, post("/api/v1/score/batch", r#"{"policies": []}"#))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let empty = send(&app, post("/api/v1/score/batch", r#"{"items": []}"#)).await;
    assert_eq!(empty.json(), json!({"results": [], "scored": 0, "failed": 0}));
}

#[tokio::test]
async fn diff_compares_two_policies() {
    let app = router(|_| {});
    let a = send(&app, post("/api/v1/diff", format!(r#"{{"old": {READ}, "new": {PASSROLE}}}"#))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let expected = risk_core::diff::diff_json(READ, PASSROLE, &risk_core::ScoreOptions::default()).unwrap();
    assert_eq!(serde_json::from_slice::<risk_core::diff::PolicyDiff>(&a.body).unwrap(), expected);
    let e =
        send(&app, post("/api/v1/diff", format!(r#"{{"old": {READ}, "new": {{"Statement": [{{"Effect": 1}}]}}}}"#)))
            .await
            .error(StatusCode::BAD_REQUEST, "invalid_policy");
    assert!(e["details"][0]["path"].as_str().unwrap().starts_with("new.Statement[0]"), "{e}");
    let e = send(&app, post("/api/v1/diff", format!(r#"{{"old": {READ}}}"#)))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(e["details"][0]["path"], "new");
    send(&app, post("/api/v1/diff", "{")).await.error(StatusCode::BAD_REQUEST, "invalid_json");
}

#[tokio::test]
async fn rules_rule_and_catalog() {
    let app = router(|_| {});
    let a = send(&app, get("/api/v1/rules")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json(), serde_json::to_value(risk_core::explain::rule_docs()).unwrap());
    let a = send(&app, get("/api/v1/rules/pe002")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["code"], "PE002");
    let name = a.json()["name"].as_str().unwrap().to_string();
    assert_eq!(send(&app, get(&format!("/api/v1/rules/{name}"))).await.json()["code"], "PE002");
    send(&app, get("/api/v1/rules/XX999")).await.error(StatusCode::NOT_FOUND, "not_found");
    let a = send(&app, get("/api/v1/catalog")).await;
    assert_eq!(a.json(), serde_json::to_value(risk_core::catalog_info()).unwrap());
}

#[tokio::test]
async fn health_readiness_and_shutdown() {
    let state = AppState::new(Config { log_requests: false, ..Config::default() });
    let app = app(state.clone());
    let a = send(&app, get("/healthz")).await;
    assert_eq!(a.json()["status"], "ok");
    assert_eq!(send(&app, get("/readyz")).await.json()["status"], "ready");
    state.begin_shutdown();
    let a = send(&app, get("/readyz")).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.json()["status"], "shutting_down");
    assert_eq!(send(&app, get("/healthz")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_requests_scores_and_statuses() {
    let app = router(|_| {});
    send(&app, post("/api/v1/score", score_body(PASSROLE))).await;
    send(&app, post("/api/v1/score", "{")).await;
    let a = send(&app, get("/metrics")).await;
    assert!(a.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/openmetrics-text"));
    let m = a.text();
    assert!(
        m.contains(r#"iam_risk_score_http_requests_total{route="/api/v1/score",method="POST",status="200"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"iam_risk_score_http_requests_total{route="/api/v1/score",method="POST",status="400"} 1"#),
        "{m}"
    );
    assert!(m.contains("iam_risk_score_policy_score_count 1"), "{m}");
    assert!(m.contains("iam_risk_score_http_request_duration_seconds_bucket"), "{m}");
    assert!(m.trim_end().ends_with("# EOF"));
}

#[tokio::test]
async fn openapi_and_docs() {
    let app = router(|_| {});
    let a = send(&app, get("/openapi.json")).await;
    let v = a.json();
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/score",
        "/api/v1/score/batch",
        "/api/v1/diff",
        "/api/v1/rules",
        "/api/v1/rules/{code}",
        "/api/v1/catalog",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(v["paths"][p].is_object(), "{p} not documented");
    }
    let a = send(&app, get("/docs")).await;
    assert!(a.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let html = a.text();
    assert!(html.contains("/api/v1/score/batch") && html.contains("ScoreRequest") && html.contains("duration_hours"));
    assert!(!html.contains("<script"), "the docs page loads nothing from elsewhere");
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = router(|c| c.playground_dir = "/nonexistent/playground".into());
    send(&app, get("/api/v1/nope")).await.error(StatusCode::NOT_FOUND, "not_found");
    send(&app, post("/nope", "{}")).await.error(StatusCode::NOT_FOUND, "not_found");
    send(&app, Request::delete("/api/v1/score").body(Body::empty()).unwrap())
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    send(&app, post("/api/v1/rules", "{}")).await.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    // No playground built: a plain page at `/`.
    let a = send(&app, get("/")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.text().contains("playground is not built"));
}

#[tokio::test]
async fn the_playground_directory_is_served_at_the_root() {
    let dir = std::env::temp_dir().join(format!("scorer-api-playground-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>playground</title>").unwrap();
    std::fs::write(dir.join("pkg/app.js"), "export {}").unwrap();
    let app = router(|c| c.playground_dir = dir.clone());
    let a = send(&app, get("/")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.text().contains("<title>playground</title>"));
    let a = send(&app, get("/pkg/app.js")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.headers[header::CONTENT_TYPE].to_str().unwrap().contains("javascript"));
    send(&app, get("/pkg/missing.js")).await.error(StatusCode::NOT_FOUND, "not_found");
    send(&app, get("/../Cargo.toml")).await.error(StatusCode::NOT_FOUND, "not_found");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = router(|_| {});
    let req = Request::get("/healthz").header("x-request-id", "abc-123").body(Body::empty()).unwrap();
    assert_eq!(send(&app, req).await.headers["x-request-id"], "abc-123");
    let req = Request::get("/healthz").header("x-request-id", "bad id\twith spaces").body(Body::empty()).unwrap();
    let id = send(&app, req).await.headers["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(id, "bad id\twith spaces");
    let other = send(&app, get("/healthz")).await.headers["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(id, other);
    // Errors carry it too.
    assert!(send(&app, post("/api/v1/score", "{")).await.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn cors_is_off_by_default_and_configurable() {
    let preflight = || {
        Request::options("/api/v1/score")
            .header("origin", "https://app.example.com")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,authorization")
            .body(Body::empty())
            .unwrap()
    };
    let a = send(&router(|_| {}), preflight()).await;
    assert!(!a.headers.contains_key("access-control-allow-origin"));
    let app = router(|c| {
        c.cors_origins = vec!["https://app.example.com".into()];
        c.api_keys = vec!["k".into()];
    });
    let a = send(&app, preflight()).await;
    assert!(a.status.is_success(), "{}", a.status);
    assert_eq!(a.headers["access-control-allow-origin"], "https://app.example.com");
    let req = Request::get("/healthz").header("origin", "https://evil.example.com").body(Body::empty()).unwrap();
    assert!(!send(&app, req).await.headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn a_large_policy_is_scored_off_the_async_workers_with_the_same_result() {
    let app = router(|_| {});
    let statements: Vec<Value> = (0..400)
        .map(|i| json!({"Sid": format!("S{i}"), "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": format!("arn:aws:s3:::bucket-{i}/*")}))
        .collect();
    let policy = json!({"Version": "2012-10-17", "Statement": statements});
    let body = json!({"policy": policy}).to_string();
    assert!(body.len() > 32 * 1024);
    let a = send(&app, post("/api/v1/score", body)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let expected = risk_core::score_value(&policy, &risk_core::ScoreOptions::default()).unwrap();
    assert_eq!(serde_json::from_slice::<risk_core::Report>(&a.body).unwrap(), expected);
}
