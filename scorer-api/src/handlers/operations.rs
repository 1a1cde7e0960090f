//! Operations: `/healthz`, `/readyz`, `/metrics`, `/openapi.json` and `/docs`. These sit
//! outside the `/api/*` guard: no key, no rate limit.

use crate::error::AppError;
use crate::respond::{json, json_bytes};
use crate::schema;
use crate::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use risk_narrative::Narrator;
use serde::Serialize;
use std::sync::atomic::Ordering;

#[derive(Serialize)]
struct Health<'a> {
    status: &'a str,
    version: &'a str,
    narrative_model: Option<&'a str>,
}

fn health(s: &AppState, status: &str) -> Result<Response, AppError> {
    json(&Health {
        status,
        version: env!("CARGO_PKG_VERSION"),
        narrative_model: s.narrator.as_deref().map(Narrator::model),
    })
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = schema::Health)))]
pub async fn healthz(State(s): State<AppState>) -> Result<Response, AppError> {
    health(&s, "ok")
}

/// Readiness: 200 while serving, 503 once shutdown has begun.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = schema::Health),
        (status = 503, description = "Shutting down", body = schema::Health),
    ))]
pub async fn readyz(State(s): State<AppState>) -> Result<Response, AppError> {
    if s.shutting_down.load(Ordering::SeqCst) {
        let mut res = health(&s, "shutting_down")?;
        *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        Ok(res)
    } else {
        health(&s, "ready")
    }
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Metrics", content_type = "application/openmetrics-text", body = String)))]
pub async fn metrics_text(State(s): State<AppState>) -> Response {
    let mut res = Response::new(Body::from(s.metrics.encode()));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    res
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub async fn openapi_json(State(s): State<AppState>) -> Response {
    json_bytes(StatusCode::OK, s.openapi_json.to_vec())
}

/// Human-readable API reference, generated from the OpenAPI document.
#[utoipa::path(get, path = "/docs", tag = "operations",
    responses((status = 200, description = "HTML page", content_type = "text/html", body = String)))]
pub async fn docs_page(State(s): State<AppState>) -> Response {
    let mut res = Response::new(Body::from(s.docs_html.clone()));
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    res
}
