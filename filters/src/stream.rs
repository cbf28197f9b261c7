//! Streamed files (`Decision::Stream`: firmware, tones, images, vendor-encrypted device files):
//! the core answers them from the object's metadata, the proxy carries the bytes.
//!
//! 1. The object's metadata (length, validator, date) comes from a `HEAD` to the origin and is
//!    kept in the origin [`Cache`](provedge::origin::cache::Cache) under [`meta_key`], with the
//!    TTL, negative entries and stale-if-error of every object: a phone re-checking its
//!    firmware every few minutes costs no origin request within the TTL, and gets its 304 even
//!    while the origin is down.
//! 2. [`Stream::answer`] decides. A 304, 404, 416 or 503, and any `HEAD`, is answered here from
//!    the metadata alone. A 200 or 206 sends the request on to the origin for exactly the bytes
//!    the core named ([`Filter::forward_stream`]): `Range: bytes=a-b` or none, none of the
//!    phone's conditionals (the core already decided), `If-Match` with the origin's own strong
//!    `ETag` so that a replaced object fails rather than mixing versions, and
//!    `Accept-Encoding: identity` so that lengths are the object's.
//! 3. The origin's answer must be the one asked for ([`Expected::check`]: status, range,
//!    length, coding, version). Then its status and headers are replaced by the core's, so the
//!    phone sees exactly what every other host sends. Otherwise the phone gets the core's 404
//!    (the object went) or 503, never bytes the core did not decide, and the remembered
//!    metadata is forgotten so that the next request asks the origin again.

use std::rc::Rc;
use std::sync::Arc;

use provedge::object::{self, ObjectMeta, StreamAnswer};
use provedge::origin::answer::{self, Answer};
use provedge::origin::cache::{Entry, Hit};
use provedge::origin::checksum::Asked;
use provedge::origin::{Origin, NOT_FORWARDED};
use provedge::{Lookup, Response, Stream};
use proxy_wasm::traits::HttpContext;
use proxy_wasm::types::Action;

use crate::proxy::removals;
use crate::{Filter, HostShared};

/// Request headers of the phone's that say what to send: the core has decided that from them
/// already, so the origin must not decide again (an origin's 304 or 416 is not the core's).
const CONDITIONALS: [&str; 6] = [
    "range",
    "if-range",
    "if-none-match",
    "if-modified-since",
    "if-match",
    "if-unmodified-since",
];

/// The cache key of the metadata of store key `key`. A space never occurs in a store key (nor
/// does `head ` begin a checksum's key), so metadata is never read as an object.
pub fn meta_key(key: &str) -> String {
    format!("head {key}")
}

/// What a host knows of a stored object for streaming it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    pub meta: ObjectMeta,
    /// The validator is the origin's own strong `ETag` (not one made from length and date):
    /// the ranged GET insists on it with `If-Match`, and the answer must carry it.
    pub pinned: bool,
}

impl Known {
    /// The cache entry remembering it: the length, the date and the flags little-endian, then
    /// the validator; no validators of the entry's own (the `HEAD` is never conditional).
    fn remember(&self, now_ms: u64) -> Entry {
        let mut body = Vec::with_capacity(17 + self.meta.etag.len());
        body.extend_from_slice(&self.meta.len.to_le_bytes());
        body.extend_from_slice(&self.meta.modified.unwrap_or(0).to_le_bytes());
        body.push(u8::from(self.meta.modified.is_some()) | u8::from(self.pinned) << 1);
        body.extend_from_slice(self.meta.etag.as_bytes());
        Entry {
            body: Some(body.into()),
            etag: None,
            last_modified: None,
            validated_ms: now_ms,
        }
    }

    /// What [`Known::remember`] wrote; `None` for anything else (a torn shared slot).
    fn recall(body: &[u8]) -> Option<Known> {
        let (len, rest) = body.split_first_chunk::<8>()?;
        let (modified, rest) = rest.split_first_chunk::<8>()?;
        let (&flags, etag) = rest.split_first()?;
        let etag = object::strong_etag(etag)?;
        Some(Known {
            meta: ObjectMeta {
                len: u64::from_le_bytes(*len),
                etag,
                modified: (flags & 1 == 1).then(|| u64::from_le_bytes(*modified)),
            },
            pinned: flags & 2 == 2,
        })
    }
}

