//! Helpers shared by rules: resolving action lists, collecting evidence, building findings.

use super::{Finding, RuleMeta};
use crate::actions::ActionSet;
use crate::analysis::Analysis;
use crate::resources::Breadth;
use iam_catalog::ACTIONS;
use std::collections::BTreeSet;

/// Longest action list carried in a finding; the message gives the full count.
pub const MAX_LISTED: usize = 100;

/// Resolve catalog names (any case) to indices; names missing from the catalog are skipped,
/// so a rule keeps working when AWS retires an action. Debug builds (tests) fail instead.
pub fn resolve(names: &[&str]) -> Vec<usize> {
    debug_assert!(names.iter().all(|n| iam_catalog::action_index(n).is_some()), "not in the catalog: {names:?}");
    names.iter().filter_map(|n| iam_catalog::action_index(n)).collect()
}

/// Resolve to an [`ActionSet`].
pub fn resolve_set(names: &[&str]) -> ActionSet {
    let mut s = ActionSet::empty();
    for i in resolve(names) {
        s.insert(i);
    }
    s
}

pub fn name(i: usize) -> String {
    let a = &ACTIONS[i];
    let prefix = a.service().prefix;
    let mut s = String::with_capacity(prefix.len() + 1 + a.name().len());
    s.push_str(prefix);
    s.push(':');
    s.push_str(a.name());
    s
}

/// Sorted action names, at most [`MAX_LISTED`] (the first in catalog order).
pub fn names(idx: impl IntoIterator<Item = usize>) -> Vec<String> {
    let mut idx: Vec<usize> = idx.into_iter().collect();
    idx.sort_unstable();
    idx.dedup();
    idx.truncate(MAX_LISTED);
    let mut v: Vec<String> = idx.into_iter().map(name).collect();
    v.sort_unstable();
    v
}

/// "`a`, `b` and 3 more" (built by hand: it runs for every finding, and `format!` per item
/// was a tenth of a typical policy's scoring).
pub fn list_phrase(items: &[String], max: usize) -> String {
    let shown = items.len().min(max);
    let rest = items.len() - shown;
    let mut out = String::with_capacity(items[..shown].iter().map(|s| s.len() + 4).sum::<usize>() + 16);
    for (k, s) in items[..shown].iter().enumerate() {
        if k > 0 {
            out.push_str(if rest == 0 && k == shown - 1 { " and " } else { ", " });
        }
        out.push('`');
        out.push_str(s);
        out.push('`');
    }
    if rest > 0 && shown > 0 {
        out.push_str(" and ");
        out.push_str(&rest.to_string());
        out.push_str(" more");
    }
    out
}

/// Evidence gathered from the statements that grant a set of actions.
#[derive(Debug, Default)]
pub struct Evidence {
    pub statements: BTreeSet<usize>,
    pub sid: Option<String>,
    pub resources: Vec<String>,
    pub conditions: Option<serde_json::Value>,
    /// Every contributing grant is conditional.
    pub all_conditional: bool,
}

