//! VA006 condition-type-mismatch: a condition operator of one type compares a key or values
//! of another, so the clause cannot match as written.
//!
//! Peer: Parliament (duo-labs) reports `MISMATCHED_TYPE` for an operator whose type differs
//! from the key's. This rule is the subset that changes what a clause matches: string
//! operators on ARN, Boolean, numeric or date keys still compare the text and work, so they
//! are not reported (Parliament's `MISMATCHED_TYPE_BUT_USABLE`). Key types are those of the
//! AWS global condition context keys (IAM User Guide, "AWS global condition context keys");
//! value formats follow "IAM JSON policy elements: Condition operators".

use super::support::Evidence;
use super::{Category, Context, Finding, RuleMeta, ANY_TYPE};
use crate::conditions::Operator;
use crate::policy::ConditionClause;
use std::net::IpAddr;

pub static META: RuleMeta = RuleMeta {
    code: "VA006",
    name: "condition-type-mismatch",
    category: Category::Validation,
    max_score: 1,
    changed_in: 4,
    applies_to: ANY_TYPE,
    summary: "a condition operator cannot match its key or values (e.g. `StringLike` on `aws:SourceIp`, `IpAddress` on `aws:SourceVpc`)",
    what: "Condition clauses whose operator type does not fit: an IP operator (`IpAddress`, \
`NotIpAddress`) on a key that is not an IP address; a string, ARN, numeric, date or Boolean \
operator on `aws:SourceIp`/`aws:VpcSourceIp`; a date, numeric, Boolean or ARN operator on a \
global key of another type (`DateGreaterThan` on `aws:username`, `ArnEquals` on \
`aws:SourceAccount`); and values the operator cannot read — a CIDR that does not parse, a \
number that is not one, a date that is neither ISO 8601 nor epoch seconds, a Boolean other \
than `true`/`false`, an ARN operator's value that is not an ARN. `Null` is never reported, \
nor string operators on ARN, Boolean, numeric or date keys (they compare the text, which \
works), nor the type of tag keys (a tag's text may be an ARN), nor values with policy \
variables.",
    why: "A clause that cannot match never restricts an Allow (it simply grants nothing) and \
never applies a Deny — or, negated (`NotIpAddress`, `StringNotEquals`), always does. The \
author meant a restriction the policy does not express: a Deny \"unless from our network\" \
written with `StringNotLike` on `aws:SourceIp` denies every caller, and an Allow pinned with \
`IpAddress` on `aws:SourceVpc` grants nothing.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*", "Condition": {"StringLike": {"aws:SourceIp": "203.0.113.0/24"}}}]}"#,
    safer: "Use the operator of the key's type: `IpAddress`/`NotIpAddress` for `aws:SourceIp`, \
`StringEquals` for `aws:SourceVpc` and account ids, `ArnLike` for ARN keys, `Bool` for \
`aws:SecureTransport`, `DateLessThan` with an ISO 8601 time for `aws:CurrentTime`.",
    scoring: "1 (information). The clause is still read as written: a conditional Allow is not \
scored lower for it, and a conditional Deny never removes grants from the score.",
};

/// Operator families, by the type they compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Arn,
    Numeric,
    Date,
    Bool,
    Ip,
    Binary,
}

impl Kind {
    fn of_operator(op: &Operator) -> Option<Kind> {
        let b = op.base.as_str();
        Some(if b.starts_with("string") {
            Kind::String
        } else if b.starts_with("arn") {
            Kind::Arn
        } else if b.starts_with("numeric") {
            Kind::Numeric
        } else if b.starts_with("date") {
            Kind::Date
        } else if b == "bool" {
            Kind::Bool
        } else if b == "ipaddress" || b == "notipaddress" {
            Kind::Ip
        } else if b == "binaryequals" {
            Kind::Binary
        } else {
            return None; // `Null`, or an operator IAM does not know
        })
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::String => "text",
            Kind::Arn => "an ARN",
            Kind::Numeric => "a number",
            Kind::Date => "a date",
            Kind::Bool => "a Boolean",
            Kind::Ip => "an IP address",
            Kind::Binary => "binary data",
        }
    }
}

