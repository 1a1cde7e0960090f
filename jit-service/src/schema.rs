//! OpenAPI schemas of the HTTP bodies.
//!
//! Types the service already has (users, tokens, the approval policy, audit records, webhooks,
//! reports, the engine's `Report`) derive their schemas where they are defined. Here: the small
//! request bodies and query strings the handlers decode (defined once, here, with their schema),
//! the mirrors of what is validated by hand (`RoleRequest`, whose parser reports every problem
//! with its path; new users with their role names) and the `json!` envelopes of the responses.
//! Each mirror says only what the service enforces, so a body that breaks the schema is always refused;
//! `tests/openapi.rs` checks real answers against these schemas and sends every documented
//! example, and `scripts/test-jit.sh` fuzzes the running service with schemathesis.

#![allow(dead_code)] // the structs exist for their derived schemas

use crate::approval::{ApprovalPolicy, PolicyVersion};
use crate::audit::{Record, Verification};
use crate::error::FieldError;
use crate::identity::{Role, TokenInfo};
use crate::notify::Webhook;
use crate::requests::Approval;
use risk_core::Report;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Every error: `detail` for people, `code` for programs, `errors` for each problem of a
/// rejected body or query (path and message).
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub detail: String,
    /// Stable: `bad_request`, `unauthenticated`, `forbidden`, `not_found`, `conflict`,
    /// `too_large`, `media_type`, `invalid`, `rate_limited`, `busy`, `database`, …
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

// ---------------------------------------------------------------------------------------------
// RoleRequest (the body of POST /api/v1/requests, /requests/preview and PATCH /requests/{id})
// ---------------------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub enum ApiVersion {
    #[serde(rename = "iam-jit.dev/v1alpha1")]
    V1alpha1,
}

#[derive(Serialize, ToSchema)]
pub enum RoleRequestKind {
    RoleRequest,
}

/// Informational (the authenticated caller is the requester); kept for the predecessor's
/// clients. Values are not checked.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    #[schema(value_type = Value, required = false)]
    pub name: Value,
    #[schema(value_type = Value, required = false)]
    pub email: Value,
    #[schema(value_type = Value, required = false)]
    pub principal_arn: Value,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestMetadataIn {
    /// 1-128 letters, digits, `-`, `_` or `.`.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,128}$")]
    pub name: Option<String>,
    #[schema(required = false)]
    pub requester: Requester,
    /// At most 20 string labels (values up to 256 bytes).
    #[schema(schema_with = string_map_schema, required = false)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
pub enum AccessTypeIn {
    #[serde(rename = "read-only")]
    ReadOnly,
    #[serde(rename = "read-write")]
    ReadWrite,
}

fn string_map_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))
        .max_properties(Some(20))
        .into()
}

fn account_id_schema() -> Schema {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^[0-9]{12}$")))
        .item(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).maximum(Some(999_999_999_999i64)))
        .description(Some("A 12-digit AWS account id (a string; a number is zero-padded to 12 digits)"))
        .build()
        .into()
}

fn regions_schema() -> Schema {
    let region = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^[a-z0-9]+(-[a-z0-9]+){1,3}-[0-9]+$"))
        .max_length(Some(25))
        .examples([json!("us-east-1")]);
    let list = ArrayBuilder::new().items(region).max_items(Some(40));
    OneOfBuilder::new()
        .item(list)
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some("Regions the access is for (at most 40), e.g. `us-east-1`"))
        .build()
        .into()
}

