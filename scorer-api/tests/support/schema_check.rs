//! A small JSON-schema checker for real answers against an OpenAPI document, shared by
//! `scorer-api/tests/openapi.rs` and `jit-service/tests/openapi.rs` (each includes this file with
//! `#[path = …] mod schema_check;`).
//!
//! It knows what the two documents use: `$ref` (to `#/components/schemas/…`), `type` (a string
//! or a list), `properties`, `required`, `additionalProperties`, `items`, `enum`,
//! `oneOf`/`anyOf`/`allOf`, `minimum`/`maximum`. Other keywords (`format`, `maxLength`, …) are
//! not checked. A key the schema does not name, where the schema lists `properties`, is
//! reported: it is drift between the code and its documentation.

use serde_json::Value;

/// Checks `v` against `schema` (resolving `$ref` in `doc`) and pushes every mismatch onto
/// `errs`, prefixed with its path below `path` (`$.items[0].score`).
pub fn check(doc: &Value, schema: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        return check(doc, &doc["components"]["schemas"][name], v, path, errs);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            let ok = alts.iter().any(|s| {
                let mut e = Vec::new();
                check(doc, s, v, path, &mut e);
                e.is_empty()
            });
            if !ok {
                errs.push(format!("{path}: matches no alternative of {key}: {v}"));
            }
            return;
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(doc, s, v, path, errs);
        }
    }
    let actual = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() && !types.iter().any(|t| *t == actual || (*t == "number" && actual == "integer")) {
        errs.push(format!("{path}: is {actual}, schema says {types:?}"));
        return;
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            errs.push(format!("{path}: {v} not in {e:?}"));
        }
    }
    if let (Some(n), Some(min)) = (v.as_f64(), schema.get("minimum").and_then(Value::as_f64)) {
        if n < min {
            errs.push(format!("{path}: {n} < minimum {min}"));
        }
    }
    if let (Some(n), Some(max)) = (v.as_f64(), schema.get("maximum").and_then(Value::as_f64)) {
        if n > max {
            errs.push(format!("{path}: {n} > maximum {max}"));
        }
    }
    match v {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                if !map.contains_key(r.as_str().unwrap_or("")) {
                    errs.push(format!("{path}: required `{r}` missing"));
                }
            }
            for (k, item) in map {
                let sub = format!("{path}.{k}");
                match (props.and_then(|p| p.get(k)), schema.get("additionalProperties")) {
                    (Some(s), _) => check(doc, s, item, &sub, errs),
                    (None, Some(Value::Bool(false))) => errs.push(format!("{sub}: not in the schema")),
                    (None, Some(s @ Value::Object(_))) => check(doc, s, item, &sub, errs),
                    // An undocumented key is drift in the documentation: report it.
                    (None, _) if props.is_some() => errs.push(format!("{sub}: not in the schema")),
                    (None, _) => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(doc, s, item, &format!("{path}[{i}]"), errs);
                }
            }
        }
        _ => {}
    }
}

#[test]
fn the_checker_catches_drift() {
    use serde_json::json;
    let doc = json!({"components": {"schemas": {
        "T": {"type": "object", "required": ["a"], "properties": {"a": {"type": ["integer", "null"]}}},
        "U": {"allOf": [{"$ref": "#/components/schemas/T"}, {"type": "object", "required": ["b"]}]},
    }}});
    let schema = json!({"$ref": "#/components/schemas/T"});
    let mut errs = Vec::new();
    check(&doc, &schema, &json!({"a": null}), "$", &mut errs);
    assert!(errs.is_empty(), "{errs:?}");
    check(&doc, &schema, &json!({"a": 1, "b": 2}), "$", &mut errs);
    assert_eq!(errs, ["$.b: not in the schema"]);
    errs.clear();
    check(&doc, &schema, &json!({"a": "x"}), "$", &mut errs);
    check(&doc, &schema, &json!({}), "$", &mut errs);
    assert_eq!(errs.len(), 2, "{errs:?}");
    errs.clear();
    // `allOf`: every part applies.
    check(&doc, &json!({"$ref": "#/components/schemas/U"}), &json!({"a": 1}), "$", &mut errs);
    assert_eq!(errs, ["$: required `\"b\"` missing"]);
    errs.clear();
    check(&doc, &json!({"oneOf": [{"type": "string"}, {"type": "null"}]}), &json!(3), "$", &mut errs);
    assert_eq!(errs, ["$: matches no alternative of oneOf: 3"]);
}
