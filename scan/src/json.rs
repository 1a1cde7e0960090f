//! A scan's JSON output (v1): per-policy results, errors, unresolved constructs, totals and
//! the gate, kept exact (no escaping: serde escapes what JSON needs). Written here once for
//! every surface — the CLI's `--format json`, Python's `scan()`, the API's `POST
//! /api/v1/scan` — so they are byte-identical; the CLI's human, Markdown, GitHub and SARIF
//! renderings are in its `render` and `sarif` modules.

use crate::{Entry, ScanRun, Status, Unresolved};
use serde_json::{json, Value};

/// Totals over the whole run.
pub fn totals(run: &ScanRun) -> Value {
    let current: Vec<&Entry> = run.entries.iter().filter(|e| e.report.is_some()).collect();
    let mut by_tier = serde_json::Map::new();
    for t in ["low", "medium", "high"] {
        let n = current.iter().filter(|e| e.score().is_some_and(|s| risk_core::score::tier(s) == t)).count();
        by_tier.insert(t.into(), json!(n));
    }
    let mut v = json!({
        "files_scanned": run.files_scanned,
        "files_with_policies": run.files_with_policies,
        "policies": current.len(),
        "errors": run.errors.len(),
        "unresolved": run.unresolved.len(),
        "max_score": current.iter().filter_map(|e| e.score()).max(),
        "findings": current.iter().filter_map(|e| e.report.as_ref()).map(|r| r.findings.len()).sum::<usize>(),
        "by_tier": by_tier,
    });
    if run.compared() {
        let changes: Vec<_> = run.entries.iter().filter_map(|e| e.change.as_ref()).collect();
        let count = |s: Status| changes.iter().filter(|c| c.status == s).count();
        let changed: Vec<_> = changes.iter().filter(|c| c.status != Status::Unchanged).collect();
        v["added"] = json!(count(Status::Added));
        v["modified"] = json!(count(Status::Modified));
        v["removed"] = json!(count(Status::Removed));
        v["unchanged"] = json!(count(Status::Unchanged));
        v["max_risk_delta"] = json!(changed.iter().map(|c| c.risk_delta).max().unwrap_or(0));
        v["risk_delta_total"] = json!(changed.iter().map(|c| c.risk_delta).sum::<i16>());
        v["new_findings"] = json!(changed.iter().map(|c| c.new_findings.len()).sum::<usize>());
        v["resolved_findings"] = json!(changed.iter().map(|c| c.resolved_findings.len()).sum::<usize>());
        v["max_changed_score"] = json!(run.entries.iter().filter(|e| e.is_relevant()).filter_map(|e| e.score()).max());
    }
    v
}

/// One policy in the JSON output: where it is, its v1 result, and with a base its change
/// (the per-policy keys `status`, `old_score`, `new_score`, `risk_delta`, `added_actions`,
/// `new_findings`, `resolved_findings`, …). Serialized directly: a scan can be tens of MB.
#[derive(serde::Serialize)]
struct EntryOut<'a> {
    file: &'a str,
    line: usize,
    address: &'a str,
    principal: Option<&'a str>,
    source: crate::SourceKind,
    statement_lines: &'a [usize],
    notes: &'a [String],
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    change: Option<&'a crate::Change>,
    result: Option<&'a risk_core::Report>,
}

#[derive(serde::Serialize)]
struct ScanOut<'a> {
    api_version: &'a str,
    kind: &'a str,
    base: Option<Value>,
    threshold: Option<u8>,
    results: Vec<EntryOut<'a>>,
    errors: &'a [crate::FileError],
    unresolved: &'a [Unresolved],
    totals: Value,
    gate: &'a crate::Gate,
    versions: risk_core::output::v1::Versions,
}

/// `{"api_version": "v1", "kind": "scan", "results": [...], "errors": [...], "unresolved": [...],
/// "totals": {...}}`, written straight to `w`: for a large export the text is several times
/// the input, and need not be held in memory as well.
pub fn write_json(run: &ScanRun, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let out = ScanOut {
        api_version: risk_core::output::v1::API_VERSION,
        kind: "scan",
        base: run.base.as_ref().map(|(r, c)| json!({"ref": r, "commit": c})),
        threshold: run.threshold,
        results: run
            .entries
            .iter()
            .map(|e| EntryOut {
                file: &e.uri,
                line: e.found.line,
                address: &e.found.address,
                principal: e.found.principal.as_deref(),
                source: e.source,
                statement_lines: &e.found.statement_lines,
                notes: &e.found.notes,
                change: e.change.as_ref(),
                result: e.report.as_ref(),
            })
            .collect(),
        errors: &run.errors,
        unresolved: &run.unresolved,
        totals: totals(run),
        gate: &run.gate,
        versions: risk_core::versions(),
    };
    serde_json::to_writer_pretty(&mut *w, &out)?;
    w.write_all(b"\n")
}

/// [`write_json`] into a byte vector.
pub fn to_json(run: &ScanRun) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    write_json(run, &mut out)?;
    Ok(out)
}
