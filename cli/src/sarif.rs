//! SARIF 2.1.0 for code-scanning tools (GitHub code scanning and others): the one writer for
//! every command that emits SARIF (`iam-risk-score FILE --format sarif` and `scan`).
//!
//! The writer owns what is the same for every command: the tool and driver block, the rule
//! descriptors (from the engine's rule metadata, plus [`UNRESOLVED_RULE`] when a run has such
//! results), each result's shape (rule id and index, level from the score, message escaped
//! with [`crate::text::visible`] because code scanning shows it to people, location, partial
//! fingerprint, properties), artifacts and tool execution notifications. A command only says
//! what its results are: [`score`] and [`scan`] below.
//!
//! The two commands' logs keep their historic layout, which consumers may compare byte for byte:
//! the scorer's keys are in alphabetical order ([`KeyOrder::Alphabetical`]), a scan's are
//! streamed in the order SARIF documents them ([`KeyOrder::Declared`]) and add invocations and
//! run properties.

use crate::scan::{Entry, ScanRun, Unresolved};
use crate::text::visible;
use crate::Outcome;
use risk_core::output::v1::Finding;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// The level of a result (and a rule's default) for a score: `note`, `warning`, `error`.
pub(crate) fn level(score: u8) -> &'static str {
    match score {
        0..=3 => "note",
        4..=5 => "warning",
        _ => "error",
    }
}

/// The rule id of results for a policy-bearing construct `scan` found but could not resolve.
pub const UNRESOLVED_RULE: &str = "unresolved-policy";

/// Rule metadata (help text, links, default level, security severity) of every engine rule.
fn rules(docs: &[risk_core::explain::RuleDoc]) -> Vec<Value> {
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

/// The rule descriptor of [`UNRESOLVED_RULE`]: not an engine rule, so no score or
/// `security-severity` (code scanning would rank it as a vulnerability).
fn unresolved_rule() -> Value {
    let text = "A policy-bearing construct (a policy given by a variable, a module output, a file outside the \
                repository, a value known only after apply, a managed policy missing from an export) that scan \
                found but could not turn into a policy document, so it is not scored.";
    let help = format!(
        "{text}\n\nReview it by hand, or give scan the resolved form: a Terraform plan (`terraform show -json`) \
         instead of the HCL, the file the policy is read from, or a complete authorization-details export."
    );
    json!({
        "id": UNRESOLVED_RULE,
        "name": "unresolved-policy",
        "shortDescription": {"text": "A policy scan found but could not resolve, so it is not scored"},
        "fullDescription": {"text": text},
        "help": {"text": help, "markdown": help},
        "helpUri": "https://github.com/iam-risk-score/iam-risk-score/blob/main/docs/scan.md#unresolved",
        "defaultConfiguration": {"level": "note"},
        "properties": {"tags": ["iam"]}
    })
}

/// The `tool` object: the driver with its rules.
fn tool(rules: Vec<Value>) -> Value {
    json!({"driver": {
        "name": "iam-risk-score",
        "version": risk_core::ENGINE_VERSION,
        "semanticVersion": risk_core::ENGINE_VERSION,
        "informationUri": "https://github.com/iam-risk-score/iam-risk-score",
        "rules": rules
    }})
}

/// A URI reference for a relative path: segments percent-encoded, `/` kept.
fn uri_reference(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.replace('\\', "/").bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A short, stable fingerprint of `key` (FNV-1a, 64 bits, without a hashing dependency).
fn hashed(key: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

/// Where a result points.
pub(crate) struct Place<'a> {
    /// The artifact's URI, as the command writes it.
    pub uri: &'a str,
    /// 1-based; SARIF has no line 0, so a 0 is written as 1.
    pub line: usize,
    /// The resource address, the result's logical location; empty for none.
    pub address: &'a str,
}

/// One engine finding, as a command supplies it (`'c`: the context, needed only while the
/// message is written).
pub(crate) struct FindingResult<'a, 'c> {
    pub finding: &'a Finding,
    /// The score of the policy the finding is in.
    pub policy_score: u8,
    pub place: Place<'a>,
    /// Said before the message (which resource, whose permissions), or empty.
    pub context: &'c str,
    /// `partialFingerprints["iamRiskScore/v1"]`: what keeps the alert the same alert.
    pub fingerprint: String,
    /// Where the policy came from (`properties.source`), when the command knows.
    pub source: Option<&'static str>,
    /// `new` or `unchanged` against a base.
    pub baseline_state: Option<&'static str>,
}

/// One result of the log.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SarifResult<'a> {
    rule_id: &'a str,
    /// Filled in by [`write`], from the rules the log describes.
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

impl<'a> SarifResult<'a> {
    fn new(
        rule_id: &'a str,
        level: &'static str,
        message: &str,
        place: Place<'a>,
        fingerprint: String,
        properties: Properties<'a>,
    ) -> Self {
        SarifResult {
            rule_id,
            rule_index: None,
            level,
            message: Text { text: visible(message).into_owned() },
            locations: [Location {
                physical_location: Physical {
                    artifact_location: Artifact { uri: place.uri },
                    region: Region { start_line: place.line.max(1) },
                },
                logical_locations: if place.address.is_empty() {
                    Vec::new()
                } else {
                    vec![Logical { fully_qualified_name: place.address, kind: "resource" }]
                },
            }],
            partial_fingerprints: Fingerprints { v1: fingerprint },
            baseline_state: None,
            properties,
        }
    }

    /// An engine finding: its rule, a level from its score, and the message with the score and
    /// the suggested fix.
    pub(crate) fn finding(r: FindingResult<'a, '_>) -> Self {
        let f = r.finding;
        let message = format!("{}{} (score {}/10). {}", r.context, f.message, f.score, f.suggestion);
        let properties = Properties::Finding {
            score: f.score,
            category: &f.category,
            policy_score: r.policy_score,
            source: r.source,
        };
        let mut res = SarifResult::new(&f.rule, level(f.score), &message, r.place, r.fingerprint, properties);
        res.baseline_state = r.baseline_state;
        res
    }

    /// A construct found but not resolved: a `note` under [`UNRESOLVED_RULE`].
    pub(crate) fn unresolved(
        address: &'a str,
        reason: &'a str,
        uri: &'a str,
        line: usize,
        fingerprint: String,
    ) -> Self {
        let message = format!("{address}: not scored: {reason}");
        let place = Place { uri, line, address };
        SarifResult::new(UNRESOLVED_RULE, "note", &message, place, fingerprint, Properties::Unresolved { reason })
    }
}

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
        #[serde(skip_serializing_if = "Option::is_none")]
        source: Option<&'static str>,
    },
    Unresolved {
        reason: &'a str,
    },
}

