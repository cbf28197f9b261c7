//! One request's way from a [`Route`] to a [`Response`]: which store keys it needs, in which
//! rounds, and what it makes of them.
//!
//! The plan is recomputed from what has been fetched so far until nothing is missing, so the
//! rounds fall out of the data: a device file first needs the device record (and a stored
//! copy, if any); only a known device costs a second round for variables and templates, so a
//! scanner walking MAC ranges costs one store round per probe. A device seen before names its
//! variables and templates from its previous record in the first round, so a phone's steady
//! re-checks cost one round (see `Job::plan`). A template that extends, includes or imports
//! others costs a round per level the first time; after that the engine remembers what each
//! template used and names it all in that same first round (`Job::template_uses`).

use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Map, Value};

use crate::crypto::settings::Encryption;
use crate::key::StoreKey;
use crate::mac::MacCase;
use crate::model::Model;
use crate::object::Conditions;
use crate::policy::Token;
use crate::render::cache::{InputHash, Rendered};
use crate::render::layers::{Layer, LayerError};
use crate::render::substitution::Data;
use crate::render::template::Compiled;
use crate::render::{grandstream, references, text, xml, Caches, Syntax, TextFlavor};
use crate::response::{Lookup, Response};
use crate::route::{self, Kind, Route, RouteConfig, Scope};
use crate::store::{self, DeviceRecord, Layers};

/// Most store rounds one request may take; a plan that keeps asking is a fault, not a loop.
pub(crate) const MAX_ROUNDS: u8 = 8;

/// The engine's rendering settings every job reads.
#[derive(Debug, Default)]
pub(crate) struct RenderSettings {
    /// Grandstream P-values the legacy binary keeps when the XML is encrypted.
    pub bootstrap: Vec<String>,
    /// The host's secrets that variable layers' `{"secret": "NAME"}` values stand for.
    pub secrets: crate::secrets::Secrets,
    /// `uploads.serve_back`: the largest upload served back to its phone; `None` when off.
    pub served_back_max: Option<usize>,
}

/// What a job needs next.
pub(crate) enum Step {
    Need(Vec<StoreKey>),
    Done(Response),
    /// The device's record admits the request: stream the stored file ([`Goal::Stream`]).
    Stream,
    /// The device's record admits the request: store the upload ([`Goal::Upload`]).
    Upload,
}

/// What a job is for. Every device-scope answer, whatever its source, passes the same token
/// check ([`Job::grant`]) against the device's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Goal {
    /// Render, or serve a stored small file, or its checksum.
    Answer,
    /// A stored device file the host streams (Aastra `.tuz`, Obihai `.aes`, Yealink `.enc`).
    Stream,
    /// A phone's upload, taken only for a device the store knows.
    Upload,
}

/// Where a device-scope answer comes from: only a rendered file can be stripped of secrets for
/// a first-boot request; a stored, streamed or uploaded one cannot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Rendered,
    AsStored,
}

/// What a URL token grants, once the device's record is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Grant {
    /// The device's own file, with its secrets.
    Full,
    /// A first-boot file: no secrets; the device's own token only when the request proved the
    /// device (its own first-boot token, or a certificate naming its MAC).
    FirstBoot { device_token: bool },
}

impl Grant {
    /// One byte for the render cache's input hash: different grants are different files.
    fn tag(self) -> u8 {
        match self {
            Grant::Full => 0,
            Grant::FirstBoot {
                device_token: false,
            } => 1,
            Grant::FirstBoot { device_token: true } => 2,
        }
    }
}

/// What the policy stage decided for a request's store reads and rendering.
#[derive(Clone, Debug, Default)]
pub(crate) struct Access {
    /// The tenant's key prefix (`tenants/<name>/`), empty for the default tenant.
    pub namespace: String,
    /// The tenant's name, `None` for the default tenant.
    pub tenant: Option<Arc<str>>,
    pub token: Token,
    /// The MAC a verified client certificate (or a trusted proxy's identity) names.
    pub identity: Option<crate::mac::Mac>,
    /// Variables first-boot files never carry (the tenant's `url_tokens.secret_vars`).
    pub secret_vars: Arc<[String]>,
}

impl Access {
    /// A key as the host reads it.
    pub fn namespaced(&self, key: &StoreKey) -> StoreKey {
        if self.namespace.is_empty() {
            key.clone()
        } else {
            StoreKey::trusted(format!("{}{key}", self.namespace))
        }
    }
}

/// One request being served.
#[derive(Debug)]
pub(crate) struct Job {
    /// What was asked for.
    route: Route,
    /// What is produced and the keys every round asks about, shared with the route's later jobs.
    start: Arc<Start>,
    /// Where the route's jobs keep what they work out once (the engine's route memo).
    prelude: Arc<Prelude>,
    /// What the host read, in arrival order: a handful of keys, so a scan beats hashing.
    fetched: Vec<(StoreKey, Lookup)>,
    /// The device record, parsed when it arrives (or taken from the record cache).
    device: Option<Result<Arc<DeviceRecord>, String>>,
    /// The client's conditional and range headers (a 304 when `If-None-Match` names the
    /// served bytes; a streamed file's ranges).
    conditions: Conditions,
    access: Access,
    goal: Goal,
    /// Store rounds asked so far.
    rounds: u8,
    /// What the engine's configuration says about rendering, shared by every job.
    settings: Arc<RenderSettings>,
}

/// What the jobs of one route work out once and share: a phone asks for the same file every
/// few minutes, and all of this is a function of the route alone (with the engine's fixed
/// configuration). The engine keeps it beside the route in its route memo
/// ([`crate::route::RouteMemo::route_attached`]), so it lives as long as the remembered route.
#[derive(Debug, Default)]
pub(crate) struct Prelude {
    /// The target and its keys; `None` inside for a checksum of no file.
    start: OnceLock<Option<Arc<Start>>>,
    /// The keys the target's model and profile named in the latest plan that worked them out.
    /// A plan with the same model and profile (the steady state) uses them; another works its
    /// own out and leaves them here instead.
    names: Mutex<Option<Arc<Names>>>,
}

