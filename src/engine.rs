//! The sans-IO engine: a request goes in, a [`Decision`] comes out.
//!
//! The host drives it like a rustls connection: call [`Engine::handle`]; if the decision is
//! [`Decision::Fetch`], read the listed store keys however the host reads (a folder, Workers
//! KV, `dispatch_http_call`), then [`Fetch::resume`] with what it got. Resuming may ask for more
//! keys (a device record first, its templates next), so hosts loop until they get
//! [`Decision::Respond`] or [`Decision::Rewrite`]. The engine holds no clock, socket or file.

use std::sync::Arc;

use serde::Deserialize;

use crate::key::StoreKey;
use crate::mac::Mac;
use crate::pipeline::{checksum_target, Access, Goal, Job, Step};
use crate::policy::{Policy, PolicyConfig, Token};
use crate::render::syntax::static_content_type;
use crate::render::{Caches, RenderCache, Syntax, TemplateCache};
use crate::request::Request;
use crate::rewrite::{LoadError, Outcome, RewriteInput, RuleSet};
use crate::route::{self, Kind, Route, RouteConfig};

/// How the engine answers recognised requests.
///
/// In JSON: `"mode": "serve"` or `"mode": {"rewrite": {"prefix": "/store"}}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Mode {
    /// Answer from the store: fetch the canonical key and respond with it.
    #[default]
    Serve,
    /// Rewrite the request to `<prefix>/<canonical key>` and let the host pass it on.
    Rewrite { prefix: String },
    /// Behave exactly as the operator's nginx `rewrite` rules (the text of the rule file) and
    /// let the host pass the rewritten request on: the drop-in for FusionPBX-style setups.
    Nginx { rules: String },
}

/// Engine configuration: parsed and checked once (at start, or in proxy-wasm's `on_configure`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub route: RouteConfig,
    pub mode: Mode,
    pub uploads: UploadConfig,
    pub policy: PolicyConfig,
    pub render: RenderConfig,
}

/// How files are rendered.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RenderConfig {
    /// The P-values Grandstream's legacy binary `cfg<mac>` keeps when the device's XML is
    /// encrypted: what a phone needs to find and fetch the XML. P1359 (the XML password) is
    /// always added from the encryption setting; every other value lives only in the XML.
    pub grandstream_bootstrap_pvalues: Vec<String>,
}

impl Default for RenderConfig {
    /// Config server path and protocol, and the config and firmware prefixes and postfixes.
    fn default() -> RenderConfig {
        RenderConfig {
            grandstream_bootstrap_pvalues: ["P237", "P212", "P234", "P235", "P192", "P232", "P233"]
                .map(String::from)
                .to_vec(),
        }
    }
}

impl Config {
    /// Parses a JSON configuration, naming the offending key on error.
    pub fn from_json(text: &str) -> Result<Config, String> {
        let config: Config =
            serde_json::from_str(text).map_err(|e| format!("configuration: {e}"))?;
        config
            .policy
            .validate()
            .map_err(|e| format!("configuration: {e}"))?;
        if let Mode::Nginx { rules } = &config.mode {
            RuleSet::parse(rules).map_err(|e| format!("configuration: mode.nginx.rules {e}"))?;
        }
        if let Some(key) = config.tokens_outside_serve() {
            return Err(format!(
                "configuration: {key}: URL tokens are checked against device records, which \
                 only \"mode\": \"serve\" reads; rewrite and nginx modes would strip the \
                 token and forward any request. Check tokens upstream, or serve from the store"
            ));
        }
        Ok(config)
    }

