//! The model client: an OpenAI-compatible chat-completions endpoint through `async-openai`,
//! with a timeout, a cap on concurrent calls, a TTL+LRU cache and a deterministic fallback.

use crate::{parse_answer, Answer, CacheKey, Fallback, Invalid, Narration, Source, TtlLru};
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessageArgs, ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequestArgs,
    ResponseFormat, ResponseFormatJsonSchema,
};
use risk_core::{Report, ScoreOptions};
use serde::Deserialize;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How the answer format is requested from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormatKind {
    /// `response_format: {type: json_schema, …}` (OpenAI structured outputs; the default).
    JsonSchema,
    /// `response_format: {type: json_object}` for servers without JSON-schema support.
    JsonObject,
    /// No `response_format`; the prompt alone asks for JSON.
    None,
}

impl ResponseFormatKind {
    fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "json_schema" => Some(Self::JsonSchema),
            "json_object" => Some(Self::JsonObject),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// A configured model. Build one with [`Config::new`] or from settings/environment with
/// [`Config::from_env`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL of the OpenAI-compatible API, up to and including `/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    /// Whole-call budget: waiting for a free slot, the request and the answer.
    pub timeout: Duration,
    /// Most model calls in flight at once (per process).
    pub max_concurrency: usize,
    /// Cached narratives (0 disables the cache).
    pub cache_capacity: usize,
    pub cache_ttl: Duration,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    pub response_format: ResponseFormatKind,
}

/// Environment variables read by [`Config::from_env`] (the scoring API and the CLI share them).
pub const ENV_VARS: &[(&str, &str)] = &[
    ("IAM_RISK_SCORE_LLM_MODEL", "model name; setting it turns the narrative on"),
    ("IAM_RISK_SCORE_LLM_BASE_URL", "OpenAI-compatible base URL (default https://api.openai.com/v1)"),
    ("IAM_RISK_SCORE_LLM_API_KEY", "bearer key for the model endpoint"),
    ("IAM_RISK_SCORE_LLM_TIMEOUT_MS", "whole-call timeout in milliseconds (default 10000)"),
    ("IAM_RISK_SCORE_LLM_MAX_CONCURRENCY", "most concurrent model calls (default 4)"),
    ("IAM_RISK_SCORE_LLM_CACHE_SIZE", "cached narratives (default 1024, 0 = off)"),
    ("IAM_RISK_SCORE_LLM_CACHE_TTL_SECS", "cache time-to-live in seconds (default 3600)"),
    ("IAM_RISK_SCORE_LLM_MAX_TOKENS", "answer token budget (default 400)"),
    ("IAM_RISK_SCORE_LLM_TEMPERATURE", "sampling temperature (default: the server's)"),
    ("IAM_RISK_SCORE_LLM_RESPONSE_FORMAT", "json_schema (default), json_object or none"),
];

