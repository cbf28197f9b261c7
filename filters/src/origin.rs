//! Requests to the origin and what their answers mean, apart from the proxy-wasm calls.

use crate::cache::Entry;
use crate::config::{Auth, Origin};
use crate::sigv4::{self, Credentials};

/// The origin's path for a store key: the prefix, then the key percent-encoded (template names
/// hold `@`, file names `+`, `(`, …).
pub fn path(origin: &Origin, key: &str) -> String {
    sigv4::encode_path(&format!("{}/{key}", origin.prefix))
}

/// Headers that authenticate a `method` of `path` (already encoded) with `body` (none for
/// GET and HEAD) to the origin.
pub fn auth_headers(
    origin: &Origin,
    creds: Option<&Credentials>,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    unix_secs: u64,
) -> Vec<(&'static str, String)> {
    match (&origin.auth, creds) {
        (Auth::Bearer { token }, _) => vec![("authorization", format!("Bearer {token}"))],
        (Auth::Sigv4 { .. }, Some(creds)) => {
            let hash = body.map_or_else(|| sigv4::EMPTY_SHA256.to_owned(), sigv4::sha256_hex);
            sigv4::request_headers(creds, method, &origin.authority, path, &hash, unix_secs)
        }
        _ => Vec::new(),
    }
}

/// What one origin answer means for the key asked.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// The object (200), or the origin has none (a missing status).
    Fresh(Entry),
    /// 304: the entry sent as `stale` is current.
    NotModified,
    /// Anything else; the reason is for logs and the metric's label.
    Failed { reason: String, label: &'static str },
}

/// The parts of an origin answer the filter reads.
pub struct Reply<'a> {
    /// `:status`, when the origin (or Envoy for it) answered at all.
    pub status: Option<&'a [u8]>,
    pub etag: Option<&'a [u8]>,
    pub last_modified: Option<&'a [u8]>,
    pub body_size: usize,
}

/// Classifies an answer; `body` is asked for only when the object is to be kept.
pub fn classify(
    origin: &Origin,
    reply: &Reply<'_>,
    now_ms: u64,
    body: impl FnOnce() -> Vec<u8>,
) -> Answer {
    let Some(status) = reply.status.and_then(parse_status) else {
        return Answer::Failed {
            reason: "no response".into(),
            label: "no_response",
        };
    };
    match status {
        200 if reply.body_size > origin.max_object_bytes => Answer::Failed {
            reason: format!(
                "object of {} bytes exceeds max_object_bytes",
                reply.body_size
            ),
            label: "too_large",
        },
        200 => Answer::Fresh(Entry {
            body: Some(body()),
            etag: reply.etag.and_then(validator),
            last_modified: reply.last_modified.and_then(validator),
            validated_ms: now_ms,
        }),
        304 => Answer::NotModified,
        s if origin.missing_statuses.contains(&s) => Answer::Fresh(Entry {
            body: None,
            etag: None,
            last_modified: None,
            validated_ms: now_ms,
        }),
        504 => Answer::Failed {
            reason: "timed out (504)".into(),
            label: "timeout",
        },
        s => Answer::Failed {
            reason: format!("answered {s}"),
            label: if s >= 500 { "status_5xx" } else { "status" },
        },
    }
}

/// A status line's code: exactly three ASCII digits, 100..=599.
pub(crate) fn parse_status(raw: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(raw).ok()?;
    let code: u16 = text.parse().ok()?;
    (text.len() == 3 && (100..=599).contains(&code)).then_some(code)
}

/// A validator worth sending back: printable ASCII, of sane length.
pub(crate) fn validator(raw: &[u8]) -> Option<String> {
    let ok = !raw.is_empty() && raw.len() <= 256 && raw.iter().all(|b| (0x20..0x7f).contains(b));
    ok.then(|| String::from_utf8_lossy(raw).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        crate::config::Settings::parse(
            br#"{"origin": {"upstream": "s", "prefix": "/b", "max_object_bytes": 10}}"#,
        )
        .map(|s| s.origin)
        .unwrap()
    }

    fn reply<'a>(status: &'a [u8], etag: Option<&'a [u8]>, size: usize) -> Reply<'a> {
        Reply {
            status: Some(status),
            etag,
            last_modified: None,
            body_size: size,
        }
    }

    #[test]
    fn answers_are_classified() {
        let o = origin();
        let body = || b"abc".to_vec();
        let Answer::Fresh(e) = classify(&o, &reply(b"200", Some(b"\"x\""), 3), 5, body) else {
            panic!()
        };
        assert_eq!(
            (e.body.as_deref(), e.etag.as_deref()),
            (Some(&b"abc"[..]), Some("\"x\""))
        );
        let Answer::Fresh(e) = classify(&o, &reply(b"404", None, 0), 5, body) else {
            panic!()
        };
        assert_eq!(e.body, None);
        assert_eq!(
            classify(&o, &reply(b"304", None, 0), 5, body),
            Answer::NotModified
        );
        for (status, label) in [
            (&b"500"[..], "status_5xx"),
            (b"504", "timeout"),
            (b"403", "status"),
            (b"20", "no_response"),
            (b"2000", "no_response"),
            (b"\xff\xfe\xfd", "no_response"),
            (b"-1", "no_response"),
        ] {
            let Answer::Failed { label: got, .. } = classify(&o, &reply(status, None, 0), 5, body)
            else {
                panic!("{status:?}")
            };
            assert_eq!(got, label, "{status:?}");
        }
        let Answer::Failed { label, .. } = classify(&o, &reply(b"200", None, 11), 5, || {
            panic!("a too-large body is never read")
        }) else {
            panic!()
        };
        assert_eq!(label, "too_large");
        // A hostile validator is dropped rather than echoed back.
        let Answer::Fresh(e) = classify(&o, &reply(b"200", Some(b"\"a\r\nx: y\""), 3), 5, body)
        else {
            panic!()
        };
        assert_eq!(e.etag, None);
    }

    #[test]
    fn paths_and_auth() {
        let o = origin();
        assert_eq!(
            path(&o, "templates/polycom/@mac-phone.cfg"),
            "/b/templates/polycom/%40mac-phone.cfg"
        );
        assert!(auth_headers(&o, None, "GET", "/b/x", None, 0).is_empty());
    }
}
