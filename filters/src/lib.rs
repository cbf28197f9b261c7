//! provedge as a proxy-wasm HTTP filter (Envoy `envoy.filters.http.wasm`, nginx with Kong's
//! ngx_wasm_module).
//!
//! A thin host over the sans-IO core. The root context parses the JSON plugin configuration
//! once in `on_configure` ([`config`]; a bad one stops the filter from starting, the reason
//! logged). Each HTTP context turns the request headers, the client address (`source.address`)
//! and, over mutual TLS, the client certificate (`connection.*`) into a [`provedge::Request`],
//! asks the engine chosen for the Envoy route, and carries out its [`provedge::Decision`]:
//!
//! * `Respond`: answer locally (render mode's device files, refusals, 304s);
//! * `Rewrite`: set `:path` (and `:authority` for an absolute URL) and let the request go on;
//! * `Stream`: large stored files (firmware, tones, images) are never buffered in the VM. The
//!   core answers them from the object's metadata (a `HEAD`, cached): 304, 404, 416 and `HEAD`
//!   here; for a 200 or 206 the request goes on to the origin for exactly the bytes the core
//!   named, signed like the filter's own reads, and the proxy streams them under the core's
//!   status and headers once the origin's answer proved to be those bytes ([`stream`]);
//! * `Fetch`: read store keys from the [`cache`](provedge::origin::cache), and the rest from
//!   the origin with `dispatch_http_call`, all keys of one round in parallel
//!   ([`origin`](provedge::origin)), then resume;
//! * `Checksum`: the MD5 of a stored file (an Algo `.md5` of firmware), summed from `Range`
//!   pieces of the origin's object and remembered per object version ([`checksum`]);
//! * `Upload`: buffer the phone's body (refused past the engine's limit before it is read) and
//!   `PUT` it to the origin under the upload key. The engine may ask for it only after a store
//!   round (the device's record), when the body may already be whole in Envoy's buffer.
//!
//! Every request leaves one access record, the core's ([`record`]): a `provedge access {…}`
//! line in the proxy's log at info level, and the same JSON as filter state for Envoy's own
//! access log, e.g. `log_format: {text_format_source: {inline_string:
//! "%FILTER_STATE(wasm.provedge.access:PLAIN)%\n"}}` (`PLAIN`: the JSON as it is, not
//! base64). A device the engine knows gets its last-seen record `PUT` to the origin
//! (`last-seen/<mac>.json`), at most once per `last_seen.interval_secs`.
//!
//! Nothing here may panic: a panic kills the VM and every request on it. Request and origin
//! headers are read as bytes (the SDK's `String` getters unwrap UTF-8), sizes are checked before
//! bodies are copied in, and every host call's error is a value. The answers to the filter's
//! own origin calls are read through [`call_response`], since Envoy answers reads of a call cut
//! short with a status the SDK's getters panic on. What remains is the SDK's own trust in its
//! host for the phone's request: it unwraps statuses Envoy and ngx_wasm_module do not return
//! there, and header *names* as UTF-8, which both proxies enforce (HTTP tokens).

mod call_response;
mod config;
mod proxy;
mod record;
mod stream;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use provedge::access::{AccessRecord, Done, Trail};
use provedge::{
    Checksum, ClientIdentity, Decision, Fetch, Lookup, Md5Hasher, Method, Request, Response,
    StoreKey, Stored, Summed, Upload,
};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};

use config::Settings;
use provedge::origin::answer::{self, Reply};
use provedge::origin::cache::{Cache, Entry, Hit, Outcome, Settled, SharedTier};
use provedge::origin::checksum::{self, Asked, Piece, Version};
use provedge::origin::{Origin, OriginRequest};
use proxy::{IdentitySource, Proxy};
use record::{LastSeenWrites, Offered};
use stream::{Phase, Streaming};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

/// Stored files summed at once in one VM. Each sum reads its whole object from the origin, and
/// Envoy holds each piece in flight outside the VM, so a burst of `.md5` requests for files not
/// yet remembered must not multiply either without bound; past it the answer is a 503 with
/// `Retry-After` (the phone asks again, and by then the digest is usually remembered).
const MAX_SUMMING: usize = 4;

fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

/// The proxy's shared data (one store per VM id, read by every worker).
struct HostShared;

impl SharedTier for HostShared {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        hostcalls::get_shared_data(key).ok().and_then(|(v, _)| v)
    }

    fn set(&self, key: &str, value: &[u8]) {
        let _ = hostcalls::set_shared_data(key, Some(value), None);
    }
}

/// Counters, defined on first use (`define_metric`); names are built from bounded sets
/// (vendors, a fixed list of statuses, fixed reasons), so their number is bounded too.
#[derive(Default)]
struct Metrics {
    by_name: RefCell<HashMap<String, u32>>,
    /// The per-answer counters by vendor and [`status_slot`], so counting an answer builds no
    /// name once its counter is defined.
    by_status: RefCell<HashMap<(&'static str, u16), u32>>,
}

impl Metrics {
    fn inc(&self, name: &str) {
        self.add(name, 1);
    }

