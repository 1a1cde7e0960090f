//! `POST /api/v1/policy/write` and `/api/v1/policy/from-cloudtrail`: the CLI's `--format json`
//! byte for byte (the CLI run in process, its pretty JSON minified), and every error in the API's
//! shape: 400 malformed JSON, 413 over each route's limit, 415, 422 with the core's message.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use risk_cli::{run_with, Io};
use scorer_api::{app, AppState, Config};
use serde_json::{json, Value};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use tower::ServiceExt;

fn router(tweak: impl FnOnce(&mut Config)) -> Router {
    let mut c = Config { log_requests: false, rate_per_minute: 0, ..Config::default() };
    tweak(&mut c);
    app(AppState::new(c))
}

async fn send(app: &Router, uri: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Vec<u8>) {
    let req = Request::post(uri).header(header::CONTENT_TYPE, content_type).body(Body::from(body)).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    (status, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

async fn post(app: &Router, uri: &str, body: impl Into<Vec<u8>>) -> (StatusCode, Vec<u8>) {
    send(app, uri, "application/json", body.into()).await
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// The error object, after checking the status and the code.
fn error(got: &(StatusCode, Vec<u8>), status: StatusCode, code: &str) -> Value {
    assert_eq!(got.0, status, "{}", String::from_utf8_lossy(&got.1));
    let v = json(&got.1);
    assert_eq!(v["error"]["code"], code, "{v}");
    v["error"].clone()
}

/// The CLI in process: exit code, stdout, stderr.
fn cli(args: &[&str]) -> (i32, String, String) {
    let argv: Vec<OsString> =
        std::iter::once("iam-risk-score").chain(args.iter().copied()).map(OsString::from).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut stdin: &[u8] = b"";
    let code = run_with(argv, &mut Io { stdout: &mut out, stderr: &mut err, stdin: &mut stdin, stdout_is_tty: false });
    (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

/// Pretty JSON without the whitespace between tokens: what serde_json writes compactly.
fn minify(pretty: &str) -> Vec<u8> {
    let (mut out, mut in_string, mut escaped) = (Vec::new(), false, false);
    for b in pretty.trim_end().bytes() {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
            out.push(b);
        } else if !b.is_ascii_whitespace() {
            out.push(b);
        }
    }
    out
}

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../risk-core/tests/fixtures").join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.ends_with(".json") && !name.ends_with(".policy_sentry.json")
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn write_equals_the_cli_on_policy_sentry_templates() {
    let app = router(|_| {});
    let templates = fixtures("authoring");
    assert!(templates.len() >= 14, "{templates:?}");
    for path in templates {
        let text = std::fs::read(&path).unwrap();
        let got = post(&app, "/api/v1/policy/write", text.clone()).await;
        let (code, stdout, stderr) = cli(&["write-policy", "--template", path.to_str().unwrap(), "--format", "json"]);
        if code != 0 {
            // The same refusal: a 422 with the writer's message.
            let e = error(&got, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
            assert!(stderr.contains(e["message"].as_str().unwrap()), "{}: {stderr} vs {e}", path.display());
            continue;
        }
        assert_eq!(got.0, StatusCode::OK, "{}: {}", path.display(), String::from_utf8_lossy(&got.1));
        assert_eq!(got.1, minify(&stdout), "{}: bytes differ from the CLI", path.display());
        // And from the WASM surface's plain-Rust layer.
        let wasm = risk_wasm::api::write_policy(std::str::from_utf8(&text).unwrap()).unwrap();
        assert_eq!(got.1, wasm.as_bytes(), "{}: bytes differ from WASM", path.display());
    }
}

#[tokio::test]
async fn write_answers_warnings_and_refuses_bad_templates_with_422() {
    let app = router(|_| {});
    let got = post(&app, "/api/v1/policy/write", r#"{"mode": "actions", "actions": ["s3:GetObject"]}"#).await;
    assert_eq!(got.0, StatusCode::OK);
    let v = json(&got.1);
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["policy", "report", "warnings"]);
    assert!(v["warnings"][0].as_str().unwrap().starts_with("`actions`: resources are the actions' ARN formats"));

    let got = post(&app, "/api/v1/policy/write", r#"{"read": ["arn:aws:s3:::reports/*"]}"#).await;
    let keys: Vec<String> = json(&got.1).as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["policy", "report"]);

    let bad_arn = "arn:aws:s3:us-east-1:123456789012:nothing/x";
    let got = post(&app, "/api/v1/policy/write", json!({"read": [bad_arn]}).to_string()).await;
    let e = error(&got, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let (code, _, stderr) = cli(&["write-policy", "--read", bad_arn]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr.lines().next().unwrap(),
        format!("error: {}", e["message"].as_str().unwrap().lines().next().unwrap())
    );
    assert_eq!(e["details"], json!([{"path": "", "message": e["message"]}]));

    for (body, want) in [
        (r#"{"reed": []}"#, "unknown template key `reed`"),
        (r#"{}"#, "the template asks for nothing"),
        (r#"[]"#, "a template must be an object"),
        (r#"{"read": 5}"#, "`read` must be a list of strings"),
        (r#"{"mode": "crud", "actions": ["s3:GetObject"]}"#, "`actions` belongs to `mode: actions`"),
    ] {
        let e = error(
            &post(&app, "/api/v1/policy/write", body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        );
        assert!(e["message"].as_str().unwrap().starts_with(want), "{body}: {e}");
    }
    error(&post(&app, "/api/v1/policy/write", r#"{"read": ["#).await, StatusCode::BAD_REQUEST, "invalid_json");
    error(
        &post(&app, "/api/v1/policy/write", r#"{"read": [], "read": []}"#).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    error(
        &send(&app, "/api/v1/policy/write", "text/plain", b"{}".to_vec()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
}

#[tokio::test]
async fn from_cloudtrail_equals_the_cli_on_the_fixtures() {
    let app = router(|_| {});
    let files = fixtures("cloudtrail");
    assert!(files.len() >= 8, "{files:?}");
    for path in files {
        let text = std::fs::read(&path).unwrap();
        for denied in [false, true] {
            let uri = if denied {
                "/api/v1/policy/from-cloudtrail?include_denied=true"
            } else {
                "/api/v1/policy/from-cloudtrail"
            };
            let got = post(&app, uri, text.clone()).await;
            assert_eq!(got.0, StatusCode::OK, "{}: {}", path.display(), String::from_utf8_lossy(&got.1));
            let mut args = vec!["from-cloudtrail", path.to_str().unwrap(), "--format", "json"];
            if denied {
                args.push("--include-denied");
            }
            let (code, stdout, stderr) = cli(&args);
            assert_eq!(code, 0, "{stderr}");
            assert_eq!(
                got.1,
                minify(&stdout),
                "{} (include_denied={denied}): bytes differ from the CLI",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn from_cloudtrail_errors() {
    let app = router(|_| {});
    let route = "/api/v1/policy/from-cloudtrail";
    let e = error(&post(&app, route, r#"{"Items": []}"#).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(e["message"].as_str().unwrap().starts_with("not CloudTrail: expected `Records`"), "{e}");
    let e =
        error(&post(&app, route, r#"{"Records": [5]}"#).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(e["details"][0]["path"].as_str().unwrap().starts_with("Records[0]"), "{e}");
    error(&post(&app, route, r#"{"Records": ["#).await, StatusCode::BAD_REQUEST, "invalid_json");
    let e = error(
        &post(&app, &format!("{route}?include_denied=yes"), "[]").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(e["details"][0]["path"], "include_denied");
    assert_eq!(post(&app, &format!("{route}?include_denied=false"), "[]").await.0, StatusCode::OK);
    // A misspelt or repeated option is refused, not ignored (it would silently change the answer).
    let e = error(
        &post(&app, &format!("{route}?include-denied=true"), "[]").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(e["details"][0]["path"], "include-denied", "{e}");
    assert!(e["message"].as_str().unwrap().contains("this route takes only `include_denied`"), "{e}");
    let e = error(
        &post(&app, &format!("{route}?include_denied=true&include_denied=false"), "[]").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(e["details"][0]["path"], "include_denied", "{e}");
}

/// A request body fed by the test, chunk by chunk, so a request can be held mid-body.
struct Chunks(tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>);

impl futures_core::Stream for Chunks {
    type Item = Result<Vec<u8>, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

#[tokio::test]
async fn from_cloudtrail_bodies_are_read_a_few_at_a_time() {
    // One permit: while a first upload is still arriving, a second one is not even read.
    let app = router(|c| c.events_concurrency = 1);
    let route = "/api/v1/policy/from-cloudtrail";
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let first = Request::post(route)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(Chunks(rx)))
        .unwrap();
    let first = tokio::spawn(app.clone().oneshot(first));
    tx.send(Ok(br#"{"Records": [{"eventSource": "s3.amazonaws.com", "#.to_vec())).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let second = {
        let app = app.clone();
        tokio::spawn(async move { post(&app, route, "[]").await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "the second request ran while the first held the only permit");
    tx.send(Ok(br#""eventName": "ListBuckets", "eventType": "AwsApiCall"}]}"#.to_vec())).await.unwrap();
    drop(tx);
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.await.unwrap().0, StatusCode::OK, "the second runs once the first is done");
    assert_eq!(Config::default().events_concurrency, 2);
}

#[tokio::test]
async fn each_route_has_its_body_limit() {
    // The template route keeps the global limit; CloudTrail has its own, larger one.
    let app = router(|c| {
        c.body_limit = 1024;
        c.events_body_limit = 64 * 1024;
    });
    let mut records = Vec::new();
    while serde_json::to_string(&records).unwrap().len() < 8 * 1024 {
        records.push(json!({"eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "eventType": "AwsApiCall"}));
    }
    let events = json!({ "Records": records }).to_string();
    assert_eq!(post(&app, "/api/v1/policy/from-cloudtrail", events.clone()).await.0, StatusCode::OK);
    // The same size on the template route (or the score route) is too large.
    let arns: Vec<String> = (0..200).map(|i| format!("arn:aws:s3:::bucket-{i}")).collect();
    let e = error(
        &post(&app, "/api/v1/policy/write", json!({ "list": arns }).to_string()).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    assert_eq!(e["message"], "the request body is larger than 1024 bytes");
    let mut big = events.into_bytes();
    big.resize(70 * 1024, b' ');
    let e = error(
        &post(&app, "/api/v1/policy/from-cloudtrail", big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    assert_eq!(e["message"], format!("the request body is larger than {} bytes", 64 * 1024));
    assert_eq!(Config::default().events_body_limit, 32 * 1024 * 1024);
}

/// A scratch directory for the CLI's input files (no tempfile crate here), one per test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scorer-api-narrow-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A narrowing case: its name, the ARNs, the access levels and the used actions.
type NarrowCase = (&'static str, Vec<&'static str>, Vec<&'static str>, Option<Value>);

const NARROW_POLICY: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Sid": "App", "Effect": "Allow", "Action": ["s3:*", "dynamodb:GetItem"], "Resource": "*"},
  {"Sid": "Queue", "Effect": "Allow", "Action": "sqs:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
  {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}
]}"#;

#[tokio::test]
async fn narrow_equals_the_cli() {
    let app = router(|_| {});
    let dir = scratch("equals");
    let policy_path = dir.join("policy.json");
    std::fs::write(&policy_path, NARROW_POLICY).unwrap();
    let policy: Value = serde_json::from_str(NARROW_POLICY).unwrap();
    let arns = ["arn:aws:s3:::reports/*", "arn:aws:s3:::reports"];
    let used = json!(["s3:GetObject", "s3:ListBucket", "s3:ListAllMyBuckets", "dynamodb:GetItem", "sqs:SendMessage"]);
    let cloudtrail = fixtures("cloudtrail").into_iter().find(|p| p.ends_with("s3-log-file.json")).unwrap();
    let (_, activity, _) = cli(&["from-cloudtrail", cloudtrail.to_str().unwrap(), "--format", "json"]);
    let activity = json(activity.as_bytes());
    let cases: Vec<NarrowCase> = vec![
        ("resources", arns.to_vec(), vec![], None),
        ("used list", arns.to_vec(), vec![], Some(used.clone())),
        (
            "used policy",
            vec![],
            vec![],
            Some(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": used, "Resource": "*"}]})),
        ),
        ("from-cloudtrail answer", arns.to_vec(), vec![], Some(activity)),
        ("levels", arns.to_vec(), vec!["read", "List"], None),
        ("levels and used", vec![], vec!["permissions-management", "read"], Some(used.clone())),
        ("nothing known", vec![], vec![], None),
    ];
    for (name, resources, levels, used) in cases {
        let mut args =
            vec!["narrow".to_string(), policy_path.to_string_lossy().into_owned(), "--format".into(), "json".into()];
        if !resources.is_empty() {
            args.push("--resource".into());
            args.extend(resources.iter().map(|s| s.to_string()));
        }
        for l in &levels {
            args.extend(["--access-level".to_string(), l.to_string()]);
        }
        let mut body = json!({"policy": policy, "resources": resources});
        if !levels.is_empty() {
            body["access_levels"] = json!(levels);
        }
        if let Some(u) = &used {
            let p = dir.join("used.json");
            std::fs::write(&p, u.to_string()).unwrap();
            args.extend(["--used-actions".to_string(), p.to_string_lossy().into_owned()]);
            body["used_actions"] = u.clone();
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, stderr) = cli(&argv);
        assert_eq!(code, 0, "{name}: {stderr}");
        let got = post(&app, "/api/v1/policy/narrow", body.to_string()).await;
        assert_eq!(got.0, StatusCode::OK, "{name}: {}", String::from_utf8_lossy(&got.1));
        assert_eq!(got.1, minify(&stdout), "{name}: bytes differ from the CLI");
    }
    let raw = post(&app, "/api/v1/policy/narrow", json!({"policy": policy, "resources": arns}).to_string()).await.1;
    let text = String::from_utf8(raw.clone()).unwrap();
    let at: Vec<usize> = ["policy", "before", "after", "diff", "questions", "changes"]
        .iter()
        .map(|k| text.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(text.starts_with("{\"policy\":") && at.windows(2).all(|w| w[0] < w[1]), "key order: {at:?}");
    let v = json(&raw);
    // Explicit nulls mean "not given".
    let nulls = json!({"policy": policy, "resources": arns, "access_levels": null, "used_actions": null});
    assert_eq!(json(&post(&app, "/api/v1/policy/narrow", nulls.to_string()).await.1), v);
}

#[tokio::test]
async fn narrow_errors() {
    let app = router(|_| {});
    let route = "/api/v1/policy/narrow";
    let policy: Value = serde_json::from_str(NARROW_POLICY).unwrap();
    let dir = scratch("errors");
    let policy_path = dir.join("policy.json");
    std::fs::write(&policy_path, NARROW_POLICY).unwrap();
    let policy_arg = policy_path.to_str().unwrap();

    // The core's refusals: a 422 with the CLI's message, one detail at path "".
    let bad_arn = "arn:aws:s3:us-east-1:123456789012:nothing/x";
    let e = error(
        &post(&app, route, json!({"policy": policy, "resources": [bad_arn]}).to_string()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let (code, _, stderr) = cli(&["narrow", policy_arg, "--resource", bad_arn]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr.lines().next().unwrap(),
        format!("error: {}", e["message"].as_str().unwrap().lines().next().unwrap())
    );
    assert_eq!(e["details"], json!([{"path": "", "message": e["message"]}]));
    let e = error(
        &post(&app, route, json!({"policy": policy, "resources": [], "access_levels": ["admin"]}).to_string()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let (code, _, stderr) = cli(&["narrow", policy_arg, "--access-level", "admin"]);
    assert_eq!(code, 2);
    assert!(stderr.contains(e["message"].as_str().unwrap()), "{stderr}");
    let used = dir.join("used.json");
    std::fs::write(&used, "[]").unwrap();
    let e = error(
        &post(&app, route, json!({"policy": policy, "resources": [], "used_actions": []}).to_string()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    let (code, _, stderr) = cli(&["narrow", policy_arg, "--used-actions", used.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(stderr, format!("error: {}\n", e["message"].as_str().unwrap()));
    for (body, want) in [
        (json!({"policy": policy, "resources": [], "used_actions": [3]}), "used actions: item 0 is not a string"),
        (json!({"policy": {"Statement": 3}, "resources": []}), "policy: "),
    ] {
        let e =
            error(&post(&app, route, body.to_string()).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(e["message"].as_str().unwrap().starts_with(want), "{body}: {e}");
    }

    // The envelope's shape: one 422 detail per field.
    for (body, paths) in [
        (json!([]), vec![""]),
        (json!({"resources": []}), vec!["policy"]),
        (json!({"policy": policy}), vec!["resources"]),
        (json!({"policy": "{}", "resources": "arn:aws:s3:::b"}), vec!["resources", "policy"]),
        (json!({"policy": policy, "resources": [1], "access_levels": "read"}), vec!["resources[0]", "access_levels"]),
        (json!({"policy": policy, "resources": [], "used_actions": "s3:GetObject"}), vec!["used_actions"]),
        (json!({"policy": policy, "resources": [], "usedActions": []}), vec!["usedActions"]),
    ] {
        let e =
            error(&post(&app, route, body.to_string()).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let got: Vec<&str> = e["details"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
        assert_eq!(got, paths, "{body}: {e}");
    }

    error(&post(&app, route, r#"{"policy": {"#).await, StatusCode::BAD_REQUEST, "invalid_json");
    error(&post(&app, route, r#"{"resources": [], "resources": []}"#).await, StatusCode::BAD_REQUEST, "invalid_json");
    error(
        &send(&app, route, "text/plain", b"{}".to_vec()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let small = router(|c| c.body_limit = 1024);
    let arns: Vec<String> = (0..200).map(|i| format!("arn:aws:s3:::bucket-{i}")).collect();
    let e = error(
        &post(&small, route, json!({"policy": policy, "resources": arns}).to_string()).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    assert_eq!(e["message"], "the request body is larger than 1024 bytes");
}
