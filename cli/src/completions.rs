//! `iam-risk-score completions SHELL` and `iam-risk-score man [COMMAND]`: generated from the
//! very clap definitions that parse each subcommand.
//!
//! The command line has no single top-level clap derive (each subcommand is its own `Parser`,
//! dispatched by name in [`crate::run_with`]), so [`command_tree`] assembles one `clap::Command`
//! for generation from each real struct's `CommandFactory::command()`. A subcommand added to
//! `run_with` must be added to [`SUBCOMMANDS`] too (cli/tests/completions.rs lists both).

use crate::Io;
use clap::{CommandFactory, Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Parser)]
#[command(
    name = "iam-risk-score completions",
    about = "Print a shell completion script (bash, zsh or fish) for every command and flag",
    after_help = "Install, for example:
  bash: iam-risk-score completions bash > ~/.local/share/bash-completion/completions/iam-risk-score
  zsh:  iam-risk-score completions zsh > \"${fpath[1]}/_iam-risk-score\"
  fish: iam-risk-score completions fish > ~/.config/fish/completions/iam-risk-score.fish"
)]
pub struct CompletionsArgs {
    /// The shell to generate the script for.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Debug, Parser)]
#[command(
    name = "iam-risk-score man",
    about = "Print the man page (roff) of iam-risk-score, or of one of its commands",
    after_help = "View it with `iam-risk-score man | man -l -`; install it with
  iam-risk-score man > ~/.local/share/man/man1/iam-risk-score.1
  iam-risk-score man scan > ~/.local/share/man/man1/iam-risk-score-scan.1   (one per command)"
)]
pub struct ManArgs {
    /// A command (scan, diff, …) for its own page iam-risk-score-COMMAND(1); none: the main page.
    #[arg(value_name = "COMMAND", conflicts_with = "list")]
    command: Option<String>,
    /// Print the commands that have their own page, one per line, instead of a page (the
    /// release archives install one page per line: `iam-risk-score man NAME`).
    #[arg(long)]
    list: bool,
}

/// A subcommand's name and the `CommandFactory::command` of the struct that parses it.
type Subcommand = (&'static str, fn() -> clap::Command);

/// Every subcommand `run_with` dispatches, with the clap definition that parses it.
pub const SUBCOMMANDS: &[Subcommand] = &[
    ("scan", crate::scan::command::ScanArgs::command),
    ("diff", crate::DiffArgs::command),
    ("from-cloudtrail", crate::FromCloudTrailArgs::command),
    ("explain", crate::ExplainArgs::command),
    ("rules", crate::RulesArgs::command),
    ("catalog", crate::CatalogArgs::command),
    ("write-policy", crate::write::WriteArgs::command),
    ("narrow", crate::narrow::NarrowArgs::command),
    ("draft", crate::draft::DraftArgs::command),
    ("completions", CompletionsArgs::command),
    ("man", ManArgs::command),
];

/// The whole command line as one clap tree: the scoring command (`iam-risk-score FILE…`) at the
/// root, every other command a subcommand of it. For generating completions and man pages only;
/// parsing stays with each subcommand's own struct.
pub fn command_tree() -> clap::Command {
    let root = crate::ScoreArgs::command()
        .bin_name("iam-risk-score")
        // `iam-risk-score scan …` is a command, not a policy file named `scan`.
        .args_conflicts_with_subcommands(true)
        .subcommand_negates_reqs(true)
        // `run_with` has no `help` command (`iam-risk-score help` would read a file named help).
        .disable_help_subcommand(true);
    // Each struct is named `iam-risk-score NAME` for its own usage line; in the tree it is `NAME`.
    // Not built here: the generators set the binary name (and so every subcommand's) themselves.
    SUBCOMMANDS.iter().fold(root, |root, (name, command)| root.subcommand(command().name(*name)))
}

/// The name the bash script is generated for (see [`completions`]).
const BASH_NAME: &str = "iam_risk_score";

pub fn completions(a: CompletionsArgs, io: &mut Io<'_>) -> i32 {
    let mut cmd = command_tree();
    let mut buf = Vec::new();
    match a.shell {
        Shell::Bash => {
            // clap_complete 4.6's bash generator mangles a hyphenated binary name differently in
            // the subcommand dispatch (`iam__risk__score__subcmd__scan`) and in the subcommands'
            // option cases (`iam__subcmd__risk__subcmd__score__subcmd__scan`), so no subcommand's
            // flags would complete. Generate for a hyphen-free name, then register the function
            // for the real command.
            clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, BASH_NAME, &mut buf);
            let script = String::from_utf8_lossy(&buf);
            let fixed: Vec<String> = script
                .lines()
                .map(|l| match l.trim_start().starts_with("complete -F ") {
                    true => l.strip_suffix(BASH_NAME).map(|s| format!("{s}iam-risk-score")).unwrap_or_else(|| l.into()),
                    false => l.into(),
                })
                .collect();
            buf = (fixed.join("\n") + "\n").into_bytes();
        }
        Shell::Zsh => clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, "iam-risk-score", &mut buf),
        Shell::Fish => clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, "iam-risk-score", &mut buf),
    }
    let _ = io.stdout.write_all(&buf);
    crate::exit::OK
}

pub fn man(a: ManArgs, io: &mut Io<'_>) -> i32 {
    if a.list {
        for (name, _) in SUBCOMMANDS {
            let _ = writeln!(io.stdout, "{name}");
        }
        return crate::exit::OK;
    }
    let mut root = command_tree();
    root.build();
    let man = match a.command.as_deref() {
        None => clap_mangen::Man::new(root),
        // Its own page, titled as the main page's COMMANDS list names it.
        Some(name) => match root.find_subcommand(name) {
            Some(sub) => clap_mangen::Man::new(sub.clone())
                .title(format!("iam-risk-score-{name}"))
                .source(concat!("iam-risk-score ", env!("CARGO_PKG_VERSION"))),
            None => {
                let names: Vec<&str> = SUBCOMMANDS.iter().map(|(n, _)| *n).collect();
                let _ = writeln!(
                    io.stderr,
                    "error: no command {:?}; one of: {}",
                    crate::text::visible(name),
                    names.join(", ")
                );
                return crate::exit::BAD_INPUT;
            }
        },
    };
    let mut buf = Vec::new();
    if let Err(e) = man.render(&mut buf) {
        let _ = writeln!(io.stderr, "error: rendering the man page: {e}");
        return crate::exit::BAD_INPUT;
    }
    let _ = io.stdout.write_all(&buf);
    crate::exit::OK
}

#[cfg(test)]
mod tests {
    /// The names `run_with` dispatches on (its `"name" =>` arms), read from the source, so a
    /// new command cannot be added there and forgotten here (completions and man pages).
    #[test]
    fn every_dispatched_command_has_completions_and_a_man_page() {
        let src = include_str!("lib.rs");
        let start = src.find("pub fn run_with").expect("run_with");
        let body = &src[start..];
        let body = &body[..body.find("\n}\n").expect("end of run_with")];
        let mut dispatched: Vec<&str> = body
            .lines()
            .filter_map(|l| l.trim().strip_prefix('"').and_then(|r| r.split_once("\" =>")).map(|(name, _)| name))
            .filter(|name| !name.starts_with('-'))
            .collect();
        dispatched.sort_unstable();
        let mut listed: Vec<&str> = super::SUBCOMMANDS.iter().map(|(name, _)| *name).collect();
        listed.sort_unstable();
        assert!(!dispatched.is_empty(), "no `\"name\" =>` arms found in run_with");
        assert_eq!(dispatched, listed, "run_with's commands vs completions::SUBCOMMANDS");
    }
}
