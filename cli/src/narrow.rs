//! `iam-risk-score narrow`: a broad policy narrowed to the ARNs, access levels or used actions
//! of a task by `risk_core::authoring::narrow`, with the before → after score and questions.

use crate::{exit, input, text, Io};
use clap::{Parser, ValueEnum};
use iam_catalog::AccessLevel;
use risk_core::authoring::{narrow, parse_access_level, policy_to_string_pretty, NarrowInput, Narrowed};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NarrowFormat {
    /// The narrowed policy on stdout; score line, changes and questions on stderr.
    Human,
    /// `{"policy", "before", "after", "diff", "questions", "changes"}` on stdout.
    Json,
}

#[derive(Debug, Parser)]
#[command(
    name = "iam-risk-score narrow",
    about = "Narrow a broad policy to the resources, access levels or used actions of a task, and score before and after",
    after_help = "Wildcard actions become the used actions (--used-actions) or the statement's actions at the given \
--access-level; \"Resource\": \"*\" becomes the given ARNs, per resource type of each action. Deny statements, \
conditions and principals are kept; nothing is ever added. What cannot be narrowed is asked as numbered questions on \
standard error, with the ARN format to fill in. See docs/authoring.md#narrowing.

Exit codes: 0 narrowed, 1 narrowed policy scores at or above --threshold (when given), 2 bad input."
)]
pub struct NarrowArgs {
    /// The policy document to narrow; `-` reads standard input.
    #[arg(value_name = "POLICY")]
    policy: PathBuf,
    /// Resource ARNs the task touches (several values per flag, repeatable).
    #[arg(long, value_name = "ARN", num_args = 1..)]
    resource: Vec<String>,
    /// The actions the task used: a JSON array of action names, or a policy document (or
    /// `from-cloudtrail --format json` output); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    used_actions: Option<PathBuf>,
    /// Access levels the task needs (repeatable).
    #[arg(long, value_name = "LEVEL", value_parser = level)]
    access_level: Vec<AccessLevel>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: NarrowFormat,
    /// Exit 1 when the narrowed policy scores at or above this (1-10); no threshold by default.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=10))]
    threshold: Option<u8>,
}

fn level(s: &str) -> Result<AccessLevel, String> {
    parse_access_level(s).ok_or_else(|| risk_core::answers::access_level_error(s))
}

pub fn run(a: NarrowArgs, io: &mut Io<'_>) -> i32 {
    match narrow_args(&a, io) {
        Ok(n) => {
            print(&n, a.format, io);
            match a.threshold {
                Some(t) if n.after.score >= t => exit::AT_OR_ABOVE_THRESHOLD,
                _ => exit::OK,
            }
        }
        Err(msg) => {
            // One line per line of the message (the resource-type list), each made visible.
            let lines: Vec<_> = msg.lines().map(text::visible).collect();
            let _ = writeln!(io.stderr, "error: {}", lines.join("\n"));
            exit::BAD_INPUT
        }
    }
}

fn narrow_args(a: &NarrowArgs, io: &mut Io<'_>) -> Result<Narrowed, String> {
    let is_stdin = |p: &Path| p.as_os_str() == "-";
    if is_stdin(&a.policy) && a.used_actions.as_deref().is_some_and(is_stdin) {
        return Err("only one of POLICY and --used-actions can be `-` (standard input)".to_string());
    }
    let policy = read_json(&a.policy, "policy", io)?;
    let used_actions = match &a.used_actions {
        None => None,
        Some(path) => {
            let v = read_json(path, "used actions", io)?;
            Some(NarrowInput::used_actions_from_value(&v).map_err(|e| format!("`{}`: {e}", path.display()))?)
        }
    };
    let input = NarrowInput { resources: a.resource.clone(), access_levels: a.access_level.clone(), used_actions };
    narrow(&policy, &input).map_err(|e| e.message().to_string())
}

fn read_json(path: &Path, what: &str, io: &mut Io<'_>) -> Result<serde_json::Value, String> {
    let (label, text) = if path.as_os_str() == "-" {
        ("standard input".to_string(), input::read_stdin(io.stdin)?)
    } else {
        let t = input::read_file(path).map_err(|e| e.replacen("policy file", &format!("{what} file"), 1))?;
        (format!("`{}`", path.display()), t)
    };
    risk_core::parse_json(&text).map_err(|e| format!("{what} {label}: {e}"))
}

fn print(n: &Narrowed, format: NarrowFormat, io: &mut Io<'_>) {
    if format == NarrowFormat::Json {
        // `{"policy", "before", "after", "diff", "questions", "changes"}`: the answer every surface gives.
        let out = risk_core::answers::NarrowedAnswer::from(n);
        let _ = writeln!(io.stdout, "{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return;
    }
    let _ = writeln!(io.stdout, "{}", policy_to_string_pretty(&n.policy));
    let (b, a, d) = (&n.before, &n.after, &n.diff);
    let mut err = format!(
        "score: {}/10 ({}) → {}/10 ({}); {} actions removed, {} added; {} on all resources → {}\n",
        b.score,
        b.tier,
        a.score,
        a.tier,
        d.removed_actions_total,
        d.added_actions_total,
        b.access_summary.actions_on_all_resources,
        a.access_summary.actions_on_all_resources
    );
    err.push_str("changes:\n");
    for c in &n.changes {
        err.push_str(&format!("  {}\n", text::visible(c)));
    }
    if !n.questions.is_empty() {
        err.push_str("questions:\n");
        for (i, q) in n.questions.iter().enumerate() {
            let at = match &q.sid {
                Some(s) => format!("statement {} (`{s}`)", q.statement),
                None => format!("statement {}", q.statement),
            };
            err.push_str(&format!("  {}. [{}] {at}: {}\n", i + 1, q.severity, text::visible(&q.question)));
            err.push_str(&format!("     why: {}\n", text::visible(&q.why)));
            if let Some(f) = &q.suggested_arn_format {
                err.push_str(&format!("     ARN format: {f}\n"));
            }
        }
    }
    let _ = io.stderr.write_all(err.as_bytes());
}
