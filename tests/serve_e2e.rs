//! `provedge serve` end to end over real HTTP on 127.0.0.1: each vendor's request sequence as
//! its phones send it, revalidation, HEAD, keep-alive, uploads and their cap, static files with
//! Range, metrics, last-seen records, and no secret in the log.

mod serve_support;

use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use serve_support::{golden, Client, Resp, Server, ALGO_UA, GS_UA, POLY_UA, YEA_UA};

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A 200 whose body is exactly what `provedge render` gives for the same request.
fn assert_rendered(server: &Server, path: &str, ua: Option<&str>) -> Resp {
    let resp = server.get(path, ua);
    assert_eq!(resp.status, 200, "{path}: {}", resp.text());
    assert_eq!(
        resp.body,
        server.rendered(path, ua),
        "{path}: served bytes differ from render"
    );
    assert!(
        resp.header("etag").is_some_and(|e| e.starts_with('"')),
        "{path}: strong ETag"
    );
    assert_eq!(
        resp.header("content-length"),
        Some(resp.body.len().to_string().as_str()),
        "{path}"
    );
    resp
}

fn assert_status(server: &Server, path: &str, ua: Option<&str>, status: u16) -> Resp {
    let resp = server.get(path, ua);
    assert_eq!(resp.status, status, "{path}: {}", resp.text());
    resp
}

/// Every vendor's boot-time sequence against the example store.
fn phone_sequences(server: &Server) {
    // Grandstream: cfg<mac> → cfg<mac>.xml → cfg<model>.xml → cfg.xml.
    let bin = assert_rendered(server, "/cfg000b82123456", Some(GS_UA));
    assert_eq!(bin.body, golden("grandstream/cfg000b82123456.bin"));
    assert_eq!(bin.header("cache-control"), Some("private, no-store"));
    let xml = assert_rendered(server, "/cfg000b82123456.xml", Some(GS_UA));
    assert_eq!(xml.body, golden("grandstream/cfg000b82123456.xml"));
    assert_eq!(xml.header("content-type"), Some("text/xml; charset=utf-8"));
    assert!(
        xml.text().contains("gs-Line1-Secret!"),
        "the device file carries its secret"
    );
    assert_rendered(server, "/cfggxp2170.xml", Some(GS_UA));
    assert_rendered(server, "/cfg.xml", Some(GS_UA));
    assert_eq!(
        server.get("/cfg.xml", None).body,
        golden("grandstream/cfg.xml")
    );
    // A Grandstream the store does not know: 404s for its own files, then the shared ones.
    let stranger = "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82aaaaaa";
    assert_status(server, "/cfg000b82aaaaaa", Some(stranger), 404);
    assert_status(server, "/cfg000b82aaaaaa.xml", Some(stranger), 404);
    assert_rendered(server, "/cfggxp2170.xml", Some(stranger));
    assert_rendered(server, "/cfg.xml", Some(stranger));

    // Algo: algom<MAC> → algom<MAC>-i → algop<model>, each with its .md5.
    let conf = assert_rendered(server, "/algom0022EE123456.conf", Some(ALGO_UA));
    assert_eq!(conf.body, golden("algo/algom0022EE123456.conf"));
    let sum = assert_status(server, "/algom0022EE123456.md5", Some(ALGO_UA), 200);
    assert_eq!(sum.text(), md5_hex(&conf.body));
    assert_eq!(sum.body, golden("algo/algom0022EE123456.md5"));
    assert_status(server, "/algom0022EE123456-i.conf", Some(ALGO_UA), 404);
    assert_status(server, "/algom0022EE123456-i.md5", Some(ALGO_UA), 404);
    let model = assert_rendered(server, "/algop8188.conf", Some(ALGO_UA));
    let sum = assert_status(server, "/algop8188.md5", Some(ALGO_UA), 200);
    assert_eq!(sum.text(), md5_hex(&model.body));
    assert_status(server, "/algop8188-i.conf", Some(ALGO_UA), 404);
    // Tones: a stored file, streamed as is, and its checksum.
    let tones = std::fs::read(server.store.join("algo/algop8188-tones.zip")).unwrap();
    let zip = assert_status(server, "/algop8188-tones.zip", Some(ALGO_UA), 200);
    assert_eq!(zip.body, tones);
    assert_eq!(zip.header("content-type"), Some("application/zip"));
    assert_eq!(zip.header("accept-ranges"), Some("bytes"));
    let sum = assert_status(server, "/algop8188-tones.md5", Some(ALGO_UA), 200);
    assert_eq!(sum.text(), md5_hex(&tones));

    // Yealink: the boot file, the model's common file, then the MAC file.
    let boot = assert_rendered(server, "/001565123456.boot", Some(YEA_UA));
    assert_eq!(boot.body, golden("yealink/001565123456.boot"));
    let common = assert_rendered(server, "/y000000000066.cfg", Some(YEA_UA));
    assert_eq!(common.body, golden("yealink/y000000000066.cfg"));
    let own = assert_rendered(server, "/001565123456.cfg", Some(YEA_UA));
    assert_eq!(own.body, golden("yealink/001565123456.cfg"));
    // The phone backs up its local changes; they are stored, never served back.
    let mut c = server.connect();
    let local = b"#!version:1.0.0.1\nlocal_time.time_zone = +1\n";
    let put = c.request(
        "PUT",
        "/001565123456-local.cfg",
        &[("User-Agent", YEA_UA)],
        Some(local),
    );
    assert_eq!(put.status, 201, "{}", put.text());
    let stored =
        std::fs::read(server.store.join("uploads/yealink/001565123456-local.cfg")).unwrap();
    assert_eq!(stored, local);
    let back = server.get("/001565123456-local.cfg", Some(YEA_UA));
    assert_ne!(back.body, local.to_vec(), "an upload is never served back");

    // Polycom: master file → per-device files → logs and overrides uploaded.
    assert_rendered(server, "/000000000000.cfg", Some(POLY_UA));
    let master = assert_rendered(server, "/0004f2123456.cfg", Some(POLY_UA));
    assert_eq!(master.body, golden("polycom/0004f2123456.cfg"));
    let phone = assert_rendered(server, "/0004f2123456-phone.cfg", Some(POLY_UA));
    assert_eq!(phone.body, golden("polycom/0004f2123456-phone.cfg"));
    assert_rendered(server, "/features.cfg", Some(POLY_UA));
    let sip = std::fs::read(server.store.join("polycom/sip.ld")).unwrap();
    assert_eq!(
        assert_status(server, "/sip.ld", Some(POLY_UA), 200).body,
        sip
    );
    let mut c = server.connect();
    let ua = [("User-Agent", POLY_UA)];
    let log = c.request("PUT", "/0004f2123456-app.log", &ua, Some(b"0101 boot ok\n"));
    assert_eq!(log.status, 201);
    let again = c.request(
        "PUT",
        "/0004f2123456-app.log",
        &ua,
        Some(b"0102 boot ok again\n"),
    );
    assert_eq!(again.status, 204, "a second upload replaces the first");
    let overrides = c.request(
        "POST",
        "/0004f2123456-phone.cfg",
        &ua,
        Some(b"<PHONE_CONFIG/>"),
    );
    assert_eq!(overrides.status, 201, "{}", overrides.text());
    assert_eq!(
        std::fs::read(server.store.join("uploads/polycom/0004f2123456-app.log")).unwrap(),
        b"0102 boot ok again\n"
    );
    assert_eq!(
        std::fs::read(server.store.join("uploads/polycom/0004f2123456-phone.cfg")).unwrap(),
        b"<PHONE_CONFIG/>"
    );
    // The override upload did not replace what the phone is served.
    assert_eq!(
        server.get("/0004f2123456-phone.cfg", Some(POLY_UA)).body,
        phone.body
    );
}

