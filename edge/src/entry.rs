//! The Workers runtime glue: the fetch handler driving the engine over KV and R2 (read through
//! the isolate's and the colo's caches by [`crate::reader`]), the upstream fetch, the request
//! body and `request.cf`. Compiled for wasm32 only.

use std::cell::RefCell;
use std::rc::Rc;

use provedge::access::{Done, LastSeenMarks, Trail};
use provedge::store::placement::Backend;
use provedge::{ClientIdentity, Config, Decision, Engine, Lookup, Stored, Summed};
use worker::js_sys::{Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::ReadableStreamDefaultReader;
use worker::{event, Context, Env, Headers, RequestInit, Response};

use crate::body::{declared_length, BodyCap, Forward, TooLarge};
use crate::reader::{stream_from_r2, Reader, Streamed};
use crate::reads::{Kind, StoreCache};
use crate::settings::WorkerSettings;
use crate::stores::{next_chunk, Stores};

/// What an isolate builds once per configuration text.
struct Setup {
    engine: Engine,
    settings: WorkerSettings,
    /// The isolate's tier of store values and the generation it trusts.
    cache: RefCell<StoreCache>,
    /// When each device's last-seen record was last written from this isolate.
    last_seen: LastSeenMarks,
}

/// The variable holding the configuration document.
const CONFIG_VAR: &str = "PROVEDGE_CONFIG";

thread_local! {
    /// The isolate's setup and the `PROVEDGE_CONFIG` value it was built from, as the runtime
    /// holds it.
    static SETUP: RefCell<Option<(JsValue, Rc<Setup>)>> = const { RefCell::new(None) };
}

/// The setup for this configuration, built once per isolate (and again only when the text
/// changes), so compiled templates, rendered files and store values are reused across requests.
/// The variable is compared as the runtime's own string: copying a configuration of some
/// kilobytes into Rust on every request, only to find it unchanged, was a part of every
/// request's CPU time.
fn setup_for(env: &Env) -> Result<Rc<Setup>, String> {
    let raw = Reflect::get(env, &JsValue::from_str(CONFIG_VAR)).unwrap_or(JsValue::UNDEFINED);
    SETUP.with(|cell| {
        if let Some((cached, setup)) = cell.borrow().as_ref() {
            if *cached == raw {
                return Ok(Rc::clone(setup));
            }
        }
        // Before the first engine of the isolate, which is the first that can encrypt.
        crate::cipher::lend();
        // A variable that is not a string (unset, or a JSON object) is no configuration.
        let text = raw.as_string().unwrap_or_default();
        // Secrets the configuration names come from the Worker's secrets (`wrangler secret
        // put`), never from KV or the bundle.
        let (config, secrets) = if text.trim().is_empty() {
            (Config::default(), provedge::secrets::Secrets::default())
        } else {
            Config::from_document_with(&text, |name| env.secret(name).ok().map(|s| s.to_string()))?
        };
        let settings = WorkerSettings::from_document(&text)?;
        // A Worker answers the whole Internet: said once per isolate and configuration.
        for key in config.admitting_anyone() {
            let warning = provedge::policy::admitting_anyone_warning(&format!("engine.{key}"));
            worker::console_warn!("provedge: {warning}");
        }
        let setup = Rc::new(Setup {
            engine: Engine::new(config)?.with_secrets(secrets),
            cache: RefCell::new(StoreCache::new(&settings)),
            last_seen: LastSeenMarks::new(
                settings.last_seen_interval_secs,
                settings.last_seen_devices,
            ),
            settings,
        });
        *cell.borrow_mut() = Some((raw, Rc::clone(&setup)));
        Ok(setup)
    })
}

#[event(fetch)]
async fn fetch(req: worker::Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let setup = match setup_for(&env) {
        Ok(setup) => setup,
        Err(e) => {
            worker::console_error!("provedge: {e}");
            return Response::error("misconfigured", 500);
        }
    };
    let engine = &setup.engine;
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
    let reader = Reader::new(
        &setup.cache,
        &setup.settings,
        Stores::of(&env, &setup.settings),
        url.origin().ascii_serialization(),
        arrived_ms,
    );
    let mut trail = Trail::default();
    let answer = serve(
        &setup,
        &reader,
        &req,
        &request,
        &env,
        arrived_ms / 1000,
        &mut trail,
    )
    .await;
    let mut response = match answer {
        Ok(response) => response,
        Err(e) => {
            trail.note(format!("worker: {e}"));
            Response::error("internal error", 500)?
        }
    };
    let (keys, cached) = reader.keys();
    trail.read(keys, cached);
    if setup.settings.debug_reads {
        // An upstream's answer has immutable headers: then it goes without.
        let _ = response
            .headers_mut()
            .set("x-provedge-reads", &reader.reads().header())
            .and_then(|()| {
                let aes = if provedge::crypto::lent::is_lent() {
                    "workerd"
                } else {
                    "software"
                };
                response.headers_mut().set("x-provedge-aes", aes)
            });
    }
    // The colo's copies are written after the answer, never before it.
    let pending: Vec<Promise> = reader.take_pending();
    if !pending.is_empty() {
        ctx.wait_until(async move {
            for put in pending {
                if let Err(e) = JsFuture::from(put).await {
                    worker::console_warn!("provedge: colo cache: {e:?}");
                }
            }
        });
    }
    // One access record per request, as every host emits it; and the device's last-seen
    // record in the store when it is due (after the answer, not before it).
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
    let record = trail.record(engine, &request, done);
    // The line as it is (the macro would format it into a second string first).
    worker::web_sys::console::log_1(&JsValue::from_str(&record.to_json()));
    // The update is built only when due: most requests of a known device are not.
    let due = record
        .last_seen_key()
        .filter(|key| setup.last_seen.due(key, arrived_ms / 1000));
    if let Some(seen) = due.and_then(|_| record.last_seen()) {
        let stores = reader.stores.clone();
        let (key, json) = (seen.key().as_str().to_owned(), seen.to_json());
        ctx.wait_until(async move {
            if let Err(e) = stores.put(&key, &json).await {
                worker::console_error!("provedge: last-seen: {e}");
            }
        });
    }
    Ok(response)
}

/// Drives the engine's decisions for one request to the runtime's response.
async fn serve(
    setup: &Setup,
    reader: &Reader<'_>,
    req: &worker::Request,
    request: &provedge::Request,
    env: &Env,
    now: u64,
    trail: &mut Trail,
) -> worker::Result<Response> {
    let declared = declared_length(req.headers().get("content-length")?.as_deref());
    let engine = &setup.engine;
    // The count every isolate shares first (when `RATE_LIMIT` is bound), then the engine's.
    let mut decision = match crate::shared_limit::refusal(env, engine, request).await {
        Some(refused) => Decision::Respond(refused),
        None => engine.handle(request, now),
    };
    loop {
        trail.saw(&decision);
        match decision {
            Decision::Respond(resp) => return respond(resp),
            Decision::Rewrite(rewrite) => {
                let upstream = env.var("PROVEDGE_UPSTREAM").ok().map(|v| v.to_string());
                let target =
                    crate::upstream_url(upstream.as_deref(), reader.origin(), &rewrite.target);
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
                let key = stream.key().as_str();
                if reader.stores.backend(key) == Backend::Objects {
                    match stream_from_r2(reader, &stream, trail).await {
                        Streamed::Sent(response) => return response,
                        Streamed::Answer(resp) => decision = Decision::Respond(resp),
                    }
                } else {
                    // KV holds its values whole: served through the caches like any value.
                    let under = reader.under().await;
                    let lookup = reader
                        .cached(Kind::Value, key, &under, reader.stores.read(key))
                        .await;
                    decision = Decision::Respond(stream.respond(lookup));
                }
            }
            Decision::Checksum(sum) => {
                let under = reader.under().await;
                let key = sum.key().as_str();
                let digest = reader
                    .cached(Kind::Md5, key, &under, reader.stores.md5(key, sum.hasher()))
                    .await;
                let summed = match digest {
                    Lookup::Found(bytes) => match <[u8; 16]>::try_from(bytes.as_slice()) {
                        Ok(digest) => Summed::Found(digest),
                        Err(_) => Summed::Failed(format!("a cached digest of {key} is not one")),
                    },
                    Lookup::Missing => Summed::Missing,
                    Lookup::Failed(reason) => Summed::Failed(reason),
                };
                decision = Decision::Respond(sum.respond(summed));
            }
            Decision::Upload(upload) => {
                let body = match BodyCap::new(upload.max_bytes(), declared) {
                    Ok(cap) => read_capped(req.inner(), cap).await,
                    Err(TooLarge) => Ok(Err(TooLarge)),
                };
                let outcome = match body {
                    Ok(Ok(bytes)) => put(reader, upload.key().as_str(), &bytes).await,
                    Ok(Err(TooLarge)) => Stored::TooLarge,
                    Err(e) => return respond(broken_body(&e)),
                };
                decision = Decision::Respond(upload.finish(outcome));
            }
            Decision::Fetch(pending) => {
                let found = reader.round(pending.keys()).await;
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

/// Stores an upload under `key`, where the placement says (KV by default).
async fn put(reader: &Reader<'_>, key: &str, bytes: &[u8]) -> Stored {
    let (source, replaced) = reader.stores.exists(key).await;
    reader.count(source);
    match reader.stores.put(key, bytes).await {
        Ok(()) => Stored::Done { replaced },
        Err(e) => Stored::Failed(e),
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
