//! Store objects (device records, variables, templates) remembered between requests, for hosts
//! whose store is an origin (an HTTP server or an S3-compatible bucket), in two tiers: a map
//! owned by the host (per VM in proxy-wasm, per process natively), and an optional shared tier
//! the host provides through [`SharedTier`] (proxy-wasm's shared data, which every worker's VM
//! reads; [`NoSharedTier`] where one map already serves every worker).
//!
//! Each entry holds the object (or the fact that the origin has none), its validators
//! (`ETag`, `Last-Modified`) and when the origin last vouched for it. Within the TTL an entry
//! is served without asking the origin; after it, the origin is asked with `If-None-Match` /
//! `If-Modified-Since` and a 304 renews the entry; when the origin fails, an entry younger than
//! TTL + `stale_if_error` is served stale rather than failing the phone. [`Cache::settle`] turns
//! one origin answer into what the engine is resumed with, so every host applies these rules
//! alike.
//!
//! A shared tier may have no eviction (proxy-wasm's shared data has none), so its use is
//! bounded by construction: entries live in a fixed number of slots (`shared_slots`, the slot
//! chosen by a hash of the key) and one larger than `shared_bytes / shared_slots` is kept in
//! the host's map only. A slot holds one entry, with its own key: a colliding key replaces it,
//! and a reader that finds another key treats the slot as empty. The map is bounded by
//! `local_bytes`, evicting the entries vouched for longest ago. Compiled templates and
//! rendered files stay in the engine (they are Rust values, not bytes): what crosses workers
//! is the template source, so each worker compiles once.

use std::sync::Arc;

use serde::Deserialize;

use super::answer::Answer;
use crate::config::ConfigError;
use crate::response::Lookup;
use crate::seeded_map::SeededMap;

/// Cache settings (`cache` in the proxy-wasm filter's configuration; the native server's
/// `server.origin_cache` takes the same keys but the shared ones, having no shared tier).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// How long an object is served without asking the origin.
    pub ttl_secs: u64,
    /// The same for "the origin has no such object" (defaults to `ttl_secs`).
    pub negative_ttl_secs: Option<u64>,
    /// How long past its TTL an object is still served when the origin fails.
    pub stale_if_error_secs: u64,
    /// Bound of the host's own map (per VM in proxy-wasm), in bytes of object.
    pub local_bytes: usize,
    /// Bound of the shared data used, in bytes (0: no shared tier).
    pub shared_bytes: usize,
    /// Number of shared-data slots; `shared_bytes / shared_slots` is the largest shared entry.
    pub shared_slots: usize,
}

/// The settings of a one-tier cache (a host with no shared tier between workers: the native
/// server's `server.origin_cache`, the Worker's `worker.cache`): [`CacheConfig`] without its
/// shared keys, named as operators set them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalCacheSettings {
    /// How long a value is served without reading it again.
    pub ttl_secs: u64,
    /// The same for "no such key" (defaults to `ttl_secs`).
    pub negative_ttl_secs: Option<u64>,
    /// How long past its freshness a value is still served when the store fails.
    pub stale_if_error_secs: u64,
    /// Bound of the cache, in bytes of value; a larger value is cached nowhere.
    pub max_bytes: usize,
}

impl Default for LocalCacheSettings {
    fn default() -> LocalCacheSettings {
        let core = CacheConfig::default();
        LocalCacheSettings {
            ttl_secs: core.ttl_secs,
            negative_ttl_secs: core.negative_ttl_secs,
            stale_if_error_secs: core.stale_if_error_secs,
            max_bytes: core.local_bytes,
        }
    }
}

impl LocalCacheSettings {
    /// The core's configuration: one tier.
    pub fn core(&self) -> CacheConfig {
        CacheConfig {
            ttl_secs: self.ttl_secs,
            negative_ttl_secs: self.negative_ttl_secs,
            stale_if_error_secs: self.stale_if_error_secs,
            local_bytes: self.max_bytes,
            shared_bytes: 0,
            shared_slots: 0,
        }
    }
}

