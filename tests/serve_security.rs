//! `provedge serve` against what an attacker on the phone network can do (issue 12): URL tokens
//! must not reach the log, made-up MACs must not become last-seen records or uploads, uploads
//! must stay within their quota, metrics are not the phones' business, and one client cannot
//! hold every connection.

mod serve_support;

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serve_support::{Client, Server, GS_UA, POLY_UA};

/// The known Grandstream of the example store.
const OWN: &str = "/cfg000b82123456.xml";

/// Made-up MAC suffixes (3 bytes), different on every run, never the example store's device.
fn made_up(n: usize) -> Vec<u32> {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    let mut x = seed | 1;
    let mut out = Vec::new();
    while out.len() < n {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let suffix = (x & 0xff_ffff) as u32;
        if suffix != 0x12_3456 && !out.contains(&suffix) {
            out.push(suffix);
        }
    }
    out
}

/// Waits until `path` exists (records and log lines are written in the background).
fn appears(path: &std::path::Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !path.exists() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Every file under `dir` (none when it does not exist).
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    files
}

fn put(server: &Server, path: &str, ua: &str, body: &[u8]) -> u16 {
    server
        .connect()
        .request("PUT", path, &[("User-Agent", ua)], Some(body))
        .status
}

#[test]
fn url_tokens_never_reach_the_log() {
    let secret = "Dev-Tok-Secret-123";
    let server = Server::start_with(Some(
        r#"{"engine":{"policy":{"default":{"url_tokens":{"first_boot":"boot-tok"}}}}}"#,
    ));
    let requests = [
        // Routes nowhere: logged by its path.
        ("GET", format!("/{secret}/nonexistent.xyz"), None),
        ("GET", format!("/{secret}/nonexistent.xyz?t={secret}"), None),
        ("HEAD", format!("/{secret}"), None),
        // A device file with a wrong token, with and without the phone's User-Agent.
        ("GET", format!("/{secret}{OWN}"), None),
        ("GET", format!("/{secret}{OWN}"), Some(GS_UA)),
        // A stored file and an upload behind the token.
        ("GET", format!("/{secret}/algop8188-tones.zip"), None),
        (
            "PUT",
            format!("/{secret}/0004f2123456-app.log"),
            Some(POLY_UA),
        ),
        // The first-boot token is a secret too.
        ("GET", format!("/boot-tok{OWN}"), Some(GS_UA)),
        ("GET", "/boot-tok/nonexistent.xyz".to_owned(), None),
    ];
    for (method, path, ua) in &requests {
        let headers: Vec<(&str, &str)> = ua.map(|ua| ("User-Agent", ua)).into_iter().collect();
        let body = (*method == "PUT").then_some(&b"log"[..]);
        let resp = server.connect().request(method, path, &headers, body);
        assert!(resp.status < 500, "{method} {path}: {}", resp.status);
    }
    let lines = server.log_lines(requests.len());
    assert_eq!(lines.len(), requests.len(), "{}", server.log());
    let log = server.log();
    for needle in [secret, "boot-tok"] {
        assert!(!log.contains(needle), "{needle} in the log:\n{log}");
        assert!(!server.stderr().contains(needle), "{needle} on stderr");
    }
    // The masked path is still there to read.
    assert!(
        lines.iter().any(|l| l["path"] == "/-/nonexistent.xyz"),
        "{log}"
    );
}

