//! `provedge serve` start and stop: configuration errors name the file and the key, SIGTERM
//! lets open requests finish, and rewrite mode forwards to the configured upstream.

mod serve_support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use serve_support::{refused, Server, GS_UA, POLY_UA};

#[test]
fn configuration_errors_name_the_file_and_the_key() {
    let cases = [
        (
            r#"{"server": {"upstrem": "http://127.0.0.1:1"}}"#,
            "server.upstrem: unknown field",
        ),
        (
            r#"{"server": {"store_cache_bytes": "big"}}"#,
            "server.store_cache_bytes: invalid type",
        ),
        (
            r#"{"engine": {"route": {"limits": {"max_target": "x"}}}}"#,
            "engine.route.limits.max_target: invalid type",
        ),
        (
            r#"{"engine": {"uploads": {"max_byte": 1}}}"#,
            "engine.uploads.max_byte: unknown field",
        ),
        (
            r#"{"engine": {"mode": {"rewrite": {"prefix": "/s"}}}}"#,
            "server.upstream: required",
        ),
        (
            r#"{"server": {"upstream": "ftp://127.0.0.1/"}}"#,
            "server.upstream: only http://",
        ),
        (
            r#"{"server": {"max_header_bytes": 100}}"#,
            "server.max_header_bytes",
        ),
        (
            r#"{"server": {"max_connections_per_ip": 0}}"#,
            "server.max_connections_per_ip: must be above 0",
        ),
        (
            r#"{"server": {"admin_listen": "localhost"}}"#,
            "server.admin_listen: invalid socket address",
        ),
        (
            r#"{"server": {"uploads_max_total_bytes": -1}}"#,
            "server.uploads_max_total_bytes: invalid value",
        ),
        (
            r#"{"route": {}}"#,
            "route: unknown field `route`, expected one of `engine`, `server`, `worker`",
        ),
        (r#"{"server": "#, "EOF while parsing"),
    ];
    for (config, want) in cases {
        let (code, stderr, path) = refused(config, &[]);
        assert_eq!(code, Some(2), "{config}: {stderr}");
        assert!(
            stderr.starts_with(&format!("{path}: ")),
            "{config}: {stderr}"
        );
        assert!(stderr.contains(want), "{config}: {stderr:?} lacks {want:?}");
        assert!(!stderr.contains("listening"), "{config}: started anyway");
    }
    // Credentials are never echoed.
    let (code, stderr, _) = refused(r#"{"server": {"upstream": "http://u:hunter2@h/"}}"#, &[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("server.upstream") && !stderr.contains("hunter2"),
        "{stderr}"
    );
    let (code, stderr, _) = refused(r#"{"server": {"metrics_token": "hunter2 x"}}"#, &[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("server.metrics_token: must be a non-empty bearer token")
            && !stderr.contains("hunter2"),
        "{stderr}"
    );
    // A missing store folder is named too.
    let (code, stderr, _) = refused("{}", &["--store", "/nonexistent/provedge-store"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("/nonexistent/provedge-store"), "{stderr}");
}

#[test]
fn sigterm_lets_open_requests_finish() {
    let mut server = Server::start();
    // An idle keep-alive connection must not hold up the shutdown.
    let mut idle = server.connect();
    assert_eq!(idle.request("GET", "/cfg.xml", &[], None).status, 200);
    // An upload half-sent when the signal arrives.
    let mut upload = server.connect();
    upload
        .send_raw(
            b"PUT /0004f2123456-app.log HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234",
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.signal_term();
    std::thread::sleep(Duration::from_millis(300));
    // The listener is closed, the open request still completes.
    assert!(
        std::net::TcpStream::connect(server.addr).is_err(),
        "still accepting after SIGTERM"
    );
    upload.send_raw(b"56789").unwrap();
    let resp = upload.response(false).unwrap();
    assert_eq!(resp.status, 201);
    let status = server
        .wait(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(server.stderr().contains("shutting down"));
    assert!(server.stderr().contains("stopped"));
    assert_eq!(
        std::fs::read(server.store.join("uploads/polycom/0004f2123456-app.log")).unwrap(),
        b"0123456789"
    );
    // Every answered request made it to the log before the exit.
    let lines = server.log_lines(2);
    assert_eq!(lines.len(), 2, "{}", server.log());
    drop(idle);
}

#[test]
fn rewrite_mode_forwards_to_the_upstream() {
    // A one-request-per-connection upstream that echoes the target it was asked for.
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = upstream.local_addr().unwrap().port();
    let seen = std::thread::spawn(move || {
        let mut heads = Vec::new();
        for _ in 0..2 {
            let (stream, _) = upstream.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                head.push(line.trim_end().to_owned());
            }
            let body = format!("upstream saw {}", head[0]);
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            heads.push(head);
        }
        heads
    });
    let server = Server::start_with(Some(&format!(
        r#"{{"engine": {{"mode": {{"rewrite": {{"prefix": "/store"}}}}}},
            "server": {{"upstream": "http://127.0.0.1:{port}/base"}}}}"#
    )));
    let resp = server.get("/prov/CFG000B82123456.XML", Some(GS_UA));
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.text(),
        "upstream saw GET /base/store/grandstream/cfg000b82123456.xml HTTP/1.1"
    );
    // Uploads are still stored by the server itself, not forwarded.
    let mut c = server.connect();
    let up = c.request(
        "PUT",
        "/0004f2123456-app.log",
        &[("User-Agent", POLY_UA)],
        Some(b"log"),
    );
    assert_eq!(up.status, 201);
    let resp = server.get("/algom0022EE123456.conf", None);
    assert_eq!(
        resp.text(),
        "upstream saw GET /base/store/algo/algom0022ee123456.conf HTTP/1.1"
    );
    let heads = seen.join().unwrap();
    assert!(heads[0]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(&format!("host: 127.0.0.1:{port}"))));
    assert!(heads[0]
        .iter()
        .any(|h| h.eq_ignore_ascii_case("x-forwarded-for: 127.0.0.1")));
    assert!(heads[0]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(&format!("user-agent: {GS_UA}"))));
}

#[test]
fn an_unreachable_upstream_is_a_502() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let server = Server::start_with(Some(&format!(
        r#"{{"engine": {{"mode": {{"rewrite": {{"prefix": "/store"}}}}}},
            "server": {{"upstream": "http://127.0.0.1:{port}"}}}}"#
    )));
    let resp = server.get("/cfg000b82123456.xml", None);
    assert_eq!(resp.status, 502);
    assert!(
        resp.body.is_empty(),
        "the reason goes to the log, not the client"
    );
    let lines = server.log_lines(1);
    assert!(
        lines[0]["note"].as_str().unwrap_or("").contains("connect"),
        "{}",
        server.log()
    );
}
