//! The JSON answers every handler shares: the body with its content type ([`json_bytes`],
//! [`json`]), engine work moved to the blocking pool ([`blocking`]) and the core's message as a
//! 422 ([`unprocessable`]).

use crate::error::{self, AppError};
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;

pub(crate) fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

pub(crate) fn json<T: Serialize>(value: &T) -> Result<Response, AppError> {
    // Reports are typically 5-20 KB: start big enough to avoid most regrowth copies.
    let mut body = Vec::with_capacity(16 * 1024);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => Ok(json_bytes(StatusCode::OK, body)),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a response");
            Err(AppError::Internal)
        }
    }
}

/// Run engine work on the blocking pool (authoring scores what it writes; CloudTrail files are large).
pub(crate) async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "{what} task failed");
        AppError::Internal
    })
}

/// The core's message as a 422 on the whole body (`path` empty) or on one place in it.
pub(crate) fn unprocessable(path: String, message: String) -> AppError {
    AppError::Validation(vec![error::Detail { path, message }])
}
