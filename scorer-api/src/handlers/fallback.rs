//! Everything no route matches: the playground's static files for `GET`/`HEAD`, a JSON 404
//! otherwise.

use crate::error::AppError;
use crate::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

const NO_PLAYGROUND: &str =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>iam-risk-score API</title></head>\
<body><h1>iam-risk-score API</h1><p>The browser playground is not built on this server. \
See <a href=\"/docs\">the API reference</a> or <a href=\"/openapi.json\">openapi.json</a>.</p></body></html>\n";

/// Static files of the playground; JSON 404 for anything else.
pub(crate) async fn fallback(State(s): State<AppState>, req: Request) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return AppError::NotFound(format!("no route {} {}", req.method(), req.uri().path())).into_response();
    }
    let dir = &s.config.playground_dir;
    if req.uri().path() == "/" && !dir.join("index.html").is_file() {
        let mut res = Response::new(Body::from(NO_PLAYGROUND));
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        return res;
    }
    let path = req.uri().path().to_string();
    match tower_http::services::ServeDir::new(dir).oneshot(req).await {
        Ok(res)
            if res.status().is_success()
                || res.status().is_redirection()
                || res.status() == StatusCode::NOT_MODIFIED =>
        {
            res.map(Body::new)
        }
        _ => AppError::NotFound(format!("no route GET {}", path.chars().take(200).collect::<String>())).into_response(),
    }
}
