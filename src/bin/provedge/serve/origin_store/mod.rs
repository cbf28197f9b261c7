//! An origin store: `--store http(s)://…` or `s3://…`. The server does the IO, the core decides
//! the rest: which request to send for a key ([`provedge::Origin`], SigV4 included), what an
//! answer means and what is remembered of it ([`provedge::origin::cache::Cache`]: TTL,
//! negative entries, revalidation with `If-None-Match`, stale-if-error), and how a streamed
//! file is answered ([`Stream::answer`]).
//!
//! * **Reads** of one engine round go out together, each within `server.origin.timeout_ms`,
//!   each body capped at `max_object_bytes`; a failed read is the cached copy while it may
//!   stand in, else a failed lookup (the engine answers 503 and names the key).
//! * **Streamed files** are never held: a `HEAD` gives the object's length and validators, the
//!   core answers from them (200, 206, 304, 416, every header), and the bytes it names are
//!   fetched with `Range` and `If-Match` and passed through as they arrive ([`body`]).
//! * **Checksums** (`.md5` of firmware) are summed from one streamed GET through the core's
//!   hasher, at most [`MAX_SUMMING`] at a time, and remembered per object version (`ETag`,
//!   `Last-Modified`, length) in the same cache; a remembered one is revalidated with a
//!   conditional GET, which a 304 answers without a body.
//! * **Uploads** are PUT to the origin (the origin's 507 is a full store).

mod body;
mod client;
pub mod settings;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::BodyExt;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use provedge::object::{ObjectMeta, StreamAnswer};
use provedge::origin::answer::{self, Answer, Reply};
use provedge::origin::cache::{Cache, Entry, Hit, NoSharedTier};
use provedge::origin::checksum::{self, Version};
use provedge::{Checksum, Lookup, Mac, Md5Hasher, Origin, StoreKey, Stored, Stream, Summed};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use body::OriginBody;
use client::OriginClient;
use settings::{OriginCacheSettings, OriginSettings, Resolved};

/// Checksums summed at once: each holds a connection and a blocking-free stream of the
/// object; later ones wait their turn (and usually find the digest remembered by then).
pub const MAX_SUMMING: usize = 2;

/// An origin the server reads its store from.
pub struct OriginStore {
    origin: Origin,
    client: OriginClient,
    cache: Mutex<Cache>,
    summing: Semaphore,
    timeout: Duration,
}

/// What a streamed file became: the core's whole answer, or its status and headers with the
/// origin's bytes to pass through.
pub enum Streamed {
    Respond(provedge::Response),
    Send {
        status: u16,
        headers: HeaderMap,
        /// Bytes the body carries (0 for HEAD).
        len: u64,
        body: Option<OriginBody>,
        device: Option<Mac>,
    },
}

impl OriginStore {
    /// The store of a resolved `--store` URL; errors name the setting.
    pub fn new(
        resolved: Resolved,
        settings: &OriginSettings,
        cache: &OriginCacheSettings,
    ) -> Result<OriginStore, String> {
        let client = OriginClient::new(
            resolved.connect,
            resolved.tls.as_deref(),
            settings.ca_file.as_deref(),
        )?;
        let cache = cache.core();
        cache
            .validate()
            .map_err(|e| e.within("server.origin_cache").to_string())?;
        Ok(OriginStore {
            timeout: Duration::from_millis(resolved.origin.timeout_ms()),
            origin: resolved.origin,
            client,
            cache: Mutex::new(Cache::new(cache, String::new())),
            summing: Semaphore::new(MAX_SUMMING),
        })
    }

    /// Objects held by the cache, and their bytes.
    pub fn usage(&self) -> (usize, usize) {
        self.cache().local_usage()
    }

