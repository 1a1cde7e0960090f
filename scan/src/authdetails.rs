//! Account authorization details (`aws iam get-account-authorization-details`): every user,
//! group and role scored on the union of what it is granted — inline policies, attached
//! managed policies (their default version) and, for users, their groups' policies — so an
//! escalation split across a group and a user is seen as one. Roles' trust policies are scored
//! on their own. The caller ranks the results by score.
//!
//! The AWS CLI prints policy documents as JSON objects; the raw API (and some exporters) give
//! them as URL-encoded JSON strings. Both are accepted.
//!
//! An attached managed policy or a group that the export does not hold (a filtered export), or
//! a managed policy without a default version, is [`Unresolved`] for each principal it leaves
//! short, besides a note on that principal's result: its grants are missing from the score.

use super::tree::{Kind, Node};
use super::{FileError, Found, Unresolved};
use risk_core::PolicyType;
use serde_json::{json, Value};
use std::collections::HashMap;

pub fn is_authdetails(root: &Node) -> bool {
    ["UserDetailList", "RoleDetailList", "GroupDetailList"].iter().any(|k| root.get(k).and_then(Node::as_seq).is_some())
}

/// A decoded policy document: its statements with their lines in the export.
struct Doc {
    statements: Vec<(Value, usize)>,
}

/// Why a document could not be decoded, and the line to report it at when it is not the
/// document's own (the second occurrence of a key given twice).
#[derive(Debug, Clone)]
struct DocError {
    line: Option<usize>,
    message: String,
}

impl From<String> for DocError {
    fn from(message: String) -> Self {
        DocError { line: None, message }
    }
}

impl From<&str> for DocError {
    fn from(message: &str) -> Self {
        DocError { line: None, message: message.to_string() }
    }
}

impl std::fmt::Display for DocError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn decode(n: &Node) -> Result<Doc, DocError> {
    let node = match &n.kind {
        Kind::Str(s) => {
            let text = if s.trim_start().starts_with('{') { s.clone() } else { percent_decode(s)? };
            // A key given twice: the core's own message, positions counted in the decoded
            // document (lines of the file mean nothing inside an encoded string).
            if let Err(e) = risk_core::json::from_str(&text) {
                if matches!(e.kind, risk_core::json::JsonErrorKind::DuplicateKey { .. }) {
                    return Err(e.to_string().into());
                }
            }
            let mut parsed = super::tree::parse_json(&text).map_err(|e| format!("policy document is {e}"))?;
            // NOTE: lines inside an encoded string mean nothing in the file; use the string's line.
            set_lines(&mut parsed, n.line);
            parsed
        }
        _ => {
            if let Some(d) = super::tree::find_duplicate(n) {
                return Err(DocError { line: Some(d.second), message: d.message() });
            }
            n.clone()
        }
    };
    let statements = match node.get("Statement") {
        Some(Node { kind: Kind::Seq(items), .. }) => items.iter().map(|s| (s.to_value(), s.line)).collect(),
        Some(s @ Node { kind: Kind::Map(_), .. }) => vec![(s.to_value(), s.line)],
        Some(_) => return Err("policy document `Statement` must be an object or an array".into()),
        None => return Err("policy document has no `Statement`".into()),
    };
    Ok(Doc { statements })
}

fn set_lines(n: &mut Node, line: usize) {
    n.line = line;
    match &mut n.kind {
        Kind::Seq(items) => items.iter_mut().for_each(|i| set_lines(i, line)),
        Kind::Map(entries) => entries.iter_mut().for_each(|(_, v)| set_lines(v, line)),
        Kind::Tagged(_, inner) => set_lines(inner, line),
        _ => {}
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let v =
                    hex.and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or("policy document has a bad URL escape")?;
                out.push(v);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "URL-decoded policy document is not UTF-8".to_string())
}

struct Grants {
    statements: Vec<(Value, usize)>,
    sources: Vec<String>,
    notes: Vec<String>,
}

impl Grants {
    fn new() -> Self {
        Grants { statements: Vec::new(), sources: Vec::new(), notes: Vec::new() }
    }

    fn inline(&mut self, list: Option<&Node>, from: &str, address: &str, errors: &mut Vec<FileError>) {
        for p in list.and_then(Node::as_seq).unwrap_or(&[]) {
            let name = p.get("PolicyName").and_then(Node::as_str).unwrap_or("?");
            match p.get("PolicyDocument").map(decode) {
                Some(Ok(doc)) => {
                    self.statements.extend(doc.statements);
                    self.sources.push(format!("{from}inline `{name}`"));
                }
                Some(Err(e)) => errors.push(FileError::new(
                    Some(e.line.unwrap_or(p.line)),
                    Some(address.to_string()),
                    format!("inline policy `{name}`: {e}"),
                )),
                None => {}
            }
        }
    }