impl Prelude {
    /// The route's target and what follows from it, worked out by the route's first request
    /// (`route` must be the one this prelude was made for); `None` for a checksum of no file.
    pub(crate) fn start(&self, route: &Route, cfg: &RouteConfig) -> Option<&Arc<Start>> {
        self.start
            .get_or_init(|| Start::of(route, cfg).map(Arc::new))
            .as_ref()
    }
}

/// The target of a route's jobs and what follows from it alone.
#[derive(Debug)]
pub(crate) struct Start {
    /// What is produced: the route itself, or for a checksum the file it is the checksum of.
    target: Route,
    /// How it is rendered (`None`: served as stored).
    syntax: Option<Syntax>,
    /// Keys every round asks about.
    keys: JobKeys,
}

impl Start {
    /// What is produced: the route, or for a checksum the file it sums.
    pub(crate) fn target(&self) -> &Route {
        &self.target
    }

    /// How the target is rendered (`None`: served as stored).
    pub(crate) fn syntax(&self) -> Option<Syntax> {
        self.syntax
    }

    fn of(route: &Route, cfg: &RouteConfig) -> Option<Start> {
        let target = if route.kind() == Kind::Checksum {
            checksum_target(route, cfg)?
        } else {
            route.clone()
        };
        Some(Start {
            syntax: Syntax::of(&target),
            keys: JobKeys {
                device: target.mac().map(store::device_key),
                global: store::global_vars_key(),
                vendor: store::vendor_vars_key(target.vendor()),
            },
            target,
        })
    }
}

/// The keys a render reads that the target's model and profile name: the model's variables,
/// the profile's variables and the templates, most specific first.
#[derive(Debug)]
struct Names {
    model: Option<Model>,
    profile: Option<String>,
    model_vars_key: Option<StoreKey>,
    /// `None` when there is no profile, or its name is no safe key (the plan refuses that).
    profile_key: Option<StoreKey>,
    template_keys: Vec<StoreKey>,
}

impl Names {
    fn of(target: &Route, syntax: Syntax, model: Option<Model>, profile: Option<&str>) -> Names {
        let template_keys = if syntax == Syntax::YealinkKeyFile {
            Vec::new()
        } else {
            store::template_keys(
                target.vendor(),
                model.as_ref(),
                &crate::render::syntax::template_name(target, syntax),
            )
        };
        Names {
            model_vars_key: model
                .as_ref()
                .and_then(|m| store::model_vars_key(target.vendor(), m)),
            profile_key: profile.and_then(store::profile_vars_key),
            profile: profile.map(str::to_owned),
            model,
            template_keys,
        }
    }

    /// Whether these are the keys of `model` and `profile`.
    fn is_for(&self, model: Option<&Model>, profile: Option<&str>) -> bool {
        self.model.as_ref() == model && self.profile.as_deref() == profile
    }
}

/// The keys of one job that do not depend on what is read.
#[derive(Debug)]
struct JobKeys {
    /// The target's device record (when the target names a MAC).
    device: Option<StoreKey>,
    global: StoreKey,
    vendor: StoreKey,
}

/// Served bytes and their media type.
struct Body {
    bytes: Vec<u8>,
    content_type: &'static str,
    /// Known when the body came from the render cache.
    etag: Option<String>,
}

impl Job {
    /// A job for a route; a checksum route is pointed at the file it sums. `prelude` is what
    /// the route's earlier jobs worked out (empty for the first): it must have been made for
    /// this route, under this configuration.
    pub fn new(
        route: Route,
        prelude: Arc<Prelude>,
        cfg: &RouteConfig,
        conditions: Conditions,
        access: Access,
        goal: Goal,
        settings: Arc<RenderSettings>,
    ) -> Result<Job, Response> {
        let start = prelude
            .start(&route, cfg)
            .cloned()
            .ok_or_else(|| Response::text(404, &format!("no file for {}", route.file())))?;
        Ok(Job {
            route,
            start,
            prelude,
            fetched: Vec::with_capacity(8),
            device: None,
            conditions,
            access,
            goal,
            rounds: 0,
            settings,
        })
    }

    /// What is produced: the route, or for a checksum the file it sums.
    fn target(&self) -> &Route {
        &self.start.target
    }

    fn keys(&self) -> &JobKeys {
        &self.start.keys
    }

    pub fn route(&self) -> &Route {
        &self.route
    }

    pub fn into_route(self) -> Route {
        self.route
    }

    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Counts one more store round; `false` past [`MAX_ROUNDS`].
    pub fn next_round(&mut self) -> bool {
        self.rounds = self.rounds.saturating_add(1);
        self.rounds <= MAX_ROUNDS
    }

    pub fn conditions(&self) -> &Conditions {
        &self.conditions
    }

    /// The MAC of a device the engine knows this request is about: its record was read, or a
    /// certificate proved it. Only such a MAC may be recorded as seen; a MAC a request merely
    /// claims may not.
    pub fn known_device(&self) -> Option<crate::mac::Mac> {
        let mac = self.target().mac()?;
        let recorded = matches!(&self.device, Some(Ok(d)) if d.mac == mac);
        (recorded || self.access.identity == Some(mac)).then_some(mac)
    }

    pub fn record(&mut self, key: StoreKey, lookup: Lookup, caches: &Caches) {
        if let (Some(device_key), Lookup::Found(bytes)) = (&self.keys().device, &lookup) {
            if key == *device_key {
                // Cached under the key the host read (tenant namespace included), so one
                // tenant's record never names keys for another's request.
                self.device = Some(caches.records.parse(&self.access.namespaced(&key), bytes));
            }
        }
        match key
            .position_in(&self.fetched)
            .and_then(|at| self.fetched.get_mut(at))
        {
            Some(slot) => slot.1 = lookup,
            None => self.fetched.push((key, lookup)),
        }
    }

