//! WebAssembly bindings of the engine: `score`, `diff`, `explain`, `rules`, `catalogInfo`, `version`,
//! the policy writers `writePolicy` and `policyFromCloudTrail`, and `narrow`.
//!
//! Each export calls [`api`] (plain Rust, JSON text in and out) and hands JavaScript the
//! object `JSON.parse` makes of that text, so results are the CLI's v1 JSON exactly:
//! `JSON.stringify(result, null, 2) + "\n"` is what `iam-risk-score … --format json` prints.
//! Failures throw an `Error` whose `message` is the CLI's and whose `problems` lists
//! `{path, message}` (see [`api::Failure`]).

pub mod api;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = include_str!("types.d.ts");

#[wasm_bindgen]
extern "C" {
    /// The `options` argument: any JSON-serialisable object, declared as `ScoreOptions`.
    #[wasm_bindgen(typescript_type = "ScoreOptions")]
    pub type JsScoreOptions;

    /// The `options` argument of `policyFromCloudTrail`.
    #[wasm_bindgen(typescript_type = "CloudTrailOptions")]
    pub type JsCloudTrailOptions;
}

/// `JSON.parse` of text this crate produced; it is valid JSON by construction.
fn object(result: Result<String, api::Failure>) -> Result<JsValue, JsValue> {
    let text = result.map_err(error)?;
    js_sys::JSON::parse(&text)
}

/// A JavaScript `Error` carrying the failure's fields as properties.
fn error(f: api::Failure) -> JsValue {
    let e = js_sys::Error::new(&f.message);
    e.set_name(if f.problems.iter().any(|p| p.path.starts_with("options")) { "OptionsError" } else { "PolicyError" });
    let problems = js_sys::Array::new();
    for p in &f.problems {
        let o = js_sys::Object::new();
        set(&o, "path", &JsValue::from_str(&p.path));
        set(&o, "message", &JsValue::from_str(&p.message));
        problems.push(&o);
    }
    set(&e, "problems", &problems);
    if let (Some(line), Some(column)) = (f.line, f.column) {
        set(&e, "line", &JsValue::from_f64(line as f64));
        set(&e, "column", &JsValue::from_f64(column as f64));
    }
    if let Some(side) = f.side {
        set(&e, "side", &JsValue::from_str(side));
    }
    e.into()
}

/// `JSON.stringify` of an options object, `None` for `undefined`/`null`.
fn stringify(options: Option<&JsValue>) -> Result<Option<String>, JsValue> {
    let Some(options) = options.filter(|o| !o.is_undefined() && !o.is_null()) else { return Ok(None) };
    match js_sys::JSON::stringify(options).ok().and_then(|s| s.as_string()) {
        Some(text) => Ok(Some(text)),
        None => Err(error(api::Failure::single("options", "cannot be serialised to JSON"))),
    }
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    // Reflect.set on a fresh ordinary object cannot fail.
    let _ = js_sys::Reflect::set(target, &JsValue::from_str(key), value);
}

/// `undefined`/`null` options are "no options"; anything else goes through `JSON.stringify`,
/// so plain objects from any realm work and the Rust side validates one JSON shape.
fn options(options: Option<&JsValue>) -> Result<risk_core::ScoreOptions, JsValue> {
    let Some(options) = options.filter(|o| !o.is_undefined() && !o.is_null()) else {
        return Ok(risk_core::ScoreOptions::default());
    };
    match js_sys::JSON::stringify(options).ok().and_then(|s| s.as_string()) {
        Some(text) => api::options_from_json(Some(&text)),
        None => Err(api::Failure::single("options", "cannot be serialised to JSON")),
    }
    .map_err(error)
}

/// Score one policy document (JSON text). Throws a `PolicyError` for malformed or invalid
/// policies and an `OptionsError` for bad options.
#[wasm_bindgen(unchecked_return_type = "Report")]
pub fn score(
    #[wasm_bindgen(js_name = "policyJson")] policy_json: &str,
    #[wasm_bindgen(js_name = "options")] opts: Option<JsScoreOptions>,
) -> Result<JsValue, JsValue> {
    let options = options(opts.as_deref())?;
    object(api::score(policy_json, &options))
}

