//! The OpenAPI 3.1 document (`/openapi.json`) and an HTML reference rendered from it (`/docs`,
//! no external scripts or styles) by the scoring API's renderer, [`scorer_api::docs::render_page`].
//!
//! The document is generated from the route table ([`api::routes`]): every route's method,
//! path, path parameters, security (public, or a bearer token / session cookie) and the error
//! answers that follow from them (401/403 for authenticated routes; 400/413/415/422 for routes
//! with a body; 400/422 for routes with a query string; 429 everywhere) come from the table
//! itself. What only a person can say — summary, query parameters, body and answer schemas,
//! route-specific errors — is in [`doc_for`], one entry per route. A route without an entry is
//! missing from the document, and `tests/openapi.rs` fails naming it. Schemas are derived with
//! utoipa from the Rust types (or, for bodies `api.rs` decodes privately, from the mirrors in
//! [`crate::schema`]).

use crate::api::{self, Access, RouteDef};
use crate::schema;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use scorer_api::docs::{render_page, Page, PageOptions, RouteColumns};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "iam-jit API",
        description = "Just-in-time AWS access: requests scored by the engine, approved by a quorum, \
provisioned for a limited time, audited in a hash chain. Authenticate with `Authorization: Bearer \
iamjit_…` (an API token) or the `iam_jit_session` cookie from a login link (then send \
`X-CSRF-Token` with every request that is not a GET). Every error is \
`{\"detail\": …, \"code\": …, \"errors\": [{\"path\", \"message\"}]}`.",
        license(name = "Apache-2.0")
    ),
    components(schemas(
        schema::ErrorBody,
        schema::RoleRequest,
        schema::RoleRequestEdit,
        schema::LoginBody,
        schema::Decision,
        schema::ChangesBody,
        schema::ReasonBody,
        schema::CommentBody,
        schema::ExtendBody,
        schema::ReviewBody,
        schema::NewUser,
        schema::PatchUser,
        schema::NewPrincipal,
        schema::NewToken,
        crate::approval::ApprovalPolicy,
        crate::notify::NewWebhook,
        schema::Health,
        schema::Ready,
        schema::DetailBody,
        schema::LoginAccepted,
        schema::SessionOpened,
        schema::Me,
        crate::identity::User,
        schema::UserList,
        schema::TokenList,
        schema::TokenCreated,
        schema::RequestView,
        schema::RequestList,
        schema::RequestReviewed,
        schema::RequestWithReview,
        schema::RequestOnly,
        schema::Preview,
        schema::CommentList,
        schema::CommentCreated,
        schema::History,
        schema::AssumeInstructions,
        schema::ProvisioningCalls,
        schema::PolicyCurrent,
        schema::PolicyProposed,
        schema::PolicyVersions,
        schema::PolicyDecided,
        crate::audit::Verification,
        schema::AuditLog,
        schema::WebhookList,
        schema::WebhookCreated,
        schema::Deliveries,
        crate::reports::GrantsReport,
        crate::reports::ActivityReport,
        crate::reports::ApprovalsReport,
        crate::reports::RiskReport,
        crate::reports::UsersReport,
        schema::CredentialsBody,
        schema::Credentials,
        schema::NewAccount,
        schema::Account,
        schema::AccountOne,
        schema::AccountList,
        schema::AccountRemoved,
        schema::OnboardingBody,
        schema::OnboardingPreview,
        schema::OrphanSweepBody,
        schema::Orphan,
        schema::OrphanSweep,
        crate::awsauth::AwsChallenge,
        crate::awsauth::AwsLoginBody,
        crate::awsauth::AwsLoginResult,
    )),
    tags(
        (name = "operations", description = "Health, readiness, metrics and this document"),
        (name = "auth", description = "Login links, sessions and the caller"),
        (name = "users", description = "Users, roles, groups and linked AWS principals"),
        (name = "tokens", description = "API tokens"),
        (name = "requests", description = "Access requests through their lifecycle"),
        (name = "approval-policy", description = "Who approves what; changes need a second admin"),
        (name = "audit", description = "The hash-chained audit log"),
        (name = "webhooks", description = "Webhook subscriptions and the delivery outbox"),
        (name = "accounts", description = "Destination accounts: registration, onboarding templates, orphan sweep"),
        (name = "reports", description = "Admin reports, as JSON or CSV"),
    )
)]
struct Components;

