//! Must-deny reasoning: does a `Deny` *certainly* remove an action that an `Allow` grants?
//!
//! This is the strict counterpart of [`crate::resources::Breadth`], which answers the generous
//! question "what may this Allow grant?". The two are kept apart on purpose: a generous answer
//! used for a Deny would let the Deny subtract grants it does not remove, and the policy would
//! score lower than it should. Everything here answers `false` ("not certainly removed") when
//! in doubt:
//!
//! - the Deny must cover every resource the Allow may grant the action on — account, region
//!   and partition included: a Deny on `arn:aws:…` does not cover an Allow on `*`, which also
//!   grants in `aws-cn`, `aws-us-gov` and the other partitions;
//! - for an action that works on several resource types, covering one *required* type (every
//!   request names one) removes the action; covering an optional type removes nothing unless
//!   every type the Allow may reach is covered;
//! - a `NotResource` Deny removes nothing where one of its exclusions may match;
//! - a Deny pattern with a policy variable only covers the same pattern in the Allow.

use crate::glob;
use crate::policy::{ResourceSpec, Version};
use iam_catalog::{Action, ResourceType};
use std::borrow::Cow;

/// One resource pattern, prepared for both sides.
#[derive(Debug, Clone)]
struct Pat<'a> {
    raw: &'a str,
    /// Policy variables (2012-10-17) and `?` widened to `*`: a superset of what `raw` matches.
    wide: Cow<'a, str>,
    /// Holds policy variables that AWS substitutes per request.
    vars: bool,
}

impl<'a> Pat<'a> {
    fn new(raw: &'a str, version: Version) -> Self {
        let vars = version == Version::V2012 && raw.contains("${");
        let mut wide: Cow<'a, str> =
            if vars { Cow::Owned(iam_catalog::variables_to_wildcards(raw)) } else { Cow::Borrowed(raw) };
        if wide.contains('?') {
            wide = Cow::Owned(wide.replace('?', "*"));
        }
        Pat { raw, wide, vars }
    }

    fn is_star(&self) -> bool {
        !self.raw.is_empty() && self.raw.bytes().all(|c| c == b'*')
    }
}

/// The five fields of an ARN-shaped glob: partition, service, region, account, resource.
fn arn_fields(s: &str) -> Option<[&str; 5]> {
    let rest = s.strip_prefix("arn:")?;
    let mut it = rest.splitn(5, ':');
    Some([it.next()?, it.next()?, it.next()?, it.next()?, it.next()?])
}

/// A catalog resource type as a glob over every partition, region and account.
#[derive(Debug)]
struct Template {
    whole: String,
}

impl Template {
    fn of(rt: &ResourceType) -> Self {
        Template { whole: iam_catalog::variables_to_wildcards(rt.arn()) }
    }

    fn fields(&self) -> Option<[&str; 5]> {
        arn_fields(&self.whole)
    }
}

#[derive(Debug)]
enum Scope<'a> {
    /// `*`, or no `Resource` at all (a trust policy: the resource is the role itself).
    Everything,
    /// `Resource`: any of these.
    Listed(Vec<Pat<'a>>),
    /// `NotResource`: everything but these.
    AllBut(Vec<Pat<'a>>),
}

fn scope<'a>(spec: Option<&'a ResourceSpec<'a>>, version: Version) -> Scope<'a> {
    let Some(spec) = spec else { return Scope::Everything };
    let pats: Vec<Pat<'a>> = spec.patterns.iter().map(|p| Pat::new(p, version)).collect();
    if spec.not {
        Scope::AllBut(pats)
    } else if pats.iter().any(Pat::is_star) {
        Scope::Everything
    } else {
        Scope::Listed(pats)
    }
}

/// What an Allow statement's `Resource`/`NotResource` *may* reach (generous).
#[derive(Debug)]
pub struct AllowResources<'a>(Scope<'a>);

/// What a Deny statement's `Resource`/`NotResource` *certainly* covers (strict).
#[derive(Debug)]
pub struct DenyResources<'a>(Scope<'a>);

impl<'a> AllowResources<'a> {
    pub fn new(spec: Option<&'a ResourceSpec<'a>>, version: Version) -> Self {
        AllowResources(scope(spec, version))
    }

    /// May the Allow reach some resource of this type?
    fn may_touch(&self, t: &Template) -> bool {
        match &self.0 {
            Scope::Everything | Scope::AllBut(_) => true,
            Scope::Listed(ps) => ps.iter().any(|p| glob::intersects(&p.wide, &t.whole)),
        }
    }

    /// May the Allow match the literal `*` that actions without resources are checked against?
    fn may_match_star(&self) -> bool {
        match &self.0 {
            Scope::Everything | Scope::AllBut(_) => true,
            Scope::Listed(ps) => ps.iter().any(|p| glob::matches(&p.wide, "*")),
        }
    }
}

