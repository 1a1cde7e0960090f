//! Configuration: a TOML file (`--config` or `IAM_JIT_CONFIG`), then `IAM_JIT_*` environment
//! variables, then command-line flags — each later source wins. Unknown keys are errors.

use crate::approval::ApprovalPolicy;
use crate::notify::Smtp;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `ADDR:PORT` to listen on.
    pub listen: String,
    /// SQLite file path or URL (`sqlite://…`), or `postgres://…`.
    pub database: String,
    /// Development mode: recording provisioner, magic links in responses, no Secure cookie.
    pub dev: bool,
    /// The URL users reach the service at (links in mail and webhooks).
    pub public_url: String,
    /// Names this deployment on every role it creates (tag `iam-jit:deployment-id`).
    pub deployment_id: String,
    /// `aws` (sts:AssumeRole into each registered account, then IAM; the default outside
    /// `--dev`), `recording` (no AWS calls; stores them; the default with `--dev`) or `none`.
    /// `auto` picks by `--dev`.
    pub provisioner: String,
    /// How long before a grant ends its owner is told (minutes).
    pub expiry_warning_minutes: u32,
    /// How often each registered account is swept for orphaned roles (seconds; 0 = never;
    /// only with the `aws` provisioner). Orphans are reported in the log and the audit.
    pub orphan_sweep_interval_secs: u64,
    /// Also delete the orphans the periodic sweep finds (only roles whose name, `managed-by`,
    /// request and deployment tags all match).
    pub orphan_sweep_delete: bool,
    pub permission_boundary_arn: Option<String>,
    /// The service's own role: trusted by grants of requesters with no AWS principal of
    /// their own (e-mail users), who get credentials brokered by the service, pinned to them
    /// by `sts:SourceIdentity`. In `--dev` a placeholder ARN is used.
    pub hub_role_arn: Option<String>,
    pub smtp: Option<Smtp>,
    /// Key for signed audit checkpoints (HMAC-SHA256). Without it truncation of the audit log
    /// cannot be detected.
    pub audit_key: Option<String>,
    pub checkpoint_interval_secs: u64,
    pub sweep_interval_secs: u64,
    pub outbox_interval_secs: u64,
    /// API tokens unused this long are revoked.
    pub token_inactivity_days: u32,
    pub body_limit_bytes: usize,
    /// Requests per minute per token (or per address for unauthenticated routes); 0 = off.
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
    /// Log as JSON lines (one object per event, with request ids).
    pub json_logs: bool,
    /// The approval policy to start with when the database has none (later changes go through
    /// the API and need a second admin).
    pub approval_policy: Option<ApprovalPolicy>,
    /// AWS-credential login: the STS endpoint signed sts:GetCallerIdentity requests are
    /// forwarded to (and the only one). Default: `AWS_ENDPOINT_URL_STS`, else
    /// `AWS_ENDPOINT_URL`, else `https://sts.amazonaws.com`.
    pub sts_url: Option<String>,
    /// The region those requests are signed for (the global endpoint's is `us-east-1`).
    pub sts_region: String,
    /// How long a login challenge is valid.
    pub aws_challenge_ttl_secs: u64,
    /// How long the API token an AWS-credential login issues is valid.
    pub aws_login_token_ttl_secs: u64,
    /// A directory holding the browser build of the engine (`risk_wasm.js` and
    /// `risk_wasm_bg.wasm`, as `bash risk-wasm/build.sh` writes them to `risk-wasm/pkg/`).
    /// With it the web UI's policy editor scores and diffs in the browser as the user types;
    /// without it the editor asks the server (`POST /api/v1/requests/preview`).
    pub webui_wasm_dir: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            database: "iam-jit.db".into(),
            dev: false,
            public_url: String::new(),
            deployment_id: "default".into(),
            provisioner: "auto".into(),
            expiry_warning_minutes: 15,
            orphan_sweep_interval_secs: 3600,
            orphan_sweep_delete: false,
            permission_boundary_arn: None,
            hub_role_arn: None,
            smtp: None,
            audit_key: None,
            checkpoint_interval_secs: 300,
            sweep_interval_secs: 15,
            outbox_interval_secs: 2,
            token_inactivity_days: 90,
            body_limit_bytes: 256 * 1024,
            rate_limit_per_minute: 600,
            rate_limit_burst: 120,
            json_logs: false,
            approval_policy: None,
            sts_url: None,
            sts_region: "us-east-1".into(),
            aws_challenge_ttl_secs: 120,
            aws_login_token_ttl_secs: 3600,
            webui_wasm_dir: None,
        }
    }
}

