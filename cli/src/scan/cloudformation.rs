//! CloudFormation templates (JSON and YAML): the policy documents of IAM resources and of
//! resource policies, with intrinsic functions turned into opaque `${…}` strings.
//!
//! Intrinsics cannot be evaluated without a stack, so `!Ref Bucket` becomes `${Bucket}`,
//! `!GetAtt Role.Arn` becomes `${Role.Arn}`, `!Sub` keeps its template, `!Join` joins its parts.
//! An `Fn::If` inside a list (typically a conditional statement) contributes both branches,
//! so the score covers whichever the stack ends up with; elsewhere its first branch is used.

use super::tree::{Kind, Node};
use super::Found;
use risk_core::PolicyType;
use serde_json::{Map, Value};

/// Which properties of which resource types hold policy documents.
enum Slot {
    /// A property that is one policy document.
    Doc(&'static str, PolicyType),
    /// `Policies: [{PolicyName, PolicyDocument}]` (inline policies of roles, users, groups).
    Inline,
}

fn slots(resource_type: &str) -> &'static [Slot] {
    use PolicyType::*;
    match resource_type {
        "AWS::IAM::Policy"
        | "AWS::IAM::ManagedPolicy"
        | "AWS::IAM::RolePolicy"
        | "AWS::IAM::UserPolicy"
        | "AWS::IAM::GroupPolicy" => &[Slot::Doc("PolicyDocument", Identity)],
        "AWS::IAM::Role" => &[Slot::Doc("AssumeRolePolicyDocument", Trust), Slot::Inline],
        "AWS::IAM::User" | "AWS::IAM::Group" => &[Slot::Inline],
        "AWS::S3::BucketPolicy"
        | "AWS::SQS::QueuePolicy"
        | "AWS::SQS::QueueInlinePolicy"
        | "AWS::SNS::TopicPolicy"
        | "AWS::SNS::TopicInlinePolicy" => &[Slot::Doc("PolicyDocument", Resource)],
        "AWS::KMS::Key" | "AWS::KMS::ReplicaKey" => &[Slot::Doc("KeyPolicy", Resource)],
        "AWS::SecretsManager::ResourcePolicy" => &[Slot::Doc("ResourcePolicy", Resource)],
        "AWS::ECR::Repository" => &[Slot::Doc("RepositoryPolicyText", Resource)],
        "AWS::S3::AccessPoint" => &[Slot::Doc("Policy", Resource)],
        "AWS::OpenSearchService::Domain" | "AWS::Elasticsearch::Domain" => &[Slot::Doc("AccessPolicies", Resource)],
        _ => &[],
    }
}

/// Is this parsed document a CloudFormation template?
pub fn is_template(root: &Node) -> bool {
    if root.get("AWSTemplateFormatVersion").is_some() {
        return true;
    }
    root.get("Resources").is_some_and(|r| {
        r.entries().iter().any(|(_, res)| res.get("Type").and_then(Node::as_str).is_some_and(|t| t.contains("::")))
    })
}

/// Every policy document in the template, in document order.
pub fn extract(root: &Node, ex: &mut super::Extracted) {
    let (out, errors) = (&mut ex.policies, &mut ex.errors);
    let Some(resources) = root.get("Resources") else { return };
    for (logical_id, res) in resources.entries() {
        let Some(rtype) = res.get("Type").and_then(Node::as_str) else { continue };
        let Some(props) = res.get("Properties") else { continue };
        for slot in slots(rtype) {
            match slot {
                Slot::Doc(prop, ptype) => {
                    let Some(doc) = props.get(prop) else { continue };
                    let address =
                        if rtype == "AWS::IAM::Role" { format!("{logical_id}.{prop}") } else { logical_id.clone() };
                    let principal = (rtype == "AWS::IAM::Role").then(|| format!("role {logical_id}"));
                    push(doc, address, principal, *ptype, out, errors);
                }
                Slot::Inline => {
                    let Some(list) = props.get("Policies") else { continue };
                    let kind = rtype.rsplit("::").next().unwrap_or("").to_ascii_lowercase();
                    for (i, (item, _)) in splice(list).into_iter().enumerate() {
                        let name = item.get("PolicyName").and_then(Node::as_str).map(str::to_string);
                        let address = match &name {
                            Some(n) => format!("{logical_id}.Policies[{n}]"),
                            None => format!("{logical_id}.Policies[{i}]"),
                        };
                        match item.get("PolicyDocument") {
                            Some(doc) => push(
                                doc,
                                address,
                                Some(format!("{kind} {logical_id}")),
                                PolicyType::Identity,
                                out,
                                errors,
                            ),
                            None => errors.push(super::FileError::new(
                                Some(item.line),
                                Some(address),
                                "inline policy has no `PolicyDocument`".into(),
                            )),
                        }
                    }
                }
            }
        }
    }
}

