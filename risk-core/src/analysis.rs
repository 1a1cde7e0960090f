//! What a policy really grants: wildcard expansion, `NotAction`/`NotResource`, resource
//! breadth per action, and unconditional `Deny` subtracted resource-aware.

use crate::actions::{self, ActionSet, Unmatched};
use crate::must_deny::{AllowResources, DenyResources};
use crate::policy::{Effect, Policy, PolicyType, ResourceSpec, Statement, Version};
use crate::resources::{self, Breadth};
use iam_catalog::{ACTIONS, SERVICES};

/// One Allow statement after expansion and deny subtraction.
#[derive(Debug)]
pub struct Grant<'p> {
    pub stmt: &'p Statement<'p>,
    /// Actions named by the statement (before resource checks), minus denied ones.
    pub named: ActionSet,
    /// Actions granted on at least some resource.
    pub effective: ActionSet,
    /// Actions granted on every resource of their type.
    pub all: ActionSet,
    /// Actions granted only on the caller's own resources.
    pub self_scoped: ActionSet,
    /// What the statement's conditions certainly narrow (identity policies only).
    pub pin: Pinning,
}

/// Conditions of an identity-policy Allow that certainly narrow it (see
/// [`crate::conditions::GrantPin`]); each is a sentence for findings. Only these let a
/// condition lower a list rule's or an escalation path's score.
#[derive(Debug, Clone, Default)]
pub struct Pinning {
    /// A literal resource-tag condition the policy cannot satisfy on other resources, or a
    /// tag-on-create condition: the grant counts as on named resources.
    pub resources: Option<String>,
    /// A literal `aws:SourceVpc`/`aws:SourceVpce` condition.
    pub origin: Option<String>,
    /// A resource-tag condition that would have pinned, and why it does not.
    pub void: Option<String>,
}

impl Grant<'_> {
    pub fn conditional(&self) -> bool {
        self.stmt.is_conditional()
    }

    /// Breadth for action `i` once a pinning resource-tag condition is counted: such a grant
    /// reaches only the tagged resources, so it counts as on named resources.
    pub fn pinned_breadth(&self, i: usize) -> Breadth {
        let b = self.breadth(i);
        if self.pin.resources.is_some() && b == Breadth::All {
            Breadth::Specific
        } else {
            b
        }
    }

    /// Does this grant give some member of `set` at breadth `min` or wider (never at
    /// `None`)? The same answer as testing [`Grant::breadth`] member by member, from the
    /// sets (`all` and `self_scoped` are subsets of `effective`).
    pub fn grants_any_at(&self, set: &ActionSet, min: Breadth) -> bool {
        match min {
            Breadth::All => self.all.intersects(set),
            Breadth::SelfScoped => self.all.intersects(set) || self.self_scoped.intersects(set),
            Breadth::Specific | Breadth::None => self.effective.intersects(set),
        }
    }

    /// Breadth of this grant for catalog action `i`.
    pub fn breadth(&self, i: usize) -> Breadth {
        if self.all.contains(i) {
            Breadth::All
        } else if self.self_scoped.contains(i) {
            Breadth::SelfScoped
        } else if self.effective.contains(i) {
            Breadth::Specific
        } else {
            Breadth::None
        }
    }
}

/// An action pattern that matched nothing in the catalog.
#[derive(Debug, Clone)]
pub struct UnmatchedPattern<'p> {
    pub stmt: usize,
    pub sid: Option<&'p str>,
    pub pattern: &'p str,
    pub why: Unmatched,
    pub not_action: bool,
}

/// A Deny that did not (fully) cancel what it overlaps.
#[derive(Debug, Clone)]
pub struct DenyNote<'p> {
    pub deny: &'p Statement<'p>,
    pub allow: usize,
    /// The deny carries a condition, so it cannot be relied on to cancel.
    pub conditional: bool,
    /// Overlapping actions that stay granted.
    pub overlap: usize,
}

