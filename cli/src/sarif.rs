//! SARIF 2.1.0 output for code-scanning tools (GitHub code scanning and others).

use crate::Outcome;
use serde_json::{json, Value};

pub(crate) fn level(score: u8) -> &'static str {
    match score {
        0..=3 => "note",
        4..=5 => "warning",
        _ => "error",
    }
}

/// Rule metadata (help text, links, default level, security severity), shared with `scan`.
pub(crate) fn rules(docs: &[risk_core::explain::RuleDoc]) -> Vec<Value> {
    docs
        .iter()
        .map(|d| {
            let help = format!(
                "{}\n\nWhat it flags: {}\n\nWhy it is risky: {}\n\nSafer alternative: {}\n\nScoring: {}",
                d.summary, d.what, d.why, d.safer, d.scoring
            );
            let help_md = format!(
                "**{}**\n\n### What it flags\n{}\n\n### Why it is risky\n{}\n\n### Example\n```json\n{}\n```\n\n### Safer alternative\n{}\n\n### Scoring\n{}",
                d.summary, d.what, d.why, d.example, d.safer, d.scoring
            );
            json!({
                "id": d.code,
                "name": d.name,
                "shortDescription": {"text": d.summary},
                "fullDescription": {"text": d.what},
                "help": {"text": help, "markdown": help_md},
                "helpUri": format!("https://github.com/iam-risk-score/iam-risk-score/blob/main/docs/rules.md#{}", d.code.to_ascii_lowercase()),
                "defaultConfiguration": {"level": level(d.max_score)},
                "properties": {
                    "category": d.category,
                    "tags": ["security", "iam", d.category],
                    "security-severity": format!("{:.1}", d.max_score as f64),
                }
            })
        })
        .collect()
}

pub fn sarif(outcomes: &[Outcome]) -> String {
    let docs = risk_core::explain::rule_docs();
    let rules = rules(&docs);
    let mut results = Vec::new();
    let mut artifacts: Vec<String> = Vec::new();
    for o in outcomes {
        let Ok(s) = &o.result else { continue };
        let uri = o.label.trim_start_matches("./").to_string();
        if !artifacts.contains(&uri) {
            artifacts.push(uri.clone());
        }
        for f in &s.report.findings {
            let rule_index = docs.iter().position(|d| d.code == f.rule);
            let line = f.statement.and_then(|i| s.statement_lines.get(i)).copied().unwrap_or(1);
            let mut res = json!({
                "ruleId": f.rule,
                "level": level(f.score),
                "message": {"text": crate::text::visible(&format!("{} (score {}/10). {}", f.message, f.score, f.suggestion))},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": {"startLine": line}
                    }
                }],
                "partialFingerprints": {
                    "iamRiskScore/v1": format!("{}:{}:{}:{}", f.rule, s.report.policy_fingerprint, f.statement.map(|i| i as i64).unwrap_or(-1), f.actions.join(","))
                },
                "properties": {"score": f.score, "category": f.category, "policyScore": s.report.score}
            });
            if let Some(i) = rule_index {
                res["ruleIndex"] = json!(i);
            }
            results.push(res);
        }
    }
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "iam-risk-score",
                "version": risk_core::ENGINE_VERSION,
                "semanticVersion": risk_core::ENGINE_VERSION,
                "informationUri": "https://github.com/iam-risk-score/iam-risk-score",
                "rules": rules
            }},
            "artifacts": artifacts.iter().map(|a| json!({"location": {"uri": a}})).collect::<Vec<_>>(),
            "results": results
        }]
    });
    serde_json::to_string_pretty(&log).unwrap_or_default() + "\n"
}