impl Config {
    /// Defaults for `model` at `base_url`.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Config {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            timeout: Duration::from_secs(10),
            max_concurrency: 4,
            cache_capacity: 1024,
            cache_ttl: Duration::from_secs(3600),
            max_tokens: 400,
            temperature: None,
            response_format: ResponseFormatKind::JsonSchema,
        }
    }

    /// Read the `IAM_RISK_SCORE_LLM_*` variables through `get` (e.g. `std::env::var(k).ok()`,
    /// or a lookup that falls back to a config file). `Ok(None)` when no model is named: the
    /// narrative stays off. Errors name the variable and the bad value.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let get = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let Some(model) = get("IAM_RISK_SCORE_LLM_MODEL") else { return Ok(None) };
        let base = get("IAM_RISK_SCORE_LLM_BASE_URL").unwrap_or_else(|| "https://api.openai.com/v1".into());
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!("IAM_RISK_SCORE_LLM_BASE_URL must be an http:// or https:// URL, got `{base}`"));
        }
        let mut c = Config::new(base.trim_end_matches('/'), model);
        c.api_key = get("IAM_RISK_SCORE_LLM_API_KEY");
        fn num<T: std::str::FromStr>(name: &str, v: Option<String>) -> Result<Option<T>, String> {
            v.map(|s| s.parse::<T>().map_err(|_| format!("{name} must be a number, got `{s}`"))).transpose()
        }
        if let Some(ms) = num::<u64>("IAM_RISK_SCORE_LLM_TIMEOUT_MS", get("IAM_RISK_SCORE_LLM_TIMEOUT_MS"))? {
            c.timeout = Duration::from_millis(ms.max(1));
        }
        if let Some(n) = num::<usize>("IAM_RISK_SCORE_LLM_MAX_CONCURRENCY", get("IAM_RISK_SCORE_LLM_MAX_CONCURRENCY"))?
        {
            c.max_concurrency = n.max(1);
        }
        if let Some(n) = num("IAM_RISK_SCORE_LLM_CACHE_SIZE", get("IAM_RISK_SCORE_LLM_CACHE_SIZE"))? {
            c.cache_capacity = n;
        }
        if let Some(s) = num("IAM_RISK_SCORE_LLM_CACHE_TTL_SECS", get("IAM_RISK_SCORE_LLM_CACHE_TTL_SECS"))? {
            c.cache_ttl = Duration::from_secs(s);
        }
        if let Some(n) = num("IAM_RISK_SCORE_LLM_MAX_TOKENS", get("IAM_RISK_SCORE_LLM_MAX_TOKENS"))? {
            c.max_tokens = n;
        }
        c.temperature = num("IAM_RISK_SCORE_LLM_TEMPERATURE", get("IAM_RISK_SCORE_LLM_TEMPERATURE"))?;
        if let Some(f) = get("IAM_RISK_SCORE_LLM_RESPONSE_FORMAT") {
            c.response_format = ResponseFormatKind::parse(&f).ok_or_else(|| {
                format!("IAM_RISK_SCORE_LLM_RESPONSE_FORMAT must be json_schema, json_object or none, got `{f}`")
            })?;
        }
        Ok(Some(c))
    }
}

/// Hooks for metrics; every method has a no-op default.
pub trait Observer: Send + Sync {
    /// A model call finished: `outcome` is `ok`, `timeout`, `error` or `invalid`.
    fn llm_call(&self, _outcome: &'static str, _elapsed: Duration) {}
    /// A cache lookup.
    fn cache(&self, _hit: bool) {}
    /// The template narrative was used instead of a model answer.
    fn fallback(&self, _why: Fallback) {}
}

struct NoObserver;
impl Observer for NoObserver {}

pub(crate) enum CallError {
    Http(String),
    Invalid(Invalid),
}

/// Narrates reports with a model. Cheap to share (`Arc<Narrator>`); all methods take `&self`.
pub struct Narrator {
    pub(crate) config: Config,
    pub(crate) client: async_openai::Client<OpenAIConfig>,
    pub(crate) permits: Semaphore,
    cache: Mutex<TtlLru<CacheKey, Answer>>,
    pub(crate) observer: Arc<dyn Observer>,
}

impl std::fmt::Debug for Narrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Narrator").field("model", &self.config.model).field("base_url", &self.config.base_url).finish()
    }
}

impl Narrator {
    pub fn new(config: Config) -> Self {
        Self::with_observer(config, Arc::new(NoObserver))
    }

    pub fn with_observer(config: Config, observer: Arc<dyn Observer>) -> Self {
        // reqwest is built with `rustls-no-provider`: install ring once per process (a second
        // install fails harmlessly).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut oc = OpenAIConfig::new().with_api_base(config.base_url.clone());
        // NOTE: always set a key, even an empty one: OpenAIConfig otherwise reads OPENAI_API_KEY
        // and would send it to whatever base URL is configured.
        oc = oc.with_api_key(config.api_key.clone().unwrap_or_default());
        Narrator {
            client: async_openai::Client::with_config(oc),
            permits: Semaphore::new(config.max_concurrency.max(1)),
            cache: Mutex::new(TtlLru::new(config.cache_capacity, config.cache_ttl)),
            observer,
            config,
        }
    }

