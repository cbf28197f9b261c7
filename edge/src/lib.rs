//! provedge as a Cloudflare Worker: the sans-IO core over Workers KV.
//!
//! The store is the KV namespace bound as `STORE` (keys exactly as the core names them, e.g.
//! `grandstream/cfg000b82123456.xml`); the engine configuration is the JSON in the
//! `PROVEDGE_CONFIG` variable (default configuration when unset). In rewrite and nginx-rules
//! modes the rewritten request goes to `PROVEDGE_UPSTREAM` (an origin URL such as
//! `https://pbx.example.com`), or, when that is unset, to the request's own origin: behind a
//! Workers route that is the zone's origin server.
//!
//! The engine (with its template and render caches) lives as long as the isolate and is rebuilt
//! only when the configuration text changes. The adapter logic that does not need the Workers
//! runtime ([`core_request`], [`upstream_url`]) is plain Rust and tested natively; the runtime
//! glue is compiled for wasm32 only, built by `scripts/build-worker` and run in workerd by
//! `tests/worker_workerd.rs`.

use provedge::{Method, Request};

/// Builds the core's request from what the Workers runtime gives: method, URL path and query,
/// and header pairs.
pub fn core_request(
    now: Option<u64>,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: impl IntoIterator<Item = (String, String)>,
) -> Request {
    let target = match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    };
    Request {
        method: Method::parse(method),
        target,
        headers: headers.into_iter().collect(),
        peer: None,
        client_identity: None,
        now,
    }
}

/// Where a rewritten request goes: the target (path and query, from the core) on the configured
/// upstream origin, or on the request's own origin when none is configured.
pub fn upstream_url(upstream: Option<&str>, request_origin: &str, target: &str) -> String {
    let origin = upstream.unwrap_or(request_origin).trim_end_matches('/');
    if target.starts_with('/') {
        format!("{origin}{target}")
    } else {
        format!("{origin}/{target}")
    }
}

#[cfg(target_arch = "wasm32")]
mod worker_entry {
    use std::cell::RefCell;
    use std::rc::Rc;

    use provedge::{Config, Decision, Engine, Lookup};
    use worker::{event, Context, Env, Headers, RequestInit, Response, Result};

    thread_local! {
        /// The isolate's engine and the configuration text it was built from.
        static ENGINE: RefCell<Option<(String, Rc<Engine>)>> = const { RefCell::new(None) };
    }

    /// The engine for this configuration text, built once per isolate (and again only when the
    /// text changes), so compiled templates and rendered files are reused across requests.
    fn engine_for(text: Option<String>) -> std::result::Result<Rc<Engine>, String> {
        let text = text.unwrap_or_default();
        ENGINE.with(|cell| {
            if let Some((cached, engine)) = cell.borrow().as_ref() {
                if *cached == text {
                    return Ok(Rc::clone(engine));
                }
            }
            let config = if text.is_empty() {
                Config::default()
            } else {
                Config::from_json(&text)?
            };
            let engine = Rc::new(Engine::new(config));
            *cell.borrow_mut() = Some((text, Rc::clone(&engine)));
            Ok(engine)
        })
    }

