//! Action sets over the AWS catalog: wildcard expansion of `Action`/`NotAction` into bitsets.

use crate::glob;
use iam_catalog::{ACTIONS, SERVICES};

const WORDS: usize = iam_catalog::ACTION_COUNT.div_ceil(64);

/// A set of catalog actions, one bit per entry of [`iam_catalog::ACTIONS`].
#[derive(Clone, PartialEq, Eq)]
pub struct ActionSet {
    words: Box<[u64; WORDS]>,
}

impl std::fmt::Debug for ActionSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ActionSet({} actions)", self.len())
    }
}

impl Default for ActionSet {
    fn default() -> Self {
        Self::empty()
    }
}

impl ActionSet {
    pub fn empty() -> Self {
        Self { words: Box::new([0; WORDS]) }
    }

    pub fn all() -> Self {
        let mut s = Self::empty();
        s.insert_range(0..ACTIONS.len() as u32);
        s
    }

    pub fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub fn remove(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
    }

    pub fn contains(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }

    pub fn insert_range(&mut self, r: std::ops::Range<u32>) {
        let (mut i, end) = (r.start as usize, r.end as usize);
        while i < end {
            if i % 64 == 0 && i + 64 <= end {
                self.words[i / 64] = u64::MAX;
                i += 64;
            } else {
                self.insert(i);
                i += 1;
            }
        }
    }

    pub fn union_with(&mut self, other: &ActionSet) {
        for (a, b) in self.words.iter_mut().zip(other.words.iter()) {
            *a |= b;
        }
    }

    pub fn subtract(&mut self, other: &ActionSet) {
        for (a, b) in self.words.iter_mut().zip(other.words.iter()) {
            *a &= !b;
        }
    }

    pub fn intersect_with(&mut self, other: &ActionSet) {
        for (a, b) in self.words.iter_mut().zip(other.words.iter()) {
            *a &= b;
        }
    }

    pub fn complement(&mut self) {
        for w in self.words.iter_mut() {
            *w = !*w;
        }
        let tail = ACTIONS.len() % 64;
        if tail != 0 {
            self.words[WORDS - 1] &= (1u64 << tail) - 1;
        }
    }

    /// Is every member of `self` also in `other`?
    pub fn is_subset(&self, other: &ActionSet) -> bool {
        self.words.iter().zip(other.words.iter()).all(|(a, b)| a & !b == 0)
    }

    /// Size of the intersection, without building it.
    pub fn and_count(&self, other: &ActionSet) -> usize {
        self.words.iter().zip(other.words.iter()).map(|(a, b)| (a & b).count_ones() as usize).sum()
    }

    /// Members of `self` that are also in `other`, ascending. When `self_members` lists the
    /// members of `self` (a small set), only those are tested.
    pub fn and_members(&self, other: &ActionSet, self_members: Option<&[u32]>) -> Vec<usize> {
        match self_members {
            Some(list) => list.iter().map(|&i| i as usize).filter(|&i| other.contains(i)).collect(),
            None => {
                let mut out = Vec::new();
                for (w, (a, b)) in self.words.iter().zip(other.words.iter()).enumerate() {
                    let mut bits = a & b;
                    while bits != 0 {
                        out.push(w * 64 + bits.trailing_zeros() as usize);
                        bits &= bits - 1;
                    }
                }
                out
            }
        }
    }

    /// The members as a list when there are at most `max` of them.
    pub fn small_list(&self, max: usize) -> Option<Vec<u32>> {
        let mut out = Vec::new();
        for (w, &bits) in self.words.iter().enumerate() {
            let mut b = bits;
            while b != 0 {
                if out.len() == max {
                    return None;
                }
                out.push((w * 64) as u32 + b.trailing_zeros());
                b &= b - 1;
            }
        }
        Some(out)
    }

    pub fn intersects(&self, other: &ActionSet) -> bool {
        self.words.iter().zip(other.words.iter()).any(|(a, b)| a & b != 0)
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Number of members inside the index range `r`.
    pub fn count_range(&self, r: std::ops::Range<u32>) -> usize {
        let (start, end) = (r.start as usize, r.end as usize);
        if start >= end {
            return 0;
        }
        let (first, last) = (start / 64, (end - 1) / 64);
        let mut n = 0;
        for w in first..=last {
            let mut bits = self.words[w];
            if w == first {
                bits &= u64::MAX << (start % 64);
            }
            if w == last && end % 64 != 0 {
                bits &= (1u64 << (end % 64)) - 1;
            }
            n += bits.count_ones() as usize;
        }
        n
    }

    /// Does the set hold every index in `r`?
    pub fn contains_range(&self, r: std::ops::Range<u32>) -> bool {
        self.count_range(r.clone()) == r.len()
    }

    /// Member indices in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &bits)| {
            let mut b = bits;
            std::iter::from_fn(move || {
                if b == 0 {
                    return None;
                }
                let t = b.trailing_zeros() as usize;
                b &= b - 1;
                Some(w * 64 + t)
            })
        })
    }

    /// Member indices within the index range `r`, ascending.
    pub fn iter_range(&self, r: std::ops::Range<u32>) -> impl Iterator<Item = usize> + '_ {
        (r.start as usize..r.end as usize).filter(move |&i| self.contains(i))
    }
}

