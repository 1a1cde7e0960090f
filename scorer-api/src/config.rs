//! Server configuration: built-in defaults, then a TOML file, then `IAM_RISK_SCORE_*`
//! environment variables, then command-line flags (each overriding the one before).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the server needs; see docs/api.md for each setting.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Accepted bearer keys; empty = no authentication.
    pub api_keys: Vec<String>,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Largest body of `POST /api/v1/policy/from-cloudtrail`, in bytes: CloudTrail files are
    /// far larger than policies (see docs/api.md).
    pub events_body_limit: usize,
    /// Largest body of `POST /api/v1/scan` (a compressed repository archive), in bytes. What it
    /// inflates to is capped separately by `archive_inflated_limit`.
    pub archive_body_limit: usize,
    /// Most bytes the files of one `scan` archive may hold once decompressed.
    pub archive_inflated_limit: usize,
    /// Most `from-cloudtrail` requests read and processed at once; the rest wait (up to
    /// `request_timeout`) before their body is read, so memory stays bounded by this many
    /// `events_body_limit` bodies and their parsed JSON.
    pub events_concurrency: usize,
    pub request_timeout: Duration,
    /// Most policies in one batch request.
    pub batch_max: usize,
    /// Per-client token bucket: refill per minute (0 = no limit) and bucket size.
    pub rate_per_minute: u32,
    pub rate_burst: u32,
    /// Most clients tracked by the rate limiter at once (idle ones are dropped first).
    pub rate_max_clients: usize,
    /// Use the last `X-Forwarded-For` address as the client (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Allowed CORS origins; `*` allows any; empty sends no CORS headers.
    pub cors_origins: Vec<String>,
    /// Directory served at `/` (the browser playground).
    pub playground_dir: PathBuf,
    pub log_format: LogFormat,
    /// Log one line per request.
    pub log_requests: bool,
    /// The optional narrative model; `None` = off.
    pub llm: Option<risk_narrative::Config>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Text,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            api_keys: Vec::new(),
            body_limit: 256 * 1024,
            events_body_limit: 32 * 1024 * 1024,
            archive_body_limit: 16 * 1024 * 1024,
            archive_inflated_limit: 128 * 1024 * 1024,
            events_concurrency: 2,
            request_timeout: Duration::from_secs(30),
            batch_max: 100,
            rate_per_minute: 600,
            rate_burst: 60,
            rate_max_clients: 100_000,
            trust_forwarded_for: false,
            cors_origins: Vec::new(),
            playground_dir: PathBuf::from("risk-wasm/playground/dist"),
            log_format: LogFormat::Json,
            log_requests: true,
            llm: None,
        }
    }
}

/// The configuration file (TOML). Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<String>,
    api_keys: Option<Vec<String>>,
    body_limit_bytes: Option<usize>,
    events_body_limit_bytes: Option<usize>,
    archive_body_limit_bytes: Option<usize>,
    archive_inflated_limit_bytes: Option<usize>,
    events_concurrency: Option<usize>,
    request_timeout_ms: Option<u64>,
    batch_max: Option<usize>,
    trust_forwarded_for: Option<bool>,
    cors_allowed_origins: Option<Vec<String>>,
    playground_dir: Option<PathBuf>,
    log_format: Option<LogFormat>,
    log_requests: Option<bool>,
    rate_limit: Option<RateFile>,
    /// Same keys as the `IAM_RISK_SCORE_LLM_*` variables, lowercased without the prefix.
    llm: Option<BTreeMap<String, toml::Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateFile {
    per_minute: Option<u32>,
    burst: Option<u32>,
    max_clients: Option<usize>,
}

/// Settings given on the command line (highest precedence).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub config_file: Option<PathBuf>,
}

impl Config {
    /// Load from the file named by `--config` or `IAM_RISK_SCORE_CONFIG` (if any), the process
    /// environment and the flags.
    pub fn load(flags: &Overrides) -> Result<Config, String> {
        Self::load_with(flags, |k| std::env::var(k).ok())
    }

