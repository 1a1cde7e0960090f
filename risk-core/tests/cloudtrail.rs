//! From activity: CloudTrail fixtures (shapes from AWS documentation) against committed expected policies, error messages for malformed input, and the property that nothing is granted beyond what the events map to.
//!
//! `UPDATE_SNAPSHOTS=1 cargo test -p risk-core --test cloudtrail` rewrites the expected files.

use proptest::prelude::*;
use proptest::sample::select;
use risk_core::cloudtrail::{
    map_event, policy_from_cloudtrail, policy_from_cloudtrail_json, policy_from_cloudtrail_with, CloudTrailError,
    CloudTrailOptions, FromActivity, Mapping,
};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloudtrail")
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// What a fixture pins: everything but the report's versions and details (the rules' own tests
/// pin those), so a rule change moves only the score lines.
fn snapshot(a: &FromActivity) -> Value {
    json!({
        "policy": a.policy,
        "score": a.report.score,
        "tier": a.report.tier,
        "unknown": a.unknown,
        "denied": a.denied,
        "not_narrowed": a.not_narrowed,
        "skipped": a.skipped,
        "events_read": a.events_read,
    })
}

fn granted(policy: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in policy["Statement"].as_array().into_iter().flatten() {
        assert_eq!(s["Effect"], "Allow");
        for a in s["Action"].as_array().into_iter().flatten() {
            out.insert(a.as_str().unwrap_or_default().to_string());
        }
    }
    out
}

fn resources_of(policy: &Value, action: &str) -> Vec<String> {
    for s in policy["Statement"].as_array().into_iter().flatten() {
        if s["Action"].as_array().into_iter().flatten().any(|a| a == action) {
            return match &s["Resource"] {
                Value::String(r) => vec![r.clone()],
                Value::Array(v) => v.iter().map(|r| r.as_str().unwrap_or_default().to_string()).collect(),
                _ => Vec::new(),
            };
        }
    }
    panic!("`{action}` is not granted")
}

#[test]
fn fixtures_match_their_expected_policies() {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .expect("fixtures folder")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 8, "fixtures missing: {names:?}");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for name in &names {
        let got = policy_from_cloudtrail(&load(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Deterministic: the same input twice gives the same bytes.
        let again = policy_from_cloudtrail(&load(name)).expect("second run");
        assert_eq!(serde_json::to_string(&got).unwrap(), serde_json::to_string(&again).unwrap(), "{name}");
        let text = serde_json::to_string_pretty(&snapshot(&got)).expect("serialize") + "\n";
        let path = dir().join("expected").join(name);
        if update {
            std::fs::write(&path, &text).expect("write snapshot");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(committed) if committed == text => {}
            _ => stale.push(format!("{name}:\n{text}")),
        }
    }
    assert!(
        stale.is_empty(),
        "expected policies differ (check, then UPDATE_SNAPSHOTS=1 cargo test -p risk-core --test cloudtrail):\n{}",
        stale.join("\n")
    );
}

#[test]
fn docs_show_the_current_exceptions_table() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/authoring-cloudtrail.md");
    let doc = std::fs::read_to_string(&path).expect("docs/authoring-cloudtrail.md");
    let (start, end) = ("<!-- exceptions:start -->\n", "<!-- exceptions:end -->");
    let (Some(a), Some(b)) = (doc.find(start), doc.find(end)) else {
        panic!("docs/authoring-cloudtrail.md lacks the exceptions markers")
    };
    let table = risk_core::cloudtrail::exceptions::markdown_table();
    let current = &doc[a + start.len()..b];
    if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        let new = format!("{}{table}{}", &doc[..a + start.len()], &doc[b..]);
        std::fs::write(&path, new).expect("write docs");
        return;
    }
    assert!(
        current == table,
        "the exceptions table in docs/authoring-cloudtrail.md is stale: UPDATE_DOCS=1 cargo test -p risk-core --test cloudtrail"
    );
}

#[test]
fn documented_ec2_example_is_narrowed_to_the_instance() {
    let a = policy_from_cloudtrail(&load("ec2-log-file.json")).unwrap();
    assert_eq!(a.events_read, 3);
    assert_eq!(
        granted(&a.policy),
        ["ec2:CreateKeyPair", "ec2:StartInstances", "ec2:StopInstances"].map(String::from).into()
    );
    assert_eq!(
        resources_of(&a.policy, "ec2:StartInstances"),
        ["arn:aws:ec2:us-east-2:123456789012:instance/i-ebeaf9e2"]
    );
    // CreateKeyPair acts on a key pair the record names by name only: `*`, and said so.
    assert_eq!(resources_of(&a.policy, "ec2:CreateKeyPair"), ["*"]);
    assert_eq!(a.not_narrowed.iter().map(|n| n.action.as_str()).collect::<Vec<_>>(), ["ec2:CreateKeyPair"]);
}

