//! Real responses of every route against the schemas in `/openapi.json`: the hand-written
//! mirrors of the core's types (src/schema.rs) must describe what the server sends. (The live
//! server is checked again by schemathesis in scripts/test-api.sh.)

#[path = "support/schema_check.rs"]
mod schema_check;

use axum::body::Body;
use axum::http::{header, Request};
use http_body_util::BodyExt;
use schema_check::check;
use scorer_api::{app, AppState, Config};
use serde_json::{json, Value};
use tower::ServiceExt;

async fn conforms(app: &axum::Router, doc: &Value, method: &str, route: &str, uri: &str, body: Option<Value>) -> u16 {
    let mut req = Request::builder().method(method).uri(uri);
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let res = app
        .clone()
        .oneshot(req.body(body.map_or(Body::empty(), |b| Body::from(b.to_string()))).unwrap())
        .await
        .unwrap();
    let status = res.status().as_u16();
    let ctype = res.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let op = &doc["paths"][route][method.to_lowercase()];
    let documented = &op["responses"][status.to_string()];
    assert!(documented.is_object(), "{method} {uri}: status {status} is not documented");
    if ctype.starts_with("application/json") {
        let schema = &documented["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{method} {uri} {status}: no JSON schema documented");
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let mut errs = Vec::new();
        check(doc, schema, &v, "$", &mut errs);
        assert!(errs.is_empty(), "{method} {uri} {status}:\n{}", errs.join("\n"));
    } else {
        let media = ctype.split(';').next().unwrap().to_string();
        assert!(documented["content"][&media].is_object(), "{method} {uri} {status}: `{media}` not documented");
    }
    status
}

#[tokio::test]
async fn every_route_answers_as_documented() {
    let state = AppState::new(Config { log_requests: false, rate_per_minute: 0, ..Config::default() });
    let app = app(state);
    let res = app.clone().oneshot(Request::get("/openapi.json").body(Body::empty()).unwrap()).await.unwrap();
    let doc: Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();

    let risky = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "A", "Effect": "Allow", "Action": ["iam:PassRole", "lambda:*", "s3:*"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}},
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    ]});
    let read = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]});
    let cases: Vec<(&str, &str, &str, Option<Value>, u16)> = vec![
        (
            "POST",
            "/api/v1/score",
            "/api/v1/score",
            Some(json!({"policy": risky, "narrative": true, "duration_hours": 10})),
            200,
        ),
        ("POST", "/api/v1/score", "/api/v1/score", Some(json!({"policy": read})), 200),
        ("POST", "/api/v1/score", "/api/v1/score", Some(json!({"policy": {"Statement": [{"Effect": 3}]}})), 400),
        ("POST", "/api/v1/score", "/api/v1/score", Some(json!({"policy": read, "duration_hours": -1})), 422),
        (
            "POST",
            "/api/v1/score/batch",
            "/api/v1/score/batch",
            Some(json!({"items": [{"policy": risky}, {"policy": {}}]})),
            200,
        ),
        ("POST", "/api/v1/score/batch", "/api/v1/score/batch", Some(json!({"items": 1})), 422),
        ("POST", "/api/v1/diff", "/api/v1/diff", Some(json!({"old": read, "new": risky})), 200),
        ("POST", "/api/v1/diff", "/api/v1/diff", Some(json!({"old": risky, "new": read})), 200),
        ("POST", "/api/v1/diff", "/api/v1/diff", Some(json!({"old": read, "new": {"Statement": 1}})), 400),
        ("POST", "/api/v1/policy/write", "/api/v1/policy/write", Some(json!({"read": ["arn:aws:s3:::b/*"]})), 200),
        (
            "POST",
            "/api/v1/policy/write",
            "/api/v1/policy/write",
            Some(json!({"mode": "actions", "actions": ["s3:GetObject"]})),
            200,
        ),
        ("POST", "/api/v1/policy/write", "/api/v1/policy/write", Some(json!({"read": ["arn:aws:s3:x"]})), 422),
        (
            "POST",
            "/api/v1/policy/from-cloudtrail",
            "/api/v1/policy/from-cloudtrail?include_denied=true",
            Some(json!({"Records": [
                {"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "eventType": "AwsApiCall",
                 "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::b/k"}]},
                {"eventSource": "nope.amazonaws.com", "eventName": "Nothing", "eventType": "AwsApiCall"},
                {"eventSource": "s3.amazonaws.com", "eventName": "PutObject", "eventType": "AwsApiCall", "errorCode": "AccessDenied"}
            ]})),
            200,
        ),
        ("POST", "/api/v1/policy/from-cloudtrail", "/api/v1/policy/from-cloudtrail", Some(json!({"x": 1})), 422),
        (
            "POST",
            "/api/v1/policy/narrow",
            "/api/v1/policy/narrow",
            Some(json!({
                "policy": {"Version": "2012-10-17", "Statement": [
                    {"Sid": "App", "Effect": "Allow", "Action": ["s3:*", "dynamodb:GetItem"], "Resource": "*"}]},
                "resources": ["arn:aws:s3:::reports/*", "arn:aws:s3:::reports"],
                "access_levels": ["read", "list"],
                "used_actions": ["s3:GetObject", "s3:ListBucket", "dynamodb:GetItem"]
            })),
            200,
        ),
        (
            "POST",
            "/api/v1/policy/narrow",
            "/api/v1/policy/narrow",
            Some(json!({"policy": {"Version": "2012-10-17", "Statement": []}, "resources": ["arn:aws:s3:x"]})),
            422,
        ),
        ("GET", "/api/v1/rules", "/api/v1/rules", None, 200),
        ("GET", "/api/v1/rules/{code}", "/api/v1/rules/PE002", None, 200),
        ("GET", "/api/v1/rules/{code}", "/api/v1/rules/nope", None, 404),
        ("GET", "/api/v1/catalog", "/api/v1/catalog", None, 200),
        ("GET", "/healthz", "/healthz", None, 200),
        ("GET", "/readyz", "/readyz", None, 200),
        ("GET", "/metrics", "/metrics", None, 200),
        ("GET", "/openapi.json", "/openapi.json", None, 200),
        ("GET", "/docs", "/docs", None, 200),
    ];
    for (method, route, uri, body, want) in cases {
        let got = conforms(&app, &doc, method, route, uri, body).await;
        assert_eq!(got, want, "{method} {uri}");
    }
}

#[test]
fn narrow_request_schema_is_closed_and_lists_its_fields() {
    let doc = serde_json::to_value(scorer_api::docs::openapi()).unwrap();
    let s = &doc["components"]["schemas"]["NarrowRequest"];
    assert_eq!(s["additionalProperties"], json!(false), "{s}");
    assert_eq!(s["required"], json!(["policy", "resources"]), "{s}");
    for k in ["policy", "resources", "access_levels", "used_actions"] {
        assert!(s["properties"].get(k).is_some(), "{k}: {s}");
    }
    for name in ["NarrowingQuestion", "NarrowedPolicy", "UsedActions"] {
        assert!(doc["components"]["schemas"].get(name).is_some(), "{name} is not in the document");
    }
}
