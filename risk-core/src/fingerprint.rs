//! Policy fingerprints: sha256 of canonical JSON, byte-compatible with the predecessor's
//! `json.dumps(policy, sort_keys=True, separators=(",", ":"))`.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// `sha256:<hex>` of the canonical JSON of `v`.
pub fn fingerprint(v: &Value) -> String {
    thread_local! {
        static BUF: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    let digest = BUF.with(|b| {
        let mut buf = b.borrow_mut();
        buf.clear();
        canonical(v, &mut buf);
        Sha256::digest(buf.as_bytes())
    });
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in digest {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

/// Canonical JSON: sorted keys, no spaces, ASCII-only escapes, Python float formatting.
pub fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else if let Some(f) = n.as_f64() {
                python_float(f, out);
            }
        }
        Value::String(s) => string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(k, out);
                out.push(':');
                canonical(&map[k.as_str()], out);
            }
            out.push('}');
        }
    }
}

/// Does any byte of `w` need escaping: a control byte (< 0x20), `"`, `\`, DEL or non-ASCII?
/// (Bit tricks over eight bytes at a time; most policy strings need no escape at all.)
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH != 0;
    // Bytes below 0x20, then bytes at 0x7f or above (0x7f + 1 sets the high bit).
    let low = w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0;
    let del_or_high = (w | (w & !HIGH).wrapping_add(ONES)) & HIGH != 0;
    low || del_or_high || has_zero(w ^ (ONES * u64::from(b'"'))) || has_zero(w ^ (ONES * u64::from(b'\\')))
}

fn string(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight clean bytes at a time.
        if let Some(chunk) = bytes.get(i..i + 8) {
            let w = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            if !needs_escape(w) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        // Printable ASCII other than `"` and `\` is copied as is, in runs.
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&s[start..i]);
        // Escapes are only needed at char boundaries: ASCII bytes, or a UTF-8 lead byte.
        let c = s[i..].chars().next().unwrap_or('\u{fffd}');
        i += c.len_utf8();
        start = i;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
        }
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Python's `repr(float)`: shortest round-trip digits, exponent form outside 1e-4..1e16.
fn python_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    if negative {
        out.push('-');
    }
    if (-4..16).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                for _ in digits.len()..int_len {
                    out.push('0');
                }
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: Value) -> String {
        let mut s = String::new();
        canonical(&v, &mut s);
        s
    }

    #[test]
    fn matches_python_json_dumps() {
        // Expected strings produced by CPython 3.11 json.dumps(v, sort_keys=True, separators=(",", ":")).
        assert_eq!(canon(json!({"b": 1, "a": [true, null, "x"]})), r#"{"a":[true,null,"x"],"b":1}"#);
        assert_eq!(canon(json!("é😀\n\"/")), r#""\u00e9\ud83d\ude00\n\"/""#);
        assert_eq!(canon(json!([1.5, 100.0, 1e20, 0.0001, 1e-5, -2.5])), "[1.5,100.0,1e+20,0.0001,1e-05,-2.5]");
    }

    #[test]
    fn eight_byte_scan_agrees_with_the_byte_rule() {
        // Every byte value at every position of an 8-byte word, amid clean text.
        for b in 0..=255u8 {
            for pos in 0..8 {
                let mut w = *b"abcdefgh";
                w[pos] = b;
                let escape = !((0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
                assert_eq!(needs_escape(u64::from_le_bytes(w)), escape, "byte {b:#x} at {pos}");
            }
        }
        assert_eq!(
            canon(json!("0123456789abcdef\"x\u{7f}é\n/0123456789")),
            r#""0123456789abcdef\"x\u007f\u00e9\n/0123456789""#
        );
    }

    #[test]
    fn fingerprint_format() {
        let f = fingerprint(&json!({}));
        assert_eq!(f, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    }
}
