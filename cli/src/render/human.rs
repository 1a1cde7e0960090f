//! Terminal output: the scorer's report, `diff` of two policies, `scan` (with or without a
//! base), the one-line score of `write-policy` and `draft`, and `from-cloudtrail`'s summary.
//! Colour through [`Paint`]; every string from the user's files through [`visible`].

use super::{against, and_more, delta, max_delta, max_score, Paint};
use crate::scan::{json::totals, Entry, ScanRun, Status, Unresolved};
use crate::text::visible;
use crate::Outcome;
use risk_core::output::v1::Finding;
use std::fmt::Write;

/// A finding as two lines: `[ 9 critical] PE002 passrole-escalation [category] PLACE` in its
/// tier's colour, then its message, four columns further in. `sign` (`+ `) marks a new finding.
fn finding(out: &mut String, p: &Paint, indent: &str, sign: &str, rule: &str, f: &Finding, place: &str) {
    let _ = writeln!(
        out,
        "{indent}{sign}{} {rule} {} {}",
        p.score(f.score, &format!("[{:>2} {}]", f.score, f.severity)),
        f.name,
        p.dim(&format!("[{}] {place}", f.category))
    );
    let _ = writeln!(out, "{indent}    {}", visible(&f.message));
}

/// `IAM Policy Risk Score`, followed by the file's name when there are several.
fn score_title(p: &Paint, label: &str, many: bool) -> String {
    if many {
        format!("{} {}", p.bold("IAM Policy Risk Score"), p.dim(&format!("({})", visible(label))))
    } else {
        p.bold("IAM Policy Risk Score")
    }
}

/// `iam-risk-score FILE…`: each policy's score, verdict, findings, other factors and suggestions.
pub fn score(outcomes: &[Outcome], threshold: u8, color: bool) -> String {
    let p = Paint::new(color);
    let mut out = String::new();
    let many = outcomes.len() > 1;
    for o in outcomes {
        let Ok(s) = &o.result else {
            if many {
                let _ =
                    writeln!(out, "{}\n  {}\n", score_title(&p, &o.label, many), p.alarm("error: see standard error"));
            }
            continue;
        };
        let r = &s.report;
        let pass = r.score < threshold;
        let _ = writeln!(out, "{}\n", score_title(&p, &o.label, many));
        let _ = writeln!(out, "  Score:     {}", p.tier(&r.tier, &format!("{}/10 ({})", r.score, r.tier)));
        let _ = writeln!(out, "  Threshold: {threshold} ({})", if pass { p.pass("PASS") } else { p.fail("FAIL") });
        let _ = writeln!(out, "  Analyzer:  {}", r.analyzer);
        let _ = writeln!(out, "  Type:      {} policy", r.policy_type);
        let sum = &r.access_summary;
        let _ = writeln!(
            out,
            "  Grants:    {} actions in {} services ({} on all resources)",
            sum.actions, sum.services, sum.actions_on_all_resources
        );
        if !r.findings.is_empty() {
            let _ = writeln!(out, "\n{}", p.bold("Findings:"));
            for f in &r.findings {
                let loc = match (f.statement, &f.sid) {
                    (Some(i), Some(sid)) => format!("statement {i} ({})", visible(sid)),
                    (Some(i), None) => format!("statement {i}"),
                    _ => String::new(),
                };
                let line = f
                    .statement
                    .and_then(|i| s.statement_lines.get(i))
                    .map(|l| format!(", line {l}"))
                    .unwrap_or_default();
                finding(&mut out, &p, "  ", "", &p.bold(&f.rule), f, &format!("{loc}{line}"));
            }
        } else {
            let _ = writeln!(out, "\n{}", p.bold("Risk factors:"));
            for f in &r.factors {
                let _ = writeln!(out, "  - {}", visible(f));
            }
        }
        let extra: Vec<&String> = r.factors.iter().filter(|f| !r.findings.iter().any(|x| &x.message == *f)).collect();
        if !r.findings.is_empty() && !extra.is_empty() {
            let _ = writeln!(out, "\n{}", p.bold("Also:"));
            for f in extra {
                let _ = writeln!(out, "  - {}", visible(f));
            }
        }
        if !r.suggestions.is_empty() {
            let _ = writeln!(out, "\n{}", p.bold("Suggestions to reduce risk:"));
            for s in &r.suggestions {
                let _ = writeln!(out, "  - {}", visible(s));
            }
        }
        if let Some(n) = &r.llm_narrative {
            let _ = writeln!(out, "\n{}\n  {}", p.bold("Narrative:"), visible(n));
        }
        if many {
            out.push('\n');
        }
    }
    out
}

