//! Conditions read by meaning, not by name: can a condition clause restrict *who* may call or
//! *from where*?
//!
//! Rules use this to decide whether a `*` principal is pinned (by `aws:PrincipalOrgID`,
//! `aws:SourceArn`, an OIDC `sub` claim…). It is must-restrict reasoning: a clause pins the
//! caller only if it fails for callers it does not name. It does not when
//!
//! - the operator ends in `IfExists`: it passes when the key is absent, and anonymous callers,
//!   callers outside an organisation and direct (non-service) callers lack many keys;
//! - the set qualifier is `ForAllValues:`: it passes when the key is absent or empty;
//! - the operator is negated (`StringNotEquals`, `StringNotLike`, `ArnNotLike`, `NotIpAddress`,
//!   …, also under `ForAnyValue:`): it admits every value but the listed ones;
//! - the operator is `Null` (it only tests presence) or cannot compare identities (`Bool`,
//!   numeric, date, binary);
//! - a value admits everyone: `*`, an ARN with a wildcard account, an organisation id cut short
//!   by a wildcard, `0.0.0.0/0`.
//!
//! Sources: AWS IAM User Guide, "IAM JSON policy elements: Condition operators" (`…IfExists`,
//! `Null`, ARN operators accept wildcards) and "Set operators for multivalued context keys"
//! (`ForAllValues` returns true for a missing or empty key).

use crate::policy::{ConditionClause, Statement};

/// A condition operator split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The base operator, lowercase, without qualifier or `IfExists`: `stringequals`.
    pub base: String,
    pub if_exists: bool,
    pub qualifier: Option<Qualifier>,
}

/// A set qualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    ForAnyValue,
    ForAllValues,
}

impl Operator {
    pub fn parse(op: &str) -> Self {
        let lower = op.to_ascii_lowercase();
        let (qualifier, rest) = if let Some(r) = lower.strip_prefix("foranyvalue:") {
            (Some(Qualifier::ForAnyValue), r)
        } else if let Some(r) = lower.strip_prefix("forallvalues:") {
            (Some(Qualifier::ForAllValues), r)
        } else {
            (None, lower.as_str())
        };
        let (base, if_exists) = match rest.strip_suffix("ifexists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        Operator { base: base.to_string(), if_exists, qualifier }
    }

    /// Does the operator admit every value but the listed ones?
    pub fn is_negated(&self) -> bool {
        self.base.starts_with("stringnot")
            || self.base.starts_with("arnnot")
            || self.base == "notipaddress"
            || self.base.starts_with("numericnot")
            || self.base.starts_with("datenot")
    }

    /// Do the values hold wildcards (`StringLike`, and the ARN operators, which match
    /// `*` and `?` whether called `ArnEquals` or `ArnLike`)?
    fn is_like(&self) -> bool {
        matches!(self.base.as_str(), "stringlike" | "arnlike" | "arnequals")
    }
}

/// Whether a clause pins the caller, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    Pins,
    /// It does not; the text completes "…does not restrict who can call: …".
    DoesNot(String),
}

/// Condition keys that can name who calls or where from, lowercase. Not `kms:ViaService`: it
/// names the AWS service a request passes through, which callers of any account can use.
pub const CALLER_KEYS: &[&str] = &[
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceip",
    "aws:vpcsourceip",
    "aws:userid",
    "aws:principalservicename",
    "kms:calleraccount",
    "sts:externalid",
    "s3:dataaccesspointaccount",
];

const ACCOUNT_KEYS: &[&str] =
    &["aws:principalaccount", "aws:sourceaccount", "aws:sourceowner", "kms:calleraccount", "s3:dataaccesspointaccount"];
const ARN_KEYS: &[&str] = &["aws:principalarn", "aws:sourcearn"];

fn wild(s: &str) -> bool {
    s.contains('*') || s.contains('?')
}

