//! The last good answer of each exact request, served when the store or a template fails.
//!
//! A phone that asks while the store is down, a template was broken by an edit, or its record
//! no longer parses would otherwise get a 5xx and keep its old configuration until it asks
//! again. The engine remembers the last 200 it gave for each exact request and, when the same
//! request meets one of those faults, answers with those bytes instead, marked
//! `X-Provedge-Stale` so the operator (and the access record) can tell.
//!
//! **Exact** means every input that can change the answer or who may have it: the tenant, the
//! file's key and name, the device and model the request names, the MAC its User-Agent
//! claims, the URL token it presented (hashed, never kept) and the identity its client
//! certificate proved. A request that presents another token, or none, or another certificate,
//! never gets an entry made for a different one: a stale answer is only ever given to a request
//! that was given the same bytes when the store was well. (Consequence, documented: a token
//! revoked by an edit that also broke the record is honoured for its last good file until the
//! record parses again.)
//!
//! Bounded by entries and bytes like the render cache ([`DEFAULT_ENTRIES`],
//! [`DEFAULT_BYTES`], `memory.last_good_entries`/`memory.last_good_bytes`; 0 bytes turns it
//! off); it starts over when full, since every entry is one good answer away.

use std::sync::Mutex;

use crate::framed::Framed;
use crate::response::Response;
use crate::seeded_map::SeededMap;

/// By default at most this many answers are remembered…
pub const DEFAULT_ENTRIES: usize = 4096;
/// …holding at most this many bytes of bodies in total.
pub const DEFAULT_BYTES: usize = 16 << 20;
/// The header a stale answer carries; its value says why the fresh one failed.
pub const STALE_HEADER: &str = "x-provedge-stale";

/// Why a stale answer stands in, as the header says it (no store keys, no reasons with
/// detail: those go to the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// A store read failed (503).
    StoreUnavailable,
    /// Rendering failed: a template, a variable layer or the device record (500).
    RenderFailed,
}

impl Why {
    pub fn header_value(self) -> &'static str {
        match self {
            Why::StoreUnavailable => "store-unavailable",
            Why::RenderFailed => "render-failed",
        }
    }

    /// The fault a response is, if it is one a last good answer may stand in for: a 5xx of
    /// the engine's own (it carries a log note), never a refusal.
    pub fn of(resp: &Response) -> Option<Why> {
        resp.note.as_ref()?;
        match resp.status {
            503 => Some(Why::StoreUnavailable),
            500 => Some(Why::RenderFailed),
            _ => None,
        }
    }
}

/// Everything that makes two requests the same request, hashed (XXH3-128): see the module.
#[derive(Default)]
pub struct ExactRequest(Framed);

impl ExactRequest {
    /// Adds one labelled part; `None` differs from every value, the empty one included.
    pub fn part(&mut self, label: &str, value: Option<&[u8]>) -> &mut ExactRequest {
        self.0.part(label, value);
        self
    }

    pub fn finish(&self) -> RequestId {
        RequestId(self.0.digest())
    }
}

/// The hash of an exact request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(u128);

/// The remembered answers.
pub struct LastGood {
    inner: Mutex<Inner>,
    max_entries: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct Inner {
    entries: SeededMap<RequestId, Remembered>,
    bytes: usize,
}

/// Whether `resp`'s body is `old`'s, given equal headers and lengths. Every answer asks this
/// (a phone's steady traffic is the same 200 again), so an ETag among the equal headers
/// settles it: the core's ETags are digests of the body ([`crate::response::etag`]; a weak one
/// is not trusted), while
/// comparing bodies byte by byte is what cost most of a cached answer in wasm (no vectorised
/// `memcmp` there).
fn same_body(old: &Remembered, resp: &Response) -> bool {
    resp.header("etag")
        .is_some_and(|tag| !tag.starts_with("W/"))
        || old.body == resp.body
}

/// A good answer, as sent (its ETag included, so a phone holding it gets its 304).
#[derive(Clone)]
struct Remembered {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Default for LastGood {
    fn default() -> LastGood {
        LastGood::bounded(DEFAULT_ENTRIES, DEFAULT_BYTES)
    }
}

impl Clone for LastGood {
    /// A clone starts empty, as the other caches do.
    fn clone(&self) -> LastGood {
        LastGood::bounded(self.max_entries, self.max_bytes)
    }
}

impl std::fmt::Debug for LastGood {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LastGood({} answers)", self.len())
    }
}

impl LastGood {
    /// At most `entries` answers of at most `bytes` bytes in total (0 bytes: off).
    pub fn bounded(entries: usize, bytes: usize) -> LastGood {
        LastGood {
            inner: Mutex::default(),
            max_entries: entries.max(1),
            max_bytes: bytes,
        }
    }

