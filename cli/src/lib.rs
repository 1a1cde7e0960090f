//! The `iam-risk-score` command line, as a library so the Python wheel runs the very same code.
//!
//! Exit codes: 0 every policy scored below the threshold; 1 a policy scored at or above it;
//! 2 bad input (unreadable file, malformed JSON, invalid policy, bad flags); 3 API error
//! (remote mode only).

mod completions;
mod draft;
mod git;
mod input;
mod narrative;
mod narrow;
mod remote;
mod render;
mod sarif;
pub mod scan;
pub mod text;
mod write;

use clap::{Parser, ValueEnum};
use risk_core::{OptionsInput, Report};
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

pub use input::{MAX_EVENTS_BYTES, MAX_INPUT_BYTES};

/// Exit codes, as documented in the README and `--help`.
pub mod exit {
    pub const OK: i32 = 0;
    pub const AT_OR_ABOVE_THRESHOLD: i32 = 1;
    pub const BAD_INPUT: i32 = 2;
    pub const API_ERROR: i32 = 3;
    /// `draft`: questions remain and no policy could be drafted yet.
    pub const INCOMPLETE: i32 = 4;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    Github,
    Sarif,
    Markdown,
}

const AFTER_HELP: &str = "Other commands:
  iam-risk-score scan PATH… [--base GIT_REF]   every policy in IaC files (CloudFormation, Terraform, plans, exports)
  iam-risk-score diff OLD NEW                  what a change adds: score delta, new actions, new findings
  iam-risk-score from-cloudtrail EVENTS.json   a least-privilege policy from CloudTrail records, scored
  iam-risk-score explain RULE|ACTION_PATTERN   a rule's documentation, or what a wildcard grants
  iam-risk-score rules                         every rule with its code and category
  iam-risk-score catalog                       the bundled AWS action catalog's version and size
  iam-risk-score write-policy --read ARN…      write a least-privilege policy (or --template FILE) and score it
  iam-risk-score narrow POLICY --resource ARN… narrow a broad policy to a task's ARNs (and --used-actions FILE)
  iam-risk-score draft TASK…                   draft a policy from a task description, asking for what is missing
  iam-risk-score completions bash|zsh|fish     a shell completion script for every command and flag
  iam-risk-score man [COMMAND]                 the man page (roff), e.g. `iam-risk-score man | man -l -`

Exit codes: 0 below threshold, 1 at or above threshold, 2 bad input, 3 API error.
`scan` and `diff` use the same default threshold of 5 (`--no-threshold` turns it off there).";

/// Score AWS IAM policies for risk before granting access.
#[derive(Debug, Parser)]
#[command(name = "iam-risk-score", version, about, after_help = AFTER_HELP)]
struct ScoreArgs {
    /// Policy files or directories (scanned for *.json); `-` reads standard input.
    #[arg(value_name = "POLICY_FILE", required = true)]
    inputs: Vec<PathBuf>,
    /// Score locally (the default; kept for compatibility with iam-risk-score 0.1).
    #[arg(long)]
    offline: bool,
    /// Score with a remote scoring API instead (POST URL/api/v1/score).
    #[arg(long, env = "IAM_RISK_SCORE_API_URL", value_name = "URL")]
    api: Option<String>,
    /// Bearer key for the remote API.
    #[arg(long, env = "IAM_RISK_SCORE_API_KEY", hide_env_values = true, value_name = "KEY")]
    api_key: Option<String>,
    /// Remote API timeout in seconds.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    timeout: u64,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Exit 1 when a score is at or above this (1-10).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=10))]
    threshold: u8,
    /// What the requester says the access is for: read-only (flags any write) or read-write.
    // NOTE: plain strings, checked by risk-core's options module like every other surface's.
    #[arg(long, value_name = "read-only|read-write")]
    access_type: Option<String>,
    /// Requested grant duration in hours (1-8760); long grants raise risky scores.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    duration_hours: Option<i64>,
    /// Add a plain-words narrative: from the model named by IAM_RISK_SCORE_LLM_MODEL (an
    /// OpenAI-compatible API, see docs/api.md), else a deterministic template. Never changes
    /// the score, tier or findings.
    #[arg(long)]
    narrative: bool,
    /// Purpose of the request (kept in remote requests; never changes the score).
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,
    /// A service your organisation treats as sensitive (repeatable), e.g. dynamodb.
    #[arg(long = "sensitive-service", value_name = "SERVICE")]
    sensitive_services: Vec<String>,
    /// An action pattern your organisation treats as high-impact (repeatable), e.g. route53:Change*.
    #[arg(long = "high-impact-action", value_name = "PATTERN")]
    high_impact_actions: Vec<String>,
    /// JSON file with organisation context: {"sensitive_services": [...], "high_impact_actions": [...]}.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Treat every input as this policy type (identity, resource or trust) instead of detecting it.
    #[arg(long, value_name = "identity|resource|trust")]
    policy_type: Option<String>,
    /// Worker threads for many files (default: all cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Colour in human output.
    #[arg(long, value_enum, default_value = "auto")]
    color: render::ColorChoice,
}

