//! Small shared helpers: time, random secrets, hashing.

use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The service's clock: the system time plus an offset that tests move forward (expiry,
/// leases and backoff are all read from it, so a test can jump hours ahead).
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: std::sync::atomic::AtomicI64,
}

impl Clock {
    pub fn now(&self) -> i64 {
        now_ms() + self.offset_ms.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Move the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, std::sync::atomic::Ordering::Relaxed);
    }
}

/// RFC 3339 (UTC, `Z`) for a millisecond timestamp.
pub fn fmt_ts(ms: i64) -> String {
    let ns = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(ns)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Parse an RFC 3339 timestamp into milliseconds.
pub fn parse_ts(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).ok().map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

pub fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(H[(b >> 4) as usize] as char);
        s.push(H[(b & 15) as usize] as char);
    }
    s
}

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    buf
}

/// A URL-safe random secret: 32 bytes (256 bits) in hex, after `prefix`.
pub fn secret(prefix: &str) -> String {
    format!("{prefix}{}", hex(&random_bytes(32)))
}

/// A new identifier: `prefix` + time (ms, hex, sortable) + 48 random bits.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{:011x}{}", now_ms(), hex(&random_bytes(6)))
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// HMAC-SHA256 of `data` under `key`, hex.
pub fn hmac_hex(key: &[u8], data: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    hex(&mac.finalize().into_bytes())
}

/// Constant-time string equality (secrets, MACs).
pub fn ct_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let ms = 1_764_547_200_123;
        let s = fmt_ts(ms);
        assert_eq!(s, "2025-12-01T00:00:00.123Z");
        assert_eq!(parse_ts(&s), Some(ms));
        assert_eq!(parse_ts("2025-12-01T01:00:00+01:00"), Some(1_764_547_200_000));
        assert_eq!(parse_ts("yesterday"), None);
    }

    #[test]
    fn secrets_are_distinct_and_long() {
        let a = secret("iamjit_");
        assert!(a.starts_with("iamjit_") && a.len() == 7 + 64);
        assert_ne!(a, secret("iamjit_"));
        assert!(
            new_id("req-") < {
                std::thread::sleep(std::time::Duration::from_millis(2));
                new_id("req-")
            }
        );
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        assert_eq!(
            hmac_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
