//! DS001 destructive-all-resources: delete or terminate resources account-wide.

use super::support::{by_verbs, check_list, resolve_set, Tiers};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};
use crate::actions::ActionSet;
use iam_catalog::AccessLevel;
use once_cell::sync::Lazy;

pub static META: RuleMeta = RuleMeta {
    code: "DS001",
    name: "destructive-all-resources",
    category: Category::Destructive,
    max_score: 7,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "can delete, terminate or destroy resources across the account",
    what: "*Write* actions whose verb is destructive (`Delete*`, `Terminate*`, `Destroy*`, \
`Purge*`, `Drop*`, `Remove*` outside tagging) plus `kms:ScheduleKeyDeletion`, `kms:DisableKey` \
and `s3:PutLifecycleConfiguration`. Acknowledging queue messages (`sqs:DeleteMessage`) is a \
routine consumer operation and is not counted, nor is discarding a support-case draft \
(`support-console:DeleteCaseDraft`).",
    why: "Deletion is often irreversible; on every resource, one call can take down production \
or wipe data.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*"}]}"#,
    safer: "Scope destructive actions to the resources the task must remove, or require a tag \
condition (`aws:ResourceTag/environment: dev`).",
    scoring: "7 on all resources; 3 on named resources.",
};

/// Destructive actions whose verb does not say so.
pub(crate) const EXTRA: &[&str] = &[
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    // Authorises both lifecycle APIs (`PutBucketLifecycle`, `PutBucketLifecycleConfiguration`):
    // an expiration rule deletes every object.
    "s3:PutLifecycleConfiguration",
];

/// Routine consumer operations named like deletes.
pub(crate) const NOT_COUNTED: &[&str] = &[
    "sqs:DeleteMessage",
    // Discards an unsent support-case draft in the console: no resource is lost.
    "support-console:DeleteCaseDraft",
];

static ACTIONS: Lazy<ActionSet> = Lazy::new(|| {
    let mut s =
        by_verbs(None, &["delete", "terminate", "destroy", "purge", "drop", "remove", "wipe"], &[AccessLevel::Write]);
    s.union_with(&resolve_set(EXTRA));
    // Routine consumer operations named like deletes: acknowledging a queue message
    // (`sqs:DeleteMessage` also authorises the `DeleteMessageBatch` API).
    s.subtract(&resolve_set(NOT_COUNTED));
    s
});

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn action_names(&self) -> &'static [&'static [&'static str]] {
        &[EXTRA, NOT_COUNTED]
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        let tiers = Tiers { all: 7, self_scoped: Some(3), specific: Some(3) };
        check_list(cx.analysis, &META, &ACTIONS, tiers, "delete or destroy resources", "Scope destructive actions to the specific resource ARNs (the one bucket, object or instance the task removes).", out);
    }
}