    fn lookup(&self, key: &StoreKey) -> Option<&Lookup> {
        let at = key.position_in(&self.fetched)?;
        self.fetched.get(at).map(|(_, l)| l)
    }

    /// Plans the next round, or finishes.
    pub fn step(&self, caches: &Caches) -> Step {
        if self.goal != Goal::Answer {
            return self.gate();
        }
        match self.plan(caches) {
            Err(resp) => Step::Done(resp),
            Ok(plan) => {
                let keys = plan.keys(self.keys());
                let missing: Vec<StoreKey> = keys
                    .iter()
                    .filter(|k| self.lookup(k).is_none())
                    .map(|k| (*k).clone())
                    .collect();
                if !missing.is_empty() {
                    return Step::Need(missing);
                }
                if let Some((key, reason)) = keys.iter().find_map(|k| match self.lookup(k) {
                    Some(Lookup::Failed(reason)) => Some(((*k).clone(), reason.clone())),
                    _ => None,
                }) {
                    return Step::Done(Response::fault(
                        503,
                        format!("store read of {key} failed: {reason}"),
                    ));
                }
                Step::Done(self.finish(&plan, caches))
            }
        }
    }

    /// A streamed file or an upload: the device's record must exist and admit the token.
    fn gate(&self) -> Step {
        let Some(key) = &self.keys().device else {
            return Step::Done(self.not_found("the file names no device"));
        };
        match (self.lookup(key), &self.device) {
            (None, _) => Step::Need(vec![key.clone()]),
            (Some(Lookup::Failed(reason)), _) => Step::Done(Response::fault(
                503,
                format!("store read of {key} failed: {reason}"),
            )),
            (_, Some(Err(e))) => Step::Done(Response::fault(
                500,
                format!("{key}: malformed device record: {e}"),
            )),
            (_, Some(Ok(device))) if self.target().mac() == Some(device.mac) => {
                match self.grant(Some(device), Source::AsStored) {
                    Err(resp) => Step::Done(resp),
                    Ok(_) if self.goal == Goal::Upload => Step::Upload,
                    Ok(_) => Step::Stream,
                }
            }
            _ => Step::Done(self.not_found("no device record")),
        }
    }

    fn found(&self, key: &StoreKey) -> Option<&[u8]> {
        self.found_blob(key).map(|blob| blob.as_slice())
    }

    /// The bytes read at `key` as the host shared them (with their digest, computed once).
    fn found_blob(&self, key: &StoreKey) -> Option<&crate::Blob> {
        match self.lookup(key) {
            Some(Lookup::Found(blob)) => Some(blob),
            _ => None,
        }
    }

    /// A variable file as parsed (once per change of its bytes: [`crate::render::LayerCache`]).
    fn layer(&self, key: &StoreKey, caches: &Caches) -> Result<Option<Layer>, Response> {
        let Some(bytes) = self.found_blob(key) else {
            return Ok(None);
        };
        match caches.layers.parse(&self.access.namespaced(key), bytes) {
            Ok(layer) => Ok(Some(layer)),
            Err(LayerError::NotAnObject) => {
                Err(Response::fault(500, format!("{key}: not a JSON object")))
            }
            Err(LayerError::Malformed { line, column }) => Err(Response::fault(
                500,
                format!("{key}: malformed JSON at line {line} column {column}"),
            )),
        }
    }

