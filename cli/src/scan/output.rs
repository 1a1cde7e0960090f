//! Renderings of a scan: human, JSON (v1: per-policy results plus totals), Markdown (a pull
//! request comment or job summary) and GitHub workflow commands with step outputs.
//!
//! Every string that comes from the scanned files (names, addresses, `Sid`s quoted in
//! messages, notes) goes through [`crate::text`] in the human-facing formats; JSON keeps it exact.

use super::{Entry, ScanRun, Status, Unresolved};
use crate::text::{gh_data as esc_data, gh_prop as esc_prop, md as cell, visible};
use risk_core::output::v1::Finding;
use serde_json::{json, Value};
use std::fmt::Write;

fn tier(score: u8) -> &'static str {
    risk_core::score::tier(score)
}

fn paint(on: bool, code: &str, s: &str) -> String {
    if on {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn tier_code(score: u8) -> &'static str {
    match tier(score) {
        "low" => "1;32",
        "medium" => "1;33",
        _ => "1;31",
    }
}

fn delta(d: i16) -> String {
    if d > 0 {
        format!("+{d}")
    } else {
        d.to_string()
    }
}

fn place(e: &Entry) -> String {
    let mut s = format!("{}:{}", visible(&e.file), e.found.line);
    if !e.found.address.is_empty() {
        s.push_str(&format!("  {}", visible(&e.found.address)));
    }
    s
}

/// Totals over the whole run.
pub fn totals(run: &ScanRun) -> Value {
    let current: Vec<&Entry> = run.entries.iter().filter(|e| e.report.is_some()).collect();
    let mut by_tier = serde_json::Map::new();
    for t in ["low", "medium", "high"] {
        let n = current.iter().filter(|e| e.score().is_some_and(|s| tier(s) == t)).count();
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
    source: super::SourceKind,
    statement_lines: &'a [usize],
    notes: &'a [String],
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    change: Option<&'a super::Change>,
    result: Option<&'a risk_core::Report>,
}

#[derive(serde::Serialize)]
struct ScanOut<'a> {
    api_version: &'a str,
    kind: &'a str,
    base: Option<Value>,
    threshold: Option<u8>,
    results: Vec<EntryOut<'a>>,
    errors: &'a [super::FileError],
    unresolved: &'a [Unresolved],
    totals: Value,
    gate: &'a super::Gate,
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

fn finding_line(out: &mut String, sign: &str, e: &Entry, f: &Finding, color: bool) {
    let _ = writeln!(
        out,
        "      {sign}{} {} {} {}",
        paint(color, tier_code(f.score), &format!("[{:>2} {}]", f.score, f.severity)),
        f.rule,
        f.name,
        paint(color, "2", &format!("[{}] line {}", f.category, e.line_of(f)))
    );
    let _ = writeln!(out, "          {}", visible(&f.message));
}

pub fn human(run: &ScanRun, color: bool) -> String {
    let mut out = String::new();
    let t = totals(run);
    let compared = run.compared();
    let mut hidden = 0;
    for e in &run.entries {
        match (&e.change, &e.report) {
            (Some(c), _) if c.status == Status::Unchanged => hidden += 1,
            (Some(c), _) => {
                let old = c.old_score.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
                let new = c.new_score.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
                let status = format!("{:<9}", format!("{:?}", c.status).to_lowercase());
                let score = format!("{old} -> {new} ({})", delta(c.risk_delta));
                let code = c.new_score.map(tier_code).unwrap_or("2");
                let _ = writeln!(out, "  {status} {:<16} {}", paint(color, code, &score), place(e));
                if c.added_actions_total > 0 {
                    let mut parts = Vec::new();
                    for (svc, levels) in &c.added_actions {
                        for (level, actions) in levels {
                            parts.push(format!("{} {level} ({})", visible(svc), actions.len()));
                        }
                    }
                    let _ = writeln!(out, "      + {} actions: {}", c.added_actions_total, parts.join(", "));
                }
                for f in &c.new_findings {
                    finding_line(&mut out, "+ ", e, f, color);
                }
                for f in &c.resolved_findings {
                    let _ = writeln!(out, "      - resolved {} {} ({})", f.rule, f.name, f.category);
                }
            }
            (None, Some(r)) => {
                let score = format!("{:>2}/10 {:<6}", r.score, r.tier);
                let who = e.found.principal.as_ref().map(|p| format!("  [{}]", visible(p))).unwrap_or_default();
                let _ = writeln!(out, "  {}  {}{who}", paint(color, tier_code(r.score), &score), place(e));
                for f in r.findings.iter().filter(|f| f.score >= 4) {
                    finding_line(&mut out, "", e, f, color);
                }
            }
            (None, None) => {}
        }
        if e.change.as_ref().is_none_or(|c| c.status != Status::Unchanged) {
            for n in &e.found.notes {
                let _ = writeln!(out, "      {}", paint(color, "2", &format!("note: {}", visible(n))));
            }
        }
    }
    if !run.unresolved.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "Not resolved, so not scored ({}):", run.unresolved.len());
        for u in &run.unresolved {
            let _ = writeln!(out, "  unresolved: {}", unresolved_line(u));
        }
    }
    if !out.is_empty() {
        out.push('\n');
    }
    let mut summary = format!(
        "Scanned {} files: {} policies in {} files, max score {}",
        t["files_scanned"],
        t["policies"],
        t["files_with_policies"],
        t["max_score"].as_u64().map(|s| format!("{s}/10")).unwrap_or_else(|| "-".into())
    );
    if !run.unresolved.is_empty() {
        let _ = write!(summary, ", {} unresolved", run.unresolved.len());
    }
    if compared {
        let base = run
            .base
            .as_ref()
            .map(|(r, c)| format!(" against {} ({})", visible(r), &c[..c.len().min(12)]))
            .unwrap_or_default();
        let _ = write!(
            summary,
            "\nChanges{base}: {} added, {} modified, {} removed ({hidden} unchanged not shown); max risk delta {}, {} new findings",
            t["added"],
            t["modified"],
            t["removed"],
            delta(t["max_risk_delta"].as_i64().unwrap_or(0) as i16),
            t["new_findings"]
        );
    }
    if !run.errors.is_empty() {
        let _ = write!(summary, "\n{} could not be scanned (see errors above)", run.errors.len());
    }
    out.push_str(&summary);
    out.push('\n');
    if run.gate.failed {
        let _ = writeln!(out, "{}", paint(color, "1;31", "FAIL"));
        for r in &run.gate.reasons {
            let _ = writeln!(out, "  - {}", visible(r));
        }
    }
    out
}

