//! PE003 existing-resource-escalation: take over compute that already runs with a role.

use super::escalation::{check, Kind};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};

pub static META: RuleMeta = RuleMeta {
    code: "PE003",
    name: "existing-resource-escalation",
    category: Category::PrivilegeEscalation,
    max_score: 7,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "can run code in compute that already has a role (update Lambda code, SSM commands, stack updates…)",
    what: "The `existing-passrole` paths: actions such as `lambda:UpdateFunctionCode`, \
`ssm:SendCommand`, `ssm:StartSession`, `cloudformation:UpdateStack` or `glue:UpdateDevEndpoint` \
that let the holder act through a resource that already runs with a role, and \
`iam:SetDefaultPolicyVersion`, which makes an existing (perhaps more permissive) version of a \
customer managed policy the one in force. Grants on AWS managed policies \
(`arn:aws:iam::aws:policy/…`) are not counted: customers cannot version them.",
    why: "Whether this is an escalation depends on the roles (or policy versions) already in the \
account, which a policy alone cannot show. It is flagged because those roles are often privileged.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:SendCommand", "Resource": "*"}]}"#,
    safer: "Scope these actions to the specific functions, instances or stacks the task \
needs, or use tag conditions (`aws:ResourceTag/team`).",
    scoring: "7 on all resources; 5 on named resources. Depends on an existing privileged role, \
which the finding says.",
};

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        check(cx.analysis, Kind::ExistingPassRole, &META, out, "Scope these actions to the specific functions, instances or stacks needed; an existing privileged role behind them becomes the holder's.");
    }
}