/// The analysed policy: every question rules ask is answered from here.
#[derive(Debug)]
pub struct Analysis<'p> {
    pub policy: &'p Policy<'p>,
    pub policy_type: PolicyType,
    pub grants: Vec<Grant<'p>>,
    pub denies: Vec<&'p Statement<'p>>,
    pub unmatched: Vec<UnmatchedPattern<'p>>,
    pub deny_notes: Vec<DenyNote<'p>>,
    /// Union of `effective` over all grants.
    pub effective: ActionSet,
    /// Union of `all` over all grants.
    pub all: ActionSet,
    /// Union of `all` over unconditional grants.
    pub all_unconditional: ActionSet,
    /// Union of `self_scoped` over all grants.
    pub self_scoped: ActionSet,
    /// Members of `all` and `effective` as lists when small (rules then visit only these
    /// instead of scanning whole bitsets).
    pub all_list: Option<Vec<u32>>,
    pub effective_list: Option<Vec<u32>>,
    /// The non-zero words of `all`, `effective` and `self_scoped`, for
    /// [`ActionSet::and_members`].
    pub all_words: Vec<u32>,
    pub effective_words: Vec<u32>,
    pub self_words: Vec<u32>,
    /// Actions named by some Allow but denied everywhere.
    pub fully_denied: usize,
}

fn expand_spec<'p>(stmt: &'p Statement<'p>, unmatched: &mut Vec<UnmatchedPattern<'p>>) -> ActionSet {
    let mut set = ActionSet::empty();
    for p in &stmt.action.patterns {
        if let Err(why) = actions::expand_into(p, &mut set) {
            unmatched.push(UnmatchedPattern {
                stmt: stmt.index,
                sid: stmt.sid,
                pattern: p,
                why,
                not_action: stmt.action.not,
            });
        }
    }
    if stmt.action.not {
        set.complement();
    }
    set
}

fn is_star_spec(spec: Option<&ResourceSpec<'_>>) -> bool {
    match spec {
        None => true,
        Some(s) => !s.not && s.patterns.iter().any(|p| !p.is_empty() && p.bytes().all(|c| c == b'*')),
    }
}

/// Per-statement memo of breadth by (service, resource type), so each ARN template is
/// compared with the statement's patterns once.
struct BreadthMemo<'a> {
    spec: Option<&'a ResourceSpec<'a>>,
    patterns: Vec<resources::Pattern<'a>>,
    service: usize,
    types: Vec<Option<Breadth>>,
    resourceless: Option<Breadth>,
}

impl<'a> BreadthMemo<'a> {
    fn new(spec: Option<&'a ResourceSpec<'a>>, version: Version) -> Self {
        let patterns =
            spec.map(|s| s.patterns.iter().map(|p| resources::Pattern::new(p, version)).collect()).unwrap_or_default();
        Self { spec, patterns, service: usize::MAX, types: Vec::new(), resourceless: None }
    }

    fn breadth(&mut self, i: usize) -> Breadth {
        let a = &ACTIONS[i];
        let Some(spec) = self.spec else { return Breadth::All };
        if spec.not {
            return resources::breadth_of(a, true, &self.patterns);
        }
        if a.resources().is_empty() {
            let patterns = &self.patterns;
            return *self.resourceless.get_or_insert_with(|| {
                if patterns.iter().any(resources::Pattern::matches_star) {
                    Breadth::All
                } else {
                    Breadth::None
                }
            });
        }
        let s = a.service as usize;
        if s != self.service {
            self.service = s;
            self.types.clear();
            self.types.resize(SERVICES[s].resource_types.len(), None);
        }
        let mut best = Breadth::None;
        for r in a.resources() {
            let t = r.resource_type as usize;
            let b = match self.types[t] {
                Some(b) => b,
                None => {
                    let rt = &SERVICES[s].resource_types[t];
                    let b = self.patterns.iter().map(|p| p.breadth(rt)).max().unwrap_or(Breadth::None);
                    self.types[t] = Some(b);
                    b
                }
            };
            best = best.max(b);
        }
        best
    }
}

/// Must-deny: does the Deny certainly apply to whoever the Allows grant? In an identity policy
/// a statement without `Principal` applies to the attached identity, and one with a `Principal`
/// (which IAM rejects there) cannot be relied on; in a resource or trust policy a statement
/// without one names no one, and `NotPrincipal` exempts someone.
fn deny_applies_to_everyone(stmt: &Statement<'_>, policy_type: PolicyType) -> bool {
    match (&stmt.principal, policy_type) {
        (None, PolicyType::Identity) => true,
        (None, _) | (Some(_), PolicyType::Identity) => false,
        (Some(p), _) => !p.not && p.entries.iter().any(|e| matches!(e.kind, "*" | "AWS") && e.value == "*"),
    }
}

