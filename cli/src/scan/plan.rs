//! Terraform plan and state JSON (`terraform show -json`): the planned policy values exactly
//! as Terraform will send them, per resource address (modules included).
//!
//! Values that are unknown until apply are absent from `planned_values` and are skipped.

use super::tree::{Kind, Node};
use super::{FileError, Found};
use risk_core::PolicyType;

/// Is this parsed document `terraform show -json` output?
pub fn is_plan(root: &Node) -> bool {
    root.get("format_version").is_some()
        && (root.get("planned_values").is_some()
            || root.get("values").is_some()
            || root.get("resource_changes").is_some())
}

/// Policy-valued attributes per resource type: the HCL reader's table (one list of resource
/// types for both), plus data sources, of which only `aws_iam_policy_document.json` is a policy.
fn attributes(mode: &str, rtype: &str) -> Vec<(&'static str, Option<PolicyType>)> {
    match (mode, rtype) {
        ("data", "aws_iam_policy_document") => vec![("json", None)],
        ("data", _) => Vec::new(),
        _ => super::terraform::attributes(rtype).iter().map(|&(a, t)| (a, Some(t))).collect(),
    }
}

pub fn extract(root: &Node, ex: &mut super::Extracted) {
    let (out, errors) = (&mut ex.policies, &mut ex.errors);
    let module = root.get("planned_values").or_else(|| root.get("values")).and_then(|v| v.get("root_module"));
    if let Some(m) = module {
        walk(m, out, errors);
    }
}

fn walk(module: &Node, out: &mut Vec<Found>, errors: &mut Vec<FileError>) {
    for res in module.get("resources").and_then(Node::as_seq).unwrap_or(&[]) {
        let (Some(address), Some(rtype)) =
            (res.get("address").and_then(Node::as_str), res.get("type").and_then(Node::as_str))
        else {
            continue;
        };
        let mode = res.get("mode").and_then(Node::as_str).unwrap_or("managed");
        let Some(values) = res.get("values") else { continue };
        for (attr, ptype) in attributes(mode, rtype) {
            let key = if rtype == "aws_iam_role" { format!("{address}.{attr}") } else { address.to_string() };
            if let Some(v) = values.get(attr) {
                policy(v, key, ptype, res.line, out, errors);
            }
        }
        if mode == "managed" && rtype == "aws_iam_role" {
            for ip in values.get("inline_policy").and_then(Node::as_seq).unwrap_or(&[]) {
                let name = ip.get("name").and_then(Node::as_str).unwrap_or("");
                if let Some(v) = ip.get("policy") {
                    policy(
                        v,
                        format!("{address}.inline_policy[{name}]"),
                        Some(PolicyType::Identity),
                        ip.line,
                        out,
                        errors,
                    );
                }
            }
        }
    }
    for child in module.get("child_modules").and_then(Node::as_seq).unwrap_or(&[]) {
        walk(child, out, errors);
    }
}

fn policy(
    v: &Node,
    address: String,
    ptype: Option<PolicyType>,
    line: usize,
    out: &mut Vec<Found>,
    errors: &mut Vec<FileError>,
) {
    let text = match &v.kind {
        Kind::Str(s) if !s.trim().is_empty() => s,
        _ => return, // null, empty or unknown until apply
    };
    match risk_core::parse_json(text) {
        Ok(document) => out.push(Found {
            address,
            principal: None,
            line: v.line.max(line),
            statement_lines: Vec::new(),
            policy_type: ptype,
            document,
            notes: Vec::new(),
        }),
        Err(e) => errors.push(FileError::new(Some(v.line), Some(address), e.to_string())),
    }
}
