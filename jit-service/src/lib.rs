//! iam-jit: a self-hosted just-in-time AWS access service.
//!
//! Requests (the predecessor's `RoleRequest`) are scored by `risk-core`, decided by people
//! (N-of-M quorum per risk tier, approver groups scoped by account and tier, no
//! self-approval unless a tier opts in) or an opt-in evaluator, provisioned through a
//! [`provision::Provisioner`], ended exactly once at expiry, and every change is appended to
//! a hash-chained audit log kept in the database. SQLite is embedded by default; PostgreSQL
//! serves several replicas of one deployment. See `docs/jit.md` and `ARCHITECTURE.md`.

pub mod accounts;
pub mod api;
pub mod approval;
pub mod audit;
pub mod aws;
pub mod awsauth;
pub mod client;
pub mod config;
pub mod db;
pub mod docs;
pub mod error;
pub mod identity;
pub mod jobs;
pub mod mcp;
pub mod notify;
pub mod onboarding;
pub mod provision;
pub mod reports;
pub mod requests;
pub mod schema;
pub mod util;
pub mod webui;
pub mod worker;

pub use config::Config;
pub use util::now_ms;

use risk_narrative::Narrator;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The hub role `--dev` records in trust policies when none is configured (the recording
/// provisioner makes no AWS call, so no real account is named).
pub const DEV_HUB_ROLE_ARN: &str = "arn:aws:iam::000000000000:role/iam-jit-hub-dev";

/// Shared state of one `iam-jit serve` process.
#[derive(Clone)]
pub struct AppState {
    pub store: db::Store,
    pub config: Arc<Config>,
    pub provisioner: Arc<dyn provision::Provisioner>,
    pub narrator: Option<Arc<Narrator>>,
    pub metrics: Arc<api::Metrics>,
    pub limiter: Option<Arc<scorer_api::ratelimit::RateLimiter>>,
    pub shutting_down: Arc<AtomicBool>,
    pub clock: Arc<util::Clock>,
    /// Names this process as the holder of job leases.
    pub replica_id: Arc<str>,
    /// The engine's browser build the web UI serves, when `webui_wasm_dir` is configured.
    pub webui_wasm: Option<Arc<webui::WasmAssets>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("store", &self.store).field("provisioner", &self.provisioner.name()).finish()
    }
}

impl AppState {
    /// Connect to the database (migrating it), bootstrap the approval policy from the
    /// configuration when the database has none, and pick the provisioner.
    pub async fn new(mut config: Config) -> anyhow::Result<AppState> {
        if config.provisioner == "auto" {
            config.provisioner = if config.dev { "recording" } else { "aws" }.into();
        }
        if config.dev && config.hub_role_arn.is_none() {
            config.hub_role_arn = Some(DEV_HUB_ROLE_ARN.into());
        }
        if config.sts_url.is_none() {
            config.sts_url = Some(config::default_sts_url(|k| std::env::var(k).ok()));
        }
        if config.public_url.is_empty() {
            config.public_url = format!("http://{}", config.listen);
        }
        config.validate()?;
        let store = db::Store::connect(&config.database).await?;
        if let Some(policy) = &config.approval_policy {
            let (version, _) = approval::active(&mut *store.pool.acquire().await?).await?;
            if version == 0 {
                let mut w = store.write().await?;
                approval::propose(&mut w, "system:config", policy, true).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                w.commit().await?;
            }
        }
        let provisioner: Arc<dyn provision::Provisioner> = match config.provisioner.as_str() {
            "recording" => Arc::new(provision::RecordingProvisioner { store: store.clone() }),
            "aws" => Arc::new(aws::AwsProvisioner::new(aws::sdk_config(None, 5).await, store.clone())),
            _ => Arc::new(provision::Unconfigured),
        };
        let narrator = risk_narrative::Config::from_env(|k| std::env::var(k).ok())
            .map_err(|e| anyhow::anyhow!("narrative configuration: {e}"))?
            .map(|c| Arc::new(Narrator::new(c)));
        let webui_wasm = match &config.webui_wasm_dir {
            Some(dir) => Some(Arc::new(webui::WasmAssets::load(std::path::Path::new(dir))?)),
            None => None,
        };
        let limiter =
            scorer_api::ratelimit::RateLimiter::new(config.rate_limit_per_minute, config.rate_limit_burst, 100_000)
                .map(Arc::new);
        Ok(AppState {
            store,
            config: Arc::new(config),
            provisioner,
            narrator,
            metrics: Arc::new(api::Metrics::new()),
            limiter,
            shutting_down: Arc::new(AtomicBool::new(false)),
            clock: Arc::new(util::Clock::default()),
            replica_id: Arc::from(format!("{}-{}", std::process::id(), util::hex(&util::random_bytes(6)))),
            webui_wasm,
        })
    }

    /// Now, by the service's clock (milliseconds since the epoch).
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The audit checkpoint key, if configured.
    pub fn audit_key(&self) -> Option<&[u8]> {
        self.config.audit_key.as_deref().map(str::as_bytes)
    }
}
