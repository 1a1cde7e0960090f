//! Request bodies: the JSON extractor (415/413/400 in the API's error shape) and field-by-field
//! validation that names every bad field by its JSON path (422).

use crate::error::{join_path, AppError, Detail};
use crate::AppState;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use risk_core::options::{describe, from_json, Names};
use risk_core::ScoreOptions;
use serde_json::{Map, Value};

pub use risk_core::options::{MAX_DESCRIPTION_CHARS, MAX_DURATION_HOURS};

/// A JSON request body. Rejects other media types (415), bodies over the configured limit
/// (413) and malformed JSON (400, with line and column), all in the API's error shape. The
/// second field is the body's size in bytes.
pub struct JsonBody(pub Value, pub usize);

impl FromRequest<AppState> for JsonBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state.config.body_limit).await?;
        // The core's strict reader: a duplicate key anywhere in the body (inside `policy` too)
        // is an error, worded as on every other surface.
        parse_body(&bytes).map(|v| JsonBody(v, bytes.len()))
    }
}

/// A JSON request body left unparsed, under the larger `events_body_limit` (CloudTrail files):
/// the handler parses it with [`parse_body`] off the async workers.
pub struct EventsBody(pub axum::body::Bytes, pub tokio::sync::OwnedSemaphorePermit);

impl FromRequest<AppState> for EventsBody {
    type Rejection = AppError;

    /// Waits for one of `events_concurrency` permits *before* reading the body: a burst of
    /// large uploads waits in the socket buffers instead of in memory.
    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let permit = state.events_permit().await?;
        let body = read_body(req, state.config.events_body_limit).await?;
        Ok(EventsBody(body, permit))
    }
}

/// A repository archive for `POST /api/v1/scan` (tar, tar.gz or zip), under
/// `archive_body_limit`; like [`EventsBody`] it waits for one of the `events_concurrency`
/// permits before reading, so large uploads queue instead of filling memory.
pub struct ArchiveBody(pub axum::body::Bytes, pub tokio::sync::OwnedSemaphorePermit);

/// The media types an archive may be sent as (`octet-stream`: the format is read from the bytes).
const ARCHIVE_TYPES: &[&str] = &[
    "application/gzip",
    "application/x-gzip",
    "application/x-tar",
    "application/tar",
    "application/x-gtar",
    "application/zip",
    "application/x-zip-compressed",
    "application/octet-stream",
];

impl FromRequest<AppState> for ArchiveBody {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let media = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase());
        if !media.is_some_and(|m| ARCHIVE_TYPES.contains(&m.as_str())) {
            return Err(AppError::UnsupportedArchiveType);
        }
        let permit = state.events_permit().await?;
        let body = read_limited(req, state.config.archive_body_limit).await?;
        Ok(ArchiveBody(body, permit))
    }
}

/// The body's bytes: 415 unless JSON, 413 over `limit` (declared or read).
async fn read_body(req: Request, limit: usize) -> Result<axum::body::Bytes, AppError> {
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
    read_limited(req, limit).await
}

/// The body's bytes, 413 over `limit` (declared or read).
async fn read_limited(req: Request, limit: usize) -> Result<axum::body::Bytes, AppError> {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(AppError::PayloadTooLarge { limit });
    }
    axum::body::to_bytes(req.into_body(), limit).await.map_err(|e| {
        // The only error besides the limit is a broken connection mid-body.
        let too_large = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_large {
            AppError::PayloadTooLarge { limit }
        } else {
            AppError::InvalidJson("could not be read to its end".into())
        }
    })
}

/// Parse a body with the core's strict reader (400 for malformed or ambiguous JSON).
pub fn parse_body(bytes: &[u8]) -> Result<Value, AppError> {
    risk_core::json::from_slice(bytes).map_err(|e| body_error(&e))
}

/// A body that is not (unambiguous) JSON. A duplicate key inside a policy document is that
/// policy's error, exactly as if the policy had been sent as text; anywhere else, the body's.
fn body_error(e: &risk_core::json::JsonError) -> AppError {
    if matches!(e.kind, risk_core::json::JsonErrorKind::DuplicateKey { .. }) {
        if let Some((prefix, rest)) = policy_field(&e.path) {
            let inner = risk_core::PolicyError::at(rest, e.predicate());
            return crate::error::policy_error(&inner, prefix);
        }
        return AppError::InvalidJson(format!("{} (at `{}`)", e.predicate(), e.path));
    }
    AppError::InvalidJson(e.predicate())
}

/// Split `policy.Statement[0].Action` (or `items[2].policy…`, `old…`, `new…`) into the policy
/// field and the path inside the policy.
fn policy_field(path: &str) -> Option<(&str, &str)> {
    let start = if path.starts_with("items[") { path.find(']').map(|i| i + 2)? } else { 0 };
    let rest = path.get(start..)?;
    for field in ["policy", "old", "new"] {
        if let Some(after) = rest.strip_prefix(field) {
            if let Some(inner) = after.strip_prefix('.').filter(|i| !i.is_empty()) {
                return Some((&path[..start + field.len()], inner));
            }
            if after.starts_with('[') {
                return Some((&path[..start + field.len()], after));
            }
        }
    }
    None
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
    let mut narrative = None;
    if let Some(v) = map.remove("narrative") {
        match v {
            Value::Null => {}
            Value::Bool(b) => narrative = Some(b),
            other => problems.push(Detail {
                path: at("narrative"),
                message: format!("must be true or false, got {}", describe(&other)),
            }),
        }
    }
    let options = options_from(&map, prefix, "policy, narrative", &mut problems);
    match policy_error {
        _ if !problems.is_empty() => Err(AppError::Validation(problems)),
        Some(e) => Err(e),
        None => Ok(ScoreInput { policy, options, narrative }),
    }
}

