//! Terraform HCL: `data "aws_iam_policy_document"` blocks rebuilt as policy JSON, and
//! `jsonencode({…})`, heredoc or string JSON policies on IAM and resource-policy resources.
//!
//! Nothing is evaluated: a reference, function call or `for` expression stays as the opaque
//! string `${<expression>}`, which the engine treats as an unknown action or a specific
//! resource. That under-counts what a variable could grant, so every such policy says so in
//! its notes.

use super::tree::{Kind, Node};
use super::{FileError, Found};
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Block, Body};
use hcl_edit::template::{Element, Template};
use hcl_edit::Span;
use risk_core::PolicyType;
use std::collections::BTreeMap;

const OPAQUE_NOTE: &str = "dynamic Terraform values are kept as opaque `${…}` values";

/// Policy attributes of the resource types that carry policy documents.
pub(super) fn attributes(resource_type: &str) -> &'static [(&'static str, PolicyType)] {
    use PolicyType::*;
    match resource_type {
        "aws_iam_policy" | "aws_iam_role_policy" | "aws_iam_user_policy" | "aws_iam_group_policy" => {
            &[("policy", Identity)]
        }
        "aws_iam_role" => &[("assume_role_policy", Trust)],
        "aws_s3_bucket_policy"
        | "aws_sqs_queue_policy"
        | "aws_sns_topic_policy"
        | "aws_s3_bucket"
        | "aws_sqs_queue"
        | "aws_sns_topic"
        | "aws_kms_key"
        | "aws_kms_replica_key"
        | "aws_ecr_repository_policy"
        | "aws_secretsmanager_secret_policy"
        | "aws_secretsmanager_secret"
        | "aws_s3_access_point"
        | "aws_glacier_vault" => &[("policy", Resource)],
        "aws_opensearch_domain_policy" | "aws_elasticsearch_domain_policy" => &[("access_policies", Resource)],
        _ => &[],
    }
}

/// Byte offset → 1-based line.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Self {
        Lines(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i).collect())
    }
    fn at(&self, offset: usize) -> usize {
        self.0.partition_point(|&nl| nl < offset) + 1
    }
    fn of(&self, s: &impl Span) -> usize {
        s.span().map(|r| self.at(r.start)).unwrap_or(1)
    }
}

struct Cx<'a> {
    text: &'a str,
    lines: Lines,
    opaque: bool,
}

impl Cx<'_> {
    /// Source text of an expression, on one line.
    fn src(&self, s: &impl Span) -> String {
        let raw = s.span().and_then(|r| self.text.get(r)).unwrap_or("…");
        raw.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn opaque(&mut self, s: &impl Span) -> String {
        self.opaque = true;
        format!("${{{}}}", self.src(s))
    }

    /// A value as JSON-like node (for `jsonencode`).
    fn node(&mut self, e: &Expression) -> Node {
        let line = self.lines.of(e);
        let kind = match e {
            Expression::Null(_) => Kind::Null,
            Expression::Bool(b) => Kind::Bool(*b.value()),
            Expression::Number(n) => serde_json::from_str::<serde_json::Number>(&n.value().to_string())
                .map(Kind::Num)
                .unwrap_or_else(|_| Kind::Str(n.value().to_string())),
            Expression::Array(a) => Kind::Seq(a.iter().map(|x| self.node(x)).collect()),
            // hcl-edit refuses `Action` twice (the file does not parse) but keeps `Action` and
            // `"Action"`, which Terraform reads as one key, the last: both are kept here, for
            // `find_duplicate`.
            Expression::Object(o) => Kind::Map(
                o.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            ObjectKey::Ident(id) => id.as_str().to_string(),
                            ObjectKey::Expression(x) => self.string(x),
                        };
                        let mut value = self.node(v.expr());
                        value.key_line = self.lines.of(k);
                        (key, value)
                    })
                    .collect(),
            ),
            Expression::Parenthesis(p) => return self.node(p.inner()),
            Expression::String(_) | Expression::StringTemplate(_) | Expression::HeredocTemplate(_) => {
                Kind::Str(self.string(e))
            }
            other => Kind::Str(self.opaque(other)),
        };
        Node::new(line, kind)
    }

    /// A scalar as a string: literals as written, templates with `${…}` kept, anything else opaque.
    fn string(&mut self, e: &Expression) -> String {
        match e {
            Expression::String(s) => s.value().to_string(),
            Expression::StringTemplate(t) => self.template(t, false),
            Expression::HeredocTemplate(h) => self.template(&h.template, false),
            Expression::Number(n) => n.value().to_string(),
            Expression::Bool(b) => b.value().to_string(),
            Expression::Parenthesis(p) => self.string(p.inner()),
            other => self.opaque(other),
        }
    }

    /// Render a template. With `json`, an interpolation outside a JSON string is quoted so
    /// that `"Action": ${jsonencode(var.actions)}` still parses.
    fn template(&mut self, t: &Template, json: bool) -> String {
        let mut out = String::new();
        let mut in_string = false;
        for el in t.iter() {
            match el {
                Element::Literal(s) => {
                    if json {
                        let mut escaped = false;
                        for c in s.chars() {
                            if escaped {
                                escaped = false;
                            } else if c == '\\' && in_string {
                                escaped = true;
                            } else if c == '"' {
                                in_string = !in_string;
                            }
                        }
                    }
                    out.push_str(s);
                }
                Element::Interpolation(i) => {
                    let v = self.opaque(&i.expr);
                    if json && !in_string {
                        out.push('"');
                        out.push_str(&v.replace('"', "'"));
                        out.push('"');
                    } else {
                        out.push_str(&v.replace('"', "'"));
                    }
                }
                Element::Directive(d) => {
                    self.opaque = true;
                    out.push_str(&format!("%{{{}}}", self.src(d.as_ref()).replace('"', "'")));
                }
            }
        }
        out
    }

    /// A list attribute (`actions`, `resources`, `identifiers`, `values`) as string nodes.
    fn strings(&mut self, e: &Expression) -> Node {
        let line = self.lines.of(e);
        // `&{aws:username}` is how aws_iam_policy_document escapes IAM policy variables.
        let iam = |s: String| s.replace("&{", "${");
        match e {
            Expression::Array(a) => Node::new(
                line,
                Kind::Seq(a.iter().map(|x| Node::new(self.lines.of(x), Kind::Str(iam(self.string(x))))).collect()),
            ),
            other => Node::new(line, Kind::Str(iam(self.string(other)))),
        }
    }
}

