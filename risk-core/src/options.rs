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
