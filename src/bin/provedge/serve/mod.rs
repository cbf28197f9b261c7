//! `provedge serve [--store DIR] [--listen ADDR] [--tls-listen ADDR] [--config FILE]`: the
//! native host.
//!
//! HTTP/1.1 on hyper and tokio over the same sans-IO engine as the wasm hosts. This module owns
//! the lifecycle: configuration (refused at start, naming the file and key; checked alone with
//! `--check`; read again on SIGHUP, [`reload`]), the listeners, the event loops, and graceful
//! shutdown on SIGTERM or Ctrl-C (stop accepting, let open requests finish within
//! `shutdown_grace_secs`, flush the log).
//!
//! One single-threaded tokio loop runs per core, as nginx runs a worker per core: the first
//! accepts and deals connections round-robin, and a connection then stays on its loop, so a
//! request never wakes another thread (measured here against tokio's work-stealing scheduler:
//! fewer context switches, a lower p99). Each connection is one task; `max_connections` bounds
//! them all, and `max_connections_per_ip` each client's share ([`client_connections`]). With
//! `server.tls` the first loop accepts on a second, HTTPS listener too; the TLS handshake then
//! runs on the loop the connection was dealt to. With `server.admin_listen` it serves the
//! operator endpoints there as well ([`admin`]).
//!
//! | module | what |
//! |---|---|
//! | [`config`] | the `{"engine": …, "server": …}` file |
//! | [`tls`] | the HTTPS listener's rustls configuration and handshake |
//! | [`cert_identity`] | a verified client certificate as the core's `ClientIdentity` |
//! | [`http`] | hyper glue: drives the engine's decisions for one request |
//! | [`admin`] | `/metrics` and `/healthz`, and the admin listener that keeps them from phones |
//! | [`fleet`] | the fleet pages (`/fleet`) on the admin listener, and `provedge fleet` |
//! | [`client_connections`] | the per-client connection cap |
//! | [`stores`] | what `--store` names: a folder, or an origin |
//! | [`store`] | the folder store: a bounded cache, rechecked against the files |
//! | [`origin_store`] | an HTTP or S3 origin store: reads, streams, sums and uploads through the core's origin cache and SigV4 |
//! | [`stream`] | stored files streamed as they are, with `Range` and metadata ETags |
//! | [`upload`] | phone uploads, size-capped, written atomically |
//! | [`upload_quota`] | the bytes all uploads may take in the store |
//! | [`proxy`] | rewrite mode: forwarding to `server.upstream` |
//! | [`logging`] | one JSON line per request on stdout |
//! | [`metrics`] | Prometheus `/metrics` |
//! | [`last_seen`] | a throttled per-device "last seen" record in the store |
//! | [`reload`] | SIGHUP: the configuration read again and put in force without a restart |
//!
//! Stderr carries lifecycle lines only: `listening on ADDR` once bound (tests and scripts wait
//! for it; with `--listen 127.0.0.1:0` it names the port the system chose), just before it
//! `listening with tls on ADDR` when `server.tls` is set and `admin listening on ADDR` when
//! `server.admin_listen` is, `reloaded FILE` (with the keys that wait for a restart) or
//! `reload failed, …` after a SIGHUP, `shutting down`, `stopped`, and start-up errors.

mod admin;
mod cert_identity;
mod checksum;
mod client_connections;
pub mod config;
mod fleet;
mod http;
mod last_seen;
mod logging;
mod metrics;
mod origin_store;
mod proxy;
mod reload;
mod store;
mod stores;
mod stream;
mod tls;
mod upload;
mod upload_quota;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use client_connections::{ClientConnections, ClientSlot};
use http::State;
use stores::Store;

pub use fleet::standalone::{run as run_fleet, Origin as FleetOrigin};