    /// What the job needs, given what it knows so far.
    ///
    /// A device file needs its record before the rest can be named. For a device whose record
    /// was read before, the plan names the rest from that earlier record at once, so the
    /// steady state (a phone re-checking its file) costs one store round instead of two. The
    /// earlier record only names keys: rendering waits for, and uses, the record just read; if
    /// that one names other keys, they are read in another round. Unknown MACs (a scanner) still
    /// cost one round and nothing more.
    fn plan<'a>(&'a self, caches: &Caches) -> Result<Plan<'a>, Response> {
        let t = self.target();
        let static_key = t.key().clone();
        let Some(syntax) = self.start.syntax else {
            return Ok(Plan {
                static_key,
                render: None,
            });
        };
        let device_key = self.keys().device.as_ref();
        let device = match (device_key, &self.device) {
            (Some(key), Some(Err(e))) => {
                return Err(Response::fault(
                    500,
                    format!("{key}: malformed device record: {e}"),
                ))
            }
            (Some(_), Some(Ok(record))) => Some(&**record),
            _ => None,
        };
        if let (Some(device), Some(mac)) = (&device, t.mac()) {
            if device.mac != mac {
                return Err(Response::fault(
                    500,
                    format!(
                        "{}: holds the record of {}",
                        store::device_key(mac),
                        device.mac
                    ),
                ));
            }
        }
        // A device file waits for its record before anything else is read, unless an earlier
        // read of the record names the keys (see above).
        let device_pending =
            t.scope() == Scope::Device && device_key.is_some_and(|k| self.lookup(k).is_none());
        let earlier = match (device_key, device_pending) {
            (Some(key), true) => caches.records.last(&self.access.namespaced(key)),
            _ => None,
        };
        let device_absent = t.scope() == Scope::Device && device.is_none() && earlier.is_none();
        let device = device.filter(|d| d.vendor == t.vendor() || t.scope() == Scope::Device);
        // What names the keys: the record read for this request, else the earlier one.
        let naming = device.or(earlier.as_deref());
        let model = t.model().cloned().or_else(|| naming.and_then(|d| d.model));
        let profile = naming.and_then(|d| d.profile.as_deref().map(|p| (d.mac, p)));
        let names = self.names(syntax, model, profile.map(|(_, p)| p));
        if let (Some((mac, _)), None) = (profile, &names.profile_key) {
            return Err(Response::fault(
                500,
                format!("{}: invalid profile name", store::device_key(mac)),
            ));
        }
        // A stored file of a device without a record is still encrypted as the layers say (a
        // vendor-wide `encryption`), so it needs them; a token request needs the record first.
        let stored_needs_layers = device_absent
            && !device_pending
            && self.access.token == Token::NotUsed
            && self.found(&static_key).is_some();
        let names_templates = !(device_absent || device_pending && earlier.is_none());
        let template_uses = if names_templates {
            self.template_uses(&names.template_keys, caches)?
        } else {
            Vec::new()
        };
        Ok(Plan {
            static_key,
            render: Some(RenderPlan {
                syntax,
                device_key,
                device_pending: device_pending && earlier.is_none(),
                device_absent,
                stored_needs_layers,
                device,
                names,
                template_uses,
                upload_key: self
                    .settings
                    .served_back_max
                    .filter(|_| served_back(t))
                    .and_then(|_| StoreKey::upload(t.vendor(), t.file())),
            }),
        })
    }

    /// The keys `model` and `profile` name: the route's kept ones when they are the same, else
    /// worked out and kept.
    fn names(&self, syntax: Syntax, model: Option<Model>, profile: Option<&str>) -> Arc<Names> {
        let Ok(mut kept) = self.prelude.names.lock() else {
            return Arc::new(Names::of(self.target(), syntax, model, profile));
        };
        match &*kept {
            Some(names) if names.is_for(model.as_ref(), profile) => Arc::clone(names),
            _ => {
                let names = Arc::new(Names::of(self.target(), syntax, model, profile));
                *kept = Some(Arc::clone(&names));
                names
            }
        }
    }

    /// The templates the file's template extends, includes and imports, at every level
    /// (`render::references`). Once every candidate template is read, the walk starts from the
    /// one found; before, from each candidate with what it used the last time it was read, so
    /// a steady request names them all in its first round.
    fn template_uses(
        &self,
        candidates: &[StoreKey],
        caches: &Caches,
    ) -> Result<Vec<StoreKey>, Response> {
        let read = |k: &StoreKey| self.lookup(k);
        let walk = |root: &StoreKey| {
            references::closure(root, read, &caches.templates, &self.access.namespace)
        };
        if candidates.iter().all(|k| self.lookup(k).is_some()) {
            let Some(root) = candidates.iter().find(|k| self.found(k).is_some()) else {
                return Ok(Vec::new());
            };
            let mut keys = walk(root)
                .map_err(|e| Response::fault(500, e.to_string()))?
                .keys;
            keys.remove(0);
            return Ok(keys);
        }
        let mut keys: Vec<StoreKey> = Vec::new();
        for candidate in candidates {
            // Named ahead only: a fault is raised, if at all, from what is actually read.
            for key in walk(candidate).map(|c| c.keys).unwrap_or_default() {
                if !candidates.contains(&key) && !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        Ok(keys)
    }

    fn finish(&self, plan: &Plan, caches: &Caches) -> Response {
        let body = match &plan.render {
            None => self.stored(&plan.static_key),
            Some(render) => self.render(render, &plan.static_key, caches),
        };
        let body = match body {
            Ok(body) => body,
            Err(resp) => return resp,
        };
        if self.route.kind() == Kind::Checksum {
            return Response::ok(
                md5_hex(&body.bytes).into_bytes(),
                "text/plain; charset=utf-8",
            );
        }
        let mut resp = match body.etag {
            Some(etag) => Response::ok_tagged(body.bytes, body.content_type, etag),
            None => Response::ok(body.bytes, body.content_type),
        };
        // A device's own files carry its secrets: no shared cache may keep them.
        if self.route.scope() == Scope::Device || self.target().mac().is_some() {
            resp.headers
                .push(("cache-control".into(), "private, no-store".into()));
        }
        resp.device = self.known_device();
        resp
    }

    fn stored(&self, key: &StoreKey) -> Result<Body, Response> {
        match self.found_blob(key) {
            // Tagged from the blob's digest ([`encrypt`] drops the tag when it changes the bytes).
            Some(blob) => Ok(Body {
                bytes: blob.to_vec(),
                content_type: crate::render::syntax::static_content_type(self.target().file()),
                etag: Some(crate::response::etag_of_digest(blob.digest())),
            }),
            None => Err(Response::text(404, &format!("no {}", self.target().file()))),
        }
    }

    fn render(
        &self,
        plan: &RenderPlan,
        static_key: &StoreKey,
        caches: &Caches,
    ) -> Result<Body, Response> {
        let t = self.target();
        if plan.device_absent {
            // A stored (pre-rendered) file of a device the store has no record of: no token can
            // be checked against it, and it is encrypted as the vendor-wide layers say.
            self.grant(None, Source::AsStored)?;
            let plain = self
                .stored(static_key)
                .map_err(|_| self.not_found("no device record"))?;
            let layers = self.layers(plan, caches)?;
            let encryption = encryption_of(&layers.view(None), None, &self.settings.secrets)?;
            return encrypt(plain, &encryption, plan.syntax, t);
        }
        let grant = self.grant(plan.device, Source::Rendered)?;
        if let Some(device) = &plan.device {
            if device.vendor != t.vendor() {
                return Err(Response::text(
                    404,
                    &format!("device {} is a {} phone", device.mac, device.vendor),
                ));
            }
        }
        if let Some(body) = self.served_back(plan, grant) {
            return Ok(body);
        }
        let template = plan
            .names
            .template_keys
            .iter()
            .find_map(|k| self.found(k).map(|b| (k, b)));
        // The common case first: a template whose inputs have not changed since the last
        // render is answered from the cache, before any variable is parsed.
        let inputs = template.map(|(key, _)| self.input_hash(plan, key));
        if let Some(hit) = inputs.and_then(|h| caches.renders.get(t.key(), h)) {
            return Ok(Body {
                bytes: hit.bytes.clone(),
                content_type: hit.content_type,
                etag: Some(hit.etag.clone()),
            });
        }
        let layers = self.layers(plan, caches)?;
        let layers = layers.view(plan.device);
        let encryption = encryption_of(&layers, plan.device, &self.settings.secrets)?;
        if plan.syntax == Syntax::YealinkKeyFile {
            return match &encryption {
                Encryption::Yealink { key, .. } => Ok(Body {
                    bytes: key
                        .key_file()
                        .map_err(|e| {
                            Response::fault(500, format!("key file for {}: {e}", t.file()))
                        })?
                        .to_vec(),
                    content_type: plan.syntax.content_type(),
                    etag: None,
                }),
                _ => self.stored(static_key),
            };
        }
        let (Some((template_key, source)), Some(inputs)) = (template, inputs) else {
            // No template: Yealink's MAC boot file has a built-in form; anything else may be
            // stored pre-rendered. Either way a device set up for encryption gets it encrypted.
            let plain = match (plan.syntax, t.subject_mac()) {
                (Syntax::Text(TextFlavor::Yealink), Some(mac)) if t.file().ends_with(".boot") => {
                    let model = plan.names.model.as_ref().map(Model::as_str);
                    Body {
                        bytes: text::yealink_default_boot(mac, model).into_bytes(),
                        content_type: plan.syntax.content_type(),
                        etag: None,
                    }
                }
                _ => {
                    // Stored as it is: it cannot be stripped for a first-boot request.
                    if grant != Grant::Full {
                        return Err(self.not_found("first-boot request for a stored device file"));
                    }
                    self.stored(static_key)?
                }
            };
            return encrypt(plain, &encryption, plan.syntax, t);
        };
        // The file's template and what it uses, as read (an `ignore missing` include that is
        // not in the store is simply absent).
        let mut templates = vec![(template_key, utf8(template_key, source)?)];
        for key in &plan.template_uses {
            if let Some(bytes) = self.found(key) {
                templates.push((key, utf8(key, bytes)?));
            }
        }
        let compiled = caches
            .templates
            .compiled(
                &self.access.namespaced(template_key),
                &templates,
                plan.syntax,
            )
            .map_err(|e| Response::fault(500, e.to_string()))?;
        // A Grandstream XML file straight from the template when the fast path can: the same
        // bytes as its P-value text parsed and written as XML.
        let fused = match plan.syntax {
            Syntax::PValues { binary: false } => {
                self.substitute(&compiled, plan, &layers, grant, |c, ctx| {
                    c.substitute_pvalue_xml(t.subject_mac(), ctx)
                })
            }
            _ => None,
        };
        let bytes = match fused {
            Some(xml) => xml,
            None => {
                let rendered =
                    match self.substitute(&compiled, plan, &layers, grant, Compiled::substitute) {
                        Some(text) => text,
                        None => {
                            let ctx = context(t, plan, &layers, grant, &self.access.secret_vars);
                            compiled
                                .render(crate::render::template::to_value(ctx))
                                .map_err(|e| Response::fault(500, e.to_string()))?
                        }
                    };
                self.encode(rendered, plan, template_key, &encryption, grant)?
            }
        };
        // A name that promises ciphertext (Panasonic `.enc`, Obihai `.aes`) is never rendered
        // into plaintext; a pre-encrypted file stored under it is still served as stored.
        if !encryption.is_enabled() && crate::render::syntax::encrypted_by_name(t) {
            return Err(Response::text(
                404,
                &format!(
                    "{} is an encrypted name and the device has no encryption",
                    t.file()
                ),
            ));
        }
        // Encrypted once per change of inputs and cached: the same ciphertext (and ETag) is
        // served until something changes, so phones' revalidations still get 304s.
        let body = encrypt(
            Body {
                bytes,
                content_type: plan.syntax.content_type(),
                etag: None,
            },
            &encryption,
            plan.syntax,
            t,
        )?;
        let etag = crate::response::etag(&body.bytes);
        let stored = caches.renders.put(
            t.key().clone(),
            inputs,
            Rendered {
                bytes: body.bytes,
                content_type: body.content_type,
                etag,
            },
        );
        Ok(Body {
            bytes: stored.bytes.clone(),
            content_type: stored.content_type,
            etag: Some(stored.etag.clone()),
        })
    }

    /// The bytes served for a rendering's text: P-value text parsed and encoded, an XML
    /// document checked, a line-based file framed.
    fn encode(
        &self,
        rendered: String,
        plan: &RenderPlan,
        template_key: &StoreKey,
        encryption: &Encryption,
        grant: Grant,
    ) -> Result<Vec<u8>, Response> {
        let t = self.target();
        Ok(match plan.syntax {
            Syntax::PValues { binary } => {
                let pvalues = grandstream::parse_pvalues(&rendered).map_err(|e| {
                    Response::fault(
                        500,
                        format!("{template_key} rendered bad P-value text: {e}"),
                    )
                })?;
                match (binary, t.subject_mac()) {
                    (true, Some(mac)) if encryption.is_enabled() => {
                        let bootstrap =
                            bootstrap_pvalues(pvalues, &self.settings.bootstrap, encryption, grant);
                        grandstream::to_binary(mac, &bootstrap)
                    }
                    (true, Some(mac)) => grandstream::to_binary(mac, &pvalues),
                    (true, None) => return Err(Response::text(404, &format!("no {}", t.file()))),
                    (false, mac) => grandstream::to_xml_bytes(mac, &pvalues),
                }
            }
            Syntax::Xml => {
                xml::check_well_formed(&rendered)
                    .map_err(|e| Response::fault(500, format!("{template_key} rendered {e}")))?;
                rendered.into_bytes()
            }
            Syntax::Text(TextFlavor::Yealink) => text::yealink(rendered).into_bytes(),
            Syntax::Text(TextFlavor::Panasonic) => text::panasonic(&rendered).into_bytes(),
            Syntax::Text(TextFlavor::Plain) => rendered.into_bytes(),
            Syntax::YealinkKeyFile => {
                return Err(Response::fault(500, "key files have no template".into()))
            }
        })
    }

    fn layers(&self, plan: &RenderPlan, caches: &Caches) -> Result<ReadLayers, Response> {
        Ok(ReadLayers {
            global: self.layer(&self.keys().global, caches)?,
            vendor: self.layer(&self.keys().vendor, caches)?,
            model: match &plan.names.model_vars_key {
                Some(k) => self.layer(k, caches)?,
                None => None,
            },
            profile: match &plan.names.profile_key {
                Some(k) => self.layer(k, caches)?,
                None => None,
            },
        })
    }

    /// The render without minijinja's interpreter, when the template is a substitution
    /// ([`crate::render::substitution`]) and its data allows; `None` renders with minijinja.
    /// The context is the one [`context`] builds, read in place: only the names the template
    /// reads are built, and the variables are the layers merged as they are read. `render` is
    /// the fast path's rendering: the text ([`Compiled::substitute`]), or a file made from it.
    fn substitute<R>(
        &self,
        compiled: &Compiled,
        plan: &RenderPlan,
        layers: &Layers,
        grant: Grant,
        render: impl for<'a> Fn(&Compiled, &dyn Fn(&str) -> Option<Data<'a>>) -> Option<R>,
    ) -> Option<R> {
        let substitution = compiled.substitution()?;
        let t = self.target();
        if grant != Grant::Full {
            // A first-boot context is stripped: read the one minijinja would get.
            let ctx = context(t, plan, layers, grant, &self.access.secret_vars);
            return render(compiled, &|name| ctx.get(name).map(Data::of));
        }
        let wanted = |name: &str| substitution.roots().any(|r| r == name);
        let roots = context_names(t, plan, grant, &wanted);
        let vars = Data::layers(layers);
        render(compiled, &|name| match name {
            "vars" => Some(vars),
            name => roots.get(name).map(Data::of),
        })
    }

    /// The one token decision for every device-scope answer. Without URL tokens everything is
    /// granted; the tenant's first-boot token grants a stripped rendering (never a stored file);
    /// a device token must be the record's `auth.token` (everything) or its
    /// `auth.first_boot_token` (a stripped rendering that may carry `device_token`). A wrong
    /// token is a 404 like a file that does not exist, with the same body.
    fn grant(&self, device: Option<&DeviceRecord>, source: Source) -> Result<Grant, Response> {
        let auth = device.and_then(|d| d.auth.as_ref());
        let grant = match &self.access.token {
            Token::NotUsed => return Ok(Grant::Full),
            Token::FirstBoot => Grant::FirstBoot {
                device_token: self.access.identity.is_some()
                    && self.access.identity == self.target().mac(),
            },
            Token::Device(presented) => {
                let is = |expected: Option<&crate::store::UrlToken>| {
                    expected.is_some_and(|e| e.matches(presented))
                };
                if is(auth.and_then(|a| a.token.as_ref())) {
                    Grant::Full
                } else if is(auth.and_then(|a| a.first_boot_token.as_ref())) {
                    Grant::FirstBoot { device_token: true }
                } else {
                    return Err(self.not_found(&format!(
                        "URL token does not match the device of {}",
                        self.target().file()
                    )));
                }
            }
        };
        if source == Source::AsStored && grant != Grant::Full {
            return Err(self.not_found("first-boot token for a stored device file"));
        }
        Ok(grant)
    }

    /// The phone's own upload of this file, when `uploads.serve_back` is on (issue 19): only
    /// for a device with a record, on a full grant, to a request that shows the file's MAC
    /// (User-Agent, client certificate, or the device's own URL token, which a full grant under
    /// a token means), and only up to `uploads.max_bytes`. Served exactly as uploaded: it is the
    /// phone's own file, in whatever form (plain or phone-encrypted) the phone wrote it.
    fn served_back(&self, plan: &RenderPlan, grant: Grant) -> Option<Body> {
        let key = plan.upload_key.as_ref()?;
        let max = self.settings.served_back_max?;
        let mac = self.target().mac()?;
        let device = plan.device?;
        let shown = self.access.identity == Some(mac)
            || self.route.user_agent().and_then(|u| u.mac) == Some(mac)
            || matches!(self.access.token, Token::Device(_));
        if grant != Grant::Full || device.mac != mac || !shown {
            return None;
        }
        let blob = self.found_blob(key).filter(|b| b.len() <= max)?;
        Some(Body {
            bytes: blob.to_vec(),
            content_type: crate::render::syntax::static_content_type(self.target().file()),
            etag: Some(crate::response::etag_of_digest(blob.digest())),
        })
    }

    /// The 404 for a device the request may not have. With URL tokens the body is the same
    /// `not found` for a device that does not exist and for a wrong token, so a scanner cannot
    /// tell which MACs are in the store; the reason goes to the log note.
    fn not_found(&self, note: &str) -> Response {
        refuse_unknown(self.target(), note, self.access.token != Token::NotUsed)
    }

    /// A hash of every byte the render reads, in a fixed order.
    fn input_hash(&self, plan: &RenderPlan, template_key: &StoreKey) -> u128 {
        let mut h = InputHash::default();
        // A first-boot rendering (no credentials) must never be served as the full file, nor
        // the reverse.
        let grant = self
            .grant(plan.device, Source::Rendered)
            .map_or(u8::MAX, Grant::tag);
        h.add("grant", Some(&[grant]));
        h.add_syntax(plan.syntax);
        h.add_blob(template_key.as_str(), self.found_blob(template_key));
        // Every template it uses: a changed base template re-renders each of its children.
        for key in &plan.template_uses {
            h.add_blob(key.as_str(), self.found_blob(key));
        }
        let keys = [
            Some(&self.keys().global),
            Some(&self.keys().vendor),
            plan.names.model_vars_key.as_ref(),
            plan.names.profile_key.as_ref(),
            plan.device_key,
        ];
        for key in keys.into_iter().flatten() {
            h.add_blob(key.as_str(), self.found_blob(key));
        }
        h.add(
            "model",
            plan.names.model.as_ref().map(|m| m.as_str().as_bytes()),
        );
        // Generic files rendered per requester differ by the requester's MAC even when no
        // record exists for it.
        h.add(
            "mac",
            self.target()
                .mac()
                .map(|m| m.bytes())
                .as_ref()
                .map(|b| &b[..]),
        );
        h.finish()
    }
}

