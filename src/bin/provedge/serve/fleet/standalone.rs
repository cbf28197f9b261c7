//! `provedge fleet [--store DIR|URL | --kv-namespace-id ID …] [--listen ADDR] [--config FILE]`:
//! the fleet pages over a store, read-only, on a listener of their own (default
//! `127.0.0.1:8090`).
//!
//! For a store no running `provedge serve` watches: a Worker deployment's KV namespace (read
//! through wrangler, [`super::kv`]), an S3 bucket or HTTP server a fleet writes its last-seen
//! records to, or a server's store read from another machine. The store is opened as `serve`
//! opens it (the same `--config` file: `server.s3`, `server.origin`, `server.last_seen_dir`,
//! the engine's tenants), and the pages are the admin listener's, without the recent fetches
//! only a running server remembers. With `server.metrics_token` set they ask for it, as on the
//! admin listener. Prints `listening on ADDR` once bound; stops on SIGTERM or Ctrl-C.

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
use super::data::{Site, Source};
use super::kv::KvStore;
use crate::store_push::wrangler::Wrangler;

/// Connections served at once: an operator's browser or two.
const CONNECTIONS: usize = 16;

/// Values a KV page may keep per device it reads (a record and a last-seen record, and the
/// variables of a few device pages), beyond a floor for small fleets.
const KV_VALUES_PER_DEVICE: usize = 4;
const KV_VALUES_FLOOR: usize = 1024;

/// What the pages read, owned for the life of the command.
struct Fleet {
    data: Data,
    policy: provedge::policy::PolicyConfig,
    server: ServerConfig,
}

/// Where the records are: a store and the folder of last-seen records, or a Worker's KV.
enum Data {
    Store {
        store: Store,
        last_seen_dir: Option<PathBuf>,
    },
    Kv(KvStore),
}

impl Fleet {
    fn site(&self) -> Site<'_> {
        let source = match &self.data {
            Data::Store {
                store,
                last_seen_dir,
            } => Source::Store {
                store,
                last_seen_dir: last_seen_dir.as_deref(),
            },
            Data::Kv(kv) => Source::Kv(kv),
        };
        Site {
            source,
            policy: &self.policy,
            settings: &self.server.fleet,
            recent: None,
            token: self.server.metrics_token.as_ref(),
        }
    }
}

/// Where `provedge fleet` reads: `--store` (a folder or origin), or a KV namespace through
/// wrangler with how long its answers are kept.
pub enum Origin<'a> {
    Store(Option<&'a Path>),
    Kv { wrangler: Wrangler, cache: Duration },
}

/// Runs `provedge fleet`; exit code 2 for a store or configuration refused at start.
pub fn run(origin: Origin<'_>, listen: SocketAddr, config: Option<&Path>) -> ExitCode {
    match start(origin, listen, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn start(origin: Origin<'_>, listen: SocketAddr, config: Option<&Path>) -> Result<(), String> {
    let (engine, mut server) = config::load(config)?;
    // The command is the page: `server.fleet.enabled` is for the admin listener.
    server.fleet.enabled = true;
    let data = match origin {
        Origin::Store(store) => {
            let store = Store::open(store, &server)?;
            let last_seen_dir = server.last_seen_dir.clone().or_else(|| store.folder());
            Data::Store {
                store,
                last_seen_dir,
            }
        }
        Origin::Kv { wrangler, cache } => {
            let values = server
                .fleet
                .max_devices
                .saturating_mul(KV_VALUES_PER_DEVICE)
                .saturating_add(KV_VALUES_FLOOR);
            Data::Kv(KvStore::new(wrangler, cache, values)?)
        }
    };
    let fleet = Arc::new(Fleet {
        data,
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
        if let Data::Kv(kv) = &fleet.data {
            // A namespace wrangler cannot read (not logged in, a wrong id) is refused here, not
            // on every page; the listing is kept for the first page.
            kv.keys("devices/")
                .await
                .map_err(|e| format!("{}: {e}", kv.describe()))?;
        }
        eprintln!("listening on {bound}");
        if let Data::Kv(kv) = &fleet.data {
            eprintln!("reading {} through wrangler", kv.describe());
        }
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
