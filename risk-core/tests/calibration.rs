//! Calibration fixtures (`tests/calibration/*.json`, issue 10 items 7–13): minimal reproductions
//! of public patterns (AWS IAM User Guide examples, AWS managed policies, Rhino Security Labs
//! and BishopFox iam-vulnerable paths, Cloudsplaining's lists), each attributed in its
//! `source`, with the score a security engineer expects.
//!
//! Case format: `{"item", "source", "why", "policy", "expect": {"score_min", "score_max",
//! "rules"?: ["PE003" | "PE003=7"], "absent_rules"?: [...], "categories"?: [...],
//! "absent_categories"?: [...], "message_contains"?: [...], "not_message_contains"?: [...]}}`.
//! `rules` entries with `=N` require a finding of that rule with exactly that score;
//! `message_contains` strings must each appear in some finding's message.

mod common;

use risk_core::{score_value, ScoreOptions};
use serde_json::Value;
use std::collections::BTreeMap;

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// The CLI's default `--threshold` (cli/src/lib.rs): a score at or above it fails a CI run.
pub const DEFAULT_THRESHOLD: u8 = 5;

#[test]
fn calibration_fixtures_score_as_a_security_engineer_expects() {
    let cases = common::json_cases("tests/calibration");
    assert!(cases.len() >= 20, "only {} calibration fixtures", cases.len());
    let mut per_item: BTreeMap<u64, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (name, case) in &cases {
        let item = case["item"].as_u64().unwrap_or_else(|| panic!("{name}: no item"));
        assert!(case["source"].as_str().is_some_and(|s| !s.is_empty()), "{name}: no source");
        *per_item.entry(item).or_default() += 1;
        let r = match score_value(&case["policy"], &ScoreOptions::default()) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: does not score: {e}"));
                continue;
            }
        };
        let expect = &case["expect"];
        let got: Vec<String> = r.findings.iter().map(|f| format!("{}={}", f.rule, f.score)).collect();
        let lo = expect["score_min"].as_u64().expect("score_min") as u8;
        let hi = expect["score_max"].as_u64().expect("score_max") as u8;
        if r.score < lo || r.score > hi {
            failures.push(format!("{name}: score {} not in {lo}..={hi}; findings {got:?}", r.score));
        }
        for want in strings(expect.get("rules")) {
            let ok = match want.split_once('=') {
                Some((code, s)) => got.iter().any(|g| g == &format!("{code}={s}")),
                None => r.findings.iter().any(|f| f.rule == want),
            };
            if !ok {
                failures.push(format!("{name}: expected {want}; findings {got:?}"));
            }
        }
        for code in strings(expect.get("absent_rules")) {
            if r.findings.iter().any(|f| f.rule == code) {
                failures.push(format!("{name}: {code} fired; findings {got:?}"));
            }
        }
        for c in strings(expect.get("categories")) {
            if !r.categories.contains_key(&c) {
                failures.push(format!("{name}: category {c} missing; have {:?}", r.categories.keys()));
            }
        }
        for c in strings(expect.get("absent_categories")) {
            if r.categories.contains_key(&c) {
                failures.push(format!("{name}: category {c} present"));
            }
        }
        for text in strings(expect.get("message_contains")) {
            if !r.findings.iter().any(|f| f.message.contains(&text)) {
                let msgs: Vec<&str> = r.findings.iter().map(|f| f.message.as_str()).collect();
                failures.push(format!("{name}: no finding message contains `{text}`: {msgs:?}"));
            }
        }
        for text in strings(expect.get("not_message_contains")) {
            if r.findings.iter().any(|f| f.message.contains(&text)) {
                failures.push(format!("{name}: a finding message contains `{text}`"));
            }
        }
    }
    assert!(failures.is_empty(), "{} calibration fixtures fail:\n{}", failures.len(), failures.join("\n"));
    for item in 7..=13 {
        assert!(per_item.get(&item).copied().unwrap_or(0) >= 2, "item {item} has fewer than 2 fixtures: {per_item:?}");
    }
}

/// "Below the default threshold" means exactly that: every fixture that says so in its `why`
/// also sets `score_max` below the CLI default.
#[test]
fn below_threshold_fixtures_use_the_cli_default() {
    for (name, case) in common::json_cases("tests/calibration") {
        if case["why"].as_str().is_some_and(|w| w.contains("below the default threshold")) {
            let hi = case["expect"]["score_max"].as_u64().expect("score_max") as u8;
            assert!(
                hi < DEFAULT_THRESHOLD,
                "{name}: score_max {hi} is not below the default threshold {DEFAULT_THRESHOLD}"
            );
        }
    }
}