struct Plan<'a> {
    static_key: StoreKey,
    render: Option<RenderPlan<'a>>,
}

/// The variable files a render read, as parsed (shared with the layer cache).
struct ReadLayers {
    global: Option<Layer>,
    vendor: Option<Layer>,
    model: Option<Layer>,
    profile: Option<Layer>,
}

impl ReadLayers {
    /// The layers in precedence order, the device's own variables last.
    fn view<'a>(&'a self, device: Option<&'a DeviceRecord>) -> Layers<'a> {
        Layers {
            global: self.global.as_deref(),
            vendor: self.vendor.as_deref(),
            model: self.model.as_deref(),
            profile: self.profile.as_deref(),
            device: device.map(|d| &d.vars),
        }
    }
}

/// What a render needs; borrows the job's parsed device record rather than copying it each round.
struct RenderPlan<'a> {
    syntax: Syntax,
    device_key: Option<&'a StoreKey>,
    device_pending: bool,
    device_absent: bool,
    /// The device has no record but a stored file: read the layers for its encryption.
    stored_needs_layers: bool,
    device: Option<&'a DeviceRecord>,
    /// The model's and profile's keys, and the model itself.
    names: Arc<Names>,
    /// What the file's template extends, includes and imports, at every level; for a template
    /// not read yet, what it used last time.
    template_uses: Vec<StoreKey>,
    /// Where the phone's own upload of this file is, when uploads are served back.
    upload_key: Option<StoreKey>,
}

