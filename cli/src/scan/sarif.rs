//! SARIF 2.1.0 for a scan, as GitHub code scanning accepts it: rule metadata with help and
//! links, one result per finding at its file and statement line, levels from the score, a
//! `security-severity`, and partial fingerprints that survive unrelated edits to the file.
//!
//! With a base, `baselineState` says whether a finding is new; files that could not be
//! scanned are tool execution notifications rather than results. A policy-bearing construct
//! that could not be resolved is a result of level `note` under the rule `unresolved-policy`.
//! Message texts are escaped with [`crate::text::visible`]: code scanning shows them to people.

use super::{Entry, ScanRun, Unresolved};
use crate::text::visible;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// A URI reference for a relative path: segments percent-encoded, `/` kept.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.replace('\\', "/").bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// FNV-1a, 64 bits: short, stable fingerprints without a hashing dependency.
fn fnv(s: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    level: &'static str,
    message: Text,
    locations: [Location<'a>; 1],
    partial_fingerprints: Fingerprints,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline_state: Option<&'static str>,
    properties: Properties<'a>,
}

/// The rule id of [`Unresolved`] results.
pub const UNRESOLVED_RULE: &str = "unresolved-policy";

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    physical_location: Physical<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<Logical<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Physical<'a> {
    artifact_location: Artifact<'a>,
    region: Region,
}

#[derive(Serialize)]
struct Artifact<'a> {
    uri: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Logical<'a> {
    fully_qualified_name: &'a str,
    kind: &'static str,
}

#[derive(Serialize)]
struct Fingerprints {
    #[serde(rename = "iamRiskScore/v1")]
    v1: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Properties<'a> {
    #[serde(rename_all = "camelCase")]
    Finding {
        score: u8,
        category: &'a str,
        policy_score: u8,
        source: &'static str,
    },
    Unresolved {
        reason: &'a str,
    },
}

fn results_of<'a>(e: &'a Entry, uri: &'a str, rule_index: &HashMap<&str, usize>, out: &mut Vec<SarifResult<'a>>) {
    let Some(r) = &e.report else { return };
    let mut where_ = e.found.address.clone();
    if let Some(p) = &e.found.principal {
        where_ = if where_.is_empty() { p.clone() } else { format!("{where_} ({p})") };
    }
    let prefix = if where_.is_empty() { String::new() } else { format!("{where_}: ") };
    for f in &r.findings {
        let statement = f.sid.clone().unwrap_or_else(|| f.statement.map(|i| i.to_string()).unwrap_or_default());
        // Not the policy fingerprint or the line: an alert must stay the same alert while
        // other statements of the policy, or other parts of the file, change.
        let key = format!("{}|{}|{}|{}|{}", f.rule, e.uri, e.found.address, statement, f.actions.join(","));
        let baseline_state =
            e.change.as_ref().map(|c| if c.new_findings.iter().any(|n| n == f) { "new" } else { "unchanged" });
        out.push(SarifResult {
            rule_id: &f.rule,
            rule_index: rule_index.get(f.rule.as_str()).copied(),
            level: crate::sarif::level(f.score),
            message: Text {
                text: visible(&format!("{prefix}{} (score {}/10). {}", f.message, f.score, f.suggestion)).into_owned(),
            },
            locations: [Location {
                physical_location: Physical {
                    artifact_location: Artifact { uri },
                    region: Region { start_line: e.line_of(f).max(1) },
                },
                logical_locations: if e.found.address.is_empty() {
                    Vec::new()
                } else {
                    vec![Logical { fully_qualified_name: &e.found.address, kind: "resource" }]
                },
            }],
            partial_fingerprints: Fingerprints { v1: fnv(&key) },
            baseline_state,
            properties: Properties::Finding {
                score: f.score,
                category: &f.category,
                policy_score: r.score,
                source: e.source.as_str(),
            },
        });
    }
}

fn unresolved_result<'a>(u: &'a Unresolved, uri: &'a str, rule_index: usize) -> SarifResult<'a> {
    SarifResult {
        rule_id: UNRESOLVED_RULE,
        rule_index: Some(rule_index),
        level: "note",
        message: Text { text: visible(&format!("{}: not scored: {}", u.address, u.reason)).into_owned() },
        locations: [Location {
            physical_location: Physical {
                artifact_location: Artifact { uri },
                region: Region { start_line: u.line.max(1) },
            },
            logical_locations: if u.address.is_empty() {
                Vec::new()
            } else {
                vec![Logical { fully_qualified_name: &u.address, kind: "resource" }]
            },
        }],
        // The line is left out, as for findings: the same construct stays the same alert.
        partial_fingerprints: Fingerprints { v1: fnv(&format!("{UNRESOLVED_RULE}|{}|{}", u.file, u.address)) },
        baseline_state: None,
        properties: Properties::Unresolved { reason: &u.reason },
    }
}

