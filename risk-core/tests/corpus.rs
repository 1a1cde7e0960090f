//! The hand-written corpus (`tests/corpus/*.json`): each policy's score band and categories are
//! the engine's behavioural spec. Every other surface (CLI, Python, WASM, HTTP) runs the same files.

mod common;

use risk_core::{score_value, ScoreOptions};
use serde_json::Value;

fn corpus() -> Vec<(String, Value)> {
    common::json_cases("tests/corpus")
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

#[test]
fn corpus_policies_score_within_their_bands() {
    let cases = corpus();
    assert!(cases.len() >= 45, "corpus has only {} policies", cases.len());
    let mut failures = Vec::new();
    for (name, case) in &cases {
        let expect = &case["expect"];
        let report = match score_value(&case["policy"], &ScoreOptions::default()) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: does not score: {e}"));
                continue;
            }
        };
        let (lo, hi) = (expect["score_min"].as_u64().unwrap() as u8, expect["score_max"].as_u64().unwrap() as u8);
        if report.score < lo || report.score > hi {
            failures.push(format!(
                "{name}: score {} not in {lo}..={hi}; findings: {:?}",
                report.score,
                report.findings.iter().map(|f| format!("{}={} {}", f.rule, f.score, f.message)).collect::<Vec<_>>()
            ));
        }
        for c in strings(expect.get("categories")) {
            if !report.categories.contains_key(&c) {
                failures.push(format!(
                    "{name}: category `{c}` missing; got {:?}",
                    report.categories.keys().collect::<Vec<_>>()
                ));
            }
        }
        for c in strings(expect.get("absent_categories")) {
            if report.categories.contains_key(&c) {
                failures.push(format!("{name}: category `{c}` present but must not be"));
            }
        }
        for r in strings(expect.get("rules")) {
            if !report.findings.iter().any(|f| f.rule == r) {
                failures.push(format!("{name}: rule `{r}` did not fire"));
            }
        }
    }
    assert!(failures.is_empty(), "{} corpus failures:\n{}", failures.len(), failures.join("\n"));
}