/// What a store read of an object's metadata found, as [`Stream::answer`] takes it.
fn known(lookup: Lookup) -> Result<Option<Known>, String> {
    match lookup {
        Lookup::Found(body) => Known::recall(&body)
            .map(Some)
            .ok_or_else(|| "the remembered metadata is unreadable".to_owned()),
        Lookup::Missing => Ok(None),
        Lookup::Failed(reason) => Err(reason),
    }
}

/// The parts of the origin's answer to a `HEAD` of an object, as bytes.
pub struct HeadReply<'a> {
    pub status: Option<&'a [u8]>,
    pub content_length: Option<&'a [u8]>,
    pub etag: Option<&'a [u8]>,
    pub last_modified: Option<&'a [u8]>,
}

/// What the origin's answer to a `HEAD` means for the cache: the object's metadata, its
/// absence, or a failure with a reason for the log and a label for a metric.
pub fn classify_head(origin: &Origin, reply: &HeadReply<'_>, now_ms: u64) -> Answer {
    let Some(status) = reply.status.and_then(answer::parse_status) else {
        return Answer::Failed {
            reason: "no response".into(),
            label: "no_response",
        };
    };
    match status {
        200 => match reply.content_length.and_then(digits) {
            Some(len) => {
                let meta = ObjectMeta::of_origin(len, reply.etag, reply.last_modified);
                let pinned = reply.etag.and_then(object::strong_etag).is_some();
                Answer::Fresh(Known { meta, pinned }.remember(now_ms))
            }
            None => Answer::Failed {
                reason: "sent no length for the object".into(),
                label: "length",
            },
        },
        s if origin.is_missing(s) => Answer::Fresh(Entry::missing(now_ms)),
        s => {
            let (reason, label) = answer::failure(s);
            Answer::Failed { reason, label }
        }
    }
}

/// A decimal header value (`Content-Length`), nothing else.
fn digits(raw: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(raw).ok()?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A streamed file on its way.
pub struct Streaming {
    pub stream: Stream,
    pub phase: Phase,
}

pub enum Phase {
    /// The `HEAD` (token `call`) is in flight; `stale` is the expired metadata, which stands in
    /// while it may when the origin fails.
    Meta {
        call: u32,
        stale: Option<Arc<Entry>>,
    },
    /// The request went on to the origin for the bytes the core named.
    Sent(Expected),
}

/// What the core decided to send, and so what the origin's answer must be.
#[derive(Debug)]
pub struct Expected {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Bytes `start..start + len` of the object.
    pub start: u64,
    pub len: u64,
    pub known: Known,
}

/// The parts of the origin's answer to the forwarded request that say what it sent.
#[derive(Default)]
pub struct SentReply<'a> {
    pub status: Option<&'a [u8]>,
    pub content_length: Option<&'a [u8]>,
    pub content_range: Option<&'a [u8]>,
    pub content_encoding: Option<&'a [u8]>,
    pub etag: Option<&'a [u8]>,
    pub last_modified: Option<&'a [u8]>,
}

/// Why the origin's answer cannot be passed on.
#[derive(Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The object is gone (one of the origin's missing statuses).
    Gone,
    /// Anything else: the reason for the log, a label for a metric.
    Wrong { reason: String, label: &'static str },
}

impl Expected {
    /// Whether the whole object is asked for (then without `Range`).
    pub fn whole(&self) -> bool {
        self.start == 0 && self.len == self.known.meta.len
    }

    /// The `Range` to ask the origin for, when not the whole object.
    pub fn range(&self) -> Option<Asked> {
        let end = self.start.checked_add(self.len)?.checked_sub(1)?;
        (!self.whole()).then_some(Asked {
            start: self.start,
            end,
        })
    }

