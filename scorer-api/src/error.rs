//! The one error type of the API and its JSON shape `{error: {code, message, details}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// One problem, located by its JSON path in the request (`policy.Statement[0].Effect`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Detail {
    /// JSON path in the request body; empty for the request as a whole.
    pub path: String,
    pub message: String,
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorObject {
    /// Stable machine-readable code: `invalid_json`, `invalid_policy`, `unauthorized`,
    /// `not_found`, `method_not_allowed`, `payload_too_large`, `unsupported_media_type`,
    /// `validation_failed`, `rate_limited`, `timeout`, `unavailable` or `internal`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// Every problem found, each with its JSON path (may be empty).
    pub details: Vec<Detail>,
}

/// Every way a request can fail. Internal errors are logged where they happen and answered
/// with a generic message: nothing internal reaches the client.
#[derive(Debug)]
pub enum AppError {
    /// The body is not JSON (400); the text completes "the request body …" (the core's
    /// [`risk_core::json::JsonError::predicate`]).
    InvalidJson(String),
    /// The policy cannot be analysed (400), with the core's problems.
    InvalidPolicy {
        message: String,
        details: Vec<Detail>,
    },
    /// The request is JSON but its fields are wrong (422).
    Validation(Vec<Detail>),
    /// Missing or wrong API key (401). `invalid` distinguishes a wrong key from a missing one.
    Unauthorized {
        invalid: bool,
    },
    NotFound(String),
    MethodNotAllowed,
    PayloadTooLarge {
        limit: usize,
    },
    UnsupportedMediaType,
    /// `POST /api/v1/scan` with a body that is not an archive type (415).
    UnsupportedArchiveType,
    /// An archive that cannot be scanned: unreadable, not an archive, a path leaving it (400).
    InvalidArchive(String),
    /// An archive holding more files or bytes than allowed once decompressed (413).
    ArchiveTooLarge(String),
    /// Rate limit exceeded (429), retry after this many seconds.
    RateLimited {
        retry_after: u64,
    },
    /// The request took longer than the configured timeout (503).
    Timeout,
    /// Shutting down (503).
    Unavailable,
    /// A bug; the cause is logged, never sent (500).
    Internal,
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::InvalidJson(_) | AppError::InvalidPolicy { .. } | AppError::InvalidArchive(_) => {
                StatusCode::BAD_REQUEST
            }
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::PayloadTooLarge { .. } | AppError::ArchiveTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType | AppError::UnsupportedArchiveType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Timeout | AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body (also used for the per-item errors of a batch).
    pub fn body(&self) -> ErrorObject {
        let (code, message, details) = match self {
            AppError::InvalidJson(m) => ("invalid_json", format!("the request body {m}"), vec![]),
            AppError::InvalidPolicy { message, details } => ("invalid_policy", message.clone(), details.clone()),
            AppError::Validation(details) => {
                let message = match details.as_slice() {
                    [one] if one.path.is_empty() => one.message.clone(),
                    [one] => format!("{} {}", one.path, one.message),
                    _ => format!("the request has {} invalid fields", details.len()),
                };
                ("validation_failed", message, details.clone())
            }
            AppError::Unauthorized { invalid: false } => {
                ("unauthorized", "this API requires a key: send `Authorization: Bearer <key>`".to_string(), vec![])
            }
            AppError::Unauthorized { invalid: true } => {
                ("unauthorized", "the API key is not valid".to_string(), vec![])
            }
            AppError::NotFound(m) => ("not_found", m.clone(), vec![]),
            AppError::MethodNotAllowed => {
                ("method_not_allowed", "this route does not accept that method".to_string(), vec![])
            }
            AppError::PayloadTooLarge { limit } => {
                ("payload_too_large", format!("the request body is larger than {limit} bytes"), vec![])
            }
            AppError::UnsupportedMediaType => (
                "unsupported_media_type",
                "send the request body as JSON with `Content-Type: application/json`".to_string(),
                vec![],
            ),
            AppError::UnsupportedArchiveType => (
                "unsupported_media_type",
                "send the repository as an archive: `Content-Type: application/gzip` (tar.gz, e.g. `git archive \
--format=tar.gz HEAD`), `application/x-tar` or `application/zip`"
                    .to_string(),
                vec![],
            ),
            AppError::InvalidArchive(m) => ("invalid_archive", m.clone(), vec![]),
            AppError::ArchiveTooLarge(m) => ("payload_too_large", m.clone(), vec![]),
            AppError::RateLimited { retry_after } => {
                ("rate_limited", format!("too many requests; retry in {retry_after} s"), vec![])
            }
            AppError::Timeout => ("timeout", "the request took too long; try again".to_string(), vec![]),
            AppError::Unavailable => {
                ("unavailable", "the server is shutting down; retry on another instance".to_string(), vec![])
            }
            AppError::Internal => ("internal", "internal error; it has been logged".to_string(), vec![]),
        };
        ErrorObject { code: code.to_string(), message, details }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&ErrorBody { error: self.body() }).unwrap_or_default();
        let mut res =
            (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
        match self {
            AppError::Unauthorized { invalid } => {
                let v = if invalid {
                    r#"Bearer realm="iam-risk-score", error="invalid_token""#
                } else {
                    r#"Bearer realm="iam-risk-score""#
                };
                res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(v));
            }
            AppError::RateLimited { retry_after } => {
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            AppError::Timeout | AppError::Unavailable => {
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        res
    }
}

impl From<risk_core::PolicyError> for AppError {
    fn from(e: risk_core::PolicyError) -> Self {
        policy_error(&e, "policy")
    }
}

/// A core policy error, with its paths placed under `prefix` (`policy`, `old`, `items[3].policy`).
pub fn policy_error(e: &risk_core::PolicyError, prefix: &str) -> AppError {
    let details =
        e.problems().iter().map(|p| Detail { path: join_path(prefix, &p.path), message: p.message.clone() }).collect();
    AppError::InvalidPolicy { message: format!("{prefix}: {e}"), details }
}

/// `prefix` + `path`, as JSON paths join: `policy` + `Statement[0]` → `policy.Statement[0]`.
pub fn join_path(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (_, true) => prefix.to_string(),
        (true, false) => path.to_string(),
        (false, false) if path.starts_with('[') => format!("{prefix}{path}"),
        (false, false) => format!("{prefix}.{path}"),
    }
}
