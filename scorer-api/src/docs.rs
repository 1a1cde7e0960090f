//! The OpenAPI document (generated from the handlers and schemas) and an HTML reference page
//! rendered from it, with no external scripts or styles. The renderer ([`render_page`]) also
//! draws jit-service's page.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
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
        crate::handlers::score::score,
        crate::handlers::score::batch,
        crate::handlers::diff::diff,
        crate::handlers::scan::scan,
        crate::handlers::authoring::write_policy,
        crate::handlers::authoring::from_cloudtrail,
        crate::handlers::authoring::narrow,
        crate::handlers::intake::turn,
        crate::handlers::rules::rules,
        crate::handlers::rules::rule,
        crate::handlers::rules::catalog,
        crate::handlers::operations::healthz,
        crate::handlers::operations::readyz,
        crate::handlers::operations::metrics_text,
        crate::handlers::operations::openapi_json,
        crate::handlers::operations::docs_page,
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
        crate::schema::PolicyTemplate,
        crate::schema::WrittenPolicy,
        crate::schema::CloudTrailEvents,
        crate::schema::FromActivity,
        crate::schema::NarrowRequest,
        crate::schema::NarrowedPolicy,
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
        (name = "authoring", description = "Write least-privilege policies: from a template, from CloudTrail activity; narrow an existing one to a task"),
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

/// This server's style sheet: the only thing the page loads, inlined.
const STYLE: &str =
    "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
code,pre{font:13px ui-monospace,monospace;background:#f4f4f4;padding:.1rem .3rem}\
h2{border-top:1px solid #ddd;padding-top:1rem}table{border-collapse:collapse}\
td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}\
.m{font-weight:bold;color:#06c}";

/// The reference page of this server.
pub fn html(doc: &utoipa::openapi::OpenApi) -> String {
    let spec = serde_json::to_value(doc).unwrap_or_default();
    render_page(&spec, &PageOptions { style: STYLE, link_schemas: false, routes: RouteColumns::RequestAndResponses })
        .html
}

// ---------------------------------------------------------------------------------------------
// The reference page renderer, shared with jit-service
// ---------------------------------------------------------------------------------------------

/// What differs between the reference pages rendered by [`render_page`]. The title, version
/// and introduction come from the document's `info`.
#[derive(Debug, Clone, Copy)]
pub struct PageOptions<'a> {
    /// The page's only style sheet, inlined in a `<style>` element ([`Page::style_src`] is its
    /// hash). The markup uses the classes `m` (an HTTP method) and `a` (an aside, only with
    /// [`RouteColumns::ParametersAndAnswers`]).
    pub style: &'a str,
    /// Type names that are schemas of the document link to their section; otherwise they are
    /// shown as code.
    pub link_schemas: bool,
    /// What the route table shows of each operation's input and answers.
    pub routes: RouteColumns,
}

/// The last two columns of the route table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteColumns {
    /// "Request": the JSON body's type. "Responses": every status with its description and the
    /// type of its body.
    RequestAndResponses,
    /// "Parameters and body": each parameter (where it goes, whether required, its type and
    /// description), then the JSON body, marked when optional. "Answers": each 2xx status with
    /// its body per media type, then the error statuses together, pointing at `ErrorBody`.
    ParametersAndAnswers,
}

/// A rendered reference page.
#[derive(Debug, Clone)]
pub struct Page {
    /// The whole document, with no scripts and nothing loaded from elsewhere.
    pub html: String,
    /// `'sha256-…'`, the source expression that allows the page's inline style sheet in a
    /// `Content-Security-Policy` `style-src` directive (and nothing else).
    pub style_src: String,
}

/// The HTML reference page for an OpenAPI 3.1 document (as JSON): the routes in a table, then
/// every schema of `components.schemas` with its fields.
pub fn render_page(spec: &Value, options: &PageOptions<'_>) -> Page {
    let empty = Map::new();
    let schemas = spec["components"]["schemas"].as_object().unwrap_or(&empty);
    let show = |t: &str| {
        if options.link_schemas {
            link(t, schemas)
        } else {
            format!("<code>{}</code>", esc(t))
        }
    };
    let mut out = String::new();
    let title = spec["info"]["title"].as_str().unwrap_or("API");
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{s}</style></head>\
<body><h1>{t} <small>{v}</small></h1><p>{d}</p><p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a>.</p>",
        t = esc(title),
        s = options.style,
        v = esc(spec["info"]["version"].as_str().unwrap_or("")),
        d = esc(spec["info"]["description"].as_str().unwrap_or("")),
    );
    let (input_head, answers_head) = match options.routes {
        RouteColumns::RequestAndResponses => ("Request", "Responses"),
        RouteColumns::ParametersAndAnswers => ("Parameters and body", "Answers"),
    };
    let _ = write!(
        out,
        "<h2>Routes</h2><table><tr><th>Route</th><th>What</th><th>{input_head}</th><th>{answers_head}</th></tr>"
    );
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        let Some(ops) = item.as_object() else { continue };
        for (method, op) in ops {
            let (input, answers) = match options.routes {
                RouteColumns::RequestAndResponses => request_and_responses(op, &show),
                RouteColumns::ParametersAndAnswers => parameters_and_answers(op, &show),
            };
            let _ = write!(
                out,
                "<tr><td><span class=\"m\">{}</span> <code>{}</code></td><td><b>{}</b><br>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&method.to_uppercase()),
                esc(path),
                esc(op["summary"].as_str().unwrap_or("")),
                esc(op["description"].as_str().unwrap_or("")).replace("\n\n", "<br>"),
                input,
                answers
            );
        }
    }
    out.push_str("</table><h2>Schemas</h2>");
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
                    "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(field),
                    if required.contains(&field.as_str()) { " (required)" } else { "" },
                    show(&type_of(p)),
                    esc(p["description"].as_str().unwrap_or(""))
                );
            }
            out.push_str("</table>");
        } else {
            let _ = write!(out, "<p><code>{}</code></p>", esc(&type_of(schema)));
        }
    }
    out.push_str("</body></html>\n");
    Page { html: out, style_src: format!("'sha256-{}'", base64(&Sha256::digest(options.style.as_bytes()))) }
}