impl<'p> Analysis<'p> {
    pub fn new(policy: &'p Policy<'p>, policy_type: PolicyType) -> Self {
        let mut unmatched = Vec::new();
        let mut denies = Vec::new();
        let mut deny_sets = Vec::new();
        let mut allows = Vec::new();
        for stmt in &policy.statements {
            let set = expand_spec(stmt, &mut unmatched);
            match stmt.effect {
                Effect::Allow => allows.push((stmt, set)),
                Effect::Deny => {
                    denies.push(stmt);
                    deny_sets.push(set);
                }
            }
        }
        let mut deny_notes = Vec::new();
        let mut grants = Vec::with_capacity(allows.len());
        let mut fully_denied_set = ActionSet::empty();
        for (stmt, named_all) in allows {
            let mut named = named_all.clone();
            // Allocated only when some deny applies (most policies have none).
            let mut denied: Option<ActionSet> = None;
            // Actions a `NotResource` deny leaves granted only on its exclusions: when those do
            // not span a whole resource type, neither does what remains of the grant.
            let mut capped: Option<ActionSet> = None;
            // Phase 1: every unconditional deny that applies to everyone cancels what it fully
            // covers, each judged against the original Allow, so statement order cannot matter.
            for (d, dset) in denies.iter().zip(&deny_sets) {
                if d.is_conditional() || !deny_applies_to_everyone(d, policy_type) || !named_all.intersects(dset) {
                    continue;
                }
                let mut overlap = named_all.clone();
                overlap.intersect_with(dset);
                // Must-deny: cancel an action only where the deny certainly covers every
                // resource the allow may grant it on (see `must_deny`).
                let deny_res = DenyResources::new(d.resource.as_ref(), policy.version);
                let cancel = if deny_res.is_everything() {
                    overlap
                } else {
                    let allow_res = AllowResources::new(stmt.resource.as_ref(), policy.version);
                    let mut cancel = ActionSet::empty();
                    let exclusions: Vec<resources::Pattern<'_>> = match &d.resource {
                        // (Not when an exclusion holds a policy variable: unresolved, the Deny
                        // may not apply at all.)
                        Some(r)
                            if r.not
                                && !(policy.version == Version::V2012
                                    && r.patterns.iter().any(|p| p.contains("${"))) =>
                        {
                            r.patterns.iter().map(|p| resources::Pattern::new(p, policy.version)).collect()
                        }
                        _ => Vec::new(),
                    };
                    for i in overlap.iter() {
                        if deny_res.removes(&allow_res, &ACTIONS[i]) {
                            cancel.insert(i);
                        } else if !exclusions.is_empty()
                            && resources::breadth_of(&ACTIONS[i], false, &exclusions) < Breadth::All
                        {
                            capped.get_or_insert_with(ActionSet::empty).insert(i);
                        }
                    }
                    cancel
                };
                named.subtract(&cancel);
                denied.get_or_insert_with(ActionSet::empty).union_with(&cancel);
            }
            // Phase 2: denies that still overlap what remains granted did not (fully) cancel it.
            for (d, dset) in denies.iter().zip(&deny_sets) {
                if !named.intersects(dset) {
                    continue;
                }
                let mut overlap = named.clone();
                overlap.intersect_with(dset);
                deny_notes.push(DenyNote {
                    deny: d,
                    allow: stmt.index,
                    conditional: d.is_conditional(),
                    overlap: overlap.len(),
                });
            }
            if let Some(d) = &denied {
                fully_denied_set.union_with(d);
            }
            let (effective, all, self_scoped) = if is_star_spec(stmt.resource.as_ref()) {
                (named.clone(), named.clone(), ActionSet::empty())
            } else {
                let mut memo = BreadthMemo::new(stmt.resource.as_ref(), policy.version);
                let (mut eff, mut all, mut selfs) = (ActionSet::empty(), ActionSet::empty(), ActionSet::empty());
                for i in named.iter() {
                    match memo.breadth(i) {
                        Breadth::None => {}
                        Breadth::Specific => eff.insert(i),
                        Breadth::SelfScoped => {
                            eff.insert(i);
                            selfs.insert(i);
                        }
                        Breadth::All => {
                            eff.insert(i);
                            all.insert(i);
                        }
                    }
                }
                (eff, all, selfs)
            };
            let mut all = all;
            if let Some(c) = &capped {
                all.subtract(c);
            }
            grants.push(Grant { stmt, named, effective, all, self_scoped, pin: Pinning::default() });
        }
        if policy_type == PolicyType::Identity {
            pin_grants(&mut grants);
        }
        let mut effective = ActionSet::empty();
        let mut all = ActionSet::empty();
        let mut all_unconditional = ActionSet::empty();
        let mut self_scoped = ActionSet::empty();
        for g in &grants {
            self_scoped.union_with(&g.self_scoped);
            effective.union_with(&g.effective);
            all.union_with(&g.all);
            if !g.conditional() {
                all_unconditional.union_with(&g.all);
            }
        }
        fully_denied_set.subtract(&effective);
        const SMALL: usize = 512;
        let (all_list, effective_list) = (all.small_list(SMALL), effective.small_list(SMALL));
        let (all_words, effective_words, self_words) =
            (all.nonzero_words(), effective.nonzero_words(), self_scoped.nonzero_words());
        Analysis {
            policy,
            policy_type,
            grants,
            denies,
            unmatched,
            deny_notes,
            effective,
            all,
            all_unconditional,
            self_scoped,
            all_list,
            effective_list,
            all_words,
            effective_words,
            self_words,
            fully_denied: fully_denied_set.len(),
        }
    }

    /// Widest breadth of action `i` with pinning conditions counted ([`Grant::pinned_breadth`]).
    pub fn pinned_breadth(&self, i: usize) -> Breadth {
        self.grants.iter().map(|g| g.pinned_breadth(i)).max().unwrap_or(Breadth::None)
    }

    /// Widest breadth at which action `i` is granted anywhere.
    pub fn breadth(&self, i: usize) -> Breadth {
        if self.all.contains(i) {
            return Breadth::All;
        }
        self.grants.iter().map(|g| g.breadth(i)).max().unwrap_or(Breadth::None)
    }

    /// Grants of action `i`, widest first, with their breadth.
    pub fn grants_of(&self, i: usize) -> Vec<(&Grant<'p>, Breadth)> {
        let mut v: Vec<_> =
            self.grants.iter().map(|g| (g, g.breadth(i))).filter(|(_, b)| *b != Breadth::None).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.stmt.index.cmp(&b.0.stmt.index)));
        v
    }

    /// The statement granting `i` most widely (unconditional preferred on ties).
    pub fn best_grant(&self, i: usize) -> Option<(&Grant<'p>, Breadth)> {
        self.grants.iter().map(|g| (g, g.breadth(i))).filter(|(_, b)| *b != Breadth::None).max_by(|a, b| {
            a.1.cmp(&b.1).then(b.0.conditional().cmp(&a.0.conditional())).then(b.0.stmt.index.cmp(&a.0.stmt.index))
        })
    }
}

