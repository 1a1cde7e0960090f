//! `POST /api/v1/score` and `POST /api/v1/score/batch`: score one policy or many, with the
//! narrative added when the server has a model or the request asks for one.

use crate::error::{self, policy_error, AppError};
use crate::request::{self, JsonBody, ScoreInput};
use crate::respond::json;
use crate::schema;
use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use risk_core::Report;
use risk_narrative::{Fallback, Narration};

/// Score synchronously (microseconds for typical policies; callers move large work off the
/// async workers).
fn score_sync(s: &AppState, input: &ScoreInput, prefix: &str) -> Result<Report, AppError> {
    let report = risk_core::score_value(&input.policy, &input.options).map_err(|e| policy_error(&e, prefix))?;
    s.metrics.scores.observe(f64::from(report.score));
    Ok(report)
}

/// Add the narrative when the server has a model (unless the request says `false`) or when
/// the request asks for one (the template, without a model).
async fn narrate(s: &AppState, report: &mut Report, input: &ScoreInput) {
    let narration = match (&s.narrator, input.narrative) {
        (_, Some(false)) | (None, None) => return,
        (Some(n), _) => n.narrate(report, &input.policy, &input.options).await,
        (None, Some(true)) => Narration::fallback(report, Fallback::Disabled),
    };
    risk_narrative::apply(report, &narration);
}

/// Bodies larger than this are scored on the blocking pool, so one large policy (milliseconds
/// of work) never stalls the connections sharing its async worker; typical ones (tens of
/// microseconds) are scored in place, which is cheaper than a thread hand-off.
const INLINE_BODY_BYTES: usize = 32 * 1024;

/// Score an IAM policy.
///
/// Returns the v1 result: the predecessor's keys (`score`, `tier`, `factors`, …) plus
/// findings, categories, an access summary, the context and versions. A policy that cannot be
/// analysed is a 400 naming each problem's JSON path (`policy.Statement[0].Effect`).
#[utoipa::path(
    post,
    path = "/api/v1/score",
    tag = "score",
    request_body = schema::ScoreRequest,
    responses(
        (status = 200, description = "The v1 result", body = schema::Report),
        (status = 400, description = "Malformed JSON or a policy that cannot be analysed", body = error::ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = error::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"iam-risk-score\"`"))),
        (status = 413, description = "Body larger than the limit", body = error::ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = error::ErrorBody),
        (status = 422, description = "Invalid request fields", body = error::ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = error::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until a request is allowed"))),
        (status = 503, description = "Timed out or shutting down", body = error::ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn score(State(s): State<AppState>, JsonBody(body, len): JsonBody) -> Result<Response, AppError> {
    let input = request::score_input(body, "")?;
    let mut report = if len > INLINE_BODY_BYTES {
        let (s2, input2) = (s.clone(), input.clone());
        tokio::task::spawn_blocking(move || score_sync(&s2, &input2, "policy")).await.map_err(|e| {
            tracing::error!(error = %e, "scoring task failed");
            AppError::Internal
        })??
    } else {
        score_sync(&s, &input, "policy")?
    };
    narrate(&s, &mut report, &input).await;
    json(&report)
}

/// Score many policies in one request, in parallel.
///
/// Each item is a full scoring request. An item whose policy cannot be analysed fails alone:
/// the answer is 200 with one entry per item, in order, holding either `result` or `error`.
/// Invalid fields in any item make the whole request a 422.
#[utoipa::path(
    post,
    path = "/api/v1/score/batch",
    tag = "score",
    request_body = schema::BatchRequest,
    responses(
        (status = 200, description = "One entry per item", body = schema::BatchResponse),
        (status = 400, description = "Malformed JSON", body = error::ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = error::ErrorBody),
        (status = 413, description = "Body larger than the limit", body = error::ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = error::ErrorBody),
        (status = 422, description = "`items` missing, not an array, longer than the batch limit, or an item with invalid fields", body = error::ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = error::ErrorBody),
        (status = 503, description = "Timed out or shutting down", body = error::ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn batch(State(s): State<AppState>, JsonBody(body, _): JsonBody) -> Result<Response, AppError> {
    let serde_json::Value::Object(mut map) = body else {
        return Err(AppError::Validation(vec![error::Detail {
            path: String::new(),
            message: "must be a JSON object with an `items` array".into(),
        }]));
    };
    let items = match map.remove("items") {
        Some(serde_json::Value::Array(items)) => items,
        _ => {
            return Err(AppError::Validation(vec![error::Detail {
                path: "items".into(),
                message: "is required: an array of scoring requests ({\"policy\": …})".into(),
            }]))
        }
    };
    if let Some(k) = map.keys().next() {
        return Err(AppError::Validation(vec![error::Detail {
            path: k.clone(),
            message: "is not a field; use items".into(),
        }]));
    }
    if items.len() > s.config.batch_max {
        return Err(AppError::Validation(vec![error::Detail {
            path: "items".into(),
            message: format!("has {} items; at most {} per request", items.len(), s.config.batch_max),
        }]));
    }
    let s2 = s.clone();
    let scored: Vec<Result<(Report, ScoreInput), AppError>> = tokio::task::spawn_blocking(move || {
        use rayon::prelude::*;
        items
            .into_par_iter()
            .enumerate()
            .map(|(i, item)| {
                let prefix = format!("items[{i}]");
                let input = request::score_input(item, &prefix)?;
                let report = score_sync(&s2, &input, &format!("{prefix}.policy"))?;
                Ok((report, input))
            })
            .collect()
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "batch task failed");
        AppError::Internal
    })?;
    // A malformed item (wrong field types, unknown fields, out-of-range values) is a broken
    // request: 422 for the whole batch, naming every bad field. Only policies that cannot be
    // analysed fail item by item.
    let mut invalid = Vec::new();
    for r in &scored {
        if let Err(AppError::Validation(details)) = r {
            invalid.extend(details.iter().cloned());
        }
    }
    if !invalid.is_empty() {
        return Err(AppError::Validation(invalid));
    }
    // Narratives run concurrently; the narrator caps the calls in flight.
    let mut tasks = tokio::task::JoinSet::new();
    let mut results: Vec<schema_out::BatchItem> = Vec::with_capacity(scored.len());
    for (index, r) in scored.into_iter().enumerate() {
        match r {
            Ok((mut report, input)) => {
                let s3 = s.clone();
                tasks.spawn(async move {
                    narrate(&s3, &mut report, &input).await;
                    (index, report)
                });
                results.push(schema_out::BatchItem { index, result: None, error: None });
            }
            Err(e) => results.push(schema_out::BatchItem { index, result: None, error: Some(e.body()) }),
        }
    }
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((index, report)) => results[index].result = Some(report),
            Err(e) => {
                tracing::error!(error = %e, "narrative task failed");
                return Err(AppError::Internal);
            }
        }
    }
    let failed = results.iter().filter(|r| r.error.is_some()).count();
    json(&schema_out::BatchResponse { scored: results.len() - failed, failed, results })
}

/// Serialisable batch answers (their schemas are in [`schema`]).
mod schema_out {
    use serde::Serialize;

    #[derive(Serialize)]
    pub struct BatchItem {
        pub index: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub result: Option<risk_core::Report>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub error: Option<crate::error::ErrorObject>,
    }

    #[derive(Serialize)]
    pub struct BatchResponse {
        pub results: Vec<BatchItem>,
        pub scored: usize,
        pub failed: usize,
    }
}
