//! The rule registry: one rule per file, each with a stable code, a category and its docs.

use crate::analysis::Analysis;
use crate::options::ScoreOptions;
use crate::policy::PolicyType;
use serde::Serialize;

pub mod escalation;
mod escalation_rows;
pub(crate) mod support;

mod backup_destruction;
mod credential_creation;
mod data_read_all_resources;
mod destructive_all_resources;
mod existing_resource_escalation;
mod full_admin;
mod grants_nothing;
mod logging_disruption;
mod network_exposure_change;
mod org_high_impact_action;
mod org_sensitive_service;
mod passrole_all_roles;
mod passrole_escalation;
mod permissions_boundary_removal;
mod policy_self_escalation;
mod principal_takeover;
mod public_resource_policy;
mod read_only_mismatch;
mod resource_mismatch;
mod resource_policy_write;
mod secret_read_all_resources;
mod service_wildcard;
mod trust_policy_open;
mod unknown_action;
mod unreliable_deny;
mod variables_without_version;
mod write_all_resources;

/// The fixed category vocabulary, used verbatim in every output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    FullAdmin,
    PrivilegeEscalation,
    CredentialsExposure,
    DataExfiltration,
    ResourceExposure,
    InfrastructureModification,
    Destructive,
    DefenseEvasion,
    BroadAccess,
    AccessMismatch,
    OrgPolicy,
    Validation,
}

impl Category {
    pub const ALL: [Category; 12] = [
        Category::FullAdmin,
        Category::PrivilegeEscalation,
        Category::CredentialsExposure,
        Category::DataExfiltration,
        Category::ResourceExposure,
        Category::InfrastructureModification,
        Category::Destructive,
        Category::DefenseEvasion,
        Category::BroadAccess,
        Category::AccessMismatch,
        Category::OrgPolicy,
        Category::Validation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::FullAdmin => "full-admin",
            Category::PrivilegeEscalation => "privilege-escalation",
            Category::CredentialsExposure => "credentials-exposure",
            Category::DataExfiltration => "data-exfiltration",
            Category::ResourceExposure => "resource-exposure",
            Category::InfrastructureModification => "infrastructure-modification",
            Category::Destructive => "destructive",
            Category::DefenseEvasion => "defense-evasion",
            Category::BroadAccess => "broad-access",
            Category::AccessMismatch => "access-mismatch",
            Category::OrgPolicy => "org-policy",
            Category::Validation => "validation",
        }
    }

    /// What the category means, for docs and `rules` output.
    pub fn description(self) -> &'static str {
        match self {
            Category::FullAdmin => "grants (almost) every action on every resource",
            Category::PrivilegeEscalation => "lets the holder gain permissions it was not given",
            Category::CredentialsExposure => "reads secrets or mints credentials for other identities",
            Category::DataExfiltration => "reads data stores across every resource",
            Category::ResourceExposure => "changes who can reach a resource, or opens it to other principals",
            Category::InfrastructureModification => "changes networks, traffic routing or many resources at once",
            Category::Destructive => "deletes or irreversibly disables resources, backups or keys",
            Category::DefenseEvasion => "stops, deletes or blinds logging and threat detection",
            Category::BroadAccess => "whole-service wildcards",
            Category::AccessMismatch => "the policy does more than the request says it needs",
            Category::OrgPolicy => "touches what the organisation marked sensitive or high-impact",
            Category::Validation => "policy mistakes: unknown actions, void grants, unreliable denies",
        }
    }
}

/// Severity, derived from a finding's score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn from_score(score: u8) -> Self {
        match score {
            0..=1 => Severity::Info,
            2..=3 => Severity::Low,
            4..=5 => Severity::Medium,
            6..=8 => Severity::High,
            _ => Severity::Critical,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A rule's identity and documentation. Codes are stable and never reused.
#[derive(Debug)]
pub struct RuleMeta {
    pub code: &'static str,
    pub name: &'static str,
    pub category: Category,
    /// The highest score the rule can give.
    pub max_score: u8,
    /// Policy types the rule examines.
    pub applies_to: &'static [PolicyType],
    pub summary: &'static str,
    pub what: &'static str,
    pub why: &'static str,
    pub example: &'static str,
    pub safer: &'static str,
    /// How conditions or scoping change the score (the only places they may).
    pub scoring: &'static str,
}

impl RuleMeta {
    pub fn severity(&self) -> Severity {
        Severity::from_score(self.max_score)
    }
}

pub(crate) const IDENTITY: &[PolicyType] = &[PolicyType::Identity];
pub(crate) const ANY_TYPE: &[PolicyType] = &[PolicyType::Identity, PolicyType::Resource, PolicyType::Trust];

/// A problem found by a rule, with its evidence.
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static RuleMeta,
    pub score: u8,
    /// Statement indices involved, ascending.
    pub statements: Vec<usize>,
    pub sid: Option<String>,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    pub conditions: Option<serde_json::Value>,
    pub message: String,
    pub suggestion: String,
    /// Escalation path ids (privilege-escalation rules only).
    pub paths: Vec<String>,
}