#[test]
fn last_seen_records_are_only_for_devices_the_engine_knows() {
    let server = Server::start_with(Some(
        r#"{"server": {"last_seen_interval_secs": 0, "admin_listen": "127.0.0.1:0"}}"#,
    ));
    // A generic file, asked for by 50 phones that only say who they are.
    let mut c = server.connect();
    for suffix in made_up(50) {
        let ua = format!("Grandstream Model HW GXP2170 SW 1.0.0.1 DevId 000b82{suffix:06x}");
        let resp = c.request("GET", "/cfg.xml", &[("User-Agent", &ua)], None);
        assert_eq!(resp.status, 200, "{ua}: {}", resp.text());
    }
    // Uploads for 300 made-up Polycoms, each User-Agent naming the MAC of its path: the engine
    // knows none of them, so nothing is stored.
    for i in 0..300u32 {
        let mac = format!("0004f2aa{i:04x}");
        let ua =
            format!("FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 (SN:{mac}) Type/Application");
        let status = put(&server, &format!("/{mac}-app.log"), &ua, b"log");
        assert_eq!(status, 404, "{mac}");
    }
    // The known device is recorded; the writer works in order, so once its record is there
    // every earlier one would be too.
    assert_eq!(server.get(OWN, Some(GS_UA)).status, 200);
    let own = server.store.join("last-seen/000b82123456.json");
    assert!(appears(&own), "no last-seen record for the known device");
    assert_eq!(files_under(&server.store.join("last-seen")), vec![own]);
    assert_eq!(
        files_under(&server.store.join("uploads")),
        Vec::<std::path::PathBuf>::new()
    );
    assert!(server
        .metrics()
        .contains("provedge_last_seen_writes_total 1\n"));
}

#[test]
fn uploads_are_refused_past_the_store_quota() {
    let server = Server::start_prepared(
        Some(r#"{"server": {"uploads_max_total_bytes": 3000, "admin_listen": "127.0.0.1:0"}}"#),
        |store| {
            // Found by the walk at start.
            std::fs::create_dir_all(store.join("uploads/polycom")).unwrap();
            std::fs::write(
                store.join("uploads/polycom/0004f2123456-old.log"),
                [b'o'; 1000],
            )
            .unwrap();
        },
    );
    let uploads = server.store.join("uploads/polycom");
    assert!(server.metrics().contains("provedge_uploads_bytes 1000\n"));
    assert_eq!(
        put(&server, "/0004f2123456-app.log", POLY_UA, &[b'a'; 1500]),
        201
    );
    // 2500 + 600 > 3000: refused, nothing written.
    assert_eq!(
        put(&server, "/0004f2123456-boot.log", POLY_UA, &[b'b'; 600]),
        507
    );
    assert!(!uploads.join("0004f2123456-boot.log").exists());
    // A replacement counts what it adds: 2500 - 1500 + 2000 = 3000 fits exactly.
    assert_eq!(
        put(&server, "/0004f2123456-app.log", POLY_UA, &[b'c'; 2000]),
        204
    );
    assert_eq!(put(&server, "/0004f2123456-boot.log", POLY_UA, b"x"), 507);
    let mut names: Vec<_> = files_under(&uploads)
        .into_iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["0004f2123456-app.log", "0004f2123456-old.log"],
        "no temporary files"
    );
    assert_eq!(
        std::fs::read(uploads.join("0004f2123456-app.log")).unwrap(),
        vec![b'c'; 2000]
    );
    assert!(server.metrics().contains("provedge_uploads_bytes 3000\n"));
    let refused = server
        .log_lines(4)
        .into_iter()
        .filter(|l| l["status"] == 507)
        .count();
    assert_eq!(refused, 2, "{}", server.log());
    assert!(
        server.log().contains("uploads_max_total_bytes"),
        "the note says why"
    );
}

#[test]
fn metrics_are_not_served_to_phones_by_default() {
    let server = Server::start();
    let metrics = server.get("/metrics", None);
    assert_eq!(metrics.status, 404, "{}", metrics.text());
    assert!(!metrics.text().contains("provedge_"));
    // Health says nothing: it stays where a load balancer probes.
    assert_eq!(server.get("/healthz", None).text(), "ok\n");
    // The refusal is the engine's, logged like any unknown file.
    let line = &server.log_lines(1)[0];
    assert_eq!(
        (&line["path"], &line["status"]),
        (&"/metrics".into(), &404.into())
    );
}

