//! `POST /api/v1/diff`: what a policy change adds.

use crate::error::{self, policy_error, AppError};
use crate::request::{self, JsonBody};
use crate::respond::json;
use crate::schema;
use crate::AppState;
use axum::extract::State;
use axum::response::Response;

/// What a policy change adds: score delta, newly granted actions, new findings.
#[utoipa::path(
    post,
    path = "/api/v1/diff",
    tag = "score",
    request_body = schema::DiffRequest,
    responses(
        (status = 200, description = "The comparison", body = schema::PolicyDiff),
        (status = 400, description = "Malformed JSON or a policy that cannot be analysed (paths start with `old` or `new`)", body = error::ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = error::ErrorBody),
        (status = 413, description = "Body larger than the limit", body = error::ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = error::ErrorBody),
        (status = 422, description = "Invalid request fields", body = error::ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = error::ErrorBody),
        (status = 503, description = "Timed out or shutting down", body = error::ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn diff(State(_s): State<AppState>, JsonBody(body, _): JsonBody) -> Result<Response, AppError> {
    let input = request::diff_input(body)?;
    let d = tokio::task::spawn_blocking(move || risk_core::diff::diff_values(&input.old, &input.new, &input.options))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "diff task failed");
            AppError::Internal
        })?
        .map_err(|e| match &e {
            risk_core::diff::DiffError::Old(p) => policy_error(p, "old"),
            risk_core::diff::DiffError::New(p) => policy_error(p, "new"),
        })?;
    json(&d)
}
