//! Canonical store keys: one spelling per file, whatever case or directory the phone used.

use std::fmt;
use std::sync::Arc;

use crate::vendor::Vendor;

/// A key in the store (a folder, Workers KV/R2, an HTTP object store). Always lower case, `/`
/// separated, with no empty, `.` or `..` segment and only `[a-z0-9._+,()@-]` inside segments,
/// so it is safe as a file path, a URL path and a KV key without further escaping.
///
/// Shared, not owned: a request's keys are made once per remembered route and then handed
/// around (to the fetch, back with the host's answers, through the template walk), so a clone
/// is a reference count, not an allocation and a copy.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreKey(Arc<str>);

/// The bytes a key may hold besides `/` (after lower-casing): one load per byte, where the
/// comparisons it replaces were the largest part of building a request's keys.
// Evaluated at compile time: an index out of range would fail the build, never a request.
#[allow(clippy::indexing_slicing)]
const KEY_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || matches!(c, b'.' | b'_' | b'+' | b',' | b'(' | b')' | b'@' | b'-');
        b += 1;
    }
    table
};

impl StoreKey {
    /// Checks and lower-cases a key. `None` if it is not a safe key.
    pub fn new(raw: &str) -> Option<StoreKey> {
        StoreKey::checked(raw.to_owned())
    }

    /// The key made of `parts` written one after the other (`["templates/", vendor, "/",
    /// name]`), checked as [`StoreKey::new`] checks, with one allocation.
    pub fn join(parts: &[&str]) -> Option<StoreKey> {
        let mut key = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        parts.iter().for_each(|p| key.push_str(p));
        StoreKey::checked(key)
    }

    /// Lower-cases `key` in place and checks it in one pass over its bytes (keys are built on
    /// every request, so this avoids splitting and re-allocating).
    fn checked(mut key: String) -> Option<StoreKey> {
        if key.is_empty() || key.len() > 512 {
            return None;
        }
        key.make_ascii_lowercase();
        let allowed = |b: u8| KEY_BYTES.get(usize::from(b)).copied().unwrap_or(false);
        let segment_ok = |seg: &[u8]| !seg.is_empty() && seg != b"." && seg != b"..";
        // `start..i` is always in range (start ≤ i ≤ len); were it not, the empty segment would
        // refuse the key rather than let it through.
        let bytes = key.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'/' {
                if !segment_ok(bytes.get(start..i).unwrap_or_default()) {
                    return None;
                }
                start = i + 1;
            } else if !allowed(b) {
                return None;
            }
        }
        segment_ok(bytes.get(start..).unwrap_or_default()).then(|| StoreKey(key.into()))
    }

    /// A key the crate built from parts that are valid by construction. Checked in debug builds.
    pub(crate) fn trusted(key: String) -> StoreKey {
        debug_assert!(
            StoreKey::new(&key).as_ref().map(StoreKey::as_str) == Some(key.as_str()),
            "{key}"
        );
        StoreKey(key.into())
    }

    /// The key of a file a vendor's phones fetch: `<vendor>/<file>`.
    pub fn file(vendor: Vendor, file: &str) -> Option<StoreKey> {
        StoreKey::join(&[vendor.name(), "/", file])
    }

    /// The key an upload of `file` is stored under: `uploads/<vendor>/<file>`. Uploads live in
    /// their own namespace so a phone can never overwrite, or read back, a served file.
    pub fn upload(vendor: Vendor, file: &str) -> Option<StoreKey> {
        StoreKey::join(&["uploads/", vendor.name(), "/", file])
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where this key is among `entries`' keys. The keys a job asks about are the ones it
    /// handed out (shared, see the type), so they are looked for by identity first, without
    /// comparing bytes; an equal key built elsewhere is found by content. (A job's entries
    /// hold each key once, so both ways find the same entry; among a host's answers that repeat
    /// a key, either copy may be found.)
    pub(crate) fn position_in<T>(&self, entries: &[(StoreKey, T)]) -> Option<usize> {
        entries
            .iter()
            .position(|(k, _)| Arc::ptr_eq(&k.0, &self.0))
            .or_else(|| entries.iter().position(|(k, _)| k == self))
    }
}

impl fmt::Display for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreKey({})", self.0)
    }
}

impl serde::Serialize for StoreKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_found_by_identity_or_by_content() {
        let kept = StoreKey::new("devices/000b82123456.json").unwrap();
        let entries = [
            (StoreKey::new("grandstream/cfg.xml").unwrap(), 1),
            (kept.clone(), 2),
        ];
        // The very key, and an equal one built on its own, find the same entry.
        assert_eq!(kept.position_in(&entries), Some(1));
        let equal = StoreKey::new("Devices/000B82123456.json").unwrap();
        assert_eq!(equal.position_in(&entries), Some(1));
        assert_eq!(
            StoreKey::new("devices/x.json")
                .unwrap()
                .position_in(&entries),
            None
        );
    }

    #[test]
    fn keys_are_lower_case_and_traversal_free() {
        assert_eq!(
            StoreKey::new("Algo/algom0022EE123456.conf")
                .unwrap()
                .as_str(),
            "algo/algom0022ee123456.conf"
        );
        for bad in [
            "", "/a", "a/", "a//b", "a/../b", "a/./b", "..", "a/b c", "a\\b", "a/%2e", "a/\u{e9}",
        ] {
            assert!(StoreKey::new(bad).is_none(), "{bad:?}");
        }
        assert_eq!(
            StoreKey::upload(Vendor::Polycom, "0004f2123456-app.log")
                .unwrap()
                .as_str(),
            "uploads/polycom/0004f2123456-app.log"
        );
        assert_eq!(
            StoreKey::join(&["Templates/", "yealink", "/", "@Mac.cfg"])
                .unwrap()
                .as_str(),
            "templates/yealink/@mac.cfg"
        );
        assert!(StoreKey::join(&["templates/", "..", "/x"]).is_none());
        assert!(StoreKey::new(&"a".repeat(513)).is_none());
    }
}
