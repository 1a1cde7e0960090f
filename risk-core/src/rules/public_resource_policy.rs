//! RX002 public-resource-policy: a resource policy that admits any principal.

use super::support::{names, Evidence};
use super::{Category, Context, Finding, RuleMeta};
use crate::conditions::caller_restriction;
use crate::policy::PolicyType;
use iam_catalog::{AccessLevel, ACTIONS};

pub static META: RuleMeta = RuleMeta {
    code: "RX002",
    name: "public-resource-policy",
    category: Category::ResourceExposure,
    max_score: 9,
    changed_in: 3,
    applies_to: &[PolicyType::Resource],
    summary: "a resource policy allows any principal (`*`), any account, or everyone but a few",
    what: "Allow statements in bucket, queue, topic, key or other resource policies whose \
`Principal` is `*`, `{\"AWS\": \"*\"}` or an ARN with a wildcard account in any partition \
(`arn:aws:iam::*:root`, `arn:aws-cn:iam::*:root`), that use `NotPrincipal`, or (when the \
document is read as a resource policy) that name no principal, without a condition that pins \
the caller: a positive operator (`StringEquals`, `StringLike`, `ArnLike`, `IpAddress`, also \
under `ForAnyValue:`) on `aws:PrincipalOrgID`, `aws:PrincipalAccount`, `aws:SourceArn`, \
`aws:SourceAccount`, `aws:SourceVpce`, `aws:SourceIp` and similar. Negated operators \
(`StringNotEquals`, `NotIpAddress`, `ArnNotLike`), `…IfExists` (passes when the key is absent, \
as for anonymous callers), `ForAllValues:` (passes when the key is empty), `Null`, and values \
such as `*`, `o-*` or `0.0.0.0/0` do not pin anyone, and the finding says so.",
    why: "Anyone on the internet with an AWS account (or none, for S3) can call the granted \
actions on this resource.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::public-site/*"}]}"#,
    safer: "Name the principals, or add `aws:PrincipalOrgID` / `aws:SourceArn` conditions; for \
websites, serve through CloudFront with origin access control.",
    scoring: "9 when write or permission actions are public, 7 for reads; not reported when a \
condition pins the caller (the only way a condition changes this rule's result).",
};

/// Is the principal value a wildcard over accounts: `*`, or an ARN (in any partition) whose
/// account field holds a wildcard, such as `arn:aws:iam::*:root` or `arn:aws-cn:iam::*:role/x`?
pub fn is_wildcard_principal(v: &str) -> bool {
    if v.bytes().all(|c| c == b'*') && !v.is_empty() {
        return true;
    }
    let fields: Vec<&str> = v.splitn(6, ':').collect();
    fields.len() == 6 && fields[0] == "arn" && (fields[1].contains(['*', '?']) || fields[4].contains(['*', '?']))
}

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        let a = cx.analysis;
        for g in &a.grants {
            // In a resource policy a statement without `Principal` names no one, which AWS
            // rejects; read as the policy type the caller chose, it is taken as anyone.
            let (public, who) = match &g.stmt.principal {
                None => (true, "none given, read as any principal"),
                Some(p) if p.not => (true, "everyone except the `NotPrincipal` list"),
                Some(p) => (p.entries.iter().any(|e| e.kind != "Service" && is_wildcard_principal(e.value)), "`*`"),
            };
            if !public || g.effective.is_empty() {
                continue;
            }
            let writes =
                g.effective.iter().any(|i| !matches!(ACTIONS[i].access, AccessLevel::Read | AccessLevel::List));
            // A `*` principal pinned by aws:PrincipalOrgID, aws:SourceArn and the like is the
            // recommended pattern, not exposure.
            let restriction = caller_restriction(g.stmt);
            if restriction.pinned_by.is_some() {
                continue;
            }
            let (score, msg) = if writes {
                (9, "allows any principal to change or control this resource")
            } else {
                (7, "allows any principal to read this resource")
            };
            let ev = Evidence::of_statement(g.stmt);
            let msg = format!("{msg} (principal {who}): {} actions{}", g.effective.len(), restriction.note());
            out.push(Finding::new(
                &META,
                score,
                names(g.effective.iter()),
                ev,
                msg,
                "Name the principals that need access, or add an aws:PrincipalOrgID or aws:SourceArn condition.".into(),
            ));
        }
    }
}
