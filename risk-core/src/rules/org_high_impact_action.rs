//! CX003 org-high-impact-action: grants an action the organisation marked high-impact.

use super::support::{check_list, Tiers};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};
use crate::actions::{expand_into, ActionSet};

pub static META: RuleMeta = RuleMeta {
    code: "CX003",
    name: "org-high-impact-action",
    category: Category::OrgPolicy,
    max_score: 6,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "grants an action the organisation marked high-impact, however narrowly scoped",
    what: "Action patterns listed in the organisation context (`--high-impact-action`, \
`extra_high_impact_actions`), wildcards allowed, granted on any resource.",
    why: "Some single changes move production (a DNS record, a feature flag table): the \
organisation wants a person to look at every such grant.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "route53:ChangeResourceRecordSets", "Resource": "arn:aws:route53:::hostedzone/Z123"}]}"#,
    safer: "Request these actions separately, for the shortest time, with a description of the change.",
    scoring: "6 on all resources; 5 on named resources (at least medium, so it is not auto-approved).",
};

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        let mut set = ActionSet::empty();
        for p in &cx.options.extra_high_impact_actions {
            // Unknown patterns simply add nothing; the CLI validates them up front.
            let _ = expand_into(p.trim(), &mut set);
        }
        if set.is_empty() {
            return;
        }
        let tiers = Tiers { all: 6, self_scoped: Some(5), specific: Some(5) };
        check_list(cx.analysis, &META, &set, tiers, "perform actions your organisation marked high-impact", "High-impact actions should not be auto-approved: request them separately with a description of the change.", out);
    }
}