    /// A poisoned lock still holds a usable cache: a panic elsewhere must not stop reads.
    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads one round's keys: fresh cache entries at once, the rest from the origin together.
    /// Also returns how many were answered from the cache.
    pub async fn read(self: &Arc<Self>, keys: &[StoreKey]) -> (Vec<(StoreKey, Lookup)>, usize) {
        let now = now_ms();
        let mut found = Vec::with_capacity(keys.len());
        let mut asking = JoinSet::new();
        for key in keys {
            let hit = self.cache().lookup(key.as_str(), now, &NoSharedTier);
            match hit {
                Hit::Fresh { entry, .. } => found.push((key.clone(), entry.lookup())),
                Hit::Ask { stale } => {
                    let store = Arc::clone(self);
                    let key = key.clone();
                    asking.spawn(async move {
                        let lookup = store.ask(&key, stale.as_deref()).await;
                        (key, lookup)
                    });
                }
            }
        }
        let cached = found.len();
        while let Some(joined) = asking.join_next().await {
            // A read task cannot panic short of a bug; its key then gets no answer, which the
            // core turns into a failed read.
            if let Ok(read) = joined {
                found.push(read);
            }
        }
        (found, cached)
    }

    /// Asks the origin for `key` (conditionally, with `stale`'s validators) and settles the
    /// answer in the cache.
    async fn ask(&self, key: &StoreKey, stale: Option<&Entry>) -> Lookup {
        let get = self.origin.get(key, stale, now_ms() / 1000);
        let max = self.origin.max_object_bytes();
        let read = async {
            let resp = self
                .client
                .send(&self.origin, &get, &[], Bytes::new())
                .await?;
            read_whole(resp, max).await
        };
        let answer = match tokio::time::timeout(self.timeout, read).await {
            Ok(Ok((status, headers, body))) => {
                let reply = reply_of(&status, &headers, body.as_ref().map_or(0, Vec::len));
                answer::classify(&self.origin, &reply, now_ms(), || body.unwrap_or_default())
            }
            Ok(Err(reason)) => failed(reason, "no_response"),
            Err(_) => failed(format!("timed out after {:?}", self.timeout), "timeout"),
        };
        let now = now_ms();
        let settled = self
            .cache()
            .settle(key.as_str(), answer, stale, now, &NoSharedTier);
        settled.lookup
    }

    /// A streamed file: the object's metadata from a `HEAD`, the core's answer from it, and
    /// the bytes that answer names from a ranged GET, passed through.
    pub async fn stream(&self, stream: &Stream) -> Streamed {
        let key = stream.key();
        let head = self.origin.stream(key, true, now_ms() / 1000);
        let meta = match self.exchange(&head, &[]).await {
            Ok(resp) => self.meta_of(&resp),
            Err(reason) => Err(format!("origin {reason}")),
        };
        let from_origin = meta.as_ref().is_ok_and(|m| m.as_ref().is_some_and(|m| m.1));
        let answer = stream.answer(meta.map(|m| m.map(|(meta, _)| meta)));
        let (status, headers, start, len, send_body, device) = match answer {
            StreamAnswer::Respond(resp) => return Streamed::Respond(resp),
            StreamAnswer::Send {
                status,
                headers,
                start,
                len,
                send_body,
                device,
            } => (status, headers, start, len, send_body, device),
        };
        let mut map = HeaderMap::new();
        super::http::append_headers(&mut map, &headers);
        if !send_body {
            return Streamed::Send {
                status,
                headers: map,
                len: 0,
                body: None,
                device,
            };
        }
        let body = self.bytes(key, &map, start, len, from_origin).await;
        match body {
            Ok(body) => Streamed::Send {
                status,
                headers: map,
                len,
                body: Some(body),
                device,
            },
            Err(reason) => Streamed::Respond(provedge::Response::fault(
                503,
                format!("store read of {key} failed: origin {reason}"),
            )),
        }
    }

    /// The object's metadata from the answer to a `HEAD`: `Ok(None)` when it has none, and
    /// whether its validator is the origin's own `ETag` (then a ranged GET can insist on it).
    fn meta_of(&self, resp: &Response<Incoming>) -> Result<Option<(ObjectMeta, bool)>, String> {
        let status = resp.status().as_u16();
        if self.origin.is_missing(status) {
            return Ok(None);
        }
        if status != 200 {
            return Err(format!("origin {}", answer::failure(status).0));
        }
        let headers = resp.headers();
        let len = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or("origin sent no length for the object")?;
        let modified = headers
            .get(header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs());
        // A strong validator of the origin's; else one from the length and the date (an origin
        // like a plain static server sends only Last-Modified).
        let strong = headers
            .get(header::ETAG)
            .and_then(|v| answer::validator(v.as_bytes()))
            .filter(|tag| tag.starts_with('"') && tag.ends_with('"') && tag.len() >= 2);
        let (etag, own) = match strong {
            Some(tag) => (tag, true),
            None => (format!("\"{len:x}-{:x}\"", modified.unwrap_or(0)), false),
        };
        Ok(Some((
            ObjectMeta {
                len,
                etag,
                modified,
            },
            own,
        )))
    }

