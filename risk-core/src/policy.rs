//! The policy document model and its strict parser: AWS grammar in, clear JSON-path errors out.

use crate::error::{PolicyError, Problem};
use serde_json::{Map, Value};

/// `Version` of the policy language. Policy variables (`${aws:username}`) only exist in 2012-10-17.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2012,
    V2008,
    Missing,
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// What kind of document this is; decides which rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyType {
    /// Attached to a user, group or role: no `Principal`.
    Identity,
    /// Attached to a resource (bucket, queue, key…): `Principal` and `Resource`.
    Resource,
    /// A role's assume-role policy: `Principal`, `sts:AssumeRole*` and no `Resource`.
    Trust,
}

impl PolicyType {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::Identity => "identity",
            PolicyType::Resource => "resource",
            PolicyType::Trust => "trust",
        }
    }

    /// Parse `identity`, `resource` or `trust`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "identity" => Some(PolicyType::Identity),
            "resource" => Some(PolicyType::Resource),
            "trust" => Some(PolicyType::Trust),
            _ => None,
        }
    }
}

/// `Action` or `NotAction`, each a list of patterns as written.
#[derive(Debug, Clone)]
pub struct ActionSpec<'a> {
    pub not: bool,
    pub patterns: Vec<&'a str>,
}

/// `Resource` or `NotResource`; `None` when neither is present (trust policies).
#[derive(Debug, Clone)]
pub struct ResourceSpec<'a> {
    pub not: bool,
    pub patterns: Vec<&'a str>,
}

/// One principal entry, e.g. `AWS: arn:aws:iam::123456789012:root` or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalEntry<'a> {
    /// `AWS`, `Service`, `Federated`, `CanonicalUser`, or `*` for the bare wildcard form.
    pub kind: &'a str,
    pub value: &'a str,
}

/// `Principal` or `NotPrincipal`.
#[derive(Debug, Clone)]
pub struct PrincipalSpec<'a> {
    pub not: bool,
    pub entries: Vec<PrincipalEntry<'a>>,
}

/// One condition clause: `StringEquals: {"aws:SourceAccount": ["123"]}` gives
/// operator `StringEquals`, key `aws:SourceAccount`, values `["123"]`.
#[derive(Debug, Clone)]
pub struct ConditionClause<'a> {
    pub operator: &'a str,
    pub key: &'a str,
    pub values: Vec<String>,
}

/// A statement, with its position in the document.
#[derive(Debug, Clone)]
pub struct Statement<'a> {
    pub index: usize,
    pub sid: Option<&'a str>,
    pub effect: Effect,
    pub action: ActionSpec<'a>,
    pub resource: Option<ResourceSpec<'a>>,
    pub principal: Option<PrincipalSpec<'a>>,
    pub conditions: Vec<ConditionClause<'a>>,
    /// The raw `Condition` object, kept for evidence in findings.
    pub condition_raw: Option<&'a Value>,
}

impl Statement<'_> {
    pub fn is_conditional(&self) -> bool {
        !self.conditions.is_empty()
    }
}

/// A parsed policy document, borrowing its strings from the JSON value.
#[derive(Debug, Clone)]
pub struct Policy<'a> {
    pub version: Version,
    pub id: Option<&'a str>,
    pub statements: Vec<Statement<'a>>,
    /// `true` when `Statement` was a single object rather than an array.
    pub statement_is_object: bool,
}

impl<'a> Policy<'a> {
    /// Parse and validate a policy document. Collects every problem before failing.
    pub fn parse(doc: &'a Value) -> Result<Self, PolicyError> {
        let mut p = Parser { problems: Vec::new() };
        let policy = p.policy(doc);
        match policy {
            Some(policy) if p.problems.is_empty() => Ok(policy),
            _ => Err(PolicyError::new(if p.problems.is_empty() {
                vec![Problem { path: String::new(), message: "invalid policy".into() }]
            } else {
                p.problems
            })),
        }
    }