    /// Whether the origin sent what was asked: 200 with the whole object, or 206 with exactly
    /// the range, of the same length and version as the metadata the core answered from, not
    /// content-coded. Strict on purpose: a phone gets the core's headers over these bytes.
    pub fn check(&self, origin: &Origin, reply: &SentReply<'_>) -> Result<(), Mismatch> {
        let wrong = |reason: String, label| Err(Mismatch::Wrong { reason, label });
        let Some(status) = reply.status.and_then(answer::parse_status) else {
            return wrong("no response".into(), "no_response");
        };
        if origin.is_missing(status) {
            return Err(Mismatch::Gone);
        }
        let asked = self.range();
        let want = if asked.is_some() { 206 } else { 200 };
        if status == 412 {
            return wrong("the object changed (412 to If-Match)".into(), "changed");
        }
        if status != want {
            let what = asked.map_or_else(|| "the whole object".to_owned(), |a| a.header());
            return match status {
                200..=299 => wrong(
                    format!("answered {status} to a request for {what}"),
                    "range",
                ),
                s => {
                    let (reason, label) = answer::failure(s);
                    wrong(reason, label)
                }
            };
        }
        if let Some(coding) = reply.content_encoding {
            if !coding.trim_ascii().eq_ignore_ascii_case(b"identity") {
                return wrong("sent the object content-coded".into(), "coded");
            }
        }
        match reply.content_length.and_then(digits) {
            Some(n) if n == self.len => {}
            Some(n) => {
                return wrong(
                    format!("sent {n} bytes where {} were asked", self.len),
                    "length",
                )
            }
            None => return wrong("sent no Content-Length".into(), "length"),
        }
        if let Some(asked) = asked {
            let total = self.known.meta.len;
            if reply.content_range.and_then(content_range) != Some((asked.start, asked.end, total))
            {
                return wrong(
                    format!("answered {} with another range", asked.header()),
                    "range",
                );
            }
        }
        self.same_version(reply)
    }

    /// The answer is of the version the core answered from: its `ETag` when the origin named
    /// one (pinned), else its `Last-Modified` when both know one. (The length was checked.)
    fn same_version(&self, reply: &SentReply<'_>) -> Result<(), Mismatch> {
        let meta = &self.known.meta;
        let same = if self.known.pinned {
            reply.etag.and_then(object::strong_etag).as_ref() == Some(&meta.etag)
        } else {
            let date = reply
                .last_modified
                .and_then(|raw| std::str::from_utf8(raw).ok())
                .and_then(object::parse_http_date);
            date.is_none() || meta.modified.is_none() || date == meta.modified
        };
        if same {
            Ok(())
        } else {
            Err(Mismatch::Wrong {
                reason: "the object changed since its metadata was read".into(),
                label: "changed",
            })
        }
    }
}

/// `Content-Range: bytes a-b/total` as `(a, b, total)`; `None` for anything else.
fn content_range(raw: &[u8]) -> Option<(u64, u64, u64)> {
    let text = std::str::from_utf8(raw).ok()?.trim();
    let (range, total) = text.strip_prefix("bytes ")?.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let number = |s: &str| digits(s.as_bytes());
    Some((number(start)?, number(end)?, number(total)?))
}

impl Filter {
    /// A streamed file: its metadata from the cache, or a `HEAD` to the origin (then the
    /// request waits: `Action::Pause`), and the core's answer.
    pub(crate) fn stream(&mut self, stream: Stream) -> Action {
        let shared = Rc::clone(&self.shared);
        let now = self.now_ms();
        let memo = meta_key(stream.key().as_str());
        let hit = shared.cache.borrow_mut().lookup(&memo, now, &HostShared);
        let stale = match hit {
            Hit::Fresh { entry, .. } => match known(entry.lookup()) {
                Ok(found) => {
                    shared.metrics.inc("provedge.stream.meta.cached");
                    return self.answer_stream(stream, Ok(found));
                }
                Err(_) => None,
            },
            Hit::Ask { stale } => stale,
        };
        let head = shared
            .settings
            .origin
            .stream(stream.key(), true, now / 1000);
        match self.dispatch(&head, None) {
            Ok(call) => {
                self.streaming = Some(Streaming {
                    stream,
                    phase: Phase::Meta { call, stale },
                });
                Action::Pause
            }
            Err(reason) => {
                shared.metrics.inc("provedge.origin.error.dispatch");
                let failed = shared
                    .cache
                    .borrow()
                    .fail(stale.as_deref(), reason, "dispatch", now);
                let lookup = self.settled(stream.key(), failed);
                self.answer_stream(stream, known(lookup))
            }
        }
    }

