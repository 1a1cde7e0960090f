//! PE004 principal-takeover: act as other users or roles (keys, passwords, trust policies).

use super::escalation::{check, Kind};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};

pub static META: RuleMeta = RuleMeta {
    code: "PE004",
    name: "principal-takeover",
    category: Category::PrivilegeEscalation,
    max_score: 8,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "can take over other users or roles: access keys, console passwords, trust policies, AssumeRole",
    what: "The `principal-access` paths: `iam:CreateAccessKey`, `iam:CreateLoginProfile`, \
`iam:UpdateLoginProfile`, `iam:UpdateAssumeRolePolicy`, `sts:AssumeRole` and their \
combinations, on principals other than the caller's own.",
    why: "Credentials for another user, or a trust policy rewritten to admit the holder, give \
that principal's permissions; which principals exist is outside the policy, so the worst is assumed.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": "arn:aws:iam::*:user/*"}]}"#,
    safer: "Let users manage only their own credentials (`arn:aws:iam::*:user/${aws:username}`) \
and scope `sts:AssumeRole` to named roles.",
    scoring: "8 on any principal; 7 for `sts:AssumeRole` on any role (limited by each role's \
trust policy); 5 on named principals; self-scoped grants are not reported.",
};

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        check(
            cx.analysis,
            Kind::PrincipalAccess,
            &META,
            out,
            "Scope credential and trust-policy actions to the caller's own user (${aws:username}) or to named roles.",
        );
    }
}