/// A file that could not be read or scored: a tool execution notification, not a result.
pub(crate) struct Notification {
    pub uri: String,
    pub line: Option<usize>,
    pub message: String,
}

/// What one command's run puts in the log.
pub(crate) struct RunParts<'a> {
    pub results: Vec<SarifResult<'a>>,
    /// The files looked at, in order; repeats are dropped.
    pub artifacts: Vec<&'a str>,
    /// `Some`: an `invocations` entry with these notifications (successful when there are none).
    pub notifications: Option<Vec<Notification>>,
    /// The run's `properties`, if any.
    pub properties: Option<Value>,
}

/// The order of the keys of a log's objects.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyOrder {
    /// Every object's keys sorted: the scorer's SARIF, as it has always been written.
    Alphabetical,
    /// As declared here (SARIF's documented order), streamed: a scan's SARIF, which can be large.
    Declared,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    invocations: Option<Value>,
    artifacts: Vec<Value>,
    results: Vec<SarifResult<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<Value>,
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'a str,
    version: &'a str,
    runs: [Run<'a>; 1],
}

/// Write the SARIF log of one run to `w`, followed by a newline.
pub(crate) fn write(parts: RunParts<'_>, order: KeyOrder, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let docs = risk_core::explain::rule_docs();
    let mut rules = rules(&docs);
    let mut ids: Vec<&str> = docs.iter().map(|d| d.code).collect();
    let mut results = parts.results;
    if results.iter().any(|r| r.rule_id == UNRESOLVED_RULE) {
        rules.push(unresolved_rule());
        ids.push(UNRESOLVED_RULE);
    }
    let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    for r in &mut results {
        r.rule_index = index.get(r.rule_id).copied();
    }
    let mut seen = HashSet::new();
    let artifacts: Vec<Value> =
        parts.artifacts.into_iter().filter(|u| seen.insert(*u)).map(|u| json!({"location": {"uri": u}})).collect();
    let invocations = parts.notifications.map(|notes| {
        let successful = notes.is_empty();
        let notes: Vec<Value> = notes
            .into_iter()
            .map(|n| {
                let mut loc = json!({"physicalLocation": {"artifactLocation": {"uri": n.uri}}});
                if let Some(l) = n.line {
                    loc["physicalLocation"]["region"] = json!({"startLine": l});
                }
                json!({"level": "error", "message": {"text": visible(&n.message)}, "locations": [loc]})
            })
            .collect();
        json!([{"executionSuccessful": successful, "toolExecutionNotifications": notes}])
    });
    let log = Log {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: [Run { tool: tool(rules), invocations, artifacts, results, properties: parts.properties }],
    };
    match order {
        KeyOrder::Declared => serde_json::to_writer_pretty(&mut *w, &log)?,
        KeyOrder::Alphabetical => serde_json::to_writer_pretty(&mut *w, &serde_json::to_value(&log)?)?,
    }
    w.write_all(b"\n")
}

