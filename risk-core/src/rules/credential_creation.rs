//! CE002 credential-creation: mint or reveal credentials for other identities or hosts.

use super::support::{check_list, resolve_set, Tiers};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};
use crate::actions::ActionSet;
use once_cell::sync::Lazy;

pub static META: RuleMeta = RuleMeta {
    code: "CE002",
    name: "credential-creation",
    category: Category::CredentialsExposure,
    max_score: 8,
    applies_to: IDENTITY,
    summary: "can create or reveal credentials: access keys, passwords, SSH keys, database tokens",
    what: "Actions that mint or disclose credentials: `iam:CreateAccessKey`, \
`iam:CreateLoginProfile`, `iam:UpdateLoginProfile`, service-specific credentials, \
`sts:GetFederationToken`, `ec2:GetPasswordData`, EC2 Instance Connect keys, Lightsail access \
details, `rds-db:connect`, Redshift cluster credentials, Cognito admin passwords.",
    why: "New credentials outlive the access grant: keys created during a one-hour window keep \
working after it ends. On other users they are a takeover.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": "*"}]}"#,
    safer: "Let principals manage only their own credentials \
(`arn:aws:iam::*:user/${aws:username}`); use short-lived role sessions instead of keys.",
    scoring: "8 on all resources; 5 on named resources; not reported when scoped to the \
caller's own user.",
};

/// Actions that mint or reveal credentials.
pub(crate) const NAMES: &[&str] = &[
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:CreateServiceSpecificCredential",
    "iam:ResetServiceSpecificCredential",
    "iam:UploadSSHPublicKey",
    "sts:GetFederationToken",
    "ec2:GetPasswordData",
    "ec2-instance-connect:SendSSHPublicKey",
    "ec2-instance-connect:SendSerialConsoleSSHPublicKey",
    "lightsail:GetInstanceAccessDetails",
    "lightsail:DownloadDefaultKeyPair",
    "rds-db:connect",
    "redshift:GetClusterCredentials",
    "redshift:GetClusterCredentialsWithIAM",
    "redshift-serverless:GetCredentials",
    "cognito-idp:AdminSetUserPassword",
    "cognito-idp:AdminResetUserPassword",
    "gamelift:GetInstanceAccess",
    "ecr:GetAuthorizationToken",
];

/// Counted only alongside another credential action (see `check`).
pub(crate) const UNSCOPED_TOKEN: &[&str] = &["ecr:GetAuthorizationToken"];

static ACTIONS: Lazy<ActionSet> = Lazy::new(|| resolve_set(NAMES));

static WITHOUT_ECR: Lazy<ActionSet> = Lazy::new(|| {
    let mut s = ACTIONS.clone();
    s.subtract(&resolve_set(UNSCOPED_TOKEN));
    s
});

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn action_names(&self) -> &'static [&'static [&'static str]] {
        &[NAMES, UNSCOPED_TOKEN]
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        let a = cx.analysis;
        // ecr:GetAuthorizationToken has no resource scoping and only reaches registries the
        // holder may already pull from; it does not count on its own.
        let set: &ActionSet = if WITHOUT_ECR.intersects(&a.effective) { &ACTIONS } else { &WITHOUT_ECR };
        let tiers = Tiers { all: 8, self_scoped: None, specific: Some(5) };
        check_list(
            a,
            &META,
            set,
            tiers,
            "create or reveal credentials",
            "Scope credential actions to the caller's own user (arn:aws:iam::*:user/${aws:username}) or remove them.",
            out,
        );
    }
}
