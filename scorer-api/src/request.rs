//! Request bodies: the JSON extractor (415/413/400 in the API's error shape) and field-by-field
//! validation that names every bad field by its JSON path (422).

use crate::error::{join_path, AppError, Detail};
use crate::AppState;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use risk_core::{AccessType, PolicyType, ScoreOptions};
use serde_json::{Map, Value};

/// Longest `description` accepted, in characters (as the predecessor).
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Longest grant accepted, in hours (one year, as the predecessor and the CLI).
pub const MAX_DURATION_HOURS: u64 = 8760;

const SCORE_FIELDS: &str = "policy, access_type, duration_hours, description, additional_sensitive_services, \
additional_high_impact_actions, policy_type, narrative";

/// A JSON request body. Rejects other media types (415), bodies over the configured limit
/// (413) and malformed JSON (400, with line and column), all in the API's error shape. The
/// second field is the body's size in bytes.
pub struct JsonBody(pub Value, pub usize);

impl FromRequest<AppState> for JsonBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            })
            .unwrap_or(false);
        if !json {
            return Err(AppError::UnsupportedMediaType);
        }
        let limit = state.config.body_limit;
        let declared =
            req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(AppError::PayloadTooLarge { limit });
        }
        let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|e| {
            // The only error besides the limit is a broken connection mid-body.
            let too_large = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                AppError::PayloadTooLarge { limit }
            } else {
                AppError::InvalidJson("the body could not be read".into())
            }
        })?;
        serde_json::from_slice(&bytes).map(|v| JsonBody(v, bytes.len())).map_err(|e| {
            let what = if e.is_eof() { "it ends unexpectedly" } else { "syntax error" };
            AppError::InvalidJson(format!("{what} at line {} column {}", e.line(), e.column()))
        })
    }
}

