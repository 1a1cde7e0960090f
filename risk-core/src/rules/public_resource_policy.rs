//! RX002 public-resource-policy: a resource policy that admits any principal.

use super::support::{names, Evidence};
use super::{Category, Context, Finding, RuleMeta};
use crate::policy::{PolicyType, Statement};
use iam_catalog::{AccessLevel, ACTIONS};

pub static META: RuleMeta = RuleMeta {
    code: "RX002",
    name: "public-resource-policy",
    category: Category::ResourceExposure,
    max_score: 9,
    applies_to: &[PolicyType::Resource],
    summary: "a resource policy allows any principal (`*`), any account, or everyone but a few",
    what: "Allow statements in bucket, queue, topic, key or other resource policies whose \
`Principal` is `*`, `{\"AWS\": \"*\"}` or `arn:aws:iam::*:root`, or that use `NotPrincipal`, \
without a condition that pins the caller (`aws:PrincipalOrgID`, `aws:PrincipalAccount`, \
`aws:SourceArn`, `aws:SourceAccount`, `aws:SourceVpce`, `aws:SourceIp` and similar).",
    why: "Anyone on the internet with an AWS account (or none, for S3) can call the granted \
actions on this resource.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::public-site/*"}]}"#,
    safer: "Name the principals, or add `aws:PrincipalOrgID` / `aws:SourceArn` conditions; for \
websites, serve through CloudFront with origin access control.",
    scoring: "9 when write or permission actions are public, 7 for reads; not reported when a \
condition pins the caller (the only way a condition changes this rule's result).",
};

/// Condition keys that pin who may call, making a `*` principal not public.
pub const RESTRICTING_KEYS: &[&str] = &[
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
    "aws:username",
    "aws:principalservicename",
    "kms:calleraccount",
    "kms:viaservice",
    "sts:externalid",
    "s3:dataaccesspointaccount",
];

fn is_wildcard_principal(v: &str) -> bool {
    v == "*" || v.starts_with("arn:aws:iam::*:") || v == "arn:aws:iam::*:root"
}

/// Is the statement restricted by a condition that pins the caller?
pub fn restricted(stmt: &Statement<'_>) -> Option<String> {
    stmt.conditions
        .iter()
        .find(|c| {
            let k = c.key.to_ascii_lowercase();
            RESTRICTING_KEYS.contains(&k.as_str())
                && !c.values.iter().all(|v| v == "*")
                && !c.operator.to_ascii_lowercase().starts_with("stringnot")
        })
        .map(|c| c.key.to_string())
}

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        let a = cx.analysis;
        for g in &a.grants {
            let Some(p) = &g.stmt.principal else { continue };
            let public = p.not || p.entries.iter().any(|e| e.kind != "Service" && is_wildcard_principal(e.value));
            if !public || g.effective.is_empty() {
                continue;
            }
            let writes =
                g.effective.iter().any(|i| !matches!(ACTIONS[i].access, AccessLevel::Read | AccessLevel::List));
            // A `*` principal pinned by aws:PrincipalOrgID, aws:SourceArn and the like is the
            // recommended pattern, not exposure.
            if restricted(g.stmt).is_some() {
                continue;
            }
            let (score, msg) = if writes {
                (9, "allows any principal to change or control this resource")
            } else {
                (7, "allows any principal to read this resource")
            };
            let who = if p.not { "everyone except the `NotPrincipal` list" } else { "`*`" };
            let ev = Evidence::of_statement(g.stmt);
            let msg = format!("{msg} (principal {who}): {} actions", g.effective.len());
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