#[test]
fn documented_iam_example_keeps_only_arns_of_the_actions_types() {
    let a = policy_from_cloudtrail(&load("iam-log-file.json")).unwrap();
    // AddUserToGroup names a user and a group; the action acts on groups only.
    assert_eq!(resources_of(&a.policy, "iam:AddUserToGroup"), ["arn:aws:iam::123456789012:group/admin"]);
    assert_eq!(resources_of(&a.policy, "iam:CreateUser"), ["arn:aws:iam::123456789012:user/Bob"]);
    assert_eq!(resources_of(&a.policy, "iam:CreateRole"), ["arn:aws:iam::123456789012:role/TestRole"]);
    assert!(a.not_narrowed.is_empty());
}

#[test]
fn lookup_events_and_exceptions() {
    let a = policy_from_cloudtrail(&load("lookup-events-lambda.json")).unwrap();
    let g = granted(&a.policy);
    assert!(g.contains("lambda:CreateFunction") && g.contains("lambda:UpdateFunctionCode"), "{g:?}");
    assert!(g.contains("cloudwatch:PutMetricAlarm"), "{g:?}");
    assert_eq!(
        resources_of(&a.policy, "lambda:UpdateFunctionCode"),
        ["arn:aws:lambda:eu-west-1:123456789012:function:orders"]
    );
    // API Gateway's management events have no catalog action (its actions are HTTP verbs).
    assert_eq!(a.unknown.len(), 1);
    assert_eq!(
        (a.unknown[0].event_source.as_str(), a.unknown[0].event_name.as_str()),
        ("apigateway.amazonaws.com", "CreateRestApi")
    );
    assert_eq!(a.skipped.iter().map(|s| s.event_name.as_str()).collect::<Vec<_>>(), ["GetCallerIdentity"]);

    let login = policy_from_cloudtrail(&load("lookup-events-console-login.json")).unwrap();
    assert_eq!(login.events_read, 1);
    assert!(granted(&login.policy).is_empty());
    assert_eq!(login.skipped[0].event_name, "ConsoleLogin");
}

#[test]
fn denied_attempts_are_listed_and_granted_only_on_request() {
    let input = load("s3-kms-ec2-data-events.json");
    let a = policy_from_cloudtrail(&input).unwrap();
    let g = granted(&a.policy);
    assert!(!g.contains("ec2:TerminateInstances"));
    assert_eq!(resources_of(&a.policy, "s3:GetObject"), ["arn:aws:s3:::orders-bucket/in/2024/05/01.csv"]);
    let denied: Vec<(&str, &str)> = a.denied.iter().map(|d| (d.event_name.as_str(), d.error_code.as_str())).collect();
    assert_eq!(denied, [("TerminateInstances", "Client.UnauthorizedOperation"), ("GetObject", "AccessDenied")]);
    assert_eq!(a.skipped.iter().map(|s| s.event_name.as_str()).collect::<Vec<_>>(), ["RotateKey"]);

    let with = policy_from_cloudtrail_with(&input, &CloudTrailOptions { include_denied: true }).unwrap();
    assert!(granted(&with.policy).contains("ec2:TerminateInstances"));
    let get = resources_of(&with.policy, "s3:GetObject");
    assert!(get.contains(&"arn:aws:s3:::finance-bucket/payroll.csv".to_string()), "{get:?}");
    assert_eq!(with.denied, a.denied, "denied attempts are listed either way");
}

#[test]
fn not_cloudtrail_is_an_error_that_says_what_to_give() {
    let msg = |v: Value| policy_from_cloudtrail(&v).unwrap_err().to_string();
    let m = msg(json!({"Version": "2012-10-17", "Statement": []}));
    assert!(m.starts_with("not CloudTrail: expected `Records`"), "{m}");
    assert!(m.contains("`Statement`"), "{m}");
    assert!(msg(json!("text")).contains("found a string"));
    assert_eq!(msg(json!({"Records": {}})), "Records: must be an array of records, got an empty object");
    assert_eq!(
        msg(json!({"Records": [{"eventName": "GetObject"}]})),
        "Records[0]: missing `eventSource` (a string such as `s3.amazonaws.com`)"
    );
    assert_eq!(
        msg(json!([{"eventSource": "s3.amazonaws.com", "eventName": 3}])),
        "[0]: `eventName` must be a non-empty string such as `GetObject`, got a number"
    );
    assert_eq!(msg(json!([1])), "[0]: must be a CloudTrail record (an object), got a number");
    let m = msg(json!({"Events": [{"CloudTrailEvent": "{not json"}]}));
    assert!(m.starts_with("Events[0].CloudTrailEvent: the embedded record is not valid JSON"), "{m}");
    let m = msg(json!({"Events": [{"EventId": "x"}]}));
    assert!(m.contains("has no `CloudTrailEvent`"), "{m}");
}

