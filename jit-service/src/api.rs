//! The HTTP API. Every route is declared once in [`routes`] with the access it needs; the
//! router is built from that table and the authorization-matrix test reads the same table,
//! so a route cannot be added without deciding (and testing) who may call it.

use crate::accounts;
use crate::approval::{self, ApprovalPolicy};
use crate::audit;
use crate::docs;
use crate::error::{ApiError, ApiResult};
use crate::identity::{self, Caller, Role};
use crate::notify;
use crate::provision;
use crate::reports;
use crate::requests;
use crate::schema::{
    CallbackQuery, ChangesBody, CommentBody, Decision, ExtendBody, LimitQuery, LoginBody, NewPrincipal, NewToken,
    ReasonBody, ReviewBody, TokenQuery,
};
use crate::util::now_ms;
use crate::AppState;
use axum::body::{to_bytes, Bytes};
use axum::extract::{FromRequest, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use axum::Router;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Who may call a route (checked again inside handlers for ownership and scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials needed.
    Public,
    /// Any authenticated user (requester and up).
    Requester,
    Approver,
    Admin,
}

pub struct RouteDef {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    /// Whether the rule also depends on owning the request (requester routes on `{id}`).
    pub owner_scoped: bool,
    pub handler: MethodRouter<AppState>,
}

fn r(
    method: Method,
    path: &'static str,
    access: Access,
    owner_scoped: bool,
    handler: MethodRouter<AppState>,
) -> RouteDef {
    RouteDef { method, path, access, owner_scoped, handler }
}

/// The route table.
pub fn routes() -> Vec<RouteDef> {
    use Access::*;
    vec![
        r(Method::GET, "/healthz", Public, false, get(healthz)),
        r(Method::GET, "/readyz", Public, false, get(readyz)),
        r(Method::GET, "/metrics", Public, false, get(metrics_text)),
        r(Method::GET, "/openapi.json", Public, false, get(docs::openapi_json)),
        r(Method::GET, "/docs", Public, false, get(docs::docs_page)),
        r(Method::POST, "/api/v1/auth/login", Public, false, post(login)),
        r(Method::GET, "/api/v1/auth/callback", Public, false, get(login_callback)),
        r(Method::POST, "/api/v1/auth/aws/challenge", Public, false, post(crate::awsauth::challenge_handler)),
        r(Method::POST, "/api/v1/auth/aws", Public, false, post(crate::awsauth::login_handler)),
        r(Method::POST, "/api/v1/auth/logout", Requester, false, post(logout)),
        r(Method::GET, "/api/v1/me", Requester, false, get(me)),
        r(Method::GET, "/api/v1/users", Approver, false, get(users_list)),
        r(Method::POST, "/api/v1/users", Admin, false, post(users_create)),
        r(Method::GET, "/api/v1/users/{user_id}", Approver, false, get(users_get)),
        r(Method::PATCH, "/api/v1/users/{user_id}", Admin, false, patch(users_patch)),
        r(Method::DELETE, "/api/v1/users/{user_id}", Admin, false, delete(users_delete)),
        r(Method::POST, "/api/v1/users/{user_id}/principals", Admin, false, post(users_add_principal)),
        r(Method::GET, "/api/v1/tokens", Requester, false, get(tokens_list)),
        r(Method::POST, "/api/v1/tokens", Requester, false, post(tokens_create)),
        r(Method::DELETE, "/api/v1/tokens/{hash}", Requester, true, delete(tokens_revoke)),
        r(Method::GET, "/api/v1/requests", Requester, false, get(requests_list)),
        r(Method::POST, "/api/v1/requests", Requester, false, post(requests_submit)),
        r(Method::POST, "/api/v1/requests/preview", Requester, false, post(requests_preview)),
        r(Method::GET, "/api/v1/requests/{id}", Requester, true, get(requests_get)),
        r(Method::PATCH, "/api/v1/requests/{id}", Requester, true, patch(requests_edit)),
        r(Method::POST, "/api/v1/requests/{id}/approve", Approver, false, post(requests_approve)),
        r(Method::POST, "/api/v1/requests/{id}/reject", Approver, false, post(requests_reject)),
        r(Method::POST, "/api/v1/requests/{id}/request-changes", Approver, false, post(requests_changes)),
        r(Method::POST, "/api/v1/requests/{id}/cancel", Requester, true, post(requests_cancel)),
        r(Method::GET, "/api/v1/requests/{id}/comments", Requester, true, get(requests_comments)),
        r(Method::POST, "/api/v1/requests/{id}/comments", Requester, true, post(requests_comment)),
        r(Method::POST, "/api/v1/requests/{id}/revoke", Requester, true, post(requests_revoke)),
        r(Method::POST, "/api/v1/requests/{id}/retry-provisioning", Admin, false, post(requests_retry)),
        r(Method::POST, "/api/v1/requests/{id}/extend", Requester, true, post(requests_extend)),
        r(Method::POST, "/api/v1/requests/{id}/review", Approver, false, post(requests_review)),
        r(Method::GET, "/api/v1/requests/{id}/history", Requester, true, get(requests_history)),
        r(Method::GET, "/api/v1/requests/{id}/assume", Requester, true, get(requests_assume)),
        r(Method::POST, "/api/v1/requests/{id}/credentials", Requester, true, post(requests_credentials)),
        r(Method::GET, "/api/v1/requests/{id}/provisioning-calls", Requester, true, get(requests_calls)),
        r(Method::GET, "/api/v1/accounts", Requester, false, get(accounts_list)),
        r(Method::POST, "/api/v1/accounts", Admin, false, post(accounts_register)),
        r(Method::POST, "/api/v1/accounts/onboarding/preview", Admin, false, post(accounts_onboarding_preview)),
        r(Method::GET, "/api/v1/accounts/{account_id}", Requester, false, get(accounts_get)),
        r(Method::DELETE, "/api/v1/accounts/{account_id}", Admin, false, delete(accounts_delete)),
        r(Method::POST, "/api/v1/accounts/{account_id}/orphan-sweep", Admin, false, post(accounts_orphan_sweep)),
        r(Method::GET, "/api/v1/approval-policy", Requester, false, get(policy_get)),
        r(Method::PUT, "/api/v1/approval-policy", Admin, false, put(policy_propose)),
        r(Method::GET, "/api/v1/approval-policy/versions", Admin, false, get(policy_versions)),
        r(Method::POST, "/api/v1/approval-policy/versions/{version}/approve", Admin, false, post(policy_approve)),
        r(Method::POST, "/api/v1/approval-policy/versions/{version}/reject", Admin, false, post(policy_reject)),
        r(Method::GET, "/api/v1/audit/verify", Admin, false, get(audit_verify)),
        r(Method::GET, "/api/v1/reports/audit-log", Admin, false, get(audit_log)),
        r(Method::GET, "/api/v1/reports/grants", Admin, false, get(reports::grants)),
        r(Method::GET, "/api/v1/reports/activity", Admin, false, get(reports::activity)),
        r(Method::GET, "/api/v1/reports/approvals", Admin, false, get(reports::approvals)),
        r(Method::GET, "/api/v1/reports/risk-distribution", Admin, false, get(reports::risk_distribution)),
        r(Method::GET, "/api/v1/reports/users", Admin, false, get(reports::users)),
        r(Method::GET, "/api/v1/webhooks", Admin, false, get(webhooks_list)),
        r(Method::POST, "/api/v1/webhooks", Admin, false, post(webhooks_create)),
        r(Method::DELETE, "/api/v1/webhooks/{id}", Admin, false, delete(webhooks_delete)),
        r(Method::GET, "/api/v1/webhooks/deliveries", Admin, false, get(webhooks_deliveries)),
    ]
}

/// The whole application: routes, then (outermost last) body limit, rate limit, security
/// headers, panic guard, request ids, metrics and logs.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new();
    for def in routes() {
        router = router.route(def.path, def.handler);
    }
    // MCP over streamable HTTP at `/mcp`, outside `routes()`: it is one protocol endpoint
    // (JSON-RPC over POST/GET/DELETE with its own sessions), not a REST route of the OpenAPI
    // document. It needs a valid token like every authenticated route, and its tools call this
    // API back with the caller's own token, so each tool is authorized by the route it calls.
    let router = router.merge(crate::mcp::router(&state));
    // The web UI's pages are not API routes (not in `routes()`, the OpenAPI document or the
    // authz matrix): they are HTML surfaces over the same functions the handlers above call,
    // with the same `Caller`, and are covered by tests/webui.rs.
    router
        .merge(crate::webui::router())
        .fallback(fallback)
        .layer(axum::middleware::from_fn(json_errors))
        .layer(from_fn_with_state(state.clone(), limits))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            ApiError::internal("internal error").into_response()
        }))
        .layer(from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// Middleware
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub method: String,
    pub status: u16,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Histogram,
    pub next_id: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("iam_jit");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by route, method and status", requests.clone());
        let latency = Histogram::new(exponential_buckets(0.0001, 2.0, 18));
        registry.register("http_request_duration_seconds", "HTTP request latency", latency.clone());
        Metrics { registry, requests, latency, next_id: AtomicU64::new(1) }
    }
}

