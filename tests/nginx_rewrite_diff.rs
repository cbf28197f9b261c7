//! Differential test: provedge's rewrite engine against real nginx.
//!
//! Every rule file under `tests/data/rewrite/` (the FusionPBX lists from the seed, each as
//! written and all together, plus files pinning down nginx's semantics) and the output of
//! `provedge rules export-nginx` are loaded into a Debian
//! nginx on 127.0.0.1. Each location gets `proxy_pass` to a raw-socket echo in this test that
//! answers with the exact request-target bytes nginx sent upstream, and every response carries
//! nginx's final `$uri` and `$args` in headers. A corpus of generated request paths goes through both, and every difference fails
//! the test unless it is in [`DIVERGENCES`] (which mirrors `docs/rewrite.md`).
//!
//! A second test generates rule files and requests (`rewrite_gen`): every directive of the
//! rewrite module, nested and regex locations, `allow`/`deny` and every variable provedge
//! offers, `PROVEDGE_REWRITE_SEED` and `PROVEDGE_REWRITE_SETS` choosing the seed and the size
//! (a bigger run is a matter of those two variables).
//!
//! Without nginx the test is skipped, unless `CI` or `PROVEDGE_REQUIRE_INTEROP=1` is set: then
//! a missing nginx fails it. `scripts/test-all` installs nginx when it is missing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use provedge::rewrite::{Outcome, RewriteInput, RuleSet};

#[path = "rewrite_gen/mod.rs"]
mod rewrite_gen;

/// The rule files compared, from `tests/data/rewrite/`.
const SETS: &[&str] = &[
    "fusionpbx-mcrane",
    "fusionpbx-cfg",
    "fusionpbx-yealink",
    "fusionpbx-combined",
    "fusionpbx-mputnam",
    "fusionpbx-syadnom",
    "fusionpbx-location",
    "fusionpbx-all",
    "fusionpbx-install",
    "semantics-server",
    "semantics-locations",
    "semantics-script",
];

/// Known, justified differences: (rule set or `*`, request path, why). Each is documented in
/// docs/rewrite.md, and each must still differ (a stale entry fails the test too).
const DIVERGENCES: &[(&str, &str, &str)] = &[];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rewrite")
}

// ---- nginx process -------------------------------------------------------------------------

fn interop_required() -> bool {
    let ci = std::env::var("CI")
        .map(|v| !v.is_empty() && v != "0" && v != "false")
        .unwrap_or(false);
    ci || std::env::var("PROVEDGE_REQUIRE_INTEROP").as_deref() == Ok("1")
}

fn find_nginx() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"].map(PathBuf::from))
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
}

/// nginx, or `None` (skip) when it is missing and interop is not required.
fn nginx_or_skip() -> Option<PathBuf> {
    match find_nginx() {
        Some(p) => Some(p),
        None if interop_required() => {
            panic!("nginx is required (CI or PROVEDGE_REQUIRE_INTEROP=1) but not installed")
        }
        None => {
            eprintln!(
                "SKIPPED: nginx not installed (set PROVEDGE_REQUIRE_INTEROP=1 to make this fail)"
            );
            None
        }
    }
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("provedge-{tag}-{}-{nanos}", std::process::id()));
        for sub in ["tmp", "empty", "logs"] {
            std::fs::create_dir_all(dir.join(sub)).expect("scratch dir");
        }
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An upstream that answers every request with the exact target bytes of its request line,
/// even ones no HTTP server would accept (nginx forwards raw spaces from `$uri` in a query).
fn start_echo() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("echo listener");
    let port = listener.local_addr().expect("echo addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            std::thread::spawn(move || echo_one(conn));
        }
    });
    port
}

/// Answers one upstream connection with its request target.
fn echo_one(mut conn: TcpStream) {
    {
        {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let line_end = head
                .windows(2)
                .position(|w| w == b"\r\n")
                .unwrap_or(head.len());
            let line = &head[..line_end];
            let start = line.iter().position(|&b| b == b' ').map_or(0, |i| i + 1);
            let end = line
                .windows(6)
                .rposition(|w| w == b" HTTP/")
                .unwrap_or(line.len())
                .max(start);
            let target = &line[start..end];
            let mut resp = format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n",
                target.len()
            )
            .into_bytes();
            resp.extend_from_slice(target);
            let _ = conn.write_all(&resp);
        }
    }
}

/// A running nginx, stopped on drop.
struct Nginx {
    child: Child,
    port: u16,
    dir: Scratch,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The `http { … }` preamble every test config shares: everything inside the scratch dir, and a
/// single process (`master_process off`), so stopping the child leaves no orphaned worker.
fn http_preamble(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "master_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log notice;\n\
         events {{ worker_connections 256; }}\nhttp {{\n    access_log off;\n\
         client_body_temp_path {d}/tmp/body;\n    proxy_temp_path {d}/tmp/proxy;\n\
         fastcgi_temp_path {d}/tmp/fastcgi;\n    uwsgi_temp_path {d}/tmp/uwsgi;\n\
         scgi_temp_path {d}/tmp/scgi;\n"
    )
}