impl Default for CacheConfig {
    fn default() -> CacheConfig {
        CacheConfig {
            ttl_secs: 10,
            negative_ttl_secs: None,
            stale_if_error_secs: 300,
            local_bytes: 8 << 20,
            shared_bytes: 16 << 20,
            shared_slots: 1024,
        }
    }
}

impl CacheConfig {
    /// Checks what serde cannot: the shared tier's slots must hold an entry. Keys are named
    /// relative to the section (`shared_slots`); hosts add theirs with [`ConfigError::within`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.shared_bytes > 0 && self.shared_slots == 0 {
            return Err(ConfigError {
                key: "shared_slots".into(),
                reason: "must be at least 1 when shared_bytes > 0".into(),
            });
        }
        if self.shared_bytes > 0 && self.shared_bytes / self.shared_slots.max(1) < 256 {
            return Err(ConfigError {
                key: "shared_bytes".into(),
                reason: "shared_bytes / shared_slots must be at least 256".into(),
            });
        }
        Ok(())
    }

    fn slot_bytes(&self) -> usize {
        self.shared_bytes
            .checked_div(self.shared_slots)
            .unwrap_or_default()
    }
}

/// What the origin last said about a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The object, or `None` when the origin has none (404).
    pub body: Option<crate::Blob>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// When the origin last vouched for it (ms since the Unix epoch).
    pub validated_ms: u64,
}

impl Entry {
    /// The origin has no such object, as of `now_ms`.
    pub fn missing(now_ms: u64) -> Entry {
        Entry {
            body: None,
            etag: None,
            last_modified: None,
            validated_ms: now_ms,
        }
    }

    /// What the engine is resumed with for this entry.
    pub fn lookup(&self) -> Lookup {
        match &self.body {
            Some(body) => Lookup::Found(body.clone()),
            None => Lookup::Missing,
        }
    }

    fn size(&self) -> usize {
        self.body.as_ref().map_or(0, |b| b.len())
            + self.etag.as_ref().map_or(0, String::len)
            + self.last_modified.as_ref().map_or(0, String::len)
            + 64
    }
}

/// Where a lookup stands.
#[derive(Debug)]
pub enum Hit {
    /// Fresh: use it, no origin request. `shared` when it came from the shared tier.
    Fresh { entry: Arc<Entry>, shared: bool },
    /// Expired or absent: ask the origin, with the validators of `stale` if there is one.
    Ask { stale: Option<Arc<Entry>> },
}

/// Where the shared tier lives: proxy-wasm's shared data, or nothing ([`NoSharedTier`]). The
/// cache bounds what it writes there itself (slots of `shared_bytes / shared_slots`), so the
/// host needs no eviction of its own. Values may be torn or written by another version: the
/// cache reads anything it cannot decode as a miss.
pub trait SharedTier {
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    fn set(&self, key: &str, value: &[u8]);
}

/// No shared tier: for a host whose one map already serves all its workers (the native
/// server), or a filter configured with `shared_bytes: 0`.
pub struct NoSharedTier;

impl SharedTier for NoSharedTier {
    fn get(&self, _key: &str) -> Option<Vec<u8>> {
        None
    }

    fn set(&self, _key: &str, _value: &[u8]) {}
}