#[derive(clap::Args)]
pub struct Args {
    /// The store: a folder (default: examples/store), `http(s)://host[:port][/prefix]`, or
    /// `s3://bucket[/prefix]` (with `server.s3`).
    #[arg(long)]
    store: Option<PathBuf>,
    /// Address to listen on; port 0 lets the system choose (the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Address of the HTTPS listener (overrides `server.tls.listen`; needs `server.tls`).
    #[arg(long)]
    tls_listen: Option<SocketAddr>,
    /// A JSON configuration: {"engine": {…}, "server": {…}}. SIGHUP reads it again.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Check the configuration (the file, the engine it makes, the TLS files, the store's
    /// settings) and exit: 0 when the server would start with it, 2 naming what it refuses.
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args) -> ExitCode {
    match start(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn start(args: Args) -> Result<(), String> {
    // The file as read, and its `server` part as written: what a reload compares with.
    let (engine, mut server, started) = match &args.config {
        Some(path) => {
            let loaded = config::load_file(path)?;
            let started = (path.clone(), loaded.server_json);
            (loaded.engine, loaded.server, Some(started))
        }
        None => (
            provedge::Config::default(),
            config::ServerConfig::default(),
            None,
        ),
    };
    let tls = match (&mut server.tls, args.tls_listen) {
        (Some(tls), listen) => {
            tls.listen = listen.unwrap_or(tls.listen);
            let file = args
                .config
                .as_deref()
                .unwrap_or(std::path::Path::new("--config"));
            Some(tls::acceptor(tls).map_err(|e| format!("{}: {e}", file.display()))?)
        }
        (None, Some(_)) => return Err("--tls-listen: needs server.tls in the --config file".into()),
        (None, None) => None,
    };
    let store = Store::open(args.store.as_deref(), &server)?;
    let upstream = server
        .upstream
        .as_deref()
        .map(config::Upstream::parse)
        .transpose()?;
    let listeners: Vec<SocketAddr> = std::iter::once(args.listen)
        .chain(server.tls.as_ref().map(|tls| tls.listen))
        .collect();
    for warning in open_policy_warnings(&engine, &listeners) {
        eprintln!("{warning}");
    }
    let trusted_proxies = engine.policy.trusted_proxies.clone();
    let engine = provedge::Engine::new(engine).map_err(|e| e.within("engine").to_string())?;
    if args.check {
        let file = args
            .config
            .as_deref()
            .map_or_else(|| "the defaults".to_owned(), |p| p.display().to_string());
        eprintln!("{file}: configuration ok");
        return Ok(());
    }
    let reloader =
        started.map(|(path, server_json)| reload::Reloader::new(path, server_json, listeners));
    let last_seen_dir = server.last_seen_dir.clone().or_else(|| store.folder());
    let log = logging::AccessLog::start().map_err(|e| format!("access log: {e}"))?;
    let recent =
        fleet::recent::Recent::new(server.fleet.recent_fetches, server.fleet.recent_devices);
    let last_seen = last_seen::LastSeen::start(
        last_seen_dir,
        server.last_seen_interval_secs,
        server.last_seen_max_devices,
        recent,
    )
    .map_err(|e| format!("last-seen writer: {e}"))?;
    let clients = ClientConnections::new(server.max_connections_per_ip, trusted_proxies);
    let state = Arc::new(State {
        engine: ArcSwap::from_pointee(engine),
        store,
        log,
        metrics: metrics::Metrics::default(),
        last_seen,
        upstream,
        config: server,
        tls: tls.map(ArcSwap::from_pointee),
        checksums: Arc::new(checksum::Checksums::new(1024)),
        clients: Arc::new(clients),
    });
    state.metrics.configured(crate::unix_now());
    let tls_listener = match &state.config.tls {
        Some(tls) => {
            let listener = bind(tls.listen)?;
            let bound = listener
                .local_addr()
                .map_err(|e| format!("{}: {e}", tls.listen))?;
            Some((listener, bound))
        }
        None => None,
    };
    let admin_listener = match state.config.admin_listen {
        Some(addr) => {
            let at = |e: String| format!("server.admin_listen: {e}");
            let listener = bind(addr).map_err(at)?;
            let bound = listener
                .local_addr()
                .map_err(|e| at(format!("{addr}: {e}")))?;
            Some((listener, bound))
        }
        None => None,
    };
    let listener = bind(args.listen)?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("{}: {e}", args.listen))?;
    let limit = Arc::new(Semaphore::new(state.config.max_connections));
    let (stop, stopping) = watch::channel(false);
    let first = runtime()?;
    let shutdown = first.block_on(async { shutdown_signal() })?;
    // Before the server says it listens: from then on a SIGHUP reloads instead of ending it.
    #[cfg(unix)]
    let hangups = first.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        signal(SignalKind::hangup()).map_err(|e| format!("SIGHUP handler: {e}"))
    })?;
    let mut workers = Vec::new();
    let mut handoff = Vec::new();
    for n in 1..worker_count(&state.config) {
        let (to_worker, accepted) = mpsc::channel(64);
        handoff.push(to_worker);
        let (state, stopping) = (Arc::clone(&state), stopping.clone());
        let worker = std::thread::Builder::new()
            .name(format!("provedge-worker-{n}"))
            .spawn(move || match runtime() {
                Ok(rt) => {
                    rt.block_on(worker_loop(accepted, state, stopping));
                    rt.shutdown_timeout(Duration::from_millis(200));
                }
                Err(e) => eprintln!("worker {n}: {e}"),
            })
            .map_err(|e| format!("worker thread: {e}"))?;
        workers.push(worker);
    }
    if let Some((_, tls_bound)) = &tls_listener {
        eprintln!("listening with tls on {tls_bound}");
    }
    if let Some((_, admin_bound)) = &admin_listener {
        eprintln!("admin listening on {admin_bound}");
    }
    eprintln!("listening on {bound}");
    let listeners = Listeners {
        plain: listener,
        tls: tls_listener.map(|(listener, _)| listener),
    };
    first.block_on(async {
        tokio::spawn(async move {
            shutdown.await;
            eprintln!("shutting down");
            let _ = stop.send(true);
        });
        #[cfg(unix)]
        tokio::spawn(reload::on_hangup(
            reloader,
            Arc::clone(&state),
            hangups,
            stopping.clone(),
        ));
        #[cfg(not(unix))]
        drop(reloader);
        let admin = admin_listener.map(|(listener, _)| {
            let builder = http1_builder(&state);
            tokio::spawn(admin::run(
                listener,
                Arc::clone(&state),
                builder,
                stopping.clone(),
            ))
        });
        accept_loop(listeners, Arc::clone(&state), limit, stopping, handoff).await;
        if let Some(admin) = admin {
            let _ = admin.await;
        }
    });
    for worker in workers {
        let _ = worker.join();
    }
    // Connections still open past the grace period are dropped with the runtime.
    first.shutdown_timeout(Duration::from_millis(200));
    state.log.flush();
    eprintln!("stopped");
    Ok(())
}