/// The scorer's SARIF (`iam-risk-score FILE… --format sarif`): a result per finding at its
/// statement's line, an artifact per scored file.
pub fn score(outcomes: &[Outcome]) -> String {
    let scored: Vec<(&str, &crate::Scored)> =
        outcomes.iter().filter_map(|o| o.result.as_ref().ok().map(|s| (o.label.trim_start_matches("./"), s))).collect();
    let mut results = Vec::new();
    for (uri, s) in &scored {
        for f in &s.report.findings {
            let statement = f.statement.map(|i| i as i64).unwrap_or(-1);
            results.push(SarifResult::finding(FindingResult {
                finding: f,
                policy_score: s.report.score,
                place: Place {
                    uri,
                    line: f.statement.and_then(|i| s.statement_lines.get(i)).copied().unwrap_or(1),
                    address: "",
                },
                context: "",
                fingerprint: format!("{}:{}:{statement}:{}", f.rule, s.report.policy_fingerprint, f.actions.join(",")),
                source: None,
                baseline_state: None,
            }));
        }
    }
    let parts = RunParts {
        results,
        artifacts: scored.iter().map(|(uri, _)| *uri).collect(),
        notifications: None,
        properties: None,
    };
    let mut out = Vec::new();
    let _ = write(parts, KeyOrder::Alphabetical, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// The results of one scanned policy: a result per finding at its file and statement line.
/// With a base, `baselineState` says whether a finding is new.
fn entry_results<'a>(e: &'a Entry, uri: &'a str, out: &mut Vec<SarifResult<'a>>) {
    let Some(r) = &e.report else { return };
    let mut where_ = e.found.address.clone();
    if let Some(p) = &e.found.principal {
        where_ = if where_.is_empty() { p.clone() } else { format!("{where_} ({p})") };
    }
    let context = if where_.is_empty() { String::new() } else { format!("{where_}: ") };
    for f in &r.findings {
        let statement = f.sid.clone().unwrap_or_else(|| f.statement.map(|i| i.to_string()).unwrap_or_default());
        // Not the policy fingerprint or the line: an alert must stay the same alert while
        // other statements of the policy, or other parts of the file, change.
        let key = format!("{}|{}|{}|{}|{}", f.rule, e.uri, e.found.address, statement, f.actions.join(","));
        out.push(SarifResult::finding(FindingResult {
            finding: f,
            policy_score: r.score,
            place: Place { uri, line: e.line_of(f), address: &e.found.address },
            context: &context,
            fingerprint: hashed(&key),
            source: Some(e.source.as_str()),
            baseline_state: e.change.as_ref().map(|c| {
                if c.new_findings.iter().any(|n| n == f) {
                    "new"
                } else {
                    "unchanged"
                }
            }),
        }));
    }
}

fn unresolved_result<'a>(u: &'a Unresolved, uri: &'a str) -> SarifResult<'a> {
    // The line is left out of the fingerprint, as for findings: the same construct stays the same alert.
    let fingerprint = hashed(&format!("{UNRESOLVED_RULE}|{}|{}", u.file, u.address));
    SarifResult::unresolved(&u.address, &u.reason, uri, u.line, fingerprint)
}

/// A scan's SARIF, as GitHub code scanning accepts it, written straight to `w` (see
/// [`risk_scan::json::write_json`]): partial fingerprints that survive unrelated edits to the
/// file; files that could not be scanned are tool execution notifications; constructs that
/// could not be resolved are `note` results under [`UNRESOLVED_RULE`].
pub fn scan(run: &ScanRun, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let uris: Vec<String> = run.entries.iter().map(|e| uri_reference(&e.uri)).collect();
    let unresolved_uris: Vec<String> = run.unresolved.iter().map(|u| uri_reference(&u.file)).collect();
    let mut results = Vec::new();
    for (e, u) in run.entries.iter().zip(&uris) {
        entry_results(e, u, &mut results);
    }
    results.extend(run.unresolved.iter().zip(&unresolved_uris).map(|(u, uri)| unresolved_result(u, uri)));
    let notifications = run
        .errors
        .iter()
        .map(|e| Notification {
            uri: uri_reference(&e.file),
            line: e.line,
            message: format!("{}{}", e.address.as_ref().map(|a| format!("{a}: ")).unwrap_or_default(), e.message),
        })
        .collect();
    let parts = RunParts {
        results,
        artifacts: run.entries.iter().zip(&uris).filter(|(e, _)| e.report.is_some()).map(|(_, u)| u.as_str()).collect(),
        notifications: Some(notifications),
        properties: Some(json!({"versions": risk_core::versions()})),
    };
    write(parts, KeyOrder::Declared, w)
}

#[cfg(test)]
mod tests {
    #[test]
    fn uris_are_encoded() {
        assert_eq!(super::uri_reference("infra/my stack/a#b.json"), "infra/my%20stack/a%23b.json");
        assert_ne!(super::hashed("a"), super::hashed("b"));
    }
}
