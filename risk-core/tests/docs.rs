//! Staleness check for the generated docs: `docs/rules.md` and `docs/escalation-paths.md` must equal their generators' output.
//!
//! `UPDATE_DOCS=1 cargo test -p risk-core --test docs` rewrites both files instead of comparing.

use std::path::PathBuf;

const REGENERATE: &str = "UPDATE_DOCS=1 cargo test -p risk-core --test docs";

fn check(relative: &str, generated: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(relative);
    if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        std::fs::write(&path, generated).unwrap_or_else(|e| panic!("cannot write `{}`: {e}", path.display()));
        return;
    }
    let committed = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => panic!("`{relative}` cannot be read ({e}); generate it with `{REGENERATE}`"),
    };
    if committed == generated {
        return;
    }
    // Point at the first differing line so the cause is visible without running a diff.
    let (mut old, mut new) = (committed.lines(), generated.lines());
    let mut line = 1;
    let (was, now) = loop {
        match (old.next(), new.next()) {
            (a, b) if a == b && a.is_some() => line += 1,
            (a, b) => break (a.unwrap_or("<end of file>"), b.unwrap_or("<end of file>")),
        }
    };
    panic!(
        "`{relative}` is stale: it differs from the generated text at line {line}\n  committed: {was}\n  generated: {now}\n\
         regenerate it with `{REGENERATE}` and commit the result"
    );
}

#[test]
fn rules_reference_is_current() {
    check("docs/rules.md", &risk_core::docs::rules_markdown());
}

#[test]
fn escalation_paths_are_current() {
    check("docs/escalation-paths.md", &risk_core::docs::escalation_paths_markdown());
}

/// ARCHITECTURE.md's layer diagram and crate table name every workspace member, so the map
/// cannot silently miss a crate (a new crate fails here until it is drawn and described).
#[test]
fn architecture_names_every_crate() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members = manifest.lines().find(|l| l.trim_start().starts_with("members")).expect("workspace members");
    let arch = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let diagram = arch.split("```text").nth(1).and_then(|d| d.split("```").next()).expect("the layer diagram");
    let mut missing = Vec::new();
    for dir in members.split('"').skip(1).step_by(2) {
        let cargo = std::fs::read_to_string(root.join(dir).join("Cargo.toml")).unwrap();
        let name = cargo
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .and_then(|n| n.strip_suffix('"'))
            .unwrap_or_else(|| panic!("{dir}/Cargo.toml has no package name"));
        if !diagram.contains(&format!("{dir}/")) || !diagram.contains(name) {
            missing.push(format!("the diagram lacks `{dir}/` ({name})"));
        }
        if !arch.contains(&format!("| `{name}` | `{dir}/` |")) {
            missing.push(format!("the crate table lacks the row `| `{name}` | `{dir}/` |`"));
        }
    }
    assert!(missing.is_empty(), "ARCHITECTURE.md: {}", missing.join("; "));
}
