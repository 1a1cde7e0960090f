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