impl Plan<'_> {
    fn keys<'k>(&'k self, job: &'k JobKeys) -> Vec<&'k StoreKey> {
        let mut keys = vec![&self.static_key];
        if let Some(r) = &self.render {
            keys.extend(r.device_key);
            if r.device_pending || (r.device_absent && !r.stored_needs_layers) {
                return keys;
            }
            keys.push(&job.global);
            keys.push(&job.vendor);
            keys.extend(r.names.model_vars_key.iter());
            if r.device_absent {
                return keys;
            }
            keys.extend(r.names.profile_key.iter());
            keys.extend(r.names.template_keys.iter());
            keys.extend(r.template_uses.iter());
            keys.extend(r.upload_key.iter());
        }
        keys
    }
}

/// The names a phone uploads and expects back on its next fetch (vendors.md §1.5): Polycom's
/// override files and Yealink's local configuration. Logs, directories and call lists are
/// stored but never served back.
fn served_back(t: &Route) -> bool {
    let file = t.file();
    t.subject_mac().is_some()
        && match t.vendor() {
            crate::Vendor::Polycom => file.ends_with("-phone.cfg") || file.ends_with("-web.cfg"),
            crate::Vendor::Yealink => file.ends_with("-local.cfg"),
            _ => false,
        }
}

/// The template context: the file, the device, and the merged variables.
fn context(
    t: &Route,
    plan: &RenderPlan,
    layers: &Layers,
    grant: Grant,
    secret_vars: &[String],
) -> Value {
    let mut names = context_names(t, plan, grant, &|_| true);
    names.insert("vars".into(), Value::Object(layers.merged()));
    let mut ctx = Value::Object(names);
    if grant != Grant::Full {
        strip_credentials(&mut ctx, secret_vars);
    }
    ctx
}