fn policy_schema() -> Schema {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Object).description(Some("An IAM policy document")))
        .item(ObjectBuilder::new().schema_type(Type::String).description(Some("The policy document as JSON text")))
        .description(Some("The IAM policy document to grant (scored by the engine)"))
        .build()
        .into()
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountIn {
    #[schema(schema_with = account_id_schema)]
    pub account_id: String,
    #[schema(schema_with = regions_schema, required = false)]
    pub regions: Option<Vec<String>>,
    /// Shown to approvers (cut to 64 characters).
    pub alias: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DurationHours {
    #[schema(minimum = 1, maximum = 8760)]
    pub duration_hours: u32,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DurationUntil {
    /// A future RFC 3339 time.
    #[schema(format = DateTime)]
    pub not_after: String,
}

/// Exactly one of `duration_hours` or `not_after`; capped by the approval policy.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum DurationIn {
    Hours(DurationHours),
    Until(DurationUntil),
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssumeByIn {
    /// An IAM user or role ARN (or an assumed-role session ARN) linked to your user.
    pub principal_arn: String,
}

#[derive(Serialize, ToSchema)]
pub enum ProvisioningModeIn {
    #[serde(rename = "classic_iam")]
    ClassicIam,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningIn {
    pub mode: Option<ProvisioningModeIn>,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassIn {
    /// Why emergency access is needed (10-2000 characters after trimming).
    #[schema(min_length = 10)]
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequestSpec {
    /// What the access is for (10-2000 characters after trimming, no control characters
    /// other than newline and tab).
    #[schema(min_length = 10)]
    pub description: String,
    /// `read-only` (default) or `read-write`, case-insensitive.
    pub access_type: Option<AccessTypeIn>,
    /// 1-20 destination accounts, each listed once.
    #[schema(min_items = 1, max_items = 20)]
    pub accounts: Vec<AccountIn>,
    pub duration: DurationIn,
    #[schema(schema_with = policy_schema)]
    pub policy: Value,
    /// An http(s) link to the ticket (at most 2048 bytes, no white space).
    #[schema(pattern = "^https?://")]
    pub ticket_url: Option<String>,
    #[schema(required = false)]
    pub assume_by: AssumeByIn,
    /// At most 20 string tags for the role (keys 1-128 bytes, not starting with `iam-jit` or
    /// `aws:`; values up to 256 bytes).
    #[schema(schema_with = string_map_schema, required = false)]
    pub tags: BTreeMap<String, String>,
    #[schema(required = false)]
    pub provisioning: ProvisioningIn,
    /// Break-glass: active at once (if the policy enables it), capped in time, reviewed
    /// afterwards.
    #[schema(required = false)]
    pub break_glass: BreakGlassIn,
    /// Instead of `policy`, on `POST /api/v1/requests/preview` only: services × access levels
    /// with their resource ARNs, `{"s3": {"read": ["arn:aws:s3:::cfg/*"]}}`. The preview drafts
    /// the policy with the policy writer and returns it in `draft`; submit `draft.spec` to
    /// confirm (see docs/intake.md).
    #[schema(value_type = Object, required = false)]
    pub task_intent: Value,
}

/// A request for access (the predecessor's `RoleRequest`). Every problem is reported at once
/// in `errors`, each with its path (e.g. `spec.accounts[0].account_id`).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({
    "apiVersion": "iam-jit.dev/v1alpha1",
    "kind": "RoleRequest",
    "metadata": {"name": "read-config"},
    "spec": {
        "description": "read the deployment configuration bucket",
        "access_type": "read-only",
        "accounts": [{"account_id": "111122223333", "regions": ["us-east-1"]}],
        "duration": {"duration_hours": 2},
        "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::cfg/*"]}]}
    }
})))]
pub struct RoleRequest {
    #[serde(rename = "apiVersion")]
    #[schema(required = false)]
    pub api_version: ApiVersion,
    #[schema(required = false)]
    pub kind: RoleRequestKind,
    #[schema(required = false)]
    pub metadata: RequestMetadataIn,
    pub spec: RoleRequestSpec,
}

/// A `RoleRequest` replacing a pending request's spec, with the `version` last read (409 when
/// it changed since).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({
    "spec": {
        "description": "read the deployment configuration bucket",
        "accounts": [{"account_id": "111122223333"}],
        "duration": {"duration_hours": 1},
        "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::cfg/*"}]}
    },
    "version": 1
})))]
pub struct RoleRequestEdit {
    #[serde(rename = "apiVersion")]
    #[schema(required = false)]
    pub api_version: ApiVersion,
    #[schema(required = false)]
    pub kind: RoleRequestKind,
    #[schema(required = false)]
    pub metadata: RequestMetadataIn,
    pub spec: RoleRequestSpec,
    #[schema(required = false)]
    pub version: i64,
}

