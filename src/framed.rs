//! Digests of labelled parts: what makes two renders, or two requests, the same.
//!
//! Each part is written as its label, a mark byte no UTF-8 text holds (so the label's end is
//! unambiguous), and its length (or a mark for "absent") before its bytes, so no two different
//! lists of parts write the same bytes. The bytes are gathered and hashed once at the
//! end (XXH3-128): a request adds some forty small parts, and XXH3's streaming state did its
//! bookkeeping, and copied into its own buffer, on every one of them.

use std::hash::Hasher;

use crate::blob::Blob;

/// Bytes to gather before the first part: most requests never grow the buffer.
const TYPICAL: usize = 512;

/// Labelled parts, gathered for one digest. No `Debug`: a request's parts include its URL
/// token, which must never reach a log.
pub(crate) struct Framed(Vec<u8>);

impl Default for Framed {
    fn default() -> Framed {
        Framed(Vec::with_capacity(TYPICAL))
    }
}

impl Framed {
    /// A labelled value; `None` differs from every value, the empty one included.
    pub fn part(&mut self, label: &str, value: Option<&[u8]>) {
        self.0.extend_from_slice(label.as_bytes());
        self.0.push(0xff);
        match value {
            Some(v) => {
                self.length(v.len());
                self.0.extend_from_slice(v);
            }
            None => self.0.extend_from_slice(&u64::MAX.to_le_bytes()),
        }
    }

    /// Bytes a host read, by their length and digest (computed once per blob, so bytes that stay
    /// in a host's cache are not hashed again on every request). Never equal to
    /// [`Framed::part`] of the same bytes: the label is followed by another mark.
    pub fn blob(&mut self, label: &str, blob: Option<&Blob>) {
        self.0.extend_from_slice(label.as_bytes());
        self.0.push(0xfd);
        match blob {
            Some(b) => {
                self.length(b.len());
                self.0.extend_from_slice(&b.digest().to_le_bytes());
            }
            None => self.0.extend_from_slice(&u64::MAX.to_le_bytes()),
        }
    }

    fn length(&mut self, len: usize) {
        self.0.extend_from_slice(&(len as u64).to_le_bytes());
    }

    /// The digest of every part so far.
    pub fn digest(&self) -> u128 {
        xxhash_rust::xxh3::xxh3_128(&self.0)
    }
}

/// For values that say how to hash themselves (`#[derive(Hash)]`): their bytes are gathered
/// like any part's.
impl Hasher for Framed {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn finish(&self) -> u64 {
        self.digest() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(parts: &[(&str, Option<&[u8]>)]) -> u128 {
        let mut f = Framed::default();
        for (label, value) in parts {
            f.part(label, *value);
        }
        f.digest()
    }

    #[test]
    fn parts_are_framed_so_no_two_lists_collide() {
        // The same bytes split differently, or moved between label and value, differ.
        let a = digest(&[("ab", Some(b"c"))]);
        assert_ne!(a, digest(&[("a", Some(b"bc"))]));
        assert_ne!(a, digest(&[("ab", Some(b"")), ("", Some(b"c"))]));
        // Absent differs from empty, and the order of parts counts.
        assert_ne!(digest(&[("k", None)]), digest(&[("k", Some(b""))]));
        assert_ne!(
            digest(&[("a", Some(b"1")), ("b", Some(b"2"))]),
            digest(&[("b", Some(b"2")), ("a", Some(b"1"))])
        );
        // The same parts, the same digest.
        assert_eq!(a, digest(&[("ab", Some(b"c"))]));
    }

    #[test]
    fn a_blob_never_digests_as_its_bytes_given_as_a_part() {
        let bytes = b"{\"mac\":\"000b82123456\"}";
        let mut by_blob = Framed::default();
        by_blob.blob("device", Some(&Blob::from(bytes.to_vec())));
        assert_ne!(by_blob.digest(), digest(&[("device", Some(bytes))]));
        let mut again = Framed::default();
        again.blob("device", Some(&Blob::from(bytes.to_vec())));
        assert_eq!(by_blob.digest(), again.digest());
        let mut absent = Framed::default();
        absent.blob("device", None);
        assert_ne!(absent.digest(), by_blob.digest());
    }
}