/// Directives a rule file may hold that only say how nginx serves content itself; the test
/// replaces them with `proxy_pass` to the echo (provedge leaves them to the upstream).
const CONTENT: &[&str] = &[
    "listen",
    "server_name",
    "access_log",
    "error_log",
    "client_max_body_size",
    "client_body_buffer_size",
    "root",
    "alias",
    "index",
    "include",
    "default_type",
    "fastcgi_pass",
    "fastcgi_index",
    "fastcgi_param",
    "fastcgi_read_timeout",
    "auth_basic",
];

/// A fixture as the test serves it: a `server { … }` wrapper taken off, content directives
/// dropped, and `proxy_pass` to the echo server in every location. (Line-based, so fixtures
/// keep one directive or block opening per line.) Also says whether it has `location /`.
fn with_proxy(rules: &str, port: u16) -> (String, bool) {
    let mut lines: Vec<&str> = rules.lines().collect();
    let first = lines
        .iter()
        .position(|l| !l.trim().is_empty() && !l.trim().starts_with('#'));
    if let Some(at) = first.filter(|&at| lines[at].trim() == "server {") {
        lines.remove(at);
        if let Some(end) = lines.iter().rposition(|l| l.trim() == "}") {
            lines.remove(end);
        }
    }
    let mut out = String::new();
    let mut has_root = false;
    for line in lines {
        let t = line.trim();
        if CONTENT.contains(&t.split_whitespace().next().unwrap_or("")) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if t.starts_with("location") && t.ends_with('{') {
            has_root |= t.split_whitespace().nth(1) == Some("/");
            out.push_str(&format!("        proxy_pass http://127.0.0.1:{port};\n"));
        }
    }
    (out, has_root)
}