impl Evidence {
    /// Evidence that is one statement as written: its index, Sid, resources and condition.
    pub fn of_statement(stmt: &crate::policy::Statement<'_>) -> Self {
        Evidence {
            statements: [stmt.index].into_iter().collect(),
            sid: stmt.sid.map(str::to_string),
            resources: stmt
                .resource
                .as_ref()
                .map(|r| r.patterns.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default(),
            conditions: stmt.condition_raw.cloned(),
            all_conditional: stmt.is_conditional(),
        }
    }
}

/// Collect evidence for `idx` from grants with at least `min` breadth.
pub fn evidence(a: &Analysis<'_>, idx: impl IntoIterator<Item = usize>, min: Breadth) -> Evidence {
    let idx: Vec<usize> = idx.into_iter().collect();
    let set = ActionSet::from_indices(&idx);
    let mut ev = Evidence { all_conditional: true, ..Default::default() };
    let mut any = false;
    // Grants in statement order that give one of the actions at `min` or wider.
    for g in &a.grants {
        if !g.grants_any_at(&set, min) {
            continue;
        }
        any = true;
        ev.statements.insert(g.stmt.index);
        if ev.sid.is_none() {
            ev.sid = g.stmt.sid.map(str::to_string);
        }
        if let Some(r) = &g.stmt.resource {
            for p in &r.patterns {
                let p = if r.not { format!("NotResource:{p}") } else { p.to_string() };
                if !ev.resources.contains(&p) {
                    ev.resources.push(p);
                }
            }
        }
        if g.conditional() {
            if ev.conditions.is_none() {
                ev.conditions = g.stmt.condition_raw.cloned();
            }
        } else {
            ev.all_conditional = false;
        }
    }
    if !any {
        ev.all_conditional = false;
    }
    ev
}

impl Finding {
    /// A finding with evidence drawn from `ev`.
    pub fn new(
        rule: &'static RuleMeta,
        score: u8,
        actions: Vec<String>,
        ev: Evidence,
        message: String,
        suggestion: String,
    ) -> Self {
        // max_score is published (docs, SARIF security-severity): never exceed it.
        debug_assert!(
            (1..=rule.max_score).contains(&score),
            "{} scored {score}, outside 1..={}",
            rule.code,
            rule.max_score
        );
        Finding {
            rule,
            score: score.clamp(1, rule.max_score.max(1)),
            statements: ev.statements.into_iter().collect(),
            sid: ev.sid,
            actions,
            resources: ev.resources,
            conditions: ev.conditions,
            message,
            suggestion,
            paths: Vec::new(),
        }
    }
}

/// " (only under a condition: …)" when every grant is conditional.
pub fn condition_note(ev: &Evidence) -> &'static str {
    if ev.all_conditional {
        " (granted under a condition, which this score does not rely on)"
    } else {
        ""
    }
}

/// Does grant `g` give action `i` on some resource that is not the caller's own? A grant whose
/// breadth is `SelfScoped` may still list a named resource beside `${aws:username}` (the
/// widest pattern decides its breadth), so the other patterns are checked on their own.
fn reaches_beyond_self(a: &Analysis<'_>, g: &crate::analysis::Grant<'_>, i: usize) -> bool {
    match g.breadth(i) {
        Breadth::None => false,
        Breadth::Specific | Breadth::All => true,
        Breadth::SelfScoped => match &g.stmt.resource {
            Some(r) if !r.not => {
                let others: Vec<crate::resources::Pattern<'_>> = r
                    .patterns
                    .iter()
                    .map(|p| crate::resources::Pattern::new(p, a.policy.version))
                    .filter(|p| !p.is_self_scoped())
                    .collect();
                crate::resources::breadth_of(&ACTIONS[i], false, &others) != Breadth::None
            }
            // A missing `Resource` or a `NotResource` is never self-scoped; be generous.
            _ => true,
        },
    }
}

/// Scores by breadth for a list rule; `None` means "not reported at that breadth".
#[derive(Debug, Clone, Copy)]
pub struct Tiers {
    pub all: u8,
    pub self_scoped: Option<u8>,
    pub specific: Option<u8>,
}

