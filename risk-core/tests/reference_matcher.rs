//! A slow, obviously-correct reference (plain recursive glob over every catalog action) checked
//! against the fast indexed expansion in `risk_core::actions`, and the `glob` module's
//! matching, subsumption and intersection checked against brute force.

use iam_catalog::{ACTIONS, SERVICES};
use risk_core::actions::{expand_into, ActionSet, Unmatched};
use risk_core::glob;
use std::collections::BTreeSet;

// ---------------------------------------------------------------------------------------------
// The reference.

/// Plain glob: `*` any run of characters (`:` and `/` included), `?` exactly one character,
/// everything else literal. Exponential in the worst case, which is fine for short patterns
/// (a run of stars is one star, which keeps `**:x*` from going quadratic). Byte-wise: every catalog name is ASCII, and a non-ASCII pattern character can match no
/// ASCII byte whether it is taken as one character or as several bytes.
fn glob_ref(p: &[u8], t: &[u8]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some((b'*', rest)) => {
            let rest = &rest[rest.iter().take_while(|&&c| c == b'*').count()..];
            (0..=t.len()).any(|k| glob_ref(rest, &t[k..]))
        }
        Some((b'?', rest)) => !t.is_empty() && glob_ref(rest, &t[1..]),
        Some((c, rest)) => t.first() == Some(c) && glob_ref(rest, &t[1..]),
    }
}

fn glob_str(p: &str, t: &str) -> bool {
    glob_ref(p.as_bytes(), t.as_bytes())
}

/// What the reference says a pattern is, in IAM's terms: `*` alone (any number of stars) is
/// every action; otherwise exactly one `:` with a non-empty service and action part, matched
/// by plain glob against each full lowercase name. Action names are ASCII and IAM folds ASCII
/// case only, so the pattern is ASCII-lowercased.
fn reference_expand(pattern: &str) -> Result<BTreeSet<usize>, Unmatched> {
    if !pattern.is_empty() && pattern.chars().all(|c| c == '*') {
        return Ok((0..ACTIONS.len()).collect());
    }
    let lc = pattern.to_ascii_lowercase();
    let parts: Vec<&str> = lc.split(':').collect();
    if parts.len() != 2 || parts[0].is_empty() || parts[1].is_empty() {
        return Err(Unmatched::Malformed);
    }
    let hits: BTreeSet<usize> = ACTIONS
        .iter()
        .enumerate()
        .filter(|(_, a)| glob_str(&lc, &a.full_name().to_ascii_lowercase()))
        .map(|(i, _)| i)
        .collect();
    if !hits.is_empty() {
        return Ok(hits);
    }
    if SERVICES.iter().any(|s| glob_str(parts[0], s.prefix)) {
        Err(Unmatched::UnknownAction)
    } else {
        Err(Unmatched::UnknownService)
    }
}

fn fast_expand(pattern: &str) -> (Result<(), Unmatched>, BTreeSet<usize>) {
    let mut set = ActionSet::empty();
    let r = expand_into(pattern, &mut set);
    (r, set.iter().collect())
}

/// Compares the sets exactly; compares only "matched something or not" for the error, except
/// where the reason is unambiguous (see `error_kind_*` below for the rest).
fn check(pattern: &str, failures: &mut Vec<String>) {
    let expected = reference_expand(pattern);
    let (got, set) = fast_expand(pattern);
    match (&expected, &got) {
        (Ok(want), Ok(())) if *want == set => {}
        (Err(_), Err(_)) if set.is_empty() => {}
        _ => {
            let show = |s: &BTreeSet<usize>| {
                let mut v: Vec<String> = s.iter().take(5).map(|&i| ACTIONS[i].full_name()).collect();
                if s.len() > 5 {
                    v.push(format!("… ({} in all)", s.len()));
                }
                v.join(", ")
            };
            let detail = match &expected {
                Ok(want) => {
                    let missing: BTreeSet<usize> = want.difference(&set).copied().collect();
                    let extra: BTreeSet<usize> = set.difference(want).copied().collect();
                    format!("missing [{}], extra [{}]", show(&missing), show(&extra))
                }
                Err(e) => format!("reference: {e:?}; fast inserted [{}]", show(&set)),
            };
            failures.push(format!(
                "`{pattern}`: reference {:?} vs fast {got:?}: {detail}",
                expected.as_ref().map(|s| s.len())
            ));
        }
    }
}