/// Starts nginx with one `server` per rule set, selected by Host `<set>.test`, proxying to the
/// echo upstream on `echo`.
fn start(nginx: &Path, sets: &[(String, String)], echo: u16) -> Nginx {
    for _attempt in 0..3 {
        let dir = Scratch::new("nginx");
        let port = free_port();
        let mut conf = http_preamble(&dir.0);
        for (name, rules) in sets {
            let (rules, has_root) = with_proxy(rules, echo);
            conf.push_str(&format!(
                "    server {{\n        listen 127.0.0.1:{port};\n        server_name {name}.test;\n\
                 \x20       root {}/empty;\n        add_header X-Uri \"$uri\" always;\n\
                 \x20       add_header X-Args \"$args\" always;\n{rules}",
                dir.0.display()
            ));
            if !has_root {
                conf.push_str(&format!(
                    "        location / {{ proxy_pass http://127.0.0.1:{echo}; }}\n"
                ));
            }
            conf.push_str("    }\n");
        }
        conf.push_str("}\n");
        std::fs::write(dir.0.join("nginx.conf"), &conf).expect("write nginx.conf");
        let mut child = Command::new(nginx)
            .arg("-p")
            .arg(&dir.0)
            .arg("-c")
            .arg(dir.0.join("nginx.conf"))
            .args(["-e", "logs/error.log", "-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn nginx");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                let log = std::fs::read_to_string(dir.0.join("logs/error.log")).unwrap_or_default();
                if log.contains("Address already in use") || err.contains("Address already in use")
                {
                    break; // port race: try another
                }
                panic!("nginx exited at start:\n{err}\n{log}");
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Nginx { child, port, dir };
            }
            assert!(Instant::now() < deadline, "nginx did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("could not start nginx on a free port");
}

/// What nginx answered.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

fn split_crlf(head: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(at) = head[start..].windows(2).position(|w| w == b"\r\n") {
        out.push(&head[start..start + at]);
        start += at + 2;
    }
    out.push(&head[start..]);
    out
}

fn get(port: u16, host: &str, target: &str) -> Answer {
    request(port, "GET", host, target, &[])
}

/// Sends one request (its own connection) and reads the whole answer.
fn request(
    port: u16,
    method: &str,
    host: &str,
    target: &str,
    headers: &[(String, String)],
) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if method == "POST" || method == "PUT" {
        req.push_str("Content-Length: 0\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = &raw[..split];
    let body = raw[split + 4..].to_vec();
    // Header lines end in CRLF; a bare LF inside a value (a Location built from a decoded
    // `%0A`) is part of the value, as nginx sends it.
    let mut lines = split_crlf(head).into_iter();
    let status_line = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| {
            let colon = l.iter().position(|&b| b == b':')?;
            let name = String::from_utf8_lossy(&l[..colon]).into_owned();
            let value = l[colon + 1..]
                .strip_prefix(b" ")
                .unwrap_or(&l[colon + 1..])
                .to_vec();
            Some((name, value))
        })
        .collect();
    Answer {
        status,
        headers,
        body,
    }
}

// ---- the corpus ----------------------------------------------------------------------------

/// Request targets: every vendor's file names under the directories phones use, in lower,
/// upper and mixed case, with and without queries; percent-encoding and dot segments; paths
/// no rule matches; malformed targets; and the restart chains and cycles.
fn corpus() -> Vec<String> {
    let macs = [
        ("0004f2a1b2c3", "polycom"),
        ("001565a1b2c3", "yealink"),
        ("000b82a1b2c3", "grandstream"),
        ("00085da1b2c3", "aastra"),
        ("0022eea1b2c3", "algo"),
        ("0023eba1b2c3", "cisco"),
        ("000413a1b2c3", "snom"),
    ];
    let files = |mac: &str| -> Vec<String> {
        let up = mac.to_ascii_uppercase();
        [
            format!("{mac}.cfg"),
            format!("{mac}.xml"),
            mac.to_owned(),
            format!("cfg{mac}.xml"),
            format!("cfg{mac}"),
            format!("cfg{mac}.cfg"),
            format!("{mac}-phone.cfg"),
            format!("{mac}-sip.cfg"),
            format!("{mac}-registration.cfg"),
            format!("{mac}-site.cfg"),
            format!("{mac}-web.cfg"),
            format!("{mac}-features.cfg"),
            format!("{mac}.boot"),
            format!("SEP{up}.cnf.xml"),
            format!("algom{up}.conf"),
            format!("snom320-{up}.htm"),
        ]
        .into()
    };
    let generic = [
        "000000000000.cfg",
        "features.cfg",
        "aastra.cfg",
        "y000000000066.cfg",
        "y000000000066",
        "y000000000000.boot",
        "sip.ld",
        "cfg.xml",
        "spa504g.cfg",
        "startup.cfg",
        "logo.png",
        "bg/wall.jpg",
        "a.b.gif",
        "x.PNG",
        "sip_330.ld",
        "000000000000-directory.xml",
    ];
    let dirs = [
        "/provision/",
        "/app/provision/",
        "/prov/",
        "/provisioning/yealink/",
        "/x/y/provision/",
        "/",
    ];
    let mut out: Vec<String> = Vec::new();
    for (i, (mac, vendor)) in macs.iter().enumerate() {
        for (j, file) in files(mac).iter().enumerate() {
            // Every file under /provision/; the other directories in turn, so each is covered.
            out.push(format!("/provision/{file}"));
            out.push(format!("{}{file}", dirs[1 + (i + j) % (dirs.len() - 1)]));
            if j % 3 == i % 3 {
                out.push(format!("/provision/{}", file.to_ascii_uppercase()));
                out.push(format!(
                    "/provisioning/{vendor}/{}",
                    file.replace(mac, &mac.to_ascii_uppercase())
                ));
            }
        }
        out.push(format!("/provisioning/{vendor}/{mac}.cfg"));
        out.push(format!(
            "/provisioning/{}/{mac}.xml",
            vendor.to_ascii_uppercase()
        ));
        out.push(format!("/provision/{mac}.cfg?mac={mac}&x=1"));
    }
    for g in generic {
        for d in dirs {
            out.push(format!("{d}{g}"));
        }
        out.push(format!("/PROVISION/{g}"));
        out.push(format!("/provision/{}", g.to_ascii_uppercase()));
    }
    let queries = [
        "?",
        "?a=1",
        "?a=1&b=2",
        "?mac=0004f2a1b2c3",
        "?a=%20&b=+&c=%zz",
        "?a=1#frag",
    ];
    for q in queries {
        for p in [
            "/provision/0004f2a1b2c3.cfg",
            "/provision/000000000000.cfg",
            "/provision/cfg000b82a1b2c3.xml",
        ] {
            out.push(format!("{p}{q}"));
        }
        out.push(format!("/provision/y000000000066.cfg{q}"));
        out.push(format!("/provision/logo.png{q}"));
        out.push(format!("/nothing/here{q}"));
    }
    let encoded = [
        "/provision/%30004f2a1b2c3.cfg",
        "/provision%2F0004f2a1b2c3.cfg",
        "/provision/0004F2A1B2C3%2ecfg",
        "/provision/%2e%2e/provision/0004f2a1b2c3.cfg",
        "/a/%2E%2E/provision/features.cfg",
        "/provision/0004f2a1b2c3.cfg%3Fx=1",
        "/provision/a%20b.png",
        "/provision/%25.png",
        "/provision/a%23b.png",
        "/provision/a+b.png",
        "/provision/a%2Bb.png",
        "/provision/%C3%A9.png",
        "/provision/%FF.png",
        "/provision/é.png",
        "/provision/%zz.cfg",
        "/provision/%00.cfg",
        "/provision/%4.cfg",
        "/../provision/x.cfg",
        "/provision/../../x",
        "//provision///0004f2a1b2c3.cfg",
        "/provision/./0004f2a1b2c3.cfg",
        "/provision/0004f2a1b2c3.cfg/.",
        "/provision/0004f2a1b2c3.cfg/..",
        "/provision/0004f2a1b2c3.cfg#frag",
        "/provision/0004f2a1b2c3.cfg%0A",
        "/provision/x%2F..%2F0004f2a1b2c3.cfg",
        "/provision/0004f2a1b2c3-phone.cfg?a=%41",
        "/provision/a%26b.png?c=d",
        "/provision/a%3fb.gif",
        "/provision/a%22b%3Cc%3E.jpg",
    ];
    out.extend(encoded.iter().map(|s| s.to_string()));
    // Long targets: nginx's 8 KiB request-line buffer (414 beyond) and provedge's bound.
    out.push(format!("/provision/{}.cfg", "a".repeat(7000)));
    out.push(format!("/provision/{}.cfg", "a".repeat(9000)));
    let unmatched = [
        "/",
        "/index.html",
        "/app/provision/index.php?mac=0004f2a1b2c3",
        "/app/provision/?mac=0004f2a1b2c3&file=x",
        "/provision/",
        "/provision/readme.txt",
        "/provision/0004f2a1b2c.cfg",
        "/provision/0004f2a1b2c3d.cfg",
        "/provision/0004f2a1b2cg.cfg",
        "/provision/features.cfg.bak",
        "/provision/logo.png/extra",
    ];
    out.extend(unmatched.iter().map(|s| s.to_string()));
    for s in [
        "noflag/a",
        "last/a",
        "break/a",
        "drop/a",
        "newq/a",
        "newqdrop/a",
        "twoq/a",
        "esc/a%20b",
        "esc/a+b",
        "esc/a&b",
        "esc/a%26b",
        "esc/plain",
        "sticky/a%20b",
        "sticky/a+b",
        "sticky/a b",
        "sticky/ab",
        "vars/a",
        "vars/a%20b",
        "docuri",
        "nocap/a",
        "opt/b",
        "opt/ab",
        "pct/a",
        "pct/a%25",
        "backslash/a",
        "CASE/a",
        "case/a",
        "ci/a",
        "CI/a",
        "é/a",
        "%C3%A9/a",
        "nl/a%0A",
        "dollargroup/a",
        "dollargroup/a%0A",
        "red/a",
        "red/a%20b",
        "red/a+b",
        "perm/a",
        "abs/a",
        "abs/a%2Bb",
        "abs2/a",
        "absdrop/a",
        "scheme/a",
        "redesc/a",
        "redesc/%25",
        "redbad/a",
        "empty",
        "qonly",
    ] {
        out.push(format!("/s/{s}"));
        if !s.contains('%') && !s.contains(' ') {
            out.push(format!("/s/{s}?a=1&b=%20"));
        }
    }
    for k in 0..=12 {
        let xs = "x".repeat(k);
        out.push(format!("/chain/{xs}"));
        out.push(format!("/chain/7{xs}?q=1"));
        out.push(format!("/nf/{xs}"));
        out.push(format!("/srv/{xs}"));
    }
    for p in [
        "/exact",
        "/exact/",
        "/exactly",
        "/stop/a.cfg",
        "/stop",
        "/stopped/a",
        "/re/a.cfg",
        "/re/a.xml",
        "/re/a.XML",
        "/re/a.CFG",
        "/chain/xx.cfg",
        "/nfbreak/xxa",
        "/loop/a",
        "/hop/a",
        "/hop/a.cfg",
        "/lr/a",
        "/lr/a?z=1",
        "/empty",
        "/q/a",
        "/q/a%20b?z=1",
        "/root/xxxx",
        "/root/xxxxxxxxxx",
        "/root/xxxxxxxxx",
    ] {
        out.push(p.to_owned());
    }
    // semantics-script and the FusionPBX install block.
    for p in [
        "/t/if/abc/def",
        "/t/if/abc/d%20f",
        "/t/quote/a%20b",
        "/t/quote/a+b",
        "/t/quote/ab",
        "/t/clear/x",
        "/t/nogroup/abc",
        "/t/ret/301",
        "/t/ret/301?a=1",
        "/t/ret/url?x=1",
        "/t/ret/404",
        "/t/ret/204",
        "/t/ret/empty",
        "/t/ret/redir-empty",
        "/t/ret/other?z",
        "/t/brk/x",
        "/t/args",
        "/t/args?q=1",
        "/t/nest/a",
        "/t/nest/deep/a",
        "/t/nest/a.cfg",
        "/t/nest/a.xml",
        "/t/cond?a=1",
        "/t/cond?a=0",
        "/t/cond?b=x",
        "/t/cond?c=1",
        "/t/cond",
        "/t/vars?x=1",
        "/t/deny/x",
        "/t/allow/x",
        "/.well-known/acme-challenge/token",
        "/provision/api/v1/x",
        "/u/api/v1",
        "/app/xml_cdr/x.php",
        "/core/upgrade/index.php",
        "/provision/x.db",
        "/provision/.htaccess",
        "/firmware/a.bin",
        "/provision/algom0004f2a1b2c3.conf",
        "/provision/MN_0004f2a1b2c3.cfg",
        "/provision/12345/cfg0004f2a1b2c3.xml",
        "/provision/file/a.xml",
        "/provision/-0004f2a1b2c3",
        "/provision/pb0004f2a1b2c3/directory.xml",
    ] {
        out.push(p.to_owned());
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.clone()));
    out
}

// ---- comparison ----------------------------------------------------------------------------

fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b).escape_debug().to_string();
    match s.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s,
    }
}

