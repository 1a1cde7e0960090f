//! DX001 data-read-all-resources: read the contents of every bucket, table, queue or stream.

use super::support::{check_list, resolve_set, Tiers};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};
use crate::actions::ActionSet;
use once_cell::sync::Lazy;

pub static META: RuleMeta = RuleMeta {
    code: "DX001",
    name: "data-read-all-resources",
    category: Category::DataExfiltration,
    max_score: 7,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "can read the contents of every bucket, table, queue, stream, log or repository",
    what: "Data-plane reads on all resources: `s3:GetObject` on `*`, `arn:aws:s3:::*` or \
`arn:aws:s3:::*/*`; DynamoDB `GetItem`/`Query`/`Scan`; SQS `ReceiveMessage`; Kinesis \
`GetRecords`; CloudWatch Logs events; EBS snapshot blocks; ECR images; CodeCommit pulls; \
Athena results and similar; and, as a separate finding, reads of secret values.",
    why: "Reading everything means the holder can copy any dataset the account holds, \
including ones created after the grant.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/*"}]}"#,
    safer: "Name the buckets and prefixes (`arn:aws:s3:::reports-bucket/exports/*`) and the \
tables the task reads.",
    scoring: "6 on all resources; 7 when three or more data services are readable that way. \
Secret-value reads on all resources (`secretsmanager:GetSecretValue`, `ssm:GetParameter*`, \
`kms:Decrypt`, as in Cloudsplaining's data-exfiltration list) are a separate finding of 5 (CE001 \
scores their credential side). Scoped reads are not reported.",
};

/// Data-plane reads.
pub(crate) const NAMES: &[&str] = &[
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3-object-lambda:GetObject",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:PartiQLSelect",
    "dynamodb:GetRecords",
    "dynamodb:ExportTableToPointInTime",
    "sqs:ReceiveMessage",
    "kinesis:GetRecords",
    "kafka-cluster:ReadData",
    "glacier:GetJobOutput",
    "ebs:GetSnapshotBlock",
    "ebs:ListSnapshotBlocks",
    "athena:GetQueryResults",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
    "logs:StartQuery",
    "codecommit:GitPull",
    "codecommit:GetBlob",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "lambda:GetFunction",
    "es:ESHttpGet",
    "es:ESHttpPost",
    "elasticfilesystem:ClientMount",
    "redshift-data:GetStatementResult",
    "timestream:Select",
    "neptune-db:ReadDataViaQuery",
    "cassandra:Select",
    "rds:CopyDBSnapshot",
    "rds:CreateDBSnapshot",
    "ec2:CreateSnapshot",
    "sdb:Select",
    "kendra:Query",
    "backup:StartRestoreJob",
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
        let a = cx.analysis;
        let hits = a.all.and_members(&ACTIONS, Some(&a.all_words));
        let services: std::collections::BTreeSet<u16> = hits.iter().map(|&i| iam_catalog::ACTIONS[i].service).collect();
        let all = if services.len() >= 3 { 7 } else { 6 };
        let tiers = Tiers { all, self_scoped: None, specific: None };
        check_list(
            a,
            &META,
            &ACTIONS,
            tiers,
            "read data",
            "Scope data reads to the specific buckets, prefixes, tables or queues the task needs.",
            out,
        );
        // Cloudsplaining counts secret-value reads as data exfiltration too; the credential
        // side is CE001's, so this finding stays medium and does not count towards the
        // several-categories step on its own.
        check_list(
            a,
            &META,
            &super::secret_read_all_resources::SECRET_VALUES,
            Tiers { all: 5, self_scoped: None, specific: None },
            "read secret values (scored as credentials exposure by CE001)",
            "Scope secret reads to the specific secret ARNs or parameter paths the task needs.",
            out,
        );
    }
}
