//! Per-client token buckets: each client may burst up to `burst` requests, refilled at
//! `per_minute / 60` per second. Sharded so concurrent requests rarely share a lock.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Mutex;
use std::time::Instant;

const SHARDS: usize = 16;

/// Who a request counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientId {
    /// An authenticated API key, by its index in the configuration.
    Key(usize),
    /// An address (the peer, or the proxy-reported one).
    Ip(std::net::IpAddr),
    /// No address known (tests driving the router directly).
    Unknown,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

pub struct RateLimiter {
    rate_per_sec: f64,
    burst: f64,
    max_per_shard: usize,
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<ClientId, Bucket>>>,
}

impl RateLimiter {
    /// `None` when `per_minute` is 0 (no limit).
    pub fn new(per_minute: u32, burst: u32, max_clients: usize) -> Option<Self> {
        (per_minute > 0).then(|| RateLimiter {
            rate_per_sec: f64::from(per_minute) / 60.0,
            burst: f64::from(burst.max(1)),
            max_per_shard: (max_clients / SHARDS).max(16),
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        })
    }

    /// Take one token for `client` at `now`: `Ok(remaining)` or `Err(retry_after_seconds)`.
    pub fn check(&self, client: &ClientId, now: Instant) -> Result<u32, u64> {
        let shard = &self.shards[(self.hasher.hash_one(client) as usize) % SHARDS];
        let mut map = match shard.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() >= self.max_per_shard && !map.contains_key(client) {
            // Forget clients whose bucket has refilled: they lose nothing by being forgotten.
            let (rate, burst) = (self.rate_per_sec, self.burst);
            map.retain(|_, b| b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < burst);
            if map.len() >= self.max_per_shard {
                // Every tracked client is active: evict an arbitrary one rather than grow
                // without bound (it gets a fresh bucket if it comes back).
                if let Some(k) = map.keys().next().cloned() {
                    map.remove(&k);
                }
            }
        }
        let b = map.entry(client.clone()).or_insert(Bucket { tokens: self.burst, last: now });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate_per_sec).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(b.tokens as u32)
        } else {
            let wait = (1.0 - b.tokens) / self.rate_per_sec;
            Err((wait.ceil() as u64).max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_then_refills() {
        let l = RateLimiter::new(60, 3, 1000).unwrap();
        let c = ClientId::Key(0);
        let t = Instant::now();
        assert_eq!(l.check(&c, t), Ok(2));
        assert_eq!(l.check(&c, t), Ok(1));
        assert_eq!(l.check(&c, t), Ok(0));
        assert_eq!(l.check(&c, t), Err(1));
        // Another client has its own bucket.
        assert!(l.check(&ClientId::Key(1), t).is_ok());
        // One token per second comes back.
        assert!(l.check(&c, t + Duration::from_millis(1001)).is_ok());
        assert!(l.check(&c, t + Duration::from_millis(1002)).is_err());
    }

    #[test]
    fn slow_rates_ask_for_longer_waits() {
        let l = RateLimiter::new(1, 1, 1000).unwrap();
        let t = Instant::now();
        assert!(l.check(&ClientId::Unknown, t).is_ok());
        assert_eq!(l.check(&ClientId::Unknown, t), Err(60));
        assert!(RateLimiter::new(0, 1, 10).is_none());
    }

    #[test]
    fn memory_stays_bounded() {
        let l = RateLimiter::new(60, 1, 16 * 16).unwrap();
        let t = Instant::now();
        for i in 0..10_000usize {
            let _ = l.check(&ClientId::Key(i), t);
        }
        let total: usize = l.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= 16 * 16, "{total}");
    }
}
