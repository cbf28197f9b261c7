//! What a request reads from the store, and what the Worker remembers of it, so that a steady
//! request costs at most one KV read (issue 14, point 8).
//!
//! Three tiers, nearest first:
//! 1. **The isolate** ([`StoreCache`]): the core's origin cache ([`Cache`], no shared tier) of
//!    store values, object metadata and digests.
//! 2. **The colo**: the Cache API (a named cache), where every isolate of a data centre finds
//!    what one of them read. Only values read under a store *generation* go there.
//! 3. **The store**: KV (`STORE`) and R2 (`BUCKET`), by [`provedge::store::placement`].
//!
//! A store pushed by `provedge store push` has a **generation** (`store/generation`, written
//! last by every push): every value read under a generation stays valid as long as the
//! generation does, so the isolate reads the generation once per `generation_ttl_secs` and
//! nothing else while it is unchanged; a push changes it, and the next read of it makes every
//! key read anew. A store without a generation (written by hand) falls back to the core's TTL
//! caching: a value is kept `cache.ttl_secs`, then read again.
//!
//! When KV or R2 fails, the last value read stands in while the core's cache allows
//! (`stale_if_error_secs`), else the read fails and the engine answers its clean 503. When the
//! generation itself cannot be read, the last one read (in the isolate, else the one the colo
//! remembers) stands in for as long.
//!
//! Why values, not rendered files: the Cache API could hold whole answers, but an answer is
//! the product of the policy (credentials, tokens, MAC binding, rate limits) and of inputs
//! whose hash only the core knows; caching it in the host would decide there what the core
//! decides. Caching the inputs keeps every decision in the core on every request, and the
//! engine's render cache (by that hash) still makes a steady answer a lookup.
//!
//! This module is plain Rust, tested natively; `entry` does the IO around it.

use std::sync::Arc;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use provedge::object::ObjectMeta;
use provedge::origin::cache::{Cache, Entry, Hit, NoSharedTier};
use provedge::Lookup;

use crate::settings::WorkerSettings;

/// What the values of one request are read under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Under {
    /// A pushed store's generation: a value read under it is valid while it lasts.
    Generation(Arc<str>),
    /// A store without a generation (or one that cannot be read): values are kept for the
    /// cache's TTL.
    Ttl,
}

/// What a cached thing is: a store value, or what the Worker learnt of a stored object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The bytes under a key (records, variables, templates; stored files held in KV).
    Value,
    /// An R2 object's [`ObjectMeta`], for a stream's 304s and ranges without asking R2.
    Meta,
    /// The MD5 of a stored file (an Algo `.md5`).
    Md5,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Value => "value",
            Kind::Meta => "meta",
            Kind::Md5 => "md5",
        }
    }

    /// The key in the isolate's cache: a NUL cannot be in a store key, so the kinds never meet.
    fn cache_key(self, key: &str) -> String {
        match self {
            Kind::Value => key.to_owned(),
            other => format!("\0{}\0{key}", other.label()),
        }
    }
}

/// Where a read was answered from: counted per request (`x-provedge-reads`, the access
/// record's `cache`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Isolate,
    Colo,
    Kv,
    R2,
    /// The store failed; a value read before stood in.
    Stale,
    /// The store failed and nothing could stand in.
    Failed,
}

/// The reads of one request, by where they were answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    pub kv: u32,
    pub r2: u32,
    pub colo: u32,
    pub isolate: u32,
    pub stale: u32,
    pub failed: u32,
}

impl Reads {
    pub fn count(&mut self, source: Source) {
        let n = match source {
            Source::Isolate => &mut self.isolate,
            Source::Colo => &mut self.colo,
            Source::Kv => &mut self.kv,
            Source::R2 => &mut self.r2,
            Source::Stale => &mut self.stale,
            Source::Failed => &mut self.failed,
        };
        *n = n.saturating_add(1);
    }

