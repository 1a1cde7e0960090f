//! End to end: the GitHub Action in `action/`, run the way GitHub runs a composite action —
//! each step's `run:` through `bash --noprofile --norc -eo pipefail`, with the step's `env:`
//! (inputs substituted from `with:` and the defaults in action.yml), GitHub's variables, a
//! pull_request event JSON and GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files — against a real git
//! repository whose head commit widens (job fails) or narrows (job passes) a policy.

use risk_cli::scan::tree::{parse_yaml, Node};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn action_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../action").canonicalize().unwrap()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Replace `${{ inputs.NAME }}` as the runner does; any other expression is a test failure.
fn expand(s: &str, inputs: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find("}}").expect("closed expression") + i;
        let expr = rest[i + 3..end].trim();
        let name = expr.strip_prefix("inputs.").unwrap_or_else(|| panic!("unexpected expression `{expr}`"));
        out.push_str(inputs.get(name).unwrap_or_else(|| panic!("undeclared input `{name}`")));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

struct Run {
    status: i32,
    stdout: String,
    outputs: BTreeMap<String, String>,
    summary: String,
    sarif: Option<Value>,
}

/// Run the action's steps in `workspace` for a pull_request event from `base` to HEAD, with the
/// debug `iam-risk-score` on PATH (the tests that say `install: none`).
fn run_action(workspace: &Path, base_sha: &str, with: &[(&str, &str)]) -> Run {
    run_action_on(workspace, base_sha, with, &[], true)
}

/// [`run_action`] with extra runner variables, and with or without the debug CLI on PATH. As
/// the runner does, directories a step appends to GITHUB_PATH lead PATH in the later steps.
fn run_action_on(
    workspace: &Path,
    base_sha: &str,
    with: &[(&str, &str)],
    runner_env: &[(&str, &str)],
    cli_on_path: bool,
) -> Run {
    let yml = parse_yaml(&std::fs::read_to_string(action_dir().join("action.yml")).unwrap()).unwrap();
    assert_eq!(yml.get("runs").and_then(|r| r.get("using")).and_then(Node::as_str), Some("composite"));
    let mut inputs: BTreeMap<String, String> = BTreeMap::new();
    for (name, spec) in yml.get("inputs").unwrap().entries() {
        let default = spec.get("default").and_then(Node::as_str).unwrap_or("");
        inputs.insert(name.clone(), default.to_string());
    }
    for (k, v) in with {
        assert!(inputs.contains_key(*k), "`{k}` is not an input of action.yml");
        inputs.insert(k.to_string(), v.to_string());
    }
    let temp = tempfile::tempdir().unwrap();
    let event = temp.path().join("event.json");
    let head_sha = git(workspace, &["rev-parse", "HEAD"]);
    std::fs::write(
        &event,
        serde_json::json!({
            "action": "synchronize",
            "number": 7,
            "pull_request": {"number": 7, "base": {"ref": "main", "sha": base_sha}, "head": {"ref": "feature", "sha": head_sha}}
        })
        .to_string(),
    )
    .unwrap();
    let output_file = temp.path().join("github_output");
    let summary_file = temp.path().join("step_summary");
    let path_file = temp.path().join("github_path");
    for f in [&output_file, &summary_file, &path_file] {
        std::fs::write(f, "").unwrap();
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_iam-risk-score")).parent().unwrap().to_path_buf();
    let system_path = std::env::var("PATH").unwrap_or_default();
    // Without the CLI: PATH minus every directory that has an `iam-risk-score`.
    let system_path: Vec<&str> =
        system_path.split(':').filter(|d| cli_on_path || !Path::new(d).join("iam-risk-score").exists()).collect();
    let mut path = system_path.join(":");
    if cli_on_path {
        path = format!("{}:{path}", bin_dir.display());
    }
    let mut stdout = String::new();
    let mut status = 0;
    let mut step_outputs: BTreeMap<String, String> = BTreeMap::new();
    for step in yml.get("runs").unwrap().get("steps").unwrap().as_seq().unwrap() {
        assert_eq!(step.get("shell").and_then(Node::as_str), Some("bash"));
        let run = step.get("run").and_then(Node::as_str).unwrap();
        assert!(!run.contains("${{"), "inputs must reach scripts only through env: {run}");
        let script = temp.path().join("step.sh");
        std::fs::write(&script, run).unwrap();
        std::fs::write(&output_file, "").unwrap();
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"]).arg(&script).current_dir(workspace).env_clear();
        cmd.env("PATH", &path)
            .env("HOME", temp.path())
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_WORKSPACE", workspace)
            .env("GITHUB_ACTION_PATH", action_dir())
            .env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_STEP_SUMMARY", &summary_file)
            .env("GITHUB_PATH", &path_file)
            .env("GITHUB_BASE_REF", "main")
            .env("GITHUB_HEAD_REF", "feature")
            .env("GITHUB_REF", "refs/pull/7/merge")
            .env("GITHUB_SHA", &head_sha)
            .env("GITHUB_REPOSITORY", "example/infra")
            .env("RUNNER_TEMP", temp.path())
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("GITHUB_ACTION_REPOSITORY", "iam-risk-score/iam-risk-score");
        for (k, v) in runner_env {
            cmd.env(k, v);
        }
        for (k, v) in step.get("env").map(Node::entries).unwrap_or(&[]) {
            cmd.env(k, expand(v.as_str().unwrap_or(""), &inputs));
        }
        let out = cmd.output().unwrap();
        for dir in std::fs::read_to_string(&path_file).unwrap().lines().rev() {
            if !path.split(':').any(|d| d == dir) {
                path = format!("{dir}:{path}");
            }
        }
        stdout.push_str(&String::from_utf8_lossy(&out.stdout));
        stdout.push_str(&String::from_utf8_lossy(&out.stderr));
        if let Some(id) = step.get("id").and_then(Node::as_str) {
            for line in std::fs::read_to_string(&output_file).unwrap().lines() {
                if let Some((k, v)) = line.split_once('=') {
                    step_outputs.insert(format!("steps.{id}.outputs.{k}"), v.to_string());
                }
            }
        }
        status = out.status.code().unwrap_or(-1);
        if status != 0 {
            break; // a failing step ends the job
        }
    }
    // The action's outputs, through their `value:` expressions.
    let mut outputs = BTreeMap::new();
    for (name, spec) in yml.get("outputs").unwrap().entries() {
        let value = spec.get("value").and_then(Node::as_str).unwrap();
        let expr = value.trim().trim_start_matches("${{").trim_end_matches("}}").trim();
        outputs.insert(name.clone(), step_outputs.get(expr).cloned().unwrap_or_default());
    }
    let sarif_path = workspace.join(&inputs["sarif-file"]);
    let sarif = std::fs::read_to_string(sarif_path).ok().map(|t| serde_json::from_str(&t).unwrap());
    Run { status, stdout, outputs, summary: std::fs::read_to_string(&summary_file).unwrap(), sarif }
}

const NARROW: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "ReadArtifacts",
      "Effect": "Allow",
      "Action": ["s3:GetObject"],
      "Resource": "arn:aws:s3:::artifacts/*"
    }
  ]
}
"#;

