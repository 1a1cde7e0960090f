//! Markdown for a pull-request comment or `$GITHUB_STEP_SUMMARY`: the scorer's table, `diff`
//! of two policies, and `scan`. Every string from the user's files goes through [`cell`], so
//! it can neither end a table cell nor hide or reorder what the reviewer reads.

use super::{against, and_more, delta, max_delta, max_score, top_finding};
use crate::scan::{json::totals, Entry, ScanRun, Status};
use crate::text::md as cell;
use crate::Outcome;
use risk_core::output::v1::Finding;
use std::fmt::Write;

const HEADING: &str = "## IAM policy risk\n\n";

/// Opens a collapsed section: a blank line, then `<details><summary>SUMMARY</summary>` and
/// a blank line.
fn details(out: &mut String, summary: &str) {
    let _ = writeln!(out, "\n<details><summary>{summary}</summary>\n");
}

/// Closes a section [`details`] opened, after a blank line.
fn end_details(out: &mut String) {
    out.push_str("\n</details>\n");
}

/// A finding as a list item: `- **RULE name** DETAIL: message`.
fn finding(out: &mut String, f: &Finding, detail: &str) {
    let _ = writeln!(out, "- **{} {}** {detail}: {}", f.rule, f.name, cell(&f.message));
}

/// `iam-risk-score FILE… --format markdown`: a row per policy, then each policy's findings.
pub fn score(outcomes: &[Outcome], threshold: u8) -> String {
    let mut out = format!("{HEADING}| Policy | Score | Tier | Result | Top finding |\n|---|---|---|---|---|\n");
    for o in outcomes {
        match &o.result {
            Ok(s) => {
                let r = &s.report;
                let res = if r.score < threshold { "pass" } else { "**fail**" };
                let _ = writeln!(
                    out,
                    "| `{}` | {}/10 | {} | {res} | {} |",
                    cell(&o.label),
                    r.score,
                    r.tier,
                    cell(&top_finding(r))
                );
            }
            Err(e) => {
                let _ = writeln!(out, "| `{}` | — | — | **error** | {} |", cell(&o.label), cell(&e.message));
            }
        }
    }
    for o in outcomes {
        let Ok(s) = &o.result else { continue };
        if s.report.findings.is_empty() {
            continue;
        }
        details(&mut out, &format!("<code>{}</code>: {} findings", cell(&o.label), s.report.findings.len()));
        out.push_str("| Rule | Category | Score | Statement | Finding |\n|---|---|---|---|---|\n");
        for f in &s.report.findings {
            let st = f.statement.map(|i| i.to_string()).unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} `{}` | {} | {} | {st} | {} |",
                f.rule,
                f.name,
                f.category,
                f.score,
                cell(&f.message)
            );
        }
        end_details(&mut out);
    }
    out
}

/// `diff OLD NEW --format markdown`: the scores, then each new finding.
pub fn diff(d: &risk_core::diff::PolicyDiff) -> String {
    let mut out = String::from("| Old | New | Delta | Actions added | New findings |\n|---|---|---|---|---|\n");
    let _ = writeln!(
        out,
        "| {}/10 | {}/10 | {} | {} | {} |",
        d.old_score,
        d.new_score,
        delta(d.risk_delta),
        d.added_actions_total,
        d.new_findings.len()
    );
    for f in &d.new_findings {
        out.push('\n');
        finding(&mut out, f, &format!("({}, {}/10)", f.category, f.score));
    }
    out
}

/// `🟠 5/10 medium`.
fn badge(score: u8) -> String {
    let tier = risk_core::score::tier(score);
    let dot = match tier {
        "low" => "🟢",
        "medium" => "🟠",
        _ => "🔴",
    };
    format!("{dot} {score}/10 {tier}")
}

/// `` `file:line` `address` ``.
fn name(e: &Entry) -> String {
    let mut s = format!("`{}:{}`", cell(&e.file), e.found.line);
    if !e.found.address.is_empty() {
        s.push_str(&format!(" `{}`", cell(&e.found.address)));
    }
    s
}

