//! Shared by the tests that run the Cloudflare Worker (`edge/`) in real workerd (npm
//! `miniflare`, through `tests/worker/serve.mjs`) on 127.0.0.1, over a local KV namespace and R2
//! bucket seeded from a store folder as `provedge store push` lays it out ([`Layout`]).
//!
//! Needs `scripts/build-worker` (edge/build/) and Miniflare in `PROVEDGE_WORKERD_TOOLS` or
//! `~/.cache/provedge/workerd` (both set up by `scripts/test-all`). Without them the tests skip,
//! unless `CI` or `PROVEDGE_REQUIRE_INTEROP=1` is set: then they fail.
//!
//! Uses the client and helpers of `envoy_support`: a test that includes this module declares
//! `mod envoy_support;` beside it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Lines, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use super::envoy_support::{free_port, interop_required, repo, request, wait_exit, Resp};

/// Miniflare's folder, or `None` (skip) when the Worker or Miniflare is missing.
pub fn tools() -> Option<PathBuf> {
    let dir = std::env::var_os("PROVEDGE_WORKERD_TOOLS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/provedge/workerd")))
        .unwrap_or_default();
    let built = repo().join("edge/build/shim.mjs");
    if dir.join("node_modules/miniflare").exists() && built.exists() {
        return Some(dir);
    }
    let why = format!(
        "Miniflare ({}) or the built Worker ({}) is missing: run scripts/test-all",
        dir.display(),
        built.display()
    );
    assert!(!interop_required(), "{why}");
    eprintln!("skipping: {why}");
    None
}

/// How the store is laid out for the Worker.
#[derive(Clone, Debug)]
pub struct Layout {
    /// An R2 bucket `BUCKET` beside KV `STORE`, keys placed as `worker.kv_prefixes` says;
    /// `false`: every key in KV and no `BUCKET` binding.
    pub r2: bool,
    /// The store's generation key, as a push writes it last; `false`: a store written by hand.
    pub generation: bool,
    /// Worker secrets (`wrangler secret put`): name and text.
    pub secrets: Vec<(String, String)>,
}

impl Default for Layout {
    /// KV and R2 with a generation: a pushed store.
    fn default() -> Layout {
        Layout {
            r2: true,
            generation: true,
            secrets: Vec::new(),
        }
    }
}

impl Layout {
    /// Every key in KV, no generation, no `BUCKET`: the KV-only Worker over a store written by
    /// hand.
    pub fn kv_only() -> Layout {
        Layout {
            r2: false,
            generation: false,
            secrets: Vec::new(),
        }
    }
}

/// What one request read, from the Worker's `x-provedge-reads` header (`worker.debug_reads`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    pub kv: u32,
    pub r2: u32,
    pub colo: u32,
    pub isolate: u32,
    pub stale: u32,
    pub failed: u32,
}

impl Reads {
    /// The counts of an answer; panics when it has no header.
    pub fn of(resp: &Resp) -> Reads {
        let header = resp
            .header("x-provedge-reads")
            .unwrap_or_else(|| panic!("no x-provedge-reads in the answer ({})", resp.status));
        let mut reads = Reads::default();
        for part in header.split_whitespace() {
            let (name, n) = part.split_once('=').expect("name=count");
            let n: u32 = n.parse().expect("a count");
            match name {
                "kv" => reads.kv = n,
                "r2" => reads.r2 = n,
                "colo" => reads.colo = n,
                "isolate" => reads.isolate = n,
                "stale" => reads.stale = n,
                "failed" => reads.failed = n,
                other => panic!("unknown count {other}"),
            }
        }
        reads
    }
}

/// The Worker running in workerd; stopped on drop.
pub struct Worker {
    child: Child,
    pub port: u16,
    /// Commands to the script (`keys PREFIX`, `get KEY`) and its answers: what is in KV.
    commands: ChildStdin,
    answers: Lines<BufReader<ChildStdout>>,
    /// Other lines the script printed (the Worker's `console.log`: its access records).
    printed: Vec<String>,
}

impl Worker {
    /// Starts the Worker on a free port over KV seeded from `store`, with `config` as
    /// `PROVEDGE_CONFIG` and `upstream` as `PROVEDGE_UPSTREAM`; a port taken between choosing
    /// and binding it (tests run in parallel, and workerd binds more than one) is retried on
    /// another.
    pub fn start(tools: &Path, store: &Path, config: &str, upstream: Option<u16>) -> Worker {
        Worker::start_with(tools, store, config, upstream, &Layout::default())
    }