    /// As [`Config::load`], reading variables through `env` (tests pass a map).
    pub fn load_with(flags: &Overrides, env: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let mut c = Config::default();
        let path = flags.config_file.clone().or_else(|| env("IAM_RISK_SCORE_CONFIG").map(PathBuf::from));
        let file: File = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read config file `{}`: {e}", p.display()))?;
                toml::from_str(&text).map_err(|e| format!("config file `{}`: {e}", p.display()))?
            }
            None => File::default(),
        };
        let mut listen = file.listen;
        if let Some(k) = file.api_keys {
            c.api_keys = k;
        }
        if let Some(v) = file.body_limit_bytes {
            c.body_limit = v;
        }
        if let Some(v) = file.events_body_limit_bytes {
            c.events_body_limit = v;
        }
        if let Some(v) = file.archive_body_limit_bytes {
            c.archive_body_limit = v;
        }
        if let Some(v) = file.archive_inflated_limit_bytes {
            c.archive_inflated_limit = v;
        }
        if let Some(v) = file.events_concurrency {
            c.events_concurrency = v;
        }
        if let Some(v) = file.request_timeout_ms {
            c.request_timeout = Duration::from_millis(v);
        }
        if let Some(v) = file.batch_max {
            c.batch_max = v;
        }
        if let Some(v) = file.trust_forwarded_for {
            c.trust_forwarded_for = v;
        }
        if let Some(v) = file.cors_allowed_origins {
            c.cors_origins = v;
        }
        if let Some(v) = file.playground_dir {
            c.playground_dir = v;
        }
        if let Some(v) = file.log_format {
            c.log_format = v;
        }
        if let Some(v) = file.log_requests {
            c.log_requests = v;
        }
        if let Some(r) = file.rate_limit {
            c.rate_per_minute = r.per_minute.unwrap_or(c.rate_per_minute);
            c.rate_burst = r.burst.unwrap_or(c.rate_burst);
            c.rate_max_clients = r.max_clients.unwrap_or(c.rate_max_clients);
        }

        // Environment.
        fn parse<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
            v.trim().parse().map_err(|_| format!("{name}: cannot read `{v}`"))
        }
        let list = |v: String| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        if let Some(v) = env("IAM_RISK_SCORE_LISTEN") {
            listen = Some(v);
        }
        if let Some(v) = env("IAM_RISK_SCORE_API_KEY") {
            c.api_keys = list(v);
        }
        if let Some(v) = env("IAM_RISK_SCORE_BODY_LIMIT") {
            c.body_limit = parse("IAM_RISK_SCORE_BODY_LIMIT", &v)?;
        }
        if let Some(v) = env("IAM_RISK_SCORE_EVENTS_BODY_LIMIT") {
            c.events_body_limit = parse("IAM_RISK_SCORE_EVENTS_BODY_LIMIT", &v)?;
        }
        if let Some(v) = env("IAM_RISK_SCORE_ARCHIVE_BODY_LIMIT") {
            c.archive_body_limit = parse("IAM_RISK_SCORE_ARCHIVE_BODY_LIMIT", &v)?;
        }
        if let Some(v) = env("IAM_RISK_SCORE_ARCHIVE_INFLATED_LIMIT") {
            c.archive_inflated_limit = parse("IAM_RISK_SCORE_ARCHIVE_INFLATED_LIMIT", &v)?;
        }
        if let Some(v) = env("IAM_RISK_SCORE_EVENTS_CONCURRENCY") {
            c.events_concurrency = parse("IAM_RISK_SCORE_EVENTS_CONCURRENCY", &v)?;
        }
        if let Some(v) = env("IAM_RISK_SCORE_REQUEST_TIMEOUT_MS") {
            c.request_timeout = Duration::from_millis(parse("IAM_RISK_SCORE_REQUEST_TIMEOUT_MS", &v)?);
        }
        if let Some(v) = env("IAM_RISK_SCORE_BATCH_MAX") {
            c.batch_max = parse("IAM_RISK_SCORE_BATCH_MAX", &v)?;
        }
        if let Some(v) = env("IAM_RISK_SCORE_RATE_PER_MINUTE") {
            c.rate_per_minute = parse("IAM_RISK_SCORE_RATE_PER_MINUTE", &v)?;
        }
        if let Some(v) = env("IAM_RISK_SCORE_RATE_BURST") {
            c.rate_burst = parse("IAM_RISK_SCORE_RATE_BURST", &v)?;
        }
        if let Some(v) = env("IAM_RISK_SCORE_TRUST_FORWARDED_FOR") {
            c.trust_forwarded_for = parse_bool("IAM_RISK_SCORE_TRUST_FORWARDED_FOR", &v)?;
        }
        if let Some(v) = env("IAM_RISK_SCORE_CORS_ORIGINS") {
            c.cors_origins = list(v);
        }
        if let Some(v) = env("IAM_RISK_SCORE_PLAYGROUND_DIR") {
            c.playground_dir = PathBuf::from(v);
        }
        if let Some(v) = env("IAM_RISK_SCORE_LOG_FORMAT") {
            c.log_format = match v.trim() {
                "json" => LogFormat::Json,
                "text" => LogFormat::Text,
                other => return Err(format!("IAM_RISK_SCORE_LOG_FORMAT must be `json` or `text`, got `{other}`")),
            };
        }
        if let Some(v) = env("IAM_RISK_SCORE_LOG_REQUESTS") {
            c.log_requests = parse_bool("IAM_RISK_SCORE_LOG_REQUESTS", &v)?;
        }

        // The narrative model: environment first, then the file's [llm] table.
        let file_llm: BTreeMap<String, String> = file
            .llm
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    // Arrays, tables and dates are no [llm] setting: `from_env` rejects the text.
                    other => format!("{other:?}"),
                };
                (format!("IAM_RISK_SCORE_LLM_{}", k.to_ascii_uppercase()), v)
            })
            .collect();
        for k in file_llm.keys() {
            if !risk_narrative::ENV_VARS.iter().any(|(name, _)| name == k) {
                return Err(format!(
                    "config file: unknown key `{}` in [llm]",
                    k.trim_start_matches("IAM_RISK_SCORE_LLM_").to_ascii_lowercase()
                ));
            }
        }
        c.llm = risk_narrative::Config::from_env(|k| env(k).or_else(|| file_llm.get(k).cloned()))?;

        // Flags.
        if let Some(v) = &flags.listen {
            listen = Some(v.clone());
        }
        if let Some(l) = listen {
            c.listen = l.trim().parse().map_err(|_| format!("listen address must be IP:PORT, got `{l}`"))?;
        }
        if c.body_limit == 0 || c.events_body_limit == 0 || c.archive_body_limit == 0 || c.archive_inflated_limit == 0 {
            return Err("the body limits must be at least 1 byte".into());
        }
        if c.events_concurrency == 0 {
            return Err("events_concurrency must be at least 1".into());
        }
        if c.batch_max == 0 {
            return Err("batch_max must be at least 1".into());
        }
        if c.rate_per_minute > 0 && c.rate_burst == 0 {
            return Err("the rate-limit burst must be at least 1".into());
        }
        Ok(c)
    }
}