fn push(
    doc: &Node,
    address: String,
    principal: Option<String>,
    ptype: PolicyType,
    out: &mut Vec<Found>,
    errors: &mut Vec<super::FileError>,
) {
    let mut cx = Cx { intrinsics: false };
    // A document may also be written as a JSON string (or a `!Sub` of one).
    let (document, statement_lines) = match text_of(doc) {
        Some(text) => match super::tree::parse_json(&text) {
            Ok(mut n) => {
                n.shift_lines(doc.line - 1);
                if let Some(d) = super::tree::find_duplicate(&n) {
                    errors.push(super::FileError::duplicate(&d, Some(address)));
                    return;
                }
                (n.to_value(), super::tree::statement_lines(&n))
            }
            Err(e) => {
                errors.push(super::FileError::new(Some(doc.line), Some(address), format!("policy document is {e}")));
                return;
            }
        },
        None => {
            // A key given twice (JSON or YAML) is refused: the reader keeps the last, the
            // reviewer reads the first. Intrinsics' arguments are part of the document too.
            if let Some(d) = super::tree::find_duplicate(doc) {
                errors.push(super::FileError::duplicate(&d, Some(address)));
                return;
            }
            (cx.value(doc), statement_lines(doc))
        }
    };
    let mut notes = Vec::new();
    if cx.intrinsics {
        notes.push("CloudFormation intrinsic functions are kept as opaque `${…}` values".to_string());
    }
    out.push(Found { address, principal, line: doc.line, statement_lines, policy_type: Some(ptype), document, notes });
}

/// A document given as a string: plain, or the template of `Fn::Sub`.
fn text_of(doc: &Node) -> Option<String> {
    match &doc.kind {
        Kind::Str(s) => Some(s.clone()),
        Kind::Tagged(t, inner) if t == "Sub" => inner.as_str().map(str::to_string),
        Kind::Map(e) if e.len() == 1 && e[0].0 == "Fn::Sub" => e[0].1.as_str().map(str::to_string),
        _ => None,
    }
}

fn statement_lines(doc: &Node) -> Vec<usize> {
    match doc.get("Statement") {
        Some(n) if n.as_seq().is_some() || intrinsic(n).is_some() => splice(n).into_iter().map(|(_, l)| l).collect(),
        Some(n) => vec![n.line],
        None => Vec::new(),
    }
}

/// `(name, argument)` when the node is an intrinsic function, in either notation.
fn intrinsic(n: &Node) -> Option<(String, &Node)> {
    match &n.kind {
        Kind::Tagged(t, inner) => {
            Some((if t == "Ref" || t == "Condition" { t.clone() } else { format!("Fn::{t}") }, inner.as_ref()))
        }
        Kind::Map(e) if e.len() == 1 && (e[0].0 == "Ref" || e[0].0.starts_with("Fn::")) => {
            Some((e[0].0.clone(), &e[0].1))
        }
        _ => None,
    }
}

fn is_no_value(n: &Node) -> bool {
    matches!(intrinsic(n), Some((name, arg)) if name == "Ref" && arg.as_str() == Some("AWS::NoValue"))
}

/// The elements of a list, with `Fn::If` elements replaced by their branches and
/// `AWS::NoValue` dropped; each with its line.
fn splice(list: &Node) -> Vec<(&Node, usize)> {
    let mut out = Vec::new();
    let items: Vec<&Node> = match (list.as_seq(), intrinsic(list)) {
        (Some(items), _) => items.iter().collect(),
        (None, Some((name, arg))) if name == "Fn::If" => {
            vec![list].into_iter().filter(|_| arg.as_seq().is_some()).collect()
        }
        _ => vec![list],
    };
    for item in items {
        match intrinsic(item) {
            Some((name, arg)) if name == "Fn::If" => {
                if let Some([_, a, b]) = arg.as_seq() {
                    for branch in [a, b] {
                        if !is_no_value(branch) {
                            out.extend(splice_one(branch));
                        }
                    }
                }
            }
            _ if is_no_value(item) => {}
            _ => out.push((item, item.line)),
        }
    }
    out
}

fn splice_one(n: &Node) -> Vec<(&Node, usize)> {
    match n.as_seq() {
        Some(items) => items.iter().filter(|i| !is_no_value(i)).map(|i| (i, i.line)).collect(),
        None => vec![(n, n.line)],
    }
}

struct Cx {
    intrinsics: bool,
}

