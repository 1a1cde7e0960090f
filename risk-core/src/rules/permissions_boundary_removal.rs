//! PE005 permissions-boundary-removal: remove or replace the boundary that caps a principal.

use super::support::{check_list, resolve_set, Tiers};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};
use crate::actions::ActionSet;
use once_cell::sync::Lazy;

pub static META: RuleMeta = RuleMeta {
    code: "PE005",
    name: "permissions-boundary-removal",
    category: Category::PrivilegeEscalation,
    max_score: 8,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "can delete or replace permissions boundaries",
    what: "`iam:DeleteRolePermissionsBoundary`, `iam:DeleteUserPermissionsBoundary`, \
`iam:PutRolePermissionsBoundary` and `iam:PutUserPermissionsBoundary`.",
    why: "A permissions boundary is the ceiling on what a principal's policies can grant; removing \
or swapping it lifts the ceiling, for the holder itself or for roles it creates.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:DeleteRolePermissionsBoundary", "Resource": "*"}]}"#,
    safer: "Reserve boundary management for administrators; deny it explicitly in delegated \
administrator policies.",
    scoring: "8 on any principal or the caller's own; 5 on named principals.",
};

/// Permissions-boundary changes.
pub(crate) const NAMES: &[&str] = &[
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary",
    "iam:PutRolePermissionsBoundary",
    "iam:PutUserPermissionsBoundary",
];

static ACTIONS: Lazy<ActionSet> = Lazy::new(|| resolve_set(NAMES));

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn action_names(&self) -> &'static [&'static [&'static str]] {
        &[NAMES]
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        let tiers = Tiers { all: 8, self_scoped: Some(8), specific: Some(5) };
        check_list(
            cx.analysis,
            &META,
            &ACTIONS,
            tiers,
            "remove or replace permissions boundaries",
            "Remove permissions-boundary actions; only administrators should change boundaries.",
            out,
        );
    }
}
