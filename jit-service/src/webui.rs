//! The web UI: server-rendered HTML pages over the same functions the JSON API calls.
//!
//! Every page handler authenticates the session cookie with [`identity::authenticate`] (form
//! posts with [`identity::authenticate_with`], which accepts the session's CSRF token as the
//! `csrf` form field where the API takes the `X-CSRF-Token` header) and then calls
//! `requests::submit`, `requests::approve`, … with that [`Caller`]: the UI has no path of its
//! own around the service's authorization. The admin pages' forms call the functions the API's
//! handlers are made of (`api::create_user`, `api::update_user`, `api::create_token`,
//! `api::revoke_token`, `api::propose_policy`, `approval::decide`), so the checks those make
//! (admin role, the last admin, the proposer who may not approve) are the API's own.
//! Templates are askama's, compiled into the binary and escaped by default; the style sheet
//! and the small script are served from the binary, under a Content-Security-Policy without
//! `unsafe-inline`. Everything works without the script; it adds the live risk score on the
//! new-request form and copy buttons.
//!
//! Unauthenticated page requests are sent to `/login`.

use crate::api;
use crate::error::{ApiError, ApiResult};
use crate::identity::{self, Caller, Role};
use crate::requests::{self, ListQuery};
use crate::AppState;
use askama::Template;
use axum::body::to_bytes;
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The policy of every UI page: own scripts, styles and fetches only, no inline code.
/// `'wasm-unsafe-eval'` lets those same scripts compile the engine's WebAssembly build
/// (served from `/ui/wasm/`); it allows no `eval` of JavaScript and no inline script.
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const STYLE: &str = include_str!("../static/webui.css");
const SCRIPT: &str = include_str!("../static/webui.js");
/// Double-submit cookie of the login form (there is no session yet to hold a CSRF token).
const LOGIN_CSRF_COOKIE: &str = "iam_jit_login_csrf";

/// The UI's pages (merged into [`api::app`]; not API routes, so not in `api::routes()`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login_submit))
        .route("/login/callback", get(login_callback))
        .route("/logout", post(logout))
        .route("/queue", get(queue))
        .route("/requests/new", get(new_page).post(new_submit))
        .route("/requests/{id}", get(detail))
        .route("/requests/{id}/edit", get(edit_page).post(edit_submit))
        .route("/requests/{id}/approve", post(approve))
        .route("/requests/{id}/reject", post(reject))
        .route("/requests/{id}/request-changes", post(request_changes))
        .route("/requests/{id}/comment", post(comment))
        .route("/requests/{id}/cancel", post(cancel))
        .route("/requests/{id}/revoke", post(revoke))
        .route("/requests/{id}/extend", post(extend))
        .route("/requests/{id}/review", post(review))
        .route("/admin/users", get(admin_users).post(admin_user_create))
        .route("/admin/users/update", post(admin_user_update))
        .route("/admin/groups", get(admin_groups))
        .route("/admin/tokens", get(admin_tokens).post(admin_token_create))
        .route("/admin/tokens/revoke", post(admin_token_revoke))
        .route("/admin/approval-policy", get(admin_policy).post(admin_policy_propose))
        .route("/admin/approval-policy/versions/{version}/approve", post(admin_policy_approve))
        .route("/admin/approval-policy/versions/{version}/reject", post(admin_policy_reject))
        .route("/admin/webhooks", get(admin_webhooks))
        .route("/admin/accounts", get(admin_accounts))
        .route("/admin/accounts/onboarding", post(admin_onboarding))
        .route("/admin/reports", get(admin_reports))
        .route("/ui/style.css", get(style))
        .route("/ui/app.js", get(script))
        .route("/ui/wasm/risk_wasm.js", get(wasm_glue))
        .route("/ui/wasm/risk_wasm_bg.wasm", get(wasm_module))
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

fn html(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(body) => {
            let mut resp = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
            resp.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            ApiError::internal("the page could not be rendered").into_response()
        }
    }
}

fn see_other(to: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

#[derive(Template)]
#[template(path = "webui/error.html")]
struct ErrorPage {
    nav: Nav,
    title: String,
    status: u16,
    detail: String,
    errors: Vec<String>,
    back: Option<String>,
}

/// A failed page: 401 sends the browser to `/login`, anything else is an HTML error page
/// with the API's message (boxed: it travels in every handler's `Result`).
struct PageError(Box<Failure>);

struct Failure {
    err: ApiError,
    nav: Nav,
    back: Option<String>,
}

impl PageError {
    fn new(err: ApiError) -> Self {
        Self::with(err, Nav::default(), None)
    }
    fn with(err: ApiError, nav: Nav, back: Option<String>) -> Self {
        PageError(Box::new(Failure { err, nav, back }))
    }
}

impl From<ApiError> for PageError {
    fn from(err: ApiError) -> Self {
        PageError::new(err)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let Failure { err, nav, back } = *self.0;
        if err.status == StatusCode::UNAUTHORIZED {
            return see_other("/login");
        }
        let page = ErrorPage {
            nav,
            title: err.status.canonical_reason().unwrap_or("Error").to_string(),
            status: err.status.as_u16(),
            detail: err.detail.clone(),
            errors: err.errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect(),
            back,
        };
        html(err.status, &page)
    }
}

type PageResult = Result<Response, PageError>;

/// What the layout shows about the signed-in user.
#[derive(Debug, Clone, Default)]
struct Nav {
    user: Option<String>,
    csrf: String,
    approver: bool,
    admin: bool,
}

impl Nav {
    fn of(caller: &Caller) -> Nav {
        let csrf = match &caller.via {
            identity::Via::Session { csrf } => csrf.clone(),
            identity::Via::Token { .. } => String::new(),
        };
        Nav {
            user: Some(caller.id().to_string()),
            csrf,
            approver: caller.has(Role::Approver),
            admin: caller.has(Role::Admin),
        }
    }
}

/// The signed-in caller of a page (GET); an anonymous visitor is sent to `/login`.
struct Viewer(Caller);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Viewer(identity::authenticate(state, parts).await?))
    }
}

/// A form post: its fields, and the caller authenticated with the form's `csrf` field.
struct FormPost {
    caller: Caller,
    fields: BTreeMap<String, String>,
}

impl FormPost {
    fn get(&self, k: &str) -> &str {
        self.fields.get(k).map(String::as_str).unwrap_or("")
    }
    fn opt(&self, k: &str) -> Option<String> {
        Some(self.get(k).trim()).filter(|v| !v.is_empty()).map(str::to_string)
    }
    fn version(&self) -> ApiResult<Option<i64>> {
        self.opt("version")
            .map(|v| v.parse::<i64>().map_err(|_| ApiError::field("version", "must be an integer")))
            .transpose()
    }
}

/// Read an `application/x-www-form-urlencoded` body (at most the API's body limit).
async fn read_form(state: &AppState, req: Request) -> ApiResult<(Parts, BTreeMap<String, String>)> {
    let (parts, body) = req.into_parts();
    let ctype = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ctype.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "media_type",
            "send the form as application/x-www-form-urlencoded",
        ));
    }
    let bytes = to_bytes(body, state.config.body_limit_bytes)
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the form is too large"))?;
    let fields: BTreeMap<String, String> = form_urlencoded::parse(&bytes).into_owned().collect();
    if fields.iter().any(|(k, v)| k.contains('\0') || v.contains('\0')) {
        return Err(ApiError::field("body", "must not contain the NUL character"));
    }
    Ok((parts, fields))
}

async fn form_post(state: &AppState, req: Request) -> ApiResult<FormPost> {
    let (parts, fields) = read_form(state, req).await?;
    let caller = identity::authenticate_with(state, &parts, fields.get("csrf").map(String::as_str)).await?;
    Ok(FormPost { caller, fields })
}

fn cookie_value<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

// ---------------------------------------------------------------------------------------------
// Static files
// ---------------------------------------------------------------------------------------------

/// The UI's own static files (the stylesheet, the script and the engine's browser build): the
/// same bytes for every caller, needing no session and no database. The API's rate limit does
/// not count them, so a page view costs one request of the caller's budget, not four or five.
pub(crate) fn is_static_asset(method: &axum::http::Method, path: &str) -> bool {
    (method == axum::http::Method::GET || method == axum::http::Method::HEAD)
        && matches!(path, "/ui/style.css" | "/ui/app.js" | "/ui/wasm/risk_wasm.js" | "/ui/wasm/risk_wasm_bg.wasm")
}

/// Strong validators of the compiled-in stylesheet and script, so a browser revalidates them
/// with a `304` instead of downloading them on every page.
static STYLE_ETAG: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| etag(STYLE.as_bytes()));
static SCRIPT_ETAG: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| etag(SCRIPT.as_bytes()));

/// A strong validator of a static file's bytes: `"sha256-<first 128 bits, hex>"`.
fn etag(bytes: &[u8]) -> String {
    format!("\"sha256-{}\"", &crate::util::sha256_hex(bytes)[..32])
}

async fn style(headers: axum::http::HeaderMap) -> Response {
    static_file(&headers, "text/css; charset=utf-8", &STYLE_ETAG, &axum::body::Bytes::from_static(STYLE.as_bytes()))
}

