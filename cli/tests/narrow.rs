//! `iam-risk-score narrow`: the contract — the narrowed policy on stdout, the before → after score,
//! changes and numbered questions on stderr, `--format json` as `{"policy", "before", "after",
//! "diff", "questions", "changes"}`, `--resource`/`--used-actions`/`--access-level`, stdin, exit codes.

use risk_cli::exit;
use serde_json::{json, Value};
use std::process::{Command, Stdio};

mod common;
use common::run_stdin;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}):\n{s}"))
}

const POLICY: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Sid": "App", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket", "s3:ListAllMyBuckets", "dynamodb:GetItem"], "Resource": "*"},
  {"Sid": "Queue", "Effect": "Allow", "Action": "sqs:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
  {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}
]}"#;

fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).expect("write");
    p.to_string_lossy().into_owned()
}

#[test]
fn policy_on_stdout_score_changes_and_numbered_questions_on_stderr() {
    let o = run_stdin(&["narrow", "-", "--resource", "arn:aws:s3:::reports/*", "arn:aws:s3:::reports"], POLICY);
    assert_eq!(o.code, exit::OK, "{}", o.stderr);
    let policy = json(&o.stdout);
    let sids: Vec<Option<&str>> = policy["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str()).collect();
    assert_eq!(sids, [Some("App1"), Some("App2"), Some("App3"), Some("App4"), Some("Queue"), None]);
    assert_eq!(policy["Statement"][1]["Resource"], json!(["arn:aws:s3:::reports/*"]));
    assert_eq!(policy["Statement"][5], json(POLICY)["Statement"][2], "Deny as written");
    assert!(o.stdout.find("\"Sid\"").unwrap() < o.stdout.find("\"Effect\"").unwrap(), "usual key order");

    let err: Vec<&str> = o.stderr.lines().collect();
    assert!(err[0].starts_with("score: 8/10 (high) → 8/10 (high); 0 actions removed, 0 added;"), "{}", o.stderr);
    assert_eq!(err[1], "changes:");
    assert!(
        err[2].starts_with("  statement 0 (`App`): `Resource: *` split by resource type into `App1`"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("\nquestions:\n  1. [medium] statement 0 (`App`): Which `dynamodb` `table` resources"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("     ARN format: arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}\n"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("\n  2. [high] statement 1 (`Queue`): Which actions does the task use?"), "{}", o.stderr);
}

#[test]
fn used_actions_from_a_list_or_from_cloudtrail_output_and_format_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let list = file(&dir, "used.json", r#"["sqs:SendMessage", "s3:GetObject"]"#);
    let o = run_stdin(
        &[
            "narrow",
            "-",
            "--used-actions",
            &list,
            "--resource",
            "arn:aws:sqs:us-east-1:123456789012:jobs",
            "--format",
            "json",
        ],
        POLICY,
    );
    assert_eq!(o.code, exit::OK, "{}", o.stderr);
    assert!(o.stderr.is_empty(), "{}", o.stderr);
    let v = json(&o.stdout);
    assert_eq!(v.as_object().unwrap().len(), 6);
    // Top-level keys in the contract's order (two-space indent: the top level).
    let order: Vec<usize> = ["policy", "before", "after", "diff", "questions", "changes"]
        .iter()
        .map(|k| o.stdout.find(&format!("\n  \"{k}\": ")).unwrap_or_else(|| panic!("{k} missing")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    let queue = &v["policy"]["Statement"][1];
    assert_eq!(queue["Action"], json!(["sqs:SendMessage"]));
    assert_eq!(queue["Resource"], json!(["arn:aws:sqs:us-east-1:123456789012:jobs"]));
    assert_eq!(queue["Condition"], json!({"Bool": {"aws:SecureTransport": "true"}}));
    assert_eq!(v["diff"]["added_actions_total"], 0);
    assert_eq!(v["before"]["api_version"], "v1");
    assert!(v["after"]["score"].as_u64() <= v["before"]["score"].as_u64());
    let q = &v["questions"][0];
    for k in [
        "id",
        "pattern",
        "service",
        "resource_type",
        "suggested_arn_format",
        "triggering_actions",
        "severity",
        "question",
        "why",
        "statement",
        "sid",
    ] {
        assert!(q.get(k).is_some(), "{k} missing in {q}");
    }
    assert_eq!(q["id"], "stmt-0-s3-object");

    // The same narrowing from a CloudTrail-built policy: `{"policy": …}` as from-cloudtrail prints.
    let ct = json!({"policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sqs:SendMessage", "s3:GetObject"], "Resource": "*"}]}, "report": {}});
    let ct = file(&dir, "ct.json", &ct.to_string());
    let o2 = run_stdin(
        &[
            "narrow",
            "-",
            "--used-actions",
            &ct,
            "--resource",
            "arn:aws:sqs:us-east-1:123456789012:jobs",
            "--format",
            "json",
        ],
        POLICY,
    );
    assert_eq!(json(&o2.stdout)["policy"], v["policy"]);
}

#[test]
fn access_levels_are_repeatable() {
    let o = run_stdin(
        &[
            "narrow",
            "-",
            "--access-level",
            "read",
            "--access-level",
            "list",
            "--resource",
            "arn:aws:sqs:us-east-1:123456789012:jobs",
        ],
        POLICY,
    );
    assert_eq!(o.code, exit::OK, "{}", o.stderr);
    let policy = json(&o.stdout);
    let queue = policy["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "Queue1").expect("Queue1");
    let actions: Vec<&str> = queue["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(actions.contains(&"sqs:ReceiveMessage") && actions.contains(&"sqs:ListQueueTags"), "{actions:?}");
    assert!(!actions.contains(&"sqs:SendMessage") && !actions.contains(&"sqs:DeleteQueue"), "{actions:?}");
}

#[test]
fn bad_input_exits_2_with_what_to_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = file(&dir, "p.json", POLICY);
    let bad_used = file(&dir, "bad.json", r#"{"actions": []}"#);
    let cases: &[(&[&str], &str, &str)] = &[
        (&["narrow", "-"], "{\"Statement\": [{\"Effect\": \"allow\"}]}", "error: policy: Statement[0].Effect"),
        (&["narrow", "-"], "{\"Statement\": [], \"Statement\": []}", "twice"),
        (&["narrow", "/nonexistent/p.json"], "", "not found"),
        (
            &["narrow", &policy, "--resource", "arn:aws:s3:us-east-1:1:b"],
            "",
            "\n  bucket: arn:${Partition}:s3:::${BucketName}",
        ),
        (&["narrow", &policy, "--resource", "my-bucket"], "", "an ARN looks like"),
        (&["narrow", &policy, "--used-actions", &bad_used], "", "expected a JSON array of action names"),
        (&["narrow", &policy, "--used-actions", "-"], "[\"s3:Nope\"]", "`s3:Nope` names no action"),
        (&["narrow", "-", "--used-actions", "-"], POLICY, "only one of POLICY and --used-actions"),
        (&["narrow", &policy, "--access-level", "admin"], "", "is not an access level"),
        (&["narrow", &policy, "--used-actions", "-"], "[\"kms:Decrypt\"]", "leaves no Allow statement"),
    ];
    for (args, stdin, expected) in cases {
        let o = run_stdin(args, stdin);
        assert_eq!(o.code, exit::BAD_INPUT, "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains(expected), "{args:?}: {:?} should contain {expected:?}", o.stderr);
        assert!(o.stdout.is_empty(), "{args:?}: {}", o.stdout);
    }
}

#[test]
fn threshold_and_help() {
    let o = run_stdin(&["narrow", "-", "--threshold", "5"], POLICY);
    assert_eq!(o.code, exit::AT_OR_ABOVE_THRESHOLD, "{}", o.stderr);
    let o = run_stdin(&["--help"], "");
    assert!(o.stdout.contains("iam-risk-score narrow POLICY --resource ARN…"), "{}", o.stdout);
    let o = run_stdin(&["narrow", "--help"], "");
    assert_eq!(o.code, exit::OK);
    assert!(o.stdout.contains("--used-actions <FILE>") && o.stdout.contains("--access-level <LEVEL>"), "{}", o.stdout);
}

#[test]
fn binary_separates_the_streams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = file(&dir, "p.json", POLICY);
    let o = Command::new(env!("CARGO_BIN_EXE_iam-risk-score"))
        .args(["narrow", &policy, "--resource", "arn:aws:s3:::reports/*"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json(&String::from_utf8(o.stdout).expect("utf-8"))["Statement"][0]["Sid"], "App1");
    assert!(String::from_utf8(o.stderr).expect("utf-8").starts_with("score: "));
}