/// A warning for each rule set that lets in anyone who names a MAC
/// ([`provedge::Config::admitting_anyone`]), when a phone listener is reachable
/// from beyond this host: on loopback (the default, a demo) there is nothing to say.
fn open_policy_warnings(engine: &provedge::Config, listeners: &[SocketAddr]) -> Vec<String> {
    let Some(public) = listeners.iter().find(|a| !a.ip().is_loopback()) else {
        return Vec::new();
    };
    engine
        .admitting_anyone()
        .into_iter()
        .map(|key| {
            let warning = provedge::policy::admitting_anyone_warning(&format!("engine.{key}"));
            format!("warning: {warning} ({public} is not loopback)")
        })
        .collect()
}

/// Event loops: one per core, each on its own thread, as nginx runs a worker per core. The
/// first loop accepts and deals connections round-robin; a connection then stays on its loop,
/// so a request never wakes another thread.
fn worker_count(config: &config::ServerConfig) -> usize {
    config
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))
}

/// The listening socket (address reuse on, a backlog for a building's phones booting at once).
fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, String> {
    let at = |e: std::io::Error| format!("{addr}: {e}");
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(at)?;
    socket.set_reuseaddr(true).map_err(at)?;
    socket.bind(addr).map_err(at)?;
    // `listen` needs a reactor to register with; the socket leaves it again right away.
    let rt = runtime()?;
    let _inside = rt.enter();
    let listener = socket.listen(1024).map_err(at)?;
    listener.into_std().map_err(at)
}