fn label(b: &Block, i: usize) -> Option<&str> {
    b.labels.get(i).map(|l| l.as_str())
}

/// Find every policy in a `.tf` file. A syntax error is returned as `Err`.
pub fn extract(text: &str, ex: &mut super::Extracted) -> Result<(), String> {
    let (out, errors) = (&mut ex.policies, &mut ex.errors);
    let body = hcl_edit::parser::parse_body(text).map_err(|e| format!("not valid HCL: {}", e.to_string().trim()))?;
    let mut cx = Cx { text, lines: Lines::new(text), opaque: false };
    // Which resource attribute uses which policy-document data source, for its type and notes.
    let mut used_by: BTreeMap<String, Vec<(String, PolicyType)>> = BTreeMap::new();
    let mut found: Vec<Found> = Vec::new();
    for block in body.blocks() {
        match (block.ident.as_str(), label(block, 0), label(block, 1)) {
            ("resource", Some(rtype), Some(name)) => {
                let base = format!("{rtype}.{name}");
                for (attr, ptype) in attributes(rtype) {
                    let Some(a) = block.body.get_attribute(attr) else { continue };
                    let address = if rtype == "aws_iam_role" { format!("{base}.{attr}") } else { base.clone() };
                    policy_attribute(
                        &mut cx,
                        &a.value,
                        address,
                        *ptype,
                        principal_of(rtype, name),
                        &mut found,
                        errors,
                        &mut used_by,
                    );
                }
                if rtype == "aws_iam_role" {
                    for inline in block.body.get_blocks("inline_policy") {
                        let Some(a) = inline.body.get_attribute("policy") else { continue };
                        let pname = inline.body.get_attribute("name").map(|n| cx.string(&n.value)).unwrap_or_default();
                        let address = format!("{base}.inline_policy[{pname}]");
                        policy_attribute(
                            &mut cx,
                            &a.value,
                            address,
                            PolicyType::Identity,
                            principal_of(rtype, name),
                            &mut found,
                            errors,
                            &mut used_by,
                        );
                    }
                }
            }
            ("data", Some("aws_iam_policy_document"), Some(name)) => {
                cx.opaque = false;
                let mut notes = Vec::new();
                let doc = policy_document(&mut cx, block, &mut notes);
                if cx.opaque {
                    notes.push(OPAQUE_NOTE.to_string());
                }
                let address = format!("data.aws_iam_policy_document.{name}");
                if doc.get("Statement").and_then(Node::as_seq).is_none_or(|s| s.is_empty()) {
                    continue;
                }
                found.push(Found {
                    address,
                    principal: None,
                    line: cx.lines.of(block),
                    statement_lines: super::tree::statement_lines(&doc),
                    policy_type: None,
                    document: doc.to_value(),
                    notes,
                });
            }
            _ => {}
        }
    }
    for f in &mut found {
        let Some(name) = f.address.strip_prefix("data.aws_iam_policy_document.") else { continue };
        if let Some(users) = used_by.get(name) {
            let types: Vec<PolicyType> = users.iter().map(|(_, t)| *t).collect();
            if types.iter().all(|t| *t == types[0]) {
                f.policy_type = Some(types[0]);
            }
            for (addr, _) in users {
                f.notes.push(format!("used by `{addr}`"));
            }
        }
    }
    found.sort_by_key(|f| f.line);
    out.extend(found);
    Ok(())
}

