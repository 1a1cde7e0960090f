//! The WASM surface's Rust side, natively: options validation, error shapes, and output that
//! matches what the CLI prints (the Node parity test checks the compiled module end to end).

use risk_wasm::api::{self, Failure};
use serde_json::Value;

const PASSROLE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:PassRole","lambda:CreateFunction","lambda:InvokeFunction"],"Resource":"*"}]}"#;
const READ_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports/*"}]}"#;

fn opts(json: &str) -> Result<risk_core::ScoreOptions, Failure> {
    api::options_from_json(Some(json))
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("the API returns JSON")
}

#[test]
fn score_is_the_core_report_in_declaration_order() {
    let text = api::score(PASSROLE, &Default::default()).unwrap();
    let report = risk_core::score_json(PASSROLE, &Default::default()).unwrap();
    // The CLI serialises the struct as declared; so must every surface.
    assert_eq!(text, serde_json::to_string(&report).unwrap());
    let v = parse(&text);
    assert_eq!(v["api_version"], "v1");
    assert!(v["findings"].as_array().unwrap().iter().any(|f| f["rule"] == "PE002"));
    assert!(text.starts_with(r#"{"score":"#), "{}", &text[..40]);
    assert!(text.find(r#""tier":"#) < text.find(r#""api_version":"#));
}

#[test]
fn options_reach_the_engine() {
    let o = opts(r#"{"accessType":"read-only","durationHours":24,"description":"ci deploy","extraSensitiveServices":["lambda"],"extraHighImpactActions":["lambda:Create*"]}"#).unwrap();
    let v = parse(&api::score(PASSROLE, &o).unwrap());
    assert_eq!(v["context"]["access_type"], "read-only");
    assert_eq!(v["context"]["duration_hours"], 24);
    assert!(v["categories"].get("access-mismatch").is_some(), "{}", v["categories"]);
    assert!(v["categories"].get("org-policy").is_some(), "{}", v["categories"]);
    // snake_case (the HTTP API's spelling) is accepted too.
    let snake = opts(r#"{"access_type":"read-only","duration_hours":24}"#).unwrap();
    assert_eq!(snake.duration_hours, Some(24));
    // null and {} are "no options".
    assert!(opts("null").unwrap().access_type.is_none());
    assert!(opts("{}").unwrap().extra_sensitive_services.is_empty());
    assert!(api::options_from_json(None).is_ok());
}

#[test]
fn bad_options_name_their_path() {
    let e = opts(r#"{"durationHours":0,"accessType":"sometimes","extraSensitiveServices":["dynamodb","nosuch",3],"extraHighImpactActions":["s3:Nope*"],"colour":"red"}"#).unwrap_err();
    let paths: Vec<&str> = e.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        // In the core's field order, unknown keys last (the same order on every surface).
        [
            "options.accessType",
            "options.durationHours",
            "options.extraSensitiveServices[1]",
            "options.extraSensitiveServices[2]",
            "options.extraHighImpactActions[0]",
            "options.colour",
        ]
    );
    assert!(
        e.message.starts_with(r#"options.accessType must be "read-only" or "read-write", got `sometimes`; "#),
        "{}",
        e.message
    );
    assert!(e.message.contains("options.extraSensitiveServices[1] names an unknown service `nosuch`"), "{}", e.message);
    assert!(e.message.contains("`s3:Nope*` matches no action in the AWS catalog"), "{}", e.message);
    assert_eq!(opts("[1]").unwrap_err().message, "options must be an object, got an array");
    assert!(opts(r#"{"durationHours":8761}"#).is_err());
    assert!(opts(r#"{"durationHours":1.5}"#).is_err());
    assert_eq!(opts(r#"{"durationHours":8760}"#).unwrap().duration_hours, Some(8760));
    assert!(opts(r#"{"policyType":"trust"}"#).unwrap().policy_type.is_some());
}

#[test]
fn json_syntax_errors_carry_line_and_column() {
    let text =
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\" \"Action\": \"*\"}\n  ]\n}";
    let e = api::score(text, &Default::default()).unwrap_err();
    let core = risk_core::score_json(text, &Default::default()).unwrap_err();
    assert_eq!(e.message, core.to_string());
    assert!(e.message.starts_with("the policy is not valid JSON: "), "{}", e.message);
    assert_eq!((e.line, e.column), (Some(4), Some(24)));
    assert_eq!(e.problems.len(), 1);
    assert_eq!(e.problems[0].path, "");
}

#[test]
fn duplicate_keys_and_deep_nesting_fail_as_in_the_core() {
    let text = "{\"Version\": \"2012-10-17\",\n \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\",\n  \"Resource\": \"*\", \"Action\": \"*\"}}";
    let e = api::score(text, &Default::default()).unwrap_err();
    let core = risk_core::score_json(text, &Default::default()).unwrap_err();
    assert_eq!(e.message, core.to_string());
    assert_eq!(e.problems[0].path, "Statement.Action");
    assert!(e.problems[0].message.contains("at line 2 column 35 and again at line 3 column 20"), "{}", e.message);
    // The editor is pointed at the second occurrence.
    assert_eq!((e.line, e.column), (Some(3), Some(20)));
    let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
    let e = api::score(&deep, &Default::default()).unwrap_err();
    assert_eq!(e.message, "the policy nests more than 128 levels deep (recursion limit exceeded at line 1 column 128)");
    assert_eq!((e.line, e.column), (Some(1), Some(128)));
    // Options are read strictly too.
    let e = opts(r#"{"durationHours": 1, "durationHours": 2}"#).unwrap_err();
    assert!(e.message.starts_with("options are not valid JSON: has the key `durationHours` twice"), "{}", e.message);
}

#[test]
fn invalid_policies_list_every_problem_with_its_path() {
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"allow","Action":"s3:GetObject","Resource":"*"},{"Effect":"Allow","Action":[1],"Resource":"*"}]}"#;
    let e = api::score(text, &Default::default()).unwrap_err();
    let core = risk_core::score_json(text, &Default::default()).unwrap_err();
    assert_eq!(e.message, core.to_string());
    assert_eq!(e.problems, core.problems());
    assert!(e.problems.iter().any(|p| p.path == "Statement[0].Effect"), "{:?}", e.problems);
    assert!(e.problems.iter().any(|p| p.path.starts_with("Statement[1].Action")), "{:?}", e.problems);
    assert_eq!((e.line, e.column), (None, None));
}

#[test]
fn diff_matches_the_core_and_names_the_failing_side() {
    let text = api::diff(READ_ONLY, PASSROLE, &Default::default()).unwrap();
    let d = risk_core::diff::diff_json(READ_ONLY, PASSROLE, &Default::default()).unwrap();
    assert_eq!(text, serde_json::to_string(&d).unwrap());
    assert!(parse(&text)["risk_delta"].as_i64().unwrap() > 0);

    let e = api::diff(READ_ONLY, "{\n  \"Statement\": [\n", &Default::default()).unwrap_err();
    assert_eq!(e.side, Some("new"));
    assert!(e.message.starts_with("new policy: the policy ends unexpectedly"), "{}", e.message);
    assert_eq!(e.line, Some(3));
    let e = api::diff("{}", READ_ONLY, &Default::default()).unwrap_err();
    assert_eq!(e.side, Some("old"));
    assert_eq!(e.problems[0].path, "Statement");
}

#[test]
fn explain_rules_catalog_and_version() {
    let rule = parse(&api::explain("PE002").unwrap());
    assert_eq!(rule["kind"], "rule");
    assert_eq!(rule["name"], "passrole-escalation");
    let pattern = parse(&api::explain("s3:Get*").unwrap());
    assert_eq!(pattern["kind"], "pattern");
    assert!(pattern["total"].as_u64().unwrap() > 10);
    let e = api::explain("s3:Nope").unwrap_err();
    assert_eq!(e.message, risk_core::explain::explain("s3:Nope").unwrap_err());
    assert_eq!(e.problems.len(), 1);

    let rules = parse(&api::rules().unwrap());
    assert_eq!(rules.as_array().unwrap().len(), risk_core::explain::rule_docs().len());
    assert_eq!(rules[0]["code"], "FA001");

    let info = parse(&api::catalog_info().unwrap());
    assert_eq!(info["actions"], iam_catalog::ACTIONS.len());
    let v = parse(&api::version().unwrap());
    assert_eq!(v["engine"], risk_core::ENGINE_VERSION);
    assert_eq!(v["rules"], risk_core::RULES_VERSION);
}

#[test]
fn oversized_inputs_are_refused_before_parsing_with_what_to_do() {
    // Valid JSON just over the limit (a policy padded with spaces), so only the size can fail.
    let pad = |text: &str, max: usize| format!("{text}{}", " ".repeat(max + 1 - text.len()));
    let big = pad(READ_ONLY, api::MAX_INPUT_BYTES);
    let opts = risk_core::ScoreOptions::default();
    let f = api::score(&big, &opts).unwrap_err();
    assert_eq!(f.message, "the policy is larger than 1024 KiB; an IAM policy is at most a few KiB");
    assert_eq!(f.problems.len(), 1);
    assert_eq!(f.problems[0].path, "");
    // Exactly at the limit is accepted.
    let at = format!("{READ_ONLY}{}", " ".repeat(api::MAX_INPUT_BYTES - READ_ONLY.len()));
    assert!(api::score(&at, &opts).is_ok());

    let f = api::diff(READ_ONLY, &big, &opts).unwrap_err();
    assert_eq!(f.side, Some("new"));
    assert!(f.message.starts_with("new policy: the policy is larger than 1024 KiB"), "{}", f.message);
    let f = api::diff(&big, READ_ONLY, &opts).unwrap_err();
    assert_eq!(f.side, Some("old"));

    let f = api::narrow(&big, r#"{"resources": ["arn:aws:s3:::reports/*"]}"#).unwrap_err();
    assert!(f.message.starts_with("the policy is larger than 1024 KiB"), "{}", f.message);
    let input = pad(r#"{"resources": ["arn:aws:s3:::reports/*"]}"#, api::MAX_INPUT_BYTES);
    let f = api::narrow(READ_ONLY, &input).unwrap_err();
    assert_eq!(f.problems[0].path, "input");
    assert!(f.message.starts_with("input is larger than 1024 KiB; list"), "{}", f.message);

    let f = api::write_policy(&pad(r#"{"read": ["arn:aws:s3:::reports/*"]}"#, api::MAX_INPUT_BYTES)).unwrap_err();
    assert!(f.message.starts_with("the template is larger than 1024 KiB"), "{}", f.message);

    let events = pad(r#"{"Records": []}"#, api::MAX_EVENTS_BYTES);
    let f = api::policy_from_cloudtrail(&events, &Default::default()).unwrap_err();
    assert!(f.message.starts_with("the CloudTrail input is larger than 32 MiB; split it"), "{}", f.message);

    let f = api::explain(&"s".repeat(64 * 1024 + 1)).unwrap_err();
    assert!(f.message.starts_with("the pattern is larger than 64 KiB"), "{}", f.message);
}
