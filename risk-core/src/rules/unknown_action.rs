//! VA001 unknown-action: an action pattern that matches nothing in the AWS catalog.

use super::support::Evidence;
use super::{Category, Context, Finding, RuleMeta, ANY_TYPE};
use crate::actions::{suggest, Unmatched};

pub static META: RuleMeta = RuleMeta {
    code: "VA001",
    name: "unknown-action",
    category: Category::Validation,
    max_score: 1,
    applies_to: ANY_TYPE,
    summary: "an action or service is not in the AWS catalog (typo, retired action, or malformed)",
    what: "`Action`/`NotAction` entries that match no action of the bundled AWS service \
authorization reference: unknown service prefixes, misspelt actions (`s3:GetObjectz`), and \
entries without a `service:` prefix.",
    why: "An unknown action grants nothing, so the policy probably does not do what its author \
meant; in `NotAction` it excludes nothing, so the statement grants more than intended.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObjectz", "Resource": "*"}]}"#,
    safer: "Fix the spelling (the finding suggests the closest action) or remove the entry.",
    scoring: "1 (information): what the policy really grants is scored by the other rules.",
};

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        for u in &cx.analysis.unmatched {
            let what = match u.why {
                Unmatched::Malformed => "is not `*` or `service:action`".to_string(),
                Unmatched::UnknownService => {
                    format!(
                        "names the service `{}`, which is not in the AWS catalog",
                        u.pattern.split(':').next().unwrap_or(u.pattern)
                    )
                }
                Unmatched::UnknownAction => "matches no action in the AWS catalog".to_string(),
            };
            let effect = if u.not_action { "so `NotAction` excludes nothing for it" } else { "so it grants nothing" };
            let hint = suggest(u.pattern);
            let suggestion = match &hint {
                Some(h) => format!("Did you mean `{h}`?"),
                None => {
                    "Check the action name against the AWS service authorization reference, or remove it.".to_string()
                }
            };
            let ev = Evidence {
                statements: [u.stmt].into_iter().collect(),
                sid: u.sid.map(str::to_string),
                ..Default::default()
            };
            out.push(Finding::new(
                &META,
                1,
                vec![u.pattern.to_string()],
                ev,
                format!("`{}` {what}, {effect}", u.pattern),
                suggestion,
            ));
        }
    }
}
