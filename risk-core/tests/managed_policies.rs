//! Every AWS managed policy (benches/corpus, 1,594 latest versions) scored against a committed
//! snapshot, so any drift in scores, categories or rules is a deliberate, reviewed change.
//! Regenerate with `UPDATE_SNAPSHOTS=1 cargo test -p risk-core --test managed_policies`.

use risk_core::{score_value, ScoreOptions};
use std::path::PathBuf;

fn snapshot_lines() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let corpus =
        std::fs::read_to_string(root.join("benches/corpus/aws-managed-policies.jsonl")).expect("managed-policy corpus");
    let mut out = Vec::new();
    for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("corpus line is JSON");
        let name = v["name"].as_str().expect("name").to_string();
        let r = score_value(&v["document"], &ScoreOptions::default())
            .unwrap_or_else(|e| panic!("{name} does not score: {e}"));
        let cats: Vec<&str> = r.categories.keys().map(String::as_str).collect();
        let mut rules: Vec<String> = r.findings.iter().map(|f| format!("{}={}", f.rule, f.score)).collect();
        rules.sort();
        rules.dedup();
        let row = format!("{name}\t{}\t{}\t{}\t{}", r.score, r.tier, cats.join(","), rules.join(","));
        out.push((name, row));
    }
    out
}

#[test]
fn managed_policies_match_snapshot() {
    let rows = snapshot_lines();
    assert_eq!(rows.len(), 1594, "the corpus should hold the 1,594 latest managed policies");
    let text: String = std::iter::once("# name\tscore\ttier\tcategories\trules (code=score)\n".to_string())
        .chain(rows.iter().map(|(_, r)| format!("{r}\n")))
        .collect();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/managed-policies.tsv");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &text).expect("write snapshot");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != text {
        let old: std::collections::BTreeMap<&str, &str> =
            committed.lines().skip(1).filter_map(|l| l.split_once('\t')).collect();
        let changed: Vec<String> = rows
            .iter()
            .filter(|(n, r)| old.get(n.as_str()).map(|o| format!("{n}\t{o}")) != Some(r.clone()))
            .take(20)
            .map(|(n, r)| {
                format!(
                    "  {n}: was `{}`, now `{}`",
                    old.get(n.as_str()).unwrap_or(&"(absent)"),
                    r.split_once('\t').map(|x| x.1).unwrap_or("")
                )
            })
            .collect();
        panic!(
            "managed-policy scores drifted from tests/snapshots/managed-policies.tsv (first {} shown):\n{}\nIf the change is deliberate, regenerate with: UPDATE_SNAPSHOTS=1 cargo test -p risk-core --test managed_policies",
            changed.len(),
            changed.join("\n")
        );
    }
}

#[test]
fn anchors() {
    let rows = snapshot_lines();
    let score = |name: &str| -> u8 {
        let row = &rows.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} missing")).1;
        row.split('\t').nth(1).and_then(|s| s.parse().ok()).expect("score column")
    };
    assert_eq!(score("AdministratorAccess"), 10);
    assert!(score("IAMUserChangePassword") <= 3, "IAMUserChangePassword = {}", score("IAMUserChangePassword"));
    assert!(score("PowerUserAccess") >= 8, "PowerUserAccess = {}", score("PowerUserAccess"));
    assert!(score("IAMFullAccess") >= 9, "IAMFullAccess = {}", score("IAMFullAccess"));
    assert!(score("AWSLambdaBasicExecutionRole") <= 3);
    assert!(score("AmazonS3ReadOnlyAccess") <= 6, "reading every bucket is high, but not more");
}