    /// The `x-provedge-reads` header: `kv=1 r2=0 colo=0 isolate=7 stale=0 failed=0`.
    pub fn header(&self) -> String {
        format!(
            "kv={} r2={} colo={} isolate={} stale={} failed={}",
            self.kv, self.r2, self.colo, self.isolate, self.stale, self.failed
        )
    }
}

/// What the isolate holds for a key.
#[derive(Debug)]
pub enum Local {
    /// Valid for this request: no store read.
    Hit(Lookup),
    /// Read it (from the colo, else the store); `stale` may stand in if that fails.
    Miss { stale: Option<Arc<Entry>> },
}

/// A value as read, and whether it may be kept under the request's generation (and so go to
/// the colo's cache).
#[derive(Debug)]
pub struct Filled {
    pub lookup: Lookup,
    pub lasting: bool,
}

/// The generation this isolate read last.
#[derive(Clone, Debug)]
struct Memo {
    /// `None`: the store had none.
    generation: Option<Arc<str>>,
    read_ms: u64,
}

/// The isolate's tier and the generation it trusts: one per isolate, rebuilt with the
/// configuration.
pub struct StoreCache {
    cache: Cache,
    generation_ttl_ms: u64,
    propagation_ms: u64,
    stale_ms: u64,
    max_bytes: usize,
    memo: Option<Memo>,
    /// The newest generation this isolate has seen, and when it first saw it (for
    /// `kv_propagation_secs`).
    seen: Option<(Arc<str>, u64)>,
}

/// The prefix of a provisional entry's tag: read under the generation in its propagation
/// window, so kept by TTL only. A control character, which no generation holds.
const PROVISIONAL: char = '\u{1}';

impl StoreCache {
    pub fn new(settings: &WorkerSettings) -> StoreCache {
        let secs = |s: u64| s.saturating_mul(1000);
        StoreCache {
            cache: Cache::new(settings.cache.core(), String::new()),
            generation_ttl_ms: secs(settings.generation_ttl_secs),
            propagation_ms: secs(settings.kv_propagation_secs),
            stale_ms: secs(settings.cache.stale_if_error_secs),
            max_bytes: settings.cache.max_bytes,
            memo: None,
            seen: None,
        }
    }

    /// The generation to read under without asking KV: the one read less than
    /// `generation_ttl_secs` ago, if any.
    pub fn trusted(&self, now_ms: u64) -> Option<Under> {
        let memo = self.memo.as_ref()?;
        (now_ms < memo.read_ms.saturating_add(self.generation_ttl_ms)).then(|| under(memo))
    }

    /// What a read of the generation key means for this request: the generation read (or,
    /// when the store has none, TTL caching); when the read failed, the last generation read
    /// while it may stand in, else `None` (the caller may ask the colo, then [`Self::adopt`]).
    pub fn generation_read(
        &mut self,
        read: Result<Option<Vec<u8>>, String>,
        now_ms: u64,
    ) -> Option<Under> {
        match read {
            Ok(value) => {
                // A value with control characters is not one a push writes: no generation.
                let generation = value
                    .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
                    .filter(|g| !g.is_empty() && !g.chars().any(char::is_control))
                    .map(Arc::<str>::from);
                if let Some(g) = &generation {
                    let new = match &self.seen {
                        Some((seen, _)) => seen != g,
                        None => true,
                    };
                    if new {
                        self.seen = Some((Arc::clone(g), now_ms));
                    }
                }
                let memo = Memo {
                    generation,
                    read_ms: now_ms,
                };
                let under = under(&memo);
                self.memo = Some(memo);
                Some(under)
            }
            Err(_) => {
                let memo = self.memo.as_ref()?;
                self.within_stale(memo.read_ms, now_ms).then(|| under(memo))
            }
        }
    }

    /// The generation the colo remembers (read at `read_ms` by some isolate), for a request
    /// whose own read of it failed: used while it may stand in.
    pub fn adopt(&self, generation: &str, read_ms: u64, now_ms: u64) -> Option<Under> {
        let generation = generation.trim();
        (!generation.is_empty() && self.within_stale(read_ms, now_ms))
            .then(|| Under::Generation(generation.into()))
    }