    fn attached(
        &mut self,
        list: Option<&Node>,
        from: &str,
        managed: &HashMap<String, Managed>,
        address: &str,
        unresolved: &mut Vec<Unresolved>,
    ) {
        for p in list.and_then(Node::as_seq).unwrap_or(&[]) {
            let Some(arn) = p.get("PolicyArn").and_then(Node::as_str) else { continue };
            let name = p.get("PolicyName").and_then(Node::as_str).unwrap_or(arn);
            match managed.get(arn) {
                Some(Managed::Doc(Ok(doc))) => {
                    self.statements.extend(doc.statements.iter().cloned());
                    self.sources.push(format!("{from}managed `{name}`"));
                }
                // Reported once, as the managed policy's own error.
                Some(Managed::Doc(Err(e))) => self.notes.push(format!("{from}managed policy `{arn}` not scored: {e}")),
                Some(Managed::NoDefaultVersion) => {
                    let why = format!("{from}managed policy `{arn}` has no default version in the export, so its grants are missing from this principal's score");
                    self.notes.push(why.clone());
                    unresolved.push(Unresolved::new(p.line, address, why));
                }
                None => {
                    let why = format!(
                        "{from}managed policy `{arn}` is not in the export (export without `--filter`, or add `--filter AWSManagedPolicy LocalManagedPolicy`), so its grants are missing from this principal's score"
                    );
                    self.notes.push(why.clone());
                    unresolved.push(Unresolved::new(p.line, address, why));
                }
            }
        }
    }
}

/// A managed policy of the export, by ARN.
enum Managed {
    /// Its default version's document (or why that could not be read: an error of its own).
    Doc(Result<Doc, DocError>),
    NoDefaultVersion,
}