/// Global condition keys whose type is fixed, lowercase. Tag keys (`aws:RequestTag/…`,
/// `aws:ResourceTag/…`, `aws:PrincipalTag/…`) are not judged: a tag's text may be an ARN or
/// a date, and AWS's own managed policies compare ARN-valued tags with `ArnLike`.
const KEY_TYPES: &[(&str, &[Kind])] = &[
    ("aws:sourceip", &[Kind::Ip]),
    ("aws:vpcsourceip", &[Kind::Ip]),
    ("aws:ec2instancesourceprivateipv4", &[Kind::Ip]),
    ("aws:currenttime", &[Kind::Date]),
    ("aws:tokenissuetime", &[Kind::Date]),
    ("aws:epochtime", &[Kind::Date, Kind::Numeric]),
    ("aws:multifactorauthage", &[Kind::Numeric]),
    ("aws:multifactorauthpresent", &[Kind::Bool]),
    ("aws:securetransport", &[Kind::Bool]),
    ("aws:viaawsservice", &[Kind::Bool]),
    ("aws:principalisawsservice", &[Kind::Bool]),
    ("aws:principalarn", &[Kind::Arn]),
    ("aws:sourcearn", &[Kind::Arn]),
    ("ec2:sourceinstancearn", &[Kind::Arn]),
    ("aws:sourceaccount", &[Kind::String]),
    ("aws:principalaccount", &[Kind::String]),
    ("aws:resourceaccount", &[Kind::String]),
    ("aws:principalorgid", &[Kind::String]),
    ("aws:resourceorgid", &[Kind::String]),
    ("aws:sourceorgid", &[Kind::String]),
    ("aws:principalorgpaths", &[Kind::String]),
    ("aws:resourceorgpaths", &[Kind::String]),
    ("aws:sourceorgpaths", &[Kind::String]),
    ("aws:sourcevpc", &[Kind::String]),
    ("aws:sourcevpce", &[Kind::String]),
    ("aws:ec2instancesourcevpc", &[Kind::String]),
    ("aws:requestedregion", &[Kind::String]),
    ("aws:principaltype", &[Kind::String]),
    ("aws:username", &[Kind::String]),
    ("aws:userid", &[Kind::String]),
    ("aws:useragent", &[Kind::String]),
    ("aws:referer", &[Kind::String]),
    ("aws:tagkeys", &[Kind::String]),
    ("aws:calledvia", &[Kind::String]),
    ("aws:calledviafirst", &[Kind::String]),
    ("aws:calledvialast", &[Kind::String]),
    ("aws:principalservicename", &[Kind::String]),
    ("aws:principalservicenameslist", &[Kind::String]),
    ("aws:sourceidentity", &[Kind::String]),
];

fn key_types(key: &str) -> Option<&'static [Kind]> {
    let lower = key.to_ascii_lowercase();
    KEY_TYPES.iter().find(|(k, _)| *k == lower).map(|(_, t)| *t)
}

/// Why the operator cannot compare this key, if it cannot.
fn key_problem(op: Kind, key: &str) -> Option<String> {
    let types = key_types(key)?;
    if types.contains(&op) {
        return None;
    }
    let key_kind = types[0];
    // String operators compare the text of ARN, Boolean, number and date values: usable.
    if op == Kind::String && key_kind != Kind::Ip {
        return None;
    }
    Some(format!("`{key}` is {}, which {} operators cannot compare", key_kind.noun(), operator_family(op)))
}

fn operator_family(op: Kind) -> &'static str {
    match op {
        Kind::String => "string",
        Kind::Arn => "ARN",
        Kind::Numeric => "numeric",
        Kind::Date => "date",
        Kind::Bool => "Boolean",
        Kind::Ip => "IP address",
        Kind::Binary => "binary",
    }
}