#[test]
fn text_that_is_not_json_is_an_error() {
    let e = policy_from_cloudtrail_json("{\"Records\": [", &CloudTrailOptions::default()).unwrap_err();
    assert!(matches!(e, CloudTrailError::Json(_)));
    assert!(e.to_string().starts_with("the CloudTrail file ends unexpectedly"), "{e}");
    let e = policy_from_cloudtrail_json("Records", &CloudTrailOptions::default()).unwrap_err();
    assert!(e.to_string().starts_with("the CloudTrail file is not valid JSON"), "{e}");
}

#[test]
fn empty_input_gives_an_empty_scored_policy() {
    let a = policy_from_cloudtrail(&json!({"Records": []})).unwrap();
    assert_eq!(a.events_read, 0);
    assert_eq!(a.policy["Statement"], json!([]));
    assert_eq!(a.report.score, 1);
}

// ---------------------------------------------------------------------------------------------
// Property: the policy grants nothing that is not the mapping of some (granted) input event.

const EVENTS: &[(&str, &str)] = &[
    ("s3.amazonaws.com", "GetObject"),
    ("s3.amazonaws.com", "PutObject"),
    ("s3.amazonaws.com", "ListObjects"),
    ("s3.amazonaws.com", "HeadObject"),
    ("s3.amazonaws.com", "DeleteObjects"),
    ("s3.amazonaws.com", "NoSuchCall"),
    ("kms.amazonaws.com", "ReEncrypt"),
    ("kms.amazonaws.com", "Decrypt"),
    ("lambda.amazonaws.com", "Invoke"),
    ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2"),
    ("monitoring.amazonaws.com", "GetMetricData"),
    ("iam.amazonaws.com", "PassRole"),
    ("iam.amazonaws.com", "CreateUser"),
    ("sts.amazonaws.com", "GetCallerIdentity"),
    ("signin.amazonaws.com", "ConsoleLogin"),
    ("apigateway.amazonaws.com", "CreateRestApi"),
    ("ec2.amazonaws.com", "RunInstances"),
    ("unknown.example.com", "Thing"),
];

fn arb_record() -> impl Strategy<Value = (Value, bool, (&'static str, &'static str))> {
    (
        select(EVENTS),
        prop::option::of(select(&["AccessDenied", "Client.UnauthorizedOperation", "NoSuchKey"][..])),
        select(&["AwsApiCall", "AwsServiceEvent"][..]),
        prop::option::of(select(&["b1", "b2"][..])),
        any::<bool>(),
    )
        .prop_map(|((source, name), error, event_type, bucket, with_arn)| {
            let mut r = json!({
                "eventSource": source, "eventName": name, "eventType": event_type,
                "awsRegion": "us-east-1", "recipientAccountId": "123456789012",
            });
            if let Some(code) = error {
                r["errorCode"] = json!(code);
            }
            if let Some(b) = bucket {
                r["requestParameters"] = json!({"bucketName": b, "key": "k", "functionName": "f", "userName": "u"});
            }
            if with_arn {
                r["resources"] = json!([{"ARN": "arn:aws:kms:us-east-1:123456789012:key/1"}]);
            }
            let denied = matches!(error, Some("AccessDenied" | "Client.UnauthorizedOperation"));
            let counted = event_type == "AwsApiCall";
            (r, counted && !denied, (source, name))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn grants_only_mapped_actions(records in prop::collection::vec(arb_record(), 0..12), include_denied in any::<bool>()) {
        let input = Value::Array(records.iter().map(|(r, _, _)| r.clone()).collect());
        let a = policy_from_cloudtrail_with(&input, &CloudTrailOptions { include_denied }).unwrap();
        let mut allowed = BTreeSet::new();
        for (r, granted_by_default, (source, name)) in &records {
            let api_call = r["eventType"] == "AwsApiCall";
            if !(*granted_by_default || (include_denied && api_call)) {
                continue;
            }
            if let Mapping::Actions(v) = map_event(source, name) {
                allowed.extend(v.into_iter().map(|i| iam_catalog::ACTIONS[i].full_name()));
            }
        }
        let got = granted(&a.policy);
        prop_assert!(got.is_subset(&allowed), "granted {:?} beyond {:?}", got, allowed);
        prop_assert_eq!(&got, &allowed, "every mapped event is granted");
        prop_assert_eq!(a.events_read, records.len());
        // Resources are literal ARNs or `*`, never a pattern.
        for s in a.policy["Statement"].as_array().into_iter().flatten() {
            let rs: Vec<&str> = match &s["Resource"] {
                Value::String(r) => vec![r.as_str()],
                Value::Array(v) => v.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            for r in rs {
                prop_assert!(r == "*" || (r.starts_with("arn:") && !r.contains('*') && !r.contains('?')), "{}", r);
            }
        }
    }
}
