//! Shared by the tests that run the Cloudflare Worker (`edge/`) in real workerd (npm
//! `miniflare`, through `tests/worker/serve.mjs`) on 127.0.0.1, over a local KV namespace and R2
//! bucket filled by `provedge store push --local` from a store folder ([`seed`]), the local
//! state Miniflare then serves as wrangler wrote it.
//!
//! Needs `scripts/build-worker` (edge/build/), and Miniflare and wrangler in
//! `PROVEDGE_WORKERD_TOOLS` or `~/.cache/provedge/workerd` (all set up by `scripts/test-all`).
//! Without them the tests skip, unless `CI` or `PROVEDGE_REQUIRE_INTEROP=1` is set: then they
//! fail.
//!
//! Uses the client and helpers of `envoy_support`: a test that includes this module declares
//! `mod envoy_support;` beside it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Lines, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;

use super::envoy_support::{free_port, interop_required, repo, request, temp_dir, wait_exit, Resp};

mod seed;

/// Miniflare's and wrangler's folder, or `None` (skip) when the Worker, Miniflare or wrangler
/// is missing.
pub fn tools() -> Option<PathBuf> {
    let dir = std::env::var_os("PROVEDGE_WORKERD_TOOLS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/provedge/workerd")))
        .unwrap_or_default();
    let built = repo().join("edge/build/shim.mjs");
    if dir.join("node_modules/miniflare").exists() && wrangler(&dir).is_file() && built.exists() {
        return Some(dir);
    }
    let why = format!(
        "Miniflare or wrangler ({}) or the built Worker ({}) is missing: run scripts/test-all",
        dir.display(),
        built.display()
    );
    assert!(!interop_required(), "{why}");
    eprintln!("skipping: {why}");
    None
}

/// The wrangler in the tools' folder.
fn wrangler(tools: &Path) -> PathBuf {
    tools.join("node_modules/.bin/wrangler")
}

/// How the store is laid out for the Worker, and what else it is bound to.
#[derive(Clone, Debug)]
pub struct Layout {
    /// An R2 bucket `BUCKET` beside KV `STORE` (pushed with `--bucket`), keys placed as
    /// `worker.kv_prefixes` says; `false`: every key in KV and no `BUCKET` binding.
    pub r2: bool,
    /// The push's generation (and manifest); `false`: they are removed after the push, a store
    /// written by hand.
    pub generation: bool,
    /// Worker secrets (`wrangler secret put`): name and text.
    pub secrets: Vec<(String, String)>,
    /// A rate-limiting binding `RATE_LIMIT` allowing this many requests a minute per key.
    pub rate_limit: Option<u32>,
    /// The `nodejs_compat` flag, as `edge/wrangler.toml` sets it; `false`: a Worker deployed
    /// without it (no `node:crypto`).
    pub nodejs_compat: bool,
}

impl Default for Layout {
    /// KV and R2 with a generation: a pushed store.
    fn default() -> Layout {
        Layout {
            r2: true,
            generation: true,
            secrets: Vec::new(),
            rate_limit: None,
            nodejs_compat: true,
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
            ..Layout::default()
        }
    }

