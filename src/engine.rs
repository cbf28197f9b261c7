//! The sans-IO engine: a request goes in, a [`Decision`] comes out.
//!
//! The host drives it like a rustls connection: call [`Engine::handle`]; if the decision is
//! [`Decision::Fetch`], read the listed store keys however the host reads (a folder, Workers
//! KV, `dispatch_http_call`), then [`Fetch::resume`] with what it got. Resuming may ask for more
//! keys (a device record first, its templates next), so hosts loop until they get
//! [`Decision::Respond`] or [`Decision::Rewrite`]. The engine holds no clock, socket or file.

use serde::Deserialize;

use crate::key::StoreKey;
use crate::pipeline::{Job, Step};
use crate::render::{Caches, RenderCache, TemplateCache};
use crate::request::Request;
use crate::route::{self, Kind, Route, RouteConfig};

/// How the engine answers recognised requests.
///
/// In JSON: `"mode": "serve"` or `"mode": {"rewrite": {"prefix": "/store"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Mode {
    /// Answer from the store: fetch the canonical key and respond with it.
    Serve,
    /// Rewrite the request to `<prefix>/<canonical key>` and let the host pass it on.
    Rewrite { prefix: String },
}

impl Default for Mode {
    fn default() -> Mode {
        Mode::Serve
    }
}

/// Engine configuration: parsed and checked once (at start, or in proxy-wasm's `on_configure`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub route: RouteConfig,
    pub mode: Mode,
}

impl Config {
    /// Parses a JSON configuration, naming the offending key on error.
    pub fn from_json(text: &str) -> Result<Config, String> {
        serde_json::from_str(text).map_err(|e| format!("configuration: {e}"))
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
}

impl Response {
    /// A 200 with a strong ETag computed from exactly these bytes.
    pub fn ok(body: Vec<u8>, content_type: &str) -> Response {
        let etag = etag(&body);
        Response::ok_tagged(body, content_type, etag)
    }

    /// A 200 whose ETag is already known (from the render cache).
    pub(crate) fn ok_tagged(body: Vec<u8>, content_type: &str, etag: String) -> Response {
        Response {
            status: 200,
            headers: vec![
                ("content-type".into(), content_type.into()),
                ("etag".into(), etag),
            ],
            body,
            note: None,
        }
    }

    /// A fault on our side: a 5xx with no body, and `note` for the log.
    pub fn fault(status: u16, note: String) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            note: Some(note),
        }
    }

    /// A plain-text refusal or error. `reason` must not hold secrets; callers pass messages
    /// built from the route stage, which quotes only file names.
    pub fn text(status: u16, reason: &str) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: format!("{reason}\n").into_bytes(),
            note: None,
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
    /// The route it was made for, for logs and metrics.
    pub route: Route,
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
    keys: Vec<StoreKey>,
    job: Job,
}

impl Fetch {
    /// The keys to read (all of them can be read in parallel).
    pub fn keys(&self) -> &[StoreKey] {
        &self.keys
    }

    /// The recognised request.
    pub fn route(&self) -> &Route {
        self.job.route()
    }

    /// Continues with what the host read; `lookup` is asked once per key in [`Fetch::keys`].
    pub fn resume(self, engine: &Engine, mut lookup: impl FnMut(&StoreKey) -> Lookup) -> Decision {
        let Fetch { keys, mut job } = self;
        for key in keys {
            let found = lookup(&key);
            job.record(key, found);
        }
        engine.advance(job)
    }
}

/// The provisioning engine. Cheap to share: hosts build one per process or VM.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    config: Config,
    caches: Caches,
}

impl Engine {
    pub fn new(config: Config) -> Engine {
        Engine {
            config,
            caches: Caches::default(),
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

    fn advance(&self, job: Job) -> Decision {
        match job.step(&self.caches) {
            Step::Need(keys) => Decision::Fetch(Fetch { keys, job }),
            Step::Done(resp) => Decision::Respond(resp),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles a request to the end with a synchronous store reader: the whole host loop for
    /// hosts that can block (the native CLI, tests). Returns a `Respond` or a `Rewrite`.
    pub fn run(&self, req: &Request, mut read: impl FnMut(&StoreKey) -> Lookup) -> Decision {
        let mut decision = self.handle(req);
        while let Decision::Fetch(fetch) = decision {
            decision = fetch.resume(self, &mut read);
        }
        decision
    }

    /// Starts handling a request.
    pub fn handle(&self, req: &Request) -> Decision {
        let route = match route::route(req, &self.config.route) {
            Ok(route) => route,
            Err(e) => {
                let mut resp = Response::text(e.status(), &e.to_string());
                if let route::RouteError::MethodNotAllowed { allow, .. } = &e {
                    resp.headers.push(("allow".into(), allow.join(", ")));
                }
                return Decision::Respond(resp);
            }
        };
        // Until the policy stage lands (issue 5), a MAC conflict is refused outright: serving a
        // device file to a phone that says it is another device is never right.
        if route.mac_conflict().is_some() {
            return Decision::Respond(Response::text(403, "forbidden"));
        }
        if route.kind() == Kind::Upload {
            return Decision::Respond(Response::text(501, "uploads are not accepted yet"));
        }
        match &self.config.mode {
            Mode::Rewrite { prefix } => Decision::Rewrite(Rewrite {
                target: format!("{}/{}", prefix.trim_end_matches('/'), route.key()),
                route,
            }),
            Mode::Serve => match Job::new(route, &self.config.route) {
                Ok(job) => self.advance(job),
                Err(resp) => Decision::Respond(resp),
            },
        }
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
