//! Bytes a host read from its store, shared between the host's cache and the engine.
//!
//! A phone's steady traffic is the same file again, rendered from the same device record and
//! templates, which every host keeps in a cache. Handing those bytes to the engine as a fresh
//! `Vec` copied them on every request, and the engine then hashed every byte again to know
//! whether its own caches (parsed records and variables, compiled templates, rendered files)
//! still held: about a fifth of a cached answer natively, more in wasm. A [`Blob`] is cloned by
//! reference count, and its digest is computed the first time anyone asks and kept with the
//! bytes, so a blob that lives in a host's cache is hashed once for as long as it stays there.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// Immutable bytes, cheap to clone, with their XXH3-128 digest computed at most once.
#[derive(Clone)]
pub struct Blob(Arc<Shared>);

struct Shared {
    bytes: Box<[u8]>,
    digest: OnceLock<u128>,
}

impl Blob {
    pub fn new(bytes: Vec<u8>) -> Blob {
        Blob(Arc::new(Shared {
            bytes: bytes.into_boxed_slice(),
            digest: OnceLock::new(),
        }))
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.0.bytes
    }

    /// XXH3-128 of the bytes: what the engine's caches compare to know the bytes unchanged.
    /// Not a defence against a forger, only against an accident, like the ETag that the same
    /// function makes.
    pub fn digest(&self) -> u128 {
        *self
            .0
            .digest
            .get_or_init(|| xxhash_rust::xxh3::xxh3_128(&self.0.bytes))
    }

    /// The bytes as a `Vec`: without a copy when nothing else holds them.
    pub fn into_vec(self) -> Vec<u8> {
        match Arc::try_unwrap(self.0) {
            Ok(shared) => shared.bytes.into_vec(),
            Err(shared) => shared.bytes.to_vec(),
        }
    }
}

impl Deref for Blob {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0.bytes
    }
}

impl AsRef<[u8]> for Blob {
    fn as_ref(&self) -> &[u8] {
        &self.0.bytes
    }
}

impl From<Vec<u8>> for Blob {
    fn from(bytes: Vec<u8>) -> Blob {
        Blob::new(bytes)
    }
}

impl From<&[u8]> for Blob {
    fn from(bytes: &[u8]) -> Blob {
        Blob::new(bytes.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for Blob {
    fn from(bytes: &[u8; N]) -> Blob {
        Blob::new(bytes.to_vec())
    }
}

impl From<&str> for Blob {
    fn from(text: &str) -> Blob {
        Blob::new(text.as_bytes().to_vec())
    }
}

impl PartialEq for Blob {
    fn eq(&self, other: &Blob) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.bytes == other.0.bytes
    }
}

impl Eq for Blob {}

impl PartialEq<[u8]> for Blob {
    fn eq(&self, other: &[u8]) -> bool {
        *self.0.bytes == *other
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Blob {
    fn eq(&self, other: &[u8; N]) -> bool {
        *self.0.bytes == other[..]
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Blob {
    fn eq(&self, other: &&[u8; N]) -> bool {
        *self.0.bytes == other[..]
    }
}

/// The length only: a store's bytes are device records with SIP passwords, which must not
/// reach a log through a `{:?}`.
impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.0.bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_the_bytes_xxh3_and_clones_share_it() {
        let blob = Blob::from(&b"{\"mac\":\"000b82123456\"}"[..]);
        let copy = blob.clone();
        assert_eq!(
            blob.digest(),
            xxhash_rust::xxh3::xxh3_128(b"{\"mac\":\"000b82123456\"}")
        );
        assert!(
            copy.0.digest.get().is_some(),
            "computed once, for every clone"
        );
        assert_ne!(blob.digest(), Blob::from("{}").digest());
    }

    #[test]
    fn equality_is_by_bytes_and_debug_hides_them() {
        assert_eq!(Blob::from("secret"), Blob::from(b"secret".to_vec()));
        assert_ne!(Blob::from("secret"), Blob::from("secreT"));
        assert_eq!(format!("{:?}", Blob::from("secret")), "Blob(6 bytes)");
    }

    #[test]
    fn into_vec_gives_the_bytes_back_shared_or_not() {
        let blob = Blob::from("abc");
        let held = blob.clone();
        assert_eq!(blob.into_vec(), b"abc");
        assert_eq!(held.into_vec(), b"abc");
    }
}
