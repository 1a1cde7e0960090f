//! PE006 passrole-all-roles: `iam:PassRole` on every role, the building block of PE002.

use super::support::{evidence, names};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};
use crate::resources::Breadth;
use once_cell::sync::Lazy;

pub static META: RuleMeta = RuleMeta {
    code: "PE006",
    name: "passrole-all-roles",
    category: Category::PrivilegeEscalation,
    max_score: 7,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "can pass any role in the account to an AWS service",
    what: "`iam:PassRole` granted on all roles — `*`, `arn:aws:iam::*:role/*`, \
`arn:aws:iam::123456789012:role/*` — whether or not this policy also grants a service that \
runs code (that combination is PE002).",
    why: "PassRole decides which permissions a new function, instance, job or stack will run \
with. On every role it is one grant away from administrator: the holder's other policies, \
groups or later requests usually supply the compute.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::*:role/*"}]}"#,
    safer: "Name the one role the workload needs \
(`arn:aws:iam::123456789012:role/app-runtime`) and add an `iam:PassedToService` condition.",
    scoring: "7 on all roles; 5 when an `iam:PassedToService` condition limits which service \
receives the role. Roles named one by one are not reported here.",
};

const PASS_ROLE: &[&str] = &["iam:PassRole"];

static PASSROLE: Lazy<Option<usize>> = Lazy::new(|| iam_catalog::action_index(PASS_ROLE[0]));

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn action_names(&self) -> &'static [&'static [&'static str]] {
        &[PASS_ROLE]
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        let Some(pr) = *PASSROLE else { return };
        let a = cx.analysis;
        let wide: Vec<_> = a.grants.iter().filter(|g| g.breadth(pr) == Breadth::All).collect();
        if wide.is_empty() {
            return;
        }
        let limited = |g: &&crate::analysis::Grant<'_>| {
            g.stmt.conditions.iter().any(|c| {
                c.key.eq_ignore_ascii_case("iam:PassedToService") && !c.operator.to_ascii_lowercase().contains("not")
            })
        };
        let (score, msg) = if wide.iter().all(limited) {
            (5, "can pass any role in the account, to the services its `iam:PassedToService` condition names")
        } else {
            (7, "can pass any role in the account to any AWS service")
        };
        let ev = evidence(a, [pr], Breadth::All);
        out.push(Finding::new(
            &META,
            score,
            names([pr]),
            ev,
            msg.to_string(),
            "Restrict iam:PassRole to specific role ARNs the requester needs to pass, and add an iam:PassedToService condition.".into(),
        ));
    }
}
