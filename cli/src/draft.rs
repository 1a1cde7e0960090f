//! `iam-risk-score draft "task…"`: the intake (risk_narrative::intake) on the command line. It
//! asks for what the description leaves out (accounts, duration, services, access levels,
//! resource ARNs) — interactively on a terminal, or from `--answers FILE` and flags — and prints
//! the policy the writer drafts, scored by the engine. With the `llm` feature and
//! `IAM_RISK_SCORE_LLM_MODEL` set, a model may propose the template; the policy still comes
//! from the writer.

use crate::{exit, input, text, Io};
use clap::{Parser, ValueEnum};
use risk_narrative::intake::{Answer, IntakeError, IntakeState, Question, Turn};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

/// Most question rounds in interactive mode.
const MAX_ROUNDS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DraftFormat {
    /// The policy on stdout; score, notes and open questions on stderr.
    Human,
    /// `{"template", "policy", "report", "questions", "complete", "notes", "state"}` on stdout.
    Json,
}

#[derive(Debug, Parser)]
#[command(
    name = "iam-risk-score draft",
    about = "Draft a least-privilege policy from a task description, asking for what is missing",
    after_help = "The description is read for ARNs, 12-digit account ids, durations (`4h`, `2d`), service \
prefixes and access-level words (read, write, list, tag, permissions management). On a terminal the \
missing pieces are asked for; otherwise give them with --answers FILE (JSON: {\"QUESTION_ID\": \"answer\"}, \
ids as printed, e.g. `resources:s3:read`) or flags. The policy is always written by `write-policy`'s \
writer and scored by the engine; a model (IAM_RISK_SCORE_LLM_MODEL) may only propose the template. \
See docs/intake.md.

Exit codes: 0 drafted, 1 score at or above --threshold, 2 bad input, 4 no draft yet (questions remain)."
)]
pub struct DraftArgs {
    /// What the access is for, in plain words (`-` reads standard input).
    #[arg(value_name = "TASK")]
    task: String,
    /// Answers as JSON: `{"QUESTION_ID": "text", …}` (or `{"answers": {…}}`); values may be lists.
    #[arg(long, value_name = "FILE")]
    answers: Option<PathBuf>,
    /// AWS account ids the task runs in.
    #[arg(long = "account", value_name = "ID", num_args = 1..)]
    accounts: Vec<String>,
    /// How long the access is needed, in hours.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=8760))]
    hours: Option<u32>,
    /// Resource ARNs; each gets the access levels the description names for its service.
    #[arg(long = "resource", value_name = "ARN", num_args = 1..)]
    resources: Vec<String>,
    /// Resource ARNs to read.
    #[arg(long, value_name = "ARN", num_args = 1..)]
    read: Vec<String>,
    /// Resource ARNs to write.
    #[arg(long, value_name = "ARN", num_args = 1..)]
    write: Vec<String>,
    /// Resource ARNs to list.
    #[arg(long, value_name = "ARN", num_args = 1..)]
    list: Vec<String>,
    /// Ask the open questions on standard error and read one answer line each from standard
    /// input (the default when standard input is a terminal).
    #[arg(long, conflicts_with = "no_input")]
    interactive: bool,
    /// Never ask; print what is still missing.
    #[arg(long)]
    no_input: bool,
    #[arg(long, value_enum, default_value = "human")]
    format: DraftFormat,
    /// Exit 1 when the drafted policy scores at or above this (1-10); no threshold by default.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=10))]
    threshold: Option<u8>,
}

/// The intake, with a model when one is configured (and built in).
struct Intake {
    #[cfg(feature = "llm")]
    model: Option<(tokio::runtime::Runtime, risk_narrative::Narrator)>,
}

impl Intake {
    fn new() -> Result<Self, String> {
        #[cfg(feature = "llm")]
        {
            let model = match risk_narrative::Config::from_env(|k| std::env::var(k).ok())? {
                None => None,
                Some(config) => {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| format!("cannot start the model runtime: {e}"))?;
                    Some((rt, risk_narrative::Narrator::new(config)))
                }
            };
            Ok(Intake { model })
        }
        #[cfg(not(feature = "llm"))]
        Ok(Intake {})
    }

    fn turn(&self, state: Option<IntakeState>, answer: &Answer) -> Result<Turn, IntakeError> {
        #[cfg(feature = "llm")]
        if let Some((rt, n)) = &self.model {
            return rt.block_on(n.intake_turn(state, answer));
        }
        risk_narrative::intake::next_turn(state, answer)
    }
}

pub fn run(a: DraftArgs, io: &mut Io<'_>) -> i32 {
    match draft(a, io) {
        Ok(code) => code,
        Err(msg) => {
            let _ = writeln!(io.stderr, "error: {}", text::visible(&msg));
            exit::BAD_INPUT
        }
    }
}

