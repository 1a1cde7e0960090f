//! Real peers for the notification tests: a webhook receiver that records what it is sent,
//! the signature check a subscriber would write, a local SMTP server (aiosmtpd) that keeps
//! every message as a file, and a guard that stops child processes even when a test panics.
#![allow(dead_code)]

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::Router;
use serde_json::Value;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A directory of its own under `target/tmp/` for one test.
pub fn scratch_dir(what: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = workspace_root().join("target/tmp").join(what).join(format!(
        "{}-{}-{}",
        std::process::id(),
        jit_service::now_ms(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn now_s() -> i64 {
    jit_service::now_ms() / 1000
}

// ---------------------------------------------------------------------------------------------
// Webhook receiver
// ---------------------------------------------------------------------------------------------

/// One request the receiver got, and the status it answered with.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub signature: Option<String>,
    pub content_type: Option<String>,
    pub user_agent: Option<String>,
    pub body: String,
    pub answered: u16,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("webhook body is not JSON ({e}): {}", self.body))
    }
}

struct Inner {
    status: AtomicU16,
    /// Hold the next request this long before answering (once).
    stall_next_ms: AtomicU64,
    log: Mutex<Vec<Received>>,
}

/// A small HTTP server on 127.0.0.1 answering every request with the status set by
/// [`Receiver::set_status`] (200 at first) and recording it. Stops listening when dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Self::bind("127.0.0.1:0").await
    }

    /// Listen on a given address (to bring a receiver back on the port a webhook names).
    pub async fn bind(addr: &str) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner {
            status: AtomicU16::new(200),
            stall_next_ms: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(record).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, inner, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn set_status(&self, status: u16) {
        self.inner.status.store(status, Ordering::SeqCst);
    }

    /// Answer the next request only after `ms` (a slow subscriber), then answer at once again.
    pub fn stall_next(&self, ms: u64) {
        self.inner.stall_next_ms.store(ms, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.log.lock().unwrap().clone()
    }

    /// What arrived on `path`.
    pub fn on(&self, path: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path == path).collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(State(inner): State<Arc<Inner>>, req: Request) -> StatusCode {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, 1 << 20).await.unwrap_or_default();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let stall = inner.stall_next_ms.swap(0, Ordering::SeqCst);
    if stall > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(stall)).await;
    }
    let status = inner.status.load(Ordering::SeqCst);
    inner.log.lock().unwrap().push(Received {
        path: parts.uri.path().to_string(),
        signature: header("x-iam-jit-signature"),
        content_type: header("content-type"),
        user_agent: header("user-agent"),
        body: String::from_utf8_lossy(&body).into_owned(),
        answered: status,
    });
    StatusCode::from_u16(status).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Signature check, written the way a subscriber would write it (docs/jit.md has the same in
// Python and shell)
// ---------------------------------------------------------------------------------------------

/// How far a signature's timestamp may be from the receiver's clock (replay window).
pub const TOLERANCE_S: i64 = 300;

/// Check `X-IAM-JIT-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` against
/// the raw body, at time `now_s`.
pub fn verify_signature(secret: &str, header: &str, body: &[u8], now_s: i64) -> Result<(), String> {
    use hmac::{Hmac, Mac};
    use sha2::Sha256;
    use subtle::ConstantTimeEq;
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => candidates.push(v.to_string()),
            _ => {}
        }
    }
    let t = t.ok_or_else(|| format!("no t=<unix seconds> in `{header}`"))?;
    if (now_s - t).abs() > TOLERANCE_S {
        return Err(format!("stale: signed at {t}, now {now_s} (more than {TOLERANCE_S} s apart)"));
    }
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    for c in candidates {
        if let Some(sig) = unhex(&c) {
            if sig.len() == expected.len() && bool::from(sig.as_slice().ct_eq(expected.as_slice())) {
                return Ok(());
            }
        }
    }
    Err("no v1 signature matches the body".into())
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

/// Kills and reaps its process when dropped, so a failing test leaves nothing running.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl ChildGuard {
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// SMTP
// ---------------------------------------------------------------------------------------------

