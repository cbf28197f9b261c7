//! Rate limits per client address and per MAC, in a bounded table.
//!
//! A phone boots with a handful of requests and re-checks every few minutes; a scanner walking
//! MAC ranges sends thousands. A fixed one-minute window per key is enough to tell them apart,
//! costs one counter per key, and the table is bounded: when it is full, the oldest windows are
//! dropped first (a flood of distinct keys cannot grow memory, nor evict a key's current count
//! for free: an expired window is always the first to go). When every window is current, a
//! tenth of the table goes, lowest counts first: a flood of fresh keys evicts itself, and a
//! client already over its limit keeps its count.

use std::hash::Hash;
use std::sync::Mutex;

use crate::seeded_map::SeededMap;

/// Requests allowed per key per window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub per_minute: u32,
}

const WINDOW_SECS: u64 = 60;

/// Counters for one kind of key.
pub struct Limiter<K> {
    table: Mutex<SeededMap<K, (u64, u32)>>,
    capacity: usize,
}

impl<K> std::fmt::Debug for Limiter<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Limiter(capacity {})", self.capacity)
    }
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    pub fn new(capacity: usize) -> Limiter<K> {
        Limiter {
            table: Mutex::new(SeededMap::default()),
            capacity: capacity.max(1),
        }
    }

    /// Counts one request for `key` at `now`; `false` when it is over the limit.
    pub fn allow(&self, key: &K, now: u64, limit: Limit) -> bool {
        let Ok(mut table) = self.table.lock() else {
            return true;
        };
        let window = now / WINDOW_SECS;
        if !table.contains_key(key) && table.len() >= self.capacity {
            evict(&mut table, window, self.capacity);
        }
        let entry = table.entry(key.clone()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= limit.per_minute
    }

    /// How many keys are tracked.
    pub fn len(&self) -> usize {
        self.table.lock().map(|t| t.len()).unwrap_or(0)
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes room in a full table: expired windows first, then the lowest counts, a bounded share
/// (a tenth of the capacity) at a time, never the whole table.
fn evict<K: Hash + Eq + Clone>(table: &mut SeededMap<K, (u64, u32)>, window: u64, capacity: usize) {
    table.retain(|_, (w, _)| *w == window);
    if table.len() < capacity {
        return;
    }
    let share = (capacity / 10).max(1);
    let mut counts: Vec<u32> = table.values().map(|(_, c)| *c).collect();
    let nth = share.min(counts.len()).saturating_sub(1);
    let (_, cut, _) = counts.select_nth_unstable(nth);
    let cut = *cut;
    let mut dropped = 0;
    table.retain(|_, (_, c)| {
        let drop = *c <= cut && dropped < share;
        dropped += usize::from(drop);
        !drop
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_per_window_and_stays_bounded() {
        let l: Limiter<u32> = Limiter::new(100);
        let limit = Limit { per_minute: 3 };
        assert!((0..3).all(|_| l.allow(&1, 60, limit)));
        assert!(!l.allow(&1, 61, limit));
        assert!(l.allow(&2, 61, limit), "other keys are unaffected");
        assert!(l.allow(&1, 120, limit), "a new window starts afresh");
        for k in 0..10_000 {
            l.allow(&k, 130, limit);
        }
        assert!(l.len() <= 100);
    }

    #[test]
    fn a_full_table_keeps_the_counts_of_clients_over_their_limit() {
        let l: Limiter<u32> = Limiter::new(100);
        let limit = Limit { per_minute: 3 };
        for _ in 0..4 {
            l.allow(&7, 60, limit);
        }
        assert!(!l.allow(&7, 60, limit), "7 is over its limit");
        // A flood of fresh keys in the same window fills the table many times over.
        for k in 1000..20_000 {
            l.allow(&k, 61, limit);
            assert!(l.len() <= 100);
        }
        assert!(!l.allow(&7, 62, limit), "the flood did not reset 7's count");
        assert!(
            l.len() >= 90,
            "only a bounded share is evicted: {}",
            l.len()
        );
    }
}
