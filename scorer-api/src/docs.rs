//! The OpenAPI document (generated from the handlers and schemas) and an HTML reference page
//! rendered from it, with no external scripts or styles.

use serde_json::Value;
use std::fmt::Write;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "iam-risk-score API",
        description = "Score AWS IAM policies for risk (1-10) with findings. Deterministic: the optional \
LLM narrative never changes the score, tier or findings. Errors are always \
`{\"error\": {\"code\", \"message\", \"details\": [{\"path\", \"message\"}]}}`.",
        license(name = "Apache-2.0")
    ),
    paths(
        crate::score,
        crate::batch,
        crate::diff,
        crate::rules,
        crate::rule,
        crate::catalog,
        crate::healthz,
        crate::readyz,
        crate::metrics_text,
        crate::openapi_json,
        crate::docs_page,
    ),
    components(schemas(
        crate::schema::ScoreRequest,
        crate::schema::PolicyDocument,
        crate::schema::BatchRequest,
        crate::schema::BatchResponse,
        crate::schema::BatchItem,
        crate::schema::DiffRequest,
        crate::schema::Report,
        crate::schema::PolicyDiff,
        crate::schema::RuleDoc,
        crate::schema::CatalogInfo,
        crate::schema::Health,
        crate::error::ErrorBody,
        crate::error::ErrorObject,
        crate::error::Detail,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "score", description = "Score and compare policies"),
        (name = "rules", description = "Rule documentation and the action catalog"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "Required only when the server has keys configured (`IAM_RISK_SCORE_API_KEY`).",
                        ))
                        .build(),
                ),
            );
        }
    }
}

/// The OpenAPI 3.1 document of this server.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Short type text for a schema: `string`, `integer | null`, `array of Finding`, `Report`.
fn type_of(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_string();
    }
    if let Some(all) = schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Value::as_array) {
        return all.iter().map(type_of).collect::<Vec<_>>().join(" | ");
    }
    let t = match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" | "),
        _ => "any".to_string(),
    };
    if t.starts_with("array") {
        if let Some(items) = schema.get("items") {
            return t.replacen("array", &format!("array of {}", type_of(items)), 1);
        }
    }
    if t.starts_with("object") {
        if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object()) {
            return t.replacen("object", &format!("map of {}", type_of(extra)), 1);
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        return e.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" | ");
    }
    t
}

/// The reference page.
pub fn html(doc: &utoipa::openapi::OpenApi) -> String {
    let v = serde_json::to_value(doc).unwrap_or_default();
    let mut out = String::new();
    let title = v["info"]["title"].as_str().unwrap_or("API");
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}\
code,pre{{font:13px ui-monospace,monospace;background:#f4f4f4;padding:.1rem .3rem}}\
h2{{border-top:1px solid #ddd;padding-top:1rem}}table{{border-collapse:collapse}}\
td,th{{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}}\
.m{{font-weight:bold;color:#06c}}</style></head><body><h1>{t} <small>{ver}</small></h1><p>{d}</p>\
<p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a>.</p>",
        t = esc(title),
        ver = esc(v["info"]["version"].as_str().unwrap_or("")),
        d = esc(v["info"]["description"].as_str().unwrap_or("")),
    );
    out.push_str("<h2>Routes</h2><table><tr><th>Route</th><th>What</th><th>Request</th><th>Responses</th></tr>");
    if let Some(paths) = v["paths"].as_object() {
        for (path, item) in paths {
            let Some(ops) = item.as_object() else { continue };
            for (method, op) in ops {
                let summary = op["summary"].as_str().unwrap_or("");
                let description = op["description"].as_str().unwrap_or("");
                let request = op["requestBody"]["content"]["application/json"]["schema"].clone();
                let request =
                    if request.is_null() { String::new() } else { format!("<code>{}</code>", esc(&type_of(&request))) };
                let mut responses = String::new();
                if let Some(rs) = op["responses"].as_object() {
                    for (status, r) in rs {
                        let body = r["content"]
                            .as_object()
                            .and_then(|c| c.values().next())
                            .map(|c| type_of(&c["schema"]))
                            .unwrap_or_default();
                        let _ = write!(
                            responses,
                            "<b>{}</b> {} <code>{}</code><br>",
                            esc(status),
                            esc(r["description"].as_str().unwrap_or("")),
                            esc(&body)
                        );
                    }
                }
                let _ = write!(
                    out,
                    "<tr><td><span class=\"m\">{}</span> <code>{}</code></td><td><b>{}</b><br>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&method.to_uppercase()),
                    esc(path),
                    esc(summary),
                    esc(description).replace("\n\n", "<br>"),
                    request,
                    responses
                );
            }
        }
    }
    out.push_str("</table><h2>Schemas</h2>");
    if let Some(schemas) = v["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            let _ = write!(out, "<h3 id=\"{n}\">{n}</h3>", n = esc(name));
            if let Some(d) = schema["description"].as_str() {
                let _ = write!(out, "<p>{}</p>", esc(d));
            }
            let required: Vec<&str> =
                schema["required"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            if let Some(props) = schema["properties"].as_object() {
                out.push_str("<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>");
                for (field, p) in props {
                    let _ = write!(
                        out,
                        "<tr><td><code>{}</code>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                        esc(field),
                        if required.contains(&field.as_str()) { " (required)" } else { "" },
                        esc(&type_of(p)),
                        esc(p["description"].as_str().unwrap_or(""))
                    );
                }
                out.push_str("</table>");
            } else {
                let _ = write!(out, "<p><code>{}</code></p>", esc(&type_of(schema)));
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}