/// A scanned policy's finding, with its tier and line.
fn scan_finding(out: &mut String, e: &Entry, f: &Finding) {
    finding(out, f, &format!("· {} · {} (line {})", f.category, badge(f.score), e.line_of(f)));
}

/// `scan --format markdown`: the verdict, then with a base each changed policy and what it
/// adds, else the riskiest policies; what could not be scanned or resolved.
pub fn scan(run: &ScanRun) -> String {
    let mut out = String::from(HEADING);
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
        changes(&mut out, run, &t);
    } else {
        let _ = writeln!(
            out,
            "{} policies in {} files · max score **{}** · {} findings\n",
            t["policies"],
            t["files_with_policies"],
            max_score(&t, "—"),
            t["findings"]
        );
        let mut ranked: Vec<&Entry> = run.entries.iter().filter(|e| e.report.is_some()).collect();
        ranked.sort_by_key(|e| std::cmp::Reverse(e.score()));
        if !ranked.is_empty() {
            out.push_str("| Policy | Score | Top finding |\n|---|---|---|\n");
            for e in ranked.iter().take(50) {
                let Some(r) = &e.report else { continue };
                let _ = writeln!(out, "| {} | {} | {} |", name(e), badge(r.score), cell(&top_finding(r)));
            }
            if ranked.len() > 50 {
                let _ = writeln!(out, "\n…and {} more (see the JSON or SARIF output).", ranked.len() - 50);
            }
            for e in ranked.iter().take(50) {
                let Some(r) = &e.report else { continue };
                if r.findings.is_empty() {
                    continue;
                }
                details(&mut out, &format!("{}: {} findings", name(e), r.findings.len()));
                for f in &r.findings {
                    scan_finding(&mut out, e, f);
                }
                end_details(&mut out);
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
        details(
            &mut out,
            &format!("⚠️ {} policy construct(s) could not be resolved, so they are not scored", run.unresolved.len()),
        );
        for u in &run.unresolved {
            let _ = writeln!(out, "- `{}:{}` `{}`: {}", cell(&u.file), u.line, cell(&u.address), cell(&u.reason));
        }
        end_details(&mut out);
    }
    out
}

/// With a base: a row per changed policy, the new findings, and per policy what changed.
fn changes(out: &mut String, run: &ScanRun, t: &serde_json::Value) {
    let changed: Vec<&Entry> =
        run.entries.iter().filter(|e| e.change.as_ref().is_some_and(|c| c.status != Status::Unchanged)).collect();
    let base = against(run, |r| format!("`{}`", cell(r)));
    let _ = writeln!(
        out,
        "{} changed policies{base} · max risk delta **{}** · **{}** new findings · {} policies in {} files scanned\n",
        changed.len(),
        max_delta(t),
        t["new_findings"],
        t["policies"],
        t["files_scanned"]
    );
    if changed.is_empty() {
        out.push_str("No IAM policy changed.\n");
        return;
    }
    out.push_str("| Policy | Change | Old → New | Δ | Actions added | New findings |\n|---|---|---|---|---|---|\n");
    for e in &changed {
        let Some(c) = &e.change else { continue };
        let old = c.old_score.map(|s| format!("{s}/10")).unwrap_or_else(|| "—".into());
        let new = c.new_score.map(badge).unwrap_or_else(|| "—".into());
        let _ = writeln!(
            out,
            "| {} | {} | {old} → {new} | **{}** | {} | {} |",
            name(e),
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
            let _ = write!(out, "{} ", name(e));
            scan_finding(out, e, f);
        }
    }
    for e in &changed {
        let Some(c) = &e.change else { continue };
        details(out, &format!("{}: what changed", name(e)));
        if c.added_actions_total > 0 {
            out.push_str("**Newly granted actions**\n\n| Service | Access level | Actions |\n|---|---|---|\n");
            for (svc, levels) in &c.added_actions {
                for (level, actions) in levels {
                    let shown: Vec<String> = actions.iter().take(20).map(|a| format!("`{}`", cell(a))).collect();
                    let more = and_more(actions.len(), 20);
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
        // Each part above ends in a blank line already.
        out.push_str("</details>\n");
    }
}