/// `file:line address — reason`, escaped for a terminal.
fn unresolved_line(u: &Unresolved) -> String {
    format!("{}:{} {} — {}", visible(&u.file), u.line, visible(&u.address), visible(&u.reason))
}

fn badge(score: u8) -> String {
    let dot = match tier(score) {
        "low" => "🟢",
        "medium" => "🟠",
        _ => "🔴",
    };
    format!("{dot} {score}/10 {}", tier(score))
}

fn name_md(e: &Entry) -> String {
    let mut s = format!("`{}:{}`", cell(&e.file), e.found.line);
    if !e.found.address.is_empty() {
        s.push_str(&format!(" `{}`", cell(&e.found.address)));
    }
    s
}

fn finding_md(out: &mut String, e: &Entry, f: &Finding) {
    let _ = writeln!(
        out,
        "- **{} {}** · {} · {} (line {}): {}",
        f.rule,
        f.name,
        f.category,
        badge(f.score),
        e.line_of(f),
        cell(&f.message)
    );
}

/// Markdown for a pull-request comment or `$GITHUB_STEP_SUMMARY`.
pub fn markdown(run: &ScanRun) -> String {
    let mut out = String::from("## IAM policy risk\n\n");
    let t = totals(run);
    if run.gate.failed {
        out.push_str("**❌ Failed:**\n");
        for r in &run.gate.reasons {
            let _ = writeln!(out, "- {}", cell(r));
        }
        out.push('\n');
    } else {
        out.push_str("**✅ Passed**\n\n");
    }
    if run.compared() {
        let changed: Vec<&Entry> =
            run.entries.iter().filter(|e| e.change.as_ref().is_some_and(|c| c.status != Status::Unchanged)).collect();
        let base = run
            .base
            .as_ref()
            .map(|(r, c)| format!(" against `{}` ({})", cell(r), &c[..c.len().min(12)]))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{} changed policies{base} · max risk delta **{}** · **{}** new findings · {} policies in {} files scanned\n",
            changed.len(),
            delta(t["max_risk_delta"].as_i64().unwrap_or(0) as i16),
            t["new_findings"],
            t["policies"],
            t["files_scanned"]
        );
        if changed.is_empty() {
            out.push_str("No IAM policy changed.\n");
        } else {
            out.push_str(
                "| Policy | Change | Old → New | Δ | Actions added | New findings |\n|---|---|---|---|---|---|\n",
            );
            for e in &changed {
                let Some(c) = &e.change else { continue };
                let old = c.old_score.map(|s| format!("{s}/10")).unwrap_or_else(|| "—".into());
                let new = c.new_score.map(badge).unwrap_or_else(|| "—".into());
                let _ = writeln!(
                    out,
                    "| {} | {} | {old} → {new} | **{}** | {} | {} |",
                    name_md(e),
                    format!("{:?}", c.status).to_lowercase(),
                    delta(c.risk_delta),
                    c.added_actions_total,
                    c.new_findings.len()
                );
            }
            let new: Vec<_> = changed
                .iter()
                .flat_map(|e| e.change.iter().flat_map(move |c| c.new_findings.iter().map(move |f| (*e, f))))
                .collect();
            if !new.is_empty() {
                out.push_str("\n### New findings\n\n");
                for (e, f) in new {
                    let _ = write!(out, "{} ", name_md(e));
                    finding_md(&mut out, e, f);
                }
            }
            for e in &changed {
                let Some(c) = &e.change else { continue };
                let _ = writeln!(out, "\n<details><summary>{}: what changed</summary>\n", name_md(e));
                if c.added_actions_total > 0 {
                    out.push_str("**Newly granted actions**\n\n| Service | Access level | Actions |\n|---|---|---|\n");
                    for (svc, levels) in &c.added_actions {
                        for (level, actions) in levels {
                            let shown: Vec<String> =
                                actions.iter().take(20).map(|a| format!("`{}`", cell(a))).collect();
                            let more = if actions.len() > 20 {
                                format!(" and {} more", actions.len() - 20)
                            } else {
                                String::new()
                            };
                            let _ = writeln!(out, "| {} | {level} | {}{more} |", cell(svc), shown.join(", "));
                        }
                    }
                    out.push('\n');
                }
                if c.removed_actions_total > 0 {
                    let _ = writeln!(out, "{} actions no longer granted.\n", c.removed_actions_total);
                }
                if !c.resolved_findings.is_empty() {
                    out.push_str("**Resolved findings**\n\n");
                    for f in &c.resolved_findings {
                        let _ = writeln!(out, "- ~~{} {}~~ · {}: {}", f.rule, f.name, f.category, cell(&f.message));
                    }
                    out.push('\n');
                }
                for n in &e.found.notes {
                    let _ = writeln!(out, "_Note: {}_\n", cell(n));
                }
                out.push_str("</details>\n");
            }
        }
    } else {
        let _ = writeln!(
            out,
            "{} policies in {} files · max score **{}** · {} findings\n",
            t["policies"],
            t["files_with_policies"],
            t["max_score"].as_u64().map(|s| format!("{s}/10")).unwrap_or_else(|| "—".into()),
            t["findings"]
        );
        let mut ranked: Vec<&Entry> = run.entries.iter().filter(|e| e.report.is_some()).collect();
        ranked.sort_by_key(|e| std::cmp::Reverse(e.score()));
        if !ranked.is_empty() {
            out.push_str("| Policy | Score | Top finding |\n|---|---|---|\n");
            for e in ranked.iter().take(50) {
                let Some(r) = &e.report else { continue };
                let top = r.findings.first().map(|f| format!("{} {}", f.rule, f.name)).unwrap_or_else(|| "—".into());
                let _ = writeln!(out, "| {} | {} | {} |", name_md(e), badge(r.score), cell(&top));
            }
            if ranked.len() > 50 {
                let _ = writeln!(out, "\n…and {} more (see the JSON or SARIF output).", ranked.len() - 50);
            }
            for e in ranked.iter().take(50) {
                let Some(r) = &e.report else { continue };
                if r.findings.is_empty() {
                    continue;
                }
                let _ = writeln!(out, "\n<details><summary>{}: {} findings</summary>\n", name_md(e), r.findings.len());
                for f in &r.findings {
                    finding_md(&mut out, e, f);
                }
                out.push_str("\n</details>\n");
            }
        }
    }
    if !run.errors.is_empty() {
        out.push_str("\n### Could not be scanned\n\n");
        for e in &run.errors {
            let _ = writeln!(
                out,
                "- `{}`{}{}: {}",
                cell(&e.file),
                e.line.map(|l| format!(" line {l}")).unwrap_or_default(),
                e.address.as_ref().map(|a| format!(" `{}`", cell(a))).unwrap_or_default(),
                cell(&e.message)
            );
        }
    }
    if !run.unresolved.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>⚠️ {} policy construct(s) could not be resolved, so they are not scored</summary>\n",
            run.unresolved.len()
        );
        for u in &run.unresolved {
            let _ = writeln!(out, "- `{}:{}` `{}`: {}", cell(&u.file), u.line, cell(&u.address), cell(&u.reason));
        }
        out.push_str("\n</details>\n");
    }
    out
}

