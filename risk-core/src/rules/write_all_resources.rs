//! IM002 write-all-resources: state-changing actions on every resource of their type.

use super::support::{check_list, resolve_set, Tiers};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};
use crate::actions::{self, ActionSet};
use iam_catalog::{AccessLevel, ACTIONS as CATALOG};
use once_cell::sync::Lazy;

pub static META: RuleMeta = RuleMeta {
    code: "IM002",
    name: "write-all-resources",
    category: Category::InfrastructureModification,
    max_score: 6,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "can change every resource of a type although the actions support resource scoping",
    what: "*Write* and *Tagging* actions that support resource-level permissions, granted on all \
resources. Actions that AWS only allows on `*` (for example `cloudwatch:PutMetricData`) are not \
counted: scoping them is impossible. Neither are append-only telemetry writes that every \
workload needs (`logs:CreateLogGroup`, `logs:CreateLogStream`, `logs:PutLogEvents`, X-Ray trace \
uploads, the SSM agent's messaging channel), nor creating an unassigned virtual MFA device \
(`iam:CreateVirtualMFADevice`, which self-service MFA policies grant on `mfa/*`), nor the few `Get*`/`List*`/`Describe*` actions \
the catalog classes as Write. Not reported when the policy is full-admin (FA001).",
    why: "A wildcard resource on a write turns one mistaken or malicious call into a change to \
every resource of that type, including ones that belong to other teams. Tagging writes matter \
too: tags often drive attribute-based access control.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "*"}]}"#,
    safer: "Scope writes to the ARNs of the resources the task changes.",
    scoring: "5; 6 when such writes span more than ten services.",
};

/// Routine writes that every workload needs.
pub(crate) const NOT_COUNTED: &[&str] = &[
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:SendReply",
    "ssm:UpdateInstanceInformation",
    // A new virtual MFA device is unassigned: it changes no existing resource and grants
    // nothing until `iam:EnableMFADevice` ties it to a user. AWS's self-service examples grant
    // it on `arn:aws:iam::*:mfa/*` because device names are free-form (IAM User Guide, "AWS:
    // Allows MFA-authenticated IAM users to manage their own credentials…").
    "iam:CreateVirtualMFADevice",
];

static ACTIONS: Lazy<ActionSet> = Lazy::new(|| {
    let mut s = actions::at_level(AccessLevel::Write).clone();
    s.union_with(actions::at_level(AccessLevel::Tagging));
    s.intersect_with(actions::scopable());
    // The catalog classes a few reads as Write (`iot:ListSubscriptions`); a read verb wins.
    s.subtract(&actions::with_name_prefixes(&s, &["get", "list", "describe", "batchget"]));
    s.subtract(&resolve_set(NOT_COUNTED));
    s
});

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn action_names(&self) -> &'static [&'static [&'static str]] {
        &[NOT_COUNTED]
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        if cx.full_admin {
            return;
        }
        let a = cx.analysis;
        let hits = a.all.and_members(&ACTIONS, Some(&a.all_words));
        let services: std::collections::BTreeSet<u16> = hits.iter().map(|&i| CATALOG[i].service).collect();
        let score = if services.len() > 10 { 6 } else { 5 };
        let tiers = Tiers { all: score, self_scoped: None, specific: None };
        check_list(
            a,
            &META,
            &ACTIONS,
            tiers,
            "change resources",
            "Scope write actions to the specific resource ARNs the task changes.",
            out,
        );
    }
}
