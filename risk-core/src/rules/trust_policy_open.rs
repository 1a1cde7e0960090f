//! RX003 trust-policy-open: a role's trust policy lets too many identities assume it.

use super::public_resource_policy::is_wildcard_principal;
use super::support::Evidence;
use super::{Category, Context, Finding, RuleMeta};
use crate::conditions::{caller_restriction, pinning_values};
use crate::policy::{PolicyType, Statement};

pub static META: RuleMeta = RuleMeta {
    code: "RX003",
    name: "trust-policy-open",
    category: Category::ResourceExposure,
    max_score: 9,
    changed_in: 3,
    applies_to: &[PolicyType::Trust],
    summary:
        "a trust policy admits any AWS principal, or any identity of an OIDC provider (e.g. every GitHub repository)",
    what: "Trust statements that allow `sts:AssumeRole*` to `*`/`arn:aws:iam::*:root` without a \
pinning condition, or `sts:AssumeRoleWithWebIdentity` from an OIDC provider without a condition \
on the token subject (`token.actions.githubusercontent.com:sub`) or, for Cognito, the audience; \
SAML federation without `SAML:aud`; other accounts' roots are reported as information. \
Wildcard principals count in every partition (`arn:aws-cn:iam::*:root`); `NotPrincipal` (everyone \
but a few) and, when the document is read as a trust policy, a statement without `Principal` \
count as any principal. Only positive operators pin: a negated, `…IfExists`, `ForAllValues:` or \
`Null` clause on the caller or on `sub`/`aud` pins no one, and the finding says why.",
    why: "Whoever can assume the role gets all of its permissions. A GitHub OIDC trust without a \
`sub` condition can be assumed from *any* repository on GitHub.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}}]}"#,
    safer: "Pin the subject: `\"StringEquals\": {\"token.actions.githubusercontent.com:sub\": \
\"repo:my-org/my-repo:ref:refs/heads/main\"}`; for AWS principals name the role ARNs or add \
`aws:PrincipalOrgID`.",
    scoring: "9 for `*` principals without a pinning condition; 8 for an OIDC provider without a \
subject condition (or with `sub` of `*`); 5 when the subject is a wildcard across an \
organisation or repository; 4 for SAML without `SAML:aud`, or `*` pinned by a condition; 3 for \
another account's root; for GitHub, 8 when the owner is a wildcard, 5 when the repository is, 3 \
for any ref of one repository and 2 for a subject pinned to one repository's ref or environment.",
};

/// GitHub subjects look like `repo:OWNER/REPO:ref:refs/heads/main`: a wildcard in the owner
/// admits other organisations' repositories, in the repository name other repositories of the
/// organisation, after it only other branches or environments of one repository.
fn github_subjects(subs: &[&String]) -> (u8, String) {
    let mut worst = (2u8, "trusts GitHub Actions of one repository, pinned to a ref or environment".to_string());
    for s in subs {
        let wild = |x: &str| x.contains('*') || x.contains('?');
        let rest = s.strip_prefix("repo:").unwrap_or(s);
        let (owner_repo, tail) = rest.split_once(':').unwrap_or((rest, ""));
        let (owner, repo) = owner_repo.split_once('/').unwrap_or((owner_repo, ""));
        let cand = if !s.starts_with("repo:") && wild(s) || wild(owner) {
            (8, format!("trusts GitHub Actions of any organisation: subject `{s}`"))
        } else if wild(repo) || repo.is_empty() {
            (5, format!("trusts GitHub Actions of many repositories of `{owner}`: subject `{s}`"))
        } else if wild(tail) {
            (3, format!("trusts GitHub Actions of every branch and environment of `{owner}/{repo}`: subject `{s}`"))
        } else {
            (2, format!("trusts GitHub Actions of `{owner}/{repo}` pinned by subject `{s}`"))
        };
        if cand.0 > worst.0 {
            worst = cand;
        }
    }
    worst
}

fn provider_host(v: &str) -> &str {
    v.rsplit_once("oidc-provider/").map(|(_, h)| h).unwrap_or(v)
}