/// GitHub workflow commands: an annotation per (new) finding at its statement's line, one per
/// changed policy at the policy's line, one per error, and a notice per unresolved construct.
pub fn github(run: &ScanRun) -> String {
    let mut out = String::new();
    for e in &run.entries {
        let file = esc_prop(&e.uri);
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
                let _ = writeln!(
                    out,
                    "::{level} file={file},line={},title={}::{}",
                    e.found.line,
                    esc_prop(&format!("IAM policy risk {old} -> {new}/10 ({})", delta(c.risk_delta))),
                    esc_data(&format!(
                        "{}{addr}: {} actions added, {} new findings, {} resolved",
                        e.file,
                        c.added_actions_total,
                        c.new_findings.len(),
                        c.resolved_findings.len()
                    ))
                );
            }
        }
        for f in findings {
            let level = match f.score {
                6..=10 => "error",
                4..=5 => "warning",
                _ => "notice",
            };
            let _ = writeln!(
                out,
                "::{level} file={file},line={},title={}::{}",
                e.line_of(f),
                esc_prop(&format!("{} {} ({}/10)", f.rule, f.name, f.score)),
                esc_data(&format!("{}{addr}: {} Fix: {}", e.file, f.message, f.suggestion))
            );
        }
    }
    for err in &run.errors {
        let line = err.line.map(|l| format!(",line={l}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "::error file={}{line},title=IAM policy could not be scanned::{}",
            esc_prop(&err.file),
            esc_data(&format!("{}{}", err.address.as_ref().map(|a| format!("{a}: ")).unwrap_or_default(), err.message))
        );
    }
    for u in &run.unresolved {
        let _ = writeln!(
            out,
            "::notice file={},line={},title=IAM policy not resolved (not scored)::{}",
            esc_prop(&u.file),
            u.line,
            esc_data(&format!("{}: {}", u.address, u.reason))
        );
    }
    let t = totals(run);
    let _ = writeln!(
        out,
        "{} policies scanned, max score {}",
        t["policies"],
        t["max_score"].as_u64().map(|s| format!("{s}/10")).unwrap_or_else(|| "-".into())
    );
    if run.gate.failed {
        for r in &run.gate.reasons {
            let _ = writeln!(out, "::error title=IAM policy risk gate::{}", esc_data(r));
        }
    }
    out
}

/// `name=value` lines for `$GITHUB_OUTPUT`: `max-score` (of the changed policies with a base),
/// `risk-delta` (the largest per-policy change), `risk-delta-total`, `new-findings`,
/// `policies`, `changed`, `errors`, `unresolved`, `failed`.
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