async fn observe(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_string)
        .unwrap_or_else(|| format!("{:x}-{}", now_ms(), s.metrics.next_id.fetch_add(1, Ordering::Relaxed)));
    let route =
        req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = next.run(req).await;
    let status = resp.status().as_u16();
    let took = started.elapsed();
    s.metrics.requests.get_or_create(&RequestLabels { route: route.clone(), method: method.to_string(), status }).inc();
    s.metrics.latency.observe(took.as_secs_f64());
    tracing::info!(request_id = %id, method = %method, route = %route, status, ms = took.as_secs_f64() * 1000.0, "request");
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-request-id", v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Nothing is cached unless its handler says otherwise (only the web UI's WebAssembly
    // build does: `no-cache` with an ETag, so it is revalidated, never stale).
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    // A page that needs more (the /docs style sheet) sets its own, no wider than it needs.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    if !s.config.dev {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    resp
}

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Read a body whole, up to `body_limit_bytes`, for a service that is not one of our handlers
/// (rmcp's `/mcp`): `limits` only sees a declared `Content-Length`, and a chunked body must
/// be refused with the same `413` as the API's, not read whole by the service.
pub(crate) async fn buffer_limited_body(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    match to_bytes(body, s.config.body_limit_bytes).await {
        Ok(bytes) => next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await,
        Err(_) => too_large(s.config.body_limit_bytes),
    }
}

