//! The sans-IO engine: a request goes in, a [`Decision`] comes out.
//!
//! The host drives it like a rustls connection: call [`Engine::handle`]; if the decision is
//! [`Decision::Fetch`], read the listed store keys however the host reads (a folder, Workers
//! KV, `dispatch_http_call`), then [`Fetch::resume`] with what it got. Resuming may ask for more
//! keys (a device record first, its templates next), so hosts loop until they get
//! [`Decision::Respond`] or [`Decision::Rewrite`]. The engine holds no clock, socket or file.

use std::sync::Arc;

use crate::key::StoreKey;
use crate::last_good::{ExactRequest, LastGood, RequestId};
use crate::object::Conditions;
use crate::pipeline::{Access, Goal, Job, Prelude, RenderSettings, Step};
use crate::policy::{Admission, Policy, Token};
use crate::render::syntax::static_content_type;
use crate::render::{Caches, RenderCache, TemplateCache};
use crate::request::Request;
use crate::rewrite::{Outcome, RewriteInput, RuleSet};
use crate::route::{self, Kind, Route};

pub use crate::config::{Config, ConfigError, MemoryConfig, Mode, RenderConfig, UploadConfig};
pub use crate::decision::{
    Checksum, Decision, Fetch, Md5Hasher, Rewrite, Stored, Stream, Summed, Upload,
};
use crate::response::conditional;
pub use crate::response::{Lookup, Response};

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

    /// Continues with what the host read: one `(key, lookup)` per key of [`Fetch::keys`], in
    /// any order (as reads complete). The core matches them to its keys; a key the host did
    /// not answer counts as a failed read, an answer for a key it did not ask is ignored.
    pub fn resume(
        self,
        engine: &Engine,
        answers: impl IntoIterator<Item = (StoreKey, Lookup)>,
    ) -> Decision {
        let Fetch {
            keys,
            plain,
            mut job,
        } = self;
        let mut answers: Vec<(StoreKey, Lookup)> = answers.into_iter().collect();
        for (i, plain) in plain.into_iter().enumerate() {
            let asked = keys.get(i).unwrap_or(&plain);
            let found = match asked.position_in(&answers) {
                Some(at) => answers.swap_remove(at).1,
                None => Lookup::Failed("the host gave no answer for this key".into()),
            };
            job.record(plain, found, &engine.caches);
        }
        engine.advance(*job)
    }
}

/// Everything that can change a device file's answer or who may have it (see
/// [`crate::last_good`]): the tenant, the file, the device and model named, the MAC the
/// User-Agent claims, the URL token presented and the identity a certificate proved.
fn exact_request(job: &Job) -> RequestId {
    let route = job.route();
    let access = job.access();
    let mac = route.mac().map(|m| m.bytes());
    let claimed = route.user_agent().and_then(|u| u.mac).map(|m| m.bytes());
    let identity = access.identity.map(|m| m.bytes());
    let (token_kind, token): (&[u8], Option<&[u8]>) = match &access.token {
        Token::NotUsed => (b"none", None),
        Token::FirstBoot => (b"first-boot", None),
        Token::Device(t) => (b"device", Some(t.as_bytes())),
    };
    ExactRequest::default()
        .part("tenant", Some(access.namespace.as_bytes()))
        .part("key", Some(route.key().as_str().as_bytes()))
        .part("file", Some(route.file().as_bytes()))
        .part("mac", mac.as_ref().map(|m| &m[..]))
        .part("model", route.model().map(|m| m.as_str().as_bytes()))
        .part("claimed", claimed.as_ref().map(|m| &m[..]))
        .part("identity", identity.as_ref().map(|m| &m[..]))
        .part("token-kind", Some(token_kind))
        .part("token", token)
        .finish()
}

/// The provisioning engine. Cheap to share: hosts build one per process or VM.
#[derive(Clone, Debug)]
pub struct Engine {
    config: Config,
    caches: Caches,
    policy: Policy,
    /// The nginx rule set of [`Mode::Nginx`], parsed once.
    rules: Option<RuleSet>,
    /// Recent routes by method, target and User-Agent.
    /// Routes remembered, each with what its jobs work out once.
    routes: route::RouteMemo<Prelude>,
    /// Rendering settings and the host's secrets, shared by every job.
    settings: Arc<RenderSettings>,
    /// The last good answer of each exact request, for store and render faults.
    last_good: LastGood,
}

