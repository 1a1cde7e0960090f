//! The WASM surface in plain Rust (JSON text in, JSON text out), so it is tested natively.
//!
//! Authoring (`write_policy`, `policy_from_cloudtrail`, `narrow`) prints `risk_core::answers`,
//! as the CLI does.
//!
//! Every function returns the exact JSON the CLI prints with `--format json` (minus the
//! pretty-printing): the same serde path over the same core types, so a JS object parsed from
//! it and re-serialised with `JSON.stringify(x, null, 2) + "\n"` is byte-identical to the CLI.

use risk_core::options::Names;
use risk_core::{PolicyError, Problem, ScoreOptions};
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
        // The core's message already says the JSON is malformed; add where, for the editor
        // (for a duplicate key: the second occurrence; the message names both).
        let (line, column) = match risk_core::json::from_str(text) {
            Err(bad) => (Some(bad.line), Some(bad.column)),
            Ok(_) => (None, None),
        };
        Self { message: e.to_string(), problems: e.problems().to_vec(), line, column, side: None }
    }
}

/// Parse the `options` argument (already `JSON.stringify`-ed; `None` for `undefined`) with
/// the core's options module: the checks, limits and messages of every surface. Paths are
/// `options.` + the name as written (camelCase by default; snake_case is accepted too).
pub fn options_from_json(text: Option<&str>) -> Result<ScoreOptions, Failure> {
    let Some(text) = text else { return Ok(ScoreOptions::default()) };
    let value = risk_core::json::from_str(text)
        .map_err(|e| Failure::single("options", format!("are not valid JSON: {}", e.predicate())))?;
    let map = match value {
        Value::Null => return Ok(ScoreOptions::default()),
        Value::Object(map) => map,
        other => {
            return Err(Failure::single(
                "options",
                format!("must be an object, got {}", risk_core::options::describe(&other)),
            ))
        }
    };
    risk_core::options::from_json(&map, Names::CAMEL, "").map_err(|found| {
        let problems: Vec<Problem> =
            found.into_iter().map(|p| Problem { path: format!("options.{}", p.path), message: p.message }).collect();
        let message = problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("; ");
        Failure { message, problems, line: None, column: None, side: None }
    })
}

/// Largest policy, template or narrowing input accepted, in UTF-8 bytes: the engine's limit
/// for every surface ([`risk_core::MAX_POLICY_BYTES`]). Larger text is refused before it is
/// parsed.
pub const MAX_INPUT_BYTES: usize = risk_core::MAX_POLICY_BYTES;

/// Largest CloudTrail input accepted, in UTF-8 bytes. Lower than the CLI's 256 MiB: parsed
/// records take several times their text in the module's memory, and a browser tab that runs
/// out of it aborts the module instead of reporting an error.
pub const MAX_EVENTS_BYTES: usize = 32 * 1024 * 1024;

/// Refuse `text` when it is larger than `max` bytes, saying what to do instead, in the Python
/// package's words. The message starts with `what` (empty when `path` names the input, as
/// `input` does).
fn check_size(path: &str, what: &str, text: &str, max: usize, instead: &str) -> Result<(), Failure> {
    if text.len() <= max {
        return Ok(());
    }
    let limit = if max >= 4 << 20 { format!("{} MiB", max >> 20) } else { format!("{} KiB", max >> 10) };
    let subject = if what.is_empty() { String::new() } else { format!("{what} ") };
    Err(Failure::single(path, format!("{subject}is larger than {limit}; {instead}")))
}

fn check_policy(path: &str, text: &str) -> Result<(), Failure> {
    check_size(path, "the policy", text, MAX_INPUT_BYTES, "an IAM policy is at most a few KiB")
}

fn to_json<T: Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value).map_err(|e| Failure::single("", format!("cannot serialise the result: {e}")))
}

/// Score one policy: the v1 report, as `iam-risk-score FILE --format json` prints it.
pub fn score(policy: &str, options: &ScoreOptions) -> Result<String, Failure> {
    check_policy("", policy)?;
    let report = risk_core::score_json(policy, options).map_err(|e| Failure::policy(&e, policy))?;
    // The structs in declaration order: the one v1 key order every surface prints.
    to_json(&report)
}