#[derive(Debug, Parser)]
#[command(name = "iam-risk-score explain", about = "Explain a rule (code or name) or an action pattern")]
struct ExplainArgs {
    /// A rule code (PE002), rule name (passrole-escalation) or action pattern (s3:Get*).
    query: String,
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

#[derive(Debug, Parser)]
#[command(
    name = "iam-risk-score diff",
    about = "What a policy change adds: score delta, newly granted actions, new findings"
)]
struct DiffArgs {
    /// The policy before the change (`-` for standard input); or an infrastructure file or directory.
    old: PathBuf,
    /// The policy after the change (`-` for standard input); or an infrastructure file or directory.
    new: PathBuf,
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Exit 1 when the score rises or a finding appears.
    #[arg(long)]
    fail_on_increase: bool,
    /// Exit 1 when the new score (of directories and infrastructure files: a changed policy's)
    /// is at or above this (1-10) [default: 5, as `iam-risk-score FILE` and `scan`].
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=10), conflicts_with = "no_threshold")]
    threshold: Option<u8>,
    /// No score threshold: fail only on --fail-on-increase / --fail-on-category conditions.
    #[arg(long)]
    no_threshold: bool,
    /// Exit 1 on a new finding of this category (repeatable), e.g. privilege-escalation.
    #[arg(long = "fail-on-category", value_name = "CATEGORY")]
    fail_on_category: Vec<String>,
    /// What the requester says the access is for: read-only or read-write.
    #[arg(long, value_name = "read-only|read-write")]
    access_type: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ActivityFormat {
    Human,
    Json,
}

#[derive(Debug, Parser)]
#[command(
    name = "iam-risk-score from-cloudtrail",
    about = "Build a least-privilege policy from AWS CloudTrail records and score it",
    after_help = "Reads an S3 log file ({\"Records\": [...]}), `aws cloudtrail lookup-events` output \
({\"Events\": [...]}) or an array of records; decompress .json.gz first. Prints the policy on \
standard output and the score with the events it could not use on standard error \
(--format json: {\"policy\", \"report\", \"unknown\", \"denied\", \"not_narrowed\", \"skipped\", \"events_read\"}).
See docs/authoring-cloudtrail.md for the mapping and its exceptions.

Exit codes: 0 written, 1 scored at or above --threshold (when given), 2 bad input."
)]
struct FromCloudTrailArgs {
    /// The CloudTrail JSON file (`-` for standard input).
    #[arg(value_name = "EVENTS.json")]
    events: PathBuf,
    #[arg(long, value_enum, default_value = "human")]
    format: ActivityFormat,
    /// Also grant what access-denied records attempted (they are listed either way).
    #[arg(long)]
    include_denied: bool,
    /// Exit 1 when the built policy's score is at or above this (1-10). No threshold by
    /// default: like write-policy, this command writes a policy; gate it with `score`.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=10))]
    threshold: Option<u8>,
}