    /// The policy type to read this document as: `forced` when given, else detected.
    ///
    /// A document whose statements disagree about `Principal` is valid as no policy type (an
    /// identity policy has none, resource and trust policies need one in every statement).
    /// Guessing would let one harmless statement decide which rules run — one `Deny` with a
    /// `Principal` used to turn an administrator policy into a "resource policy" that no
    /// identity rule looked at — so it is an error unless the caller says which type it is.
    pub fn policy_type(&self, forced: Option<PolicyType>) -> Result<PolicyType, PolicyError> {
        if let Some(t) = forced {
            return Ok(t);
        }
        let (with, without): (Vec<&Statement<'_>>, Vec<&Statement<'_>>) =
            self.statements.iter().partition(|s| s.principal.is_some());
        if !with.is_empty() && !without.is_empty() {
            let names = |v: &[&Statement<'_>]| {
                let shown: Vec<String> = v.iter().take(5).map(|s| format!("Statement[{}]", s.index)).collect();
                let more = if v.len() > 5 { format!(" and {} more", v.len() - 5) } else { String::new() };
                format!("{}{more}", shown.join(", "))
            };
            return Err(PolicyError::at(
                "Statement",
                format!(
                    "mixes statements with a `Principal` ({}) and without one ({}); no policy type allows \
                     that (identity policies have no `Principal`, resource and trust policies need one in \
                     every statement): fix the document, or set the policy type (identity, resource or \
                     trust) to score it as that type",
                    names(&with),
                    names(&without)
                ),
            ));
        }
        if with.is_empty() {
            return Ok(PolicyType::Identity);
        }
        let no_resource = self.statements.iter().all(|s| s.resource.is_none());
        let assume_only = self.statements.iter().all(|s| {
            !s.action.not
                && s.action.patterns.iter().all(|a| {
                    let a = a.to_ascii_lowercase();
                    a.starts_with("sts:")
                })
        });
        Ok(if no_resource || assume_only { PolicyType::Trust } else { PolicyType::Resource })
    }
}

const TOP_KEYS: &str = "`Version`, `Id` and `Statement`";
const STMT_KEYS: &str =
    "`Sid`, `Effect`, `Action`, `NotAction`, `Resource`, `NotResource`, `Principal`, `NotPrincipal` and `Condition`";

