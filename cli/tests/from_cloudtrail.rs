//! `iam-risk-score from-cloudtrail` end to end: the policy on standard output, the summary on standard error, `--format json`, `--include-denied`, thresholds and errors, over risk-core's CloudTrail fixtures.

use risk_cli::{run_with, Io};
use serde_json::Value;
use std::ffi::OsString;
use std::path::PathBuf;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], stdin: &[u8]) -> Out {
    let argv: Vec<OsString> =
        ["iam-risk-score", "from-cloudtrail"].iter().chain(args.iter()).map(OsString::from).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input = stdin;
    let code = run_with(argv, &mut Io { stdout: &mut out, stderr: &mut err, stdin: &mut input, stdout_is_tty: false });
    Out { code, stdout: String::from_utf8(out).expect("UTF-8"), stderr: String::from_utf8(err).expect("UTF-8") }
}

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../risk-core/tests/fixtures/cloudtrail")
        .join(name)
        .display()
        .to_string()
}

fn actions(policy: &Value) -> Vec<String> {
    let mut v: Vec<String> = policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["Action"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_str().map(String::from))
        .collect();
    v.sort();
    v
}

#[test]
fn prints_the_policy_and_a_summary() {
    let o = run(&[&fixture("lookup-events-lambda.json")], b"");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let policy: Value = serde_json::from_str(&o.stdout).expect("stdout is the policy document");
    assert_eq!(policy["Version"], "2012-10-17");
    assert_eq!(actions(&policy), ["cloudwatch:PutMetricAlarm", "lambda:CreateFunction", "lambda:UpdateFunctionCode"]);
    assert!(o.stderr.contains("  Score:     5/10 (medium)"), "{}", o.stderr);
    assert!(!o.stderr.contains("Threshold:"), "no threshold line without --threshold: {}", o.stderr);
    assert!(o.stderr.contains("  Read:          5 events"), "{}", o.stderr);
    assert!(o.stderr.contains("  Unknown:       1 event"), "{}", o.stderr);
    assert!(o.stderr.contains("    - apigateway.amazonaws.com CreateRestApi ×1"), "{}", o.stderr);
    assert!(o.stderr.contains("    - cloudwatch:PutMetricAlarm (alarm, dataset) ×1"), "{}", o.stderr);
    assert!(o.stderr.contains("GetCallerIdentity ×1"), "{}", o.stderr);
}

#[test]
fn a_threshold_is_opt_in_as_for_write_policy() {
    let f = fixture("lookup-events-lambda.json");
    // A writer, like write-policy: no threshold unless asked for.
    assert_eq!(run(&[&f], b"").code, 0, "score 5, no threshold");
    assert_eq!(run(&[&f, "--threshold", "5"], b"").code, 1, "score 5 is at the threshold 5");
    assert_eq!(run(&[&f, "--threshold", "6"], b"").code, 0);
    assert_eq!(run(&[&fixture("s3-kms-ec2-data-events.json"), "--threshold", "2"], b"").code, 0, "score 1");
    assert_eq!(run(&[&f, "--no-threshold"], b"").code, 2, "not an option of this command");
}

#[test]
fn json_format_has_every_part() {
    let o = run(&[&fixture("s3-kms-ec2-data-events.json"), "--format", "json"], b"");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.is_empty(), "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).expect("JSON");
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in ["policy", "report", "unknown", "denied", "not_narrowed", "skipped", "events_read"] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    assert_eq!(v["events_read"], 8);
    assert_eq!(v["report"]["score"], 1);
    assert_eq!(v["denied"].as_array().unwrap().len(), 2);
    assert!(!actions(&v["policy"]).contains(&"ec2:TerminateInstances".to_string()));

    let o = run(&[&fixture("s3-kms-ec2-data-events.json"), "--format", "json", "--include-denied"], b"");
    let v: Value = serde_json::from_str(&o.stdout).expect("JSON");
    assert!(actions(&v["policy"]).contains(&"ec2:TerminateInstances".to_string()));
}

#[test]
fn reads_standard_input() {
    let text = std::fs::read(fixture("iam-log-file.json")).unwrap();
    let o = run(&["-", "--threshold", "6"], &text);
    assert_eq!(o.code, 1, "iam:CreateRole/CreateUser/AddUserToGroup score high: {}", o.stderr);
    let policy: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(actions(&policy), ["iam:AddUserToGroup", "iam:CreateRole", "iam:CreateUser"]);
}

#[test]
fn bad_input_exits_2_with_what_to_fix() {
    let o = run(&["-"], br#"{"Version": "2012-10-17", "Statement": []}"#);
    assert_eq!(o.code, 2);
    assert!(o.stdout.is_empty());
    assert_eq!(
        o.stderr,
        "error: -: not CloudTrail: expected `Records` (a log file), `Events` (lookup-events output) or an array of records; found an object with keys `Statement`, `Version`\n"
    );
    let o = run(&["-"], b"{\"Records\": [");
    assert_eq!(o.code, 2);
    assert!(o.stderr.starts_with("error: -: the CloudTrail file ends unexpectedly"), "{}", o.stderr);
    let o = run(&["-"], &[0x1f, 0x8b, 8, 0]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("gzip-compressed"), "{}", o.stderr);
    assert!(o.stderr.contains("gunzip -c"), "{}", o.stderr);
    let o = run(&["/nonexistent/events.json"], b"");
    assert_eq!((o.code, o.stderr.as_str()), (2, "error: CloudTrail file not found: `/nonexistent/events.json`\n"));
    let o = run(&["-"], br#"[{"eventSource": "s3.amazonaws.com"}]"#);
    assert_eq!(o.stderr, "error: -: [0]: missing `eventName` (a string such as `GetObject`)\n");
    let o = run(&[], b"");
    assert_eq!(o.code, 2, "the file is required");
}
