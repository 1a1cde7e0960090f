//! `POST /api/v1/intake/turn`: one turn of the intake that drafts a policy from a task
//! description (`risk_narrative::intake`). Stateless: the client sends the state back with each
//! answer. With a model configured it may propose the template; the policy is always the
//! writer's and the score the engine's.

use crate::error::{AppError, Detail};
use crate::request::JsonBody;
use crate::respond::json;
use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use risk_narrative::intake::{next_turn, Answer, IntakeState};
use serde::Deserialize;

/// One intake turn: the state the last turn returned (omit it on the first turn) and the
/// answer — the task description first, then free text or `{"answers": {QUESTION_ID: text}}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntakeRequest {
    #[serde(default)]
    pub state: Option<IntakeState>,
    pub answer: Answer,
}

/// Draft a policy from a task description, one question round at a time.
///
/// Returns what is still missing (`questions`: accounts, duration, services, access levels,
/// resource ARNs with their formats), the writer `template` once every service has its levels
/// and resources, and the `draft`: the writer's policy with the engine's v1 report. A model
/// (when the server has one) may only propose the template, from ARNs and services in the
/// requester's own words; see docs/intake.md.
#[utoipa::path(
    post,
    path = "/api/v1/intake/turn",
    tag = "score",
    request_body = IntakeRequest,
    responses(
        (status = 200, description = "The next turn", body = risk_narrative::intake::Turn),
        (status = 400, description = "Malformed JSON", body = crate::error::ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = crate::error::ErrorBody),
        (status = 413, description = "Body larger than the limit", body = crate::error::ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid fields, or a text or list over the intake's limits", body = crate::error::ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = crate::error::ErrorBody),
        (status = 503, description = "Timed out or shutting down", body = crate::error::ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn turn(State(s): State<AppState>, JsonBody(body, _): JsonBody) -> Result<Response, AppError> {
    let req: IntakeRequest = serde_json::from_value(body).map_err(|e| {
        let message = e.to_string().chars().take(300).collect::<String>();
        AppError::Validation(vec![Detail { path: String::new(), message }])
    })?;
    let turn = match &s.narrator {
        Some(n) => n.intake_turn(req.state, &req.answer).await,
        None => next_turn(req.state, &req.answer),
    }
    .map_err(|e| AppError::Validation(vec![Detail { path: String::new(), message: e.0 }]))?;
    json(&turn)
}