/// Compare two versions of a policy, as `iam-risk-score diff OLD NEW --format json` prints it.
pub fn diff(old: &str, new: &str, options: &ScoreOptions) -> Result<String, Failure> {
    for (side, text) in [("old", old), ("new", new)] {
        check_policy("", text).map_err(|mut f| {
            f.message = format!("{side} policy: {}", f.message);
            f.side = Some(side);
            f
        })?;
    }
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
    check_size("", "the pattern", query, 64 * 1024, "give one action pattern or rule code")?;
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

/// Write a least-privilege policy from a template (JSON text: policy_sentry's template as JSON,
/// docs/authoring.md), as `iam-risk-score write-policy --template FILE --format json` prints it:
/// `{"policy", "report"}`, plus `"warnings"` when there are any.
pub fn write_policy(template: &str) -> Result<String, Failure> {
    check_size("", "the template", template, MAX_INPUT_BYTES, "a template lists a few ARNs per access level")?;
    let value = risk_core::json::from_str(template).map_err(|e| {
        let mut f = Failure::single("", format!("the template {}", e.predicate()));
        (f.line, f.column) = (Some(e.line), Some(e.column));
        f
    })?;
    match risk_core::answers::write_policy_value(&value) {
        Ok(w) => to_json(&risk_core::answers::WrittenAnswer::from(&w)),
        Err(e) => Err(Failure::single("", e.message())),
    }
}

/// Build a policy from CloudTrail records (JSON text: a log file, lookup-events output or an
/// array of records), as `iam-risk-score from-cloudtrail FILE --format json` prints it.
pub fn policy_from_cloudtrail(
    events: &str,
    options: &risk_core::cloudtrail::CloudTrailOptions,
) -> Result<String, Failure> {
    check_size(
        "",
        "the CloudTrail input",
        events,
        MAX_EVENTS_BYTES,
        "split it (e.g. one log file at a time), or use the CLI (`iam-risk-score from-cloudtrail`)",
    )?;
    match risk_core::cloudtrail::policy_from_cloudtrail_json(events, options) {
        Ok(b) => to_json(&b),
        Err(e) => {
            let mut f = Failure::single("", e.to_string());
            if let risk_core::cloudtrail::CloudTrailError::Json(_) = e {
                if let Err(bad) = risk_core::json::from_str(events) {
                    (f.line, f.column) = (Some(bad.line), Some(bad.column));
                }
            }
            Err(f)
        }
    }
}

/// The options of [`policy_from_cloudtrail`] (already `JSON.stringify`-ed; `None` for
/// `undefined`): `{"includeDenied": bool}` (`include_denied` accepted too).
pub fn cloudtrail_options_from_json(text: Option<&str>) -> Result<risk_core::cloudtrail::CloudTrailOptions, Failure> {
    let mut out = risk_core::cloudtrail::CloudTrailOptions::default();
    let Some(text) = text else { return Ok(out) };
    let value = risk_core::json::from_str(text)
        .map_err(|e| Failure::single("options", format!("are not valid JSON: {}", e.predicate())))?;
    let map = match value {
        Value::Null => return Ok(out),
        Value::Object(map) => map,
        other => {
            return Err(Failure::single(
                "options",
                format!("must be an object, got {}", risk_core::options::describe(&other)),
            ))
        }
    };
    for (k, v) in &map {
        match (k.as_str(), v) {
            ("includeDenied" | "include_denied", Value::Bool(b)) => out.include_denied = *b,
            ("includeDenied" | "include_denied", Value::Null) => {}
            ("includeDenied" | "include_denied", other) => {
                return Err(Failure::single(
                    format!("options.{k}"),
                    format!("must be a boolean, got {}", risk_core::options::describe(other)),
                ))
            }
            _ => return Err(Failure::single(format!("options.{k}"), "is not an option; use includeDenied")),
        }
    }
    Ok(out)
}

/// Narrow a policy (JSON text) to a task, as `iam-risk-score narrow POLICY --format json` prints
/// it: `{"policy", "before", "after", "diff", "questions", "changes"}`. `input` is JSON text:
/// `{"resources": [ARN…], "accessLevels"?: [level…], "usedActions"?: [action…] | policy |
/// {"policy": …}}` (`access_levels`/`used_actions` accepted too). Errors carry the core's message.
pub fn narrow(policy: &str, input: &str) -> Result<String, Failure> {
    check_policy("", policy)?;
    check_size("input", "", input, MAX_INPUT_BYTES, "list the task's ARNs and actions only")?;
    let value = risk_core::parse_json(policy).map_err(|e| Failure::policy(&e, policy))?;
    let input = risk_core::json::from_str(input).map_err(|e| {
        let mut f = Failure::single("input", format!("is not valid JSON: {}", e.predicate()));
        (f.line, f.column) = (Some(e.line), Some(e.column));
        f
    })?;
    let Value::Object(map) = input else {
        return Err(Failure::single(
            "input",
            format!(
                "must be an object `{{resources, accessLevels?, usedActions?}}`, got {}",
                risk_core::options::describe(&input)
            ),
        ));
    };
    let strings = |key: &str, v: Option<&Value>| -> Result<Vec<String>, Failure> {
        match v {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    item.as_str().map(str::to_string).ok_or_else(|| {
                        Failure::single(
                            format!("input.{key}[{i}]"),
                            format!("must be a string, got {}", risk_core::options::describe(item)),
                        )
                    })
                })
                .collect(),
            Some(other) => Err(Failure::single(
                format!("input.{key}"),
                format!("must be an array of strings, got {}", risk_core::options::describe(other)),
            )),
        }
    };
    let (mut resources, mut levels, mut used) = (None, None, None);
    for (k, v) in &map {
        match k.as_str() {
            "resources" => resources = Some(strings(k, Some(v))?),
            "accessLevels" | "access_levels" => levels = Some(strings(k, Some(v))?),
            "usedActions" | "used_actions" => used = Some(v).filter(|v| !v.is_null()),
            _ => {
                return Err(Failure::single(
                    format!("input.{k}"),
                    "is not an input field; use resources, accessLevels, usedActions",
                ))
            }
        }
    }
    let Some(resources) = resources else {
        return Err(Failure::single("input.resources", "is required (an array of resource ARNs, possibly empty)"));
    };
    match risk_core::answers::narrow_value(&value, resources, &levels.unwrap_or_default(), used) {
        Ok(n) => to_json(&risk_core::answers::NarrowedAnswer::from(&n)),
        Err(e) => Err(Failure::single("", e.message())),
    }
}
