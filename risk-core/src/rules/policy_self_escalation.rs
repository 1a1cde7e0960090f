//! PE001 policy-self-escalation: the holder can rewrite its own permissions.

use super::escalation::{check, Kind};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};

pub static META: RuleMeta = RuleMeta {
    code: "PE001",
    name: "policy-self-escalation",
    category: Category::PrivilegeEscalation,
    max_score: 9,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "can change its own permissions (new policy versions, inline or attached policies, group membership)",
    what: "Grants of the `self-escalation` paths in the escalation table, such as \
`iam:CreatePolicyVersion`, `iam:PutUserPolicy`, `iam:AttachRolePolicy` or `iam:AddUserToGroup`, \
on all resources or on the caller's own user (`${aws:username}`), including combinations split \
across statements. `iam:CreatePolicyVersion` on AWS managed policies (`arn:aws:iam::aws:policy/…`) \
is not counted: customers cannot version them.",
    why: "A principal that can attach or write policies for itself can grant itself \
`AdministratorAccess`: the policy's other limits stop meaning anything.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:AttachUserPolicy", "Resource": "arn:aws:iam::*:user/${aws:username}"}]}"#,
    safer: "Keep policy-management actions for administrators. If a pipeline must manage \
policies, scope it to a path (`arn:aws:iam::123456789012:policy/app/*`) and enforce a \
permissions boundary with `iam:PermissionsBoundary` conditions.",
    scoring: "9 when the actions reach any principal or the caller's own; 6 when scoped to named \
resources (an escalation only if those are the caller's).",
};

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        check(cx.analysis, Kind::SelfEscalation, &META, out, "Remove IAM policy-management actions, or scope them to resources the holder does not control and require a permissions boundary.");
    }
}