/// Compares nginx's answer with provedge's; `None` if they agree. `head`: the request was a
/// HEAD, so nginx sent no body.
fn differ(outcome: &Outcome, nginx: &Answer, host: &str, port: u16, head: bool) -> Option<String> {
    let absolute = |location: &[u8]| {
        // nginx makes a Location starting with `/` absolute (absolute_redirect on).
        let mut want = if location.starts_with(b"/") {
            format!("http://{host}:{port}").into_bytes()
        } else {
            Vec::new()
        };
        want.extend_from_slice(location);
        want
    };
    match outcome {
        Outcome::Internal(pass) => {
            let target = pass.upstream_target();
            let printable = |b: &[u8]| b.iter().all(|&c| c >= 0x20 && c != 0x7f);
            let header = |n: &str| nginx.header(n).unwrap_or_default().to_vec();
            let same = nginx.status == 200
                && (head || nginx.body == target)
                && (!printable(pass.uri()) || header("X-Uri") == pass.uri())
                && (!printable(pass.args()) || header("X-Args") == pass.args());
            (!same).then(|| {
                format!(
                    "provedge passes {} ($uri {}, $args {}); nginx {} {} ($uri {}, $args {})",
                    show(&target),
                    show(pass.uri()),
                    show(pass.args()),
                    nginx.status,
                    show(&nginx.body),
                    show(&header("X-Uri")),
                    show(&header("X-Args")),
                )
            })
        }
        Outcome::Return(r) => {
            let got_location = nginx.header("Location").map(<[u8]>::to_vec);
            let want_location = r.location.as_deref().map(absolute);
            let same = nginx.status == r.status
                && got_location == want_location
                && match &r.body {
                    Some(body) if !head => &nginx.body == body,
                    _ => true,
                };
            (!same).then(|| {
                format!(
                    "provedge return {} location {:?} body {:?}; nginx {} location {:?} body {}",
                    r.status,
                    want_location.as_deref().map(show),
                    r.body.as_deref().map(show),
                    nginx.status,
                    got_location.as_deref().map(show),
                    show(&nginx.body)
                )
            })
        }
        Outcome::Redirect(r) => {
            let want = absolute(&r.location);
            let got = nginx.header("Location").unwrap_or_default();
            let same = nginx.status == r.status.code() && got == want.as_slice();
            (!same).then(|| {
                format!(
                    "provedge {} {}; nginx {} {}",
                    r.status.code(),
                    show(&want),
                    nginx.status,
                    show(got)
                )
            })
        }
        other => {
            let want = other.status().unwrap_or(0);
            (nginx.status != want)
                .then(|| format!("provedge {want} ({other:?}); nginx {}", nginx.status))
        }
    }
}