async fn script(headers: axum::http::HeaderMap) -> Response {
    static_file(
        &headers,
        "text/javascript; charset=utf-8",
        &SCRIPT_ETAG,
        &axum::body::Bytes::from_static(SCRIPT.as_bytes()),
    )
}

/// The engine's browser build (`risk-wasm`, wasm-bindgen's `web` target), read once at start
/// from `webui_wasm_dir`. The editor checks its versions against the server's before it
/// trusts a score from it, so a stale build is never shown as the server's result.
#[derive(Debug)]
pub struct WasmAssets {
    pub glue: axum::body::Bytes,
    pub module: axum::body::Bytes,
    /// Strong validators (`"sha256-…"`), so a browser revalidates the 2-3 MB module with a
    /// `304` instead of downloading it on every visit to the editor.
    pub glue_etag: String,
    pub module_etag: String,
}

impl WasmAssets {
    /// Read `risk_wasm.js` and `risk_wasm_bg.wasm` from `dir`; an error says what is missing.
    pub fn load(dir: &std::path::Path) -> anyhow::Result<WasmAssets> {
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| {
                anyhow::anyhow!(
                    "webui_wasm_dir: cannot read {} ({e}); build it with `bash risk-wasm/build.sh` \
                     (it writes risk-wasm/pkg/) or unset IAM_JIT_WEBUI_WASM_DIR",
                    dir.join(name).display()
                )
            })
        };
        let glue = read("risk_wasm.js")?;
        let module = read("risk_wasm_bg.wasm")?;
        if !module.starts_with(b"\0asm") {
            anyhow::bail!("webui_wasm_dir: {} is not a WebAssembly module", dir.join("risk_wasm_bg.wasm").display());
        }
        Ok(WasmAssets { glue_etag: etag(&glue), module_etag: etag(&module), glue: glue.into(), module: module.into() })
    }
}

/// Serve a static file: `304` when the browser's copy is current.
fn static_file(
    headers: &axum::http::HeaderMap,
    content_type: &'static str,
    etag: &str,
    body: &axum::body::Bytes,
) -> Response {
    let validators = [(header::CACHE_CONTROL, "no-cache".to_string()), (header::ETAG, etag.to_string())];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, validators).into_response();
    }
    let mut resp = (validators, body.clone()).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn wasm_not_configured() -> Response {
    ApiError::not_found("the browser build of the engine is not configured (webui_wasm_dir)").into_response()
}

async fn wasm_glue(State(s): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    match &s.webui_wasm {
        Some(w) => static_file(&headers, "text/javascript; charset=utf-8", &w.glue_etag, &w.glue),
        None => wasm_not_configured(),
    }
}

async fn wasm_module(State(s): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    match &s.webui_wasm {
        Some(w) => static_file(&headers, "application/wasm", &w.module_etag, &w.module),
        None => wasm_not_configured(),
    }
}

// ---------------------------------------------------------------------------------------------
// Login and logout
// ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "webui/login.html")]
struct LoginPage {
    nav: Nav,
    title: String,
    csrf: String,
    email: String,
    message: Option<String>,
    error: Option<String>,
    dev_link: Option<String>,
}

fn login_response(s: &AppState, status: StatusCode, mut page: LoginPage, cookie_csrf: Option<&str>) -> Response {
    // Reuse the visitor's login token if it has one, so two open tabs both work.
    let token = cookie_csrf.map(str::to_string).unwrap_or_else(|| crate::util::secret(""));
    page.csrf = token.clone();
    let mut resp = html(status, &page);
    let secure = if s.config.dev { "" } else { "; Secure" };
    if let Ok(v) =
        HeaderValue::from_str(&format!("{LOGIN_CSRF_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict{secure}"))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn login_page_of(email: &str) -> LoginPage {
    LoginPage {
        nav: Nav::default(),
        title: "Sign in".into(),
        csrf: String::new(),
        email: email.to_string(),
        message: None,
        error: None,
        dev_link: None,
    }
}

async fn login_page(State(s): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    if identity::authenticate(&s, &parts).await.is_ok() {
        return see_other("/");
    }
    login_response(&s, StatusCode::OK, login_page_of(""), cookie_value(&parts.headers, LOGIN_CSRF_COOKIE))
}

async fn login_submit(State(s): State<AppState>, req: Request) -> Response {
    let (parts, fields) = match read_form(&s, req).await {
        Ok(f) => f,
        Err(e) => return PageError::new(e).into_response(),
    };
    let cookie = cookie_value(&parts.headers, LOGIN_CSRF_COOKIE);
    let sent = fields.get("csrf").map(String::as_str).unwrap_or("");
    let email = fields.get("email").map(String::as_str).unwrap_or("").trim().to_string();
    let mut page = login_page_of(&email);
    if !cookie.is_some_and(|c| !c.is_empty() && crate::util::ct_eq(c, sent)) {
        page.error = Some("the form expired or came from elsewhere; please try again".into());
        return login_response(&s, StatusCode::FORBIDDEN, page, None);
    }
    match api::send_login_link(&s, &email, "/login/callback").await {
        Ok(v) => {
            page.message = v["detail"].as_str().map(str::to_string);
            page.dev_link = v["login_url"].as_str().map(str::to_string);
            login_response(&s, StatusCode::OK, page, cookie)
        }
        Err(e) => {
            page.error = Some(e.errors.first().map(|f| f.message.clone()).unwrap_or(e.detail.clone()));
            login_response(&s, e.status, page, cookie)
        }
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    #[serde(default)]
    token: String,
}

async fn login_callback(State(s): State<AppState>, Query(q): Query<CallbackQuery>) -> Response {
    let redeemed = if q.token.len() == 64 && q.token.bytes().all(|b| b.is_ascii_hexdigit()) {
        identity::redeem_magic_link(&s.store, &q.token).await
    } else {
        Err(ApiError::unauthenticated("this login link is not valid; ask for a new one"))
    };
    match redeemed {
        Ok(session) => {
            let mut resp = see_other("/");
            if let Ok(v) = HeaderValue::from_str(&api::session_cookie(&s, &session.token)) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }
        Err(e) => {
            let mut page = login_page_of("");
            page.error = Some(e.detail);
            login_response(&s, StatusCode::UNAUTHORIZED, page, None)
        }
    }
}

async fn logout(State(s): State<AppState>, req: Request) -> PageResult {
    let token = cookie_value(req.headers(), identity::SESSION_COOKIE).unwrap_or("").to_string();
    let f = form_post(&s, req).await?;
    if let identity::Via::Session { .. } = f.caller.via {
        identity::end_session(&s.store, &token, f.caller.id()).await.map_err(ApiError::from)?;
    }
    let mut resp = see_other("/login");
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!("{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0", identity::SESSION_COOKIE))
            .map_err(|_| ApiError::internal("cookie"))?,
    );
    Ok(resp)
}

// ---------------------------------------------------------------------------------------------
// Lists: my requests and the approver queue
// ---------------------------------------------------------------------------------------------

/// One row of a request list.
struct Row {
    id: String,
    owner: String,
    description: String,
    state: String,
    score: i64,
    tier: String,
    accounts: String,
    quorum: String,
    findings: Option<usize>,
    /// Findings per category (`privilege-escalation 2, destructive 1`), in the queue.
    categories: String,
    /// The optional LLM narrative of the review, in the queue (it never changes the score).
    narrative: Option<String>,
    created_at: String,
}

fn row_of(v: &Value) -> Row {
    let desc = v["spec"]["description"].as_str().unwrap_or("");
    let short: String = desc.chars().take(120).collect();
    Row {
        id: v["metadata"]["id"].as_str().unwrap_or("").to_string(),
        owner: v["status"]["owner"].as_str().unwrap_or("").to_string(),
        description: if short.len() < desc.len() { format!("{short}…") } else { short },
        state: v["status"]["state"].as_str().unwrap_or("").to_string(),
        score: v["status"]["review"]["risk_score"].as_i64().unwrap_or(0),
        tier: v["status"]["review"]["tier"].as_str().unwrap_or("").to_string(),
        accounts: v["spec"]["accounts"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["account_id"].as_str()).collect::<Vec<_>>().join(", "))
            .unwrap_or_default(),
        quorum: format!(
            "{} of {}",
            v["status"]["quorum"]["have"].as_i64().unwrap_or(0),
            v["status"]["quorum"]["required"].as_i64().unwrap_or(0)
        ),
        findings: None,
        categories: String::new(),
        narrative: None,
        created_at: v["metadata"]["created_at"].as_str().unwrap_or("").to_string(),
    }
}

#[derive(Template)]
#[template(path = "webui/home.html")]
struct HomePage {
    nav: Nav,
    title: String,
    rows: Vec<Row>,
}

async fn home(State(s): State<AppState>, Viewer(caller): Viewer) -> PageResult {
    let q = ListQuery { mine: Some(true), limit: Some(200), ..ListQuery::default() };
    let list = requests::list(&s, &caller, &q).await?;
    let rows = list["requests"].as_array().map(|a| a.iter().map(row_of).collect()).unwrap_or_default();
    Ok(html(StatusCode::OK, &HomePage { nav: Nav::of(&caller), title: "My requests".into(), rows }))
}

