//! VA002 resource-mismatch: an action listed with resources it can never act on.

use super::support::{list_phrase, names, Evidence};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};

pub static META: RuleMeta = RuleMeta {
    code: "VA002",
    name: "resource-mismatch",
    category: Category::Validation,
    max_score: 1,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "an action is paired with resources of the wrong type, so it grants nothing",
    what: "Explicitly listed actions (not `NotAction`) none of whose resource types can match any \
of the statement's `Resource` patterns — e.g. `s3:GetObject` on `arn:aws:s3:::bucket` (a bucket \
ARN, not an object ARN), or an action that only supports `*` given a specific ARN.",
    why: "The grant is void, so the policy does not do what its author meant; the usual fix \
(widening to `*`) is often broader than needed.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports"}]}"#,
    safer: "Use the resource ARN of the right type (`arn:aws:s3:::reports/*` for objects), or a \
separate statement with `*` for actions that support no resource-level scoping.",
    scoring: "1 (information).",
};

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        for g in &cx.analysis.grants {
            if g.stmt.action.not || g.stmt.resource.is_none() {
                continue;
            }
            let mut void = g.named.clone();
            void.subtract(&g.effective);
            if void.is_empty() {
                continue;
            }
            let listed = names(void.iter());
            let ev = Evidence::of_statement(g.stmt);
            let msg = format!(
                "{} cannot act on any of the statement's resources, so {} nothing",
                list_phrase(&listed, 4),
                if listed.len() == 1 { "it grants" } else { "they grant" }
            );
            out.push(Finding::new(&META, 1, listed, ev, msg, "Use resource ARNs of the type each action acts on (see `iam-risk-score explain ACTION`), or `*` for actions without resource-level permissions.".into()));
        }
    }
}