#[test]
fn provedge_rewrites_exactly_as_nginx_does() {
    let Some(nginx_bin) = nginx_or_skip() else {
        return;
    };
    let mut sets: Vec<(String, String)> = SETS
        .iter()
        .map(|s| {
            let text =
                std::fs::read_to_string(data_dir().join(format!("{s}.conf"))).expect("rule file");
            (s.to_string(), text)
        })
        .collect();
    // `provedge rules export-nginx`: the router as nginx rules must mean the same to nginx.
    let export = provedge::rewrite::export::export_nginx("/store").expect("export");
    sets.push(("export".to_owned(), export));
    let rules: Vec<RuleSet> = sets
        .iter()
        .map(|(name, text)| RuleSet::parse(text).unwrap_or_else(|e| panic!("{name}.conf: {e}")))
        .collect();
    let echo = start_echo();
    let nginx = start(&nginx_bin, &sets, echo);
    let paths = corpus();
    assert!(paths.len() >= 300, "corpus has only {} paths", paths.len());

    let mut differences = Vec::new();
    let mut compared = 0;
    let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
    for ((name, _), rules) in sets.iter().zip(&rules) {
        let host = format!("{name}.test");
        for path in &paths {
            let outcome = rules.apply(
                &RewriteInput::new(path)
                    .with_host(&host)
                    .with_remote_addr(Some(std::net::Ipv4Addr::LOCALHOST.into())),
            );
            *outcomes
                .entry(match &outcome {
                    Outcome::Internal(p) if p.rewritten() => "rewritten",
                    Outcome::Internal(_) => "unchanged",
                    Outcome::Redirect(_) => "redirect",
                    Outcome::Return(_) => "return",
                    Outcome::BadRequest(_) => "bad request",
                    Outcome::ServerError(_) => "server error",
                })
                .or_default() += 1;
            let answer = get(nginx.port, &host, path);
            compared += 1;
            if let Some(diff) = differ(&outcome, &answer, &host, nginx.port, false) {
                differences.push((name.as_str(), path.as_str(), diff));
            }
        }
    }
    let allowed = |set: &str, path: &str| {
        DIVERGENCES
            .iter()
            .any(|(s, p, _)| (*s == "*" || *s == set) && *p == path)
    };
    let unexpected: Vec<_> = differences
        .iter()
        .filter(|(s, p, _)| !allowed(s, p))
        .collect();
    let stale: Vec<_> = DIVERGENCES
        .iter()
        .filter(|(s, p, _)| {
            !differences
                .iter()
                .any(|(ds, dp, _)| (*s == "*" || s == ds) && p == dp)
        })
        .collect();
    let log = std::fs::read_to_string(nginx.dir.0.join("logs/error.log")).unwrap_or_default();
    assert!(
        unexpected.is_empty() && stale.is_empty(),
        "{} of {compared} requests differ from nginx:\n{}\nstale allow-list entries: {stale:?}\n\
         nginx error log tail:\n{}",
        unexpected.len(),
        unexpected
            .iter()
            .map(|(s, p, d)| format!("  [{s}] {p}: {d}"))
            .collect::<Vec<_>>()
            .join("\n"),
        log.lines().rev().take(20).collect::<Vec<_>>().join("\n"),
    );
    // The corpus must exercise every kind of answer, or it proves less than it claims.
    for kind in [
        "rewritten",
        "unchanged",
        "redirect",
        "return",
        "bad request",
        "server error",
    ] {
        assert!(
            outcomes.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} outcome in the corpus: {outcomes:?}"
        );
    }
    eprintln!(
        "{compared} requests ({} paths x {} rule files): all agree with nginx except {} documented \
         divergences; provedge outcomes {outcomes:?}",
        paths.len(),
        sets.len(),
        differences.len()
    );
}

