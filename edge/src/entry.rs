//! The Workers runtime glue: the fetch handler driving the engine over KV, the upstream fetch,
//! the request body and `request.cf`. Compiled for wasm32 only.

use std::cell::RefCell;
use std::rc::Rc;

use provedge::access::{Done, LastSeenMarks, Trail};
use provedge::{ClientIdentity, Config, Decision, Engine, Lookup, Md5Hasher, Stored, Summed};
use worker::js_sys::{Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{ReadableStream, ReadableStreamDefaultReader};
use worker::{event, Context, Env, Headers, KvStore, RequestInit, Response};

use crate::body::{declared_length, BodyCap, Forward, TooLarge};

thread_local! {
    /// The isolate's engine and the configuration text it was built from.
    static ENGINE: RefCell<Option<(String, Rc<Engine>)>> = const { RefCell::new(None) };
    /// When each device's last-seen record was last written from this isolate (every five
    /// minutes at most per device, bounded like the native server's).
    static LAST_SEEN: LastSeenMarks = LastSeenMarks::new(300, 100_000);
}

/// The engine for this configuration text, built once per isolate (and again only when the
/// text changes), so compiled templates and rendered files are reused across requests.
fn engine_for(text: Option<String>, env: &Env) -> Result<Rc<Engine>, String> {
    let text = text.unwrap_or_default();
    ENGINE.with(|cell| {
        if let Some((cached, engine)) = cell.borrow().as_ref() {
            if *cached == text {
                return Ok(Rc::clone(engine));
            }
        }
        // Secrets the configuration names come from the Worker's secrets (`wrangler secret
        // put`), never from KV or the bundle.
        let (config, secrets) = if text.is_empty() {
            (Config::default(), provedge::secrets::Secrets::default())
        } else {
            Config::from_document_with(&text, |name| env.secret(name).ok().map(|s| s.to_string()))?
        };
        let engine = Rc::new(Engine::new(config)?.with_secrets(secrets));
        *cell.borrow_mut() = Some((text, Rc::clone(&engine)));
        Ok(engine)
    })
}

#[event(fetch)]
async fn fetch(req: worker::Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let engine = match engine_for(env.var("PROVEDGE_CONFIG").ok().map(|v| v.to_string()), &env) {
        Ok(engine) => engine,
        Err(e) => {
            worker::console_error!("provedge: {e}");
            return Response::error("misconfigured", 500);
        }
    };
    let arrived_ms = worker::Date::now().as_millis();
    let url = req.url()?;
    let mut request = crate::core_request(
        req.method().as_ref(),
        url.path(),
        url.query(),
        req.headers().entries(),
    );
    // Workers terminates mutual TLS itself and reports the certificate in `request.cf`.
    request.client_identity = tls_identity(req.inner());
    let store = env.kv("STORE")?;
    let mut trail = Trail::default();
    let answer = serve(
        &engine,
        &req,
        &request,
        &env,
        &store,
        arrived_ms / 1000,
        &mut trail,
    )
    .await;
    let response = match answer {
        Ok(response) => response,
        Err(e) => {
            trail.note(format!("worker: {e}"));
            Response::error("internal error", 500)?
        }
    };
    // One access record per request, as every host emits it; and the device's last-seen
    // record in KV when it is due (after the answer, not before it).
    let done = Done {
        arrived_ms,
        client: request.peer,
        status: response.status_code(),
        bytes: response
            .headers()
            .get("content-length")
            .ok()
            .flatten()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        duration_us: worker::Date::now()
            .as_millis()
            .saturating_sub(arrived_ms)
            .saturating_mul(1000),
    };
    let record = trail.record(&engine, &request, done);
    worker::console_log!("{}", record.to_json());
    if let Some(seen) = record.last_seen() {
        let due = LAST_SEEN.with(|marks| marks.due(seen, arrived_ms / 1000));
        if due {
            if let Ok(put) = store.put_bytes(seen.key().as_str(), &seen.to_json()) {
                ctx.wait_until(async move {
                    if let Err(e) = put.execute().await {
                        worker::console_error!("provedge: last-seen: {e}");
                    }
                });
            }
        }
    }
    Ok(response)
}

/// Drives the engine's decisions for one request to the runtime's response.
async fn serve(
    engine: &Engine,
    req: &worker::Request,
    request: &provedge::Request,
    env: &Env,
    store: &KvStore,
    now: u64,
    trail: &mut Trail,
) -> worker::Result<Response> {
    let upstream = env.var("PROVEDGE_UPSTREAM").ok().map(|v| v.to_string());
    let url = req.url()?;
    let declared = declared_length(req.headers().get("content-length")?.as_deref());
    let mut decision = engine.handle(request, now);
    loop {
        trail.saw(&decision);
        match decision {
            Decision::Respond(resp) => return respond(resp),
            Decision::Rewrite(rewrite) => {
                let origin = url.origin().ascii_serialization();
                let target = crate::upstream_url(upstream.as_deref(), &origin, &rewrite.target);
                // The request goes on as the phone sent it (method, headers, body); only the
                // URL changes, as with nginx's internal rewrite and proxy_pass.
                let max = engine.config().uploads.max_bytes;
                let body = match Forward::new(max, declared) {
                    Ok(Forward::Stream) => req.inner().body().map(JsValue::from),
                    Ok(Forward::Read(cap)) => match read_capped(req.inner(), cap).await {
                        Ok(Ok(bytes)) if bytes.is_empty() => None,
                        Ok(Ok(bytes)) => Some(Uint8Array::from(&bytes[..]).into()),
                        Ok(Err(TooLarge)) => return respond(too_large(max)),
                        Err(e) => return respond(broken_body(&e)),
                    },
                    Err(TooLarge) => return respond(too_large(max)),
                };
                let mut init = RequestInit::new();
                init.with_method(req.method())
                    .with_headers(req.headers().clone())
                    .with_body(body);
                let forwarded = worker::Request::new_with_init(&target, &init)?;
                return worker::Fetch::Request(forwarded).send().await;
            }
            Decision::Stream(stream) => {
                let lookup = lookup(store, stream.key().as_str()).await;
                decision = Decision::Respond(stream.respond(lookup));
            }
            Decision::Checksum(sum) => {
                let summed = match store.get(sum.key().as_str()).stream().await {
                    Ok(Some(file)) => match md5_of(&file, sum.hasher()).await {
                        Ok(digest) => Summed::Found(digest),
                        Err(e) => Summed::Failed(e.to_string()),
                    },
                    Ok(None) => Summed::Missing,
                    Err(e) => Summed::Failed(e.to_string()),
                };
                decision = Decision::Respond(sum.respond(summed));
            }
            Decision::Upload(upload) => {
                let body = match BodyCap::new(upload.max_bytes(), declared) {
                    Ok(cap) => read_capped(req.inner(), cap).await,
                    Err(TooLarge) => Ok(Err(TooLarge)),
                };
                let outcome = match body {
                    Ok(Ok(bytes)) => put(store, upload.key().as_str(), &bytes).await,
                    Ok(Err(TooLarge)) => Stored::TooLarge,
                    Err(e) => return respond(broken_body(&e)),
                };
                decision = Decision::Respond(upload.finish(outcome));
            }
            Decision::Fetch(pending) => {
                let mut found = Vec::new();
                for key in pending.keys() {
                    found.push((key.clone(), lookup(store, key.as_str()).await));
                }
                trail.read(found.len(), 0);
                decision = pending.resume(engine, found);
            }
        }
    }
}

/// The engine's response as the runtime's.
fn respond(resp: provedge::Response) -> worker::Result<Response> {
    let headers = Headers::new();
    // Appended, not set: a Digest challenge comes once per algorithm.
    for (name, value) in &resp.headers {
        headers.append(name, value)?;
    }
    // The length of what a GET would get, also for a HEAD (whose body the runtime drops).
    headers.set("content-length", &resp.body.len().to_string())?;
    Ok(Response::from_bytes(resp.body)?
        .with_status(resp.status)
        .with_headers(headers))
}

/// The refusal of a rewritten request whose body is over the cap (uploads have the engine's
/// own, [`provedge::Upload::finish`]).
fn too_large(max: usize) -> provedge::Response {
    provedge::Response::text(413, &format!("request bodies are limited to {max} bytes"))
}

/// The answer when the client's body broke off or was not bytes, as the native server gives it.
fn broken_body(e: &worker::Error) -> provedge::Response {
    worker::console_error!("provedge: request body: {e}");
    provedge::Response::text(400, "request body broken")
}

/// What KV holds under `key`, whole.
async fn lookup(store: &KvStore, key: &str) -> Lookup {
    match store.get(key).bytes().await {
        Ok(Some(bytes)) => Lookup::Found(bytes),
        Ok(None) => Lookup::Missing,
        Err(e) => Lookup::Failed(e.to_string()),
    }
}

/// Stores an upload under `key`.
async fn put(store: &KvStore, key: &str, bytes: &[u8]) -> Stored {
    let replaced = store.get(key).bytes().await.ok().flatten().is_some();
    match store.put_bytes(key, bytes) {
        Ok(put) => match put.execute().await {
            Ok(()) => Stored::Done { replaced },
            Err(e) => Stored::Failed(e.to_string()),
        },
        Err(e) => Stored::Failed(e.to_string()),
    }
}

/// Reads the request body chunk by chunk from its stream, counting it against `cap`: refused
/// ([`TooLarge`]) at the first chunk over the cap, when the rest of the stream is cancelled
/// unread, so the Worker never holds more than the cap of anyone's body. An absent body reads
/// as empty; `Err` when the stream fails (the client went away) or yields something other than
/// bytes.
async fn read_capped(
    req: &worker::web_sys::Request,
    mut cap: BodyCap,
) -> worker::Result<Result<Vec<u8>, TooLarge>> {
    let Some(stream) = req.body() else {
        return Ok(Ok(Vec::new()));
    };
    let reader = ReadableStreamDefaultReader::new(&stream)?;
    let mut bytes = Vec::new();
    while let Some(chunk) = next_chunk(&reader).await? {
        let len = chunk.length() as usize;
        if cap.admit(len).is_err() {
            // Cancelling tells the runtime the rest is unwanted; its outcome changes nothing.
            let _ = JsFuture::from(reader.cancel()).await;
            return Ok(Err(TooLarge));
        }
        let start = bytes.len();
        bytes.resize(start + len, 0);
        chunk.copy_to(&mut bytes[start..]);
    }
    Ok(Ok(bytes))
}

/// The MD5 of a stored file, fed to the core's hasher chunk by chunk as KV streams it, so a
/// firmware image is summed without being held whole.
async fn md5_of(file: &ReadableStream, mut hasher: Md5Hasher) -> worker::Result<[u8; 16]> {
    let reader = ReadableStreamDefaultReader::new(file)?;
    while let Some(chunk) = next_chunk(&reader).await? {
        hasher.update(&chunk.to_vec());
    }
    Ok(hasher.finish())
}

/// The next chunk of a byte stream, `None` at its end.
async fn next_chunk(reader: &ReadableStreamDefaultReader) -> worker::Result<Option<Uint8Array>> {
    let next = JsFuture::from(reader.read()).await?;
    if Reflect::get(&next, &JsValue::from_str("done"))?.is_truthy() {
        return Ok(None);
    }
    let chunk = Reflect::get(&next, &JsValue::from_str("value"))?
        .dyn_into()
        .map_err(|_| worker::Error::from("a stream chunk that is not bytes"))?;
    Ok(Some(chunk))
}

/// The device identity of the client certificate in `request.cf.tlsClientAuth`, judged by
/// [`crate::identity::client_identity`]. Read through `Reflect` rather than the worker crate's
/// `TlsClientAuth`, which has no `certRevoked` and panics on any field the runtime left out.
fn tls_identity(req: &worker::web_sys::Request) -> Option<ClientIdentity> {
    let get = |object: &JsValue, name: &str| {
        Reflect::get(object, &JsValue::from_str(name))
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
    };
    let cf = get(req.as_ref(), "cf")?;
    let auth = get(&cf, "tlsClientAuth")?;
    crate::identity::client_identity(|name| get(&auth, name)?.as_string())
}
