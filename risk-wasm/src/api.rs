//! The WASM surface in plain Rust (JSON text in, JSON text out), so it is tested natively.
//!
//! Every function returns the exact JSON the CLI prints with `--format json` (minus the
//! pretty-printing): the same serde path over the same core types, so a JS object parsed from
//! it and re-serialised with `JSON.stringify(x, null, 2) + "\n"` is byte-identical to the CLI.

use risk_core::{AccessType, PolicyError, PolicyType, Problem, ScoreOptions};
use serde::Serialize;
use serde_json::Value;

/// Why a call failed: becomes a JavaScript `Error` with these fields as properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The same message the CLI prints after `error: `.
    pub message: String,
    /// Every problem with its JSON path (`Statement[0].Effect`, `options.durationHours`, or
    /// empty for the whole document). Never empty.
    pub problems: Vec<Problem>,
    /// 1-based position of a JSON syntax error in the policy text.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// `old` or `new` for a failed diff.
    pub side: Option<&'static str>,
}

impl Failure {
    /// One problem at `path`.
    pub fn single(path: impl Into<String>, message: impl Into<String>) -> Self {
        let problem = Problem { path: path.into(), message: message.into() };
        Self { message: problem.to_string(), problems: vec![problem], line: None, column: None, side: None }
    }

    fn policy(e: &PolicyError, text: &str) -> Self {
        // The core's message already says the JSON is malformed; add where, for the editor.
        let (line, column) = match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Err(syntax) => (Some(syntax.line()), Some(syntax.column())),
            Ok(_) => (None, None),
        };
        Self { message: e.to_string(), problems: e.problems().to_vec(), line, column, side: None }
    }
}

/// Option names as JavaScript callers write them (the HTTP API's snake_case is accepted too).
const OPTION_NAMES: &str =
    "accessType, durationHours, description, extraSensitiveServices, extraHighImpactActions, policyType";

/// Longest grant the CLI accepts (`--duration-hours 1..=8760`, one year).
const MAX_DURATION_HOURS: u64 = 8760;

/// Parse the `options` argument (already `JSON.stringify`-ed; `None` for `undefined`).
/// Validates like the CLI does for its flags: unknown services and action patterns are errors.
pub fn options_from_json(text: Option<&str>) -> Result<ScoreOptions, Failure> {
    let mut out = ScoreOptions::default();
    let Some(text) = text else { return Ok(out) };
    let value: Value =
        serde_json::from_str(text).map_err(|e| Failure::single("options", format!("are not valid JSON: {e}")))?;
    let map = match value {
        Value::Null => return Ok(out),
        Value::Object(map) => map,
        other => return Err(Failure::single("options", format!("must be an object, got {}", describe(&other)))),
    };
    let mut problems = Vec::new();
    let mut bad = |path: &str, message: String| problems.push(Problem { path: format!("options.{path}"), message });
    for (key, value) in &map {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "accessType" | "access_type" => match value.as_str().and_then(AccessType::parse) {
                Some(t) => out.access_type = Some(t),
                None => bad("accessType", format!(r#"must be "read-only" or "read-write", got {}"#, describe(value))),
            },
            "durationHours" | "duration_hours" => {
                match value.as_u64().filter(|h| (1..=MAX_DURATION_HOURS).contains(h)) {
                    Some(h) => out.duration_hours = u32::try_from(h).ok(),
                    None => bad(
                        "durationHours",
                        format!(
                            "must be a whole number of hours from 1 to {MAX_DURATION_HOURS}, got {}",
                            describe(value)
                        ),
                    ),
                }
            }
            "description" => match value.as_str() {
                Some(s) => out.description = Some(s.to_string()),
                None => bad("description", format!("must be a string, got {}", describe(value))),
            },
            "extraSensitiveServices" | "extra_sensitive_services" => {
                for (i, s) in strings(value, "extraSensitiveServices", &mut bad) {
                    let Some(s) = s else {
                        bad(&format!("extraSensitiveServices[{i}]"), "must be a string".into());
                        continue;
                    };
                    if let Err(m) = risk_core::options::check_sensitive_service(s) {
                        bad(&format!("extraSensitiveServices[{i}]"), m);
                    }
                    out.extra_sensitive_services.push(s.to_string());
                }
            }
            "extraHighImpactActions" | "extra_high_impact_actions" => {
                for (i, p) in strings(value, "extraHighImpactActions", &mut bad) {
                    let Some(p) = p else {
                        bad(&format!("extraHighImpactActions[{i}]"), "must be a string".into());
                        continue;
                    };
                    if let Err(m) = risk_core::options::check_high_impact_action(p) {
                        bad(&format!("extraHighImpactActions[{i}]"), m);
                    }
                    out.extra_high_impact_actions.push(p.to_string());
                }
            }
            "policyType" | "policy_type" => match value.as_str().and_then(PolicyType::parse) {
                Some(t) => out.policy_type = Some(t),
                None => {
                    bad("policyType", format!(r#"must be "identity", "resource" or "trust", got {}"#, describe(value)))
                }
            },
            _ => bad(key, format!("is not an option; use one of {OPTION_NAMES}")),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        let message = problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("; ");
        Err(Failure { message, problems, line: None, column: None, side: None })
    }
}

/// The elements of an array option with their indices, in order; `None` for a non-string.
fn strings<'v>(value: &'v Value, path: &str, bad: &mut impl FnMut(&str, String)) -> Vec<(usize, Option<&'v str>)> {
    let Some(items) = value.as_array() else {
        bad(path, format!("must be an array of strings, got {}", describe(value)));
        return Vec::new();
    };
    items.iter().map(Value::as_str).enumerate().collect()
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) => format!("`{s}`"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value).map_err(|e| Failure::single("", format!("cannot serialise the result: {e}")))
}

/// Score one policy: the v1 report, as `iam-risk-score FILE --format json` prints it.
pub fn score(policy: &str, options: &ScoreOptions) -> Result<String, Failure> {
    let report = risk_core::score_json(policy, options).map_err(|e| Failure::policy(&e, policy))?;
    // The structs in declaration order: the one v1 key order every surface prints.
    to_json(&report)
}

/// Compare two versions of a policy, as `iam-risk-score diff OLD NEW --format json` prints it.
pub fn diff(old: &str, new: &str, options: &ScoreOptions) -> Result<String, Failure> {
    match risk_core::diff::diff_json(old, new, options) {
        Ok(d) => to_json(&d),
        Err(e) => {
            let (side, text) = match e {
                risk_core::diff::DiffError::Old(_) => ("old", old),
                risk_core::diff::DiffError::New(_) => ("new", new),
            };
            let mut f = Failure::policy(e.policy_error(), text);
            f.message = e.to_string();
            f.side = Some(side);
            Err(f)
        }
    }
}

/// A rule's documentation or an action pattern's expansion (`iam-risk-score explain Q --format json`).
pub fn explain(query: &str) -> Result<String, Failure> {
    match risk_core::explain::explain(query) {
        Ok(x) => to_json(&x),
        Err(message) => Err(Failure::single("", message)),
    }
}

/// Every rule's documentation, in registry order (`iam-risk-score rules --format json`).
pub fn rules() -> Result<String, Failure> {
    to_json(&risk_core::explain::rule_docs())
}

/// The bundled catalog's size and provenance (`iam-risk-score catalog --format json`).
pub fn catalog_info() -> Result<String, Failure> {
    to_json(&risk_core::catalog_info())
}

/// Engine, rule-set and catalog versions, as stamped into every result.
pub fn version() -> Result<String, Failure> {
    to_json(&risk_core::versions())
}
