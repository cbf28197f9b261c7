//! Parsed device records, remembered by their bytes.
//!
//! A phone's steady traffic re-reads the same record every few minutes; parsing its JSON was
//! the largest single cost of serving a cached file. The cache keeps, per record key, the bytes
//! it parsed (shared with the host's cache: a [`Blob`]) and the result, and reuses the result
//! only when the host hands over exactly the same bytes: the same blob, which costs nothing to
//! recognise, or equal bytes (a comparison is cheaper than any hash). A changed record is
//! parsed again.

use crate::seeded_map::SeededMap;
use std::sync::{Arc, Mutex};

use super::DeviceRecord;
use crate::key::StoreKey;
use crate::Blob;

/// By default at most this many records are remembered (a record is a few hundred bytes;
/// `memory.record_entries`).
pub const DEFAULT_ENTRIES: usize = 16384;

type Parsed = Result<Arc<DeviceRecord>, String>;

/// The bounded map of parsed device records.
pub struct RecordCache {
    entries: Mutex<SeededMap<StoreKey, (Blob, Parsed)>>,
    max_entries: usize,
}

impl Default for RecordCache {
    fn default() -> RecordCache {
        RecordCache::bounded(DEFAULT_ENTRIES)
    }
}

impl std::fmt::Debug for RecordCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordCache")
    }
}

impl Clone for RecordCache {
    /// A clone starts empty, like the other per-engine caches.
    fn clone(&self) -> RecordCache {
        RecordCache::bounded(self.max_entries)
    }
}

impl RecordCache {
    /// A cache of at most `entries` records.
    pub fn bounded(entries: usize) -> RecordCache {
        RecordCache {
            entries: Mutex::default(),
            max_entries: entries.max(1),
        }
    }

    /// The record last parsed for `key`, if it parsed: what the device looked like on its
    /// previous request (used only to name keys ahead, never to render).
    pub fn last(&self, key: &StoreKey) -> Option<Arc<DeviceRecord>> {
        let entries = self.entries.lock().ok()?;
        entries.get(key)?.1.as_ref().ok().cloned()
    }

    /// The record `bytes` parse to, parsed only if these bytes were not seen last time.
    pub fn parse(&self, key: &StoreKey, bytes: &Blob) -> Parsed {
        if let Ok(entries) = self.entries.lock() {
            if let Some((seen, parsed)) = entries.get(key) {
                if seen == bytes {
                    return parsed.clone();
                }
            }
        }
        let parsed = DeviceRecord::from_json(bytes).map(Arc::new);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.max_entries && !entries.contains_key(key) {
                // Wholesale, like the template cache: a scanner's churn cannot grow it, and
                // real phones refill it within one provisioning interval.
                entries.clear();
            }
            entries.insert(key.clone(), (bytes.clone(), parsed.clone()));
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Blob;

    #[test]
    fn reuses_a_parse_only_for_identical_bytes() {
        let cache = RecordCache::default();
        let key = StoreKey::new("devices/000b82123456.json").unwrap();
        let a = br#"{"mac":"000b82123456","vendor":"grandstream","model":"gxp2170"}"#;
        let b = br#"{"mac":"000b82123456","vendor":"grandstream","model":"gxp2135"}"#;
        let first = cache.parse(&key, &Blob::from(a)).unwrap();
        assert!(Arc::ptr_eq(
            &first,
            &cache.parse(&key, &Blob::from(a)).unwrap()
        ));
        let changed = cache.parse(&key, &Blob::from(b)).unwrap();
        assert_eq!(changed.model.as_ref().unwrap().as_str(), "gxp2135");
        assert!(cache.parse(&key, &Blob::from(b"{not json")).is_err());
    }
}
