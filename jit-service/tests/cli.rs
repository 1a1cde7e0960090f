//! The `iam-jit` binary end to end: seed-admin, serve (default SQLite in the working
//! directory), the API client commands and their exit codes.

mod common;

use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_iam-jit");

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn workdir(name: &str) -> PathBuf {
    let d = common::root().join("target/tmp/jit-cli").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.current_dir(dir).args(args).env_remove("IAM_JIT_DATABASE").env_remove("IAM_JIT_API_TOKEN");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn start(dir: &Path, port: u16) -> Server {
    let child = Command::new(BIN)
        .current_dir(dir)
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("IAM_JIT_DATABASE")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "iam-jit serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn seed_admin_serve_and_client_commands() {
    let dir = workdir("flow");
    // The first admin, with one token on stdout; a second seed is refused.
    let o = run(&dir, &["seed-admin", "--email", "root@example.com", "--token"], &[]);
    assert!(o.status.success(), "{o:?}");
    let admin = stdout(&o);
    assert!(admin.starts_with("iamjit_") && !admin.contains('\n'), "{admin}");
    let o = run(&dir, &["seed-admin", "--email", "other@example.com"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(dir.join("iam-jit.db").exists(), "the default database is iam-jit.db in the working directory");

    let port = free_port();
    let _server = start(&dir, port);
    let base = format!("http://127.0.0.1:{port}");
    let api = |token: &str, args: &[&str]| -> Output {
        let mut a = args.to_vec();
        a.extend(["--format", "json"]);
        run(&dir, &a, &[("IAM_JIT_BASE_URL", &base), ("IAM_JIT_API_TOKEN", token)])
    };
    // A requester, created through the API by the admin; its token straight from the database.
    let body = r#"{"user_id": "email:alice@example.com", "roles": ["requester"]}"#;
    let resp = ureq::post(&format!("{base}/api/v1/users"))
        .header("Authorization", &format!("Bearer {admin}"))
        .header("Content-Type", "application/json")
        .send(body.as_bytes())
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let o = run(&dir, &["token", "create", "--user", "email:alice@example.com"], &[]);
    assert!(o.status.success(), "{o:?}");
    let alice = stdout(&o);
    let o = run(&dir, &["token", "create", "--user", "nobody@example.com"], &[]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");

    let example = common::root().join("examples/jit-request.json");
    let o = api(&alice, &["request", "submit", example.to_str().unwrap()]);
    assert!(o.status.success(), "{o:?}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let id = v["request"]["metadata"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["request"]["status"]["state"], "pending");

    // The owner cannot approve: the API refuses → exit 3 with the message on stderr.
    let o = api(&alice, &["approve", &id]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("403"), "{o:?}");
    let o = api(&admin, &["approve", &id, "--comment", "ok for the release"]);
    assert!(o.status.success(), "{o:?}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["request"]["status"]["state"], "active");
    // Text output is one summary line.
    let o = run(&dir, &["request", "status", &id], &[("IAM_JIT_BASE_URL", &base), ("IAM_JIT_API_TOKEN", &alice)]);
    assert!(stdout(&o).starts_with(&format!("{id}  active  risk ")), "{}", stdout(&o));
    let o = api(&alice, &["request", "list", "--mine"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["requests"].as_array().unwrap().len(), 1);
    // Bad input file → 2; unreachable service → 4.
    let o = api(&alice, &["request", "submit", "no-such-file.json"]);
    assert_eq!(o.status.code(), Some(2));
    let o =
        run(&dir, &["request", "list"], &[("IAM_JIT_BASE_URL", "http://127.0.0.1:9"), ("IAM_JIT_API_TOKEN", &alice)]);
    assert_eq!(o.status.code(), Some(4));
    // Tokens: list by hash, revoke, and the revoked token is refused.
    let o = api(&alice, &["token", "create"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let (second, hash) = (v["token"].as_str().unwrap().to_string(), v["hash"].as_str().unwrap().to_string());
    let o = api(&second, &["token", "list"]);
    assert!(stdout(&o).contains(&hash));
    assert!(!stdout(&o).contains(&second), "tokens are listed by hash only");
    assert!(api(&alice, &["token", "revoke", &hash]).status.success());
    assert_eq!(api(&second, &["request", "list"]).status.code(), Some(3));
    // The chain verifies, also after the server stops.
    drop(_server);
    let o = run(&dir, &["audit", "verify"], &[]);
    assert!(o.status.success(), "{o:?}");
    assert!(stdout(&o).starts_with("audit chain intact"), "{}", stdout(&o));
}

/// The quick start of docs/jit.md: `serve --dev` alone makes a usable service — the dev admin
/// exists, gets a token on the host, and can run the whole lifecycle.
#[test]
fn dev_quick_start_works_with_nothing_else() {
    let dir = workdir("dev");
    let port = free_port();
    let server = start(&dir, port);
    let base = format!("http://127.0.0.1:{port}");
    let o = run(&dir, &["token", "create", "--user", "email:admin@localhost"], &[]);
    assert!(o.status.success(), "{o:?}");
    let admin = stdout(&o);
    let example = common::root().join("examples/jit-request.json");
    let env = [("IAM_JIT_BASE_URL", base.as_str()), ("IAM_JIT_API_TOKEN", admin.as_str())];
    let o = run(&dir, &["request", "submit", example.to_str().unwrap()], &env);
    assert!(o.status.success(), "{o:?}");
    let line = stdout(&o);
    assert!(line.contains("  pending  risk 1  approvals 0/1"), "{line}");
    drop(server);
    assert!(dir.join("iam-jit.db").exists());
}

/// Bad flags are usage errors (exit 2) that say what to write, before anything is opened.
#[test]
fn bad_listen_and_database_are_usage_errors() {
    let dir = workdir("bad");
    let o = run(&dir, &["serve", "--listen", "garbage"], &[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("ADDR:PORT"), "{o:?}");
    let o = run(&dir, &["audit", "verify", "--database", "mysql://db/x"], &[]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("not supported"), "{o:?}");
    assert!(!dir.join("iam-jit.db").exists(), "nothing is created for a refused command");
}
