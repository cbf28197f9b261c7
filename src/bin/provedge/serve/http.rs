//! hyper glue: one HTTP request in, the engine driven to its decision, one response out, one
//! log line written.
//!
//! The engine decides everything about provisioning; this module only performs what a
//! [`Decision`] asks for: store reads ([`Decision::Fetch`]), a streamed file
//! ([`Decision::Stream`]), an upload ([`Decision::Upload`]) or a forward
//! ([`Decision::Rewrite`]).
//!
//! What it records follows the engine too: a last-seen record only for the device the engine
//! names as known ([`provedge::Response::device`], [`Stream::device`],
//! [`provedge::Upload::device`]: its record was read, or a certificate proved it), never for a
//! MAC a request merely claims in its User-Agent, so nobody can fill the store with records of
//! made-up devices; and a path only as [`Engine::loggable_path`] shows it, so a URL token never
//! reaches the log.

use std::convert::Infallible;
use std::error::Error as StdError;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use provedge::access::{AccessRecord, Done, Trail};
use provedge::object::StreamAnswer;
use provedge::{ClientIdentity, Decision, Engine, Lookup, Mac, Response, StoreKey, Stored, Stream};

use super::admin::{self, Listener};
use super::client_connections::ClientConnections;
use super::config::{ServerConfig, Upstream};
use super::last_seen::LastSeen;
use super::logging::AccessLog;
use super::metrics::Metrics;
use super::origin_store::{OriginBody, Streamed};
use super::store::CachedStore;
use super::stores::Store;
use super::stream::{self, FileBody};
use super::{proxy, upload};

/// Everything a request needs, shared by all connections.
pub struct State {
    /// The engine of the configuration in force. A reload (SIGHUP, [`super::reload`]) swaps in
    /// another; a request keeps the one it began with to its end.
    pub engine: ArcSwap<Engine>,
    pub store: Store,
    pub log: AccessLog,
    pub metrics: Metrics,
    pub last_seen: LastSeen,
    pub upstream: Option<Upstream>,
    pub config: ServerConfig,
    /// The HTTPS listener's handshakes (`server.tls`); a reload swaps in new certificates.
    pub tls: Option<ArcSwap<tokio_rustls::TlsAcceptor>>,
    /// Digests of stored files, by version.
    pub checksums: Arc<super::checksum::Checksums>,
    /// Open connections per client (`server.max_connections_per_ip`).
    pub clients: Arc<ClientConnections>,
}

/// A response body: whole bytes, a file read as it is sent, an upstream's body, or an origin
/// store's object passed through.
pub enum Body {
    Full(Option<Bytes>),
    File(FileBody),
    Upstream(Incoming),
    Origin(OriginBody),
}

impl Body {
    pub fn empty() -> Body {
        Body::Full(None)
    }

