//! `scorer-api`: the iam-risk-score HTTP scoring API. [`app`] builds the whole router from an
//! [`AppState`], so tests drive it directly; `main.rs` only adds configuration, logging, the
//! listener and graceful shutdown.
//!
//! Every route answers JSON (errors in one shape, see [`error`]); `/api/*` routes sit behind
//! optional bearer keys and a per-client token bucket; every request gets an id, a log line
//! and metrics.

pub mod config;
pub mod docs;
pub mod error;
pub mod intake;
pub mod metrics;
mod middleware;
pub mod ratelimit;
pub mod request;
mod respond;
pub mod schema;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use error::{policy_error, AppError};
use middleware::{cors_layer, guard, observe, timeout};
use ratelimit::RateLimiter;
use request::{EventsBody, JsonBody, ScoreInput};
use respond::{blocking, json, json_bytes, unprocessable};
use risk_core::Report;
use risk_narrative::{Fallback, Narration, Narrator};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tower::ServiceExt;

pub use config::Config;
pub use middleware::REQUEST_ID;

/// Shared state: configuration, keys, limiter, metrics, the optional narrator.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    /// SHA-256 of each accepted key: compared in constant time, and equal length whatever
    /// the key, so the comparison leaks neither content nor length.
    key_hashes: Vec<[u8; 32]>,
    limiter: Option<RateLimiter>,
    /// `config.events_concurrency` permits: one per `from-cloudtrail` request being read or
    /// processed (taken before the body is read, released when the work ends).
    events_permits: Arc<tokio::sync::Semaphore>,
    pub metrics: Arc<metrics::Metrics>,
    pub narrator: Option<Arc<Narrator>>,
    shutting_down: AtomicBool,
    openapi_json: axum::body::Bytes,
    docs_html: axum::body::Bytes,
    rules_json: axum::body::Bytes,
    id_prefix: u32,
    id_counter: AtomicU64,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(config: Config) -> Self {
        let metrics = Arc::new(metrics::Metrics::new());
        let narrator = config.llm.clone().map(|c| {
            let observer: Arc<dyn risk_narrative::Observer> = metrics.clone();
            Arc::new(Narrator::with_observer(c, observer))
        });
        let doc = docs::openapi();
        let openapi_json = serde_json::to_vec_pretty(&doc).unwrap_or_default().into();
        let docs_html = docs::html(&doc).into();
        let rules_json = serde_json::to_vec(&risk_core::explain::rule_docs()).unwrap_or_default().into();
        // A per-process prefix keeps ids from different instances apart in shared logs.
        let id_prefix = {
            let mut h = Sha256::new();
            h.update(std::process::id().to_le_bytes());
            h.update(format!("{:?}", std::time::SystemTime::now()).as_bytes());
            let d = h.finalize();
            u32::from_le_bytes([d[0], d[1], d[2], d[3]])
        };
        AppState(Arc::new(Inner {
            key_hashes: config.api_keys.iter().map(|k| Sha256::digest(k.as_bytes()).into()).collect(),
            limiter: RateLimiter::new(config.rate_per_minute, config.rate_burst, config.rate_max_clients),
            events_permits: Arc::new(tokio::sync::Semaphore::new(config.events_concurrency)),
            metrics,
            narrator,
            shutting_down: AtomicBool::new(false),
            openapi_json,
            docs_html,
            rules_json,
            id_prefix,
            id_counter: AtomicU64::new(0),
            config,
        }))
    }

    /// Mark the server as draining: `/readyz` answers 503 from now on.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// A permit to read and process one `from-cloudtrail` body (see [`Config::events_concurrency`]).
    /// Waiting is bounded by the request timeout around every handler; a closed semaphore
    /// (never, in practice) is a 503.
    pub(crate) async fn events_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
        self.events_permits.clone().acquire_owned().await.map_err(|_| AppError::Unavailable)
    }

    fn next_request_id(&self) -> String {
        let n = self.id_counter.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}-{n:010x}", self.id_prefix)
    }
}

