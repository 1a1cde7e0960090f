//! CE001 secret-read-all-resources: read every secret, parameter or decryptable value.

use super::support::{check_list, resolve_set, Tiers};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};
use crate::actions::ActionSet;
use once_cell::sync::Lazy;

pub static META: RuleMeta = RuleMeta {
    code: "CE001",
    name: "secret-read-all-resources",
    category: Category::CredentialsExposure,
    max_score: 7,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "can read every secret, SSM parameter or KMS-encrypted value in the account",
    what: "Secret-value reads granted on all resources: `secretsmanager:GetSecretValue`, \
`ssm:GetParameter(s)`, `ssm:GetParametersByPath`, `ssm:GetParameterHistory`, `kms:Decrypt`. \
Separately, configuration reads that may reveal secrets someone put where they do not belong \
(Lambda environment variables through `lambda:GetFunctionConfiguration`, CodeBuild project \
environment variables through `codebuild:BatchGetProjects`) or AppSync API keys \
(`appsync:ListApiKeys`): the metadata reads of audit policies such as `SecurityAudit`.",
    why: "Secrets are credentials to other systems (databases, third-party APIs). Reading all of \
them turns one role into a key ring for everything it can reach. Configuration reads only \
expose secrets that were stored against AWS's advice (in plain environment variables), so \
they weigh less.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}"#,
    safer: "Name the secrets (`arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-*`) \
or parameter paths the task needs; keep secrets out of environment variables.",
    scoring: "7 for secret values on all resources; 4 (medium) for configuration reads that may \
reveal environment variables or API keys, on all resources. Scoped reads are normal and not \
reported.",
};

/// Secret-value reads (also counted as data exfiltration by DX001, as Cloudsplaining does).
pub(crate) const NAMES: &[&str] = &[
    "secretsmanager:GetSecretValue",
    "secretsmanager:BatchGetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:GetParameterHistory",
    "kms:Decrypt",
];

/// Configuration reads that may reveal environment variables or API keys.
pub(crate) const CONFIG_READS: &[&str] = &[
    "lambda:GetFunctionConfiguration",
    "codebuild:BatchGetProjects",
    // There is no `GetApiKey`: listing returns each AppSync API key's id, which is the key.
    "appsync:ListApiKeys",
];

pub(crate) static SECRET_VALUES: Lazy<ActionSet> = Lazy::new(|| resolve_set(NAMES));
static CONFIG: Lazy<ActionSet> = Lazy::new(|| resolve_set(CONFIG_READS));

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn action_names(&self) -> &'static [&'static [&'static str]] {
        &[NAMES, CONFIG_READS]
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        check_list(
            cx.analysis,
            &META,
            &SECRET_VALUES,
            Tiers { all: 7, self_scoped: None, specific: None },
            "read secrets",
            "Scope secret reads to the specific secret ARNs or parameter paths the task needs.",
            out,
        );
        check_list(
            cx.analysis,
            &META,
            &CONFIG,
            Tiers { all: 4, self_scoped: None, specific: None },
            "read configuration that may reveal environment variables or API keys",
            "Keep secrets out of environment variables (use Secrets Manager), or scope these reads to named functions and projects.",
            out,
        );
    }
}
