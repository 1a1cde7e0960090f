//! Per-rule fixtures: every rule's documented example must trigger it (so the docs cannot
//! drift from the code), and every rule has policies that must *not* trigger it — the near
//! misses that a sloppy rule would flag.

use risk_core::{explain::rule_docs, score_json, AccessType, ScoreOptions};
use serde_json::json;

fn options_for(code: &str) -> ScoreOptions {
    match code {
        "CX001" => ScoreOptions { access_type: Some(AccessType::ReadOnly), ..Default::default() },
        "CX002" => ScoreOptions { extra_sensitive_services: vec!["dynamodb".into()], ..Default::default() },
        "CX003" => ScoreOptions {
            extra_high_impact_actions: vec!["route53:ChangeResourceRecordSets".into()],
            ..Default::default()
        },
        _ => ScoreOptions::default(),
    }
}

fn rules_fired(policy: &str, options: &ScoreOptions) -> Vec<String> {
    let r = score_json(policy, options).unwrap_or_else(|e| panic!("fixture does not score: {e}\n{policy}"));
    for f in &r.findings {
        let max = risk_core::rules::find(&f.rule).map_or(0, |r| r.meta().max_score);
        assert!((1..=max).contains(&f.score), "{} scored {} outside 1..={max}\n{policy}", f.rule, f.score);
    }
    r.findings.into_iter().map(|f| f.rule).collect()
}

#[test]
fn every_documented_example_triggers_its_rule() {
    let mut failures = Vec::new();
    for d in rule_docs() {
        let fired = rules_fired(d.example, &options_for(d.code));
        if !fired.iter().any(|r| r == d.code) {
            failures.push(format!("{} {}: example did not trigger it (fired: {fired:?})", d.code, d.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Policies that must not trigger the rule, with why.
fn near_misses() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    let stmt = |action: serde_json::Value, resource: serde_json::Value| json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]});
    vec![
        ("FA001", "every IAM action but not the rest of AWS", stmt(json!("iam:*"), json!("*"))),
        ("FA001", "everything, but on one bucket's objects only", stmt(json!("*"), json!("arn:aws:s3:::bucket/*"))),
        (
            "BA001",
            "a service wildcard on one bucket",
            stmt(json!("s3:*"), json!(["arn:aws:s3:::b", "arn:aws:s3:::b/*"])),
        ),
        ("BA001", "every read of a service", stmt(json!(["s3:Get*", "s3:List*"]), json!("*"))),
        (
            "PE001",
            "changing one's own password",
            stmt(json!("iam:ChangePassword"), json!("arn:aws:iam::*:user/${aws:username}")),
        ),
        ("PE002", "PassRole without anything to pass it to", stmt(json!("iam:PassRole"), json!("*"))),
        (
            "PE002",
            "PassRole limited to a service the path does not use",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"], "Resource": "*",
                "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}}]}),
        ),
        (
            "PE006",
            "passing one named role",
            stmt(json!("iam:PassRole"), json!("arn:aws:iam::123456789012:role/app-runtime")),
        ),
        ("PE003", "reading Lambda configuration", stmt(json!("lambda:GetFunction"), json!("*"))),
        (
            "PE004",
            "managing one's own access keys",
            stmt(json!("iam:CreateAccessKey"), json!("arn:aws:iam::*:user/${aws:username}")),
        ),
        ("PE005", "reading a role", stmt(json!("iam:GetRole"), json!("*"))),
        (
            "CE001",
            "reading one named secret",
            stmt(
                json!("secretsmanager:GetSecretValue"),
                json!("arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbCdEf"),
            ),
        ),
        (
            "CE002",
            "managing one's own service-specific credentials",
            stmt(
                json!(["iam:CreateServiceSpecificCredential", "iam:ResetServiceSpecificCredential"]),
                json!("arn:aws:iam::*:user/${aws:username}"),
            ),
        ),
        ("DX001", "reading one prefix", stmt(json!("s3:GetObject"), json!("arn:aws:s3:::reports/exports/*"))),
        ("RX001", "reading a bucket policy", stmt(json!("s3:GetBucketPolicy"), json!("*"))),
        ("IM001", "describing security groups", stmt(json!("ec2:DescribeSecurityGroups"), json!("*"))),
        (
            "IM002",
            "writing logs, which only * can scope",
            stmt(json!(["logs:CreateLogStream", "logs:PutLogEvents"]), json!("*")),
        ),
        (
            "IM002",
            "writing one table",
            stmt(json!("dynamodb:PutItem"), json!("arn:aws:dynamodb:us-east-1:123456789012:table/orders")),
        ),
        ("DS001", "creating instances", stmt(json!("ec2:RunInstances"), json!("*"))),
        ("DS002", "creating snapshots", stmt(json!("ec2:CreateSnapshot"), json!("*"))),
        ("DE001", "reading trails", stmt(json!(["cloudtrail:DescribeTrails", "cloudtrail:LookupEvents"]), json!("*"))),
        ("CX001", "no access type stated", stmt(json!("s3:PutObject"), json!("arn:aws:s3:::b/*"))),
        ("VA001", "real actions in odd case", stmt(json!(["S3:GETOBJECT", "iam:passrole"]), json!("*"))),
        ("VA002", "object actions on object ARNs", stmt(json!("s3:GetObject"), json!("arn:aws:s3:::b/*"))),
        (
            "VA003",
            "an unconditional deny covering the allow",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}),
        ),
        (
            "VA004",
            "variables with the 2012 version",
            stmt(json!("iam:ChangePassword"), json!("arn:aws:iam::*:user/${aws:username}")),
        ),
        ("VA005", "a policy that grants something", stmt(json!("s3:GetObject"), json!("arn:aws:s3:::b/*"))),
        (
            "RX002",
            "a public principal pinned to the organisation",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}}]}),
        ),
        (
            "RX003",
            "a service principal trust",
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        ),
    ]
}

#[test]
fn near_misses_do_not_trigger() {
    let mut failures = Vec::new();
    for (code, why, policy) in near_misses() {
        let fired = rules_fired(&policy.to_string(), &options_for(if code == "CX001" { "" } else { code }));
        if fired.iter().any(|r| r == code) {
            failures.push(format!("{code}: {why}: fired anyway ({fired:?})"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_has_a_near_miss() {
    let covered: Vec<&str> = near_misses().iter().map(|(c, _, _)| *c).collect();
    let missing: Vec<&str> = rule_docs()
        .iter()
        .map(|d| d.code)
        .filter(|c| !covered.contains(c) && !["CX002", "CX003"].contains(c))
        .collect();
    assert!(missing.is_empty(), "rules without a near-miss fixture: {missing:?}");
}

#[test]
fn rule_codes_and_names_are_unique_and_well_formed() {
    let docs = rule_docs();
    for (i, d) in docs.iter().enumerate() {
        assert!(d.code.len() == 5 && d.code[..2].chars().all(|c| c.is_ascii_uppercase()), "{}", d.code);
        assert!(d.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{}", d.name);
        for e in &docs[i + 1..] {
            assert_ne!(d.code, e.code);
            assert_ne!(d.name, e.name);
        }
        assert!(!d.what.is_empty() && !d.why.is_empty() && !d.safer.is_empty() && !d.scoring.is_empty());
    }
}