struct Parser {
    problems: Vec<Problem>,
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

impl Parser {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem { path: path.into(), message: message.into() });
    }

    fn policy<'a>(&mut self, doc: &'a Value) -> Option<Policy<'a>> {
        let Value::Object(top) = doc else {
            self.err("", format!("a policy must be a JSON object with {TOP_KEYS}, got {}", describe(doc)));
            return None;
        };
        for key in top.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                let hint = match key.as_str() {
                    "PolicyDocument" | "policy" | "Policy" | "document" | "AssumeRolePolicyDocument" => {
                        format!(" (pass the value of `{key}` itself)")
                    }
                    k if k.eq_ignore_ascii_case("statement") || k.eq_ignore_ascii_case("version") => {
                        " (keys are case-sensitive)".to_string()
                    }
                    _ => String::new(),
                };
                self.err(key.clone(), format!("is not a policy element; a policy has only {TOP_KEYS}{hint}"));
            }
        }
        let version = match top.get("Version") {
            None => Version::Missing,
            Some(Value::String(s)) if s == "2012-10-17" => Version::V2012,
            Some(Value::String(s)) if s == "2008-10-17" => Version::V2008,
            Some(other) => {
                self.err("Version", format!("must be \"2012-10-17\" or \"2008-10-17\", got {}", describe(other)));
                Version::Missing
            }
        };
        let id = match top.get("Id") {
            None => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(other) => {
                self.err("Id", format!("must be a string, got {}", describe(other)));
                None
            }
        };
        let mut statements = Vec::new();
        let mut statement_is_object = false;
        match top.get("Statement") {
            None => self.err("Statement", "is missing; a policy needs at least one statement"),
            Some(Value::Object(obj)) => {
                statement_is_object = true;
                if let Some(s) = self.statement(obj, 0, "Statement".to_string()) {
                    statements.push(s);
                }
            }
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("Statement[{i}]");
                    match item {
                        Value::Object(obj) => {
                            if let Some(s) = self.statement(obj, i, path) {
                                statements.push(s);
                            }
                        }
                        other => self.err(path, format!("must be an object, got {}", describe(other))),
                    }
                }
            }
            Some(other) => {
                self.err("Statement", format!("must be an object or an array of objects, got {}", describe(other)))
            }
        }
        Some(Policy { version, id, statements, statement_is_object })
    }

    /// A string or array of strings at `base.field`; the path text is only built on error.
    fn string_list<'a>(&mut self, v: &'a Value, base: &str, field: &str) -> Vec<&'a str> {
        let path = || if field.is_empty() { base.to_string() } else { format!("{base}.{field}") };
        match v {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => {
                if items.is_empty() {
                    self.err(path(), "must not be an empty array");
                }
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.as_str()),
                        other => {
                            self.err(format!("{}[{i}]", path()), format!("must be a string, got {}", describe(other)))
                        }
                    }
                }
                out
            }
            other => {
                self.err(path(), format!("must be a string or an array of strings, got {}", describe(other)));
                Vec::new()
            }
        }
    }

    fn statement<'a>(&mut self, obj: &'a Map<String, Value>, index: usize, path: String) -> Option<Statement<'a>> {
        let before = self.problems.len();
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "Sid"
                    | "Effect"
                    | "Action"
                    | "NotAction"
                    | "Resource"
                    | "NotResource"
                    | "Principal"
                    | "NotPrincipal"
                    | "Condition"
            ) {
                self.err(
                    format!("{path}.{key}"),
                    format!("is not a statement element; a statement has only {STMT_KEYS} (keys are case-sensitive)"),
                );
            }
        }
        let sid = match obj.get("Sid") {
            None => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(other) => {
                self.err(format!("{path}.Sid"), format!("must be a string, got {}", describe(other)));
                None
            }
        };
        let effect = match obj.get("Effect") {
            Some(Value::String(s)) if s == "Allow" => Some(Effect::Allow),
            Some(Value::String(s)) if s == "Deny" => Some(Effect::Deny),
            Some(other) => {
                self.err(format!("{path}.Effect"), format!("must be \"Allow\" or \"Deny\", got {}", describe(other)));
                None
            }
            None => {
                self.err(format!("{path}.Effect"), "is missing; write \"Allow\" or \"Deny\"");
                None
            }
        };
        let action = match (obj.get("Action"), obj.get("NotAction")) {
            (Some(a), None) => Some(ActionSpec { not: false, patterns: self.string_list(a, &path, "Action") }),
            (None, Some(a)) => Some(ActionSpec { not: true, patterns: self.string_list(a, &path, "NotAction") }),
            (Some(_), Some(_)) => {
                self.err(path.clone(), "has both `Action` and `NotAction`; keep one");
                None
            }
            (None, None) => {
                self.err(path.clone(), "needs `Action` or `NotAction`");
                None
            }
        };
        let resource = match (obj.get("Resource"), obj.get("NotResource")) {
            (Some(r), None) => Some(ResourceSpec { not: false, patterns: self.string_list(r, &path, "Resource") }),
            (None, Some(r)) => Some(ResourceSpec { not: true, patterns: self.string_list(r, &path, "NotResource") }),
            (Some(_), Some(_)) => {
                self.err(path.clone(), "has both `Resource` and `NotResource`; keep one");
                None
            }
            (None, None) => None,
        };
        let principal = match (obj.get("Principal"), obj.get("NotPrincipal")) {
            (Some(p), None) => self.principal(p, false, &format!("{path}.Principal")),
            (None, Some(p)) => self.principal(p, true, &format!("{path}.NotPrincipal")),
            (Some(_), Some(_)) => {
                self.err(path.clone(), "has both `Principal` and `NotPrincipal`; keep one");
                None
            }
            (None, None) => None,
        };
        if resource.is_none()
            && principal.is_none()
            && !obj.contains_key("Resource")
            && !obj.contains_key("NotResource")
        {
            self.err(
                path.clone(),
                "needs `Resource` or `NotResource` (only trust policies, which name a `Principal`, may leave it out)",
            );
        }
        let (conditions, condition_raw) = match obj.get("Condition") {
            None => (Vec::new(), None),
            Some(v @ Value::Object(ops)) => (self.conditions(ops, &format!("{path}.Condition")), Some(v)),
            Some(other) => {
                self.err(
                    format!("{path}.Condition"),
                    format!("must be an object of operators, got {}", describe(other)),
                );
                (Vec::new(), None)
            }
        };
        if self.problems.len() > before {
            return None;
        }
        Some(Statement { index, sid, effect: effect?, action: action?, resource, principal, conditions, condition_raw })
    }

    fn principal<'a>(&mut self, v: &'a Value, not: bool, path: &str) -> Option<PrincipalSpec<'a>> {
        match v {
            Value::String(s) if s == "*" => {
                Some(PrincipalSpec { not, entries: vec![PrincipalEntry { kind: "*", value: "*" }] })
            }
            Value::String(s) => {
                self.err(
                    path,
                    format!(
                        "must be \"*\" or an object such as {{\"AWS\": \"arn:aws:iam::123456789012:root\"}}, got {s:?}"
                    ),
                );
                None
            }
            Value::Object(map) => {
                let mut entries = Vec::new();
                for (kind, val) in map {
                    if !matches!(kind.as_str(), "AWS" | "Service" | "Federated" | "CanonicalUser") {
                        self.err(
                            format!("{path}.{kind}"),
                            "is not a principal type; use `AWS`, `Service`, `Federated` or `CanonicalUser`",
                        );
                        continue;
                    }
                    for value in self.string_list(val, &format!("{path}.{kind}"), "") {
                        entries.push(PrincipalEntry { kind: kind.as_str(), value });
                    }
                }
                Some(PrincipalSpec { not, entries })
            }
            other => {
                self.err(path, format!("must be \"*\" or an object, got {}", describe(other)));
                None
            }
        }
    }

    fn conditions<'a>(&mut self, ops: &'a Map<String, Value>, path: &str) -> Vec<ConditionClause<'a>> {
        let mut out = Vec::new();
        for (op, body) in ops {
            let Value::Object(keys) = body else {
                self.err(
                    format!("{path}.{op}"),
                    format!("must be an object of condition keys, got {}", describe(body)),
                );
                continue;
            };
            for (key, vals) in keys {
                let kpath = format!("{path}.{op}.{key}");
                let mut values = Vec::new();
                let mut push = |p: &mut Parser, v: &Value, at: String| match v {
                    Value::String(s) => values.push(s.clone()),
                    Value::Bool(b) => values.push(b.to_string()),
                    Value::Number(n) => values.push(n.to_string()),
                    other => p.err(at, format!("must be a string, number or boolean, got {}", describe(other))),
                };
                match vals {
                    Value::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            push(self, item, format!("{kpath}[{i}]"));
                        }
                    }
                    v => push(self, v, kpath.clone()),
                }
                out.push(ConditionClause { operator: op.as_str(), key: key.as_str(), values });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errs(v: Value) -> Vec<String> {
        Policy::parse(&v).unwrap_err().problems().iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn single_object_statement() {
        let v = json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}});
        let p = Policy::parse(&v).unwrap();
        assert_eq!(p.statements.len(), 1);
        assert!(p.statement_is_object);
        assert_eq!(p.version, Version::Missing);
    }

    #[test]
    fn effect_error_names_path() {
        let v = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            {"Effect": "allow ", "Action": "s3:GetObject", "Resource": "*"}]});
        assert_eq!(errs(v), vec![r#"Statement[2].Effect must be "Allow" or "Deny", got "allow ""#]);
    }

    #[test]
    fn collects_every_problem() {
        let v = json!({"Version": "2012-10-18", "Statement": [{"Effect": "Allow", "Action": [1], "Resource": "*", "Foo": 1}]});
        let e = errs(v);
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].starts_with("Version must be"));
        assert!(e.iter().any(|m| m.starts_with("Statement[0].Action[0] must be a string")));
        assert!(e.iter().any(|m| m.starts_with("Statement[0].Foo is not a statement element")));
    }

    #[test]
    fn wrapper_hint() {
        let e = errs(json!({"PolicyDocument": {}}));
        assert!(e.iter().any(|m| m.contains("pass the value of `PolicyDocument` itself")), "{e:?}");
    }

    #[test]
    fn types() {
        let trust = json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        assert_eq!(Policy::parse(&trust).unwrap().policy_type(None).unwrap(), PolicyType::Trust);
        let res = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]});
        assert_eq!(Policy::parse(&res).unwrap().policy_type(None).unwrap(), PolicyType::Resource);
        let missing = json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]});
        assert!(errs(missing)[0].contains("needs `Resource` or `NotResource`"));
    }

    #[test]
    fn mixed_principal_statements_are_no_policy_type() {
        let v = json!({"Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject", "Resource": "*"}]});
        let p = Policy::parse(&v).unwrap();
        let e = p.policy_type(None).unwrap_err().to_string();
        assert!(e.contains("Statement[1]") && e.contains("Statement[0]") && e.contains("set the policy type"), "{e}");
        assert_eq!(p.policy_type(Some(PolicyType::Identity)).unwrap(), PolicyType::Identity);
    }
}
