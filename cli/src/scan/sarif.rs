//! SARIF 2.1.0 for a scan, as GitHub code scanning accepts it: rule metadata with help and
//! links, one result per finding at its file and statement line, levels from the score, a
//! `security-severity`, and partial fingerprints that survive unrelated edits to the file.
//!
//! With a base, `baselineState` says whether a finding is new; files that could not be
//! scanned are tool execution notifications rather than results.

use super::{Entry, ScanRun, Status};
use serde_json::{json, Value};

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

fn results_of(e: &Entry, docs: &[risk_core::explain::RuleDoc], out: &mut Vec<Value>) {
    let Some(r) = &e.report else { return };
    for f in &r.findings {
        let line = e.line_of(f);
        let statement = f.sid.clone().unwrap_or_else(|| f.statement.map(|i| i.to_string()).unwrap_or_default());
        // Not the policy fingerprint or the line: an alert must stay the same alert while
        // other statements of the policy, or other parts of the file, change.
        let key = format!("{}|{}|{}|{}|{}", f.rule, e.uri, e.found.address, statement, f.actions.join(","));
        let mut where_ = e.found.address.clone();
        if let Some(p) = &e.found.principal {
            where_ = if where_.is_empty() { p.clone() } else { format!("{where_} ({p})") };
        }
        let prefix = if where_.is_empty() { String::new() } else { format!("{where_}: ") };
        let mut res = json!({
            "ruleId": f.rule,
            "level": crate::sarif::level(f.score),
            "message": {"text": format!("{prefix}{} (score {}/10). {}", f.message, f.score, f.suggestion)},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": uri(&e.uri)},
                    "region": {"startLine": line.max(1)}
                },
                "logicalLocations": if e.found.address.is_empty() { json!([]) } else {
                    json!([{"fullyQualifiedName": e.found.address, "kind": "resource"}])
                }
            }],
            "partialFingerprints": {"iamRiskScore/v1": fnv(&key)},
            "properties": {
                "score": f.score,
                "category": f.category,
                "policyScore": r.score,
                "source": e.source.as_str(),
            }
        });
        if let Some(i) = docs.iter().position(|d| d.code == f.rule) {
            res["ruleIndex"] = json!(i);
        }
        if let Some(c) = &e.change {
            let is_new = c.new_findings.iter().any(|n| n == f);
            res["baselineState"] = json!(match (c.status, is_new) {
                (_, true) => "new",
                (Status::Unchanged, _) => "unchanged",
                _ => "unchanged",
            });
        }
        if e.found.address.is_empty() {
            if let Some(loc) = res["locations"][0].as_object_mut() {
                loc.remove("logicalLocations");
            }
        }
        out.push(res);
    }
}

pub fn sarif(run: &ScanRun) -> String {
    let docs = risk_core::explain::rule_docs();
    let rules = crate::sarif::rules(&docs);
    let mut results = Vec::new();
    for e in &run.entries {
        results_of(e, &docs, &mut results);
    }
    let mut artifacts: Vec<String> = run.entries.iter().filter(|e| e.report.is_some()).map(|e| uri(&e.uri)).collect();
    let mut seen = std::collections::HashSet::new();
    artifacts.retain(|a| seen.insert(a.clone()));
    let notifications: Vec<Value> = run
        .errors
        .iter()
        .map(|e| {
            let mut region = json!({});
            if let Some(l) = e.line {
                region = json!({"startLine": l});
            }
            let mut loc = json!({"physicalLocation": {"artifactLocation": {"uri": uri(&e.file)}}});
            if e.line.is_some() {
                loc["physicalLocation"]["region"] = region;
            }
            json!({
                "level": "error",
                "message": {"text": format!("{}{}", e.address.as_ref().map(|a| format!("{a}: ")).unwrap_or_default(), e.message)},
                "locations": [loc]
            })
        })
        .collect();
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
            "invocations": [{
                "executionSuccessful": run.errors.is_empty(),
                "toolExecutionNotifications": notifications
            }],
            "artifacts": artifacts.iter().map(|a| json!({"location": {"uri": a}})).collect::<Vec<_>>(),
            "results": results,
            "properties": {
                "versions": risk_core::versions(),
            }
        }]
    });
    serde_json::to_string_pretty(&log).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    #[test]
    fn uris_are_encoded() {
        assert_eq!(super::uri("infra/my stack/a#b.json"), "infra/my%20stack/a%23b.json");
        assert_ne!(super::fnv("a"), super::fnv("b"));
    }
}
