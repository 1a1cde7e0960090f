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
    applies_to: IDENTITY,
    summary: "can read every secret, SSM parameter or KMS-encrypted value in the account",
    what: "Secret-reading actions granted on all resources: `secretsmanager:GetSecretValue`, \
`ssm:GetParameter(s)`, `ssm:GetParametersByPath`, `ssm:GetParameterHistory`, `kms:Decrypt`, \
and reads that expose environment secrets such as `lambda:GetFunctionConfiguration`.",
    why: "Secrets are credentials to other systems (databases, third-party APIs). Reading all of \
them turns one role into a key ring for everything it can reach.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}"#,
    safer: "Name the secrets (`arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-*`) \
or parameter paths the task needs.",
    scoring: "7 on all resources. Scoped secret reads are normal and not reported.",
};

/// Secret-reading actions.
pub(crate) const NAMES: &[&str] = &[
    "secretsmanager:GetSecretValue",
    "secretsmanager:BatchGetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:GetParameterHistory",
    "kms:Decrypt",
    "lambda:GetFunctionConfiguration",
    "codebuild:BatchGetProjects",
    // There is no `GetApiKey`: listing returns each AppSync API key's id, which is the key.
    "appsync:ListApiKeys",
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
        let tiers = Tiers { all: 7, self_scoped: None, specific: None };
        check_list(
            cx.analysis,
            &META,
            &ACTIONS,
            tiers,
            "read secrets",
            "Scope secret reads to the specific secret ARNs or parameter paths the task needs.",
            out,
        );
    }
}
