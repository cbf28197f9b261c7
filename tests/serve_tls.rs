//! `provedge serve` with `server.tls`: the HTTPS listener beside the plain one, and the client
//! certificate of a mutual-TLS handshake as the device identity for MAC binding. The PKI is made
//! at test time with the real `openssl` CLI (a phones' CA, a stranger's CA, a server certificate
//! for 127.0.0.1, per-device certificates), and the client is the real `curl`.

mod pki;
mod serve_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pki::{issue, openssl};
use serve_support::{refused, Server};

const OWN: &str = "/cfg000b82123456.xml";

/// The certificates, made once per test run, in cargo's scratch folder for integration tests
/// (replaced on the next run rather than left behind in the system's temp dir).
fn pki() -> &'static Path {
    static PKI: OnceLock<PathBuf> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-tls-pki");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for ca in ["ca", "rogue-ca"] {
            openssl(
                &dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.crt"),
                    "-subj",
                    &format!("/CN=provedge test {ca}"),
                    "-days",
                    "2",
                ],
            );
        }
        // RSA, as most servers phones talk to have; the phones' keys are EC (quicker to make).
        issue(
            &dir,
            "ca",
            "server",
            &["rsa:2048"],
            "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        );
        let client = "extendedKeyUsage=clientAuth\n";
        let ec = &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
        // Its renewal, which a reload puts in force.
        issue(
            &dir,
            "ca",
            "server-renewed",
            ec,
            "/O=renewed/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        );
        issue(
            &dir,
            "ca",
            "own",
            ec,
            "/O=Grandstream/CN=000b82123456",
            client,
        );
        issue(
            &dir,
            "ca",
            "other",
            ec,
            "/O=Grandstream/CN=000b82654321",
            client,
        );
        // The right subject, but signed by a CA the server does not know.
        issue(
            &dir,
            "rogue-ca",
            "rogue",
            ec,
            "/O=Grandstream/CN=000b82123456",
            client,
        );
        dir
    })
}

/// A configuration with `server.tls` on a free port, the phones' CA and `client_cert`, and
/// `policy` as the engine's policy.
fn config(client_cert: &str, policy: &str) -> String {
    config_with("server", "ca", client_cert, policy)
}

/// [`config`] with the server's certificate `cert` and the phones' CA `client_ca` (names in
/// the PKI folder).
fn config_with(cert: &str, client_ca: &str, client_cert: &str, policy: &str) -> String {
    let pki = pki();
    let path = |name: String| serde_json::to_string(&pki.join(name)).unwrap();
    format!(
        r#"{{"engine": {{"policy": {policy}}},
            "server": {{"admin_listen": "127.0.0.1:0",
                        "tls": {{"listen": "127.0.0.1:0", "cert": {}, "key": {},
                                 "client_ca": {}, "client_cert": "{client_cert}"}}}}}}"#,
        path(format!("{cert}.crt")),
        path(format!("{cert}.key")),
        path(format!("{client_ca}.crt")),
    )
}

/// The subject of the certificate the HTTPS listener presents, as `openssl s_client` prints
/// it.
fn presented_subject(addr: SocketAddr) -> String {
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            "localhost",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl s_client");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("subject="))
        .unwrap_or_else(|| panic!("no subject from s_client: {text}"))
        .to_owned()
}

/// The HTTPS listener's address, from its `listening with tls on` line (printed before
/// `listening on`, which the server helper waits for).
fn tls_addr(server: &Server) -> SocketAddr {
    server
        .stderr()
        .lines()
        .find_map(|l| l.strip_prefix("listening with tls on "))
        .expect("no TLS listener announced")
        .trim()
        .parse()
        .unwrap()
}

/// What curl got.
#[derive(Debug)]
struct Fetched {
    /// curl exited 0 (the handshake and the exchange succeeded).
    ok: bool,
    status: String,
    body: Vec<u8>,
    stderr: String,
}

