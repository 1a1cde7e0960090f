//! VA003 unreliable-deny: a Deny that does not cancel the Allow it overlaps.

use super::support::Evidence;
use super::{Category, Context, Finding, RuleMeta, ANY_TYPE};

pub static META: RuleMeta = RuleMeta {
    code: "VA003",
    name: "unreliable-deny",
    category: Category::Validation,
    max_score: 1,
    applies_to: ANY_TYPE,
    summary: "a Deny is conditional or narrower than the Allow it overlaps, so the score does not count it",
    what: "Deny statements that overlap an Allow but do not cancel it: conditional denies \
(whether they apply depends on the request), denies for specific principals, and denies whose \
resources cover only part of what the Allow grants.",
    why: "The score reflects what is granted when the deny does not apply. If the deny was meant \
as the safety net, it has holes.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::prod-*"}]}"#,
    safer: "Narrow the Allow instead of carving exceptions out of it with Deny.",
    scoring: "1 (information).",
};

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        for n in &cx.analysis.deny_notes {
            let why = if n.conditional {
                "is conditional, so it is shown but not subtracted"
            } else if n.deny.principal.is_some() {
                "applies only to some principals, so it is not subtracted"
            } else {
                "covers only part of the resources that statement grants"
            };
            let msg = format!(
                "the Deny in statement {} overlaps {} actions allowed by statement {} but {why}",
                n.deny.index, n.overlap, n.allow
            );
            let mut ev = Evidence::of_statement(n.deny);
            ev.statements.insert(n.allow);
            let actions = n.deny.action.patterns.iter().map(|s| s.to_string()).collect();
            out.push(Finding::new(
                &META,
                1,
                actions,
                ev,
                msg,
                "Narrow the Allow statement rather than relying on the Deny.".into(),
            ));
        }
    }
}
