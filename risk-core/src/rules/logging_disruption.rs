//! DE001 logging-disruption: stop, delete or blind audit logging and threat detection.

use super::support::{check_list, resolve_set, Tiers};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};
use crate::actions::ActionSet;
use once_cell::sync::Lazy;

pub static META: RuleMeta = RuleMeta {
    code: "DE001",
    name: "logging-disruption",
    category: Category::DefenseEvasion,
    max_score: 7,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "can stop or delete CloudTrail, GuardDuty, Config, Security Hub, flow logs or log groups",
    what: "Actions that switch off or erase detection: `cloudtrail:StopLogging`, \
`cloudtrail:DeleteTrail`, `cloudtrail:UpdateTrail`, `cloudtrail:PutEventSelectors`, GuardDuty \
detector and member changes, AWS Config recorder deletion, Security Hub/Macie/Inspector/Detective \
disablement, `ec2:DeleteFlowLogs`, `logs:DeleteLogGroup`, `logs:PutRetentionPolicy`, alarm \
deletion and disablement.",
    why: "Attackers switch off the audit trail first; whatever happens next goes unseen.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail"], "Resource": "*"}]}"#,
    safer: "Leave detection configuration to a security account; deny these actions with a \
service control policy.",
    scoring: "7 on all resources; 6 on a named trail, detector or log group (blinding one \
trail is still blinding).",
};

/// Actions that switch off or erase logging and detection.
pub(crate) const NAMES: &[&str] = &[
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:DeleteEventDataStore",
    "cloudtrail:StopEventDataStoreIngestion",
    "guardduty:DeleteDetector",
    "guardduty:UpdateDetector",
    "guardduty:DisassociateFromMasterAccount",
    "guardduty:DisassociateFromAdministratorAccount",
    "guardduty:DeleteMembers",
    "guardduty:StopMonitoringMembers",
    "guardduty:CreateFilter",
    "guardduty:UpdateFilter",
    "guardduty:CreateIPSet",
    "guardduty:UpdateIPSet",
    "config:StopConfigurationRecorder",
    "config:DeleteConfigurationRecorder",
    "config:DeleteDeliveryChannel",
    "config:DeleteConfigRule",
    "securityhub:DisableSecurityHub",
    "securityhub:BatchUpdateFindings",
    "macie2:DisableMacie",
    "inspector2:Disable",
    "detective:DeleteGraph",
    "access-analyzer:DeleteAnalyzer",
    "ec2:DeleteFlowLogs",
    "logs:DeleteLogGroup",
    "logs:DeleteLogStream",
    "logs:PutRetentionPolicy",
    "logs:DeleteSubscriptionFilter",
    "cloudwatch:DeleteAlarms",
    "cloudwatch:DisableAlarmActions",
    "s3:PutBucketLogging",
    "organizations:LeaveOrganization",
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
        let tiers = Tiers { all: 7, self_scoped: Some(6), specific: Some(6) };
        check_list(cx.analysis, &META, &ACTIONS, tiers, "disable or erase logging and detection", "Remove logging and detection changes from this policy; manage them from a security account and deny them by SCP.", out);
    }
}