/// Actions that can put a tag on an existing resource (*Tagging* actions other than removals
/// and reads): with one of them, a resource-tag condition is a label the holder can apply to
/// any resource of the service.
static TAG_ADDERS: once_cell::sync::Lazy<ActionSet> = once_cell::sync::Lazy::new(|| {
    let mut s = actions::at_level(iam_catalog::AccessLevel::Tagging).clone();
    s.subtract(&actions::with_name_prefixes(&s, &["untag", "delete", "remove", "list", "get", "describe"]));
    s
});

/// The ARN services of the resources action `i` acts on, and its own prefix.
fn arn_services(i: usize) -> impl Iterator<Item = &'static str> {
    let a = &ACTIONS[i];
    std::iter::once(a.service().prefix).chain(a.resources().iter().map(move |r| a.resource_type(r).arn_service()))
}

/// Record which grants their conditions certainly narrow. A literal resource-tag condition
/// narrows only if no statement of the policy can tag existing resources of the services the
/// grant reaches (a statement that tags only on creation, `<svc>:CreateAction`, cannot).
/// Must-restrict reasoning: any doubt leaves the grant as broad as its `Resource`.
fn pin_grants(grants: &mut [Grant<'_>]) {
    use crate::conditions::{grant_pins, resource_tag_non_pins, tags_only_on_create, GrantPin};
    if grants.iter().all(|g| !g.conditional()) {
        return;
    }
    // ARN services whose existing resources the policy can tag, with one such action each.
    // By ARN service, not action prefix: `ssm:SendCommand` acts on EC2 instances, which
    // `ec2:CreateTags` can label.
    let mut taggable: std::collections::BTreeMap<&'static str, usize> = std::collections::BTreeMap::new();
    for g in grants.iter() {
        if !g.effective.intersects(&TAG_ADDERS) || tags_only_on_create(g.stmt) {
            continue;
        }
        let mut t = g.effective.clone();
        t.intersect_with(&TAG_ADDERS);
        for i in t.iter() {
            for svc in arn_services(i) {
                taggable.entry(svc).or_insert(i);
            }
        }
    }
    for g in grants.iter_mut() {
        if !g.conditional() {
            continue;
        }
        if let Some(note) = resource_tag_non_pins(g.stmt).into_iter().next() {
            g.pin.void = Some(note);
        }
        for pin in grant_pins(g.stmt) {
            match pin {
                GrantPin::ResourceTag { text, .. } => {
                    let tagger = if taggable.is_empty() {
                        None
                    } else {
                        g.effective.iter().find_map(|i| arn_services(i).find_map(|svc| taggable.get(svc).copied()))
                    };
                    match tagger {
                        None => {
                            g.pin.resources.get_or_insert(text);
                        }
                        Some(t) => {
                            g.pin.void = Some(format!(
                                "{text} does not narrow it: the policy can also tag existing resources (`{}`)",
                                crate::rules::support::name(t)
                            ));
                        }
                    }
                }
                GrantPin::CreateOnly { text } => {
                    g.pin.resources.get_or_insert(format!("{text} (only resources created by that call)"));
                }
                GrantPin::Origin { text } => {
                    g.pin.origin.get_or_insert(text);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Grants of every breadth: all resources, named ones, the caller's own, a void ARN, and
    /// a `NotResource` one, over services whose actions lie far apart in the catalog.
    const POLICY: &str = r#"{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:Get*", "ec2:Describe*"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["s3:*", "iam:*"], "Resource": ["arn:aws:s3:::bucket/*", "arn:aws:iam::111122223333:user/${aws:username}"]},
        {"Effect": "Allow", "Action": "sqs:*", "Resource": "arn:aws:sns:*:*:topic"},
        {"Effect": "Allow", "Action": ["kms:Decrypt", "lambda:*"], "NotResource": "arn:aws:lambda:*:*:function:x"}
    ]}"#;

    proptest! {
        /// `grants_any_at` answers as testing `breadth` member by member.
        #[test]
        fn grants_any_at_matches_breadth_per_action(idx in proptest::collection::vec(0..ACTIONS.len(), 0..40), seed in 0usize..4) {
            let value: serde_json::Value = serde_json::from_str(POLICY).unwrap();
            let policy = Policy::parse(&value).unwrap();
            let a = Analysis::new(&policy, PolicyType::Identity);
            // Mix in members each grant really has, so hits are not all misses.
            let mut idx = idx;
            for g in &a.grants {
                idx.extend(g.effective.iter().skip(seed * 7).step_by(97).take(3));
                idx.extend(g.all.iter().skip(seed).take(1));
                idx.extend(g.self_scoped.iter().take(1));
            }
            let set = ActionSet::from_indices(&idx);
            prop_assert_eq!(set.iter().collect::<Vec<_>>(), idx.iter().copied().collect::<std::collections::BTreeSet<_>>().into_iter().collect::<Vec<_>>());
            for g in &a.grants {
                for min in [Breadth::None, Breadth::Specific, Breadth::SelfScoped, Breadth::All] {
                    let slow = idx.iter().any(|&i| { let b = g.breadth(i); b >= min && b != Breadth::None });
                    prop_assert_eq!(g.grants_any_at(&set, min), slow, "statement {} at {:?}", g.stmt.index, min);
                }
            }
        }
    }
}
