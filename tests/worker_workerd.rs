//! The Cloudflare Worker (`edge/`) in real workerd (npm `miniflare`) on 127.0.0.1, over a local
//! KV namespace seeded from `examples/store`: render mode gives the bytes `provedge render`
//! gives for every vendor's request sequence, with 304s, checksums and uploads; rewrite and
//! nginx-rules modes send the rewritten request to an upstream this test controls; a bad
//! configuration is a clean 500.
//!
//! Needs `scripts/build-worker` (edge/build/) and Miniflare in `PROVEDGE_WORKERD_TOOLS` or
//! `~/.cache/provedge/workerd` (both set up by `scripts/test-all`). Without them the tests skip,
//! unless `CI` or `PROVEDGE_REQUIRE_INTEROP=1` is set: then they fail.

mod envoy_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use envoy_support::{
    copy_dir, free_port, golden, interop_required, md5_hex, raw, rendered, repo, request, temp_dir,
    wait_exit, Origin, Resp, ALGO_UA, GS_UA, POLY_UA, YEA_UA,
};

/// Miniflare's folder, or `None` (skip) when the Worker or Miniflare is missing.
fn tools() -> Option<PathBuf> {
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

/// The Worker running in workerd; stopped on drop.
struct Worker {
    child: Child,
    port: u16,
}

impl Worker {
    fn start(tools: &Path, store: &Path, config: &str, upstream: Option<u16>) -> Worker {
        let port = free_port();
        let mut cmd = Command::new("node");
        cmd.arg(repo().join("tests/worker/serve.mjs"))
            .arg(port.to_string())
            .arg(store)
            .arg(config)
            .env("PROVEDGE_WORKERD_TOOLS", tools)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(up) = upstream {
            cmd.arg(format!("http://127.0.0.1:{up}"));
        }
        let mut child = cmd.spawn().expect("node");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        match lines.next() {
            Some(Ok(line)) if line.starts_with("ready ") => {}
            other => {
                let _ = child.kill();
                panic!("workerd did not start: {other:?}");
            }
        }
        Worker { child, port }
    }

    fn ua(&self, path: &str, ua: Option<&str>) -> Resp {
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

fn assert_rendered(w: &Worker, store: &Path, path: &str, ua: Option<&str>) -> Resp {
    let resp = w.ua(path, ua);
    assert_eq!(resp.status, 200, "{path}: {}", resp.text());
    assert_eq!(
        resp.body,
        rendered(store, path, ua),
        "{path}: bytes differ from render"
    );
    resp
}

fn example_store() -> PathBuf {
    let store = temp_dir("worker-store");
    copy_dir(&repo().join("examples/store"), &store);
    // Runtime state the local server may have left in the example store is not part of it.
    for dir in ["uploads", "last-seen"] {
        let _ = std::fs::remove_dir_all(store.join(dir));
    }
    store
}

#[test]
fn render_mode_serves_every_vendor_sequence_from_kv() {
    let Some(tools) = tools() else { return };
    let store = example_store();
    let w = Worker::start(&tools, &store, "", None);
    let s = store.as_path();

    // Grandstream: cfg<mac> → cfg<mac>.xml → cfg<model>.xml → cfg.xml; strangers get 404.
    let bin = assert_rendered(&w, s, "/cfg000b82123456", Some(GS_UA));
    assert_eq!(bin.body, golden("grandstream/cfg000b82123456.bin"));
    let xml = assert_rendered(&w, s, "/cfg000b82123456.xml", Some(GS_UA));
    assert_eq!(xml.body, golden("grandstream/cfg000b82123456.xml"));
    assert_eq!(xml.header("content-type"), Some("text/xml; charset=utf-8"));
    assert_eq!(xml.header("cache-control"), Some("private, no-store"));
    assert_rendered(&w, s, "/cfggxp2170.xml", Some(GS_UA));
    assert_rendered(&w, s, "/cfg.xml", Some(GS_UA));
    let stranger = "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82aaaaaa";
    assert_eq!(w.ua("/cfg000b82aaaaaa.xml", Some(stranger)).status, 404);

    // Revalidation: the phone's If-None-Match gets a 304 with the same ETag.
    let etag = xml.header("etag").expect("etag").to_owned();
    let again = request(
        w.port,
        "GET",
        "/cfg000b82123456.xml",
        &[("User-Agent", GS_UA), ("If-None-Match", &etag)],
    );
    assert_eq!((again.status, again.body.len()), (304, 0));

    // Algo: checksums of exactly the bytes served, and a stored file from KV.
    let conf = assert_rendered(&w, s, "/algom0022EE123456.conf", Some(ALGO_UA));
    let sum = w.ua("/algom0022EE123456.md5", Some(ALGO_UA));
    assert_eq!(sum.text(), md5_hex(&conf.body));
    let tones = std::fs::read(s.join("algo/algop8188-tones.zip")).unwrap();
    assert_eq!(w.ua("/algop8188-tones.zip", Some(ALGO_UA)).body, tones);

    // Yealink and Polycom, then a Polycom log upload into KV (201, then 204 on replace).
    assert_eq!(
        assert_rendered(&w, s, "/001565123456.boot", Some(YEA_UA)).body,
        golden("yealink/001565123456.boot")
    );
    assert_rendered(&w, s, "/y000000000066.cfg", Some(YEA_UA));
    assert_rendered(&w, s, "/001565123456.cfg", Some(YEA_UA));
    assert_rendered(&w, s, "/000000000000.cfg", Some(POLY_UA));
    assert_eq!(
        assert_rendered(&w, s, "/0004f2123456-phone.cfg", Some(POLY_UA)).body,
        golden("polycom/0004f2123456-phone.cfg")
    );
    let put = |body: &[u8]| {
        raw(
            w.port,
            "PUT",
            "/0004f2123456-app.log",
            &[("User-Agent", POLY_UA)],
            Some(body),
        )
        .unwrap()
        .status
    };
    assert_eq!(put(b"0101 boot ok\n"), 201);
    assert_eq!(put(b"0102 boot ok again\n"), 204);
    // Not served back: the upload key is not a phone file.
    assert_ne!(w.ua("/0004f2123456-app.log", Some(POLY_UA)).status, 200);
}

#[test]
fn rewrite_and_nginx_rules_modes_go_to_the_upstream() {
    let Some(tools) = tools() else { return };
    let store = example_store();
    let origin = Origin::start(store.clone());
    let tones = std::fs::read(store.join("algo/algop8188-tones.zip")).unwrap();

    // Rewrite mode: the canonical key on the upstream, as the phone asked for it.
    let w = Worker::start(
        &tools,
        &store,
        r#"{"mode": {"rewrite": {"prefix": ""}}}"#,
        Some(origin.port),
    );
    let zip = w.ua("/ALGOP8188-TONES.ZIP", Some(ALGO_UA));
    assert_eq!((zip.status, &zip.body), (200, &tones));
    let seen = origin.take_seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path, "/algo/algop8188-tones.zip");
    assert_eq!(
        seen[0].headers.get("user-agent").map(String::as_str),
        Some(ALGO_UA)
    );
    drop(w);

    // nginx-rules mode: the seed's FusionPBX rules as written, exactly as nginx rewrites them.
    let rules =
        std::fs::read_to_string(repo().join("tests/data/rewrite/fusionpbx-mcrane.conf")).unwrap();
    let rules = format!(
        "rewrite ^/old/(.*)$ /new/$1 permanent;\nlocation /loop {{\n  rewrite ^/loop$ /loop last;\n}}\n{rules}"
    );
    let config = serde_json::json!({"mode": {"nginx": {"rules": rules}}}).to_string();
    let w = Worker::start(&tools, &store, &config, Some(origin.port));
    for (path, upstream) in [
        (
            "/provision/001565123456.cfg",
            "/app/provision/index.php?mac=001565123456",
        ),
        ("/other/thing?x=1", "/other/thing?x=1"),
    ] {
        let resp = w.ua(path, Some(YEA_UA));
        // The origin has no such files: its 404 comes back through the Worker.
        assert_eq!(resp.status, 404, "{path}");
        let seen = origin.take_seen();
        assert_eq!(
            seen.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
            [upstream]
        );
    }
    let moved = w.ua("/old/cfg.xml", None);
    assert_eq!(
        (moved.status, moved.header("location")),
        (301, Some("/new/cfg.xml"))
    );
    assert_eq!(
        w.ua("/loop", None).status,
        500,
        "a rewrite cycle is nginx's 500"
    );
    assert!(
        origin.take_seen().is_empty(),
        "redirects and cycles never reach the upstream"
    );
}

#[test]
fn a_bad_configuration_is_a_clean_500() {
    let Some(tools) = tools() else { return };
    let store = temp_dir("worker-empty");
    let w = Worker::start(
        &tools,
        &store,
        r#"{"mode": {"nginx": {"rules": "rewrite ^(a /b;"}}}"#,
        None,
    );
    let resp = w.ua("/cfg.xml", None);
    assert_eq!(resp.status, 500);
    assert!(
        !resp.text().contains("rewrite"),
        "the reason is logged, not sent: {}",
        resp.text()
    );
}