#[derive(Template)]
#[template(path = "webui/queue.html")]
struct QueuePage {
    nav: Nav,
    title: String,
    rows: Vec<Row>,
}

async fn queue(State(s): State<AppState>, Viewer(caller): Viewer) -> PageResult {
    let nav = Nav::of(&caller);
    caller.require(Role::Approver).map_err(|e| PageError::with(e, nav.clone(), None))?;
    // The same listing as `GET /api/v1/requests?state=pending`: highest risk first.
    let q = ListQuery { state: Some("pending".into()), limit: Some(200), ..ListQuery::default() };
    let list = requests::list(&s, &caller, &q).await?;
    let mut rows = Vec::new();
    for v in list["requests"].as_array().into_iter().flatten() {
        let mut row = row_of(v);
        let stored = requests::get_visible(&s, &caller, &row.id).await?;
        let review = requests::current_review(&s, &stored).await?;
        row.findings = Some(review["findings"].as_array().map_or(0, Vec::len));
        row.categories = findings_by_category(&review)
            .iter()
            .map(|(c, list)| format!("{c} {}", list.len()))
            .collect::<Vec<_>>()
            .join(", ");
        row.narrative = review["llm_narrative"].as_str().filter(|n| !n.trim().is_empty()).map(|n| {
            let short: String = n.chars().take(400).collect();
            if short.len() < n.len() {
                format!("{short}…")
            } else {
                short
            }
        });
        rows.push(row);
    }
    Ok(html(StatusCode::OK, &QueuePage { nav, title: "Approval queue".into(), rows }))
}

// ---------------------------------------------------------------------------------------------
// New request
// ---------------------------------------------------------------------------------------------

/// A finding as the pages show it.
struct FindingView {
    rule: String,
    name: String,
    severity: String,
    message: String,
    suggestion: String,
}

/// Findings grouped by category, categories in the report's (sorted) order.
fn findings_by_category(review: &Value) -> Vec<(String, Vec<FindingView>)> {
    let mut map: BTreeMap<String, Vec<FindingView>> = BTreeMap::new();
    for f in review["findings"].as_array().into_iter().flatten() {
        let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
        map.entry(s("category")).or_default().push(FindingView {
            rule: s("rule"),
            name: s("name"),
            severity: s("severity"),
            message: s("message"),
            suggestion: s("suggestion"),
        });
    }
    map.into_iter().collect()
}

struct ScoreView {
    score: i64,
    tier: String,
    factors: Vec<String>,
    categories: Vec<(String, Vec<FindingView>)>,
    quorum: Option<i64>,
    narrative: Option<String>,
}

fn score_view(review: &Value, quorum: Option<i64>) -> ScoreView {
    ScoreView {
        score: review["score"].as_i64().unwrap_or(0),
        tier: review["tier"].as_str().unwrap_or("").to_string(),
        factors: review["factors"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        categories: findings_by_category(review),
        quorum,
        narrative: review["llm_narrative"].as_str().filter(|n| !n.trim().is_empty()).map(str::to_string),
    }
}

#[derive(Template)]
#[template(path = "webui/new.html")]
struct NewPage {
    nav: Nav,
    title: String,
    /// Where the form posts: `/requests/new`, or `/requests/{id}/edit`.
    form_action: String,
    /// When editing: the request's version (the edit is refused if it changed since).
    version: Option<i64>,
    description: String,
    accounts: String,
    duration_hours: String,
    access_type: String,
    policy: String,
    errors: Vec<String>,
    preview: Option<ScoreView>,
    /// Served the engine's browser build: the editor scores (and diffs) as the user types.
    wasm: bool,
    /// The server's engine, rule-set and catalog versions (JSON): the editor uses the
    /// browser build only when its versions are the same.
    engine: String,
    /// When editing: the saved policy the edit is compared against, and its revision.
    previous_policy: Option<String>,
    previous_revision: Option<i64>,
    /// The no-script preview's comparison with the saved revision.
    diff: Option<DiffView>,
}

/// Rules whose findings make the service refuse a request (the editor says so up front).
fn refused_rules() -> String {
    requests::REFUSED_RULES.join(" ")
}

/// The server's versions as the editor's `data-engine` (fixed for the life of the process).
fn engine_versions() -> String {
    static VERSIONS: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| serde_json::to_string(&risk_core::versions()).unwrap_or_default());
    VERSIONS.clone()
}

/// The editor's own fields, from the posted form or from a stored request.
struct EditorFields {
    description: String,
    accounts: String,
    duration_hours: String,
    access_type: String,
    policy: String,
}

impl EditorFields {
    fn of_form(f: &FormPost) -> EditorFields {
        EditorFields {
            description: f.get("description").to_string(),
            accounts: f.get("accounts").to_string(),
            duration_hours: f.get("duration_hours").to_string(),
            access_type: f.get("access_type").to_string(),
            policy: f.get("policy").to_string(),
        }
    }
}

impl NewPage {
    /// The editor page: a new request (`previous: None`) or an edit of a stored one, compared
    /// with its saved policy and revision.
    fn editor(
        s: &AppState,
        nav: Nav,
        title: String,
        form_action: String,
        version: Option<i64>,
        fields: EditorFields,
        previous: Option<(&Value, i64)>,
    ) -> NewPage {
        NewPage {
            nav,
            title,
            form_action,
            version,
            description: fields.description,
            accounts: fields.accounts,
            duration_hours: fields.duration_hours,
            access_type: fields.access_type,
            policy: fields.policy,
            errors: Vec::new(),
            preview: None,
            wasm: s.webui_wasm.is_some(),
            engine: engine_versions(),
            previous_policy: previous.map(|(p, _)| serde_json::to_string_pretty(p).unwrap_or_default()),
            previous_revision: previous.map(|(_, r)| r),
            diff: None,
        }
    }
}

/// What changed between two versions of a request's policy, as the pages show it.
struct DiffView {
    /// What the new version is compared with ("revision 2").
    against: String,
    old_score: i64,
    new_score: i64,
    old_tier: String,
    new_tier: String,
    /// `+2`, `-1` or `±0`.
    delta: String,
    added: Vec<String>,
    added_total: usize,
    removed: Vec<String>,
    removed_total: usize,
    new_findings: Vec<String>,
    resolved_findings: Vec<String>,
}

/// The options a request's spec is scored with (as `requests::score` derives them).
fn spec_options(spec: &Value, duration_ms: Option<i64>) -> risk_core::ScoreOptions {
    let hours = spec["duration"]["duration_hours"]
        .as_u64()
        .or_else(|| duration_ms.map(|ms| (ms.max(0) as u64).div_ceil(3_600_000).max(1)))
        .map(|h| h.clamp(1, 8760) as u32);
    risk_core::ScoreOptions {
        access_type: spec["access_type"].as_str().and_then(risk_core::AccessType::parse),
        duration_hours: hours,
        description: spec["description"].as_str().map(|d| d.chars().take(500).collect()),
        ..risk_core::ScoreOptions::default()
    }
}

/// `s3 · Write: s3:PutObject, …` lines of an actions-by-service map, at most 40 actions each.
fn action_lines(by_service: &risk_core::diff::ActionsByService) -> Vec<String> {
    let mut out = Vec::new();
    for (service, levels) in by_service {
        for (level, actions) in levels {
            let shown: Vec<&str> = actions.iter().take(40).map(String::as_str).collect();
            let more = actions.len().saturating_sub(shown.len());
            let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
            out.push(format!("{service} · {level}: {}{tail}", shown.join(", ")));
        }
    }
    out
}

/// Compare two policy documents with the engine's diff; `None` when either does not parse
/// (the score section already says why).
fn diff_view(old: &Value, new: &Value, options: &risk_core::ScoreOptions, against: String) -> Option<DiffView> {
    let d = risk_core::diff::diff_values(old, new, options).ok()?;
    let finding = |f: &risk_core::output::v1::Finding| format!("{} {}: {}", f.rule, f.name, f.message);
    Some(DiffView {
        against,
        old_score: i64::from(d.old_score),
        new_score: i64::from(d.new_score),
        old_tier: d.old_tier.clone(),
        new_tier: d.new_tier.clone(),
        delta: match d.risk_delta {
            0 => "±0".into(),
            n if n > 0 => format!("+{n}"),
            n => n.to_string(),
        },
        added: action_lines(&d.added_actions),
        added_total: d.added_actions_total,
        removed: action_lines(&d.removed_actions),
        removed_total: d.removed_actions_total,
        new_findings: d.new_findings.iter().map(finding).collect(),
        resolved_findings: d.resolved_findings.iter().map(finding).collect(),
    })
}

const EXAMPLE_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:ListBucket"],
      "Resource": ["arn:aws:s3:::example-bucket", "arn:aws:s3:::example-bucket/*"]
    }
  ]
}"#;

