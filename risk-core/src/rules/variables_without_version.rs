//! VA004 variables-without-version: policy variables in a policy that is not version 2012-10-17.

use super::support::Evidence;
use super::{Category, Context, Finding, RuleMeta, ANY_TYPE};
use crate::policy::Version;

pub static META: RuleMeta = RuleMeta {
    code: "VA004",
    name: "variables-without-version",
    category: Category::Validation,
    max_score: 1,
    changed_in: 3,
    applies_to: ANY_TYPE,
    summary: "`${…}` policy variables are used, but without `\"Version\": \"2012-10-17\"` they are literal text",
    what: "A resource or condition value containing `${` in a policy whose `Version` is missing \
or `2008-10-17`.",
    why: "Without the 2012-10-17 language version AWS treats `${aws:username}` as the literal \
string, so self-scoping silently fails (and the policy grants something else than intended).",
    example: r#"{"Statement": [{"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": "arn:aws:iam::*:user/${aws:username}"}]}"#,
    safer: "Add `\"Version\": \"2012-10-17\"`.",
    scoring: "1 (information); resources are read literally, as AWS would.",
};

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        let p = cx.analysis.policy;
        if p.version == Version::V2012 {
            return;
        }
        for s in &p.statements {
            let in_resources = s.resource.as_ref().is_some_and(|r| r.patterns.iter().any(|x| x.contains("${")));
            let in_conditions = s.conditions.iter().any(|c| c.values.iter().any(|v| v.contains("${")));
            if !(in_resources || in_conditions) {
                continue;
            }
            let ev = Evidence::of_statement(s);
            let v = if p.version == Version::Missing { "has no `Version`" } else { "is version 2008-10-17" };
            let msg = format!(
                "statement {} uses `${{…}}` policy variables but the policy {v}, so they are literal text",
                s.index
            );
            out.push(Finding::new(
                &META,
                1,
                Vec::new(),
                ev,
                msg,
                "Add \"Version\": \"2012-10-17\" at the top of the policy.".into(),
            ));
        }
    }
}
