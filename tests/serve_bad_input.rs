//! `provedge serve` under hostile input: oversized headers, traversal, junk methods, malformed
//! requests and slow clients all get a 4xx, and the server stays healthy for everyone else.

mod serve_support;

use std::io::Write;
use std::time::{Duration, Instant};

use serve_support::{Client, Server, GS_UA};

/// (what, raw request bytes, allowed statuses)
fn corpus() -> Vec<(&'static str, Vec<u8>, &'static [u16])> {
    let req = |head: String| -> Vec<u8> { head.into_bytes() };
    vec![
        (
            "header value over the engine's limit",
            req(format!("GET /cfg.xml HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(9000))),
            &[431],
        ),
        (
            // Each header within the engine's limits; together over `max_header_bytes`.
            "header section over the server's buffer",
            req(format!(
                "GET /cfg.xml HTTP/1.1\r\nHost: x\r\n{}\r\n",
                format!("X-Pad: {}\r\n", "b".repeat(5000)).repeat(40)
            )),
            &[431],
        ),
        (
            "too many headers",
            req(format!("GET /cfg.xml HTTP/1.1\r\nHost: x\r\n{}\r\n", "X-N: 1\r\n".repeat(150))),
            &[431],
        ),
        (
            "target too long",
            req(format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(5000))),
            &[414],
        ),
        ("traversal", req("GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n".into()), &[400]),
        (
            "encoded traversal",
            req("GET /prov/%2e%2e/%2E%2E/devices/000b82123456.json HTTP/1.1\r\nHost: x\r\n\r\n".into()),
            &[400],
        ),
        (
            "encoded slash traversal",
            req("GET /provision/..%2fdevices/000b82123456.json HTTP/1.1\r\nHost: x\r\n\r\n".into()),
            &[400],
        ),
        ("backslash", req("GET /prov\\..\\cfg.xml HTTP/1.1\r\nHost: x\r\n\r\n".into()), &[400]),
        ("NUL", req("GET /cfg%00.xml HTTP/1.1\r\nHost: x\r\n\r\n".into()), &[400]),
        (
            "a store key is not a file name",
            req("GET /devices/000b82123456.json HTTP/1.1\r\nHost: x\r\n\r\n".into()),
            &[404],
        ),
        (
            "templates are not served",
            req("GET /templates/grandstream/cfg@mac.pvalues HTTP/1.1\r\nHost: x\r\n\r\n".into()),
            &[400, 404],
        ),
        (
            "uploads are not served",
            req("GET /uploads/polycom/0004f2123456-app.log HTTP/1.1\r\nHost: x\r\n\r\n".into()),
            &[403, 404, 405],
        ),
        (
            "last-seen records are not served",
            req("GET /last-seen/000b82123456.json HTTP/1.1\r\nHost: x\r\n\r\n".into()),
            &[404],
        ),
        ("malformed MAC", req("GET /cfg000b8212345z.xml HTTP/1.1\r\nHost: x\r\n\r\n".into()), &[400, 404]),
        ("unknown method", req("BREW /cfg.xml HTTP/1.1\r\nHost: x\r\n\r\n".into()), &[405]),
        ("DELETE", req("DELETE /cfg000b82123456.xml HTTP/1.1\r\nHost: x\r\n\r\n".into()), &[405]),
        ("lower-case method", req("get /cfg.xml HTTP/1.1\r\nHost: x\r\n\r\n".into()), &[405]),
        ("TRACE", req("TRACE /cfg.xml HTTP/1.1\r\nHost: x\r\n\r\n".into()), &[405]),
        ("OPTIONS *", req("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n".into()), &[400, 404, 405]),
        ("CONNECT", req("CONNECT evil.example:443 HTTP/1.1\r\nHost: x\r\n\r\n".into()), &[400, 404, 405]),
        ("not a token", req("G@T /cfg.xml HTTP/1.1\r\nHost: x\r\n\r\n".into()), &[400]),
        ("PUT of a served file", req("PUT /cfg.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".into()), &[405]),
        ("bad version", req("GET /cfg.xml HTTP/1.1x\r\nHost: x\r\n\r\n".into()), &[400]),
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(), &[400]),
        (
            "broken chunked upload",
            req("PUT /0004f2123456-app.log HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n".into()),
            &[400],
        ),
        (
            "two content lengths",
            req("PUT /0004f2123456-app.log HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd".into()),
            &[400],
        ),
        (
            "MAC conflict",
            req(format!("GET /cfg000b82654321.xml HTTP/1.1\r\nHost: x\r\nUser-Agent: {GS_UA}\r\n\r\n")),
            &[403],
        ),
    ]
}

