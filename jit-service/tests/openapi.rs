//! `/openapi.json` against the route table and against real answers: every route in
//! `api::routes()` is documented (a new route without documentation fails here), every
//! documented operation exists, and real responses of the lifecycle match their documented
//! status, media type and schema (undocumented keys included). The documented examples are
//! accepted by the service. (The running service is fuzzed again by scripts/test-jit.sh.)

mod common;
#[path = "../../scorer-api/tests/support/schema_check.rs"]
mod schema_check;

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use jit_service::identity::Role;
use jit_service::{api, docs};
use schema_check::check;
use serde_json::{json, Value};
use std::collections::BTreeSet;

#[test]
fn every_route_is_documented_and_nothing_else() {
    let doc = docs::openapi();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut table = BTreeSet::new();
    let mut missing = Vec::new();
    for def in api::routes() {
        let method = def.method.as_str().to_ascii_lowercase();
        table.insert((def.path.to_string(), method.clone()));
        let op = &doc["paths"][def.path][&method];
        if !op.is_object() {
            missing.push(format!("{} {}", def.method, def.path));
            continue;
        }
        let name = format!("{} {}", def.method, def.path);
        assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{name}: no summary");
        assert!(op["responses"].as_object().unwrap().keys().any(|s| s.starts_with('2')), "{name}: no 2xx answer");
        assert!(op["responses"]["429"].is_object(), "{name}: 429 undocumented");
        // Security follows the table's access level.
        if def.access == api::Access::Public {
            assert!(op.get("security").is_none(), "{name}: public routes need no credentials");
        } else {
            assert_eq!(op["security"], json!([{"bearer": []}, {"session": []}]), "{name}");
            for s in ["401", "403"] {
                assert!(op["responses"][s]["content"]["application/json"].is_object(), "{name}: {s}");
            }
        }
        // Every path parameter is declared, required.
        for seg in def.path.split('/').filter(|s| s.starts_with('{')) {
            let p = seg.trim_matches(['{', '}']);
            let declared =
                op["parameters"].as_array().into_iter().flatten().any(|x| x["name"] == p && x["in"] == "path");
            assert!(declared, "{name}: path parameter `{p}` not declared");
        }
        if let Some(body) = op.get("requestBody") {
            for s in ["400", "413", "415", "422"] {
                assert!(op["responses"][s].is_object(), "{name}: a body route must document {s}");
            }
            assert!(body["content"]["application/json"]["schema"]["$ref"].is_string(), "{name}");
        }
    }
    assert!(
        missing.is_empty(),
        "routes without documentation (add them to docs::doc_for):\n  {}",
        missing.join("\n  ")
    );
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, item)| item.as_object().unwrap().keys().map(move |m| (p.clone(), m.clone())))
        .collect();
    assert_eq!(documented, table, "the document and the route table differ");
    // Every reference resolves.
    let text = doc.to_string();
    for r in text.split("\"#/components/schemas/").skip(1) {
        let name = &r[..r.find('"').unwrap()];
        assert!(doc["components"]["schemas"][name].is_object(), "unresolved $ref {name}");
    }
    for scheme in ["bearer", "session"] {
        assert!(doc["components"]["securitySchemes"][scheme].is_object());
    }
}

#[test]
fn a_route_without_documentation_is_noticed() {
    assert!(docs::doc_for(&Method::GET, "/api/v1/not-a-route").is_none());
    assert!(docs::doc_for(&Method::DELETE, "/api/v1/me").is_none());
    assert!(docs::doc_for(&Method::GET, "/api/v1/me").is_some());
}