/// Does one value (under a matching operator) admit every caller, or nearly?
fn value_admits_everyone(key: &str, value: &str, op: &Operator) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    if op.base == "ipaddress" {
        let prefix = value.rsplit_once('/').and_then(|(_, n)| n.parse::<u8>().ok());
        let v6 = value.contains(':');
        return match prefix {
            Some(n) if (!v6 && n < 8) || (v6 && n < 16) => {
                Some(format!("the range `{value}` spans a large part of the internet"))
            }
            _ => None,
        };
    }
    if !op.is_like() || !wild(value) {
        // A literal compared for equality names exactly that value.
        return None;
    }
    if value.bytes().all(|c| c == b'*' || c == b'?') {
        return Some(format!("the value `{value}` matches every caller"));
    }
    if ACCOUNT_KEYS.contains(&key) {
        return Some(format!("the account pattern `{value}` matches many accounts"));
    }
    if ARN_KEYS.contains(&key) {
        let fields: Vec<&str> = value.splitn(6, ':').collect();
        let pinned = fields.len() == 6 && fields[..5].iter().all(|f| !wild(f)) && !fields[5].starts_with(['*', '?']);
        return if pinned { None } else { Some(format!("the ARN pattern `{value}` matches any account")) };
    }
    let literal_prefix = value.find(['*', '?']).unwrap_or(value.len());
    if literal_prefix < 8 {
        return Some(format!("the pattern `{value}` matches many callers"));
    }
    None
}

/// Does this clause restrict who may call (for a key in [`CALLER_KEYS`])?
pub fn clause_pins(c: &ConditionClause<'_>) -> Pin {
    let op = Operator::parse(c.operator);
    let name = c.operator;
    if op.if_exists && op.base != "null" {
        return Pin::DoesNot(format!("`{name}` passes when the key is absent, as it is for anonymous callers and callers outside an organisation"));
    }
    if op.qualifier == Some(Qualifier::ForAllValues) {
        return Pin::DoesNot(format!("`{name}` passes when the key is absent or empty"));
    }
    if op.is_negated() {
        return Pin::DoesNot(format!("the negated operator `{name}` admits every value except the listed ones"));
    }
    if !matches!(
        op.base.as_str(),
        "stringequals" | "stringequalsignorecase" | "stringlike" | "arnequals" | "arnlike" | "ipaddress"
    ) {
        return Pin::DoesNot(if op.base == "null" {
            format!("`{name}` only tests whether the key is present")
        } else {
            format!("the operator `{name}` cannot name a caller")
        });
    }
    if c.values.is_empty() {
        return Pin::DoesNot("the condition lists no value".into());
    }
    let key = c.key.to_ascii_lowercase();
    // Values are alternatives: one that admits everyone admits everyone.
    for v in &c.values {
        if let Some(why) = value_admits_everyone(&key, v, &op) {
            return Pin::DoesNot(why);
        }
    }
    Pin::Pins
}

/// How a statement's conditions bear on who may call.
#[derive(Debug, Clone, Default)]
pub struct CallerRestriction {
    /// The first clause that pins the caller (its key).
    pub pinned_by: Option<String>,
    /// Clauses on caller keys that do not pin, with why: "`aws:PrincipalOrgID` under …".
    pub not_pinning: Vec<String>,
}

impl CallerRestriction {
    /// A sentence for findings when conditions were present but pinned no one, else "".
    pub fn note(&self) -> String {
        if self.pinned_by.is_some() || self.not_pinning.is_empty() {
            return String::new();
        }
        format!("; its condition does not restrict who can call: {}", self.not_pinning.join("; "))
    }
}

/// Read every clause of a statement on the caller keys (or on `keys` when given).
pub fn caller_restriction(stmt: &Statement<'_>) -> CallerRestriction {
    restriction_on(stmt, |k| CALLER_KEYS.contains(&k))
}