/// An answer's body.
#[derive(Debug, Clone)]
pub enum Content {
    /// `application/json` of a named schema.
    Json(&'static str),
    /// Another media type; the body is text.
    Text(&'static str),
    /// No body (204).
    Empty,
}

/// One documented answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub description: &'static str,
    pub content: Vec<Content>,
    /// Response headers: name, description.
    pub headers: Vec<(&'static str, &'static str)>,
}

/// What the document says about one route beyond what the route table knows.
#[derive(Clone)]
pub struct OpDoc {
    pub tag: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    pub query: Vec<Parameter>,
    /// The body's schema name, and whether a body is required.
    pub body: Option<(&'static str, bool)>,
    pub answers: Vec<Answer>,
    /// Route-specific errors.
    pub errors: Vec<(u16, &'static str)>,
    /// The route never touches the database (no 503).
    pub static_answer: bool,
    /// OpenAPI links from the 2xx answer: every route under this path prefix takes its path
    /// parameter from this runtime expression (e.g. the id of a request just created).
    pub links: Option<(&'static str, &'static str)>,
}

fn op(tag: &'static str, summary: &'static str) -> OpDoc {
    OpDoc {
        tag,
        summary,
        description: "",
        query: Vec::new(),
        body: None,
        answers: Vec::new(),
        errors: Vec::new(),
        static_answer: false,
        links: None,
    }
}

impl OpDoc {
    fn describe(mut self, d: &'static str) -> Self {
        self.description = d;
        self
    }
    fn query<T: IntoParams>(mut self) -> Self {
        self.query = T::into_params(|| Some(ParameterIn::Query));
        self
    }
    fn body(mut self, schema: &'static str) -> Self {
        self.body = Some((schema, true));
        self
    }
    fn optional_body(mut self, schema: &'static str) -> Self {
        self.body = Some((schema, false));
        self
    }
    fn ok(mut self, status: u16, description: &'static str, content: Content) -> Self {
        self.answers.push(Answer { status, description, content: vec![content], headers: Vec::new() });
        self
    }
    /// Another media type for the last answer.
    fn or(mut self, content: Content) -> Self {
        if let Some(a) = self.answers.last_mut() {
            a.content.push(content);
        }
        self
    }
    fn header(mut self, name: &'static str, description: &'static str) -> Self {
        if let Some(a) = self.answers.last_mut() {
            a.headers.push((name, description));
        }
        self
    }
    fn err(mut self, status: u16, description: &'static str) -> Self {
        self.errors.push((status, description));
        self
    }
    fn links_to(mut self, prefix: &'static str, expression: &'static str) -> Self {
        self.links = Some((prefix, expression));
        self
    }
    fn no_database(mut self) -> Self {
        self.static_answer = true;
        self
    }
}

use Content::{Empty, Json, Text};

const NO_REQUEST: &str = "No such request, or one the caller may not see";
const DECIDER: &str = "Not an approver eligible for this request's tier and accounts, or the request's owner";

/// The documentation of one route, or `None` when it has none (a test fails for that).
pub fn doc_for(method: &Method, path: &str) -> Option<OpDoc> {
    let m = method.as_str();
    Some(match (m, path) {
        ("GET", "/healthz") => op("operations", "Liveness")
            .describe("Always 200 while the process serves; names the engine and storage backend.")
            .ok(200, "Alive", Json("Health"))
            .no_database(),
        ("GET", "/readyz") => op("operations", "Readiness")
            .describe("200 when the database answers and the server is not shutting down.")
            .ok(200, "Ready", Json("Ready"))
            .err(503, "Shutting down, or the database is not reachable"),
        ("GET", "/metrics") => op("operations", "Prometheus metrics")
            .ok(200, "OpenMetrics text", Text("application/openmetrics-text"))
            .no_database(),
        ("GET", "/openapi.json") => {
            op("operations", "This document").ok(200, "OpenAPI 3.1", Json("")).no_database()
        }
        ("GET", "/docs") => op("operations", "The API reference as HTML")
            .ok(200, "HTML page (no scripts, no external resources)", Text("text/html"))
            .no_database(),
        ("POST", "/api/v1/auth/login") => op("auth", "Ask for a login link")
            .describe("Mails a single-use link (15 minutes) to the address if it is an enabled user. The answer is the same either way. With `--dev` the link is in the answer.")
            .body("LoginBody")
            .ok(202, "Accepted", Json("LoginAccepted")),
        ("GET", "/api/v1/auth/callback") => op("auth", "Redeem a login link")
            .describe("Opens a 24-hour session: sets the `iam_jit_session` cookie (HttpOnly, SameSite=Lax) and returns the CSRF token to send in `X-CSRF-Token`.")
            .query::<schema::CallbackQuery>()
            .ok(200, "Logged in", Json("SessionOpened"))
            .header("Set-Cookie", "`iam_jit_session=…; Path=/; HttpOnly; SameSite=Lax`")
            .err(401, "The link is not valid, was already used, or has expired")
            .err(403, "The user is disabled or deleted"),
        ("POST", "/api/v1/auth/aws/challenge") => op("auth", "Start an AWS-credential login")
            .describe("For agents with AWS credentials and no token to manage. Returns a random challenge (single use, valid `aws_challenge_ttl_secs`, 120 s by default), the header to put it in, and the STS endpoint and region to sign for. Sign `POST <sts_url>` with body `Action=GetCallerIdentity&Version=2011-06-15` (SigV4, service `sts`), the challenge header among the signed headers, and send the signed request to POST /api/v1/auth/aws. `iam-jit --aws-auth` does all of this.")
            .ok(201, "A challenge", Json("AwsChallenge")),
        ("POST", "/api/v1/auth/aws") => op("auth", "Log in with a signed sts:GetCallerIdentity")
            .describe("Checked before anything is forwarded: method POST; `url` is the service's STS endpoint (no other host is ever contacted); the body is exactly GetCallerIdentity; `Authorization` is AWS4-HMAC-SHA256 for service `sts` and the configured region, signing `host`, `x-amz-date` and `x-iam-jit-challenge`; X-Amz-Date within 5 minutes. The challenge is then consumed (a signed request works once) and the request forwarded to STS. The ARN STS answers with (an assumed-role session counts as its role) must be a user `iam:<arn>` or be linked to one; that user gets an API token valid `aws_login_token_ttl_secs` (1 hour by default). Audited as `auth.aws_login` / `auth.aws_login_failed`.")
            .body("AwsLoginBody")
            .ok(200, "Logged in: a short-lived API token", Json("AwsLoginResult"))
            .err(400, "The signed request fails a check (named in `detail`); nothing was forwarded")
            .err(401, "Unknown, expired or already used challenge; STS refused the signature (its error code, e.g. SignatureDoesNotMatch, InvalidClientTokenId or ExpiredToken, is in `detail`); or the AWS principal is no user's")
            .err(403, "The user of that AWS principal is disabled or deleted")
            .err(502, "STS could not be reached or answered with an error of its own"),
        ("POST", "/api/v1/auth/logout") => op("auth", "End the session")
            .describe("Ends the session of the cookie (a bearer token stays valid; revoke it with DELETE /api/v1/tokens/{hash}).")
            .ok(200, "Logged out; the cookie is cleared", Json("DetailBody"))
            .header("Set-Cookie", "`iam_jit_session=; Max-Age=0`"),
        ("GET", "/api/v1/me") => op("auth", "The caller").ok(200, "The authenticated user", Json("Me")),
        ("GET", "/api/v1/users") => op("users", "List users").ok(200, "Every user, by id", Json("UserList")),
        ("POST", "/api/v1/users") => op("users", "Create a user")
            .body("NewUser")
            .ok(201, "Created", Json("User"))
            .links_to("/api/v1/users/{user_id}", "$response.body#/user_id")
            .err(409, "The user exists"),
        ("GET", "/api/v1/users/{user_id}") => op("users", "One user")
            .ok(200, "The user", Json("User"))
            .err(404, "No such user"),
        ("PATCH", "/api/v1/users/{user_id}") => op("users", "Change a user's roles, groups, name or enabled flag")
            .body("PatchUser")
            .ok(200, "The user as changed", Json("User"))
            .err(404, "No such user")
            .err(409, "The user is deleted, or this would leave no enabled admin"),
        ("DELETE", "/api/v1/users/{user_id}") => op("users", "Delete a user")
            .describe("The user's history stays; its tokens and sessions stop working.")
            .ok(204, "Deleted", Empty)
            .err(404, "No such user")
            .err(409, "Already deleted, or the last admin"),
        ("POST", "/api/v1/users/{user_id}/principals") => op("users", "Link an AWS principal to a user")
            .body("NewPrincipal")
            .ok(201, "The user with the principal", Json("User"))
            .err(404, "No such user")
            .err(409, "The principal is already linked to a user"),
        ("GET", "/api/v1/tokens") => op("tokens", "List API tokens (by hash)")
            .query::<schema::TokenQuery>()
            .ok(200, "The tokens", Json("TokenList")),
        ("POST", "/api/v1/tokens") => op("tokens", "Create an API token")
            .body("NewToken")
            .ok(201, "The token (shown once)", Json("TokenCreated"))
            .err(404, "No such user"),
        ("DELETE", "/api/v1/tokens/{hash}") => op("tokens", "Revoke a token")
            .ok(204, "Revoked", Empty)
            .err(404, "No such token, or not the caller's")
            .err(409, "Already revoked"),
        ("GET", "/api/v1/requests") => op("requests", "List requests")
            .describe("Highest risk first. Requesters see their own; approvers and admins see every request.")
            .query::<schema::ListQuery>()
            .ok(200, "A page of requests", Json("RequestList")),
        ("POST", "/api/v1/requests") => op("requests", "Submit a request")
            .describe("Validated field by field (every problem at once), scored by the engine, stored as pending — or, for break-glass, approved and provisioned at once. The opt-in evaluator may approve it at once.")
            .body("RoleRequest")
            .ok(201, "Submitted", Json("RequestReviewed"))
            .links_to("/api/v1/requests/{id}", "$response.body#/request/metadata/id")
            .err(403, "Break-glass is disabled by the approval policy"),
        ("POST", "/api/v1/requests/preview") => op("requests", "Score a request without storing it")
            .body("RoleRequest")
            .ok(200, "The review and what submitting would need", Json("Preview")),
        ("GET", "/api/v1/requests/{id}") => op("requests", "One request")
            .ok(200, "The request and its review", Json("RequestWithReview"))
            .err(404, NO_REQUEST),
        ("PATCH", "/api/v1/requests/{id}") => op("requests", "Edit a pending request")
            .describe("The owner replaces the spec of a pending or needs-changes request; the new revision is scored and earlier approvals no longer count.")
            .body("RoleRequestEdit")
            .ok(200, "The request as edited", Json("RequestReviewed"))
            .err(403, "Only the requester can edit")
            .err(404, NO_REQUEST)
            .err(409, "Not pending, or changed since `version`"),
        ("POST", "/api/v1/requests/{id}/approve") => op("requests", "Approve")
            .describe("Counts toward the tier's quorum (no self-approval unless the tier allows it); when met, the request is provisioned. Also approves a pending extension of an active grant.")
            .optional_body("Decision")
            .ok(200, "The request", Json("RequestOnly"))
            .err(403, DECIDER)
            .err(404, NO_REQUEST)
            .err(409, "Not pending, already approved by the caller, or changed since `version`"),
        ("POST", "/api/v1/requests/{id}/reject") => op("requests", "Reject")
            .describe("Rejects a pending request, or a pending extension of an active grant.")
            .optional_body("Decision")
            .ok(200, "The request", Json("RequestOnly"))
            .err(403, DECIDER)
            .err(404, NO_REQUEST)
            .err(409, "Nothing to reject, or changed since `version`"),
        ("POST", "/api/v1/requests/{id}/request-changes") => op("requests", "Send back for changes")
            .body("ChangesBody")
            .ok(200, "The request", Json("RequestOnly"))
            .err(403, DECIDER)
            .err(404, NO_REQUEST)
            .err(409, "Not pending, or changed since `version`"),
        ("POST", "/api/v1/requests/{id}/cancel") => op("requests", "Withdraw a request not yet active")
            .optional_body("ReasonBody")
            .ok(200, "The request", Json("RequestOnly"))
            .err(403, "Only the requester or an admin can cancel")
            .err(404, NO_REQUEST)
            .err(409, "The request cannot be cancelled in its state"),
        ("GET", "/api/v1/requests/{id}/comments") => op("requests", "Comments on a request")
            .ok(200, "The comments, oldest first", Json("CommentList"))
            .err(404, NO_REQUEST),
        ("POST", "/api/v1/requests/{id}/comments") => op("requests", "Comment on a request")
            .body("CommentBody")
            .ok(201, "The comment", Json("CommentCreated"))
            .err(404, NO_REQUEST),
        ("POST", "/api/v1/requests/{id}/revoke") => op("requests", "End an active grant now")
            .optional_body("ReasonBody")
            .ok(200, "The request", Json("RequestOnly"))
            .err(403, "Only the requester, an admin or an eligible approver can revoke")
            .err(404, NO_REQUEST)
            .err(409, "Not active, or already being ended")
            .err(502, "The provisioner failed to remove the role (retried by the expiry sweep)"),
        ("POST", "/api/v1/requests/{id}/retry-provisioning") => op("requests", "Retry a failed provisioning")
            .ok(200, "The request", Json("RequestOnly"))
            .err(404, NO_REQUEST)
            .err(409, "The request is not provisioning_failed"),
        ("POST", "/api/v1/requests/{id}/extend") => op("requests", "Ask for more time on an active grant")
            .body("ExtendBody")
            .ok(200, "The request with its pending extension", Json("RequestOnly"))
            .err(403, "Only the requester can extend; break-glass grants cannot be extended")
            .err(404, NO_REQUEST)
            .err(409, "Not active, or an extension is already waiting"),
        ("POST", "/api/v1/requests/{id}/review") => op("requests", "Review a break-glass grant")
            .body("ReviewBody")
            .ok(200, "The request", Json("RequestOnly"))
            .err(403, DECIDER)
            .err(404, NO_REQUEST)
            .err(409, "No break-glass review is pending"),
        ("GET", "/api/v1/requests/{id}/history") => op("requests", "Revisions and audit records of a request")
            .ok(200, "The history", Json("History"))
            .err(404, NO_REQUEST),
        ("GET", "/api/v1/requests/{id}/assume") => op("requests", "How to assume an active grant's roles")
            .ok(200, "Per account: role ARN, CLI command, profile", Json("AssumeInstructions"))
            .err(404, NO_REQUEST)
            .err(409, "The request is not active"),
        ("POST", "/api/v1/requests/{id}/credentials") => op("requests", "Credentials for a grant that trusts the hub")
            .describe("For a requester without an AWS principal of their own (an e-mail user): the hub assumes the granted role with the requester's `sts:SourceIdentity` and returns the session (at most an hour; the grant's time conditions end it at the grant's end). Audited as `request.credentials_issued` (without the secrets).")
            .optional_body("CredentialsBody")
            .ok(200, "The session's credentials", Json("Credentials"))
            .err(403, "Only the requester receives a grant's credentials")
            .err(404, NO_REQUEST)
            .err(409, "The request is not active, its roles trust the requester's own principal, or the provisioner creates no AWS roles")
            .err(502, "STS refused or could not be reached"),
        ("GET", "/api/v1/requests/{id}/provisioning-calls") => op("requests", "The provisioner's IAM calls for a request")
            .ok(200, "The calls, in order", Json("ProvisioningCalls"))
            .err(404, NO_REQUEST),
        ("GET", "/api/v1/approval-policy") => op("approval-policy", "The active approval policy")
            .ok(200, "The policy in force", Json("PolicyCurrent")),
        ("PUT", "/api/v1/approval-policy") => op("approval-policy", "Propose a new approval policy")
            .describe("Takes effect only when a second admin approves the version.")
            .body("ApprovalPolicy")
            .ok(202, "Proposed", Json("PolicyProposed")),
        ("GET", "/api/v1/approval-policy/versions") => op("approval-policy", "Every version, newest first")
            .ok(200, "The versions", Json("PolicyVersions")),
        ("POST", "/api/v1/approval-policy/versions/{version}/approve") => op("approval-policy", "Activate a proposed version")
            .ok(200, "The version, now active", Json("PolicyDecided"))
            .err(403, "The caller proposed this version (a second admin must approve)")
            .err(404, "No such version")
            .err(409, "The version is not a pending proposal"),
        ("POST", "/api/v1/approval-policy/versions/{version}/reject") => op("approval-policy", "Reject a proposed version")
            .ok(200, "The version, rejected", Json("PolicyDecided"))
            .err(403, "The caller proposed this version")
            .err(404, "No such version")
            .err(409, "The version is not a pending proposal"),
        ("GET", "/api/v1/audit/verify") => op("audit", "Verify the audit chain")
            .describe("Walks the whole chain; names the first bad record. Truncation is checked when an audit key signs checkpoints.")
            .ok(200, "The verification (also when the chain is broken: see `ok`)", Json("Verification")),
        ("GET", "/api/v1/reports/audit-log") => op("audit", "Export the audit log")
            .query::<schema::AuditQuery>()
            .ok(200, "The records and the chain's verification (`format=jsonl`: one record per line, `X-Audit-Chain: ok|broken`)", Json("AuditLog"))
            .or(Text("application/x-ndjson")),
        ("GET", "/api/v1/accounts") => op("accounts", "List the destination accounts")
            .describe("The ExternalId is shown to admins only.")
            .ok(200, "The accounts", Json("AccountList")),
        ("POST", "/api/v1/accounts") => op("accounts", "Register or update a destination account")
            .describe("The provisioner role and boundary must be in the account; the ExternalId is generated by the service (the one its onboarding template was generated with) and kept across updates.")
            .body("NewAccount")
            .ok(201, "Registered", Json("AccountOne"))
            .ok(200, "Updated", Json("AccountOne"))
            .links_to("/api/v1/accounts/{account_id}", "$response.body#/account/account_id"),
        ("POST", "/api/v1/accounts/onboarding/preview") => op("accounts", "The destination account's onboarding templates")
            .describe("CloudFormation (JSON) and/or Terraform creating the provisioner role — trusting only the hub role, with the account's ExternalId, allowed to manage only `/iam-jit/` roles tagged `managed-by=iam-jit` with the boundary attached — and the permission boundary. Fixes the account's ExternalId the first time.")
            .body("OnboardingBody")
            .ok(200, "The templates", Json("OnboardingPreview"))
            .err(409, "No hub_role_arn is configured, or the deployment id cannot be used in the templates"),
        ("GET", "/api/v1/accounts/{account_id}") => op("accounts", "One destination account")
            .ok(200, "The account", Json("AccountOne"))
            .err(404, "Not registered"),
        ("DELETE", "/api/v1/accounts/{account_id}") => op("accounts", "Remove a destination account")
            .ok(200, "Removed", Json("AccountRemoved"))
            .err(404, "Not registered")
            .err(409, "Grants still hold or may create roles there"),
        ("POST", "/api/v1/accounts/{account_id}/orphan-sweep") => op("accounts", "Find (and optionally delete) orphaned roles")
            .describe("Roles under `/iam-jit/` tagged with this deployment whose request ended or is unknown here. With `delete`, each is removed — only when its name, `managed-by`, request and deployment tags all match.")
            .optional_body("OrphanSweepBody")
            .ok(200, "The orphans, and what was deleted", Json("OrphanSweep"))
            .err(404, "Not registered")
            .err(502, "The destination account could not be reached"),
        ("GET", "/api/v1/webhooks") => op("webhooks", "List webhooks").ok(200, "The webhooks and the events", Json("WebhookList")),
        ("POST", "/api/v1/webhooks") => op("webhooks", "Subscribe a webhook")
            .describe("Deliveries are signed: `X-IAM-JIT-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>`.")
            .body("NewWebhook")
            .ok(201, "The webhook and its secret (shown once)", Json("WebhookCreated"))
            .links_to("/api/v1/webhooks/{id}", "$response.body#/id"),
        ("DELETE", "/api/v1/webhooks/{id}") => op("webhooks", "Disable a webhook")
            .ok(204, "Disabled", Empty)
            .err(404, "No active webhook with this id"),
        ("GET", "/api/v1/webhooks/deliveries") => op("webhooks", "The outbox and its delivery attempts")
            .query::<schema::LimitQuery>()
            .ok(200, "Most recent first", Json("Deliveries")),
        ("GET", "/api/v1/reports/grants") => report(
            "Grants",
            "Requests that were active at some point in [`since`, `until`): who, which accounts, risk, when activated, when it expires or ended, the final state, break-glass and auto-approval.",
            "GrantsReport",
        ),
        ("GET", "/api/v1/reports/activity") => {
            let mut d = report(
                "Activity",
                "Audit records summarised per day (UTC), actor and action; `since`/`until` compare the record's time, `user` is the actor, `account` keeps records about requests touching it. Audit records have no state: `state` is refused (422).",
                "ActivityReport",
            );
            d.query.retain(|p| p.name != "state");
            d
        }
        ("GET", "/api/v1/reports/approvals") => report(
            "Approvals",
            "Every decided request (`since`/`until` compare the submission time): approvers, number of approvals, the decision and the submission-to-decision latency; the JSON form adds the median and 90th percentile latency.",
            "ApprovalsReport",
        ),
        ("GET", "/api/v1/reports/risk-distribution") => report(
            "Risk distribution",
            "Requests counted per risk score (1-10) and tier, overall and per state (`since`/`until` compare the submission time).",
            "RiskReport",
        ),
        ("GET", "/api/v1/reports/users") => report(
            "Users",
            "Every user with roles, groups, enabled flag, request counts (per state), approvals given and last activity. `since`, `until`, `account` and `state` narrow the counts; `user` picks one user.",
            "UsersReport",
        ),
        _ => return None,
    })
}

fn report(summary: &'static str, description: &'static str, schema: &'static str) -> OpDoc {
    op("reports", summary)
        .describe(description)
        .query::<crate::reports::ReportQuery>()
        .ok(200, "The report (`format=csv`: RFC 4180, a header row, formula-like text defused with `'`)", Json(schema))
        .or(Text("text/csv"))
}

fn error_answer(status: u16, description: &str) -> Value {
    let mut a = json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    });
    match status {
        401 => a["headers"] = json!({"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}}),
        429 => {
            a["headers"] = json!({"Retry-After": {"description": "Seconds until a request is allowed", "schema": {"type": "integer"}}})
        }
        _ => {}
    }
    a
}

fn operation_id(method: &Method, path: &str) -> String {
    let mut id = method.as_str().to_ascii_lowercase();
    for part in path.split(['/', '-', '.']).filter(|p| !p.is_empty() && *p != "api" && *p != "v1") {
        id.push('_');
        id.push_str(part.trim_matches(['{', '}']));
    }
    id
}

/// Path parameters, in order, with their schema (`{version}` is an integer).
fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let (schema, description) = match name {
                "version" => (
                    json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX}),
                    "Approval-policy version number",
                ),
                "user_id" => {
                    (json!({"type": "string"}), "`email:name@example.com` or `iam:arn:aws:iam::123456789012:role/Name`")
                }
                "hash" => (json!({"type": "string"}), "The token's hash (`sha256:…`)"),
                "id" => (json!({"type": "string"}), "The id (`req-…`, `wh-…`)"),
                _ => (json!({"type": "string"}), ""),
            };
            json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
        })
        .collect()
}