    /// The engine part of a configuration file, `{"engine": {…}, "server": {…}}` (the one file
    /// format every command and host reads; a host takes its own section and ignores the
    /// others'), or a bare engine object.
    pub fn from_document(text: &str) -> Result<Config, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("configuration: {e}"))?;
        match value.get("engine") {
            Some(engine) => Config::from_json(&engine.to_string())
                .map_err(|e| e.replacen("configuration: ", "configuration: engine.", 1)),
            None => Config::from_json(text),
        }
    }

    /// The first tenant that uses URL tokens in a mode that forwards requests, if any.
    fn tokens_outside_serve(&self) -> Option<String> {
        if self.mode == Mode::Serve {
            return None;
        }
        if self.policy.default.url_tokens.is_some() {
            return Some("policy.default.url_tokens".into());
        }
        self.policy
            .tenants
            .iter()
            .find(|t| t.rules.url_tokens.is_some())
            .map(|t| format!("policy.tenants.{}.url_tokens", t.name))
    }
}

/// What the host should do next.
#[derive(Debug)]
pub enum Decision {
    /// Answer the client with this response.
    Respond(Response),
    /// Pass the request on with a new target.
    Rewrite(Rewrite),
    /// Read these store keys, then resume.
    Fetch(Fetch),
    /// Store the request body (a phone's upload) under a key, then finish.
    Upload(Upload),
    /// Serve a stored file as it is (firmware, tones, images): the host streams it from the
    /// store, with `Range` support where it can, instead of handing it through the engine.
    Stream(Stream),
    /// Answer with the MD5 of a stored file (an Algo `.md5` of firmware or tones): the host
    /// reads the file in pieces through [`Checksum::hasher`], never whole, and may keep the
    /// digest per file version.
    Checksum(Checksum),
}

/// The checksum of a stored file, to be computed by the host as it reads the file.
#[derive(Debug)]
pub struct Checksum {
    key: StoreKey,
    route: Route,
    if_none_match: Option<String>,
}

/// MD5 over a file read in pieces; the core's, so every host sums alike.
#[derive(Clone, Debug, Default)]
pub struct Md5Hasher(md5::Md5);

impl Md5Hasher {
    pub fn update(&mut self, piece: &[u8]) {
        md5::Digest::update(&mut self.0, piece);
    }

    pub fn finish(self) -> [u8; 16] {
        md5::Digest::finalize(self.0).into()
    }
}

/// What the host found when it summed a stored file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Summed {
    Found([u8; 16]),
    Missing,
    /// The store could not answer. The reason goes to the log, not the client.
    Failed(String),
}

impl Checksum {
    /// The store key of the file to sum (in the tenant's namespace).
    pub fn key(&self) -> &StoreKey {
        &self.key
    }

    /// The recognised request (the `.md5`).
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// A fresh hasher to feed the file through.
    pub fn hasher(&self) -> Md5Hasher {
        Md5Hasher::default()
    }

    /// The response: the 32 lower-case hex digits (a 304 when the client holds them), 404
    /// when the file is missing, a clean 503 when the store failed.
    pub fn respond(&self, summed: Summed) -> Response {
        match summed {
            Summed::Found(digest) => {
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                let resp = Response::ok(hex.into_bytes(), "text/plain; charset=utf-8");
                conditional(resp, self.if_none_match.as_deref())
            }
            Summed::Missing => Response::text(404, &format!("no {}", self.route.file())),
            Summed::Failed(reason) => {
                Response::fault(503, format!("store read of {} failed: {reason}", self.key))
            }
        }
    }

    /// The response for hosts that read the file whole (tests, the CLI).
    pub fn respond_whole(&self, lookup: Lookup) -> Response {
        self.respond(match lookup {
            Lookup::Found(bytes) => {
                let mut hasher = self.hasher();
                hasher.update(&bytes);
                Summed::Found(hasher.finish())
            }
            Lookup::Missing => Summed::Missing,
            Lookup::Failed(reason) => Summed::Failed(reason),
        })
    }
}

/// A stored file to be streamed to the client unchanged.
#[derive(Debug)]
pub struct Stream {
    key: StoreKey,
    content_type: &'static str,
    route: Route,
    device: Option<Mac>,
}

impl Stream {
    /// The device the engine knows this is for (its record admitted the request), if any.
    pub fn device(&self) -> Option<Mac> {
        self.device
    }