#[derive(Debug, Parser)]
#[command(name = "iam-risk-score rules", about = "List every rule")]
struct RulesArgs {
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

#[derive(Debug, Parser)]
#[command(name = "iam-risk-score catalog", about = "Show the bundled AWS action catalog")]
struct CatalogArgs {
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

/// Where output goes; tests pass buffers.
pub struct Io<'a> {
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
    /// Standard input, read at most once (for `-`).
    pub stdin: &'a mut dyn std::io::Read,
    pub stdout_is_tty: bool,
}

/// Run with the process's own standard streams.
pub fn run(args: Vec<OsString>) -> i32 {
    let stdout = std::io::stdout();
    let tty = stdout.is_terminal();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut err = std::io::stderr();
    let mut stdin = std::io::stdin();
    let code = run_with(args, &mut Io { stdout: &mut out, stderr: &mut err, stdin: &mut stdin, stdout_is_tty: tty });
    let _ = out.flush();
    code
}

/// Run with the given streams.
pub fn run_with(args: Vec<OsString>, io: &mut Io<'_>) -> i32 {
    let sub = args.get(1).and_then(|a| a.to_str()).unwrap_or("");
    let rest = || std::iter::once(OsString::from(format!("iam-risk-score {sub}"))).chain(args.iter().skip(2).cloned());
    match sub {
        "explain" => match ExplainArgs::try_parse_from(rest()) {
            Ok(a) => explain(a, io),
            Err(e) => clap_exit(e, io),
        },
        "scan" => scan::command::run(rest().collect(), io),
        "diff" => match DiffArgs::try_parse_from(rest()) {
            Ok(a) => diff(a, io),
            Err(e) => clap_exit(e, io),
        },
        "from-cloudtrail" => match FromCloudTrailArgs::try_parse_from(rest()) {
            Ok(a) => from_cloudtrail(a, io),
            Err(e) => clap_exit(e, io),
        },
        "draft" => match draft::DraftArgs::try_parse_from(rest()) {
            Ok(a) => draft::run(a, io),
            Err(e) => clap_exit(e, io),
        },
        "write-policy" => match write::WriteArgs::try_parse_from(rest()) {
            Ok(a) => write::run(a, io),
            Err(e) => clap_exit(e, io),
        },
        "narrow" => match narrow::NarrowArgs::try_parse_from(rest()) {
            Ok(a) => narrow::run(a, io),
            Err(e) => clap_exit(e, io),
        },
        "rules" => match RulesArgs::try_parse_from(rest()) {
            Ok(a) => {
                let _ = io.stdout.write_all(render::rules(a.format).as_bytes());
                exit::OK
            }
            Err(e) => clap_exit(e, io),
        },
        "completions" => match completions::CompletionsArgs::try_parse_from(rest()) {
            Ok(a) => completions::completions(a, io),
            Err(e) => clap_exit(e, io),
        },
        "man" => match completions::ManArgs::try_parse_from(rest()) {
            Ok(a) => completions::man(a, io),
            Err(e) => clap_exit(e, io),
        },
        "catalog" => match CatalogArgs::try_parse_from(rest()) {
            Ok(a) => {
                let _ = io.stdout.write_all(render::catalog(a.format).as_bytes());
                exit::OK
            }
            Err(e) => clap_exit(e, io),
        },
        _ => match ScoreArgs::try_parse_from(args) {
            Ok(a) => score(a, io),
            Err(e) => clap_exit(e, io),
        },
    }
}

fn clap_exit(e: clap::Error, io: &mut Io<'_>) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = write!(io.stdout, "{}", e.render());
            exit::OK
        }
        _ => {
            let _ = write!(io.stderr, "{}", e.render());
            exit::BAD_INPUT
        }
    }
}