    fn bytes(bytes: Vec<u8>) -> Body {
        if bytes.is_empty() {
            Body::empty()
        } else {
            Body::Full(Some(Bytes::from(bytes)))
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Box<dyn StdError + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::File(file) => Pin::new(file).poll_frame(cx).map_err(Into::into),
            Body::Upstream(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Body::Origin(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(bytes) => bytes.is_none(),
            Body::File(file) => file.is_end_stream(),
            Body::Upstream(body) => body.is_end_stream(),
            Body::Origin(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Body::File(file) => file.size_hint(),
            Body::Upstream(body) => body.size_hint(),
            Body::Origin(body) => body.size_hint(),
        }
    }
}

/// A response ready to send, with what the log needs to know about it.
struct Reply {
    resp: hyper::Response<Body>,
    /// Body bytes to be sent (0 for HEAD).
    bytes: u64,
    note: Option<String>,
    /// The device the engine knows this answer is for: the only MAC recorded as seen.
    device: Option<Mac>,
}

impl Reply {
    /// Asks hyper to close the connection after this response (an unread or refused body).
    fn closing(mut self) -> Reply {
        self.resp
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        self
    }
}

/// What the engine's decisions revealed (the core's [`Trail`]), and where the time went, for
/// the access record and metrics.
#[derive(Default)]
struct Seen {
    trail: Trail,
    render: Duration,
    store: Duration,
}

/// The service: never fails; every outcome is a response. `identity` is the client certificate
/// the connection's TLS handshake verified, if any.
pub async fn handle(
    state: Arc<State>,
    peer: IpAddr,
    identity: Option<Arc<ClientIdentity>>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Body>, Infallible> {
    let start = Instant::now();
    let arrived = SystemTime::now();
    let (parts, body) = req.into_parts();
    if let Some(resp) = admin::answer(&state, &parts, Listener::Phones) {
        return Ok(resp);
    }
    let exchange = Exchange {
        engine: state.engine.load_full(),
        request: core_request(&parts, peer, identity.as_deref()),
        peer,
        arrived,
        start,
    };
    let mut seen = Seen::default();
    let reply = drive(&state, &exchange, &parts, body, &mut seen).await;
    record(&state, &exchange, &mut seen, &reply);
    Ok(reply.resp)
}

/// One request in the service: the engine it began with (a reload swaps the engine for the
/// requests that come after, never midway through one), the core's view of it, and when it
/// came.
struct Exchange {
    engine: Arc<Engine>,
    request: provedge::Request,
    peer: IpAddr,
    arrived: SystemTime,
    start: Instant,
}

/// The engine's view of the request: every header, the socket peer, the verified client
/// certificate, the clock. (Identity headers are the core's to believe or not, by
/// `trusted_proxies`.)
fn core_request(
    parts: &Parts,
    peer: IpAddr,
    identity: Option<&ClientIdentity>,
) -> provedge::Request {
    let target = match (parts.uri.scheme(), parts.uri.path_and_query()) {
        (None, Some(pq)) => pq.as_str().to_owned(),
        _ => parts.uri.to_string(),
    };
    let mut req = provedge::Request::new(provedge::Method::parse(parts.method.as_str()), target)
        .with_peer(peer);
    req.client_identity = identity.cloned();
    req.headers = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    req
}

/// Runs the engine's decisions to a response.
async fn drive(
    state: &Arc<State>,
    exchange: &Exchange,
    parts: &Parts,
    body: Incoming,
    seen: &mut Seen,
) -> Reply {
    let Exchange {
        engine,
        request,
        peer,
        ..
    } = exchange;
    let now = exchange
        .arrived
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let head = parts.method == Method::HEAD;
    let mut body = Some(body);
    let began = Instant::now();
    let mut decision = engine.handle(request, now);
    seen.render += began.elapsed();
    loop {
        seen.trail.saw(&decision);
        match decision {
            Decision::Fetch(fetch) => {
                let found = read(state, fetch.keys(), seen).await;
                let began = Instant::now();
                decision = fetch.resume(engine, found);
                seen.render += began.elapsed();
            }
            Decision::Respond(resp) => return reply(resp, head),
            Decision::Stream(stream) => {
                return match &state.store {
                    Store::Folder { files, .. } => serve_file(files, &stream, head),
                    Store::Origin(origin) => from_origin(origin.stream(&stream).await, head),
                };
            }
            Decision::Checksum(sum) => {
                let summed = match &state.store {
                    Store::Folder { files, .. } => {
                        let path = files.path(sum.key());
                        state.checksums.sum(&path, sum.hasher()).await
                    }
                    Store::Origin(origin) => origin.checksum(&sum).await,
                };
                return reply(sum.respond(summed), head);
            }
            Decision::Upload(upload) => {
                return match body.take() {
                    Some(body) => store_upload(state, upload, parts, body, head).await,
                    None => reply(
                        provedge::Response::fault(500, "body read twice".into()),
                        head,
                    ),
                };
            }
            Decision::Rewrite(rewrite) => {
                return forward(state, &rewrite.target, parts, *peer, head).await;
            }
        }
    }
}

/// Receives a phone's upload within the cap and the body timeout, and stores it.
async fn store_upload(
    state: &State,
    upload: provedge::Upload,
    parts: &Parts,
    body: Incoming,
    head: bool,
) -> Reply {
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let timeout = state.config.body_read_timeout();
    match upload::receive(body, declared, upload.max_bytes(), timeout).await {
        Ok(bytes) => {
            let outcome = match &state.store {
                Store::Folder { files, uploads } => {
                    let path = files.path(upload.key());
                    let quota = Arc::clone(uploads);
                    tokio::task::spawn_blocking(move || upload::store(&path, &bytes, &quota))
                        .await
                        .unwrap_or_else(|_| Stored::Failed("store task failed".into()))
                }
                Store::Origin(origin) => origin.upload(upload.key(), bytes).await,
            };
            reply(upload.finish(outcome), head)
        }
        // The rest of the body is not read: the connection cannot be reused.
        Err(upload::Refused::TooLarge) => reply(upload.finish(Stored::TooLarge), head).closing(),
        Err(upload::Refused::TimedOut) => {
            reply(provedge::Response::text(408, "upload body timed out"), head).closing()
        }
        Err(upload::Refused::Broken) => {
            reply(provedge::Response::text(400, "upload body broken"), head).closing()
        }
    }
}

/// Rewrite and nginx modes: the request goes on to `server.upstream` at `target`.
async fn forward(state: &State, target: &str, parts: &Parts, peer: IpAddr, head: bool) -> Reply {
    let Some(upstream) = &state.upstream else {
        let note = "rewrite mode without server.upstream".into();
        return reply(provedge::Response::fault(502, note), head);
    };
    let forward = proxy::forward(upstream, parts.method.clone(), target, &parts.headers, peer);
    match tokio::time::timeout(state.config.upstream_timeout(), forward).await {
        Ok(Ok(resp)) => {
            let bytes = if head {
                0
            } else {
                hyper::body::Body::size_hint(resp.body())
                    .exact()
                    .unwrap_or(0)
            };
            Reply {
                resp: resp.map(Body::Upstream),
                bytes,
                note: None,
                // The upstream answered: nothing says which device it knew.
                device: None,
            }
        }
        Ok(Err(note)) => reply(provedge::Response::fault(502, note), head),
        Err(_) => {
            let note = format!("upstream {} timed out", upstream.authority);
            reply(provedge::Response::fault(504, note), head)
        }
    }
}

/// Reads the keys of one fetch round from the store (a folder or an origin).
async fn read(state: &Arc<State>, keys: &[StoreKey], seen: &mut Seen) -> Vec<(StoreKey, Lookup)> {
    let began = Instant::now();
    let (found, cached) = state.store.read(keys).await;
    seen.trail.read(keys.len(), cached);
    seen.store += began.elapsed();
    found
}

/// The engine's response as an HTTP response; a HEAD keeps the length and drops the body.
fn reply(resp: provedge::Response, head: bool) -> Reply {
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let len = resp.body.len() as u64;
    let mut out = hyper::Response::new(if head {
        Body::empty()
    } else {
        Body::bytes(resp.body)
    });
    *out.status_mut() = status;
    let headers = out.headers_mut();
    append_headers(headers, &resp.headers);
    if head && status != StatusCode::NOT_MODIFIED && status != StatusCode::NO_CONTENT {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    Reply {
        resp: out,
        bytes: if head { 0 } else { len },
        note: resp.note,
        device: resp.device,
    }
}

/// A response of the server's own (the operator endpoints), as an HTTP response.
pub fn respond(resp: provedge::Response, head: bool) -> hyper::Response<Body> {
    reply(resp, head).resp
}

/// Adds the core's headers to a response's (a header the core built is always valid; one that
/// somehow is not is left out rather than failing the answer).
pub fn append_headers(map: &mut HeaderMap, headers: &[(String, String)]) {
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
}

/// A stored file, streamed: the core decides status and headers from the file's metadata
/// (200, 206, 304, 416); the file is read as it is sent.
fn serve_file(files: &CachedStore, stream: &Stream, head: bool) -> Reply {
    let opened = stream::open(&files.path(stream.key()));
    let meta = match &opened {
        Ok(Some(opened)) => Ok(Some(opened.meta())),
        Ok(None) => Ok(None),
        Err(e) => Err(e.kind().to_string()),
    };
    let (status, headers, start, len, send_body, device) = match stream.answer(meta) {
        StreamAnswer::Respond(resp) => return reply(resp, head),
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
    append_headers(&mut map, &headers);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let body = match (opened, send_body) {
        (Ok(Some(opened)), true) => match opened.body(start, len) {
            Ok(body) => Body::File(body),
            Err(e) => {
                let failed =
                    Response::fault(503, format!("reading {}: {}", stream.key(), e.kind()));
                return reply(failed, head);
            }
        },
        _ => Body::empty(),
    };
    Reply {
        device,
        ..finish(status, map, body, if send_body { len } else { 0 })
    }
}

/// A streamed file from an origin store: the core's answer, with the origin's bytes.
fn from_origin(streamed: Streamed, head: bool) -> Reply {
    match streamed {
        Streamed::Respond(resp) => reply(resp, head),
        Streamed::Send {
            status,
            headers,
            len,
            body,
            device,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let body = body.map_or_else(Body::empty, Body::Origin);
            Reply {
                device,
                ..finish(status, headers, body, len)
            }
        }
    }
}

fn finish(status: StatusCode, headers: HeaderMap, body: Body, bytes: u64) -> Reply {
    let mut resp = hyper::Response::new(body);
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    Reply {
        resp,
        bytes,
        note: None,
        device: None,
    }
}

/// [`finish`] for an answer from the file itself: for the device the engine knows it is for.
/// The access record (the core's, logged as a JSON line), the metrics and the device's
/// last-seen record for one answered request.
fn record(state: &State, exchange: &Exchange, seen: &mut Seen, reply: &Reply) {
    let Exchange {
        engine,
        request,
        peer,
        arrived,
        start,
    } = exchange;
    let took = start.elapsed();
    let status = reply.resp.status().as_u16();
    seen.trail.device(reply.device);
    if let Some(note) = &reply.note {
        seen.trail.note(note.clone());
    }
    let arrived_ms = arrived
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let done = Done {
        arrived_ms,
        client: Some(*peer),
        status,
        bytes: reply.bytes,
        duration_us: u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
    };
    let record = seen.trail.record(engine, request, done);
    state.metrics.request(
        record.vendor.unwrap_or("none"),
        record.kind.unwrap_or("none"),
        status,
        took,
    );
    state.metrics.render(seen.render);
    if record.cache.is_some() {
        state.metrics.store(seen.store);
    }
    state.log.log_request(&record);
    if let Some(last_seen) = record.last_seen() {
        state.last_seen.saw(&last_seen, arrived_ms / 1000);
    }
}

/// A request hyper refused before it reached the service (a late or malformed head): logged
/// and counted like any other, with what little is known of it.
pub fn record_refused(state: &State, peer: IpAddr, status: u16, note: &str, took: Duration) {
    state.metrics.request("none", "none", status, took);
    let arrived_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let done = Done {
        arrived_ms,
        client: Some(peer),
        status,
        bytes: 0,
        duration_us: u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
    };
    state
        .log
        .log_request(&AccessRecord::before_engine(done, note));
}