/// Body size limit and per-token (or per-address) rate limit (not counting the web UI's static
/// files: `webui::is_static_asset`).
async fn limits(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(len) =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok())
    {
        if len > s.config.body_limit_bytes {
            return too_large(s.config.body_limit_bytes);
        }
    }
    if req.uri().path_and_query().is_some_and(|pq| pq.as_str().to_ascii_lowercase().contains("%00")) {
        // PostgreSQL cannot store or compare U+0000 in text: refuse it before any query.
        return ApiError::bad_request("the URL contains an encoded NUL character (%00)").into_response();
    }
    if let Some(limiter) = s.limiter.as_ref().filter(|_| !crate::webui::is_static_asset(req.method(), req.uri().path()))
    {
        let key = match req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
            Some(a) => {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                a.hash(&mut h);
                scorer_api::ratelimit::ClientId::Key(h.finish() as usize)
            }
            // Unauthenticated calls (login) count per peer address (behind a proxy: per proxy).
            None => match req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>() {
                Some(ci) => scorer_api::ratelimit::ClientId::Ip(ci.0.ip()),
                None => scorer_api::ratelimit::ClientId::Unknown,
            },
        };
        if let Err(retry) = limiter.check(&key, Instant::now()) {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests; retry in {retry} s"),
            );
            e.retry_after = Some(retry);
            return e.into_response();
        }
    }
    next.run(req).await
}

/// axum's own rejections (a path segment that is not a number, bad percent-encoding, a
/// method the route does not have) answer in plain text or with no body; every error of this
/// API has the JSON shape, so they are rewritten here.
async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    // (HTML: the web UI's own error pages.)
    if !status.is_client_error() || is_json {
        return resp;
    }
    let allow = resp.headers().get(header::ALLOW).cloned();
    let text = to_bytes(resp.into_body(), 4096).await.map(|b| String::from_utf8_lossy(&b).into_owned());
    let text = text.unwrap_or_default();
    let (code, detail) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "this route does not take that method; see /openapi.json".to_string())
        }
        StatusCode::NOT_FOUND => ("not_found", if text.is_empty() { "not found".to_string() } else { text }),
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", text),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("media_type", text),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid", text),
        _ => ("bad_request", if text.is_empty() { "bad request".to_string() } else { text }),
    };
    let mut resp = ApiError::new(status, code, detail).into_response();
    if let Some(a) = allow {
        resp.headers_mut().insert(header::ALLOW, a);
    }
    resp
}

fn too_large(limit: usize) -> Response {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("the body is larger than {limit} bytes"))
        .into_response()
}

async fn fallback(method: Method) -> ApiError {
    let _ = method;
    ApiError::not_found("no such route; see /openapi.json")
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

/// A JSON body: 415 without `application/json`, 413 when too large, 400 for malformed JSON
/// (with line and column), 422 for a wrong shape (naming the field).
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let v = read_json(req, state, false).await?;
        serde_json::from_value(v).map(Json).map_err(|e| ApiError::field("body", e.to_string()))
    }
}

/// Like [`Json`], but an empty body (no bytes) is `{}` (for actions whose body is optional).
pub struct OptJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for OptJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let v = read_json(req, state, true).await?;
        serde_json::from_value(v).map(OptJson).map_err(|e| ApiError::field("body", e.to_string()))
    }
}

async fn read_json(req: Request, state: &AppState, optional: bool) -> ApiResult<Value> {
    let ctype =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let bytes: Bytes = to_bytes(req.into_body(), state.config.body_limit_bytes).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body is larger than {} bytes", state.config.body_limit_bytes),
        )
    })?;
    // No body at all is "no options" where the body is optional; whitespace alone is not JSON
    // (nor an absent body), so it is refused rather than read as `{}`.
    if bytes.is_empty() && optional {
        return Ok(json!({}));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(if optional {
            "the body is only whitespace; send a JSON object, or no body at all"
        } else {
            "the body is empty; send a JSON object"
        }));
    }
    if !(ctype.starts_with("application/json") || ctype.contains("+json")) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "media_type",
            "send the body as Content-Type: application/json",
        ));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    let v: Value = risk_core::parse_json(text).map_err(|e| {
        let p = e.problems().first().map(|p| p.message.clone()).unwrap_or_else(|| "malformed JSON".into());
        ApiError::bad_request(format!("malformed JSON: {p}"))
    })?;
    if has_nul(&v) {
        // PostgreSQL cannot store U+0000 in text; refuse it on every backend alike.
        return Err(ApiError::field("body", "must not contain the NUL character (\\u0000)"));
    }
    if !v.is_object() {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    Ok(v)
}

fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(has_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// A query string decoded strictly: unknown parameters are 400s that name them.
pub struct Q<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| Q(q))
            .map_err(|e| ApiError::bad_request(format!("bad query string: {}", e.body_text())))
    }
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

fn created(v: Value) -> Response {
    (StatusCode::CREATED, axum::Json(v)).into_response()
}

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

async fn healthz(State(s): State<AppState>) -> Response {
    ok(
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "engine": risk_core::versions(), "backend": s.store.backend.as_str()}),
    )
}

async fn readyz(State(s): State<AppState>) -> Response {
    if s.shutting_down.load(Ordering::Relaxed) {
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "shutting down").into_response();
    }
    if s.store.ping().await {
        ok(json!({"status": "ready", "database": "reachable"}))
    } else {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "database", "the database is not reachable").into_response()
    }
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &s.metrics.registry).is_err() {
        return ApiError::internal("metrics encoding failed").into_response();
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], out).into_response()
}

// ---------------------------------------------------------------------------------------------
// Login
// ---------------------------------------------------------------------------------------------

async fn login(State(s): State<AppState>, Json(body): Json<LoginBody>) -> ApiResult<Response> {
    let out = send_login_link(&s, &body.email, "/api/v1/auth/callback").await?;
    Ok((StatusCode::ACCEPTED, axum::Json(out)).into_response())
}