/// The whole API as a router (state included).
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/score", post(score))
        .route("/api/v1/score/batch", post(batch))
        .route("/api/v1/diff", post(diff))
        // Authoring: a policy written from a template or from CloudTrail activity, or an
        // existing one narrowed to a task, scored.
        .route("/api/v1/policy/write", post(write_policy))
        .route("/api/v1/policy/from-cloudtrail", post(from_cloudtrail))
        .route("/api/v1/policy/narrow", post(narrow))
        .route("/api/v1/intake/turn", post(intake::turn))
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/rules/{code}", get(rule))
        .route("/api/v1/catalog", get(catalog))
        .route_layer(from_fn_with_state(state.clone(), guard));
    let open = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs_page));
    let cors = cors_layer(&state.config.cors_origins);
    api.merge(open)
        .fallback(fallback)
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(from_fn_with_state(state.clone(), timeout))
        .layer(tower::util::option_layer(cors))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_panic: Box<dyn std::any::Any + Send>| {
            tracing::error!("handler panicked (a bug); answered 500");
            AppError::Internal.into_response()
        }))
        .layer(from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

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

/// What a policy change adds: score delta, newly granted actions, new findings.
#[utoipa::path(
    post,
    path = "/api/v1/diff",
    tag = "score",
    request_body = schema::DiffRequest,
    responses(
        (status = 200, description = "The comparison", body = schema::PolicyDiff),
        (status = 400, description = "Malformed JSON or a policy that cannot be analysed (paths start with `old` or `new`)", body = error::ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = error::ErrorBody),
        (status = 413, description = "Body larger than the limit", body = error::ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = error::ErrorBody),
        (status = 422, description = "Invalid request fields", body = error::ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = error::ErrorBody),
        (status = 503, description = "Timed out or shutting down", body = error::ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn diff(State(_s): State<AppState>, JsonBody(body, _): JsonBody) -> Result<Response, AppError> {
    let input = request::diff_input(body)?;
    let d = tokio::task::spawn_blocking(move || risk_core::diff::diff_values(&input.old, &input.new, &input.options))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "diff task failed");
            AppError::Internal
        })?
        .map_err(|e| match &e {
            risk_core::diff::DiffError::Old(p) => policy_error(p, "old"),
            risk_core::diff::DiffError::New(p) => policy_error(p, "new"),
        })?;
    json(&d)
}