    /// The body for bytes `start..start + len` of `key`: asked with `Range` (and `If-Match`
    /// of the version answered for, when the origin named it), cut to exactly those bytes.
    async fn bytes(
        &self,
        key: &StoreKey,
        answered: &HeaderMap,
        start: u64,
        len: u64,
        pin_version: bool,
    ) -> Result<OriginBody, String> {
        let get = self.origin.stream(key, false, now_ms() / 1000);
        let mut extra = Vec::new();
        let whole = answered.get(header::CONTENT_RANGE).is_none();
        if !whole {
            let end = start.saturating_add(len).saturating_sub(1);
            if let Ok(range) = HeaderValue::from_str(&format!("bytes={start}-{end}")) {
                extra.push((header::RANGE, range));
            }
        }
        if pin_version {
            if let Some(etag) = answered.get(header::ETAG) {
                extra.push((header::IF_MATCH, etag.clone()));
            }
        }
        let resp = self.exchange(&get, &extra).await?;
        let skip = match resp.status().as_u16() {
            200 => start,
            206 if !whole => {
                let first = resp
                    .headers()
                    .get(header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split_once('-'))
                    .and_then(|(first, _)| first.parse::<u64>().ok());
                match first {
                    Some(first) if first == start => 0,
                    _ => return Err("answered another range than asked".into()),
                }
            }
            412 => return Err("object changed while it was served (412)".into()),
            status => return Err(answer::failure(status).0),
        };
        Ok(OriginBody::new(resp.into_body(), skip, len, self.timeout))
    }

    /// Sends `req` with `extra` headers; the answer's head must come within the timeout.
    async fn exchange(
        &self,
        req: &provedge::OriginRequest,
        extra: &[(HeaderName, HeaderValue)],
    ) -> Result<Response<Incoming>, String> {
        let send = self.client.send(&self.origin, req, extra, Bytes::new());
        match tokio::time::timeout(self.timeout, send).await {
            Ok(result) => result,
            Err(_) => Err(format!("timed out after {:?}", self.timeout)),
        }
    }

    /// The MD5 of a stored file: remembered per object version in the cache, else summed from
    /// the object as it streams in.
    pub async fn checksum(&self, sum: &Checksum) -> Summed {
        let memo = checksum::memo_key(sum.key().as_str());
        let hit = self.cache().lookup(&memo, now_ms(), &NoSharedTier);
        let stale = match hit {
            Hit::Fresh { entry, .. } => match checksum::summed(&entry) {
                Some(summed) => return summed,
                None => None,
            },
            Hit::Ask { stale } => stale,
        };
        let Ok(_turn) = self.summing.acquire().await else {
            return Summed::Failed("checksum pool closed".into());
        };
        let outcome = self.sum(sum, &memo, stale.as_deref()).await;
        match outcome {
            Ok(summed) => summed,
            Err((reason, label)) => {
                let failed = self.cache().fail(stale.as_deref(), reason, label, now_ms());
                match failed.lookup {
                    Lookup::Failed(reason) => Summed::Failed(reason),
                    _ => stale
                        .as_deref()
                        .and_then(checksum::summed)
                        .unwrap_or_else(|| Summed::Failed("no digest remembered".into())),
                }
            }
        }
    }