/// `diff OLD NEW` of two policy documents.
pub fn diff(d: &risk_core::diff::PolicyDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Score: {}/10 ({}) -> {}/10 ({}), delta {}",
        d.old_score,
        d.old_tier,
        d.new_score,
        d.new_tier,
        delta(d.risk_delta)
    );
    let _ = writeln!(out, "Actions: {} added, {} removed", d.added_actions_total, d.removed_actions_total);
    for (svc, levels) in &d.added_actions {
        for (level, actions) in levels {
            let shown: Vec<&str> = actions.iter().take(8).map(String::as_str).collect();
            let more = and_more(actions.len(), 8);
            let _ = writeln!(out, "  + {} {level}: {}{more}", visible(svc), visible(&shown.join(", ")));
        }
    }
    let lists = [("New findings:", "+", &d.new_findings), ("Resolved findings:", "-", &d.resolved_findings)];
    for (title, sign, findings) in lists {
        if !findings.is_empty() {
            let _ = writeln!(out, "{title}");
            for f in findings {
                let _ = writeln!(out, "  {sign} [{}] {} {}: {}", f.score, f.rule, f.name, visible(&f.message));
            }
        }
    }
    out
}

/// `file:line  address`, escaped.
fn place(e: &Entry) -> String {
    let mut s = format!("{}:{}", visible(&e.file), e.found.line);
    if !e.found.address.is_empty() {
        s.push_str(&format!("  {}", visible(&e.found.address)));
    }
    s
}

/// `file:line address — reason`, escaped.
fn unresolved_line(u: &Unresolved) -> String {
    format!("{}:{} {} — {}", visible(&u.file), u.line, visible(&u.address), visible(&u.reason))
}

/// `scan`: each policy (with a base, each changed one) with its findings of score 4 and more
/// (with a base, its new ones), notes, what could not be resolved, a summary and the gate.
pub fn scan(run: &ScanRun, color: bool) -> String {
    let p = Paint::new(color);
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
                let score = match c.new_score {
                    Some(s) => p.score(s, &score),
                    None => p.dim(&score),
                };
                let _ = writeln!(out, "  {status} {score:<16} {}", place(e));
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
                    finding(&mut out, &p, "      ", "+ ", &f.rule, f, &format!("line {}", e.line_of(f)));
                }
                for f in &c.resolved_findings {
                    let _ = writeln!(out, "      - resolved {} {} ({})", f.rule, f.name, f.category);
                }
            }
            (None, Some(r)) => {
                let score = format!("{:>2}/10 {:<6}", r.score, r.tier);
                let who = e.found.principal.as_ref().map(|p| format!("  [{}]", visible(p))).unwrap_or_default();
                let _ = writeln!(out, "  {}  {}{who}", p.score(r.score, &score), place(e));
                for f in r.findings.iter().filter(|f| f.score >= 4) {
                    finding(&mut out, &p, "      ", "", &f.rule, f, &format!("line {}", e.line_of(f)));
                }
            }
            (None, None) => {}
        }
        if e.change.as_ref().is_none_or(|c| c.status != Status::Unchanged) {
            for n in &e.found.notes {
                let _ = writeln!(out, "      {}", p.dim(&format!("note: {}", visible(n))));
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
        max_score(&t, "-")
    );
    if !run.unresolved.is_empty() {
        let _ = write!(summary, ", {} unresolved", run.unresolved.len());
    }
    if compared {
        let base = against(run, |r| visible(r).into_owned());
        let _ = write!(
            summary,
            "\nChanges{base}: {} added, {} modified, {} removed ({hidden} unchanged not shown); max risk delta {}, {} new findings",
            t["added"],
            t["modified"],
            t["removed"],
            max_delta(&t),
            t["new_findings"]
        );
    }
    if !run.errors.is_empty() {
        let _ = write!(summary, "\n{} could not be scanned (see errors above)", run.errors.len());
    }
    out.push_str(&summary);
    out.push('\n');
    if run.gate.failed {
        let _ = writeln!(out, "{}", p.alarm("FAIL"));
        for r in &run.gate.reasons {
            let _ = writeln!(out, "  - {}", visible(r));
        }
    }
    out
}

