//! Every finding's score stays within 1..=its rule's `max_score`, the number published as the
//! rule's severity (docs, `explain`, SARIF `security-severity`). Runs every rule over the
//! hand-written corpus, the AWS managed policies and every rule's documented example, under
//! option sets that switch on the option-driven rules and force each policy type.
//! `Finding::new` clamps to max_score and debug-asserts, so in a debug build an over-score
//! panics at its source; this test is what runs every rule over real inputs to trigger it.

mod common;

use risk_core::{explain::rule_docs, rules, score_value, AccessType, PolicyType, ScoreOptions};
use serde_json::Value;
use std::path::PathBuf;

fn option_sets(all_types: bool) -> Vec<(&'static str, ScoreOptions)> {
    let everything = ScoreOptions {
        access_type: Some(AccessType::ReadOnly),
        duration_hours: Some(24 * 30),
        extra_sensitive_services: ["dynamodb", "s3", "iam", "ec2", "kms", "lambda"].map(String::from).to_vec(),
        extra_high_impact_actions: ["iam:*", "s3:*", "ec2:*", "route53:ChangeResourceRecordSets", "kms:*"]
            .map(String::from)
            .to_vec(),
        ..Default::default()
    };
    let mut sets = vec![("default", ScoreOptions::default()), ("org options, read-only", everything)];
    if all_types {
        for (name, t) in
            [("identity", PolicyType::Identity), ("resource", PolicyType::Resource), ("trust", PolicyType::Trust)]
        {
            sets.push((name, ScoreOptions { policy_type: Some(t), ..Default::default() }));
        }
    }
    sets
}

/// Score `policy` under each option set and describe every finding outside 1..=max_score.
fn check(label: &str, policy: &Value, sets: &[(&str, ScoreOptions)], failures: &mut Vec<String>) -> usize {
    let mut n = 0;
    for (set, options) in sets {
        let Ok(report) = score_value(policy, options) else { continue };
        for f in report.findings {
            n += 1;
            let Some(rule) = rules::find(&f.rule) else {
                failures.push(format!("{label} [{set}]: finding names unknown rule `{}`", f.rule));
                continue;
            };
            let max = rule.meta().max_score;
            if f.score < 1 || f.score > max {
                failures.push(format!(
                    "{label} [{set}]: {} {} scored {} outside 1..={max}: {}",
                    f.rule, f.name, f.score, f.message
                ));
            }
        }
    }
    n
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn corpus_and_rule_examples_stay_within_max_score() {
    let sets = option_sets(true);
    let mut failures = Vec::new();
    let mut findings = 0;
    // The hand-written corpus and the adversarial corpus.
    for dir in ["tests/corpus", "tests/adversarial"] {
        for (name, case) in common::json_cases(dir) {
            findings += check(&format!("{dir}/{name}"), &case["policy"], &sets, &mut failures);
        }
    }
    for d in rule_docs() {
        let policy: Value = serde_json::from_str(d.example).expect("rule example is JSON");
        findings += check(&format!("{} example", d.code), &policy, &sets, &mut failures);
    }
    assert!(findings > 100, "only {findings} findings: the inputs no longer exercise the rules");
    assert!(failures.is_empty(), "{} findings exceed their rule's range:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn managed_policies_stay_within_max_score() {
    let sets = option_sets(false);
    let corpus = std::fs::read_to_string(root().join("../benches/corpus/aws-managed-policies.jsonl"))
        .expect("managed-policy corpus");
    let mut failures = Vec::new();
    let mut findings = 0;
    for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("corpus line is JSON");
        let name = v["name"].as_str().unwrap_or("?").to_string();
        findings += check(&name, &v["document"], &sets, &mut failures);
    }
    assert!(findings > 1000, "only {findings} findings over the managed policies");
    assert!(failures.is_empty(), "{} findings exceed their rule's range:\n{}", failures.len(), failures.join("\n"));
}
