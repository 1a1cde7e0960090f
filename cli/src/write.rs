//! `iam-risk-score write-policy`: a least-privilege policy from ARNs per access level or a
//! policy_sentry template (YAML or JSON), written and scored by `risk_core::authoring`.

use crate::{exit, input, scan::tree, text, Io};
use clap::{Parser, ValueEnum};
use iam_catalog::AccessLevel;
use risk_core::authoring::{policy_to_string_pretty, write_policy, Template};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WriteFormat {
    /// The policy document on stdout, the score on stderr.
    Human,
    /// `{"policy": …, "report": …}` on stdout.
    Json,
}

#[derive(Debug, Parser)]
#[command(
    name = "iam-risk-score write-policy",
    about = "Write a least-privilege policy from resource ARNs per access level (or a policy_sentry template) and score it",
    after_help = "Each ARN gets the actions of its access level that act on its resource type (from the bundled AWS \
catalog), one statement per access level, service and resource type. The policy goes to standard output, its \
score to standard error. See docs/authoring.md for the template format.

Exit codes: 0 written, 1 score at or above --threshold (when given), 2 bad input."
)]
pub struct WriteArgs {
    /// Resource ARNs to grant Read actions on.
    #[arg(long, value_name = "ARN", num_args = 1..)]
    read: Vec<String>,
    /// Resource ARNs to grant Write actions on.
    #[arg(long, value_name = "ARN", num_args = 1..)]
    write: Vec<String>,
    /// Resource ARNs to grant List actions on.
    #[arg(long, value_name = "ARN", num_args = 1..)]
    list: Vec<String>,
    /// Resource ARNs to grant Tagging actions on.
    #[arg(long, value_name = "ARN", num_args = 1..)]
    tagging: Vec<String>,
    /// Resource ARNs to grant Permissions management actions on.
    #[arg(long, value_name = "ARN", num_args = 1..)]
    permissions_management: Vec<String>,
    /// A template: policy_sentry's CRUD or actions YAML, or the same keys in JSON; `-` reads
    /// standard input. ARNs given as flags are added to it.
    #[arg(long, value_name = "FILE")]
    template: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: WriteFormat,
    /// Exit 1 when the written policy scores at or above this (1-10); no threshold by default.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=10))]
    threshold: Option<u8>,
}

pub fn run(a: WriteArgs, io: &mut Io<'_>) -> i32 {
    let mut template = match &a.template {
        None => Template::default(),
        Some(path) => match read_template(path, io) {
            Ok(t) => t,
            Err(msg) => {
                let _ = writeln!(io.stderr, "error: {}", text::visible(&msg));
                return exit::BAD_INPUT;
            }
        },
    };
    for (level, arns) in [
        (AccessLevel::Read, &a.read),
        (AccessLevel::Write, &a.write),
        (AccessLevel::List, &a.list),
        (AccessLevel::Tagging, &a.tagging),
        (AccessLevel::PermissionsManagement, &a.permissions_management),
    ] {
        template.arns_mut(level).extend(arns.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
    }
    if template.is_empty() && a.template.is_none() {
        let _ = writeln!(
            io.stderr,
            "error: nothing to write: give resource ARNs with --read, --write, --list, --tagging or --permissions-management, or a template with --template FILE"
        );
        return exit::BAD_INPUT;
    }
    let written = match write_policy(&template) {
        Ok(w) => w,
        Err(e) => {
            // One line per line of the message (the resource-type list), each made visible.
            let lines: Vec<_> = e.message().lines().map(text::visible).collect();
            let _ = writeln!(io.stderr, "error: {}", lines.join("\n"));
            return exit::BAD_INPUT;
        }
    };
    for w in &written.warnings {
        let _ = writeln!(io.stderr, "warning: {}", text::visible(w));
    }
    let out = match a.format {
        WriteFormat::Human => policy_to_string_pretty(&written.policy),
        // `{"policy", "report"}` (+ `"warnings"` when there are any): the answer every surface gives.
        WriteFormat::Json => {
            serde_json::to_string_pretty(&risk_core::answers::WrittenAnswer::from(&written)).unwrap_or_default()
        }
    };
    let _ = writeln!(io.stdout, "{out}");
    let r = &written.report;
    let _ = writeln!(io.stderr, "{}", crate::render::written_score_line(r));
    match a.threshold {
        Some(t) if r.score >= t => exit::AT_OR_ABOVE_THRESHOLD,
        _ => exit::OK,
    }
}

/// Read a template file (or stdin): JSON when it starts with `{`, else YAML.
fn read_template(path: &Path, io: &mut Io<'_>) -> Result<Template, String> {
    let label = if path.as_os_str() == "-" { "standard input".to_string() } else { path.display().to_string() };
    let text = if path.as_os_str() == "-" {
        input::read_stdin(io.stdin)?
    } else {
        input::read_file(path).map_err(|e| e.replacen("policy file", "template", 1))?
    };
    let value = if text.trim_start().starts_with('{') {
        risk_core::parse_json(&text).map_err(|e| format!("template `{label}`: {e}"))?
    } else {
        let node = tree::parse_yaml(&text).map_err(|e| format!("template `{label}`: {e}"))?;
        if let Some(d) = tree::find_duplicate(&node) {
            return Err(format!("template `{label}`: {}", d.message()));
        }
        node.to_value()
    };
    Template::from_value(&value).map_err(|e| format!("template `{label}`: {e}"))
}