/// The bound sockets: plain HTTP, and HTTPS with `server.tls`.
struct Listeners {
    plain: std::net::TcpListener,
    tls: Option<std::net::TcpListener>,
}

/// Which listener a connection came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    Plain,
    Tls,
}

/// A connection's places under `max_connections` and `max_connections_per_ip`, held until it
/// ends.
struct Places {
    _total: OwnedSemaphorePermit,
    _client: ClientSlot,
}

/// A connection handed to another loop, with its places.
type Accepted = (std::net::TcpStream, SocketAddr, Via, Places);

/// Accepts on `listener`, or never without one.
async fn accept_on(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Accepts until shutdown, dealing connections round-robin to this loop and `handoff`'s.
async fn accept_loop(
    listeners: Listeners,
    state: Arc<State>,
    limit: Arc<Semaphore>,
    mut stopping: watch::Receiver<bool>,
    handoff: Vec<mpsc::Sender<Accepted>>,
) {
    let registered = TcpListener::from_std(listeners.plain).and_then(|plain| {
        let tls = listeners.tls.map(TcpListener::from_std).transpose()?;
        Ok((plain, tls))
    });
    let (listener, tls_listener) = match registered {
        Ok(listeners) => listeners,
        Err(e) => {
            eprintln!("listener: {e}");
            return;
        }
    };
    let builder = http1_builder(&state);
    let mut connections = JoinSet::new();
    let mut next = 0usize;
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&limit).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = stopped(&mut stopping) => break,
        };
        let (accepted, via) = tokio::select! {
            accepted = listener.accept() => (accepted, Via::Plain),
            accepted = accept_on(tls_listener.as_ref()) => (accepted, Via::Tls),
            () = stopped(&mut stopping) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(client) = state.clients.admit(peer.ip()) else {
            refuse(&state, tcp, peer);
            continue;
        };
        let places = Places {
            _total: permit,
            _client: client,
        };
        next = (next + 1) % (handoff.len() + 1);
        if let Some(worker) = next.checked_sub(1).and_then(|i| handoff.get(i)) {
            // The other loop registers it with its own reactor.
            if let Ok(tcp) = tcp.into_std() {
                let _ = worker.send((tcp, peer, via, places)).await;
            }
            continue;
        }
        while connections.try_join_next().is_some() {}
        connections.spawn(connection(
            Arc::clone(&state),
            builder.clone(),
            tcp,
            peer,
            via,
            places,
            stopping.clone(),
        ));
    }
    drop(listener);
    drop(tls_listener);
    drain(connections, &state).await;
}

/// Closes a connection from a client at `max_connections_per_ip` unanswered (dropping the
/// stream closes it), and says so in the log and the metrics.
fn refuse(state: &State, tcp: TcpStream, peer: SocketAddr) {
    drop(tcp);
    state.metrics.connection_refused();
    state.log.log(&logging::ConnectionRefused {
        time: logging::rfc3339(SystemTime::now()),
        client: peer.ip().to_canonical(),
        connection: "refused",
        note: state.clients.refusal(),
    });
}