impl Config {
    /// Read `path` (if any) and apply `IAM_JIT_*` variables from `env`.
    pub fn load(path: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
        let mut c = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| anyhow::anyhow!("cannot read the configuration file {}: {e}", p.display()))?;
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
            }
            None => Config::default(),
        };
        let num = |name: &str, v: String| -> anyhow::Result<u64> {
            v.trim().parse().map_err(|_| anyhow::anyhow!("{name} must be a whole number, not `{v}`"))
        };
        if let Some(v) = env("IAM_JIT_LISTEN") {
            c.listen = v;
        }
        if let Some(v) = env("IAM_JIT_DATABASE") {
            c.database = v;
        }
        if let Some(v) = env("IAM_JIT_PUBLIC_URL") {
            c.public_url = v;
        }
        if let Some(v) = env("IAM_JIT_DEPLOYMENT_ID") {
            c.deployment_id = v;
        }
        if let Some(v) = env("IAM_JIT_AUDIT_KEY") {
            c.audit_key = Some(v);
        }
        if let Some(v) = env("IAM_JIT_HUB_ROLE_ARN") {
            c.hub_role_arn = Some(v);
        }
        if let Some(v) = env("IAM_JIT_PROVISIONER") {
            c.provisioner = v;
        }
        if let Some(v) = env("IAM_JIT_ORPHAN_SWEEP_INTERVAL_SECS") {
            c.orphan_sweep_interval_secs = num("IAM_JIT_ORPHAN_SWEEP_INTERVAL_SECS", v)?;
        }
        if let Some(v) = env("IAM_JIT_ORPHAN_SWEEP_DELETE") {
            c.orphan_sweep_delete = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env("IAM_JIT_EXPIRY_WARNING_MINUTES") {
            c.expiry_warning_minutes = num("IAM_JIT_EXPIRY_WARNING_MINUTES", v)? as u32;
        }
        if let Some(v) = env("IAM_JIT_SWEEP_INTERVAL_SECS") {
            c.sweep_interval_secs = num("IAM_JIT_SWEEP_INTERVAL_SECS", v)?;
        }
        if let Some(v) = env("IAM_JIT_CHECKPOINT_INTERVAL_SECS") {
            c.checkpoint_interval_secs = num("IAM_JIT_CHECKPOINT_INTERVAL_SECS", v)?;
        }
        if let Some(v) = env("IAM_JIT_OUTBOX_INTERVAL_SECS") {
            c.outbox_interval_secs = num("IAM_JIT_OUTBOX_INTERVAL_SECS", v)?;
        }
        if let Some(v) = env("IAM_JIT_RATE_LIMIT_PER_MINUTE") {
            c.rate_limit_per_minute = num("IAM_JIT_RATE_LIMIT_PER_MINUTE", v)? as u32;
        }
        if let Some(v) = env("IAM_JIT_SMTP_URL") {
            c.smtp = Some(parse_smtp_url(&v, env("IAM_JIT_SMTP_FROM").unwrap_or_else(|| "iam-jit@localhost".into()))?);
        }
        if let Some(v) = env("IAM_JIT_JSON_LOGS") {
            c.json_logs = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = env("IAM_JIT_STS_URL") {
            c.sts_url = Some(v);
        }
        if let Some(v) = env("IAM_JIT_STS_REGION") {
            c.sts_region = v;
        }
        if let Some(v) = env("IAM_JIT_WEBUI_WASM_DIR") {
            c.webui_wasm_dir = Some(v).filter(|v| !v.is_empty());
        }
        if c.sts_url.is_none() {
            c.sts_url = Some(default_sts_url(&env));
        }
        Ok(c)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some((scheme, _)) = self.database.split_once("://") {
            if !matches!(scheme, "sqlite" | "postgres" | "postgresql") {
                anyhow::bail!(
                    "database: `{scheme}://` is not supported; give a SQLite file path, sqlite://PATH or postgres://…"
                );
            }
        }
        match self.listen.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
            _ => anyhow::bail!("listen must be ADDR:PORT (e.g. 127.0.0.1:8080), not `{}`", self.listen),
        }
        if !matches!(self.provisioner.as_str(), "aws" | "recording" | "none" | "auto") {
            anyhow::bail!(
                "provisioner must be \"aws\", \"recording\", \"none\" or \"auto\", not `{}`",
                self.provisioner
            );
        }
        if let Some(p) = &self.approval_policy {
            let errs = p.validate();
            if !errs.is_empty() {
                let list: Vec<String> =
                    errs.iter().map(|e| format!("approval_policy.{}: {}", e.path, e.message)).collect();
                anyhow::bail!("the configuration's approval policy is not valid:\n  {}", list.join("\n  "));
            }
        }
        if let Some(k) = &self.audit_key {
            if k.len() < 16 {
                anyhow::bail!("audit_key must be at least 16 characters");
            }
        }
        if self.body_limit_bytes < 1024 {
            anyhow::bail!("body_limit_bytes must be at least 1024");
        }
        // It is a tag value on every role and a condition in the onboarding templates.
        let d = &self.deployment_id;
        if d.is_empty()
            || d.len() > 64
            || !d.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !d.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            anyhow::bail!(
                "deployment_id must be 1-64 letters, digits and ._- starting with a letter or digit, not `{d}`"
            );
        }
        if let Some(u) = &self.sts_url {
            crate::awsauth::canonical_url(u).map_err(|e| anyhow::anyhow!("sts_url: {e}"))?;
        }
        if self.sts_region.is_empty()
            || self.sts_region.len() > 32
            || !self.sts_region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            anyhow::bail!("sts_region must be an AWS region name such as us-east-1, not `{}`", self.sts_region);
        }
        if !(10..=900).contains(&self.aws_challenge_ttl_secs) {
            anyhow::bail!("aws_challenge_ttl_secs must be 10-900");
        }
        if !(60..=43_200).contains(&self.aws_login_token_ttl_secs) {
            anyhow::bail!("aws_login_token_ttl_secs must be 60-43200 (12 hours)");
        }
        Ok(())
    }
}

