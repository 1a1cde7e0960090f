//! Human, JSON, GitHub and Markdown renderings of scored policies, plus `rules`, `explain`
//! and `catalog` output.

use crate::text::{gh_data as esc_data, gh_prop as esc_prop, md as md_cell, visible};
use crate::{Format, Outcome};
use risk_core::explain::{Explanation, RuleDoc};
use std::fmt::Write;

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn tier(&self, tier: &str, s: &str) -> String {
        let code = match tier {
            "low" => "1;32",
            "medium" => "1;33",
            _ => "1;31",
        };
        self.wrap(code, s)
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
}

pub fn human(outcomes: &[Outcome], threshold: u8, color: bool) -> String {
    let p = Paint { on: color };
    let mut out = String::new();
    let many = outcomes.len() > 1;
    for o in outcomes {
        let Ok(s) = &o.result else {
            if many {
                let _ = writeln!(
                    out,
                    "{} {}\n  {}\n",
                    p.bold("IAM Policy Risk Score"),
                    p.dim(&format!("({})", visible(&o.label))),
                    p.wrap("1;31", "error: see standard error")
                );
            }
            continue;
        };
        let r = &s.report;
        let title = if many {
            format!("{} {}", p.bold("IAM Policy Risk Score"), p.dim(&format!("({})", visible(&o.label))))
        } else {
            p.bold("IAM Policy Risk Score")
        };
        let pass = r.score < threshold;
        let _ = writeln!(out, "{title}\n");
        let _ = writeln!(out, "  Score:     {}", p.tier(&r.tier, &format!("{}/10 ({})", r.score, r.tier)));
        let _ = writeln!(
            out,
            "  Threshold: {threshold} ({})",
            if pass { p.wrap("32", "PASS") } else { p.wrap("31", "FAIL") }
        );
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
                let tier = risk_core::score::tier(f.score);
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
                let _ = writeln!(
                    out,
                    "  {} {} {} {}",
                    p.tier(tier, &format!("[{:>2} {}]", f.score, f.severity)),
                    p.bold(&f.rule),
                    f.name,
                    p.dim(&format!("[{}] {loc}{line}", f.category))
                );
                let _ = writeln!(out, "      {}", visible(&f.message));
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

pub fn json(outcomes: &[Outcome], single: bool) -> String {
    // Reports serialize in declaration order, the one v1 key order every surface shares.
    #[derive(serde::Serialize)]
    struct Item<'a> {
        file: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        result: Option<&'a risk_core::Report>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<serde_json::Value>,
    }
    let mut s = if single {
        match &outcomes[0].result {
            Ok(s) => serde_json::to_string_pretty(&s.report),
            Err(e) => serde_json::to_string_pretty(&error_value(e)),
        }
    } else {
        let items: Vec<Item<'_>> = outcomes
            .iter()
            .map(|o| match &o.result {
                Ok(s) => Item { file: &o.label, result: Some(&s.report), error: None },
                Err(e) => Item { file: &o.label, result: None, error: Some(error_value(e)["error"].clone()) },
            })
            .collect();
        serde_json::to_string_pretty(&items)
    }
    .unwrap_or_default();
    s.push('\n');
    s
}

fn error_value(e: &crate::InputError) -> serde_json::Value {
    serde_json::json!({"error": {"message": e.message, "details": e.problems}})
}

/// GitHub workflow commands: step outputs (predecessor-compatible for one policy) and
/// annotations at the statement's line.
pub fn github(outcomes: &[Outcome], threshold: u8) -> String {
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
        // Workflow commands: `::level prop=value,prop=value::message`.
        let file = if o.label == "-" { None } else { Some(format!("file={}", esc_prop(&o.label))) };
        match &o.result {
            Err(e) => {
                let props: Vec<String> =
                    file.iter().cloned().chain(["title=IAM policy could not be scored".to_string()]).collect();
                let _ = writeln!(out, "::error {}::{}", props.join(","), esc_data(&e.message));
            }
            Ok(s) => {
                let r = &s.report;
                let level = match r.tier.as_str() {
                    "low" => "notice",
                    "medium" => "warning",
                    _ => "error",
                };
                let factors = if r.factors.is_empty() { "no factors".to_string() } else { r.factors.join("; ") };
                let props: Vec<String> = file.iter().cloned().chain(["title=IAM Policy Score".to_string()]).collect();
                let _ = writeln!(
                    out,
                    "::{level} {}::Score {}/10 ({}). {}",
                    props.join(","),
                    r.score,
                    r.tier,
                    esc_data(&factors)
                );
                for f in r.findings.iter().filter(|f| f.score >= 4) {
                    let lvl = if f.score >= 6 { "error" } else { "warning" };
                    let mut props: Vec<String> = file.iter().cloned().collect();
                    if file.is_some() {
                        if let Some(l) = f.statement.and_then(|i| s.statement_lines.get(i)) {
                            props.push(format!("line={l}"));
                        }
                    }
                    props.push(format!("title={}", esc_prop(&format!("{} {}", f.rule, f.name))));
                    let _ = writeln!(
                        out,
                        "::{lvl} {}::{} Fix: {}",
                        props.join(","),
                        esc_data(&f.message),
                        esc_data(&f.suggestion)
                    );
                }
            }
        }
    }
    out
}