/// The context's names but `vars`, each built only when `wanted`; not yet stripped of
/// credentials.
fn context_names(
    t: &Route,
    plan: &RenderPlan,
    grant: Grant,
    wanted: &dyn Fn(&str) -> bool,
) -> Map<String, Value> {
    let mut names = Map::new();
    let mut add = |name: &str, value: &dyn Fn() -> Value| {
        if wanted(name) {
            names.insert(name.into(), value());
        }
    };
    add("first_boot", &|| json!(grant != Grant::Full));
    add("mac", &|| json!(t.mac().map(|m| m.to_string())));
    add("mac_upper", &|| {
        json!(t.mac().map(|m| m.compact(MacCase::Upper)))
    });
    add("vendor", &|| json!(t.vendor().name()));
    add("model", &|| {
        json!(plan.names.model.as_ref().map(Model::as_str))
    });
    add("file", &|| json!(t.file()));
    add("scope", &|| json!(t.scope().name()));
    add("lines", &|| {
        plan.device
            .map(|d| json!(d.lines))
            .unwrap_or_else(|| json!([]))
    });
    add("keys", &|| {
        plan.device
            .map(|d| json!(d.keys))
            .unwrap_or_else(|| json!([]))
    });
    if let Some(device) = plan.device {
        add("device", &|| json!(device));
    }
    // The device's steady URL token, for a request that may know it: its own file (templates
    // are the same for first-boot and steady files), or a first-boot file the device proved.
    add("device_token", &|| match grant {
        Grant::Full | Grant::FirstBoot { device_token: true } => plan
            .device
            .and_then(|d| d.auth.as_ref()?.token.as_ref())
            .map_or(Value::Null, |t| Value::String(t.expose().to_owned())),
        Grant::FirstBoot {
            device_token: false,
        } => Value::Null,
    });
    names
}

/// A first-boot file carries no credentials: line passwords and secret variables are blanked
/// (the record's auth and encryption never reach a template at all).
fn strip_credentials(ctx: &mut Value, secret_vars: &[String]) {
    for pointer in ["/lines", "/device/lines"] {
        if let Some(lines) = ctx.pointer_mut(pointer) {
            blank_passwords(lines);
        }
    }
    for pointer in ["/vars", "/device/vars"] {
        if let Some(vars) = ctx.pointer_mut(pointer) {
            // Blanked to "", so templates that print them still render.
            crate::store::vars::mask_secrets(vars, secret_vars, "");
        }
    }
}

