//! How much of an action's resource space a `Resource` list covers: all, the caller's own,
//! some, or none — reasoned over the catalog's ARN templates.

use crate::glob;
use crate::policy::{ResourceSpec, Version};
use iam_catalog::{Action, ResourceType};
use std::borrow::Cow;

/// Breadth of a grant for one action, ordered from narrowest to widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Breadth {
    /// No listed resource can be one this action acts on: the grant is void.
    None,
    /// Specific resources.
    Specific,
    /// Only the calling principal's own resources (`${aws:username}`-style self-scoping).
    SelfScoped,
    /// Every resource of the action's type (in at least one account): `*`,
    /// `arn:aws:s3:::*/*`, `arn:aws:iam::*:role/*` and the like.
    All,
}

impl Breadth {
    pub fn as_str(self) -> &'static str {
        match self {
            Breadth::None => "none",
            Breadth::Specific => "specific",
            Breadth::SelfScoped => "self",
            Breadth::All => "all",
        }
    }
}

/// A policy resource pattern, split once so it can be compared with many ARN templates.
#[derive(Debug, Clone)]
pub struct Pattern<'a> {
    pub raw: &'a str,
    /// Only `*` characters: matches everything, including the literal `*` of actions
    /// without resource-level permissions.
    star: bool,
    /// Matches the literal string `*`.
    matches_star: bool,
    arn: Option<ArnPattern<'a>>,
    /// Contains policy variables that AWS substitutes (2012-10-17 only).
    vars: bool,
    self_var: bool,
    /// The resource part (or whole pattern) with policy variables as `*`, for overlap tests.
    probe: Cow<'a, str>,
    version: Version,
    /// Policy variables only in the partition, region or account fields
    /// (`arn:aws:iam::${aws:PrincipalAccount}:role/*`): they name one account, region or
    /// partition, and "every resource of the type in one account" is what `All` means.
    vars_outside_resource_only: bool,
}

#[derive(Debug, Clone)]
struct ArnPattern<'a> {
    partition_ok: bool,
    service: &'a str,
    /// The service field holds `${` (decided once: `breadth` runs per resource type).
    service_var: bool,
    /// The service field holds a wildcard.
    service_wild: bool,
    resource: &'a str,
}

impl<'a> Pattern<'a> {
    pub fn new(raw: &'a str, version: Version) -> Self {
        let star = !raw.is_empty() && raw.bytes().all(|c| c == b'*');
        let arn = split_arn(raw).map(|[partition, service, _region, _account, resource]| ArnPattern {
            // Generous: a variable in the partition field may name any partition.
            partition_ok: crate::partition::may_match(&variables_as_wildcards(partition)),
            service,
            service_var: service.contains("${"),
            service_wild: glob::has_wildcard(service),
            resource,
        });
        // Policy variables only exist in 2012-10-17; elsewhere they are literal text.
        let vars = version == Version::V2012 && raw.contains("${");
        let self_var = vars && has_self_variable(raw);
        let base = arn.as_ref().map(|a| a.resource).unwrap_or(raw);
        let probe = if vars { variables_as_wildcards(base) } else { Cow::Borrowed(base) };
        let vars_outside_resource_only = vars && arn.is_some() && !base.contains("${");
        Pattern {
            raw,
            star,
            matches_star: glob::matches(raw, "*"),
            arn,
            vars,
            self_var,
            probe,
            version,
            vars_outside_resource_only,
        }
    }