/// Serves the connections dealt to this loop until shutdown.
async fn worker_loop(
    mut accepted: mpsc::Receiver<Accepted>,
    state: Arc<State>,
    mut stopping: watch::Receiver<bool>,
) {
    let builder = http1_builder(&state);
    let mut connections = JoinSet::new();
    loop {
        let (tcp, peer, via, places) = tokio::select! {
            next = accepted.recv() => match next {
                Some(next) => next,
                None => break,
            },
            () = stopped(&mut stopping) => break,
        };
        let Ok(tcp) = TcpStream::from_std(tcp) else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        connections.spawn(connection(
            Arc::clone(&state),
            builder.clone(),
            tcp,
            peer,
            via,
            places,
            stopping.clone(),
        ));
    }
    drain(connections, &state).await;
}

fn http1_builder(state: &State) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(state.config.header_read_timeout())
        .max_buf_size(state.config.max_header_bytes)
        .keep_alive(true);
    builder
}

/// Lets open connections finish within the grace period, then drops them.
async fn drain(mut connections: JoinSet<()>, state: &State) {
    let grace = Duration::from_secs(state.config.shutdown_grace_secs);
    let finished = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, finished).await.is_err() {
        eprintln!(
            "connections still open after {}s: closing them",
            grace.as_secs()
        );
        connections.abort_all();
    }
}

async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// One client connection, to its end: on the HTTPS listener, the handshake first, and the
/// certificate it verified (if any) as every request's identity.
async fn connection(
    state: Arc<State>,
    builder: http1::Builder,
    tcp: TcpStream,
    peer: SocketAddr,
    via: Via,
    _places: Places,
    mut stopping: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let ip = peer.ip().to_canonical();
    state.metrics.connection_opened();
    match (via, &state.tls) {
        (Via::Tls, Some(acceptor)) => {
            let shutdown = stopped(&mut stopping);
            let acceptor = acceptor.load_full();
            if let Some(tls) = tls::handshake(&state, &acceptor, tcp, ip, shutdown).await {
                let identity = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .and_then(|leaf| cert_identity::from_der(leaf))
                    .map(Arc::new);
                serve(&state, builder, tls, ip, identity, stopping).await;
            }
        }
        _ => serve(&state, builder, tcp, ip, None, stopping).await,
    }
    state.metrics.connection_closed();
}

/// HTTP/1.1 on an open connection (TCP, or TLS after its handshake) until it closes.
async fn serve<I>(
    state: &Arc<State>,
    builder: http1::Builder,
    io: I,
    ip: IpAddr,
    identity: Option<Arc<provedge::ClientIdentity>>,
    mut stopping: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service_state = Arc::clone(state);
    let service =
        service_fn(move |req| http::handle(Arc::clone(&service_state), ip, identity.clone(), req));
    let mut conn = builder.serve_connection(TokioIo::new(io), service);
    let result = tokio::select! {
        result = &mut conn => result,
        () = async { let _ = stopping.wait_for(|stop| *stop).await; } => {
            std::pin::Pin::new(&mut conn).graceful_shutdown();
            (&mut conn).await
        }
    };
    match result {
        Err(e) if e.is_timeout() => {
            // hyper closes a connection whose request head is late without a word; when part
            // of a request had arrived, tell the client why (an idle keep-alive is just closed).
            let parts = conn.into_parts();
            if !parts.read_buf.is_empty() {
                let mut io = parts.io.into_inner();
                let answer =
                    b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
                let write = async {
                    io.write_all(answer).await?;
                    // TLS holds written bytes until flushed.
                    io.flush().await
                };
                let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
                let late = "request head not received in time";
                http::record_refused(state, ip, 408, late, state.config.header_read_timeout());
            }
        }
        // hyper answered these itself (400, or 431 for a head over `max_header_bytes`).
        Err(e) if e.is_parse() => {
            let (status, note) = if e.is_parse_too_large() {
                (431, "request head too large")
            } else {
                (400, "malformed request head")
            };
            http::record_refused(state, ip, status, note, Duration::ZERO);
        }
        _ => {}
    }
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed before it is first polled, so a
/// signal sent right after `listening on` is not missed.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term =
            signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
        let mut int =
            signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {e}"))?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
