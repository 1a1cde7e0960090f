//! The real `iam-risk-score-api` binary on a loopback port: configuration from the
//! environment, JSON logs with request ids, auth, the CLI's `--api` remote mode against it,
//! and a clean exit on SIGTERM.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Deploy","Effect":"Allow","Action":["iam:PassRole","lambda:CreateFunction","lambda:InvokeFunction"],"Resource":"*"}]}"#;

struct Server {
    child: Child,
    addr: String,
    lines: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(envs: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-risk-score-api"));
    cmd.args(["--listen", "127.0.0.1:0"]).stdout(Stdio::piped()).stderr(Stdio::inherit());
    for k in ["IAM_RISK_SCORE_API_KEY", "IAM_RISK_SCORE_LLM_MODEL", "IAM_RISK_SCORE_CONFIG", "IAM_RISK_SCORE_LISTEN"] {
        cmd.env_remove(k);
    }
    cmd.envs(envs.iter().copied());
    let mut child = cmd.spawn().expect("start the server binary");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let addr = loop {
        let line = rx.recv_timeout(Duration::from_secs(20)).expect("the server logs `listening`");
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        if v["message"] == "listening" {
            break v["addr"].as_str().unwrap().to_string();
        }
    };
    Server { child, addr, lines: rx }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

#[test]
fn the_binary_serves_scores_logs_and_stops_on_sigterm() {
    // The in-process CLI below must not reach a model configured in the developer's shell.
    std::env::remove_var("IAM_RISK_SCORE_LLM_MODEL");
    let mut server = start(&[("IAM_RISK_SCORE_API_KEY", "e2e-key"), ("IAM_RISK_SCORE_RATE_PER_MINUTE", "6000")]);
    let base = format!("http://{}", server.addr);
    let agent = agent();

    let mut res = agent
        .post(format!("{base}/api/v1/score"))
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer e2e-key")
        .header("X-Request-Id", "e2e-request-1")
        .send(format!(r#"{{"policy": {POLICY}, "access_type": "read-write"}}"#))
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["x-request-id"], "e2e-request-1");
    let report: risk_core::Report = serde_json::from_str(&res.body_mut().read_to_string().unwrap()).unwrap();
    let options = risk_core::ScoreOptions { access_type: Some(risk_core::AccessType::ReadWrite), ..Default::default() };
    assert_eq!(report, risk_core::score_json(POLICY, &options).unwrap());

    let res =
        agent.post(format!("{base}/api/v1/score")).header("Content-Type", "application/json").send(POLICY).unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="iam-risk-score""#);
    let mut res = agent.get(format!("{base}/healthz")).call().unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.body_mut().read_to_string().unwrap().contains(r#""status":"ok""#));

    // The CLI's remote mode against the live server gives what the CLI computes locally.
    let dir = std::env::temp_dir().join(format!("scorer-api-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("policy.json");
    std::fs::write(&file, POLICY).unwrap();
    let run = |extra: &[&str]| {
        let mut args: Vec<std::ffi::OsString> =
            vec!["iam-risk-score".into(), file.clone().into(), "--format".into(), "json".into()];
        args.extend(extra.iter().map(|s| s.into()));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = risk_cli::run_with(
            args,
            &mut risk_cli::Io {
                stdout: &mut out,
                stderr: &mut err,
                stdin: &mut std::io::empty(),
                stdout_is_tty: false,
            },
        );
        (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    };
    let local = run(&["--offline"]);
    let remote = run(&["--api", &base, "--api-key", "e2e-key"]);
    assert_eq!(remote, local, "remote mode must match local scoring");
    // `--narrative` without a model: the deterministic template, locally and through the API.
    let narrated = run(&["--offline", "--narrative"]);
    let v: Value = serde_json::from_str(&narrated.1).unwrap();
    assert!(v["llm_narrative"].as_str().unwrap().starts_with("This identity policy scores"), "{v}");
    assert_eq!(v["analyzer"], "deterministic");
    assert_eq!(v["score"], report.score);
    let remote_narrated = run(&["--api", &base, "--api-key", "e2e-key", "--narrative"]);
    assert_eq!(remote_narrated, narrated);
    let wrong = run(&["--api", &base, "--api-key", "nope"]);
    assert_eq!(wrong.0, risk_cli::exit::API_ERROR, "{wrong:?}");
    std::fs::remove_dir_all(dir).ok();

    // Access logs are JSON lines carrying the request id.
    let mut seen = false;
    while let Ok(line) = server.lines.recv_timeout(Duration::from_millis(500)) {
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["target"] == "access" && v["span"]["request_id"] == "e2e-request-1" {
            assert_eq!(v["status"], 200);
            assert_eq!(v["route"], "/api/v1/score");
            seen = true;
            break;
        }
    }
    assert!(seen, "no access log line for the request id");

    // SIGTERM: drain and exit 0.
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut stopped = false;
    while let Ok(line) = server.lines.recv_timeout(Duration::from_secs(10)) {
        if line.contains(r#""message":"stopped""#) {
            stopped = true;
            break;
        }
    }
    assert!(stopped, "no `stopped` log line after SIGTERM");
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_bad_configuration_exits_2_with_a_message() {
    let out =
        Command::new(env!("CARGO_BIN_EXE_iam-risk-score-api")).args(["--listen", "not-an-address"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("IP:PORT"));
    let out = Command::new(env!("CARGO_BIN_EXE_iam-risk-score-api"))
        .args(["--check-config"])
        .env("IAM_RISK_SCORE_API_KEY", "secret-value")
        .env_remove("IAM_RISK_SCORE_LLM_MODEL")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("api keys = 1") && !text.contains("secret-value"), "{text}");
}