    /// The store key of the file.
    pub fn key(&self) -> &StoreKey {
        &self.key
    }

    /// The media type to serve it with.
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    /// The recognised request.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// The whole response for hosts that read the file whole (tests, small stores): 200 with a
    /// strong ETag, or 404.
    pub fn respond(&self, lookup: Lookup) -> Response {
        match lookup {
            Lookup::Found(bytes) => {
                let mut resp = Response::ok(bytes, self.content_type);
                if self.route.scope() == crate::Scope::Device {
                    resp.headers
                        .push(("cache-control".into(), "private, no-store".into()));
                }
                resp.device = self.device;
                resp
            }
            Lookup::Missing => Response::text(404, &format!("no {}", self.route.file())),
            Lookup::Failed(reason) => {
                Response::fault(503, format!("store read of {} failed: {reason}", self.key))
            }
        }
    }
}

/// What became of an upload the host was asked to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Stored; `replaced` when an earlier upload under the same key was overwritten.
    Done { replaced: bool },
    /// The body was longer than [`Upload::max_bytes`]; nothing was stored.
    TooLarge,
    /// The store could not take it. The reason goes to the log, not the client.
    Failed(String),
    /// The store's quota for uploads is used up; nothing was stored. The reason goes to the
    /// log.
    Full(String),
}

/// A phone's upload (Polycom logs and overrides, Yealink `-local.cfg`, …) to be stored as bytes
/// under [`Upload::key`], in the `uploads/` namespace: never executed, never served back by the
/// engine.
#[derive(Debug)]
pub struct Upload {
    key: StoreKey,
    max_bytes: usize,
    route: Route,
    device: Option<Mac>,
}

impl Upload {
    /// The device the upload belongs to: known by its record or proven by a certificate.
    pub fn device(&self) -> Option<Mac> {
        self.device
    }

    /// Where to store the body.
    pub fn key(&self) -> &StoreKey {
        &self.key
    }

    /// The most bytes to accept; a longer body is [`Stored::TooLarge`].
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// The recognised request.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// The response once the host has stored (or failed to store) the body.
    pub fn finish(self, outcome: Stored) -> Response {
        match outcome {
            Stored::Done { replaced: false } => Response {
                status: 201,
                device: self.device,
                ..Response::empty()
            },
            Stored::Done { replaced: true } => Response {
                status: 204,
                device: self.device,
                ..Response::empty()
            },
            Stored::TooLarge => Response::text(
                413,
                &format!("uploads are limited to {} bytes", self.max_bytes),
            ),
            Stored::Failed(reason) => {
                Response::fault(503, format!("storing {} failed: {reason}", self.key))
            }
            Stored::Full(reason) => {
                let mut resp = Response::text(507, "insufficient storage");
                resp.note = Some(format!("storing {} refused: {reason}", self.key));
                resp
            }
        }
    }
}

/// Limits on phone uploads.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadConfig {
    /// Whether uploads are accepted at all (refused with 403 when not).
    pub enabled: bool,
    /// Largest accepted body, in bytes.
    pub max_bytes: usize,
}

impl Default for UploadConfig {
    fn default() -> UploadConfig {
        UploadConfig {
            enabled: true,
            max_bytes: 1 << 20,
        }
    }
}

/// A complete response. Never partial: the body is produced whole before a decision is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// A line for the host's log (never sent to the client): names the store key and the fault
    /// behind a 5xx. Built without secrets.
    pub note: Option<String>,
    /// The device this answer is for, when the engine knows it (its record was read, or a
    /// client certificate proved it): the only MAC a host may record as seen. A MAC a request
    /// merely claims (a User-Agent, a path) is not one.
    pub device: Option<Mac>,
}

impl Response {
    /// No status yet, no headers, no body: the base of the constructors below.
    fn empty() -> Response {
        Response {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
            note: None,
            device: None,
        }
    }

    /// A 200 with a strong ETag computed from exactly these bytes.
    pub fn ok(body: Vec<u8>, content_type: &str) -> Response {
        let etag = etag(&body);
        Response::ok_tagged(body, content_type, etag)
    }