/// [`RouteColumns::RequestAndResponses`] for one operation.
fn request_and_responses(op: &Value, show: &dyn Fn(&str) -> String) -> (String, String) {
    let request = &op["requestBody"]["content"]["application/json"]["schema"];
    let request = if request.is_null() { String::new() } else { show(&type_of(request)) };
    let mut responses = String::new();
    for (status, r) in op["responses"].as_object().into_iter().flatten() {
        let body =
            r["content"].as_object().and_then(|c| c.values().next()).map(|c| type_of(&c["schema"])).unwrap_or_default();
        let _ = write!(
            responses,
            "<b>{}</b> {} {}<br>",
            esc(status),
            esc(r["description"].as_str().unwrap_or("")),
            show(&body)
        );
    }
    (request, responses)
}

/// [`RouteColumns::ParametersAndAnswers`] for one operation.
fn parameters_and_answers(op: &Value, show: &dyn Fn(&str) -> String) -> (String, String) {
    let mut params = String::new();
    for p in op["parameters"].as_array().into_iter().flatten() {
        let _ = write!(
            params,
            "<code>{}</code> <span class=\"a\">{}{}</span> {} <span class=\"a\">{}</span><br>",
            esc(p["name"].as_str().unwrap_or("")),
            esc(p["in"].as_str().unwrap_or("")),
            if p["required"] == Value::Bool(true) { ", required" } else { "" },
            esc(&type_of(&p["schema"])),
            esc(p["description"].as_str().unwrap_or("")),
        );
    }
    if let Some(b) = op.get("requestBody") {
        let _ = write!(
            params,
            "body{}: {}",
            if b["required"] == Value::Bool(true) { "" } else { " (optional)" },
            show(&type_of(&b["content"]["application/json"]["schema"]))
        );
    }
    let mut answers = String::new();
    let mut errors = Vec::new();
    for (status, r) in op["responses"].as_object().into_iter().flatten() {
        if !status.starts_with('2') {
            errors.push(format!("<b>{}</b> {}", esc(status), esc(r["description"].as_str().unwrap_or(""))));
            continue;
        }
        let bodies: Vec<String> = r["content"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(media, c)| {
                if media == "application/json" {
                    show(&type_of(&c["schema"]))
                } else {
                    format!("<code>{}</code>", esc(media))
                }
            })
            .collect();
        let _ = write!(
            answers,
            "<b>{}</b> {} {}<br>",
            esc(status),
            esc(r["description"].as_str().unwrap_or("")),
            bodies.join(" or ")
        );
    }
    if !errors.is_empty() {
        let _ = write!(answers, "<span class=\"a\">{}<br>(errors: {})</span>", errors.join("<br>"), show("ErrorBody"));
    }
    (params, answers)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A type name as a link to its schema's section when the document has that schema.
fn link(t: &str, schemas: &Map<String, Value>) -> String {
    if schemas.contains_key(t) {
        format!("<a href=\"#{n}\">{n}</a>", n = esc(t))
    } else {
        esc(t)
    }
}

/// Short type text for a schema: `string`, `integer | null`, `array of Finding`, `Report`.
fn type_of(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_string();
    }
    if let Some(all) = schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Value::as_array) {
        return all.iter().map(type_of).collect::<Vec<_>>().join(" | ");
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        return e.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" | ");
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
    t
}

/// Standard base64 with padding (RFC 4648 §4), for the CSP hash; not worth a dependency.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        for (input, want) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }

    #[test]
    fn the_style_hash_is_the_hash_of_the_inline_style() {
        let page = render_page(
            &serde_json::json!({}),
            &PageOptions { style: "b{c:d}", link_schemas: true, routes: RouteColumns::ParametersAndAnswers },
        );
        assert!(page.html.contains("<style>b{c:d}</style>"));
        // `printf 'b{c:d}' | openssl dgst -sha256 -binary | base64`
        assert_eq!(page.style_src, "'sha256-VWCtcqomXclmaq7LQ0DoJrdMZBu+xEuM64Ao+VyP0tg='");
    }
}
