//! Rule documentation and the action catalog: `GET /api/v1/rules`, `GET /api/v1/rules/{code}`
//! and `GET /api/v1/catalog`.

use crate::error::{self, AppError};
use crate::respond::{json, json_bytes};
use crate::schema;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

/// Every rule with its documentation, in registry order.
#[utoipa::path(
    get,
    path = "/api/v1/rules",
    tag = "rules",
    responses(
        (status = 200, description = "Every rule", body = Vec<schema::RuleDoc>),
        (status = 401, description = "Missing or wrong API key", body = error::ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = error::ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn rules(State(s): State<AppState>) -> Response {
    json_bytes(StatusCode::OK, s.rules_json.to_vec())
}

/// One rule, by code (`PE002`) or name (`passrole-escalation`), case-insensitive.
#[utoipa::path(
    get,
    path = "/api/v1/rules/{code}",
    tag = "rules",
    params(("code" = String, Path, description = "Rule code or name")),
    responses(
        (status = 200, description = "The rule", body = schema::RuleDoc),
        (status = 401, description = "Missing or wrong API key", body = error::ErrorBody),
        (status = 404, description = "No such rule", body = error::ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = error::ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn rule(Path(code): Path<String>) -> Result<Response, AppError> {
    match risk_core::rules::find(code.trim()) {
        Some(r) => json(&risk_core::explain::RuleDoc::from(r.meta())),
        None => Err(AppError::NotFound(format!(
            "no rule `{}`; GET /api/v1/rules lists every rule",
            code.chars().take(80).collect::<String>()
        ))),
    }
}

/// The bundled AWS action catalog: size, version and provenance.
#[utoipa::path(
    get,
    path = "/api/v1/catalog",
    tag = "rules",
    responses(
        (status = 200, description = "The catalog", body = schema::CatalogInfo),
        (status = 401, description = "Missing or wrong API key", body = error::ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = error::ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn catalog() -> Result<Response, AppError> {
    json(&risk_core::catalog_info())
}