/// The Python of the test venv (`scripts/jit-venv.sh`), created on first use when missing.
pub fn venv_python() -> PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let venv = std::env::var_os("IAM_JIT_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target/venv-jit"));
        let py = venv.join("bin/python");
        let ready = Command::new(&py)
            .args(["-c", "import aiosmtpd, moto, hcl2, mcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return py;
        }
        let out = Command::new("bash")
            .arg(workspace_root().join("scripts/jit-venv.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("cannot run scripts/jit-venv.sh");
        assert!(out.status.success(), "scripts/jit-venv.sh failed");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
    .clone()
}

/// One message as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub rcpt_tos: Vec<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// A real SMTP server (aiosmtpd running `tests/smtp_sink.py`) storing each message as a file.
pub struct SmtpSink {
    pub port: u16,
    pub dir: PathBuf,
    seen: usize,
    // Closing stdin makes the server exit even if the kill below never runs.
    _stdin: ChildStdin,
    _child: ChildGuard,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let dir = scratch_dir("jit-mail");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut child = Command::new(venv_python())
            .arg(script)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the SMTP sink");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let guard = ChildGuard(child);
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP sink did not start (said `{line}`)"));
        SmtpSink { port, dir, seen: 0, _stdin: stdin, _child: guard }
    }

    /// The `Config.smtp` that sends to this server in plain text.
    pub fn config(&self) -> jit_service::notify::Smtp {
        jit_service::notify::Smtp {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: "none".into(),
            from: "iam-jit@example.com".into(),
            username: None,
            password: None,
        }
    }

    /// Every message received so far, in arrival order.
    pub fn all(&self) -> Vec<Mail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| {
                let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                Mail {
                    rcpt_tos: v["rcpt_tos"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r.as_str().unwrap().to_ascii_lowercase())
                        .collect(),
                    from: s("from"),
                    to: s("to"),
                    subject: s("subject"),
                    text: s("text"),
                }
            })
            .collect()
    }

    /// The messages received since the last call.
    pub fn take_new(&mut self) -> Vec<Mail> {
        let all = self.all();
        let new = all[self.seen..].to_vec();
        self.seen = all.len();
        new
    }
}

// ---------------------------------------------------------------------------------------------
// moto: a local IAM/STS
// ---------------------------------------------------------------------------------------------

/// A `moto_server` of its own (IAM, STS and the rest of moto's services) on a free port.
/// `env` is passed to it (e.g. `INITIAL_NO_AUTH_ACTION_COUNT` to make it check signatures).
pub struct Moto {
    pub port: u16,
    _child: ChildGuard,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let py = venv_python();
        let server = py.parent().unwrap().join("moto_server");
        for _attempt in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut cmd = Command::new(&server);
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            for (k, v) in env {
                cmd.env(k, v);
            }
            let guard = ChildGuard(cmd.spawn().expect("cannot start moto_server"));
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while std::time::Instant::now() < deadline {
                if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                    use std::io::{Read, Write};
                    let _ = s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: localhost\r\n\r\n");
                    let mut buf = [0u8; 12];
                    if s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.") {
                        return Moto { port, _child: guard };
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        panic!("moto_server did not start");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

// ---------------------------------------------------------------------------------------------
// AWS principals in moto (the AWS-credential login tests)
// ---------------------------------------------------------------------------------------------

/// The account moto's resources live in.
pub const MOTO_ACCOUNT: &str = "123456789012";

/// Credentials for calls moto lets through unauthenticated (the first
/// `INITIAL_NO_AUTH_ACTION_COUNT` ones) and for signing with keys moto does not know.
pub fn static_credentials(akid: &str, secret: &str, token: Option<&str>) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(akid, secret, token.map(str::to_string), None, "test")
}

/// An IAM client of `moto` calling with `creds`.
pub fn moto_iam(moto: &Moto, creds: aws_credential_types::Credentials) -> aws_sdk_iam::Client {
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(aws_sdk_iam::config::Region::new("us-east-1"))
        .endpoint_url(moto.url())
        .credentials_provider(creds)
        .build();
    aws_sdk_iam::Client::from_conf(conf)
}

/// An STS client of `moto` calling with `creds`.
pub fn moto_sts(moto: &Moto, creds: aws_credential_types::Credentials) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .endpoint_url(moto.url())
        .credentials_provider(creds)
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

/// Create the IAM user `name` and an access key for it (two IAM calls); returns the key.
pub async fn moto_user_with_key(iam: &aws_sdk_iam::Client, name: &str) -> aws_credential_types::Credentials {
    iam.create_user().user_name(name).send().await.unwrap_or_else(|e| panic!("create_user {name}: {e:?}"));
    let out = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create_access_key {name}: {e:?}"));
    let k = out.access_key().expect("an access key");
    static_credentials(k.access_key_id(), k.secret_access_key(), None)
}

/// An IAM client acting inside `account` (moto keys accounts by the assumed role's ARN), to
/// look at what the service created there.
pub async fn moto_iam_in(moto: &Moto, account: &str) -> aws_sdk_iam::Client {
    let sts = moto_sts(moto, static_credentials("AKIAINSPECTOR", "inspector-secret", None));
    let out = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/test-inspector"))
        .role_session_name("test-inspector")
        .send()
        .await
        .unwrap_or_else(|e| panic!("assume a role in {account}: {e:?}"));
    let c = out.credentials().expect("credentials");
    moto_iam(moto, static_credentials(c.access_key_id(), c.secret_access_key(), Some(c.session_token())))
}

/// Wait until something listens on `127.0.0.1:port` (a server a test started).
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