fn parse_bool(name: &str, v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{name} must be true or false, got `{v}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn file_then_env_then_flags() {
        let dir = std::env::temp_dir().join(format!("scorer-api-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("api.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\napi_keys = [\"a\"]\nbatch_max = 7\n[rate_limit]\nper_minute = 5\n[llm]\nmodel = \"m\"\ntimeout_ms = 1500\n",
        )
        .unwrap();
        let env: HashMap<&str, &str> =
            HashMap::from([("IAM_RISK_SCORE_API_KEY", "b, c"), ("IAM_RISK_SCORE_LLM_MODEL", "n")]);
        let flags = Overrides { listen: Some("127.0.0.1:9001".into()), config_file: Some(path) };
        let c = Config::load_with(&flags, |k| env.get(k).map(|s| s.to_string())).unwrap();
        assert_eq!(c.listen.port(), 9001);
        assert_eq!(c.api_keys, vec!["b", "c"]);
        assert_eq!(c.batch_max, 7);
        assert_eq!(c.rate_per_minute, 5);
        let llm = c.llm.unwrap();
        assert_eq!(llm.model, "n");
        assert_eq!(llm.timeout, Duration::from_millis(1500));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn defaults_and_errors() {
        let c = Config::load_with(&Overrides::default(), |_| None).unwrap();
        assert_eq!(c.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(c.body_limit, 256 * 1024);
        assert!(c.llm.is_none() && c.api_keys.is_empty());
        let bad = |k: &'static str, v: &'static str| {
            Config::load_with(&Overrides::default(), move |q| (q == k).then(|| v.to_string())).unwrap_err()
        };
        assert!(bad("IAM_RISK_SCORE_LISTEN", "nowhere").contains("IP:PORT"));
        assert!(bad("IAM_RISK_SCORE_RATE_PER_MINUTE", "lots").contains("IAM_RISK_SCORE_RATE_PER_MINUTE"));
    }
}