impl Cx {
    fn value(&mut self, n: &Node) -> Value {
        if let Some((name, arg)) = intrinsic(n) {
            self.intrinsics = true;
            return match name.as_str() {
                "Fn::If" => match arg.as_seq() {
                    Some([_, a, b]) => {
                        let pick = if is_no_value(a) { b } else { a };
                        match pick.kind {
                            Kind::Map(_) | Kind::Seq(_) => self.value(pick),
                            _ => Value::String(self.text(n)),
                        }
                    }
                    _ => Value::String(self.text(n)),
                },
                _ => Value::String(self.text(n)),
            };
        }
        match &n.kind {
            Kind::Seq(_) => Value::Array(splice(n).into_iter().map(|(item, _)| self.value(item)).collect()),
            Kind::Map(entries) => {
                let mut m = Map::new();
                for (k, v) in entries {
                    if !is_no_value(v) {
                        m.insert(k.clone(), self.value(v));
                    }
                }
                Value::Object(m)
            }
            Kind::Tagged(_, inner) => self.value(inner),
            _ => n.to_value(),
        }
    }

    /// A scalar rendering: plain strings as they are, intrinsics as `${…}`.
    fn text(&mut self, n: &Node) -> String {
        let Some((name, arg)) = intrinsic(n) else {
            return match &n.kind {
                Kind::Str(s) => s.clone(),
                Kind::Seq(items) => items.iter().map(|i| self.text(i)).collect::<Vec<_>>().join(","),
                _ => n.to_value().to_string(),
            };
        };
        self.intrinsics = true;
        match name.as_str() {
            "Ref" => format!("${{{}}}", arg.as_str().unwrap_or("?")),
            "Fn::GetAtt" => match (&arg.kind, arg.as_seq()) {
                (Kind::Str(s), _) => format!("${{{s}}}"),
                (_, Some(parts)) => {
                    format!("${{{}}}", parts.iter().map(|p| self.text(p)).collect::<Vec<_>>().join("."))
                }
                _ => "${Fn::GetAtt}".into(),
            },
            "Fn::Sub" => match (&arg.kind, arg.as_seq()) {
                (Kind::Str(s), _) => s.clone(),
                (_, Some([template, vars])) => {
                    let mut s = template.as_str().unwrap_or("").to_string();
                    for (k, v) in vars.entries() {
                        let v = self.text(v);
                        s = s.replace(&format!("${{{k}}}"), &v);
                    }
                    s
                }
                _ => "${Fn::Sub}".into(),
            },
            "Fn::Join" => match arg.as_seq() {
                Some([delim, parts]) => {
                    let d = delim.as_str().unwrap_or("").to_string();
                    match parts.as_seq() {
                        Some(items) => items.iter().map(|p| self.text(p)).collect::<Vec<_>>().join(&d),
                        None => self.text(parts),
                    }
                }
                _ => "${Fn::Join}".into(),
            },
            "Fn::If" => match arg.as_seq() {
                Some([cond, a, b]) => {
                    let (a, b) = (self.text(a), self.text(b));
                    if a == b {
                        a
                    } else {
                        format!("${{Fn::If:{}}}", cond.as_str().unwrap_or("?"))
                    }
                }
                _ => "${Fn::If}".into(),
            },
            other => {
                let inner = match &arg.kind {
                    Kind::Str(s) => s.clone(),
                    Kind::Seq(items) => items.iter().map(|i| self.text(i)).collect::<Vec<_>>().join(","),
                    _ => String::new(),
                };
                if inner.is_empty() {
                    format!("${{{other}}}")
                } else {
                    format!("${{{other}:{inner}}}")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_intrinsics_become_opaque_strings() {
        let text = r#"
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
  Policy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Bucket
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"}
            Action: s3:GetObject
            Resource: !Join ["", [!GetAtt Bucket.Arn, "/*"]]
          - !If
            - IsProd
            - Effect: Deny
              Principal: "*"
              Action: "s3:*"
              Resource: [!GetAtt [Bucket, Arn]]
            - !Ref AWS::NoValue
"#;
        let root = super::super::tree::parse_yaml(text).unwrap();
        assert!(is_template(&root));
        let mut ex = crate::scan::Extracted::default();
        extract(&root, &mut ex);
        let (out, errs) = (ex.policies, ex.errors);
        assert!(errs.is_empty());
        assert_eq!(out.len(), 1);
        let f = &out[0];
        assert_eq!(f.address, "Policy");
        assert_eq!(f.line, 11);
        assert_eq!(f.statement_lines, vec![13, 19]);
        let st = &f.document["Statement"];
        assert_eq!(st[0]["Resource"], "${Bucket.Arn}/*");
        assert_eq!(st[0]["Principal"]["AWS"], "arn:aws:iam::${AWS::AccountId}:root");
        assert_eq!(st[1]["Resource"][0], "${Bucket.Arn}");
        assert_eq!(f.policy_type, Some(PolicyType::Resource));
    }
}
