//! Helpers shared by the CLI's end-to-end tests: run the command line in process (`run_stdin`),
//! run the binary over the fixture repositories in `tests/fixtures/scan/` and look into its
//! JSON output.
#![allow(dead_code)] // each test binary uses its own subset

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scan")
}

/// Run `iam-risk-score ARGS…` in `dir`.
pub fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iam-risk-score"))
        .args(args)
        .current_dir(dir)
        .env_remove("GITHUB_OUTPUT")
        .output()
        .expect("run iam-risk-score")
}

/// `scan PATH --format json EXTRA…` in the fixtures: the output, the exit code, stderr.
pub fn json_scan(path: &str, extra: &[&str]) -> (Value, i32, String) {
    let mut args = vec!["scan", path, "--format", "json"];
    args.extend_from_slice(extra);
    let out = cli(&fixtures(), &args);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (v, out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The result at `address`.
pub fn by_address<'a>(v: &'a Value, address: &str) -> &'a Value {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == address)
        .unwrap_or_else(|| panic!("no result for `{address}` in {:#}", v["results"]))
}

/// The rule codes of a result's findings.
pub fn rules(r: &Value) -> Vec<&str> {
    r["result"]["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect()
}

/// A result's notes, as one string to search.
pub fn notes(r: &Value) -> String {
    r["notes"].to_string()
}

/// What one in-process run of the command line wrote and returned.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run `iam-risk-score ARGS…` in process (`risk_cli::run_with`) with `stdin` as standard input.
pub fn run_stdin(args: &[&str], stdin: &str) -> Out {
    let argv: Vec<std::ffi::OsString> =
        std::iter::once("iam-risk-score").chain(args.iter().copied()).map(std::ffi::OsString::from).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input = stdin.as_bytes();
    let code = risk_cli::run_with(
        argv,
        &mut risk_cli::Io { stdout: &mut out, stderr: &mut err, stdin: &mut input, stdout_is_tty: false },
    );
    Out { code, stdout: String::from_utf8(out).expect("utf-8"), stderr: String::from_utf8(err).expect("utf-8") }
}
