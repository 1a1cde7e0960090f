//! `iam-risk-score write-policy`: the contract — policy on stdout, score on stderr, `--format json`
//! as `{"policy", "report"}` with the very report the score command prints, ARN flags and
//! `--template` (policy_sentry YAML, JSON, stdin), exit codes.

use risk_cli::exit;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};

mod common;
use common::{run_stdin, Out};

fn run(args: &[&str]) -> Out {
    run_stdin(args, "")
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}):\n{s}"))
}

fn policy_sentry_fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../risk-core/tests/fixtures/authoring")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn sids(policy: &Value) -> Vec<&str> {
    policy["Statement"].as_array().expect("statements").iter().map(|s| s["Sid"].as_str().expect("sid")).collect()
}

fn resources(policy: &Value) -> BTreeSet<&str> {
    policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .flat_map(|s| s["Resource"].as_array().expect("list").iter().map(|r| r.as_str().expect("str")))
        .collect()
}

#[test]
fn policy_on_stdout_score_line_on_stderr() {
    let o = run(&["write-policy", "--read", "arn:aws:s3:::reports/*", "--list", "arn:aws:s3:::reports"]);
    assert_eq!(o.code, exit::OK, "{}", o.stderr);
    let policy = json(&o.stdout);
    assert_eq!(policy["Version"], "2012-10-17");
    assert_eq!(sids(&policy), ["S3ReadObject", "S3ListBucket"]);
    // The usual key order, not serde_json's sorted one.
    assert!(o.stdout.find("\"Sid\"").unwrap() < o.stdout.find("\"Effect\"").unwrap());
    assert!(o.stdout.find("\"Version\"").unwrap() < o.stdout.find("\"Statement\"").unwrap());
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", o.stderr);
    assert!(lines[0].starts_with("score: 1/10 (low) - "), "{}", o.stderr);
    assert!(lines[0].contains(" actions in 1 services (0 on all resources), 0 findings"), "{}", o.stderr);
}

#[test]
fn format_json_is_policy_and_the_score_commands_report() {
    let o = run(&["write-policy", "--write", "arn:aws:sqs:us-east-1:123456789012:jobs", "--format", "json"]);
    assert_eq!(o.code, exit::OK, "{}", o.stderr);
    let v = json(&o.stdout);
    let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["policy", "report"]);
    // The report is exactly what `iam-risk-score FILE --format json` prints for the policy.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("policy.json");
    std::fs::write(&file, serde_json::to_string(&v["policy"]).expect("json")).expect("write");
    let scored = run(&[file.to_str().expect("path"), "--format", "json"]);
    assert_eq!(json(&scored.stdout), v["report"]);
    assert_eq!(v["report"]["api_version"], "v1");
    assert!(o.stderr.starts_with("score: "), "{}", o.stderr);
}

#[test]
fn arn_flags_are_repeatable_and_multi_valued() {
    let o = run(&[
        "write-policy",
        "--read",
        "arn:aws:dynamodb:us-east-1:123456789012:table/orders",
        "arn:aws:dynamodb:us-east-1:123456789012:table/orders/index/by-date",
        "--read",
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*",
        "--tagging",
        "arn:aws:iam::123456789012:role/app/deploy",
        "--permissions-management",
        "arn:aws:kms:us-east-1:123456789012:key/k",
    ]);
    assert_eq!(o.code, exit::OK, "{}", o.stderr);
    let policy = json(&o.stdout);
    assert_eq!(
        sids(&policy),
        ["DynamodbReadIndex", "DynamodbReadTable", "LogsReadLoggroup", "IamTaggingRole", "KmsPermissionsmanagementKey"]
    );
    assert_eq!(resources(&policy).len(), 5);
}