    /// Asks for the object, conditionally on the remembered digest's version: a 304 renews it,
    /// a 200 is summed as it arrives (each piece within the timeout) and remembered.
    async fn sum(
        &self,
        sum: &Checksum,
        memo: &str,
        stale: Option<&Entry>,
    ) -> Result<Summed, (String, &'static str)> {
        let remembered = stale.filter(|e| checksum::remembered(e).is_some());
        let get = self.origin.get(sum.key(), remembered, now_ms() / 1000);
        let resp = self
            .exchange(&get, &[])
            .await
            .map_err(|reason| (reason, "no_response"))?;
        let status = resp.status().as_u16();
        if status == 304 {
            if let Some(stale) = remembered {
                let renewed = self.cache().renew(memo, stale, now_ms(), &NoSharedTier);
                if let Some(summed) = checksum::summed(&renewed) {
                    return Ok(summed);
                }
            }
            return Err(("answered 304 to an unconditional GET".into(), "status"));
        }
        if self.origin.is_missing(status) {
            self.cache()
                .store(memo, Entry::missing(now_ms()), &NoSharedTier);
            return Ok(Summed::Missing);
        }
        if status != 200 {
            return Err(answer::failure(status));
        }
        let (parts, mut body) = resp.into_parts();
        let mut hasher: Md5Hasher = sum.hasher();
        let mut length = 0u64;
        loop {
            let frame = match tokio::time::timeout(self.timeout, body.frame()).await {
                Err(_) => return Err(("went quiet while the file was summed".into(), "timeout")),
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err((format!("broke off: {e}"), "no_response")),
                Ok(Some(Ok(frame))) => frame,
            };
            if let Ok(data) = frame.into_data() {
                hasher.update(&data);
                length = length.saturating_add(data.len() as u64);
            }
        }
        let version = Version::of(&reply_of(&parts.status, &parts.headers, 0), length);
        let digest = hasher.finish();
        if version.nameable() {
            let entry = version.remember(digest, now_ms());
            self.cache().store(memo, entry, &NoSharedTier);
        }
        Ok(Summed::Found(digest))
    }

    /// PUTs an upload to the origin.
    pub async fn upload(&self, key: &StoreKey, body: Vec<u8>) -> Stored {
        let put = self.origin.put(key, &body, now_ms() / 1000);
        let send = self.client.send(&self.origin, &put, &[], Bytes::from(body));
        match tokio::time::timeout(self.timeout, send).await {
            Ok(Ok(resp)) => answer::stored(Some(resp.status().as_str().as_bytes())),
            Ok(Err(reason)) => Stored::Failed(format!("origin {reason}")),
            Err(_) => Stored::Failed(format!("origin timed out after {:?}", self.timeout)),
        }
    }
}

/// An origin failure.
fn failed(reason: String, label: &'static str) -> Answer {
    Answer::Failed { reason, label }
}

/// The status and headers of an answer, and its body when it is one to keep: a 200 within
/// `max` bytes, judged on `Content-Length` before anything is read, then on what arrives.
/// Otherwise `None`, and the headers' `content-length` is the size the core judges.
async fn read_whole(
    resp: Response<Incoming>,
    max: usize,
) -> Result<(StatusCode, HeaderMap, Option<Vec<u8>>), String> {
    let (parts, mut body) = resp.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if parts.status != StatusCode::OK || declared.is_some_and(|n| n > max as u64) {
        return Ok((parts.status, parts.headers, None));
    }
    let mut bytes = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("broke off: {e}"))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > max {
                let mut headers = parts.headers;
                headers.insert(
                    header::CONTENT_LENGTH,
                    HeaderValue::from(bytes.len() + data.len()),
                );
                return Ok((parts.status, headers, None));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok((parts.status, parts.headers, Some(bytes)))
}

/// The core's view of an answer; `body_size` is what arrived, or the declared length of a body
/// left unread.
fn reply_of<'a>(status: &'a StatusCode, headers: &'a HeaderMap, body_size: usize) -> Reply<'a> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    Reply {
        status: Some(status.as_str().as_bytes()),
        etag: headers.get(header::ETAG).map(HeaderValue::as_bytes),
        last_modified: headers
            .get(header::LAST_MODIFIED)
            .map(HeaderValue::as_bytes),
        body_size: body_size.max(declared.unwrap_or(0)),
    }
}

/// Milliseconds since the Unix epoch: the time the core's cache and signing are handed.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
