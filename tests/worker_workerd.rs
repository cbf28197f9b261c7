//! The Cloudflare Worker (`edge/`) in real workerd (npm `miniflare`) on 127.0.0.1, over a local
//! KV namespace seeded from `examples/store`: render mode gives the bytes `provedge render`
//! gives for every vendor's request sequence, with 304s, checksums and uploads; rewrite and
//! nginx-rules modes send the rewritten request to an upstream this test controls; a bad
//! configuration is a clean 500. Bodies over the cap (uploads and rewritten requests alike) are
//! refused on their declared length or as they arrive, with nothing stored or forwarded; a
//! client certificate (`request.cf.tlsClientAuth`, injected with Miniflare's `MF-CF-Blob`
//! header) is an identity only when verified and not revoked.
//!
//! Needs `scripts/build-worker` (edge/build/) and Miniflare in `PROVEDGE_WORKERD_TOOLS` or
//! `~/.cache/provedge/workerd` (both set up by `scripts/test-all`). Without them the tests skip,
//! unless `CI` or `PROVEDGE_REQUIRE_INTEROP=1` is set: then they fail.

mod envoy_support;
mod worker_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use envoy_support::{
    copy_dir, golden, md5_hex, raw, rendered, repo, request, send_raw, temp_dir, Origin, Resp,
    ALGO_UA, GS_UA, POLY_UA, YEA_UA,
};
use worker_support::{tools, Worker};

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
    // A stored file's checksum, summed as KV streams the file.
    let tones_sum = w.ua("/algop8188-tones.md5", Some(ALGO_UA));
    assert_eq!(tones_sum.status, 200, "{}", tones_sum.text());
    assert_eq!(tones_sum.text(), md5_hex(&tones));

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

/// A request head sent as it is (`Connection: close`); the body, if any, follows separately.
fn head(method: &str, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: provedge.test\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// `body` in the chunked transfer coding, `size` bytes a chunk, with the last chunk only when
/// `end`: an unended body keeps a reader that wants all of it waiting, so a 413 for one proves
/// that the Worker stopped reading at the cap.
fn chunked(body: &[u8], size: usize, end: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    if end {
        out.extend_from_slice(b"0\r\n\r\n");
    }
    out
}

/// One request of raw bytes; panics naming `what` when no response comes.
fn exchange(port: u16, what: &str, bytes: &[u8]) -> Resp {
    send_raw(port, bytes, false).unwrap_or_else(|e| panic!("{what}: {e}"))
}

#[test]
fn uploads_over_the_cap_are_refused_before_they_reach_kv() {
    let Some(tools) = tools() else { return };
    let store = example_store();
    let mut w = Worker::start(&tools, &store, r#"{"uploads": {"max_bytes": 64}}"#, None);
    let port = w.port;
    let path = "/0004f2123456-app.log";
    let ua = ("User-Agent", POLY_UA);
    let over = [b'x'; 100];
    let refuse_all = || {
        // A declared length over the cap and no body at all: answered on the declaration
        // alone (a Worker that read first would wait for the body until the client gave up).
        let declared = head("PUT", path, &[ua, ("Content-Length", "100000000")]);
        let resp = exchange(port, "declared over the cap", &declared);
        assert_eq!(resp.status, 413, "{}", resp.text());
        assert_eq!(resp.text(), "uploads are limited to 64 bytes\n");
        // Declared over the cap, with the whole body.
        let whole = raw(port, "PUT", path, &[ua], Some(&over)).unwrap();
        assert_eq!(whole.status, 413);
        // Chunked (no Content-Length), over the cap by its third chunk, and never ended.
        let mut unended = head("PUT", path, &[ua, ("Transfer-Encoding", "chunked")]);
        unended.extend(chunked(&over, 30, false));
        assert_eq!(exchange(port, "chunked over the cap", &unended).status, 413);
        // Chunked and ended, over the cap.
        let mut ended = head("PUT", path, &[ua, ("Transfer-Encoding", "chunked")]);
        ended.extend(chunked(&over, 30, true));
        assert_eq!(exchange(port, "chunked, ended", &ended).status, 413);
    };
    refuse_all();
    assert_eq!(
        w.kv_keys("uploads/"),
        Vec::<String>::new(),
        "nothing stored"
    );

    // Within the cap, chunked: read from the stream chunk by chunk and stored whole.
    let log = "0101 boot ok\n0102 registered\n0103 provisioned\n";
    let mut upload = head("PUT", path, &[ua, ("Transfer-Encoding", "chunked")]);
    upload.extend(chunked(log.as_bytes(), 7, true));
    assert_eq!(
        exchange(port, "chunked within the cap", &upload).status,
        201
    );
    let keys = w.kv_keys("uploads/");
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(w.kv_get(&keys[0]).as_deref(), Some(log));
    // Exactly the cap, declared: accepted, replacing it.
    let full = "y".repeat(64);
    let resp = raw(port, "PUT", path, &[ua], Some(full.as_bytes())).unwrap();
    assert_eq!(resp.status, 204);
    assert_eq!(w.kv_get(&keys[0]), Some(full.clone()));

    // Over the cap again: refused, and the stored upload is left as it was.
    refuse_all();
    assert_eq!(w.kv_keys("uploads/"), keys);
    assert_eq!(w.kv_get(&keys[0]), Some(full));
}

#[test]
fn rewritten_request_bodies_are_capped_too() {
    let Some(tools) = tools() else { return };
    let store = example_store();
    let origin = Origin::start(store.clone());
    let config = serde_json::json!({
        "mode": {"nginx": {"rules": "rewrite ^/old/(.*)$ /new/$1 permanent;"}},
        "uploads": {"max_bytes": 64},
    })
    .to_string();
    let w = Worker::start(&tools, &store, &config, Some(origin.port));
    let path = "/app/provision/";
    let form = ("Content-Type", "application/x-www-form-urlencoded");

    // Declared within the cap: streamed on to the upstream as it came, length and all.
    let body = b"mac=001565123456&x=1";
    let resp = raw(w.port, "POST", path, &[form], Some(body)).unwrap();
    assert_ne!(resp.status, 413);
    let seen = origin.take_seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("POST", path)
    );
    assert_eq!(
        seen[0].headers.get("content-length").map(String::as_str),
        Some("20")
    );

    // Chunked within the cap: read under the cap, then sent with its length.
    let mut within = head("POST", path, &[form, ("Transfer-Encoding", "chunked")]);
    within.extend(chunked(body, 6, true));
    assert_ne!(
        exchange(w.port, "chunked within the cap", &within).status,
        413
    );
    let seen = origin.take_seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].headers.get("content-length").map(String::as_str),
        Some("20")
    );

    // Over the cap, declared (no body sent) or chunked (never ended): 413, nothing forwarded.
    let declared = head("POST", path, &[form, ("Content-Length", "100000000")]);
    let resp = exchange(w.port, "declared over the cap", &declared);
    assert_eq!(resp.status, 413, "{}", resp.text());
    assert_eq!(resp.text(), "request bodies are limited to 64 bytes\n");
    let mut unended = head("POST", path, &[form, ("Transfer-Encoding", "chunked")]);
    unended.extend(chunked(&[b'x'; 100], 30, false));
    assert_eq!(
        exchange(w.port, "chunked over the cap", &unended).status,
        413
    );
    assert!(
        origin.take_seen().is_empty(),
        "nothing reached the upstream"
    );
}