    /// Breadth of this pattern against one resource type.
    pub fn breadth(&self, rt: &ResourceType) -> Breadth {
        if self.star {
            return Breadth::All;
        }
        let Some(arn) = &self.arn else {
            // Not ARN-shaped (`arn:aws-iso-f:*`, `*bucket*`): compare with the whole template
            // in every partition; the widest answer counts (an Allow may grant in any of them).
            let probe = variables_as_wildcards(self.raw);
            let mut best = Breadth::None;
            for partition in crate::partition::KNOWN {
                let whole = format!("arn:{partition}:{}:*:*:{}", rt.arn_service(), rt.resource_glob());
                if !self.vars && glob::subsumes(self.raw, &whole) {
                    return Breadth::All;
                }
                if best == Breadth::None && glob::intersects(&probe, &whole) {
                    best = Breadth::Specific;
                }
            }
            return best;
        };
        if !arn.partition_ok || rt.arn_service().is_empty() {
            return Breadth::None;
        }
        let service_ok = if arn.service_var {
            true
        } else if arn.service_wild {
            glob::matches(arn.service, rt.arn_service())
        } else {
            arn.service == rt.arn_service()
        };
        if !service_ok {
            return Breadth::None;
        }
        if (!self.vars || self.vars_outside_resource_only) && glob::subsumes(arn.resource, rt.resource_glob()) {
            return Breadth::All;
        }
        if !glob::intersects(&self.probe, rt.resource_glob()) {
            return Breadth::None;
        }
        if self.self_var {
            Breadth::SelfScoped
        } else {
            Breadth::Specific
        }
    }

    /// Does the pattern name the caller's own resources (`${aws:username}`-style)?
    pub fn is_self_scoped(&self) -> bool {
        self.self_var
    }

    /// Does the pattern match the literal `*` (the resource of actions without
    /// resource-level permissions)?
    pub fn matches_star(&self) -> bool {
        self.matches_star
    }
}

/// An ARN split into (partition, service, region, account, resource), or `None` if the
/// pattern is not ARN-shaped. A `:` inside a policy variable (`${aws:PrincipalAccount}`) does
/// not separate fields.
fn split_arn(s: &str) -> Option<[&str; 5]> {
    let rest = s.strip_prefix("arn:")?;
    let mut fields = [""; 5];
    let (mut start, mut n, mut in_var) = (0usize, 0usize, false);
    let bytes = rest.as_bytes();
    for (i, &c) in bytes.iter().enumerate() {
        match c {
            b'$' if bytes.get(i + 1) == Some(&b'{') => in_var = true,
            b'}' => in_var = false,
            b':' if !in_var && n < 4 => {
                fields[n] = &rest[start..i];
                n += 1;
                start = i + 1;
            }
            _ => {}
        }
    }
    if n < 4 {
        return None;
    }
    fields[4] = &rest[start..];
    Some(fields)
}

fn has_self_variable(p: &str) -> bool {
    let lc = p.to_ascii_lowercase();
    lc.contains("${aws:username}") || lc.contains("${aws:userid}") || lc.contains("${aws:principaltag/")
}

/// Replace policy variables with `*` so a pattern can be tested for overlap.
fn variables_as_wildcards(p: &str) -> Cow<'_, str> {
    if p.contains("${") {
        Cow::Owned(iam_catalog::variables_to_wildcards(p))
    } else {
        Cow::Borrowed(p)
    }
}

/// Breadth of one resource pattern against one resource type.
pub fn pattern_breadth(pattern: &str, rt: &ResourceType, version: Version) -> Breadth {
    Pattern::new(pattern, version).breadth(rt)
}