// ---- generated rule files ------------------------------------------------------------------

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Generated rule files against nginx: every directive and variable, `return` bodies, `if`
/// with captures, nested locations. `PROVEDGE_REWRITE_SEED`, `PROVEDGE_REWRITE_SETS` and
/// `PROVEDGE_REWRITE_REQUESTS` choose the seed, the number of files and the requests per file.
#[test]
fn provedge_answers_generated_rules_as_nginx_does() {
    let Some(nginx_bin) = nginx_or_skip() else {
        return;
    };
    let seed = env_number("PROVEDGE_REWRITE_SEED", 1);
    let files = env_number("PROVEDGE_REWRITE_SETS", 120) as usize;
    let per_file = env_number("PROVEDGE_REWRITE_REQUESTS", 80) as usize;
    let mut rng = rewrite_gen::Rng::new(seed);
    let sets: Vec<(String, String)> = (0..files)
        .map(|i| (format!("g{i}"), rewrite_gen::rule_file(&mut rng)))
        .collect();
    let rules: Vec<RuleSet> = sets
        .iter()
        .map(|(name, text)| {
            RuleSet::parse(text)
                .unwrap_or_else(|e| panic!("generated {name} does not load: {e}\n{text}"))
        })
        .collect();
    let requests: Vec<Vec<rewrite_gen::Req>> = (0..files)
        .map(|_| {
            (0..per_file)
                .map(|_| rewrite_gen::request(&mut rng))
                .collect()
        })
        .collect();
    let echo = start_echo();
    let nginx = start(&nginx_bin, &sets, echo);
    let port = nginx.port;
    let client: std::net::IpAddr = "127.0.0.1".parse().expect("ip");
    // Requests go to nginx from a few threads; provedge answers alongside.
    let threads = 8;
    let results: Vec<(
        usize,
        std::collections::BTreeMap<&'static str, usize>,
        Vec<String>,
    )> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (sets, rules, requests) = (&sets, &rules, &requests);
                scope.spawn(move || {
                    let mut compared = 0;
                    let mut kinds = std::collections::BTreeMap::new();
                    let mut diffs = Vec::new();
                    for i in (t..sets.len()).step_by(threads) {
                        let (name, text) = &sets[i];
                        let host = format!("{name}.test");
                        for req in &requests[i] {
                            let input = RewriteInput::new(&req.target)
                                .with_host(&host)
                                .with_method(req.method)
                                .with_headers(&req.headers)
                                .with_remote_addr(Some(client));
                            let outcome = rules[i].apply(&input);
                            *kinds
                                .entry(match &outcome {
                                    Outcome::Internal(p) if p.rewritten() => "rewritten",
                                    Outcome::Internal(_) => "unchanged",
                                    Outcome::Redirect(_) => "redirect",
                                    Outcome::Return(r) if r.location.is_some() => "return redirect",
                                    Outcome::Return(r) if r.body.is_some() => "return body",
                                    Outcome::Return(_) => "return status",
                                    Outcome::BadRequest(_) => "bad request",
                                    Outcome::ServerError(_) => "server error",
                                })
                                .or_insert(0) += 1;
                            let answer =
                                request(port, req.method, &host, &req.target, &req.headers);
                            compared += 1;
                            let head = req.method == "HEAD";
                            if let Some(d) = differ(&outcome, &answer, &host, port, head) {
                                diffs.push(format!(
                                    "[{name}] {} {} {:?}: {d}\n{text}",
                                    req.method, req.target, req.headers
                                ));
                            }
                        }
                    }
                    (compared, kinds, diffs)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect()
    });
    let compared: usize = results.iter().map(|r| r.0).sum();
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for (_, k, _) in &results {
        for (kind, n) in k {
            *kinds.entry(kind).or_default() += n;
        }
    }
    let diffs: Vec<&String> = results.iter().flat_map(|r| &r.2).collect();
    if let Ok(path) = std::env::var("PROVEDGE_REWRITE_DIFFS") {
        let all: Vec<&str> = diffs.iter().map(|d| d.as_str()).collect();
        let _ = std::fs::write(path, all.join("\n=====\n"));
    }
    let log = std::fs::read_to_string(nginx.dir.0.join("logs/error.log")).unwrap_or_default();
    assert!(
        diffs.is_empty(),
        "{} of {compared} generated (rules, request) pairs differ from nginx (seed {seed}):\n{}\n\
         nginx error log tail:\n{}",
        diffs.len(),
        diffs
            .iter()
            .take(6)
            .map(|d| d.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        log.lines().rev().take(10).collect::<Vec<_>>().join("\n"),
    );
    for kind in [
        "rewritten",
        "unchanged",
        "redirect",
        "return redirect",
        "return body",
        "return status",
        "server error",
    ] {
        assert!(
            kinds.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} outcome among the generated pairs: {kinds:?}"
        );
    }
    eprintln!(
        "{compared} generated (rules, request) pairs ({files} rule files x {per_file} requests, \
         seed {seed}): all agree with nginx; provedge outcomes {kinds:?}"
    );
}

