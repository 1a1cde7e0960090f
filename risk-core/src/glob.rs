//! IAM wildcard matching (`*`, `?`): matching, subsumption and intersection of patterns.
//!
//! IAM matches action names case-insensitively and ARNs case-sensitively; `*` matches any
//! run of characters (including `/` and `:`), `?` exactly one. Callers lowercase action
//! names before calling these byte-wise functions.

/// Does the glob `pattern` match the literal `text`?
pub fn matches(pattern: &str, text: &str) -> bool {
    matches_with(pattern.as_bytes(), text.as_bytes(), |b| b)
}

/// [`matches`](fn@matches) with the text's ASCII letters folded to lowercase: a lowercased action
/// pattern against a catalog name in its canonical case (`get*` matches `GetObject`).
pub fn matches_ignore_text_case(pattern_lc: &str, text: &str) -> bool {
    matches_with(pattern_lc.as_bytes(), text.as_bytes(), |b| b.to_ascii_lowercase())
}

#[inline(always)]
fn matches_with(p: &[u8], t: &[u8], fold: impl Fn(u8) -> u8) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    // Position after the last `*` seen in the pattern and the text index it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        // The pattern's `*` is always a wildcard, even against a literal `*` in the text.
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi + 1, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == b'?' || p[pi] == fold(t[ti])) {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// True when every string matched by `general` (whose only wildcard is `*`) is also
/// matched by `pattern`. Sound: `true` is always right; a few exotic inclusions
/// (e.g. `a*` ⊆ `a?*|a`) are answered `false`, which only makes a resource look narrower.
pub fn subsumes(pattern: &str, general: &str) -> bool {
    let (p, g) = (pattern.as_bytes(), general.as_bytes());
    if literal_ends_clash(p, g) {
        return false;
    }
    // Fast paths for the common shapes: a literal, and a literal prefix followed by `*`.
    if !has_wildcard(pattern) {
        return p == g && !g.contains(&b'*');
    }
    if let Some(prefix) = p.strip_suffix(b"*") {
        if !prefix.iter().any(|&c| c == b'*' || c == b'?') {
            return g.starts_with(prefix);
        }
    }
    // reach[j]: the pattern bytes so far can consume the first j bytes of `general`. On the
    // stack for the usual ARN lengths (this runs per pattern and resource type).
    let (mut reach_buf, mut next_buf) = ([false; 160], [false; 160]);
    let (mut reach_vec, mut next_vec);
    let (mut reach, mut next): (&mut [bool], &mut [bool]) = if g.len() < reach_buf.len() {
        (&mut reach_buf[..=g.len()], &mut next_buf[..=g.len()])
    } else {
        reach_vec = vec![false; g.len() + 1];
        next_vec = vec![false; g.len() + 1];
        (&mut reach_vec, &mut next_vec)
    };
    reach[0] = true;
    for &pc in p {
        next.iter_mut().for_each(|x| *x = false);
        if pc == b'*' {
            // A pattern star eats any run of `general`, its stars included.
            let mut any = false;
            for j in 0..=g.len() {
                any |= reach[j];
                next[j] = any;
            }
        } else {
            for j in 0..g.len() {
                if reach[j] && g[j] != b'*' && (pc == b'?' || pc == g[j]) {
                    next[j + 1] = true;
                }
            }
        }
        std::mem::swap(&mut reach, &mut next);
        if !reach.iter().any(|&r| r) {
            return false;
        }
    }
    reach[g.len()]
}

/// True when some string is matched by both globs (either may hold `*` and `?`).
pub fn intersects(a: &str, b: &str) -> bool {
    if literal_ends_clash(a.as_bytes(), b.as_bytes()) {
        return false;
    }
    if !has_wildcard(a) {
        return matches(b, a);
    }
    if !has_wildcard(b) {
        return matches(a, b);
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if let Some(prefix) = a.strip_suffix(b"*") {
        if !prefix.iter().any(|&c| c == b'*' || c == b'?') {
            // `prefix*` meets `b` unless `b` demands a different character (or ends) first.
            for (j, &pc) in prefix.iter().enumerate() {
                match b.get(j) {
                    None => return false,
                    Some(b'*') => return true,
                    Some(&bc) if bc == b'?' || bc == pc => {}
                    Some(_) => return false,
                }
            }
            return true;
        }
    }
    // Depth-first over (position in a, position in b); `seen` is a bitset in a buffer reused
    // by the thread (this runs per pattern and resource type, and zeroing a fresh
    // (|a|+1)x(|b|+1) byte grid each time was most of its cost).
    thread_local! {
        static BUFS: std::cell::RefCell<SearchBufs> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
    }
    BUFS.with(|bufs| {
        let mut bufs = bufs.borrow_mut();
        let (seen, stack) = &mut *bufs;
        intersects_search(a, b, seen, stack)
    })
}

/// The visited bitset and the work stack of [`intersects_search`].
type SearchBufs = (Vec<u64>, Vec<(usize, usize)>);

fn intersects_search(a: &[u8], b: &[u8], seen: &mut Vec<u64>, stack: &mut Vec<(usize, usize)>) -> bool {
    let w = b.len() + 1;
    seen.clear();
    seen.resize(((a.len() + 1) * w).div_ceil(64), 0);
    stack.clear();
    stack.push((0, 0));
    while let Some((i, j)) = stack.pop() {
        let k = i * w + j;
        if seen[k / 64] & (1 << (k % 64)) != 0 {
            continue;
        }
        seen[k / 64] |= 1 << (k % 64);
        if i == a.len() && j == b.len() {
            return true;
        }
        let ac = a.get(i).copied();
        let bc = b.get(j).copied();
        if ac == Some(b'*') {
            stack.push((i + 1, j));
            if bc.is_some() {
                stack.push((i, j + 1));
            }
        }
        if bc == Some(b'*') {
            stack.push((i, j + 1));
            if ac.is_some() {
                stack.push((i + 1, j));
            }
        }
        if let (Some(x), Some(y)) = (ac, bc) {
            if x != b'*' && y != b'*' && (x == b'?' || y == b'?' || x == y) {
                stack.push((i + 1, j + 1));
            }
        }
    }
    false
}

/// Quick rejection: two globs whose literal beginnings (before the first wildcard of either)
/// or literal endings (after the last wildcard of either) differ can match no common string.
fn literal_ends_clash(a: &[u8], b: &[u8]) -> bool {
    let wild = |c: u8| c == b'*' || c == b'?';
    for (x, y) in a.iter().zip(b) {
        if wild(*x) || wild(*y) {
            break;
        }
        if x != y {
            return true;
        }
    }
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if wild(*x) || wild(*y) {
            break;
        }
        if x != y {
            return true;
        }
    }
    false
}

/// Does the pattern contain a wildcard?
pub fn has_wildcard(s: &str) -> bool {
    s.bytes().any(|c| c == b'*' || c == b'?')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        assert!(matches_ignore_text_case("get*", "GetObject"));
        assert!(matches_ignore_text_case("*object", "GetObject"));
        assert!(matches_ignore_text_case("g?tobject", "GetObject"));
        assert!(!matches_ignore_text_case("put*", "GetObject"));
        // The pattern is not folded: callers lowercase it.
        assert!(!matches_ignore_text_case("Get*", "GetObject"));
        assert!(matches("*", ""));
        assert!(matches("*", "anything:at/all"));
        assert!(matches("s3:get*", "s3:getobject"));
        assert!(!matches("s3:get*", "s3:putobject"));
        assert!(matches("s3:*object", "s3:getobject"));
        assert!(matches("s3:?etobject", "s3:getobject"));
        assert!(!matches("s3:?etobject", "s3:etobject"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("arn:aws:s3:::*/*", "arn:aws:s3:::b/k"));
        assert!(matches("*?", "*"));
        assert!(matches("a*b", "a*b"));
        assert!(!matches("arn:aws:s3:::*/*", "arn:aws:s3:::b"));
    }

    #[test]
    fn subsumption() {
        assert!(subsumes("*", "arn:aws:s3:::*"));
        assert!(subsumes("arn:aws:s3:::*", "arn:aws:s3:::*/*"));
        assert!(subsumes("arn:aws:s3:::*/*", "arn:aws:s3:::*/*"));
        assert!(!subsumes("arn:aws:s3:::*/*", "arn:aws:s3:::*"));
        assert!(!subsumes("arn:aws:s3:::bucket/*", "arn:aws:s3:::*/*"));
        assert!(subsumes("role/*", "role/*"));
        assert!(!subsumes("role/a*", "role/*"));
        assert!(!subsumes("a?*", "a*"));
        assert!(subsumes("a?", "ab"));
    }

    #[test]
    fn intersection() {
        assert!(intersects("arn:aws:s3:::bucket/*", "arn:aws:s3:::*/*"));
        assert!(!intersects("arn:aws:s3:::bucket", "arn:aws:s3:::*/*"));
        assert!(intersects("a*", "*b"));
        assert!(!intersects("a*", "b*"));
        assert!(intersects("a?c", "*"));
        assert!(!intersects("abc", "abd"));
    }
}
