//! The middleware around every route: request ids, the access log and metrics ([`observe`]),
//! the request timeout ([`timeout`]), bearer keys and the per-client token bucket on `/api/*`
//! ([`guard`]), and the optional CORS layer ([`cors_layer`]). [`crate::app`] decides where each
//! one sits.

use crate::error::AppError;
use crate::ratelimit::ClientId;
use crate::AppState;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use subtle::ConstantTimeEq;
use tracing::Instrument;

/// Header carrying the request id (accepted from the client when well-formed).
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub(crate) fn cors_layer(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, REQUEST_ID.clone()])
            .expose_headers([REQUEST_ID.clone(), header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

fn route_label(req: &Request) -> &'static str {
    const ROUTES: &[&str] = &[
        "/api/v1/score",
        "/api/v1/score/batch",
        "/api/v1/diff",
        "/api/v1/scan",
        "/api/v1/policy/write",
        "/api/v1/policy/from-cloudtrail",
        "/api/v1/policy/narrow",
        "/api/v1/intake/turn",
        "/api/v1/rules",
        "/api/v1/rules/{code}",
        "/api/v1/catalog",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
    ];
    match req.extensions().get::<MatchedPath>() {
        Some(m) => ROUTES.iter().copied().find(|r| *r == m.as_str()).unwrap_or("other"),
        None => "static",
    }
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

fn valid_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Request id, access log and metrics around everything else.
pub(crate) async fn observe(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = match req.headers().get(&REQUEST_ID) {
        Some(v) if valid_request_id(v) => v.clone(),
        _ => HeaderValue::from_str(&s.next_request_id()).unwrap_or(HeaderValue::from_static("-")),
    };
    req.headers_mut().insert(REQUEST_ID.clone(), id.clone());
    let route = route_label(&req);
    let method = method_label(req.method());
    let path = if s.config.log_requests { Some(req.uri().path().to_string()) } else { None };
    let span = tracing::info_span!("request", request_id = id.to_str().unwrap_or("-"));
    s.metrics.in_flight.inc();
    let mut res = next.run(req).instrument(span.clone()).await;
    s.metrics.in_flight.dec();
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    s.metrics.observe_request(route, method, status, elapsed);
    res.headers_mut().insert(REQUEST_ID.clone(), id);
    if let Some(path) = path {
        span.in_scope(|| {
            tracing::info!(
                target: "access",
                method,
                path = %path,
                route,
                status,
                latency_us = elapsed.as_micros() as u64,
                "request"
            )
        });
    }
    res
}

pub(crate) async fn timeout(State(s): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(s.config.request_timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(timeout_ms = s.config.request_timeout.as_millis() as u64, "request timed out");
            AppError::Timeout.into_response()
        }
    }
}

/// Who is calling: the peer address, or the last `X-Forwarded-For` hop when configured.
fn client_ip(s: &AppState, req: &Request) -> Option<IpAddr> {
    if s.config.trust_forwarded_for {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|ip| ip.trim().parse::<IpAddr>().ok())
            .next_back();
        if forwarded.is_some() {
            return forwarded;
        }
    }
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// The API key in `Authorization` (`Bearer KEY`, or the bare key as the predecessor accepted).
fn presented_key(req: &Request) -> Option<&str> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let key = match v.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return None,
        None => v,
    };
    (!key.is_empty()).then_some(key)
}

/// Index of the matching key. Every configured key is compared, in constant time.
fn match_key(s: &AppState, key: &str) -> Option<usize> {
    let h: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    let mut found = None;
    for (i, k) in s.key_hashes.iter().enumerate() {
        if bool::from(k.ct_eq(&h)) && found.is_none() {
            found = Some(i);
        }
    }
    found
}

/// Authentication and rate limiting for `/api/*`. Failed attempts count against the
/// caller's address, so guessing keys runs into 429 too.
pub(crate) async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let auth: Result<Option<usize>, AppError> = if s.key_hashes.is_empty() {
        Ok(None)
    } else {
        match presented_key(&req) {
            None => Err(AppError::Unauthorized { invalid: false }),
            Some(k) => match_key(&s, k).map(Some).ok_or(AppError::Unauthorized { invalid: true }),
        }
    };
    if let Some(limiter) = &s.limiter {
        let client = match (&auth, client_ip(&s, &req)) {
            (Ok(Some(i)), _) => ClientId::Key(*i),
            (_, Some(ip)) => ClientId::Ip(ip),
            (_, None) => ClientId::Unknown,
        };
        if let Err(retry_after) = limiter.check(&client, Instant::now()) {
            return AppError::RateLimited { retry_after }.into_response();
        }
    }
    if let Err(e) = auth {
        return e.into_response();
    }
    next.run(req).await
}