    /// Every key in KV (pushed without a bucket), no `BUCKET`.
    pub fn kv() -> Layout {
        Layout {
            r2: false,
            ..Layout::default()
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

/// The script serving the Worker: its process, port, commands and answers, and the lines it
/// printed before it was ready.
type Started = (
    Child,
    u16,
    ChildStdin,
    Lines<BufReader<ChildStdout>>,
    Vec<String>,
);

/// The Worker running in workerd; stopped (and its state removed) on drop.
pub struct Worker {
    child: Child,
    pub port: u16,
    /// Commands to the script (`keys PREFIX`, `get KEY`) and its answers: what is in KV.
    commands: ChildStdin,
    answers: Lines<BufReader<ChildStdout>>,
    /// Other lines the script printed (the Worker's `console.log`: its access records).
    printed: Vec<String>,
    /// The store folder and where it was pushed, for a push while it runs.
    store: PathBuf,
    target: seed::Target,
    /// Its own folder: the pushed state (`state/`) it serves.
    run: PathBuf,
}

impl Worker {
    /// Starts the Worker on a free port over KV and R2 filled by `provedge store push` from
    /// `store`, with `config` as `PROVEDGE_CONFIG` and `upstream` as `PROVEDGE_UPSTREAM`; a port
    /// taken between choosing and binding it (tests run in parallel, and workerd binds more
    /// than one) is retried on another.
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
        let run = temp_dir("worker-run");
        let target = seed::Target {
            wrangler: wrangler(tools),
            config: config.to_owned(),
            r2: layout.r2,
        };
        seed::seed(&target, store, &run.join("state"));
        for _ in 0..3 {
            if let Some((child, port, commands, answers, printed)) =
                Worker::try_start(tools, &run, config, upstream, layout)
            {
                return Worker {
                    child,
                    port,
                    commands,
                    answers,
                    printed,
                    store: store.to_owned(),
                    target,
                    run,
                };
            }
        }
        let _ = std::fs::remove_dir_all(&run);
        panic!("workerd did not start on three ports");
    }

    fn try_start(
        tools: &Path,
        run: &Path,
        config: &str,
        upstream: Option<u16>,
        layout: &Layout,
    ) -> Option<Started> {
        let port = free_port();
        let mut cmd = Command::new("node");
        cmd.arg(repo().join("tests/worker/serve.mjs"))
            .arg(port.to_string())
            .arg(run.join("state"))
            .arg(config)
            .arg(seed::STORE_ID)
            .args(layout.r2.then_some(seed::BUCKET))
            .env("PROVEDGE_WORKERD_TOOLS", tools)
            .env(
                "PROVEDGE_WORKER_GENERATION",
                if layout.generation { "1" } else { "0" },
            )
            .env(
                "PROVEDGE_WORKER_RATE_LIMIT",
                layout.rate_limit.unwrap_or(0).to_string(),
            )
            .env(
                "PROVEDGE_WORKER_NODEJS_COMPAT",
                if layout.nodejs_compat { "1" } else { "0" },
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
            cmd.env("PROVEDGE_WORKER_UPSTREAM", format!("http://127.0.0.1:{up}"));
        }
        let mut child = cmd.spawn().expect("node");
        let commands = child.stdin.take().unwrap();
        let mut answers = BufReader::new(child.stdout.take().unwrap()).lines();
        // workerd may say something on its stderr before the script says it is ready.
        let mut before = Vec::new();
        loop {
            match answers.next() {
                Some(Ok(line)) if line.starts_with("ready ") => break,
                Some(Ok(line)) => before.push(line),
                other => {
                    eprintln!("workerd did not start: {other:?}");
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        }
        Some((child, port, commands, answers, before))
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

    /// What workerd wrote on its stderr so far (the Worker's `console.warn` and
    /// `console.error`), a line each.
    pub fn stderr_lines(&mut self) -> Vec<String> {
        self.kv("keys none/");
        self.printed
            .iter()
            .filter_map(|l| l.strip_prefix("stderr "))
            .map(str::to_owned)
            .collect()
    }

    /// The local state it serves (`--persist-to` of wrangler and `provedge store push`), where
    /// the Worker writes its last-seen records.
    pub fn state(&self) -> PathBuf {
        self.run.join("state")
    }

    /// The wrangler the tests run (`PROVEDGE_WRANGLER` for `provedge`).
    pub fn wrangler(&self) -> &Path {
        &self.target.wrangler
    }

    /// The process id of the script (workerd runs below it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The R2 keys under `prefix`.
    pub fn r2_keys(&mut self, prefix: &str) -> Vec<String> {
        serde_json::from_value(self.kv(&format!("r2keys {prefix}"))).unwrap()
    }

    /// Pushes the store folder again (`provedge store push --local` into the state the Worker
    /// serves, while it serves it), as an operator does after changing it; returns the push's
    /// summary line.
    pub fn push(&mut self) -> String {
        self.target
            .push(&self.store, &self.run.join("state"), &self.run)
    }

    /// Replaces the R2 object `key` with the store folder's file, the generation unchanged:
    /// behind the Worker's back, not a push.
    pub fn r2_put(&mut self, key: &str) {
        let file = self.store.join(key);
        assert_eq!(self.kv(&format!("r2put {key} {}", file.display())), "put");
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
        let base64: Option<String> =
            serde_json::from_value(self.kv(&format!("get {key}"))).unwrap();
        base64.map(|b| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
            String::from_utf8(bytes).expect("a text value")
        })
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
        let _ = std::fs::remove_dir_all(&self.run);
    }
}
