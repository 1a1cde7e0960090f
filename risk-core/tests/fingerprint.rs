//! Fingerprints agree with the predecessor's `sha256(json.dumps(policy, sort_keys=True,
//! separators=(",", ":")))`, including floats that only an exact parser reads right.

use risk_core::{score_json, ScoreOptions};

#[test]
fn float_conditions_are_read_exactly() {
    // Fingerprint computed by iam-risk-score 0.1.0 (Python) for this exact text.
    let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":0.9565758222131459}}}]}"#;
    let r = score_json(text, &ScoreOptions::default()).expect("scores");
    assert_eq!(r.policy_fingerprint, "sha256:5246a794903417c6d5de596851137e6b7b4913dfdeee593c4c99be43ae33912b");
    let echoed = serde_json::to_string(&r.findings.iter().find_map(|f| f.conditions.clone())).unwrap_or_default();
    assert!(echoed.contains("0.9565758222131459") || r.findings.iter().all(|f| f.conditions.is_none()), "{echoed}");
}
