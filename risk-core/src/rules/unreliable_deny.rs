//! VA003 unreliable-deny: a Deny that does not cancel the Allow it overlaps.

use super::support::Evidence;
use super::{Category, Context, Finding, RuleMeta, ANY_TYPE};

pub static META: RuleMeta = RuleMeta {
    code: "VA003",
    name: "unreliable-deny",
    category: Category::Validation,
    max_score: 1,
    changed_in: 3,
    applies_to: ANY_TYPE,
    summary: "a Deny is conditional or narrower than the Allow it overlaps, so the score does not count it",
    what: "Deny statements that overlap an Allow but do not cancel it: conditional denies \
(whether they apply depends on the request), denies for specific principals, and denies whose \
resources cover only part of what the Allow grants. Not reported: denies conditioned only on \
the request's transport (`aws:SecureTransport`, `s3:TlsVersion`), such as the TLS-only Deny AWS \
recommends on every bucket; they are guards, not carve-outs.",
    why: "The score reflects what is granted when the deny does not apply. If the deny was meant \
as the safety net, it has holes.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::prod-*"}]}"#,
    safer: "Narrow the Allow instead of carving exceptions out of it with Deny.",
    scoring: "1 (information).",
};

/// Condition keys that describe the transport of every request, not which requests are
/// allowed. A Deny on these alone is a guard the policy adds on purpose — the TLS-only Deny AWS
/// recommends on every bucket (Amazon S3 User Guide, "Security best practices": enforce
/// encryption in transit with `aws:SecureTransport`) — not a carve-out of the Allow, so
/// "narrow the Allow instead" would be wrong advice. (It is still not subtracted: the score
/// counts what callers who meet it get.) MFA denies stay reported: they decide whether a
/// session gets anything at all, which the finding explains.
const GUARD_KEYS: &[&str] = &["aws:securetransport", "s3:tlsversion"];

fn is_guard(deny: &crate::policy::Statement<'_>) -> bool {
    !deny.conditions.is_empty()
        && deny.conditions.iter().all(|c| GUARD_KEYS.contains(&c.key.to_ascii_lowercase().as_str()))
}

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        for n in &cx.analysis.deny_notes {
            if is_guard(n.deny) {
                continue;
            }
            let why = if n.conditional {
                "is conditional, so it is shown but not subtracted"
            } else if n.deny.principal.is_some() {
                "applies only to some principals, so it is not subtracted"
            } else {
                "covers only part of the resources that statement grants"
            };
            let msg = format!(
                "the Deny in statement {} overlaps {} actions allowed by statement {} but {why}",
                n.deny.index, n.overlap, n.allow
            );
            let mut ev = Evidence::of_statement(n.deny);
            ev.statements.insert(n.allow);
            let actions = n.deny.action.patterns.iter().map(|s| s.to_string()).collect();
            out.push(Finding::new(
                &META,
                1,
                actions,
                ev,
                msg,
                "Narrow the Allow statement rather than relying on the Deny.".into(),
            ));
        }
    }
}