/// Write a least-privilege policy from a template, and score it.
///
/// The body is a writer template: policy_sentry's CRUD template as JSON (`read`, `write`,
/// `list`, `tagging`, `permissions-management` ARNs; `wildcard-only`, `skip-resource-constraints`,
/// `exclude-actions`, `sts`, `mode: actions`; docs/authoring.md). Each ARN gets the actions of its
/// access level that act on its resource type. The answer is `iam-risk-score write-policy
/// --format json`: `{"policy", "report"}`, plus `"warnings"` when the writer has any. A template
/// the writer refuses (an unknown key, an ARN that matches no resource type of its service, an
/// unknown action) is a 422 with the writer's message.
#[utoipa::path(
    post,
    path = "/api/v1/policy/write",
    tag = "authoring",
    request_body = schema::PolicyTemplate,
    responses(
        (status = 200, description = "The written policy and its v1 report", body = schema::WrittenPolicy),
        (status = 400, description = "Malformed JSON", body = error::ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = error::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"iam-risk-score\"`"))),
        (status = 413, description = "Body larger than the limit", body = error::ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = error::ErrorBody),
        (status = 422, description = "A template the writer refuses, with its message", body = error::ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = error::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until a request is allowed"))),
        (status = 503, description = "Timed out or shutting down", body = error::ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn write_policy(State(s): State<AppState>, JsonBody(body, _): JsonBody) -> Result<Response, AppError> {
    let written = blocking("write", move || risk_core::answers::write_policy_value(&body))
        .await?
        .map_err(|e| unprocessable(String::new(), e.message().to_string()))?;
    s.metrics.scores.observe(f64::from(written.report.score));
    json(&risk_core::answers::WrittenAnswer::from(&written))
}

/// Narrow an existing policy to what a task touches, and score it before and after.
///
/// The body holds the policy and what the task touches: `resources` (ARNs; `"Resource": "*"`
/// becomes them, per resource type of each action), optionally `access_levels` (`read`,
/// `write`, `list`, `tagging`, `permissions-management`) and `used_actions` (action names, or a
/// policy whose Allow statements list them, or `{"policy": …}` as `/api/v1/policy/from-cloudtrail`
/// answers). Nothing is ever added; Deny statements, conditions and principals are kept
/// (docs/authoring.md#narrowing). The answer is `iam-risk-score narrow POLICY --format json`:
/// `{"policy", "before", "after", "diff", "questions", "changes"}`. A policy, ARN, access level or
/// used-actions value the core cannot use is a 422 with its message.
#[utoipa::path(
    post,
    path = "/api/v1/policy/narrow",
    tag = "authoring",
    request_body = schema::NarrowRequest,
    responses(
        (status = 200, description = "The narrowed policy, both reports, their diff, questions and changes", body = schema::NarrowedPolicy),
        (status = 400, description = "Malformed JSON", body = error::ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = error::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"iam-risk-score\"`"))),
        (status = 413, description = "Body larger than the limit", body = error::ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = error::ErrorBody),
        (status = 422, description = "A field of the wrong shape, or a policy, ARN, access level or used action the core refuses, with its message", body = error::ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = error::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until a request is allowed"))),
        (status = 503, description = "Timed out or shutting down", body = error::ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn narrow(State(s): State<AppState>, JsonBody(body, _): JsonBody) -> Result<Response, AppError> {
    let input = request::narrow_input(body)?;
    let narrowed = blocking("narrow", move || {
        risk_core::answers::narrow_value(
            &input.policy,
            input.resources,
            &input.access_levels,
            input.used_actions.as_ref(),
        )
    })
    .await?
    .map_err(|e| unprocessable(String::new(), e.message().to_string()))?;
    s.metrics.scores.observe(f64::from(narrowed.after.score));
    json(&risk_core::answers::NarrowedAnswer::from(&narrowed))
}

/// `?include_denied=true|false`; anything else is a 422 naming the parameter.
fn include_denied(query: Option<&str>) -> Result<bool, AppError> {
    let mut out = None;
    let shown = |s: &str| s.chars().take(40).collect::<String>();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        // A misspelt option (`include-denied`) must not silently give the other answer.
        if k != "include_denied" {
            return Err(unprocessable(
                shown(k),
                format!("unknown query parameter `{}`: this route takes only `include_denied`", shown(k)),
            ));
        }
        if out.is_some() {
            return Err(unprocessable("include_denied".into(), "given more than once".into()));
        }
        out = Some(match v {
            "true" => true,
            "false" => false,
            _ => {
                return Err(unprocessable(
                    "include_denied".into(),
                    format!("must be `true` or `false`, got `{}`", shown(v)),
                ))
            }
        });
    }
    Ok(out.unwrap_or(false))
}

/// Build a least-privilege policy from CloudTrail records, and score it.
///
/// The body is CloudTrail as AWS gives it: an S3 log file (`{"Records": [...]}`, decompressed),
/// `aws cloudtrail lookup-events` output (`{"Events": [...]}`) or an array of records. Each
/// record's event becomes an IAM action through the catalog and one table of exceptions
/// (docs/authoring-cloudtrail.md); events that map to nothing are listed in `unknown`, never
/// guessed. The answer is `iam-risk-score from-cloudtrail FILE --format json`. This route has its
/// own body limit, `events_body_limit_bytes` (default 32 MiB), since log files are far larger
/// than policies.
#[utoipa::path(
    post,
    path = "/api/v1/policy/from-cloudtrail",
    tag = "authoring",
    params(("include_denied" = Option<bool>, Query,
        description = "Also grant what access-denied records attempted (they are listed in `denied` either way)")),
    request_body = schema::CloudTrailEvents,
    responses(
        (status = 200, description = "The policy built, its v1 report, and what it does not cover", body = schema::FromActivity),
        (status = 400, description = "Malformed JSON", body = error::ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = error::ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"iam-risk-score\"`"))),
        (status = 413, description = "Body larger than `events_body_limit_bytes`", body = error::ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = error::ErrorBody),
        (status = 422, description = "Not CloudTrail, an unusable record, a bad or repeated `include_denied`, or another query parameter", body = error::ErrorBody),
        (status = 429, description = "Rate limit exceeded", body = error::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until a request is allowed"))),
        (status = 503, description = "Timed out or shutting down", body = error::ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn from_cloudtrail(
    State(s): State<AppState>,
    uri: axum::http::Uri,
    EventsBody(bytes, permit): EventsBody,
) -> Result<Response, AppError> {
    use risk_core::cloudtrail::{policy_from_cloudtrail_with, CloudTrailError, CloudTrailOptions};
    let options = CloudTrailOptions { include_denied: include_denied(uri.query())? };
    let built = blocking("from-cloudtrail", move || {
        // Held until the work ends, even if the request timed out meanwhile.
        let _permit = permit;
        let value = request::parse_body(&bytes)?;
        policy_from_cloudtrail_with(&value, &options).map_err(|e| match e {
            CloudTrailError::Record { path, message } => unprocessable(path, message),
            CloudTrailError::Score(e) => {
                tracing::error!(error = %e, "the policy built from CloudTrail cannot be scored (a bug)");
                AppError::Internal
            }
            other => unprocessable(String::new(), other.to_string()),
        })
    })
    .await??;
    s.metrics.scores.observe(f64::from(built.report.score));
    json(&built)
}

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

const NO_PLAYGROUND: &str =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>iam-risk-score API</title></head>\
<body><h1>iam-risk-score API</h1><p>The browser playground is not built on this server. \
See <a href=\"/docs\">the API reference</a> or <a href=\"/openapi.json\">openapi.json</a>.</p></body></html>\n";

/// Static files of the playground; JSON 404 for anything else.
async fn fallback(State(s): State<AppState>, req: Request) -> Response {
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
