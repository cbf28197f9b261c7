//! Rendered files, remembered by their inputs.
//!
//! Phones re-fetch their files every few minutes and nearly always get the same bytes. A render
//! is a pure function of the template and the records it reads, so the engine keeps the last
//! rendering of each file together with a hash of every input byte; while the inputs are
//! unchanged the stored bytes are served again (and keep their ETag, so revalidation works).
//! The file's own key is part of the lookup, so two files can never share an entry.

use std::hash::Hasher;
use std::sync::{Arc, Mutex};

use crate::framed::Framed;
use crate::key::StoreKey;
use crate::seeded_map::SeededMap;

/// By default at most this many files are remembered…
pub const DEFAULT_ENTRIES: usize = 4096;
/// …holding at most this many bytes in total (`memory.render_entries`, `memory.render_bytes`).
pub const DEFAULT_BYTES: usize = 64 << 20;

/// One remembered rendering.
#[derive(Debug)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    /// The strong ETag of `bytes`, computed once.
    pub etag: String,
}

/// A hash of a render's inputs, built from each input's key and bytes in a fixed order.
///
/// XXH3 with 128 bits: every cached request computes it, so speed matters (the inputs a host
/// read enter by their digest, [`InputHash::add_blob`], which a cached blob computes once);
/// 128 bits keep an accidental collision, which would serve one phone's file for another's
/// inputs, out of reach.
#[derive(Default)]
pub struct InputHash(Framed);

impl InputHash {
    /// The output syntax (the same template renders differently for XML and binary).
    pub fn add_syntax(&mut self, syntax: crate::render::Syntax) {
        std::hash::Hash::hash(&syntax, &mut self.0);
        self.0.write_u8(0xfe);
    }

    pub fn add(&mut self, label: &str, bytes: Option<&[u8]>) {
        self.0.part(label, bytes);
    }

    /// Bytes the host read, by their length and digest (computed once per blob, so a blob
    /// from a host's cache is not hashed again on every request). Never equal to
    /// [`InputHash::add`] of the same bytes: each input is always added the same way.
    pub fn add_blob(&mut self, label: &str, blob: Option<&crate::Blob>) {
        self.0.blob(label, blob);
    }

    pub fn finish(&self) -> u128 {
        self.0.digest()
    }
}

/// A map by store key bounded in entries and in the bytes its values stand for; when a bound
/// would be exceeded it starts over (simple, bounded, and cheap to refill: every entry is one
/// render or one parse away). The render cache and the variable-layer cache are both one.
pub(crate) struct Bounded<V> {
    inner: Mutex<BoundedInner<V>>,
    max_entries: usize,
    max_bytes: usize,
}

struct BoundedInner<V> {
    /// Per key: the value and the bytes it counts for.
    entries: SeededMap<StoreKey, (V, usize)>,
    bytes: usize,
}

impl<V: Clone> Bounded<V> {
    /// At most `entries` values (at least one) standing for at most `bytes` bytes.
    pub(crate) fn new(entries: usize, bytes: usize) -> Bounded<V> {
        Bounded {
            inner: Mutex::new(BoundedInner {
                entries: SeededMap::default(),
                bytes: 0,
            }),
            max_entries: entries.max(1),
            max_bytes: bytes,
        }
    }

    /// The same bounds, nothing remembered.
    pub(crate) fn empty_clone(&self) -> Bounded<V> {
        Bounded::new(self.max_entries, self.max_bytes)
    }

    /// The value at `key`, if `wanted` takes it.
    pub(crate) fn get(&self, key: &StoreKey, wanted: impl FnOnce(&V) -> bool) -> Option<V> {
        let inner = self.inner.lock().ok()?;
        inner
            .entries
            .get(key)
            .filter(|(value, _)| wanted(value))
            .map(|(value, _)| value.clone())
    }

    /// Remembers `value` at `key`, counting `size` bytes; a value larger than the byte bound
    /// is not kept.
    pub(crate) fn put(&self, key: StoreKey, value: V, size: usize) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if let Some((_, old)) = inner.entries.remove(&key) {
            inner.bytes -= old;
        }
        if inner.entries.len() >= self.max_entries || inner.bytes + size > self.max_bytes {
            inner.entries.clear();
            inner.bytes = 0;
        }
        if size <= self.max_bytes {
            inner.bytes += size;
            inner.entries.insert(key, (value, size));
        }
    }

    /// How many values are remembered.
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().map(|i| i.entries.len()).unwrap_or(0)
    }

    /// The bytes the remembered values count for.
    pub(crate) fn bytes(&self) -> usize {
        self.inner.lock().map(|i| i.bytes).unwrap_or(0)
    }
}

/// The bounded map of rendered files: each with the hash of the inputs it was rendered from.
pub struct RenderCache(Bounded<(u128, Arc<Rendered>)>);

impl Default for RenderCache {
    fn default() -> RenderCache {
        RenderCache::bounded(DEFAULT_ENTRIES, DEFAULT_BYTES)
    }
}

impl std::fmt::Debug for RenderCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RenderCache({} files)", self.len())
    }
}

impl Clone for RenderCache {
    /// A clone starts empty: renderings are per engine instance.
    fn clone(&self) -> RenderCache {
        RenderCache(self.0.empty_clone())
    }
}

impl RenderCache {
    /// A cache of at most `entries` files and `bytes` bytes.
    pub fn bounded(entries: usize, bytes: usize) -> RenderCache {
        RenderCache(Bounded::new(entries, bytes))
    }

    /// The stored rendering of `file`, if its inputs hash to `inputs`.
    pub fn get(&self, file: &StoreKey, inputs: u128) -> Option<Arc<Rendered>> {
        self.0
            .get(file, |(hash, _)| *hash == inputs)
            .map(|(_, rendered)| rendered)
    }

    /// Remembers a rendering.
    pub fn put(&self, file: StoreKey, inputs: u128, rendered: Rendered) -> Arc<Rendered> {
        let rendered = Arc::new(rendered);
        let size = rendered.bytes.len();
        self.0.put(file, (inputs, Arc::clone(&rendered)), size);
        rendered
    }

    /// How many files are remembered.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_only_for_the_same_file_and_inputs() {
        let cache = RenderCache::default();
        let a = StoreKey::new("yealink/001565000001.cfg").unwrap();
        let b = StoreKey::new("yealink/001565000002.cfg").unwrap();
        let mut h = InputHash::default();
        h.add("devices/001565000001.json", Some(b"{}"));
        let hash = h.finish();
        cache.put(
            a.clone(),
            hash,
            Rendered {
                bytes: b"x".to_vec(),
                content_type: "text/plain",
                etag: "\"x\"".into(),
            },
        );
        assert_eq!(cache.get(&a, hash).unwrap().bytes, b"x");
        assert!(cache.get(&b, hash).is_none());
        assert!(cache.get(&a, hash ^ 1).is_none());
        let mut h2 = InputHash::default();
        h2.add("devices/001565000001.json", Some(b"{ }"));
        assert_ne!(h2.finish(), hash);
        let mut h3 = InputHash::default();
        h3.add("devices/001565000001.json", None);
        assert_ne!(h3.finish(), hash);
    }
}