#[test]
fn a_metrics_token_opens_metrics_on_the_phone_listener() {
    let server = Server::start_with(Some(r#"{"server": {"metrics_token": "tok-123"}}"#));
    let scrape = |auth: Option<&str>| {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        server.connect().request("GET", "/metrics", &headers, None)
    };
    for wrong in [
        None,
        Some("Bearer tok-12"),
        Some("Bearer tok-1234"),
        Some("Basic tok-123"),
    ] {
        assert_eq!(scrape(wrong).status, 404, "{wrong:?}");
    }
    let ok = scrape(Some("Bearer tok-123"));
    assert_eq!(ok.status, 200);
    assert!(ok.text().contains("provedge_requests_total"));
    assert!(!server.log().contains("tok-12"));
}

#[test]
fn with_an_admin_listener_metrics_and_health_are_served_there_only() {
    let mut server = Server::start_with(Some(
        r#"{"server": {"admin_listen": "127.0.0.1:0", "metrics_token": "tok-123"}}"#,
    ));
    let bearer = [("Authorization", "Bearer tok-123")];
    for path in ["/metrics", "/healthz"] {
        let phone = server.connect().request("GET", path, &bearer, None);
        assert_eq!(phone.status, 404, "{path} on the phone listener");
    }
    let admin = || Client::connect(server.admin_addr());
    let unauthorized = admin().request("GET", "/metrics", &[], None);
    assert_eq!(unauthorized.status, 401);
    assert_eq!(
        unauthorized.header("www-authenticate"),
        Some("Bearer realm=\"metrics\"")
    );
    let mut c = admin();
    let metrics = c.request("GET", "/metrics", &bearer, None);
    assert_eq!(metrics.status, 200);
    // Both phone requests above were the engine's: counted, and logged.
    assert!(metrics
        .text()
        .contains("provedge_requests_total{vendor=\"none\",kind=\"none\",status=\"404\"} 2\n"));
    assert_eq!(c.request("GET", "/healthz", &[], None).text(), "ok\n");
    // The admin listener serves nothing else.
    assert_eq!(
        c.request("GET", OWN, &[("User-Agent", GS_UA)], None).status,
        404
    );
    assert_eq!(server.log_lines(2).len(), 2, "{}", server.log());
    // An open admin connection does not hold up shutdown.
    let started = Instant::now();
    assert!(server.terminate().success());
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(c);
}

#[test]
fn connections_over_the_per_client_cap_are_closed_at_accept() {
    let server = Server::start_with(Some(
        r#"{"server": {"max_connections_per_ip": 4, "admin_listen": "127.0.0.1:0"}}"#,
    ));
    let open_connections = |n: usize| {
        let want = format!("provedge_connections_open {n}\n");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !server.metrics().contains(&want) {
            assert!(Instant::now() < deadline, "never {want}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let mut idle: Vec<Client> = (0..4).map(|_| server.connect()).collect();
    open_connections(4);
    // The fifth is closed unanswered, request or not.
    let mut fifth = Client::try_connect(server.addr, Duration::from_secs(5)).unwrap();
    let _ = fifth.send_raw(b"GET /cfg.xml HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut buf = [0u8; 64];
    match fifth.stream.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("answered: {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(e) => assert!(
            matches!(
                e.kind(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ),
            "not closed: {e}"
        ),
    }
    // The four are served as usual.
    let resp = idle[0].request("GET", "/cfg.xml", &[("User-Agent", GS_UA)], None);
    assert_eq!(resp.status, 200);
    // Closing one gives its place back.
    drop(idle.pop());
    open_connections(3);
    assert_eq!(server.get("/cfg.xml", Some(GS_UA)).status, 200);
    let metrics = server.metrics();
    assert!(
        metrics.contains("provedge_connections_refused_total 1\n"),
        "{metrics}"
    );
    let log = server.log_lines(3);
    let refused: Vec<_> = log
        .iter()
        .filter(|l| l["connection"] == "refused")
        .collect();
    assert_eq!(refused.len(), 1, "{}", server.log());
    assert_eq!(refused[0]["client"], "127.0.0.1");
    assert!(refused[0]["note"]
        .as_str()
        .is_some_and(|n| n.contains("max_connections_per_ip (4)")));
}
