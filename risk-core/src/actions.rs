//! Action sets over the AWS catalog: wildcard expansion of `Action`/`NotAction` into bitsets.

use crate::glob;
use iam_catalog::{ACTIONS, SERVICES};

const WORDS: usize = iam_catalog::ACTION_COUNT.div_ceil(64);

/// A set of catalog actions, one bit per entry of [`iam_catalog::ACTIONS`].
///
/// Only the words between the lowest and the highest ever touched are stored: actions are
/// ordered by service, so the sets of a typical policy span a few services' worth of words,
/// not all 22,000 bits. An empty set allocates nothing (a full-width set was 2.8 KB to
/// allocate and zero, ~20 times per policy). Words outside `lo..lo + words.len()` are zero.
#[derive(Clone, Default)]
pub struct ActionSet {
    lo: usize,
    words: Vec<u64>,
}

impl std::fmt::Debug for ActionSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ActionSet({} actions)", self.len())
    }
}

impl PartialEq for ActionSet {
    fn eq(&self, other: &Self) -> bool {
        let (lo, hi) = (self.lo.min(other.lo), self.hi().max(other.hi()));
        (lo..hi).all(|w| self.word(w) == other.word(w))
    }
}

impl Eq for ActionSet {}

impl ActionSet {
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn all() -> Self {
        let mut s = Self::empty();
        s.insert_range(0..ACTIONS.len() as u32);
        s
    }

    /// The set of the given indices (any order).
    pub fn from_indices(idx: &[usize]) -> Self {
        let mut s = Self::empty();
        if let (Some(&lo), Some(&hi)) = (idx.iter().min(), idx.iter().max()) {
            s.cover(lo / 64, hi / 64 + 1);
            for &i in idx {
                s.words[i / 64 - s.lo] |= 1 << (i % 64);
            }
        }
        s
    }

    /// One past the highest stored word.
    fn hi(&self) -> usize {
        self.lo + self.words.len()
    }

    /// Word `w`, zero outside the stored range.
    fn word(&self, w: usize) -> u64 {
        w.checked_sub(self.lo).and_then(|k| self.words.get(k)).copied().unwrap_or(0)
    }

