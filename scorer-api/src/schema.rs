//! OpenAPI schemas of the request and response bodies.
//!
//! The response types live in `risk-core`, which knows nothing of utoipa; these mirrors
//! describe them field for field. `tests/openapi.rs` checks real responses against the
//! generated document, so a field added to the core without its mirror fails the build.

#![allow(dead_code)] // the structs exist only for their derived schemas

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `read-only` flags any grant beyond reading; `read-write` does not.
#[derive(ToSchema, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessType {
    ReadOnly,
    ReadWrite,
}

#[derive(ToSchema, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyType {
    Identity,
    Resource,
    Trust,
}

/// An IAM policy document (`{Version, Statement}`), or its JSON text as a string.
#[derive(ToSchema, Deserialize)]
#[serde(untagged)]
pub enum PolicyDocument {
    Document(BTreeMap<String, Value>),
    Text(String),
}

/// Score one policy. Only `policy` is required; omitted context means "not stated" (the
/// same defaults as the CLI, Python and WASM surfaces).
// NOTE: `Deserialize` only so utoipa reads `deny_unknown_fields` (additionalProperties:
// false): the server rejects unknown fields with a 422.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:PassRole", "lambda:CreateFunction"], "Resource": "*"}]},
    "access_type": "read-write",
    "duration_hours": 8,
    "description": "deploy the billing lambda"
}))]
pub struct ScoreRequest {
    pub policy: PolicyDocument,
    #[schema(nullable)]
    pub access_type: Option<AccessType>,
    /// Requested grant duration in hours.
    #[schema(minimum = 1, maximum = 8760, nullable)]
    pub duration_hours: Option<u32>,
    /// Purpose of the request. Never changes the score; quoted as data to the narrative model.
    #[schema(max_length = 500, nullable)]
    pub description: Option<String>,
    /// Service prefixes your organisation treats as sensitive (e.g. `dynamodb`).
    #[schema(nullable)]
    pub additional_sensitive_services: Option<Vec<String>>,
    /// Action patterns your organisation treats as high-impact (e.g. `route53:Change*`).
    #[schema(nullable)]
    pub additional_high_impact_actions: Option<Vec<String>>,
    /// Force the policy type instead of detecting it.
    #[schema(nullable)]
    pub policy_type: Option<PolicyType>,
    /// `false` skips the narrative; `true` asks for one (the deterministic template when no
    /// model is configured); omitted follows the server configuration.
    #[schema(nullable)]
    pub narrative: Option<bool>,
}

/// Up to `batch_max` (default 100) scoring requests, scored in parallel.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub items: Vec<ScoreRequest>,
}

/// One batch item's outcome: `result` or `error`, in request order.
#[derive(ToSchema)]
pub struct BatchItem {
    pub index: usize,
    pub result: Option<Report>,
    pub error: Option<crate::error::ErrorObject>,
}

#[derive(ToSchema)]
pub struct BatchResponse {
    pub results: Vec<BatchItem>,
    pub scored: usize,
    pub failed: usize,
}

/// Compare two versions of a policy.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffRequest {
    /// The policy before the change.
    pub old: PolicyDocument,
    /// The policy after the change.
    pub new: PolicyDocument,
    #[schema(nullable)]
    pub access_type: Option<AccessType>,
    #[schema(minimum = 1, maximum = 8760, nullable)]
    pub duration_hours: Option<u32>,
    #[schema(max_length = 500, nullable)]
    pub description: Option<String>,
    #[schema(nullable)]
    pub additional_sensitive_services: Option<Vec<String>>,
    #[schema(nullable)]
    pub additional_high_impact_actions: Option<Vec<String>>,
    #[schema(nullable)]
    pub policy_type: Option<PolicyType>,
}

/// The v1 result (docs/output-v1.md). The predecessor's keys first, then the v1 additions.
#[derive(ToSchema)]
pub struct Report {
    #[schema(minimum = 1, maximum = 10)]
    pub score: u8,
    /// `low` (1-3), `medium` (4-5) or `high` (6-10).
    pub tier: String,
    pub would_auto_approve_at_threshold_5: bool,
    pub factors: Vec<String>,
    pub suggestions: Vec<String>,
    #[schema(required = true)]
    pub llm_narrative: Option<String>,
    /// `deterministic`, or `deterministic+llm:<model>` when a model wrote the narrative.
    pub analyzer: String,
    pub policy_fingerprint: String,
    pub api_version: String,
    pub policy_type: String,
    pub findings: Vec<Finding>,
    pub categories: BTreeMap<String, CategorySummary>,
    pub access_summary: AccessSummary,
    pub context: Context,
    pub versions: Versions,
}

#[derive(ToSchema)]
pub struct Finding {
    pub rule: String,
    pub name: String,
    pub category: String,
    pub severity: String,
    pub score: u8,
    #[schema(required = true)]
    pub statement: Option<usize>,
    pub statements: Vec<usize>,
    #[schema(required = true)]
    pub sid: Option<String>,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// The statement's `Condition` block as written, or null.
    #[schema(value_type = Option<Object>, required = true)]
    pub conditions: Option<Value>,
    pub message: String,
    pub suggestion: String,
    pub paths: Vec<String>,
}

#[derive(ToSchema)]
pub struct CategorySummary {
    pub max_score: u8,
    pub findings: usize,
}

#[derive(ToSchema)]
pub struct AccessSummary {
    pub services: usize,
    pub actions: usize,
    pub actions_on_all_resources: usize,
    pub by_service: BTreeMap<String, ServiceAccess>,
}

#[derive(ToSchema)]
pub struct ServiceAccess {
    pub access_levels: BTreeMap<String, usize>,
    pub catalog_actions: usize,
    pub actions_on_all_resources: usize,
}

#[derive(ToSchema)]
pub struct Context {
    #[schema(required = true)]
    pub access_type: Option<String>,
    #[schema(required = true)]
    pub duration_hours: Option<u32>,
}

#[derive(ToSchema)]
pub struct Versions {
    pub engine: String,
    pub rules: String,
    pub catalog: String,
    pub catalog_source: String,
}

/// What a policy change adds.
#[derive(ToSchema)]
pub struct PolicyDiff {
    pub old_score: u8,
    pub new_score: u8,
    pub risk_delta: i16,
    pub old_tier: String,
    pub new_tier: String,
    /// service → access level → actions.
    pub added_actions: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    pub added_actions_total: usize,
    pub removed_actions: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    pub removed_actions_total: usize,
    pub new_findings: Vec<Finding>,
    pub resolved_findings: Vec<Finding>,
    pub old_fingerprint: String,
    pub new_fingerprint: String,
    pub api_version: String,
    pub versions: Versions,
}

/// A rule's documentation (the same text as docs/rules.md and `iam-risk-score explain`).
#[derive(ToSchema)]
pub struct RuleDoc {
    pub code: String,
    pub name: String,
    pub category: String,
    pub severity: String,
    pub max_score: u8,
    pub applies_to: Vec<String>,
    pub summary: String,
    pub what: String,
    pub why: String,
    pub example: String,
    pub safer: String,
    pub scoring: String,
}

/// The bundled AWS action catalog.
#[derive(ToSchema)]
pub struct CatalogInfo {
    pub services: usize,
    pub actions: usize,
    pub source: String,
    pub version: String,
    pub updated_at: String,
    pub license: String,
}

#[derive(ToSchema)]
pub struct Health {
    /// `ok` (healthz), `ready` or `shutting_down` (readyz).
    pub status: String,
    pub version: String,
    /// Whether narratives come from a model.
    pub narrative_model: Option<String>,
}
