//! The privilege-escalation path table and the matcher the four escalation rules share.

use super::escalation_rows;
use super::support::{evidence, list_phrase, names};
use super::{Finding, RuleMeta};
use crate::analysis::Analysis;
use crate::glob;
use crate::resources::{self, Breadth};
use once_cell::sync::Lazy;

/// How a path escalates (the `kind` column of the data file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    SelfEscalation,
    NewPassRole,
    ExistingPassRole,
    PrincipalAccess,
}

impl Kind {
    /// In the order of [`escalation_rows::KINDS`] (tested), which the data rows index.
    const ALL: [Kind; 4] = [Kind::SelfEscalation, Kind::NewPassRole, Kind::ExistingPassRole, Kind::PrincipalAccess];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SelfEscalation => "self-escalation",
            Kind::NewPassRole => "new-passrole",
            Kind::ExistingPassRole => "existing-passrole",
            Kind::PrincipalAccess => "principal-access",
        }
    }
}

/// One escalation path.
#[derive(Debug)]
pub struct Path {
    pub id: &'static str,
    pub kind: Kind,
    pub names: Vec<&'static str>,
    pub source: &'static str,
    /// Catalog indices; `None` when an action is not in the catalog (path not evaluable),
    /// which only the paths in [`NOT_EVALUABLE`] may be (tested).
    pub actions: Option<Vec<usize>>,
}

const DATA: &str = include_str!("../../data/privilege-escalation-paths.csv");

/// Paths kept in the table (they are documented attacks) although an action they need is not
/// in the catalog, so no policy can be scored against them, with why. Every other path must
/// resolve completely; a test fails otherwise, so a typo or a catalog refresh that drops an
/// action cannot switch a path off unnoticed.
pub const NOT_EVALUABLE: &[(&str, &str)] = &[(
    "codestar-001",
    "`codestar:CreateProjectFromTemplate` is an undocumented CodeStar API that the Service \
Authorization Reference does not list (AWS discontinued CodeStar on 2024-07-31)",
)];

/// Why a path is not evaluated, if it is listed in [`NOT_EVALUABLE`].
pub fn not_evaluable_reason(id: &str) -> Option<&'static str> {
    NOT_EVALUABLE.iter().find(|(i, _)| *i == id).map(|(_, why)| *why)
}

/// Every path in the data file, in file order.
pub static PATHS: Lazy<Vec<Path>> = Lazy::new(|| match escalation_rows::parse(DATA) {
    Ok(rows) => rows
        .into_iter()
        .map(|r| Path {
            id: r.id,
            kind: Kind::ALL[r.kind],
            actions: r.actions.iter().map(|n| iam_catalog::action_index(n)).collect(),
            names: r.actions,
            source: r.source,
        })
        .collect(),
    // NOTE: unreachable in a built crate: build.rs runs the same parser on the same file
    // and fails the build on any row it rejects.
    Err(e) => {
        debug_assert!(false, "{e}");
        Vec::new()
    }
});

/// Service principals a role passed for this path ends up with (for `iam:PassedToService`).
fn path_principals(id: &str) -> &'static [&'static str] {
    match id.split('-').next().unwrap_or("") {
        "apprunner" => &["tasks.apprunner.amazonaws.com", "build.apprunner.amazonaws.com"],
        "bedrock" => &["bedrock-agentcore.amazonaws.com"],
        "cloudformation" => &["cloudformation.amazonaws.com"],
        "codebuild" => &["codebuild.amazonaws.com"],
        "datapipeline" => &["datapipeline.amazonaws.com", "elasticmapreduce.amazonaws.com"],
        "ec2" | "autoscaling" => &["ec2.amazonaws.com", "autoscaling.amazonaws.com"],
        "ecs" => &["ecs-tasks.amazonaws.com", "ecs.amazonaws.com"],
        "glue" => &["glue.amazonaws.com"],
        "lambda" => &["lambda.amazonaws.com"],
        "sagemaker" => &["sagemaker.amazonaws.com"],
        "batch" => &["batch.amazonaws.com", "ecs-tasks.amazonaws.com"],
        "braket" => &["braket.amazonaws.com"],
        "cognitoidentity" => &["cognito-identity.amazonaws.com"],
        "emr" => &["elasticmapreduce.amazonaws.com"],
        "omics" => &["omics.amazonaws.com"],
        "codestar" => &["codestar.amazonaws.com"],
        _ => &[],
    }
}

static PASSROLE: Lazy<Option<usize>> = Lazy::new(|| iam_catalog::action_index("iam:PassRole"));

/// Actions that act on a customer managed policy's versions. AWS managed policies
/// (`arn:aws:iam::aws:policy/…`, account `aws`) belong to AWS: customers cannot create, delete
/// or switch their versions, so a grant on them is no escalation (IAM User Guide, "AWS managed
/// policies": "You cannot change the permissions defined in AWS managed policies"; after
/// BishopFox iam-vulnerable `fp4-NonExploitableResourceConstraint`).
pub(crate) const POLICY_VERSION_ACTIONS: &[&str] = &["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"];

