//! Request context for scoring: access type, duration and organisation-specific additions.

use crate::policy::PolicyType;

/// What the requester says the access is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessType {
    ReadOnly,
    ReadWrite,
}

impl AccessType {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "read-only" => Some(AccessType::ReadOnly),
            "read-write" => Some(AccessType::ReadWrite),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccessType::ReadOnly => "read-only",
            AccessType::ReadWrite => "read-write",
        }
    }
}

/// Options for one scoring call. `Default` is "no context": no access-type check, no duration.
#[derive(Debug, Clone, Default)]
pub struct ScoreOptions {
    /// When `Some(ReadOnly)`, any non-read grant is flagged as a mismatch.
    pub access_type: Option<AccessType>,
    /// Requested grant duration; longer grants raise medium and high scores.
    pub duration_hours: Option<u32>,
    /// Free-text purpose (used only by the optional narrative; never by the score).
    pub description: Option<String>,
    /// Services the organisation treats as sensitive, in addition to the built-in ones.
    pub extra_sensitive_services: Vec<String>,
    /// Action patterns the organisation treats as high-impact.
    pub extra_high_impact_actions: Vec<String>,
    /// Force the policy type instead of detecting it.
    pub policy_type: Option<PolicyType>,
}

impl ScoreOptions {
    /// Check organisation context against the catalog; each problem's path names the field
    /// and index (`extra_sensitive_services[1]`), so every surface reports the same errors.
    pub fn validate(&self) -> Result<(), Vec<crate::Problem>> {
        let mut problems = Vec::new();
        for (i, s) in self.extra_sensitive_services.iter().enumerate() {
            if let Err(message) = check_sensitive_service(s) {
                problems.push(crate::Problem { path: format!("extra_sensitive_services[{i}]"), message });
            }
        }
        for (i, p) in self.extra_high_impact_actions.iter().enumerate() {
            if let Err(message) = check_high_impact_action(p) {
                problems.push(crate::Problem { path: format!("extra_high_impact_actions[{i}]"), message });
            }
        }
        if let Some(h) = self.duration_hours {
            if !(1..=8760).contains(&h) {
                problems.push(crate::Problem {
                    path: "duration_hours".into(),
                    message: format!("must be between 1 and 8760 hours, got {h}"),
                });
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Is `service` a service prefix of the catalog (e.g. `dynamodb`)?
pub fn check_sensitive_service(service: &str) -> Result<(), String> {
    match iam_catalog::service_index(service.trim()) {
        Some(_) => Ok(()),
        None => Err(format!("names an unknown service `{service}`; use a service prefix such as `dynamodb`")),
    }
}

/// Does the action pattern match at least one catalog action?
pub fn check_high_impact_action(pattern: &str) -> Result<(), String> {
    let mut set = crate::actions::ActionSet::empty();
    crate::actions::expand_into(pattern.trim(), &mut set)
        .map_err(|_| format!("`{pattern}` matches no action in the AWS catalog"))
}