/// Send (or, in `--dev`, return as `login_url`) a login link for `email` that opens
/// `callback_path` (the API's callback, or the web UI's). The answer does not say whether
/// the address belongs to a user.
pub(crate) async fn send_login_link(s: &AppState, email: &str, callback_path: &str) -> ApiResult<Value> {
    let uid =
        identity::normalise_user_id(&format!("email:{}", email.trim())).map_err(|m| ApiError::field("email", m))?;
    let user = identity::get_user(&mut *s.store.pool.acquire().await?, &uid).await?;
    let mut out =
        json!({"detail": "if this address belongs to an enabled user, a login link is on its way (valid 15 minutes)"});
    if let Some(u) = user.filter(|u| u.enabled && !u.deleted) {
        let link = identity::create_magic_link(&s.store, &u.user_id).await?;
        let url = format!("{}{callback_path}?token={link}", s.config.public_url.trim_end_matches('/'));
        if s.config.dev {
            out["login_url"] = json!(url);
        } else if let Some(_smtp) = &s.config.smtp {
            let mut w = s.store.write().await?;
            let mail = json!({"subject": "Your iam-jit login link", "text": format!("Log in to iam-jit (the link works once, for 15 minutes):\n\n{url}\n")}).to_string();
            sqlx::query("INSERT INTO outbox (id, kind, target, event, body, status, attempts, next_attempt_at, created_at) VALUES ($1, 'email', $2, 'login.link', $3, 'pending', 0, $4, $4)")
                .bind(crate::util::new_id("ob-"))
                .bind(email.trim().to_ascii_lowercase())
                .bind(mail)
                .bind(now_ms())
                .execute(&mut *w.tx)
                .await?;
            w.commit().await?;
        } else {
            tracing::warn!("a login link was requested but SMTP is not configured (and not --dev)");
        }
    }
    Ok(out)
}

/// The `Set-Cookie` value of a new session (`Secure` unless `--dev`).
pub(crate) fn session_cookie(s: &AppState, token: &str) -> String {
    let secure = if s.config.dev { "" } else { "; Secure" };
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        identity::SESSION_COOKIE,
        identity::SESSION_TTL_MS / 1000
    )
}

async fn login_callback(State(s): State<AppState>, Q(q): Q<CallbackQuery>) -> ApiResult<Response> {
    if q.token.len() != 64 || !q.token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::unauthenticated("this login link is not valid; ask for a new one"));
    }
    let session = identity::redeem_magic_link(&s.store, &q.token).await?;
    let cookie = session_cookie(&s, &session.token);
    let mut resp =
        (StatusCode::OK, axum::Json(json!({"user_id": session.user_id, "csrf_token": session.csrf}))).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|_| ApiError::internal("cookie"))?);
    Ok(resp)
}

async fn logout(State(s): State<AppState>, caller: Caller, headers: HeaderMap) -> ApiResult<Response> {
    if let identity::Via::Session { .. } = caller.via {
        let token = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|kv| kv.trim().strip_prefix(&format!("{}=", identity::SESSION_COOKIE)).map(str::to_string))
            .unwrap_or_default();
        identity::end_session(&s.store, &token, caller.id()).await?;
    }
    let mut resp = ok(json!({"detail": "logged out"}));
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0", identity::SESSION_COOKIE))
            .map_err(|_| ApiError::internal("cookie"))?,
    );
    Ok(resp)
}