/// The STS endpoint the AWS SDKs would use: `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`,
/// else the global endpoint.
pub fn default_sts_url(env: impl Fn(&str) -> Option<String>) -> String {
    ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"]
        .iter()
        .filter_map(|k| env(k))
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "https://sts.amazonaws.com".into())
}

/// `smtp://[user:pass@]host:port` (plain), `smtp+starttls://…`, `smtps://…`.
pub fn parse_smtp_url(url: &str, from: String) -> anyhow::Result<Smtp> {
    let (scheme, rest) =
        url.split_once("://").ok_or_else(|| anyhow::anyhow!("IAM_JIT_SMTP_URL must look like smtp://host:port"))?;
    let tls = match scheme {
        "smtp" => "none",
        "smtp+starttls" => "starttls",
        "smtps" => "tls",
        _ => anyhow::bail!("IAM_JIT_SMTP_URL: scheme must be smtp, smtp+starttls or smtps"),
    };
    let (creds, hostport) = match rest.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, rest),
    };
    let (host, port) = hostport
        .trim_end_matches('/')
        .rsplit_once(':')
        .ok_or_else(|| anyhow::anyhow!("IAM_JIT_SMTP_URL needs a port"))?;
    let port: u16 = port.parse().map_err(|_| anyhow::anyhow!("IAM_JIT_SMTP_URL: bad port `{port}`"))?;
    let (username, password) = match creds.and_then(|c| c.split_once(':')) {
        Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
        None => (None, None),
    };
    Ok(Smtp { host: host.to_string(), port, tls: tls.into(), from, username, password })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_ids_are_tag_and_template_safe() {
        for ok in ["default", "prod-eu.1", "A_b"] {
            Config { deployment_id: ok.into(), ..Config::default() }.validate().unwrap();
        }
        for bad in ["", "-x", "has space", "x\"y", &"a".repeat(65)] {
            let e = Config { deployment_id: bad.into(), ..Config::default() }.validate().unwrap_err();
            assert!(e.to_string().contains("deployment_id"), "{bad}: {e}");
        }
        let e = Config { provisioner: "magic".into(), ..Config::default() }.validate().unwrap_err();
        assert!(e.to_string().contains("\"aws\""), "{e}");
    }
}