fn principal_of(rtype: &str, name: &str) -> Option<String> {
    match rtype {
        "aws_iam_role" => Some(format!("role {rtype}.{name}")),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn policy_attribute(
    cx: &mut Cx<'_>,
    e: &Expression,
    address: String,
    ptype: PolicyType,
    principal: Option<String>,
    out: &mut Vec<Found>,
    errors: &mut Vec<FileError>,
    used_by: &mut BTreeMap<String, Vec<(String, PolicyType)>>,
) {
    cx.opaque = false;
    let line = cx.lines.of(e);
    let doc: Node = match e {
        Expression::FuncCall(f) if f.name.name.as_str() == "jsonencode" && f.args.len() == 1 => {
            let Some(arg) = f.args.get(0) else { return };
            let n = cx.node(arg);
            if !n.is_map() {
                return; // `jsonencode(local.policy)`: nothing literal to score
            }
            n
        }
        Expression::Parenthesis(p) => {
            return policy_attribute(cx, p.inner(), address, ptype, principal, out, errors, used_by)
        }
        Expression::String(_) | Expression::StringTemplate(_) | Expression::HeredocTemplate(_) => {
            let (text, first_line) = match e {
                Expression::HeredocTemplate(h) => (cx.template(&h.template, true), line + 1),
                Expression::StringTemplate(t) => (cx.template(t, true), line),
                _ => (cx.string(e), line),
            };
            if text.trim().is_empty() {
                return;
            }
            match super::tree::parse_json(&text) {
                Ok(mut n) => {
                    n.shift_lines(first_line - 1);
                    n
                }
                Err(msg) => {
                    errors.push(FileError::new(Some(line), Some(address), format!("policy is {msg}")));
                    return;
                }
            }
        }
        other => {
            // `data.aws_iam_policy_document.NAME.json`: scored at the data block.
            let src = cx.src(other);
            if let Some(rest) = src.strip_prefix("data.aws_iam_policy_document.") {
                if let Some(name) = rest.strip_suffix(".json").or_else(|| rest.strip_suffix(".minified_json")) {
                    used_by.entry(name.to_string()).or_default().push((address, ptype));
                }
            }
            return;
        }
    };
    if let Some(d) = super::tree::find_duplicate(&doc) {
        errors.push(FileError::duplicate(&d, Some(address)));
        return;
    }
    let mut notes = Vec::new();
    if cx.opaque {
        notes.push(OPAQUE_NOTE.to_string());
    }
    out.push(Found {
        address,
        principal,
        line,
        statement_lines: super::tree::statement_lines(&doc),
        policy_type: Some(ptype),
        document: doc.to_value(),
        notes,
    });
}

/// Append `more` to the values of a condition key (both made lists).
fn merge_values(existing: &mut Node, more: Node) {
    let line = existing.line;
    let as_list = |n: Node| match n.kind {
        Kind::Seq(items) => items,
        other => vec![Node::new(n.line, other)],
    };
    let mut items = as_list(std::mem::replace(existing, Node::new(line, Kind::Null)));
    items.extend(as_list(more));
    *existing = Node::new(line, Kind::Seq(items));
}

/// Rebuild the JSON policy an `aws_iam_policy_document` data source renders.
fn policy_document(cx: &mut Cx<'_>, block: &Block, notes: &mut Vec<String>) -> Node {
    let line = cx.lines.of(block);
    let mut top: Vec<(String, Node)> = Vec::new();
    let body = &block.body;
    let version = body.get_attribute("version").map(|a| cx.string(&a.value)).unwrap_or_else(|| "2012-10-17".into());
    top.push(("Version".into(), Node::new(line, Kind::Str(version))));
    if let Some(a) = body.get_attribute("policy_id") {
        let id = cx.string(&a.value);
        top.push(("Id".into(), Node::new(cx.lines.of(a), Kind::Str(id))));
    }
    for attr in ["source_policy_documents", "override_policy_documents", "source_json", "override_json"] {
        if body.get_attribute(attr).is_some() {
            notes.push(format!("`{attr}` merges documents that are not resolved here"));
        }
    }
    let mut statements = Vec::new();
    for b in body.blocks() {
        match (b.ident.as_str(), label(b, 0)) {
            ("statement", _) => statements.push(statement(cx, &b.body, cx.lines.of(b))),
            ("dynamic", Some("statement")) => {
                if let Some(content) = b.body.get_blocks("content").next() {
                    cx.opaque = true;
                    notes.push("a `dynamic \"statement\"` block is scored once, with its values opaque".into());
                    statements.push(statement(cx, &content.body, cx.lines.of(b)));
                }
            }
            _ => {}
        }
    }
    top.push(("Statement".into(), Node::new(line, Kind::Seq(statements))));
    Node::new(line, Kind::Map(top))
}

fn statement(cx: &mut Cx<'_>, body: &Body, line: usize) -> Node {
    let mut st: Vec<(String, Node)> = Vec::new();
    if let Some(a) = body.get_attribute("sid") {
        let sid = cx.string(&a.value);
        st.push(("Sid".into(), Node::new(cx.lines.of(a), Kind::Str(sid))));
    }
    let effect = match body.get_attribute("effect") {
        Some(a) => {
            let e = cx.string(&a.value);
            // An unknown effect is assumed to allow: the risk is what it could grant.
            if e == "Deny" {
                e
            } else {
                "Allow".into()
            }
        }
        None => "Allow".into(),
    };
    st.push(("Effect".into(), Node::new(line, Kind::Str(effect))));
    for (attr, key) in [
        ("actions", "Action"),
        ("not_actions", "NotAction"),
        ("resources", "Resource"),
        ("not_resources", "NotResource"),
    ] {
        if let Some(a) = body.get_attribute(attr) {
            let v = cx.strings(&a.value);
            st.push((key.into(), v));
        }
    }
    for (ident, key) in [("principals", "Principal"), ("not_principals", "NotPrincipal")] {
        let mut by_type: Vec<(String, Node)> = Vec::new();
        let mut star = false;
        let blocks: Vec<&Body> = body
            .blocks()
            .filter_map(|b| match (b.ident.as_str(), label(b, 0)) {
                (i, _) if i == ident => Some(&b.body),
                ("dynamic", Some(l)) if l == ident => b.body.get_blocks("content").next().map(|c| &c.body),
                _ => None,
            })
            .collect();
        let pline = line;
        for pb in blocks {
            let ptype = pb.get_attribute("type").map(|a| cx.string(&a.value)).unwrap_or_else(|| "AWS".into());
            let ptype = if ptype.starts_with("${") { "AWS".to_string() } else { ptype };
            let ids = match pb.get_attribute("identifiers") {
                Some(a) => cx.strings(&a.value),
                None => Node::new(pline, Kind::Seq(Vec::new())),
            };
            if ptype == "*" {
                star = true;
                continue;
            }
            let ids: Vec<Node> = match ids.kind {
                Kind::Seq(items) => items,
                other => vec![Node::new(ids.line, other)],
            };
            match by_type.iter_mut().find(|(t, _)| *t == ptype) {
                Some((_, Node { kind: Kind::Seq(existing), .. })) => existing.extend(ids),
                _ => by_type.push((ptype, Node::new(pline, Kind::Seq(ids)))),
            }
        }
        if star {
            st.push((key.into(), Node::new(pline, Kind::Str("*".into()))));
        } else if !by_type.is_empty() {
            st.push((key.into(), Node::new(pline, Kind::Map(by_type))));
        }
    }
    let mut conditions: Vec<(String, Node)> = Vec::new();
    for cb in body.blocks().filter_map(|b| match (b.ident.as_str(), label(b, 0)) {
        ("condition", _) => Some(&b.body),
        ("dynamic", Some("condition")) => b.body.get_blocks("content").next().map(|c| &c.body),
        _ => None,
    }) {
        let test = cb.get_attribute("test").map(|a| cx.string(&a.value)).unwrap_or_default();
        let variable = cb.get_attribute("variable").map(|a| cx.string(&a.value)).unwrap_or_default();
        let values = match cb.get_attribute("values") {
            Some(a) => cx.strings(&a.value),
            None => Node::new(line, Kind::Seq(Vec::new())),
        };
        // Two `condition` blocks with one test and variable: the provider renders one key with
        // the values of both (alternatives), so they are merged here, not kept as two keys of
        // which the last would win.
        match conditions.iter_mut().find(|(t, _)| *t == test) {
            Some((_, Node { kind: Kind::Map(keys), .. })) => match keys.iter_mut().find(|(v, _)| *v == variable) {
                Some((_, existing)) => merge_values(existing, values),
                None => keys.push((variable, values)),
            },
            _ => conditions.push((test, Node::new(line, Kind::Map(vec![(variable, values)])))),
        }
    }
    if !conditions.is_empty() {
        st.push(("Condition".into(), Node::new(line, Kind::Map(conditions))));
    }
    Node::new(line, Kind::Map(st))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Vec<Found>, Vec<FileError>) {
        let mut ex = crate::scan::Extracted::default();
        extract(text, &mut ex).unwrap();
        (ex.policies, ex.errors)
    }

    #[test]
    fn policy_document_data_source() {
        let text = r#"
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "deploy" {
  statement {
    sid       = "Deploy"
    not_actions = ["iam:*"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [var.region]
    }
  }
}

resource "aws_iam_role" "app" {
  assume_role_policy = data.aws_iam_policy_document.assume.json
}
"#;
        let (out, errs) = run(text);
        assert!(errs.is_empty());
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].address, "data.aws_iam_policy_document.assume");
        assert_eq!(out[0].policy_type, Some(PolicyType::Trust));
        assert_eq!(out[0].document["Statement"][0]["Principal"]["Service"][0], "ec2.amazonaws.com");
        let d = &out[1];
        assert_eq!(d.line, 12);
        assert_eq!(d.statement_lines, vec![13]);
        assert_eq!(d.document["Statement"][0]["NotAction"][0], "iam:*");
        assert_eq!(d.document["Statement"][0]["Condition"]["StringEquals"]["aws:RequestedRegion"][0], "${var.region}");
        assert!(d.notes.iter().any(|n| n.contains("opaque")));
    }

    #[test]
    fn jsonencode_and_heredoc() {
        let text = r#"resource "aws_iam_policy" "deploy" {
  name   = "deploy-${var.env}"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:PutObject", "iam:PassRole"]
        Resource = "${aws_s3_bucket.b.arn}/*"
      },
      {
        Effect   = "Allow"
        Action   = var.extra_actions
        Resource = "*"
      },
    ]
  })
}

