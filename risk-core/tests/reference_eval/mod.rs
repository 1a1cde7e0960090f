//! A slow, obviously-correct REFERENCE EVALUATOR of one IAM policy document against one concrete
//! request. It uses nothing from `risk_core`: the differential tests hold the fast engine to it.
//!
//! AWS documentation this follows (quoted where it decides a case):
//! - Policy evaluation logic, "How AWS enforcement code logic evaluates requests":
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html>
//!   "By default, all requests are implicitly denied … An explicit deny overrides an explicit
//!   allow." Within one policy: any matching Deny → explicit deny; else any matching Allow →
//!   allow; else implicit deny.
//! - "The difference between explicit and implicit denies":
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html>
//! - Access management: "IAM authorizes your request only if every part of your request is
//!   allowed by the applicable policies" (multi-resource requests such as ec2:RunInstances):
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/access_resources.html>
//! - Condition operators:
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>
//!   "If the key that you specify in a policy condition is not present in the request context,
//!   the values do not match and the condition is false. If the policy condition requires that
//!   the key is not matched, such as StringNotLike or ArnNotLike, and the right key is not
//!   present, the condition is true. This logic applies to all condition operators except
//!   ...IfExists and Null check." `…IfExists`: "If the policy key is present in the context of
//!   the request, process the key as specified in the policy. If the key is not present,
//!   evaluate the condition element as true." ARN operators: "Each of the six colon-delimited
//!   components of the ARN is checked separately and each can include multi-character match
//!   wildcards (*) or single-character match wildcards (?)".
//! - Multiple keys/values: <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html>
//!   operators and keys are ANDed, values of one key ORed; for negated operators the values are
//!   NORed ("Evaluation logic for negated matching condition operators").
//! - Set operators: <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html>
//!   ForAllValues: "The condition returns true if every context key value in the request
//!   matches at least one context key value in the policy. It also returns true if there are
//!   no context keys in the request." ForAnyValue: "returns true if at least one of the context
//!   key values in the request matches … It returns false if there are no context keys".
//! - Policy variables: <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html>
//!   only with `"Version": "2012-10-17"` (earlier versions read `${…}` as literal text);
//!   "If AWS cannot resolve a variable this might cause the entire statement to be invalid";
//!   a missing key "does not match" a resource containing it; `${*}`, `${?}`, `${$}` are the
//!   literal characters; `${key, 'default'}` supplies a default; multivalued keys cannot be
//!   variables.
//! - Principal: <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html>
//!   `"Principal": "*"` and `{"AWS": "*"}` mean everyone, including anonymous callers in
//!   resource-based policies; an account id and `arn:PARTITION:iam::ACCOUNT:root` both mean
//!   the account (every principal of it); wildcards inside ARNs are not supported.
//!   Identity-based policies may not contain `Principal` (IAM rejects them: "Policy document
//!   should not specify a principal").
//!
//! Where AWS calls a document invalid or the outcome ambiguous ("might be invalid"), the
//! reference picks the reading that ALLOWS MORE: an invalid Deny is ignored, an invalid Allow
//! still applies. The differential property only asserts "reference allows ⇒ engine grants",
//! so this choice can only make the reference stricter with the engine, never produce a
//! false "the engine under-scores" for a document AWS would accept.

#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// In what role the document is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Attached to the calling principal; statements have no `Principal`.
    Identity,
    /// Attached to the resource; statements name who they apply to.
    Resource,
    /// A role's trust policy: the resource is the role itself (no `Resource` element).
    Trust,
}

/// The caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    /// An IAM user/role (or assumed role) ARN and its account.
    Aws {
        arn: String,
        account: String,
    },
    Service(String),
    Federated(String),
}

impl Principal {
    pub fn aws(arn: &str) -> Self {
        let account = arn.split(':').nth(4).unwrap_or("").to_string();
        Principal::Aws { arn: arn.to_string(), account }
    }
}

/// One concrete request.
#[derive(Debug, Clone)]
pub struct Request {
    pub principal: Principal,
    /// `service:ActionName`.
    pub action: String,
    /// Every resource the call touches (one per required resource type), or `["*"]` for
    /// actions without resource-level permissions.
    pub resources: Vec<String>,
    /// Context keys (any case) → values; an absent key is absent, an empty list too.
    pub context: BTreeMap<String, Vec<String>>,
}

impl Request {
    pub fn new(principal: Principal, action: &str, resources: &[&str]) -> Self {
        Request {
            principal,
            action: action.to_string(),
            resources: resources.iter().map(|s| s.to_string()).collect(),
            context: BTreeMap::new(),
        }
    }

