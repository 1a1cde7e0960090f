//! Authoring: `POST /api/v1/policy/write` (a policy from a writer template),
//! `POST /api/v1/policy/narrow` (an existing policy narrowed to a task) and
//! `POST /api/v1/policy/from-cloudtrail` (a policy from CloudTrail activity), each scored.

use crate::error::{self, AppError};
use crate::request::{self, EventsBody, JsonBody};
use crate::respond::{blocking, json, unprocessable};
use crate::schema;
use crate::AppState;
use axum::extract::State;
use axum::response::Response;

/// Write a least-privilege policy from a template, and score it.
///
/// The body is a writer template: policy_sentry's CRUD template as JSON (`read`, `write`,
/// `list`, `tagging`, `permissions-management` ARNs; `wildcard-only`, `skip-resource-constraints`,
/// `exclude-actions`, `sts`, `mode: actions`; docs/authoring.md). Each ARN gets the actions of its
/// access level that act on its resource type. The answer is `iam-risk-score write-policy
/// --format json`: `{"policy", "report"}`, plus `"warnings"` when the writer has any. A template
/// the writer refuses (an unknown key, an ARN that matches no resource type of its service, an
/// unknown action) is a 422 with the writer's message.
#[utoipa::path(
    post,
    path = "/api/v1/policy/write",
    tag = "authoring",
    request_body = schema::PolicyTemplate,
    responses(
        (status = 200, description = "The written policy and its v1 report", body = schema::WrittenPolicy),
        (status = 400, description = "Malformed JSON", body = error::ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = error::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"iam-risk-score\"`"))),
        (status = 413, description = "Body larger than the limit", body = error::ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = error::ErrorBody),
        (status = 422, description = "A template the writer refuses, with its message", body = error::ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = error::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until a request is allowed"))),
        (status = 503, description = "Timed out or shutting down", body = error::ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn write_policy(State(s): State<AppState>, JsonBody(body, _): JsonBody) -> Result<Response, AppError> {
    let written = blocking("write", move || risk_core::answers::write_policy_value(&body))
        .await?
        .map_err(|e| unprocessable(String::new(), e.message().to_string()))?;
    s.metrics.scores.observe(f64::from(written.report.score));
    json(&risk_core::answers::WrittenAnswer::from(&written))
}

/// Narrow an existing policy to what a task touches, and score it before and after.
///
/// The body holds the policy and what the task touches: `resources` (ARNs; `"Resource": "*"`
/// becomes them, per resource type of each action), optionally `access_levels` (`read`,
/// `write`, `list`, `tagging`, `permissions-management`) and `used_actions` (action names, or a
/// policy whose Allow statements list them, or `{"policy": …}` as `/api/v1/policy/from-cloudtrail`
/// answers). Nothing is ever added; Deny statements, conditions and principals are kept
/// (docs/authoring.md#narrowing). The answer is `iam-risk-score narrow POLICY --format json`:
/// `{"policy", "before", "after", "diff", "questions", "changes"}`. A policy, ARN, access level or
/// used-actions value the core cannot use is a 422 with its message.
#[utoipa::path(
    post,
    path = "/api/v1/policy/narrow",
    tag = "authoring",
    request_body = schema::NarrowRequest,
    responses(
        (status = 200, description = "The narrowed policy, both reports, their diff, questions and changes", body = schema::NarrowedPolicy),
        (status = 400, description = "Malformed JSON", body = error::ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = error::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"iam-risk-score\"`"))),
        (status = 413, description = "Body larger than the limit", body = error::ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = error::ErrorBody),
        (status = 422, description = "A field of the wrong shape, or a policy, ARN, access level or used action the core refuses, with its message", body = error::ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = error::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until a request is allowed"))),
        (status = 503, description = "Timed out or shutting down", body = error::ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn narrow(State(s): State<AppState>, JsonBody(body, _): JsonBody) -> Result<Response, AppError> {
    let input = request::narrow_input(body)?;
    let narrowed = blocking("narrow", move || {
        risk_core::answers::narrow_value(
            &input.policy,
            input.resources,
            &input.access_levels,
            input.used_actions.as_ref(),
        )
    })
    .await?
    .map_err(|e| unprocessable(String::new(), e.message().to_string()))?;
    s.metrics.scores.observe(f64::from(narrowed.after.score));
    json(&risk_core::answers::NarrowedAnswer::from(&narrowed))
}

/// `?include_denied=true|false`; anything else is a 422 naming the parameter.
fn include_denied(query: Option<&str>) -> Result<bool, AppError> {
    let mut out = None;
    let shown = |s: &str| s.chars().take(40).collect::<String>();
    for (_, v) in request::query_pairs(query, &["include_denied"])? {
        let v = v.as_str();
        if out.is_some() {
            return Err(unprocessable("include_denied".into(), "given more than once".into()));
        }
        out = Some(match v {
            "true" => true,
            "false" => false,
            _ => {
                return Err(unprocessable(
                    "include_denied".into(),
                    format!("must be `true` or `false`, got `{}`", shown(v)),
                ))
            }
        });
    }
    Ok(out.unwrap_or(false))
}

/// Build a least-privilege policy from CloudTrail records, and score it.
///
/// The body is CloudTrail as AWS gives it: an S3 log file (`{"Records": [...]}`, decompressed),
/// `aws cloudtrail lookup-events` output (`{"Events": [...]}`) or an array of records. Each
/// record's event becomes an IAM action through the catalog and one table of exceptions
/// (docs/authoring-cloudtrail.md); events that map to nothing are listed in `unknown`, never
/// guessed. The answer is `iam-risk-score from-cloudtrail FILE --format json`. This route has its
/// own body limit, `events_body_limit_bytes` (default 32 MiB), since log files are far larger
/// than policies.
#[utoipa::path(
    post,
    path = "/api/v1/policy/from-cloudtrail",
    tag = "authoring",
    params(("include_denied" = Option<bool>, Query,
        description = "Also grant what access-denied records attempted (they are listed in `denied` either way)")),
    request_body = schema::CloudTrailEvents,
    responses(
        (status = 200, description = "The policy built, its v1 report, and what it does not cover", body = schema::FromActivity),
        (status = 400, description = "Malformed JSON", body = error::ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = error::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"iam-risk-score\"`"))),
        (status = 413, description = "Body larger than `events_body_limit_bytes`", body = error::ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = error::ErrorBody),
        (status = 422, description = "Not CloudTrail, an unusable record, a bad or repeated `include_denied`, or another query parameter", body = error::ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = error::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until a request is allowed"))),
        (status = 503, description = "Timed out or shutting down", body = error::ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn from_cloudtrail(
    State(s): State<AppState>,
    uri: axum::http::Uri,
    EventsBody(bytes, permit): EventsBody,
) -> Result<Response, AppError> {
    use risk_core::cloudtrail::{policy_from_cloudtrail_with, CloudTrailError, CloudTrailOptions};
    let options = CloudTrailOptions { include_denied: include_denied(uri.query())? };
    let built = blocking("from-cloudtrail", move || {
        // Held until the work ends, even if the request timed out meanwhile.
        let _permit = permit;
        let value = request::parse_body(&bytes)?;
        policy_from_cloudtrail_with(&value, &options).map_err(|e| match e {
            CloudTrailError::Record { path, message } => unprocessable(path, message),
            CloudTrailError::Score(e) => {
                tracing::error!(error = %e, "the policy built from CloudTrail cannot be scored (a bug)");
                AppError::Internal
            }
            other => unprocessable(String::new(), other.to_string()),
        })
    })
    .await??;
    s.metrics.scores.observe(f64::from(built.report.score));
    json(&built)
}