/// Links from `d`'s 2xx answers to every documented route under its link prefix.
fn links(d: &OpDoc, all: &[RouteDef]) -> Option<Value> {
    let (prefix, expression) = d.links?;
    let param = prefix.rsplit('/').next()?.trim_matches(['{', '}']);
    let mut out = Map::new();
    for def in all.iter().filter(|r| r.path.starts_with(prefix) && doc_for(&r.method, r.path).is_some()) {
        let id = operation_id(&def.method, def.path);
        out.insert(id.clone(), json!({"operationId": id, "parameters": {param: expression}}));
    }
    Some(Value::Object(out))
}

fn operation(def: &RouteDef, d: &OpDoc, all: &[RouteDef]) -> Value {
    let mut o = json!({
        "tags": [d.tag],
        "summary": d.summary,
        "operationId": operation_id(&def.method, def.path),
    });
    let access = match def.access {
        Access::Public => "Public.",
        Access::Requester => "Any authenticated user.",
        Access::Approver => "Approvers and admins.",
        Access::Admin => "Admins only.",
    };
    let owner = if def.owner_scoped { " Requesters only for their own." } else { "" };
    o["description"] =
        json!(format!("{}{}{access}{owner}", d.description, if d.description.is_empty() { "" } else { "\n\n" }));
    let mut params = path_params(def.path);
    for p in &d.query {
        params.push(serde_json::to_value(p).unwrap_or(Value::Null));
    }
    if !params.is_empty() {
        o["parameters"] = Value::Array(params);
    }
    if let Some((name, required)) = d.body {
        o["requestBody"] = json!({
            "required": required,
            "description": if required { "JSON (`Content-Type: application/json`)" } else { "Optional JSON (an empty body means `{}`)" },
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}},
        });
    }
    let mut responses = Map::new();
    for a in &d.answers {
        let mut r = json!({"description": a.description});
        let mut content = Map::new();
        for c in &a.content {
            match c {
                Json("") => {
                    content.insert("application/json".into(), json!({"schema": {"type": "object"}}));
                }
                Json(name) => {
                    content.insert(
                        "application/json".into(),
                        json!({"schema": {"$ref": format!("#/components/schemas/{name}")}}),
                    );
                }
                Text(media) => {
                    content.insert((*media).into(), json!({"schema": {"type": "string"}}));
                }
                Empty => {}
            }
        }
        if !content.is_empty() {
            r["content"] = Value::Object(content);
        }
        if (200..300).contains(&a.status) {
            if let Some(l) = links(d, all) {
                r["links"] = l;
            }
        }
        if !a.headers.is_empty() {
            let h: Map<String, Value> = a
                .headers
                .iter()
                .map(|(n, desc)| ((*n).to_string(), json!({"description": desc, "schema": {"type": "string"}})))
                .collect();
            r["headers"] = Value::Object(h);
        }
        responses.insert(a.status.to_string(), r);
    }
    let has_query = !d.query.is_empty();
    let has_body = d.body.is_some();
    let mut errors: Vec<(u16, String)> = Vec::new();
    let mut bad = Vec::new();
    if has_body {
        bad.push("malformed JSON or an empty required body");
    }
    if has_query {
        bad.push("an unknown or malformed query parameter (named in `detail`)");
    }
    if def.path.contains("{version}") {
        bad.push("a version that is not a 64-bit integer");
    }
    if !bad.is_empty() {
        let text = bad.join("; or ");
        errors.push((400, format!("{}{}", text[..1].to_uppercase(), &text[1..])));
    }
    if def.access != Access::Public {
        errors.push((401, "No credentials, or a token or session that is not valid".into()));
        errors.push((403, "The caller's role is too low, or the user is disabled".into()));
    }
    if has_body {
        errors.push((413, "The body is larger than the limit".into()));
        errors.push((415, "The body is not `application/json`".into()));
    }
    if has_body || has_query || def.path.contains("{user_id}") {
        errors.push((422, "A field or parameter is not valid: `errors` names each problem".into()));
    }
    errors.push((429, "Rate limit exceeded".into()));
    if !d.static_answer {
        errors.push((503, "The database is busy or unavailable; retry".into()));
    }
    for (status, description) in &d.errors {
        match errors.iter_mut().find(|(s, _)| s == status) {
            Some(e) => e.1 = format!("{}; or: {description}", e.1),
            None => errors.push((*status, (*description).to_string())),
        }
    }
    errors.sort_by_key(|e| e.0);
    for (status, description) in errors {
        responses.insert(status.to_string(), error_answer(status, &description));
    }
    o["responses"] = Value::Object(responses);
    if def.access != Access::Public {
        o["security"] = json!([{"bearer": []}, {"session": []}]);
    }
    o
}

