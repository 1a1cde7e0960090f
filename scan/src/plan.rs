//! Terraform plan and state JSON (`terraform show -json`): the planned policy values exactly
//! as Terraform will send them, per resource address (modules included).
//!
//! Values that are unknown until apply are absent from `planned_values`; `resource_changes`
//! marks them in `after_unknown`, and each is reported as [`Unresolved`]. A policy attribute
//! that is neither a string nor null is unresolved too: a plan gives policies as JSON text.

use super::tree::{Kind, Node};
use super::{FileError, Found, Unresolved};
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

/// Where what is found goes.
struct Sink<'a> {
    out: &'a mut Vec<Found>,
    errors: &'a mut Vec<FileError>,
    unresolved: &'a mut Vec<Unresolved>,
}

pub fn extract(root: &Node, ex: &mut super::Extracted) {
    let mut sink = Sink { out: &mut ex.policies, errors: &mut ex.errors, unresolved: &mut ex.unresolved };
    let module = root.get("planned_values").or_else(|| root.get("values")).and_then(|v| v.get("root_module"));
    if let Some(m) = module {
        walk(m, &mut sink);
    }
    for rc in root.get("resource_changes").and_then(Node::as_seq).unwrap_or(&[]) {
        unknown_after_apply(rc, sink.unresolved);
    }
}

/// The address a policy attribute is reported under (a role has two policies and inline ones).
fn key(address: &str, rtype: &str, attr: &str) -> String {
    if rtype == "aws_iam_role" {
        format!("{address}.{attr}")
    } else {
        address.to_string()
    }
}

const UNKNOWN: &str = "is known only after apply (it is computed from another resource), so the plan does not hold the policy: review it in the configuration, or scan the state (`terraform show -json`) once applied";

/// Policy attributes a planned change marks unknown (`after_unknown`): not in `planned_values`.
fn unknown_after_apply(rc: &Node, unresolved: &mut Vec<Unresolved>) {
    let (Some(address), Some(rtype)) =
        (rc.get("address").and_then(Node::as_str), rc.get("type").and_then(Node::as_str))
    else {
        return;
    };
    let mode = rc.get("mode").and_then(Node::as_str).unwrap_or("managed");
    let Some(change) = rc.get("change") else { return };
    let Some(unknown) = change.get("after_unknown") else { return };
    let is_true = |n: &Node| matches!(n.kind, Kind::Bool(true));
    for (attr, _) in attributes(mode, rtype) {
        if let Some(n) = unknown.get(attr).filter(|n| is_true(n)) {
            unresolved.push(Unresolved::new(n.line, key(address, rtype, attr), format!("`{attr}` {UNKNOWN}")));
        }
    }
    if mode == "managed" && rtype == "aws_iam_role" {
        match unknown.get("inline_policy") {
            Some(n) if is_true(n) => unresolved.push(Unresolved::new(
                n.line,
                format!("{address}.inline_policy"),
                format!("`inline_policy` {UNKNOWN}"),
            )),
            Some(Node { kind: Kind::Seq(items), .. }) => {
                let after = change.get("after").and_then(|a| a.get("inline_policy")).and_then(Node::as_seq);
                for (i, item) in items.iter().enumerate() {
                    let Some(n) = item.get("policy").filter(|n| is_true(n)) else { continue };
                    let name = after
                        .and_then(|a| a.get(i))
                        .and_then(|p| p.get("name"))
                        .and_then(Node::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| i.to_string());
                    unresolved.push(Unresolved::new(
                        n.line,
                        format!("{address}.inline_policy[{name}]"),
                        format!("`inline_policy` `policy` {UNKNOWN}"),
                    ));
                }
            }
            _ => {}
        }
    }
}

fn walk(module: &Node, sink: &mut Sink<'_>) {
    for res in module.get("resources").and_then(Node::as_seq).unwrap_or(&[]) {
        let (Some(address), Some(rtype)) =
            (res.get("address").and_then(Node::as_str), res.get("type").and_then(Node::as_str))
        else {
            continue;
        };
        let mode = res.get("mode").and_then(Node::as_str).unwrap_or("managed");
        let Some(values) = res.get("values") else { continue };
        for (attr, ptype) in attributes(mode, rtype) {
            if let Some(v) = values.get(attr) {
                policy(v, key(address, rtype, attr), attr, ptype, res.line, sink);
            }
        }
        if mode == "managed" && rtype == "aws_iam_role" {
            for ip in values.get("inline_policy").and_then(Node::as_seq).unwrap_or(&[]) {
                let name = ip.get("name").and_then(Node::as_str).unwrap_or("");
                if let Some(v) = ip.get("policy") {
                    policy(
                        v,
                        format!("{address}.inline_policy[{name}]"),
                        "policy",
                        Some(PolicyType::Identity),
                        ip.line,
                        sink,
                    );
                }
            }
        }
    }
    for child in module.get("child_modules").and_then(Node::as_seq).unwrap_or(&[]) {
        walk(child, sink);
    }
}

fn policy(v: &Node, address: String, attr: &str, ptype: Option<PolicyType>, line: usize, sink: &mut Sink<'_>) {
    let text = match &v.kind {
        Kind::Str(s) if !s.trim().is_empty() => s,
        // Not set (null, or an empty string: the provider's "no policy"); values unknown until
        // apply are absent here and come from `resource_changes`.
        Kind::Null | Kind::Str(_) => return,
        other => {
            let what = match other {
                Kind::Bool(_) => "a boolean",
                Kind::Num(_) => "a number",
                Kind::Seq(_) => "a list",
                _ => "an object",
            };
            sink.unresolved.push(Unresolved::new(
                v.line.max(line),
                address,
                format!(
                    "`{attr}` is {what}, not the JSON text of a policy that Terraform plans hold, so it is not read"
                ),
            ));
            return;
        }
    };
    match risk_core::parse_json(text) {
        Ok(document) => sink.out.push(Found {
            address,
            principal: None,
            line: v.line.max(line),
            statement_lines: Vec::new(),
            policy_type: ptype,
            document,
            notes: Vec::new(),
        }),
        Err(e) => sink.errors.push(FileError::new(Some(v.line), Some(address), e.to_string())),
    }
}