    /// [`Worker::start`] over a store laid out as `layout` says.
    pub fn start_with(
        tools: &Path,
        store: &Path,
        config: &str,
        upstream: Option<u16>,
        layout: &Layout,
    ) -> Worker {
        for _ in 0..3 {
            if let Some(worker) = Worker::try_start(tools, store, config, upstream, layout) {
                return worker;
            }
        }
        panic!("workerd did not start on three ports");
    }

    fn try_start(
        tools: &Path,
        store: &Path,
        config: &str,
        upstream: Option<u16>,
        layout: &Layout,
    ) -> Option<Worker> {
        let port = free_port();
        let mut cmd = Command::new("node");
        cmd.arg(repo().join("tests/worker/serve.mjs"))
            .arg(port.to_string())
            .arg(store)
            .arg(config)
            .env("PROVEDGE_WORKERD_TOOLS", tools)
            .env("PROVEDGE_WORKER_R2", if layout.r2 { "1" } else { "0" })
            .env(
                "PROVEDGE_WORKER_GENERATION",
                if layout.generation { "1" } else { "0" },
            )
            .env(
                "PROVEDGE_WORKER_SECRETS",
                serde_json::Value::Object(
                    layout
                        .secrets
                        .iter()
                        .map(|(n, v)| (n.clone(), v.clone().into()))
                        .collect(),
                )
                .to_string(),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(up) = upstream {
            cmd.arg(format!("http://127.0.0.1:{up}"));
        }
        let mut child = cmd.spawn().expect("node");
        let commands = child.stdin.take().unwrap();
        let mut answers = BufReader::new(child.stdout.take().unwrap()).lines();
        match answers.next() {
            Some(Ok(line)) if line.starts_with("ready ") => {}
            other => {
                eprintln!("workerd did not start: {other:?}");
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
        Some(Worker {
            child,
            port,
            commands,
            answers,
            printed: Vec::new(),
        })
    }

    /// Asks the script about the store, or tells it to change it (the commands of
    /// `tests/worker/serve.mjs`).
    pub fn kv(&mut self, command: &str) -> serde_json::Value {
        writeln!(self.commands, "{command}").unwrap();
        loop {
            let line = self.answers.next().expect("serve.mjs ended").unwrap();
            if let Some(json) = line.strip_prefix("kv ") {
                return serde_json::from_str(json).unwrap();
            }
            self.printed.push(line);
        }
    }

    /// The KV keys under `prefix`.
    pub fn kv_keys(&mut self, prefix: &str) -> Vec<String> {
        serde_json::from_value(self.kv(&format!("keys {prefix}"))).unwrap()
    }

    /// The access records the Worker logged so far (JSON lines of its `console.log`).
    pub fn access_records(&mut self) -> Vec<serde_json::Value> {
        self.kv("keys none/");
        self.printed
            .iter()
            .filter_map(|l| {
                l.find('{')
                    .and_then(|at| serde_json::from_str(&l[at..]).ok())
            })
            .collect()
    }

    /// The process id of the script (workerd runs below it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The R2 keys under `prefix`.
    pub fn r2_keys(&mut self, prefix: &str) -> Vec<String> {
        serde_json::from_value(self.kv(&format!("r2keys {prefix}"))).unwrap()
    }

    /// Writes the store folder again, every key then a new generation (what a push does);
    /// returns the generation.
    pub fn reseed(&mut self) -> Option<String> {
        serde_json::from_value(self.kv("reseed")).unwrap()
    }

    /// Replaces the R2 object `key` with the store folder's file, the generation unchanged.
    pub fn r2_put(&mut self, key: &str) {
        assert_eq!(self.kv(&format!("r2put {key}")), "put");
    }

    /// Restarts workerd without the binding `name` (`STORE`, `BUCKET`): that store is down,
    /// and the isolate is new; the colo's cache is kept.
    pub fn unbind(&mut self, name: &str) {
        assert_eq!(self.kv(&format!("unbind {name}")), "unbound");
    }

    /// Restarts workerd with every binding: a new isolate in a warm colo.
    pub fn restart(&mut self) {
        assert_eq!(self.kv("restart"), "bound");
    }

    /// The KV value under `key` as text.
    pub fn kv_get(&mut self, key: &str) -> Option<String> {
        serde_json::from_value(self.kv(&format!("get {key}"))).unwrap()
    }

    /// One GET, with a User-Agent when given.
    pub fn ua(&self, path: &str, ua: Option<&str>) -> Resp {
        let headers: Vec<(&str, &str)> = ua.map(|u| ("User-Agent", u)).into_iter().collect();
        request(self.port, "GET", path, &headers)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // SIGTERM first: the script disposes of workerd, which SIGKILL would orphan.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        if !wait_exit(&mut self.child, Duration::from_secs(10)) {
            let _ = self.child.kill();
        }
    }
}
