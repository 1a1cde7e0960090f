//! `iam-risk-score draft`: questions when the description leaves things out, a drafted policy
//! (stdout) and score (stderr) once the answers come from flags, `--answers FILE` or the
//! question loop, and `--format json` as `{"template", "policy", "report", "questions", …}`.

use risk_cli::{exit, run_with, Io};
use serde_json::Value;
use std::ffi::OsString;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_stdin(args: &[&str], stdin: &str) -> Out {
    let argv: Vec<OsString> =
        ["iam-risk-score", "draft"].into_iter().chain(args.iter().copied()).map(OsString::from).collect();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input = stdin.as_bytes();
    // No model, whatever the environment says: these tests pin the form flow.
    std::env::remove_var("IAM_RISK_SCORE_LLM_MODEL");
    let code = run_with(argv, &mut Io { stdout: &mut out, stderr: &mut err, stdin: &mut input, stdout_is_tty: false });
    Out { code, stdout: String::from_utf8(out).unwrap(), stderr: String::from_utf8(err).unwrap() }
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}):\n{s}"))
}

#[test]
fn without_answers_it_lists_the_questions_and_drafts_nothing() {
    let o = run_stdin(&["read the reports bucket in s3", "--no-input"], "");
    assert_eq!(o.code, exit::INCOMPLETE, "{}", o.stderr);
    assert!(o.stdout.is_empty());
    assert!(o.stderr.contains("question [resources:s3:read]"), "{}", o.stderr);
    assert!(o.stderr.contains("question [accounts]") && o.stderr.contains("question [duration]"), "{}", o.stderr);
}

#[test]
fn flags_complete_the_draft() {
    let o = run_stdin(
        &[
            "read the reports for the audit",
            "--read",
            "arn:aws:s3:::reports/*",
            "--account",
            "123456789012",
            "--hours",
            "4",
            "--no-input",
        ],
        "",
    );
    assert_eq!(o.code, exit::OK, "{}", o.stderr);
    let policy = json(&o.stdout);
    assert_eq!(policy["Statement"][0]["Resource"], serde_json::json!(["arn:aws:s3:::reports/*"]));
    assert!(o.stderr.contains("score: "), "{}", o.stderr);
    assert!(!o.stderr.contains("question ["), "{}", o.stderr);
}

#[test]
fn answers_file_and_json_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("answers.json");
    std::fs::write(
        &path,
        r#"{"resources:dynamodb:write": ["arn:aws:dynamodb:us-east-1:123456789012:table/orders"], "duration": "2d"}"#,
    )
    .unwrap();
    let o = run_stdin(
        &["update items in the dynamodb orders table", "--answers", path.to_str().unwrap(), "--format", "json"],
        "",
    );
    assert_eq!(o.code, exit::OK, "{}", o.stderr);
    let v = json(&o.stdout);
    for k in ["template", "policy", "report", "questions"] {
        assert!(v.get(k).is_some(), "missing {k}: {v}");
    }
    assert_eq!(v["template"]["write"], serde_json::json!(["arn:aws:dynamodb:us-east-1:123456789012:table/orders"]));
    assert_eq!(v["state"]["duration_hours"], 48);
    assert_eq!(v["state"]["accounts"], serde_json::json!(["123456789012"]));
    assert_eq!(v["complete"], true);
    assert_eq!(v["questions"], serde_json::json!([]));
    // The report is the engine's, as write-policy prints it for the same template.
    let actions = v["policy"]["Statement"][0]["Action"].as_array().unwrap();
    assert!(actions.iter().any(|a| a == "dynamodb:UpdateItem"));
    assert!(actions.iter().all(|a| a.as_str().unwrap().starts_with("dynamodb:")));
    assert!(v["report"]["score"].as_u64().is_some());
}

#[test]
fn the_question_loop_reads_one_line_per_question() {
    // resources:s3:read, accounts, duration — in that order.
    let o =
        run_stdin(&["read the reports bucket in s3", "--interactive"], "arn:aws:s3:::reports/*\n123456789012\n3h\n");
    assert_eq!(o.code, exit::OK, "{}", o.stderr);
    assert!(o.stderr.contains("Which `s3` resources does the task read?"), "{}", o.stderr);
    assert!(o.stderr.contains("arn:aws:s3:::${BucketName}/${ObjectName}"), "{}", o.stderr);
    assert_eq!(json(&o.stdout)["Statement"][0]["Resource"], serde_json::json!(["arn:aws:s3:::reports/*"]));
}

#[test]
fn bad_input_is_exit_2() {
    let o = run_stdin(&["read", "--read", "arn:aws:s3:::b", "--read", "not-an-arn", "--no-input"], "");
    assert_eq!(o.code, exit::BAD_INPUT);
    assert!(o.stderr.contains("not-an-arn"), "{}", o.stderr);
    let o = run_stdin(&["", "--no-input"], "");
    assert_eq!(o.code, exit::BAD_INPUT);
}

#[test]
fn an_answer_that_is_not_text_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("answers.json");
    for (answers, says) in [
        (
            r#"{"resources:s3:read": ["arn:aws:s3:::reports/*", {"arn": "x"}]}"#,
            "`resources:s3:read`[1] must be a string",
        ),
        (r#"{"resources:s3:read": [["arn:aws:s3:::reports/*"]]}"#, "got a list"),
        (r#"{"duration": {"hours": 3}}"#, "answer `duration` must be a string or a list of strings, got an object"),
        (r#"{"duration": null}"#, "got null"),
    ] {
        std::fs::write(&path, answers).unwrap();
        let o = run_stdin(&["read the reports bucket in s3", "--answers", path.to_str().unwrap(), "--no-input"], "");
        assert_eq!(o.code, exit::BAD_INPUT, "{answers}: {}", o.stderr);
        assert!(o.stderr.contains(says), "{answers}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "nothing drafted: {}", o.stdout);
    }
    // Numbers stay allowed (an account id written as a number).
    std::fs::write(
        &path,
        r#"{"resources:s3:read": ["arn:aws:s3:::reports/*"], "accounts": [123456789012], "duration": "3h"}"#,
    )
    .unwrap();
    let o = run_stdin(&["read the reports bucket in s3", "--answers", path.to_str().unwrap(), "--no-input"], "");
    assert_eq!(o.code, exit::OK, "{}", o.stderr);
}