    /// Remembers `resp` as the last good answer of `id`, if it is a 200 that fits.
    pub fn remember(&self, id: RequestId, resp: &Response) {
        let size = resp.body.len();
        if resp.status != 200 || size > self.max_bytes {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if let Some(old) = inner.entries.get(&id) {
            if old.headers == resp.headers && old.body.len() == size && same_body(old, resp) {
                return;
            }
        }
        if let Some(old) = inner.entries.remove(&id) {
            inner.bytes = inner.bytes.saturating_sub(old.body.len());
        }
        if inner.entries.len() >= self.max_entries || inner.bytes + size > self.max_bytes {
            inner.entries.clear();
            inner.bytes = 0;
        }
        inner.bytes += size;
        inner.entries.insert(
            id,
            Remembered {
                headers: resp.headers.clone(),
                body: resp.body.clone(),
            },
        );
    }

    /// The last good answer of `id` standing in for `fault`, if there is one and `fault` is
    /// a fault it may stand in for; else `fault` as it is. The fault's log note is kept,
    /// prefixed, so the log still says what failed.
    pub fn stand_in(&self, id: RequestId, fault: Response) -> Response {
        let Some(why) = Why::of(&fault) else {
            return fault;
        };
        let found = self
            .inner
            .lock()
            .ok()
            .and_then(|inner| inner.entries.get(&id).cloned());
        let Some(good) = found else {
            return fault;
        };
        let mut headers = good.headers;
        headers.push((STALE_HEADER.into(), why.header_value().into()));
        Response {
            status: 200,
            headers,
            body: good.body,
            note: fault
                .note
                .map(|n| format!("served the last good file instead: {n}")),
            device: fault.device,
            tenant: fault.tenant,
        }
    }

    /// How many answers are remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.entries.len()).unwrap_or(0)
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(token: &str) -> RequestId {
        ExactRequest::default()
            .part("key", Some(b"yealink/001565123456.cfg"))
            .part("token", Some(token.as_bytes()))
            .finish()
    }

    fn good(body: &str) -> Response {
        let mut resp = Response::text(200, body);
        resp.headers.push(("etag".into(), "\"v1\"".into()));
        resp
    }

    #[test]
    fn a_fault_gets_the_last_good_answer_of_the_same_request_only() {
        let cache = LastGood::default();
        cache.remember(id("a"), &good("account.1.password = s3cret"));
        let fault = Response::fault(503, "store read of devices/x.json failed: timeout".into());
        let stale = cache.stand_in(id("a"), fault.clone());
        assert_eq!(stale.status, 200);
        assert!(String::from_utf8_lossy(&stale.body).contains("s3cret"));
        assert!(stale
            .headers
            .contains(&(STALE_HEADER.into(), "store-unavailable".into())));
        assert!(stale.headers.contains(&("etag".into(), "\"v1\"".into())));
        assert!(stale.note.unwrap().contains("timeout"));
        // Another token (or none) never gets it.
        let other = cache.stand_in(id("b"), fault.clone());
        assert_eq!(other.status, 503);
        assert!(other.body.is_empty());
    }

    #[test]
    fn refusals_and_client_errors_are_never_replaced() {
        let cache = LastGood::default();
        cache.remember(id("a"), &good("x"));
        for resp in [
            Response::text(404, "not found"),
            Response::text(403, "forbidden"),
            Response::text(500, "no note: not the engine's fault"),
            Response::fault(502, "not ours to stand in for".into()),
        ] {
            let status = resp.status;
            assert_eq!(cache.stand_in(id("a"), resp).status, status);
        }
        assert_eq!(
            cache
                .stand_in(id("a"), Response::fault(500, "template".into()))
                .headers
                .last(),
            Some(&(STALE_HEADER.into(), "render-failed".into()))
        );
    }

    #[test]
    fn only_200s_are_remembered_and_bounds_hold() {
        let cache = LastGood::bounded(2, 10);
        cache.remember(id("a"), &Response::text(404, "x"));
        assert!(cache.is_empty());
        cache.remember(id("a"), &good("0123456789abc"));
        assert!(cache.is_empty(), "larger than the byte bound");
        cache.remember(id("a"), &good("1234"));
        cache.remember(id("b"), &good("1234"));
        assert_eq!(cache.len(), 2);
        cache.remember(id("c"), &good("1234"));
        assert_eq!(cache.len(), 1, "started over when full");
        let off = LastGood::bounded(10, 0);
        off.remember(id("a"), &good("x"));
        assert!(off.is_empty());
    }

    #[test]
    fn a_changed_body_replaces_the_answer_unless_a_strong_etag_says_it_is_the_same() {
        let cache = LastGood::default();
        let fault = || Response::fault(503, "down".into());
        let untagged = |body: &str| Response::text(200, body);
        // Same headers and length, other bytes, no ETag: the bytes decide.
        cache.remember(id("a"), &untagged("password = one"));
        cache.remember(id("a"), &untagged("password = two"));
        assert!(String::from_utf8_lossy(&cache.stand_in(id("a"), fault()).body).contains("two"));
        // A weak ETag does not vouch for the bytes either.
        let weak = |body: &str| {
            let mut resp = untagged(body);
            resp.headers.push(("etag".into(), "W/\"v\"".into()));
            resp
        };
        cache.remember(id("b"), &weak("password = one"));
        cache.remember(id("b"), &weak("password = two"));
        assert!(String::from_utf8_lossy(&cache.stand_in(id("b"), fault()).body).contains("two"));
        // A strong ETag (a digest of the body, as the core's are) does; a new ETag replaces.
        cache.remember(id("c"), &good("password = one"));
        let mut changed = untagged("password = two");
        changed.headers.push(("etag".into(), "\"v2\"".into()));
        cache.remember(id("c"), &changed);
        assert!(String::from_utf8_lossy(&cache.stand_in(id("c"), fault()).body).contains("two"));
    }
}