resource "aws_s3_bucket_policy" "b" {
  bucket = aws_s3_bucket.b.id
  policy = <<-EOF
    {
      "Version": "2012-10-17",
      "Statement": [{
        "Effect": "Allow",
        "Principal": "*",
        "Action": ${jsonencode(var.actions)},
        "Resource": "${aws_s3_bucket.b.arn}/*"
      }]
    }
  EOF
}
"#;
        let (out, errs) = run(text);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(out.len(), 2);
        let p = &out[0];
        assert_eq!(p.address, "aws_iam_policy.deploy");
        assert_eq!(p.line, 3);
        assert_eq!(p.statement_lines, vec![6, 11]);
        assert_eq!(p.document["Statement"][0]["Resource"], "${aws_s3_bucket.b.arn}/*");
        assert_eq!(p.document["Statement"][1]["Action"], "${var.extra_actions}");
        let b = &out[1];
        assert_eq!(b.address, "aws_s3_bucket_policy.b");
        assert_eq!(b.statement_lines, vec![25]);
        assert_eq!(b.document["Statement"][0]["Action"], "${jsonencode(var.actions)}");
        assert_eq!(b.policy_type, Some(PolicyType::Resource));
    }

    #[test]
    fn a_key_given_twice_is_refused_and_repeated_condition_blocks_merge() {
        let text = r#"resource "aws_iam_policy" "p" {
  policy = jsonencode({
    Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "*", "Action" = "*" }]
  })
}

data "aws_iam_policy_document" "d" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceVpce"
      values   = ["vpce-1"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceVpce"
      values   = "vpce-2"
    }
  }
}
"#;
        let (out, errs) = run(text);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].address.as_deref(), Some("aws_iam_policy.p"));
        assert_eq!(errs[0].line, Some(3));
        assert!(errs[0].message.starts_with("Statement[0].Action has the key `Action` twice in one object, at line 3"));
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].document["Statement"][0]["Condition"]["StringEquals"]["aws:SourceVpce"],
            serde_json::json!(["vpce-1", "vpce-2"])
        );
    }
}