/// Every `password` of a device line and every `admin_password` anywhere in the variables.
fn store_secrets() -> Vec<String> {
    fn collect(value: &serde_json::Value, keys: &[&str], out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        serde_json::Value::String(s) if keys.contains(&k.as_str()) => {
                            out.push(s.clone())
                        }
                        _ => collect(v, keys, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, keys, out)),
            _ => {}
        }
    }
    fn walk(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    let store = serve_support::repo().join("examples/store");
    let mut secrets = Vec::new();
    let mut files = Vec::new();
    walk(&store.join("devices"), &mut files);
    for file in &files {
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        if let Some(lines) = record["lines"].as_array() {
            for line in lines {
                if let Some(p) = line["password"].as_str() {
                    secrets.push(p.to_owned());
                }
            }
        }
    }
    files.clear();
    walk(&store.join("vars"), &mut files);
    for file in &files {
        let vars: serde_json::Value =
            serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        collect(&vars, &["admin_password"], &mut secrets);
    }
    secrets.retain(|s| !s.is_empty());
    secrets
}

#[test]
fn every_vendor_sequence_is_served_and_no_secret_reaches_the_log() {
    let server = Server::start();
    phone_sequences(&server);

    let secrets = store_secrets();
    assert!(secrets.len() >= 8, "found only {secrets:?}");
    let lines = server.log_lines(32);
    assert_eq!(lines.len(), 32, "one log line per request");
    let output = format!("{}\n{}", server.log(), server.stderr());
    for secret in &secrets {
        assert!(
            !output.contains(secret.as_str()),
            "{secret:?} appears in the server output"
        );
    }

    // The log line of a 404 names the route, not the query or headers.
    let miss = lines
        .iter()
        .find(|l| l["file"] == "cfg000b82aaaaaa.xml")
        .expect("a line for the unknown device");
    assert_eq!(miss["status"], 404);
    assert_eq!(miss["vendor"], "grandstream");
    assert_eq!(miss["mac"], "000b82aaaaaa");
    assert_eq!(miss["client"], "127.0.0.1");
    for field in [
        "time",
        "tenant",
        "model",
        "bytes",
        "duration_us",
        "cache",
        "kind",
    ] {
        assert!(miss.get(field).is_some(), "log line lacks {field}: {miss}");
    }
    let uploads: Vec<_> = lines.iter().filter(|l| l["kind"] == "upload").collect();
    assert_eq!(uploads.len(), 4);
}