fn draft(a: DraftArgs, io: &mut Io<'_>) -> Result<i32, String> {
    let task = if a.task == "-" { input::read_stdin(io.stdin)? } else { a.task.clone() };
    if task.trim().is_empty() {
        return Err("the task description is empty: say what the access is for".into());
    }
    let intake = Intake::new()?;
    let err = |e: IntakeError| e.0;
    let mut turn = intake.turn(None, &Answer::Text(task)).map_err(err)?;
    let given = given_answers(&a)?;
    if !given.is_empty() {
        turn = intake.turn(Some(turn.state), &Answer::Answers { answers: given }).map_err(err)?;
    }
    let interactive =
        !a.no_input && (a.interactive || (a.task != "-" && a.answers.is_none() && std::io::stdin().is_terminal()));
    if interactive {
        let mut lines = std::io::BufReader::new(&mut *io.stdin);
        for _ in 0..MAX_ROUNDS {
            if turn.questions.is_empty() {
                break;
            }
            let mut answers = BTreeMap::new();
            for q in &turn.questions {
                let _ = write!(io.stderr, "{}", prompt(q));
                let mut line = String::new();
                if lines.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if !line.trim().is_empty() {
                    answers.insert(q.id.clone(), line.trim().to_string());
                }
            }
            if answers.is_empty() {
                break;
            }
            turn = intake.turn(Some(turn.state), &Answer::Answers { answers }).map_err(err)?;
        }
    }
    Ok(print(&turn, &a, io))
}

/// What a JSON value is, for an error message (not its text: it may be large).
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The answers from `--answers` and the flags, keyed by question id.
fn given_answers(a: &DraftArgs) -> Result<BTreeMap<String, String>, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |id: String, text: &str| {
        let e = out.entry(id).or_default();
        if !e.is_empty() {
            e.push(' ');
        }
        e.push_str(text);
    };
    if let Some(path) = &a.answers {
        let text = input::read_file(path).map_err(|e| e.replacen("policy file", "answers file", 1))?;
        let v = risk_core::parse_json(&text).map_err(|e| format!("answers `{}`: {e}", path.display()))?;
        let map = match v.get("answers") {
            Some(inner) => inner.clone(),
            None => v,
        };
        let serde_json::Value::Object(map) = map else {
            return Err(format!("answers `{}` must be a JSON object of question id to answer", path.display()));
        };
        for (id, value) in map {
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Array(items) => {
                    let mut words = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        match item {
                            serde_json::Value::String(s) => words.push(s.clone()),
                            serde_json::Value::Number(n) => words.push(n.to_string()),
                            // An object or a nested list would reach the intake as its JSON text.
                            other => {
                                return Err(format!(
                                    "answer `{id}`[{i}] must be a string (or a number), got {}",
                                    json_kind(other)
                                ))
                            }
                        }
                    }
                    words.join(" ")
                }
                other => {
                    return Err(format!(
                        "answer `{id}` must be a string or a list of strings, got {}",
                        json_kind(&other)
                    ))
                }
            };
            add(id, &text);
        }
    }
    if !a.accounts.is_empty() {
        add("accounts".into(), &a.accounts.join(" "));
    }
    if let Some(h) = a.hours {
        add("duration".into(), &format!("{h}h"));
    }
    if !a.resources.is_empty() {
        add("resources".into(), &a.resources.join(" "));
    }
    for (level, arns) in [("read", &a.read), ("write", &a.write), ("list", &a.list)] {
        for arn in arns {
            // The level of an ARN flag is its service's level too.
            match risk_core::authoring::match_arn(arn) {
                Ok(m) => {
                    let s = m.service().prefix;
                    add(format!("levels:{s}"), level);
                    add(format!("resources:{s}:{level}"), arn);
                }
                Err(e) => return Err(format!("`--{level} {arn}`: {}", e.message().lines().next().unwrap_or_default())),
            }
        }
    }
    Ok(out)
}

fn prompt(q: &Question) -> String {
    let mut s = format!("{} [{}]\n", q.text, q.id);
    if !q.choices.is_empty() {
        s.push_str(&format!("  choices: {}\n", q.choices.join(", ")));
    }
    for f in &q.arn_formats {
        s.push_str(&format!("  {}: {}\n", f.resource_type, f.arn));
    }
    s.push_str("> ");
    s
}

fn print(turn: &Turn, a: &DraftArgs, io: &mut Io<'_>) -> i32 {
    match a.format {
        DraftFormat::Json => {
            let out = serde_json::json!({
                "template": turn.template,
                "policy": turn.draft.as_ref().map(|d| &d.policy),
                "report": turn.draft.as_ref().map(|d| &d.report),
                "questions": turn.questions,
                "complete": turn.complete,
                "notes": turn.notes,
                "source": turn.source,
                "state": turn.state,
            });
            let _ = writeln!(io.stdout, "{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        }
        DraftFormat::Human => {
            if let Some(d) = &turn.draft {
                let _ = writeln!(io.stdout, "{}", risk_core::authoring::policy_to_string_pretty(&d.policy));
            }
        }
    }
    for n in &turn.notes {
        let _ = writeln!(io.stderr, "note: {}", text::visible(n));
    }
    if let Some(d) = &turn.draft {
        for w in &d.warnings {
            let _ = writeln!(io.stderr, "warning: {}", text::visible(w));
        }
        let _ = writeln!(io.stderr, "{}", crate::render::written_score_line(&d.report));
    }
    for q in &turn.questions {
        let _ = writeln!(io.stderr, "question [{}]: {}", q.id, text::visible(&q.text));
    }
    match &turn.draft {
        None => exit::INCOMPLETE,
        Some(d) if a.threshold.is_some_and(|t| d.report.score >= t) => exit::AT_OR_ABOVE_THRESHOLD,
        Some(_) => exit::OK,
    }
}