// ---------------------------------------------------------------------------------------------
// Other request bodies (the types the handlers decode)
// ---------------------------------------------------------------------------------------------

/// Ask for a login link (always 202: the answer does not reveal whether the address is a user).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"email": "alice@example.com"})))]
pub struct LoginBody {
    pub email: String,
}

/// Approve or reject; `version` (optional) is the request version you read (409 when it
/// changed since).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"comment": "ok for the release window", "version": 1})))]
pub struct Decision {
    #[schema(max_length = 4000)]
    pub comment: Option<String>,
    pub version: Option<i64>,
}

/// Send a pending request back to its requester.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"comment": "limit it to the cfg bucket", "suggested_constraints": {"resources": ["arn:aws:s3:::cfg/*"]}})))]
pub struct ChangesBody {
    /// What should change (1-4000 characters after trimming).
    #[schema(min_length = 1)]
    pub comment: String,
    #[schema(value_type = Value)]
    pub suggested_constraints: Option<Value>,
    pub version: Option<i64>,
}

/// An optional reason (cancel, revoke).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"reason": "no longer needed"})))]
pub struct ReasonBody {
    #[schema(max_length = 4000)]
    pub reason: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"body": "which bucket exactly?"})))]
pub struct CommentBody {
    /// 1-4000 characters after trimming.
    #[schema(min_length = 1)]
    pub body: String,
}

/// Ask for more time on an active grant (needs approval like the request did).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"hours": 2, "reason": "the migration is still running"})))]
pub struct ExtendBody {
    #[schema(minimum = 1, maximum = 8760)]
    pub hours: u32,
    /// 10-2000 characters after trimming.
    #[schema(min_length = 10)]
    pub reason: String,
}

/// The mandatory review of a break-glass grant.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"comment": "checked CloudTrail: only the documented fix was made"})))]
pub struct ReviewBody {
    /// 1-4000 characters after trimming.
    #[schema(min_length = 1)]
    pub comment: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    Requester,
    Approver,
    Admin,
}

/// A new user; the highest role given is the one held.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"user_id": "email:carol@example.com", "roles": ["approver"], "groups": ["platform"], "display_name": "Carol"})))]
pub struct NewUser {
    /// `email:name@example.com` or `iam:arn:aws:iam::123456789012:role/Name`.
    pub user_id: String,
    #[schema(min_items = 1)]
    pub roles: Vec<RoleName>,
    #[schema(schema_with = groups_schema, required = false)]
    pub groups: Vec<String>,
    pub display_name: Option<String>,
}

fn group_list() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^[A-Za-z0-9._-]{1,64}$")))
        .description(Some("Group names: 1-64 letters, digits, `-`, `_` or `.` each"))
}

fn groups_schema() -> Schema {
    group_list().build().into()
}

fn nullable_groups_schema() -> Schema {
    OneOfBuilder::new().item(group_list()).item(ObjectBuilder::new().schema_type(Type::Null)).build().into()
}

/// Change a user (only the fields given).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"roles": ["requester"], "enabled": true})))]
pub struct PatchUser {
    #[schema(min_items = 1)]
    pub roles: Option<Vec<RoleName>>,
    pub enabled: Option<bool>,
    #[schema(schema_with = nullable_groups_schema)]
    pub groups: Option<Vec<String>>,
    pub display_name: Option<String>,
}

/// Link an AWS principal to a user (its requests may then name it in `assume_by`).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"principal_arn": "arn:aws:iam::111122223333:role/Deployer"})))]
pub struct NewPrincipal {
    pub principal_arn: String,
}

/// A new API token (shown once).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"name": "laptop", "expires_in_days": 30})))]
pub struct NewToken {
    /// 1-100 characters after trimming.
    #[schema(min_length = 1)]
    pub name: String,
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
    /// Admins only: create the token for another user.
    pub user_id: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Query strings
// ---------------------------------------------------------------------------------------------

#[derive(Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only these states (comma-separated).
    #[param(
        pattern = "^(pending|needs_changes|approved|provisioning|active|revoking|expired|revoked|rejected|cancelled|provisioning_failed)(,(pending|needs_changes|approved|provisioning|active|revoking|expired|revoked|rejected|cancelled|provisioning_failed))*$"
    )]
    pub state: Option<String>,
    /// Only this owner (approvers and admins; requesters always see their own).
    pub owner: Option<String>,
    #[param(pattern = r"^[0-9]{12}$")]
    pub account: Option<String>,
    #[param(inline)]
    pub tier: Option<TierName>,
    pub review_required: Option<bool>,
    /// Only your own requests.
    pub mine: Option<bool>,
    /// 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(minimum = 0, maximum = 1_000_000)]
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TierName {
    Low,
    Medium,
    High,
}

