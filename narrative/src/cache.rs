//! A small bounded LRU cache with a time-to-live, keyed by policy fingerprint + context.

use risk_core::{Report, ScoreOptions};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// What a narrative depends on: the policy (by fingerprint), the request context, the model
/// and the prompt version. Two requests with the same key get the same narrative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    pub fn new(report: &Report, options: &ScoreOptions, model: &str) -> Self {
        let mut h = Sha256::new();
        let mut field = |s: &str| {
            // Length-prefixed, so no two different field lists hash the same bytes.
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        field(crate::PROMPT_VERSION);
        field(model);
        field(&report.policy_fingerprint);
        field(&report.policy_type);
        field(&report.versions.engine);
        field(&report.versions.rules);
        field(&report.versions.catalog);
        field(options.access_type.map_or("", |a| a.as_str()));
        field(&options.duration_hours.map(|d| d.to_string()).unwrap_or_default());
        field(options.description.as_deref().unwrap_or("\u{0}none"));
        let mut sensitive = options.extra_sensitive_services.clone();
        sensitive.sort();
        let mut high = options.extra_high_impact_actions.clone();
        high.sort();
        field(&sensitive.join("\n"));
        field(&high.join("\n"));
        CacheKey(h.finalize().into())
    }
}

struct Entry<V> {
    value: V,
    inserted: Instant,
    tick: u64,
}

/// Least-recently-used eviction once `capacity` is reached; entries older than `ttl` are misses.
pub struct TtlLru<K, V> {
    capacity: usize,
    ttl: Duration,
    tick: u64,
    map: HashMap<K, Entry<V>>,
    order: BTreeMap<u64, K>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlLru<K, V> {
    /// A cache of at most `capacity` entries (0 disables caching).
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        TtlLru { capacity, ttl, tick: 0, map: HashMap::new(), order: BTreeMap::new() }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The value, if present and fresh at `now`; marks it most recently used.
    pub fn get(&mut self, key: &K, now: Instant) -> Option<V> {
        let expired = match self.map.get(key) {
            None => return None,
            Some(e) => now.saturating_duration_since(e.inserted) > self.ttl,
        };
        if expired {
            if let Some(e) = self.map.remove(key) {
                self.order.remove(&e.tick);
            }
            return None;
        }
        self.tick += 1;
        let tick = self.tick;
        let e = self.map.get_mut(key)?;
        self.order.remove(&e.tick);
        e.tick = tick;
        self.order.insert(tick, key.clone());
        Some(e.value.clone())
    }

    pub fn insert(&mut self, key: K, value: V, now: Instant) {
        if self.capacity == 0 {
            return;
        }
        if let Some(old) = self.map.remove(&key) {
            self.order.remove(&old.tick);
        }
        while self.map.len() >= self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            self.map.remove(&oldest);
        }
        self.tick += 1;
        self.order.insert(self.tick, key.clone());
        self.map.insert(key, Entry { value, inserted: now, tick: self.tick });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_and_expires() {
        let t0 = Instant::now();
        let mut c = TtlLru::new(2, Duration::from_secs(10));
        c.insert("a", 1, t0);
        c.insert("b", 2, t0);
        assert_eq!(c.get(&"a", t0), Some(1)); // a is now the most recent
        c.insert("c", 3, t0); // evicts b
        assert_eq!(c.get(&"b", t0), None);
        assert_eq!(c.get(&"a", t0), Some(1));
        assert_eq!(c.get(&"c", t0), Some(3));
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(&"a", t0 + Duration::from_secs(11)), None);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn zero_capacity_stores_nothing() {
        let mut c = TtlLru::new(0, Duration::from_secs(10));
        c.insert(1, 1, Instant::now());
        assert!(c.is_empty());
    }
}