    /// A 200 whose ETag is already known (from the render cache).
    pub(crate) fn ok_tagged(body: Vec<u8>, content_type: &str, etag: String) -> Response {
        Response {
            headers: vec![
                ("content-type".into(), content_type.into()),
                ("etag".into(), etag),
            ],
            body,
            ..Response::empty()
        }
    }

    /// A fault on our side: a 5xx with no body, and `note` for the log.
    pub fn fault(status: u16, note: String) -> Response {
        Response {
            status,
            note: Some(note),
            ..Response::empty()
        }
    }

    /// A plain-text refusal or error. `reason` must not hold secrets; callers pass messages
    /// built from the route stage, which quotes only file names.
    pub fn text(status: u16, reason: &str) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: format!("{reason}\n").into_bytes(),
            ..Response::empty()
        }
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A new request target for the host to forward.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewrite {
    /// Path (and query) to forward to.
    pub target: String,
    /// The route it was made for, for logs and metrics (none in nginx-rules mode, which does
    /// not recognise requests, it rewrites them).
    pub route: Option<Route>,
}

/// What the host found under one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    Found(Vec<u8>),
    Missing,
    /// The store could not answer (down, timed out). The reason goes to the log, not the client.
    Failed(String),
}

/// A paused request, waiting for store reads. Consumed by [`Fetch::resume`], so it cannot be
/// resumed twice.
#[derive(Debug)]
pub struct Fetch {
    /// The keys as the host reads them (in the tenant's namespace); empty for the default
    /// tenant, whose keys are `plain` as they are.
    keys: Vec<StoreKey>,
    /// The same keys as the job knows them (namespace-free), in the same order.
    plain: Vec<StoreKey>,
    /// Boxed: a paused job is large, and a `Decision` travels by value through every host.
    job: Box<Job>,
}

impl Fetch {
    /// The keys to read (all of them can be read in parallel).
    pub fn keys(&self) -> &[StoreKey] {
        if self.keys.is_empty() {
            &self.plain
        } else {
            &self.keys
        }
    }

    /// The recognised request.
    pub fn route(&self) -> &Route {
        self.job.route()
    }

    /// Continues with what the host read; `lookup` is asked once per key in [`Fetch::keys`].
    pub fn resume(self, engine: &Engine, mut lookup: impl FnMut(&StoreKey) -> Lookup) -> Decision {
        let Fetch {
            keys,
            plain,
            mut job,
        } = self;
        for (i, plain) in plain.into_iter().enumerate() {
            let found = lookup(keys.get(i).unwrap_or(&plain));
            job.record(plain, found, &engine.caches);
        }
        engine.advance(*job)
    }
}

/// The provisioning engine. Cheap to share: hosts build one per process or VM.
#[derive(Clone, Debug)]
pub struct Engine {
    config: Config,
    caches: Caches,
    policy: Policy,
    /// The nginx rule set of [`Mode::Nginx`], parsed once.
    rules: Option<Result<RuleSet, LoadError>>,
    /// Recent routes by method, target and User-Agent.
    routes: route::RouteMemo,
    /// `render.grandstream_bootstrap_pvalues`, shared by every job.
    bootstrap: Arc<[String]>,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(Config::default())
    }
}

impl Engine {
    pub fn new(config: Config) -> Engine {
        let rules = match &config.mode {
            Mode::Nginx { rules } => Some(RuleSet::parse(rules)),
            _ => None,
        };
        Engine {
            policy: Policy::new(config.policy.clone()),
            bootstrap: config.render.grandstream_bootstrap_pvalues.clone().into(),
            config,
            caches: Caches::default(),
            rules,
            routes: route::RouteMemo::default(),
        }
    }

    /// The compiled-template cache (for metrics and tests).
    pub fn templates(&self) -> &TemplateCache {
        &self.caches.templates
    }