const WIDE: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "ReadArtifacts",
      "Effect": "Allow",
      "Action": ["s3:GetObject"],
      "Resource": "arn:aws:s3:::artifacts/*"
    },
    {
      "Sid": "Deploy",
      "Effect": "Allow",
      "Action": ["lambda:CreateFunction", "lambda:InvokeFunction", "iam:PassRole"],
      "Resource": "*"
    }
  ]
}
"#;

const TF: &str = r#"resource "aws_iam_role" "app" {
  name = "app"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}
"#;

/// A repository on `main` with `base` policy content, and a `feature` commit with `head`.
fn repo(base: &str, head: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    git(r, &["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(r.join("iam")).unwrap();
    std::fs::write(r.join("iam/deploy.json"), base).unwrap();
    std::fs::write(r.join("iam/app.tf"), TF).unwrap();
    std::fs::write(r.join("README.md"), "infra\n").unwrap();
    git(r, &["add", "."]);
    git(r, &["commit", "-q", "-m", "base"]);
    let base_sha = git(r, &["rev-parse", "HEAD"]);
    git(r, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(r.join("iam/deploy.json"), head).unwrap();
    git(r, &["commit", "-q", "--allow-empty", "-am", "change the deploy policy"]);
    (dir, base_sha)
}

#[test]
fn widening_pull_request_fails_with_outputs_summary_sarif_and_annotations() {
    let (dir, base) = repo(NARROW, WIDE);
    let run = run_action(dir.path(), &base, &[("install", "none"), ("paths", "iam")]);
    assert_eq!(run.status, 1, "the gate fails the job:\n{}", run.stdout);
    // No `threshold` input: off, as documented, not the CLI's default of 5.
    assert!(run.stdout.contains(" --no-threshold"), "{}", run.stdout);
    assert_eq!(run.outputs["max-score"], "9", "{:?}", run.outputs);
    assert!(run.outputs["risk-delta"].parse::<i32>().unwrap() > 0, "{:?}", run.outputs);
    assert!(run.outputs["new-findings"].parse::<u32>().unwrap() >= 1);
    assert_eq!(run.outputs["failed"], "true");
    assert_eq!(run.outputs["sarif-file"], "iam-risk-score.sarif");
    // Annotations on the changed lines: the new statement starts at line 10.
    assert!(
        run.stdout.contains("::error file=iam/deploy.json,line=10,title=PE002 passrole-escalation"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("::error title=iam-risk-score::IAM policy risk gate failed"));
    // The job summary: a table of changed policies with old -> new, and the new findings.
    assert!(run.summary.contains("## IAM policy risk"), "{}", run.summary);
    assert!(run.summary.contains("❌ Failed"));
    assert!(
        run.summary.contains("| `iam/deploy.json:1` | modified | 1/10 → 🔴 9/10 high | **+8** |"),
        "{}",
        run.summary
    );
    assert!(run.summary.contains("PE002 passrole-escalation"));
    assert!(run.summary.contains("<details>"));
    assert!(!run.summary.contains("app.tf"), "unchanged policies are not in the table");
    // SARIF for upload-sarif: the new finding, at its statement, marked new.
    let sarif = run.sarif.expect("SARIF written");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let pe002 = results.iter().find(|r| r["ruleId"] == "PE002").expect("PE002 in SARIF");
    assert_eq!(pe002["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "iam/deploy.json");
    assert_eq!(pe002["locations"][0]["physicalLocation"]["region"]["startLine"], 10);
    assert_eq!(pe002["baselineState"], "new");
}

#[test]
fn narrowing_pull_request_passes() {
    let (dir, base) = repo(WIDE, NARROW);
    let run = run_action(
        dir.path(),
        &base,
        &[("install", "none"), ("threshold", "7"), ("formats", "summary,annotations,sarif,json")],
    );
    assert_eq!(run.status, 0, "{}", run.stdout);
    assert_eq!(run.outputs["failed"], "false");
    assert_eq!(run.outputs["new-findings"], "0");
    assert!(run.outputs["risk-delta"].parse::<i32>().unwrap() < 0, "{:?}", run.outputs);
    assert_eq!(run.outputs["max-score"], "1");
    assert!(run.summary.contains("✅ Passed"), "{}", run.summary);
    assert!(run.summary.contains("Resolved findings"));
    assert!(!run.stdout.contains("::error"), "{}", run.stdout);
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("iam-risk-score.json")).unwrap()).unwrap();
    let deploy = json["results"].as_array().unwrap().iter().find(|r| r["file"] == "iam/deploy.json").unwrap();
    assert_eq!(deploy["status"], "modified");
    assert!(deploy["resolved_findings"].as_array().unwrap().iter().any(|f| f["rule"] == "PE002"));
}

#[test]
fn bad_inputs_are_refused_not_executed() {
    let (dir, base) = repo(NARROW, NARROW);
    let marker = dir.path().join("pwned");
    let evil = format!("7; touch {}", marker.display());
    let run = run_action(dir.path(), &base, &[("install", "none"), ("threshold", &evil)]);
    assert_eq!(run.status, 2, "{}", run.stdout);
    assert!(run.stdout.contains("threshold must be a number from 1 to 10"));
    let run = run_action(dir.path(), &base, &[("install", "none"), ("paths", "$(touch pwned) iam")]);
    assert!(!marker.exists() && !dir.path().join("pwned").exists());
    assert_eq!(run.status, 2, "a path that does not exist is an error: {}", run.stdout);
}

// ---------------------------------------------------------------------------------------------
// The default install path (`install: release`): a release archive made by the release
// workflow's own packaging script (scripts/package-cli.sh), served over HTTP from this test.
// ---------------------------------------------------------------------------------------------

/// Serve the files under `root` over HTTP on 127.0.0.1 until the test process ends (GET only,
/// no `..`), returning the base URL. Enough for curl; a real server is not the point here.
fn serve(root: PathBuf) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut header = String::new();
                match reader.read_line(&mut header) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if header == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            let target = request.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
            let file = (!target.split('/').any(|part| part == "..")).then(|| root.join(&target));
            let response = match file.and_then(|f| std::fs::read(f).ok()) {
                Some(body) => {
                    let mut r =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
                            .into_bytes();
                    r.extend(body);
                    r
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    url
}

const HOST_TARGET: &str = "x86_64-unknown-linux-gnu";

/// A release directory `v<version>/` with the debug CLI packaged for [`HOST_TARGET`] by
/// scripts/package-cli.sh, as the release workflow packages each target.
fn release_dir() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    let out = dir.path().join(&version);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/package-cli.sh");
    let o = Command::new("bash")
        .arg(script)
        .args(["--binary", env!("CARGO_BIN_EXE_iam-risk-score"), "--target", HOST_TARGET, "--version", &version])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "package-cli.sh: {}", String::from_utf8_lossy(&o.stderr));
    let name = format!("iam-risk-score-{version}-{HOST_TARGET}");
    let checksum = std::fs::read_to_string(out.join(format!("{name}.tar.gz.sha256"))).unwrap();
    assert!(checksum.ends_with(&format!("  {name}.tar.gz\n")), "sha256sum format: {checksum}");
    // The archive holds what the release notes promise: binary, licences, completions, man pages.
    let listing = Command::new("tar").arg("-tzf").arg(out.join(format!("{name}.tar.gz"))).output().unwrap();
    let listing = String::from_utf8(listing.stdout).unwrap();
    for member in [
        "iam-risk-score",
        "LICENSE",
        "LICENSE-iam-data.txt",
        "README.md",
        "completions/iam-risk-score.bash",
        "completions/_iam-risk-score",
        "completions/iam-risk-score.fish",
        "man/man1/iam-risk-score.1",
        "man/man1/iam-risk-score-scan.1",
        "man/man1/iam-risk-score-write-policy.1",
    ] {
        assert!(listing.lines().any(|l| l == format!("{name}/{member}")), "{member} not in the archive:\n{listing}");
    }
    (dir, name)
}

#[test]
fn default_install_downloads_the_release_archive_verifies_it_and_gates() {
    let (release, _) = release_dir();
    let url = serve(release.path().to_path_buf());
    let (dir, base) = repo(NARROW, WIDE);
    // No `install` input: the default. The debug CLI is not on PATH; only the download can run.
    let run = run_action_on(
        dir.path(),
        &base,
        &[("paths", "iam"), ("release-url", &url), ("target", HOST_TARGET)],
        &[],
        false,
    );
    assert!(run.stdout.contains("(verified)"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("iam-risk-score {}", env!("CARGO_PKG_VERSION"))), "{}", run.stdout);
    assert_eq!(run.status, 1, "installed, scanned and gated:\n{}", run.stdout);
    assert_eq!(run.outputs["max-score"], "9", "{:?}", run.outputs);
    assert!(run.summary.contains("PE002 passrole-escalation"), "{}", run.summary);
}

#[test]
fn a_tampered_archive_is_not_installed() {
    let (release, name) = release_dir();
    let archive = release.path().join(format!("v{}/{name}.tar.gz", env!("CARGO_PKG_VERSION")));
    let mut bytes = std::fs::read(&archive).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&archive, bytes).unwrap();
    let url = serve(release.path().to_path_buf());
    let (dir, base) = repo(NARROW, WIDE);
    let run = run_action_on(dir.path(), &base, &[("release-url", &url), ("target", HOST_TARGET)], &[], false);
    assert_eq!(run.status, 2, "{}", run.stdout);
    assert!(run.stdout.contains("checksum mismatch"), "{}", run.stdout);
    assert!(run.stdout.contains("nothing was installed"), "{}", run.stdout);
    assert_eq!(run.outputs["max-score"], "", "the scan step never ran: {:?}", run.outputs);
}

#[test]
fn the_runner_picks_its_archive_and_a_missing_release_says_how_to_build() {
    let url = serve(tempfile::tempdir().unwrap().keep());
    let (dir, base) = repo(NARROW, NARROW);
    let version = env!("CARGO_PKG_VERSION");
    for (os, arch, target) in [
        ("Linux", "X64", "x86_64-unknown-linux-musl.tar.gz"),
        ("Linux", "ARM64", "aarch64-unknown-linux-musl.tar.gz"),
        ("macOS", "ARM64", "aarch64-apple-darwin.tar.gz"),
        ("Windows", "X64", "x86_64-pc-windows-msvc.zip"),
    ] {
        let run = run_action_on(
            dir.path(),
            &base,
            &[("release-url", &url)],
            &[("RUNNER_OS", os), ("RUNNER_ARCH", arch)],
            false,
        );
        assert_eq!(run.status, 2, "{os}/{arch}: {}", run.stdout);
        let want = format!("could not download {url}/v{version}/iam-risk-score-v{version}-{target}");
        assert!(run.stdout.contains(&want), "{os}/{arch}: {}", run.stdout);
        assert!(run.stdout.contains("`install: cargo` builds from the action's source"), "{}", run.stdout);
    }
    // An input that is not a version or a URL is refused before anything is fetched.
    let run = run_action_on(dir.path(), &base, &[("version", "1; rm -rf /")], &[], false);
    assert_eq!(run.status, 2, "{}", run.stdout);
    assert!(run.stdout.contains("version must look like 0.2.0"), "{}", run.stdout);
    let run = run_action_on(dir.path(), &base, &[("release-url", "file:///etc")], &[], false);
    assert_eq!(run.status, 2, "{}", run.stdout);
    assert!(run.stdout.contains("release-url must be an http(s) URL"), "{}", run.stdout);
}
