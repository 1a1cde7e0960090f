//! What a policy change adds: old vs new score, newly granted actions (after wildcard
//! expansion) by service and access level, and findings that appear or disappear.

use crate::analysis::Analysis;
use crate::output::v1::{self, Report};
use crate::policy::Policy;
use crate::{PolicyError, ScoreOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Actions by service prefix, then access level, each list sorted (catalog names).
pub type ActionsByService = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// The v1 result of comparing two versions of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct PolicyDiff {
    pub old_score: u8,
    pub new_score: u8,
    /// `new_score - old_score`.
    pub risk_delta: i16,
    pub old_tier: String,
    pub new_tier: String,
    /// Actions the new version grants that the old one did not.
    pub added_actions: ActionsByService,
    pub added_actions_total: usize,
    /// Actions the old version granted that the new one does not.
    pub removed_actions: ActionsByService,
    pub removed_actions_total: usize,
    /// Findings of the new version not present (same rule, score and actions) in the old.
    pub new_findings: Vec<v1::Finding>,
    /// Findings of the old version no longer present in the new.
    pub resolved_findings: Vec<v1::Finding>,
    pub old_fingerprint: String,
    pub new_fingerprint: String,
    pub api_version: String,
    pub versions: v1::Versions,
}

/// Compare two policy documents (JSON text).
pub fn diff_json(old: &str, new: &str, options: &ScoreOptions) -> Result<PolicyDiff, DiffError> {
    // Check the old side completely before the new one, so the first error is the old one's.
    let o = crate::parse_json(old).map_err(DiffError::Old)?;
    Policy::parse(&o).map_err(DiffError::Old)?;
    let n = crate::parse_json(new).map_err(DiffError::New)?;
    diff_values(&o, &n, options)
}

/// Which side of a diff failed to parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    #[error("old policy: {0}")]
    Old(PolicyError),
    #[error("new policy: {0}")]
    New(PolicyError),
}

impl DiffError {
    /// The underlying policy error.
    pub fn policy_error(&self) -> &PolicyError {
        match self {
            DiffError::Old(e) | DiffError::New(e) => e,
        }
    }
}

/// Compare two parsed policy documents.
pub fn diff_values(old: &Value, new: &Value, options: &ScoreOptions) -> Result<PolicyDiff, DiffError> {
    let old_report = crate::score_value(old, options).map_err(DiffError::Old)?;
    let new_report = crate::score_value(new, options).map_err(DiffError::New)?;
    let old_policy = Policy::parse(old).map_err(DiffError::Old)?;
    let new_policy = Policy::parse(new).map_err(DiffError::New)?;
    let oa = Analysis::new(&old_policy, old_policy.policy_type(options.policy_type).map_err(DiffError::Old)?);
    let na = Analysis::new(&new_policy, new_policy.policy_type(options.policy_type).map_err(DiffError::New)?);
    let mut added = na.effective.clone();
    added.subtract(&oa.effective);
    let mut removed = oa.effective.clone();
    removed.subtract(&na.effective);
    Ok(PolicyDiff {
        old_score: old_report.score,
        new_score: new_report.score,
        risk_delta: i16::from(new_report.score) - i16::from(old_report.score),
        old_tier: old_report.tier.clone(),
        new_tier: new_report.tier.clone(),
        added_actions_total: added.len(),
        added_actions: group(&added),
        removed_actions_total: removed.len(),
        removed_actions: group(&removed),
        new_findings: only_in(&new_report, &old_report),
        resolved_findings: only_in(&old_report, &new_report),
        old_fingerprint: old_report.policy_fingerprint,
        new_fingerprint: new_report.policy_fingerprint,
        api_version: v1::API_VERSION.to_string(),
        versions: crate::versions(),
    })
}

fn key(f: &v1::Finding) -> (&str, u8, &[String], &[String]) {
    (&f.rule, f.score, &f.actions, &f.paths)
}

fn only_in(a: &Report, b: &Report) -> Vec<v1::Finding> {
    a.findings.iter().filter(|f| !b.findings.iter().any(|g| key(g) == key(f))).cloned().collect()
}

fn group(set: &crate::actions::ActionSet) -> ActionsByService {
    let mut out: ActionsByService = BTreeMap::new();
    for i in set.iter() {
        let a = &iam_catalog::ACTIONS[i];
        out.entry(a.service().prefix.to_string())
            .or_default()
            .entry(a.access.as_str().to_string())
            .or_default()
            .push(a.full_name());
    }
    for levels in out.values_mut() {
        for v in levels.values_mut() {
            v.sort();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_passrole_is_an_increase() {
        let old = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:CreateFunction","lambda:InvokeFunction"],"Resource":"*"}]}"#;
        let new = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:CreateFunction","lambda:InvokeFunction","iam:PassRole"],"Resource":"*"}]}"#;
        let d = diff_json(old, new, &ScoreOptions::default()).unwrap();
        assert!(d.risk_delta > 0, "{d:?}");
        assert_eq!(d.added_actions["iam"]["Write"], vec!["iam:PassRole".to_string()]);
        assert_eq!(d.added_actions_total, 1);
        assert!(d.new_findings.iter().any(|f| f.rule == "PE002"));
        assert!(d.resolved_findings.is_empty() || d.resolved_findings.iter().all(|f| f.rule != "PE002"));
        let back = diff_json(new, old, &ScoreOptions::default()).unwrap();
        assert_eq!(back.risk_delta, -d.risk_delta);
        assert!(back.resolved_findings.iter().any(|f| f.rule == "PE002"));
    }

    #[test]
    fn errors_name_the_side() {
        let e = diff_json("{}", "[", &ScoreOptions::default()).unwrap_err();
        assert!(e.to_string().starts_with("old policy: Statement is missing"), "{e}");
        let e = diff_json(r#"{"Statement":[]}"#, "[", &ScoreOptions::default()).unwrap_err();
        assert!(e.to_string().starts_with("new policy:"), "{e}");
    }
}