/// Read the clauses whose (lowercase) key satisfies `is_key`.
pub fn restriction_on(stmt: &Statement<'_>, is_key: impl Fn(&str) -> bool) -> CallerRestriction {
    let mut out = CallerRestriction::default();
    for c in &stmt.conditions {
        let key = c.key.to_ascii_lowercase();
        if !is_key(&key) {
            continue;
        }
        match clause_pins(c) {
            Pin::Pins => {
                if out.pinned_by.is_none() {
                    out.pinned_by = Some(c.key.to_string());
                }
            }
            Pin::DoesNot(why) => out.not_pinning.push(format!("`{}` — {why}", c.key)),
        }
    }
    out
}

/// Values of clauses on `key` that pin it (positive operators, no `IfExists`, no
/// `ForAllValues`), and notes on the clauses on `key` that do not.
pub fn pinning_values<'s>(stmt: &'s Statement<'_>, key: &str) -> (Vec<&'s String>, Vec<String>) {
    let mut values = Vec::new();
    let mut notes = Vec::new();
    for c in &stmt.conditions {
        if !c.key.eq_ignore_ascii_case(key) {
            continue;
        }
        let op = Operator::parse(c.operator);
        let positive = !op.if_exists
            && op.qualifier != Some(Qualifier::ForAllValues)
            && !op.is_negated()
            && matches!(op.base.as_str(), "stringequals" | "stringequalsignorecase" | "stringlike");
        if positive {
            values.extend(c.values.iter());
        } else {
            let why = match clause_pins(c) {
                Pin::DoesNot(why) => why,
                Pin::Pins => format!("the operator `{}` cannot name a subject", c.operator),
            };
            notes.push(format!("`{}` — {why}", c.key));
        }
    }
    (values, notes)
}

/// A condition clause that certainly narrows an identity-policy grant (must-restrict reasoning,
/// like [`clause_pins`]): the value is a literal the caller cannot choose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantPin {
    /// `aws:ResourceTag/<k>` (or `<svc>:ResourceTag/<k>`) equal to literal values: only
    /// resources already carrying that tag value are reached, like a list of named resources.
    /// The tag key (lowercase) is kept so the analysis can check that the policy cannot add
    /// it to other resources.
    ResourceTag { key: String, text: String },
    /// `<svc>:CreateAction` equal to literal values: the grant applies only while a resource is
    /// being created by that call (tag-on-create), never to an existing resource. AWS sets
    /// the key; actions that do not support it fail the condition.
    CreateOnly { text: String },
    /// `aws:SourceVpc` / `aws:SourceVpce` equal to literal values: the grant works only from
    /// inside that network, so credentials taken elsewhere are useless.
    Origin { text: String },
}

/// Is every value a literal (no wildcard, no policy variable, not empty)?
fn literal_values(values: &[String]) -> bool {
    !values.is_empty() && values.iter().all(|v| !v.is_empty() && !wild(v) && !v.contains("${"))
}

/// Positive, total string equality: `StringEquals`, `StringEqualsIgnoreCase`, or `StringLike`
/// whose values hold no wildcard; no `IfExists` (passes when the key is absent, as it is for
/// actions that do not support it), no set qualifier, not negated.
fn equality_operator(op: &Operator) -> bool {
    !op.if_exists
        && op.qualifier.is_none()
        && matches!(op.base.as_str(), "stringequals" | "stringequalsignorecase" | "stringlike")
}

/// The resource-tag key a condition key tests (`aws:ResourceTag/Team`, `ec2:ResourceTag/Team`
/// → `team`), if it is one. Not `aws:RequestTag` (the caller writes request tags) nor
/// `aws:TagKeys`.
fn resource_tag_key(key: &str) -> Option<String> {
    let (_, tag) = key.split_once(':')?;
    let rest = tag.get(..12).filter(|p| p.eq_ignore_ascii_case("resourcetag/")).map(|_| &tag[12..])?;
    (!rest.is_empty()).then(|| rest.to_ascii_lowercase())
}

