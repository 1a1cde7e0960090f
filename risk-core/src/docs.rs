//! Documentation generated from rule metadata and the escalation table: `docs/rules.md` and
//! `docs/escalation-paths.md` are these functions' output (a test fails when they are stale).

use crate::explain::rule_docs;
use crate::rules::escalation::PATHS;
use crate::rules::Category;
use std::fmt::Write;

/// The rule reference, `docs/rules.md`.
pub fn rules_markdown() -> String {
    let mut out = String::from("<!-- Generated from rule metadata by `iam-risk-score rules --format markdown`; do not edit. -->\n# Rule reference\n\n");
    let _ = writeln!(
        out,
        "Rule set version {}. Scores: 1–3 low, 4–5 medium, 6–10 high (see [scoring.md](scoring.md)).\n",
        crate::RULES_VERSION
    );
    out.push_str("## Categories\n\n| Category | Meaning |\n|---|---|\n");
    for c in Category::ALL {
        let _ = writeln!(out, "| `{}` | {} |", c.as_str(), c.description());
    }
    out.push_str("\n## Rules\n\n| Code | Name | Category | Max score | Summary |\n|---|---|---|---|---|\n");
    let docs = rule_docs();
    for d in &docs {
        let _ = writeln!(
            out,
            "| [{}](#{}) | `{}` | `{}` | {} | {} |",
            d.code,
            d.code.to_ascii_lowercase(),
            d.name,
            d.category,
            d.max_score,
            d.summary
        );
    }
    for d in &docs {
        let _ = write!(
            out,
            "\n## {}\n\n**`{}`** · category `{}` · up to {} ({}) · applies to {} policies\n\n{}\n\n### What it flags\n\n{}\n\n### Why it is risky\n\n{}\n\n### Example\n\n```json\n{}\n```\n\n### Safer alternative\n\n{}\n\n### Scoring\n\n{}\n",
            d.code, d.name, d.category, d.max_score, d.severity, d.applies_to.join(", "), d.summary, d.what, d.why, d.example, d.safer, d.scoring
        );
    }
    out
}

/// The escalation coverage table, `docs/escalation-paths.md`.
pub fn escalation_paths_markdown() -> String {
    let mut out = String::from("<!-- Generated from risk-core/data/privilege-escalation-paths.csv; do not edit. -->\n# Privilege-escalation paths covered\n\n");
    let evaluable = PATHS.iter().filter(|p| p.actions.is_some()).count();
    let _ = writeln!(
        out,
        "{} paths, {} evaluated against the bundled catalog. Data: pathfinding.cloud (Datadog, Apache-2.0) snapshot 2025-12-17, cross-checked against Rhino Security Labs, Cloudsplaining, Prowler and PMapper; see `risk-core/data/README.md`.\n",
        PATHS.len(),
        evaluable
    );
    out.push_str("Kinds map to rules: `self-escalation` → PE001, `new-passrole` → PE002, `existing-passrole` → PE003 (needs a privileged role or resource that already exists; flagged, and the finding says so), `principal-access` → PE004 (takes over another principal).\n\n");
    out.push_str("Not covered (action sets not yet retrieved from pathfinding.cloud): batch-003, bedrock-003 to bedrock-007, emrserverless-001, gamelift-001, imagebuilder-001, kinesisanalytics-001, ssm-003.\n\n");
    out.push_str("| Path | Kind | Required actions | Evaluated | Source |\n|---|---|---|---|---|\n");
    for p in PATHS.iter() {
        let status = match (&p.actions, crate::rules::escalation::not_evaluable_reason(p.id)) {
            (Some(_), _) => "yes".to_string(),
            (None, Some(why)) => format!("no: {why}"),
            (None, None) => "no: an action is not in the catalog".to_string(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            p.id,
            p.kind.as_str(),
            p.names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" + "),
            status,
            p.source
        );
    }
    out
}