    /// The rendered-file cache (for metrics and tests).
    pub fn renders(&self) -> &RenderCache {
        &self.caches.renders
    }

    /// A request target as logs, metrics and error bodies may show it: without the query,
    /// and with the URL-token segment masked when tokens are in use.
    pub fn loggable_path<'a>(&self, target: &'a str) -> std::borrow::Cow<'a, str> {
        self.policy.loggable_path(target)
    }

    fn advance(&self, job: Job) -> Decision {
        match job.step(&self.caches) {
            Step::Stream => {
                let device = job.known_device();
                let key = job.access().namespaced(job.route().key());
                let route = job.into_route();
                Decision::Stream(Stream {
                    key,
                    content_type: static_content_type(route.file()),
                    route,
                    device,
                })
            }
            Step::Upload => {
                let device = job.known_device();
                let key = job.access().namespaced(job.route().key());
                Decision::Upload(Upload {
                    key,
                    max_bytes: self.config.uploads.max_bytes,
                    route: job.into_route(),
                    device,
                })
            }
            Step::Need(plain) => {
                let keys = if job.access().namespace.is_empty() {
                    Vec::new()
                } else {
                    plain.iter().map(|k| job.access().namespaced(k)).collect()
                };
                Decision::Fetch(Fetch {
                    keys,
                    plain,
                    job: Box::new(job),
                })
            }
            Step::Done(mut resp) => {
                if !(200..300).contains(&resp.status) {
                    resp.device = None;
                }
                Decision::Respond(conditional(resp, job.if_none_match()))
            }
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Nginx-rules mode: what the operator's nginx would do with the (admitted) target.
    fn apply_rules(
        &self,
        rules: &Result<RuleSet, LoadError>,
        req: &Request,
        target: &str,
    ) -> Decision {
        let rules = match rules {
            Ok(rules) => rules,
            Err(e) => {
                return Decision::Respond(Response::fault(
                    500,
                    format!("nginx rules do not load: {e}"),
                ))
            }
        };
        let input = RewriteInput::new(target).with_host(req.header("host").unwrap_or(""));
        match rules.apply(&input) {
            Outcome::Internal(internal) => Decision::Rewrite(Rewrite {
                target: String::from_utf8_lossy(&internal.upstream_target()).into_owned(),
                route: None,
            }),
            Outcome::Redirect(redirect) => Decision::Respond(Response {
                status: redirect.status.code(),
                headers: vec![(
                    "location".into(),
                    String::from_utf8_lossy(&redirect.location).into_owned(),
                )],
                ..Response::empty()
            }),
            Outcome::BadRequest(bad) => {
                Decision::Respond(Response::text(bad.status(), "bad request"))
            }
            Outcome::ServerError(e) => {
                Decision::Respond(Response::fault(500, format!("nginx rules: {e:?}")))
            }
        }
    }

    /// Handles a request to the end with a synchronous store reader: the whole host loop for
    /// hosts that can block (the native CLI, tests). Streams are read whole through `read`.
    /// Returns a `Respond`, a `Rewrite` or an `Upload`.
    pub fn run(&self, req: &Request, mut read: impl FnMut(&StoreKey) -> Lookup) -> Decision {
        let mut decision = self.handle(req);
        loop {
            decision = match decision {
                Decision::Fetch(fetch) => fetch.resume(self, &mut read),
                Decision::Stream(stream) => {
                    let resp = stream.respond(read(stream.key()));
                    return Decision::Respond(conditional(resp, req.header("if-none-match")));
                }
                Decision::Checksum(sum) => {
                    return Decision::Respond(sum.respond_whole(read(sum.key())));
                }
                other => return other,
            }
        }
    }

    /// Starts handling a request.
    pub fn handle(&self, req: &Request) -> Decision {
        let admission = match self.policy.admit(req) {
            Ok(admission) => admission,
            Err(resp) => return Decision::Respond(resp),
        };
        if let Some(rules) = &self.rules {
            return self.apply_rules(rules, req, &admission.target);
        }
        let stripped;
        let routed = if admission.target == req.target {
            req
        } else {
            stripped = Request {
                target: admission.target.clone(),
                ..req.clone()
            };
            &stripped
        };
        let route = match self.routes.route(routed, &self.config.route) {
            Ok(route) => route,
            Err(e) => {
                let mut resp = Response::text(e.status(), &e.to_string());
                if let route::RouteError::MethodNotAllowed { allow, .. } = &e {
                    resp.headers.push(("allow".into(), allow.join(", ")));
                }
                return Decision::Respond(resp);
            }
        };
        if let Err(resp) = self.policy.check_route(&admission, &route, req.now) {
            return Decision::Respond(resp);
        }
        if admission.token != Token::NotUsed && self.config.mode != Mode::Serve {
            // Refused by `Config::from_json`; an engine built around it fails closed.
            return Decision::Respond(Response::fault(500, "URL tokens outside serve mode".into()));
        }
        let namespaced =
            |key: &StoreKey| StoreKey::trusted(format!("{}{}", admission.namespace, key));
        let proven = admission.identity_mac.is_some() && admission.identity_mac == route.mac();
        let access = Access {
            namespace: admission.namespace.clone(),
            token: admission.token.clone(),
            identity: admission.identity_mac,
            secret_vars: self.policy.secret_vars(&admission).into(),
        };
        let job = |route: Route, goal: Goal| {
            Job::new(
                route,
                &self.config.route,
                req.header("if-none-match"),
                access.clone(),
                goal,
                Arc::clone(&self.bootstrap),
            )
            .map_or_else(Decision::Respond, |job| self.advance(job))
        };
        if route.kind() == Kind::Upload {
            if !self.config.uploads.enabled {
                return Decision::Respond(Response::text(403, "forbidden"));
            }
            // Uploads are stored only for a device the store knows (or a certificate proves,
            // without URL tokens): a stranger cannot fill the store with random MACs.
            if proven && admission.token == Token::NotUsed {
                return Decision::Upload(Upload {
                    key: namespaced(route.key()),
                    max_bytes: self.config.uploads.max_bytes,
                    device: route.mac(),
                    route,
                });
            }
            return job(route, Goal::Upload);
        }
        match &self.config.mode {
            Mode::Rewrite { prefix } => Decision::Rewrite(Rewrite {
                target: format!(
                    "{}/{}",
                    prefix.trim_end_matches('/'),
                    namespaced(route.key())
                ),
                route: Some(route),
            }),
            // Handled before routing.
            Mode::Nginx { .. } => {
                Decision::Respond(Response::fault(500, "nginx mode without rules".into()))
            }
            Mode::Serve if Syntax::of(&route).is_none() && route.kind() != Kind::Checksum => {
                // A device's stored file under URL tokens passes the same token check as a
                // rendered one, against its record.
                if route.scope() == crate::Scope::Device && admission.token != Token::NotUsed {
                    return job(route, Goal::Stream);
                }
                Decision::Stream(Stream {
                    key: namespaced(route.key()),
                    content_type: static_content_type(route.file()),
                    device: route.mac().filter(|_| proven),
                    route,
                })
            }
            Mode::Serve if route.kind() == Kind::Checksum => {
                // The checksum of a large stored file (firmware, tones) is summed by the host
                // as it reads the file; a rendered file's (or a device's) goes through the job.
                match checksum_target(&route, &self.config.route) {
                    Some(target)
                        if Syntax::of(&target).is_none()
                            && target.scope() != crate::Scope::Device =>
                    {
                        Decision::Checksum(Checksum {
                            key: namespaced(target.key()),
                            route,
                            if_none_match: req.header("if-none-match").map(str::to_owned),
                        })
                    }
                    _ => job(route, Goal::Answer),
                }
            }
            Mode::Serve => job(route, Goal::Answer),
        }
    }
}

/// Turns a 200 into a 304 when the client already holds exactly these bytes (phones re-check
/// every few minutes; this is most of the traffic). `If-None-Match` compares weakly (RFC 9110
/// §13.1.2): `W/"x"` matches `"x"`, and `*` matches any current file.
fn conditional(resp: Response, if_none_match: Option<&str>) -> Response {
    let (Some(header), 200) = (if_none_match, resp.status) else {
        return resp;
    };
    let Some(etag) = resp.header("etag") else {
        return resp;
    };
    let matches = header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag);
    if !matches {
        return resp;
    }
    let headers = resp
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("etag") || n.eq_ignore_ascii_case("cache-control"))
        .cloned()
        .collect();
    Response {
        status: 304,
        headers,
        device: resp.device,
        ..Response::empty()
    }
}