/// The Grandstream device file (with its SIP password) behind `require_identity`: only a
/// presented, verified, unrevoked certificate naming the device's MAC opens it.
#[test]
fn a_revoked_client_certificate_is_no_identity() {
    let Some(tools) = tools() else { return };
    let store = example_store();
    // The configuration file every host reads: the Worker takes its `engine` part.
    let config = r#"{"engine": {"policy": {"default": {"require_identity": true}}},
                     "server": {"last_seen_interval_secs": 60}}"#;
    let w = Worker::start(&tools, &store, config, None);
    let path = "/cfg000b82123456.xml";
    // Miniflare's entry worker takes `request.cf` from this header, as Cloudflare would fill it.
    let get = |auth: Option<&serde_json::Value>| {
        let cf = auth.map(|a| serde_json::json!({ "tlsClientAuth": a }).to_string());
        let mut headers = vec![("User-Agent", GS_UA)];
        if let Some(cf) = &cf {
            headers.push(("MF-CF-Blob", cf));
        }
        request(w.port, "GET", path, &headers)
    };
    let good = serde_json::json!({
        "certPresented": "1",
        "certVerified": "SUCCESS",
        "certRevoked": "0",
        "certSubjectDNRFC2253": "CN=000b82123456,O=Grandstream",
        "certSubjectDN": "/O=Grandstream/CN=000b82123456",
        "certIssuerDNRFC2253": "CN=Provisioning CA",
        "certSerial": "01",
        "certFingerprintSHA256": "00",
    });
    let with = |name: &str, value: Option<&str>| {
        let mut auth = good.clone();
        match value {
            Some(v) => auth[name] = v.into(),
            None => {
                auth.as_object_mut().unwrap().remove(name);
            }
        }
        auth
    };

    let ok = get(Some(&good));
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.body, golden("grandstream/cfg000b82123456.xml"));

    for (why, auth) in [
        ("revoked", with("certRevoked", Some("1"))),
        ("certRevoked missing", with("certRevoked", None)),
        (
            "verification failed",
            with("certVerified", Some("FAILED:self signed certificate")),
        ),
        ("not presented", with("certPresented", Some("0"))),
        (
            "another device's certificate",
            with(
                "certSubjectDNRFC2253",
                Some("CN=000b82aaaaaa,O=Grandstream"),
            ),
        ),
    ] {
        let resp = get(Some(&auth));
        assert_eq!(resp.status, 403, "{why}: {}", resp.text());
        assert!(!resp.text().contains("000b82"), "{why}: {}", resp.text());
    }
    assert_eq!(get(None).status, 403, "no certificate at all");
}

