//! GitHub workflow commands (`::error file=…,line=…,title=…::message`): annotations for the
//! scorer and for `scan`, and their step outputs for `$GITHUB_OUTPUT`. Every annotation is
//! written by [`annotation`], which escapes its properties and message.

use super::max_score;
use crate::scan::{json::totals, ScanRun, Status};
use crate::text::{gh_data, gh_prop};
use crate::Outcome;
use risk_core::output::v1::Finding;
use serde_json::Value;
use std::fmt::Write;

/// One workflow command: `::LEVEL file=FILE,line=LINE,title=TITLE::MESSAGE`, each property
/// only when given, all of them escaped.
fn annotation(out: &mut String, level: &str, file: Option<&str>, line: Option<usize>, title: &str, message: &str) {
    let mut props = Vec::with_capacity(3);
    if let Some(f) = file {
        props.push(format!("file={}", gh_prop(f)));
    }
    if let Some(l) = line {
        props.push(format!("line={l}"));
    }
    props.push(format!("title={}", gh_prop(title)));
    let _ = writeln!(out, "::{level} {}::{}", props.join(","), gh_data(message));
}

/// The annotation level of a tier: `notice` (low), `warning` (medium), `error` (high).
fn tier_level(tier: &str) -> &'static str {
    match tier {
        "low" => "notice",
        "medium" => "warning",
        _ => "error",
    }
}

/// The annotation level of a finding's score, as of its tier.
fn level(score: u8) -> &'static str {
    tier_level(risk_core::score::tier(score))
}

/// `iam-risk-score FILE… --format github`: per policy its score, and each finding of score 4
/// and more at its statement's line; step outputs (predecessor-compatible for one policy) of
/// the riskiest policy.
pub fn score(outcomes: &[Outcome], threshold: u8) -> String {
    let mut out = String::new();
    let scored: Vec<_> = outcomes.iter().filter_map(|o| o.result.as_ref().ok().map(|s| (o, s))).collect();
    if let Ok(path) = std::env::var("GITHUB_OUTPUT") {
        let mut lines = String::new();
        if let Some(max) = scored.iter().max_by_key(|(_, s)| s.report.score) {
            let r = &max.1.report;
            let _ = writeln!(lines, "score={}", r.score);
            let _ = writeln!(lines, "tier={}", r.tier);
            let _ = writeln!(lines, "would_auto_approve={}", r.score < threshold);
            let _ = writeln!(lines, "policy_fingerprint={}", r.policy_fingerprint);
            let _ = writeln!(lines, "findings={}", scored.iter().map(|(_, s)| s.report.findings.len()).sum::<usize>());
        }
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).create(true).open(&path) {
            let _ = std::io::Write::write_all(&mut f, lines.as_bytes());
        }
    }
    for o in outcomes {
        let file = (o.label != "-").then_some(o.label.as_str());
        match &o.result {
            Err(e) => annotation(&mut out, "error", file, None, "IAM policy could not be scored", &e.message),
            Ok(s) => {
                let r = &s.report;
                let factors = if r.factors.is_empty() { "no factors".to_string() } else { r.factors.join("; ") };
                let message = format!("Score {}/10 ({}). {factors}", r.score, r.tier);
                annotation(&mut out, tier_level(&r.tier), file, None, "IAM Policy Score", &message);
                for f in r.findings.iter().filter(|f| f.score >= 4) {
                    let line = file.and(f.statement).and_then(|i| s.statement_lines.get(i)).copied();
                    let title = format!("{} {}", f.rule, f.name);
                    annotation(
                        &mut out,
                        level(f.score),
                        file,
                        line,
                        &title,
                        &format!("{} Fix: {}", f.message, f.suggestion),
                    );
                }
            }
        }
    }
    out
}

