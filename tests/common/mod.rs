//! Shared by the integration tests: an in-memory store loaded from a folder, and a driver that
//! runs the engine to its final decision over it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use provedge::{Decision, Engine, Lookup, Request, Response, StoreKey};

/// Whether the `openssl` CLI is here; with CI or `PROVEDGE_REQUIRE_INTEROP` set its absence
/// fails the test instead of skipping it.
pub fn openssl_available() -> bool {
    let ok = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok
        && (std::env::var_os("CI").is_some()
            || std::env::var_os("PROVEDGE_REQUIRE_INTEROP").is_some())
    {
        panic!("the openssl CLI is required for this test");
    }
    ok
}

/// Runs `openssl ARGS` over `input` and returns what it wrote; a failure fails the test.
pub fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?} failed");
    out.stdout
}

/// The time the tests' requests arrive at, unless they say otherwise.
pub const NOW: u64 = 1_800_000_000;

pub fn example_store_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/store")
}

/// A store held in memory: key → bytes.
#[derive(Clone, Default)]
pub struct MemStore {
    pub files: BTreeMap<String, Vec<u8>>,
    /// Keys whose reads fail (the store is "down" for them).
    pub failing: Vec<String>,
    /// Every key read, in order.
    pub reads: std::cell::RefCell<Vec<String>>,
}

impl MemStore {
    pub fn from_dir(dir: &Path) -> MemStore {
        let mut store = MemStore::default();
        load(dir, dir, &mut store.files);
        store
    }

    pub fn example() -> MemStore {
        MemStore::from_dir(&example_store_dir())
    }

    pub fn put(&mut self, key: &str, bytes: impl Into<Vec<u8>>) -> &mut Self {
        self.files.insert(key.to_owned(), bytes.into());
        self
    }

    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.files.remove(key);
        self
    }

    pub fn read(&self, key: &StoreKey) -> Lookup {
        self.reads.borrow_mut().push(key.to_string());
        if self.failing.iter().any(|k| k == key.as_str()) {
            return Lookup::Failed("injected failure".into());
        }
        self.files
            .get(key.as_str())
            .map_or(Lookup::Missing, |b| Lookup::Found(b.clone().into()))
    }

    /// What the store holds for every key a fetch round asks.
    pub fn answers(&self, fetch: &provedge::Fetch) -> Vec<(StoreKey, Lookup)> {
        fetch
            .keys()
            .iter()
            .map(|k| (k.clone(), self.read(k)))
            .collect()
    }

    /// Runs a request arriving at [`NOW`] to its response.
    pub fn serve(&self, engine: &Engine, req: &Request) -> Response {
        self.serve_at(engine, req, NOW)
    }

    /// Runs a request arriving at `now` to its response.
    pub fn serve_at(&self, engine: &Engine, req: &Request, now: u64) -> Response {
        match engine.run(req, now, |k| self.read(k)) {
            Decision::Respond(r) => r,
            other => panic!("expected a response, got {other:?}"),
        }
    }

    pub fn get(&self, path: &str, ua: Option<&str>) -> Response {
        let mut req = Request::get(path);
        if let Some(ua) = ua {
            req = req.with_header("User-Agent", ua);
        }
        self.serve(&Engine::default(), &req)
    }
}

fn load(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            load(root, &path, out);
        } else {
            let key = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(key, std::fs::read(&path).unwrap());
        }
    }
}
