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

/// Run the action's steps in `workspace` for a pull_request event from `base` to HEAD.
fn run_action(workspace: &Path, base_sha: &str, with: &[(&str, &str)]) -> Run {
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
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
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
            .env("RUNNER_OS", "Linux");
        for (k, v) in step.get("env").map(Node::entries).unwrap_or(&[]) {
            cmd.env(k, expand(v.as_str().unwrap_or(""), &inputs));
        }
        let out = cmd.output().unwrap();
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
