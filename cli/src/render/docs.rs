//! `rules`, `explain` and `catalog`: the engine's reference, as text, Markdown or JSON.

use crate::Format;
use risk_core::explain::{Explanation, RuleDoc};
use std::fmt::Write;

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
