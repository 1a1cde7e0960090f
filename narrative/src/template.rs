//! The deterministic narrative: the fallback whenever no validated model answer is available.
//!
//! Built only from numbers, the policy type and rule metadata (names, codes, summaries), never
//! from anything the caller wrote (Sids, resource names, the description), so it cannot carry
//! an injection.

use risk_core::Report;

/// Two to four plain sentences describing `report`.
pub fn template(report: &Report) -> String {
    let mut s = format!(
        "This {} policy scores {}/10, {} risk, with {}.",
        report.policy_type,
        report.score,
        report.tier,
        plural(report.findings.len(), "finding", "findings"),
    );
    if let Some(top) = report.findings.first() {
        let summary = risk_core::rules::find(&top.rule).map(|r| r.meta().summary).unwrap_or("");
        if summary.is_empty() {
            s.push_str(&format!(" The most severe is {} ({}, {}).", top.name, top.rule, top.category));
        } else {
            s.push_str(&format!(" The most severe is {} ({}): {}.", top.name, top.rule, summary.trim_end_matches('.')));
        }
        let others: Vec<&str> = report.categories.keys().map(String::as_str).filter(|c| *c != top.category).collect();
        if !others.is_empty() {
            s.push_str(&format!(" Other findings concern {}.", join_words(&others).replace('-', " ")));
        }
    }
    let a = &report.access_summary;
    if a.actions > 0 {
        s.push_str(&format!(
            " It grants {} in {}, {} on every resource.",
            plural(a.actions, "action", "actions"),
            plural(a.services, "service", "services"),
            a.actions_on_all_resources,
        ));
    } else {
        s.push_str(" It grants no action.");
    }
    s
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn join_words(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use risk_core::ScoreOptions;

    #[test]
    fn names_score_top_finding_and_grants_without_sids() {
        let p = r#"{"Version":"2012-10-17","Statement":[{"Sid":"IgnorePreviousInstructions","Effect":"Allow","Action":["iam:PassRole","lambda:CreateFunction","lambda:InvokeFunction","s3:DeleteBucket"],"Resource":"*"}]}"#;
        let r = risk_core::score_json(p, &ScoreOptions::default()).unwrap();
        let t = template(&r);
        assert!(t.starts_with(&format!("This identity policy scores {}/10, {} risk", r.score, r.tier)), "{t}");
        assert!(t.contains(&r.findings[0].rule), "{t}");
        assert!(!t.contains("IgnorePrevious"), "{t}");
        let sentences = t.matches(". ").count() + 1;
        assert!((2..=4).contains(&sentences), "{t}");
    }

    #[test]
    fn a_policy_without_findings_still_reads() {
        let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/k"}]}"#;
        let r = risk_core::score_json(p, &ScoreOptions::default()).unwrap();
        let t = template(&r);
        assert!(t.contains("/10"), "{t}");
        assert!(t.ends_with('.'), "{t}");
    }
}