/// The options of a score or diff request (every field besides the request's own, which have
/// been removed from `map`), checked by the core; problems are placed under `prefix`.
pub fn options_from(
    map: &Map<String, Value>,
    prefix: &str,
    own_fields: &str,
    problems: &mut Vec<Detail>,
) -> ScoreOptions {
    match from_json(map, Names::SNAKE, own_fields) {
        Ok(o) => o,
        Err(found) => {
            problems.extend(found.into_iter().map(|p| Detail { path: join_path(prefix, &p.path), message: p.message }));
            ScoreOptions::default()
        }
    }
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
    let options = options_from(&map, "", "old, new", &mut problems);
    match policy_error {
        _ if !problems.is_empty() => Err(AppError::Validation(problems)),
        Some(e) => Err(e),
        None => Ok(DiffInput { old, new, options }),
    }
}

/// A validated narrowing request: the policy and the task's facts, as `risk_core::answers::narrow_value` takes them.
#[derive(Debug, Clone)]
pub struct NarrowRequestInput {
    pub policy: Value,
    pub resources: Vec<String>,
    pub access_levels: Vec<String>,
    pub used_actions: Option<Value>,
}

/// `{"policy": {...}, "resources": [...], "access_levels"?: [...], "used_actions"?: [...] | {...}}`:
/// the shape is checked here (422 per field); what the values mean, by the core.
pub fn narrow_input(body: Value) -> Result<NarrowRequestInput, AppError> {
    let Value::Object(map) = body else {
        return Err(AppError::Validation(vec![Detail {
            path: String::new(),
            message: format!(
                "must be a JSON object with `policy` and `resources`, got {}",
                risk_core::options::describe(&body)
            ),
        }]));
    };
    let mut problems = Vec::new();
    let strings = |key: &str, required: bool, problems: &mut Vec<Detail>| -> Vec<String> {
        match map.get(key) {
            None | Some(Value::Null) => {
                if required {
                    problems.push(Detail {
                        path: key.into(),
                        message: "is required (an array of strings, possibly empty)".into(),
                    });
                }
                Vec::new()
            }
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => problems.push(Detail {
                            path: format!("{key}[{i}]"),
                            message: format!("must be a string, got {}", risk_core::options::describe(other)),
                        }),
                    }
                }
                out
            }
            Some(other) => {
                problems.push(Detail {
                    path: key.into(),
                    message: format!("must be an array of strings, got {}", risk_core::options::describe(other)),
                });
                Vec::new()
            }
        }
    };
    let resources = strings("resources", true, &mut problems);
    let access_levels = strings("access_levels", false, &mut problems);
    let policy = match map.get("policy") {
        Some(v @ Value::Object(_)) => v.clone(),
        None | Some(Value::Null) => {
            problems.push(Detail { path: "policy".into(), message: "is required (an IAM policy document)".into() });
            Value::Null
        }
        Some(other) => {
            problems.push(Detail {
                path: "policy".into(),
                message: format!(
                    "must be an IAM policy document (a JSON object), got {}",
                    risk_core::options::describe(other)
                ),
            });
            Value::Null
        }
    };
    let used_actions = match map.get("used_actions") {
        None | Some(Value::Null) => None,
        Some(v @ (Value::Array(_) | Value::Object(_))) => Some(v.clone()),
        Some(other) => {
            problems.push(Detail {
                path: "used_actions".into(),
                message: format!(
                    "must be an array of action names, a policy document or `{{\"policy\": …}}`, got {}",
                    risk_core::options::describe(other)
                ),
            });
            None
        }
    };
    for k in map.keys() {
        if !matches!(k.as_str(), "policy" | "resources" | "access_levels" | "used_actions") {
            problems.push(Detail {
                path: k.clone(),
                message: "is not a field; use policy, resources, access_levels, used_actions".into(),
            });
        }
    }
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    Ok(NarrowRequestInput { policy, resources, access_levels, used_actions })
}

/// The query's `key=value` pairs, percent- and `+`-decoded (`a%2Cb` is `a,b`), every key one
/// of `known`: an unknown (misspelt) parameter is a 422 naming it, so that it never silently
/// gives the default answer instead.
pub(crate) fn query_pairs(query: Option<&str>, known: &[&str]) -> Result<Vec<(String, String)>, AppError> {
    let shown = |s: &str| s.chars().take(40).collect::<String>();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| crate::respond::unprocessable(String::new(), format!("the query string cannot be read: {e}")))?;
    if let Some((k, _)) = pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        let list = known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>();
        let takes = match list.as_slice() {
            [one] => format!("only {one}"),
            _ => list.join(" and "),
        };
        return Err(crate::respond::unprocessable(
            shown(k),
            format!("unknown query parameter `{}`: this route takes {takes}", shown(k)),
        ));
    }
    Ok(pairs)
}