#[test]
fn request_bodies_have_the_real_shapes() {
    let doc = docs::openapi();
    let s = &doc["components"]["schemas"];
    let body = |path: &str, method: &str| {
        let r = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        r
    };
    assert_eq!(body("/api/v1/requests", "post"), "RoleRequest");
    assert_eq!(body("/api/v1/requests/{id}", "patch"), "RoleRequestEdit");
    assert_eq!(body("/api/v1/requests/{id}/approve", "post"), "Decision");
    assert_eq!(doc["paths"]["/api/v1/requests/{id}/approve"]["post"]["requestBody"]["required"], false);
    assert_eq!(body("/api/v1/users", "post"), "NewUser");
    assert_eq!(body("/api/v1/approval-policy", "put"), "ApprovalPolicy");
    assert_eq!(body("/api/v1/webhooks", "post"), "NewWebhook");
    let keys =
        |name: &str| -> BTreeSet<String> { s[name]["properties"].as_object().unwrap().keys().cloned().collect() };
    assert_eq!(keys("Decision"), ["comment", "version"].map(String::from).into());
    assert_eq!(s["Decision"]["additionalProperties"], false);
    assert_eq!(keys("NewUser"), ["display_name", "groups", "roles", "user_id"].map(String::from).into());
    assert_eq!(keys("RoleRequest"), ["apiVersion", "kind", "metadata", "spec"].map(String::from).into());
    assert_eq!(s["RoleRequest"]["required"], json!(["spec"]));
    assert_eq!(s["ErrorBody"]["required"], json!(["detail", "code"]));
    // The reports' query string: the filters and the format, nothing else.
    let params: Vec<&str> = doc["paths"]["/api/v1/reports/grants"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["since", "until", "account", "user", "state", "format"]);
    let csv = &doc["paths"]["/api/v1/reports/users"]["get"]["responses"]["200"]["content"]["text/csv"];
    assert!(csv.is_object());
}

// ---------------------------------------------------------------------------------------------
// Real answers against the document
// ---------------------------------------------------------------------------------------------

