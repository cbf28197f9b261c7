//! provedge as a proxy-wasm HTTP filter (Envoy `envoy.filters.http.wasm`, nginx with Kong's
//! ngx_wasm_module).
//!
//! A thin host over the sans-IO core: the root context parses the JSON plugin configuration
//! once in `on_configure` (a bad one stops the filter from starting); each HTTP context turns the
//! request headers into a [`provedge::Request`], asks the [`provedge::Engine`], and carries out
//! its [`provedge::Decision`]: answer locally, rewrite `:path` and continue, or fetch store keys
//! from the configured origin with `dispatch_http_call` (all keys of one step in parallel) and
//! resume the engine when every answer is in.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use provedge::{Decision, Engine, Fetch, Lookup, Method, Request, StoreKey};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use serde::Deserialize;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

/// Where the store's objects are fetched from.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Origin {
    /// Envoy cluster name, or `host:port` under ngx_wasm_module.
    upstream: String,
    /// `:authority` sent to the origin.
    #[serde(default = "default_authority")]
    authority: String,
    /// Path prefix of the store on the origin (`""` when keys sit at the root).
    #[serde(default)]
    prefix: String,
    /// Per-fetch timeout.
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

fn default_authority() -> String {
    "store".into()
}

fn default_timeout_ms() -> u64 {
    2000
}

/// The plugin configuration: the engine's configuration plus the origin.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginConfig {
    #[serde(default)]
    engine: provedge::Config,
    origin: Origin,
}

#[derive(Default)]
struct Root {
    shared: Option<Rc<(Engine, Origin)>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let raw = self.get_plugin_configuration().unwrap_or_default();
        match serde_json::from_slice::<PluginConfig>(&raw) {
            Ok(cfg) => {
                self.shared = Some(Rc::new((Engine::new(cfg.engine), cfg.origin)));
                true
            }
            Err(e) => {
                proxy_wasm::hostcalls::log(
                    LogLevel::Critical,
                    &format!("provedge: bad plugin configuration: {e}"),
                )
                .ok();
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let shared = self.shared.clone()?;
        Some(Box::new(Filter {
            shared,
            pending: None,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// A request paused on store reads: the engine's continuation and the answers so far.
struct Pending {
    fetch: Fetch,
    tokens: HashMap<u32, StoreKey>,
    answers: HashMap<StoreKey, Lookup>,
}

struct Filter {
    shared: Rc<(Engine, Origin)>,
    pending: Option<Pending>,
}

impl Filter {
    fn request(&self) -> Request {
        let mut method = Method::Get;
        let mut target = String::from("/");
        let mut headers = Vec::new();
        for (name, value) in self.get_http_request_headers() {
            match name.as_str() {
                ":method" => method = Method::parse(&value),
                ":path" => target = value,
                n if n.starts_with(':') => {}
                _ => headers.push((name, value)),
            }
        }
        Request {
            method,
            target,
            headers,
            peer: None,
            client_identity: None,
            now: self
                .get_current_time()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs()),
        }
    }

    /// Carries out a decision; returns whether the request may continue now.
    fn apply(&mut self, decision: Decision) -> Action {
        match decision {
            Decision::Respond(resp) => {
                let headers: Vec<(&str, &str)> = resp
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                self.send_http_response(u32::from(resp.status), headers, Some(&resp.body));
                Action::Pause
            }
            Decision::Rewrite(rewrite) => {
                self.set_http_request_header(":path", Some(&rewrite.target));
                Action::Continue
            }
            Decision::Fetch(fetch) => self.dispatch(fetch),
            // Large stored files are not buffered in the VM: the request goes on to the origin
            // for the stored key and the proxy streams the answer.
            Decision::Stream(stream) => {
                let path = format!(
                    "{}/{}",
                    self.shared.1.prefix.trim_end_matches('/'),
                    stream.key()
                );
                self.set_http_request_header(":path", Some(&path));
                Action::Continue
            }
            // Storing uploads from inside the proxy is not supported yet (issue 8): say so.
            Decision::Upload(_) => {
                self.send_http_response(
                    501,
                    vec![],
                    Some(b"uploads are not stored by the proxy filter\n"),
                );
                Action::Pause
            }
        }
    }

    fn dispatch(&mut self, fetch: Fetch) -> Action {
        let origin = &self.shared.1;
        let mut tokens = HashMap::new();
        for key in fetch.keys() {
            let path = format!("{}/{}", origin.prefix.trim_end_matches('/'), key);
            let call = self.dispatch_http_call(
                &origin.upstream,
                vec![
                    (":method", "GET"),
                    (":path", &path),
                    (":authority", &origin.authority),
                ],
                None,
                vec![],
                Duration::from_millis(origin.timeout_ms),
            );
            match call {
                Ok(token) => {
                    tokens.insert(token, key.clone());
                }
                Err(status) => {
                    proxy_wasm::hostcalls::log(
                        LogLevel::Error,
                        &format!(
                            "provedge: dispatch to {} failed: {status:?}",
                            origin.upstream
                        ),
                    )
                    .ok();
                    self.send_http_response(502, vec![], Some(b"store unreachable\n"));
                    return Action::Pause;
                }
            }
        }
        self.pending = Some(Pending {
            fetch,
            tokens,
            answers: HashMap::new(),
        });
        Action::Pause
    }
}

impl Context for Filter {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        _headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        let Some(mut pending) = self.pending.take() else {
            return;
        };
        let Some(key) = pending.tokens.remove(&token_id) else {
            self.pending = Some(pending);
            return;
        };
        let status = self.get_http_call_response_header(":status");
        let lookup = match status.as_deref() {
            Some("200") => Lookup::Found(
                self.get_http_call_response_body(0, body_size)
                    .unwrap_or_default(),
            ),
            Some("404") => Lookup::Missing,
            Some(other) => Lookup::Failed(format!("origin answered {other}")),
            None => Lookup::Failed("origin did not answer".into()),
        };
        pending.answers.insert(key, lookup);
        if !pending.tokens.is_empty() {
            self.pending = Some(pending);
            return;
        }
        let Pending {
            fetch, mut answers, ..
        } = pending;
        let shared = Rc::clone(&self.shared);
        let decision = fetch.resume(&shared.0, |k| {
            answers
                .remove(k)
                .unwrap_or(Lookup::Failed("no answer".into()))
        });
        if let Action::Continue = self.apply(decision) {
            self.resume_http_request();
        }
    }
}

impl HttpContext for Filter {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let request = self.request();
        let decision = self.shared.0.handle(&request);
        self.apply(decision)
    }
}
