//! Real responses of every route against the schemas in `/openapi.json`: the hand-written
//! mirrors of the core's types (src/schema.rs) must describe what the server sends. (The live
//! server is checked again by schemathesis in scripts/test-api.sh.)

use axum::body::Body;
use axum::http::{header, Request};
use http_body_util::BodyExt;
use scorer_api::{app, AppState, Config};
use serde_json::{json, Value};
use tower::ServiceExt;

/// A small JSON-schema checker for what utoipa emits: `$ref`, `type` (string or list),
/// `properties`, `required`, `additionalProperties`, `items`, `enum`, `oneOf`/`anyOf`/`allOf`,
/// `minimum`/`maximum`, `maxLength`. Returns every mismatch with its path.
fn check(doc: &Value, schema: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        return check(doc, &doc["components"]["schemas"][name], v, path, errs);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            let ok = alts.iter().any(|s| {
                let mut e = Vec::new();
                check(doc, s, v, path, &mut e);
                e.is_empty()
            });
            if !ok {
                errs.push(format!("{path}: matches no alternative of {key}"));
            }
            return;
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(doc, s, v, path, errs);
        }
    }
    let actual = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() && !types.iter().any(|t| *t == actual || (*t == "number" && actual == "integer")) {
        errs.push(format!("{path}: is {actual}, schema says {types:?}"));
        return;
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errs.push(format!("{path}: {v} not in {e:?}"));
        }
    }
    if let (Some(n), Some(min)) = (v.as_f64(), schema.get("minimum").and_then(Value::as_f64)) {
        if n < min {
            errs.push(format!("{path}: {n} < minimum {min}"));
        }
    }
    if let (Some(n), Some(max)) = (v.as_f64(), schema.get("maximum").and_then(Value::as_f64)) {
        if n > max {
            errs.push(format!("{path}: {n} > maximum {max}"));
        }
    }
    match v {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                if !map.contains_key(r.as_str().unwrap_or("")) {
                    errs.push(format!("{path}: required `{r}` missing"));
                }
            }
            for (k, item) in map {
                let sub = format!("{path}.{k}");
                match (props.and_then(|p| p.get(k)), schema.get("additionalProperties")) {
                    (Some(s), _) => check(doc, s, item, &sub, errs),
                    (None, Some(Value::Bool(false))) => errs.push(format!("{sub}: not in the schema")),
                    (None, Some(s @ Value::Object(_))) => check(doc, s, item, &sub, errs),
                    // An undocumented key is drift in the mirrors: report it.
                    (None, _) if props.is_some() => errs.push(format!("{sub}: not in the schema")),
                    (None, _) => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(doc, s, item, &format!("{path}[{i}]"), errs);
                }
            }
        }
        _ => {}
    }
}

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
fn the_checker_catches_drift() {
    let doc = json!({"components": {"schemas": {"T": {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}}}});
    let schema = json!({"$ref": "#/components/schemas/T"});
    let mut errs = Vec::new();
    check(&doc, &schema, &json!({"a": 1, "b": 2}), "$", &mut errs);
    assert_eq!(errs, ["$.b: not in the schema"]);
    errs.clear();
    check(&doc, &schema, &json!({"a": "x"}), "$", &mut errs);
    assert_eq!(errs.len(), 1);
}