/// Can the operator read this value? Values with policy variables are taken as valid.
fn value_fits(op: Kind, value: &str) -> bool {
    let v = value.trim();
    if v.contains("${") {
        return true;
    }
    match op {
        Kind::Ip => ip_or_cidr(v),
        Kind::Numeric => v.parse::<f64>().is_ok_and(f64::is_finite),
        Kind::Date => iso_date(v) || (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())),
        Kind::Bool => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
        Kind::Arn => v == "*" || v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("arn:")),
        Kind::String | Kind::Binary => true,
    }
}

fn ip_or_cidr(v: &str) -> bool {
    let (addr, prefix) = match v.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (v, None),
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|n| n <= max))
}

/// `YYYY-MM-DD`, optionally followed by a time (`T…`).
fn iso_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && (b.len() == 10 || b[10] == b'T' || b[10] == b't')
}

fn problems(c: &ConditionClause<'_>) -> Vec<String> {
    let Some(op) = Kind::of_operator(&Operator::parse(c.operator)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(p) = key_problem(op, c.key) {
        out.push(p);
    } else {
        let bad: Vec<&str> = c.values.iter().map(String::as_str).filter(|v| !value_fits(op, v)).collect();
        if !bad.is_empty() {
            let list = bad.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ");
            out.push(format!("{list} {} not {}", if bad.len() == 1 { "is" } else { "are" }, op.noun()));
        }
    }
    out
}

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        for s in &cx.analysis.policy.statements {
            for c in &s.conditions {
                for why in problems(c) {
                    let msg = format!(
                        "statement {}: `{}` on `{}` cannot match as written: {why}",
                        s.index, c.operator, c.key
                    );
                    out.push(Finding::new(
                        &META,
                        1,
                        Vec::new(),
                        Evidence::of_statement(s),
                        msg,
                        "Use the operator of the key's type (IpAddress for aws:SourceIp, StringEquals for ids, \
ArnLike for ARNs, Bool, DateLessThan with an ISO 8601 time) and values it can read."
                            .into(),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_by_the_operator_type() {
        assert!(ip_or_cidr("10.0.0.0/8") && ip_or_cidr("2001:db8::/32") && ip_or_cidr("203.0.113.5"));
        assert!(!ip_or_cidr("10.0.0.0/33") && !ip_or_cidr("10.0.0") && !ip_or_cidr("vpc-123"));
        assert!(iso_date("2026-12-01") && iso_date("2026-12-01T00:00:00Z") && !iso_date("tomorrow"));
        assert!(value_fits(Kind::Date, "1764547200") && !value_fits(Kind::Date, "12/01/2026"));
        assert!(value_fits(Kind::Numeric, "3600") && !value_fits(Kind::Numeric, "one hour"));
        assert!(value_fits(Kind::Bool, "True") && !value_fits(Kind::Bool, "yes"));
        assert!(value_fits(Kind::Arn, "arn:aws:iam::*:role/x") && !value_fits(Kind::Arn, "123456789012"));
        assert!(value_fits(Kind::Ip, "${aws:SourceIp}"));
    }

    #[test]
    fn string_operators_on_typed_keys_are_usable_except_on_ip_keys() {
        assert_eq!(key_problem(Kind::String, "aws:SourceArn"), None);
        assert_eq!(key_problem(Kind::String, "aws:SecureTransport"), None);
        assert!(key_problem(Kind::String, "aws:SourceIp").is_some());
        assert!(key_problem(Kind::Ip, "aws:SourceVpc").is_some());
        assert!(key_problem(Kind::Arn, "aws:SourceAccount").is_some());
        assert_eq!(key_problem(Kind::Numeric, "aws:EpochTime"), None);
        assert_eq!(key_problem(Kind::Ip, "s3:prefix"), None, "service keys' types are not judged");
        assert_eq!(key_problem(Kind::Arn, "aws:RequestTag/AmazonECSCreated"), None, "nor tags'");
    }
}
