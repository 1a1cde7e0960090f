//! Every rule's fixtures, which live beside the rule: `src/rules/<rule_name>.rs` has the folder
//! `src/rules/<rule_name>/` with
//!
//! - `fires-*.json`: policies that must trigger the rule; the rule's findings on each are a
//!   snapshot in `snapshots/<file stem>.snap`,
//! - `near-miss-*.json`: policies that must *not* trigger it (what a sloppy rule would flag),
//! - `options.json` (optional): `ScoreOptions` fields (snake_case, as the CLI's and the
//!   Python package's options) used for every fixture of the folder.
//!
//! A fixture is a policy document, or `{"options": {…}, "policy": {…}}` for one that needs
//! other options than the folder's. The rule's documented example (`META.example`) must
//! trigger it too, and is snapshotted as `snapshots/example.snap`.
//!
//! Only the folder's own rule is asserted or snapshotted, so adding a rule never changes
//! another rule's fixtures. Accept new or changed snapshots with
//! `INSTA_UPDATE=always cargo test --workspace --test rule_fixtures` (or `cargo insta review`)
//! and read the diff before committing.

use risk_core::rules::{RuleMeta, REGISTRY};
use risk_core::{score_value, OptionsInput, Report, ScoreOptions, RULES_VERSION};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/rules")
}

fn folder_of(meta: &RuleMeta) -> PathBuf {
    rules_dir().join(meta.name.replace('-', "_"))
}

fn options(value: &Value, origin: &Path) -> ScoreOptions {
    let input: OptionsInput = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{}: options do not parse: {e}", origin.display()));
    input.validate().unwrap_or_else(|p| panic!("{}: invalid options: {p:?}", origin.display()))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

struct Fixture {
    path: PathBuf,
    stem: String,
    policy: Value,
    options: ScoreOptions,
}

/// The folder's fixtures, sorted by file name; unexpected files fail the test.
fn fixtures(meta: &RuleMeta) -> (ScoreOptions, Vec<Fixture>) {
    let dir = folder_of(meta);
    let folder_options_path = dir.join("options.json");
    let folder_options = if folder_options_path.exists() {
        options(&read_json(&folder_options_path), &folder_options_path)
    } else {
        ScoreOptions::default()
    };
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.map(|e| e.expect("readable fixture folder").path()).collect(),
        Err(e) => panic!(
            "{} {}: no fixture folder `{}` ({e}); add near-miss-*.json (and fires-*.json) there",
            meta.code,
            meta.name,
            dir.display()
        ),
    };
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if name == "options.json" || name == "snapshots" {
            continue;
        }
        assert!(
            name.ends_with(".json") && (name.starts_with("fires-") || name.starts_with("near-miss-")),
            "{}: fixtures are named fires-*.json or near-miss-*.json (or options.json)",
            path.display()
        );
        let doc = read_json(&path);
        let (policy, options) = match doc.get("policy") {
            Some(policy) => (policy.clone(), options(doc.get("options").unwrap_or(&Value::Null), &path)),
            None => (doc, folder_options.clone()),
        };
        let stem = name.trim_end_matches(".json").to_string();
        out.push(Fixture { path, stem, policy, options });
    }
    (folder_options, out)
}

fn score(policy: &Value, options: &ScoreOptions, origin: &str) -> Report {
    let report = score_value(policy, options).unwrap_or_else(|e| panic!("{origin}: does not score: {e}"));
    for f in &report.findings {
        let max = risk_core::rules::find(&f.rule).map_or(0, |r| r.meta().max_score);
        assert!((1..=max).contains(&f.score), "{origin}: {} scored {} outside 1..={max}", f.rule, f.score);
    }
    report
}