    /// Counts an answer as `provedge.requests.<vendor>.<status label>`.
    fn count_status(&self, vendor: &'static str, status: u16) {
        let slot = (vendor, status_slot(status));
        let known = self.by_status.borrow().get(&slot).copied();
        let id = match known {
            Some(id) => id,
            None => {
                let name = format!("provedge.requests.{vendor}.{}", status_label(status));
                let Ok(id) = hostcalls::define_metric(MetricType::Counter, &name) else {
                    return;
                };
                self.by_status.borrow_mut().insert(slot, id);
                id
            }
        };
        let _ = hostcalls::increment_metric(id, 1);
    }

    /// Adds `n` at once: one hostcall for what a request counts several times (a hit per key
    /// read).
    fn add(&self, name: &str, n: i64) {
        if n == 0 {
            return;
        }
        let known = self.by_name.borrow().get(name).copied();
        let id = match known {
            Some(id) => id,
            None => match hostcalls::define_metric(MetricType::Counter, name) {
                Ok(id) => {
                    self.by_name.borrow_mut().insert(name.to_owned(), id);
                    id
                }
                Err(_) => return,
            },
        };
        let _ = hostcalls::increment_metric(id, n);
    }
}

/// The codes provedge answers with, each its own metric label; any other status is counted by
/// its class.
const KNOWN_STATUSES: &[u16] = &[
    200, 201, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 413, 414, 416, 429, 431, 500, 501,
    502, 503, 504,
];

/// Which label a status is counted under, as a number: the status itself when it is known,
/// else its class (0 to 9), which no known status collides with.
fn status_slot(status: u16) -> u16 {
    if KNOWN_STATUSES.contains(&status) {
        status
    } else {
        (status / 100).min(9)
    }
}

/// A status as a metric label: the codes provedge answers with, else the class.
fn status_label(status: u16) -> String {
    match status_slot(status) {
        class @ 0..=9 => format!("{class}xx"),
        known => known.to_string(),
    }
}

/// The core's request from what the proxy gives: the request's headers as bytes (pseudo-headers
/// included) and `source.address` (`ip:port` or a bare address). Values that are not UTF-8 are
/// read lossily: the core then refuses or ignores them, never the VM. Fuzzed by
/// `fuzz/fuzz_targets/filter_request.rs`.
pub fn core_request(headers: Vec<(String, Vec<u8>)>, source_address: Option<&str>) -> Request {
    let mut req = Request::get("/");
    for (name, value) in headers {
        let value = String::from_utf8_lossy(&value).into_owned();
        match name.as_str() {
            ":method" => req.method = Method::parse(&value),
            ":path" => req.target = value,
            // HTTP/1's Host arrives as :authority; tenants are chosen by Host.
            ":authority" => req.headers.push(("host".into(), value)),
            n if n.starts_with(':') => {}
            _ => req.headers.push((name, value)),
        }
    }
    req.peer = source_address.and_then(|a| {
        a.parse::<SocketAddr>()
            .map(|s| s.ip())
            .or_else(|_| a.parse::<IpAddr>())
            .ok()
    });
    req
}

/// What every context of one plugin instance shares.
struct Shared {
    settings: Settings,
    cache: RefCell<Cache>,
    metrics: Metrics,
    /// Sums under way ([`SumSlot`]).
    summing: Cell<usize>,
    /// Devices' last-seen records, sent by the root context.
    last_seen: LastSeenWrites,
    /// The proxy, once the first request told it (or the configuration did).
    proxy: Cell<Option<Proxy>>,
}

/// One of the [`MAX_SUMMING`] places, given back when dropped: when the sum ends, and also when
/// the client goes away mid-sum and its context is dropped with the sum.
struct SumSlot(Rc<Shared>);

impl SumSlot {
    fn take(shared: &Rc<Shared>) -> Option<SumSlot> {
        let n = shared.summing.get();
        (n < MAX_SUMMING).then(|| {
            shared.summing.set(n + 1);
            SumSlot(Rc::clone(shared))
        })
    }
}

impl Drop for SumSlot {
    fn drop(&mut self) {
        let n = self.0.summing.get();
        self.0.summing.set(n.saturating_sub(1));
    }
}

#[derive(Default)]
struct Root {
    shared: Option<Rc<Shared>>,
}

/// How often the root context sends the last-seen records requests queued.
const LAST_SEEN_TICK: Duration = Duration::from_secs(1);

impl Context for Root {
    /// A last-seen `PUT` came back: counted, nothing else depends on it.
    fn on_http_call_response(
        &mut self,
        _token: u32,
        _headers: usize,
        _body: usize,
        _trailers: usize,
    ) {
        let Some(shared) = &self.shared else {
            return;
        };
        shared.last_seen.settled();
        let status = crate::call_response::header(":status");
        match answer::stored(status.as_deref()) {
            Stored::Done { .. } => shared.metrics.inc("provedge.last_seen.written"),
            _ => shared.metrics.inc("provedge.origin.error.last_seen"),
        }
    }
}

impl RootContext for Root {
    /// Sends the last-seen records requests queued, signed like uploads, without waiting.
    fn on_tick(&mut self) {
        let Some(shared) = &self.shared else {
            return;
        };
        let origin = &shared.settings.origin;
        let now = unix_secs(self.get_current_time());
        while let Some((key, body)) = shared.last_seen.next() {
            let put = origin.put(&key, &body, now);
            match dispatch(self, origin, &put, Some(&body)) {
                Ok(_) => shared.last_seen.sent(),
                Err(_) => shared.metrics.inc("provedge.origin.error.last_seen"),
            }
        }
    }

