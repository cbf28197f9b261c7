//! What an origin's answer to a GET means for the key asked: the object, its absence, "still
//! current" (304), or a failure with a reason for the log and a bounded label for metrics.
//!
//! Hosts read answers their own way (proxy-wasm header calls, a hyper response); they hand over
//! the raw parts as a [`Reply`] and the body only when asked, so an object over
//! `max_object_bytes` is refused on its declared size, before any of it is copied in.

use super::cache::Entry;
use super::Origin;
use crate::decision::Stored;

/// What one origin answer means for the key asked.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// The object (200), or the origin has none (one of its missing statuses).
    Fresh(Entry),
    /// 304: the entry whose validators were sent is current.
    NotModified,
    /// Anything else; the reason is for logs, the label for a metric's name.
    Failed { reason: String, label: &'static str },
}

/// The parts of an origin answer the core reads, as bytes (a hostile origin's headers need not
/// be UTF-8).
pub struct Reply<'a> {
    /// The status, when the origin (or the proxy on its behalf) answered at all.
    pub status: Option<&'a [u8]>,
    pub etag: Option<&'a [u8]>,
    pub last_modified: Option<&'a [u8]>,
    /// The body's length: what arrived, or what `Content-Length` declares.
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
        200 if reply.body_size > origin.max_object_bytes() => Answer::Failed {
            reason: format!(
                "object of {} bytes exceeds max_object_bytes",
                reply.body_size
            ),
            label: "too_large",
        },
        200 => Answer::Fresh(Entry {
            body: Some(body().into()),
            etag: reply.etag.and_then(validator),
            last_modified: reply.last_modified.and_then(validator),
            validated_ms: now_ms,
        }),
        304 => Answer::NotModified,
        s if origin.is_missing(s) => Answer::Fresh(Entry::missing(now_ms)),
        s => failed_status(s),
    }
}

/// What the origin's answer to an upload's PUT means: 201 is a new object, 200 and 204 a
/// replaced one (S3 answers 200 either way), 507 a full store; `None` is no answer at all.
pub fn stored(status: Option<&[u8]>) -> Stored {
    let Some(raw) = status else {
        return Stored::Failed("origin did not answer the upload".into());
    };
    match parse_status(raw) {
        Some(201) => Stored::Done { replaced: false },
        Some(200 | 204) => Stored::Done { replaced: true },
        Some(507) => Stored::Full("the origin's storage is full (507)".into()),
        Some(other) => Stored::Failed(format!("origin answered {other} to the upload")),
        None => Stored::Failed("origin answered the upload without a valid status".into()),
    }
}

/// Why an unexpected status is a failure: the reason for the log and the label for a
/// metric's name (`timeout` for a 504, `status_5xx`, `status`).
pub fn failure(status: u16) -> (String, &'static str) {
    match status {
        504 => ("timed out (504)".into(), "timeout"),
        s if s >= 500 => (format!("answered {s}"), "status_5xx"),
        s => (format!("answered {s}"), "status"),
    }
}

fn failed_status(status: u16) -> Answer {
    let (reason, label) = failure(status);
    Answer::Failed { reason, label }
}

/// A status line's code: exactly three ASCII digits, 100..=599.
pub fn parse_status(raw: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(raw).ok()?;
    let code: u16 = text.parse().ok()?;
    (text.len() == 3 && (100..=599).contains(&code)).then_some(code)
}

/// A validator worth sending back: printable ASCII, of sane length (a hostile one is dropped
/// rather than echoed into the next request's headers).
pub fn validator(raw: &[u8]) -> Option<String> {
    let ok = !raw.is_empty() && raw.len() <= 256 && raw.iter().all(|b| (0x20..0x7f).contains(b));
    ok.then(|| String::from_utf8_lossy(raw).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::tests::origin;

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
        let o = origin(r#"{"upstream": "s", "prefix": "/b", "max_object_bytes": 10}"#);
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
    fn upload_answers() {
        assert_eq!(stored(Some(b"201")), Stored::Done { replaced: false });
        assert_eq!(stored(Some(b"200")), Stored::Done { replaced: true });
        assert_eq!(stored(Some(b"204")), Stored::Done { replaced: true });
        assert!(matches!(stored(Some(b"507")), Stored::Full(_)));
        assert!(matches!(stored(Some(b"403")), Stored::Failed(r) if r.contains("403")));
        assert!(matches!(stored(Some(b"2xx")), Stored::Failed(_)));
        assert!(matches!(stored(None), Stored::Failed(_)));
    }
}
