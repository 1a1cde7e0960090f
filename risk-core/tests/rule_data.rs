//! Action names written anywhere in the rules' source or docs exist in the catalog, read
//! straight from `catalog/data/catalog.json`. This backs `Rule::action_names` (which covers
//! the lists rules resolve) for names used elsewhere: direct lookups such as `iam:PassRole`,
//! `sts:AssumeRoleWithWebIdentity` comparisons, condition keys, and action names in the
//! rule reference text.

use risk_core::explain::rule_docs;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

struct Catalog {
    prefixes: BTreeSet<String>,
    /// `service:action`, lowercase.
    actions: BTreeSet<String>,
    /// Service condition keys, lowercase.
    keys: BTreeSet<String>,
}

fn catalog() -> Catalog {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../catalog/data/catalog.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("catalog.json")).expect("JSON");
    let mut c = Catalog { prefixes: BTreeSet::new(), actions: BTreeSet::new(), keys: BTreeSet::new() };
    for s in v["services"].as_array().expect("services") {
        let prefix = s["prefix"].as_str().expect("prefix");
        c.prefixes.insert(prefix.to_string());
        for a in s["actions"].as_array().expect("actions") {
            c.actions.insert(format!("{prefix}:{}", a[0].as_str().expect("action name")).to_ascii_lowercase());
        }
        for k in s["conditionKeys"].as_array().expect("conditionKeys") {
            c.keys.insert(k[0].as_str().expect("key").to_ascii_lowercase());
        }
    }
    c
}

/// `svc:Name` tokens whose service is a catalog prefix (so ARNs, `aws:` keys and prose pass by).
fn tokens<'a>(text: &'a str, open: char, close: char, c: &Catalog) -> Vec<&'a str> {
    let mut out = Vec::new();
    for piece in text.split(open).skip(1).step_by(2) {
        let Some(tok) = piece.split(close).next() else { continue };
        let Some((svc, name)) = tok.split_once(':') else { continue };
        if c.prefixes.contains(svc)
            && !name.is_empty()
            && name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '*' || ch == '?')
        {
            out.push(tok);
        }
    }
    out
}

fn wildcard_match(pattern: &[u8], s: &[u8]) -> bool {
    match (pattern.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => wildcard_match(&pattern[1..], s) || (!s.is_empty() && wildcard_match(pattern, &s[1..])),
        (Some(b'?'), Some(_)) => wildcard_match(&pattern[1..], &s[1..]),
        (Some(p), Some(c)) if p == c => wildcard_match(&pattern[1..], &s[1..]),
        _ => false,
    }
}

fn known(tok: &str, c: &Catalog, keys_too: bool) -> bool {
    let t = tok.to_ascii_lowercase();
    if t.contains(['*', '?']) {
        return c.actions.iter().any(|a| wildcard_match(t.as_bytes(), a.as_bytes()));
    }
    c.actions.contains(&t) || (keys_too && c.keys.contains(&t))
}

/// Source with raw strings (`r#"…"#`, the JSON examples) removed.
fn without_raw_strings(src: &str) -> String {
    let mut out = String::new();
    let mut rest = src;
    while let Some(i) = rest.find("r#\"") {
        out.push_str(&rest[..i]);
        rest = rest[i..].find("\"#").map_or("", |j| &rest[i + j + 2..]);
    }
    out.push_str(rest);
    out
}

#[test]
fn every_action_literal_in_the_rules_is_in_the_catalog() {
    let c = catalog();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/rules");
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("src/rules").map(|e| e.expect("entry").path()).collect();
    files.sort();
    let mut problems = Vec::new();
    let mut checked = 0;
    for f in files.iter().filter(|p| p.extension().is_some_and(|e| e == "rs")) {
        let src = without_raw_strings(&std::fs::read_to_string(f).expect("read rule"));
        for tok in tokens(&src, '"', '"', &c) {
            checked += 1;
            // Literals may also be condition keys (`iam:PassedToService`).
            if !known(tok, &c, true) {
                problems.push(format!("{}: `{tok}` is neither a catalog action nor a condition key", f.display()));
            }
        }
    }
    assert!(checked > 200, "only {checked} literals found: has the rule source moved?");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn action_names_in_the_rule_reference_are_in_the_catalog() {
    let c = catalog();
    let mut problems = Vec::new();
    for d in rule_docs() {
        for text in [d.summary, d.what, d.why, d.safer, d.scoring] {
            for tok in tokens(text, '`', '`', &c) {
                // VA001 describes misspelt actions, with a misspelt one as its example.
                if d.code == "VA001" && tok == "s3:GetObjectz" {
                    continue;
                }
                if !known(tok, &c, true) {
                    problems.push(format!("{} {}: docs name `{tok}`, which is not in the catalog", d.code, d.name));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