impl<'a> DenyResources<'a> {
    pub fn new(spec: Option<&'a ResourceSpec<'a>>, version: Version) -> Self {
        DenyResources(scope(spec, version))
    }

    /// Does the Deny cover every resource (a `*` or no `Resource`)?
    pub fn is_everything(&self) -> bool {
        matches!(self.0, Scope::Everything)
    }

    /// Is every request for `action` that `allow` permits certainly denied?
    pub fn removes(&self, allow: &AllowResources<'_>, action: &Action) -> bool {
        if self.is_everything() {
            return true;
        }
        if action.resources().is_empty() {
            // Actions without resource-level permissions are evaluated against `*`.
            return !allow.may_match_star() || self.certainly_matches_star();
        }
        let mut every_type_covered = true;
        for r in action.resources() {
            let t = Template::of(action.resource_type(r));
            if !allow.may_touch(&t) {
                continue;
            }
            let covered = self.covers_type(allow, &t);
            if covered && r.required {
                // Every request names a resource of this type, and each such resource is denied.
                return true;
            }
            every_type_covered &= covered;
        }
        // Every resource a request may name is denied; a request that names none (possible
        // only without required types) is checked against `*`.
        let has_required = action.resources().iter().any(|r| r.required);
        every_type_covered && (has_required || !allow.may_match_star() || self.certainly_matches_star())
    }

    fn certainly_matches_star(&self) -> bool {
        match &self.0 {
            Scope::Everything => true,
            Scope::Listed(qs) => qs.iter().any(|q| !q.vars && glob::matches(q.raw, "*")),
            Scope::AllBut(qs) => !has_variable(qs) && qs.iter().all(|q| !glob::matches(&q.wide, "*")),
        }
    }

    /// Does the Deny cover every resource of type `t` that the Allow may reach?
    fn covers_type(&self, allow: &AllowResources<'_>, t: &Template) -> bool {
        match &allow.0 {
            // A NotResource Allow is read as the whole type: generous for the Allow, so the
            // Deny has to cover more.
            Scope::Everything | Scope::AllBut(_) => self.covers(None, t),
            Scope::Listed(ps) => {
                ps.iter().filter(|p| glob::intersects(&p.wide, &t.whole)).all(|p| self.covers(Some(p), t))
            }
        }
    }

    /// Does the Deny cover `p ∩ t` (`p` = `None`: all of `t`)?
    fn covers(&self, p: Option<&Pat<'_>>, t: &Template) -> bool {
        match &self.0 {
            Scope::Everything => true,
            Scope::Listed(qs) => qs.iter().any(|q| q_covers(q, p, t)),
            Scope::AllBut(qs) => !has_variable(qs) && qs.iter().all(|q| disjoint(q, p, t)),
        }
    }
}

