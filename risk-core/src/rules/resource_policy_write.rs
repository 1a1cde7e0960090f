//! RX001 resource-policy-write: change who can reach resources (bucket policies, ACLs, grants, sharing).

use super::support::{check_list, resolve_set, Tiers};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};
use crate::actions::{self, ActionSet};
use iam_catalog::{AccessLevel, SERVICES};
use once_cell::sync::Lazy;

pub static META: RuleMeta = RuleMeta {
    code: "RX001",
    name: "resource-policy-write",
    category: Category::ResourceExposure,
    max_score: 7,
    changed_in: 3,
    applies_to: IDENTITY,
    summary:
        "can change resource policies, ACLs, grants or sharing (S3 bucket policies, KMS grants, snapshot sharing…)",
    what: "Actions outside IAM that the catalog classes as *Permissions management* — \
`s3:PutBucketPolicy`, `s3:PutBucketAcl`, `kms:PutKeyPolicy`, `kms:CreateGrant`, \
`lambda:AddPermission`, `sqs:AddPermission`, `ecr:SetRepositoryPolicy` — plus sharing actions \
such as `ec2:ModifySnapshotAttribute`, `ec2:ModifyImageAttribute`, \
`rds:ModifyDBSnapshotAttribute`, and turning off S3 Block Public Access \
(`s3:PutBucketPublicAccessBlock`, `s3:PutAccountPublicAccessBlock`, which also authorise the \
`Delete…PublicAccessBlock` API calls). Permissions-management actions that only read \
policies (`Get*`, `List*`, `Describe*`) are not counted, nor is \
`cloudformation:SetStackPolicy` (a stack policy limits what stack updates may change; it \
grants no one access).",
    why: "These actions decide who else can read or write a resource; one call can make a \
bucket public or share a database snapshot with another account.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutBucketPolicy", "Resource": "*"}]}"#,
    safer: "Manage resource policies through infrastructure code reviewed in pull requests; \
if a role must do it, scope it to the named resources.",
    scoring: "7 on all resources; 5 on named resources (one bucket policy change can still \
expose everything in it).",
};

const ACCESS_CONTROL_SERVICES: &[&str] =
    &["iam", "sts", "organizations", "sso", "identitystore", "account", "sso-directory"];

/// Sharing and exposure actions that are not classed as Permissions management.
pub(crate) const NAMES: &[&str] = &[
    "ec2:ModifySnapshotAttribute",
    "ec2:ModifyImageAttribute",
    "ec2:ModifyFpgaImageAttribute",
    "rds:ModifyDBSnapshotAttribute",
    "rds:ModifyDBClusterSnapshotAttribute",
    "redshift:AuthorizeSnapshotAccess",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutAccountPublicAccessBlock",
    "s3:PutAccessPointPolicy",
    "s3:PutBucketOwnershipControls",
    "ram:CreateResourceShare",
    "ram:AssociateResourceShare",
    "lambda:CreateFunctionUrlConfig",
    "lambda:UpdateFunctionUrlConfig",
    "sns:SetTopicAttributes",
    "sqs:SetQueueAttributes",
];

/// Actions the catalog classes as *Permissions management* that do not decide who can reach a
/// resource. A CloudFormation stack policy only says which resources a stack *update* may
/// replace or delete; it grants no principal anything.
pub(crate) const NOT_ACCESS_CONTROL: &[&str] = &["cloudformation:SetStackPolicy"];

static ACTIONS: Lazy<ActionSet> = Lazy::new(|| {
    let mut s = actions::at_level(AccessLevel::PermissionsManagement).clone();
    // The catalog classes some policy *reads* (`GetResourcePolicy`) as permissions
    // management; reading who has access changes nothing.
    s.subtract(&actions::with_name_prefixes(&s, &["get", "list", "describe", "batchget", "search"]));
    for svc in ACCESS_CONTROL_SERVICES.iter().filter_map(|p| iam_catalog::service_index(p)) {
        for i in SERVICES[svc].actions.clone() {
            s.remove(i as usize);
        }
    }
    s.union_with(&resolve_set(NAMES));
    s.subtract(&resolve_set(NOT_ACCESS_CONTROL));
    s
});

/// Is catalog action `i` one that decides who can reach a resource? (What this rule counts,
/// for other rules that weigh a service by it.)
pub(crate) fn changes_access(i: usize) -> bool {
    ACTIONS.contains(i)
}

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn action_names(&self) -> &'static [&'static [&'static str]] {
        &[NAMES, NOT_ACCESS_CONTROL]
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        let tiers = Tiers { all: 7, self_scoped: Some(5), specific: Some(5) };
        check_list(cx.analysis, &META, &ACTIONS, tiers, "change who can access resources", "Scope resource-policy and sharing actions to named resources, or leave them to reviewed infrastructure code.", out);
    }
}