    pub fn model(&self) -> &str {
        &self.config.model
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A narrative for `report` (scored from `policy` with `options`). Never fails: anything
    /// that goes wrong gives the template narrative, counted through the observer.
    pub async fn narrate(&self, report: &Report, policy: &Value, options: &ScoreOptions) -> Narration {
        let key = CacheKey::new(report, options, &self.config.model);
        let cached = self.cache.lock().ok().and_then(|mut c| c.get(&key, Instant::now()));
        self.observer.cache(cached.is_some());
        if let Some(a) = cached {
            return self.narration(a, true);
        }
        let start = Instant::now();
        let result = tokio::time::timeout(self.config.timeout, async {
            let _permit = self.permits.acquire().await.map_err(|e| CallError::Http(e.to_string()))?;
            self.call(report, policy, options).await
        })
        .await;
        let elapsed = start.elapsed();
        let why = match result {
            Ok(Ok(answer)) => {
                self.observer.llm_call("ok", elapsed);
                if let Ok(mut c) = self.cache.lock() {
                    c.insert(key, answer.clone(), Instant::now());
                }
                return self.narration(answer, false);
            }
            Err(_) => Fallback::Timeout,
            Ok(Err(CallError::Http(e))) => {
                tracing::warn!(model = %self.config.model, error = %e, "narrative model call failed; using the template");
                Fallback::Error
            }
            Ok(Err(CallError::Invalid(e))) => {
                tracing::warn!(model = %self.config.model, reason = %e, "narrative answer rejected; using the template");
                Fallback::Invalid
            }
        };
        if why == Fallback::Timeout {
            tracing::warn!(model = %self.config.model, timeout_ms = self.config.timeout.as_millis() as u64, "narrative model timed out; using the template");
        }
        self.observer.llm_call(why.as_str(), elapsed);
        self.observer.fallback(why);
        Narration::fallback(report, why)
    }

    /// One chat completion asking for a JSON object (per the configured response format); the
    /// content of the first choice.
    pub(crate) async fn chat_json(
        &self,
        system: String,
        user: String,
        name: &str,
        description: &str,
        schema: Value,
    ) -> Result<String, CallError> {
        let build = |e: OpenAIError| CallError::Http(format!("cannot build the request: {e}"));
        let mut args = CreateChatCompletionRequestArgs::default();
        args.model(self.config.model.clone())
            .messages(vec![
                ChatCompletionRequestSystemMessageArgs::default().content(system).build().map_err(build)?.into(),
                ChatCompletionRequestUserMessageArgs::default().content(user).build().map_err(build)?.into(),
            ])
            .max_tokens(self.config.max_tokens)
            .n(1u8);
        if let Some(t) = self.config.temperature {
            args.temperature(t);
        }
        match self.config.response_format {
            ResponseFormatKind::JsonSchema => {
                args.response_format(ResponseFormat::JsonSchema {
                    json_schema: ResponseFormatJsonSchema {
                        description: Some(description.into()),
                        name: name.into(),
                        schema,
                        strict: Some(true),
                    },
                });
            }
            ResponseFormatKind::JsonObject => {
                args.response_format(ResponseFormat::JsonObject);
            }
            ResponseFormatKind::None => {}
        }
        let request = args.build().map_err(build)?;
        let response = match self.client.chat().create(request).await {
            Ok(r) => r,
            // A 2xx body that is not a chat completion: the server answered, but not validly.
            Err(OpenAIError::JSONDeserialize(..)) => return Err(CallError::Invalid(Invalid::NotJson)),
            Err(e) => return Err(CallError::Http(e.to_string())),
        };
        let Some(choice) = response.choices.into_iter().next() else {
            return Err(CallError::Invalid(Invalid::Schema("the response has no choices")));
        };
        if choice.message.refusal.as_deref().is_some_and(|r| !r.trim().is_empty()) {
            return Err(CallError::Invalid(Invalid::Schema("the model refused")));
        }
        Ok(choice.message.content.unwrap_or_default())
    }

    fn narration(&self, a: Answer, cached: bool) -> Narration {
        Narration {
            text: a.narrative,
            extra_suggestions: a.suggestions,
            source: Source::Llm { model: self.config.model.clone(), cached },
        }
    }

    async fn call(&self, report: &Report, policy: &Value, options: &ScoreOptions) -> Result<Answer, CallError> {
        let m = crate::messages(report, policy, options);
        let description = "A plain-words explanation of a deterministic IAM policy risk result";
        let content = self.chat_json(m.system, m.user, "risk_narrative", description, crate::answer_schema()).await?;
        let untrusted = crate::untrusted_texts(policy, options);
        parse_answer(&content, report, &untrusted).map_err(CallError::Invalid)
    }
}