/// `scan --format github`: an annotation per (new) finding at its statement's line, one per
/// changed policy at the policy's line, one per error, a notice per unresolved construct, a
/// summary line and the gate's reasons.
pub fn scan(run: &ScanRun) -> String {
    let mut out = String::new();
    for e in &run.entries {
        let file = Some(e.uri.as_str());
        let addr = if e.found.address.is_empty() { String::new() } else { format!(" {}", e.found.address) };
        let (findings, changed): (Vec<&Finding>, bool) = match (&e.change, &e.report) {
            (Some(c), Some(_)) if matches!(c.status, Status::Added | Status::Modified) => {
                (c.new_findings.iter().collect(), true)
            }
            (Some(_), _) => continue,
            (None, Some(r)) => (r.findings.iter().filter(|f| f.score >= 4).collect(), false),
            (None, None) => continue,
        };
        if changed {
            if let Some(c) = &e.change {
                let new = c.new_score.unwrap_or(0);
                let level = if c.increased() && new >= 6 {
                    "error"
                } else if c.increased() {
                    "warning"
                } else {
                    "notice"
                };
                let old = c.old_score.map(|s| format!("{s}/10")).unwrap_or_else(|| "new".into());
                let title = format!("IAM policy risk {old} -> {new}/10 ({})", super::delta(c.risk_delta));
                let message = format!(
                    "{}{addr}: {} actions added, {} new findings, {} resolved",
                    e.file,
                    c.added_actions_total,
                    c.new_findings.len(),
                    c.resolved_findings.len()
                );
                annotation(&mut out, level, file, Some(e.found.line), &title, &message);
            }
        }
        for f in findings {
            let title = format!("{} {} ({}/10)", f.rule, f.name, f.score);
            let message = format!("{}{addr}: {} Fix: {}", e.file, f.message, f.suggestion);
            annotation(&mut out, level(f.score), file, Some(e.line_of(f)), &title, &message);
        }
    }
    for err in &run.errors {
        let at = err.address.as_ref().map(|a| format!("{a}: ")).unwrap_or_default();
        let title = "IAM policy could not be scanned";
        annotation(&mut out, "error", Some(&err.file), err.line, title, &format!("{at}{}", err.message));
    }
    for u in &run.unresolved {
        let title = "IAM policy not resolved (not scored)";
        annotation(&mut out, "notice", Some(&u.file), Some(u.line), title, &format!("{}: {}", u.address, u.reason));
    }
    let t = totals(run);
    let _ = writeln!(out, "{} policies scanned, max score {}", t["policies"], max_score(&t, "-"));
    if run.gate.failed {
        for r in &run.gate.reasons {
            annotation(&mut out, "error", None, None, "IAM policy risk gate", r);
        }
    }
    out
}

/// `name=value` lines for `$GITHUB_OUTPUT` after a scan: `max-score` (of the changed policies
/// with a base), `risk-delta` (the largest per-policy change), `risk-delta-total`,
/// `new-findings`, `policies`, `changed`, `errors`, `unresolved`, `failed`.
pub fn step_outputs(run: &ScanRun) -> String {
    let t = totals(run);
    let compared = run.compared();
    let max = if compared { &t["max_changed_score"] } else { &t["max_score"] };
    let new_findings =
        if compared { t["new_findings"].as_u64().unwrap_or(0) } else { t["findings"].as_u64().unwrap_or(0) };
    let changed =
        run.entries.iter().filter(|e| e.change.as_ref().is_some_and(|c| c.status != Status::Unchanged)).count();
    let mut s = String::new();
    let _ = writeln!(s, "max-score={}", max.as_u64().unwrap_or(0));
    let _ = writeln!(s, "risk-delta={}", t.get("max_risk_delta").and_then(Value::as_i64).unwrap_or(0));
    let _ = writeln!(s, "risk-delta-total={}", t.get("risk_delta_total").and_then(Value::as_i64).unwrap_or(0));
    let _ = writeln!(s, "new-findings={new_findings}");
    let _ = writeln!(s, "policies={}", t["policies"]);
    let _ = writeln!(s, "changed={changed}");
    let _ = writeln!(s, "errors={}", run.errors.len());
    let _ = writeln!(s, "unresolved={}", run.unresolved.len());
    let _ = writeln!(s, "failed={}", run.gate.failed);
    s
}