/// What changing a policy from `oldJson` to `newJson` adds and removes.
#[wasm_bindgen(unchecked_return_type = "PolicyDiff")]
pub fn diff(
    #[wasm_bindgen(js_name = "oldJson")] old_json: &str,
    #[wasm_bindgen(js_name = "newJson")] new_json: &str,
    #[wasm_bindgen(js_name = "options")] opts: Option<JsScoreOptions>,
) -> Result<JsValue, JsValue> {
    let options = options(opts.as_deref())?;
    object(api::diff(old_json, new_json, &options))
}

/// A rule's documentation (`PE002`, `passrole-escalation`) or what an action pattern
/// (`s3:Get*`) expands to.
#[wasm_bindgen(unchecked_return_type = "Explanation")]
pub fn explain(#[wasm_bindgen(js_name = "patternOrRule")] pattern_or_rule: &str) -> Result<JsValue, JsValue> {
    object(api::explain(pattern_or_rule))
}

/// Every rule's documentation, in registry order.
#[wasm_bindgen(unchecked_return_type = "RuleDoc[]")]
pub fn rules() -> Result<JsValue, JsValue> {
    object(api::rules())
}

/// Size and provenance of the bundled AWS action catalog.
#[wasm_bindgen(js_name = "catalogInfo", unchecked_return_type = "CatalogInfo")]
pub fn catalog_info() -> Result<JsValue, JsValue> {
    object(api::catalog_info())
}

/// Engine, rule-set and catalog versions, as stamped into every result.
#[wasm_bindgen(unchecked_return_type = "Versions")]
pub fn version() -> Result<JsValue, JsValue> {
    object(api::version())
}

/// Write a least-privilege policy from a template (JSON text: policy_sentry's CRUD template as
/// JSON, e.g. `{"read": ["arn:aws:s3:::reports/*"], "list": ["arn:aws:s3:::reports"]}`) and score
/// it. Throws a `PolicyError` with the writer's message for a bad template or ARN.
#[wasm_bindgen(js_name = "writePolicy", unchecked_return_type = "WrittenPolicy")]
pub fn write_policy(#[wasm_bindgen(js_name = "templateJson")] template_json: &str) -> Result<JsValue, JsValue> {
    object(api::write_policy(template_json))
}

/// Build a least-privilege policy from CloudTrail records (JSON text) and score it. Throws a
/// `PolicyError` for input that is not CloudTrail, an `OptionsError` for bad options.
#[wasm_bindgen(js_name = "policyFromCloudTrail", unchecked_return_type = "FromActivity")]
pub fn policy_from_cloudtrail(
    #[wasm_bindgen(js_name = "eventsJson")] events_json: &str,
    #[wasm_bindgen(js_name = "options")] opts: Option<JsCloudTrailOptions>,
) -> Result<JsValue, JsValue> {
    let text = stringify(opts.as_deref())?;
    let options = api::cloudtrail_options_from_json(text.as_deref()).map_err(error)?;
    object(api::policy_from_cloudtrail(events_json, &options))
}

/// Narrow a broad policy (JSON text) to what a task touches and score it before and after.
/// `inputJson` is `{"resources": [ARN…], "accessLevels"?: ["read", …], "usedActions"?: [action…]
/// | policy | {"policy": …}}` as JSON text. Throws a `PolicyError` with the core's message for a
/// policy, ARN, access level or used-actions value it cannot use.
#[wasm_bindgen(js_name = "narrow", unchecked_return_type = "NarrowedPolicy")]
pub fn narrow(
    #[wasm_bindgen(js_name = "policyJson")] policy_json: &str,
    #[wasm_bindgen(js_name = "inputJson")] input_json: &str,
) -> Result<JsValue, JsValue> {
    object(api::narrow(policy_json, input_json))
}
