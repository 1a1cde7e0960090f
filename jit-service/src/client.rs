//! The `iam-jit` command line's client of the HTTP API (`IAM_JIT_BASE_URL`,
//! `IAM_JIT_API_TOKEN`). Blocking: one call per command.

use clap::{Args, ValueEnum};
use serde_json::Value;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args, Clone, Debug)]
pub struct ApiArgs {
    /// The service's URL.
    #[arg(long = "base-url", env = "IAM_JIT_BASE_URL", default_value = "http://127.0.0.1:8080")]
    pub base_url: String,
    /// An API token (`iamjit_…`).
    #[arg(long = "api-token", env = "IAM_JIT_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Output: `text` (a summary) or `json` (the API's answer, unchanged).
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Log in with the AWS credentials of the environment (the standard AWS chain) instead of
    /// an API token: the service verifies a signed sts:GetCallerIdentity and issues a
    /// short-lived token for the user of that AWS principal.
    #[arg(long = "aws-auth")]
    pub aws_auth: bool,
}

#[derive(Debug)]
pub struct ClientError {
    /// Exit code: 3 refused by the API (4xx), 4 unreachable or server error.
    pub exit: u8,
    pub message: String,
}

pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// Percent-encode one path segment.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    pub fn new(args: &ApiArgs) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        Client { base: args.base_url.trim_end_matches('/').to_string(), token: args.token.clone(), agent }
    }

    /// The bearer token the client calls with (after an `--aws-auth` login, the issued one).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// A client for `args`; with `--aws-auth` it first logs in with the environment's AWS
    /// credentials and calls with the token that login issues.
    pub fn connect(args: &ApiArgs) -> Result<Client, ClientError> {
        let mut c = Client::new(args);
        if args.aws_auth {
            c.token = None;
            let v = crate::awsauth::login(&c)?;
            let token = v
                .get("token")
                .and_then(Value::as_str)
                .ok_or_else(|| ClientError { exit: 4, message: format!("the AWS login answer has no token: {v}") })?;
            c.token = Some(token.to_string());
        }
        Ok(c)
    }

    fn finish(&self, resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Value, ClientError> {
        let mut resp =
            resp.map_err(|e| ClientError { exit: 4, message: format!("cannot reach {}: {e}", self.base) })?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let body: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let detail = body.get("detail").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| body.to_string());
        let mut message = format!("HTTP {status}: {detail}");
        if let Some(errs) = body.get("errors").and_then(Value::as_array) {
            for e in errs {
                message.push_str(&format!(
                    "\n  {}: {}",
                    e["path"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                ));
            }
        }
        Err(ClientError { exit: if status < 500 { 3 } else { 4 }, message })
    }

    fn auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => req.header("Authorization", &format!("Bearer {t}")),
            None => req,
        }
    }

    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.finish(self.auth(self.agent.get(&format!("{}{path}", self.base))).call())
    }

    pub fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let mut resp = self
            .auth(self.agent.get(&format!("{}{path}", self.base)))
            .call()
            .map_err(|e| ClientError { exit: 4, message: format!("cannot reach {}: {e}", self.base) })?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(ClientError { exit: if status < 500 { 3 } else { 4 }, message: format!("HTTP {status}: {text}") })
        }
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let req =
            self.auth(self.agent.post(&format!("{}{path}", self.base))).header("Content-Type", "application/json");
        self.finish(req.send(body.to_string().as_bytes()))
    }

    pub fn patch(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let req =
            self.auth(self.agent.patch(&format!("{}{path}", self.base))).header("Content-Type", "application/json");
        self.finish(req.send(body.to_string().as_bytes()))
    }

    pub fn delete(&self, path: &str) -> Result<Value, ClientError> {
        self.finish(self.auth(self.agent.delete(&format!("{}{path}", self.base))).call())
    }
}

pub fn read_json_file(path: &Path) -> Result<Value, String> {
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| format!("cannot read stdin: {e}"))?;
        s
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
    };
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

/// A one-screen summary of an API answer for `--format text`.
pub fn summarize(v: &Value) -> String {
    let req = v.get("request").unwrap_or(v);
    if let (Some(id), Some(state)) =
        (req.pointer("/metadata/id").and_then(Value::as_str), req.pointer("/status/state").and_then(Value::as_str))
    {
        let score = req.pointer("/status/review/risk_score").map(|s| s.to_string()).unwrap_or_default();
        let q = req.pointer("/status/quorum");
        let mut out = format!("{id}  {state}  risk {score}");
        if let Some(q) = q {
            out.push_str(&format!("  approvals {}/{}", q["have"], q["required"]));
        }
        if let Some(e) = req.pointer("/status/expires_at").and_then(Value::as_str) {
            out.push_str(&format!("  expires {e}"));
        }
        return out;
    }
    if let Some(list) = v.get("requests").and_then(Value::as_array) {
        return list.iter().map(summarize).collect::<Vec<_>>().join("\n");
    }
    if let Some(t) = v.get("token").and_then(Value::as_str) {
        return t.to_string();
    }
    if let Some(list) = v.get("tokens").and_then(Value::as_array) {
        return list
            .iter()
            .map(|t| {
                format!(
                    "{}  {}  {}",
                    t["hash"].as_str().unwrap_or(""),
                    t["name"].as_str().unwrap_or(""),
                    if t["revoked_at"].is_null() { "active" } else { "revoked" }
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
    }
    if v.is_null() {
        return "done".into();
    }
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Run one API call and print its answer; the exit code follows the documented table.
pub fn run(args: &ApiArgs, call: impl FnOnce(&Client) -> Result<Value, ClientError>) -> ExitCode {
    match Client::connect(args).and_then(|c| call(&c)) {
        Ok(v) => {
            match args.format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
                Format::Text => println!("{}", summarize(&v)),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("iam-jit: {}", e.message);
            ExitCode::from(e.exit)
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportKind {
    Grants,
    Activity,
    Approvals,
    RiskDistribution,
    Users,
}

impl ReportKind {
    pub fn path(self) -> &'static str {
        match self {
            ReportKind::Grants => "grants",
            ReportKind::Activity => "activity",
            ReportKind::Approvals => "approvals",
            ReportKind::RiskDistribution => "risk-distribution",
            ReportKind::Users => "users",
        }
    }
}

#[derive(Args, Clone, Debug)]
pub struct ReportArgs {
    #[arg(value_enum)]
    pub kind: ReportKind,
    /// From this time (RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Until this time (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
    /// Only this account.
    #[arg(long)]
    pub account: Option<String>,
    /// Only this user.
    #[arg(long)]
    pub user: Option<String>,
    /// CSV instead of JSON.
    #[arg(long)]
    pub csv: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

pub fn report(a: &ReportArgs) -> ExitCode {
    let mut q = Vec::new();
    for (k, v) in [("since", &a.since), ("until", &a.until), ("account", &a.account), ("user", &a.user)] {
        if let Some(v) = v {
            q.push(format!("{k}={}", enc(v)));
        }
    }
    if a.csv {
        q.push("format=csv".into());
    }
    let path = format!("/api/v1/reports/{}{}{}", a.kind.path(), if q.is_empty() { "" } else { "?" }, q.join("&"));
    let res =
        Client::connect(&a.api).and_then(|c| if a.csv { c.get_text(&path).map(Value::String) } else { c.get(&path) });
    match res {
        Ok(Value::String(s)) => {
            print!("{s}");
            ExitCode::SUCCESS
        }
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("iam-jit: {}", e.message);
            ExitCode::from(e.exit)
        }
    }
}
