//! The scoring rubric: findings → one deterministic 1–10 score, tier, factors and suggestions.
//! Documented in docs/scoring.md; change both together.

use crate::options::ScoreOptions;
use crate::rules::{Category, Finding};
use std::collections::BTreeSet;

/// Tier names as the predecessor used them.
pub fn tier(score: u8) -> &'static str {
    match score {
        0..=3 => "low",
        4..=5 => "medium",
        _ => "high",
    }
}

/// Categories that count towards the "several kinds of high risk" step.
fn counts_for_breadth(c: Category) -> bool {
    !matches!(
        c,
        Category::Validation
            | Category::AccessMismatch
            | Category::OrgPolicy
            | Category::BroadAccess
            | Category::FullAdmin
    )
}

/// The score and the factors that explain it.
pub struct Scored {
    pub score: u8,
    pub factors: Vec<String>,
    pub suggestions: Vec<String>,
}

pub fn score(findings: &[Finding], options: &ScoreOptions) -> Scored {
    let base = findings.iter().map(|f| f.score).max().unwrap_or(1).max(1);
    let mut factors: Vec<String> = Vec::new();
    let mut suggestions: Vec<String> = Vec::new();
    for f in findings {
        if !factors.contains(&f.message) {
            factors.push(f.message.clone());
        }
        if f.score > 1 && !suggestions.contains(&f.suggestion) {
            suggestions.push(f.suggestion.clone());
        }
    }
    let mut score = base;
    // Step 1: high risk in three or more distinct categories compounds (capped at 9: only
    // full administrator access is 10).
    let high_categories: BTreeSet<Category> = findings
        .iter()
        .filter(|f| f.score >= 6 && counts_for_breadth(f.rule.category))
        .map(|f| f.rule.category)
        .collect();
    if high_categories.len() >= 3 && score < 9 {
        score += 1;
        factors.push(format!("high risk in {} categories at once raises the score by 1", high_categories.len()));
    }
    if findings.iter().all(|f| f.score <= 1) {
        factors.push("All statements are scoped or limited; no broad patterns".to_string());
    }
    if options.access_type == Some(crate::options::AccessType::ReadOnly)
        && !findings.iter().any(|f| f.rule.code == "CX001")
    {
        factors.push("Request explicitly marked read-only (cannot mutate state)".to_string());
    }
    // Step 2: duration, as the predecessor: longer grants of risky policies are riskier. Unlike
    // step 1 this may reach 10 (a 9 held for days is treated like administrator access).
    if let Some(h) = options.duration_hours {
        let mut adj = 0;
        if score >= 4 && h > 24 * 7 {
            adj = 1;
        }
        if score >= 6 && h > 24 * 30 {
            adj = 2;
        }
        if score >= 8 && h > 24 {
            adj = adj.max(1);
        }
        if adj > 0 {
            score = (score + adj).min(10);
            factors.push(format!(
                "Duration {}+ days — extended grant raises risk on top of the base policy score.",
                h / 24
            ));
            suggestions.push("Consider a shorter window (re-request when needed) to reduce blast radius.".to_string());
        }
    }
    Scored { score: score.clamp(1, 10), factors, suggestions }
}