#[derive(Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// Whose tokens: your own by default; another user's id or `*` (all) needs admin.
    pub user: Option<String>,
}

#[derive(Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub subject: Option<String>,
    pub actor: Option<String>,
    /// Actions starting with this (e.g. `request.`).
    pub action: Option<String>,
    /// RFC 3339, inclusive.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// RFC 3339, exclusive.
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// Records after this sequence number (paging).
    pub after_seq: Option<i64>,
    /// 1-100000 (default 1000).
    #[param(minimum = 1, maximum = 100_000)]
    pub limit: Option<i64>,
    /// `json` (default) or `jsonl` (one record per line).
    #[param(inline)]
    pub format: Option<AuditFormat>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuditFormat {
    Json,
    Jsonl,
}

#[derive(Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LimitQuery {
    /// Most recent first; clamped to 1-1000 (default 100).
    pub limit: Option<i64>,
}

#[derive(Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The secret from the login link (64 hex digits).
    pub token: String,
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub version: String,
    pub engine: risk_core::output::v1::Versions,
    /// `sqlite` or `postgres`.
    pub backend: String,
}

#[derive(Serialize, ToSchema)]
pub struct Ready {
    pub status: String,
    pub database: String,
}

#[derive(Serialize, ToSchema)]
pub struct DetailBody {
    pub detail: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginAccepted {
    pub detail: String,
    /// Only with `--dev`: the link itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_url: Option<String>,
}

/// A session was opened; the cookie `iam_jit_session` is set.
#[derive(Serialize, ToSchema)]
pub struct SessionOpened {
    pub user_id: String,
    /// Send it in `X-CSRF-Token` with every non-GET request made with the session cookie.
    pub csrf_token: String,
}

/// The caller (plus the CSRF token when authenticated by a session cookie).
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user_id: String,
    pub roles: Vec<Role>,
    pub enabled: bool,
    pub deleted: bool,
    pub display_name: Option<String>,
    pub groups: Vec<String>,
    pub principals: Vec<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<crate::identity::User>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// A new token: the secret is in `token`, shown this once.
#[derive(Serialize, ToSchema)]
pub struct TokenCreated {
    pub hash: String,
    pub user_id: String,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    pub revoked_reason: Option<String>,
    /// `iamjit_…`: send as `Authorization: Bearer …`.
    pub token: String,
    pub detail: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Pending,
    NeedsChanges,
    Approved,
    Provisioning,
    Active,
    Expired,
    Revoked,
    Rejected,
    Cancelled,
    ProvisioningFailed,
}

#[derive(Serialize, ToSchema)]
pub struct RequesterOut {
    pub user_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct RequestMetadata {
    pub id: String,
    pub requester: RequesterOut,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReviewSummary {
    pub risk_score: i64,
    pub tier: String,
}

#[derive(Serialize, ToSchema)]
pub struct Quorum {
    pub required: u32,
    pub have: usize,
    /// `r<revision>`, or `ext<n>` for an extension of an active grant.
    pub round: String,
}

#[derive(Serialize, ToSchema)]
pub struct BreakGlassStatus {
    pub reason: String,
    pub review_required: bool,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RequestStatus {
    pub state: RequestState,
    pub owner: String,
    /// Bumped by every change (send it back as `version` to detect concurrent changes).
    pub version: i64,
    pub revision: i64,
    pub review: ReviewSummary,
    pub approvals: Vec<Approval>,
    pub quorum: Quorum,
    pub auto_approved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// While pending or needing changes: when the request expires undecided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_until: Option<String>,
    /// Why the request is in its state (rejection comment, failure, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlassStatus>,
    /// A pending extension: `{number, hours, reason, requested_at}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub extension: Option<Value>,
    /// What the provisioner created: `{provisioner, roles}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub grant: Option<Value>,
}

/// A request as the API returns it: the `RoleRequest` as normalised, with its status.
#[derive(Serialize, ToSchema)]
pub struct RequestView {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub metadata: RequestMetadata,
    /// The normalised spec (see `RoleRequest`).
    #[schema(value_type = Object)]
    pub spec: Value,
    pub status: RequestStatus,
}

#[derive(Serialize, ToSchema)]
pub struct RequestList {
    pub requests: Vec<RequestView>,
    pub limit: i64,
    pub offset: i64,
    /// The `offset` of the next page, `null` on the last.
    pub next_offset: Option<i64>,
}

/// A request and the engine's review of its policy.
#[derive(Serialize, ToSchema)]
pub struct RequestReviewed {
    pub request: RequestView,
    pub review: Report,
}

/// A request and the review of its current revision (`null` if it cannot be read).
#[derive(Serialize, ToSchema)]
pub struct RequestWithReview {
    pub request: RequestView,
    pub review: Option<Report>,
}

#[derive(Serialize, ToSchema)]
pub struct RequestOnly {
    pub request: RequestView,
}

/// What submitting would need.
#[derive(Serialize, ToSchema)]
pub struct Would {
    pub quorum: u32,
    pub eligible_approvers_needed: u32,
    pub self_approval_allowed: bool,
    pub max_duration_hours: u32,
}

#[derive(Serialize, ToSchema)]
pub struct Preview {
    pub review: Report,
    pub would: Would,
    /// Only for a `spec.task_intent`: `{template, policy, warnings, spec}` — the drafted spec to
    /// submit once reviewed.
    #[schema(value_type = Object, required = false)]
    pub draft: Value,
}

#[derive(Serialize, ToSchema)]
pub struct Comment {
    pub id: String,
    pub author: String,
    /// `comment`, `changes_requested`, `rejection` or `break_glass_review`.
    pub kind: String,
    pub body: String,
    #[schema(value_type = Value)]
    pub suggested_constraints: Option<Value>,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct CommentList {
    pub comments: Vec<Comment>,
}

#[derive(Serialize, ToSchema)]
pub struct CommentCreated {
    pub id: String,
    pub request_id: String,
    pub author: String,
    pub kind: String,
    pub body: String,
}

#[derive(Serialize, ToSchema)]
pub struct Revision {
    pub revision: i64,
    pub author: String,
    pub created_at: String,
    #[schema(value_type = Value)]
    pub spec: Value,
    /// The engine's review of this revision (`Report`).
    #[schema(value_type = Value)]
    pub review: Value,
}

#[derive(Serialize, ToSchema)]
pub struct History {
    pub request_id: String,
    pub revisions: Vec<Revision>,
    pub events: Vec<Record>,
}

#[derive(Serialize, ToSchema)]
pub struct AssumeRole {
    pub account_id: String,
    pub role_arn: String,
    pub expires_at: Option<String>,
    /// An `aws sts assume-role` command line.
    pub cli: String,
    /// An `~/.aws/config` profile.
    pub profile: String,
    /// The `sts:SourceIdentity` the role's trust policy demands (also the session name).
    pub source_identity: String,
    /// A shell line exporting the role's credentials as AWS_* variables.
    pub env: String,
    /// The console's switch-role URL (see `console_note`).
    pub console_url: String,
    pub console_note: String,
    /// The role trusts the hub (the requester has no AWS principal of their own): get its
    /// credentials with `POST /api/v1/requests/{id}/credentials` (`iam-jit request
    /// credentials ID`) instead of the commands above.
    pub brokered: bool,
}

#[derive(Serialize, ToSchema)]
pub struct AssumeInstructions {
    pub request_id: String,
    pub roles: Vec<AssumeRole>,
}

#[derive(Serialize, ToSchema)]
pub struct ProvisioningCalls {
    pub request_id: String,
    pub provisioner: String,
    /// The IAM calls made (or, with the recording provisioner, that would be made).
    #[schema(value_type = Vec<Object>)]
    pub calls: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyCurrent {
    /// 0 while the built-in default is in force.
    pub version: i64,
    pub policy: ApprovalPolicy,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyProposed {
    pub proposal: PolicyVersion,
    pub detail: String,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyVersions {
    pub versions: Vec<PolicyVersion>,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyDecided {
    pub version: PolicyVersion,
}

#[derive(Serialize, ToSchema)]
pub struct AuditLog {
    pub records: Vec<Record>,
    pub verification: Verification,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
    /// Every event a webhook can subscribe to.
    pub events: Vec<String>,
}

/// A new webhook; `secret` signs its deliveries and is shown this once.
#[derive(Serialize, ToSchema)]
pub struct WebhookCreated {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub format: String,
    pub enabled: bool,
    pub created_by: String,
    pub created_at: String,
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryAttempt {
    pub attempt: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub at: String,
}

#[derive(Serialize, ToSchema)]
pub struct Delivery {
    pub id: String,
    /// `webhook` or `email`.
    pub kind: String,
    pub target: String,
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
    pub log: Vec<DeliveryAttempt>,
}

#[derive(Serialize, ToSchema)]
pub struct Deliveries {
    pub deliveries: Vec<Delivery>,
}

// ---------------------------------------------------------------------------------------------
// Destination accounts
// ---------------------------------------------------------------------------------------------

/// Register (or update) a destination account. The ExternalId is generated by the service.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// 12 digits.
    #[schema(pattern = "^[0-9]{12}$")]
    pub account_id: String,
    #[schema(min_length = 1, max_length = 64)]
    pub alias: String,
    /// The role the hub assumes there (`arn:aws:iam::<account_id>:role/…`).
    pub provisioner_role_arn: String,
    /// The boundary every granted role carries (`arn:aws:iam::<account_id>:policy/…`).
    pub permission_boundary_arn: String,
    /// Regions requests may name; empty or absent: any.
    #[serde(default)]
    pub regions: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct Account {
    pub account_id: String,
    pub alias: String,
    pub provisioner_role_arn: String,
    /// Only shown to admins.
    pub external_id: Option<String>,
    pub permission_boundary_arn: String,
    pub regions: Vec<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountOne {
    pub account: Account,
}

#[derive(Serialize, ToSchema)]
pub struct AccountList {
    pub accounts: Vec<Account>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountRemoved {
    pub account_id: String,
    pub removed: bool,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OnboardingBody {
    #[schema(pattern = "^[0-9]{12}$")]
    pub account_id: String,
    /// Absent: both.
    #[serde(default)]
    #[schema(pattern = "^(cloudformation|terraform)$")]
    pub format: Option<String>,
}

/// The destination account's templates and what to register once one is deployed.
#[derive(Serialize, ToSchema)]
pub struct OnboardingPreview {
    pub account_id: String,
    pub external_id: String,
    pub registered: bool,
    pub provisioner_role_arn: String,
    pub permission_boundary_arn: String,
    /// The body for `POST /api/v1/accounts`.
    pub register: serde_json::Value,
    pub warnings: Vec<String>,
    /// A CloudFormation template (JSON).
    pub cloudformation: Option<String>,
    /// A Terraform configuration (HCL).
    pub terraform: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrphanSweepBody {
    /// Delete the orphans (default: only report them).
    #[serde(default)]
    pub delete: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct Orphan {
    pub account_id: String,
    pub role_name: String,
    pub role_arn: String,
    pub request_id: Option<String>,
    pub not_after: Option<String>,
    /// `unknown request` or `request ended`.
    pub reason: String,
    pub request_state: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OrphanSweep {
    pub account_id: String,
    pub orphans: Vec<Orphan>,
    /// Role names deleted.
    pub deleted: Vec<String>,
    pub errors: Vec<serde_json::Value>,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsBody {
    /// Which account's role (needed when the grant spans several).
    #[serde(default)]
    #[schema(pattern = "^[0-9]{12}$")]
    pub account_id: Option<String>,
}

/// Temporary credentials of the granted role in one account.
#[derive(Serialize, ToSchema)]
pub struct Credentials {
    pub account_id: String,
    pub role_arn: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: String,
}