impl Default for Engine {
    /// The engine of the default configuration (which needs no checking).
    fn default() -> Engine {
        Engine::build(Config::default(), None)
    }
}

impl Engine {
    /// An engine for a checked configuration; a configuration it cannot run with (policy,
    /// nginx rules, URL tokens outside serve mode) is refused here, so every host refuses it
    /// at start instead of answering every request with a 500.
    pub fn new(config: Config) -> Result<Engine, ConfigError> {
        config.validate()?;
        let rules = match &config.mode {
            Mode::Nginx { rules } => Some(RuleSet::parse(rules).map_err(|e| ConfigError {
                key: "mode.nginx.rules".into(),
                reason: e.to_string(),
            })?),
            _ => None,
        };
        Ok(Engine::build(config, rules))
    }

    /// The engine, with the host's secrets for variable layers' `{"secret": "NAME"}` values
    /// (from [`Config::from_document_with`]).
    pub fn with_secrets(mut self, secrets: crate::secrets::Secrets) -> Engine {
        self.settings = Arc::new(RenderSettings {
            bootstrap: self.settings.bootstrap.clone(),
            secrets,
            served_back_max: self.settings.served_back_max,
        });
        self
    }

    fn build(config: Config, rules: Option<RuleSet>) -> Engine {
        let memory = &config.memory;
        Engine {
            policy: Policy::new(config.policy.clone()),
            settings: Arc::new(RenderSettings {
                bootstrap: config.render.grandstream_bootstrap_pvalues.clone(),
                secrets: crate::secrets::Secrets::default(),
                served_back_max: (config.uploads.enabled && config.uploads.serve_back)
                    .then_some(config.uploads.max_bytes),
            }),
            caches: Caches {
                templates: TemplateCache::bounded(memory.template_entries),
                renders: RenderCache::bounded(memory.render_entries, memory.render_bytes),
                records: crate::store::RecordCache::bounded(memory.record_entries),
                layers: crate::render::LayerCache::bounded(memory.vars_entries, memory.vars_bytes),
            },
            routes: route::RouteMemo::attaching(memory.route_entries),
            last_good: LastGood::bounded(memory.last_good_entries, memory.last_good_bytes),
            config,
            rules,
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
        let tenant = job.access().tenant.clone();
        self.step(job).for_tenant(tenant.as_ref())
    }

    fn step(&self, mut job: Job) -> Decision {
        match job.step(&self.caches) {
            Step::Stream => {
                let device = job.known_device();
                let key = job.access().namespaced(job.route().key());
                let conditions = job.conditions().clone();
                let route = job.into_route();
                Decision::Stream(Stream {
                    tenant: None,
                    key,
                    content_type: static_content_type(route.file()),
                    route,
                    device,
                    conditions,
                })
            }
            Step::Upload => {
                let device = job.known_device();
                let key = job.access().namespaced(job.route().key());
                Decision::Upload(Upload {
                    tenant: None,
                    key,
                    max_bytes: self.config.uploads.max_bytes,
                    route: job.into_route(),
                    device,
                })
            }
            Step::Need(_) if !job.next_round() => Decision::Respond(Response::fault(
                500,
                format!(
                    "{}: more than {} store rounds",
                    job.route().file(),
                    crate::pipeline::MAX_ROUNDS
                ),
            )),
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
            Step::Done(resp) => {
                let exact = exact_request(&job);
                let mut resp = if resp.status == 200 {
                    self.last_good.remember(exact, &resp);
                    resp
                } else {
                    self.last_good.stand_in(exact, resp)
                };
                if !(200..300).contains(&resp.status) {
                    resp.device = None;
                }
                Decision::Respond(conditional(resp, job.conditions().if_none_match.as_deref()))
            }
        }
    }

    /// The key the policy counts `req`'s client by (its rate group within its tenant), for a
    /// host whose count is shared beyond this engine (the Worker's `RATE_LIMIT` binding);
    /// `None` when the policy would not count the request per client.
    pub fn shared_client_key(&self, req: &Request) -> Option<String> {
        self.policy.shared_client_key(req)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Nginx-rules mode: what the operator's nginx would do with the admitted request. The
    /// rules see the target without the tenant prefix and URL token, the client address the
    /// policy computed (a trusted proxy's forwarded one), and `$scheme` as [`Self::https`]
    /// decides.
    fn apply_rules(&self, rules: &RuleSet, req: &Request, admission: &Admission) -> Decision {
        let input = RewriteInput::new(&admission.target)
            .with_host(req.header("host").unwrap_or(""))
            .with_https(self.https(req))
            .with_method(req.method.as_str())
            .with_headers(&req.headers)
            .with_remote_addr(admission.client);
        let location = |bytes: &[u8]| {
            vec![(
                "location".to_owned(),
                String::from_utf8_lossy(bytes).into_owned(),
            )]
        };
        match rules.apply(&input) {
            Outcome::Internal(internal) => Decision::Rewrite(Rewrite {
                tenant: None,
                target: String::from_utf8_lossy(&internal.upstream_target()).into_owned(),
                route: None,
            }),
            Outcome::Redirect(redirect) => Decision::Respond(Response {
                status: redirect.status.code(),
                headers: location(&redirect.location),
                ..Response::empty()
            }),
            // `return`: a redirect status carries its Location; a text is the body, as
            // nginx's `default_type` (built in: text/plain) would label it; an error status
            // without text gets the core's own error body, as nginx sends its error page.
            Outcome::Return(ret) => Decision::Respond(match (ret.location, ret.body) {
                (Some(loc), _) => Response {
                    status: ret.status,
                    headers: location(&loc),
                    ..Response::empty()
                },
                (None, Some(body)) => Response {
                    status: ret.status,
                    headers: if body.is_empty() {
                        Vec::new()
                    } else {
                        vec![("content-type".into(), "text/plain".into())]
                    },
                    body,
                    ..Response::empty()
                },
                (None, None) => Response::text(
                    ret.status,
                    match ret.status {
                        403 => "forbidden",
                        404 => "not found",
                        410 => "gone",
                        _ => "refused by the nginx rules",
                    },
                ),
            }),
            Outcome::BadRequest(bad) => {
                Decision::Respond(Response::text(bad.status(), "bad request"))
            }
            Outcome::ServerError(e) => {
                Decision::Respond(Response::fault(500, format!("nginx rules: {e:?}")))
            }
        }
    }

    /// nginx's `$scheme` for a request: the core sees no sockets, so a request counts as
    /// HTTPS only when a trusted proxy (`policy.trusted_proxies`, the same list that makes its
    /// `X-Forwarded-For` believed) says so in `X-Forwarded-Proto` (its last value). A client
    /// cannot claim it; without such a proxy it is `http`.
    fn https(&self, req: &Request) -> bool {
        let trusted = req
            .peer
            .is_some_and(|p| crate::policy::network::is_in(p, &self.config.policy.trusted_proxies));
        trusted
            && req
                .headers
                .iter()
                .rev()
                .find(|(n, _)| n.eq_ignore_ascii_case("x-forwarded-proto"))
                .and_then(|(_, v)| v.rsplit(',').next())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
    }

    /// Handles a request to the end with a synchronous store reader: the whole host loop for
    /// hosts that can block (the native CLI, tests). Streams are read whole through `read`.
    /// Returns a `Respond`, a `Rewrite` or an `Upload`.
    pub fn run(
        &self,
        req: &Request,
        now: u64,
        mut read: impl FnMut(&StoreKey) -> Lookup,
    ) -> Decision {
        let mut decision = self.handle(req, now);
        loop {
            decision = match decision {
                Decision::Fetch(fetch) => {
                    let answers: Vec<(StoreKey, Lookup)> =
                        fetch.keys().iter().map(|k| (k.clone(), read(k))).collect();
                    fetch.resume(self, answers)
                }
                Decision::Stream(stream) => {
                    return Decision::Respond(stream.respond(read(stream.key())));
                }
                Decision::Checksum(sum) => {
                    return Decision::Respond(sum.respond_whole(read(sum.key())));
                }
                other => return other,
            }
        }
    }

    /// Starts handling a request that arrived at `now` (seconds since the Unix epoch, from the
    /// host's clock: the core has none). Time is an argument, never optional: rate limits and
    /// Digest nonce expiry depend on it.
    pub fn handle(&self, req: &Request, now: u64) -> Decision {
        let admission = match self.policy.admit(req, now) {
            Ok(admission) => admission,
            Err(resp) => return Decision::Respond(resp),
        };
        let tenant = admission.tenant_name.clone();
        self.admitted(req, now, admission)
            .for_tenant(tenant.as_ref())
    }

    /// The rest of [`Engine::handle`], once the policy admitted the request to a tenant.
    fn admitted(&self, req: &Request, now: u64, admission: Admission) -> Decision {
        if let Some(rules) = &self.rules {
            return self.apply_rules(rules, req, &admission);
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
        let (route, prelude) = self.routes.route_attached(routed, &self.config.route);
        let route = match route {
            Ok(route) => route,
            Err(e) => {
                let mut resp = Response::text(e.status(), &e.to_string());
                if let route::RouteError::MethodNotAllowed { allow, .. } = &e {
                    resp.headers.push(("allow".into(), allow.join(", ")));
                }
                return Decision::Respond(resp);
            }
        };
        if let Err(resp) = self.policy.check_route(&admission, &route, now) {
            return Decision::Respond(resp);
        }
        let namespaced =
            |key: &StoreKey| StoreKey::trusted(format!("{}{}", admission.namespace, key));
        let proven = admission.identity_mac.is_some() && admission.identity_mac == route.mac();
        let access = Access {
            namespace: admission.namespace.clone(),
            tenant: admission.tenant_name.clone(),
            token: admission.token.clone(),
            identity: admission.identity_mac,
            secret_vars: self.policy.secret_vars(&admission).into(),
        };
        let job = |route: Route, goal: Goal| {
            Job::new(
                route,
                Arc::clone(&prelude),
                &self.config.route,
                Conditions::of(req),
                access.clone(),
                goal,
                Arc::clone(&self.settings),
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
                    tenant: None,
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
                tenant: None,
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
            // The target and its syntax come from the route's prelude, worked out once for
            // the route (and kept for its job).
            Mode::Serve
                if route.kind() != Kind::Checksum
                    && prelude
                        .start(&route, &self.config.route)
                        .and_then(|s| s.syntax())
                        .is_none() =>
            {
                // A device's stored file under URL tokens passes the same token check as a
                // rendered one, against its record.
                if route.scope() == crate::Scope::Device && admission.token != Token::NotUsed {
                    return job(route, Goal::Stream);
                }
                Decision::Stream(Stream {
                    tenant: None,
                    key: namespaced(route.key()),
                    content_type: static_content_type(route.file()),
                    device: route.mac().filter(|_| proven),
                    conditions: Conditions::of(req),
                    route,
                })
            }
            Mode::Serve if route.kind() == Kind::Checksum => {
                // The checksum of a large stored file (firmware, tones) is summed by the host
                // as it reads the file; a rendered file's (or a device's) goes through the job.
                match prelude.start(&route, &self.config.route) {
                    Some(start)
                        if start.syntax().is_none()
                            && start.target().scope() != crate::Scope::Device =>
                    {
                        Decision::Checksum(Checksum {
                            tenant: None,
                            key: namespaced(start.target().key()),
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

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    /// Runs a request over an in-memory store through [`Engine::run`], the one sync loop.
    fn drive(engine: &Engine, req: &Request, store: &[(&str, &[u8])]) -> Response {
        let read = |k: &StoreKey| {
            store
                .iter()
                .find(|(name, _)| *name == k.as_str())
                .map_or(Lookup::Missing, |(_, b)| Lookup::Found((*b).into()))
        };
        match engine.run(req, NOW, read) {
            Decision::Respond(r) => r,
            other => panic!("expected a response, got {other:?}"),
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
        let Decision::Fetch(f) = engine.handle(&Request::get("/cfg.xml"), NOW) else {
            panic!()
        };
        let failed = f
            .keys()
            .iter()
            .map(|k| (k.clone(), Lookup::Failed("connection refused".into())))
            .collect::<Vec<_>>();
        let Decision::Respond(r) = f.resume(&engine, failed) else {
            panic!()
        };
        assert_eq!(r.status, 503);
        assert!(!String::from_utf8_lossy(&r.body).contains("refused"));
    }

    #[test]
    fn rewrite_mode_forwards_to_the_canonical_key() {
        let engine =
            Engine::new(Config::from_json(r#"{"mode":{"rewrite":{"prefix":"/store/"}}}"#).unwrap())
                .unwrap();
        let Decision::Rewrite(r) =
            engine.handle(&Request::get("/provision/ALGOM0022ee123456.conf"), NOW)
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
        let Decision::Respond(r) = Engine::default().handle(&req, NOW) else {
            panic!()
        };
        assert_eq!(r.status, 403);
    }
}
