//! Stored objects served as they are (firmware, tones, images, vendor-encrypted device files):
//! validators, conditional requests and byte ranges (RFC 9110 §13, §14).
//!
//! A host reads an object's metadata ([`ObjectMeta`]: its length, a strong validator, its
//! modification time) and hands it to [`crate::Stream::answer`]; the core decides everything
//! else — 200, 206, 304 or 416, every header, and which bytes to send — so the native server,
//! the Worker and the filter answer alike. The host then sends exactly those bytes.

/// What a host knows of a stored object before sending it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Length in bytes.
    pub len: u64,
    /// A strong validator that changes with any replacement of the object (a store's ETag,
    /// or one built from a file's length, modification time and inode), quoted.
    pub etag: String,
    /// Last modification, in seconds since the Unix epoch, when the store knows it.
    pub modified: Option<u64>,
}

impl ObjectMeta {
    /// The metadata of an object held whole in memory: its validator is the hash of its bytes,
    /// the blob's digest (computed once for as long as the host keeps the blob).
    pub fn of_blob(blob: &crate::Blob) -> ObjectMeta {
        ObjectMeta {
            len: blob.len() as u64,
            etag: crate::response::etag_of_digest(blob.digest()),
            modified: None,
        }
    }

    /// `Last-Modified`, when known.
    pub fn last_modified(&self) -> Option<String> {
        self.modified.map(http_date)
    }

    /// The metadata an HTTP origin gives of an object (its answer to a `HEAD`): `len` from
    /// `Content-Length`, its `ETag` when that is a strong validator ([`strong_etag`]), else
    /// one made from the length and the date (a plain static server sends only
    /// `Last-Modified`), and the `Last-Modified` date. One recipe for every host that reads an
    /// origin, so a phone's validator does not depend on which host it asked.
    pub fn of_origin(len: u64, etag: Option<&[u8]>, last_modified: Option<&[u8]>) -> ObjectMeta {
        let modified = last_modified
            .and_then(|raw| std::str::from_utf8(raw).ok())
            .and_then(parse_http_date);
        let etag = etag
            .and_then(strong_etag)
            .unwrap_or_else(|| format!("\"{len:x}-{:x}\"", modified.unwrap_or(0)));
        ObjectMeta {
            len,
            etag,
            modified,
        }
    }
}

/// An origin's `ETag` when it is a strong validator a host may compare and send back (with
/// `If-Match`, to a client): quoted, printable ASCII, at most 256 bytes. `None` for a weak,
/// absent or malformed one (a hostile origin's is never echoed into a header).
pub fn strong_etag(raw: &[u8]) -> Option<String> {
    let quoted = raw.len() >= 2 && raw.first() == Some(&b'"') && raw.last() == Some(&b'"');
    let printable = raw.len() <= 256 && raw.iter().all(|b| (0x20..0x7f).contains(b));
    (quoted && printable).then(|| String::from_utf8_lossy(raw).into_owned())
}

/// An HTTP date (IMF-fixdate, or the obsolete forms RFC 9110 §5.6.7 asks recipients to read)
/// as seconds since the Unix epoch: the inverse of [`http_date`].
pub fn parse_http_date(text: &str) -> Option<u64> {
    let time = httpdate::parse_http_date(text.trim()).ok()?;
    time.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// What the request asked of the object: the conditional and range headers, captured once when
/// the request arrived.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    pub head: bool,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    pub range: Option<String>,
    pub if_range: Option<String>,
}

impl Conditions {
    pub fn of(req: &crate::Request) -> Conditions {
        let header = |name: &str| req.header(name).map(str::to_owned);
        Conditions {
            head: req.method == crate::Method::Head,
            if_none_match: header("if-none-match"),
            if_modified_since: header("if-modified-since"),
            range: header("range"),
            if_range: header("if-range"),
        }
    }

