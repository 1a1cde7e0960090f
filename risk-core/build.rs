//! Generates the rule registry from the rule files themselves, so that adding a rule is one
//! new file in `src/rules/` (plus its fixture folder and the regenerated docs) — no `mod`
//! line, no registry entry, no version constant to edit by hand.
//!
//! A file in `src/rules/` is a rule when it defines `pub static META: RuleMeta` and a
//! `pub struct Rule;`. From each rule's metadata this script reads three fields, as written:
//! `code: "XX000"`, `category: Category::Variant` and `changed_in: N`. It emits
//! `$OUT_DIR/rules_registry.rs` (included by `src/rules/mod.rs`) with
//! - one `pub(crate) mod` per rule file (absolute `#[path]`, since the file is included from
//!   `OUT_DIR`),
//! - `REGISTRY`, ordered by category (the order of `enum Category` in `mod.rs`) then code,
//! - `RULES_VERSION`, the highest `changed_in` of any rule: a rule that is added or changes
//!   behaviour sets its own `changed_in` one above the current version, which bumps the
//!   rule-set version every result carries.
//!
//! Mistakes stop the build with a message naming the file and what to write.
//!
//! It also checks data the rules rely on: a privilege-escalation row that does not parse
//! fails the build (naming its line), instead of being dropped at run time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

struct RuleFile {
    module: String,
    path: PathBuf,
    code: String,
    category: String,
    changed_in: u32,
}

#[allow(dead_code)]
#[path = "src/rules/escalation_rows.rs"]
mod escalation_rows;

fn main() {
    check_escalation_rows();
    generate_registry();
}

fn check_escalation_rows() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let path = Path::new(&dir).join("data/privilege-escalation-paths.csv");
    println!("cargo:rerun-if-changed=data/privilege-escalation-paths.csv");
    let data = match std::fs::read_to_string(&path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            std::process::exit(1);
        }
    };
    if let Err(e) = escalation_rows::parse(&data) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn generate_registry() {
    let dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("src/rules");
    println!("cargo:rerun-if-changed={}", dir.display());
    let categories = categories(&dir.join("mod.rs"));

    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| fail(&dir, &format!("cannot list the rules folder: {e}")))
        .map(|e| e.unwrap_or_else(|e| fail(&dir, &format!("cannot list the rules folder: {e}"))).path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs") && p.file_name().is_some_and(|n| n != "mod.rs"))
        .collect();
    entries.sort();

    let mut rules = Vec::new();
    for path in entries {
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| fail(&path, &format!("cannot read: {e}")));
        if !text.contains("pub static META: RuleMeta") {
            continue; // shared support code, not a rule
        }
        if !text.contains("pub struct Rule;") {
            fail(&path, "defines `pub static META: RuleMeta` but no `pub struct Rule;` implementing `super::Rule`");
        }
        let module = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        if module.is_empty() || !module.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            fail(&path, "a rule file's name must be the rule's name in snake_case (e.g. `logging_disruption.rs`)");
        }
        let code = quoted_field(&path, &text, "code");
        let name = quoted_field(&path, &text, "name");
        if name.replace('-', "_") != module {
            fail(&path, &format!("the rule is named `{name}`, so its file must be `{}.rs`", name.replace('-', "_")));
        }
        let category = field(&path, &text, "category")
            .strip_prefix("Category::")
            .unwrap_or_else(|| fail(&path, "write `category: Category::Variant,`"))
            .to_string();
        if !categories.contains(&category) {
            fail(&path, &format!("`Category::{category}` is not a variant of `enum Category` in mod.rs"));
        }
        let changed_in = field(&path, &text, "changed_in").parse::<u32>().unwrap_or_else(|_| {
            fail(&path, "write `changed_in: N,` (the rule-set version in which the rule last changed), a whole number")
        });
        rules.push(RuleFile { module, path, code, category, changed_in });
    }
    if rules.is_empty() {
        fail(&dir, "no rule files found");
    }
    rules.sort_by(|a, b| {
        let rank = |r: &RuleFile| categories.iter().position(|c| *c == r.category);
        rank(a).cmp(&rank(b)).then(a.code.cmp(&b.code))
    });
    for pair in rules.windows(2) {
        if pair[0].code == pair[1].code {
            fail(&pair[1].path, &format!("code {} is already used by {}", pair[1].code, pair[0].path.display()));
        }
    }

    let mut out = String::from("// @generated by risk-core/build.rs from the files in src/rules/; do not edit.\n\n");
    for r in &rules {
        let _ = writeln!(out, "#[path = {:?}]\npub(crate) mod {};", r.path.display().to_string(), r.module);
    }
    out.push_str("\n/// Every rule, ordered by category (as `Category` lists them) then code.\npub static REGISTRY: &[&dyn Rule] = &[\n");
    for r in &rules {
        let _ = writeln!(out, "    &{}::Rule,", r.module);
    }
    out.push_str("];\n\n");
    let version = rules.iter().map(|r| r.changed_in).max().unwrap_or(1);
    let _ = writeln!(
        out,
        "/// Version of the rule set: the highest `changed_in` of any rule ({version}).\npub const RULES_VERSION: &str = \"{version}\";"
    );

    let target = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("rules_registry.rs");
    std::fs::write(&target, out).unwrap_or_else(|e| fail(&target, &format!("cannot write: {e}")));
}

/// The variants of `pub enum Category { … }` in `mod.rs`, in declaration order.
fn categories(mod_rs: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(mod_rs).unwrap_or_else(|e| fail(mod_rs, &format!("cannot read: {e}")));
    let body = text
        .split_once("pub enum Category {")
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(body, _)| body)
        .unwrap_or_else(|| fail(mod_rs, "`pub enum Category { … }` not found"));
    body.lines()
        .map(|l| l.trim().trim_end_matches(','))
        .filter(|l| !l.is_empty() && !l.starts_with("//") && !l.starts_with("#"))
        .map(str::to_string)
        .collect()
}

/// The text after `name:` in the `META` initialiser, up to the comma that ends the line.
fn field(path: &Path, text: &str, name: &str) -> String {
    let meta = text.split_once("pub static META: RuleMeta").map(|(_, rest)| rest).unwrap_or(text);
    let prefix = format!("{name}:");
    meta.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().trim_end_matches(',').trim().to_string())
        .unwrap_or_else(|| fail(path, &format!("META has no `{name}:` line")))
}

fn quoted_field(path: &Path, text: &str, name: &str) -> String {
    let value = field(path, text, name);
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .map(str::to_string)
        .unwrap_or_else(|| fail(path, &format!("write `{name}: \"…\",` on one line")))
}

fn fail(path: &Path, message: &str) -> ! {
    panic!("risk-core rule registry: {}: {message}", path.display())
}
