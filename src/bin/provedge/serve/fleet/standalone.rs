//! `provedge fleet [--store DIR|URL] [--listen ADDR] [--config FILE]`: the fleet pages over a
//! store, read-only, on a listener of their own (default `127.0.0.1:8090`).
//!
//! For a store no running `provedge serve` watches: a Worker deployment's records copied into
//! a folder, an S3 bucket or HTTP server a fleet writes its last-seen records to, or a server's
//! store read from another machine. The store is opened as `serve` opens it (the same
//! `--config` file: `server.s3`, `server.origin`, `server.last_seen_dir`, the engine's tenants),
//! and the pages are the admin listener's, without the recent fetches only a running server
//! remembers. With `server.metrics_token` set they ask for it, as on the admin listener.
//! Prints `listening on ADDR` once bound; stops on SIGTERM or Ctrl-C.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::super::config::{self, ServerConfig};
use super::super::http::{respond, Body};
use super::super::stores::Store;
use super::data::Site;

/// Connections served at once: an operator's browser or two.
const CONNECTIONS: usize = 16;

/// What the pages read, owned for the life of the command.
struct Fleet {
    store: Store,
    last_seen_dir: Option<PathBuf>,
    policy: provedge::policy::PolicyConfig,
    server: ServerConfig,
}

impl Fleet {
    fn site(&self) -> Site<'_> {
        Site {
            store: &self.store,
            last_seen_dir: self.last_seen_dir.as_deref(),
            policy: &self.policy,
            settings: &self.server.fleet,
            recent: None,
            token: self.server.metrics_token.as_ref(),
        }
    }
}

/// Runs `provedge fleet`; exit code 2 for a store or configuration refused at start.
pub fn run(store: Option<&Path>, listen: SocketAddr, config: Option<&Path>) -> ExitCode {
    match start(store, listen, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn start(store: Option<&Path>, listen: SocketAddr, config: Option<&Path>) -> Result<(), String> {
    let (engine, mut server) = config::load(config)?;
    // The command is the page: `server.fleet.enabled` is for the admin listener.
    server.fleet.enabled = true;
    let store = Store::open(store, &server)?;
    let last_seen_dir = server.last_seen_dir.clone().or_else(|| store.folder());
    let fleet = Arc::new(Fleet {
        store,
        last_seen_dir,
        policy: engine.policy,
        server,
    });
    let listener = super::super::bind(listen)?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("{listen}: {e}"))?;
    let rt = super::super::runtime()?;
    rt.block_on(async move {
        let shutdown = super::super::shutdown_signal()?;
        let listener = TcpListener::from_std(listener).map_err(|e| format!("{bound}: {e}"))?;
        eprintln!("listening on {bound}");
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(fleet.server.header_read_timeout())
            .keep_alive(true);
        let limit = Arc::new(Semaphore::new(CONNECTIONS));
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                permit = Arc::clone(&limit).acquire_owned() => permit.map_err(|e| e.to_string())?,
                () = &mut shutdown => break,
            };
            let tcp = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(e) => {
                        eprintln!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let fleet = Arc::clone(&fleet);
            let service = service_fn(move |req| handle(Arc::clone(&fleet), req));
            let conn = builder.serve_connection(TokioIo::new(tcp), service);
            tokio::spawn(async move {
                let _permit = permit;
                let _ = conn.await;
            });
        }
        eprintln!("stopped");
        Ok::<(), String>(())
    })?;
    rt.shutdown_timeout(Duration::from_millis(200));
    Ok(())
}

/// The fleet pages; `/` leads to them; anything else is 404.
async fn handle(
    fleet: Arc<Fleet>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Body>, Infallible> {
    let (parts, _) = req.into_parts();
    if let Some(resp) = super::answer(&fleet.site(), &parts).await {
        return Ok(resp);
    }
    let resp = if parts.uri.path() == "/" {
        let mut resp = provedge::Response::text(302, "see /fleet");
        resp.headers.push(("location".into(), "/fleet".into()));
        resp
    } else {
        provedge::Response::text(404, "not found")
    };
    Ok(respond(resp, parts.method == hyper::Method::HEAD))
}
