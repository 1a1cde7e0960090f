//! `iam-risk-score completions SHELL` and `iam-risk-score man`: generated from the real clap
//! definitions, checked by running them (bash's own completion machinery, `man -l`).

use std::io::Write;
use std::process::{Command, Stdio};

/// Every subcommand `run_with` dispatches (cli/src/lib.rs), as users type them.
const SUBCOMMANDS: &[&str] = &[
    "scan",
    "diff",
    "from-cloudtrail",
    "explain",
    "rules",
    "catalog",
    "write-policy",
    "narrow",
    "draft",
    "completions",
    "man",
];

fn bin(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_iam-risk-score")).args(args).stdin(Stdio::null()).output().unwrap();
    (o.status.code().unwrap(), String::from_utf8(o.stdout).unwrap(), String::from_utf8(o.stderr).unwrap())
}

fn has_bash() -> bool {
    Command::new("bash").arg("-c").arg("true").status().map(|s| s.success()).unwrap_or(false)
}

/// Source the bash script and ask bash's completion function for the words after `line`
/// (the last word is the one being completed), the way readline does on TAB.
fn bash_complete(script: &str, words: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam-risk-score.bash");
    std::fs::write(&path, script).unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let prog = format!(
        r#"set -e
source "$1"
spec=$(complete -p iam-risk-score)
fn=$(printf '%s\n' "$spec" | sed -n 's/.*-F \([^ ]*\).*/\1/p')
[ -n "$fn" ] || {{ echo "no completion function in: $spec" >&2; exit 9; }}
COMP_WORDS=({words})
COMP_CWORD={cword}
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
prev=""
[ "$COMP_CWORD" -gt 0 ] && prev="${{COMP_WORDS[COMP_CWORD-1]}}"
"$fn" iam-risk-score "${{COMP_WORDS[COMP_CWORD]}}" "$prev"
printf '%s\n' "${{COMPREPLY[@]}}"
"#,
        words = quoted.join(" "),
    );
    let o = Command::new("bash").arg("-c").arg(prog).arg("completion-test").arg(&path).output().unwrap();
    assert!(o.status.success(), "bash failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().lines().filter(|l| !l.is_empty()).map(String::from).collect()
}

#[test]
fn bash_script_covers_every_subcommand_and_flag() {
    let (code, out, err) = bin(&["completions", "bash"]);
    assert_eq!(code, 0, "{err}");
    for sub in SUBCOMMANDS {
        assert!(out.contains(sub), "bash completions lack {sub}");
    }
    for flag in ["--format", "--threshold", "--base", "--fail-on-increase", "--read", "--include-denied"] {
        assert!(out.contains(flag), "bash completions lack {flag}");
    }
    // `iam-risk-score help` would be read as a policy file: no `help` command is offered.
    assert!(!out.contains("subcmd__help"), "a help subcommand is offered");
}

#[test]
fn bash_completes_subcommands_and_their_flags() {
    if !has_bash() {
        eprintln!("skipped: no bash");
        return;
    }
    let (_, script, _) = bin(&["completions", "bash"]);
    assert_eq!(bash_complete(&script, &["iam-risk-score", "wr"]), vec!["write-policy"]);
    let from = bash_complete(&script, &["iam-risk-score", "f"]);
    assert_eq!(from, vec!["from-cloudtrail"]);
    // A subcommand's own flags, not the root's: `scan --ba` → `--base`.
    assert_eq!(bash_complete(&script, &["iam-risk-score", "scan", "--ba"]), vec!["--base"]);
    // Value enums: `--format` on the root completes its formats.
    let formats = bash_complete(&script, &["iam-risk-score", "--format", ""]);
    for f in ["human", "json", "github", "sarif", "markdown"] {
        assert!(formats.iter().any(|x| x == f), "--format completions {formats:?} lack {f}");
    }
    assert_eq!(bash_complete(&script, &["iam-risk-score", "completions", "z"]), vec!["zsh"]);
}

#[test]
fn zsh_and_fish_scripts_mention_every_subcommand() {
    for shell in ["zsh", "fish"] {
        let (code, out, err) = bin(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(!out.trim().is_empty(), "{shell}: empty script");
        for sub in SUBCOMMANDS {
            assert!(out.contains(sub), "{shell} completions lack {sub}");
        }
        assert!(out.contains("format"), "{shell} completions lack --format");
    }
    let (_, zsh, _) = bin(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef iam-risk-score"), "zsh script has no #compdef header");
}

#[test]
fn bad_shell_is_bad_input() {
    let (code, _, err) = bin(&["completions", "powershell-9"]);
    assert_eq!(code, 2);
    assert!(err.contains("bash"), "{err}");
}

fn man_available() -> bool {
    Command::new("man").arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
        && Command::new("groff").arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

/// Render roff with `man -l -` (plain text, no pager), or `None` when man/groff are missing.
fn render_man(roff: &str) -> Option<String> {
    if !man_available() {
        return None;
    }
    let mut child = Command::new("man")
        .args(["-l", "-"])
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(roff.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "man -l failed: {}", String::from_utf8_lossy(&o.stderr));
    // Strip overstrike bold/underline (x\bx, _\bx) in case a formatter leaves it in.
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let mut clean = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if chars.peek() == Some(&'\u{8}') {
            chars.next();
            continue;
        }
        clean.push(c);
    }
    Some(clean)
}

#[test]
fn man_page_is_roff_and_renders() {
    let (code, roff, err) = bin(&["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(roff.lines().any(|l| l.starts_with(".TH iam-risk-score 1")), "no .TH header:\n{roff}");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS"] {
        assert!(roff.contains(section), "no {section}");
    }
    match render_man(&roff) {
        Some(text) => {
            assert!(text.contains("NAME") && text.contains("OPTIONS"), "{text}");
            assert!(text.contains("--format"), "rendered page lacks --format:\n{text}");
            for sub in SUBCOMMANDS {
                assert!(text.contains(&format!("iam-risk-score-{sub}(1)")), "main page does not list {sub}");
            }
        }
        // scripts/test.sh installs man and groff; only a bare `cargo test` elsewhere may lack them.
        None if std::env::var_os("CI").is_some() => panic!("man/groff missing in CI: the pages were not rendered"),
        None => eprintln!("man/groff not installed: checked the roff headers only"),
    }
}

#[test]
fn every_subcommand_has_its_own_man_page() {
    for sub in SUBCOMMANDS {
        let (code, roff, err) = bin(&["man", sub]);
        assert_eq!(code, 0, "{sub}: {err}");
        assert!(roff.lines().any(|l| l.starts_with(&format!(".TH iam-risk-score-{sub} 1"))), "{sub}: {roff}");
        if let Some(text) = render_man(&roff) {
            assert!(text.contains("SYNOPSIS"), "{sub}: {text}");
        }
    }
    let (_, scan, _) = bin(&["man", "scan"]);
    assert!(scan.contains("\\-\\-base"), "scan's page lacks --base");
    let (code, _, err) = bin(&["man", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("write-policy"), "{err}");
}

/// `man --list` is what scripts/package-cli.sh installs a page for, one per line.
#[test]
fn man_list_names_every_subcommand_once() {
    let (code, out, err) = bin(&["man", "--list"]);
    assert_eq!(code, 0, "{err}");
    let listed: Vec<&str> = out.lines().collect();
    assert_eq!(listed, SUBCOMMANDS, "man --list");
    let (code, _, err) = bin(&["man", "scan", "--list"]);
    assert_eq!(code, 2, "a command and --list together: {err}");
}

#[test]
fn help_lists_the_new_commands() {
    let (code, out, _) = bin(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("iam-risk-score completions bash|zsh|fish"), "{out}");
    assert!(out.contains("iam-risk-score man"), "{out}");
}
