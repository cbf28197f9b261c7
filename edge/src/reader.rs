//! One request's reads of the store, through the isolate's cache, the colo's Cache API and
//! KV or R2 ([`crate::reads`] decides, this does the IO), and a stored file streamed from R2.
//! Compiled for wasm32 only.

use std::cell::RefCell;

use futures_util::future::join_all;
use provedge::access::Trail;
use provedge::object::{ObjectMeta, StreamAnswer};
use provedge::{Lookup, StoreKey, Stream};
use worker::js_sys::Promise;
use worker::{Headers, Response, ResponseBuilder};

use crate::reads::{
    colo_url, decode_meta, encode_meta, Kind, Local, Reads, Source, StoreCache, Under,
};
use crate::settings::WorkerSettings;
use crate::stores::{Colo, Got, Stores};

/// One request's store IO: the bindings, the caches, and what was read where.
pub struct Reader<'a> {
    /// The isolate's tier of store values and the generation it trusts.
    cache: &'a RefCell<StoreCache>,
    settings: &'a WorkerSettings,
    pub stores: Stores,
    /// The request's origin: the colo's cache keys are URLs on it.
    origin: String,
    now_ms: u64,
    /// What this request reads under, settled at its first store read.
    under: RefCell<Option<Under>>,
    /// The colo's cache, opened at the first need (`Some(None)`: there is none).
    colo: RefCell<Option<Option<Colo>>>,
    reads: RefCell<Reads>,
    /// Reads of the store (values, metadata, digests, stored bytes) and how many of them a
    /// cache answered: the access record's `cache`.
    keys: RefCell<(usize, usize)>,
    /// Writes to the colo's cache, awaited after the answer (`waitUntil`).
    pending: RefCell<Vec<Promise>>,
}

impl<'a> Reader<'a> {
    /// The reader of a request that arrived at `now_ms` on `origin`.
    pub fn new(
        cache: &'a RefCell<StoreCache>,
        settings: &'a WorkerSettings,
        stores: Stores,
        origin: String,
        now_ms: u64,
    ) -> Reader<'a> {
        Reader {
            cache,
            settings,
            stores,
            origin,
            now_ms,
            under: RefCell::new(None),
            colo: RefCell::new(None),
            reads: RefCell::new(Reads::default()),
            keys: RefCell::new((0, 0)),
            pending: RefCell::new(Vec::new()),
        }
    }
}

impl Reader<'_> {
    /// The request's origin (`https://host`), which a rewrite without an upstream goes to.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// What the request read where (`x-provedge-reads`).
    pub fn reads(&self) -> Reads {
        self.reads.borrow().clone()
    }

    /// How many reads, and how many of them a cache answered (the access record's `cache`).
    pub fn keys(&self) -> (usize, usize) {
        *self.keys.borrow()
    }

    /// The colo's copies still being written, for `waitUntil`.
    pub fn take_pending(&self) -> Vec<Promise> {
        self.pending.take()
    }

    pub fn count(&self, source: Source) {
        self.reads.borrow_mut().count(source);
    }

    async fn colo(&self) -> Option<Colo> {
        if let Some(colo) = self.colo.borrow().as_ref() {
            return colo.clone();
        }
        let colo = Colo::open(self.origin.clone(), self.settings.colo_cache_secs).await;
        *self.colo.borrow_mut() = Some(colo.clone());
        colo
    }

    fn later(&self, put: Option<Promise>) {
        if let Some(put) = put {
            self.pending.borrow_mut().push(put);
        }
    }

    /// What this request reads under: the generation the isolate trusts, else the one KV has
    /// now; when KV cannot say, the last one read here or in the colo, while it may stand in;
    /// else TTL caching.
    pub async fn under(&self) -> Under {
        if let Some(under) = self.under.borrow().clone() {
            return under;
        }
        let now = self.now_ms;
        let trusted = self.cache.borrow().trusted(now);
        let under = match trusted {
            Some(under) => under,
            None => {
                let read = self.stores.generation().await;
                self.count(Source::Kv);
                let failed = read.is_err();
                if failed {
                    self.count(Source::Failed);
                }
                let settled = self.cache.borrow_mut().generation_read(read, now);
                match settled {
                    Some(Under::Generation(g)) if !failed => {
                        let lifetime = self.cache.borrow().generation_lifetime_secs();
                        if let Some(colo) = self.colo().await {
                            self.later(colo.put_generation(&g, now, lifetime));
                        }
                        Under::Generation(g)
                    }
                    Some(under) => under,
                    None => {
                        let remembered = match self.colo().await {
                            Some(colo) => colo.generation().await,
                            None => None,
                        };
                        remembered
                            .and_then(|(g, read_ms)| self.cache.borrow().adopt(&g, read_ms, now))
                            .unwrap_or(Under::Ttl)
                    }
                }
            }
        };
        if let Under::Generation(_) = under {
            // Opened once here, before a round's reads look into it together.
            self.colo().await;
        }
        *self.under.borrow_mut() = Some(under.clone());
        under
    }

    /// One cached thing: from the isolate, else the colo (under a generation), else `read`
    /// from the store; a failed read falls back to what the isolate held while it may.
    pub async fn cached(
        &self,
        kind: Kind,
        key: &str,
        under: &Under,
        read: impl std::future::Future<Output = (Source, Result<Option<Vec<u8>>, String>)>,
    ) -> Lookup {
        let now = self.now_ms;
        let local = self.cache.borrow_mut().lookup(kind, key, under, now);
        let stale = match local {
            Local::Hit(lookup) => {
                self.count(Source::Isolate);
                self.read_key(true);
                return lookup;
            }
            Local::Miss { stale } => stale,
        };
        let colo = match under {
            Under::Generation(g) => self
                .colo()
                .await
                .map(|c| (colo_url(c.origin(), g, kind, key), c)),
            Under::Ttl => None,
        };
        if let Some((url, colo)) = &colo {
            if let Some(found) = colo.get(url).await {
                self.count(Source::Colo);
                self.read_key(true);
                let mut cache = self.cache.borrow_mut();
                return cache.fill(kind, key, under, found, false, now).lookup;
            }
        }
        let (source, result) = read.await;
        self.count(source);
        match result {
            Ok(found) => {
                self.read_key(false);
                let filled = self.cache.borrow_mut().fill(
                    kind,
                    key,
                    under,
                    found,
                    source == Source::Kv,
                    now,
                );
                if let (true, Some((url, colo))) = (filled.lasting, &colo) {
                    let value = match &filled.lookup {
                        Lookup::Found(bytes) => Some(bytes.as_slice()),
                        _ => None,
                    };
                    self.later(colo.put(url, value));
                }
                filled.lookup
            }
            Err(reason) => {
                let (lookup, source) = self.cache.borrow().fail(stale.as_deref(), reason, now);
                self.count(source);
                self.read_key(source == Source::Stale);
                lookup
            }
        }
    }

    /// Every key of one engine round, read concurrently.
    pub async fn round(&self, keys: &[StoreKey]) -> Vec<(StoreKey, Lookup)> {
        let under = self.under().await;
        join_all(keys.iter().map(|key| {
            let under = &under;
            async move {
                let read = self.stores.read(key.as_str());
                let lookup = self.cached(Kind::Value, key.as_str(), under, read).await;
                (key.clone(), lookup)
            }
        }))
        .await
    }

    /// One read for the access record: from a cache (the isolate's, the colo's, a stale
    /// value) or not.
    pub fn read_key(&self, from_cache: bool) {
        let mut keys = self.keys.borrow_mut();
        keys.0 += 1;
        keys.1 += usize::from(from_cache);
    }
}