    /// Whether the client already holds this version (`If-None-Match` wins over
    /// `If-Modified-Since`, RFC 9110 §13.2.2).
    pub fn unchanged(&self, meta: &ObjectMeta) -> bool {
        match &self.if_none_match {
            Some(tags) => etag_matches(tags, &meta.etag),
            None => self
                .if_modified_since
                .as_deref()
                .is_some_and(|since| not_modified_since(since, meta.modified)),
        }
    }

    /// The range to honour: none when `If-Range` names another version than the current one.
    pub fn range_of(&self, meta: &ObjectMeta) -> Ranged {
        let current = match &self.if_range {
            None => true,
            Some(v) => *v == meta.etag || Some(v.as_str()) == meta.last_modified().as_deref(),
        };
        if current {
            parse_range(self.range.as_deref(), meta.len)
        } else {
            Ranged::Full
        }
    }
}

/// What a `Range` header asks of an object of `len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ranged {
    /// The whole object (no range, an unsupported or malformed one, or several ranges).
    Full,
    /// Bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// Nothing of the object can satisfy it: 416.
    Unsatisfiable,
}

/// Reads a single byte range (RFC 9110 §14.1.2); anything else is served whole, as the RFC
/// allows a server to ignore `Range`.
pub fn parse_range(header: Option<&str>, len: u64) -> Ranged {
    let Some(spec) = header.map(str::trim).and_then(|h| {
        h.get(..6)
            .filter(|unit| unit.eq_ignore_ascii_case("bytes="))
            .and_then(|_| h.get(6..))
            .map(str::trim)
    }) else {
        return Ranged::Full;
    };
    if spec.contains(',') {
        return Ranged::Full;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ranged::Full;
    };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let Some(last_byte) = len.checked_sub(1) else {
        // Nothing in an empty object can be asked for by a well-formed range.
        return match (number(first), number(last)) {
            (None, None) => Ranged::Full,
            _ => Ranged::Unsatisfiable,
        };
    };
    match (first.trim().is_empty(), number(first), number(last)) {
        // `-N`: the last N bytes.
        (true, _, Some(0)) => Ranged::Unsatisfiable,
        (true, _, Some(n)) => Ranged::Part {
            start: len.saturating_sub(n),
            end: last_byte,
        },
        (false, Some(start), None) if last.trim().is_empty() => {
            if start >= len {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part {
                    start,
                    end: last_byte,
                }
            }
        }
        (false, Some(start), Some(end)) if start <= end => {
            if start >= len {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part {
                    start,
                    end: end.min(last_byte),
                }
            }
        }
        _ => Ranged::Full,
    }
}