#[test]
fn revalidation_head_keep_alive_and_changes_without_restart() {
    let server = Server::start();
    let mut c = server.connect();
    let ua = [("User-Agent", GS_UA)];
    let first = c.request("GET", "/cfg000b82123456.xml", &ua, None);
    assert_eq!(first.status, 200);
    let etag = first.header("etag").unwrap().to_owned();

    // Phones re-check every few minutes: most traffic is this 304, on the same connection.
    for tag in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
    ] {
        let again = c.request(
            "GET",
            "/cfg000b82123456.xml",
            &[("User-Agent", GS_UA), ("If-None-Match", &tag)],
            None,
        );
        assert_eq!(again.status, 304, "If-None-Match: {tag}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        assert_eq!(again.header("cache-control"), Some("private, no-store"));
    }
    let stale = c.request(
        "GET",
        "/cfg000b82123456.xml",
        &[("User-Agent", GS_UA), ("If-None-Match", "\"stale\"")],
        None,
    );
    assert_eq!((stale.status, stale.body.len()), (200, first.body.len()));

    // HEAD: the same head, no body, and the connection still frames the next response.
    let head = c.request("HEAD", "/cfg000b82123456.xml", &ua, None);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(first.body.len().to_string().as_str())
    );
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    let after = c.request("GET", "/cfg000b82123456.xml", &ua, None);
    assert_eq!(after.body, first.body);

    // A changed device record is picked up without a restart, within the store's recheck
    // interval (`server.store_recheck_ms`, 1 s by default).
    let record = server.store.join("devices/000b82123456.json");
    let text = std::fs::read_to_string(&record).unwrap();
    std::fs::write(&record, text.replace("Front Desk", "Reception")).unwrap();
    let written = Instant::now();
    let changed = loop {
        let resp = c.request(
            "GET",
            "/cfg000b82123456.xml",
            &[("User-Agent", GS_UA), ("If-None-Match", &etag)],
            None,
        );
        if resp.status != 304 || written.elapsed() > Duration::from_secs(3) {
            break resp;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(changed.status, 200);
    assert!(
        written.elapsed() < Duration::from_millis(1800),
        "{:?}",
        written.elapsed()
    );
    assert_ne!(changed.header("etag"), Some(etag.as_str()));
    assert!(changed.text().contains("Reception"));
    assert_eq!(
        changed.body,
        server.rendered("/cfg000b82123456.xml", Some(GS_UA))
    );

    // Keep-alive: many requests, one connection.
    for _ in 0..20 {
        assert_eq!(c.request("GET", "/cfg.xml", &[], None).status, 200);
    }
    let lines = server.log_lines(37);
    let hits = lines.iter().filter(|l| l["cache"] == "hit").count();
    assert!(
        hits >= 20,
        "store reads are served from the cache: {hits} hits"
    );
}

#[test]
fn without_a_recheck_interval_the_next_request_sees_a_change() {
    let server = Server::start_with(Some(r#"{"server": {"store_recheck_ms": 0}}"#));
    let before = server.get("/cfg000b82123456.xml", Some(GS_UA));
    let record = server.store.join("devices/000b82123456.json");
    let text = std::fs::read_to_string(&record).unwrap();
    std::fs::write(&record, text.replace("Front Desk", "Reception")).unwrap();
    let after = server.get("/cfg000b82123456.xml", Some(GS_UA));
    assert_ne!(after.body, before.body);
    assert!(after.text().contains("Reception"));
    // A file that disappears is gone at once too.
    std::fs::remove_file(&record).unwrap();
    assert_eq!(server.get("/cfg000b82123456.xml", Some(GS_UA)).status, 404);
}

#[test]
fn static_files_stream_with_ranges_and_revalidate() {
    let server = Server::start();
    // A firmware image larger than one read chunk.
    let firmware: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(server.store.join("polycom/sip.ld"), &firmware).unwrap();
    let mut c = server.connect();
    let ua = [("User-Agent", POLY_UA)];
    let full = c.request("GET", "/sip.ld", &ua, None);
    assert_eq!(full.status, 200);
    assert_eq!(full.body, firmware);
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    assert!(full.header("last-modified").is_some());
    let etag = full.header("etag").unwrap().to_owned();

    let range = |spec: &str| {
        let mut c = server.connect();
        c.request(
            "GET",
            "/sip.ld",
            &[("User-Agent", POLY_UA), ("Range", spec)],
            None,
        )
    };
    let part = range("bytes=100-199");
    assert_eq!(part.status, 206);
    assert_eq!(part.body, &firmware[100..200]);
    assert_eq!(part.header("content-range"), Some("bytes 100-199/300000"));
    let tail = range("bytes=-10");
    assert_eq!(
        (tail.status, tail.body.as_slice()),
        (206, &firmware[299_990..])
    );
    let open = range("bytes=299000-");
    assert_eq!(
        (open.status, open.body.as_slice()),
        (206, &firmware[299_000..])
    );
    let beyond = range("bytes=300000-");
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range"), Some("bytes */300000"));
    assert_eq!(
        range("bytes=0-1,5-6").body,
        firmware,
        "several ranges: the whole file"
    );

    // If-Range with an old validator: the whole (new) file.
    let mut c2 = server.connect();
    let stale_range = c2.request(
        "GET",
        "/sip.ld",
        &[
            ("Range", "bytes=0-9"),
            ("If-Range", "\"old\""),
            ("User-Agent", POLY_UA),
        ],
        None,
    );
    assert_eq!(
        (stale_range.status, stale_range.body.len()),
        (200, firmware.len())
    );

    let not_modified = c.request(
        "GET",
        "/sip.ld",
        &[("User-Agent", POLY_UA), ("If-None-Match", &etag)],
        None,
    );
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    let head = c.request("HEAD", "/sip.ld", &ua, None);
    assert_eq!(head.header("content-length"), Some("300000"));
    // Replaced firmware gets a new ETag.
    std::fs::write(server.store.join("polycom/sip.ld"), b"new firmware").unwrap();
    let replaced = c.request(
        "GET",
        "/sip.ld",
        &[("User-Agent", POLY_UA), ("If-None-Match", &etag)],
        None,
    );
    assert_eq!(
        (replaced.status, replaced.body.as_slice()),
        (200, &b"new firmware"[..])
    );
    assert_eq!(
        server.get("/missing-firmware.ld", Some(POLY_UA)).status,
        404
    );
}

#[test]
fn grandstream_firmware_with_affixes_is_streamed() {
    let server = Server::start_with(Some(
        r#"{"engine": {"route": {"grandstream": {"firmware_prefix": "fw_", "firmware_postfix": "_x"}}}}"#,
    ));
    let image: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::create_dir_all(server.store.join("grandstream")).unwrap();
    std::fs::write(server.store.join("grandstream/gxp2170fw.bin"), &image).unwrap();
    // The phone asks with its configured prefix and postfix; the store holds the plain name.
    let mut c = server.connect();
    let ua = ("User-Agent", GS_UA);
    let whole = c.request("GET", "/fw_gxp2170fw_x.bin", &[ua], None);
    assert_eq!((whole.status, whole.body.len()), (200, image.len()));
    assert_eq!(whole.body, image);
    let part = c.request(
        "GET",
        "/fw_gxp2170fw_x.bin",
        &[ua, ("Range", "bytes=99990-")],
        None,
    );
    assert_eq!((part.status, part.body.as_slice()), (206, &image[99_990..]));
}

/// Algo firmware `.md5` sidecars (`algo-<model>-<ver>.md5` and `.fw.md5`) are the MD5 of the
/// stored firmware.
#[test]
fn algo_firmware_checksums() {
    let server = Server::start();
    let firmware = b"algo firmware image".repeat(1000);
    std::fs::write(server.store.join("algo/algo-8188-5.3.4.fw"), &firmware).unwrap();
    let fw = assert_status(&server, "/algo-8188-5.3.4.fw", Some(ALGO_UA), 200);
    assert_eq!(fw.body, firmware);
    for name in ["/algo-8188-5.3.4.md5", "/algo-8188-5.3.4.fw.md5"] {
        let sum = assert_status(&server, name, Some(ALGO_UA), 200);
        assert_eq!(sum.text(), md5_hex(&firmware), "{name}");
    }
}

#[test]
fn uploads_are_capped() {
    let server = Server::start_with(Some(r#"{"engine": {"uploads": {"max_bytes": 1024}}}"#));
    let ua = [("User-Agent", POLY_UA)];
    let mut c = server.connect();
    assert_eq!(
        c.request("PUT", "/0004f2123456-app.log", &ua, Some(&[b'a'; 1024]))
            .status,
        201
    );
    let mut c = server.connect();
    let over = c.request("PUT", "/0004f2123456-app.log", &ua, Some(&[b'b'; 1025]));
    assert_eq!(over.status, 413, "{}", over.text());
    // A chunked body that grows past the cap.
    let mut c = server.connect();
    let mut raw =
        b"PUT /0004f2123456-boot.log HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..3 {
        raw.extend_from_slice(b"258\r\n");
        raw.extend_from_slice(&[b'c'; 0x258]);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    c.send_raw(&raw).unwrap();
    assert_eq!(c.response(false).unwrap().status, 413);
    let kept = std::fs::read(server.store.join("uploads/polycom/0004f2123456-app.log")).unwrap();
    assert_eq!(
        kept,
        vec![b'a'; 1024],
        "a refused upload leaves the stored one alone"
    );
    assert!(!server
        .store
        .join("uploads/polycom/0004f2123456-boot.log")
        .exists());
    let leftovers: Vec<_> = std::fs::read_dir(server.store.join("uploads/polycom"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
}

#[test]
fn the_default_cap_is_one_mebibyte() {
    let server = Server::start();
    let mut c = server.connect();
    let mib = vec![b'x'; 1 << 20];
    let ok = c.request(
        "PUT",
        "/0004f2123456-app.log",
        &[("User-Agent", POLY_UA)],
        Some(&mib),
    );
    assert_eq!(ok.status, 201);
    // Refused on its Content-Length, before the body is read.
    let mut c = server.connect();
    c.send_raw(b"PUT /0004f2123456-app.log HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n")
        .unwrap();
    let over = c.response(false).unwrap();
    assert_eq!(over.status, 413);
    assert_eq!(over.header("connection"), Some("close"));
}

#[test]
fn metrics_health_and_last_seen() {
    let server = Server::start_with(Some(r#"{"server": {"admin_listen": "127.0.0.1:0"}}"#));
    let health = Client::connect(server.admin_addr()).request("GET", "/healthz", &[], None);
    assert_eq!(health.text(), "ok\n");
    assert_rendered(&server, "/cfg000b82123456.xml", Some(GS_UA));
    assert_status(&server, "/cfg000b82aaaaaa.xml", None, 404);
    assert_status(&server, "/algop8188-tones.zip", Some(ALGO_UA), 200);

    let text = server.metrics();
    for needle in [
        "provedge_requests_total{vendor=\"grandstream\",kind=\"config\",status=\"200\"} 1\n",
        "provedge_requests_total{vendor=\"grandstream\",kind=\"config\",status=\"404\"} 1\n",
        "provedge_requests_total{vendor=\"algo\",kind=\"asset\",status=\"200\"} 1\n",
        "# TYPE provedge_render_seconds histogram\n",
        "provedge_render_seconds_count 3\n",
        "provedge_store_seconds_count 2\n",
        "provedge_store_seconds_bucket{le=\"+Inf\"} 2\n",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }

    // The device's last-seen record, written once per interval however often it asks.
    let record_path = server.store.join("last-seen/000b82123456.json");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !record_path.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record_path).unwrap()).unwrap();
    assert_eq!(record["ip"], "127.0.0.1");
    assert_eq!(record["user_agent"], GS_UA);
    assert_eq!(record["file"], "cfg000b82123456.xml");
    assert_eq!(record["vendor"], "grandstream");
    let written = std::fs::read(&record_path).unwrap();
    assert_rendered(&server, "/cfg.xml", Some(GS_UA));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        std::fs::read(&record_path).unwrap(),
        written,
        "throttled per device"
    );
    // Refused requests leave no record: a scanner walking MACs writes nothing.
    assert!(!server.store.join("last-seen/000b82aaaaaa.json").exists());
    // One device was seen: the Grandstream, whose record the engine read. The Algo its
    // User-Agent names only claimed to be one (tests/serve_security.rs).
    assert!(server
        .metrics()
        .contains("provedge_last_seen_writes_total 1\n"));
}
