//! How much of an action's resource space a `Resource` list covers: all, the caller's own,
//! some, or none — reasoned over the catalog's ARN templates.

use crate::glob;
use crate::policy::{ResourceSpec, Version};
use iam_catalog::{Action, ResourceType};

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

/// An ARN split into (partition, service, region, account, resource), or `None` if the
/// pattern is not ARN-shaped.
fn split_arn(s: &str) -> Option<[&str; 5]> {
    let rest = s.strip_prefix("arn:")?;
    let mut it = rest.splitn(5, ':');
    Some([it.next()?, it.next()?, it.next()?, it.next()?, it.next()?])
}

/// The template's resource part with every `${Var}` turned into `*`.
fn template_resource_glob(arn: &str) -> Option<(String, String)> {
    let [_, service, _, _, resource] = split_arn(arn)?;
    let mut out = String::with_capacity(resource.len());
    let mut rest = resource;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => {
                out.push('*');
                rest = &rest[start + end + 1..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    Some((service.to_string(), out))
}

fn has_self_variable(p: &str) -> bool {
    let lc = p.to_ascii_lowercase();
    lc.contains("${aws:username}") || lc.contains("${aws:userid}") || lc.contains("${aws:principaltag/")
}

/// Replace policy variables with `*` so a pattern can be tested for overlap.
fn variables_as_wildcards(p: &str) -> std::borrow::Cow<'_, str> {
    if !p.contains("${") {
        return std::borrow::Cow::Borrowed(p);
    }
    let mut out = String::with_capacity(p.len());
    let mut rest = p;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => {
                out.push('*');
                rest = &rest[start + end + 1..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Breadth of one resource pattern against one resource type.
pub fn pattern_breadth(pattern: &str, rt: &ResourceType, version: Version) -> Breadth {
    if pattern.bytes().all(|c| c == b'*') {
        return Breadth::All;
    }
    let Some((t_service, t_resource)) = template_resource_glob(rt.arn) else {
        return Breadth::None;
    };
    let Some([partition, service, _region, _account, resource]) = split_arn(pattern) else {
        // Not ARN-shaped: compare with the whole template (partition `aws`).
        let whole = format!("arn:aws:{t_service}:*:*:{t_resource}");
        return if glob::subsumes(pattern, &whole) {
            Breadth::All
        } else if glob::intersects(&variables_as_wildcards(pattern), &whole) {
            Breadth::Specific
        } else {
            Breadth::None
        };
    };
    let partition_ok = ["aws", "aws-cn", "aws-us-gov"].iter().any(|p| glob::matches(partition, p));
    if !partition_ok || !glob::matches(service, &t_service) {
        return Breadth::None;
    }
    // Policy variables only exist in 2012-10-17; elsewhere they are literal text.
    let vars = version == Version::V2012 && resource.contains("${");
    if !vars && glob::subsumes(resource, &t_resource) {
        return Breadth::All;
    }
    let probe = if vars { variables_as_wildcards(resource) } else { std::borrow::Cow::Borrowed(resource) };
    if !glob::intersects(&probe, &t_resource) {
        return Breadth::None;
    }
    if vars && has_self_variable(resource) {
        Breadth::SelfScoped
    } else {
        Breadth::Specific
    }
}

/// Breadth of a statement's `Resource`/`NotResource` for one action.
pub fn action_breadth(action: &Action, spec: Option<&ResourceSpec<'_>>, version: Version) -> Breadth {
    let Some(spec) = spec else {
        // Trust policies: the resource is the role itself.
        return Breadth::All;
    };
    let types = action.resources;
    if spec.not {
        // Everything except the listed resources: void only if an exclusion covers a whole type.
        if types.is_empty() {
            return if spec.patterns.iter().any(|p| glob::matches(p, "*")) { Breadth::None } else { Breadth::All };
        }
        let all_excluded = types.iter().all(|r| {
            let rt = action.resource_type(r);
            spec.patterns.iter().any(|p| pattern_breadth(p, rt, version) == Breadth::All)
        });
        return if all_excluded { Breadth::None } else { Breadth::All };
    }
    if types.is_empty() {
        // Actions without resource-level permissions are only ever evaluated against `*`.
        return if spec.patterns.iter().any(|p| glob::matches(p, "*")) { Breadth::All } else { Breadth::None };
    }
    let mut best = Breadth::None;
    for p in &spec.patterns {
        for r in types {
            let b = pattern_breadth(p, action.resource_type(r), version);
            if b > best {
                best = b;
                if best == Breadth::All {
                    return best;
                }
            }
        }
    }
    best
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
    fn resourceless_actions_need_star() {
        assert_eq!(b("s3:ListAllMyBuckets", &["*"]), Breadth::All);
        assert_eq!(b("s3:ListAllMyBuckets", &["arn:aws:s3:::*"]), Breadth::None);
    }
}