    /// The origin answered the `HEAD` of a streamed file: remember what it said (or let the
    /// stale metadata stand in for a failure) and answer.
    pub(crate) fn take_head(&mut self, stream: Stream, stale: Option<Arc<Entry>>) -> Action {
        let shared = Rc::clone(&self.shared);
        let now = self.now_ms();
        let status = crate::call_response::header(":status");
        let length = crate::call_response::header("content-length");
        let etag = crate::call_response::header("etag");
        let last_modified = crate::call_response::header("last-modified");
        let reply = HeadReply {
            status: status.as_deref(),
            content_length: length.as_deref(),
            etag: etag.as_deref(),
            last_modified: last_modified.as_deref(),
        };
        let answer = classify_head(&shared.settings.origin, &reply, now);
        if let Answer::Failed { label, .. } = &answer {
            shared
                .metrics
                .inc(&format!("provedge.origin.error.{label}"));
        }
        let memo = meta_key(stream.key().as_str());
        let settled =
            shared
                .cache
                .borrow_mut()
                .settle(&memo, answer, stale.as_deref(), now, &HostShared);
        shared.metrics.inc("provedge.stream.meta.asked");
        let lookup = self.settled(stream.key(), settled);
        self.answer_stream(stream, known(lookup))
    }

    /// Carries out the core's answer for what is known of the object: answered here, or the
    /// request goes on to the origin for the bytes (`Action::Continue`).
    fn answer_stream(&mut self, stream: Stream, known: Result<Option<Known>, String>) -> Action {
        let known = match known {
            Ok(Some(known)) => known,
            Ok(None) => return self.respond_stream(&stream, Ok(None)),
            Err(reason) => return self.respond_stream(&stream, Err(reason)),
        };
        let answer = stream.answer(Ok(Some(known.meta.clone())));
        let (status, headers, start, len, send_body, device) = match answer {
            StreamAnswer::Respond(resp) => {
                self.respond(resp);
                return Action::Pause;
            }
            StreamAnswer::Send {
                status,
                headers,
                start,
                len,
                send_body,
                device,
            } => (status, headers, start, len, send_body, device),
        };
        if !send_body {
            // A HEAD: the metadata is the whole answer.
            self.respond(Response {
                status,
                headers,
                body: Vec::new(),
                note: None,
                device,
                tenant: stream.tenant().map(Arc::from),
            });
            return Action::Pause;
        }
        self.trail.device(device);
        let expected = Expected {
            status,
            headers,
            start,
            len,
            known,
        };
        self.forward_stream(&stream, &expected);
        self.streaming = Some(Streaming {
            stream,
            phase: Phase::Sent(expected),
        });
        self.continued = true;
        Action::Continue
    }

    /// The core's answer when there is no object to send (404, 503).
    fn respond_stream(
        &mut self,
        stream: &Stream,
        meta: Result<Option<ObjectMeta>, String>,
    ) -> Action {
        let resp = match stream.answer(meta) {
            StreamAnswer::Respond(resp) => resp,
            StreamAnswer::Send { .. } => Response::fault(500, "no object to send".into()),
        };
        self.respond(resp);
        Action::Pause
    }

    /// Points the request itself at the origin's copy of the object for exactly the bytes
    /// expected: its path and authentication, none of the phone's credentials or conditionals.
    fn forward_stream(&self, stream: &Stream, expected: &Expected) {
        let origin = &self.shared.settings.origin;
        let req = origin.stream(stream.key(), false, self.now_ms() / 1000);
        self.set_http_request_header(":method", Some(req.method));
        self.set_http_request_header(":path", Some(&req.path));
        // Under nginx `:authority` is read-only: the example sets the origin's `Host` with
        // `proxy_set_header`.
        if self.proxy().sets_authority() {
            self.set_http_request_header(":authority", Some(origin.authority()));
        }
        let present = |name: &str| self.get_http_request_header_bytes(name).is_some();
        for name in removals(NOT_FORWARDED.iter().chain(&CONDITIONALS).copied(), present) {
            self.set_http_request_header(name, None);
        }
        for (name, value) in &req.headers {
            self.set_http_request_header(name, Some(value));
        }
        if let Some(asked) = expected.range() {
            self.set_http_request_header("range", Some(&asked.header()));
        }
        if expected.known.pinned {
            self.set_http_request_header("if-match", Some(&expected.known.meta.etag));
        }
        self.set_http_request_header("accept-encoding", Some("identity"));
    }