async fn new_page(State(s): State<AppState>, Viewer(caller): Viewer) -> Response {
    html(
        StatusCode::OK,
        &NewPage::editor(
            &s,
            Nav::of(&caller),
            "New request".into(),
            "/requests/new".into(),
            None,
            EditorFields {
                description: String::new(),
                accounts: String::new(),
                duration_hours: "1".into(),
                access_type: "read-only".into(),
                policy: EXAMPLE_POLICY.into(),
            },
            None,
        ),
    )
}

/// The RoleRequest body the API takes, from the form's fields.
fn request_body(f: &FormPost) -> ApiResult<Value> {
    let mut errors = Vec::new();
    let accounts: Vec<Value> = f
        .get("accounts")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|a| !a.is_empty())
        .map(|a| json!({"account_id": a}))
        .collect();
    let hours = f.get("duration_hours").trim();
    let hours: Value = match hours.parse::<u64>() {
        Ok(h) => json!(h),
        Err(_) => {
            errors.push(crate::error::FieldError {
                path: "spec.duration.duration_hours".into(),
                message: "must be a whole number of hours".into(),
            });
            Value::Null
        }
    };
    let policy = match risk_core::parse_json(f.get("policy")) {
        Ok(p) => p,
        Err(e) => {
            let m = e.problems().first().map(|p| p.message.clone()).unwrap_or_else(|| "malformed JSON".into());
            errors
                .push(crate::error::FieldError { path: "spec.policy".into(), message: format!("not valid JSON: {m}") });
            Value::Null
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid("the request is not valid", errors));
    }
    Ok(json!({
        "apiVersion": requests::API_VERSION,
        "kind": requests::KIND,
        "spec": {
            "description": f.get("description"),
            "access_type": f.get("access_type"),
            "accounts": accounts,
            "duration": {"duration_hours": hours},
            "policy": policy,
        }
    }))
}

fn error_lines(e: &ApiError) -> Vec<String> {
    if e.errors.is_empty() {
        vec![e.detail.clone()]
    } else {
        e.errors.iter().map(|f| format!("{}: {}", f.path, f.message)).collect()
    }
}