fn assert_none(failures: Vec<String>, what: &str) {
    assert!(
        failures.is_empty(),
        "{} {what} disagree:\n{}",
        failures.len(),
        failures.iter().take(30).cloned().collect::<Vec<_>>().join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// A small deterministic generator (SplitMix64): reproducible without a seed file.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next() % den < num
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn mangle_case(&mut self, s: &str) -> String {
        s.chars().map(|c| if self.chance(1, 2) { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect()
    }
}

/// Replace a few characters with `?` and insert a few `*`.
fn sprinkle(rng: &mut Rng, s: &str) -> String {
    let mut cs: Vec<char> = s.chars().collect();
    for _ in 0..rng.below(3) {
        if !cs.is_empty() {
            let i = rng.below(cs.len());
            if cs[i] != ':' {
                cs[i] = '?';
            }
        }
    }
    for _ in 0..rng.below(3) {
        let i = rng.below(cs.len() + 1);
        cs.insert(i, '*');
    }
    cs.into_iter().collect()
}

/// One generated action pattern, drawn from real action names.
fn generated_pattern(rng: &mut Rng) -> String {
    let a = &ACTIONS[rng.below(ACTIONS.len())];
    let svc = a.service().prefix;
    let name = if rng.chance(1, 2) { a.name().to_string() } else { a.name().to_ascii_lowercase() };
    let cut = |rng: &mut Rng, s: &str| {
        let n = rng.below(s.len() + 1);
        s[..n].to_string()
    };
    let p = match rng.below(20) {
        // A prefix of a real action name + `*`: the common `s3:Get*`.
        0..=4 | 19 => format!("{svc}:{}*", cut(rng, &name)),
        // The exact name, or one character off (often unknown).
        5 | 6 => {
            let mut n = name.clone();
            if rng.chance(1, 2) && !n.is_empty() {
                let i = rng.below(n.len());
                n.replace_range(i..i + 1, "x");
            }
            format!("{svc}:{n}")
        }
        // `*` inside the name: `s3:*Object*`, `iam:*Policy`.
        7..=9 => {
            let i = rng.below(name.len());
            let j = i + rng.below(name.len() - i) + 1;
            let lead = if rng.chance(2, 3) { "*" } else { "" };
            let trail = if rng.chance(2, 3) { "*" } else { "" };
            format!("{svc}:{lead}{}{trail}", &name[i..j])
        }
        // `?` and `*` at random positions of a real name.
        10..=13 => format!("{svc}:{}", sprinkle(rng, &name)),
        // Wildcards in the service part: `s3*:get*`, `?am:pass*`, `*:Describe*`.
        // (One `*` in the service part: two make the reference backtrack over every name.)
        14..=16 => {
            let mut s: Vec<char> = cut(rng, svc).chars().collect();
            if !s.is_empty() && rng.chance(1, 2) {
                let i = rng.below(s.len());
                s[i] = '?';
            }
            let i = rng.below(s.len() + 1);
            s.insert(i, '*');
            let n = cut(rng, &name);
            format!("{}:{n}*", s.into_iter().collect::<String>())
        }
        // (Rarer: a leading `*` makes the reference try every position of every name.)
        17 => {
            let n = cut(rng, &name);
            format!("*:{}", sprinkle(rng, &n))
        }
        // Malformed and odd shapes.
        _ => (*rng.pick(&[
            "s3",
            "s3:",
            ":GetObject",
            "s3:Get:Object",
            "s3?GetObject",
            "s3*GetObject",
            "*:",
            ":*",
            "**",
            "*:*",
            "***:**",
            "?*:*",
            "",
            "s3:get*object",
            "\u{212a}ms:Decrypt",
            "kms:\u{212a}",
            "s3:GetObj\u{e9}ct",
            "s3 :GetObject",
        ]))
        .to_string(),
    };
    if rng.chance(1, 2) {
        rng.mangle_case(&p)
    } else {
        p
    }
}

// ---------------------------------------------------------------------------------------------
// Action expansion.

#[test]
fn every_service_wildcard_expands_to_exactly_that_service() {
    let mut failures = Vec::new();
    for s in SERVICES {
        check(&format!("{}:*", s.prefix), &mut failures);
    }
    check("*", &mut failures);
    assert_none(failures, "service wildcards");
}

#[test]
fn generated_patterns_expand_like_the_reference() {
    let mut rng = Rng(0x1a4_2026);
    let mut failures = Vec::new();
    let (mut matched, mut empty) = (0, 0);
    for _ in 0..1500 {
        let p = generated_pattern(&mut rng);
        check(&p, &mut failures);
        match reference_expand(&p) {
            Ok(_) => matched += 1,
            Err(_) => empty += 1,
        }
    }
    assert_none(failures, "generated patterns");
    // The generator must exercise both outcomes, or the comparison says little.
    assert!(matched > 750 && empty > 100, "matched {matched}, empty {empty}");
}

#[test]
fn literal_action_names_in_any_case_find_themselves() {
    let mut rng = Rng(7);
    for (i, a) in ACTIONS.iter().enumerate() {
        let name = rng.mangle_case(&a.full_name());
        let (r, set) = fast_expand(&name);
        assert_eq!((r, set.into_iter().collect::<Vec<_>>()), (Ok(()), vec![i]), "`{name}`");
    }
}

/// The reason given for a pattern that matches nothing: the service is unknown only when no
/// catalog service matches the service part.
#[test]
fn error_kind_for_unmatched_patterns() {
    for p in ["nosuch:Get*", "s3:NoSuchAction", "s3:Get*Zzz", "S3:getobjectz", "nosuch*:*", "zz?:Get*", "s3:", "s3"] {
        let (got, set) = fast_expand(p);
        assert!(set.is_empty(), "`{p}` inserted actions");
        assert_eq!(got, reference_expand(p).map(|_| ()), "`{p}`");
    }
}

#[test]
fn error_kind_for_wildcard_service_with_no_matching_action() {
    // `s3*` matches services `s3`, `s3-object-lambda`, `s3-outposts`, …: the service exists,
    // the action does not.
    for p in ["s3*:NoSuchAction", "?am:Frobnicate*", "*:NoSuchActionAnywhere"] {
        let (got, _) = fast_expand(p);
        assert_eq!(got, Err(Unmatched::UnknownAction), "`{p}`");
    }
}

// ---------------------------------------------------------------------------------------------
// glob::matches, subsumes and intersects.

/// Every string over `alphabet` of length at most `max`, shortest first.
fn all_strings(alphabet: &[char], max: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut frontier = vec![String::new()];
    for _ in 0..max {
        let mut next = Vec::new();
        for s in &frontier {
            for &c in alphabet {
                next.push(format!("{s}{c}"));
            }
        }
        out.extend(next.iter().cloned());
        frontier = next;
    }
    out
}

/// `bits[k]` is true when `pattern` matches `texts[k]` (by the reference).
fn language(pattern: &str, texts: &[String]) -> Vec<bool> {
    texts.iter().map(|t| glob_str(pattern, t)).collect()
}

#[test]
fn matches_agrees_with_the_reference_exhaustively_on_small_alphabets() {
    let patterns = all_strings(&['a', 'b', '*', '?'], 5);
    let texts = all_strings(&['a', 'b'], 6);
    let mut failures = Vec::new();
    for p in &patterns {
        for t in &texts {
            if glob::matches(p, t) != glob_str(p, t) {
                failures.push(format!("matches({p:?}, {t:?}) = {}", glob::matches(p, t)));
            }
        }
    }
    assert_none(failures, "matches cases");
}

/// A `*` in the *text* is an ordinary character: the pattern's `*` must still be free to match
/// any run. (Callers do pass texts with `*`: a resource pattern is matched against the literal
/// `*` of actions without resource-level permissions.)
#[test]
fn a_star_in_the_text_is_a_literal_character() {
    for (p, t) in [("*", "*c"), ("*?", "*"), ("*", "*?*"), ("*?", "*ab"), ("*a", "*ba"), ("*-*", "*:**-*")] {
        assert!(glob_str(p, t), "reference: `{p}` matches `{t}`");
        assert!(glob::matches(p, t), "glob::matches(`{p}`, `{t}`) is false");
    }
}

#[test]
fn matches_agrees_with_the_reference_on_random_strings() {
    let mut rng = Rng(42);
    let pat_alpha = ['a', 'b', 'c', ':', '/', '*', '*', '?', '-'];
    let text_alpha = ['a', 'b', 'c', ':', '/', '-', '*', '?'];
    let mut failures = Vec::new();
    for _ in 0..50_000 {
        let p: String = (0..rng.below(10)).map(|_| *rng.pick(&pat_alpha)).collect();
        let t: String = (0..rng.below(12)).map(|_| *rng.pick(&text_alpha)).collect();
        if glob::matches(&p, &t) != glob_str(&p, &t) {
            failures.push(format!("matches({p:?}, {t:?}) = {}", glob::matches(&p, &t)));
        }
    }
    // Real shapes: catalog names against generated action patterns (lowercased, as callers do).
    for _ in 0..5_000 {
        let p = generated_pattern(&mut rng).to_ascii_lowercase();
        let canonical = ACTIONS[rng.below(ACTIONS.len())].full_name();
        let t = canonical.to_ascii_lowercase();
        if glob::matches(&p, &t) != glob_str(&p, &t) {
            failures.push(format!("matches({p:?}, {t:?}) = {}", glob::matches(&p, &t)));
        }
        // The catalog stores canonical case only; the folding matcher must agree with the
        // reference on the lowercased name.
        if glob::matches_ignore_text_case(&p, &canonical) != glob_str(&p, &t) {
            failures.push(format!(
                "matches_ignore_text_case({p:?}, {canonical:?}) = {}",
                glob::matches_ignore_text_case(&p, &canonical)
            ));
        }
    }
    assert_none(failures, "matches cases");
}

#[test]
fn subsumes_is_sound_exhaustively_on_small_alphabets() {
    // `general` holds only `*` (its documented contract); `pattern` holds `*` and `?`.
    let generals = all_strings(&['a', 'b', '*'], 4);
    let patterns = all_strings(&['a', 'b', '*', '?'], 4);
    let texts = all_strings(&['a', 'b'], 7);
    let glangs: Vec<Vec<bool>> = generals.iter().map(|g| language(g, &texts)).collect();
    let plangs: Vec<Vec<bool>> = patterns.iter().map(|p| language(p, &texts)).collect();
    let mut failures = Vec::new();
    let mut proved = 0;
    for (g, gl) in generals.iter().zip(&glangs) {
        for (p, pl) in patterns.iter().zip(&plangs) {
            let says = glob::subsumes(p, g);
            if says {
                proved += 1;
                if let Some(k) = (0..texts.len()).find(|&k| gl[k] && !pl[k]) {
                    failures.push(format!("subsumes({p:?}, {g:?}) but {p:?} does not match {:?}", texts[k]));
                }
            }
            // With no wildcard in `general`, inclusion is plain matching: no excuse to be unsure.
            if !g.contains('*') && says != glob_str(p, g) {
                failures.push(format!("subsumes({p:?}, literal {g:?}) = {says}, matches = {}", glob_str(p, g)));
            }
        }
    }
    assert_none(failures, "subsumes cases");
    assert!(proved > 1000, "subsumes proved only {proved} inclusions");
}

/// The brief's sampling check on realistic shapes: catalog ARN globs as `general`, policy
/// resource patterns as `pattern`; strings of `general`'s language are made by replacing each
/// `*` with a random short string.
#[test]
fn subsumes_is_sound_on_sampled_arns() {
    let mut generals: Vec<String> = Vec::new();
    for s in SERVICES {
        for rt in s.resource_types {
            if !rt.arn_service().is_empty() {
                generals.push(format!("arn:aws:{}:*:*:{}", rt.arn_service(), rt.resource_glob()));
                generals.push(rt.resource_glob().to_string());
            }
        }
    }
    generals.sort();
    generals.dedup();
    generals.retain(|g| !g.contains('?'));
    let patterns = [
        "*",
        "arn:aws:s3:::*",
        "arn:aws:s3:::*/*",
        "arn:aws:s3:::bucket/*",
        "arn:aws:iam::*:role/*",
        "arn:aws:iam::*:*",
        "arn:*:*:*:*:*",
        "arn:aws:*:*:*:*",
        "arn:aws:ec2:*:*:instance/*",
        "arn:aws:lambda:*:*:function:*",
        "*/*",
        "*:*",
        "role/*",
        "*?",
        "?*",
        "arn:aws:iam::123456789012:role/app",
        "arn:aws:*",
        "arn:aws:s3:::*?*",
    ];
    let pieces = ["", "a", "x/y", ":", "bucket", "role", "123456789012", "*", "?", "a:b/c", "us-east-1"];
    let mut rng = Rng(99);
    let mut failures = Vec::new();
    let mut proved = 0;
    for g in &generals {
        for p in patterns {
            if !glob::subsumes(p, g) {
                continue;
            }
            proved += 1;
            for _ in 0..8 {
                let sample: String = g
                    .split('*')
                    .enumerate()
                    .map(|(i, lit)| if i == 0 { lit.to_string() } else { format!("{}{lit}", rng.pick(&pieces)) })
                    .collect();
                if !glob_str(p, &sample) {
                    failures.push(format!("subsumes({p:?}, {g:?}) but {p:?} does not match {sample:?}"));
                }
            }
        }
    }
    assert_none(failures, "sampled subsumes cases");
    assert!(proved > 500, "subsumes proved only {proved} inclusions");
}

#[test]
fn intersects_agrees_with_brute_force_on_small_alphabets() {
    // A shortest common string never needs a character that both patterns eat with `*`, so
    // it is at most as long as the two patterns' non-`*` characters together: 4 + 4 here.
    let patterns = all_strings(&['a', 'b', '*', '?'], 4);
    let texts = all_strings(&['a', 'b'], 8);
    let langs: Vec<Vec<bool>> = patterns.iter().map(|p| language(p, &texts)).collect();
    let mut failures = Vec::new();
    for (a, la) in patterns.iter().zip(&langs) {
        for (b, lb) in patterns.iter().zip(&langs) {
            let truth = la.iter().zip(lb).any(|(x, y)| *x && *y);
            let got = glob::intersects(a, b);
            if got != truth {
                failures.push(format!("intersects({a:?}, {b:?}) = {got}, brute force {truth}"));
            }
        }
    }
    assert_none(failures, "intersects cases");
}
