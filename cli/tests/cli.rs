//! The `iam-risk-score` command line end to end: exit codes, error messages, every output
//! format and subcommand, driven in-process through `risk_cli::run_with` and, where the
//! process matters (environment, pipes, terminals), through the real binary.

use risk_cli::{run_with, Io};
use serde_json::Value;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};

// ---------------------------------------------------------------------------------------------
// Helpers.

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

fn run_full(args: &[&str], stdin: &[u8], tty: bool) -> Out {
    let argv: Vec<OsString> =
        std::iter::once("iam-risk-score").chain(args.iter().copied()).map(OsString::from).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input = stdin;
    let code = run_with(argv, &mut Io { stdout: &mut out, stderr: &mut err, stdin: &mut input, stdout_is_tty: tty });
    Out {
        code,
        stdout: String::from_utf8(out).expect("stdout is UTF-8"),
        stderr: String::from_utf8(err).expect("stderr is UTF-8"),
    }
}

/// Run in-process with empty stdin, stdout not a terminal.
fn run(args: &[&str]) -> Out {
    run_full(args, b"", false)
}

/// The real binary, with a clean colour/API environment plus `env`.
fn binary(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-risk-score"));
    cmd.args(args)
        .env_remove("NO_COLOR")
        .env_remove("GITHUB_OUTPUT")
        .env_remove("IAM_RISK_SCORE_API_URL")
        .env_remove("IAM_RISK_SCORE_API_KEY")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("run the binary");
    Out {
        code: o.status.code().expect("exit code"),
        stdout: String::from_utf8(o.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(o.stderr).expect("stderr is UTF-8"),
    }
}

const ADMIN: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#;

const BENIGN: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/2026/*"}
  ]
}
"#;

/// Statement 0 starts on line 4, statement 1 on line 5, statement 2 on line 11.
const MIXED: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"},
    {
      "Sid": "PassAnyRole",
      "Effect": "Allow",
      "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"],
      "Resource": "*"
    },
    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
  ]
}
"#;

const MIXED_LINES: [u64; 3] = [4, 5, 11];

const WRITE: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "arn:aws:s3:::uploads/*"}]}"#;

const PASSROLE: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*"}]}"#;

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        Files { dir: tempfile::tempdir().expect("temp dir") }
    }
    fn write(&self, name: &str, text: impl AsRef<[u8]>) -> String {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }
}

fn score_of(text: &str) -> u8 {
    risk_core::score_json(text, &Default::default()).expect("test policy scores").score
}

fn has_ansi(s: &str) -> bool {
    s.contains("\x1b[")
}

// ---------------------------------------------------------------------------------------------
// Exit codes and the threshold.

#[test]
fn exit_codes_follow_the_threshold() {
    let f = Files::new();
    let (admin, benign) = (f.write("admin.json", ADMIN), f.write("benign.json", BENIGN));
    assert_eq!(score_of(ADMIN), 10);
    let low = score_of(BENIGN);
    assert!(low <= 3, "benign policy scored {low}");

    let r = run(&[&benign]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert_eq!(run(&[&admin]).code, 1);
    // Several files: one at or above the threshold is enough for 1.
    assert_eq!(run(&[&benign, &admin]).code, 1);
}

#[test]
fn threshold_edge_is_at_or_above() {
    let f = Files::new();
    let p = f.write("passrole.json", PASSROLE);
    let s = score_of(PASSROLE);
    assert!((2..=10).contains(&s), "passrole scored {s}");
    let at = s.to_string();
    assert_eq!(run(&["--threshold", &at, &p]).code, 1, "score {s} at threshold {s} fails");
    if s < 10 {
        assert_eq!(run(&["--threshold", &(s + 1).to_string(), &p]).code, 0, "score {s} below threshold {}", s + 1);
    }
    assert_eq!(run(&["--threshold", &(s - 1).to_string(), &p]).code, 1);
    // The extremes of the allowed range.
    assert_eq!(run(&["--threshold", "1", &p]).code, 1);
    assert_eq!(run(&["--threshold", "10", &f.write("b.json", BENIGN)]).code, 0);
}

#[test]
fn threshold_out_of_range_is_bad_input() {
    let f = Files::new();
    let p = f.write("b.json", BENIGN);
    for t in ["11", "0", "-1", "five"] {
        let r = run(&["--threshold", t, &p]);
        assert_eq!(r.code, 2, "--threshold {t}: {}", r.stderr);
        assert!(r.stderr.contains("threshold") || r.stderr.contains(t), "--threshold {t}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input: exit 2 and a message that says where.

fn bad(text: impl AsRef<[u8]>) -> Out {
    let f = Files::new();
    let p = f.write("policy.json", text);
    let r = run(&[&p]);
    assert_eq!(r.code, 2, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(r.stderr.contains("policy.json"), "message names the file: {}", r.stderr);
    r
}

#[test]
fn malformed_json_is_bad_input() {
    let r = bad("{\"Version\": \"2012-10-17\", \"Statement\": [");
    assert!(r.stderr.contains("ends unexpectedly"), "{}", r.stderr);
    let r = bad("{\"Statement\": [}]}");
    assert!(r.stderr.contains("not valid JSON"), "{}", r.stderr);
    let r = bad("");
    assert!(r.stderr.contains("ends unexpectedly"), "{}", r.stderr);
}

#[test]
fn duplicate_keys_and_deep_nesting_are_bad_input() {
    let r = bad("{\"Version\": \"2012-10-17\",\n \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\",\n  \"Resource\": \"*\", \"Action\": \"*\"}}");
    assert!(
        r.stderr.contains(
            "Statement.Action has the key `Action` twice in one object, at line 2 column 35 and again at line 3 column 20"
        ),
        "{}",
        r.stderr
    );
    let r = bad("{\"Version\": \"2012-10-17\", \"Version\": \"2008-10-17\", \"Statement\": []}");
    assert!(r.stderr.contains("Version has the key `Version` twice"), "{}", r.stderr);
    let r = bad(format!("{{\"Statement\": {}{}}}", "[".repeat(300), "]".repeat(300)));
    assert!(r.stderr.contains("the policy nests more than 128 levels deep (recursion limit exceeded"), "{}", r.stderr);
    // Condition keys are case-insensitive in IAM: two spellings of one key are ambiguous too.
    let r = bad(r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1", "aws:sourcevpc": "vpc-2"}}}]}"#);
    assert!(r.stderr.contains("repeats the condition key"), "{}", r.stderr);
}

#[test]
fn wrong_shapes_name_the_json_path() {
    let cases = [
        (r#"[]"#, "a policy must be a JSON object"),
        (r#"{"Statement": "Allow"}"#, "Statement must be an object or an array of objects"),
        (r#"{"Statement": [1]}"#, "Statement[0] must be an object"),
        (r#"{"Statement": []}"#, ""),
        (
            r#"{"Statement": [{"Effect": "Allow", "Action": 7, "Resource": "*"}]}"#,
            "Statement[0].Action must be a string or an array of strings",
        ),
        (
            r#"{"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", null], "Resource": "*"}]}"#,
            "Statement[0].Action[1] must be a string",
        ),
        (r#"{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}"#, "Resource"),
        (r#"{"Version": "2012-10-18", "Statement": []}"#, "Version must be"),
        (r#"{"PolicyDocument": {}}"#, "pass the value of `PolicyDocument` itself"),
        (
            r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": "yes"}]}"#,
            "Statement[0].Condition must be an object",
        ),
    ];
    for (text, want) in cases {
        let f = Files::new();
        let p = f.write("policy.json", text);
        let r = run(&[&p]);
        if want.is_empty() {
            // An empty statement list: either a clear error or a (harmless) score; never a crash.
            assert!(r.code == 2 || r.code == 0, "{text}: exit {} {}", r.code, r.stderr);
            continue;
        }
        assert_eq!(r.code, 2, "{text}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(want), "{text}: want `{want}` in:\n{}", r.stderr);
    }
}

#[test]
fn effect_error_names_statement_index_and_value() {
    let text = r#"{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "allow ", "Action": "s3:GetObject", "Resource": "*"}]}"#;
    let r = bad(text);
    assert!(r.stderr.contains(r#"Statement[2].Effect must be "Allow" or "Deny", got "allow ""#), "{}", r.stderr);
    // The JSON error object carries the same problem with its path.
    let f = Files::new();
    let p = f.write("p.json", text);
    let r = run(&["--format", "json", &p]);
    assert_eq!(r.code, 2);
    let v = r.json();
    let details = v["error"]["details"].as_array().expect("details");
    assert!(details.iter().any(|d| d["path"] == "Statement[2].Effect"), "{v:#}");
}

#[test]
fn missing_file_is_bad_input() {
    let f = Files::new();
    let p = f.path("nope.json");
    let r = run(&[&p]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("policy file not found") && r.stderr.contains("nope.json"), "{}", r.stderr);
}

#[test]
fn non_utf8_file_is_bad_input() {
    let r = bad(b"{\"Statement\": \"\xff\xfe\"}".as_slice());
    assert!(r.stderr.contains("not UTF-8"), "{}", r.stderr);
}

#[test]
fn file_over_one_mib_is_bad_input() {
    // Valid JSON just over the limit, so only the size can be the reason.
    let mut text = String::from("{\"Id\": \"");
    text.push_str(&"x".repeat(risk_cli::MAX_INPUT_BYTES as usize));
    text.push_str("\", \"Statement\": []}");
    let r = bad(text);
    assert!(r.stderr.contains("larger than 1024 KiB"), "{}", r.stderr);
    // Exactly at the limit is read (and then judged on its content).
    let mut text = String::from(BENIGN.trim_end());
    text.push_str(&" ".repeat(risk_cli::MAX_INPUT_BYTES as usize - text.len()));
    let f = Files::new();
    let r = run(&[&f.write("at-limit.json", text)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn stdin_is_read_once() {
    let r = run_full(&["--format", "json", "-"], BENIGN.as_bytes(), false);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["score"], score_of(BENIGN));
    let r = run_full(&["-", "-"], BENIGN.as_bytes(), false);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("more than once"), "{}", r.stderr);
}

#[test]
fn unknown_sensitive_service_is_bad_input() {
    let f = Files::new();
    let p = f.write("b.json", BENIGN);
    let r = run(&["--sensitive-service", "nosuchservice", &p]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown service `nosuchservice`"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    // A real one is accepted.
    assert_ne!(run(&["--sensitive-service", "s3", &p]).code, 2);
    let r = run(&["--high-impact-action", "s3:NoSuchThing", &p]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("s3:NoSuchThing"), "{}", r.stderr);
}

#[test]
fn directory_with_good_and_bad_files_reports_every_good_one() {
    let f = Files::new();
    f.write("pol/a-benign.json", BENIGN);
    f.write("pol/b-broken.json", "{\"Statement\": [");
    f.write("pol/nested/c-admin.json", ADMIN);
    f.write("pol/d-bad-effect.json", r#"{"Statement": [{"Effect": "Permit", "Action": "*", "Resource": "*"}]}"#);
    f.write("pol/notes.txt", "not a policy");
    f.write("pol/.hidden.json", "{");
    let dir = f.path("pol");

    let r = run(&["--format", "json", &dir]);
    assert_eq!(r.code, 2, "bad files make the run exit 2: {}", r.stderr);
    let v = r.json();
    let items = v.as_array().expect("a directory gives an array");
    let files: Vec<&str> = items.iter().map(|i| i["file"].as_str().unwrap()).collect();
    assert_eq!(files.len(), 4, "{files:?}");
    assert!(files[0].ends_with("a-benign.json") && files[1].ends_with("b-broken.json"), "{files:?}");
    let by = |suffix: &str| items.iter().find(|i| i["file"].as_str().unwrap().ends_with(suffix)).unwrap();
    assert_eq!(by("a-benign.json")["result"]["score"], score_of(BENIGN));
    assert_eq!(by("c-admin.json")["result"]["score"], 10);
    assert!(by("b-broken.json")["error"]["message"].as_str().unwrap().contains("ends unexpectedly"));
    assert!(by("d-bad-effect.json")["error"]["message"].as_str().unwrap().contains("Statement[0].Effect"));
    for i in items {
        assert!(i.get("result").is_some() != i.get("error").is_some(), "exactly one of result/error: {i}");
    }
    // Each bad file is named on standard error.
    assert!(r.stderr.contains("b-broken.json") && r.stderr.contains("d-bad-effect.json"), "{}", r.stderr);

    // Human output still shows the good ones.
    let r = run(&[&dir]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("a-benign.json") && r.stdout.contains("c-admin.json"), "{}", r.stdout);
    assert!(r.stdout.contains("10/10"), "{}", r.stdout);
}

// ---------------------------------------------------------------------------------------------
// Output formats.

#[test]
fn json_single_file_is_one_v1_object() {
    let f = Files::new();
    let p = f.write("mixed.json", MIXED);
    let r = run(&["--format", "json", &p]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    let obj = v.as_object().expect("one object");
    for key in [
        "score",
        "tier",
        "would_auto_approve_at_threshold_5",
        "factors",
        "suggestions",
        "llm_narrative",
        "analyzer",
        "policy_fingerprint",
        "findings",
        "categories",
        "access_summary",
        "versions",
    ] {
        assert!(obj.contains_key(key), "missing `{key}` in {v:#}");
    }
    assert!(v["score"].as_u64().unwrap() >= 6);
    assert_eq!(v["tier"], "high");
    assert_eq!(v["would_auto_approve_at_threshold_5"], false);
    assert_eq!(v["analyzer"], "deterministic");
    assert!(v["llm_narrative"].is_null());
    let fp = v["policy_fingerprint"].as_str().unwrap();
    assert!(fp.starts_with("sha256:") && fp.len() == 7 + 64, "{fp}");
    assert!(v["versions"]["catalog"].is_string() && v["versions"]["rules"].is_string());
    let f0 = &v["findings"][0];
    for key in
        ["rule", "name", "category", "severity", "statement", "sid", "actions", "resources", "message", "suggestion"]
    {
        assert!(f0.get(key).is_some(), "finding lacks `{key}`: {f0:#}");
    }
    assert!(v["findings"].as_array().unwrap().iter().any(|f| f["rule"] == "PE002" && f["sid"] == "PassAnyRole"));
    assert!(v["categories"]["privilege-escalation"].is_object());
    // Exactly what the library says.
    let lib = serde_json::to_value(risk_core::score_json(MIXED, &Default::default()).unwrap()).unwrap();
    assert_eq!(v, lib);
}

#[test]
fn json_several_files_is_an_array_of_file_and_result_or_error() {
    let f = Files::new();
    let (a, b, c) = (f.write("a.json", BENIGN), f.write("b.json", ADMIN), f.write("c.json", "{"));
    let r = run(&["--format", "json", &a, &b, &c]);
    assert_eq!(r.code, 2);
    let v = r.json();
    let items = v.as_array().expect("array");
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["file"], a.as_str());
    assert_eq!(items[0]["result"]["score"], score_of(BENIGN));
    assert_eq!(items[1]["result"]["score"], 10);
    assert_eq!(items[2]["file"], c.as_str());
    assert!(items[2]["error"]["message"].is_string());
    // Two good files: exit from the scores.
    let r = run(&["--format", "json", &a, &b]);
    assert_eq!(r.code, 1);
    assert_eq!(r.json().as_array().unwrap().len(), 2);
}

#[test]
fn sarif_has_rules_with_help_and_results_at_statement_lines() {
    let f = Files::new();
    let p = f.write("mixed.json", MIXED);
    let r = run(&["--format", "sarif", &p]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["version"], "2.1.0");
    let run0 = &v["runs"][0];
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), risk_core::explain::rule_docs().len());
    for rule in rules {
        assert!(rule["id"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(rule["help"]["text"].as_str().is_some_and(|s| s.len() > 20), "{rule:#}");
        assert!(rule["help"]["markdown"].is_string());
        assert!(rule["shortDescription"]["text"].is_string());
    }
    let findings = risk_core::score_json(MIXED, &Default::default()).unwrap().findings;
    let results = run0["results"].as_array().unwrap();
    assert_eq!(results.len(), findings.len());
    for (res, fnd) in results.iter().zip(&findings) {
        assert_eq!(res["ruleId"], fnd.rule.as_str());
        let level = res["level"].as_str().unwrap();
        assert!(["note", "warning", "error"].contains(&level), "{level}");
        let loc = &res["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"].as_str().unwrap().ends_with("mixed.json"));
        let want = fnd.statement.map(|i| MIXED_LINES[i]).unwrap_or(1);
        assert_eq!(loc["region"]["startLine"], want, "{} on statement {:?}", fnd.rule, fnd.statement);
        let idx = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], fnd.rule.as_str());
    }
    assert!(results.iter().any(|r| r["ruleId"] == "PE002"
        && r["locations"][0]["physicalLocation"]["region"]["startLine"] == 5
        && r["level"] == "error"));
}

#[test]
fn github_format_writes_step_outputs_and_annotations() {
    let f = Files::new();
    let p = f.write("mixed.json", MIXED);
    let out = f.write("github_output", "previous=1\n");
    let r = binary(&["--format", "github", &p], &[("GITHUB_OUTPUT", &out)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = risk_core::score_json(MIXED, &Default::default()).unwrap();
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.starts_with("previous=1\n"), "appends: {written}");
    assert!(written.contains(&format!("score={}\n", report.score)), "{written}");
    assert!(written.contains(&format!("tier={}\n", report.tier)), "{written}");
    assert!(written.contains("would_auto_approve=false\n"), "{written}");
    assert!(written.contains(&format!("policy_fingerprint={}\n", report.policy_fingerprint)), "{written}");

    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("::error file=") && lines[0].contains("Score "), "{}", r.stdout);
    let pe002 = lines.iter().find(|l| l.contains("title=PE002")).unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(pe002.starts_with(&format!("::error file={p},line=5,")), "{pe002}");
    let secret = report.findings.iter().find(|f| f.statement == Some(2) && f.score >= 4).expect("secret finding");
    let l = lines.iter().find(|l| l.contains(&format!("title={}", secret.rule))).unwrap();
    assert!(l.contains(",line=11,"), "{l}");
    for l in &lines {
        assert!(l.starts_with("::error ") || l.starts_with("::warning ") || l.starts_with("::notice "), "{l}");
    }
}

#[test]
fn github_format_on_bad_input_annotates_the_file() {
    let f = Files::new();
    let p = f.write("broken.json", "{");
    let r = run(&["--format", "github", &p]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.starts_with(&format!("::error file={p},title=IAM policy could not be scored::")), "{}", r.stdout);
}

#[test]
fn markdown_is_a_table() {
    let f = Files::new();
    let (a, b) = (f.write("a.json", BENIGN), f.write("b.json", MIXED));
    let r = run(&["--format", "markdown", &a, &b]);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout.contains("| Policy | Score | Tier | Result | Top finding |\n|---|---|---|---|---|\n"),
        "{}",
        r.stdout
    );
    let row = r.stdout.lines().find(|l| l.contains("a.json")).unwrap();
    assert!(row.starts_with("| `") && row.contains(&format!("| {}/10 | low | pass |", score_of(BENIGN))), "{row}");
    let row = r.stdout.lines().find(|l| l.contains("b.json`")).unwrap();
    assert!(row.contains("| high | **fail** |"), "{row}");
    assert!(r.stdout.contains("<details>") && r.stdout.contains("PE002"), "{}", r.stdout);
}

#[test]
fn human_output_colours_only_on_a_terminal_or_when_asked() {
    let f = Files::new();
    let p = f.write("mixed.json", MIXED);
    let plain = run(&[&p]);
    assert!(!has_ansi(&plain.stdout), "{}", plain.stdout);
    assert!(plain.stdout.contains("IAM Policy Risk Score") && plain.stdout.contains("Findings:"), "{}", plain.stdout);
    assert!(plain.stdout.contains("PE002"), "{}", plain.stdout);
    assert!(plain.stdout.contains("line 5"), "{}", plain.stdout);
    let always = run(&["--color", "always", &p]);
    assert!(has_ansi(&always.stdout));
    let never = run_full(&["--color", "never", &p], b"", true);
    assert!(!has_ansi(&never.stdout));
    if std::env::var_os("NO_COLOR").is_none() {
        assert!(has_ansi(&run_full(&[&p], b"", true).stdout), "auto on a terminal colours");
    }
}

#[test]
fn binary_is_plain_in_a_pipe_and_under_no_color() {
    let f = Files::new();
    let p = f.write("mixed.json", MIXED);
    let piped = binary(&[&p], &[]);
    assert_eq!(piped.code, 1);
    assert!(!has_ansi(&piped.stdout) && piped.stdout.contains("IAM Policy Risk Score"), "{}", piped.stdout);
    assert!(has_ansi(&binary(&["--color", "always", &p], &[]).stdout));

    // On a real terminal (a pty from util-linux `script`, where present): colour unless NO_COLOR.
    let script = Path::new("/usr/bin/script");
    if !script.exists() {
        return;
    }
    let exe = env!("CARGO_BIN_EXE_iam-risk-score");
    let on_tty = |no_color: Option<&str>| {
        let mut cmd = Command::new(script);
        cmd.args(["-qec", &format!("{exe} {p}"), "/dev/null"]).env_remove("NO_COLOR").stdin(Stdio::null());
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let o = cmd.output().expect("run script");
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let (code, out) = on_tty(None);
    if !out.contains("IAM Policy Risk Score") {
        return; // `script` could not allocate a terminal here.
    }
    assert_eq!(code, Some(1));
    assert!(has_ansi(&out), "a terminal gets colour:\n{out}");
    let (_, out) = on_tty(Some("1"));
    assert!(!has_ansi(&out), "NO_COLOR=1 on a terminal is plain:\n{out}");
}

// ---------------------------------------------------------------------------------------------
// Subcommands.

#[test]
fn explain_rule_pattern_and_unknown() {
    let r = run(&["explain", "PE002"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("PE002 passrole-escalation"), "{}", r.stdout);
    for section in ["What it flags", "Why it is risky", "Example", "Safer alternative"] {
        assert!(r.stdout.contains(section), "{section}: {}", r.stdout);
    }
    assert_eq!(run(&["explain", "passrole-escalation"]).stdout, r.stdout);

    let r = run(&["explain", "s3:Get*"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("s3:Get* expands to "), "{}", r.stdout);
    assert!(r.stdout.contains("GetObject") && r.stdout.contains("Read ("), "{}", r.stdout);
    let j = run(&["explain", "--format", "json", "s3:Get*"]).json();
    assert_eq!(j["kind"], "pattern");
    let mut set = risk_core::actions::ActionSet::empty();
    risk_core::actions::expand_into("s3:Get*", &mut set).unwrap();
    assert_eq!(j["total"], set.len());

    let r = run(&["explain", "nosuch"]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("`nosuch`"), "{}", r.stderr);
    let r = run(&["explain", "s3:GetObjectz"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("did you mean `s3:GetObject`"), "{}", r.stderr);
}

#[test]
fn rules_json_lists_every_rule_once() {
    let r = run(&["rules", "--format", "json"]);
    assert_eq!(r.code, 0);
    let v = r.json();
    let codes: Vec<&str> = v.as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    let mut unique = codes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), codes.len(), "duplicate codes in {codes:?}");
    let registry: Vec<&str> = risk_core::rules::REGISTRY.iter().map(|r| r.meta().code).collect();
    assert_eq!(codes, registry);
    for d in v.as_array().unwrap() {
        for key in ["name", "category", "summary", "what", "why", "example", "safer"] {
            assert!(d[key].as_str().is_some_and(|s| !s.is_empty()), "{} lacks {key}", d["code"]);
        }
    }
    // Human listing: one line per rule.
    let r = run(&["rules"]);
    assert_eq!(r.stdout.lines().count(), codes.len());
}

#[test]
fn catalog_json_reports_size_and_provenance() {
    let r = run(&["catalog", "--format", "json"]);
    assert_eq!(r.code, 0);
    let v = r.json();
    assert_eq!(v["services"], 456);
    assert_eq!(v["actions"], 22091);
    assert!(v["source"].as_str().is_some_and(|s| s.contains("iam-data")), "{v}");
    assert!(v["version"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
    assert!(run(&["catalog"]).stdout.contains("456 services, 22091 actions"));
}

#[test]
fn help_and_version_exit_zero() {
    let r = run(&["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("Exit codes") && r.stdout.contains("--threshold"), "{}", r.stdout);
    let r = run(&["--version"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains(risk_core::ENGINE_VERSION));
    let r = run(&[]);
    assert_eq!(r.code, 2, "no policy file is bad input");
    let r = run(&["--no-such-flag", "x.json"]);
    assert_eq!(r.code, 2);
}

// ---------------------------------------------------------------------------------------------
// Request context and configuration.

#[test]
fn read_only_request_on_a_write_policy_is_cx001() {
    let f = Files::new();
    let p = f.write("write.json", WRITE);
    let plain = run(&["--format", "json", &p]).json();
    assert!(!plain["findings"].as_array().unwrap().iter().any(|f| f["rule"] == "CX001"));
    let r = run(&["--format", "json", "--access-type", "read-only", &p]);
    let v = r.json();
    assert!(v["findings"].as_array().unwrap().iter().any(|f| f["rule"] == "CX001"), "{v:#}");
    assert_eq!(v["context"]["access_type"], "read-only");
    assert!(v["score"].as_u64() >= plain["score"].as_u64());
    // read-write: no mismatch.
    let v = run(&["--format", "json", "--access-type", "read-write", &p]).json();
    assert!(!v["findings"].as_array().unwrap().iter().any(|f| f["rule"] == "CX001"));
    assert_eq!(run(&["--access-type", "write-only", &p]).code, 2);
}

#[test]
fn long_duration_raises_a_high_score() {
    let f = Files::new();
    let p = f.write("passrole.json", PASSROLE);
    let base = run(&["--format", "json", &p]).json()["score"].as_u64().unwrap();
    assert!(base >= 6, "base {base}");
    let long = run(&["--format", "json", "--duration-hours", "720", &p]).json();
    let raised = long["score"].as_u64().unwrap();
    assert!(raised > base || base == 10, "720 h: {base} -> {raised}");
    assert_eq!(long["context"]["duration_hours"], 720);
    assert!(long["factors"].as_array().unwrap().iter().any(|f| f.as_str().unwrap().contains("Duration 30+ days")));
    let short = run(&["--format", "json", "--duration-hours", "1", &p]).json();
    assert_eq!(short["score"].as_u64().unwrap(), base);
    assert_eq!(run(&["--duration-hours", "0", &p]).code, 2);
    assert_eq!(run(&["--duration-hours", "8761", &p]).code, 2);
}

#[test]
fn config_file_adds_org_context_and_rejects_unknown_keys() {
    let f = Files::new();
    let p = f.write("b.json", BENIGN);
    let good = f.write("org.json", r#"{"sensitive_services": ["s3"], "high_impact_actions": ["s3:GetObject"]}"#);
    let r = run(&["--format", "json", "--config", &good, &p]);
    assert_ne!(r.code, 2, "{}", r.stderr);
    let v = r.json();
    let rules: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert!(rules.contains(&"CX002") || rules.contains(&"CX003"), "{rules:?}");

    let unknown = f.write("typo.json", r#"{"sensitive_service": ["s3"]}"#);
    let r = run(&["--config", &unknown, &p]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("typo.json") && r.stderr.contains("sensitive_service"), "{}", r.stderr);
    let r = run(&["--config", &f.path("missing.json"), &p]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("missing.json"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// Remote mode.

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn unreachable_api_is_exit_3_and_offline_overrides_it() {
    let f = Files::new();
    let p = f.write("b.json", BENIGN);
    let url = format!("http://127.0.0.1:{}", closed_port());
    let r = run(&["--api", &url, "--timeout", "5", &p]);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("could not reach API") && r.stderr.contains("127.0.0.1"), "{}", r.stderr);
    let r = run(&["--api", &url, "--offline", &p]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The URL from the environment behaves like the flag.
    let r = binary(&["--timeout", "5", &p], &[("IAM_RISK_SCORE_API_URL", &url)]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let r = binary(&["--offline", &p], &[("IAM_RISK_SCORE_API_URL", &url)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Malformed JSON is the user's error even in remote mode: no network call, exit 2.
    let broken = f.write("broken.json", "{");
    assert_eq!(run(&["--api", &url, &broken]).code, 2);
    let r = run(&["--api", "ftp://example.invalid", &p]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// Drop-in for iam-risk-score 0.1.0.

#[test]
fn predecessor_flags_still_work() {
    let f = Files::new();
    let p = f.write("policy.json", PASSROLE);
    let args = [
        "--offline",
        &p,
        "--format",
        "json",
        "--access-type",
        "read-write",
        "--duration-hours",
        "4",
        "--description",
        "deploy the nightly batch job",
        "--threshold",
        "10",
        "--timeout",
        "30",
        "--api-key",
        "not-used-offline",
    ];
    let r = binary(&args, &[]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let v = r.json();
    for key in [
        "score",
        "tier",
        "would_auto_approve_at_threshold_5",
        "factors",
        "suggestions",
        "llm_narrative",
        "analyzer",
        "policy_fingerprint",
    ] {
        assert!(v.get(key).is_some(), "missing `{key}`");
    }
    let s = v["score"].as_u64().unwrap();
    assert_eq!(r.code, i32::from(s >= 10));
    assert_eq!(v["would_auto_approve_at_threshold_5"], s < 5);
    // The description never changes the score.
    let without = run(&["--offline", &p, "--format", "json"]).json();
    assert_eq!(without["score"], v["score"]);
    // Human output and stdin, as the predecessor's `iam-risk-score -`.
    let r = run_full(&["--offline", "-"], PASSROLE.as_bytes(), false);
    assert!(r.stdout.contains(&format!("Score:     {s}/10")), "{}", r.stdout);
}

// ---------------------------------------------------------------------------------------------
// Issue 10: hidden characters, YAML given to the scorer, `diff`'s default threshold.

/// A policy whose `Sid` and an (unknown) action carry U+202E RIGHT-TO-LEFT OVERRIDE, which
/// reverses how the rest of a line is displayed: the core's finding message quotes the action.
const BIDI: &str = "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Sid\": \"Read\u{202e}Only\", \"Effect\": \"Allow\", \"Action\": [\"iam:PassRole\", \"lambda:CreateFunction\", \"s3:Get\u{202e}Object\"], \"Resource\": \"*\"}]}";

#[test]
fn hidden_characters_are_escaped_in_every_human_facing_format() {
    let f = Files::new();
    let p = f.write("tricky\u{2066}name.json", BIDI);
    // Two files, so that the human output names each.
    let other = f.write("other.json", BENIGN);
    for format in ["human", "markdown", "github", "sarif"] {
        let r = run(&["--format", format, "--color", "always", &p, &other]);
        assert_eq!(r.code, 1, "{format}: {}", r.stderr);
        // SARIF: the texts shown to people; fingerprints and URIs are identifiers, not text.
        let shown = if format == "sarif" {
            let messages: Vec<String> = r.json()["runs"][0]["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|res| res["message"]["text"].as_str().unwrap().to_string())
                .collect();
            messages.join("\n")
        } else {
            r.stdout.clone()
        };
        for hidden in ['\u{202e}', '\u{2066}'] {
            assert!(!shown.contains(hidden), "{format} prints U+{:04X} raw:\n{shown}", hidden as u32);
        }
        assert!(shown.contains("s3:Get\\u{202e}Object"), "{format}: the quoted action is escaped:\n{shown}");
        if format != "sarif" {
            // SARIF's artifact location is a URI (percent-encoded), not text for a reader.
            assert!(shown.contains("tricky\\u{2066}name.json"), "{format}: the file name is escaped:\n{shown}");
        }
    }
    let human = run(&["--color", "always", &p]).stdout;
    assert!(human.contains("statement 0 (Read\\u{202e}Only)"), "{human}");
    assert!(has_ansi(&human), "our own colour codes stay");
    // JSON is data: exact.
    let v = run(&["--format", "json", &p]).json();
    assert!(v["findings"].as_array().unwrap().iter().any(|f| f["sid"] == "Read\u{202e}Only"));
    // Standard error too: a file that cannot be scored, named with a line break.
    let bad = f.write("bad\nname.json", "{\"Statement\": [");
    let r = run(&[&bad]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bad\\u{a}name.json"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
}

#[test]
fn a_yaml_policy_or_template_says_what_to_do() {
    let f = Files::new();
    let policy = f.write(
        "policy.yaml",
        "Version: '2012-10-17'\nStatement:\n  - Effect: Allow\n    Action: s3:GetObject\n    Resource: '*'\n",
    );
    let r = run(&[&policy]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not valid JSON"), "{}", r.stderr);
    assert!(r.stderr.contains("a policy written in YAML") && r.stderr.contains("yq -o=json"), "{}", r.stderr);
    let template = f.write(
        "stack.yaml",
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  P:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument:\n        Statement: []\n",
    );
    let r = run(&[&template]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("CloudFormation template") && r.stderr.contains("iam-risk-score scan"), "{}", r.stderr);
    // JSON with a mistake gets no YAML hint.
    let r = bad("{\"Statement\": [}]}");
    assert!(!r.stderr.contains("YAML"), "{}", r.stderr);
    // `diff` says the same.
    let benign = f.write("benign.json", BENIGN);
    let r = run(&["diff", &benign, &policy]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("a policy written in YAML"), "{}", r.stderr);
}

#[test]
fn diff_fails_at_the_scorers_default_threshold_unless_told_otherwise() {
    let f = Files::new();
    let (old, new) = (f.write("old.json", BENIGN), f.write("new.json", PASSROLE));
    assert!(score_of(PASSROLE) >= 5);
    assert_eq!(run(&["diff", &old, &new]).code, 1, "the new policy is at or above 5");
    assert_eq!(run(&["diff", &old, &new, "--no-threshold"]).code, 0);
    assert_eq!(run(&["diff", &old, &new, "--threshold", "10"]).code, 0);
    assert_eq!(run(&["diff", &new, &old]).code, 0, "the new policy is below 5");
    let r = run(&["diff", &old, &new, "--threshold", "6", "--no-threshold"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}