    fn within_stale(&self, read_ms: u64, now_ms: u64) -> bool {
        now_ms
            < read_ms
                .saturating_add(self.generation_ttl_ms)
                .saturating_add(self.stale_ms)
    }

    /// What the isolate holds for `key` under `under`.
    pub fn lookup(&mut self, kind: Kind, key: &str, under: &Under, now_ms: u64) -> Local {
        let cache_key = kind.cache_key(key);
        let (entry, fresh) = match self.cache.lookup(&cache_key, now_ms, &NoSharedTier) {
            Hit::Fresh { entry, .. } => (entry, true),
            Hit::Ask { stale: Some(entry) } => (entry, false),
            Hit::Ask { stale: None } => return Local::Miss { stale: None },
        };
        let valid = match under {
            Under::Generation(g) => match entry.etag.as_deref() {
                Some(tag) if tag == &**g => {
                    // Used under the current generation: vouched for again, now and then,
                    // so that it can stand in for a failing store and is evicted last.
                    if !fresh {
                        self.cache.renew(&cache_key, &entry, now_ms, &NoSharedTier);
                    }
                    true
                }
                Some(tag) => fresh && tag.strip_prefix(PROVISIONAL) == Some(&**g),
                None => false,
            },
            Under::Ttl => fresh,
        };
        if valid {
            Local::Hit(entry.lookup())
        } else {
            Local::Miss { stale: Some(entry) }
        }
    }

    /// Remembers what was read for `key` (`None`: there is none). `from_kv`: KV answered it
    /// (eventually consistent; see `kv_propagation_secs`), not R2 or the colo. A value larger
    /// than `cache.max_bytes` is not kept, nor sent to the colo.
    pub fn fill(
        &mut self,
        kind: Kind,
        key: &str,
        under: &Under,
        found: Option<Vec<u8>>,
        from_kv: bool,
        now_ms: u64,
    ) -> Filled {
        let oversize = found.as_ref().is_some_and(|b| b.len() > self.max_bytes);
        let provisional = match under {
            Under::Generation(g) => from_kv && self.propagating(g, now_ms),
            Under::Ttl => false,
        };
        let tag = match under {
            Under::Generation(g) if provisional => Some(format!("{PROVISIONAL}{g}")),
            Under::Generation(g) => Some(g.to_string()),
            Under::Ttl => None,
        };
        let lasting = matches!(under, Under::Generation(_)) && !provisional && !oversize;
        let entry = Entry {
            body: found.map(provedge::Blob::from),
            etag: tag,
            last_modified: None,
            validated_ms: now_ms,
        };
        let lookup = entry.lookup();
        if !oversize {
            self.cache.store(&kind.cache_key(key), entry, &NoSharedTier);
        }
        Filled { lookup, lasting }
    }

    /// The store failed for a key: `stale` while it may stand in, else a failed read.
    pub fn fail(&self, stale: Option<&Entry>, reason: String, now_ms: u64) -> (Lookup, Source) {
        let settled = self.cache.fail(stale, reason, "store", now_ms);
        let source = match settled.lookup {
            Lookup::Failed(_) => Source::Failed,
            _ => Source::Stale,
        };
        (settled.lookup, source)
    }

    /// Whether KV may still answer old values for keys of generation `g` here.
    fn propagating(&self, g: &str, now_ms: u64) -> bool {
        match &self.seen {
            Some((seen, since)) if &**seen == g => {
                now_ms < since.saturating_add(self.propagation_ms)
            }
            // A generation this isolate did not read itself (adopted from the colo): trust
            // nothing KV says under it for longer than the TTL.
            _ => self.propagation_ms > 0,
        }
    }

    /// Objects the isolate holds, and their bytes.
    pub fn usage(&self) -> (usize, usize) {
        self.cache.local_usage()
    }