/// A validated scoring request.
#[derive(Debug, Clone)]
pub struct ScoreInput {
    pub policy: Value,
    pub options: ScoreOptions,
    /// `Some(false)` skips the narrative; `Some(true)` asks for one even without a model (the
    /// template then); `None` follows the server configuration.
    pub narrative: Option<bool>,
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) if s.chars().count() > 40 => "a string".into(),
        Value::String(s) => format!("`{s}`"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Validate one scoring request object found at `prefix` (empty for the body itself).
pub fn score_input(body: Value, prefix: &str) -> Result<ScoreInput, AppError> {
    let mut map = match body {
        Value::Object(m) => m,
        other => {
            return Err(AppError::Validation(vec![Detail {
                path: prefix.to_string(),
                message: format!("must be a JSON object with a `policy` field, got {}", describe(&other)),
            }]))
        }
    };
    let mut problems = Vec::new();
    let mut policy_error = None;
    let at = |field: &str| join_path(prefix, field);
    let policy = match map.remove("policy") {
        None | Some(Value::Null) => {
            problems.push(Detail { path: at("policy"), message: "is required (an IAM policy document)".into() });
            Value::Null
        }
        Some(Value::String(text)) => match risk_core::parse_json(&text) {
            Ok(v) => v,
            Err(e) => {
                // Reported only if every other field is valid: invalid fields come first (422).
                policy_error = Some(crate::error::policy_error(&e, &at("policy")));
                Value::Null
            }
        },
        Some(v @ Value::Object(_)) => v,
        Some(other) => {
            problems.push(Detail {
                path: at("policy"),
                message: format!("must be an IAM policy document (a JSON object), got {}", describe(&other)),
            });
            Value::Null
        }
    };
    let mut options = ScoreOptions::default();
    let mut narrative = None;
    let mut bad = |field: &str, message: String| problems.push(Detail { path: at(field), message });
    options_from(&mut map, &mut options, &mut bad);
    if let Some(v) = map.remove("narrative") {
        match v {
            Value::Null => {}
            Value::Bool(b) => narrative = Some(b),
            other => bad("narrative", format!("must be true or false, got {}", describe(&other))),
        }
    }
    for key in map.keys() {
        bad(key, format!("is not a field; use {SCORE_FIELDS}"));
    }
    match policy_error {
        _ if !problems.is_empty() => Err(AppError::Validation(problems)),
        Some(e) => Err(e),
        None => Ok(ScoreInput { policy, options, narrative }),
    }
}

/// Read the optional context fields shared by score and diff requests out of `map`.
pub fn options_from(map: &mut Map<String, Value>, options: &mut ScoreOptions, bad: &mut impl FnMut(&str, String)) {
    let mut take = |k: &str| map.remove(k).filter(|v| !v.is_null());
    if let Some(v) = take("access_type") {
        match v.as_str().and_then(AccessType::parse) {
            Some(t) => options.access_type = Some(t),
            None => bad("access_type", format!(r#"must be "read-only" or "read-write", got {}"#, describe(&v))),
        }
    }
    if let Some(v) = take("duration_hours") {
        match v.as_u64().filter(|h| (1..=MAX_DURATION_HOURS).contains(h)) {
            Some(h) => options.duration_hours = u32::try_from(h).ok(),
            None => bad(
                "duration_hours",
                format!("must be a whole number of hours from 1 to {MAX_DURATION_HOURS}, got {}", describe(&v)),
            ),
        }
    }
    if let Some(v) = take("description") {
        match v.as_str() {
            Some(s) if s.chars().count() <= MAX_DESCRIPTION_CHARS => options.description = Some(s.to_string()),
            Some(s) => bad(
                "description",
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters, got {}", s.chars().count()),
            ),
            None => bad("description", format!("must be a string, got {}", describe(&v))),
        }
    }
    if let Some(v) = take("additional_sensitive_services") {
        for (i, s) in strings(&v, "additional_sensitive_services", bad) {
            // The core's checks, so every surface words these errors the same.
            if let Err(message) = risk_core::options::check_sensitive_service(s) {
                bad(&format!("additional_sensitive_services[{i}]"), message);
            }
            options.extra_sensitive_services.push(s.trim().to_string());
        }
    }
    if let Some(v) = take("additional_high_impact_actions") {
        for (i, p) in strings(&v, "additional_high_impact_actions", bad) {
            if let Err(message) = risk_core::options::check_high_impact_action(p) {
                bad(&format!("additional_high_impact_actions[{i}]"), message);
            }
            options.extra_high_impact_actions.push(p.trim().to_string());
        }
    }
    if let Some(v) = take("policy_type") {
        match v.as_str().and_then(|s| PolicyType::parse(s.trim())) {
            Some(t) => options.policy_type = Some(t),
            None => bad("policy_type", format!(r#"must be "identity", "resource" or "trust", got {}"#, describe(&v))),
        }
    }
}

fn strings<'v>(value: &'v Value, path: &str, bad: &mut impl FnMut(&str, String)) -> Vec<(usize, &'v str)> {
    let Some(items) = value.as_array() else {
        bad(path, format!("must be an array of strings, got {}", describe(value)));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item.as_str() {
            Some(s) => out.push((i, s)),
            None => bad(&format!("{path}[{i}]"), format!("must be a string, got {}", describe(item))),
        }
    }
    out
}

/// A validated diff request.
#[derive(Debug)]
pub struct DiffInput {
    pub old: Value,
    pub new: Value,
    pub options: ScoreOptions,
}

pub fn diff_input(body: Value) -> Result<DiffInput, AppError> {
    let Value::Object(mut map) = body else {
        return Err(AppError::Validation(vec![Detail {
            path: String::new(),
            message: "must be a JSON object with `old` and `new` policies".into(),
        }]));
    };
    let mut problems = Vec::new();
    let mut policy_error = None;
    let mut side = |name: &str, problems: &mut Vec<Detail>| -> Result<Value, AppError> {
        match map.remove(name) {
            Some(v @ Value::Object(_)) => Ok(v),
            Some(Value::String(text)) => match risk_core::parse_json(&text) {
                Ok(v) => Ok(v),
                Err(e) => {
                    if policy_error.is_none() {
                        policy_error = Some(crate::error::policy_error(&e, name));
                    }
                    Ok(Value::Null)
                }
            },
            None | Some(Value::Null) => {
                problems.push(Detail { path: name.into(), message: "is required (an IAM policy document)".into() });
                Ok(Value::Null)
            }
            Some(other) => {
                problems.push(Detail {
                    path: name.into(),
                    message: format!("must be an IAM policy document (a JSON object), got {}", describe(&other)),
                });
                Ok(Value::Null)
            }
        }
    };
    let old = side("old", &mut problems)?;
    let new = side("new", &mut problems)?;
    let mut options = ScoreOptions::default();
    let mut bad = |field: &str, message: String| problems.push(Detail { path: field.to_string(), message });
    options_from(&mut map, &mut options, &mut bad);
    for key in map.keys() {
        bad(
            key,
            "is not a field; use old, new, access_type, duration_hours, description, additional_sensitive_services, \
             additional_high_impact_actions, policy_type"
                .into(),
        );
    }
    match policy_error {
        _ if !problems.is_empty() => Err(AppError::Validation(problems)),
        Some(e) => Err(e),
        None => Ok(DiffInput { old, new, options }),
    }
}