/// URL tokens in workerd: a device's streamed file (Aastra `.tuz`) and its rendered file open
/// only with its own token; uploads are taken only for devices with a record.
#[test]
fn device_tokens_guard_streamed_files_and_uploads_for_strangers_are_refused() {
    let Some(tools) = tools() else { return };
    let store = example_store();
    let record = store.join("devices/00085d123456.json");
    let mut device: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    device["auth"] = serde_json::json!({"token": "dev-tok"});
    std::fs::write(&record, serde_json::to_vec(&device).unwrap()).unwrap();
    std::fs::create_dir_all(store.join("aastra")).unwrap();
    std::fs::write(store.join("aastra/00085d123456.tuz"), b"tuz-secret").unwrap();
    let config =
        r#"{"engine": {"policy": {"default": {"url_tokens": {"first_boot": "boot-tok"}}}}}"#;
    let w = Worker::start(&tools, &store, config, None);
    let own = request(w.port, "GET", "/dev-tok/00085D123456.tuz", &[]);
    assert_eq!((own.status, own.body.as_slice()), (200, &b"tuz-secret"[..]));
    for path in ["/wrong/00085D123456.tuz", "/boot-tok/00085D123456.tuz"] {
        let resp = request(w.port, "GET", path, &[]);
        assert_eq!(resp.status, 404, "{path}");
        assert!(!resp.text().contains("secret"), "{path}");
    }
    // Without tokens, a PUT for a MAC the store does not know stores nothing.
    let w = Worker::start(&tools, &store, "", None);
    let put = exchange(
        w.port,
        "upload for a stranger",
        b"PUT /0004f2aaaaaa-app.log HTTP/1.1\r\nHost: x\r\nUser-Agent: PolycomVVX-VVX_400-UA/5.9.0.9373\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    );
    assert_eq!(put.status, 404);
}

/// Every request gives one access record on the Worker's log, as the native server's JSON
/// line (route fields, or the masked path of a request that did not route; no secrets), and
/// a device the engine knows gets its last-seen record in KV.
#[test]
fn access_records_and_last_seen_in_kv() {
    let Some(tools) = tools() else { return };
    let store = example_store();
    let mut w = Worker::start(&tools, &store, "", None);
    assert_eq!(w.ua("/cfg000b82123456.xml", Some(GS_UA)).status, 200);
    assert_eq!(
        w.ua(
            "/cfg.xml",
            Some("Grandstream Model HW GXP2170 SW 1.0.0.1 DevId 000b82abcdef")
        )
        .status,
        200
    );
    assert_eq!(w.ua("/nothing/here.txt?secret=1", None).status, 404);
    let deadline = Instant::now() + Duration::from_secs(10);
    let records = loop {
        let records = w.access_records();
        if records.len() >= 3 || Instant::now() > deadline {
            break records;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(records.len(), 3, "{records:?}");
    assert_eq!(records[0]["vendor"], "grandstream");
    assert_eq!(records[0]["file"], "cfg000b82123456.xml");
    assert_eq!(records[0]["status"], 200);
    assert_eq!(records[2]["path"], "/nothing/here.txt");
    let text = serde_json::to_string(&records).unwrap();
    assert!(
        !text.contains("gs-Line1-Secret") && !text.contains("secret=1"),
        "{text}"
    );
    let seen = loop {
        if let Some(seen) = w.kv_get("last-seen/000b82123456.json") {
            break seen;
        }
        assert!(Instant::now() < deadline, "no last-seen record in KV");
        std::thread::sleep(Duration::from_millis(100));
    };
    let seen: serde_json::Value = serde_json::from_str(&seen).unwrap();
    assert_eq!(seen["file"], "cfg000b82123456.xml");
    // The MAC a User-Agent only claimed has none.
    assert_eq!(w.kv_get("last-seen/000b82abcdef.json"), None);
}