fn diff(a: DiffArgs, io: &mut Io<'_>) -> i32 {
    if a.old.as_os_str() == "-" && a.new.as_os_str() == "-" {
        let _ = writeln!(io.stderr, "error: only one of OLD and NEW can be `-` (standard input)");
        return exit::BAD_INPUT;
    }
    let input = OptionsInput { access_type: a.access_type.clone(), ..OptionsInput::default() };
    let options = match input.validate() {
        Ok(o) => o,
        Err(problems) => return options_error(&problems, io),
    };
    let threshold = if a.no_threshold { None } else { Some(a.threshold.unwrap_or(scan::command::DEFAULT_THRESHOLD)) };
    let rules = scan::GateRules {
        threshold,
        fail_on_increase: a.fail_on_increase,
        fail_on_category: a.fail_on_category.clone(),
    };
    // Directories and infrastructure files: every policy in them, paired by file and address.
    if let Some(code) = scan::command::diff_infra(&a.old, &a.new, a.format, &rules, &options, io) {
        return code;
    }
    let mut read = |p: &PathBuf| -> Result<String, String> {
        if p.as_os_str() == "-" {
            input::read_stdin(io.stdin)
        } else {
            input::read_file(p)
        }
    };
    let (old, new) = match (read(&a.old), read(&a.new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => {
            let _ = writeln!(io.stderr, "error: {}", text::visible(&e));
            return exit::BAD_INPUT;
        }
    };
    let d = match risk_core::diff::diff_json(&old, &new, &options) {
        Ok(d) => d,
        Err(e) => {
            let hint = input::yaml_hint(&old).or_else(|| input::yaml_hint(&new)).map(|h| format!("; {h}"));
            let _ = writeln!(io.stderr, "error: {}{}", text::visible(&e.to_string()), hint.unwrap_or_default());
            return exit::BAD_INPUT;
        }
    };
    let _ = io.stdout.write_all(render::diff(&d, a.format).as_bytes());
    let increased = d.risk_delta > 0 || !d.new_findings.is_empty();
    let category = d.new_findings.iter().any(|f| a.fail_on_category.contains(&f.category));
    if (a.fail_on_increase && increased) || threshold.is_some_and(|t| d.new_score >= t) || category {
        exit::AT_OR_ABOVE_THRESHOLD
    } else {
        exit::OK
    }
}

fn from_cloudtrail(a: FromCloudTrailArgs, io: &mut Io<'_>) -> i32 {
    let text = match input::read_events(&a.events, io.stdin) {
        Ok(t) => t,
        Err(msg) => {
            let _ = writeln!(io.stderr, "error: {}", text::visible(&msg));
            return exit::BAD_INPUT;
        }
    };
    let options = risk_core::cloudtrail::CloudTrailOptions { include_denied: a.include_denied };
    let built = match risk_core::cloudtrail::policy_from_cloudtrail_json(&text, &options) {
        Ok(b) => b,
        Err(e) => {
            let label = a.events.display().to_string();
            let _ = writeln!(io.stderr, "error: {}: {}", text::visible(&label), text::visible(&e.to_string()));
            return exit::BAD_INPUT;
        }
    };
    let threshold = a.threshold;
    match a.format {
        ActivityFormat::Json => {
            let out = serde_json::to_string_pretty(&built).unwrap_or_default();
            let _ = writeln!(io.stdout, "{out}");
        }
        ActivityFormat::Human => {
            let policy = serde_json::to_string_pretty(&built.policy).unwrap_or_default();
            let _ = writeln!(io.stdout, "{policy}");
            let _ =
                io.stderr.write_all(render::activity_summary(&built, &policy, threshold, a.include_denied).as_bytes());
        }
    }
    if threshold.is_some_and(|t| built.report.score >= t) {
        exit::AT_OR_ABOVE_THRESHOLD
    } else {
        exit::OK
    }
}

fn explain(a: ExplainArgs, io: &mut Io<'_>) -> i32 {
    match risk_core::explain::explain(&a.query) {
        Ok(x) => {
            let _ = io.stdout.write_all(render::explanation(&x, a.format).as_bytes());
            exit::OK
        }
        Err(msg) => {
            let _ = writeln!(io.stderr, "error: {msg}");
            exit::BAD_INPUT
        }
    }
}

/// One input's outcome.
pub struct Outcome {
    /// File path as given (or `-`).
    pub label: String,
    pub result: Result<Scored, InputError>,
}

/// A scored input with its source text (for line numbers).
pub struct Scored {
    pub report: Report,
    pub statement_lines: Vec<usize>,
}

/// Why an input could not be scored.
#[derive(Debug, Clone)]
pub struct InputError {
    pub message: String,
    pub problems: Vec<risk_core::Problem>,
    pub api: bool,
}

fn score(a: ScoreArgs, io: &mut Io<'_>) -> i32 {
    let options = match options(&a) {
        Ok(input) => match input.validate() {
            Ok(o) => o,
            Err(problems) => return options_error(&problems, io),
        },
        Err(msg) => {
            let _ = writeln!(io.stderr, "error: {msg}");
            return exit::BAD_INPUT;
        }
    };
    let sources = match input::collect(&a.inputs) {
        Ok(s) => s,
        Err(msg) => {
            let _ = writeln!(io.stderr, "error: {msg}");
            return exit::BAD_INPUT;
        }
    };
    let single = sources.len() == 1 && !a.inputs.iter().any(|p| p.is_dir());
    let remote = if a.offline { None } else { a.api.clone() };
    let score_one = |src: &input::Source, stdin_text: Option<&Result<String, String>>| -> Outcome {
        let text = match src {
            input::Source::Stdin => {
                stdin_text.cloned().unwrap_or_else(|| Err("standard input was already read".into()))
            }
            input::Source::File(p) => input::read_file(p),
        };
        let result = match text {
            Err(message) => Err(InputError { message, problems: Vec::new(), api: false }),
            Ok(text) => match &remote {
                Some(url) => remote::score(url, a.api_key.as_deref(), a.timeout, &text, &options, a.narrative)
                    .map(|report| Scored { report, statement_lines: risk_scan::locate::statement_lines(&text) }),
                None => match risk_core::score_json(&text, &options) {
                    Ok(report) => Ok(Scored { report, statement_lines: risk_scan::locate::statement_lines(&text) }),
                    Err(e) => {
                        let mut message = e.to_string();
                        if let Some(hint) = input::yaml_hint(&text) {
                            message = format!("{message}; {hint}");
                        }
                        Err(InputError { message, problems: e.problems().to_vec(), api: false })
                    }
                },
            },
        };
        Outcome { label: src.label(), result }
    };
    let stdin_text = if sources.iter().any(|s| matches!(s, input::Source::Stdin)) {
        Some(input::read_stdin(io.stdin))
    } else {
        None
    };
    let mut outcomes: Vec<Outcome> = if sources.len() > 1 {
        use rayon::prelude::*;
        let work = || sources.par_iter().map(|s| score_one(s, stdin_text.as_ref())).collect::<Vec<_>>();
        match a.jobs {
            Some(n) if n > 0 => match rayon::ThreadPoolBuilder::new().num_threads(n).build() {
                Ok(pool) => pool.install(work),
                Err(_) => work(),
            },
            _ => work(),
        }
    } else {
        sources.iter().map(|s| score_one(s, stdin_text.as_ref())).collect()
    };
    if a.narrative && remote.is_none() {
        let texts = narrative::texts(&sources, stdin_text.as_ref());
        if let Err(msg) = narrative::add(&mut outcomes, &texts, &options, io.stderr) {
            let _ = writeln!(io.stderr, "error: {msg}");
            return exit::BAD_INPUT;
        }
    }
    for o in &outcomes {
        if let Err(e) = &o.result {
            let _ = writeln!(io.stderr, "error: {}: {}", text::visible(&o.label), text::visible(&e.message));
        }
    }
    let text = match a.format {
        Format::Human => render::human::score(&outcomes, a.threshold, a.color.on(io.stdout_is_tty)),
        Format::Json => render::json(&outcomes, single),
        Format::Github => render::github::score(&outcomes, a.threshold),
        Format::Sarif => sarif::score(&outcomes),
        Format::Markdown => render::markdown::score(&outcomes, a.threshold),
    };
    let _ = io.stdout.write_all(text.as_bytes());
    if outcomes.iter().any(|o| o.result.as_ref().is_err_and(|e| e.api)) {
        return exit::API_ERROR;
    }
    if outcomes.iter().any(|o| o.result.is_err()) {
        return exit::BAD_INPUT;
    }
    if outcomes.iter().any(|o| o.result.as_ref().is_ok_and(|s| s.report.score >= a.threshold)) {
        exit::AT_OR_ABOVE_THRESHOLD
    } else {
        exit::OK
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    sensitive_services: Vec<String>,
    #[serde(default)]
    high_impact_actions: Vec<String>,
}

/// Map the flags (and `--config`) onto the core's options; risk-core checks and normalises
/// them, so the CLI's messages are those of every other surface.
fn options(a: &ScoreArgs) -> Result<OptionsInput, String> {
    let mut sensitive = a.sensitive_services.clone();
    let mut high = a.high_impact_actions.clone();
    if let Some(path) = &a.config {
        let text = input::read_file(path)?;
        let cfg: ConfigFile = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}: {e} (expected {{\"sensitive_services\": [...], \"high_impact_actions\": [...]}})",
                path.display()
            )
        })?;
        sensitive.extend(cfg.sensitive_services);
        high.extend(cfg.high_impact_actions);
    }
    let list = |v: Vec<String>| if v.is_empty() { None } else { Some(v) };
    Ok(OptionsInput {
        access_type: a.access_type.clone(),
        duration_hours: a.duration_hours,
        description: a.description.clone(),
        extra_sensitive_services: list(sensitive),
        extra_high_impact_actions: list(high),
        policy_type: a.policy_type.clone(),
    })
}

/// Report invalid options, one line each, as `error: PATH MESSAGE` (exit 2).
fn options_error(problems: &[risk_core::Problem], io: &mut Io<'_>) -> i32 {
    for p in problems {
        let _ = writeln!(io.stderr, "error: {}", text::visible(&p.to_string()));
    }
    exit::BAD_INPUT
}