fn healthy(server: &Server) {
    assert_eq!(server.get("/healthz", None).status, 200);
    let resp = server.get("/cfg000b82123456.xml", Some(GS_UA));
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.body,
        server.rendered("/cfg000b82123456.xml", Some(GS_UA))
    );
}

#[test]
fn every_bad_request_gets_a_4xx_and_the_server_stays_healthy() {
    let server = Server::start();
    let mut failures = Vec::new();
    for (what, raw, allowed) in corpus() {
        let mut c = server.connect();
        let status = c
            .send_raw(&raw)
            .and_then(|()| c.response(false))
            .map(|r| r.status);
        match status {
            Ok(status) if allowed.contains(&status) => {}
            other => failures.push(format!("{what}: {other:?}, wanted one of {allowed:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    healthy(&server);
    // Nothing bad left anything behind in the store.
    assert!(!server.store.join("uploads").exists());
    // Every refusal is logged, those hyper answered before the engine saw them too; none
    // carries a secret.
    let lines = server.log_lines(corpus().len() + 1);
    assert_eq!(lines.len(), corpus().len() + 1, "{}", server.log());
    assert!(lines
        .iter()
        .any(|l| l["status"] == 431 && l["method"] == "-"));
    assert!(lines
        .iter()
        .any(|l| l["status"] == 400 && l["method"] == "-"));
    assert!(!server.log().contains("Secret"));
}

#[test]
fn slow_clients_are_cut_without_holding_up_others() {
    let server = Server::start_with(Some(
        r#"{"server": {"header_read_timeout_ms": 800, "body_read_timeout_ms": 800}}"#,
    ));
    // Slowloris: a request head sent a byte at a time.
    let addr = server.addr;
    let slow = std::thread::spawn(move || {
        let mut c = Client::connect(addr);
        let started = Instant::now();
        c.stream.set_nonblocking(true).unwrap();
        for byte in b"GET /cfg000b82123456.xml HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\n" {
            // Stop once the server has answered or closed (writing on would only earn a reset).
            let mut probe = [0u8; 1];
            match c.stream.peek(&mut probe) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                _ => break,
            }
            if c.stream.write(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        c.stream.set_nonblocking(false).unwrap();
        (c.response(false).map(|r| r.status).ok(), started.elapsed())
    });
    // Idle connections that never send anything.
    let idle: Vec<Client> = (0..20).map(|_| server.connect()).collect();
    // A slow upload: the head, then part of the body, then nothing.
    let mut stalled = server.connect();
    stalled
        .send_raw(b"PUT /0004f2123456-app.log HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        .unwrap();

    // Meanwhile everyone else is served promptly.
    for _ in 0..20 {
        let started = Instant::now();
        assert_eq!(server.get("/cfg.xml", None).status, 200);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let (status, took) = slow.join().unwrap();
    assert_eq!(status, Some(408), "the slow client is told why");
    assert!(
        took < Duration::from_secs(4),
        "cut after the header timeout, not after {took:?}"
    );
    assert_eq!(stalled.response(false).unwrap().status, 408);
    for mut c in idle {
        assert!(
            c.closed_within(Duration::from_secs(3)),
            "an idle connection is closed"
        );
    }
    healthy(&server);
    let lines = server.log_lines(25);
    assert!(
        lines
            .iter()
            .any(|l| l["status"] == 408 && l["method"] == "-"),
        "the cut slow client is logged"
    );
}