/// What rules see.
pub struct Context<'a, 'p> {
    pub analysis: &'a Analysis<'p>,
    pub options: &'a ScoreOptions,
    /// Precomputed by the full-admin rule's test, so whole-service rules can stay quiet.
    pub full_admin: bool,
}

/// A rule: metadata plus a check over the analysed policy.
pub trait Rule: Sync + Send {
    fn meta(&self) -> &'static RuleMeta;
    /// Every catalog action name the rule lists literally, one slice per list. Lookups skip
    /// names the catalog lacks, so the tests below (and a debug assertion in
    /// `support::resolve`) are what keep a misspelt or retired name from silently matching
    /// nothing.
    fn action_names(&self) -> &'static [&'static [&'static str]] {
        &[]
    }
    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>);
}

/// Every rule, in a fixed order (by code).
pub static REGISTRY: &[&dyn Rule] = &[
    &full_admin::Rule,
    &service_wildcard::Rule,
    &policy_self_escalation::Rule,
    &passrole_escalation::Rule,
    &existing_resource_escalation::Rule,
    &principal_takeover::Rule,
    &permissions_boundary_removal::Rule,
    &passrole_all_roles::Rule,
    &secret_read_all_resources::Rule,
    &credential_creation::Rule,
    &data_read_all_resources::Rule,
    &resource_policy_write::Rule,
    &public_resource_policy::Rule,
    &trust_policy_open::Rule,
    &network_exposure_change::Rule,
    &write_all_resources::Rule,
    &destructive_all_resources::Rule,
    &backup_destruction::Rule,
    &logging_disruption::Rule,
    &read_only_mismatch::Rule,
    &org_sensitive_service::Rule,
    &org_high_impact_action::Rule,
    &unknown_action::Rule,
    &resource_mismatch::Rule,
    &unreliable_deny::Rule,
    &variables_without_version::Rule,
    &grants_nothing::Rule,
];

/// Look a rule up by code (`PE002`) or name (`passrole-escalation`), case-insensitively.
pub fn find(code_or_name: &str) -> Option<&'static dyn Rule> {
    REGISTRY
        .iter()
        .copied()
        .find(|r| r.meta().code.eq_ignore_ascii_case(code_or_name) || r.meta().name.eq_ignore_ascii_case(code_or_name))
}

pub(crate) use full_admin::is_full_admin;

#[cfg(test)]
mod tests {
    use super::REGISTRY;
    use crate::actions::{expand_into, ActionSet};

    /// "Data that rules rely on is checked": a name the catalog lacks would match nothing.
    #[test]
    fn every_listed_action_name_is_in_the_catalog() {
        let mut problems = Vec::new();
        let mut checked = 0;
        for rule in REGISTRY {
            for list in rule.action_names() {
                for name in *list {
                    checked += 1;
                    let known = if name.contains(['*', '?']) {
                        let mut set = ActionSet::empty();
                        expand_into(name, &mut set).is_ok() && !set.is_empty()
                    } else {
                        iam_catalog::action_index(name).is_some()
                    };
                    if !known {
                        problems.push(format!(
                            "{} {}: `{name}` is not in the catalog",
                            rule.meta().code,
                            rule.meta().name
                        ));
                    }
                }
            }
        }
        assert!(checked > 150, "only {checked} names listed: rules no longer expose their lists");
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn every_max_score_is_a_score() {
        for rule in REGISTRY {
            let m = rule.meta();
            assert!((1..=10).contains(&m.max_score), "{} max_score {}", m.code, m.max_score);
        }
    }

    /// A rule's lists have no duplicates, which would hint at a stale replacement.
    #[test]
    fn listed_action_names_are_unique_per_list() {
        for rule in REGISTRY {
            for list in rule.action_names() {
                let mut seen: Vec<String> = list.iter().map(|n| n.to_ascii_lowercase()).collect();
                seen.sort();
                let before = seen.len();
                seen.dedup();
                assert_eq!(before, seen.len(), "{} lists an action twice", rule.meta().code);
            }
        }
    }
}