    /// The origin answered the forwarded request: its status and headers become the core's
    /// when it sent what was asked; otherwise the phone gets the core's 404 or 503 instead
    /// (`Action::Pause`), and the metadata is asked again next time.
    pub(crate) fn stream_answered(&mut self, streaming: Streaming) -> Action {
        let Streaming {
            stream,
            phase: Phase::Sent(expected),
        } = streaming
        else {
            return Action::Continue;
        };
        let header = |name| self.get_http_response_header_bytes(name);
        let (status, length, range, coding, etag, date) = (
            header(":status"),
            header("content-length"),
            header("content-range"),
            header("content-encoding"),
            header("etag"),
            header("last-modified"),
        );
        let reply = SentReply {
            status: status.as_deref(),
            content_length: length.as_deref(),
            content_range: range.as_deref(),
            content_encoding: coding.as_deref(),
            etag: etag.as_deref(),
            last_modified: date.as_deref(),
        };
        let shared = Rc::clone(&self.shared);
        match expected.check(&shared.settings.origin, &reply) {
            Ok(()) => {
                let status = expected.status.to_string();
                let mut headers: Vec<(&str, &str)> = vec![(":status", &status)];
                headers.extend(
                    expected
                        .headers
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str())),
                );
                self.set_http_response_headers(headers);
                self.count_status(expected.status);
                self.answered(expected.status, expected.len);
                Action::Continue
            }
            Err(mismatch) => {
                // Whatever the origin holds now, the metadata the core answered from is not it.
                let memo = meta_key(stream.key().as_str());
                shared
                    .cache
                    .borrow_mut()
                    .store(&memo, Entry::missing(0), &HostShared);
                let meta = match mismatch {
                    Mismatch::Gone => Ok(None),
                    Mismatch::Wrong { reason, label } => {
                        shared
                            .metrics
                            .inc(&format!("provedge.origin.error.{label}"));
                        Err(format!("origin {reason}"))
                    }
                };
                self.respond_stream(&stream, meta)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin::new(provedge::OriginConfig::new("store")).unwrap()
    }

    fn known(len: u64, pinned: bool) -> Known {
        Known {
            meta: ObjectMeta {
                len,
                etag: "\"v1\"".into(),
                modified: Some(784_111_777),
            },
            pinned,
        }
    }

    #[test]
    fn metadata_is_remembered_and_recalled() {
        for k in [
            known(26, true),
            known(0, false),
            Known {
                meta: ObjectMeta {
                    modified: None,
                    ..known(1, false).meta
                },
                pinned: false,
            },
        ] {
            let entry = k.remember(5);
            assert_eq!(Known::recall(entry.body.as_deref().unwrap()), Some(k));
        }
        assert_eq!(Known::recall(&[1; 16]), None);
        assert_eq!(Known::recall(b"0123456789abcdefg\"a\r\n\""), None);
        assert!(meta_key("algo/x.zip").contains(' '));
    }

