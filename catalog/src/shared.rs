//! Functions shared by `build.rs` (which generates the tables) and the library, so the
//! lookup hash and the template rewriting are one piece of code on both sides.

/// The lookup table's hash: word-at-a-time, ASCII case folded by setting bit 5 of every byte
/// (both cases of a letter hash alike; other bytes may collide, which the final comparison
/// resolves).
pub fn name_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) | 0x2020_2020_2020_2020;
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rest.len()].copy_from_slice(rest);
        let w = u64::from_le_bytes(buf) | 0x2020_2020_2020_2020;
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

/// Replace every `${…}` (ARN template variables, IAM policy variables) with `*`; an
/// unterminated `${` is kept as text.
pub fn variables_to_wildcards(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
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
    out
}