// ---- loading: what nginx refuses, provedge refuses at the same line ------------------------

/// Rule files nginx refuses (`nginx -t` fails) and the line it names: provedge must refuse
/// them at that line.
const NGINX_REFUSES: &[(&str, usize)] = &[
    ("if ($uri ~ x) {\n  if ($uri) {\n  }\n}\n", 2),
    ("if $uri {\n}\n", 1),
    ("if ($uri ~ \"(\") {\n}\n", 1),
    ("if ($uri) {\n  location /x {\n  }\n}\n", 2),
    ("\nif ($uri) {\n  deny all;\n}\n", 3),
    ("if ($uri) ;\n", 1),
    ("return 1000;\n", 1),
    ("return foo;\n", 1),
    ("return 301 /a /b;\n", 1),
    ("set a b;\n", 1),
    ("set $uri x;\n", 1),
    ("break x;\n", 1),
    ("deny foo;\n", 1),
    ("rewrite_log on;\nrewrite_log off;\n", 2),
    ("location = /a {\n  location /a/b {\n  }\n}\n", 2),
    ("location /a {\n  location /b {\n  }\n}\n", 2),
    ("location /a {\n  location @n {\n  }\n}\n", 2),
    ("rewrite ^/([0-9]{12})$ /x;\n", 1),
    ("# unquoted brace on line 2\nrewrite ^.*/provision/([A-Fa-f0-9]{12})(\\.(xml|cfg))?$ /x last;\n", 2),
    ("\nrewrite \"^/(a\" /x;\n", 2),
    ("rewrite ^/a /x lastt;\n", 1),
    ("rewrite ^/a;\n", 1),
    ("rewrite ^/a /x last extra;\n", 1),
    ("rewrite ^/a \"\";\n", 1),
    ("rewrite ^/a /x$;\n", 1),
    ("rewrite ^/a /x${uri;\n", 1),
    // nginx finds unknown variables after parsing and names no line for them.
    ("\nrewrite ^/a /x$nosuchvariable;\n", 2),
    ("rewrite ^/a /x$0;\n", 1),
    ("rewrite ^/a \"/x\"y;\n", 1),
    ("rewrite ^/a /b\n", 2),
    ("}\n", 1),
    ("location / {\nrewrite ^/a /x;\n", 3),
    ("location /a {\n}\nlocation /a {\n}\n", 3),
    ("location ~ \"(\" {\n}\n", 1),
    ("location = /a {\n}\nlocation = /a {\n}\n", 3),
    ("location !! /a {\n}\n", 1),
];

