//! VA001 unknown-action: an action pattern that matches nothing in the AWS catalog.

use super::support::{list_phrase, Evidence};
use super::{Category, Context, Finding, RuleMeta, ANY_TYPE};
use crate::actions::{suggest, Unmatched};

pub static META: RuleMeta = RuleMeta {
    code: "VA001",
    name: "unknown-action",
    category: Category::Validation,
    max_score: 1,
    changed_in: 3,
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
        // One finding per statement, so a policy naming a retired service's forty actions
        // reads as one problem, not forty.
        let unmatched = &cx.analysis.unmatched;
        let mut start = 0;
        while start < unmatched.len() {
            let stmt = unmatched[start].stmt;
            let end = unmatched[start..].iter().position(|u| u.stmt != stmt).map_or(unmatched.len(), |n| start + n);
            group(&unmatched[start..end], out);
            start = end;
        }
    }
}

fn group(items: &[crate::analysis::UnmatchedPattern<'_>], out: &mut Vec<Finding>) {
    let first = &items[0];
    let effect = if first.not_action { "so `NotAction` excludes nothing for them" } else { "so they grant nothing" };
    let message = if items.len() == 1 {
        let what = match first.why {
            Unmatched::Malformed => "is not `*` or `service:action`".to_string(),
            Unmatched::UnknownService => format!(
                "names the service `{}`, which is not in the AWS catalog",
                first.pattern.split(':').next().unwrap_or(first.pattern)
            ),
            Unmatched::UnknownAction => "matches no action in the AWS catalog".to_string(),
        };
        let effect = if first.not_action { "so `NotAction` excludes nothing for it" } else { "so it grants nothing" };
        format!("`{}` {what}, {effect}", first.pattern)
    } else {
        let patterns: Vec<String> = items.iter().map(|u| u.pattern.to_string()).collect();
        let mut services: Vec<&str> = items
            .iter()
            .filter(|u| u.why == Unmatched::UnknownService)
            .map(|u| u.pattern.split(':').next().unwrap_or(u.pattern))
            .collect();
        services.sort_unstable();
        services.dedup();
        let unknown = if services.is_empty() {
            String::new()
        } else {
            format!(" (services not in the catalog: {})", services.join(", "))
        };
        format!(
            "{} action patterns match no action in the AWS catalog{unknown}, {effect}: {}",
            items.len(),
            list_phrase(&patterns, 4)
        )
    };
    let hints: Vec<String> = items
        .iter()
        .filter(|u| u.why == Unmatched::UnknownAction)
        .filter_map(|u| suggest(u.pattern).map(|h| format!("`{}` → `{h}`", u.pattern)))
        .take(3)
        .collect();
    let suggestion = if hints.is_empty() {
        "Check the action names against the AWS service authorization reference (the service may be retired), or remove them.".to_string()
    } else {
        format!("Did you mean {}?", hints.join(", "))
    };
    let ev = Evidence {
        statements: [first.stmt].into_iter().collect(),
        sid: first.sid.map(str::to_string),
        ..Default::default()
    };
    let actions = items.iter().map(|u| u.pattern.to_string()).take(super::support::MAX_LISTED).collect();
    out.push(Finding::new(&META, 1, actions, ev, message, suggestion));
}
