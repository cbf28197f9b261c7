//! provedge as a Cloudflare Worker: the sans-IO core over Workers KV and R2.
//!
//! The store is the KV namespace bound as `STORE` and the R2 bucket bound as `BUCKET`, both
//! optional, keys exactly as the core names them (e.g. `grandstream/cfg000b82123456.xml`), each
//! in KV or R2 as [`provedge::store::placement`] says. The configuration is the JSON document in
//! the `PROVEDGE_CONFIG` variable, `{"engine": {…}, "worker": {…}}` ([`settings`]; defaults when
//! unset). In rewrite and nginx-rules modes the rewritten request goes to `PROVEDGE_UPSTREAM` (an
//! origin URL such as `https://pbx.example.com`), or, when that is unset, to the request's own
//! origin: behind a Workers route that is the zone's origin server.
//!
//! The engine (with its template and render caches) and the Worker's cache of store values
//! live as long as the isolate and are rebuilt only when the configuration text changes. Store
//! reads go through the isolate's cache and the colo's Cache API, keyed by the store's
//! generation, so that a steady request reads at most one KV key ([`reads`]); stored files
//! stream from R2 with the ranges and validators the core decides. Request bodies (uploads, and
//! what rewritten requests carry on) are bounded by the engine's `uploads.max_bytes` before and
//! while they are read ([`body`]); a client certificate is an identity only when Cloudflare
//! verified it and it is not revoked ([`identity`]). Per-client rate limits are the core's, per
//! isolate; with a Workers Rate Limiting binding `RATE_LIMIT` they also hold across isolates
//! and colos (`shared_limit`).
//!
//! The adapter logic that does not need the Workers runtime ([`core_request`], [`upstream_url`],
//! [`body`], [`identity`], [`reads`], [`settings`]) is plain Rust and tested natively; the
//! runtime glue (`entry`, `reader`, `stores`) is compiled for wasm32 only, built by `scripts/build-worker`
//! and run in workerd by `tests/worker_workerd.rs`.

pub mod body;
#[cfg(target_arch = "wasm32")]
mod cipher;
#[cfg(target_arch = "wasm32")]
mod entry;
pub mod identity;
#[cfg(target_arch = "wasm32")]
mod reader;
pub mod reads;
pub mod settings;
#[cfg(target_arch = "wasm32")]
mod shared_limit;
#[cfg(target_arch = "wasm32")]
mod stores;

use provedge::{Method, Request};

/// Builds the core's request from what the Workers runtime gives: method, URL path and query,
/// and header pairs. The peer is `CF-Connecting-IP`: Cloudflare sets it to the address the
/// connection came from and overwrites any value a client sends, so it is the Worker's view of
/// the socket peer (CIDR lists and per-client limits read it as the other hosts read theirs).
pub fn core_request(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: impl IntoIterator<Item = (String, String)>,
) -> Request {
    let target = match query {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    };
    let headers: Vec<(String, String)> = headers.into_iter().collect();
    let peer = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("cf-connecting-ip"))
        .and_then(|(_, v)| v.trim().parse().ok());
    Request {
        method: Method::parse(method),
        target,
        headers,
        peer,
        client_identity: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_requests_become_core_requests() {
        let r = core_request(
            "GET",
            "/app/provision/",
            Some("mac=0004f2123456"),
            [("user-agent".to_string(), "x".to_string())],
        );
        assert_eq!(r.target, "/app/provision/?mac=0004f2123456");
        assert_eq!(r.peer, None);
        let from = core_request(
            "GET",
            "/cfg.xml",
            None,
            [("CF-Connecting-IP".to_string(), "2001:db8::7".to_string())],
        );
        assert_eq!(from.peer, "2001:db8::7".parse().ok());
        assert_eq!(r.user_agent(), Some("x"));
        assert_eq!(
            core_request("HEAD", "/cfg.xml", Some(""), []).target,
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