/// The rule descriptor of [`UNRESOLVED_RULE`]: not an engine rule, so no score or
/// `security-severity` (code scanning would rank it as a vulnerability).
fn unresolved_rule() -> Value {
    let text = "A policy-bearing construct (a policy given by a variable, a module output, a file outside the \
                repository, a value known only after apply, a managed policy missing from an export) that scan \
                found but could not turn into a policy document, so it is not scored.";
    json!({
        "id": UNRESOLVED_RULE,
        "name": "unresolved-policy",
        "shortDescription": {"text": "A policy scan found but could not resolve, so it is not scored"},
        "fullDescription": {"text": text},
        "help": {
            "text": format!("{text}\n\nReview it by hand, or give scan the resolved form: a Terraform plan (`terraform show -json`) instead of the HCL, the file the policy is read from, or a complete authorization-details export."),
            "markdown": format!("{text}\n\nReview it by hand, or give scan the resolved form: a Terraform plan (`terraform show -json`) instead of the HCL, the file the policy is read from, or a complete authorization-details export.")
        },
        "helpUri": "https://github.com/iam-risk-score/iam-risk-score/blob/main/docs/scan.md#unresolved",
        "defaultConfiguration": {"level": "note"},
        "properties": {"tags": ["iam"]}
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Value,
    invocations: Value,
    artifacts: Vec<Value>,
    results: Vec<SarifResult<'a>>,
    properties: Value,
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'a str,
    version: &'a str,
    runs: [Run<'a>; 1],
}

/// The SARIF log, written straight to `w` (see [`super::output::write_json`]).
pub fn write_sarif(run: &ScanRun, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let docs = risk_core::explain::rule_docs();
    let mut rules = crate::sarif::rules(&docs);
    let rule_index: HashMap<&str, usize> = docs.iter().enumerate().map(|(i, d)| (d.code, i)).collect();
    let uris: Vec<String> = run.entries.iter().map(|e| uri(&e.uri)).collect();
    let mut results = Vec::new();
    for (e, u) in run.entries.iter().zip(&uris) {
        results_of(e, u, &rule_index, &mut results);
    }
    let unresolved_uris: Vec<String> = run.unresolved.iter().map(|u| uri(&u.file)).collect();
    if !run.unresolved.is_empty() {
        rules.push(unresolved_rule());
        let index = rules.len() - 1;
        results.extend(run.unresolved.iter().zip(&unresolved_uris).map(|(u, uri)| unresolved_result(u, uri, index)));
    }
    let mut seen = std::collections::HashSet::new();
    let artifacts: Vec<Value> = run
        .entries
        .iter()
        .zip(&uris)
        .filter(|(e, u)| e.report.is_some() && seen.insert(u.as_str()))
        .map(|(_, u)| json!({"location": {"uri": u}}))
        .collect();
    let notifications: Vec<Value> = run
        .errors
        .iter()
        .map(|e| {
            let mut loc = json!({"physicalLocation": {"artifactLocation": {"uri": uri(&e.file)}}});
            if let Some(l) = e.line {
                loc["physicalLocation"]["region"] = json!({"startLine": l});
            }
            json!({
                "level": "error",
                "message": {"text": visible(&format!("{}{}", e.address.as_ref().map(|a| format!("{a}: ")).unwrap_or_default(), e.message))},
                "locations": [loc]
            })
        })
        .collect();
    let log = Log {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: [Run {
            tool: json!({"driver": {
                "name": "iam-risk-score",
                "version": risk_core::ENGINE_VERSION,
                "semanticVersion": risk_core::ENGINE_VERSION,
                "informationUri": "https://github.com/iam-risk-score/iam-risk-score",
                "rules": rules
            }}),
            invocations: json!([{
                "executionSuccessful": run.errors.is_empty(),
                "toolExecutionNotifications": notifications
            }]),
            artifacts,
            results,
            properties: json!({"versions": risk_core::versions()}),
        }],
    };
    serde_json::to_writer_pretty(&mut *w, &log)?;
    w.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn uris_are_encoded() {
        assert_eq!(super::uri("infra/my stack/a#b.json"), "infra/my%20stack/a%23b.json");
        assert_ne!(super::fnv("a"), super::fnv("b"));
    }
}