    /// How long the colo keeps a generation an isolate read: as long as it may stand in for a
    /// failing KV (`generation_ttl + stale_if_error`).
    pub fn generation_lifetime_secs(&self) -> u64 {
        self.generation_ttl_ms.saturating_add(self.stale_ms) / 1000
    }
}

fn under(memo: &Memo) -> Under {
    match &memo.generation {
        Some(g) => Under::Generation(Arc::clone(g)),
        None => Under::Ttl,
    }
}

/// The URL of a value in the colo's cache: the request's origin, a path no phone file has, the
/// generation and the key, percent-encoded. Keys carry their tenant's namespace, so tenants
/// never share an entry; the generation in the path makes a push miss every old one.
pub fn colo_url(origin: &str, generation: &str, kind: Kind, key: &str) -> String {
    format!(
        "{}/.provedge-store/{}/{}/{}",
        origin.trim_end_matches('/'),
        encode(generation, false),
        kind.label(),
        encode(key, true)
    )
}

/// The URL of the generation the colo remembers.
pub fn colo_generation_url(origin: &str) -> String {
    format!(
        "{}/.provedge-store/generation",
        origin.trim_end_matches('/')
    )
}

/// Unreserved characters (RFC 3986) stay as they are; everything else is percent-encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The same, keeping a key's `/` as the URL's path separators.
const KEY: &AsciiSet = &UNRESERVED.remove(b'/');

fn encode(text: &str, keep_slash: bool) -> String {
    utf8_percent_encode(text, if keep_slash { KEY } else { UNRESERVED }).to_string()
}

/// An object's metadata as cached: length, validator and modification time, one a line.
pub fn encode_meta(meta: &ObjectMeta) -> Vec<u8> {
    let modified = meta.modified.map(|m| m.to_string()).unwrap_or_default();
    format!("{}\n{}\n{modified}", meta.len, meta.etag).into_bytes()
}

