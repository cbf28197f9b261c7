//! Checksums of stored files summed from an origin (an Algo `.md5` of firmware or tones): how a
//! digest is remembered per object version in the origin [`super::cache`], and what an answer
//! to a `Range` request for one piece of the object means.
//!
//! A firmware image is many MiB and phones ask for its `.md5` on every boot, so a host neither
//! reads it whole nor sums it per request. It feeds the object through the core's
//! [`crate::Md5Hasher`] as it arrives (the proxy-wasm filter in `Range` pieces of
//! `max_object_bytes`, one at a time, since its VM holds whole answers; the native server from
//! one streamed GET) and remembers the digest with the object's version in the cache under a key
//! no store key can take ([`memo_key`]): the same bounds, TTLs and sharing as every other
//! object. Within the TTL the digest is answered without asking the origin; after it the
//! version is checked (a 1-byte `Range` request, or a conditional GET) and the digest renewed
//! when unchanged.
//!
//! A version is the object's total length with its `ETag` and `Last-Modified`, compared all
//! together: an origin's `ETag` alone would do, but one that sends only `Last-Modified` (whole
//! seconds) is caught out by a rewrite within the same second only if the length changed too,
//! and an object with neither validator is never remembered (summed per request).

use super::answer::{failure, parse_status, validator, Reply};
use super::cache::Entry;
use super::Origin;
use crate::decision::Summed;

/// The cache key of the digest of store key `key`. A space never occurs in a store key, so a
/// digest can never be read as an object, nor an object as a digest.
pub fn memo_key(key: &str) -> String {
    format!("md5 {key}")
}

/// An object's version as its origin names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub length: u64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Version {
    /// The version of an answer (validators read as the object cache reads them).
    pub fn of(reply: &Reply<'_>, length: u64) -> Version {
        Version {
            length,
            etag: reply.etag.and_then(validator),
            last_modified: reply.last_modified.and_then(validator),
        }
    }

    /// Whether a digest of this version can be recognised later (the origin named it).
    pub fn nameable(&self) -> bool {
        self.etag.is_some() || self.last_modified.is_some()
    }

    /// The cache entry remembering `digest` of this version: the body is the digest and the
    /// length (little-endian), the validators are the entry's own.
    pub fn remember(self, digest: [u8; 16], now_ms: u64) -> Entry {
        let mut body = digest.to_vec();
        body.extend_from_slice(&self.length.to_le_bytes());
        Entry {
            body: Some(body.into()),
            etag: self.etag,
            last_modified: self.last_modified,
            validated_ms: now_ms,
        }
    }
}

/// What a cache entry of a digest says: the digest, or that the file is missing; `None` for an
/// entry that is neither (then the file is summed again).
pub fn summed(entry: &Entry) -> Option<Summed> {
    match entry.body {
        None => Some(Summed::Missing),
        Some(_) => remembered(entry).map(|(_, digest)| Summed::Found(digest)),
    }
}

/// The version and digest an entry of [`Version::remember`] holds; `None` for a negative entry
/// (the file was missing) or anything malformed.
pub fn remembered(entry: &Entry) -> Option<(Version, [u8; 16])> {
    let body = entry.body.as_deref()?;
    let (digest, length) = body.split_first_chunk::<16>()?;
    let length: [u8; 8] = length.try_into().ok()?;
    let version = Version {
        length: u64::from_le_bytes(length),
        etag: entry.etag.clone(),
        last_modified: entry.last_modified.clone(),
    };
    Some((version, *digest))
}

/// The bytes `start..=end` asked of the origin (`Range: bytes=start-end`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asked {
    pub start: u64,
    pub end: u64,
}

impl Asked {
    /// The next piece from `start`: at most `piece` bytes, none past `total` when known.
    pub fn piece(start: u64, piece: usize, total: Option<u64>) -> Asked {
        let piece = u64::try_from(piece.max(1)).unwrap_or(u64::MAX);
        let mut end = start.saturating_add(piece - 1);
        if let Some(total) = total {
            end = end.min(total.saturating_sub(1));
        }
        Asked { start, end }
    }

    /// The `Range` header value asking for it.
    pub fn header(&self) -> String {
        format!("bytes={}-{}", self.start, self.end)
    }
}

