//! VA005 grants-nothing: after denies and resource checks, the policy allows no action.

use super::support::Evidence;
use super::{Category, Context, Finding, RuleMeta, IDENTITY};

pub static META: RuleMeta = RuleMeta {
    code: "VA005",
    name: "grants-nothing",
    category: Category::Validation,
    max_score: 1,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "the policy grants no permission at all",
    what: "Policies whose Allow statements are entirely cancelled by unconditional denies, name \
only unknown actions, or pair every action with resources it cannot act on.",
    why: "Usually a mistake: the requester will be denied and ask again with something broader.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "*", "Resource": "*"}]}"#,
    safer: "Write the Allow statements for what the task needs.",
    scoring: "1 (information).",
};

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        let a = cx.analysis;
        if !a.effective.is_empty() {
            return;
        }
        let why = if a.grants.is_empty() {
            "it has no Allow statement".to_string()
        } else if a.fully_denied > 0 {
            format!("unconditional Deny statements cancel all {} allowed actions", a.fully_denied)
        } else {
            "no allowed action matches the catalog and its resources".to_string()
        };
        let ev = Evidence { statements: a.policy.statements.iter().map(|s| s.index).collect(), ..Default::default() };
        out.push(Finding::new(
            &META,
            1,
            Vec::new(),
            ev,
            format!("the policy grants no permissions: {why}"),
            "Write Allow statements for the actions the task needs.".into(),
        ));
    }
}