    pub fn with(mut self, key: &str, values: &[&str]) -> Self {
        self.context.insert(key.to_string(), values.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Values of a context key (keys are case-insensitive); `None` when absent or empty.
    pub fn get(&self, key: &str) -> Option<&Vec<String>> {
        self.context.iter().find(|(k, v)| k.eq_ignore_ascii_case(key) && !v.is_empty()).map(|(_, v)| v)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// Evaluate `doc` for `req`. A multi-resource request is allowed only when every resource is
/// allowed and none is explicitly denied.
pub fn evaluate(doc: &Value, mode: Mode, req: &Request) -> Decision {
    evaluate_reading(doc, mode, req, Reading::Permissive)
}

/// How to read a `NotResource` whose variable cannot be resolved, which AWS leaves open ("might
/// cause the entire statement to be invalid").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// The statement is invalid: a Deny does not apply, an Allow does (the default).
    Permissive,
    /// The pattern matches nothing, so it excludes nothing: the statement applies.
    Strict,
}

/// [`evaluate`] with an explicit reading of unresolvable `NotResource` variables.
pub fn evaluate_reading(doc: &Value, mode: Mode, req: &Request, reading: Reading) -> Decision {
    let resources: Vec<&str> =
        if req.resources.is_empty() { vec!["*"] } else { req.resources.iter().map(String::as_str).collect() };
    let per: Vec<Decision> = resources.iter().map(|r| evaluate_one(doc, mode, req, r, reading)).collect();
    if per.contains(&Decision::ExplicitDeny) {
        Decision::ExplicitDeny
    } else if per.iter().all(|d| *d == Decision::Allow) {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

pub fn allows(doc: &Value, mode: Mode, req: &Request) -> bool {
    evaluate(doc, mode, req) == Decision::Allow
}

fn statements(doc: &Value) -> Vec<&serde_json::Map<String, Value>> {
    match doc.get("Statement") {
        Some(Value::Object(o)) => vec![o],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

fn evaluate_one(doc: &Value, mode: Mode, req: &Request, resource: &str, reading: Reading) -> Decision {
    let vars = doc.get("Version").and_then(Value::as_str) == Some("2012-10-17");
    let mut allowed = false;
    for st in statements(doc) {
        let deny = match st.get("Effect").and_then(Value::as_str) {
            Some("Allow") => false,
            Some("Deny") => true,
            _ => continue,
        };
        match statement_matches(st, deny, mode, req, resource, vars, reading) {
            Tri::Yes if deny => return Decision::ExplicitDeny,
            Tri::Yes => allowed = true,
            _ => {}
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Statement applicability: `Invalid` statements are ignored (Deny) or applied (Allow) by the
/// caller's choice — see the module note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    Invalid,
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

fn statement_matches(
    st: &serde_json::Map<String, Value>,
    deny: bool,
    mode: Mode,
    req: &Request,
    resource: &str,
    vars: bool,
    reading: Reading,
) -> Tri {
    // "Invalid" resolves to the more permissive reading: an Allow applies, a Deny does not.
    let invalid = if deny { Tri::No } else { Tri::Yes };
    // Action / NotAction: case-insensitive globs.
    let action_ok = match (st.get("Action"), st.get("NotAction")) {
        (Some(a), None) => strings(a).iter().any(|p| action_matches(p, &req.action)),
        (None, Some(a)) => !strings(a).iter().any(|p| action_matches(p, &req.action)),
        _ => return Tri::No,
    };
    if !action_ok {
        return Tri::No;
    }
    // Principal / NotPrincipal.
    let principal = st.get("Principal").map(|p| (false, p)).or_else(|| st.get("NotPrincipal").map(|p| (true, p)));
    match (mode, principal) {
        (Mode::Identity, None) => {}
        // Identity policies cannot carry a Principal: IAM rejects the document.
        (Mode::Identity, Some(_)) => {
            if invalid == Tri::No {
                return Tri::No;
            }
        }
        (Mode::Resource | Mode::Trust, None) => {
            // Resource-based policies must name a principal.
            if invalid == Tri::No {
                return Tri::No;
            }
        }
        (Mode::Resource | Mode::Trust, Some((not, p))) => {
            let m = principal_matches(p, &req.principal);
            if m == not {
                return Tri::No;
            }
        }
    }
    // Resource / NotResource.
    let res = match (st.get("Resource"), st.get("NotResource")) {
        (Some(r), None) => {
            let mut any = false;
            for p in strings(r) {
                if resource_matches(&p, resource, req, vars) == Some(true) {
                    any = true;
                }
            }
            if any {
                Tri::Yes
            } else {
                Tri::No
            }
        }
        (None, Some(r)) => {
            let mut any = false;
            let mut unresolved = false;
            for p in strings(r) {
                match resource_matches(&p, resource, req, vars) {
                    Some(true) => any = true,
                    Some(false) => {}
                    None => unresolved = true,
                }
            }
            if any {
                Tri::No
            } else if unresolved && reading == Reading::Permissive {
                // "might cause the entire statement to be invalid": permissive reading.
                Tri::Invalid
            } else {
                Tri::Yes
            }
        }
        (None, None) => {
            if mode == Mode::Trust {
                Tri::Yes
            } else {
                Tri::Invalid
            }
        }
        _ => return Tri::No,
    };
    let res = match res {
        Tri::Invalid => invalid,
        r => r,
    };
    if res == Tri::No {
        return Tri::No;
    }
    // Condition: every operator and key must hold.
    match st.get("Condition") {
        None => Tri::Yes,
        Some(Value::Object(ops)) => {
            for (op, body) in ops {
                let Value::Object(keys) = body else { return invalid };
                for (key, vals) in keys {
                    match condition_holds(op, key, &strings(vals), req, vars) {
                        Some(true) => {}
                        Some(false) => return Tri::No,
                        None => return invalid,
                    }
                }
            }
            Tri::Yes
        }
        Some(_) => invalid,
    }
}

// ---------------------------------------------------------------------------------------------
// Globs.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    Lit(char),
    Star,
    One,
}

/// Plain tokenisation: `*` and `?` are wildcards, everything else literal.
pub fn tokens(p: &str) -> Vec<Tok> {
    p.chars()
        .map(|c| match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Lit(c),
        })
        .collect()
}

/// Backtracking glob over characters (`*` any run, including `:` and `/`; `?` one character).
pub fn glob_tokens(p: &[Tok], t: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some((Tok::Star, rest)) => {
            let rest_start = rest.iter().take_while(|x| **x == Tok::Star).count();
            let rest = &rest[rest_start..];
            (0..=t.len()).any(|k| glob_tokens(rest, &t[k..]))
        }
        Some((Tok::One, rest)) => !t.is_empty() && glob_tokens(rest, &t[1..]),
        Some((Tok::Lit(c), rest)) => t.first() == Some(c) && glob_tokens(rest, &t[1..]),
    }
}

pub fn glob(p: &str, t: &str) -> bool {
    let t: Vec<char> = t.chars().collect();
    glob_tokens(&tokens(p), &t)
}

fn action_matches(pattern: &str, action: &str) -> bool {
    glob(&pattern.to_lowercase(), &action.to_lowercase())
}

/// Tokenise a pattern, substituting policy variables from the request context when `vars`.
/// `None` when a variable cannot be resolved (missing or multivalued key, no default).
pub fn substitute(p: &str, req: &Request, vars: bool) -> Option<Vec<Tok>> {
    if !vars {
        return Some(tokens(p));
    }
    let mut out = Vec::new();
    let mut rest = p;
    while let Some(start) = rest.find("${") {
        out.extend(tokens(&rest[..start]));
        let Some(end) = rest[start..].find('}') else {
            // Unterminated `${`: literal text.
            rest = &rest[start..];
            break;
        };
        let inner = &rest[start + 2..start + end];
        rest = &rest[start + end + 1..];
        match inner {
            "*" => out.push(Tok::Lit('*')),
            "?" => out.push(Tok::Lit('?')),
            "$" => out.push(Tok::Lit('$')),
            _ => {
                let (key, default) = match inner.split_once(',') {
                    Some((k, d)) => {
                        let d = d.trim();
                        (k.trim(), d.strip_prefix('\'').and_then(|d| d.strip_suffix('\'')))
                    }
                    None => (inner.trim(), None),
                };
                let value = match req.get(key) {
                    Some(v) if v.len() == 1 => Some(v[0].as_str()),
                    _ => default,
                };
                // A substituted value is literal text, its `*` included.
                out.extend(value?.chars().map(Tok::Lit));
            }
        }
    }
    out.extend(tokens(rest));
    Some(out)
}

/// `Some(matches)`, or `None` when the pattern has an unresolvable variable (it then matches
/// nothing).
fn resource_matches(pattern: &str, resource: &str, req: &Request, vars: bool) -> Option<bool> {
    let toks = substitute(pattern, req, vars)?;
    let t: Vec<char> = resource.chars().collect();
    Some(glob_tokens(&toks, &t))
}

// ---------------------------------------------------------------------------------------------
// Principals.

fn principal_matches(p: &Value, who: &Principal) -> bool {
    match p {
        Value::String(s) => s == "*",
        Value::Object(map) => map.iter().any(|(kind, vals)| {
            strings(vals).iter().any(|v| match kind.as_str() {
                "AWS" => aws_principal_matches(v, who),
                "Service" => matches!(who, Principal::Service(s) if s == v) || v == "*",
                "Federated" => matches!(who, Principal::Federated(f) if f == v) || v == "*",
                _ => false,
            })
        }),
        _ => false,
    }
}

fn aws_principal_matches(v: &str, who: &Principal) -> bool {
    if v == "*" {
        // {"AWS": "*"} is the same as "*": everyone, anonymous callers included.
        return true;
    }
    let Principal::Aws { arn, account } = who else { return false };
    if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) {
        return v == account;
    }
    let parts: Vec<&str> = v.splitn(6, ':').collect();
    if parts.len() == 6 && parts[0] == "arn" && parts[2] == "iam" && parts[5] == "root" {
        let same_partition = arn.split(':').nth(1) == Some(parts[1]);
        return parts[4] == account && same_partition;
    }
    v == arn
}

// ---------------------------------------------------------------------------------------------
// Conditions.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    ArnEquals,
    ArnLike,
}

/// (positive base operator, negated?)
fn parse_base(op: &str) -> Option<(Base, bool)> {
    use Base::*;
    Some(match op {
        "StringEquals" => (StringEquals, false),
        "StringNotEquals" => (StringEquals, true),
        "StringEqualsIgnoreCase" => (StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (StringEqualsIgnoreCase, true),
        "StringLike" => (StringLike, false),
        "StringNotLike" => (StringLike, true),
        "NumericEquals" => (NumericEquals, false),
        "NumericNotEquals" => (NumericEquals, true),
        "NumericLessThan" => (NumericLessThan, false),
        "NumericLessThanEquals" => (NumericLessThanEquals, false),
        "NumericGreaterThan" => (NumericGreaterThan, false),
        "NumericGreaterThanEquals" => (NumericGreaterThanEquals, false),
        "DateEquals" => (DateEquals, false),
        "DateNotEquals" => (DateEquals, true),
        "DateLessThan" => (DateLessThan, false),
        "DateLessThanEquals" => (DateLessThanEquals, false),
        "DateGreaterThan" => (DateGreaterThan, false),
        "DateGreaterThanEquals" => (DateGreaterThanEquals, false),
        "Bool" => (Bool, false),
        "BinaryEquals" => (BinaryEquals, false),
        "IpAddress" => (IpAddress, false),
        "NotIpAddress" => (IpAddress, true),
        "ArnEquals" => (ArnEquals, false),
        "ArnNotEquals" => (ArnEquals, true),
        "ArnLike" => (ArnLike, false),
        "ArnNotLike" => (ArnLike, true),
        _ => return None,
    })
}

/// Evaluate one (operator, key, policy values) triple. `None` = unknown operator (the document
/// is invalid; the caller takes the permissive reading).
pub fn condition_holds(op: &str, key: &str, policy_values: &[String], req: &Request, vars: bool) -> Option<bool> {
    let present = req.get(key);
    if op == "Null" {
        // "true": the key must be absent; "false": present. Several values are ORed.
        return Some(policy_values.iter().any(|v| match v.to_ascii_lowercase().as_str() {
            "true" => present.is_none(),
            "false" => present.is_some(),
            _ => false,
        }));
    }
    let (set, rest) = if let Some(r) = op.strip_prefix("ForAllValues:") {
        (Some(true), r)
    } else if let Some(r) = op.strip_prefix("ForAnyValue:") {
        (Some(false), r)
    } else {
        (None, op)
    };
    let (if_exists, base_name) = match rest.strip_suffix("IfExists") {
        Some(b) => (true, b),
        None => (false, rest),
    };
    let (base, negated) = parse_base(base_name)?;
    // One request value against the policy values, positive sense (values ORed).
    let positive = |v: &str| policy_values.iter().any(|pv| base_matches(base, v, pv, req, vars));
    let Some(values) = present else {
        // Absent key.
        return Some(match set {
            _ if if_exists => true,
            Some(true) => true,   // ForAllValues: true when the key is absent.
            Some(false) => false, // ForAnyValue: false when the key is absent.
            None => negated,      // negated operators are true on a missing key.
        });
    };
    Some(match set {
        Some(true) => values.iter().all(|v| positive(v) != negated),
        Some(false) => values.iter().any(|v| positive(v) != negated),
        None => {
            let any = values.iter().any(|v| positive(v));
            any != negated
        }
    })
}

fn base_matches(base: Base, v: &str, pv: &str, req: &Request, vars: bool) -> bool {
    use Base::*;
    match base {
        StringEquals | StringEqualsIgnoreCase | StringLike => {
            let Some(toks) = substitute(pv, req, vars) else { return false };
            match base {
                StringLike => glob_tokens(&toks, &v.chars().collect::<Vec<_>>()),
                _ => {
                    // Wildcards are literal text for the Equals operators.
                    let lit: String = toks
                        .iter()
                        .map(|t| match t {
                            Tok::Lit(c) => *c,
                            Tok::Star => '*',
                            Tok::One => '?',
                        })
                        .collect();
                    if base == StringEqualsIgnoreCase {
                        lit.to_lowercase() == v.to_lowercase()
                    } else {
                        lit == v
                    }
                }
            }
        }
        NumericEquals | NumericLessThan | NumericLessThanEquals | NumericGreaterThan | NumericGreaterThanEquals => {
            let (Ok(a), Ok(b)) = (v.trim().parse::<f64>(), pv.trim().parse::<f64>()) else { return false };
            cmp(base, a.partial_cmp(&b))
        }
        DateEquals | DateLessThan | DateLessThanEquals | DateGreaterThan | DateGreaterThanEquals => {
            let (Some(a), Some(b)) = (parse_date(v), parse_date(pv)) else { return false };
            cmp(base, Some(a.cmp(&b)))
        }
        Bool => v.eq_ignore_ascii_case(pv),
        BinaryEquals => v == pv,
        IpAddress => ip_in_cidr(v, pv),
        ArnEquals | ArnLike => {
            let Some(toks) = substitute(pv, req, vars) else { return false };
            let pat: String = toks
                .iter()
                .map(|t| match t {
                    Tok::Lit(c) => *c,
                    Tok::Star => '*',
                    Tok::One => '?',
                })
                .collect();
            let a: Vec<&str> = v.splitn(6, ':').collect();
            let p: Vec<&str> = pat.splitn(6, ':').collect();
            a.len() == 6 && p.len() == 6 && a.iter().zip(&p).all(|(x, y)| glob(y, x))
        }
    }
}

fn cmp(base: Base, o: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    use Base::*;
    let Some(o) = o else { return false };
    match base {
        NumericEquals | DateEquals => o == Equal,
        NumericLessThan | DateLessThan => o == Less,
        NumericLessThanEquals | DateLessThanEquals => o != Greater,
        NumericGreaterThan | DateGreaterThan => o == Greater,
        NumericGreaterThanEquals | DateGreaterThanEquals => o != Less,
        _ => false,
    }
}

/// ISO 8601 (`2020-01-01`, `2020-01-01T00:00:00Z`, fractional seconds) or epoch seconds.
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let y: i64 = dp.next()?.parse().ok()?;
    let m: i64 = dp.next()?.parse().ok()?;
    let d: i64 = dp.next()?.parse().ok()?;
    if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = 0;
    if let Some(t) = time {
        let t = t.strip_suffix('Z').unwrap_or(t);
        let t = t.split('.').next()?;
        let mut tp = t.split(':');
        let h: i64 = tp.next()?.parse().ok()?;
        let mi: i64 = tp.next().unwrap_or("0").parse().ok()?;
        let se: i64 = tp.next().unwrap_or("0").parse().ok()?;
        secs = h * 3600 + mi * 60 + se;
    }
    // Days from civil (Howard Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = if y2 >= 0 { y2 } else { y2 - 399 } / 400;
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + secs)
}

/// Is `ip` inside `cidr` (`a.b.c.d/n`, IPv6 too; no `/n` = a single address)?
pub fn ip_in_cidr(ip: &str, cidr: &str) -> bool {
    let (net, len) = match cidr.split_once('/') {
        Some((n, l)) => (n, l.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let (Ok(ip), Ok(net)) = (ip.trim().parse::<IpAddr>(), net.trim().parse::<IpAddr>()) else { return false };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let len = len.unwrap_or(32);
            if len > 32 {
                return false;
            }
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            (u32::from(a) & mask) == (u32::from(b) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let len = len.unwrap_or(128);
            if len > 128 {
                return false;
            }
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            (u128::from(a) & mask) == (u128::from(b) & mask)
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Table-driven tests (the unit tests below and the differential tests' adversarial tables).

/// Runs `check` on every row of a test table, then fails once, naming EVERY failing row (a
/// check that panics counts as failing), so one run shows all regressions, not just the first.
pub fn check_table<T>(
    table: &str,
    rows: &[T],
    label: impl Fn(&T) -> (&str, &str),
    check: impl Fn(&T) -> Result<(), String>,
) {
    let mut failed = Vec::new();
    for row in rows {
        let (name, why) = label(row);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(row))).unwrap_or_else(|p| {
            let msg = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned());
            Err(format!("panicked: {}", msg.unwrap_or_default()))
        });
        if let Err(e) = outcome {
            failed.push(format!("- {name}: {e}\n  why: {why}"));
        }
    }
    assert!(failed.is_empty(), "{} of {} {table} cases failed:\n{}", failed.len(), rows.len(), failed.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Unit tests of the reference itself, against documented AWS examples.

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

    fn user() -> Principal {
        Principal::aws(ALICE)
    }

    fn allow(stmt: Value) -> Value {
        let mut s = stmt;
        s["Effect"] = json!("Allow");
        json!({"Version": "2012-10-17", "Statement": [s]})
    }

    fn cond(op: &str, key: &str, vals: Value) -> Value {
        allow(json!({"Action": "s3:GetObject", "Resource": "*", "Condition": {op: {key: vals}}}))
    }

    fn req() -> Request {
        Request::new(user(), "s3:GetObject", &["arn:aws:s3:::bucket/key"])
    }

    /// One documented behaviour: a policy document read in `mode`, and the decision the
    /// reference must reach for each request probed against it.
    struct Case {
        name: &'static str,
        /// The AWS semantics the probes pin down.
        why: &'static str,
        mode: Mode,
        policy: Value,
        probes: Vec<(Request, Decision)>,
    }

    fn check(c: &Case) -> Result<(), String> {
        let wrong: Vec<String> = c
            .probes
            .iter()
            .enumerate()
            .filter_map(|(i, (r, want))| {
                let got = evaluate(&c.policy, c.mode, r);
                (got != *want).then(|| {
                    format!(
                        "probe {i} ({} on {:?}, context {:?}): {got:?}, want {want:?}",
                        r.action, r.resources, r.context
                    )
                })
            })
            .collect();
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(wrong.join("; "))
        }
    }

    fn check_cases(table: &str, cases: &[Case]) {
        check_table(table, cases, |c| (c.name, c.why), check);
    }

    #[test]
    fn statement_elements() {
        let cases = [
            Case {
                name: "implicit_deny_by_default",
                why: "All requests are implicitly denied unless a statement allows them.",
                mode: Mode::Identity,
                policy: allow(json!({"Action": "s3:PutObject", "Resource": "*"})),
                probes: vec![(req(), Decision::ImplicitDeny)],
            },
            Case {
                name: "explicit_deny_overrides_allow",
                why: "An explicit deny overrides an explicit allow.",
                mode: Mode::Identity,
                policy: json!({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                    {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}]}),
                probes: vec![(req(), Decision::ExplicitDeny)],
            },
            Case {
                name: "not_action_allows_everything_else",
                why: "NotAction allows every action but the listed ones.",
                mode: Mode::Identity,
                policy: allow(json!({"NotAction": "iam:*", "Resource": "*"})),
                probes: vec![
                    (req(), Decision::Allow),
                    (
                        Request::new(user(), "iam:PassRole", &["arn:aws:iam::111122223333:role/x"]),
                        Decision::ImplicitDeny,
                    ),
                ],
            },
            Case {
                name: "resource_star_crosses_separators",
                why: "In Resource, `*` matches any characters, `/` included.",
                mode: Mode::Identity,
                policy: allow(json!({"Action": "s3:GetObject", "Resource": "arn:aws:s3:::b*"})),
                probes: vec![(req(), Decision::Allow)],
            },
            Case {
                name: "resource_is_case_sensitive",
                why: "Resource ARNs are matched case-sensitively: BUCKET is not bucket.",
                mode: Mode::Identity,
                policy: allow(json!({"Action": "s3:GetObject", "Resource": "arn:aws:s3:::BUCKET/*"})),
                probes: vec![(req(), Decision::ImplicitDeny)],
            },
            Case {
                name: "not_resource_excludes_only_listed",
                why: "NotResource applies to every resource but the listed ones.",
                mode: Mode::Identity,
                policy: allow(json!({"Action": "s3:GetObject", "NotResource": "arn:aws:s3:::other/*"})),
                probes: vec![
                    (req(), Decision::Allow),
                    (Request::new(user(), "s3:GetObject", &["arn:aws:s3:::other/k"]), Decision::ImplicitDeny),
                ],
            },
            Case {
                name: "resourceless_actions_use_star/star",
                why: "An action without resource-level permissions is requested on `*`: Resource `*` covers it.",
                mode: Mode::Identity,
                policy: allow(json!({"Action": "s3:*", "Resource": "*"})),
                probes: vec![(Request::new(user(), "s3:ListAllMyBuckets", &["*"]), Decision::Allow)],
            },
            Case {
                name: "resourceless_actions_use_star/arn",
                why: "An action without resource-level permissions is requested on `*`: an ARN pattern does not \
                      cover it.",
                mode: Mode::Identity,
                policy: allow(json!({"Action": "s3:*", "Resource": "arn:aws:s3:::*"})),
                probes: vec![(Request::new(user(), "s3:ListAllMyBuckets", &["*"]), Decision::ImplicitDeny)],
            },
            Case {
                name: "multi_resource_request_needs_every_resource",
                why: "IAM authorizes a request only if every part of it is allowed: a subnet the statement does \
                      not cover denies the whole ec2:RunInstances call.",
                mode: Mode::Identity,
                policy: json!({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": ["arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:*::image/*"]}]}),
                probes: vec![
                    (
                        Request::new(
                            user(),
                            "ec2:RunInstances",
                            &["arn:aws:ec2:us-east-1:1:instance/i-1", "arn:aws:ec2:us-east-1::image/ami-1"],
                        ),
                        Decision::Allow,
                    ),
                    (
                        Request::new(
                            user(),
                            "ec2:RunInstances",
                            &["arn:aws:ec2:us-east-1:1:instance/i-1", "arn:aws:ec2:us-east-1:1:subnet/s-1"],
                        ),
                        Decision::ImplicitDeny,
                    ),
                ],
            },
            Case {
                name: "deny_on_optional_resource_only_hits_requests_with_it",
                why: "A Deny on an optional resource type (placement group) denies only the calls that touch one.",
                mode: Mode::Identity,
                policy: json!({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"},
                    {"Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "arn:aws:ec2:*:*:placement-group/*"}]}),
                probes: vec![
                    (
                        Request::new(user(), "ec2:RunInstances", &["arn:aws:ec2:us-east-1:1:instance/i-1"]),
                        Decision::Allow,
                    ),
                    (
                        Request::new(
                            user(),
                            "ec2:RunInstances",
                            &["arn:aws:ec2:us-east-1:1:instance/i-1", "arn:aws:ec2:us-east-1:1:placement-group/pg"],
                        ),
                        Decision::ExplicitDeny,
                    ),
                ],
            },
            Case {
                name: "identity_mode_ignores_deny_with_principal",
                why: "Such a document is rejected as an identity policy; its Deny cannot be relied on.",
                mode: Mode::Identity,
                policy: json!({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "*", "Resource": "*"},
                    {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}]}),
                probes: vec![(req(), Decision::Allow)],
            },
        ];
        check_cases("statement-element", &cases);
    }

    #[test]
    fn policy_variables() {
        let cases = [
            Case {
                name: "username_variable_documented_example",
                why: "reference_policies_variables.html: arn:aws:s3:::amzn-s3-demo-bucket/${aws:username}/*. \
                      The variable is the caller's name; a missing key does not match.",
                mode: Mode::Identity,
                policy: allow(json!({"Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/${aws:username}/*"})),
                probes: vec![
                    (
                        Request::new(user(), "s3:GetObject", &["arn:aws:s3:::bucket/alice/x"])
                            .with("aws:username", &["alice"]),
                        Decision::Allow,
                    ),
                    (
                        Request::new(user(), "s3:GetObject", &["arn:aws:s3:::bucket/bob/x"])
                            .with("aws:username", &["alice"]),
                        Decision::ImplicitDeny,
                    ),
                    (Request::new(user(), "s3:GetObject", &["arn:aws:s3:::bucket/alice/x"]), Decision::ImplicitDeny),
                ],
            },
            Case {
                name: "variables_are_literal_before_2012",
                why: "Variables need \"Version\": \"2012-10-17\"; earlier versions read `${…}` as literal text.",
                mode: Mode::Identity,
                policy: json!({"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::bucket/${aws:username}/*"}]}),
                probes: vec![
                    (
                        Request::new(user(), "s3:GetObject", &["arn:aws:s3:::bucket/alice/x"])
                            .with("aws:username", &["alice"]),
                        Decision::ImplicitDeny,
                    ),
                    (Request::new(user(), "s3:GetObject", &["arn:aws:s3:::bucket/${aws:username}/x"]), Decision::Allow),
                ],
            },
            Case {
                name: "not_resource_with_unresolvable_variable_is_permissive",
                why: "No aws:username (a role session): the Deny may be invalid; the reference allows. With the \
                      key, the Deny applies to other buckets.",
                mode: Mode::Identity,
                policy: json!({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                    {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::${aws:username}/*"}]}),
                probes: vec![
                    (req(), Decision::Allow),
                    (req().with("aws:username", &["alice"]), Decision::ExplicitDeny),
                ],
            },
        ];
        check_cases("policy-variable", &cases);
    }

    #[test]
    fn condition_operators() {
        let cases = [
            Case {
                name: "string_equals_missing_key_is_false",
                why: "A key absent from the request context does not match: the condition is false.",
                mode: Mode::Identity,
                policy: cond("StringEquals", "aws:PrincipalOrgID", json!("o-1")),
                probes: vec![(req(), Decision::ImplicitDeny)],
            },
            Case {
                name: "string_not_equals_missing_key_is_true",
                why: "A negated operator (StringNotEquals) on an absent key is true.",
                mode: Mode::Identity,
                policy: cond("StringNotEquals", "aws:PrincipalOrgID", json!("o-1")),
                probes: vec![(req(), Decision::Allow)],
            },
            Case {
                name: "string_not_like_missing_key_is_true",
                why: "A negated operator (StringNotLike) on an absent key is true.",
                mode: Mode::Identity,
                policy: cond("StringNotLike", "aws:PrincipalOrgID", json!("o-*")),
                probes: vec![(req(), Decision::Allow)],
            },
            Case {
                name: "values_are_ored",
                why: "The values of one key are ORed.",
                mode: Mode::Identity,
                policy: cond("StringEquals", "aws:PrincipalTag/team", json!(["a", "b"])),
                probes: vec![(req().with("aws:PrincipalTag/team", &["b"]), Decision::Allow)],
            },
            Case {
                name: "negated_values_are_nored",
                why: "For negated operators the values are NORed.",
                mode: Mode::Identity,
                policy: cond("StringNotEquals", "aws:PrincipalTag/team", json!(["a", "b"])),
                probes: vec![
                    (req().with("aws:PrincipalTag/team", &["b"]), Decision::ImplicitDeny),
                    (req().with("aws:PrincipalTag/team", &["c"]), Decision::Allow),
                ],
            },
            Case {
                name: "keys_and_operators_are_anded",
                why: "Operators and keys are ANDed: one false key (aws:SecureTransport) fails the statement.",
                mode: Mode::Identity,
                policy: allow(json!({"Action": "s3:GetObject", "Resource": "*", "Condition": {
                    "StringEquals": {"aws:PrincipalTag/team": "a", "aws:RequestedRegion": "eu-west-1"},
                    "Bool": {"aws:SecureTransport": "true"}}})),
                probes: vec![
                    (
                        req()
                            .with("aws:PrincipalTag/team", &["a"])
                            .with("aws:RequestedRegion", &["eu-west-1"])
                            .with("aws:SecureTransport", &["true"]),
                        Decision::Allow,
                    ),
                    (
                        req()
                            .with("aws:PrincipalTag/team", &["a"])
                            .with("aws:RequestedRegion", &["eu-west-1"])
                            .with("aws:SecureTransport", &["false"]),
                        Decision::ImplicitDeny,
                    ),
                ],
            },
            Case {
                name: "key_names_case_insensitive_values_case_sensitive",
                why: "Condition key names are case-insensitive; StringEquals values are case-sensitive.",
                mode: Mode::Identity,
                policy: cond("StringEquals", "AWS:PrincipalTag/Team", json!("Alpha")),
                probes: vec![
                    (req().with("aws:principaltag/team", &["Alpha"]), Decision::Allow),
                    (req().with("aws:principaltag/team", &["alpha"]), Decision::ImplicitDeny),
                ],
            },
            Case {
                name: "string_equals_ignore_case",
                why: "StringEqualsIgnoreCase compares values case-insensitively.",
                mode: Mode::Identity,
                policy: cond("StringEqualsIgnoreCase", "aws:PrincipalTag/team", json!("Alpha")),
                probes: vec![(req().with("aws:PrincipalTag/team", &["ALPHA"]), Decision::Allow)],
            },
            Case {
                name: "string_like_globs",
                why: "StringLike treats `*` as a wildcard.",
                mode: Mode::Identity,
                policy: cond("StringLike", "s3:prefix", json!("home/*")),
                probes: vec![(req().with("s3:prefix", &["home/alice/x"]), Decision::Allow)],
            },
            Case {
                name: "string_equals_does_not_glob",
                why: "StringEquals treats `*` as a literal character.",
                mode: Mode::Identity,
                policy: cond("StringEquals", "s3:prefix", json!("home/*")),
                probes: vec![
                    (req().with("s3:prefix", &["home/alice"]), Decision::ImplicitDeny),
                    (req().with("s3:prefix", &["home/*"]), Decision::Allow),
                ],
            },
            Case {
                name: "if_exists_true_when_absent",
                why: "Documented example: StringLikeIfExists ec2:InstanceType. An absent key makes ...IfExists \
                      true; a present one is processed as specified.",
                mode: Mode::Identity,
                policy: cond("StringLikeIfExists", "ec2:InstanceType", json!(["t1.*", "t2.*", "m3.*"])),
                probes: vec![
                    (req(), Decision::Allow),
                    (req().with("ec2:InstanceType", &["t2.micro"]), Decision::Allow),
                    (req().with("ec2:InstanceType", &["p4d.24xlarge"]), Decision::ImplicitDeny),
                ],
            },
            Case {
                name: "null_true",
                why: "Documented: {\"Null\": {\"aws:TokenIssueTime\": \"true\"}} = not using temporary credentials.",
                mode: Mode::Identity,
                policy: cond("Null", "aws:TokenIssueTime", json!("true")),
                probes: vec![
                    (req(), Decision::Allow),
                    (req().with("aws:TokenIssueTime", &["2020-01-01T00:00:00Z"]), Decision::ImplicitDeny),
                ],
            },
            Case {
                name: "null_false",
                why: "{\"Null\": {key: \"false\"}} requires the key to be present.",
                mode: Mode::Identity,
                policy: cond("Null", "aws:TokenIssueTime", json!("false")),
                probes: vec![(req(), Decision::ImplicitDeny)],
            },
            Case {
                name: "for_all_values_true_when_absent",
                why: "ForAllValues is true when every request value matches a policy value, and when the key is \
                      absent.",
                mode: Mode::Identity,
                policy: cond("ForAllValues:StringEquals", "aws:TagKeys", json!(["env", "team"])),
                probes: vec![
                    (req(), Decision::Allow),
                    (req().with("aws:TagKeys", &["env"]), Decision::Allow),
                    (req().with("aws:TagKeys", &["env", "secret"]), Decision::ImplicitDeny),
                ],
            },
            Case {
                name: "for_any_value_false_when_absent",
                why: "ForAnyValue is true when one request value matches, false when the key is absent.",
                mode: Mode::Identity,
                policy: cond("ForAnyValue:StringEquals", "aws:TagKeys", json!(["env"])),
                probes: vec![
                    (req(), Decision::ImplicitDeny),
                    (req().with("aws:TagKeys", &["x", "env"]), Decision::Allow),
                ],
            },
            Case {
                name: "for_all_values_string_not_like_documented_deny",
                why: "reference_policies_condition_examples-multi-valued-context-keys: Deny iam:Tag* with \
                      ForAllValues:StringNotLike aws:TagKeys key1*: key2:audit matches (denied), absent matches.",
                mode: Mode::Identity,
                policy: json!({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
                    {"Effect": "Deny", "Action": ["iam:Tag*"], "Resource": "*",
                     "Condition": {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}}]}),
                probes: vec![
                    (tag_role(&["key1:legal"]), Decision::Allow),
                    (tag_role(&["key1:hr", "key1:personnel"]), Decision::Allow),
                    (tag_role(&["key2:audit"]), Decision::ExplicitDeny),
                    (tag_role(&[]), Decision::ExplicitDeny),
                ],
            },
            Case {
                name: "numeric_less_than",
                why: "Numeric operators compare numbers; an absent key is false.",
                mode: Mode::Identity,
                policy: cond("NumericLessThan", "aws:MultiFactorAuthAge", json!("3600")),
                probes: vec![
                    (req().with("aws:MultiFactorAuthAge", &["100"]), Decision::Allow),
                    (req().with("aws:MultiFactorAuthAge", &["7200"]), Decision::ImplicitDeny),
                    (req(), Decision::ImplicitDeny),
                ],
            },
            Case {
                name: "date_greater_than",
                why: "Date operators compare dates.",
                mode: Mode::Identity,
                policy: cond("DateGreaterThan", "aws:CurrentTime", json!("2020-04-01T00:00:00Z")),
                probes: vec![
                    (req().with("aws:CurrentTime", &["2020-06-30T00:00:00Z"]), Decision::Allow),
                    (req().with("aws:CurrentTime", &["2019-06-30T00:00:00Z"]), Decision::ImplicitDeny),
                ],
            },
            Case {
                name: "bool",
                why: "Bool compares true/false case-insensitively.",
                mode: Mode::Identity,
                policy: cond("Bool", "aws:SecureTransport", json!("true")),
                probes: vec![
                    (req().with("aws:SecureTransport", &["TRUE"]), Decision::Allow),
                    (req().with("aws:SecureTransport", &["false"]), Decision::ImplicitDeny),
                ],
            },
            Case {
                name: "binary_equals",
                why: "BinaryEquals compares base-64 values.",
                mode: Mode::Identity,
                policy: cond("BinaryEquals", "key", json!("QmluYXJ5VmFsdWU=")),
                probes: vec![(req().with("key", &["QmluYXJ5VmFsdWU="]), Decision::Allow)],
            },
            Case {
                name: "ip_address_cidr",
                why: "Documented: IpAddress aws:SourceIp 203.0.113.0/24.",
                mode: Mode::Identity,
                policy: cond("IpAddress", "aws:SourceIp", json!("203.0.113.0/24")),
                probes: vec![
                    (req().with("aws:SourceIp", &["203.0.113.7"]), Decision::Allow),
                    (req().with("aws:SourceIp", &["198.51.100.7"]), Decision::ImplicitDeny),
                ],
            },
            Case {
                name: "not_ip_address_cidr",
                why: "NotIpAddress: outside the range is allowed; a negated operator on a missing key is true.",
                mode: Mode::Identity,
                policy: cond("NotIpAddress", "aws:SourceIp", json!("203.0.113.0/24")),
                probes: vec![
                    (req().with("aws:SourceIp", &["198.51.100.7"]), Decision::Allow),
                    (req(), Decision::Allow),
                ],
            },
            Case {
                name: "arn_like_componentwise",
                why: "ARN operators check each of the six colon-delimited components separately, with `*`/`?` \
                      wildcards: the account component must match.",
                mode: Mode::Identity,
                policy: cond("ArnLike", "aws:SourceArn", json!("arn:aws:sns:*:123456789012:topic*")),
                probes: vec![
                    (req().with("aws:SourceArn", &["arn:aws:sns:us-east-1:123456789012:topic-a"]), Decision::Allow),
                    (
                        req().with("aws:SourceArn", &["arn:aws:sns:us-east-1:999999999999:topic-a"]),
                        Decision::ImplicitDeny,
                    ),
                ],
            },
            Case {
                name: "arn_like_star_stays_in_its_component",
                why: "`*` does not cross a component boundary in ARN operators.",
                mode: Mode::Identity,
                policy: cond("ArnLike", "aws:SourceArn", json!("arn:aws:s3:::*")),
                probes: vec![(req().with("aws:SourceArn", &["arn:aws:sns:us-east-1:1:t"]), Decision::ImplicitDeny)],
            },
            Case {
                name: "arn_not_equals_missing_key",
                why: "A negated ARN operator on a missing key is true.",
                mode: Mode::Identity,
                policy: cond("ArnNotEquals", "aws:SourceArn", json!("arn:aws:s3:::b")),
                probes: vec![(req(), Decision::Allow)],
            },
        ];
        check_cases("condition-operator", &cases);
    }

    /// iam:TagRole on a role, carrying `tags` as aws:TagKeys (absent when empty).
    fn tag_role(tags: &[&str]) -> Request {
        let mut r = Request::new(user(), "iam:TagRole", &["arn:aws:iam::111122223333:role/r"]);
        if !tags.is_empty() {
            r = r.with("aws:TagKeys", tags);
        }
        r
    }

    #[test]
    fn principals_in_resource_and_trust_policies() {
        let mine = || {
            Request::new(Principal::aws("arn:aws:iam::123456789012:role/r"), "s3:GetObject", &["arn:aws:s3:::bucket/k"])
        };
        let anon = || Request::new(Principal::Anonymous, "s3:GetObject", &["arn:aws:s3:::bucket/k"]);
        let cases = [
            Case {
                name: "resource_policy_principal",
                why: "An account id as Principal means every principal of that account, not anonymous callers.",
                mode: Mode::Resource,
                policy: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"},
                    "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}]}),
                probes: vec![(mine(), Decision::Allow), (anon(), Decision::ImplicitDeny)],
            },
            Case {
                name: "resource_policy_not_principal",
                why: "NotPrincipal applies to everyone but the listed principals (anonymous callers included).",
                mode: Mode::Resource,
                policy: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": "123456789012"},
                    "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}]}),
                probes: vec![(anon(), Decision::Allow), (mine(), Decision::ImplicitDeny)],
            },
            Case {
                name: "trust_policy_without_resource",
                why: "A trust policy has no Resource element: the resource is the role itself.",
                mode: Mode::Trust,
                policy: json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole"}]}),
                probes: vec![(
                    Request::new(
                        Principal::Service("ec2.amazonaws.com".into()),
                        "sts:AssumeRole",
                        &["arn:aws:iam::1:role/x"],
                    ),
                    Decision::Allow,
                )],
            },
        ];
        check_cases("principal", &cases);
    }

    // Helpers of the reference, checked directly.

    #[test]
    fn action_is_case_insensitive_glob() {
        assert!(action_matches("S3:get*", "s3:GetObject"));
        assert!(action_matches("s3:Get?bject", "s3:GetObject"));
        assert!(!action_matches("s3:Get", "s3:GetObject"));
        assert!(action_matches("*", "iam:PassRole"));
    }

    #[test]
    fn resource_glob_star_crosses_separators() {
        assert!(glob("arn:*:iam::*", "arn:aws:iam::1:role/a/b"));
    }

    #[test]
    fn special_and_default_variables() {
        let r = req().with("aws:username", &["alice"]);
        assert_eq!(substitute("a${*}b", &r, true), Some(vec![Tok::Lit('a'), Tok::Lit('*'), Tok::Lit('b')]));
        assert!(substitute("${aws:PrincipalTag/team}", &r, true).is_none());
        assert_eq!(substitute("${aws:PrincipalTag/team, 'x'}", &r, true), Some(vec![Tok::Lit('x')]));
        assert_eq!(substitute("a${b", &r, true), Some(tokens("a${b")));
        // Multivalued keys cannot be variables.
        let r = req().with("aws:TagKeys", &["a", "b"]);
        assert!(substitute("${aws:TagKeys}", &r, true).is_none());
    }

    #[test]
    fn null_has_no_if_exists_form() {
        // Null has no IfExists form: unknown operator, the statement is invalid.
        assert_eq!(condition_holds("NullIfExists", "k", &["true".into()], &req(), true), None);
    }

    #[test]
    fn parse_date_forms() {
        assert_eq!(parse_date("1970-01-02"), Some(86400));
        assert_eq!(parse_date("86400"), Some(86400));
    }

    #[test]
    fn ip_in_cidr_forms() {
        assert!(ip_in_cidr("2001:db8::1", "2001:db8::/32"));
        assert!(ip_in_cidr("10.1.2.3", "0.0.0.0/0"));
    }

    #[test]
    fn principal_forms() {
        let anon = Principal::Anonymous;
        let role = Principal::aws("arn:aws:iam::123456789012:role/r");
        assert!(principal_matches(&json!("*"), &anon));
        assert!(principal_matches(&json!({"AWS": "*"}), &anon));
        assert!(principal_matches(&json!({"AWS": "123456789012"}), &role));
        assert!(principal_matches(&json!({"AWS": "arn:aws:iam::123456789012:root"}), &role));
        assert!(!principal_matches(&json!({"AWS": "arn:aws:iam::123456789012:root"}), &anon));
        assert!(!principal_matches(&json!({"AWS": "999999999999"}), &role));
        assert!(principal_matches(&json!({"AWS": ["x", "arn:aws:iam::123456789012:role/r"]}), &role));
        assert!(principal_matches(
            &json!({"Service": "ec2.amazonaws.com"}),
            &Principal::Service("ec2.amazonaws.com".into())
        ));
        assert!(!principal_matches(&json!({"Service": "ec2.amazonaws.com"}), &role));
    }
}