/// The common shape of list rules: which of `candidates` are granted, and how widely.
/// `what` completes "can …" (e.g. "read secrets").
pub fn check_list(
    a: &Analysis<'_>,
    meta: &'static RuleMeta,
    candidates: &ActionSet,
    tiers: Tiers,
    what: &str,
    suggestion: &str,
    out: &mut Vec<Finding>,
) {
    let all_raw = a.all.and_members(candidates, Some(&a.all_words));
    // A grant narrowed by a pinning resource-tag condition counts as on named resources; an
    // action stays "on all resources" if any other grant gives it there.
    let any_pinned = a.grants.iter().any(|g| g.pin.resources.is_some());
    let all: Vec<usize> = if any_pinned {
        all_raw
            .iter()
            .copied()
            .filter(|&i| a.grants.iter().any(|g| g.pin.resources.is_none() && g.breadth(i) == Breadth::All))
            .collect()
    } else {
        all_raw.clone()
    };
    let (hits, mut score, breadth, scope) = if !all.is_empty() {
        (all, tiers.all, Breadth::All, "on all resources")
    } else {
        let selfs = a.self_scoped.and_members(candidates, Some(&a.self_words));
        match (tiers.self_scoped, selfs.is_empty()) {
            (Some(s), false) => (selfs, s, Breadth::SelfScoped, "on the caller's own resources"),
            _ => {
                let Some(s) = tiers.specific else { return };
                let mut eff = a.effective.and_members(candidates, Some(&a.effective_words));
                if tiers.self_scoped.is_none() {
                    // "Not reported on the caller's own resources": an action granted only on
                    // `${aws:username}` resources must not come back as a named-resource grant.
                    eff.retain(|&i| a.grants.iter().any(|g| reaches_beyond_self(a, g, i)));
                }
                if eff.is_empty() {
                    return;
                }
                let scope = if eff.iter().any(|i| all_raw.contains(i)) {
                    "only on the resources a condition pins"
                } else {
                    "on the named resources"
                };
                (eff, s, Breadth::Specific, scope)
            }
        }
    };
    let total = hits.len();
    let listed = names(hits.iter().copied());
    // The grants behind the finding, and what their conditions certainly narrow.
    let hit_set = ActionSet::from_indices(&hits);
    let behind: Vec<&crate::analysis::Grant<'_>> =
        a.grants.iter().filter(|g| g.grants_any_at(&hit_set, breadth)).collect();
    let mut notes: Vec<String> = Vec::new();
    for g in &behind {
        if let Some(p) = g.pin.resources.as_ref().filter(|_| breadth == Breadth::Specific) {
            notes.push(format!("{p} pins the resources, so they count as named"));
        }
        if let Some(v) = &g.pin.void {
            notes.push(v.clone());
        }
    }
    let origin: Vec<&String> = behind.iter().filter_map(|g| g.pin.origin.as_ref()).collect();
    if !behind.is_empty() && origin.len() == behind.len() && score > 2 {
        // Every grant works only from one network: credentials taken elsewhere are useless,
        // while the holder's own code inside it keeps the full grant, so one step only.
        score -= 1;
        notes.push(format!("{} limits it to one network, which lowers the score by 1", origin[0]));
    }
    notes.dedup();
    let ev = evidence(a, hits.iter().copied(), breadth);
    let more = if total > MAX_LISTED { format!(" ({total} actions in all)") } else { String::new() };
    let cond = if notes.is_empty() { condition_note(&ev).to_string() } else { format!(" ({})", notes.join("; ")) };
    let msg = format!("can {what} {scope}: {}{more}{cond}", list_phrase(&listed, 4));
    out.push(Finding::new(meta, score, listed, ev, msg, suggestion.to_string()));
}

/// Catalog actions of the given services whose lowercase name starts with one of `verbs`
/// and whose access level is in `levels`.
pub fn by_verbs(services: Option<&[&str]>, verbs: &[&str], levels: &[iam_catalog::AccessLevel]) -> ActionSet {
    let mut wanted = ActionSet::empty();
    for &l in levels {
        wanted.union_with(crate::actions::at_level(l));
    }
    if let Some(list) = services {
        let mut keep = ActionSet::empty();
        for svc in list.iter().filter_map(|p| iam_catalog::service_index(p)) {
            keep.insert_range(iam_catalog::SERVICES[svc].actions.clone());
        }
        wanted.intersect_with(&keep);
    }
    crate::actions::with_name_prefixes(&wanted, verbs)
}

#[cfg(test)]
mod tests {
    use super::list_phrase;

    #[test]
    fn list_phrase_reads_as_before() {
        let items: Vec<String> = ["a", "b", "c", "d", "e"].iter().map(|s| s.to_string()).collect();
        let phrase = |n: usize, max: usize| list_phrase(&items[..n], max);
        assert_eq!(phrase(0, 4), "");
        assert_eq!(phrase(1, 4), "`a`");
        assert_eq!(phrase(2, 4), "`a` and `b`");
        assert_eq!(phrase(4, 4), "`a`, `b`, `c` and `d`");
        assert_eq!(phrase(5, 4), "`a`, `b`, `c`, `d` and 1 more");
        assert_eq!(phrase(5, 1), "`a` and 4 more");
        assert_eq!(phrase(3, 0), "");
    }
}