/// A `NotResource` exclusion with a policy variable: when the request lacks the key (a role
/// session has no `aws:username`) the variable does not resolve and AWS may not apply the
/// statement at all, so such a Deny cannot be relied on.
fn has_variable(qs: &[Pat<'_>]) -> bool {
    qs.iter().any(|q| q.vars)
}

/// Does the Deny pattern `q` match every resource in `p ∩ t`?
fn q_covers(q: &Pat<'_>, p: Option<&Pat<'_>>, t: &Template) -> bool {
    if q.vars {
        // `${aws:username}` in a Deny matches one name per request; it certainly covers only
        // the very same pattern in the Allow, substituted the same way.
        return p.is_some_and(|p| p.raw == q.raw);
    }
    if q.is_star() {
        return true;
    }
    if let Some(p) = p {
        if glob::subsumes(q.raw, &p.wide) {
            return true;
        }
    }
    if glob::subsumes(q.raw, &t.whole) {
        return true;
    }
    // Field by field. A real ARN of type `t` has the template's shape, so its fields line up
    // with the template's. They line up with `p`'s only up to `p`'s first wildcard (a `*` in
    // `p` may swallow `:`), so `p` narrows exactly those leading fields.
    let (Some(qf), Some(tf)) = (arn_fields(q.raw), t.fields()) else { return false };
    let pf = p.and_then(|p| arn_fields(&p.wide));
    let aligned = pf.map_or(0, |pf| pf[..4].iter().take_while(|f| !glob::has_wildcard(f)).count());
    (0..5).all(|i| {
        if glob::subsumes(qf[i], tf[i]) {
            return true;
        }
        let Some(pf) = pf else { return false };
        if i < 4 {
            i < aligned && glob::matches(qf[i], pf[i])
        } else {
            aligned == 4 && glob::subsumes(qf[i], pf[i])
        }
    })
}

/// Can no resource in `p ∩ t` match the `NotResource` exclusion `q`? (Then the Deny applies
/// to all of them.)
fn disjoint(q: &Pat<'_>, p: Option<&Pat<'_>>, t: &Template) -> bool {
    if !glob::intersects(&q.wide, &t.whole) {
        return true;
    }
    p.is_some_and(|p| !glob::intersects(&q.wide, &p.wide))
}

/// Do the `NotResource` exclusions of an Allow certainly cover every resource of type `rt`
/// (so the Allow grants nothing of that type)? Strict, like a Deny: an exclusion in one
/// partition or account leaves the others granted.
pub fn excludes_whole_type(spec: &ResourceSpec<'_>, version: Version, rt: &ResourceType) -> bool {
    let t = Template::of(rt);
    spec.patterns.iter().map(|p| Pat::new(p, version)).any(|q| q_covers(&q, None, &t))
}

/// Do the `NotResource` exclusions of an Allow certainly match the literal `*` that actions
/// without resource-level permissions are checked against?
pub fn excludes_star(spec: &ResourceSpec<'_>, version: Version) -> bool {
    spec.patterns.iter().map(|p| Pat::new(p, version)).any(|q| !q.vars && glob::matches(q.raw, "*"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn removes(action: &str, allow: &[&str], deny: &[&str], deny_not: bool) -> bool {
        let a = &iam_catalog::ACTIONS[iam_catalog::action_index(action).unwrap()];
        let aspec = ResourceSpec { not: false, patterns: allow.to_vec() };
        let dspec = ResourceSpec { not: deny_not, patterns: deny.to_vec() };
        let allow = AllowResources::new(Some(&aspec), Version::V2012);
        DenyResources::new(Some(&dspec), Version::V2012).removes(&allow, a)
    }

    #[test]
    fn a_star_deny_removes_everything() {
        assert!(removes("iam:PassRole", &["*"], &["*"], false));
        assert!(removes("s3:ListAllMyBuckets", &["*"], &["*"], false));
    }

    #[test]
    fn a_deny_in_one_partition_does_not_cover_a_star_allow() {
        assert!(!removes("iam:PassRole", &["*"], &["arn:aws:iam::*:role/*"], false));
        assert!(removes("iam:PassRole", &["*"], &["arn:*:iam::*:role/*"], false));
        assert!(removes("iam:PassRole", &["arn:aws:iam::*:role/*"], &["arn:aws:iam::*:role/*"], false));
        assert!(!removes("iam:PassRole", &["arn:aws:iam::*:role/*"], &["arn:aws-cn:iam::*:role/*"], false));
    }

    #[test]
    fn another_accounts_deny_does_not_cover() {
        assert!(!removes("iam:PassRole", &["arn:aws:iam::*:role/*"], &["arn:aws:iam::999999999999:role/*"], false));
        assert!(!removes(
            "iam:PassRole",
            &["arn:aws:iam::111111111111:role/*"],
            &["arn:aws:iam::999999999999:*"],
            false
        ));
        // Same account: the Allow's leading fields are literal, so the Deny's role pattern covers
        // every role the Allow reaches.
        assert!(removes(
            "iam:PassRole",
            &["arn:aws:iam::111111111111:*"],
            &["arn:aws:iam::111111111111:role/*"],
            false
        ));
    }

    #[test]
    fn an_optional_resource_type_does_not_remove_the_action() {
        assert!(!removes("ec2:RunInstances", &["*"], &["arn:*:ec2:*:*:placement-group/*"], false));
        assert!(removes("ec2:RunInstances", &["*"], &["arn:*:ec2:*:*:instance/*"], false));
    }

    #[test]
    fn not_resource_denies_remove_nothing_they_exclude() {
        assert!(!removes("iam:UpdateAssumeRolePolicy", &["*"], &["arn:aws:iam::123456789012:role/admin"], true));
        // The exclusion is an S3 bucket: every IAM role is denied.
        assert!(removes("iam:UpdateAssumeRolePolicy", &["arn:aws:iam::*:role/*"], &["arn:aws:s3:::bucket"], true));
        assert!(!removes("s3:ListAllMyBuckets", &["*"], &["*"], true));
    }

    #[test]
    fn a_not_resource_deny_with_a_variable_is_not_relied_on() {
        let own = "arn:aws:iam::111111111111:user/${aws:username}";
        assert!(!removes("iam:PassRole", &["*"], &[own], true));
        assert!(!removes("s3:ListAllMyBuckets", &["*"], &[own], true));
    }

    #[test]
    fn variables_cover_only_themselves() {
        let user = "arn:aws:iam::*:user/${aws:username}";
        assert!(removes("iam:CreateAccessKey", &[user], &[user], false));
        assert!(!removes("iam:CreateAccessKey", &["arn:aws:iam::*:user/*"], &[user], false));
        assert!(removes("iam:CreateAccessKey", &[user], &["arn:aws:iam::*:user/*"], false));
    }
}