/// The OpenAPI 3.1 document of every route in [`api::routes`] that has documentation.
pub fn openapi() -> Value {
    let mut doc = serde_json::to_value(Components::openapi()).unwrap_or_else(|_| json!({}));
    let mut paths = Map::new();
    let all = api::routes();
    for def in &all {
        let Some(d) = doc_for(&def.method, def.path) else {
            continue;
        };
        let item = paths.entry(def.path.to_string()).or_insert_with(|| json!({}));
        item[def.method.as_str().to_ascii_lowercase()] = operation(def, &d, &all);
    }
    doc["paths"] = Value::Object(paths);
    doc["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "iamjit_…",
            "description": "An API token: `Authorization: Bearer iamjit_…` (POST /api/v1/tokens, or `iam-jit token create --user …` on the server host).",
        },
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": crate::identity::SESSION_COOKIE,
            "description": "The session cookie set by a login link; requests other than GET must also send the session's CSRF token in `X-CSRF-Token`.",
        },
    });
    doc
}

struct Rendered {
    json: Vec<u8>,
    html: String,
    csp: String,
}

fn rendered() -> &'static Rendered {
    static R: OnceLock<Rendered> = OnceLock::new();
    R.get_or_init(|| {
        let doc = openapi();
        let page = html(&doc);
        let csp = format!("default-src 'none'; style-src {}; frame-ancestors 'none'", page.style_src);
        Rendered { json: serde_json::to_vec_pretty(&doc).unwrap_or_default(), html: page.html, csp }
    })
}

