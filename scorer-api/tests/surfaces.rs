//! Cross-surface parity of options and of JSON errors: the same input gives the same score, or
//! the same error message, through the CLI, the WASM API layer and the HTTP API (Python has its
//! twin in risk-py/tests/test_surfaces.py). All three call risk-core's options and json modules.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use scorer_api::{app, AppState, Config};
use serde_json::{json, Value};
use tower::ServiceExt;

/// Reads of every DynamoDB table: CX002 (organisation-sensitive service) applies when the
/// options name `dynamodb`, however it is spelled.
const DYNAMO: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:Get*","Resource":"*"}]}"#;
/// `sns:*` on everything: SW001 scores a service wildcard 7, or 8 when the service is sensitive.
/// Before the options were normalised once, `--sensitive-service " sns"` gave 7 in the CLI
/// (untrimmed, so not matched by SW001) and 8 through the API (which trimmed).
const SNS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sns:*","Resource":"*"}]}"#;

fn router() -> Router {
    app(AppState::new(Config { log_requests: false, rate_per_minute: 0, ..Config::default() }))
}

async fn api(body: String) -> (StatusCode, Value) {
    let req = Request::post("/api/v1/score").header(header::CONTENT_TYPE, "application/json").body(Body::from(body));
    let res = router().oneshot(req.unwrap()).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

struct Cli {
    code: i32,
    stdout: String,
    stderr: String,
}

fn cli(args: &[&str], stdin: &str) -> Cli {
    let mut argv: Vec<std::ffi::OsString> = vec!["iam-risk-score".into()];
    argv.extend(args.iter().map(Into::into));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input = stdin.as_bytes();
    let code = risk_cli::run_with(
        argv,
        &mut risk_cli::Io { stdout: &mut out, stderr: &mut err, stdin: &mut input, stdout_is_tty: false },
    );
    Cli { code, stdout: String::from_utf8(out).unwrap(), stderr: String::from_utf8(err).unwrap() }
}

/// One options case, written in each surface's syntax.
struct Case {
    name: &'static str,
    policy: &'static str,
    flags: Vec<&'static str>,
    /// The HTTP API's fields (snake_case).
    fields: Value,
    /// The JavaScript `options` object (camelCase).
    js: Value,
    /// `Ok((score, rules that must be among the findings; CX002 only if listed))` or `Err((path as the core names it, message))`.
    expect: Result<(u8, &'static [&'static str]), (&'static str, &'static str)>,
}