fn assumes(stmt: &Statement<'_>, what: &str) -> bool {
    !stmt.action.not && stmt.action.patterns.iter().any(|p| crate::glob::matches(&p.to_ascii_lowercase(), what))
}

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        for g in &cx.analysis.grants {
            let stmt = g.stmt;
            let mut worst: Option<(u8, String)> = None;
            let mut consider = |score: u8, msg: String| {
                if worst.as_ref().is_none_or(|(s, _)| score > *s) {
                    worst = Some((score, msg));
                }
            };
            let restriction = caller_restriction(stmt);
            let pinned = restriction.pinned_by.clone();
            let entries: &[crate::policy::PrincipalEntry<'_>] = match &stmt.principal {
                // Read as a trust policy (the caller chose the type), a statement that names no
                // principal, or that names everyone but a few, is open to anyone.
                None => {
                    consider(9, format!("names no principal, read as any AWS principal{}", restriction.note()));
                    &[]
                }
                Some(p) if p.not => {
                    match &pinned {
                        Some(k) => consider(
                            4,
                            format!(
                                "trusts everyone except the `NotPrincipal` list, restricted by the condition `{k}`"
                            ),
                        ),
                        None => {
                            consider(9, format!("trusts everyone except the `NotPrincipal` list{}", restriction.note()))
                        }
                    }
                    &[]
                }
                Some(p) => &p.entries,
            };
            for e in entries {
                match e.kind {
                    "*" | "AWS" if is_wildcard_principal(e.value) => match &pinned {
                        Some(k) => consider(4, format!("trusts any AWS principal, restricted by the condition `{k}`")),
                        None => consider(
                            9,
                            format!(
                                "trusts any AWS principal: anyone with an AWS account can assume this role{}",
                                restriction.note()
                            ),
                        ),
                    },
                    "AWS"
                        if (e.value.ends_with(":root") || e.value.chars().all(|c| c.is_ascii_digit()))
                            && pinned.is_none() =>
                    {
                        consider(
                            3,
                            format!("trusts every principal of account `{}` that is allowed sts:AssumeRole", e.value),
                        );
                    }
                    "Federated" if assumes(stmt, "sts:assumerolewithwebidentity") => {
                        let host = provider_host(e.value).to_ascii_lowercase();
                        let key_of = |suffix: &str| format!("{host}:{suffix}");
                        // Only positive operators name a subject or audience; a negated or
                        // `IfExists` clause on `sub` pins nothing, and the finding says so.
                        let why_not = |notes: &[String]| {
                            if notes.is_empty() {
                                String::new()
                            } else {
                                format!("; {}", notes.join("; "))
                            }
                        };
                        if host.starts_with("cognito-identity.amazonaws.com") {
                            let (auds, notes) = pinning_values(stmt, &key_of("aud"));
                            if auds.is_empty() || auds.iter().any(|v| v.as_str() == "*") {
                                consider(8, format!("trusts Cognito identities of any identity pool (no condition pins `cognito-identity.amazonaws.com:aud`){}", why_not(&notes)));
                            }
                            continue;
                        }
                        let (subs, sub_notes) = pinning_values(stmt, &key_of("sub"));
                        if host == "token.actions.githubusercontent.com" && !subs.is_empty() {
                            let (score, msg) = github_subjects(&subs);
                            consider(score, msg);
                        } else if subs.is_empty() || subs.iter().any(|v| v.as_str() == "*") {
                            consider(
                                8,
                                format!(
                                    "trusts every identity of the OIDC provider `{host}`: no condition pins `{host}:sub`{}",
                                    why_not(&sub_notes)
                                ),
                            );
                        } else if subs.iter().any(|v| v.contains('*') || v.contains('?')) {
                            let shown: Vec<&str> = subs.iter().map(|s| s.as_str()).collect();
                            consider(
                                5,
                                format!("trusts a wildcard of OIDC subjects of `{host}`: {}", shown.join(", ")),
                            );
                        } else {
                            consider(2, format!("trusts OIDC subjects of `{host}` pinned by `{host}:sub`"));
                        }
                    }
                    "Federated"
                        if assumes(stmt, "sts:assumerolewithsaml") && pinning_values(stmt, "SAML:aud").0.is_empty() =>
                    {
                        consider(4, format!("trusts SAML provider `{}` without a `SAML:aud` condition", e.value));
                    }
                    _ => {}
                }
            }
            if let Some((score, msg)) = worst {
                let ev = Evidence::of_statement(stmt);
                let actions = stmt.action.patterns.iter().map(|s| s.to_string()).collect();
                out.push(Finding::new(&META, score, actions, ev, msg, "Pin who may assume the role: name role ARNs, add aws:PrincipalOrgID, or condition OIDC trusts on the token's sub claim.".into()));
            }
        }
    }
}
