//! The operator's endpoints, `/metrics` and `/healthz`, and the listener of their own
//! (`server.admin_listen`) that keeps them away from the phones.
//!
//! Metrics tell whoever reads them which vendors and files this server provisions, how many
//! requests fail and how busy it is: nothing a phone needs, and a map for a scanner. So:
//!
//! | | `/metrics` | `/healthz` |
//! |---|---|---|
//! | with `admin_listen` | there only (with `metrics_token` set, it is asked for there too) | there only |
//! | without, `metrics_token` set | phone listeners, to `Authorization: Bearer <token>` only | phone listeners |
//! | without, no token | nowhere | phone listeners |
//!
//! On the phone listeners a request the table does not admit is the engine's, as any unknown
//! file (404, logged). The admin listener answers nothing else (404), and a missing or wrong
//! token there is a 401 with a `Bearer` challenge, since only operators' tools reach it.
//! Neither endpoint is logged or counted: a scrape every few seconds would drown the phones'
//! lines. `/healthz` says only `ok`, so it stays on the phone listener by default, where a load
//! balancer probes.
//!
//! The admin listener also serves the fleet pages, `/fleet` and `/fleet/device/<mac>`
//! ([`super::fleet`]): there only, to `metrics_token` when it is set (as `Bearer`, or as the
//! password of `Basic` credentials so a browser can log in).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::header;
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Method;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::http::{respond, Body, State};
use super::metrics::Gauges;

/// Connections the admin listener serves at once: scrapers and probes, a handful.
const ADMIN_CONNECTIONS: usize = 16;

/// Which listener a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// The phones' (plain and TLS).
    Phones,
    /// `server.admin_listen`.
    Admin,
}

/// What the operator endpoints make of a request.
enum Answer {
    /// Not theirs to answer.
    Pass,
    /// `/metrics` on the admin listener without the configured token.
    Unauthorized,
    Health,
    Metrics,
}

fn decide(state: &State, parts: &Parts, at: Listener) -> Answer {
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return Answer::Pass;
    }
    let config = &state.config;
    let admin_listener = config.admin_listen.is_some();
    match (parts.uri.path(), at) {
        ("/healthz", Listener::Admin) => Answer::Health,
        ("/healthz", Listener::Phones) if !admin_listener => Answer::Health,
        ("/metrics", _) if config.metrics => {
            let token = config.metrics_token.as_ref();
            let credentials = parts
                .headers
                .get(header::AUTHORIZATION)
                .map(|v| v.as_bytes());
            let admitted = token.is_some_and(|t| t.admits(credentials));
            match at {
                Listener::Admin if token.is_none() || admitted => Answer::Metrics,
                Listener::Admin => Answer::Unauthorized,
                Listener::Phones if !admin_listener && admitted => Answer::Metrics,
                Listener::Phones => Answer::Pass,
            }
        }
        _ => Answer::Pass,
    }
}

/// The answer of `/healthz` or `/metrics` when the request is theirs on listener `at`;
/// `None` hands it to the engine.
pub fn answer(state: &State, parts: &Parts, at: Listener) -> Option<hyper::Response<Body>> {
    let head = parts.method == Method::HEAD;
    match decide(state, parts, at) {
        Answer::Pass => None,
        Answer::Health => Some(respond(provedge::Response::text(200, "ok"), head)),
        Answer::Metrics => Some(metrics(state, head)),
        Answer::Unauthorized => {
            let mut resp = provedge::Response::text(401, "unauthorized");
            resp.headers
                .push(("www-authenticate".into(), "Bearer realm=\"metrics\"".into()));
            Some(respond(resp, head))
        }
    }
}

/// `/metrics`, in the Prometheus text format.
fn metrics(state: &State, head: bool) -> hyper::Response<Body> {
    let mut resp = provedge::Response::text(200, "");
    resp.headers = vec![(
        "content-type".into(),
        "text/plain; version=0.0.4; charset=utf-8".into(),
    )];
    let (store_cache_files, store_cache_bytes) = state.store.usage();
    resp.body = state
        .metrics
        .render_text(&Gauges {
            store_cache_files,
            store_cache_bytes,
            render_cache_files: state.engine.load().renders().len(),
            log_lines_dropped: state.log.dropped(),
            last_seen_written: state.last_seen.written(),
            last_seen_dropped: state.last_seen.dropped(),
            checksum_cache_files: state.checksums.len(),
            uploads_bytes: state.store.uploads_stored(),
        })
        .into_bytes();
    respond(resp, head)
}

/// The admin listener's service: the operator endpoints and the fleet pages, 404 for anything
/// else.
async fn handle(
    state: Arc<State>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Body>, Infallible> {
    let (parts, _) = req.into_parts();
    if let Some(resp) = answer(&state, &parts, Listener::Admin) {
        return Ok(resp);
    }
    let engine = state.engine.load_full();
    if let Some(resp) = super::fleet::answer(&super::fleet::site(&state, &engine), &parts).await {
        return Ok(resp);
    }
    Ok(respond(provedge::Response::text(404, "not found"), false))
}

/// Serves the admin listener until shutdown; connections still open then are dropped (a scrape
/// is short, and nothing is lost with it).
pub async fn run(
    listener: std::net::TcpListener,
    state: Arc<State>,
    builder: http1::Builder,
    mut stopping: watch::Receiver<bool>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("admin listener: {e}");
            return;
        }
    };
    let limit = Arc::new(Semaphore::new(ADMIN_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&limit).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = super::stopped(&mut stopping) => break,
        };
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    eprintln!("admin accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = super::stopped(&mut stopping) => break,
        };
        while connections.try_join_next().is_some() {}
        let service_state = Arc::clone(&state);
        let service = service_fn(move |req| handle(Arc::clone(&service_state), req));
        let conn = builder.serve_connection(TokioIo::new(tcp), service);
        connections.spawn(async move {
            let _permit = permit;
            let _ = conn.await;
        });
    }
}
