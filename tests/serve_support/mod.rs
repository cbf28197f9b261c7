//! Shared by the `serve_*` tests: the real `provedge serve` binary on 127.0.0.1 (port chosen by
//! the system) over a temporary copy of `examples/store`, and a small HTTP/1.1 client on a raw
//! `TcpStream`, so tests can also send what no well-behaved client would. The store helpers
//! (`copy_dir`, `snapshot`) serve the CLI tests that write stores too.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
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

/// Runs `provedge ARGS…` in the repository: exit code, stdout, stderr.
pub fn provedge(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_provedge"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Every file under `dir` and its bytes (none when `dir` does not exist).
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
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

/// A running `provedge serve`.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// The temporary store it serves (a copy of `examples/store`).
    pub store: PathBuf,
    dir: PathBuf,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    /// `provedge serve` over a copy of the example store, with no configuration file.
    pub fn start() -> Server {
        Server::start_with(None)
    }

    /// … with this configuration file text.
    pub fn start_with(config: Option<&str>) -> Server {
        Server::start_prepared(config, |_| {})
    }

    /// … after `prepare` has changed the store's copy (files the server must find at start).
    pub fn start_prepared(config: Option<&str>, prepare: impl FnOnce(&Path)) -> Server {
        Server::start_store(config, |store| {
            prepare(store);
            None
        })
    }

    /// … serving what `prepare` returns as `--store` (an origin it filled from the copy, say),
    /// or the copy for `None`. The copy stays what [`Server::rendered`] renders from.
    pub fn start_store(
        config: Option<&str>,
        prepare: impl FnOnce(&Path) -> Option<String>,
    ) -> Server {
        let dir = temp_dir("serve");
        let store = dir.join("store");
        copy_dir(&repo().join("examples/store"), &store);
        let store_arg = prepare(&store).map_or_else(|| store.clone().into_os_string(), Into::into);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_provedge"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--store"])
            .arg(store_arg);
        if let Some(config) = config {
            let path = dir.join("serve.json");
            std::fs::write(&path, config).unwrap();
            cmd.arg("--config").arg(path);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut out = child.stdout.take().unwrap();
        let sink = Arc::clone(&stdout);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let (tx, rx) = mpsc::channel();
        let err = BufReader::new(child.stderr.take().unwrap());
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in err.lines() {
                let Ok(line) = line else { break };
                sink.lock()
                    .unwrap()
                    .extend_from_slice(format!("{line}\n").as_bytes());
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(addr) => addr.parse().unwrap(),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "server did not start: {}",
                    String::from_utf8_lossy(&stderr.lock().unwrap())
                );
            }
        };
        Server {
            child,
            addr,
            store,
            dir,
            stdout,
            stderr,
        }
    }

    /// What the server wrote to stdout so far (the access log).
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Waits until the access log has `n` lines (lines are written asynchronously).
    pub fn log_lines(&self, n: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let lines: Vec<serde_json::Value> = self
                .log()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            if lines.len() >= n || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The admin listener's address (`server.admin_listen`), from its `admin listening on`
    /// line, printed before the `listening on` that [`Server::start_with`] waits for.
    pub fn admin_addr(&self) -> SocketAddr {
        self.stderr()
            .lines()
            .find_map(|l| l.strip_prefix("admin listening on "))
            .expect("no admin listener announced (server.admin_listen)")
            .trim()
            .parse()
            .unwrap()
    }

    /// `/metrics`, scraped from the admin listener (`"server": {"admin_listen": "127.0.0.1:0"}`).
    pub fn metrics(&self) -> String {
        let resp = Client::connect(self.admin_addr()).request("GET", "/metrics", &[], None);
        assert_eq!(resp.status, 200, "{}", resp.text());
        resp.text()
    }

    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// One GET on a new connection.
    pub fn get(&self, path: &str, ua: Option<&str>) -> Resp {
        let headers: Vec<(&str, &str)> = ua.map(|ua| ("User-Agent", ua)).into_iter().collect();
        self.connect().request("GET", path, &headers, None)
    }

    /// What `provedge render` writes for the same request over the same store.
    pub fn rendered(&self, path: &str, ua: Option<&str>) -> Vec<u8> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_provedge"));
        cmd.arg("render").arg("--store").arg(&self.store);
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (through the shell's own `kill`, present wherever `sh` is).
    pub fn signal_term(&self) {
        self.signal("TERM");
    }

    /// Sends `SIG<name>`.
    pub fn signal(&self, name: &str) {
        let ok = Command::new("sh")
            .args(["-c", &format!("kill -{name} {}", self.child.id())])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// The configuration file it was started with (`--config`), which a test may rewrite.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("serve.json")
    }

    /// Rewrites the configuration file, sends SIGHUP, and returns the stderr line that answers
    /// it (`reloaded …` or `reload failed, …`).
    pub fn reload(&self, config: &str) -> String {
        std::fs::write(self.config_path(), config).unwrap();
        let before = self.stderr().lines().count();
        self.signal("HUP");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answered = self
                .stderr()
                .lines()
                .skip(before)
                .find(|l| l.starts_with("reload"))
                .map(str::to_owned);
            if let Some(line) = answered {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no answer to SIGHUP: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal_term();
        self.wait(Duration::from_secs(15))
            .expect("server did not exit after SIGTERM")
    }

    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[path = "../http_client/mod.rs"]
mod http_client;
pub use http_client::{Client, Resp};

/// Runs `provedge serve` with a configuration expected to be refused at start:
/// (exit code, stderr, the configuration file's path).
pub fn refused(config: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    serve_to_exit(config, &[&["--listen", "127.0.0.1:0"], extra].concat())
}

/// Runs `provedge serve ARGS… --config FILE` with `config` as the file, to its exit (a refusal,
/// or `--check`): (exit code, stderr, the configuration file's path).
pub fn serve_to_exit(config: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let dir = temp_dir("config");
    let path = dir.join("serve.json");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_provedge"))
        .arg("serve")
        .args(args)
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        path.display().to_string(),
    )
}