/// The members of `within` whose name (without prefix) starts with one of `prefixes`
/// (lowercase), ASCII case folded. The rules' verb sets are built once per process, and a
/// one-policy CLI run pays for all of them, so this tests only the candidates and rejects a
/// name at its first differing byte.
pub fn with_name_prefixes(within: &ActionSet, prefixes: &[&str]) -> ActionSet {
    // Which prefixes (bit k = prefixes[k]) begin with each lowercase first byte.
    let mut by_first = [0u64; 256];
    for (k, p) in prefixes.iter().enumerate().take(64) {
        if let Some(&b) = p.as_bytes().first() {
            by_first[usize::from(b)] |= 1 << k;
        }
    }
    let mut s = ActionSet::empty();
    for i in within.iter() {
        let name = ACTIONS[i].name().as_bytes();
        let Some(&b) = name.first() else { continue };
        let mut candidates = by_first[usize::from(b.to_ascii_lowercase())];
        while candidates != 0 {
            let p = prefixes[candidates.trailing_zeros() as usize].as_bytes();
            candidates &= candidates - 1;
            if name.len() >= p.len() && name[1..p.len()].eq_ignore_ascii_case(&p[1..]) {
                s.insert(i);
                break;
            }
        }
    }
    s
}

/// Per-access-level action sets and the actions that support resource-level permissions,
/// from one pass over the catalog.
struct CatalogFacts {
    levels: [ActionSet; 5],
    scopable: ActionSet,
}

static FACTS: once_cell::sync::Lazy<CatalogFacts> = once_cell::sync::Lazy::new(|| {
    let mut f = CatalogFacts { levels: Default::default(), scopable: ActionSet::empty() };
    for (i, a) in ACTIONS.iter().enumerate() {
        f.levels[a.access as usize].insert(i);
        if !a.resources().is_empty() {
            f.scopable.insert(i);
        }
    }
    f
});

/// Every catalog action of access level `level`.
pub fn at_level(level: iam_catalog::AccessLevel) -> &'static ActionSet {
    &FACTS.levels[level as usize]
}

/// Every catalog action that supports resource-level permissions (lists resource types).
pub fn scopable() -> &'static ActionSet {
    &FACTS.scopable
}

/// Why a pattern matched nothing in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmatched {
    /// Not `*` and not `service:action`.
    Malformed,
    /// No service has this prefix.
    UnknownService,
    /// The service exists but no action matches.
    UnknownAction,
}

/// Expand one action pattern (as written, any case) into `into`. Returns what went wrong
/// when the pattern matches no catalog action.
pub fn expand_into(pattern: &str, into: &mut ActionSet) -> Result<(), Unmatched> {
    if pattern.bytes().all(|c| c == b'*') && !pattern.is_empty() {
        into.insert_range(0..ACTIONS.len() as u32);
        return Ok(());
    }
    let Some((svc, name)) = pattern.split_once(':') else {
        return Err(Unmatched::Malformed);
    };
    if svc.is_empty() || name.is_empty() || name.contains(':') {
        return Err(Unmatched::Malformed);
    }
    if !glob::has_wildcard(svc) && !glob::has_wildcard(name) {
        // The common case, a literal `service:Action`: one hash lookup, no allocation.
        return match iam_catalog::action_index(pattern) {
            Some(i) => {
                into.insert(i);
                Ok(())
            }
            None if iam_catalog::service_index(svc).is_none() => Err(Unmatched::UnknownService),
            None => Err(Unmatched::UnknownAction),
        };
    }
    let name_lc = name.to_ascii_lowercase();
    let mut found = false;
    if glob::has_wildcard(svc) {
        let svc_lc = svc.to_ascii_lowercase();
        let mut any_service = false;
        for (s, svc) in SERVICES.iter().enumerate() {
            if glob::matches(&svc_lc, svc.prefix) {
                any_service = true;
                found |= expand_in_service(s, &name_lc, into);
            }
        }
        return match (found, any_service) {
            (true, _) => Ok(()),
            (false, true) => Err(Unmatched::UnknownAction),
            (false, false) => Err(Unmatched::UnknownService),
        };
    }
    let Some(s) = iam_catalog::service_index(svc) else {
        return Err(Unmatched::UnknownService);
    };
    if expand_in_service(s, &name_lc, into) {
        Ok(())
    } else {
        Err(Unmatched::UnknownAction)
    }
}

