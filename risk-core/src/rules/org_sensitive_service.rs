//! CX002 org-sensitive-service: grants on all resources of a service the organisation marked sensitive.

use super::support::{check_list, Tiers};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};
use crate::actions::ActionSet;

pub static META: RuleMeta = RuleMeta {
    code: "CX002",
    name: "org-sensitive-service",
    category: Category::OrgPolicy,
    max_score: 6,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "grants actions on all resources of a service the organisation marked sensitive",
    what: "Services listed in the organisation context (`--sensitive-service`, \
`extra_sensitive_services`), granted on all resources. Built-in sensitive services are covered \
by the other rules.",
    why: "Each organisation knows which services hold its crown jewels; a broad grant there \
deserves review whatever the action.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]}"#,
    safer: "Scope the actions to named resources of that service.",
    scoring: "6 on all resources; 4 on named resources.",
};

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        let mut set = ActionSet::empty();
        for s in &cx.options.extra_sensitive_services {
            if let Some(i) = iam_catalog::service_index(s.trim()) {
                set.insert_range(iam_catalog::SERVICES[i].actions.clone());
            }
        }
        if set.is_empty() {
            return;
        }
        let tiers = Tiers { all: 6, self_scoped: Some(4), specific: Some(4) };
        check_list(
            cx.analysis,
            &META,
            &set,
            tiers,
            "use services your organisation marked sensitive",
            "Scope actions on services your organisation marked sensitive to named resources.",
            out,
        );
    }
}