/// The inverse of [`encode_meta`]; `None` for anything else (then read again).
pub fn decode_meta(bytes: &[u8]) -> Option<ObjectMeta> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.split('\n');
    let len = lines.next()?.parse().ok()?;
    let etag = lines.next()?.to_owned();
    let modified = match lines.next()? {
        "" => None,
        m => Some(m.parse().ok()?),
    };
    (lines.next().is_none() && !etag.is_empty()).then_some(ObjectMeta {
        len,
        etag,
        modified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::CacheSettings;

    const T0: u64 = 1_800_000_000_000;

    fn settings() -> WorkerSettings {
        WorkerSettings {
            generation_ttl_secs: 60,
            kv_propagation_secs: 60,
            cache: CacheSettings {
                ttl_secs: 10,
                negative_ttl_secs: None,
                stale_if_error_secs: 300,
                max_bytes: 1000,
            },
            ..WorkerSettings::default()
        }
    }

    fn found(local: Local) -> Vec<u8> {
        match local {
            Local::Hit(Lookup::Found(b)) => b.into_vec(),
            other => panic!("not a hit with a value: {other:?}"),
        }
    }

    fn gen(cache: &mut StoreCache, g: &str, now: u64) -> Under {
        cache
            .generation_read(Ok(Some(g.as_bytes().to_vec())), now)
            .unwrap()
    }

    #[test]
    fn a_generation_keeps_values_until_it_changes() {
        let mut c = StoreCache::new(&settings());
        assert_eq!(c.trusted(T0), None);
        let g1 = gen(&mut c, "g1\n", T0);
        assert_eq!(g1, Under::Generation("g1".into()));
        assert_eq!(c.trusted(T0 + 59_999), Some(g1.clone()));
        assert_eq!(c.trusted(T0 + 60_000), None);

        // Read from R2 (strongly consistent): kept under g1, far past the TTL.
        let filled = c.fill(
            Kind::Value,
            "templates/t",
            &g1,
            Some(b"v1".to_vec()),
            false,
            T0,
        );
        assert!(filled.lasting);
        let day = T0 + 86_400_000;
        assert_eq!(found(c.lookup(Kind::Value, "templates/t", &g1, day)), b"v1");
        // Another kind under the same key is another entry.
        assert!(matches!(
            c.lookup(Kind::Meta, "templates/t", &g1, day),
            Local::Miss { stale: None }
        ));
        // A new generation: read again, the old value only as a stand-in.
        let g2 = gen(&mut c, "g2", day);
        let Local::Miss { stale: Some(old) } = c.lookup(Kind::Value, "templates/t", &g2, day)
        else {
            panic!("a new generation reads again")
        };
        let (lookup, source) = c.fail(Some(&old), "r2 down".into(), day);
        assert_eq!(
            (lookup, source),
            (Lookup::Found(b"v1".into()), Source::Stale)
        );
        // Absence is remembered too.
        c.fill(Kind::Value, "vars/x", &g2, None, false, day);
        assert!(matches!(
            c.lookup(Kind::Value, "vars/x", &g2, day + 3_600_000),
            Local::Hit(Lookup::Missing)
        ));
    }

    #[test]
    fn kv_values_of_a_new_generation_are_provisional_for_the_propagation_window() {
        let mut c = StoreCache::new(&settings());
        let g1 = gen(&mut c, "g1", T0);
        let early = c.fill(
            Kind::Value,
            "devices/d",
            &g1,
            Some(b"old?".to_vec()),
            true,
            T0,
        );
        assert!(!early.lasting, "not for the colo");
        // Kept for the TTL only.
        assert!(matches!(
            c.lookup(Kind::Value, "devices/d", &g1, T0 + 9_999),
            Local::Hit(_)
        ));
        assert!(matches!(
            c.lookup(Kind::Value, "devices/d", &g1, T0 + 10_000),
            Local::Miss { .. }
        ));
        // Read after the window: lasting.
        let later = T0 + 60_000;
        assert!(
            c.fill(
                Kind::Value,
                "devices/d",
                &g1,
                Some(b"new".to_vec()),
                true,
                later
            )
            .lasting
        );
        assert_eq!(
            found(c.lookup(Kind::Value, "devices/d", &g1, later + 86_400_000)),
            b"new"
        );
        // Reading the same generation again does not restart the window.
        assert_eq!(gen(&mut c, "g1", later + 1), g1);
        assert!(
            c.fill(
                Kind::Value,
                "vars/v",
                &g1,
                Some(b"x".to_vec()),
                true,
                later + 2
            )
            .lasting
        );
        // Without a propagation window (Miniflare), lasting at once.
        let mut strong = StoreCache::new(&WorkerSettings {
            kv_propagation_secs: 0,
            ..settings()
        });
        let g = gen(&mut strong, "g", T0);
        assert!(
            strong
                .fill(Kind::Value, "devices/d", &g, Some(b"v".to_vec()), true, T0)
                .lasting
        );
        // A generation adopted from the colo was never seen here: KV is distrusted under it.
        let adopted = c.adopt("g9", T0, T0 + 1).unwrap();
        assert!(
            !c.fill(
                Kind::Value,
                "devices/e",
                &adopted,
                Some(b"v".to_vec()),
                true,
                T0 + 1
            )
            .lasting
        );
    }

    #[test]
    fn without_a_generation_values_live_for_the_ttl_then_stand_in_when_the_store_fails() {
        let mut c = StoreCache::new(&settings());
        let ttl = c.generation_read(Ok(None), T0).unwrap();
        assert_eq!(ttl, Under::Ttl);
        assert_eq!(c.trusted(T0 + 1), Some(Under::Ttl));
        let filled = c.fill(
            Kind::Value,
            "devices/d",
            &ttl,
            Some(b"v".to_vec()),
            true,
            T0,
        );
        assert!(!filled.lasting, "the colo holds only generation values");
        assert!(matches!(
            c.lookup(Kind::Value, "devices/d", &ttl, T0 + 9_999),
            Local::Hit(_)
        ));
        let Local::Miss { stale: Some(stale) } =
            c.lookup(Kind::Value, "devices/d", &ttl, T0 + 10_000)
        else {
            panic!("expired")
        };
        // TTL + stale_if_error (10 s + 300 s).
        let (lookup, source) = c.fail(Some(&stale), "kv down".into(), T0 + 309_999);
        assert_eq!(
            (lookup, source),
            (Lookup::Found(b"v".into()), Source::Stale)
        );
        let (lookup, source) = c.fail(Some(&stale), "kv down".into(), T0 + 310_000);
        assert!(matches!(lookup, Lookup::Failed(_)));
        assert_eq!(source, Source::Failed);
        let (lookup, _) = c.fail(None, "kv down".into(), T0);
        assert!(matches!(lookup, Lookup::Failed(r) if r.contains("kv down")));
    }

    #[test]
    fn a_failed_generation_read_keeps_the_last_one_for_a_while() {
        let mut c = StoreCache::new(&settings());
        assert_eq!(c.generation_read(Err("down".into()), T0), None);
        let g1 = gen(&mut c, "g1", T0);
        // generation_ttl + stale_if_error = 360 s.
        assert_eq!(
            c.generation_read(Err("down".into()), T0 + 359_999),
            Some(g1.clone())
        );
        assert_eq!(c.generation_read(Err("down".into()), T0 + 360_000), None);
        // The colo's copy, by when it was read.
        assert_eq!(
            c.adopt("g0", T0, T0 + 359_999),
            Some(Under::Generation("g0".into()))
        );
        assert_eq!(c.adopt("g0", T0, T0 + 360_000), None);
        assert_eq!(c.adopt(" ", T0, T0), None);
        assert_eq!(c.generation_lifetime_secs(), 360);
        // An empty generation key, or one with control characters, is no generation.
        for odd in [&b" \n"[..], b"a\x01b"] {
            assert_eq!(
                c.generation_read(Ok(Some(odd.to_vec())), T0),
                Some(Under::Ttl)
            );
        }
    }

    #[test]
    fn values_over_the_bound_are_not_kept() {
        let mut c = StoreCache::new(&settings());
        let g = gen(&mut c, "g", T0);
        let big = c.fill(Kind::Value, "fw", &g, Some(vec![0; 2000]), false, T0);
        assert!(!big.lasting);
        assert_eq!(big.lookup, Lookup::Found(vec![0; 2000].into()));
        assert!(matches!(
            c.lookup(Kind::Value, "fw", &g, T0),
            Local::Miss { stale: None }
        ));
        assert_eq!(c.usage().0, 0);
    }

    #[test]
    fn colo_urls_and_metadata() {
        assert_eq!(
            colo_url(
                "https://p.example/",
                "ab/c d",
                Kind::Value,
                "tenants/acme/templates/yealink/@mac.cfg"
            ),
            "https://p.example/.provedge-store/ab%2Fc%20d/value/tenants/acme/templates/yealink/%40mac.cfg"
        );
        assert_eq!(
            colo_generation_url("http://127.0.0.1:8787"),
            "http://127.0.0.1:8787/.provedge-store/generation"
        );
        for meta in [
            ObjectMeta {
                len: 26,
                etag: "\"abc\"".into(),
                modified: Some(784_111_777),
            },
            ObjectMeta {
                len: 0,
                etag: "\"e\"".into(),
                modified: None,
            },
        ] {
            assert_eq!(decode_meta(&encode_meta(&meta)), Some(meta));
        }
        for bad in [
            &b""[..],
            b"x\n\"e\"\n",
            b"1\n\n",
            b"1\n\"e\"\n1\nmore",
            b"1\n\"e\"",
        ] {
            assert_eq!(decode_meta(bad), None, "{bad:?}");
        }
        let mut reads = Reads::default();
        reads.count(Source::Kv);
        reads.count(Source::Isolate);
        reads.count(Source::Isolate);
        assert_eq!(
            reads.header(),
            "kv=1 r2=0 colo=0 isolate=2 stale=0 failed=0"
        );
    }
}
