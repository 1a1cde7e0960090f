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
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "can create or reveal credentials: access keys, passwords, SSH keys, database tokens, role sessions",
    what: "Actions whose response is a credential (Cloudsplaining's list of actions that return \
credentials, plus IAM and Cognito password and key actions), in four groups scored apart: \
credentials of *other identities, hosts or databases* (`iam:CreateAccessKey`, \
`iam:CreateLoginProfile`, `iam:UpdateLoginProfile`, service-specific credentials, \
`sts:GetFederationToken`, `ec2:GetPasswordData`, EC2 Instance Connect keys, Lightsail access \
details, `rds-db:connect`, Redshift cluster credentials, Cognito admin passwords, EMR on EKS \
endpoint credentials); *role sessions* (`sts:AssumeRole`); *service API keys and tokens* \
(AppSync, Chime and Grafana API keys, MWAA CLI and web tokens, MediaPackage ingest \
credentials); and *tokens that carry only the caller's own permissions* \
(`ecr:GetAuthorizationToken`, `codeartifact:GetAuthorizationToken`, `sts:GetSessionToken`, \
Cognito identity tokens). Each group is its own finding, so one group's score never depends \
on another statement.",
    why: "New credentials outlive the access grant: keys created during a one-hour window keep \
working after it ends. On other users they are a takeover. A registry or session token of the \
caller's own carries no permission the caller does not already have, so it is reported low, \
for comparison with Cloudsplaining's credentials-exposure list.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": "*"}]}"#,
    safer: "Let principals manage only their own credentials \
(`arn:aws:iam::*:user/${aws:username}`); use short-lived role sessions instead of keys.",
    scoring: "Other identities, hosts or databases: 8 on all resources, 5 on named resources, \
not reported when scoped to the caller's own user. Role sessions (`sts:AssumeRole`): 5 on all \
roles (the escalation is PE004's), 2 on named roles. Service API keys and tokens: 4 on all \
resources, 2 on named ones. The caller's own tokens: 2 wherever granted. Each group is a \
separate finding.",
};

/// Credentials of other identities, hosts or databases.
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
    "lightsail:GetRelationalDatabaseMasterUserPassword",
    "lightsail:CreateBucketAccessKey",
    "rds-db:connect",
    "redshift:GetClusterCredentials",
    "redshift:GetClusterCredentialsWithIAM",
    "redshift-serverless:GetCredentials",
    "cognito-idp:AdminSetUserPassword",
    "cognito-idp:AdminResetUserPassword",
    "gamelift:GetInstanceAccess",
    "gamelift:GetComputeAccess",
    "emr-containers:GetManagedEndpointSessionCredentials",
];

/// Role sessions: credentials of whichever role's trust policy admits the caller.
pub(crate) const ROLE_SESSIONS: &[&str] = &["sts:AssumeRole"];

/// API keys and tokens for one service's resources (Cloudsplaining's list).
pub(crate) const SERVICE_TOKENS: &[&str] = &[
    "appsync:CreateApiKey",
    "chime:CreateApiKey",
    "grafana:CreateWorkspaceApiKey",
    "airflow:CreateCliToken",
    "airflow:CreateWebLoginToken",
    "mediapackage:RotateChannelCredentials",
    "mediapackage:RotateIngestEndpointCredentials",
    "gamelift:GetComputeAuthToken",
];

/// Tokens that carry only the caller's own identity or permissions (Cloudsplaining's list).
/// `sts:AssumeRoleWithSAML` and `sts:AssumeRoleWithWebIdentity` are here because an identity
/// policy does not govern them: the caller presents its own assertion and the role's trust
/// policy decides.
pub(crate) const OWN_TOKENS: &[&str] = &[
    "ecr:GetAuthorizationToken",
    "ecr-public:GetAuthorizationToken",
    "codeartifact:GetAuthorizationToken",
    "sts:GetSessionToken",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "cognito-identity:GetOpenIdToken",
    "cognito-identity:GetOpenIdTokenForDeveloperIdentity",
    "cognito-identity:GetCredentialsForIdentity",
    "cognito-idp:GetSigningCertificate",
    "cloud9:CreateEnvironmentToken",
    "license-manager:GetAccessToken",
    "connect:GetFederationToken",
    "finspace-api:GetProgrammaticAccessCredentials",
    "gamelift:RequestUploadCredentials",
    "codepipeline:PollForJobs",
];

static OTHERS: Lazy<ActionSet> = Lazy::new(|| resolve_set(NAMES));
static SESSIONS: Lazy<ActionSet> = Lazy::new(|| resolve_set(ROLE_SESSIONS));
static SERVICE: Lazy<ActionSet> = Lazy::new(|| resolve_set(SERVICE_TOKENS));
static OWN: Lazy<ActionSet> = Lazy::new(|| resolve_set(OWN_TOKENS));

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn action_names(&self) -> &'static [&'static [&'static str]] {
        &[NAMES, ROLE_SESSIONS, SERVICE_TOKENS, OWN_TOKENS]
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        let a = cx.analysis;
        // One finding per group, each scored from its own actions only: an unrelated statement
        // (say, managing one's own keys) cannot raise the score of a registry token.
        check_list(
            a,
            &META,
            &OTHERS,
            Tiers { all: 8, self_scoped: None, specific: Some(5) },
            "create or reveal credentials of other identities, hosts or databases",
            "Scope credential actions to the caller's own user (arn:aws:iam::*:user/${aws:username}) or remove them.",
            out,
        );
        check_list(
            a,
            &META,
            &SESSIONS,
            Tiers { all: 5, self_scoped: Some(2), specific: Some(2) },
            "obtain role sessions (credentials of every role whose trust policy admits the caller)",
            "Name the roles the task assumes instead of `*`.",
            out,
        );
        check_list(
            a,
            &META,
            &SERVICE,
            Tiers { all: 4, self_scoped: Some(2), specific: Some(2) },
            "create or reveal service API keys or tokens",
            "Scope API-key and token actions to the named APIs, workspaces or environments.",
            out,
        );
        check_list(
            a,
            &META,
            &OWN,
            Tiers { all: 2, self_scoped: Some(2), specific: Some(2) },
            "obtain tokens that carry only the caller's own permissions",
            "Nothing to change unless the token is not needed; it grants no permission beyond the caller's own.",
            out,
        );
    }
}
