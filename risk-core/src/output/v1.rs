//! The frozen v1 JSON result shared by the CLI, Python, WASM and HTTP surfaces.
//!
//! Keys of the predecessor (`score`, `tier`, `would_auto_approve_at_threshold_5`, `factors`,
//! `suggestions`, `llm_narrative`, `analyzer`, `policy_fingerprint`) keep their meaning; v1
//! adds findings, categories, an access summary, the request context and versions.
//! Fields are only ever added, never renamed or removed, within v1.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The value of `api_version` in every v1 result.
pub const API_VERSION: &str = "v1";

/// One scored policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Report {
    /// 1 (harmless) to 10 (full administrator).
    #[cfg_attr(feature = "schema", schema(minimum = 1, maximum = 10))]
    pub score: u8,
    /// `low` (1–3), `medium` (4–5) or `high` (6–10).
    pub tier: String,
    pub would_auto_approve_at_threshold_5: bool,
    /// Human-readable reasons, most severe first.
    pub factors: Vec<String>,
    /// What to change to lower the score, most important first.
    pub suggestions: Vec<String>,
    /// Optional plain-words explanation (never changes anything else).
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub llm_narrative: Option<String>,
    /// `deterministic`, or `deterministic+llm:<model>` when a narrative was added.
    pub analyzer: String,
    /// `sha256:` of the canonical JSON of the policy as given.
    pub policy_fingerprint: String,
    /// Always `v1`.
    pub api_version: String,
    /// `identity`, `resource` or `trust`.
    pub policy_type: String,
    pub findings: Vec<Finding>,
    /// Per category present: highest score and number of findings.
    pub categories: BTreeMap<String, CategorySummary>,
    /// What the policy really grants, per service and access level.
    pub access_summary: AccessSummary,
    pub context: Context,
    pub versions: Versions,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Finding {
    /// Stable rule code, e.g. `PE002`.
    pub rule: String,
    /// Rule name, e.g. `passrole-escalation`.
    pub name: String,
    pub category: String,
    /// `info`, `low`, `medium`, `high` or `critical` (from `score`).
    pub severity: String,
    /// The score this finding alone gives the policy.
    pub score: u8,
    /// Index of the first statement involved (0-based), if any.
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub statement: Option<usize>,
    /// Every statement involved, ascending.
    pub statements: Vec<usize>,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub sid: Option<String>,
    /// Actions that triggered the rule (catalog names, sorted; at most 100).
    pub actions: Vec<String>,
    /// Resource patterns of the statements involved, as written.
    pub resources: Vec<String>,
    /// The `Condition` block of the statement involved, as written, if any.
    #[cfg_attr(feature = "schema", schema(value_type = Option<Object>, required = true))]
    pub conditions: Option<serde_json::Value>,
    pub message: String,
    pub suggestion: String,
    /// Privilege-escalation path ids (see docs/escalation-paths.md); empty for other rules.
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct CategorySummary {
    pub max_score: u8,
    pub findings: usize,
}

/// Counts of granted actions (after expansion, denies and resource checks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AccessSummary {
    pub services: usize,
    pub actions: usize,
    /// Actions granted on every resource of their type.
    pub actions_on_all_resources: usize,
    pub by_service: BTreeMap<String, ServiceAccess>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ServiceAccess {
    /// Access level (`List`, `Read`, `Write`, `Permissions management`, `Tagging`) → count.
    pub access_levels: BTreeMap<String, usize>,
    /// Actions of this service in the catalog.
    pub catalog_actions: usize,
    pub actions_on_all_resources: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Context {
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub access_type: Option<String>,
    #[cfg_attr(feature = "schema", schema(required = true))]
    pub duration_hours: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Versions {
    pub engine: String,
    pub rules: String,
    pub catalog: String,
    pub catalog_source: String,
}