    fn on_configure(&mut self, _size: usize) -> bool {
        let raw = self.get_plugin_configuration().unwrap_or_default();
        match Settings::parse(&raw) {
            Ok(settings) => {
                let origin = &settings.origin;
                let namespace = format!(
                    "provedge/{}/{}{}/",
                    origin.upstream(),
                    origin.authority(),
                    origin.prefix()
                );
                let cache = Cache::new(settings.cache.clone(), namespace);
                for key in settings.admitting_anyone() {
                    let warning = provedge::policy::admitting_anyone_warning(&key);
                    log(LogLevel::Warn, &format!("provedge: {warning}"));
                }
                log(
                    LogLevel::Info,
                    &format!(
                        "provedge: configured; origin {}, {} route engine(s)",
                        settings.origin.upstream(),
                        settings.routes.len()
                    ),
                );
                let last_seen = LastSeenWrites::new(&settings.last_seen);
                if last_seen.enabled() {
                    self.set_tick_period(LAST_SEEN_TICK);
                }
                self.shared = Some(Rc::new(Shared {
                    settings,
                    cache: RefCell::new(cache),
                    metrics: Metrics::default(),
                    summing: Cell::new(0),
                    last_seen,
                    proxy: Cell::new(None),
                }));
                true
            }
            Err(e) => {
                log(
                    LogLevel::Critical,
                    &format!("provedge: bad plugin configuration: {e}"),
                );
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        // The SDK panics on `None`, so an unconfigured root still answers (500).
        Some(match &self.shared {
            Some(shared) => Box::new(Filter::new(Rc::clone(shared))),
            None => Box::new(Unconfigured),
        })
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// The HTTP context of a root whose configuration did not load.
struct Unconfigured;

impl Context for Unconfigured {}

impl HttpContext for Unconfigured {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        self.send_http_response(500, vec![], None);
        Action::Pause
    }
}

/// One origin request in flight.
struct Call {
    key: StoreKey,
    /// The expired entry whose validators were sent, kept for a 304 or a failure.
    stale: Option<Arc<Entry>>,
}

/// An Algo `.md5` being answered: the origin's `Range` request in flight and the sum so far.
struct Summing {
    sum: Checksum,
    call: u32,
    asked: Asked,
    /// The expired cache entry of the digest (or of the file's absence), if there is one: what
    /// the first answer is compared with, and what stands in when the origin fails.
    stale: Option<Arc<Entry>>,
    /// Held while the file is read whole (not while a remembered digest is revalidated).
    slot: Option<SumSlot>,
    /// Once the first piece arrived: the hasher fed so far and the version being summed.
    progress: Option<(Md5Hasher, Version)>,
}

/// What arrived of the request body while no upload waited for it. The engine may decide on an
/// upload only after a store round (the device's record); by then Envoy may hold the whole body
/// and will not call `on_http_request_body` again, so its size and completeness are kept.
#[derive(Default)]
struct BodySeen {
    bytes: usize,
    complete: bool,
}

/// The request as the core saw it and when it arrived, for its access record.
struct Arrival {
    request: Request,
    at: SystemTime,
}

/// A request's access record, made when the response head went out, and as JSON.
struct Recorded {
    json: String,
    /// Kept for the last-seen update it may imply, built only if due.
    record: AccessRecord,
}

/// A request paused on origin reads: the engine's continuation and the answers so far.
struct Pending {
    fetch: Fetch,
    calls: HashMap<u32, Call>,
    /// The engine takes its answers as pairs, in any order.
    answers: Vec<(StoreKey, Lookup)>,
}

struct Filter {
    shared: Rc<Shared>,
    /// The Envoy route the request is on (`xds.route_name`), when routes have engines.
    route: Option<String>,
    /// The vendor recognised, for metrics ("none" before or without recognition).
    vendor: &'static str,
    pending: Option<Pending>,
    /// The request went on upstream (rewrite or stream): count the upstream's status.
    continued: bool,
    /// A streamed file: waiting for its metadata, or gone on to the origin for its bytes.
    streaming: Option<Streaming>,
    /// The core's trail of the request's decisions, for its access record.
    trail: Trail,
    /// The request, once its head arrived.
    arrival: Option<Arrival>,
    /// Its access record, once the response head went out.
    recorded: Option<Recorded>,
    /// Headers of a local answer without a body that Envoy drops from it (`content-type`,
    /// `content-length`: a 416, a `HEAD` of a streamed file), set again as the answer passes
    /// through the filter.
    restore: Vec<(String, String)>,
    /// A local answer's body that goes out in the response-body phase ([`proxy::local_reply`]:
    /// nginx, a body not ending in `\n`).
    later: Option<Vec<u8>>,
    /// A phone's upload waiting for its body, then for the origin's answer (`upload_call`).
    upload: Option<Upload>,
    upload_call: Option<u32>,
    /// The request body so far.
    body: BodySeen,
    /// A checksum being summed.
    summing: Option<Summing>,
}

impl Filter {
    fn new(shared: Rc<Shared>) -> Filter {
        Filter {
            shared,
            route: None,
            vendor: "none",
            pending: None,
            continued: false,
            streaming: None,
            trail: Trail::default(),
            arrival: None,
            recorded: None,
            restore: Vec::new(),
            later: None,
            upload: None,
            upload_call: None,
            body: BodySeen::default(),
            summing: None,
        }
    }

    fn now_ms(&self) -> u64 {
        self.get_current_time()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// The proxy the filter runs in: configured, or told once by the first request.
    fn proxy(&self) -> Proxy {
        if let Some(proxy) = self.shared.proxy.get() {
            return proxy;
        }
        let proxy = self
            .shared
            .settings
            .proxy
            .resolve(|| self.get_property(vec!["ngx", "nginx_version"]));
        self.shared.proxy.set(Some(proxy));
        proxy
    }

    fn property(&self, path: Vec<&str>) -> Option<String> {
        self.get_property(path)
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|s| !s.is_empty())
    }

    /// The request as the core sees it. Header values that are not UTF-8 are read lossily:
    /// the core then refuses or ignores them, never the VM.
    fn request(&self) -> Request {
        let mut req = core_request(
            self.get_http_request_headers_bytes(),
            self.property(vec!["source", "address"]).as_deref(),
        );
        if self.shared.settings.identity_from_connection {
            let source = self.proxy().identity();
            if let Some(subject) = source.subject(|path| self.property(path.to_vec())) {
                let san = match source {
                    IdentitySource::Connection { sans, .. } => sans
                        .iter()
                        .filter_map(|path| self.property(path.to_vec()))
                        .collect(),
                    IdentitySource::NginxVariables { .. } => Vec::new(),
                };
                req.client_identity = Some(ClientIdentity { subject, san });
            }
        }
        req
    }

    /// Carries out decisions until the request is answered, continues, or waits on the origin.
    fn drive(&mut self, mut decision: Decision) -> Action {
        loop {
            self.trail.saw(&decision);
            match decision {
                Decision::Fetch(fetch) => {
                    self.vendor = fetch.route().vendor().name();
                    match self.fetch(fetch) {
                        Ok(next) => decision = next,
                        Err(()) => return Action::Pause,
                    }
                }
                Decision::Respond(resp) => {
                    self.respond(resp);
                    return Action::Pause;
                }
                Decision::Rewrite(rewrite) => {
                    if let Some(route) = &rewrite.route {
                        self.vendor = route.vendor().name();
                    }
                    let (authority, path) = split_target(&rewrite.target);
                    // Under nginx the upstream is the location's `proxy_pass`.
                    if let Some(authority) = authority.filter(|_| self.proxy().sets_authority()) {
                        self.set_http_request_header(":authority", Some(authority));
                    }
                    self.set_http_request_header(":path", Some(path));
                    self.continued = true;
                    return Action::Continue;
                }
                Decision::Stream(stream) => {
                    self.vendor = stream.route().vendor().name();
                    return self.stream(stream);
                }
                Decision::Checksum(sum) => {
                    self.vendor = sum.route().vendor().name();
                    match self.checksum(sum) {
                        Ok(next) => decision = next,
                        Err(()) => return Action::Pause,
                    }
                }
                Decision::Upload(upload) => {
                    self.vendor = upload.route().vendor().name();
                    let declared = self
                        .get_http_request_header_bytes("content-length")
                        .and_then(|v| String::from_utf8(v).ok())
                        .and_then(|v| v.trim().parse::<usize>().ok());
                    let max = upload.max_bytes();
                    if declared.is_some_and(|n| n > max) || self.body.bytes > max {
                        self.respond(upload.finish(Stored::TooLarge));
                    } else if self.body.complete {
                        // Whole already (or never one): Envoy holds it buffered while paused.
                        match self.buffered_body(self.body.bytes) {
                            Some(body) => self.store_upload(upload, &body),
                            None => self.respond(upload.finish(Stored::Failed(
                                "the buffered request body could not be read".into(),
                            ))),
                        }
                    } else if self.proxy().body_after_headers() {
                        // nginx reads the body once the request goes on from the header phase,
                        // then hands it to `on_http_request_body`.
                        self.upload = Some(upload);
                        return Action::Continue;
                    } else {
                        self.upload = Some(upload);
                    }
                    return Action::Pause;
                }
            }
        }
    }

    /// `PUT`s an upload's body to the origin; the answer arrives in `on_http_call_response`.
    fn store_upload(&mut self, upload: Upload, body: &[u8]) {
        let put = self
            .shared
            .settings
            .origin
            .put(upload.key(), body, self.now_ms() / 1000);
        match self.dispatch(&put, Some(body)) {
            Ok(token) => {
                self.upload_call = Some(token);
                self.upload = Some(upload);
            }
            Err(reason) => {
                self.shared.metrics.inc("provedge.origin.error.dispatch");
                self.respond(upload.finish(Stored::Failed(reason)));
            }
        }
    }

    /// Sends one of the core's origin requests with `dispatch_http_call`.
    fn dispatch(&self, req: &OriginRequest, body: Option<&[u8]>) -> Result<u32, String> {
        dispatch(self, &self.shared.settings.origin, req, body)
    }

    /// The request body Envoy buffered, exactly `len` bytes of it (`None` if it holds other).
    fn buffered_body(&self, len: usize) -> Option<Vec<u8>> {
        if len == 0 {
            return Some(Vec::new());
        }
        self.get_http_request_body(0, len)
            .filter(|body| body.len() == len)
    }

    /// The MD5 of a stored file: from the cache while its entry is fresh, else from the origin
    /// (the core's [`checksum`]): a remembered digest is revalidated with a 1-byte `Range` request, and a
    /// file not remembered is summed from its first piece. `Err` means the request waits for
    /// the origin.
    fn checksum(&mut self, sum: Checksum) -> Result<Decision, ()> {
        let shared = Rc::clone(&self.shared);
        let memo = checksum::memo_key(sum.key().as_str());
        let hit = shared
            .cache
            .borrow_mut()
            .lookup(&memo, self.now_ms(), &HostShared);
        let stale = match hit {
            Hit::Fresh { entry, .. } => match checksum::summed(&entry) {
                Some(summed) => {
                    shared.metrics.inc("provedge.checksum.known");
                    return Ok(Decision::Respond(sum.respond(summed)));
                }
                None => None,
            },
            Hit::Ask { stale } => stale,
        };
        let known = stale.as_deref().and_then(checksum::remembered).is_some();
        let (asked, slot) = if known {
            (Asked::piece(0, 1, None), None)
        } else {
            let Some(slot) = SumSlot::take(&shared) else {
                return Ok(Decision::Respond(self.busy(&sum)));
            };
            let piece = shared.settings.origin.max_object_bytes();
            (Asked::piece(0, piece, None), Some(slot))
        };
        let mut run = Summing {
            sum,
            call: 0,
            asked,
            stale,
            slot,
            progress: None,
        };
        match self.get_piece(&run) {
            Ok(call) => {
                run.call = call;
                self.summing = Some(run);
                Err(())
            }
            Err(reason) => {
                shared.metrics.inc("provedge.origin.error.dispatch");
                Ok(Decision::Respond(self.sum_failed(&run, &reason)))
            }
        }
    }

    /// Takes the origin's answer to a sum's `Range` request: `None` while the next piece is in
    /// flight, else the response. The piece is copied into the VM, hashed and dropped, so a sum
    /// holds one piece at a time.
    fn take_piece(&mut self, run: &mut Summing, body_size: usize) -> Option<Response> {
        let shared = Rc::clone(&self.shared);
        let now = self.now_ms();
        let memo = checksum::memo_key(run.sum.key().as_str());
        let status = crate::call_response::header(":status");
        let etag = crate::call_response::header("etag");
        let last_modified = crate::call_response::header("last-modified");
        let content_range = crate::call_response::header("content-range");
        let reply = Reply {
            status: status.as_deref(),
            etag: etag.as_deref(),
            last_modified: last_modified.as_deref(),
            body_size,
        };
        let origin = &shared.settings.origin;
        let (start, len, total) =
            match checksum::classify_piece(origin, &reply, content_range.as_deref(), run.asked) {
                Piece::Bytes { start, len, total } => (start, len, total),
                Piece::Missing => {
                    let gone = Entry::missing(now);
                    shared.cache.borrow_mut().store(&memo, gone, &HostShared);
                    return Some(run.sum.respond(Summed::Missing));
                }
                Piece::Failed { reason, label } => {
                    shared
                        .metrics
                        .inc(&format!("provedge.origin.error.{label}"));
                    return Some(self.sum_failed(run, &reason));
                }
            };
        let version = Version::of(&reply, total);
        if start == 0 {
            // The object's first bytes: either the remembered version is still current, or
            // the object is summed from here (again, if an origin answered a later piece with
            // the whole object).
            let known = run.stale.as_deref().and_then(checksum::remembered);
            if let Some((_, digest)) = known.filter(|(was, _)| was.nameable() && *was == version) {
                shared.metrics.inc("provedge.checksum.revalidated");
                if let Some(stale) = &run.stale {
                    shared
                        .cache
                        .borrow_mut()
                        .renew(&memo, stale, now, &HostShared);
                }
                return Some(run.sum.respond(Summed::Found(digest)));
            }
            if run.slot.is_none() {
                run.slot = SumSlot::take(&shared);
                if run.slot.is_none() {
                    return Some(self.busy(&run.sum));
                }
            }
            run.progress = Some((run.sum.hasher(), version.clone()));
        }
        if run
            .progress
            .as_ref()
            .is_none_or(|(_, summing)| *summing != version)
        {
            shared.metrics.inc("provedge.origin.error.changed");
            return Some(self.sum_failed(run, "the object changed while it was summed"));
        }
        let body = match len {
            0 => Some(Vec::new()),
            n => crate::call_response::body(0, n).filter(|b| b.len() == n),
        };
        let (Some(body), Some((hasher, _))) = (body, run.progress.as_mut()) else {
            shared.metrics.inc("provedge.origin.error.no_response");
            return Some(self.sum_failed(run, "the piece's body could not be read"));
        };
        hasher.update(&body);
        drop(body);
        let next = start.saturating_add(u64::try_from(len).unwrap_or(u64::MAX));
        if next >= total {
            return Some(self.sum_done(run, now));
        }
        run.asked = Asked::piece(next, origin.max_object_bytes(), Some(total));
        match self.get_piece(run) {
            Ok(call) => {
                run.call = call;
                None
            }
            Err(reason) => {
                shared.metrics.inc("provedge.origin.error.dispatch");
                Some(self.sum_failed(run, &reason))
            }
        }
    }

    /// The last piece was hashed: the digest is answered, and remembered when the origin named
    /// the version (else the next request sums again).
    fn sum_done(&self, run: &mut Summing, now_ms: u64) -> Response {
        let Some((hasher, version)) = run.progress.take() else {
            return self.sum_failed(run, "no piece was summed");
        };
        let digest = hasher.finish();
        self.shared.metrics.inc("provedge.checksum.summed");
        if version.nameable() {
            let memo = checksum::memo_key(run.sum.key().as_str());
            let entry = version.remember(digest, now_ms);
            self.shared
                .cache
                .borrow_mut()
                .store(&memo, entry, &HostShared);
        }
        run.sum.respond(Summed::Found(digest))
    }

    /// The answer when the origin failed a sum: the remembered digest (or absence) while its
    /// entry may stand in, else a 503.
    fn sum_failed(&self, run: &Summing, reason: &str) -> Response {
        let failed = self.shared.cache.borrow().fail(
            run.stale.as_deref(),
            reason.to_owned(),
            "sum",
            self.now_ms(),
        );
        let summed = match self.settled(run.sum.key(), failed) {
            Lookup::Failed(reason) => Summed::Failed(reason),
            _ => run
                .stale
                .as_deref()
                .and_then(checksum::summed)
                .unwrap_or_else(|| Summed::Failed(reason.to_owned())),
        };
        run.sum.respond(summed)
    }

    /// The answer when [`MAX_SUMMING`] sums are under way.
    fn busy(&self, sum: &Checksum) -> Response {
        self.shared.metrics.inc("provedge.checksum.busy");
        let mut resp = sum.respond(Summed::Failed(format!(
            "{MAX_SUMMING} checksums are being summed already"
        )));
        resp.headers.push(("retry-after".into(), "5".into()));
        resp
    }

    /// Answers what the cache can and asks the origin for the rest. `Ok` is the next decision
    /// when nothing had to be asked; `Err` means the request waits for origin answers.
    fn fetch(&mut self, fetch: Fetch) -> Result<Decision, ()> {
        let shared = Rc::clone(&self.shared);
        let now = self.now_ms();
        let mut answers = Vec::with_capacity(fetch.keys().len());
        let mut calls = HashMap::new();
        let mut hits = 0;
        // Counted per round, each counter once (a round reads a handful of keys).
        let (mut local, mut from_other_workers) = (0, 0);
        for key in fetch.keys() {
            let hit = shared
                .cache
                .borrow_mut()
                .lookup(key.as_str(), now, &HostShared);
            match hit {
                Hit::Fresh {
                    entry,
                    shared: from_shared,
                } => {
                    if from_shared {
                        from_other_workers += 1;
                    } else {
                        local += 1;
                    }
                    answers.push((key.clone(), entry.lookup()));
                    hits += 1;
                }
                Hit::Ask { stale } => {
                    shared.metrics.inc(if stale.is_some() {
                        "provedge.cache.revalidate"
                    } else {
                        "provedge.cache.miss"
                    });
                    let get = shared
                        .settings
                        .origin
                        .get(key, stale.as_deref(), now / 1000);
                    match self.dispatch(&get, None) {
                        Ok(token) => {
                            calls.insert(
                                token,
                                Call {
                                    key: key.clone(),
                                    stale,
                                },
                            );
                        }
                        Err(reason) => {
                            shared.metrics.inc("provedge.origin.error.dispatch");
                            let failed = shared.cache.borrow().fail(
                                stale.as_deref(),
                                reason,
                                "dispatch",
                                now,
                            );
                            answers.push((key.clone(), self.settled(key, failed)));
                        }
                    }
                }
            }
        }
        shared.metrics.add("provedge.cache.hit.local", local);
        shared
            .metrics
            .add("provedge.cache.hit.shared", from_other_workers);
        self.trail.read(fetch.keys().len(), hits);
        if calls.is_empty() {
            let engine = shared.settings.engine_for(self.route.as_deref());
            return Ok(fetch.resume(engine, answers));
        }
        self.pending = Some(Pending {
            fetch,
            calls,
            answers,
        });
        Err(())
    }

    /// Asks the origin for the piece of the object a sum is at.
    fn get_piece(&self, run: &Summing) -> Result<u32, String> {
        let origin = &self.shared.settings.origin;
        let get = origin.get_piece(run.sum.key(), run.asked, self.now_ms() / 1000);
        self.dispatch(&get, None)
    }

    /// Logs what became of an origin read when the origin failed (the stale copy served, or
    /// the failure the core answers 503 for, naming the key in its log note), and gives the
    /// engine its lookup.
    fn settled(&self, key: &StoreKey, settled: Settled) -> Lookup {
        match &settled.outcome {
            Outcome::Fetched | Outcome::Revalidated => {}
            Outcome::Stale { reason, .. } => {
                self.shared.metrics.inc("provedge.cache.stale_served");
                log(
                    LogLevel::Warn,
                    &format!("provedge: origin {reason} for {key}; serving the cached copy"),
                );
            }
            Outcome::Failed { reason, .. } => log(
                LogLevel::Warn,
                &format!("provedge: origin {reason} for {key}"),
            ),
        }
        settled.lookup
    }

    /// Answers the request here with `resp`: counted, recorded, sent.
    fn respond(&mut self, resp: Response) {
        self.count_status(resp.status);
        if let Some(note) = &resp.note {
            log(LogLevel::Warn, &format!("provedge: {} {note}", resp.status));
        }
        self.trail.answered(&resp);
        self.answered(resp.status, resp.body.len() as u64);
        let headers: Vec<(&str, &str)> = resp
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let reply = proxy::local_reply(self.proxy(), resp.body);
        self.send_http_response(u32::from(resp.status), headers, reply.now.as_deref());
        self.later = reply.later;
        if reply.now.is_none() {
            self.restore = resp
                .headers
                .into_iter()
                .filter(|(name, _)| name == "content-type" || name == "content-length")
                .collect();
        }
    }

    /// Counts an answer by vendor and status.
    fn count_status(&self, status: u16) {
        self.shared.metrics.count_status(self.vendor, status);
    }

    /// The response head goes out with `status` and a body of `bytes` (none for a `HEAD`):
    /// the request's access record is made now, once, and set as filter state at once, so
    /// that Envoy's access log finds it whenever it runs.
    fn answered(&mut self, status: u16, bytes: u64) {
        if self.recorded.is_some() {
            return;
        }
        let Some(arrival) = &self.arrival else {
            return;
        };
        let now = self.get_current_time();
        let since = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let done = Done {
            arrived_ms: u64::try_from(since(arrival.at).as_millis()).unwrap_or(u64::MAX),
            client: arrival.request.peer,
            status,
            bytes: if arrival.request.method == Method::Head {
                0
            } else {
                bytes
            },
            duration_us: now
                .duration_since(arrival.at)
                .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        };
        let engine = self.shared.settings.engine_for(self.route.as_deref());
        let record = self.trail.record(engine, &arrival.request, done);
        let json = record.to_json();
        if self.proxy().has_filter_state() {
            record::set_filter_state(record::FILTER_STATE, json.as_bytes());
        }
        self.recorded = Some(Recorded { json, record });
    }
}

/// Sends one of the core's origin requests with `dispatch_http_call` from context `ctx` (whose
/// `on_http_call_response` gets the answer).
fn dispatch(
    ctx: &dyn Context,
    origin: &Origin,
    req: &OriginRequest,
    body: Option<&[u8]>,
) -> Result<u32, String> {
    let mut headers: Vec<(&str, &str)> = vec![
        (":method", req.method),
        (":path", &req.path),
        (":authority", origin.authority()),
    ];
    headers.extend(req.headers.iter().map(|(n, v)| (*n, v.as_str())));
    ctx.dispatch_http_call(
        origin.upstream(),
        headers,
        body,
        vec![],
        Duration::from_millis(origin.timeout_ms()),
    )
    .map_err(|status| format!("dispatch to {} failed: {status:?}", origin.upstream()))
}

/// Seconds since the Unix epoch (0 for a clock before it).
fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// An absolute `http(s)://authority/path` target split for `:authority` and `:path`; any
/// other target is a path.
fn split_target(target: &str) -> (Option<&str>, &str) {
    let rest = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"));
    match rest {
        Some(rest) => match rest.find('/') {
            Some(i) => (Some(&rest[..i]), &rest[i..]),
            None => (Some(rest), "/"),
        },
        None => (None, target),
    }
}

impl Context for Filter {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        _num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        if self.upload_call == Some(token_id) {
            self.upload_call = None;
            self.upload_stored();
            return;
        }
        if let Some(streaming) = self.streaming.take() {
            match streaming.phase {
                Phase::Meta { call, stale } if call == token_id => {
                    if let Action::Continue = self.take_head(streaming.stream, stale) {
                        self.resume_http_request();
                    }
                    return;
                }
                phase => {
                    self.streaming = Some(Streaming {
                        stream: streaming.stream,
                        phase,
                    })
                }
            }
        }
        if let Some(mut run) = self.summing.take() {
            if run.call != token_id {
                self.summing = Some(run);
            } else {
                match self.take_piece(&mut run, body_size) {
                    Some(resp) => self.respond(resp),
                    None => self.summing = Some(run),
                }
                return;
            }
        }
        let Some(mut pending) = self.pending.take() else {
            return;
        };
        let Some(call) = pending.calls.remove(&token_id) else {
            self.pending = Some(pending);
            return;
        };
        let shared = Rc::clone(&self.shared);
        let now = self.now_ms();
        let status = crate::call_response::header(":status");
        let etag = crate::call_response::header("etag");
        let last_modified = crate::call_response::header("last-modified");
        let reply = Reply {
            status: status.as_deref(),
            etag: etag.as_deref(),
            last_modified: last_modified.as_deref(),
            body_size,
        };
        let answer = answer::classify(&shared.settings.origin, &reply, now, || {
            crate::call_response::body(0, body_size).unwrap_or_default()
        });
        let settled = shared.cache.borrow_mut().settle(
            call.key.as_str(),
            answer,
            call.stale.as_deref(),
            now,
            &HostShared,
        );
        match &settled.outcome {
            Outcome::Fetched => shared.metrics.inc("provedge.origin.fetched"),
            Outcome::Revalidated => shared.metrics.inc("provedge.cache.revalidated"),
            Outcome::Stale { label, .. } | Outcome::Failed { label, .. } => shared
                .metrics
                .inc(&format!("provedge.origin.error.{label}")),
        }
        let lookup = self.settled(&call.key, settled);
        pending.answers.push((call.key, lookup));
        if !pending.calls.is_empty() {
            self.pending = Some(pending);
            return;
        }
        let engine = shared.settings.engine_for(self.route.as_deref());
        let decision = pending.fetch.resume(engine, pending.answers);
        if let Action::Continue = self.drive(decision) {
            self.resume_http_request();
        }
    }
}

impl Filter {
    /// The origin answered an upload's `PUT` (what its status means is the core's).
    fn upload_stored(&mut self) {
        let Some(upload) = self.upload.take() else {
            return;
        };
        let status = crate::call_response::header(":status");
        let outcome = answer::stored(status.as_deref());
        if matches!(outcome, Stored::Failed(_)) {
            self.shared.metrics.inc("provedge.origin.error.upload");
        }
        self.respond(upload.finish(outcome));
    }
}

impl HttpContext for Filter {
    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        // Envoy reports what it holds so far: the pieces it buffered while paused included.
        self.body = BodySeen {
            bytes: body_size,
            complete: end_of_stream,
        };
        let Some(upload) = self.upload.take() else {
            // A body on a request that is not (yet) an upload: the engine may ask for one after
            // its store round, so Envoy keeps it buffered (bounded by its own buffer limit)
            // until the request is answered or goes on.
            return if self.continued {
                Action::Continue
            } else {
                Action::Pause
            };
        };
        if self.upload_call.is_some() {
            self.upload = Some(upload);
            return Action::Pause;
        }
        if body_size > upload.max_bytes() {
            self.respond(upload.finish(Stored::TooLarge));
            return Action::Pause;
        }
        if !end_of_stream {
            // Envoy buffers the body until it is whole.
            self.upload = Some(upload);
            return Action::Pause;
        }
        match self.buffered_body(body_size) {
            Some(body) => self.store_upload(upload, &body),
            None => self.respond(upload.finish(Stored::Failed(
                "the buffered request body could not be read".into(),
            ))),
        }
        Action::Pause
    }

    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.body.complete = end_of_stream;
        if !self.shared.settings.routes.is_empty() && self.proxy().has_route_names() {
            self.route = self.property(vec!["xds", "route_name"]);
        }
        let request = self.request();
        let at = self.get_current_time();
        let shared = Rc::clone(&self.shared);
        let decision = shared
            .settings
            .engine_for(self.route.as_deref())
            .handle(&request, unix_secs(at));
        self.arrival = Some(Arrival { request, at });
        self.drive(decision)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        // A local answer of ours passing through: counted and recorded when it was sent.
        if !self.continued || self.recorded.is_some() {
            for (name, value) in std::mem::take(&mut self.restore) {
                self.set_http_response_header(&name, Some(&value));
            }
            return Action::Continue;
        }
        if let Some(streaming) = self.streaming.take() {
            return self.stream_answered(streaming);
        }
        // A rewritten request: the upstream's answer is the answer.
        let header = |name| {
            self.get_http_response_header_bytes(name)
                .and_then(|v| String::from_utf8(v).ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let status = header(":status")
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(0);
        let bytes = header("content-length").unwrap_or(0);
        self.count_status(status);
        self.answered(status, bytes);
        Action::Continue
    }

    /// A local answer's body that could not go with it ([`proxy::local_reply`]) replaces the
    /// (empty) chunk passing through.
    fn on_http_response_body(&mut self, body_size: usize, _end_of_stream: bool) -> Action {
        if let Some(body) = self.later.take() {
            self.set_http_response_body(0, body_size, &body);
        }
        Action::Continue
    }

    /// The end of the request: its access record goes to the proxy's log, and the device's
    /// last-seen record to the root's queue when due.
    fn on_log(&mut self) {
        if self.recorded.is_none() {
            // No response head went out: the client went away first (499, as nginx logs it).
            self.trail.note("the client went away before the answer");
            self.answered(499, 0);
        }
        let Some(recorded) = self.recorded.take() else {
            return;
        };
        log(
            LogLevel::Info,
            &format!("provedge access {}", recorded.json),
        );
        if let Some(key) = recorded.record.last_seen_key() {
            let now = unix_secs(self.get_current_time());
            let seen = || recorded.record.last_seen();
            match self.shared.last_seen.offer(&key, now, seen) {
                Offered::Queued | Offered::NotDue => {}
                Offered::Dropped => self.shared.metrics.inc("provedge.last_seen.dropped"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_authority_and_path() {
        assert_eq!(split_target("/a/b"), (None, "/a/b"));
        assert_eq!(
            split_target("http://store:8081/p/k"),
            (Some("store:8081"), "/p/k")
        );
        assert_eq!(split_target("https://store"), (Some("store"), "/"));
    }

    #[test]
    fn status_labels_are_bounded() {
        assert_eq!(status_label(200), "200");
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(0), "0xx");
        assert_eq!(status_label(65535), "9xx");
        // Statuses of one label share a slot, and labels never share one.
        assert_eq!(status_slot(418), status_slot(499));
        let labels: std::collections::HashSet<String> = (0..=u16::MAX).map(status_label).collect();
        let slots: std::collections::HashSet<u16> = (0..=u16::MAX).map(status_slot).collect();
        assert_eq!(labels.len(), slots.len());
    }
}