/// The 404 for a device file the request may not have (see [`Job::not_found`]).
fn refuse_unknown(t: &Route, note: &str, tokens: bool) -> Response {
    if tokens {
        let mut resp = Response::text(404, "not found");
        resp.note = Some(note.to_owned());
        return resp;
    }
    let mac = t.mac().map(|m| m.to_string()).unwrap_or_default();
    Response::text(404, &format!("no device {mac}"))
}

/// What Grandstream's legacy binary carries when the XML is encrypted: only the P-values a
/// phone needs to fetch and decrypt the XML (the operator's `bootstrap` list: server, protocol,
/// prefixes) and P1359, the XML password, set from the encryption setting itself so that it
/// always opens the XML. Everything else stays in the encrypted XML. A first-boot binary
/// carries P1359 only when the request proved the device: the tenant's first-boot token is no
/// key to every phone's configuration.
fn bootstrap_pvalues<'a>(
    pvalues: Vec<grandstream::PValue<'a>>,
    bootstrap: &[String],
    encryption: &Encryption,
    grant: Grant,
) -> Vec<grandstream::PValue<'a>> {
    let listed = |n: u32| {
        bootstrap
            .iter()
            .any(|b| b.trim_start_matches(['P', 'p']).parse() == Ok(n))
    };
    let mut kept: Vec<grandstream::PValue> = pvalues
        .into_iter()
        .filter(|p| p.number != XML_PASSWORD && listed(p.number))
        .collect();
    let proven = matches!(grant, Grant::Full | Grant::FirstBoot { device_token: true });
    if let (Encryption::Openssl(enc), true) = (encryption, proven) {
        kept.push(grandstream::PValue {
            number: XML_PASSWORD,
            value: String::from_utf8_lossy(enc.password.as_bytes())
                .into_owned()
                .into(),
        });
    }
    kept
}

/// Grandstream's "XML config file password".
const XML_PASSWORD: u32 = 1359;

fn blank_passwords(lines: &mut Value) {
    if let Some(lines) = lines.as_array_mut() {
        for line in lines {
            if let Some(p) = line.get_mut("password") {
                *p = Value::String(String::new());
            }
        }
    }
}

/// The file an Algo `.md5` is the checksum of: the `.conf` for configuration checksums,
/// otherwise the `.zip`/`.fw` it names.
fn checksum_target(route: &Route, cfg: &RouteConfig) -> Option<Route> {
    let stem = route.file().strip_suffix(".md5")?;
    // The name says what is summed: `X.zip.md5` names its file; Algo firmware is
    // `algo-….fw`, tones `…-tones.zip`, everything else a `.conf`. (The generic `.zip`/`.fw`
    // rows would claim any name, so the order cannot be left to trial.)
    let has_ext = |ext: &str| {
        stem.rsplit_once('.')
            .is_some_and(|(_, e)| e.eq_ignore_ascii_case(ext))
    };
    let candidate = if ["conf", "zip", "fw"].iter().any(|e| has_ext(e)) {
        stem.to_owned()
    } else if stem
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("algo-"))
    {
        format!("{stem}.fw")
    } else if stem.to_ascii_lowercase().ends_with("-tones") {
        format!("{stem}.zip")
    } else {
        format!("{stem}.conf")
    };
    route::sibling(route, &candidate, cfg).filter(|r| r.kind() != Kind::Checksum)
}

/// A template's source as text.
fn utf8<'a>(key: &StoreKey, bytes: &'a [u8]) -> Result<&'a str, Response> {
    std::str::from_utf8(bytes).map_err(|_| Response::fault(500, format!("{key}: not UTF-8")))
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The encryption a file gets: the `encryption` variable (global → vendor → model → profile →
/// device vars), overridden by the device record's own `encryption`. A setting that does not
/// parse is a fault, never a reason to serve plaintext.
fn encryption_of(
    layers: &Layers,
    device: Option<&DeviceRecord>,
    secrets: &crate::secrets::Secrets,
) -> Result<Encryption, Response> {
    if let Some(own) = device.and_then(|d| d.encryption.as_ref()) {
        return Ok(own.clone());
    }
    let what = || {
        device.map_or_else(
            || "vars".to_owned(),
            |d| format!("vars of {}", store::device_key(d.mac)),
        )
    };
    match layers.merged_key("encryption") {
        None | Some(Value::Null) => Ok(Encryption::None),
        Some(mut value) => {
            // A password the store only names: the host's secret of that name.
            secrets
                .resolve(&mut value, "encryption")
                .map_err(|e| Response::fault(500, format!("{}: {e}", what())))?;
            serde_json::from_value(value).map_err(|e| {
                Response::fault(
                    500,
                    format!(
                        "{}: invalid encryption setting: {}",
                        what(),
                        redact(&e.to_string())
                    ),
                )
            })
        }
    }
}

/// serde messages can quote the offending value; an encryption setting's values are secrets.
fn redact(message: &str) -> String {
    match message.find(['"', '`']) {
        Some(at) => format!("{} …", message[..at].trim_end()),
        None => message.to_owned(),
    }
}

/// Encrypts a body as configured. Grandstream's legacy binary stays plain: it is how a phone
/// learns its XML password (P1359) in the first place.
fn encrypt(
    body: Body,
    encryption: &Encryption,
    syntax: Syntax,
    t: &Route,
) -> Result<Body, Response> {
    if !encryption.is_enabled() || syntax == (Syntax::PValues { binary: true }) {
        return Ok(body);
    }
    let bytes = encryption
        .encrypt(&body.bytes)
        .map_err(|e| Response::fault(500, format!("encrypting {}: {e}", t.file())))?;
    Ok(Body {
        bytes,
        content_type: "application/octet-stream",
        etag: None,
    })
}
