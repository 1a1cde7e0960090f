//! The adversarial corpus (`tests/adversarial/*.json`): policies written to make the engine
//! under-score — a Deny, a Principal, a condition or a partition hiding a grant — each with
//! the score band, rules or error a security engineer expects. Controls (the same shape done
//! right) sit beside them so the fixes cannot simply over-score everything.
//!
//! Case format: `{"class", "why", "policy_type"?, "policy", "expect": {"score_min",
//! "score_max", "rules"?} | {"error"}}`.

mod common;

use risk_core::{score_value, PolicyType, ScoreOptions};
use serde_json::Value;
use std::collections::BTreeMap;

fn cases() -> Vec<(String, Value)> {
    common::json_cases("tests/adversarial")
}

#[test]
fn adversarial_policies_score_as_a_security_engineer_expects() {
    let cases = cases();
    assert!(cases.len() >= 40, "the adversarial corpus has only {} cases", cases.len());
    let mut per_class: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (name, case) in &cases {
        *per_class.entry(case["class"].as_str().unwrap_or("?").to_string()).or_default() += 1;
        let options = ScoreOptions {
            policy_type: case.get("policy_type").and_then(Value::as_str).and_then(PolicyType::parse),
            ..Default::default()
        };
        let expect = &case["expect"];
        let result = score_value(&case["policy"], &options);
        if let Some(err) = expect.get("error").and_then(Value::as_str) {
            match result {
                Err(e) if e.to_string().contains(err) => {}
                Err(e) => failures.push(format!("{name}: error `{e}` does not contain `{err}`")),
                Ok(r) => failures.push(format!("{name}: expected an error containing `{err}`, scored {}", r.score)),
            }
            continue;
        }
        let report = match result {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: does not score: {e}"));
                continue;
            }
        };
        let lo = expect["score_min"].as_u64().expect("score_min") as u8;
        let hi = expect["score_max"].as_u64().expect("score_max") as u8;
        let got: Vec<String> = report.findings.iter().map(|f| format!("{}={}", f.rule, f.score)).collect();
        if report.score < lo || report.score > hi {
            failures
                .push(format!("{name}: score {} not in {lo}..={hi} ({}); findings {got:?}", report.score, case["why"]));
        }
        for rule in expect.get("rules").and_then(Value::as_array).into_iter().flatten() {
            let rule = rule.as_str().expect("rule code");
            if !report.findings.iter().any(|f| f.rule == rule) {
                failures.push(format!("{name}: rule {rule} did not fire; findings {got:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} adversarial cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Every class the issue names is represented.
    for class in ["policy-type", "deny", "condition", "partition"] {
        assert!(per_class.get(class).copied().unwrap_or(0) >= 5, "class {class} has fewer than 5 cases: {per_class:?}");
    }
}
