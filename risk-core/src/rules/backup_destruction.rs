//! DS002 backup-destruction: delete backups, snapshots, object versions or keys (ransomware shape).

use super::support::{check_list, resolve_set, Tiers};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};
use crate::actions::ActionSet;
use once_cell::sync::Lazy;

pub static META: RuleMeta = RuleMeta {
    code: "DS002",
    name: "backup-destruction",
    category: Category::Destructive,
    max_score: 8,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "can delete backups, snapshots, object versions or the keys that decrypt them",
    what: "Recovery-destroying actions: AWS Backup recovery points and vaults, RDS/EBS/Redshift/\
ElastiCache/DynamoDB snapshots and backups, `s3:DeleteObjectVersion`, `s3:PutBucketVersioning`, \
Glacier archives and vaults, Data Lifecycle Manager policies and `kms:ScheduleKeyDeletion`.",
    why: "Together with write access, removing the way back is how ransomware in the cloud \
works: data encrypted or deleted, backups gone.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["backup:DeleteRecoveryPoint", "ec2:DeleteSnapshot"], "Resource": "*"}]}"#,
    safer: "Keep backup deletion with a separate break-glass role; protect vaults with AWS \
Backup Vault Lock and S3 with Object Lock.",
    scoring: "8 on all resources; 4 on named resources.",
};

/// Recovery-destroying actions.
pub(crate) const NAMES: &[&str] = &[
    "backup:DeleteRecoveryPoint",
    "backup:DeleteBackupVault",
    "backup:DeleteBackupPlan",
    "backup:UpdateRecoveryPointLifecycle",
    "backup:DeleteBackupVaultLockConfiguration",
    "rds:DeleteDBSnapshot",
    "rds:DeleteDBClusterSnapshot",
    "rds:DeleteDBInstanceAutomatedBackup",
    "rds:DeleteDBClusterAutomatedBackup",
    "ec2:DeleteSnapshot",
    "ec2:DeregisterImage",
    "s3:DeleteObjectVersion",
    "s3:PutBucketVersioning",
    "s3:PutBucketObjectLockConfiguration",
    "glacier:DeleteArchive",
    "glacier:DeleteVault",
    "dynamodb:DeleteBackup",
    "elasticache:DeleteSnapshot",
    "redshift:DeleteClusterSnapshot",
    "fsx:DeleteBackup",
    "dlm:DeleteLifecyclePolicy",
    "kms:ScheduleKeyDeletion",
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
        let tiers = Tiers { all: 8, self_scoped: Some(4), specific: Some(4) };
        check_list(
            cx.analysis,
            &META,
            &ACTIONS,
            tiers,
            "destroy backups and recovery points",
            "Remove backup-deletion actions or confine them to a break-glass role; enable Vault Lock / Object Lock.",
            out,
        );
    }
}