/// `GET /openapi.json`.
pub async fn openapi_json() -> Response {
    let mut resp = (StatusCode::OK, rendered().json.clone()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// `GET /docs`: the reference page. Its one inline style is allowed by hash; nothing else loads.
pub async fn docs_page() -> Response {
    let r = rendered();
    let mut resp = (StatusCode::OK, r.html.clone()).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&r.csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// The page's style sheet; `/docs` allows it, inline, by its hash.
const STYLE: &str =
    "body{font:15px/1.5 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}\
code{font:13px ui-monospace,monospace;background:#f4f4f4;padding:.1rem .3rem}\
h2{border-top:1px solid #ddd;padding-top:1rem}table{border-collapse:collapse;margin:.5rem 0}\
td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}\
.m{font-weight:bold;color:#06c}.a{color:#777;font-size:13px}";

/// The reference page (schema types link to their sections) and the CSP source of its style.
pub fn html(doc: &Value) -> Page {
    render_page(doc, &PageOptions { style: STYLE, link_schemas: true, routes: RouteColumns::ParametersAndAnswers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csp_allows_the_style_the_page_inlines() {
        let r = rendered();
        let style = r.html.split_once("<style>").and_then(|(_, s)| s.split_once("</style>")).unwrap().0;
        let options = PageOptions { style, link_schemas: true, routes: RouteColumns::ParametersAndAnswers };
        let style_src = render_page(&json!({}), &options).style_src;
        assert_eq!(r.csp, format!("default-src 'none'; style-src {style_src}; frame-ancestors 'none'"));
    }

    #[test]
    fn operation_ids_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for def in api::routes() {
            assert!(seen.insert(operation_id(&def.method, def.path)), "{} {}", def.method, def.path);
        }
    }
}