fn expand_in_service(s: usize, name_lc: &str, into: &mut ActionSet) -> bool {
    let range = SERVICES[s].actions.clone();
    if !glob::has_wildcard(name_lc) {
        return match iam_catalog::action_index_in(s, name_lc) {
            Some(i) => {
                into.insert(i);
                true
            }
            None => false,
        };
    }
    // Fast path: a literal prefix followed by a single trailing `*` is a contiguous range.
    if let Some(prefix) = name_lc.strip_suffix('*') {
        if !glob::has_wildcard(prefix) {
            let r = iam_catalog::prefix_range(s, prefix);
            let hit = !r.is_empty();
            into.insert_range(r);
            return hit;
        }
    }
    let mut hit = false;
    for (i, a) in ACTIONS.iter().enumerate().take(range.end as usize).skip(range.start as usize) {
        if glob::matches_ignore_text_case(name_lc, a.name()) {
            into.insert(i);
            hit = true;
        }
    }
    hit
}

/// The closest catalog action to an unknown `service:action`, for "did you mean" hints.
pub fn suggest(pattern: &str) -> Option<String> {
    let (svc, name) = pattern.split_once(':')?;
    let s = iam_catalog::service_index(svc)?;
    let name_lc = name.to_ascii_lowercase();
    let max = name.len().max(4) / 3;
    let r = SERVICES[s].actions.clone();
    let mut row = Vec::new();
    let mut candidate = Vec::new();
    let (best, dist) = (r.start as usize..r.end as usize)
        // A length difference beyond the budget alone rules a candidate out.
        .filter(|&i| ACTIONS[i].name().len().abs_diff(name_lc.len()) <= max)
        .map(|i| {
            candidate.clear();
            candidate.extend(ACTIONS[i].name().bytes().map(|b| b.to_ascii_lowercase()));
            (i, edit_distance(name_lc.as_bytes(), &candidate, &mut row))
        })
        .min_by_key(|&(i, d)| (d, i))?;
    (dist <= max).then(|| ACTIONS[best].full_name())
}

fn edit_distance(a: &[u8], b: &[u8], row: &mut Vec<usize>) -> usize {
    row.clear();
    row.extend(0..=b.len());
    for (i, &ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let cost = usize::from(ca != b[j]);
            let next = (diag + cost).min(row[j + 1] + 1).min(row[j] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(p: &str) -> ActionSet {
        let mut s = ActionSet::empty();
        expand_into(p, &mut s).unwrap();
        s
    }

    #[test]
    fn name_prefix_sets_match_a_scan_of_every_name() {
        for prefixes in [&["get", "list"][..], &["delete", "batchget", "untag"], &["a"], &["put"]] {
            let mut scan = ActionSet::empty();
            for (i, a) in ACTIONS.iter().enumerate() {
                if prefixes.iter().any(|p| a.name_starts_with_ignore_case(p)) {
                    scan.insert(i);
                }
            }
            assert_eq!(with_name_prefixes(&ActionSet::all(), prefixes), scan, "{prefixes:?}");
            assert!(!scan.is_empty());
        }
        let mut levels = ActionSet::empty();
        for l in iam_catalog::AccessLevel::ALL {
            assert!(!at_level(l).intersects(&levels));
            levels.union_with(at_level(l));
        }
        assert_eq!(levels, ActionSet::all());
        assert!(ACTIONS.iter().enumerate().all(|(i, a)| scopable().contains(i) == !a.resources().is_empty()));
    }

    #[test]
    fn star_is_everything() {
        assert_eq!(set("*").len(), ACTIONS.len());
        let mut c = set("*");
        c.complement();
        assert!(c.is_empty());
    }

    #[test]
    fn case_insensitive() {
        assert_eq!(set("IAM:passrole"), set("iam:PassRole"));
        assert_eq!(set("S3:GET*"), set("s3:get*"));
    }

    #[test]
    fn unknowns() {
        let mut s = ActionSet::empty();
        assert_eq!(expand_into("nosuchsvc:Get*", &mut s), Err(Unmatched::UnknownService));
        assert_eq!(expand_into("s3:GetObjectz", &mut s), Err(Unmatched::UnknownAction));
        assert_eq!(expand_into("s3", &mut s), Err(Unmatched::Malformed));
        assert!(s.is_empty());
        assert_eq!(suggest("s3:GetObjectz").as_deref(), Some("s3:GetObject"));
    }

    #[test]
    fn count_range_matches_iteration() {
        let s = set("s3:*");
        let r = SERVICES[iam_catalog::service_index("s3").unwrap()].actions.clone();
        assert_eq!(s.count_range(r.clone()), r.len());
        assert!(s.contains_range(r));
        assert_eq!(s.iter().count(), s.len());
    }
}