/// Breadth of a statement's `Resource`/`NotResource` for one action, with the patterns
/// already split.
pub fn breadth_of(action: &Action, not: bool, patterns: &[Pattern<'_>]) -> Breadth {
    let types = action.resources();
    if not {
        // Everything except the listed resources: void only if the exclusions certainly cover
        // every resource type (strictly, as a Deny would: an exclusion in one partition or
        // account leaves the others granted).
        let spec = ResourceSpec { not: true, patterns: patterns.iter().map(|p| p.raw).collect() };
        let version = patterns.first().map_or(Version::V2012, |p| p.version);
        let all_excluded = if types.is_empty() {
            crate::must_deny::excludes_star(&spec, version)
        } else {
            types.iter().all(|r| crate::must_deny::excludes_whole_type(&spec, version, action.resource_type(r)))
        };
        return if all_excluded { Breadth::None } else { Breadth::All };
    }
    if types.is_empty() {
        // Actions without resource-level permissions are only ever evaluated against `*`.
        return if patterns.iter().any(Pattern::matches_star) { Breadth::All } else { Breadth::None };
    }
    let mut best = Breadth::None;
    for p in patterns {
        for r in types {
            best = best.max(p.breadth(action.resource_type(r)));
            if best == Breadth::All {
                return best;
            }
        }
    }
    best
}

/// Breadth of a statement's `Resource`/`NotResource` for one action.
pub fn action_breadth(action: &Action, spec: Option<&ResourceSpec<'_>>, version: Version) -> Breadth {
    let Some(spec) = spec else {
        // Trust policies: the resource is the role itself.
        return Breadth::All;
    };
    let patterns: Vec<Pattern<'_>> = spec.patterns.iter().map(|p| Pattern::new(p, version)).collect();
    breadth_of(action, spec.not, &patterns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(action: &str, res: &[&str]) -> Breadth {
        let a = &iam_catalog::ACTIONS[iam_catalog::action_index(action).unwrap()];
        let spec = ResourceSpec { not: false, patterns: res.to_vec() };
        action_breadth(a, Some(&spec), Version::V2012)
    }

    #[test]
    fn effectively_everything() {
        assert_eq!(b("iam:PassRole", &["*"]), Breadth::All);
        assert_eq!(b("iam:PassRole", &["arn:aws:iam::*:role/*"]), Breadth::All);
        assert_eq!(b("iam:PassRole", &["arn:aws:iam::123456789012:role/*"]), Breadth::All);
        assert_eq!(b("iam:PassRole", &["arn:*:*:*:*:*"]), Breadth::All);
        assert_eq!(b("iam:PassRole", &["arn:aws:iam::123456789012:role/app-*"]), Breadth::Specific);
        assert_eq!(b("s3:GetObject", &["arn:aws:s3:::*/*"]), Breadth::All);
        assert_eq!(b("s3:GetObject", &["arn:aws:s3:::*"]), Breadth::All);
        assert_eq!(b("s3:GetObject", &["arn:aws:s3:::bucket/*"]), Breadth::Specific);
        assert_eq!(b("s3:GetObject", &["arn:aws:s3:::bucket"]), Breadth::None);
        assert_eq!(b("s3:ListBucket", &["arn:aws:s3:::*"]), Breadth::All);
        assert_eq!(b("ec2:TerminateInstances", &["arn:aws:s3:::*"]), Breadth::None);
    }

    #[test]
    fn self_scoping() {
        assert_eq!(b("iam:AttachUserPolicy", &["arn:aws:iam::*:user/${aws:username}"]), Breadth::SelfScoped);
        let a = &iam_catalog::ACTIONS[iam_catalog::action_index("iam:AttachUserPolicy").unwrap()];
        let spec = ResourceSpec { not: false, patterns: vec!["arn:aws:iam::*:user/${aws:username}"] };
        // Without 2012-10-17 the variable is literal text: a specific (odd) user name.
        assert_eq!(action_breadth(a, Some(&spec), Version::V2008), Breadth::Specific);
    }

    #[test]
    fn variables_do_not_split_fields() {
        assert_eq!(
            split_arn("arn:aws:iam::${aws:PrincipalAccount}:role/*"),
            Some(["aws", "iam", "", "${aws:PrincipalAccount}", "role/*"])
        );
        assert_eq!(split_arn("arn:aws:s3:::b/a:b"), Some(["aws", "s3", "", "", "b/a:b"]));
        assert_eq!(split_arn("arn:aws:s3"), None);
        assert_eq!(b("iam:PassRole", &["arn:aws:iam::${aws:PrincipalAccount}:role/*"]), Breadth::All);
    }

    #[test]
    fn resourceless_actions_need_star() {
        assert_eq!(b("s3:ListAllMyBuckets", &["*"]), Breadth::All);
        assert_eq!(b("s3:ListAllMyBuckets", &["arn:aws:s3:::*"]), Breadth::None);
    }
}
