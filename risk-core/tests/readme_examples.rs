//! The README's table of predecessor failures, checked: every `iam-risk-score
//! examples/predecessor/FILE.json` it names scores exactly the bold number on the same row, every
//! file in `examples/predecessor/` is in the table, and each file that has a corpus wrapper
//! (`tests/corpus/pred-*.json`) holds the same policy and scores inside the wrapper's band.

mod common;

use risk_core::{score_value, ScoreOptions};
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// (file under examples/predecessor/, the score the README claims) for every table row naming one.
fn readme_claims() -> Vec<(String, u8)> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let mut claims = Vec::new();
    for line in readme.lines().filter(|l| l.starts_with('|')) {
        let Some(at) = line.find("iam-risk-score examples/predecessor/") else { continue };
        let rest = &line[at + "iam-risk-score ".len()..];
        let file = rest[..rest.find('`').expect("command ends with a backtick")].to_string();
        let bold: Vec<&str> = line.split("**").collect();
        assert_eq!(bold.len(), 3, "row must have exactly one bold score: {line}");
        let score = bold[1].parse().unwrap_or_else(|e| panic!("bold `{}` is not a score ({e}): {line}", bold[1]));
        claims.push((file, score));
    }
    claims
}

fn score_of(policy: &Value) -> u8 {
    score_value(policy, &ScoreOptions::default()).expect("example scores").score
}

#[test]
fn readme_table_scores_are_what_the_engine_says() {
    let claims = readme_claims();
    assert!(claims.len() >= 5, "README names only {} examples/predecessor files", claims.len());
    let mut failures = Vec::new();
    for (file, claimed) in &claims {
        let text = std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let policy: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let got = score_of(&policy);
        if got != *claimed {
            failures.push(format!("{file}: README says {claimed}, the engine says {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_predecessor_example_is_in_the_readme_and_matches_its_corpus_wrapper() {
    let claims = readme_claims();
    let corpus = common::json_cases("tests/corpus");
    let examples = common::json_cases("../examples/predecessor");
    assert!(!examples.is_empty());
    for (name, policy) in &examples {
        let path = format!("examples/predecessor/{name}");
        assert!(claims.iter().any(|(f, _)| *f == path), "{path} is not in the README's table");
        if let Some((wrapper, case)) = corpus.iter().find(|(_, c)| c["policy"] == *policy) {
            let expect = &case["expect"];
            let (lo, hi) = (expect["score_min"].as_u64().unwrap(), expect["score_max"].as_u64().unwrap());
            let got = u64::from(score_of(policy));
            assert!((lo..=hi).contains(&got), "{path}: score {got} outside {wrapper}'s band {lo}..={hi}");
        } else {
            assert_eq!(name, "passrole-any-role-arn.json", "{path} has no corpus wrapper with the same policy");
        }
    }
}