    /// The stored words overlapping `other`'s: `(first word, self slice, other slice)`.
    fn overlap<'a>(&'a self, other: &'a ActionSet) -> (usize, &'a [u64], &'a [u64]) {
        let (lo, hi) = (self.lo.max(other.lo), self.hi().min(other.hi()));
        if lo >= hi {
            return (lo, &[], &[]);
        }
        (lo, &self.words[lo - self.lo..hi - self.lo], &other.words[lo - other.lo..hi - other.lo])
    }

    /// Widen the stored range to cover words `lo..hi`.
    fn cover(&mut self, lo: usize, hi: usize) {
        if self.words.is_empty() {
            self.lo = lo;
            self.words.resize(hi - lo, 0);
            return;
        }
        if lo < self.lo {
            let mut w = vec![0; self.lo - lo];
            w.extend_from_slice(&self.words);
            self.words = w;
            self.lo = lo;
        }
        if hi > self.hi() {
            self.words.resize(hi - self.lo, 0);
        }
    }

    pub fn insert(&mut self, i: usize) {
        let w = i / 64;
        if w < self.lo || w >= self.hi() {
            self.cover(w, w + 1);
        }
        self.words[w - self.lo] |= 1 << (i % 64);
    }

    pub fn remove(&mut self, i: usize) {
        let w = i / 64;
        if w >= self.lo && w < self.hi() {
            self.words[w - self.lo] &= !(1 << (i % 64));
        }
    }

    pub fn contains(&self, i: usize) -> bool {
        self.word(i / 64) & (1 << (i % 64)) != 0
    }

    pub fn insert_range(&mut self, r: std::ops::Range<u32>) {
        let (mut i, end) = (r.start as usize, r.end as usize);
        if i >= end {
            return;
        }
        self.cover(i / 64, (end - 1) / 64 + 1);
        // A word at a time: the bits from `i` up to the end of its word or of the range.
        while i < end {
            let (w, bit) = (i / 64, i % 64);
            let n = (64 - bit).min(end - i);
            let mask = if n == 64 { u64::MAX } else { ((1u64 << n) - 1) << bit };
            self.words[w - self.lo] |= mask;
            i += n;
        }
    }

    pub fn union_with(&mut self, other: &ActionSet) {
        let Some(first) = other.words.iter().position(|&w| w != 0) else { return };
        let last = other.words.iter().rposition(|&w| w != 0).unwrap_or(first);
        self.cover(other.lo + first, other.lo + last + 1);
        let off = other.lo + first - self.lo;
        for (a, b) in self.words[off..].iter_mut().zip(&other.words[first..=last]) {
            *a |= b;
        }
    }

    pub fn subtract(&mut self, other: &ActionSet) {
        let (lo, hi) = (self.lo.max(other.lo), self.hi().min(other.hi()));
        if lo >= hi {
            return;
        }
        let theirs = &other.words[lo - other.lo..hi - other.lo];
        for (a, b) in self.words[lo - self.lo..hi - self.lo].iter_mut().zip(theirs) {
            *a &= !b;
        }
    }

    pub fn intersect_with(&mut self, other: &ActionSet) {
        let lo = self.lo;
        for (k, a) in self.words.iter_mut().enumerate() {
            *a &= other.word(lo + k);
        }
    }

    pub fn complement(&mut self) {
        let words: Vec<u64> = (0..WORDS).map(|w| !self.word(w)).collect();
        self.lo = 0;
        self.words = words;
        let tail = ACTIONS.len() % 64;
        if tail != 0 {
            self.words[WORDS - 1] &= (1u64 << tail) - 1;
        }
    }

    /// Is every member of `self` also in `other`?
    pub fn is_subset(&self, other: &ActionSet) -> bool {
        self.words.iter().enumerate().all(|(k, a)| a & !other.word(self.lo + k) == 0)
    }

    /// Size of the intersection, without building it.
    pub fn and_count(&self, other: &ActionSet) -> usize {
        let (_, a, b) = self.overlap(other);
        a.iter().zip(b).map(|(a, b)| (a & b).count_ones() as usize).sum()
    }

    /// Members of `self` that are also in `other`, ascending. When `self_words` lists the
    /// indices of `self`'s non-zero words ([`ActionSet::nonzero_words`]), only those words are
    /// intersected: a policy's sets usually touch a few dozen of the hundreds of words between
    /// their lowest and highest member, and rules ask this of the same sets dozens of times.
    pub fn and_members(&self, other: &ActionSet, self_words: Option<&[u32]>) -> Vec<usize> {
        let mut out = Vec::new();
        let mut push = |w: usize, mut bits: u64| {
            while bits != 0 {
                out.push(w * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        };
        match self_words {
            Some(words) => {
                for &w in words {
                    let w = w as usize;
                    push(w, self.word(w) & other.word(w));
                }
            }
            None => {
                let (lo, a, b) = self.overlap(other);
                for (k, (a, b)) in a.iter().zip(b).enumerate() {
                    push(lo + k, a & b);
                }
            }
        }
        out
    }

    /// Indices of the words holding at least one member, ascending (for
    /// [`ActionSet::and_members`]).
    pub fn nonzero_words(&self) -> Vec<u32> {
        self.words.iter().enumerate().filter(|(_, &w)| w != 0).map(|(k, _)| (self.lo + k) as u32).collect()
    }

    /// The members as a list when there are at most `max` of them.
    pub fn small_list(&self, max: usize) -> Option<Vec<u32>> {
        let mut out = Vec::new();
        for (k, &bits) in self.words.iter().enumerate() {
            let mut b = bits;
            while b != 0 {
                if out.len() == max {
                    return None;
                }
                out.push(((self.lo + k) * 64) as u32 + b.trailing_zeros());
                b &= b - 1;
            }
        }
        Some(out)
    }

    pub fn intersects(&self, other: &ActionSet) -> bool {
        let (_, a, b) = self.overlap(other);
        a.iter().zip(b).any(|(a, b)| a & b != 0)
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
        for w in first.max(self.lo)..=last.min(self.hi().saturating_sub(1)) {
            let mut bits = self.word(w);
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
        let lo = self.lo;
        self.words.iter().enumerate().flat_map(move |(k, &bits)| {
            let mut b = bits;
            std::iter::from_fn(move || {
                if b == 0 {
                    return None;
                }
                let t = b.trailing_zeros() as usize;
                b &= b - 1;
                Some((lo + k) * 64 + t)
            })
        })
    }

    /// Member indices within the index range `r`, ascending.
    pub fn iter_range(&self, r: std::ops::Range<u32>) -> impl Iterator<Item = usize> + '_ {
        (r.start as usize..r.end as usize).filter(move |&i| self.contains(i))
    }
}

/// The members of `within` whose name (without prefix) starts with one of `prefixes`,
/// ASCII case folded; an empty prefix matches every name. The rules' verb sets are built
/// once per process, and a one-policy CLI run pays for all of them, so this decides by the
/// catalog's leading word of each name (`Get` of `GetObject`) and reads names only where
/// the word cannot decide.
pub fn with_name_prefixes(within: &ActionSet, prefixes: &[&str]) -> ActionSet {
    // Every name starts with its leading word. Against the prefixes, a word that starts with
    // one of them decides "every name with it matches"; a word that is a proper prefix of one
    // of them leaves the names to be compared (`Batch` for `batchget`); any other word
    // differs from every prefix inside the word, so no name with it matches.
    #[derive(Clone, Copy, PartialEq)]
    enum Word {
        No,
        All,
        Compare,
    }
    let starts = |s: &[u8], p: &[u8]| s.len() >= p.len() && s[..p.len()].eq_ignore_ascii_case(p);
    let mut words = [Word::No; iam_catalog::VERB_COUNT];
    for (v, w) in words.iter_mut().enumerate() {
        let word = iam_catalog::verb_text(v).as_bytes();
        for p in prefixes.iter().map(|p| p.as_bytes()) {
            if starts(word, p) {
                *w = Word::All;
                break;
            }
            if starts(p, word) {
                *w = Word::Compare;
            }
        }
    }
    // Word by word over `within`'s stored range: the result has the same range.
    let mut out = Vec::with_capacity(within.words.len());
    for (k, &bits) in within.words.iter().enumerate() {
        let base = (within.lo + k) * 64;
        let (mut b, mut kept) = (bits, 0u64);
        while b != 0 {
            let t = b.trailing_zeros();
            b &= b - 1;
            let a = &ACTIONS[base + t as usize];
            let hit = match words[a.verb_index()] {
                Word::No => false,
                Word::All => true,
                Word::Compare => prefixes.iter().any(|p| a.name_starts_with_ignore_case(p)),
            };
            kept |= u64::from(hit) << t;
        }
        out.push(kept);
    }
    ActionSet { lo: within.lo, words: out }
}

/// Per-access-level action sets and the actions that support resource-level permissions,
/// from one pass over the catalog.
struct CatalogFacts {
    levels: [ActionSet; 5],
    scopable: ActionSet,
}

static FACTS: once_cell::sync::Lazy<CatalogFacts> = once_cell::sync::Lazy::new(|| {
    // Every level appears in most services, so each set spans the whole catalog: size them
    // once instead of growing them action by action.
    let full = || ActionSet { lo: 0, words: vec![0; WORDS] };
    let mut f = CatalogFacts { levels: std::array::from_fn(|_| full()), scopable: full() };
    for (i, a) in ACTIONS.iter().enumerate() {
        f.levels[a.access as usize].words[i / 64] |= 1 << (i % 64);
        if !a.resources().is_empty() {
            f.scopable.words[i / 64] |= 1 << (i % 64);
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

    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// Index ranges clustered like real policies (a few services) and spread over the catalog.
    fn ranges() -> impl Strategy<Value = Vec<(u32, u32)>> {
        let n = ACTIONS.len() as u32;
        proptest::collection::vec((0..n, 0u32..300), 0..6)
            .prop_map(move |v| v.into_iter().map(|(start, len)| (start, (start + len).min(n))).collect())
    }

    fn build(r: &[(u32, u32)], singles: &[u32]) -> (ActionSet, BTreeSet<usize>) {
        let (mut s, mut m) = (ActionSet::empty(), BTreeSet::new());
        for &(a, b) in r {
            s.insert_range(a..b);
            m.extend(a as usize..b as usize);
        }
        for &i in singles {
            s.insert(i as usize);
            m.insert(i as usize);
        }
        (s, m)
    }

    proptest! {
        /// The word-range set behaves as a plain set of indices under every operation.
        #[test]
        fn action_set_matches_a_btreeset(
            ra in ranges(), sa in proptest::collection::vec(0..ACTIONS.len() as u32, 0..20),
            rb in ranges(), sb in proptest::collection::vec(0..ACTIONS.len() as u32, 0..20),
            probe in proptest::collection::vec(0..ACTIONS.len() as u32, 0..20),
        ) {
            let (a, ma) = build(&ra, &sa);
            let (b, mb) = build(&rb, &sb);
            let list = |s: &ActionSet| s.iter().collect::<Vec<_>>();
            prop_assert_eq!(list(&a), ma.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(a.len(), ma.len());
            prop_assert_eq!(a.is_empty(), ma.is_empty());
            let mut u = a.clone();
            u.union_with(&b);
            prop_assert_eq!(list(&u), ma.union(&mb).copied().collect::<Vec<_>>());
            let mut i = a.clone();
            i.intersect_with(&b);
            prop_assert_eq!(list(&i), ma.intersection(&mb).copied().collect::<Vec<_>>());
            let mut d = a.clone();
            d.subtract(&b);
            prop_assert_eq!(list(&d), ma.difference(&mb).copied().collect::<Vec<_>>());
            let mut c = a.clone();
            c.complement();
            prop_assert_eq!(c.len(), ACTIONS.len() - ma.len());
            prop_assert!(!c.intersects(&a));
            prop_assert_eq!(a.intersects(&b), !ma.is_disjoint(&mb));
            prop_assert_eq!(a.is_subset(&b), ma.is_subset(&mb));
            prop_assert_eq!(a.and_count(&b), ma.intersection(&mb).count());
            prop_assert_eq!(a.and_members(&b, None), ma.intersection(&mb).copied().collect::<Vec<_>>());
            prop_assert_eq!(a.and_members(&b, Some(&a.nonzero_words())), ma.intersection(&mb).copied().collect::<Vec<_>>());
            prop_assert!(a.nonzero_words().iter().all(|&w| (w as usize * 64..w as usize * 64 + 64).any(|i| ma.contains(&i))));
            prop_assert_eq!(a.nonzero_words().len(), ma.iter().map(|i| i / 64).collect::<std::collections::BTreeSet<_>>().len());
            prop_assert_eq!(a == b, ma == mb);
            let mut again = ActionSet::empty();
            for &x in ma.iter().rev() {
                again.insert(x);
            }
            prop_assert_eq!(&again, &a);
            for &p in &probe {
                let p = p as usize;
                prop_assert_eq!(a.contains(p), ma.contains(&p));
                let r = p as u32..(p as u32 + 130).min(ACTIONS.len() as u32);
                let want = ma.range(r.start as usize..r.end as usize).count();
                prop_assert_eq!(a.count_range(r.clone()), want);
                prop_assert_eq!(a.contains_range(r.clone()), want == r.len());
                let mut rm = a.clone();
                rm.remove(p);
                prop_assert!(!rm.contains(p));
                prop_assert_eq!(rm.len(), ma.len() - usize::from(ma.contains(&p)));
            }
            match a.small_list(10) {
                Some(l) => prop_assert_eq!(l.into_iter().map(|x| x as usize).collect::<Vec<_>>(), list(&a)),
                None => prop_assert!(ma.len() > 10),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any prefixes (cut from real names at any length, in either case, or arbitrary
        /// bytes) over any access level's set: the leading-word shortcut keeps exactly what
        /// comparing every name keeps. A set too small would drop actions from the rules.
        #[test]
        fn name_prefix_sets_match_a_scan_for_any_prefixes(
            picks in proptest::collection::vec((0..ACTIONS.len(), 0usize..14, any::<bool>()), 1..6),
            other in "[a-zA-Z]{0,4}",
            level in 0usize..5,
        ) {
            let mut prefixes: Vec<String> = picks
                .iter()
                .map(|&(i, len, upper)| {
                    let name = ACTIONS[i].name();
                    let p = &name[..len.min(name.len())];
                    if upper { p.to_ascii_uppercase() } else { p.to_ascii_lowercase() }
                })
                .collect();
            prefixes.push(other);
            let refs: Vec<&str> = prefixes.iter().map(String::as_str).collect();
            let within = at_level(iam_catalog::AccessLevel::ALL[level]);
            let mut scan = ActionSet::empty();
            for i in within.iter().filter(|&i| refs.iter().any(|p| ACTIONS[i].name_starts_with_ignore_case(p))) {
                scan.insert(i);
            }
            prop_assert_eq!(with_name_prefixes(within, &refs), scan);
        }
    }

    #[test]
    fn name_prefix_sets_match_a_scan_of_every_name() {
        for prefixes in [
            &["get", "list"][..],
            &["delete", "batchget", "untag"],
            &["a"],
            &["Put"],
            &["describe", ""],
            // Longer than the leading word (`Batch`, `G` of `GET`), equal to it, inside it.
            &["BATCHGETITEM", "ge", "getobject"],
            &["batch", "g"],
            &["GET", "POST"],
        ] {
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
        assert!(ACTIONS.iter().enumerate().all(|(i, a)| scopable().contains(i) != a.resources().is_empty()));
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
