//! `scorer-api`: the iam-risk-score HTTP scoring API. [`app`] builds the whole router from an
//! [`AppState`], so tests drive it directly; `main.rs` only adds configuration, logging, the
//! listener and graceful shutdown.
//!
//! Every route answers JSON (errors in one shape, see [`error`]); `/api/*` routes sit behind
//! optional bearer keys and a per-client token bucket; every request gets an id, a log line
//! and metrics.
//!
//! Layout: this file holds the shared state and assembles the router; `middleware.rs` wraps
//! every route; [`handlers`] has one file per endpoint family, answering through the shared
//! JSON helpers in `respond.rs`.

pub mod config;
pub mod docs;
pub mod error;
pub mod handlers;
pub mod metrics;
mod middleware;
pub mod ratelimit;
pub mod request;
mod respond;
pub mod schema;

use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use error::AppError;
use handlers::fallback::fallback;
use middleware::{cors_layer, guard, observe, timeout};
use ratelimit::RateLimiter;
use risk_narrative::Narrator;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

pub use config::Config;
// The handlers and the request-id header stay reachable where they were before the handlers
// moved into their own files.
pub use handlers::authoring::{from_cloudtrail, narrow, write_policy};
pub use handlers::diff::diff;
pub use handlers::intake;
pub use handlers::operations::{docs_page, healthz, metrics_text, openapi_json, readyz};
pub use handlers::rules::{catalog, rule, rules};
pub use handlers::scan::scan;
pub use handlers::score::{batch, score};
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
        .route("/api/v1/scan", post(scan))
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