/// `POST /requests/new`: `action=preview` scores the form (the no-script live score),
/// anything else submits it through `requests::submit`.
async fn new_submit(State(s): State<AppState>, req: Request) -> PageResult {
    let f = form_post(&s, req).await?;
    let mut page = NewPage::editor(
        &s,
        Nav::of(&f.caller),
        "New request".into(),
        "/requests/new".into(),
        None,
        EditorFields::of_form(&f),
        None,
    );
    let body = match request_body(&f) {
        Ok(b) => b,
        Err(e) => {
            page.errors = error_lines(&e);
            return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    if f.get("action") == "preview" {
        return Ok(match requests::preview(&s, &f.caller, &body).await {
            Ok(v) => {
                page.preview = Some(score_view(&v["review"], v["would"]["quorum"].as_i64()));
                html(StatusCode::OK, &page)
            }
            Err(e) => {
                page.errors = error_lines(&e);
                html(e.status, &page)
            }
        });
    }
    match requests::submit(&s, &f.caller, &body).await {
        Ok((v, _)) => Ok(see_other(&format!("/requests/{}", v["metadata"]["id"].as_str().unwrap_or("")))),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY || e.status == StatusCode::FORBIDDEN => {
            page.errors = error_lines(&e);
            Ok(html(e.status, &page))
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Request detail and decisions
// ---------------------------------------------------------------------------------------------

struct ApprovalView {
    approver: String,
    comment: String,
    at: String,
    counts: bool,
}

struct EventView {
    at: String,
    actor: String,
    action: String,
}

struct CommentView {
    author: String,
    kind: String,
    body: String,
    at: String,
}

struct RoleView {
    account_id: String,
    role_arn: String,
    cli: String,
    env: String,
    profile: String,
    brokered: bool,
}

#[derive(Template)]
#[template(path = "webui/detail.html")]
struct DetailPage {
    nav: Nav,
    title: String,
    id: String,
    owner: String,
    state: String,
    reason: String,
    version: i64,
    description: String,
    access_type: String,
    accounts: String,
    duration: String,
    created_at: String,
    expires_at: String,
    policy: String,
    score: ScoreView,
    quorum_have: i64,
    quorum_required: i64,
    approvals: Vec<ApprovalView>,
    comments: Vec<CommentView>,
    events: Vec<EventView>,
    roles: Vec<RoleView>,
    can_decide: bool,
    /// The caller has approved this round already (the API refuses a second approval).
    approved_by_me: bool,
    can_cancel: bool,
    can_edit: bool,
    can_revoke: bool,
    can_extend: bool,
    /// The pending extension, if any: `(hours, reason)`.
    extension: Option<(i64, String)>,
    /// A break-glass grant waiting for its post-hoc review, and the caller may give it.
    can_review: bool,
    break_glass: String,
    done: String,
    /// For a request revised after a review: what the latest revision changed.
    changes: Option<DiffView>,
    /// The latest revision's number.
    revision: i64,
}

#[derive(Deserialize, Default)]
struct DetailQuery {
    #[serde(default)]
    done: Option<String>,
}

async fn detail(
    State(s): State<AppState>,
    Viewer(caller): Viewer,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> PageResult {
    let nav = Nav::of(&caller);
    let with_nav = |e: ApiError| PageError::with(e, nav.clone(), Some("/".into()));
    // The same reads as GET /api/v1/requests/{id}, …/comments, …/history and …/assume.
    let stored = requests::get_visible(&s, &caller, &id).await.map_err(with_nav)?;
    let review = requests::current_review(&s, &stored).await.map_err(with_nav)?;
    let v = requests::view(&s, &id).await.map_err(with_nav)?;
    let comments = requests::comments(&s, &caller, &id).await.map_err(with_nav)?;
    let history = requests::history(&s, &caller, &id).await.map_err(with_nav)?;
    let roles = if stored.state == "active" {
        let a = requests::assume_instructions(&s, &caller, &id).await.map_err(with_nav)?;
        a["roles"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
                RoleView {
                    account_id: s("account_id"),
                    role_arn: s("role_arn"),
                    cli: s("cli"),
                    env: s("env"),
                    profile: s("profile"),
                    brokered: r["brokered"].as_bool().unwrap_or(false),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let policy = requests::active_policy(&s).await.map_err(with_nav)?;
    let rule = policy.tier_rule(&stored.tier);
    let decidable = stored.state == "pending" || (stored.state == "active" && stored.extension.is_some());
    let can_decide = decidable
        && caller.has(Role::Approver)
        && policy.may_approve(&caller.user, &stored.tier, &stored.accounts)
        && (stored.owner != caller.id() || rule.allow_self_approval);
    let can_cancel = (stored.owner == caller.id() || caller.has(Role::Admin))
        && matches!(stored.state.as_str(), "pending" | "needs_changes" | "approved" | "provisioning_failed");
    // What the latest revision changed against the one before (approvers see what was done
    // about their request for changes), from the stored revisions.
    let changes = match history["revisions"].as_array().map(Vec::as_slice) {
        Some([.., prev, last]) => diff_view(
            &prev["spec"]["policy"],
            &last["spec"]["policy"],
            &spec_options(&last["spec"], Some(stored.duration_ms)),
            format!("revision {}", prev["revision"].as_i64().unwrap_or(0)),
        ),
        _ => None,
    };
    let st = &v["status"];
    let text = |x: &Value| x.as_str().unwrap_or("").to_string();
    let hours = stored.duration_ms as f64 / 3_600_000.0;
    let page = DetailPage {
        title: format!("Request {id}"),
        id: id.clone(),
        owner: stored.owner.clone(),
        state: stored.state.clone(),
        reason: stored.state_reason.clone().unwrap_or_default(),
        version: stored.version,
        description: text(&stored.spec["description"]),
        access_type: text(&stored.spec["access_type"]),
        accounts: stored.accounts.join(", "),
        duration: if hours.fract() == 0.0 { format!("{hours:.0} h") } else { format!("{hours:.1} h") },
        created_at: text(&v["metadata"]["created_at"]),
        expires_at: text(&st["expires_at"]),
        policy: serde_json::to_string_pretty(&stored.spec["policy"]).unwrap_or_default(),
        score: score_view(&review, Some(i64::from(rule.quorum))),
        quorum_have: st["quorum"]["have"].as_i64().unwrap_or(0),
        quorum_required: st["quorum"]["required"].as_i64().unwrap_or(0),
        approvals: st["approvals"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| ApprovalView {
                approver: text(&a["approver"]),
                comment: text(&a["comment"]),
                at: text(&a["at"]),
                counts: a["counts"].as_bool().unwrap_or(false),
            })
            .collect(),
        comments: comments["comments"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| CommentView {
                author: text(&c["author"]),
                kind: text(&c["kind"]),
                body: text(&c["body"]),
                at: text(&c["created_at"]),
            })
            .collect(),
        events: history["events"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| EventView { at: text(&e["ts"]), actor: text(&e["actor"]), action: text(&e["action"]) })
            .collect(),
        roles,
        can_decide,
        approved_by_me: st["approvals"]
            .as_array()
            .into_iter()
            .flatten()
            // In this round (the revision, or the pending extension), as requests::approve checks.
            .any(|a| {
                a["approver"].as_str() == Some(caller.id())
                    && a["round"].as_str() == Some(requests::round_for(&stored).as_str())
            }),
        can_cancel,
        can_edit: stored.owner == caller.id() && matches!(stored.state.as_str(), "pending" | "needs_changes"),
        can_extend: stored.owner == caller.id()
            && stored.state == "active"
            && stored.extension.is_none()
            && stored.break_glass_reason.is_none(),
        extension: stored
            .extension
            .as_ref()
            .map(|e| (e["hours"].as_i64().unwrap_or(0), e["reason"].as_str().unwrap_or("").to_string())),
        can_review: stored.review_required
            && stored.reviewed_by.is_none()
            && caller.has(Role::Approver)
            && stored.owner != caller.id()
            && policy.may_approve(&caller.user, &stored.tier, &stored.accounts),
        break_glass: stored.break_glass_reason.clone().unwrap_or_default(),
        // Who may revoke, as requests::revoke decides it (which checks again).
        can_revoke: matches!(stored.state.as_str(), "active" | "provisioning_failed")
            && (stored.owner == caller.id()
                || caller.has(Role::Admin)
                || (caller.has(Role::Approver) && policy.may_approve(&caller.user, &stored.tier, &stored.accounts))),
        done: q.done.filter(|d| d.len() <= 40).unwrap_or_default(),
        changes,
        revision: stored.revision,
        nav,
    };
    Ok(html(StatusCode::OK, &page))
}

/// Run a decision form's action, then go back to the request (or show why it failed).
async fn decided(id: &str, what: &str, nav: Nav, r: ApiResult<Value>) -> PageResult {
    match r {
        Ok(_) => Ok(see_other(&format!("/requests/{id}?done={what}"))),
        Err(err) => Err(PageError::with(err, nav, Some(format!("/requests/{id}")))),
    }
}

async fn approve(State(s): State<AppState>, Path(id): Path<String>, req: Request) -> PageResult {
    let f = form_post(&s, req).await?;
    let comment = f.opt("comment");
    let r = async {
        api::check_comment(&comment)?;
        requests::approve(&s, &f.caller, &id, comment.clone(), f.version()?).await
    }
    .await;
    decided(&id, "approved", Nav::of(&f.caller), r).await
}

async fn reject(State(s): State<AppState>, Path(id): Path<String>, req: Request) -> PageResult {
    let f = form_post(&s, req).await?;
    let comment = f.opt("comment");
    let r = async {
        api::check_comment(&comment)?;
        requests::reject(&s, &f.caller, &id, comment.clone(), f.version()?).await
    }
    .await;
    decided(&id, "rejected", Nav::of(&f.caller), r).await
}

async fn request_changes(State(s): State<AppState>, Path(id): Path<String>, req: Request) -> PageResult {
    let f = form_post(&s, req).await?;
    let r = async {
        let comment = api::text("comment", f.get("comment"), 1, 4000, "say what should change (1-4000 characters)")?;
        requests::request_changes(&s, &f.caller, &id, comment, None, f.version()?).await
    }
    .await;
    decided(&id, "changes-requested", Nav::of(&f.caller), r).await
}

async fn comment(State(s): State<AppState>, Path(id): Path<String>, req: Request) -> PageResult {
    let f = form_post(&s, req).await?;
    let r = async {
        let body = api::text("body", f.get("body"), 1, 4000, "must be 1-4000 characters")?;
        requests::comment(&s, &f.caller, &id, body).await
    }
    .await;
    decided(&id, "commented", Nav::of(&f.caller), r).await
}

async fn cancel(State(s): State<AppState>, Path(id): Path<String>, req: Request) -> PageResult {
    let f = form_post(&s, req).await?;
    let reason = f.opt("reason");
    let r = async {
        api::check_comment(&reason)?;
        requests::cancel(&s, &f.caller, &id, reason.clone()).await
    }
    .await;
    decided(&id, "cancelled", Nav::of(&f.caller), r).await
}

async fn revoke(State(s): State<AppState>, Path(id): Path<String>, req: Request) -> PageResult {
    let f = form_post(&s, req).await?;
    let reason = f.opt("reason");
    let r = async {
        api::check_comment(&reason)?;
        requests::revoke(&s, &f.caller, &id, reason.clone()).await
    }
    .await;
    decided(&id, "revoked", Nav::of(&f.caller), r).await
}

/// `POST /requests/{id}/extend`: ask for more time (as `POST /api/v1/requests/{id}/extend`).
async fn extend(State(s): State<AppState>, Path(id): Path<String>, req: Request) -> PageResult {
    let f = form_post(&s, req).await?;
    let r = async {
        let hours = f.get("hours").trim().parse::<u32>().ok().filter(|h| (1..=8760).contains(h));
        let hours = hours.ok_or_else(|| ApiError::field("hours", "must be 1-8760"))?;
        let reason =
            api::text("reason", f.get("reason"), 10, 2000, "say why more time is needed (10-2000 characters)")?;
        requests::extend(&s, &f.caller, &id, hours, reason).await
    }
    .await;
    decided(&id, "extension-requested", Nav::of(&f.caller), r).await
}

/// `POST /requests/{id}/review`: the post-hoc review of a break-glass grant.
async fn review(State(s): State<AppState>, Path(id): Path<String>, req: Request) -> PageResult {
    let f = form_post(&s, req).await?;
    let r = async {
        let comment = api::text("comment", f.get("comment"), 1, 4000, "must be 1-4000 characters")?;
        requests::review(&s, &f.caller, &id, comment).await
    }
    .await;
    decided(&id, "reviewed", Nav::of(&f.caller), r).await
}

// ---------------------------------------------------------------------------------------------
// Admin: users, accounts (with the onboarding template), reports
// ---------------------------------------------------------------------------------------------

/// 403 page unless the caller is an admin.
fn require_admin(caller: &Caller) -> Result<Nav, PageError> {
    let nav = Nav::of(caller);
    caller.require(Role::Admin).map_err(|e| PageError::with(e, nav.clone(), None))?;
    Ok(nav)
}

struct UserRow {
    user_id: String,
    display_name: String,
    role: String,
    groups: String,
    status: String,
    /// Deleted users keep their history and cannot be changed (the API answers 409).
    deleted: bool,
    enabled: bool,
}

/// What the new-user form held (kept when it comes back with an error).
#[derive(Default)]
struct NewUserForm {
    user_id: String,
    role: String,
    groups: String,
    display_name: String,
}

#[derive(Template)]
#[template(path = "webui/admin_users.html")]
struct UsersPage {
    nav: Nav,
    title: String,
    users: Vec<UserRow>,
    done: String,
    /// The form an error belongs to: a user id, or `new` for the new-user form.
    error_for: String,
    errors: Vec<String>,
    new_user: NewUserForm,
}

#[derive(Deserialize, Default)]
struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

impl DoneQuery {
    fn text(self) -> String {
        self.done.filter(|d| d.len() <= 40).unwrap_or_default()
    }
}

async fn users_page(s: &AppState, nav: Nav) -> ApiResult<UsersPage> {
    // The same listing as GET /api/v1/users.
    let users = identity::list_users(&s.store)
        .await?
        .into_iter()
        .map(|u| UserRow {
            status: if u.deleted {
                "deleted"
            } else if u.enabled {
                "enabled"
            } else {
                "disabled"
            }
            .into(),
            deleted: u.deleted,
            enabled: u.enabled,
            user_id: u.user_id,
            display_name: u.display_name.unwrap_or_default(),
            role: u.role.as_str().into(),
            groups: u.groups.join(", "),
        })
        .collect();
    Ok(UsersPage {
        nav,
        title: "Users".into(),
        users,
        done: String::new(),
        error_for: String::new(),
        errors: Vec::new(),
        new_user: NewUserForm { role: "requester".into(), ..NewUserForm::default() },
    })
}

async fn admin_users(State(s): State<AppState>, Viewer(caller): Viewer, Query(q): Query<DoneQuery>) -> PageResult {
    let nav = require_admin(&caller)?;
    let mut page = users_page(&s, nav).await?;
    page.done = q.text();
    Ok(html(StatusCode::OK, &page))
}

/// Groups as a form field gives them: separated by commas or white space.
fn list_field(v: &str) -> Vec<String> {
    v.split(|c: char| c == ',' || c.is_whitespace()).filter(|g| !g.is_empty()).map(str::to_string).collect()
}

/// The role select as the API's `roles` (empty: the API says to give one).
fn roles_field(v: &str) -> Vec<String> {
    let v = v.trim();
    if v.is_empty() {
        Vec::new()
    } else {
        vec![v.to_string()]
    }
}

/// An admin form's failure: a client error comes back on the page next to its form (with the
/// API's status), anything else is the error page.
async fn users_form_failed(s: &AppState, nav: Nav, target: &str, e: ApiError) -> PageResult {
    if !e.status.is_client_error() {
        return Err(PageError::with(e, nav, Some("/admin/users".into())));
    }
    let mut page = users_page(s, nav).await?;
    page.error_for = target.to_string();
    page.errors = error_lines(&e);
    Ok(html(e.status, &page))
}

/// `POST /admin/users`: a new user, as `POST /api/v1/users` (`api::create_user`).
async fn admin_user_create(State(s): State<AppState>, req: Request) -> PageResult {
    let f = form_post(&s, req).await?;
    let nav = require_admin(&f.caller)?;
    let b = api::NewUser {
        user_id: f.get("user_id").trim().to_string(),
        roles: roles_field(f.get("role")),
        groups: list_field(f.get("groups")),
        display_name: f.opt("display_name"),
    };
    match api::create_user(&s, &f.caller, b).await {
        Ok(_) => Ok(see_other("/admin/users?done=created")),
        Err(e) => {
            if !e.status.is_client_error() {
                return Err(PageError::with(e, nav, Some("/admin/users".into())));
            }
            let mut page = users_page(&s, nav).await?;
            page.error_for = "new".into();
            page.errors = error_lines(&e);
            page.new_user = NewUserForm {
                user_id: f.get("user_id").to_string(),
                role: f.get("role").to_string(),
                groups: f.get("groups").to_string(),
                display_name: f.get("display_name").to_string(),
            };
            Ok(html(e.status, &page))
        }
    }
}

/// `POST /admin/users/update`: role, groups, enabled and display name of one user, as
/// `PATCH /api/v1/users/{user_id}` (`api::update_user`: the same checks, e.g. the last admin).
async fn admin_user_update(State(s): State<AppState>, req: Request) -> PageResult {
    let f = form_post(&s, req).await?;
    let nav = require_admin(&f.caller)?;
    let uid = f.get("user_id").trim().to_string();
    let r = async {
        let enabled = match f.get("enabled") {
            "true" => true,
            "false" => false,
            _ => return Err(ApiError::field("enabled", "must be true or false")),
        };
        let b = api::PatchUser {
            roles: Some(roles_field(f.get("role"))),
            enabled: Some(enabled),
            groups: Some(list_field(f.get("groups"))),
            display_name: f.opt("display_name"),
        };
        api::update_user(&s, &f.caller, &uid, b).await
    }
    .await;
    match r {
        Ok(_) => Ok(see_other("/admin/users?done=updated")),
        Err(e) => users_form_failed(&s, nav, &uid, e).await,
    }
}

struct GroupView {
    name: String,
    /// `user (role)`, with `disabled` for users who cannot act.
    members: Vec<String>,
    /// What the approval policy lets the group approve: `tiers … on accounts …`.
    approves: Vec<String>,
}

#[derive(Template)]
#[template(path = "webui/admin_groups.html")]
struct GroupsPage {
    nav: Nav,
    title: String,
    version: i64,
    groups: Vec<GroupView>,
    /// The policy names no approver group: every approver and admin approves everything.
    open: bool,
}

/// `GET /admin/groups`: each group with its members (from `GET /api/v1/users`) and where the
/// active approval policy (`GET /api/v1/approval-policy`) names it.
async fn admin_groups(State(s): State<AppState>, Viewer(caller): Viewer) -> PageResult {
    let nav = require_admin(&caller)?;
    let users = identity::list_users(&s.store).await.map_err(ApiError::from)?;
    let (version, policy) = crate::approval::active(&mut *s.store.pool.acquire().await.map_err(ApiError::from)?)
        .await
        .map_err(ApiError::from)?;
    let mut groups: BTreeMap<String, GroupView> = BTreeMap::new();
    fn entry<'a>(groups: &'a mut BTreeMap<String, GroupView>, name: &str) -> &'a mut GroupView {
        groups.entry(name.to_string()).or_insert_with(|| GroupView {
            name: name.to_string(),
            members: Vec::new(),
            approves: Vec::new(),
        })
    }
    for u in users.iter().filter(|u| !u.deleted) {
        for g in &u.groups {
            let state = if u.enabled { "" } else { ", disabled" };
            entry(&mut groups, g).members.push(format!("{} ({}{state})", u.user_id, u.role.as_str()));
        }
    }
    for g in &policy.approver_groups {
        entry(&mut groups, &g.group).approves.push(format!(
            "tiers {} on accounts {}",
            g.tiers.join(", "),
            g.accounts.join(", ")
        ));
    }
    let page = GroupsPage {
        nav,
        title: "Groups".into(),
        version,
        groups: groups.into_values().collect(),
        open: policy.approver_groups.is_empty(),
    };
    Ok(html(StatusCode::OK, &page))
}

struct TokenRow {
    hash: String,
    user_id: String,
    name: String,
    created_at: String,
    expires_at: String,
    last_used_at: String,
    status: String,
    active: bool,
}

/// A token just created: its secret, shown on this one page and never again.
struct CreatedToken {
    token: String,
    name: String,
    user_id: String,
}

#[derive(Template)]
#[template(path = "webui/admin_tokens.html")]
struct TokensPage {
    nav: Nav,
    title: String,
    tokens: Vec<TokenRow>,
    done: String,
    errors: Vec<String>,
    name: String,
    user_id: String,
    expires_in_days: String,
    created: Option<CreatedToken>,
}

async fn tokens_page(s: &AppState, caller: &Caller, nav: Nav) -> ApiResult<TokensPage> {
    // The same listing as GET /api/v1/tokens?user=* (all users' tokens; admins only).
    let tokens = api::list_tokens(s, caller, Some("*".into()))
        .await?
        .into_iter()
        .map(|t| TokenRow {
            active: t.revoked_at.is_none(),
            status: match (&t.revoked_at, &t.revoked_reason) {
                (Some(at), Some(why)) => format!("{why} {at}"),
                (Some(at), None) => format!("revoked {at}"),
                _ => "active".into(),
            },
            hash: t.hash,
            user_id: t.user_id,
            name: t.name,
            created_at: t.created_at,
            expires_at: t.expires_at.unwrap_or_else(|| "never".into()),
            last_used_at: t.last_used_at.unwrap_or_else(|| "never".into()),
        })
        .collect();
    Ok(TokensPage {
        nav,
        title: "API tokens".into(),
        tokens,
        done: String::new(),
        errors: Vec::new(),
        name: String::new(),
        user_id: caller.id().to_string(),
        expires_in_days: String::new(),
        created: None,
    })
}

async fn admin_tokens(State(s): State<AppState>, Viewer(caller): Viewer, Query(q): Query<DoneQuery>) -> PageResult {
    let nav = require_admin(&caller)?;
    let mut page = tokens_page(&s, &caller, nav).await?;
    page.done = q.text();
    Ok(html(StatusCode::OK, &page))
}

/// `POST /admin/tokens`: a new token, as `POST /api/v1/tokens` (`api::create_token`). The
/// answer is the page itself, the only place the secret is ever shown (not a redirect: the
/// secret is not stored to show it again).
async fn admin_token_create(State(s): State<AppState>, req: Request) -> PageResult {
    let f = form_post(&s, req).await?;
    let nav = require_admin(&f.caller)?;
    let r = async {
        let expires_in_days = f
            .opt("expires_in_days")
            .map(|d| d.parse::<u32>().map_err(|_| ApiError::field("expires_in_days", "must be 1-3650")))
            .transpose()?;
        let b = crate::schema::NewToken { name: f.get("name").to_string(), expires_in_days, user_id: f.opt("user_id") };
        api::create_token(&s, &f.caller, b).await
    }
    .await;
    let mut page = tokens_page(&s, &f.caller, nav.clone()).await?;
    match r {
        Ok(v) => {
            let text = |k: &str| v[k].as_str().unwrap_or("").to_string();
            page.created = Some(CreatedToken { token: text("token"), name: text("name"), user_id: text("user_id") });
            Ok(html(StatusCode::CREATED, &page))
        }
        Err(e) if e.status.is_client_error() => {
            page.errors = error_lines(&e);
            page.name = f.get("name").to_string();
            page.user_id = f.get("user_id").to_string();
            page.expires_in_days = f.get("expires_in_days").to_string();
            Ok(html(e.status, &page))
        }
        Err(e) => Err(PageError::with(e, nav, Some("/admin/tokens".into()))),
    }
}

/// `POST /admin/tokens/revoke`: as `DELETE /api/v1/tokens/{hash}` (`api::revoke_token`).
async fn admin_token_revoke(State(s): State<AppState>, req: Request) -> PageResult {
    let f = form_post(&s, req).await?;
    let nav = require_admin(&f.caller)?;
    match api::revoke_token(&s, &f.caller, f.get("hash").trim()).await {
        Ok(()) => Ok(see_other("/admin/tokens?done=revoked")),
        Err(e) => Err(PageError::with(e, nav, Some("/admin/tokens".into()))),
    }
}

struct VersionRow {
    version: i64,
    status: String,
    proposed_by: String,
    proposed_at: String,
    decided: String,
    /// A pending proposal: the page offers approve/reject, unless the viewer proposed it.
    pending: bool,
    mine: bool,
}

struct ShadowRow {
    at: String,
    request_id: String,
    would_approve: bool,
    reasons: String,
}

#[derive(Template)]
#[template(path = "webui/admin_policy.html")]
struct PolicyPage {
    nav: Nav,
    title: String,
    version: i64,
    policy: crate::approval::ApprovalPolicy,
    /// The tiers' rules, low to high.
    tiers: Vec<(String, crate::approval::TierRule)>,
    groups: Vec<crate::approval::ApproverGroup>,
    account_caps: Vec<(String, u32)>,
    versions: Vec<VersionRow>,
    shadow: Vec<ShadowRow>,
    /// The proposal textarea (the active policy's JSON, or what was posted).
    proposal: String,
    errors: Vec<String>,
    done: String,
}

/// Shadow-mode records shown: the newest of the last 30 days.
const SHADOW_ROWS: usize = 100;
const SHADOW_DAYS: i64 = 30;

async fn policy_page(s: &AppState, caller: &Caller, nav: Nav) -> ApiResult<PolicyPage> {
    // GET /api/v1/approval-policy and …/versions.
    let (version, policy) = crate::approval::active(&mut *s.store.pool.acquire().await?).await?;
    let versions = crate::approval::history(&s.store)
        .await?
        .into_iter()
        .map(|v| VersionRow {
            version: v.version,
            pending: v.status == "proposed",
            mine: v.proposed_by == caller.id(),
            status: v.status,
            proposed_by: v.proposed_by,
            proposed_at: v.proposed_at,
            decided: match (v.decided_by, v.decided_at) {
                (Some(by), Some(at)) => format!("{by}, {at}"),
                _ => String::new(),
            },
        })
        .collect();
    // The evaluator's shadow-mode verdicts, as GET /api/v1/reports/audit-log?action=… reads them.
    let filter = crate::audit::Filter {
        action_prefix: Some("auto_approval.shadow".into()),
        since_ms: Some(crate::util::now_ms() - SHADOW_DAYS * 86_400_000),
        // The newest records only: the page shows SHADOW_ROWS of them, whatever the volume.
        limit: SHADOW_ROWS as i64,
        newest_first: true,
        ..crate::audit::Filter::default()
    };
    let shadow = crate::audit::list(&s.store, &filter)
        .await?
        .into_iter()
        .filter(|r| r.action == "auto_approval.shadow")
        .map(|r| ShadowRow {
            at: r.ts,
            request_id: r.subject,
            would_approve: r.data["would_approve"].as_bool().unwrap_or(false),
            reasons: r.data["reasons"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("; "))
                .unwrap_or_default(),
        })
        .collect();
    Ok(PolicyPage {
        nav,
        title: "Approval policy".into(),
        version,
        tiers: crate::approval::TIERS.iter().map(|t| (t.to_string(), policy.tier_rule(t))).collect(),
        groups: policy.approver_groups.clone(),
        account_caps: policy.durations.accounts.iter().map(|(a, h)| (a.clone(), *h)).collect(),
        proposal: serde_json::to_string_pretty(&policy).unwrap_or_default(),
        policy,
        versions,
        shadow,
        errors: Vec::new(),
        done: String::new(),
    })
}

async fn admin_policy(State(s): State<AppState>, Viewer(caller): Viewer, Query(q): Query<DoneQuery>) -> PageResult {
    let nav = require_admin(&caller)?;
    let mut page = policy_page(&s, &caller, nav).await?;
    page.done = q.text();
    Ok(html(StatusCode::OK, &page))
}

/// The proposal textarea as the API's `PUT /api/v1/approval-policy` body reads it: JSON (400
/// there, shown here as the field's error), then the `ApprovalPolicy` shape (422 on `body`).
fn parse_proposal(text: &str) -> ApiResult<crate::approval::ApprovalPolicy> {
    let v: Value = risk_core::parse_json(text).map_err(|e| {
        let m = e.problems().first().map(|p| p.message.clone()).unwrap_or_else(|| "malformed JSON".into());
        ApiError::field("policy", format!("not valid JSON: {m}"))
    })?;
    if !v.is_object() {
        return Err(ApiError::field("policy", "must be a JSON object"));
    }
    serde_json::from_value(v).map_err(|e| ApiError::field("policy", e.to_string()))
}

/// `POST /admin/approval-policy`: propose a version, as `PUT /api/v1/approval-policy`
/// (`api::propose_policy`, which validates it); a second admin must approve it.
async fn admin_policy_propose(State(s): State<AppState>, req: Request) -> PageResult {
    let f = form_post(&s, req).await?;
    let nav = require_admin(&f.caller)?;
    let r = async {
        let policy = parse_proposal(f.get("policy"))?;
        api::propose_policy(&s, &f.caller, &policy).await
    }
    .await;
    match r {
        Ok(v) => Ok(see_other(&format!("/admin/approval-policy?done=proposed+version+{}", v.version))),
        Err(e) if e.status.is_client_error() => {
            let mut page = policy_page(&s, &f.caller, nav).await?;
            page.errors = error_lines(&e);
            page.proposal = f.get("policy").to_string();
            Ok(html(e.status, &page))
        }
        Err(e) => Err(PageError::with(e, nav, Some("/admin/approval-policy".into()))),
    }
}

/// Approve or reject a proposed version with `approval::decide`, as
/// `POST /api/v1/approval-policy/versions/{version}/approve|reject` (which refuses the proposer).
async fn policy_decision(s: &AppState, version: &str, req: Request, approve: bool) -> PageResult {
    let f = form_post(s, req).await?;
    let nav = require_admin(&f.caller)?;
    let back = Some("/admin/approval-policy".to_string());
    let version = version.parse::<i64>().map_err(|_| {
        PageError::with(ApiError::not_found("no such approval-policy version"), nav.clone(), back.clone())
    })?;
    match crate::approval::decide(&s.store, &f.caller.user, version, approve).await {
        Ok(v) => Ok(see_other(&format!("/admin/approval-policy?done={}+version+{}", v.status, v.version))),
        Err(e) => Err(PageError::with(e, nav, back)),
    }
}

async fn admin_policy_approve(State(s): State<AppState>, Path(v): Path<String>, req: Request) -> PageResult {
    policy_decision(&s, &v, req, true).await
}

async fn admin_policy_reject(State(s): State<AppState>, Path(v): Path<String>, req: Request) -> PageResult {
    policy_decision(&s, &v, req, false).await
}

struct HookRow {
    id: String,
    url: String,
    events: String,
    format: String,
    enabled: bool,
    created: String,
}

struct DeliveryRow {
    created_at: String,
    kind: String,
    target: String,
    event: String,
    status: String,
    attempts: i64,
    last_error: String,
    when: String,
}

#[derive(Template)]
#[template(path = "webui/admin_webhooks.html")]
struct WebhooksPage {
    nav: Nav,
    title: String,
    hooks: Vec<HookRow>,
    deliveries: Vec<DeliveryRow>,
}

/// Deliveries shown (the newest), as `GET /api/v1/webhooks/deliveries?limit=…`.
const DELIVERY_ROWS: i64 = 100;

/// `GET /admin/webhooks`: as `GET /api/v1/webhooks` and `GET /api/v1/webhooks/deliveries`.
async fn admin_webhooks(State(s): State<AppState>, Viewer(caller): Viewer) -> PageResult {
    let nav = require_admin(&caller)?;
    let hooks = crate::notify::list_webhooks(&s.store)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|h| HookRow {
            events: h.events.join(", "),
            created: format!("{}, {}", h.created_by, h.created_at),
            id: h.id,
            url: h.url,
            format: h.format,
            enabled: h.enabled,
        })
        .collect();
    let d = crate::notify::deliveries(&s.store, DELIVERY_ROWS).await.map_err(ApiError::from)?;
    let deliveries = d["deliveries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let t = |k: &str| d[k].as_str().unwrap_or("").to_string();
            let status = t("status");
            DeliveryRow {
                when: if status == "delivered" {
                    format!("delivered {}", t("delivered_at"))
                } else if status == "pending" {
                    format!("next attempt {}", t("next_attempt_at"))
                } else {
                    String::new()
                },
                created_at: t("created_at"),
                kind: t("kind"),
                target: t("target"),
                event: t("event"),
                attempts: d["attempts"].as_i64().unwrap_or(0),
                last_error: t("last_error"),
                status,
            }
        })
        .collect();
    Ok(html(StatusCode::OK, &WebhooksPage { nav, title: "Webhooks".into(), hooks, deliveries }))
}

struct AccountRow {
    account_id: String,
    alias: String,
    provisioner_role_arn: String,
    regions: String,
}

struct OnboardingView {
    account_id: String,
    external_id: String,
    registered: bool,
    warnings: Vec<String>,
    register: String,
    cloudformation: String,
    terraform: String,
}

#[derive(Template)]
#[template(path = "webui/admin_accounts.html")]
struct AccountsPage {
    nav: Nav,
    title: String,
    accounts: Vec<AccountRow>,
    account_id: String,
    error: Option<String>,
    onboarding: Option<OnboardingView>,
}

async fn accounts_page(s: &AppState, nav: Nav) -> ApiResult<AccountsPage> {
    let accounts = crate::accounts::list(&s.store)
        .await?
        .into_iter()
        .map(|a| AccountRow {
            account_id: a.account_id,
            alias: a.alias,
            provisioner_role_arn: a.provisioner_role_arn,
            regions: if a.regions.is_empty() { "any".into() } else { a.regions.join(", ") },
        })
        .collect();
    Ok(AccountsPage {
        nav,
        title: "Accounts".into(),
        accounts,
        account_id: String::new(),
        error: None,
        onboarding: None,
    })
}

async fn admin_accounts(State(s): State<AppState>, Viewer(caller): Viewer) -> PageResult {
    let nav = require_admin(&caller)?;
    Ok(html(StatusCode::OK, &accounts_page(&s, nav).await?))
}

/// `POST /admin/accounts/onboarding`: the destination account's templates, from the same
/// function as `POST /api/v1/accounts/onboarding/preview` (it assigns the ExternalId and is
/// audited, hence a form post).
async fn admin_onboarding(State(s): State<AppState>, req: Request) -> PageResult {
    let f = form_post(&s, req).await?;
    let nav = require_admin(&f.caller)?;
    let mut page = accounts_page(&s, nav).await?;
    let id = f.get("account_id").trim().to_string();
    page.account_id = id.clone();
    if !(id.len() == 12 && id.bytes().all(|c| c.is_ascii_digit())) {
        page.error = Some(format!("the account id must be 12 digits, not `{id}`"));
        return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    match crate::accounts::onboarding_preview(&s, f.caller.id(), &id, None).await {
        Ok(v) => {
            let text = |k: &str| v[k].as_str().unwrap_or("").to_string();
            page.onboarding = Some(OnboardingView {
                account_id: id,
                external_id: text("external_id"),
                registered: v["registered"].as_bool().unwrap_or(false),
                warnings: v["warnings"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|w| w.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
                register: serde_json::to_string_pretty(&v["register"]).unwrap_or_default(),
                cloudformation: text("cloudformation"),
                terraform: text("terraform"),
            });
            Ok(html(StatusCode::OK, &page))
        }
        Err(e) => {
            page.error = Some(e.detail.clone());
            Ok(html(e.status, &page))
        }
    }
}

#[derive(Template)]
#[template(path = "webui/admin_reports.html")]
struct ReportsPage {
    nav: Nav,
    title: String,
    reports: Vec<(&'static str, &'static str)>,
}

async fn admin_reports(Viewer(caller): Viewer) -> PageResult {
    let nav = require_admin(&caller)?;
    // The downloads are the API's own report routes: a GET with the session cookie.
    let reports = vec![
        ("grants", "Grants: every request with its state, score, approvers and times"),
        ("activity", "Activity: the audit records, by actor"),
        ("approvals", "Approvals: who decided what, and how fast"),
        ("risk-distribution", "Risk distribution: requests per tier and score"),
        ("users", "Users: roles, requests and approvals per user"),
    ];
    Ok(html(StatusCode::OK, &ReportsPage { nav, title: "Reports".into(), reports }))
}

// ---------------------------------------------------------------------------------------------
// Editing a pending or needs-changes request
// ---------------------------------------------------------------------------------------------

/// The edit form, filled from the stored spec (the owner's, while pending or needs changes).
async fn edit_page(State(s): State<AppState>, Viewer(caller): Viewer, Path(id): Path<String>) -> PageResult {
    let nav = Nav::of(&caller);
    let stored =
        requests::get_visible(&s, &caller, &id).await.map_err(|e| PageError::with(e, nav.clone(), Some("/".into())))?;
    let back = Some(format!("/requests/{id}"));
    if stored.owner != caller.id() {
        return Err(PageError::with(ApiError::forbidden("only the requester can edit a request"), nav, back));
    }
    if !matches!(stored.state.as_str(), "pending" | "needs_changes") {
        return Err(PageError::with(
            ApiError::conflict(format!("a {} request cannot be edited", stored.state)),
            nav,
            back,
        ));
    }
    let spec = &stored.spec;
    let hours = spec["duration"]["duration_hours"]
        .as_u64()
        .unwrap_or_else(|| (stored.duration_ms as u64).div_ceil(3_600_000).max(1));
    let page = NewPage::editor(
        &s,
        nav,
        format!("Edit request {id}"),
        format!("/requests/{id}/edit"),
        Some(stored.version),
        EditorFields {
            description: spec["description"].as_str().unwrap_or("").to_string(),
            accounts: stored.accounts.join(", "),
            duration_hours: hours.to_string(),
            access_type: spec["access_type"].as_str().unwrap_or("read-only").to_string(),
            policy: serde_json::to_string_pretty(&spec["policy"]).unwrap_or_default(),
        },
        Some((&spec["policy"], stored.revision)),
    );
    Ok(html(StatusCode::OK, &page))
}

/// The edited body: the stored spec with the form's fields over it, so what the form does
/// not show (regions and aliases of accounts kept, ticket URL, tags, `assume_by`, …) stays.
fn merge_spec(stored: &Value, form_body: &Value) -> Value {
    let mut spec = stored.clone();
    let new = &form_body["spec"];
    if let Some(o) = spec.as_object_mut() {
        for k in ["description", "access_type", "duration", "policy"] {
            o.insert(k.into(), new[k].clone());
        }
        let old_accounts = stored["accounts"].as_array().cloned().unwrap_or_default();
        let accounts: Vec<Value> = new["accounts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                old_accounts.iter().find(|o| o["account_id"] == a["account_id"]).cloned().unwrap_or_else(|| a.clone())
            })
            .collect();
        o.insert("accounts".into(), Value::Array(accounts));
    }
    let mut body = form_body.clone();
    body["spec"] = spec;
    body
}

/// `POST /requests/{id}/edit`: `action=preview` scores the edited form; otherwise
/// `requests::edit` (as `PATCH /api/v1/requests/{id}`) stores a new revision.
async fn edit_submit(State(s): State<AppState>, Path(id): Path<String>, req: Request) -> PageResult {
    let f = form_post(&s, req).await?;
    let nav = Nav::of(&f.caller);
    let back = Some(format!("/requests/{id}"));
    let stored =
        requests::get_visible(&s, &f.caller, &id).await.map_err(|e| PageError::with(e, nav.clone(), back.clone()))?;
    let version = f.version().map_err(|e| PageError::with(e, nav.clone(), back.clone()))?;
    let mut page = NewPage::editor(
        &s,
        nav,
        format!("Edit request {id}"),
        format!("/requests/{id}/edit"),
        version,
        EditorFields::of_form(&f),
        Some((&stored.spec["policy"], stored.revision)),
    );
    let body = match request_body(&f) {
        Ok(b) => merge_spec(&stored.spec, &b),
        Err(e) => {
            page.errors = error_lines(&e);
            return Ok(html(StatusCode::UNPROCESSABLE_ENTITY, &page));
        }
    };
    if f.get("action") == "preview" {
        return Ok(match requests::preview(&s, &f.caller, &body).await {
            Ok(v) => {
                page.preview = Some(score_view(&v["review"], v["would"]["quorum"].as_i64()));
                page.diff = diff_view(
                    &stored.spec["policy"],
                    &body["spec"]["policy"],
                    &spec_options(&body["spec"], None),
                    format!("revision {}", stored.revision),
                );
                html(StatusCode::OK, &page)
            }
            Err(e) => {
                page.errors = error_lines(&e);
                html(e.status, &page)
            }
        });
    }
    let mut body = body;
    if let Some(v) = version {
        body["version"] = json!(v);
    }
    match requests::edit(&s, &f.caller, &id, &body).await {
        Ok(_) => Ok(see_other(&format!("/requests/{id}?done=edited"))),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            page.errors = error_lines(&e);
            Ok(html(e.status, &page))
        }
        Err(e) => Err(PageError::with(e, page.nav, back)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_keeps_what_the_form_does_not_show() {
        let stored = json!({
            "description": "old", "access_type": "read-only", "ticket_url": "https://t/1",
            "accounts": [{"account_id": "111122223333", "regions": ["eu-west-1"], "alias": "logs"}],
            "duration": {"duration_hours": 1}, "policy": {"Version": "2012-10-17"},
        });
        let form = json!({"kind": "RoleRequest", "spec": {
            "description": "new", "access_type": "read-write",
            "accounts": [{"account_id": "111122223333"}, {"account_id": "444455556666"}],
            "duration": {"duration_hours": 3}, "policy": {"Statement": []},
        }});
        let b = merge_spec(&stored, &form);
        assert_eq!(b["kind"], "RoleRequest");
        assert_eq!(b["spec"]["description"], "new");
        assert_eq!(b["spec"]["access_type"], "read-write");
        assert_eq!(b["spec"]["ticket_url"], "https://t/1");
        assert_eq!(b["spec"]["duration"], json!({"duration_hours": 3}));
        assert_eq!(b["spec"]["policy"], json!({"Statement": []}));
        assert_eq!(
            b["spec"]["accounts"],
            json!([
                {"account_id": "111122223333", "regions": ["eu-west-1"], "alias": "logs"},
                {"account_id": "444455556666"}
            ])
        );
    }
}