fn cases() -> Vec<Case> {
    let long: &'static str = Box::leak("d".repeat(501).into_boxed_str());
    vec![
        Case { name: "no options", policy: SNS, flags: vec![], fields: json!({}), js: json!({}), expect: Ok((7, &[])) },
        Case {
            name: "a sensitive service with a leading space",
            policy: SNS,
            flags: vec!["--sensitive-service", " sns"],
            fields: json!({"extra_sensitive_services": [" sns"]}),
            js: json!({"extraSensitiveServices": [" sns"]}),
            expect: Ok((8, &["CX002"])),
        },
        Case {
            name: "\" dynamodb\"",
            policy: DYNAMO,
            flags: vec!["--sensitive-service", " dynamodb"],
            fields: json!({"extra_sensitive_services": [" dynamodb"]}),
            js: json!({"extraSensitiveServices": [" dynamodb"]}),
            expect: Ok((6, &["CX002", "DX001"])),
        },
        Case {
            name: "the same service in capitals, via the API's older field name",
            policy: DYNAMO,
            flags: vec!["--sensitive-service", "DynamoDB"],
            fields: json!({"additional_sensitive_services": ["DynamoDB"]}),
            js: json!({"extra_sensitive_services": ["DynamoDB"]}),
            expect: Ok((6, &["CX002", "DX001"])),
        },
        Case {
            name: "an unknown service",
            policy: SNS,
            flags: vec!["--sensitive-service", "nosuch"],
            fields: json!({"extra_sensitive_services": ["nosuch"]}),
            js: json!({"extraSensitiveServices": ["nosuch"]}),
            expect: Err((
                "extra_sensitive_services[0]",
                "names an unknown service `nosuch`; use a service prefix such as `dynamodb`",
            )),
        },
        Case {
            name: "an out-of-range duration",
            policy: SNS,
            flags: vec!["--duration-hours", "0"],
            fields: json!({"duration_hours": 0}),
            js: json!({"durationHours": 0}),
            expect: Err(("duration_hours", "must be a whole number of hours between 1 and 8760, got `0`")),
        },
        Case {
            name: "a bad access type",
            policy: SNS,
            flags: vec!["--access-type", "sometimes"],
            fields: json!({"access_type": "sometimes"}),
            js: json!({"accessType": "sometimes"}),
            expect: Err(("access_type", r#"must be "read-only" or "read-write", got `sometimes`"#)),
        },
        Case {
            name: "a bad policy type",
            policy: SNS,
            flags: vec!["--policy-type", "group"],
            fields: json!({"policy_type": "group"}),
            js: json!({"policyType": "group"}),
            expect: Err(("policy_type", r#"must be "identity", "resource" or "trust", got `group`"#)),
        },
        Case {
            name: "a description that is too long",
            policy: SNS,
            flags: vec!["--description", long],
            fields: json!({"description": "d".repeat(501)}),
            js: json!({"description": "d".repeat(501)}),
            expect: Err(("description", "must be at most 500 characters, got 501")),
        },
    ]
}

/// The JavaScript spelling of a core path (`extra_sensitive_services[0]` → `extraSensitiveServices[0]`).
fn camel(path: &str) -> String {
    let (base, rest) = path.split_at(path.find('[').unwrap_or(path.len()));
    let field = risk_core::options::Field::from_key(base).unwrap();
    format!("{}{rest}", field.camel_name())
}

#[tokio::test]
async fn the_same_options_give_the_same_answer_on_every_surface() {
    for case in cases() {
        let name = case.name;
        // CLI: flags, the policy on standard input.
        let mut args = vec!["--format", "json"];
        args.extend(case.flags.iter().copied());
        args.push("-");
        let c = cli(&args, case.policy);
        // WASM (its plain-Rust layer): the options object as JSON text.
        let wasm = risk_wasm::api::options_from_json(Some(&case.js.to_string()))
            .and_then(|o| risk_wasm::api::score(case.policy, &o));
        // HTTP API.
        let mut body = case.fields.clone();
        body["policy"] = serde_json::from_str(case.policy).unwrap();
        let (status, answer) = api(body.to_string()).await;
        match case.expect {
            Ok((score, rules)) => {
                let rules_of = |r: &Value| {
                    let mut v: Vec<String> = r["findings"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| f["rule"].as_str().unwrap().to_string())
                        .collect();
                    v.sort();
                    v
                };
                let mut want: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
                want.sort();
                let cli_report: Value =
                    serde_json::from_str(&c.stdout).unwrap_or_else(|e| panic!("{name}: {e}: {}", c.stderr));
                let wasm_report: Value = serde_json::from_str(&wasm.unwrap()).unwrap();
                assert_eq!(status, StatusCode::OK, "{name}: {answer}");
                for (surface, report) in [("CLI", &cli_report), ("WASM", &wasm_report), ("API", &answer)] {
                    assert_eq!(report["score"], score, "{name}: {surface}");
                    let found = rules_of(report);
                    assert!(want.iter().all(|r| found.contains(r)), "{name}: {surface}: {found:?}");
                    assert_eq!(found.contains(&"CX002".to_string()), want.contains(&"CX002".to_string()), "{name}");
                }
                // Byte for byte, apart from the API's narrative.
                assert_eq!(cli_report, wasm_report, "{name}");
            }
            Err((path, message)) => {
                assert_eq!(c.code, 2, "{name}: CLI exit code");
                assert_eq!(c.stderr.trim_end(), format!("error: {path} {message}"), "{name}: CLI");
                let f = wasm.unwrap_err();
                assert_eq!(f.problems.len(), 1, "{name}: {:?}", f.problems);
                assert_eq!(f.problems[0].path, format!("options.{}", camel(path)), "{name}: WASM");
                assert_eq!(f.problems[0].message, message, "{name}: WASM");
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {answer}");
                let details = answer["error"]["details"].as_array().unwrap();
                assert_eq!(details.len(), 1, "{name}: {answer}");
                assert_eq!(details[0]["path"], path, "{name}: API");
                assert_eq!(details[0]["message"], message, "{name}: API");
            }
        }
    }
}

/// Three JSON failures every surface that reads policy text must report identically.
fn bad_documents() -> Vec<(&'static str, String, &'static str, String)> {
    let deep = format!("{{\"Statement\": {}{}}}", "[".repeat(200), "]".repeat(200));
    vec![
        (
            "malformed",
            "{\"Version\": \"2012-10-17\",\n \"Statement\": [}".to_string(),
            "",
            "the policy is not valid JSON: expected value at line 2 column 16".to_string(),
        ),
        (
            "too deep",
            deep,
            "",
            "the policy nests more than 128 levels deep (recursion limit exceeded at line 1 column 141)".to_string(),
        ),
        (
            "duplicate key",
            "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\",\n \"Resource\": \"*\", \"Action\": \"*\"}]}"
                .to_string(),
            "Statement[0].Action",
            "has the key `Action` twice in one object, at line 1 column 61 and again at line 2 column 19; keep one \
             (JSON readers silently use the last, so the document would not say what it seems to)"
                .to_string(),
        ),
    ]
}

#[tokio::test]
async fn malformed_deep_and_ambiguous_policies_fail_alike_everywhere() {
    for (name, text, path, message) in bad_documents() {
        let full = if path.is_empty() { message.clone() } else { format!("{path} {message}") };
        // Core.
        let e = risk_core::score_json(&text, &Default::default()).unwrap_err();
        assert_eq!(e.to_string(), full, "{name}: core");
        // CLI: exit 2, the same message.
        let c = cli(&["-"], &text);
        assert_eq!(c.code, 2, "{name}: CLI");
        assert!(c.stderr.contains(&format!("error: -: {full}")), "{name}: CLI: {}", c.stderr);
        // WASM.
        let f = risk_wasm::api::score(&text, &Default::default()).unwrap_err();
        assert_eq!(f.message, full, "{name}: WASM");
        assert!(f.line.is_some(), "{name}: WASM gives the position");
        // HTTP API, with the policy as a string field: the core's message under `policy`.
        let (status, answer) = api(json!({ "policy": text }).to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_policy", "{name}");
        assert_eq!(answer["error"]["message"], format!("policy: {full}"), "{name}");
        let want_path = if path.is_empty() { "policy".to_string() } else { format!("policy.{path}") };
        assert_eq!(answer["error"]["details"][0]["path"], want_path, "{name}");
        let want = if path.is_empty() { &full } else { &message };
        assert_eq!(answer["error"]["details"][0]["message"], want.as_str(), "{name}");
    }
}

#[tokio::test]
async fn the_api_reads_its_body_strictly() {
    // A duplicate key inside a policy sent as an object: that policy's error, as for text.
    let body = "{\"policy\": {\"Version\": \"2012-10-17\", \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"*\", \"Action\": \"*\"}}}";
    let (status, answer) = api(body.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_policy");
    assert_eq!(answer["error"]["details"][0]["path"], "policy.Statement.Action");
    let m = answer["error"]["details"][0]["message"].as_str().unwrap();
    assert!(
        m.starts_with("has the key `Action` twice in one object, at line 1 column 71 and again at line 1 column 114"),
        "{m}"
    );
    // A duplicate request field.
    let body = format!("{{\"policy\": {DYNAMO}, \"access_type\": \"read-write\", \"access_type\": \"read-only\"}}");
    let (status, answer) = api(body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_json");
    let m = answer["error"]["message"].as_str().unwrap();
    assert!(m.starts_with("the request body has the key `access_type` twice in one object"), "{m}");
    assert!(m.ends_with("(at `access_type`)"), "{m}");
    // In a batch item: the path names the item.
    let body = format!(
        "{{\"items\": [{{\"policy\": {DYNAMO}}}, {{\"policy\": {{\"Version\": \"1\", \"Version\": \"2\"}}}}]}}"
    );
    let req =
        Request::post("/api/v1/score/batch").header(header::CONTENT_TYPE, "application/json").body(Body::from(body));
    let res = router().oneshot(req.unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let v: Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(v["error"]["details"][0]["path"], "items[1].policy.Version", "{v}");
    // Too deep, and malformed: the core's wording, for the body.
    let deep = format!("{{\"policy\": {}{}}}", "[".repeat(200), "]".repeat(200));
    let (status, answer) = api(deep).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer["error"]["message"],
        "the request body nests more than 128 levels deep (recursion limit exceeded at line 1 column 138)"
    );
    let (_, answer) = api("{\"policy\": [}".to_string()).await;
    assert_eq!(answer["error"]["message"], "the request body is not valid JSON: expected value at line 1 column 13");
}

/// Issue 9, defect 1: a document whose statements disagree about `Principal` is valid as no
/// policy type. Every surface refuses it with the core's message naming the statements, and
/// every surface scores it as an administrator policy when told to read it as identity.
#[tokio::test]
async fn a_mixed_principal_document_is_refused_alike_and_scored_alike_when_typed() {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"*"}]}"#;
    let core = risk_core::score_json(text, &Default::default()).unwrap_err().to_string();
    assert!(
        core.starts_with("Statement mixes statements with a `Principal` (Statement[1]) and without one (Statement[0])"),
        "{core}"
    );
    let c = cli(&["-"], text);
    assert_eq!(c.code, 2, "CLI: {}", c.stderr);
    assert!(c.stderr.contains(&core), "CLI: {}", c.stderr);
    assert_eq!(risk_wasm::api::score(text, &Default::default()).unwrap_err().message, core, "WASM");
    let (status, answer) = api(json!({ "policy": text }).to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_policy");
    assert_eq!(answer["error"]["message"], format!("policy: {core}"));

    // Told the type, every surface gives the same 10.
    let c = cli(&["-", "--policy-type", "identity", "--format", "json"], text);
    let cli_score = serde_json::from_str::<Value>(&c.stdout).expect("CLI JSON")["score"].clone();
    let options = risk_core::ScoreOptions { policy_type: Some(risk_core::PolicyType::Identity), ..Default::default() };
    let wasm: Value = serde_json::from_str(&risk_wasm::api::score(text, &options).expect("WASM scores")).unwrap();
    let (status, answer) = api(json!({ "policy": text, "policy_type": "identity" }).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(cli_score, 10, "CLI");
    assert_eq!(wasm["score"], 10, "WASM");
    assert_eq!(answer["score"], 10, "API");
}