    #[event(fetch)]
    async fn fetch(mut req: worker::Request, env: Env, _ctx: Context) -> Result<Response> {
        let engine = match engine_for(env.var("PROVEDGE_CONFIG").ok().map(|v| v.to_string())) {
            Ok(engine) => engine,
            Err(e) => {
                worker::console_error!("provedge: {e}");
                return Response::error("misconfigured", 500);
            }
        };
        let upstream = env.var("PROVEDGE_UPSTREAM").ok().map(|v| v.to_string());
        let url = req.url()?;
        let request = super::core_request(
            Some((worker::Date::now().as_millis() / 1000) as u64),
            &req.method().to_string(),
            url.path(),
            url.query(),
            req.headers().entries(),
        );
        // Workers terminates mutual TLS itself: a verified client certificate (cf.tlsClientAuth,
        // certVerified == "SUCCESS") is the host-provided identity the policy stage trusts.
        let mut request = request;
        if let Some(auth) = req.cf().and_then(|cf| cf.tls_client_auth()) {
            if auth.cert_verified() == "SUCCESS" {
                request.client_identity = Some(provedge::ClientIdentity {
                    subject: auth.cert_subject_dn_rfc2253(),
                    san: Vec::new(),
                });
            }
        }
        let store = env.kv("STORE")?;
        let mut decision = engine.handle(&request);
        loop {
            match decision {
                Decision::Respond(resp) => {
                    let headers = Headers::new();
                    for (name, value) in &resp.headers {
                        headers.set(name, value)?;
                    }
                    return Ok(Response::from_bytes(resp.body)?
                        .with_status(resp.status)
                        .with_headers(headers));
                }
                Decision::Rewrite(rewrite) => {
                    let origin = url.origin().ascii_serialization();
                    let target = super::upstream_url(upstream.as_deref(), &origin, &rewrite.target);
                    // The request goes on as the phone sent it (method, headers, body); only
                    // the URL changes, as with nginx's internal rewrite and proxy_pass.
                    let mut init = RequestInit::new();
                    init.with_method(req.method())
                        .with_headers(req.headers().clone());
                    let body = req.bytes().await.unwrap_or_default();
                    if !body.is_empty() {
                        init.with_body(Some(worker::js_sys::Uint8Array::from(&body[..]).into()));
                    }
                    let forwarded = worker::Request::new_with_init(&target, &init)?;
                    return worker::Fetch::Request(forwarded).send().await;
                }
                Decision::Stream(stream) => {
                    let lookup = match store.get(stream.key().as_str()).bytes().await {
                        Ok(Some(bytes)) => Lookup::Found(bytes),
                        Ok(None) => Lookup::Missing,
                        Err(e) => Lookup::Failed(e.to_string()),
                    };
                    decision = Decision::Respond(stream.respond(lookup));
                }
                Decision::Upload(upload) => {
                    let body = req.bytes().await?;
                    let outcome = if body.len() > upload.max_bytes() {
                        provedge::Stored::TooLarge
                    } else {
                        let replaced = store
                            .get(upload.key().as_str())
                            .bytes()
                            .await
                            .ok()
                            .flatten()
                            .is_some();
                        match store.put_bytes(upload.key().as_str(), &body) {
                            Ok(put) => match put.execute().await {
                                Ok(()) => provedge::Stored::Done { replaced },
                                Err(e) => provedge::Stored::Failed(e.to_string()),
                            },
                            Err(e) => provedge::Stored::Failed(e.to_string()),
                        }
                    };
                    decision = Decision::Respond(upload.finish(outcome));
                }
                Decision::Fetch(pending) => {
                    let mut found = Vec::new();
                    for key in pending.keys() {
                        let lookup = match store.get(key.as_str()).bytes().await {
                            Ok(Some(bytes)) => Lookup::Found(bytes),
                            Ok(None) => Lookup::Missing,
                            Err(e) => Lookup::Failed(e.to_string()),
                        };
                        found.push((key.clone(), lookup));
                    }
                    decision = pending.resume(&engine, |k| {
                        found
                            .iter()
                            .position(|(key, _)| key == k)
                            .map(|i| found.swap_remove(i).1)
                            .unwrap_or(Lookup::Failed("not fetched".into()))
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_requests_become_core_requests() {
        let r = core_request(
            None,
            "GET",
            "/app/provision/",
            Some("mac=0004f2123456"),
            [("user-agent".to_string(), "x".to_string())],
        );
        assert_eq!(r.target, "/app/provision/?mac=0004f2123456");
        assert_eq!(r.user_agent(), Some("x"));
        assert_eq!(
            core_request(None, "HEAD", "/cfg.xml", Some(""), []).target,
            "/cfg.xml"
        );
    }

    #[test]
    fn rewritten_requests_go_to_the_upstream_or_the_own_origin() {
        let target = "/app/provision/index.php?mac=001565123456";
        assert_eq!(
            upstream_url(Some("http://127.0.0.1:8099/"), "https://p.example", target),
            "http://127.0.0.1:8099/app/provision/index.php?mac=001565123456"
        );
        assert_eq!(
            upstream_url(None, "https://p.example", "yealink/001565123456.cfg"),
            "https://p.example/yealink/001565123456.cfg"
        );
    }
}