/// Clauses of a statement that pin the grant (see [`GrantPin`]), in clause order.
pub fn grant_pins(stmt: &Statement<'_>) -> Vec<GrantPin> {
    let mut out = Vec::new();
    for c in &stmt.conditions {
        let op = Operator::parse(c.operator);
        if !equality_operator(&op) || !literal_values(&c.values) {
            continue;
        }
        let shown = c.values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(" or ");
        if let Some(key) = resource_tag_key(c.key) {
            out.push(GrantPin::ResourceTag { key, text: format!("`{}` = {shown}", c.key) });
        } else if c.key.split_once(':').is_some_and(|(_, k)| k.eq_ignore_ascii_case("CreateAction")) {
            out.push(GrantPin::CreateOnly { text: format!("`{}` = {shown}", c.key) });
        } else if c.key.eq_ignore_ascii_case("aws:SourceVpc") || c.key.eq_ignore_ascii_case("aws:SourceVpce") {
            out.push(GrantPin::Origin { text: format!("`{}` = {shown}", c.key) });
        }
    }
    out
}

/// Resource-tag clauses of a statement that do not pin it, each with why (for findings).
pub fn resource_tag_non_pins(stmt: &Statement<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for c in &stmt.conditions {
        if resource_tag_key(c.key).is_none() {
            continue;
        }
        let op = Operator::parse(c.operator);
        let why = if op.base == "null" {
            "only tests that the tag is present"
        } else if !equality_operator(&op) {
            "is not a plain equality (IfExists, a set qualifier, a negation or a non-string operator)"
        } else if !literal_values(&c.values) {
            "admits any value by a wildcard or policy variable"
        } else {
            continue;
        };
        out.push(format!("`{}` under `{}` {why}, so it does not pin the resources", c.key, c.operator));
    }
    out
}