/// The one-line score summary `write-policy` and `draft` print on standard error after the
/// policy they wrote: `score: 3/10 (medium) - 20 actions in 1 services (0 on all resources), 0 findings`.
pub fn written_score_line(r: &risk_core::Report) -> String {
    let s = &r.access_summary;
    format!(
        "score: {}/10 ({}) - {} actions in {} services ({} on all resources), {} finding{}",
        r.score,
        r.tier,
        s.actions,
        s.services,
        s.actions_on_all_resources,
        r.findings.len(),
        if r.findings.len() == 1 { "" } else { "s" }
    )
}

/// `from-cloudtrail`'s summary for standard error: the score as `iam-risk-score FILE` prints it
/// (statement lines point into the policy printed on standard output), then what the records
/// held that the policy does not cover.
pub fn activity_summary(
    a: &risk_core::cloudtrail::FromActivity,
    policy_text: &str,
    threshold: Option<u8>,
    include_denied: bool,
) -> String {
    let scored =
        crate::Scored { report: a.report.clone(), statement_lines: risk_scan::locate::statement_lines(policy_text) };
    let outcome = Outcome { label: "-".into(), result: Ok(scored) };
    // Without a threshold nothing fails: the threshold line is left out.
    let mut out = score(std::slice::from_ref(&outcome), threshold.unwrap_or(11), false);
    if threshold.is_none() {
        out = out.lines().filter(|l| !l.starts_with("  Threshold:")).map(|l| format!("{l}\n")).collect();
    }
    let count = |n: usize| if n == 1 { "1 event".to_string() } else { format!("{n} events") };
    let sum = |it: &mut dyn Iterator<Item = usize>| it.sum::<usize>();
    let _ = writeln!(out, "\nFrom CloudTrail:");
    let _ = writeln!(out, "  Read:          {}", count(a.events_read));
    let unknown = sum(&mut a.unknown.iter().map(|u| u.count));
    let _ = writeln!(out, "  Unknown:       {} (no IAM action known: not granted)", count(unknown));
    for u in &a.unknown {
        let _ = writeln!(out, "    - {} {} ×{}", visible(&u.event_source), visible(&u.event_name), u.count);
    }
    let denied = sum(&mut a.denied.iter().map(|d| d.count));
    let what = match (denied, include_denied) {
        (0, _) => "access-denied attempts",
        (_, true) => "access-denied attempts: granted, --include-denied",
        (_, false) => "access-denied attempts: not granted; --include-denied grants them",
    };
    let _ = writeln!(out, "  Denied:        {} ({what})", count(denied));
    for d in &a.denied {
        let _ = writeln!(
            out,
            "    - {} {} ({}) ×{}",
            visible(&d.event_source),
            visible(&d.event_name),
            visible(&d.error_code),
            d.count
        );
    }
    let _ = writeln!(
        out,
        "  Not narrowed:  {} (granted on `*`: no ARN of their resource types in the records)",
        a.not_narrowed.len()
    );
    for n in &a.not_narrowed {
        let _ = writeln!(out, "    - {} ({}) ×{}", n.action, n.resource_types.join(", "), n.count);
    }
    let skipped = sum(&mut a.skipped.iter().map(|s| s.count));
    let _ = writeln!(out, "  Skipped:       {} (not authorizations)", count(skipped));
    for s in &a.skipped {
        let _ =
            writeln!(out, "    - {} {} ×{}: {}", visible(&s.event_source), visible(&s.event_name), s.count, s.reason);
    }
    out
}
