//! Parsed variable layers, remembered by their bytes.
//!
//! Every render of every device reads `vars/global.json` and its vendor's file, and these are
//! often the largest inputs (a few hundred P-values). They change rarely, so the engine parses
//! each once per change: the parsed object is kept per key (in the tenant's namespace) with a
//! 128-bit hash of the bytes it was parsed from, and handed out shared while the host keeps
//! returning the same bytes. What is kept is a pure function of the bytes, so no request can
//! be given another's data. Bounded like the render cache, by entries and by the bytes of
//! JSON parsed (`memory.vars_entries`, `memory.vars_bytes`); full, it starts over.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::cache::Bounded;
use crate::key::StoreKey;

/// By default at most this many variable files are remembered (a global file, one per vendor,
/// model and profile, per tenant)…
pub const DEFAULT_ENTRIES: usize = 256;
/// …parsed from at most this many bytes of JSON in total (parsed, an object takes a few times
/// the bytes of its JSON).
pub const DEFAULT_BYTES: usize = 4 << 20;

/// A layer as parsed: its object, shared.
pub type Layer = Arc<Map<String, Value>>;

/// Why a variable file is not a layer.
#[derive(Debug)]
pub enum LayerError {
    NotAnObject,
    Malformed { line: usize, column: usize },
}

/// The bounded map of parsed variable files: each with the hash and length of the bytes it
/// was parsed from, counting those bytes.
pub struct LayerCache(Bounded<(u128, usize, Layer)>);

impl Default for LayerCache {
    fn default() -> LayerCache {
        LayerCache::bounded(DEFAULT_ENTRIES, DEFAULT_BYTES)
    }
}

impl std::fmt::Debug for LayerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LayerCache({} files)", self.len())
    }
}

impl Clone for LayerCache {
    /// A clone starts empty, like the other per-engine caches.
    fn clone(&self) -> LayerCache {
        LayerCache(self.0.empty_clone())
    }
}

impl LayerCache {
    /// A cache of at most `entries` files parsed from at most `bytes` bytes.
    pub fn bounded(entries: usize, bytes: usize) -> LayerCache {
        LayerCache(Bounded::new(entries, bytes))
    }

    /// The object `bytes` (read at `key`) parse to, parsed only if these bytes were not the
    /// ones parsed last time. Failures are not remembered.
    pub fn parse(&self, key: &StoreKey, bytes: &crate::Blob) -> Result<Layer, LayerError> {
        let hash = bytes.digest();
        let same = |(h, len, _): &(u128, usize, Layer)| *h == hash && *len == bytes.len();
        if let Some((_, _, layer)) = self.0.get(key, same) {
            return Ok(layer);
        }
        let layer: Layer = match serde_json::from_slice::<Value>(bytes.as_slice()) {
            Ok(Value::Object(map)) => Arc::new(map),
            Ok(_) => return Err(LayerError::NotAnObject),
            Err(e) => {
                return Err(LayerError::Malformed {
                    line: e.line(),
                    column: e.column(),
                })
            }
        };
        let size = bytes.len();
        self.0
            .put(key.clone(), (hash, size, Arc::clone(&layer)), size);
        Ok(layer)
    }

    /// How many files are remembered.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of JSON the remembered files were parsed from.
    pub fn bytes(&self) -> usize {
        self.0.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Blob;

    fn key(s: &str) -> StoreKey {
        StoreKey::new(s).unwrap()
    }

    #[test]
    fn reuses_a_parse_only_for_the_same_key_and_bytes() {
        let cache = LayerCache::default();
        let global = key("vars/global.json");
        let other = key("tenants/b/vars/global.json");
        let a = cache
            .parse(&global, &Blob::from(br#"{"ntp": "a"}"#))
            .unwrap();
        assert!(Arc::ptr_eq(
            &a,
            &cache
                .parse(&global, &Blob::from(br#"{"ntp": "a"}"#))
                .unwrap()
        ));
        // Another tenant's key is its own entry, even for the same bytes.
        let b = cache
            .parse(&other, &Blob::from(br#"{"ntp": "a"}"#))
            .unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        let changed = cache
            .parse(&global, &Blob::from(br#"{"ntp": "b"}"#))
            .unwrap();
        assert_eq!(changed.get("ntp").unwrap(), "b");
        assert_eq!(cache.len(), 2);
        assert!(matches!(
            cache.parse(&global, &Blob::from(b"[1]")),
            Err(LayerError::NotAnObject)
        ));
        assert!(matches!(
            cache.parse(&global, &Blob::from(b"{\n\"x\": }")),
            Err(LayerError::Malformed { line: 2, .. })
        ));
    }

    #[test]
    fn bounded_by_entries_and_bytes() {
        let cache = LayerCache::bounded(2, 64);
        for i in 0..5 {
            cache
                .parse(
                    &key(&format!("vars/vendors/v{i}.json")),
                    &Blob::from(br#"{"a": 1}"#),
                )
                .unwrap();
            assert!(cache.len() <= 2);
        }
        let big = format!("{{\"a\": \"{}\"}}", "x".repeat(100));
        let layer = cache
            .parse(&key("vars/global.json"), &Blob::from(big.as_bytes()))
            .unwrap();
        assert_eq!(layer.get("a").unwrap().as_str().unwrap().len(), 100);
        assert!(cache.bytes() <= 64, "{}", cache.bytes());
        for i in 0..5 {
            cache
                .parse(
                    &key(&format!("vars/models/m{i}.json")),
                    &Blob::from(br#"{"padding": "0123456789012345678901234567890"}"#),
                )
                .unwrap();
            assert!(cache.bytes() <= 64 && cache.len() <= 2);
        }
    }
}