/// What became of a stream from R2.
pub enum Streamed {
    /// The object's bytes (or a HEAD's headers) went out.
    Sent(worker::Result<Response>),
    /// The core answered without the object's bytes (304, 404, 416, 503).
    Answer(provedge::Response),
}

/// A stored file from R2: its metadata (cached like a value, so a 304 costs no R2 read) given
/// to the core, then exactly the bytes it decided, as R2's stream, and only if the object is
/// still the version the core decided for (`onlyIf`); a newer one is decided for again.
pub async fn stream_from_r2(reader: &Reader<'_>, stream: &Stream, trail: &mut Trail) -> Streamed {
    let key = stream.key().as_str();
    let under = reader.under().await;
    let head = async {
        let meta = reader.stores.head(key).await;
        (Source::R2, meta.map(|m| m.as_ref().map(encode_meta)))
    };
    let mut meta = match reader.cached(Kind::Meta, key, &under, head).await {
        Lookup::Found(bytes) => decode_meta(&bytes)
            .map(Some)
            .ok_or_else(|| format!("cached metadata of {key} unreadable")),
        Lookup::Missing => Ok(None),
        Lookup::Failed(reason) => Err(reason),
    };
    // The cached version, then the one R2 has now, then one replacement more: an object that
    // changes faster than that is a 503.
    for _ in 0..3 {
        let full = meta
            .as_ref()
            .ok()
            .and_then(Option::as_ref)
            .map(|m: &ObjectMeta| (m.len, m.etag.clone()));
        let (status, headers, start, len, send_body) = match stream.answer(meta) {
            StreamAnswer::Respond(resp) => return Streamed::Answer(resp),
            StreamAnswer::Send {
                status,
                headers,
                start,
                len,
                send_body,
                device,
            } => {
                trail.device(device);
                (status, headers, start, len, send_body)
            }
        };
        let Some((size, etag)) = full else {
            return Streamed::Answer(provedge::Response::fault(
                500,
                "a send without an object".into(),
            ));
        };
        if !send_body {
            return Streamed::Sent(send(status, &headers, None));
        }
        let range = (start != 0 || len != size).then_some((start, len));
        reader.count(Source::R2);
        reader.read_key(false);
        meta = match reader.stores.get_part(key, &etag, range).await {
            Ok(Got::Body(body)) => return Streamed::Sent(send(status, &headers, Some(body))),
            Ok(Got::Changed(current)) => {
                remember_meta(reader, key, &under, Some(&current));
                Ok(Some(current))
            }
            Ok(Got::Missing) => {
                remember_meta(reader, key, &under, None);
                Ok(None)
            }
            Err(e) => {
                reader.count(Source::Failed);
                Err(e)
            }
        };
    }
    Streamed::Answer(provedge::Response::fault(
        503,
        format!("{key} changed on every read"),
    ))
}

/// What a read of the object found out, for the next request's answer.
fn remember_meta(reader: &Reader<'_>, key: &str, under: &Under, meta: Option<&ObjectMeta>) {
    let mut cache = reader.cache.borrow_mut();
    let _ = cache.fill(
        Kind::Meta,
        key,
        under,
        meta.map(encode_meta),
        false,
        reader.now_ms,
    );
}

/// A streamed answer: the core's status and headers (its `content-length` included), with R2's
/// stream as the body (none for a HEAD).
fn send(
    status: u16,
    headers: &[(String, String)],
    body: Option<worker::web_sys::ReadableStream>,
) -> worker::Result<Response> {
    let out = Headers::new();
    for (name, value) in headers {
        out.append(name, value)?;
    }
    let builder = ResponseBuilder::new().with_status(status).with_headers(out);
    Ok(match body {
        Some(body) => builder.stream(body),
        None => builder.empty(),
    })
}