/// What one answer to a `Range` request means.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece {
    /// The origin has no such object (one of its missing statuses).
    Missing,
    /// `len` bytes from `start` of an object of `total` bytes, in the answer's body: a 206 that
    /// is exactly the piece asked, a 200 of a whole object within `max_object_bytes` (an origin
    /// that ignores `Range`), or the 416 of an empty object.
    Bytes { start: u64, len: usize, total: u64 },
    /// Anything else; the reason is for logs, the label for a metric's name.
    Failed { reason: String, label: &'static str },
}

/// Classifies an answer to the `Range` request `asked`; `content_range` is its header. Strict
/// on purpose: a 206 must be the bytes asked, to the byte, so a wrong or hostile origin cannot
/// make a host sum the wrong bytes or loop on pieces that do not advance.
pub fn classify_piece(
    origin: &Origin,
    reply: &Reply<'_>,
    content_range: Option<&[u8]>,
    asked: Asked,
) -> Piece {
    let failed = |reason: String, label| Piece::Failed { reason, label };
    let Some(status) = reply.status.and_then(parse_status) else {
        return failed("no response".into(), "no_response");
    };
    let size = reply.body_size;
    match status {
        206 => match content_range.and_then(parse_content_range) {
            Some((Some((start, end)), total))
                if start == asked.start
                    && end == asked.end.min(total.saturating_sub(1))
                    && u64::try_from(size).ok() == Some(end - start + 1)
                    && size <= origin.max_object_bytes().max(1) =>
            {
                Piece::Bytes {
                    start,
                    len: size,
                    total,
                }
            }
            _ => failed(
                format!(
                    "answered a range request for {} with another",
                    asked.header()
                ),
                "range",
            ),
        },
        200 if size > origin.max_object_bytes() => failed(
            format!("ignored Range and sent an object of {size} bytes, over max_object_bytes"),
            "too_large",
        ),
        200 => Piece::Bytes {
            start: 0,
            len: size,
            total: u64::try_from(size).unwrap_or(u64::MAX),
        },
        416 if asked.start == 0
            && content_range.and_then(parse_content_range) == Some((None, 0)) =>
        {
            Piece::Bytes {
                start: 0,
                len: 0,
                total: 0,
            }
        }
        s if origin.is_missing(s) => Piece::Missing,
        s => {
            let (reason, label) = failure(s);
            failed(reason, label)
        }
    }
}