#[test]
fn policy_sentry_yaml_template() {
    let o = run(&["write-policy", "--template", &policy_sentry_fixture("crud.yml")]);
    assert_eq!(o.code, exit::OK, "{}", o.stderr);
    let policy = json(&o.stdout);
    assert!(sids(&policy).contains(&"S3ReadObject"));
    assert!(sids(&policy).contains(&"S3PermissionsmanagementBucket"));
    // The same as the core gives for the JSON form of the template.
    let value = json(&std::fs::read_to_string(policy_sentry_fixture("crud.json")).expect("read"));
    let t = risk_core::authoring::Template::from_value(&value).expect("template");
    assert_eq!(policy, risk_core::authoring::write_policy(&t).expect("written").policy);
}

#[test]
fn json_template_on_stdin_plus_flags() {
    let template = r#"{"mode": "crud", "read": ["arn:aws:s3:::b/*", ""], "wildcard-only": {"single-actions": ["s3:ListAllMyBuckets"]}}"#;
    let o = run_stdin(&["write-policy", "--template", "-", "--list", "arn:aws:s3:::b"], template);
    assert_eq!(o.code, exit::OK, "{}", o.stderr);
    assert_eq!(sids(&json(&o.stdout)), ["S3ReadObject", "S3ListBucket", "MultMultNone"]);
}

#[test]
fn bad_input_exits_2_with_what_to_fix() {
    let cases: &[(&[&str], &str, &str)] = &[
        (&["write-policy"], "", "nothing to write"),
        (&["write-policy", "--read", "my-bucket"], "", "an ARN looks like"),
        (&["write-policy", "--read", "arn:aws:nosuch:::x"], "", "unknown service prefix `nosuch`"),
        (
            &["write-policy", "--read", "arn:aws:s3:us-east-1:1:b"],
            "",
            "\n  bucket: arn:${Partition}:s3:::${BucketName}",
        ),
        (&["write-policy", "--template", "-"], "mode: crud\nreed: [x]\n", "unknown template key `reed`"),
        (&["write-policy", "--template", "-"], "read: [a\n", "not valid YAML"),
        (&["write-policy", "--template", "-"], "{\"read\": [], \"read\": []}", "twice"),
        (&["write-policy", "--template", "/nonexistent/t.yml"], "", "template not found"),
        (&["write-policy", "--format", "sarif", "--read", "arn:aws:s3:::b"], "", "invalid value"),
    ];
    for (args, stdin, expected) in cases {
        let o = run_stdin(args, stdin);
        assert_eq!(o.code, exit::BAD_INPUT, "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains(expected), "{args:?}: {:?} should contain {expected:?}", o.stderr);
        assert!(o.stdout.is_empty(), "{args:?}: {}", o.stdout);
    }
}

#[test]
fn threshold_and_warnings() {
    let o = run(&["write-policy", "--write", "arn:aws:iam::123456789012:role/r", "--threshold", "1"]);
    assert_eq!(o.code, exit::AT_OR_ABOVE_THRESHOLD, "{}", o.stderr);
    let o = run(&["write-policy", "--template", &policy_sentry_fixture("actions.yml")]);
    assert_eq!(o.code, exit::OK, "{}", o.stderr);
    assert!(o.stderr.starts_with("warning: `actions`: resources are the actions' ARN formats"), "{}", o.stderr);
}

#[test]
fn listed_in_help() {
    let o = run(&["--help"]);
    assert!(o.stdout.contains("iam-risk-score write-policy"), "{}", o.stdout);
    let o = run(&["write-policy", "--help"]);
    assert_eq!(o.code, exit::OK);
    assert!(o.stdout.contains("--permissions-management <ARN>"), "{}", o.stdout);
}

#[test]
fn binary_separates_the_streams() {
    let o = Command::new(env!("CARGO_BIN_EXE_iam-risk-score"))
        .args(["write-policy", "--read", "arn:aws:s3:::b/*"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0));
    let stdout = String::from_utf8(o.stdout).expect("utf-8");
    assert_eq!(sids(&json(&stdout)), ["S3ReadObject"]);
    assert!(String::from_utf8(o.stderr).expect("utf-8").starts_with("score: "));
}