/// What one origin read became, for the host's metrics and log; the [`Lookup`] beside it is
/// what the engine gets.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The origin sent the object (or said it has none); now cached.
    Fetched,
    /// A 304: the cached copy is current again.
    Revalidated,
    /// The origin failed; the cached copy, within its `stale_if_error` window, stands in.
    Stale { reason: String, label: &'static str },
    /// The origin failed and nothing may stand in: the read fails (the engine answers 503).
    Failed { reason: String, label: &'static str },
}

/// The result of [`Cache::settle`] and [`Cache::fail`].
#[derive(Debug)]
pub struct Settled {
    pub lookup: Lookup,
    pub outcome: Outcome,
}

/// The two-tier cache of one origin (one filter plugin instance, one native server).
pub struct Cache {
    config: CacheConfig,
    /// Prefix of this instance's shared-data keys (distinct per origin).
    namespace: String,
    local: SeededMap<String, Arc<Entry>>,
    local_size: usize,
}

impl Cache {
    pub fn new(config: CacheConfig, namespace: String) -> Cache {
        Cache {
            config,
            namespace,
            local: SeededMap::default(),
            local_size: 0,
        }
    }

    fn ttl_ms(&self, entry: &Entry) -> u64 {
        let secs = match entry.body {
            Some(_) => self.config.ttl_secs,
            None => self
                .config
                .negative_ttl_secs
                .unwrap_or(self.config.ttl_secs),
        };
        secs.saturating_mul(1000)
    }

    fn fresh(&self, entry: &Entry, now_ms: u64) -> bool {
        now_ms < entry.validated_ms.saturating_add(self.ttl_ms(entry))
    }

    /// Whether `entry` may still stand in for a failed origin.
    pub fn usable_stale(&self, entry: &Entry, now_ms: u64) -> bool {
        let limit = entry
            .validated_ms
            .saturating_add(self.ttl_ms(entry))
            .saturating_add(self.config.stale_if_error_secs.saturating_mul(1000));
        now_ms < limit
    }

    /// Looks `key` up in the host's map, then in the shared tier.
    pub fn lookup(&mut self, key: &str, now_ms: u64, shared: &dyn SharedTier) -> Hit {
        let local = self.local.get(key).cloned();
        if let Some(entry) = &local {
            if self.fresh(entry, now_ms) {
                return Hit::Fresh {
                    entry: Arc::clone(entry),
                    shared: false,
                };
            }
        }
        let from_shared = self
            .shared_get(key, shared)
            .filter(|e| !matches!(&local, Some(l) if e.validated_ms <= l.validated_ms));
        if let Some(entry) = from_shared {
            let entry = self.put_local(key, entry);
            if self.fresh(&entry, now_ms) {
                return Hit::Fresh {
                    entry,
                    shared: true,
                };
            }
            return Hit::Ask { stale: Some(entry) };
        }
        Hit::Ask { stale: local }
    }

    /// Records what the origin said, in both tiers.
    pub fn store(&mut self, key: &str, entry: Entry, shared: &dyn SharedTier) -> Arc<Entry> {
        self.shared_put(key, &entry, shared);
        self.put_local(key, entry)
    }

    /// A 304: `stale` is current again as of `now_ms`.
    pub fn renew(
        &mut self,
        key: &str,
        stale: &Entry,
        now_ms: u64,
        shared: &dyn SharedTier,
    ) -> Arc<Entry> {
        let mut entry = stale.clone();
        entry.validated_ms = now_ms;
        self.store(key, entry, shared)
    }

    /// Applies one origin answer for `key`, asked with the validators of `stale` (if any):
    /// stores a fresh object or absence, renews `stale` on a 304, and on a failure lets `stale`
    /// stand in while it may ([`Cache::fail`]).
    pub fn settle(
        &mut self,
        key: &str,
        answer: Answer,
        stale: Option<&Entry>,
        now_ms: u64,
        shared: &dyn SharedTier,
    ) -> Settled {
        match answer {
            Answer::Fresh(entry) => Settled {
                lookup: self.store(key, entry, shared).lookup(),
                outcome: Outcome::Fetched,
            },
            Answer::NotModified => match stale {
                Some(stale) if stale.body.is_some() => Settled {
                    lookup: self.renew(key, stale, now_ms, shared).lookup(),
                    outcome: Outcome::Revalidated,
                },
                // Validators are sent only for a stored object, so a 304 here is the
                // origin's error; the absence `stale` records cannot stand in for it.
                _ => self.fail(
                    None,
                    "answered 304 to an unconditional GET".into(),
                    "status",
                    now_ms,
                ),
            },
            Answer::Failed { reason, label } => self.fail(stale, reason, label, now_ms),
        }
    }

    /// The origin could not be asked or failed for a key: `stale` while it may stand in, else
    /// a failed read whose reason (`origin <reason>`) the engine's log note carries.
    pub fn fail(
        &self,
        stale: Option<&Entry>,
        reason: String,
        label: &'static str,
        now_ms: u64,
    ) -> Settled {
        match stale.filter(|s| self.usable_stale(s, now_ms)) {
            Some(stale) => Settled {
                lookup: stale.lookup(),
                outcome: Outcome::Stale { reason, label },
            },
            None => Settled {
                lookup: Lookup::Failed(format!("origin {reason}")),
                outcome: Outcome::Failed { reason, label },
            },
        }
    }

    /// How many objects the host's map holds, and their bytes.
    pub fn local_usage(&self) -> (usize, usize) {
        (self.local.len(), self.local_size)
    }

    fn put_local(&mut self, key: &str, entry: Entry) -> Arc<Entry> {
        let size = entry.size();
        let entry = Arc::new(entry);
        if let Some(old) = self.local.remove(key) {
            self.local_size = self.local_size.saturating_sub(old.size());
        }
        if size > self.config.local_bytes {
            return entry;
        }
        if self.local_size + size > self.config.local_bytes {
            self.evict(size);
        }
        self.local_size += size;
        self.local.insert(key.to_owned(), Arc::clone(&entry));
        entry
    }

    /// Makes room for `incoming` bytes by dropping the entries vouched for in the oldest quarter
    /// of the span of times held (again while still short): each pass is linear and frees many
    /// entries, so a scanner filling the cache with misses cannot make every insert scan it.
    fn evict(&mut self, incoming: usize) {
        for _ in 0..64 {
            let (lo, hi) = self.local.values().fold((u64::MAX, 0), |(lo, hi), e| {
                (lo.min(e.validated_ms), hi.max(e.validated_ms))
            });
            let cutoff = lo.saturating_add(hi.saturating_sub(lo) / 4);
            let mut size = self.local_size;
            self.local.retain(|_, e| {
                let keep = e.validated_ms > cutoff;
                if !keep {
                    size = size.saturating_sub(e.size());
                }
                keep
            });
            self.local_size = size;
            if self.local.is_empty() || self.local_size + incoming <= self.config.local_bytes {
                break;
            }
        }
    }

    fn slot_key(&self, key: &str) -> Option<String> {
        if self.config.shared_bytes == 0 || self.config.shared_slots == 0 {
            return None;
        }
        // FNV-1a: stable across VMs and builds, unlike the std hasher's random keys.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let slot = hash % self.config.shared_slots as u64;
        Some(format!("{}{slot}", self.namespace))
    }

    fn shared_get(&self, key: &str, shared: &dyn SharedTier) -> Option<Entry> {
        let raw = shared.get(&self.slot_key(key)?)?;
        let (stored_key, entry) = decode(&raw)?;
        (stored_key == key).then_some(entry)
    }

    fn shared_put(&self, key: &str, entry: &Entry, shared: &dyn SharedTier) {
        let Some(slot) = self.slot_key(key) else {
            return;
        };
        let raw = encode(key, entry);
        if raw.len() <= self.config.slot_bytes() {
            shared.set(&slot, &raw);
        }
    }
}

const MAGIC: &[u8; 4] = b"pve1";

/// An entry as stored in shared data: magic, validated time, the key, validators, the body.
fn encode(key: &str, entry: &Entry) -> Vec<u8> {
    let mut out = Vec::with_capacity(entry.size() + key.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&entry.validated_ms.to_le_bytes());
    for field in [
        Some(key),
        entry.etag.as_deref(),
        entry.last_modified.as_deref(),
    ] {
        let bytes = field.unwrap_or("").as_bytes();
        let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(bytes.get(..usize::from(len)).unwrap_or_default());
    }
    match &entry.body {
        Some(body) => {
            out.push(1);
            out.extend_from_slice(body);
        }
        None => out.push(0),
    }
    out
}

/// The inverse of [`encode`]; `None` for anything else (another version's layout, a torn
/// value), which then counts as a miss.
fn decode(raw: &[u8]) -> Option<(String, Entry)> {
    let rest = raw.strip_prefix(MAGIC)?;
    let (time, mut rest) = rest.split_at_checked(8)?;
    let validated_ms = u64::from_le_bytes(time.try_into().ok()?);
    let mut fields = [String::new(), String::new(), String::new()];
    for field in &mut fields {
        let (len, tail) = rest.split_at_checked(2)?;
        let len = usize::from(u16::from_le_bytes(len.try_into().ok()?));
        let (text, tail) = tail.split_at_checked(len)?;
        *field = String::from_utf8(text.to_vec()).ok()?;
        rest = tail;
    }
    let (flag, body) = rest.split_first()?;
    let body = match flag {
        1 => Some(body.into()),
        0 if body.is_empty() => None,
        _ => return None,
    };
    let [key, etag, last_modified] = fields;
    let opt = |s: String| (!s.is_empty()).then_some(s);
    Some((
        key,
        Entry {
            body,
            etag: opt(etag),
            last_modified: opt(last_modified),
            validated_ms,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Mem(RefCell<HashMap<String, Vec<u8>>>);

    impl SharedTier for Mem {
        fn get(&self, key: &str) -> Option<Vec<u8>> {
            self.0.borrow().get(key).cloned()
        }
        fn set(&self, key: &str, value: &[u8]) {
            self.0.borrow_mut().insert(key.to_owned(), value.to_vec());
        }
    }

    fn entry(body: &[u8], at: u64) -> Entry {
        Entry {
            body: Some(body.into()),
            etag: Some("\"e\"".into()),
            last_modified: None,
            validated_ms: at,
        }
    }

    fn config() -> CacheConfig {
        CacheConfig {
            ttl_secs: 10,
            negative_ttl_secs: Some(2),
            stale_if_error_secs: 60,
            local_bytes: 1000,
            shared_bytes: 4096,
            shared_slots: 4,
        }
    }

    #[test]
    fn fresh_then_ask_with_validators_then_stale_window() {
        let shared = Mem::default();
        let mut cache = Cache::new(config(), "t/".into());
        assert!(matches!(
            cache.lookup("k", 0, &shared),
            Hit::Ask { stale: None }
        ));
        cache.store("k", entry(b"v", 1_000), &shared);
        assert!(matches!(
            cache.lookup("k", 10_999, &shared),
            Hit::Fresh { shared: false, .. }
        ));
        let Hit::Ask { stale: Some(stale) } = cache.lookup("k", 11_000, &shared) else {
            panic!("expired")
        };
        assert_eq!(stale.etag.as_deref(), Some("\"e\""));
        assert!(cache.usable_stale(&stale, 70_999));
        assert!(!cache.usable_stale(&stale, 71_000));
        let renewed = cache.renew("k", &stale, 20_000, &shared);
        assert_eq!(renewed.body.as_deref(), Some(&b"v"[..]));
        assert!(matches!(
            cache.lookup("k", 29_999, &shared),
            Hit::Fresh { .. }
        ));
        // A missing object is remembered for the negative TTL.
        let missing = Entry {
            body: None,
            etag: None,
            last_modified: None,
            validated_ms: 0,
        };
        cache.store("gone", missing, &shared);
        assert!(matches!(
            cache.lookup("gone", 1_999, &shared),
            Hit::Fresh { .. }
        ));
        assert!(matches!(
            cache.lookup("gone", 2_000, &shared),
            Hit::Ask { .. }
        ));
    }

    #[test]
    fn another_vm_sees_the_shared_tier() {
        let shared = Mem::default();
        let mut one = Cache::new(config(), "t/".into());
        let mut two = Cache::new(config(), "t/".into());
        one.store("k", entry(b"v", 1_000), &shared);
        let Hit::Fresh {
            entry,
            shared: true,
        } = two.lookup("k", 2_000, &shared)
        else {
            panic!("from shared data")
        };
        assert_eq!(entry.body.as_deref(), Some(&b"v"[..]));
        // Now in the second VM's own map.
        assert!(matches!(
            two.lookup("k", 2_000, &Mem::default()),
            Hit::Fresh { shared: false, .. }
        ));
    }

    #[test]
    fn shared_data_is_bounded_by_slots_and_slot_size() {
        let shared = Mem::default();
        let mut cache = Cache::new(config(), "t/".into());
        for i in 0..100 {
            cache.store(&format!("key{i}"), entry(&[b'x'; 100], 1), &shared);
        }
        // Too large for a 1 KiB slot: the VM keeps it, shared data does not.
        cache.store("big", entry(&[b'y'; 2000], 1), &shared);
        let map = shared.0.borrow();
        assert!(map.len() <= 4, "{} slots", map.len());
        assert!(map.values().all(|v| v.len() <= 1024));
        assert!(map.keys().all(|k| k.starts_with("t/")));
    }

    #[test]
    fn a_colliding_or_torn_slot_is_a_miss() {
        let shared = Mem::default();
        let mut cache = Cache::new(config(), "t/".into());
        cache.store("a", entry(b"1", 1), &shared);
        let slot = cache.slot_key("a").unwrap();
        let mut fresh = Cache::new(config(), "t/".into());
        // Same slot, other key inside: not "a".
        shared.set(&slot, &encode("other", &entry(b"2", 1)));
        assert!(matches!(
            fresh.lookup("a", 2, &shared),
            Hit::Ask { stale: None }
        ));
        for torn in [&b""[..], b"pve1", b"pve1\0\0\0\0\0\0\0\0\xff\xff", b"junk"] {
            shared.set(&slot, torn);
            assert!(matches!(
                fresh.lookup("a", 2, &shared),
                Hit::Ask { stale: None }
            ));
        }
        let e = entry(b"body", 42);
        assert_eq!(decode(&encode("k", &e)), Some(("k".into(), e)));
    }

    #[test]
    fn the_vm_tier_evicts_the_oldest() {
        let shared = Mem::default();
        let mut cache = Cache::new(
            CacheConfig {
                shared_bytes: 0,
                ..config()
            },
            "t/".into(),
        );
        for i in 0..20u64 {
            cache.store(&format!("k{i}"), entry(&[0; 100], i), &shared);
        }
        let (n, bytes) = cache.local_usage();
        assert!(bytes <= 1000 && n < 20, "{n} entries, {bytes} bytes");
        assert!(matches!(
            cache.lookup("k19", 19, &shared),
            Hit::Fresh { .. }
        ));
        assert!(matches!(cache.lookup("k0", 0, &shared), Hit::Ask { .. }));
        assert!(shared.0.borrow().is_empty());
    }

    #[test]
    fn answers_settle_into_lookups() {
        let shared = NoSharedTier;
        let mut cache = Cache::new(config(), "t/".into());
        let fetched = cache.settle("k", Answer::Fresh(entry(b"v", 0)), None, 0, &shared);
        assert_eq!(
            (fetched.lookup, fetched.outcome),
            (Lookup::Found(b"v".into()), Outcome::Fetched)
        );
        let Hit::Ask { stale: Some(stale) } = cache.lookup("k", 10_000, &shared) else {
            panic!("expired")
        };
        let renewed = cache.settle("k", Answer::NotModified, Some(&stale), 10_000, &shared);
        assert_eq!(renewed.outcome, Outcome::Revalidated);
        assert!(matches!(
            cache.lookup("k", 19_999, &shared),
            Hit::Fresh { .. }
        ));
        // The origin fails: the copy stands in for TTL + stale_if_error, then the read fails.
        let failed = || Answer::Failed {
            reason: "answered 500".into(),
            label: "status_5xx",
        };
        let stale_served = cache.settle("k", failed(), Some(&stale), 20_000, &shared);
        assert_eq!(stale_served.lookup, Lookup::Found(b"v".into()));
        assert!(matches!(
            stale_served.outcome,
            Outcome::Stale {
                label: "status_5xx",
                ..
            }
        ));
        let too_old = cache.settle("k", failed(), Some(&stale), 70_000, &shared);
        assert_eq!(too_old.lookup, Lookup::Failed("origin answered 500".into()));
        let never = cache.fail(None, "connect: refused".into(), "no_response", 0);
        assert!(matches!(never.outcome, Outcome::Failed { .. }));
        // A 304 without validators sent is the origin's error, even over a cached absence.
        let absent = Entry::missing(0);
        let odd = cache.settle("gone", Answer::NotModified, Some(&absent), 0, &shared);
        assert!(matches!(
            odd.outcome,
            Outcome::Failed {
                label: "status",
                ..
            }
        ));
    }
}