/// `Content-Range: bytes a-b/total` as `(Some((a, b)), total)`, or `bytes */total` (a 416's)
/// as `(None, total)`; `None` for anything else, an unknown total (`*`) included.
fn parse_content_range(raw: &[u8]) -> Option<(Option<(u64, u64)>, u64)> {
    let text = std::str::from_utf8(raw).ok()?.trim();
    let (range, total) = text.strip_prefix("bytes ")?.split_once('/')?;
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let total = number(total)?;
    if range == "*" {
        return Some((None, total));
    }
    let (start, end) = range.split_once('-')?;
    let (start, end) = (number(start)?, number(end)?);
    (start <= end && end < total).then_some((Some((start, end)), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        crate::origin::tests::origin(r#"{"upstream": "s", "max_object_bytes": 10}"#)
    }

    fn reply(status: &[u8], size: usize) -> Reply<'_> {
        Reply {
            status: Some(status),
            etag: Some(b"\"v1\""),
            last_modified: None,
            body_size: size,
        }
    }

    fn piece(status: &[u8], size: usize, range: Option<&str>, asked: Asked) -> Piece {
        classify_piece(
            &origin(),
            &reply(status, size),
            range.map(str::as_bytes),
            asked,
        )
    }

    #[test]
    fn pieces_cover_the_object_without_passing_its_end() {
        assert_eq!(Asked::piece(0, 10, None).header(), "bytes=0-9");
        assert_eq!(Asked::piece(20, 10, Some(25)).header(), "bytes=20-24");
        assert_eq!(Asked::piece(0, 0, None).header(), "bytes=0-0");
        assert_eq!(Asked::piece(u64::MAX, 10, None).end, u64::MAX);
    }

    #[test]
    fn answers_to_range_requests() {
        let first = Asked::piece(0, 10, None);
        assert_eq!(
            piece(b"206", 10, Some("bytes 0-9/25"), first),
            Piece::Bytes {
                start: 0,
                len: 10,
                total: 25
            }
        );
        // A short object: the piece ends with it.
        assert_eq!(
            piece(b"206", 3, Some("bytes 0-2/3"), first),
            Piece::Bytes {
                start: 0,
                len: 3,
                total: 3
            }
        );
        let last = Asked::piece(20, 10, Some(25));
        assert_eq!(
            piece(b"206", 5, Some("bytes 20-24/25"), last),
            Piece::Bytes {
                start: 20,
                len: 5,
                total: 25
            }
        );
        // An origin ignoring Range: the whole object, when it fits.
        assert_eq!(
            piece(b"200", 7, None, first),
            Piece::Bytes {
                start: 0,
                len: 7,
                total: 7
            }
        );
        assert!(matches!(
            piece(b"200", 11, None, first),
            Piece::Failed {
                label: "too_large",
                ..
            }
        ));
        // An empty object.
        assert_eq!(
            piece(b"416", 0, Some("bytes */0"), first),
            Piece::Bytes {
                start: 0,
                len: 0,
                total: 0
            }
        );
        assert_eq!(piece(b"404", 9, None, first), Piece::Missing);
        assert_eq!(piece(b"410", 0, None, last), Piece::Missing);
        for (status, label) in [
            (&b"500"[..], "status_5xx"),
            (b"504", "timeout"),
            (b"403", "status"),
            (b"2x", "no_response"),
        ] {
            let Piece::Failed { label: got, .. } = piece(status, 0, None, first) else {
                panic!("{status:?}")
            };
            assert_eq!(got, label);
        }
    }

    #[test]
    fn a_piece_other_than_the_one_asked_fails() {
        let asked = Asked::piece(10, 10, Some(25));
        for (size, range) in [
            (10, None),
            (10, Some("bytes 0-9/25")),   // another piece
            (5, Some("bytes 10-14/25")),  // shorter than asked
            (9, Some("bytes 10-19/25")),  // body and header disagree
            (10, Some("bytes 10-19/*")),  // unknown total
            (10, Some("bytes 10-19/19")), // end past the total
            (10, Some("bytes 19-10/25")), // backwards
            (10, Some("bytes -10-19/25")),
            (10, Some("items 10-19/25")),
            (10, Some("bytes 10-19/25\r\nx: y")),
        ] {
            assert!(
                matches!(
                    piece(b"206", size, range, asked),
                    Piece::Failed { label: "range", .. }
                ),
                "{size} {range:?}"
            );
        }
        // A piece larger than max_object_bytes is refused even if it is what was asked.
        let wide = Asked { start: 0, end: 19 };
        assert!(matches!(
            piece(b"206", 20, Some("bytes 0-19/25"), wide),
            Piece::Failed { .. }
        ));
        // A 416 is an empty object only for the first byte, and only with a total of 0.
        assert!(matches!(
            piece(b"416", 0, Some("bytes */0"), asked),
            Piece::Failed { .. }
        ));
        assert!(matches!(
            piece(b"416", 0, Some("bytes */5"), Asked::piece(0, 10, None)),
            Piece::Failed { .. }
        ));
    }

    #[test]
    fn digests_are_remembered_with_their_version() {
        let version = Version::of(&reply(b"206", 1), 3 << 20);
        assert!(version.nameable());
        let entry = version.clone().remember([7; 16], 5);
        assert_eq!(remembered(&entry), Some((version, [7; 16])));
        let negative = Entry {
            body: None,
            etag: None,
            last_modified: None,
            validated_ms: 5,
        };
        assert_eq!(remembered(&negative), None);
        let torn = Entry {
            body: Some(vec![1; 23].into()),
            ..negative
        };
        assert_eq!(remembered(&torn), None);
        let anonymous = Version {
            length: 1,
            etag: None,
            last_modified: None,
        };
        assert!(!anonymous.nameable());
        assert_eq!(
            crate::StoreKey::new(&memo_key("algo/algo-8188-5.2.fw")),
            None
        );
    }
}