/// The rule's own findings, one block each: what a reviewer needs to judge a change.
fn describe(meta: &RuleMeta, report: &Report) -> String {
    let mut out = String::new();
    for f in report.findings.iter().filter(|f| f.rule == meta.code) {
        let _ = writeln!(out, "{} {} (score {}, {})", f.rule, f.name, f.score, f.severity);
        let _ = writeln!(out, "  statements: {:?}", f.statements);
        if let Some(conditions) = &f.conditions {
            let _ = writeln!(out, "  conditions: {conditions}");
        }
        if !f.paths.is_empty() {
            let _ = writeln!(out, "  paths: {}", f.paths.join(", "));
        }
        if !f.actions.is_empty() {
            let _ = writeln!(out, "  actions: {}", f.actions.join(", "));
        }
        if !f.resources.is_empty() {
            let _ = writeln!(out, "  resources: {}", f.resources.join(", "));
        }
        let _ = writeln!(out, "  message: {}", f.message);
        let _ = writeln!(out, "  suggestion: {}", f.suggestion);
    }
    out
}

fn snapshot(meta: &RuleMeta, name: &str, source: &str, report: &Report) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(folder_of(meta).join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(source);
    settings.bind(|| insta::assert_snapshot!(name, describe(meta, report)));
}

#[test]
fn every_rule_fires_on_its_example_and_fires_fixtures_and_not_on_its_near_misses() {
    let mut failures = Vec::new();
    for rule in REGISTRY {
        let meta = rule.meta();
        let (folder_options, fixtures) = fixtures(meta);
        let example: Value = serde_json::from_str(meta.example)
            .unwrap_or_else(|e| panic!("{}: documented example is not JSON: {e}", meta.code));
        let report = score(&example, &folder_options, &format!("{} example", meta.code));
        if !report.findings.iter().any(|f| f.rule == meta.code) {
            failures.push(format!("{} {}: the documented example does not trigger it", meta.code, meta.name));
        }
        snapshot(meta, "example", &format!("{} META.example", meta.name.replace('-', "_")), &report);

        let near_misses = fixtures.iter().filter(|f| f.stem.starts_with("near-miss-")).count();
        if near_misses == 0 {
            failures.push(format!("{} {}: no near-miss-*.json in {}", meta.code, meta.name, folder_of(meta).display()));
        }
        for fx in &fixtures {
            let report = score(&fx.policy, &fx.options, &fx.path.display().to_string());
            let fired: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
            let hit = fired.contains(&meta.code);
            if fx.stem.starts_with("fires-") {
                if !hit {
                    failures.push(format!(
                        "{}: must trigger {} but did not (fired: {fired:?})",
                        fx.path.display(),
                        meta.code
                    ));
                }
                let source = fx.path.strip_prefix(rules_dir()).unwrap_or(&fx.path).display().to_string();
                snapshot(meta, &fx.stem, &source, &report);
            } else if hit {
                failures.push(format!(
                    "{}: a near miss, but {} fired:\n{}",
                    fx.path.display(),
                    meta.code,
                    describe(meta, &report)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A folder without a rule (renamed or removed rule) would silently stop being tested.
#[test]
fn every_fixture_folder_belongs_to_a_rule() {
    let names: Vec<String> = REGISTRY.iter().map(|r| r.meta().name.replace('-', "_")).collect();
    for entry in std::fs::read_dir(rules_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            assert!(names.contains(&name), "{}: no rule named `{}`", path.display(), name.replace('_', "-"));
        }
    }
}

#[test]
fn rule_codes_and_names_are_unique_and_well_formed() {
    let metas: Vec<&RuleMeta> = REGISTRY.iter().map(|r| r.meta()).collect();
    for (i, d) in metas.iter().enumerate() {
        assert!(d.code.len() == 5 && d.code[..2].chars().all(|c| c.is_ascii_uppercase()), "{}", d.code);
        assert!(d.code[2..].chars().all(|c| c.is_ascii_digit()), "{}", d.code);
        assert!(d.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{}", d.name);
        for e in &metas[i + 1..] {
            assert_ne!(d.code, e.code);
            assert_ne!(d.name, e.name);
        }
        assert!(!d.what.is_empty() && !d.why.is_empty() && !d.safer.is_empty() && !d.scoring.is_empty());
    }
}

/// `build.rs` reads `changed_in` from the rule files' text; the compiled metadata must agree.
#[test]
fn rules_version_is_the_latest_change_of_any_rule() {
    let latest = REGISTRY.iter().map(|r| r.meta().changed_in).max().unwrap();
    assert_eq!(RULES_VERSION, latest.to_string());
}