    #[test]
    fn head_answers() {
        let o = origin();
        let head = |status: &'static [u8], length: Option<&'static [u8]>, etag| HeadReply {
            status: Some(status),
            content_length: length,
            etag,
            last_modified: Some(b"Sun, 06 Nov 1994 08:49:37 GMT"),
        };
        let Answer::Fresh(entry) =
            classify_head(&o, &head(b"200", Some(b"26"), Some(b"\"v1\"")), 5)
        else {
            panic!()
        };
        assert_eq!(
            Known::recall(entry.body.as_deref().unwrap()),
            Some(known(26, true))
        );
        let Answer::Fresh(entry) = classify_head(&o, &head(b"200", Some(b"26"), None), 5) else {
            panic!()
        };
        let made = Known::recall(entry.body.as_deref().unwrap()).unwrap();
        assert!(!made.pinned && made.meta.etag.starts_with('"'));
        assert_eq!(
            classify_head(&o, &head(b"404", None, None), 5),
            Answer::Fresh(Entry::missing(5))
        );
        for (status, length, label) in [
            (&b"200"[..], None, "length"),
            (b"200", Some(&b"-1"[..]), "length"),
            (b"500", None, "status_5xx"),
            (b"2x", None, "no_response"),
        ] {
            let Answer::Failed { label: got, .. } =
                classify_head(&o, &head(status, length, None), 5)
            else {
                panic!("{status:?}")
            };
            assert_eq!(got, label);
        }
    }

    fn expected(start: u64, len: u64, pinned: bool) -> Expected {
        Expected {
            status: if len == 26 { 200 } else { 206 },
            headers: Vec::new(),
            start,
            len,
            known: known(26, pinned),
        }
    }

    fn sent<'a>(status: &'a [u8], length: &'a [u8], range: Option<&'a [u8]>) -> SentReply<'a> {
        SentReply {
            status: Some(status),
            content_length: Some(length),
            content_range: range,
            etag: Some(b"\"v1\""),
            ..SentReply::default()
        }
    }

    #[test]
    fn the_origin_must_send_what_was_asked() {
        let o = origin();
        let whole = expected(0, 26, true);
        assert_eq!(whole.range(), None);
        assert_eq!(whole.check(&o, &sent(b"200", b"26", None)), Ok(()));
        let part = expected(20, 6, true);
        assert_eq!(part.range().map(|a| a.header()), Some("bytes=20-25".into()));
        assert_eq!(
            part.check(&o, &sent(b"206", b"6", Some(b"bytes 20-25/26"))),
            Ok(())
        );
        assert_eq!(
            part.check(&o, &sent(b"404", b"9", None)),
            Err(Mismatch::Gone)
        );
        let label = |e: &Expected, reply: SentReply<'_>| match e.check(&o, &reply) {
            Err(Mismatch::Wrong { label, .. }) => label,
            other => panic!("{other:?}"),
        };
        // An origin ignoring Range sends the whole object: never passed on as the part.
        assert_eq!(label(&part, sent(b"200", b"26", None)), "range");
        assert_eq!(
            label(&part, sent(b"206", b"6", Some(b"bytes 0-5/26"))),
            "range"
        );
        assert_eq!(
            label(&part, sent(b"206", b"6", Some(b"bytes 20-25/27"))),
            "range"
        );
        assert_eq!(label(&part, sent(b"206", b"6", None)), "range");
        assert_eq!(
            label(&part, sent(b"206", b"5", Some(b"bytes 20-25/26"))),
            "length"
        );
        assert_eq!(
            label(&whole, sent(b"206", b"26", Some(b"bytes 0-25/26"))),
            "range"
        );
        assert_eq!(label(&whole, sent(b"200", b"27", None)), "length");
        assert_eq!(label(&whole, sent(b"412", b"0", None)), "changed");
        assert_eq!(label(&whole, sent(b"503", b"0", None)), "status_5xx");
        assert_eq!(label(&whole, SentReply::default()), "no_response");
        let mut chunked = sent(b"200", b"26", None);
        chunked.content_length = None;
        assert_eq!(label(&whole, chunked), "length");
        let mut gzipped = sent(b"200", b"26", None);
        gzipped.content_encoding = Some(b"gzip");
        assert_eq!(label(&whole, gzipped), "coded");
        // Another version: by its ETag when pinned, else by its date.
        let mut replaced = sent(b"200", b"26", None);
        replaced.etag = Some(b"\"v2\"");
        assert_eq!(label(&whole, replaced), "changed");
        let unpinned = expected(0, 26, false);
        let mut dated = sent(b"200", b"26", None);
        dated.etag = None;
        dated.last_modified = Some(b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(unpinned.check(&o, &dated), Ok(()));
        dated.last_modified = Some(b"Sun, 06 Nov 1994 08:49:38 GMT");
        assert_eq!(label(&unpinned, dated), "changed");
    }
}