pub fn extract(root: &Node, ex: &mut super::Extracted) {
    let (out, errors, unresolved) = (&mut ex.policies, &mut ex.errors, &mut ex.unresolved);
    // Managed policies: default version's document, by ARN.
    let mut managed: HashMap<String, Managed> = HashMap::new();
    for p in root.get("Policies").and_then(Node::as_seq).unwrap_or(&[]) {
        let Some(arn) = p.get("Arn").and_then(Node::as_str) else { continue };
        let default = p.get("DefaultVersionId").and_then(Node::as_str);
        let versions = p.get("PolicyVersionList").and_then(Node::as_seq).unwrap_or(&[]);
        let v = versions
            .iter()
            .find(|v| matches!(v.get("IsDefaultVersion").map(|n| &n.kind), Some(Kind::Bool(true))))
            .or_else(|| versions.iter().find(|v| v.get("VersionId").and_then(Node::as_str) == default));
        let doc = match v.and_then(|v| v.get("Document")) {
            Some(d) => {
                let doc = decode(d);
                if let Err(e) = &doc {
                    // Its holders are scored without it (and say so); the document itself is an
                    // error, as an inline one would be.
                    errors.push(FileError::new(
                        Some(e.line.unwrap_or(d.line)),
                        Some(arn.to_string()),
                        format!("managed policy: {e}"),
                    ));
                }
                Managed::Doc(doc)
            }
            None => Managed::NoDefaultVersion,
        };
        managed.insert(arn.to_string(), doc);
    }
    let groups: HashMap<&str, &Node> = root
        .get("GroupDetailList")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(|g| g.get("GroupName").and_then(Node::as_str).map(|n| (n, g)))
        .collect();
    let emit = |kind: &str, name: &str, node: &Node, g: Grants, out: &mut Vec<Found>| {
        if g.statements.is_empty() {
            return;
        }
        let mut notes = Vec::new();
        notes.push(format!("union of {}", g.sources.join(", ")));
        notes.extend(g.notes);
        let arn = node.get("Arn").and_then(Node::as_str).map(str::to_string);
        out.push(Found {
            address: format!("{kind}/{name}"),
            principal: Some(arn.unwrap_or_else(|| format!("{kind}/{name}"))),
            line: node.line,
            statement_lines: g.statements.iter().map(|(_, l)| *l).collect(),
            policy_type: Some(PolicyType::Identity),
            document: json!({"Version": "2012-10-17", "Statement": g.statements.into_iter().map(|(v, _)| v).collect::<Vec<_>>()}),
            notes,
        });
    };
    for u in root.get("UserDetailList").and_then(Node::as_seq).unwrap_or(&[]) {
        let Some(name) = u.get("UserName").and_then(Node::as_str) else { continue };
        let address = format!("user/{name}");
        let mut g = Grants::new();
        g.inline(u.get("UserPolicyList"), "", &address, errors);
        g.attached(u.get("AttachedManagedPolicies"), "", &managed, &address, unresolved);
        for gn_node in u.get("GroupList").and_then(Node::as_seq).unwrap_or(&[]) {
            let Some(gname) = gn_node.as_str() else { continue };
            match groups.get(gname) {
                Some(gn) => {
                    let from = format!("group `{gname}` ");
                    g.inline(gn.get("GroupPolicyList"), &from, &address, errors);
                    g.attached(gn.get("AttachedManagedPolicies"), &from, &managed, &address, unresolved);
                }
                None => {
                    let why = format!(
                        "group `{gname}` is not in the export, so its grants are missing from this principal's score"
                    );
                    g.notes.push(why.clone());
                    unresolved.push(Unresolved::new(gn_node.line, address.as_str(), why));
                }
            }
        }
        emit("user", name, u, g, out);
    }
    for gn in root.get("GroupDetailList").and_then(Node::as_seq).unwrap_or(&[]) {
        let Some(name) = gn.get("GroupName").and_then(Node::as_str) else { continue };
        let address = format!("group/{name}");
        let mut g = Grants::new();
        g.inline(gn.get("GroupPolicyList"), "", &address, errors);
        g.attached(gn.get("AttachedManagedPolicies"), "", &managed, &address, unresolved);
        emit("group", name, gn, g, out);
    }
    for r in root.get("RoleDetailList").and_then(Node::as_seq).unwrap_or(&[]) {
        let Some(name) = r.get("RoleName").and_then(Node::as_str) else { continue };
        let address = format!("role/{name}");
        let mut g = Grants::new();
        g.inline(r.get("RolePolicyList"), "", &address, errors);
        g.attached(r.get("AttachedManagedPolicies"), "", &managed, &address, unresolved);
        emit("role", name, r, g, out);
        if let Some(trust) = r.get("AssumeRolePolicyDocument") {
            let trust_addr = format!("{address}.AssumeRolePolicyDocument");
            match decode(trust) {
                Ok(doc) => out.push(Found {
                    address: trust_addr,
                    principal: r.get("Arn").and_then(Node::as_str).map(str::to_string),
                    line: trust.line,
                    statement_lines: doc.statements.iter().map(|(_, l)| *l).collect(),
                    policy_type: Some(PolicyType::Trust),
                    document: json!({"Version": "2012-10-17", "Statement": doc.statements.into_iter().map(|(v, _)| v).collect::<Vec<_>>()}),
                    notes: Vec::new(),
                }),
                Err(e) => errors.push(FileError::new(Some(e.line.unwrap_or(trust.line)), Some(trust_addr), e.message)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoded_documents_decode() {
        let s = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        let d = decode(&Node::new(7, Kind::Str(s.into()))).unwrap();
        assert_eq!(d.statements.len(), 1);
        assert_eq!(d.statements[0].1, 7);
        assert_eq!(d.statements[0].0["Action"], "s3:GetObject");
    }

    #[test]
    fn a_key_given_twice_is_refused_encoded_or_not() {
        // `{"Statement":{"Action":"a","Action":"*"}}`, URL-encoded: the core's message, positions
        // in the decoded document.
        let s = "%7B%22Statement%22%3A%7B%22Action%22%3A%22a%22%2C%22Action%22%3A%22%2A%22%7D%7D";
        let Err(e) = decode(&Node::new(7, Kind::Str(s.into()))) else { panic!("decoded") };
        assert_eq!(e.line, None);
        assert!(e.message.starts_with("Statement.Action has the key `Action` twice in one object, at line 1 column 15 and again at line 1 column 28"), "{e}");
        let n = super::super::tree::parse_json("{\"Statement\": {\"Action\": \"a\",\n \"Action\": \"*\"}}").unwrap();
        let Err(e) = decode(&n) else { panic!("decoded") };
        assert_eq!(e.line, Some(2));
        assert!(e
            .message
            .starts_with("Statement.Action has the key `Action` twice in one object, at line 1 and again at line 2"));
    }
}
