//! provedge as a Cloudflare Worker: the sans-IO core over Workers KV.
//!
//! The store is the KV namespace bound as `STORE` (keys exactly as the core names them, e.g.
//! `grandstream/cfg000b82123456.xml`); the engine configuration is the JSON in the
//! `PROVEDGE_CONFIG` variable (default configuration when unset). The adapter logic that does
//! not need the Workers runtime ([`core_request`]) is plain Rust and tested natively; the
//! runtime glue is compiled for wasm32 only.

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

#[cfg(target_arch = "wasm32")]
mod worker_entry {
    use provedge::{Config, Decision, Engine, Lookup};
    use worker::{event, Context, Env, Headers, Response, Result};

    #[event(fetch)]
    async fn fetch(mut req: worker::Request, env: Env, _ctx: Context) -> Result<Response> {
        let config = match env.var("PROVEDGE_CONFIG") {
            Ok(v) => match Config::from_json(&v.to_string()) {
                Ok(c) => c,
                Err(e) => {
                    worker::console_error!("provedge: {e}");
                    return Ok(Response::error("misconfigured", 500)?);
                }
            },
            Err(_) => Config::default(),
        };
        let engine = Engine::new(config);
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
                    let target = url.join(&rewrite.target)?;
                    return worker::Fetch::Url(target).send().await;
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
}