static POLICY_VERSION_IDX: Lazy<Vec<usize>> =
    Lazy::new(|| POLICY_VERSION_ACTIONS.iter().filter_map(|n| iam_catalog::action_index(n)).collect());

/// Is this resource pattern an AWS managed policy ARN (account field literally `aws`)? Only
/// the exact literal counts: `*` or a glob in the account field still reaches customer
/// accounts.
fn is_aws_managed_policy_pattern(p: &str) -> bool {
    let mut f = p.splitn(6, ':');
    matches!(
        (f.next(), f.next(), f.next(), f.next(), f.next()),
        (Some("arn"), Some(_), Some("iam"), Some(""), Some("aws"))
    )
}

/// Breadth of a policy-version action over customer managed policies only: patterns naming
/// AWS managed policies are dropped from `Resource` lists. Never wider than the grant's own
/// breadth (which already has denies subtracted).
fn customer_policy_breadth(a: &Analysis<'_>, i: usize) -> Breadth {
    let mut best = Breadth::None;
    for g in &a.grants {
        let b = g.pinned_breadth(i);
        if b == Breadth::None {
            continue;
        }
        let b = match &g.stmt.resource {
            Some(r) if !r.not && r.patterns.iter().any(|p| is_aws_managed_policy_pattern(p)) => {
                let kept: Vec<resources::Pattern<'_>> = r
                    .patterns
                    .iter()
                    .filter(|p| !is_aws_managed_policy_pattern(p))
                    .map(|p| resources::Pattern::new(p, a.policy.version))
                    .collect();
                b.min(resources::breadth_of(&iam_catalog::ACTIONS[i], false, &kept))
            }
            _ => b,
        };
        best = best.max(b);
    }
    best
}

/// Breadth of `iam:PassRole` usable for this path, and whether a `PassedToService` condition
/// narrowed it. A grant restricted to services the path does not use does not count.
fn passrole_breadth(a: &Analysis<'_>, path: &Path, pr: usize) -> (Breadth, bool) {
    let principals = path_principals(path.id);
    let mut best = (Breadth::None, false);
    for g in &a.grants {
        let b = g.breadth(pr);
        if b == Breadth::None {
            continue;
        }
        let clauses: Vec<_> =
            g.stmt.conditions.iter().filter(|c| c.key.eq_ignore_ascii_case("iam:PassedToService")).collect();
        let narrowed = !clauses.is_empty() && !principals.is_empty();
        if narrowed {
            let positive = clauses.iter().all(|c| {
                let op = c.operator.to_ascii_lowercase();
                !op.contains("not")
            });
            let reaches = clauses
                .iter()
                .any(|c| c.values.iter().any(|v| principals.iter().any(|p| glob::matches(&v.to_ascii_lowercase(), p))));
            if positive && !reaches {
                continue;
            }
        }
        let cand = (b, narrowed);
        if cand.0 > best.0 || (cand.0 == best.0 && best.1 && !cand.1) {
            best = cand;
        }
    }
    best
}

/// A path's catalog indices (empty when not evaluable).
fn actions_of(p: &Path) -> &[usize] {
    p.actions.as_deref().unwrap_or(&[])
}

/// Score a path against the policy, if all its actions are granted.
fn score_path(a: &Analysis<'_>, path: &Path) -> Option<(u8, &'static str)> {
    let actions = path.actions.as_ref()?;
    // An action granted nowhere rules the path out: most paths, for most policies, end here
    // without asking each grant (every breadth below is `None` for such an action).
    if !actions.iter().all(|&i| a.effective.contains(i)) {
        return None;
    }
    let pr = *PASSROLE;
    let mut weakest = Breadth::All;
    let mut passrole = None;
    for &i in actions {
        if Some(i) == pr {
            let (b, narrowed) = passrole_breadth(a, path, i);
            if b == Breadth::None {
                return None;
            }
            passrole = Some((b, narrowed));
            continue;
        }
        // A grant pinned by a literal resource-tag condition counts as on named resources.
        let b = if POLICY_VERSION_IDX.contains(&i) { customer_policy_breadth(a, i) } else { a.pinned_breadth(i) };
        if b == Breadth::None {
            return None;
        }
        weakest = weakest.min(b);
    }
    let wide = |b: Breadth| matches!(b, Breadth::All | Breadth::SelfScoped);
    Some(match path.kind {
        Kind::SelfEscalation => {
            if wide(weakest) {
                (9, "on any principal or policy, including its own")
            } else {
                (6, "on the named resources")
            }
        }
        Kind::NewPassRole => match passrole {
            Some((b, false)) if wide(b) => (9, "passing any role"),
            Some((b, true)) if wide(b) => (8, "passing any role to a service that can run code"),
            Some(_) => (6, "passing only the named roles, so the gain is bounded by those roles"),
            None if wide(weakest) => (8, "without needing iam:PassRole"),
            None => (6, "on the named resources"),
        },
        Kind::ExistingPassRole if path.names.iter().any(|n| n.eq_ignore_ascii_case("iam:SetDefaultPolicyVersion")) => {
            if wide(weakest) {
                (7, "by making an existing, more permissive version of a customer managed policy the default")
            } else {
                (5, "through the named policies, if one of their existing versions grants more")
            }
        }
        Kind::ExistingPassRole => {
            if wide(weakest) {
                (7, "through compute or stacks that already run with a privileged role")
            } else {
                (5, "through the named resources, if their roles are privileged")
            }
        }
        Kind::PrincipalAccess => {
            if weakest == Breadth::SelfScoped {
                return None;
            }
            if actions.len() == 1 && path.names[0].eq_ignore_ascii_case("sts:AssumeRole") {
                if weakest == Breadth::All {
                    (7, "assuming any role whose trust policy admits this account")
                } else {
                    return None;
                }
            } else if weakest == Breadth::All {
                (8, "taking over any user or role")
            } else {
                (5, "taking over the named principals")
            }
        }
    })
}

