//! PE002 passrole-escalation: pass a role to new compute the holder controls and run as it.

use super::escalation::{check, Kind};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};

pub static META: RuleMeta = RuleMeta {
    code: "PE002",
    name: "passrole-escalation",
    category: Category::PrivilegeEscalation,
    max_score: 9,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "can pass a role to new compute (Lambda, EC2, Glue, ECS, CloudFormation…) and act as that role",
    what: "The `new-passrole` paths of the escalation table: `iam:PassRole` together with the \
actions that create and run a resource under the passed role (e.g. `lambda:CreateFunction` + \
`lambda:InvokeFunction`), whether in one statement or split across several. Case variants such \
as `IAM:passrole` and patterns such as `arn:aws:iam::*:role/*` are recognised.",
    why: "The new function, instance or job runs with the passed role's permissions, which can \
be far wider than the holder's own; with PassRole on every role, that usually means administrator.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"], "Resource": "*"}]}"#,
    safer: "Scope `iam:PassRole` to the one role the workload needs \
(`arn:aws:iam::123456789012:role/app-runtime`) and add `iam:PassedToService`.",
    scoring: "9 with PassRole on any role; 8 when an `iam:PassedToService` condition limits it to \
a service that can still run code for the holder; not reported when that condition names only \
services the path does not use; 6 when PassRole is limited to named roles.",
};

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        check(cx.analysis, Kind::NewPassRole, &META, out, "Restrict iam:PassRole to specific role ARNs the requester needs to pass, and add an iam:PassedToService condition.");
    }
}