/// Send one request and check the answer against the document; returns status and body.
async fn conforms(
    app: &TestApp,
    doc: &Value,
    method: Method,
    route: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = Request::builder().method(method.clone()).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let resp = app.raw(req.body(body.map_or(Body::empty(), |b| Body::from(b.to_string()))).unwrap()).await;
    let status = resp.status().as_u16();
    let ctype = resp.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let bytes = to_bytes(resp.into_body(), 64 << 20).await.unwrap();
    let name = format!("{method} {uri}");
    let op = &doc["paths"][route][method.as_str().to_ascii_lowercase()];
    assert!(op.is_object(), "{name}: `{route}` is not documented");
    let documented = &op["responses"][status.to_string()];
    assert!(documented.is_object(), "{name}: status {status} is not documented: {}", String::from_utf8_lossy(&bytes));
    if bytes.is_empty() {
        assert!(documented.get("content").is_none(), "{name}: {status} documents a body, none was sent");
        return (status, Value::Null);
    }
    let media = ctype.split(';').next().unwrap().trim().to_string();
    let content = &documented["content"][&media];
    assert!(content.is_object(), "{name} {status}: `{media}` is not documented");
    if media == "application/json" {
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let mut errs = Vec::new();
        check(doc, &content["schema"], &v, "$", &mut errs);
        assert!(errs.is_empty(), "{name} {status}:\n{}\n{v}", errs.join("\n"));
        (status, v)
    } else {
        (status, Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    }
}

both!(real_answers_match_the_document, |app| async move {
    let doc = docs::openapi();
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let bob = app.user("email:bob@example.com", Role::Approver, &[]).await;
    let admin2 = app.user("email:admin2@example.com", Role::Admin, &[]).await;
    let admin = app.admin.clone();
    use Method as M;
    macro_rules! call {
        ($m:expr, $route:expr, $uri:expr, $tok:expr, $body:expr, $want:expr) => {{
            let (st, v) = conforms(&app, &doc, $m, $route, &$uri, $tok, $body).await;
            assert_eq!(st, $want, "{} {}: {v}", stringify!($m), $uri);
            v
        }};
    }
    // Operations and documentation.
    call!(M::GET, "/healthz", "/healthz", None, None, 200);
    call!(M::GET, "/readyz", "/readyz", None, None, 200);
    call!(M::GET, "/metrics", "/metrics", None, None, 200);
    call!(M::GET, "/openapi.json", "/openapi.json", None, None, 200);
    let html = call!(M::GET, "/docs", "/docs", None, None, 200);
    assert!(html.as_str().unwrap().contains("/api/v1/reports/grants"));
    // Auth and users.
    let v = call!(
        M::POST,
        "/api/v1/auth/login",
        "/api/v1/auth/login",
        None,
        Some(json!({"email": "alice@example.com"})),
        202
    );
    let link = v["login_url"].as_str().unwrap();
    let callback = &link[link.find("/api/v1/").unwrap()..];
    call!(M::GET, "/api/v1/auth/callback", callback, None, None, 200);
    call!(M::GET, "/api/v1/auth/callback", callback, None, None, 401);
    call!(M::GET, "/api/v1/auth/callback", "/api/v1/auth/callback", None, None, 400);
    // AWS-credential login (the whole flow against moto is in tests/aws_login.rs).
    let ch = call!(M::POST, "/api/v1/auth/aws/challenge", "/api/v1/auth/aws/challenge", None, None, 201);
    let unsigned = json!({"method": "POST", "url": ch["sts_url"], "headers": {}, "body": "Action=GetCallerIdentity&Version=2011-06-15"});
    call!(M::POST, "/api/v1/auth/aws", "/api/v1/auth/aws", None, Some(unsigned), 400);
    call!(M::POST, "/api/v1/auth/aws", "/api/v1/auth/aws", None, Some(json!({"method": "POST"})), 422);
    call!(M::GET, "/api/v1/me", "/api/v1/me", Some(&alice), None, 200);
    call!(M::GET, "/api/v1/me", "/api/v1/me", None, None, 401);
    call!(M::POST, "/api/v1/auth/logout", "/api/v1/auth/logout", Some(&alice), None, 200);
    call!(M::GET, "/api/v1/users", "/api/v1/users", Some(&bob), None, 200);
    call!(M::GET, "/api/v1/users", "/api/v1/users", Some(&alice), None, 403);
    let user =
        json!({"user_id": "email:dave@example.com", "roles": ["approver"], "groups": ["ops"], "display_name": "Dave"});
    call!(M::POST, "/api/v1/users", "/api/v1/users", Some(&admin), Some(user.clone()), 201);
    call!(M::POST, "/api/v1/users", "/api/v1/users", Some(&admin), Some(user), 409);
    call!(M::POST, "/api/v1/users", "/api/v1/users", Some(&admin), Some(json!({"user_id": "dave", "roles": []})), 422);
    let d = "/api/v1/users/email:dave@example.com";
    call!(M::GET, "/api/v1/users/{user_id}", d, Some(&bob), None, 200);
    call!(M::GET, "/api/v1/users/{user_id}", "/api/v1/users/email:nobody@example.com", Some(&bob), None, 404);
    call!(M::GET, "/api/v1/users/{user_id}", "/api/v1/users/nobody", Some(&bob), None, 422);
    call!(
        M::PATCH,
        "/api/v1/users/{user_id}",
        d,
        Some(&admin),
        Some(json!({"enabled": true, "groups": ["ops", "sre"]})),
        200
    );
    let p = format!("{d}/principals");
    let arn = json!({"principal_arn": "arn:aws:iam::111122223333:role/Deployer"});
    call!(M::POST, "/api/v1/users/{user_id}/principals", p, Some(&admin), Some(arn.clone()), 201);
    call!(M::POST, "/api/v1/users/{user_id}/principals", p, Some(&admin), Some(arn), 409);
    // Tokens.
    call!(M::GET, "/api/v1/tokens", "/api/v1/tokens", Some(&alice), None, 200);
    call!(M::GET, "/api/v1/tokens", "/api/v1/tokens?user=*", Some(&admin), None, 200);
    call!(M::GET, "/api/v1/tokens", "/api/v1/tokens?nope=1", Some(&alice), None, 400);
    let t = call!(
        M::POST,
        "/api/v1/tokens",
        "/api/v1/tokens",
        Some(&alice),
        Some(json!({"name": "laptop", "expires_in_days": 30})),
        201
    );
    let hash = t["hash"].as_str().unwrap().to_string();
    call!(M::DELETE, "/api/v1/tokens/{hash}", format!("/api/v1/tokens/{hash}"), Some(&alice), None, 204);
    call!(M::DELETE, "/api/v1/tokens/{hash}", format!("/api/v1/tokens/{hash}"), Some(&alice), None, 409);
    // Requests through their lifecycle.
    let body = role_request("111122223333", 2, read_policy());
    call!(M::POST, "/api/v1/requests/preview", "/api/v1/requests/preview", Some(&alice), Some(body.clone()), 200);
    // A task intent: the preview drafts the policy with the writer; only the drafted spec
    // (with its policy) can be submitted, so nothing is stored unconfirmed.
    let mut intent = body.clone();
    intent["spec"].as_object_mut().unwrap().remove("policy");
    intent["spec"]["task_intent"] = json!({"s3": {"read": ["arn:aws:s3:::cfg/*"]}});
    let pre = "/api/v1/requests/preview";
    let v = call!(M::POST, pre, pre, Some(&alice), Some(intent.clone()), 200);
    assert_eq!(v["draft"]["spec"]["policy"], v["draft"]["policy"]);
    assert_eq!(v["draft"]["policy"]["Statement"][0]["Resource"], json!(["arn:aws:s3:::cfg/*"]));
    assert!(v["draft"]["spec"].get("task_intent").is_none() && v["review"]["score"].is_number());
    call!(M::POST, "/api/v1/requests", "/api/v1/requests", Some(&alice), Some(intent.clone()), 422);
    intent["spec"]["task_intent"] = json!({"dynamodb": {"write": []}});
    let v = call!(M::POST, pre, pre, Some(&alice), Some(intent), 422);
    assert!(v.to_string().contains("spec.task_intent.dynamodb.write"), "{v}");
    let v = call!(M::POST, "/api/v1/requests", "/api/v1/requests", Some(&alice), Some(body.clone()), 201);
    let id = v["request"]["metadata"]["id"].as_str().unwrap().to_string();
    call!(M::POST, "/api/v1/requests", "/api/v1/requests", Some(&alice), Some(json!({"spec": {}})), 422);
    call!(M::GET, "/api/v1/requests", "/api/v1/requests?state=pending&limit=5", Some(&bob), None, 200);
    call!(M::GET, "/api/v1/requests", "/api/v1/requests?limit=0", Some(&bob), None, 422);
    let r = |suffix: &str| format!("/api/v1/requests/{id}{suffix}");
    call!(M::GET, "/api/v1/requests/{id}", r(""), Some(&alice), None, 200);
    call!(M::GET, "/api/v1/requests/{id}", "/api/v1/requests/req-nope", Some(&alice), None, 404);
    let mut edit = body.clone();
    edit["version"] = json!(1);
    call!(M::PATCH, "/api/v1/requests/{id}", r(""), Some(&alice), Some(edit.clone()), 200);
    call!(M::PATCH, "/api/v1/requests/{id}", r(""), Some(&alice), Some(edit), 409);
    call!(
        M::POST,
        "/api/v1/requests/{id}/comments",
        r("/comments"),
        Some(&bob),
        Some(json!({"body": "which bucket?"})),
        201
    );
    call!(M::GET, "/api/v1/requests/{id}/comments", r("/comments"), Some(&alice), None, 200);
    call!(
        M::POST,
        "/api/v1/requests/{id}/request-changes",
        r("/request-changes"),
        Some(&bob),
        Some(json!({"comment": "narrow it"})),
        200
    );
    let mut again = body.clone();
    again["spec"]["description"] = json!("read the deployment configuration bucket, narrowed");
    call!(M::PATCH, "/api/v1/requests/{id}", r(""), Some(&alice), Some(again), 200);
    call!(M::POST, "/api/v1/requests/{id}/approve", r("/approve"), Some(&alice), None, 403);
    call!(M::POST, "/api/v1/requests/{id}/approve", r("/approve"), Some(&bob), Some(json!({"comment": "ok"})), 200);
    call!(M::GET, "/api/v1/requests/{id}/assume", r("/assume"), Some(&alice), None, 200);
    call!(M::GET, "/api/v1/requests/{id}/provisioning-calls", r("/provisioning-calls"), Some(&alice), None, 200);
    call!(
        M::POST,
        "/api/v1/requests/{id}/extend",
        r("/extend"),
        Some(&alice),
        Some(json!({"hours": 1, "reason": "the migration still runs"})),
        200
    );
    call!(M::POST, "/api/v1/requests/{id}/reject", r("/reject"), Some(&bob), None, 200);
    call!(M::GET, "/api/v1/requests/{id}/history", r("/history"), Some(&alice), None, 200);
    call!(M::POST, "/api/v1/requests/{id}/cancel", r("/cancel"), Some(&alice), None, 409);
    call!(M::POST, "/api/v1/requests/{id}/retry-provisioning", r("/retry-provisioning"), Some(&admin), None, 409);
    call!(M::POST, "/api/v1/requests/{id}/revoke", r("/revoke"), Some(&alice), Some(json!({"reason": "done"})), 200);
    call!(M::GET, "/api/v1/requests/{id}/assume", r("/assume"), Some(&alice), None, 409);
    let mut bg = role_request("111122223333", 1, read_policy());
    bg["spec"]["break_glass"] = json!({"reason": "production is down, need to look"});
    let v = call!(M::POST, "/api/v1/requests", "/api/v1/requests", Some(&alice), Some(bg), 201);
    let bg_id = v["request"]["metadata"]["id"].as_str().unwrap().to_string();
    call!(M::GET, "/api/v1/requests", "/api/v1/requests", Some(&alice), None, 200);
    call!(
        M::POST,
        "/api/v1/requests/{id}/review",
        format!("/api/v1/requests/{bg_id}/review"),
        Some(&bob),
        Some(json!({"comment": "checked"})),
        200
    );
    let v = call!(M::POST, "/api/v1/requests", "/api/v1/requests", Some(&alice), Some(body.clone()), 201);
    let id2 = v["request"]["metadata"]["id"].as_str().unwrap().to_string();
    call!(
        M::POST,
        "/api/v1/requests/{id}/cancel",
        format!("/api/v1/requests/{id2}/cancel"),
        Some(&alice),
        Some(json!({"reason": "not needed"})),
        200
    );
    // Bodies: wrong media type, malformed JSON, unknown field, NUL.
    let req = Request::post(r("/comments"))
        .header(header::AUTHORIZATION, format!("Bearer {alice}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(app.raw(req).await.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // An optional body: none at all is no options; whitespace alone is not JSON (schemathesis
    // sent a tab). The body is read before the request's state is looked at.
    let cancel = |body: &'static str| {
        Request::post(format!("/api/v1/requests/{id2}/cancel"))
            .header(header::AUTHORIZATION, format!("Bearer {alice}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let resp = app.raw(cancel("\t")).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_slice(&to_bytes(resp.into_body(), 1 << 20).await.unwrap()).unwrap();
    assert!(body.to_string().contains("the body is only whitespace"), "{body}");
    // No body: read as no options, then refused for the state (already cancelled above).
    assert_eq!(app.raw(cancel("")).await.status(), StatusCode::CONFLICT);
    call!(
        M::POST,
        "/api/v1/requests/{id}/comments",
        r("/comments"),
        Some(&alice),
        Some(json!({"body": "x", "extra": 1})),
        422
    );
    call!(
        M::POST,
        "/api/v1/requests/{id}/comments",
        r("/comments"),
        Some(&alice),
        Some(json!({"body": "nul \u{0} here"})),
        422
    );
    // Approval policy.
    call!(M::GET, "/api/v1/approval-policy", "/api/v1/approval-policy", Some(&alice), None, 200);
    let policy = json!(jit_service::approval::ApprovalPolicy::default());
    let v = call!(M::PUT, "/api/v1/approval-policy", "/api/v1/approval-policy", Some(&admin), Some(policy), 202);
    let version = v["proposal"]["version"].as_i64().unwrap();
    let pv = |a: &str| format!("/api/v1/approval-policy/versions/{version}/{a}");
    call!(M::POST, "/api/v1/approval-policy/versions/{version}/approve", pv("approve"), Some(&admin), None, 403);
    call!(M::POST, "/api/v1/approval-policy/versions/{version}/approve", pv("approve"), Some(&admin2), None, 200);
    call!(M::POST, "/api/v1/approval-policy/versions/{version}/reject", pv("reject"), Some(&admin2), None, 409);
    call!(
        M::POST,
        "/api/v1/approval-policy/versions/{version}/reject",
        "/api/v1/approval-policy/versions/99/reject",
        Some(&admin2),
        None,
        404
    );
    call!(
        M::POST,
        "/api/v1/approval-policy/versions/{version}/reject",
        "/api/v1/approval-policy/versions/x/reject",
        Some(&admin2),
        None,
        400
    );
    call!(
        M::POST,
        "/api/v1/approval-policy/versions/{version}/reject",
        "/api/v1/approval-policy/versions/99999999999999999999/reject",
        Some(&admin2),
        None,
        400
    );
    call!(M::GET, "/api/v1/approval-policy/versions", "/api/v1/approval-policy/versions", Some(&admin), None, 200);
    // Audit and webhooks.
    call!(M::GET, "/api/v1/audit/verify", "/api/v1/audit/verify", Some(&admin), None, 200);
    call!(
        M::GET,
        "/api/v1/reports/audit-log",
        "/api/v1/reports/audit-log?action=request.&limit=50",
        Some(&admin),
        None,
        200
    );
    call!(M::GET, "/api/v1/reports/audit-log", "/api/v1/reports/audit-log?format=jsonl", Some(&admin), None, 200);
    call!(M::GET, "/api/v1/reports/audit-log", "/api/v1/reports/audit-log?since=soon", Some(&admin), None, 422);
    let hook = json!({"url": "http://127.0.0.1:9/hook", "events": ["*"], "format": "slack"});
    let v = call!(M::POST, "/api/v1/webhooks", "/api/v1/webhooks", Some(&admin), Some(hook), 201);
    let wh = v["id"].as_str().unwrap().to_string();
    call!(M::GET, "/api/v1/webhooks", "/api/v1/webhooks", Some(&admin), None, 200);
    call!(M::GET, "/api/v1/webhooks/deliveries", "/api/v1/webhooks/deliveries?limit=10", Some(&admin), None, 200);
    call!(M::DELETE, "/api/v1/webhooks/{id}", format!("/api/v1/webhooks/{wh}"), Some(&admin), None, 204);
    call!(M::DELETE, "/api/v1/webhooks/{id}", format!("/api/v1/webhooks/{wh}"), Some(&admin), None, 404);
    // Reports, both forms, and their refusals.
    for kind in ["grants", "activity", "approvals", "risk-distribution", "users"] {
        let route = format!("/api/v1/reports/{kind}");
        call!(M::GET, route.as_str(), route.clone(), Some(&admin), None, 200);
        call!(
            M::GET,
            route.as_str(),
            format!("{route}?format=csv&since=2026-01-01T00:00:00Z"),
            Some(&admin),
            None,
            200
        );
        call!(M::GET, route.as_str(), format!("{route}?account=1"), Some(&admin), None, 422);
        call!(M::GET, route.as_str(), format!("{route}?bogus=1"), Some(&admin), None, 400);
        call!(M::GET, route.as_str(), route.clone(), Some(&bob), None, 403);
    }
    // Users last (deleting one ends its tokens).
    call!(M::DELETE, "/api/v1/users/{user_id}", d, Some(&admin), None, 204);
    call!(M::DELETE, "/api/v1/users/{user_id}", d, Some(&admin), None, 409);
    call!(M::DELETE, "/api/v1/users/{user_id}", "/api/v1/users/email:admin@example.com", Some(&admin2), None, 204);
    call!(M::DELETE, "/api/v1/users/{user_id}", "/api/v1/users/email:admin2@example.com", Some(&admin2), None, 409);
    // An unknown route and a method a route does not have are JSON errors too.
    let (st, v) = app.call(Method::GET, "/api/v1/nope", Some(&admin2), None).await;
    assert_eq!((st, v["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    let (st, v) = app.call(Method::PUT, "/api/v1/me", Some(&admin2), None).await;
    assert_eq!((st, v["code"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));
    let (st, v) = app.call(Method::GET, "/api/v1/requests/a%00b", Some(&admin2), None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(app.verify_audit().await.ok);
});

both!(documented_examples_are_accepted, |app| async move {
    let doc = docs::openapi();
    let alice = app.user("email:alice@example.com", Role::Requester, &[]).await;
    let id = app.submit(&alice, role_request("111122223333", 1, read_policy())).await;
    app.user("email:carol@example.com", Role::Requester, &[]).await;
    let mut tried = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let uri = path
                .replace("{id}", &id)
                .replace("{user_id}", "email:carol@example.com")
                .replace("{hash}", "sha256:00")
                .replace("{version}", "1");
            // Query examples: each documented example value, all at once.
            let mut query = Vec::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "query" {
                    if let Some(e) = p["example"].as_str() {
                        query.push(format!("{}={}", p["name"].as_str().unwrap(), e));
                    }
                }
            }
            let uri = if query.is_empty() { uri } else { format!("{uri}?{}", query.join("&")) };
            let schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .map(|r| &doc["components"]["schemas"][r.rsplit('/').next().unwrap()]);
            let example = schema.and_then(|s| s["examples"].get(0)).cloned();
            if query.is_empty() && example.is_none() {
                continue;
            }
            if path == "/api/v1/users/{user_id}" && method == "patch" {
                continue; // (disabling carol is fine, but keep her for the other examples)
            }
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (st, v) = app.call(m, &uri, Some(&app.admin), example.clone()).await;
            tried += 1;
            assert!(
                ![StatusCode::BAD_REQUEST, StatusCode::UNSUPPORTED_MEDIA_TYPE, StatusCode::UNPROCESSABLE_ENTITY]
                    .contains(&st),
                "{method} {uri} with {example:?}: {st} {v}"
            );
        }
    }
    assert!(tried >= 15, "only {tried} operations have examples");
});
