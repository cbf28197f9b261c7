//! The Worker's store IO: Workers KV (`STORE`), R2 (`BUCKET`) and the colo's Cache API.
//! Compiled for wasm32 only.
//!
//! Both bindings are optional: without `BUCKET` every key lives in KV (as [`Placement`] says
//! for a store without an object store); without `STORE` every KV key reads as a failure
//! naming the missing binding (the engine answers 503, or a cached value stands in).
//!
//! R2 and the Cache API are called through `Reflect` rather than the worker crate's wrappers,
//! whose property getters unwrap and whose ranges assert: nothing here panics on what the
//! runtime returns.

use provedge::object::ObjectMeta;
use provedge::store::placement::{Backend, Placement, GENERATION_KEY};
use provedge::Md5Hasher;
use worker::js_sys::{Array, Date, Function, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{self, ReadableStream, ReadableStreamDefaultReader};
use worker::{Env, KvStore};

use crate::reads::Source;
use crate::settings::WorkerSettings;

/// KV's `cacheTtl` for the generation: how long KV's edge may answer from its own copy. Its
/// smallest value (Miniflare refuses less), and KV's default: a push is then seen within
/// `generation_ttl_secs` plus this, whatever the TTL.
const GENERATION_CACHE_TTL: u64 = 60;

/// The name of the Worker's named cache (apart from the zone's `caches.default`, which a
/// subrequest to the zone would read: store values must never be served from there).
const COLO_CACHE: &str = "provedge";

/// The bindings of one request, and where each key lives.
#[derive(Clone)]
pub struct Stores {
    kv: Option<KvStore>,
    r2: Option<JsValue>,
    placement: Placement,
    max_object_bytes: usize,
}

/// What R2 gave for a conditional, ranged read.
pub enum Got {
    /// No such object.
    Missing,
    /// The object is not the version asked for: this is the current one's metadata.
    Changed(ObjectMeta),
    /// The bytes asked for.
    Body(ReadableStream),
}

impl Stores {
    pub fn of(env: &Env, settings: &WorkerSettings) -> Stores {
        let r2 = Reflect::get(env, &JsValue::from_str("BUCKET"))
            .ok()
            .filter(|b| b.is_object());
        Stores {
            kv: env.kv("STORE").ok(),
            r2,
            placement: settings.placement(),
            max_object_bytes: settings.max_object_bytes,
        }
    }

    /// Where `key` lives.
    pub fn backend(&self, key: &str) -> Backend {
        self.placement.backend(key, self.r2.is_some())
    }

    fn kv(&self) -> Result<&KvStore, String> {
        self.kv
            .as_ref()
            .ok_or_else(|| "no binding STORE (Workers KV)".to_owned())
    }

    fn r2(&self) -> Result<&JsValue, String> {
        self.r2
            .as_ref()
            .ok_or_else(|| "no binding BUCKET (R2)".to_owned())
    }

    /// The store's generation, through KV's edge cache (`cacheTtl`).
    pub async fn generation(&self) -> Result<Option<Vec<u8>>, String> {
        self.kv()?
            .get(GENERATION_KEY)
            .cache_ttl(GENERATION_CACHE_TTL)
            .bytes()
            .await
            .map_err(|e| e.to_string())
    }

    /// The value under `key`, whole, and where it was read.
    pub async fn read(&self, key: &str) -> (Source, Result<Option<Vec<u8>>, String>) {
        match self.backend(key) {
            Backend::Kv => (Source::Kv, self.kv_read(key).await),
            Backend::Objects => (Source::R2, self.r2_read(key).await),
        }
    }

    async fn kv_read(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.kv()?.get(key).bytes().await.map_err(|e| e.to_string())
    }

    /// An R2 object read whole, refused (unread) over `max_object_bytes`.
    async fn r2_read(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let object = call(self.r2()?, "get", &[JsValue::from_str(key)]).await?;
        if object.is_null() || object.is_undefined() {
            return Ok(None);
        }
        let meta = meta_of(&object)?;
        if meta.len > self.max_object_bytes as u64 {
            cancel_body(&object).await;
            return Err(format!(
                "{key} has {} bytes, over worker.max_object_bytes ({})",
                meta.len, self.max_object_bytes
            ));
        }
        let buffer = call(&object, "arrayBuffer", &[]).await?;
        Ok(Some(Uint8Array::new(&buffer).to_vec()))
    }

    /// What R2 knows of an object (a `head`: no body).
    pub async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, String> {
        let object = call(self.r2()?, "head", &[JsValue::from_str(key)]).await?;
        if object.is_null() || object.is_undefined() {
            return Ok(None);
        }
        meta_of(&object).map(Some)
    }

    /// The bytes `range` (`(offset, length)`, `None`: all) of the object, only if it is still
    /// the version `etag` names, as R2's stream: never read into the isolate.
    pub async fn get_part(
        &self,
        key: &str,
        etag: &str,
        range: Option<(u64, u64)>,
    ) -> Result<Got, String> {
        let options = Object::new();
        let only_if = Object::new();
        set(&only_if, "etagMatches", &JsValue::from_str(unquoted(etag)))?;
        set(&options, "onlyIf", &only_if)?;
        if let Some((offset, length)) = range {
            let part = Object::new();
            set(&part, "offset", &JsValue::from_f64(offset as f64))?;
            set(&part, "length", &JsValue::from_f64(length as f64))?;
            set(&options, "range", &part)?;
        }
        let object = call(self.r2()?, "get", &[JsValue::from_str(key), options.into()]).await?;
        if object.is_null() || object.is_undefined() {
            return Ok(Got::Missing);
        }
        match body_of(&object) {
            Some(body) => Ok(Got::Body(body)),
            None => meta_of(&object).map(Got::Changed),
        }
    }

    /// The MD5 of the object under `key`, fed through `hasher` as the store streams it.
    pub async fn md5(
        &self,
        key: &str,
        hasher: Md5Hasher,
    ) -> (Source, Result<Option<Vec<u8>>, String>) {
        let stream = match self.backend(key) {
            Backend::Kv => (Source::Kv, self.kv_stream(key).await),
            Backend::Objects => (Source::R2, self.r2_stream(key).await),
        };
        let (source, stream) = stream;
        let digest = match stream {
            Ok(Some(body)) => md5_of(&body, hasher).await.map(|d| Some(d.to_vec())),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        (source, digest)
    }

    async fn kv_stream(&self, key: &str) -> Result<Option<ReadableStream>, String> {
        self.kv()?
            .get(key)
            .stream()
            .await
            .map_err(|e| e.to_string())
    }

    async fn r2_stream(&self, key: &str) -> Result<Option<ReadableStream>, String> {
        let object = call(self.r2()?, "get", &[JsValue::from_str(key)]).await?;
        if object.is_null() || object.is_undefined() {
            return Ok(None);
        }
        body_of(&object)
            .map(Some)
            .ok_or_else(|| format!("R2 gave {key} without a body"))
    }

    /// Whether something is stored under `key` (an upload's 201 or 204), and where it was
    /// asked.
    pub async fn exists(&self, key: &str) -> (Source, bool) {
        match self.backend(key) {
            Backend::Kv => (Source::Kv, matches!(self.kv_read(key).await, Ok(Some(_)))),
            Backend::Objects => (Source::R2, matches!(self.head(key).await, Ok(Some(_)))),
        }
    }

    /// Stores `bytes` under `key`, where the placement says.
    pub async fn put(&self, key: &str, bytes: &[u8]) -> Result<(), String> {
        match self.backend(key) {
            Backend::Kv => self
                .kv()?
                .put_bytes(key, bytes)
                .map_err(|e| e.to_string())?
                .execute()
                .await
                .map_err(|e| e.to_string()),
            Backend::Objects => {
                let value = Uint8Array::from(bytes);
                call(self.r2()?, "put", &[JsValue::from_str(key), value.into()])
                    .await
                    .map(|_| ())
            }
        }
    }
}

/// The colo's cache of store values (a named Cache API cache), for one request's origin.
#[derive(Clone)]
pub struct Colo {
    cache: JsValue,
    origin: String,
    max_age: u64,
}

/// Marks what a cached response stands for: `1` a value (the body), `0` no such key.
const FOUND: &str = "x-provedge-found";
/// When the generation a colo entry holds was read (ms since the Unix epoch).
const READ_MS: &str = "x-provedge-read-ms";

impl Colo {
    /// The named cache, or `None` when the runtime has none (or `max_age` is 0: off).
    pub async fn open(origin: String, max_age: u64) -> Option<Colo> {
        if max_age == 0 {
            return None;
        }
        let caches = Reflect::get(&worker::js_sys::global(), &JsValue::from_str("caches"))
            .ok()
            .filter(JsValue::is_object)?;
        let cache = call(&caches, "open", &[JsValue::from_str(COLO_CACHE)])
            .await
            .ok()
            .filter(JsValue::is_object)?;
        Some(Colo {
            cache,
            origin,
            max_age,
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// What the colo holds at `url`: `Some(Some(bytes))` a value, `Some(None)` that there is
    /// none, `None` a miss (or an entry it cannot read, which is a miss too).
    pub async fn get(&self, url: &str) -> Option<Option<Vec<u8>>> {
        let resp = self.matched(url).await?;
        match header(&resp, FOUND).as_deref() {
            Some("1") => {
                let buffer = JsFuture::from(resp.array_buffer().ok()?).await.ok()?;
                Some(Some(Uint8Array::new(&buffer).to_vec()))
            }
            Some("0") => Some(None),
            _ => None,
        }
    }

    async fn matched(&self, url: &str) -> Option<web_sys::Response> {
        call(&self.cache, "match", &[JsValue::from_str(url)])
            .await
            .ok()?
            .dyn_into::<web_sys::Response>()
            .ok()
    }

    /// Starts storing a value (or its absence) at `url`; the promise is for `waitUntil`.
    pub fn put(&self, url: &str, found: Option<&[u8]>) -> Option<Promise> {
        self.store(url, found, &[], self.max_age)
    }

    /// The generation the colo remembers, and when it was read.
    pub async fn generation(&self) -> Option<(String, u64)> {
        let url = crate::reads::colo_generation_url(&self.origin);
        let resp = self.matched(&url).await?;
        let read_ms = header(&resp, READ_MS)?.parse().ok()?;
        let text = JsFuture::from(resp.text().ok()?).await.ok()?.as_string()?;
        Some((text, read_ms))
    }

    /// Starts remembering `generation` as read at `read_ms`, for `lifetime` seconds (the
    /// isolate's trust in it plus the time it may stand in for a failing KV).
    pub fn put_generation(&self, generation: &str, read_ms: u64, lifetime: u64) -> Option<Promise> {
        let url = crate::reads::colo_generation_url(&self.origin);
        let read_ms = read_ms.to_string();
        self.store(
            &url,
            Some(generation.as_bytes()),
            &[(READ_MS, &read_ms)],
            lifetime.max(1),
        )
    }

    fn store(
        &self,
        url: &str,
        found: Option<&[u8]>,
        extra: &[(&str, &str)],
        max_age: u64,
    ) -> Option<Promise> {
        let headers = web_sys::Headers::new().ok()?;
        headers
            .set("cache-control", &format!("max-age={max_age}"))
            .ok()?;
        headers
            .set(FOUND, if found.is_some() { "1" } else { "0" })
            .ok()?;
        for (name, value) in extra {
            headers.set(name, value).ok()?;
        }
        let init = web_sys::ResponseInit::new();
        init.set_status(200);
        init.set_headers(&headers);
        let mut body = found.map(<[u8]>::to_vec).unwrap_or_default();
        let resp =
            web_sys::Response::new_with_opt_u8_array_and_init(Some(&mut body), &init).ok()?;
        let promise = Reflect::get(&self.cache, &JsValue::from_str("put"))
            .ok()?
            .dyn_into::<Function>()
            .ok()?
            .call2(&self.cache, &JsValue::from_str(url), &resp)
            .ok()?;
        promise.dyn_into::<Promise>().ok()
    }
}

/// Calls `target[method](...args)` and awaits what it returns (a promise or a value); a throw
/// or a rejection is an `Err` with its message.
pub(crate) async fn call(
    target: &JsValue,
    method: &str,
    args: &[JsValue],
) -> Result<JsValue, String> {
    let function = Reflect::get(target, &JsValue::from_str(method))
        .map_err(message)?
        .dyn_into::<Function>()
        .map_err(|_| format!("{method} is not a function"))?;
    let args: Array = args.iter().collect();
    let returned = function.apply(target, &args).map_err(message)?;
    JsFuture::from(Promise::resolve(&returned))
        .await
        .map_err(message)
}

pub(crate) fn set(object: &Object, name: &str, value: &JsValue) -> Result<(), String> {
    Reflect::set(object, &JsValue::from_str(name), value)
        .map(|_| ())
        .map_err(message)
}

/// A JavaScript error's message (or what it is, when it has none).
fn message(e: JsValue) -> String {
    if let Some(text) = e.as_string() {
        return text;
    }
    Reflect::get(&e, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// An R2 object's length, validator and upload time.
fn meta_of(object: &JsValue) -> Result<ObjectMeta, String> {
    let get = |name: &str| Reflect::get(object, &JsValue::from_str(name)).map_err(message);
    let size = get("size")?
        .as_f64()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .ok_or("an R2 object without a size")?;
    let etag = get("httpEtag")?
        .as_string()
        .filter(|e| !e.is_empty())
        .ok_or("an R2 object without an httpEtag")?;
    let modified = get("uploaded")?
        .dyn_into::<Date>()
        .ok()
        .map(|d| d.get_time())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| (ms / 1000.0) as u64);
    Ok(ObjectMeta {
        len: size as u64,
        etag,
        modified,
    })
}

/// The body stream of an R2 object, if it has one (a failed `onlyIf` leaves it out).
fn body_of(object: &JsValue) -> Option<ReadableStream> {
    Reflect::get(object, &JsValue::from_str("body"))
        .ok()?
        .dyn_into::<ReadableStream>()
        .ok()
}

/// Tells the runtime a body is not wanted; what becomes of that changes nothing.
async fn cancel_body(object: &JsValue) {
    if let Some(body) = body_of(object) {
        let _ = JsFuture::from(body.cancel()).await;
    }
}

/// An entity tag as R2's `etagMatches` takes it: without `W/` and quotes.
fn unquoted(etag: &str) -> &str {
    etag.trim_start_matches("W/").trim_matches('"')
}

fn header(resp: &web_sys::Response, name: &str) -> Option<String> {
    resp.headers().get(name).ok().flatten()
}

/// The MD5 of a stored file, fed to the core's hasher chunk by chunk as the store streams it,
/// so a firmware image is summed without being held whole.
pub async fn md5_of(file: &ReadableStream, mut hasher: Md5Hasher) -> Result<[u8; 16], String> {
    let reader = ReadableStreamDefaultReader::new(file).map_err(message)?;
    while let Some(chunk) = next_chunk(&reader).await.map_err(|e| e.to_string())? {
        hasher.update(&chunk.to_vec());
    }
    Ok(hasher.finish())
}

/// The next chunk of a byte stream, `None` at its end.
pub async fn next_chunk(
    reader: &ReadableStreamDefaultReader,
) -> worker::Result<Option<Uint8Array>> {
    let next = JsFuture::from(reader.read()).await?;
    if Reflect::get(&next, &JsValue::from_str("done"))?.is_truthy() {
        return Ok(None);
    }
    let chunk = Reflect::get(&next, &JsValue::from_str("value"))?
        .dyn_into()
        .map_err(|_| worker::Error::from("a stream chunk that is not bytes"))?;
    Ok(Some(chunk))
}