pub fn markdown(outcomes: &[Outcome], threshold: u8) -> String {
    let mut out =
        String::from("## IAM policy risk\n\n| Policy | Score | Tier | Result | Top finding |\n|---|---|---|---|---|\n");
    for o in outcomes {
        match &o.result {
            Ok(s) => {
                let r = &s.report;
                let top = r.findings.first().map(|f| format!("{} {}", f.rule, f.name)).unwrap_or_else(|| "—".into());
                let res = if r.score < threshold { "pass" } else { "**fail**" };
                let _ = writeln!(
                    out,
                    "| `{}` | {}/10 | {} | {res} | {} |",
                    md_cell(&o.label),
                    r.score,
                    r.tier,
                    md_cell(&top)
                );
            }
            Err(e) => {
                let _ = writeln!(out, "| `{}` | — | — | **error** | {} |", md_cell(&o.label), md_cell(&e.message));
            }
        }
    }
    for o in outcomes {
        let Ok(s) = &o.result else { continue };
        if s.report.findings.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n<details><summary><code>{}</code>: {} findings</summary>\n\n| Rule | Category | Score | Statement | Finding |\n|---|---|---|---|---|", md_cell(&o.label), s.report.findings.len());
        for f in &s.report.findings {
            let st = f.statement.map(|i| i.to_string()).unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} `{}` | {} | {} | {st} | {} |",
                f.rule,
                f.name,
                f.category,
                f.score,
                md_cell(&f.message)
            );
        }
        out.push_str("\n</details>\n");
    }
    out
}

pub fn rules(format: Format) -> String {
    let docs = risk_core::explain::rule_docs();
    match format {
        Format::Json => serde_json::to_string_pretty(&docs).unwrap_or_default() + "\n",
        Format::Markdown => risk_core::docs::rules_markdown(),
        _ => {
            let mut out = String::new();
            for d in &docs {
                let _ = writeln!(
                    out,
                    "{:<6} {:<32} {:<28} max {:>2}  {}",
                    d.code, d.name, d.category, d.max_score, d.summary
                );
            }
            out
        }
    }
}

fn rule_human(d: &RuleDoc) -> String {
    format!(
        "{} {} [{}], scores up to {} ({})\n\n{}\n\nWhat it flags\n  {}\n\nWhy it is risky\n  {}\n\nExample\n  {}\n\nSafer alternative\n  {}\n\nScoring\n  {}\n",
        d.code, d.name, d.category, d.max_score, d.severity, d.summary, d.what, d.why, d.example, d.safer, d.scoring
    )
}

pub fn explanation(x: &Explanation, format: Format) -> String {
    if format == Format::Json {
        return serde_json::to_string_pretty(x).unwrap_or_default() + "\n";
    }
    match x {
        Explanation::Rule(d) => rule_human(d),
        Explanation::Pattern(p) => {
            let mut out = format!("{} expands to {} actions in {} services\n", p.pattern, p.total, p.services.len());
            for (svc, levels) in &p.services {
                let _ = writeln!(out, "\n{svc}");
                for (level, actions) in levels {
                    let names: Vec<&str> =
                        actions.iter().map(|a| a.action.split_once(':').map(|x| x.1).unwrap_or(&a.action)).collect();
                    let _ = writeln!(out, "  {level} ({}): {}", actions.len(), names.join(", "));
                }
            }
            out
        }
    }
}

pub fn catalog(format: Format) -> String {
    let info = risk_core::catalog_info();
    if format == Format::Json {
        return serde_json::to_string_pretty(&info).unwrap_or_default() + "\n";
    }
    format!(
        "AWS action catalog: {} services, {} actions\nsource: {} {} (updated {}, licence {})\n",
        info.services, info.actions, info.source, info.version, info.updated_at, info.license
    )
}

pub fn diff(d: &risk_core::diff::PolicyDiff, format: Format) -> String {
    if format == Format::Json {
        return serde_json::to_string_pretty(d).unwrap_or_default() + "\n";
    }
    let mut out = String::new();
    let arrow = match d.risk_delta {
        x if x > 0 => format!("+{x}"),
        x => x.to_string(),
    };
    if format == Format::Markdown {
        let _ = writeln!(out, "| Old | New | Delta | Actions added | New findings |\n|---|---|---|---|---|");
        let _ = writeln!(
            out,
            "| {}/10 | {}/10 | {arrow} | {} | {} |",
            d.old_score,
            d.new_score,
            d.added_actions_total,
            d.new_findings.len()
        );
        for f in &d.new_findings {
            let _ = writeln!(
                out,
                "\n- **{} {}** ({}, {}/10): {}",
                f.rule,
                f.name,
                f.category,
                f.score,
                md_cell(&f.message)
            );
        }
        return out;
    }
    let _ = writeln!(
        out,
        "Score: {}/10 ({}) -> {}/10 ({}), delta {arrow}",
        d.old_score, d.old_tier, d.new_score, d.new_tier,
    );
    let _ = writeln!(out, "Actions: {} added, {} removed", d.added_actions_total, d.removed_actions_total);
    for (svc, levels) in &d.added_actions {
        for (level, actions) in levels {
            let shown: Vec<&str> = actions.iter().take(8).map(String::as_str).collect();
            let more = if actions.len() > 8 { format!(" and {} more", actions.len() - 8) } else { String::new() };
            let _ = writeln!(out, "  + {} {level}: {}{more}", visible(svc), visible(&shown.join(", ")));
        }
    }
    if !d.new_findings.is_empty() {
        let _ = writeln!(out, "New findings:");
        for f in &d.new_findings {
            let _ = writeln!(out, "  + [{}] {} {}: {}", f.score, f.rule, f.name, visible(&f.message));
        }
    }
    if !d.resolved_findings.is_empty() {
        let _ = writeln!(out, "Resolved findings:");
        for f in &d.resolved_findings {
            let _ = writeln!(out, "  - [{}] {} {}: {}", f.score, f.rule, f.name, visible(&f.message));
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
    let mut out = human(std::slice::from_ref(&outcome), threshold.unwrap_or(11), false);
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