async fn me(caller: Caller) -> Response {
    let mut v = json!(caller.user);
    if let identity::Via::Session { csrf } = &caller.via {
        v["csrf_token"] = json!(csrf);
    }
    ok(v)
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

async fn users_list(State(s): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Role::Approver)?;
    Ok(ok(json!({"users": identity::list_users(&s.store).await?})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    pub user_id: String,
    pub roles: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

fn top_role(roles: &[String]) -> ApiResult<Role> {
    if roles.is_empty() {
        return Err(ApiError::field("roles", "give at least one of requester, approver, admin"));
    }
    let mut top = Role::Requester;
    for r in roles {
        top = top.max(Role::parse(r).ok_or_else(|| {
            ApiError::field("roles", format!("unknown role `{r}`; one of requester, approver, admin"))
        })?);
    }
    Ok(top)
}

fn check_groups(groups: &[String]) -> ApiResult<()> {
    for g in groups {
        identity::validate_group(g).map_err(|m| ApiError::field("groups", m))?;
    }
    Ok(())
}

async fn users_create(State(s): State<AppState>, caller: Caller, Json(b): Json<NewUser>) -> ApiResult<Response> {
    Ok(created(create_user(&s, &caller, b).await?))
}

/// `POST /api/v1/users` (and the web UI's user form): the new user.
pub(crate) async fn create_user(s: &AppState, caller: &Caller, b: NewUser) -> ApiResult<Value> {
    caller.require(Role::Admin)?;
    let uid = identity::normalise_user_id(&b.user_id).map_err(|m| ApiError::field("user_id", m))?;
    let role = top_role(&b.roles)?;
    check_groups(&b.groups)?;
    let mut w = s.store.write().await?;
    identity::insert_user(&mut w, &uid, role, &b.groups, b.display_name.as_deref()).await?;
    audit::append(&mut w, caller.id(), "user.created", &uid, json!({"role": role.as_str(), "groups": b.groups}))
        .await?;
    w.commit().await?;
    let u = identity::get_user(&mut *s.store.pool.acquire().await?, &uid).await?;
    Ok(json!(u))
}

fn user_path(raw: &str) -> ApiResult<String> {
    identity::normalise_user_id(raw).map_err(|m| ApiError::field("user_id", m))
}

async fn users_get(State(s): State<AppState>, caller: Caller, Path(uid): Path<String>) -> ApiResult<Response> {
    caller.require(Role::Approver)?;
    let uid = user_path(&uid)?;
    let u = identity::get_user(&mut *s.store.pool.acquire().await?, &uid)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user `{uid}`")))?;
    Ok(ok(json!(u)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchUser {
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    #[serde(default)]
    pub display_name: Option<String>,
}

async fn users_patch(
    State(s): State<AppState>,
    caller: Caller,
    Path(uid): Path<String>,
    Json(b): Json<PatchUser>,
) -> ApiResult<Response> {
    Ok(ok(update_user(&s, &caller, &uid, b).await?))
}

/// `PATCH /api/v1/users/{user_id}` (and the web UI's user forms): the updated user.
pub(crate) async fn update_user(s: &AppState, caller: &Caller, uid: &str, b: PatchUser) -> ApiResult<Value> {
    caller.require(Role::Admin)?;
    let uid = user_path(uid)?;
    let mut w = s.store.write().await?;
    let Some(u) = identity::get_user(&mut w.tx, &uid).await? else {
        return Err(ApiError::not_found(format!("no user `{uid}`")));
    };
    if u.deleted {
        return Err(ApiError::conflict(format!("user `{uid}` is deleted")));
    }
    let role = match &b.roles {
        Some(r) => top_role(r)?,
        None => u.role,
    };
    let enabled = b.enabled.unwrap_or(u.enabled);
    if u.role == Role::Admin
        && u.enabled
        && (role < Role::Admin || !enabled)
        && identity::enabled_admin_count(&mut w.tx).await? <= 1
    {
        return Err(ApiError::conflict("this is the last admin: make another admin first"));
    }
    sqlx::query("UPDATE users SET role = $1, enabled = $2, display_name = COALESCE($3, display_name), updated_at = $4 WHERE id = $5")
        .bind(role.as_str())
        .bind(i64::from(enabled))
        .bind(b.display_name.clone())
        .bind(now_ms())
        .bind(&uid)
        .execute(&mut *w.tx)
        .await?;
    if let Some(g) = &b.groups {
        check_groups(g)?;
        identity::set_groups(&mut w, &uid, g).await?;
    }
    audit::append(
        &mut w,
        caller.id(),
        "user.updated",
        &uid,
        json!({"role": role.as_str(), "enabled": enabled, "groups": b.groups}),
    )
    .await?;
    w.commit().await?;
    Ok(json!(identity::get_user(&mut *s.store.pool.acquire().await?, &uid).await?))
}

async fn users_delete(State(s): State<AppState>, caller: Caller, Path(uid): Path<String>) -> ApiResult<Response> {
    caller.require(Role::Admin)?;
    let uid = user_path(&uid)?;
    let mut w = s.store.write().await?;
    let Some(u) = identity::get_user(&mut w.tx, &uid).await? else {
        return Err(ApiError::not_found(format!("no user `{uid}`")));
    };
    if u.deleted {
        return Err(ApiError::conflict(format!("user `{uid}` is already deleted")));
    }
    if u.role == Role::Admin && u.enabled && identity::enabled_admin_count(&mut w.tx).await? <= 1 {
        return Err(ApiError::conflict("this is the last admin: make another admin first"));
    }
    // Deleted users keep their history; their tokens and sessions stop working.
    sqlx::query("UPDATE users SET deleted = 1, enabled = 0, updated_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(&uid)
        .execute(&mut *w.tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(&uid).execute(&mut *w.tx).await?;
    audit::append(&mut w, caller.id(), "user.deleted", &uid, json!({})).await?;
    w.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn users_add_principal(
    State(s): State<AppState>,
    caller: Caller,
    Path(uid): Path<String>,
    Json(b): Json<NewPrincipal>,
) -> ApiResult<Response> {
    caller.require(Role::Admin)?;
    let uid = user_path(&uid)?;
    let arn = identity::normalise_principal_arn(&b.principal_arn).map_err(|m| ApiError::field("principal_arn", m))?;
    let mut w = s.store.write().await?;
    match identity::get_user(&mut w.tx, &uid).await? {
        None => return Err(ApiError::not_found(format!("no user `{uid}`"))),
        Some(u) if u.deleted => return Err(ApiError::conflict(format!("user `{uid}` is deleted"))),
        Some(_) => {}
    }
    let exists = sqlx::query("SELECT user_id FROM user_principals WHERE principal_arn = $1")
        .bind(&arn)
        .fetch_optional(&mut *w.tx)
        .await?;
    if exists.is_some() {
        return Err(ApiError::conflict(format!("`{arn}` is already linked to a user")));
    }
    sqlx::query("INSERT INTO user_principals (user_id, principal_arn, method, added_by, created_at) VALUES ($1, $2, 'admin', $3, $4)")
        .bind(&uid)
        .bind(&arn)
        .bind(caller.id())
        .bind(now_ms())
        .execute(&mut *w.tx)
        .await?;
    audit::append(&mut w, caller.id(), "user.principal_linked", &uid, json!({"principal_arn": arn, "method": "admin"}))
        .await?;
    w.commit().await?;
    Ok(created(json!(identity::get_user(&mut *s.store.pool.acquire().await?, &uid).await?)))
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

async fn tokens_list(State(s): State<AppState>, caller: Caller, Q(q): Q<TokenQuery>) -> ApiResult<Response> {
    Ok(ok(json!({"tokens": list_tokens(&s, &caller, q.user).await?})))
}

/// `GET /api/v1/tokens?user=`: the caller's own tokens, or (admins) another user's or all (`*`).
pub(crate) async fn list_tokens(
    s: &AppState,
    caller: &Caller,
    user: Option<String>,
) -> ApiResult<Vec<identity::TokenInfo>> {
    let user = match user {
        Some(u) if u == "*" => {
            caller.require(Role::Admin)?;
            None
        }
        Some(u) => {
            let u = user_path(&u)?;
            if u != caller.id() {
                caller.require(Role::Admin)?;
            }
            Some(u)
        }
        None => Some(caller.id().to_string()),
    };
    Ok(identity::list_tokens(&s.store, user.as_deref()).await?)
}

async fn tokens_create(State(s): State<AppState>, caller: Caller, Json(b): Json<NewToken>) -> ApiResult<Response> {
    Ok(created(create_token(&s, &caller, b).await?))
}

/// `POST /api/v1/tokens` (and the web UI's token form): the token's info with the token itself,
/// which is shown this once.
pub(crate) async fn create_token(s: &AppState, caller: &Caller, b: NewToken) -> ApiResult<Value> {
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::field("name", "must be 1-100 characters"));
    }
    let expires = match b.expires_in_days {
        Some(d) if (1..=3650).contains(&d) => Some(now_ms() + i64::from(d) * 86_400_000),
        Some(_) => return Err(ApiError::field("expires_in_days", "must be 1-3650")),
        None => None,
    };
    let uid = match b.user_id {
        Some(u) => {
            let u = user_path(&u)?;
            if u != caller.id() {
                caller.require(Role::Admin)?;
            }
            u
        }
        None => caller.id().to_string(),
    };
    let mut w = s.store.write().await?;
    match identity::get_user(&mut w.tx, &uid).await? {
        Some(u) if !u.deleted => {}
        _ => return Err(ApiError::not_found(format!("no user `{uid}`"))),
    }
    let (token, info) = identity::create_token(&mut w, caller.id(), &uid, name, expires).await?;
    w.commit().await?;
    let mut v = json!(info);
    v["token"] = json!(token);
    v["detail"] = json!("store the token now: it is not shown again");
    Ok(v)
}

async fn tokens_revoke(State(s): State<AppState>, caller: Caller, Path(hash): Path<String>) -> ApiResult<Response> {
    revoke_token(&s, &caller, &hash).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /api/v1/tokens/{hash}`: the owner's or an admin's; others are told there is no such token.
pub(crate) async fn revoke_token(s: &AppState, caller: &Caller, hash: &str) -> ApiResult<()> {
    let info = identity::get_token(&s.store, hash).await?.ok_or_else(|| ApiError::not_found("no such token"))?;
    if info.user_id != caller.id() && !caller.has(Role::Admin) {
        return Err(ApiError::not_found("no such token"));
    }
    let mut w = s.store.write().await?;
    if !identity::revoke_token(&mut w, caller.id(), hash, "revoked").await? {
        return Err(ApiError::conflict("the token is already revoked"));
    }
    w.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

async fn requests_list(State(s): State<AppState>, caller: Caller, Q(q): Q<requests::ListQuery>) -> ApiResult<Response> {
    Ok(ok(requests::list(&s, &caller, &q).await?))
}

async fn requests_submit(State(s): State<AppState>, caller: Caller, Json(body): Json<Value>) -> ApiResult<Response> {
    let (req, review) = requests::submit(&s, &caller, &body).await?;
    Ok(created(json!({"request": req, "review": review})))
}

async fn requests_preview(State(s): State<AppState>, caller: Caller, Json(body): Json<Value>) -> ApiResult<Response> {
    Ok(ok(requests::preview(&s, &caller, &body).await?))
}

async fn requests_get(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let st = requests::get_visible(&s, &caller, &id).await?;
    let review = requests::current_review(&s, &st).await?;
    Ok(ok(json!({"request": requests::view(&s, &id).await?, "review": review})))
}

async fn requests_edit(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    let (req, review) = requests::edit(&s, &caller, &id, &body).await?;
    Ok(ok(json!({"request": req, "review": review})))
}

/// `value` trimmed, when it is `min..=max` characters long; else a 422 on `field` saying `hint`.
pub(crate) fn text(field: &str, value: &str, min: usize, max: usize, hint: &str) -> ApiResult<String> {
    let t = value.trim();
    if (min..=max).contains(&t.chars().count()) {
        Ok(t.to_string())
    } else {
        Err(ApiError::field(field, hint))
    }
}

pub(crate) fn check_comment(c: &Option<String>) -> ApiResult<()> {
    if c.as_ref().is_some_and(|c| c.chars().count() > 4000) {
        return Err(ApiError::field("comment", "must be at most 4000 characters"));
    }
    Ok(())
}

async fn requests_approve(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptJson(b): OptJson<Decision>,
) -> ApiResult<Response> {
    check_comment(&b.comment)?;
    Ok(ok(json!({"request": requests::approve(&s, &caller, &id, b.comment, b.version).await?})))
}

async fn requests_reject(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptJson(b): OptJson<Decision>,
) -> ApiResult<Response> {
    check_comment(&b.comment)?;
    Ok(ok(json!({"request": requests::reject(&s, &caller, &id, b.comment, b.version).await?})))
}

async fn requests_changes(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(b): Json<ChangesBody>,
) -> ApiResult<Response> {
    let comment = text("comment", &b.comment, 1, 4000, "say what should change (1-4000 characters)")?;
    Ok(ok(
        json!({"request": requests::request_changes(&s, &caller, &id, comment, b.suggested_constraints, b.version).await?}),
    ))
}

async fn requests_cancel(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptJson(b): OptJson<ReasonBody>,
) -> ApiResult<Response> {
    check_comment(&b.reason)?;
    Ok(ok(json!({"request": requests::cancel(&s, &caller, &id, b.reason).await?})))
}

async fn requests_revoke(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptJson(b): OptJson<ReasonBody>,
) -> ApiResult<Response> {
    check_comment(&b.reason)?;
    Ok(ok(json!({"request": requests::revoke(&s, &caller, &id, b.reason).await?})))
}

async fn requests_comments(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(ok(requests::comments(&s, &caller, &id).await?))
}

async fn requests_comment(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(b): Json<CommentBody>,
) -> ApiResult<Response> {
    let body = text("body", &b.body, 1, 4000, "must be 1-4000 characters")?;
    Ok(created(requests::comment(&s, &caller, &id, body).await?))
}

async fn requests_retry(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(ok(json!({"request": requests::retry_provisioning(&s, &caller, &id).await?})))
}

async fn requests_extend(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(b): Json<ExtendBody>,
) -> ApiResult<Response> {
    if !(1..=8760).contains(&b.hours) {
        return Err(ApiError::field("hours", "must be 1-8760"));
    }
    let reason = text("reason", &b.reason, 10, 2000, "say why more time is needed (10-2000 characters)")?;
    Ok(ok(json!({"request": requests::extend(&s, &caller, &id, b.hours, reason).await?})))
}

async fn requests_review(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(b): Json<ReviewBody>,
) -> ApiResult<Response> {
    let comment = text("comment", &b.comment, 1, 4000, "must be 1-4000 characters")?;
    Ok(ok(json!({"request": requests::review(&s, &caller, &id, comment).await?})))
}

async fn requests_history(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(ok(requests::history(&s, &caller, &id).await?))
}

async fn requests_assume(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(ok(requests::assume_instructions(&s, &caller, &id).await?))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CredentialsBody {
    #[serde(default)]
    account_id: Option<String>,
}

async fn requests_credentials(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptJson(b): OptJson<CredentialsBody>,
) -> ApiResult<Response> {
    Ok(ok(requests::credentials(&s, &caller, &id, b.account_id).await?))
}

async fn requests_calls(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    requests::get_visible(&s, &caller, &id).await?;
    Ok(ok(
        json!({"request_id": id, "provisioner": s.provisioner.name(), "calls": provision::recorded_calls(&s.store, &id).await?}),
    ))
}

// ---------------------------------------------------------------------------------------------
// Destination accounts
// ---------------------------------------------------------------------------------------------

async fn accounts_list(State(s): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let admin = caller.has(Role::Admin);
    let list: Vec<Value> = accounts::list(&s.store).await?.iter().map(|a| accounts::view(a, admin)).collect();
    Ok(ok(json!({"accounts": list})))
}

async fn accounts_register(State(s): State<AppState>, caller: Caller, Json(b): Json<Value>) -> ApiResult<Response> {
    caller.require(Role::Admin)?;
    let a = accounts::parse(&b)?;
    let mut w = s.store.write().await?;
    let (is_new, a) = accounts::upsert(&mut w, caller.id(), a, s.now()).await?;
    w.commit().await?;
    let v = json!({"account": a.to_json()});
    Ok(if is_new { created(v) } else { ok(v) })
}

fn account_path(raw: &str) -> ApiResult<String> {
    if raw.len() == 12 && raw.bytes().all(|b| b.is_ascii_digit()) {
        Ok(raw.to_string())
    } else {
        // No such account can be registered, so none is found.
        Err(ApiError::not_found(format!("account {raw:?} is not registered (account ids are 12 digits)")))
    }
}

async fn accounts_get(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let id = account_path(&id)?;
    let a = accounts::get(&s.store, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("account {id} is not registered")))?;
    Ok(ok(json!({"account": accounts::view(&a, caller.has(Role::Admin))})))
}

async fn accounts_delete(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    caller.require(Role::Admin)?;
    let id = account_path(&id)?;
    let live = accounts::live_requests(&s.store, &id).await?;
    if !live.is_empty() {
        return Err(ApiError::conflict(format!(
            "account {id} still has grants that hold or may create roles there ({}); revoke them first",
            live.join(", ")
        )));
    }
    let mut w = s.store.write().await?;
    let n =
        sqlx::query("DELETE FROM accounts WHERE account_id = $1").bind(&id).execute(&mut *w.tx).await?.rows_affected();
    if n == 0 {
        return Err(ApiError::not_found(format!("account {id} is not registered")));
    }
    audit::append(&mut w, caller.id(), "account.removed", &id, json!({})).await?;
    w.commit().await?;
    Ok(ok(json!({"account_id": id, "removed": true})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewBody {
    account_id: String,
    #[serde(default)]
    format: Option<String>,
}

async fn accounts_onboarding_preview(
    State(s): State<AppState>,
    caller: Caller,
    Json(b): Json<PreviewBody>,
) -> ApiResult<Response> {
    caller.require(Role::Admin)?;
    if !(b.account_id.len() == 12 && b.account_id.bytes().all(|c| c.is_ascii_digit())) {
        return Err(ApiError::field("account_id", format!("must be 12 digits, not `{}`", b.account_id)));
    }
    let id = b.account_id;
    Ok(ok(accounts::onboarding_preview(&s, caller.id(), &id, b.format.as_deref()).await?))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SweepBody {
    #[serde(default)]
    delete: bool,
}

async fn accounts_orphan_sweep(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptJson(b): OptJson<SweepBody>,
) -> ApiResult<Response> {
    caller.require(Role::Admin)?;
    let id = account_path(&id)?;
    let delete = b.delete;
    Ok(ok(accounts::orphan_sweep(&s, caller.id(), &id, delete).await?))
}

// ---------------------------------------------------------------------------------------------
// Approval policy
// ---------------------------------------------------------------------------------------------

async fn policy_get(State(s): State<AppState>, _caller: Caller) -> ApiResult<Response> {
    let (version, policy) = approval::active(&mut *s.store.pool.acquire().await?).await?;
    Ok(ok(json!({"version": version, "policy": policy})))
}

async fn policy_propose(
    State(s): State<AppState>,
    caller: Caller,
    Json(policy): Json<ApprovalPolicy>,
) -> ApiResult<Response> {
    let v = propose_policy(&s, &caller, &policy).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(json!({"proposal": v, "detail": "a second admin must approve this version"})))
        .into_response())
}

/// `PUT /api/v1/approval-policy` (and the web UI's form): a proposal a second admin must approve.
pub(crate) async fn propose_policy(
    s: &AppState,
    caller: &Caller,
    policy: &ApprovalPolicy,
) -> ApiResult<approval::PolicyVersion> {
    caller.require(Role::Admin)?;
    let mut w = s.store.write().await?;
    let v = approval::propose(&mut w, caller.id(), policy, false).await?;
    w.commit().await?;
    Ok(v)
}

async fn policy_versions(State(s): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Role::Admin)?;
    Ok(ok(json!({"versions": approval::history(&s.store).await?})))
}

async fn policy_approve(State(s): State<AppState>, caller: Caller, Path(version): Path<i64>) -> ApiResult<Response> {
    caller.require(Role::Admin)?;
    Ok(ok(json!({"version": approval::decide(&s.store, &caller.user, version, true).await?})))
}

async fn policy_reject(State(s): State<AppState>, caller: Caller, Path(version): Path<i64>) -> ApiResult<Response> {
    caller.require(Role::Admin)?;
    Ok(ok(json!({"version": approval::decide(&s.store, &caller.user, version, false).await?})))
}

// ---------------------------------------------------------------------------------------------
// Audit
// ---------------------------------------------------------------------------------------------

async fn audit_verify(State(s): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Role::Admin)?;
    let v = audit::verify(&s.store, s.audit_key()).await?;
    Ok(ok(json!(v)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    after_seq: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
    /// `json` (default) or `jsonl`.
    #[serde(default)]
    format: Option<String>,
}

fn ts_param(name: &str, v: &Option<String>) -> ApiResult<Option<i64>> {
    v.as_deref()
        .map(|t| crate::util::parse_ts(t).ok_or_else(|| ApiError::field(name, "must be an RFC 3339 time")))
        .transpose()
}

async fn audit_log(State(s): State<AppState>, caller: Caller, Q(q): Q<AuditQuery>) -> ApiResult<Response> {
    caller.require(Role::Admin)?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=100_000).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1-100000"));
    }
    let f = audit::Filter {
        subject: q.subject,
        actor: q.actor,
        action_prefix: q.action,
        since_ms: ts_param("since", &q.since)?,
        until_ms: ts_param("until", &q.until)?,
        after_seq: q.after_seq,
        limit,
        newest_first: false,
    };
    let records = audit::list(&s.store, &f).await?;
    let verification = audit::verify(&s.store, s.audit_key()).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(ok(json!({"records": records, "verification": verification}))),
        Some("jsonl") => {
            let mut out = String::new();
            for r in &records {
                out.push_str(&serde_json::to_string(r).unwrap_or_default());
                out.push('\n');
            }
            let mut resp = ([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response();
            if let Ok(v) = HeaderValue::from_str(if verification.ok { "ok" } else { "broken" }) {
                resp.headers_mut().insert("x-audit-chain", v);
            }
            Ok(resp)
        }
        Some(other) => Err(ApiError::field("format", format!("`{other}` is not json or jsonl"))),
    }
}

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

async fn webhooks_list(State(s): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require(Role::Admin)?;
    Ok(ok(json!({"webhooks": notify::list_webhooks(&s.store).await?, "events": notify::EVENTS})))
}

async fn webhooks_create(
    State(s): State<AppState>,
    caller: Caller,
    Json(b): Json<notify::NewWebhook>,
) -> ApiResult<Response> {
    caller.require(Role::Admin)?;
    let (hook, secret) = notify::create_webhook(&s, caller.id(), b).await?;
    let mut v = json!(hook);
    v["secret"] = json!(secret);
    Ok(created(v))
}

async fn webhooks_delete(State(s): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    caller.require(Role::Admin)?;
    notify::delete_webhook(&s, caller.id(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn webhooks_deliveries(State(s): State<AppState>, caller: Caller, Q(q): Q<LimitQuery>) -> ApiResult<Response> {
    caller.require(Role::Admin)?;
    Ok(ok(notify::deliveries(&s.store, q.limit.unwrap_or(100)).await?))
}