/// Run every path of `kind` and emit one finding for the rule.
pub fn check(a: &Analysis<'_>, kind: Kind, meta: &'static RuleMeta, out: &mut Vec<Finding>, suggestion: &str) {
    let mut hits: Vec<(&Path, u8, &'static str)> =
        PATHS.iter().filter(|p| p.kind == kind).filter_map(|p| score_path(a, p).map(|(s, why)| (p, s, why))).collect();
    if hits.is_empty() {
        return;
    }
    // Keep minimal paths: drop one whose actions strictly contain another hit's actions.
    let keep: Vec<bool> = hits
        .iter()
        .map(|(p, _, _)| {
            let s = actions_of(p);
            !hits.iter().any(|(q, _, _)| {
                let t = actions_of(q);
                t.len() < s.len() && t.iter().all(|x| s.contains(x))
            })
        })
        .collect();
    let mut k = keep.iter();
    hits.retain(|_| *k.next().unwrap_or(&true));
    hits.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.id.cmp(y.0.id)));
    let score = hits[0].1;
    let why = hits[0].2;
    let all_idx: Vec<usize> = hits.iter().flat_map(|(p, _, _)| p.actions.clone().unwrap_or_default()).collect();
    let ev = evidence(a, all_idx.iter().copied(), Breadth::Specific);
    let described: Vec<String> = hits.iter().map(|(p, _, _)| format!("{} ({})", p.id, p.names.join(" + "))).collect();
    // Say when a condition lowered it: some action of the top path is granted on all
    // resources only through grants a resource-tag condition pins.
    let pinned = hits[0].0.actions.as_deref().unwrap_or(&[]).iter().find_map(|&i| {
        (a.breadth(i) == Breadth::All && a.pinned_breadth(i) < Breadth::All)
            .then(|| a.grants.iter().find_map(|g| (g.breadth(i) == Breadth::All).then(|| g.pin.resources.clone())))
            .flatten()
            .flatten()
    });
    let pinned = pinned.map(|p| format!(" ({p} pins the resources, so they count as named)")).unwrap_or_default();
    let msg = format!(
        "opens {} privilege-escalation {} ({}): {}; {why}{pinned}",
        hits.len(),
        if hits.len() == 1 { "path" } else { "paths" },
        kind.as_str(),
        list_phrase(&described, 3).replace('`', "")
    );
    let mut f = Finding::new(meta, score, names(all_idx), ev, msg, suggestion.to_string());
    f.paths = hits.iter().map(|(p, _, _)| p.id.to_string()).collect();
    out.push(f);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_file_parses_strictly_and_no_row_is_dropped() {
        let rows = escalation_rows::parse(DATA).unwrap_or_else(|e| panic!("{e}"));
        let non_empty = DATA.lines().skip(1).filter(|l| !l.trim().is_empty()).count();
        assert_eq!(rows.len(), non_empty);
        assert_eq!(PATHS.len(), non_empty);
    }

    #[test]
    fn kinds_follow_the_data_vocabulary() {
        for (k, s) in Kind::ALL.iter().zip(escalation_rows::KINDS) {
            assert_eq!(k.as_str(), s);
        }
    }

    #[test]
    fn every_path_is_evaluable_unless_listed_with_a_reason() {
        let mut problems = Vec::new();
        for p in PATHS.iter() {
            let missing: Vec<&str> =
                p.names.iter().copied().filter(|n| iam_catalog::action_index(n).is_none()).collect();
            match (missing.is_empty(), not_evaluable_reason(p.id)) {
                (false, None) => problems.push(format!("{}: not in the catalog: {}", p.id, missing.join(", "))),
                (true, Some(_)) => {
                    problems.push(format!("{}: listed in NOT_EVALUABLE but every action resolves", p.id))
                }
                _ => {}
            }
            assert_eq!(p.actions.is_some(), missing.is_empty(), "{}", p.id);
        }
        for (id, _) in NOT_EVALUABLE {
            if !PATHS.iter().any(|p| p.id == *id) {
                problems.push(format!("NOT_EVALUABLE names `{id}`, which is not in the data file"));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn pass_role_is_in_the_catalog() {
        assert!(PASSROLE.is_some());
    }
}