/// Does the statement restrict tagging to resource creation (`<svc>:CreateAction` equal to
/// literal values)? Then it cannot put a tag on an existing resource.
pub fn tags_only_on_create(stmt: &Statement<'_>) -> bool {
    stmt.conditions.iter().any(|c| {
        c.key.split_once(':').is_some_and(|(_, k)| k.eq_ignore_ascii_case("CreateAction"))
            && equality_operator(&Operator::parse(c.operator))
            && literal_values(&c.values)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins(op: &str, key: &str, values: &[&str]) -> bool {
        let c = ConditionClause { operator: op, key, values: values.iter().map(|s| s.to_string()).collect() };
        clause_pins(&c) == Pin::Pins
    }

    #[test]
    fn operators_are_parsed_into_parts() {
        let o = Operator::parse("ForAnyValue:StringNotLikeIfExists");
        assert_eq!(o.base, "stringnotlike");
        assert!(o.if_exists && o.is_negated());
        assert_eq!(o.qualifier, Some(Qualifier::ForAnyValue));
    }

    #[test]
    fn only_positive_total_operators_pin() {
        assert!(pins("StringEquals", "aws:PrincipalOrgID", &["o-a1b2c3d4e5"]));
        assert!(pins("ForAnyValue:StringLike", "aws:PrincipalOrgPaths", &["o-a1b2c3d4e5/r-ab12/*"]));
        assert!(pins("ArnLike", "aws:SourceArn", &["arn:aws:s3:::my-bucket"]));
        assert!(pins("IpAddress", "aws:SourceIp", &["203.0.113.0/24"]));
        assert!(!pins("StringEqualsIfExists", "aws:PrincipalOrgID", &["o-a1b2c3d4e5"]));
        assert!(!pins("StringNotEquals", "aws:PrincipalOrgID", &["o-a1b2c3d4e5"]));
        assert!(!pins("ForAnyValue:StringNotLike", "aws:PrincipalOrgPaths", &["o-a1b2c3d4e5/*"]));
        assert!(!pins("ForAllValues:StringEquals", "aws:PrincipalOrgPaths", &["o-a1b2c3d4e5/r-ab12/"]));
        assert!(!pins("NotIpAddress", "aws:SourceIp", &["203.0.113.0/24"]));
        assert!(!pins("ArnNotLike", "aws:PrincipalArn", &["arn:aws:iam::123456789012:role/x"]));
        assert!(!pins("Null", "aws:PrincipalOrgID", &["false"]));
        assert!(!pins("Bool", "aws:PrincipalOrgID", &["true"]));
    }

    fn stmt_with<'a>(clauses: Vec<ConditionClause<'a>>) -> Statement<'a> {
        Statement {
            index: 0,
            sid: None,
            effect: crate::policy::Effect::Allow,
            action: crate::policy::ActionSpec { not: false, patterns: vec!["ec2:TerminateInstances"] },
            resource: None,
            principal: None,
            conditions: clauses,
            condition_raw: None,
        }
    }

    fn clause<'a>(op: &'a str, key: &'a str, values: &[&str]) -> ConditionClause<'a> {
        ConditionClause { operator: op, key, values: values.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn only_literal_resource_tags_and_networks_pin_a_grant() {
        let pins = |op, key, v: &[&str]| grant_pins(&stmt_with(vec![clause(op, key, v)]));
        assert!(matches!(
            pins("StringEquals", "aws:ResourceTag/k8s.io/cluster-autoscaler/my-cluster", &["owned"])[..],
            [GrantPin::ResourceTag { .. }]
        ));
        assert!(matches!(pins("StringLike", "ec2:ResourceTag/team", &["blue"])[..], [GrantPin::ResourceTag { .. }]));
        assert!(matches!(pins("StringEquals", "aws:SourceVpc", &["vpc-1a2b3c4d"])[..], [GrantPin::Origin { .. }]));
        assert!(matches!(
            pins("StringEquals", "ec2:CreateAction", &["RunInstances"])[..],
            [GrantPin::CreateOnly { .. }]
        ));
        for (op, key, v) in [
            ("StringLike", "aws:ResourceTag/team", "*"),
            ("StringLike", "aws:ResourceTag/team", "b*"),
            ("StringEqualsIfExists", "aws:ResourceTag/team", "blue"),
            ("StringNotEquals", "aws:ResourceTag/team", "blue"),
            ("ForAllValues:StringEquals", "aws:ResourceTag/team", "blue"),
            ("StringEquals", "aws:ResourceTag/team", "${aws:PrincipalTag/team}"),
            ("StringEquals", "aws:RequestTag/team", "blue"),
            ("Null", "aws:ResourceTag/team", "false"),
            ("StringEquals", "aws:ResourceTag/", "blue"),
            ("StringLike", "aws:SourceVpc", "vpc-*"),
            ("StringEqualsIfExists", "aws:SourceVpce", "vpce-1a2b3c4d"),
            ("StringLike", "ec2:CreateAction", "*"),
            ("StringEqualsIfExists", "ec2:CreateAction", "RunInstances"),
        ] {
            assert!(pins(op, key, &[v]).is_empty(), "{op} {key} {v}");
        }
    }

    #[test]
    fn values_that_admit_everyone_do_not_pin() {
        assert!(!pins("StringLike", "aws:PrincipalOrgID", &["*"]));
        assert!(!pins("StringLike", "aws:PrincipalOrgID", &["o-*"]));
        assert!(!pins("StringLike", "aws:SourceAccount", &["1234*"]));
        assert!(!pins("ArnLike", "aws:PrincipalArn", &["arn:aws:iam::*:role/admin"]));
        assert!(!pins("ArnEquals", "aws:SourceArn", &["arn:aws:sns:*:*:topic"]));
        assert!(!pins("IpAddress", "aws:SourceIp", &["0.0.0.0/0"]));
        // StringEquals compares literally: `*` names no real organisation.
        assert!(pins("StringEquals", "aws:PrincipalOrgID", &["*"]));
        assert!(!pins("StringLike", "aws:PrincipalOrgID", &["o-a1b2c3d4e5", "*"]));
    }
}