/// Rule files nginx loads but provedge refuses on purpose (docs/rewrite.md, "Refused at
/// load"): regexes provedge cannot give PCRE's answer for, file tests, variables and
/// directives outside the supported set. Each is refused with the line of the offending
/// directive.
const PROVEDGE_REFUSES: &[(&str, usize)] = &[
    ("rewrite \"^/(a|)*$\" /x;\n", 1),
    ("\n\nrewrite \"^/(a?)+$\" /x;\n", 3),
    ("rewrite \"^/(a(?1)?b)$\" /x;\n", 1),
    ("rewrite \"^/(x)?(?(1)a|b)$\" /x;\n", 1),
    ("rewrite \"^/\\p{L}$\" /x;\n", 1),
    ("rewrite \"^/(a)\\10$\" /x;\n", 1),
    ("rewrite ^/a /x$server_port;\n", 1),
    ("if (-f $uri) {\n}\n", 1),
    ("location / {\n  if (!-e $uri) {\n  }\n}\n", 2),
    ("return 444;\n", 1),
    ("return 100;\n", 1),
    ("location @named {\n}\n", 1),
    ("try_files $uri =404;\n", 1),
    ("set $http_x 1;\n", 1),
    ("auth_basic \"realm\";\n", 1),
    ("location / {\n  proxy_pass http://127.0.0.1:1/x/;\n}\n", 2),
];

/// Runs `nginx -t` on `rules` inside a server block: `Ok` or the line nginx complains about.
fn nginx_check(nginx: &Path, rules: &str) -> Result<(), Option<usize>> {
    let dir = Scratch::new("nginx-t");
    let rules_path = dir.0.join("rules.conf");
    std::fs::write(&rules_path, rules).expect("write rules");
    let conf = format!(
        "{}    server {{\n        listen 127.0.0.1:1;\n        include {};\n    }}\n}}\n",
        http_preamble(&dir.0),
        rules_path.display()
    );
    std::fs::write(dir.0.join("nginx.conf"), conf).expect("write conf");
    let out = Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(&dir.0)
        .arg("-c")
        .arg(dir.0.join("nginx.conf"))
        .args(["-e", "logs/error.log"])
        .output()
        .expect("run nginx -t");
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let marker = format!("{}:", rules_path.display());
    Err(err.find(&marker).and_then(|at| {
        let digits: String = err[at + marker.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    }))
}

#[test]
fn provedge_refuses_what_nginx_refuses_at_the_same_line() {
    let Some(nginx) = nginx_or_skip() else { return };
    for (rules, line) in NGINX_REFUSES {
        match nginx_check(&nginx, rules) {
            Ok(()) => panic!("nginx accepts {rules:?}; the fixture is wrong"),
            Err(Some(nginx_line)) => assert_eq!(nginx_line, *line, "nginx's line for {rules:?}"),
            Err(None) => {}
        }
        match RuleSet::parse(rules) {
            Ok(_) => panic!("provedge loads {rules:?}, nginx refuses it at line {line}"),
            Err(e) => assert_eq!(e.line, *line, "{rules:?}: provedge says {e}"),
        }
    }
    for (rules, line) in PROVEDGE_REFUSES {
        assert_eq!(
            nginx_check(&nginx, rules),
            Ok(()),
            "nginx should load {rules:?} (the divergence is provedge's)"
        );
        let e = RuleSet::parse(rules).expect_err(rules);
        assert_eq!(e.line, *line, "{rules:?}: {e}");
    }
    for set in SETS {
        let text =
            std::fs::read_to_string(data_dir().join(format!("{set}.conf"))).expect("rule file");
        let (text, _) = with_proxy(&text, 1);
        assert_eq!(
            nginx_check(&nginx, &text),
            Ok(()),
            "nginx refuses {set}.conf"
        );
    }
}