/// Whether an `If-None-Match` list names `etag` (weak comparison, RFC 9110 §13.1.2): `W/"x"`
/// matches `"x"`, and `*` matches any current object.
pub fn etag_matches(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// Whether an object modified at `modified` (seconds) is unchanged since an `If-Modified-Since`
/// date (second precision).
pub fn not_modified_since(header: &str, modified: Option<u64>) -> bool {
    let (Some(since), Some(modified)) = (parse_http_date(header), modified) else {
        return false;
    };
    modified <= since
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) for seconds since the Unix epoch.
pub fn http_date(secs: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// What to send for a streamed object.
#[derive(Debug)]
#[must_use]
pub enum StreamAnswer {
    /// Send `status` with `headers`, then the object's bytes `start..start + len` (nothing for
    /// a HEAD request, `send_body` false, though `content-length` says `len`).
    Send {
        status: u16,
        headers: Vec<(String, String)>,
        start: u64,
        len: u64,
        send_body: bool,
        /// The device the engine knows this is for (for last-seen records), if any.
        device: Option<crate::Mac>,
    },
    /// Answer with this (304, 404, 416, 503): no object bytes.
    Respond(crate::Response),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let cases: &[(Option<&str>, u64, Ranged)] = &[
            (None, 10, Ranged::Full),
            (Some("bytes=0-3"), 10, Ranged::Part { start: 0, end: 3 }),
            (Some("BYTES=2-"), 10, Ranged::Part { start: 2, end: 9 }),
            (Some("bytes=-4"), 10, Ranged::Part { start: 6, end: 9 }),
            (Some("bytes=-40"), 10, Ranged::Part { start: 0, end: 9 }),
            (Some("bytes=5-100"), 10, Ranged::Part { start: 5, end: 9 }),
            (Some("bytes=10-"), 10, Ranged::Unsatisfiable),
            (Some("bytes=10-12"), 10, Ranged::Unsatisfiable),
            (Some("bytes=-0"), 10, Ranged::Unsatisfiable),
            (Some("bytes=0-"), 0, Ranged::Unsatisfiable),
            (Some("bytes=3-1"), 10, Ranged::Full),
            (Some("bytes=0-1,4-5"), 10, Ranged::Full),
            (Some("bytes=a-b"), 10, Ranged::Full),
            (Some("bytes=+1-2"), 10, Ranged::Full),
            (Some("items=0-1"), 10, Ranged::Full),
            (Some("bytes=99999999999999999999999-"), 10, Ranged::Full),
        ];
        for (header, len, want) in cases {
            assert_eq!(&parse_range(*header, *len), want, "{header:?} of {len}");
        }
    }

    #[test]
    fn etags() {
        assert!(etag_matches("\"a\"", "\"a\""));
        assert!(etag_matches("W/\"a\", \"b\"", "\"a\""));
        assert!(etag_matches("*", "\"a\""));
        assert!(!etag_matches("\"b\"", "\"a\""));
    }

    #[test]
    fn validators() {
        let meta = ObjectMeta {
            len: 3,
            etag: "\"abc\"".into(),
            modified: Some(784_111_777),
        };
        assert_eq!(
            meta.last_modified().as_deref(),
            Some("Sun, 06 Nov 1994 08:49:37 GMT")
        );
        let c = |inm: Option<&str>, ims: Option<&str>| Conditions {
            if_none_match: inm.map(str::to_owned),
            if_modified_since: ims.map(str::to_owned),
            ..Conditions::default()
        };
        assert!(c(Some("W/\"abc\""), None).unchanged(&meta));
        assert!(c(Some("*"), None).unchanged(&meta));
        assert!(!c(Some("\"x\""), Some("Sun, 06 Nov 1994 08:49:37 GMT")).unchanged(&meta));
        assert!(c(None, Some("Sun, 06 Nov 1994 08:49:37 GMT")).unchanged(&meta));
        assert!(!c(None, Some("Sun, 06 Nov 1994 08:49:36 GMT")).unchanged(&meta));
        let stale_if_range = Conditions {
            range: Some("bytes=0-0".into()),
            if_range: Some("\"old\"".into()),
            ..Conditions::default()
        };
        assert_eq!(stale_if_range.range_of(&meta), Ranged::Full);
    }

    #[test]
    fn origin_metadata() {
        let date = b"Sun, 06 Nov 1994 08:49:37 GMT";
        let own = ObjectMeta::of_origin(26, Some(b"\"v1\""), Some(date));
        assert_eq!(
            own,
            ObjectMeta {
                len: 26,
                etag: "\"v1\"".into(),
                modified: Some(784_111_777)
            }
        );
        // No strong validator: one from the length and the date, stable across hosts.
        for etag in [
            None,
            Some(&b"W/\"v1\""[..]),
            Some(b"\"a\r\nx: y\""),
            Some(b"v1"),
        ] {
            let made = ObjectMeta::of_origin(26, etag, Some(date));
            assert_eq!(made.etag, "\"1a-2ebc98a1\"", "{etag:?}");
        }
        assert_eq!(ObjectMeta::of_origin(0, None, Some(b"\xff")).modified, None);
        assert_eq!(
            parse_http_date(" Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }
}