/// A strong ETag: the first 128 bits of the SHA-256 of exactly the bytes served.
pub(crate) fn etag(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drive(engine: &Engine, req: &Request, store: &[(&str, &[u8])]) -> Response {
        let mut decision = engine.handle(req);
        loop {
            match decision {
                Decision::Respond(r) => return r,
                Decision::Rewrite(r) => panic!("unexpected rewrite to {}", r.target),
                Decision::Upload(u) => panic!("unexpected upload to {}", u.key()),
                Decision::Stream(st) => return st.respond(Lookup::Missing),
                Decision::Checksum(sum) => return sum.respond_whole(Lookup::Missing),
                Decision::Fetch(f) => {
                    decision = f.resume(engine, |k| {
                        store
                            .iter()
                            .find(|(name, _)| *name == k.as_str())
                            .map_or(Lookup::Missing, |(_, b)| Lookup::Found(b.to_vec()))
                    })
                }
            }
        }
    }

    #[test]
    fn serves_the_canonical_key_and_404s_the_rest() {
        let engine = Engine::default();
        let store: &[(&str, &[u8])] = &[("grandstream/cfg000b82123456.xml", b"<gs_provision/>")];
        let ok = drive(&engine, &Request::get("/prov/CFG000B82123456.XML"), store);
        assert_eq!(
            (ok.status, ok.body.as_slice()),
            (200, &b"<gs_provision/>"[..])
        );
        assert_eq!(ok.header("content-type"), Some("text/xml; charset=utf-8"));
        assert_eq!(
            drive(&engine, &Request::get("/cfg000b82654321.xml"), store).status,
            404
        );
        assert_eq!(
            drive(&engine, &Request::get("/../etc/passwd"), store).status,
            400
        );
        let put = drive(
            &engine,
            &Request::new(crate::Method::Put, "/cfg.xml"),
            store,
        );
        assert_eq!((put.status, put.header("allow")), (405, Some("GET, HEAD")));
    }

    #[test]
    fn a_store_failure_is_a_clean_503() {
        let engine = Engine::default();
        let Decision::Fetch(f) = engine.handle(&Request::get("/cfg.xml")) else {
            panic!()
        };
        let Decision::Respond(r) =
            f.resume(&engine, |_| Lookup::Failed("connection refused".into()))
        else {
            panic!()
        };
        assert_eq!(r.status, 503);
        assert!(!String::from_utf8_lossy(&r.body).contains("refused"));
    }

    #[test]
    fn rewrite_mode_forwards_to_the_canonical_key() {
        let engine =
            Engine::new(Config::from_json(r#"{"mode":{"rewrite":{"prefix":"/store/"}}}"#).unwrap());
        let Decision::Rewrite(r) =
            engine.handle(&Request::get("/provision/ALGOM0022ee123456.conf"))
        else {
            panic!()
        };
        assert_eq!(r.target, "/store/algo/algom0022ee123456.conf");
    }

    #[test]
    fn a_mac_conflict_is_refused() {
        let req = Request::get("/cfg000b82123456.xml").with_header(
            "User-Agent",
            "Grandstream Model HW GXP2170 SW 1.0 DevId 000b82654321",
        );
        let Decision::Respond(r) = Engine::default().handle(&req) else {
            panic!()
        };
        assert_eq!(r.status, 403);
    }
}