/// `curl https://ADDR/PATH` trusting the phones' CA, with client certificate `cert` (a name in
/// the PKI folder) and `extra` arguments.
fn curl(addr: SocketAddr, path: &str, cert: Option<&str>, extra: &[&str]) -> Fetched {
    let pki = pki();
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--max-time",
        "10",
        "-w",
        "\n%{http_code}",
        "--cacert",
    ])
    .arg(pki.join("ca.crt"));
    if let Some(cert) = cert {
        cmd.arg("--cert")
            .arg(pki.join(format!("{cert}.crt")))
            .arg("--key")
            .arg(pki.join(format!("{cert}.key")));
    }
    let out = cmd
        .args(extra)
        .arg(format!("https://{addr}{path}"))
        .output()
        .expect("curl");
    let mut body = out.stdout;
    let split = body.iter().rposition(|&b| b == b'\n').unwrap_or(0);
    let status = String::from_utf8_lossy(&body[split + 1..])
        .trim()
        .to_owned();
    body.truncate(split);
    Fetched {
        ok: out.status.success(),
        status,
        body,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn assert_status(addr: SocketAddr, path: &str, cert: Option<&str>, status: &str) -> Fetched {
    let got = curl(addr, path, cert, &[]);
    assert!(got.ok, "{path} with {cert:?}: {}", got.stderr);
    assert_eq!(got.status, status, "{path} with {cert:?}: {got:?}");
    got
}

/// The handshake fails: curl gives up with no HTTP status.
fn assert_refused_handshake(addr: SocketAddr, cert: Option<&str>) {
    let got = curl(addr, OWN, cert, &[]);
    assert!(!got.ok, "{cert:?} was let in: {got:?}");
    assert_eq!(got.status, "000", "{cert:?}: {got:?}");
}

/// Waits for an access-log line containing `needle`.
fn log_line(server: &Server, needle: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(line) = server.log().lines().find(|l| l.contains(needle)) {
            return serde_json::from_str(line).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {needle}: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_certificate_binds_the_device_file_and_plain_http_stays() {
    let server = Server::start_with(Some(&config("optional", "{}")));
    let tls = tls_addr(&server);
    // (a) Its own certificate: exactly what `provedge render` makes.
    let own = assert_status(tls, OWN, Some("own"), "200");
    assert_eq!(own.body, server.rendered(OWN, None));
    // Over TLS 1.2 too (many phones speak nothing newer).
    let old = curl(tls, OWN, Some("own"), &["--tls-max", "1.2"]);
    assert_eq!(
        (old.ok, old.status.as_str()),
        (true, "200"),
        "{}",
        old.stderr
    );
    assert_eq!(old.body, own.body);
    // (b) A certificate naming another phone: refused, whatever the path says.
    assert_status(tls, OWN, Some("other"), "403");
    // Its own file passes the binding (the example store has no such phone: 404, not 403).
    assert_status(tls, "/cfg000b82654321.xml", Some("other"), "404");
    // (c) No certificate: served without identity, generic and device files alike.
    assert_status(tls, "/cfg.xml", None, "200");
    assert_status(tls, OWN, None, "200");
    // (d) The right subject from an unknown CA: the handshake fails; never an identity.
    assert_refused_handshake(tls, Some("rogue"));
    let failure = log_line(&server, "handshake failed");
    assert_eq!(failure["client"], "127.0.0.1");
    assert!(failure["note"].as_str().is_some_and(|n| !n.is_empty()));
    // (f) Plain HTTP beside it.
    let plain = server.get(OWN, None);
    assert_eq!(plain.status, 200);
    assert_eq!(plain.body, own.body);
    // Keep-alive over TLS: two requests, one connection (curl counts the connects it made).
    let pki = pki();
    let two = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
        ])
        .args(["-w", "%{http_code} %{num_connects}\n", "--cacert"])
        .arg(pki.join("ca.crt"))
        .arg("--cert")
        .arg(pki.join("own.crt"))
        .arg("--key")
        .arg(pki.join("own.key"))
        .arg(format!("https://{tls}/cfg.xml"))
        .arg(format!("https://{tls}{OWN}"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&two.stdout), "200 1\n200 0\n");
    // Every request is logged like a plain one.
    let line = log_line(&server, "\"status\":403");
    assert_eq!(
        line["note"],
        "certificate names 000b82654321, request is for 000b82123456"
    );
    let metrics = server.metrics();
    assert!(
        metrics.contains("provedge_tls_handshake_failures_total 1\n"),
        "{metrics}"
    );
}

#[test]
fn an_identity_required_by_policy_comes_only_from_a_verified_certificate() {
    let policy = r#"{"default": {"require_identity": true}}"#;
    let server = Server::start_with(Some(&config("optional", policy)));
    let tls = tls_addr(&server);
    assert_status(tls, OWN, Some("own"), "200");
    // (c) Without a certificate the policy refuses, on either listener.
    assert_status(tls, OWN, None, "403");
    assert_eq!(server.get(OWN, None).status, 403);
    // A forwarded-certificate header from a peer that is no trusted proxy is no identity.
    let xfcc = r#"x-forwarded-client-cert: Subject="CN=000b82123456""#;
    let forged = curl(tls, OWN, None, &["-H", xfcc]);
    assert_eq!(forged.status, "403", "{forged:?}");
    assert_refused_handshake(tls, Some("rogue"));
}

#[test]
fn required_client_certificates_are_checked_at_the_handshake() {
    let server = Server::start_with(Some(&config("required", "{}")));
    let tls = tls_addr(&server);
    // (e) No certificate, (d) an unknown CA's: no HTTP at all.
    assert_refused_handshake(tls, None);
    assert_refused_handshake(tls, Some("rogue"));
    let own = assert_status(tls, OWN, Some("own"), "200");
    assert_eq!(own.body, server.rendered(OWN, None));
    assert_status(tls, OWN, Some("other"), "403");
    // Plain HTTP is not affected by the TLS listener's mode.
    assert_eq!(server.get("/cfg.xml", None).status, 200);
}

#[test]
fn a_renewed_certificate_and_a_new_phones_ca_take_effect_at_the_reload() {
    let server = Server::start_with(Some(&config("required", "{}")));
    let tls = tls_addr(&server);
    assert!(!presented_subject(tls).contains("renewed"));
    assert_status(tls, OWN, Some("own"), "200");
    assert_refused_handshake(tls, Some("rogue"));

    let line = server.reload(&config_with("server-renewed", "rogue-ca", "required", "{}"));
    assert!(line.starts_with("reloaded "), "{line}");
    // New handshakes get the renewed certificate, and the new CA's phones are let in while the
    // old CA's are not.
    assert!(presented_subject(tls).contains("renewed"));
    let own = assert_status(tls, OWN, Some("rogue"), "200");
    assert_eq!(own.body, server.rendered(OWN, None));
    assert_refused_handshake(tls, Some("own"));

    // A key that does not match its certificate is refused, and the renewed pair stays.
    let pki = pki();
    let mismatched = config_with("server-renewed", "rogue-ca", "required", "{}").replace(
        &serde_json::to_string(&pki.join("server-renewed.key")).unwrap(),
        &serde_json::to_string(&pki.join("server.key")).unwrap(),
    );
    let line = server.reload(&mismatched);
    assert!(
        line.starts_with("reload failed, ") && line.contains("server.tls.key"),
        "{line}"
    );
    assert!(presented_subject(tls).contains("renewed"));
    assert_status(tls, OWN, Some("rogue"), "200");
}

#[test]
fn garbage_on_the_tls_port_ends_only_that_connection() {
    let mut server = Server::start_with(Some(&config("optional", "{}")));
    let tls = tls_addr(&server);
    let sends: [&[u8]; 3] = [
        b"GET /cfg.xml HTTP/1.1\r\nHost: x\r\n\r\n",
        // A handshake record whose ClientHello is cut short and malformed.
        b"\x16\x03\x01\x00\x08\x01\x00\x00\x04\xff\xff\xff\xff",
        &[0u8; 600],
    ];
    for bytes in sends {
        let mut tcp = TcpStream::connect(tls).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        tcp.write_all(bytes).unwrap();
        // The server answers with an alert at most, then closes.
        let mut answer = Vec::new();
        let _ = tcp.read_to_end(&mut answer);
        assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    }
    // (g) The server is still up, on both listeners.
    assert_status(tls, OWN, Some("own"), "200");
    assert_eq!(server.get("/cfg.xml", None).status, 200);
    log_line(&server, "handshake failed");
    // A connection that never starts its handshake does not hold up SIGTERM.
    let _idle = TcpStream::connect(tls).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    server.signal_term();
    let status = server
        .wait(Duration::from_secs(5))
        .expect("an idle TLS connection held up shutdown");
    assert!(status.success(), "{}", server.stderr());
    assert!(server.stderr().contains("stopped"));
}

#[test]
fn bad_tls_configuration_is_refused_at_start_naming_the_file_and_key() {
    let pki = pki();
    let good = config("optional", "{}");
    let server_crt = serde_json::to_string(&pki.join("server.crt")).unwrap();
    let server_key = serde_json::to_string(&pki.join("server.key")).unwrap();
    let missing = pki.join("missing.crt");
    let own_key = serde_json::to_string(&pki.join("own.key")).unwrap();
    let cases = [
        // (h) A missing certificate file: its key and its path.
        (
            good.replacen(&server_crt, &serde_json::to_string(&missing).unwrap(), 1),
            format!("server.tls.cert: {}: No such file", missing.display()),
        ),
        // A key that is not the certificate's.
        (
            good.replacen(&server_key, &own_key, 1),
            "server.tls.key: ".to_owned(),
        ),
        // A key file holding a certificate only.
        (
            good.replacen(&server_key, &server_crt, 1),
            "server.tls.key: ".to_owned()
                + &pki.join("server.crt").display().to_string()
                + ": no PRIVATE KEY",
        ),
        // A CA bundle that is not PEM.
        (
            good.replacen(
                &serde_json::to_string(&pki.join("ca.crt")).unwrap(),
                &serde_json::to_string(&pki.join("own.ext")).unwrap(),
                1,
            ),
            "server.tls.client_ca: ".to_owned() + &pki.join("own.ext").display().to_string(),
        ),
        (
            good.replace("\"optional\"", "\"sometimes\""),
            "server.tls.client_cert: unknown variant `sometimes`".to_owned(),
        ),
        (
            format!(
                r#"{{"server": {{"tls": {{"cert": {server_crt}, "key": {server_key}, "client_cert": "required"}}}}}}"#
            ),
            "server.tls.client_cert: needs server.tls.client_ca".to_owned(),
        ),
        (
            r#"{"server": {"tls": {"key": "k.pem"}}}"#.to_owned(),
            "server.tls: missing field `cert`".to_owned(),
        ),
    ];
    for (text, expected) in cases {
        let (code, stderr, path) = refused(&text, &[]);
        assert_eq!(code, Some(2), "{text}: {stderr}");
        assert!(
            stderr.starts_with(&format!("{path}: ")) && stderr.contains(&expected),
            "{text}\nexpected {expected:?} in {stderr:?}"
        );
        assert!(!stderr.contains("PRIVATE KEY-----"), "{stderr}");
    }
    let (code, stderr, _) = refused("{}", &["--tls-listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("--tls-listen: needs server.tls"),
        "{stderr}"
    );
}
