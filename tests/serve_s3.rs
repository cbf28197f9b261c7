//! `provedge serve` over an origin store: `--store s3://bucket` against a real S3 API (PyPI
//! `moto[server]`, with signature checking on, so a wrong key is refused by the bucket, not by
//! a stub of ours), and `--store http://…` against a plain static server (`python3 -m
//! http.server`). Every vendor's device file must be the bytes `provedge render` gives for the
//! same store as a folder; streamed files take `Range`, checksums match, uploads land in the
//! bucket, and when the origin goes away a device already fetched is served its last good file
//! (stale-if-error) while one never fetched gets a clean 503.
//!
//! moto is found through `PROVEDGE_MOTO` (its `moto_server`) or
//! `~/.cache/provedge/moto-venv/bin/moto_server`, where `scripts/test-all` installs it; boto3 is
//! its venv's. Without it the S3 tests skip, unless `CI` or `PROVEDGE_REQUIRE_INTEROP=1` is set:
//! then they fail.

mod serve_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use serve_support::{copy_dir, golden, repo, temp_dir, Server, ALGO_UA, GS_UA, POLY_UA, YEA_UA};

/// Every vendor's device, model and shared files, as `tests/render_golden.rs` has them:
/// (request path, User-Agent, golden file).
const CASES: &[(&str, Option<&str>, &str)] = &[
    (
        "/cfg000b82123456.xml",
        Some(GS_UA),
        "grandstream/cfg000b82123456.xml",
    ),
    (
        "/cfg000b82123456",
        Some(GS_UA),
        "grandstream/cfg000b82123456.bin",
    ),
    ("/cfggxp2170.xml", None, "grandstream/cfggxp2170.xml"),
    ("/cfg.xml", None, "grandstream/cfg.xml"),
    ("/000000000000.cfg", None, "polycom/000000000000.cfg"),
    ("/0004f2123456.cfg", None, "polycom/0004f2123456.cfg"),
    (
        "/0004f2123456-phone.cfg",
        Some(POLY_UA),
        "polycom/0004f2123456-phone.cfg",
    ),
    ("/features.cfg", None, "polycom/features.cfg"),
    (
        "/001565123456.boot",
        Some(YEA_UA),
        "yealink/001565123456.boot",
    ),
    (
        "/y000000000000.boot",
        Some(YEA_UA),
        "yealink/y000000000000.boot",
    ),
    (
        "/y000000000066.cfg",
        Some(YEA_UA),
        "yealink/y000000000066.cfg",
    ),
    (
        "/001565123456.cfg",
        Some(YEA_UA),
        "yealink/001565123456.cfg",
    ),
    (
        "/algom0022EE123456.conf",
        Some(ALGO_UA),
        "algo/algom0022EE123456.conf",
    ),
    ("/algom0022EE123456.md5", None, "algo/algom0022EE123456.md5"),
    ("/algop8188.conf", None, "algo/algop8188.conf"),
    ("/00562b123456.xml", None, "cisco/00562b123456.xml"),
    ("/8841-3PCC.xml", None, "cisco/8841-3PCC.xml"),
    ("/000413123456.xml", None, "snom/000413123456.xml"),
    ("/0c383e123456.cfg", None, "fanvil/0c383e123456.cfg"),
    ("/aastra.cfg", None, "aastra/aastra.cfg"),
    ("/00085D123456.cfg", None, "aastra/00085D123456.cfg"),
];

/// A Grandstream whose record is in the store but which no test request fetches before the
/// origin goes away.
const UNSEEN_UA: &str = "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82abcdef";

const BUCKET: &str = "prov-store";

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A firmware image larger than one read of the server's, and than one frame of the origin's.
fn firmware() -> Vec<u8> {
    (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

/// What the tests add to the example store, in the bucket and in the server's folder copy
/// alike: a firmware image, and the record of a device never asked for.
fn add_fixtures(store: &Path) {
    std::fs::write(store.join("algo/algo-8188-5.2.fw"), firmware()).unwrap();
    let record = std::fs::read_to_string(store.join("devices/000b82123456.json")).unwrap();
    std::fs::write(
        store.join("devices/000b82abcdef.json"),
        record.replace("000b82123456", "000b82abcdef"),
    )
    .unwrap();
}

fn interop_required() -> bool {
    std::env::var_os("CI").is_some()
        || std::env::var("PROVEDGE_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// `moto_server`, or `None` (skip) when it is missing and not required.
fn moto_server() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let found = std::env::var_os("PROVEDGE_MOTO")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".cache/provedge/moto-venv/bin/moto_server"));
    if found.exists() {
        return Some(found);
    }
    let why = format!(
        "moto_server ({}) is missing: run scripts/test-all, or install PyPI moto[server] in a \
         venv and set PROVEDGE_MOTO",
        found.display()
    );
    assert!(!interop_required(), "{why}");
    eprintln!("skipping: {why}");
    None
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on `port`.
fn wait_listening(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "{what} exited before listening"
        );
        assert!(Instant::now() < deadline, "{what} did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running `moto_server` on 127.0.0.1 and the bucket it holds.
struct Moto {
    child: Child,
    endpoint: String,
    python: PathBuf,
    /// The key of the IAM user allowed `s3:*`.
    key_id: String,
    secret: String,
}

impl Moto {
    /// Starts moto and fills a bucket from `store`; signature checking is on afterwards.
    fn start(bin: &Path, store: &Path) -> Moto {
        let port = free_port();
        let mut child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_listening(port, &mut child, "moto_server");
        let python = bin.with_file_name("python");
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            python,
            key_id: String::new(),
            secret: String::new(),
        };
        let out = moto.tool(&[
            "setup",
            &moto.endpoint,
            BUCKET,
            &store.display().to_string(),
        ]);
        let keys: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        moto.key_id = keys["access_key_id"].as_str().unwrap().to_owned();
        moto.secret = keys["secret_access_key"].as_str().unwrap().to_owned();
        moto
    }

    /// Runs `tests/serve_support/s3_tool.py` with moto's Python (boto3).
    fn tool(&self, args: &[&str]) -> Output {
        let out = Command::new(&self.python)
            .arg(repo().join("tests/serve_support/s3_tool.py"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success() || out.status.code() == Some(3),
            "s3_tool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// An object of the bucket, read with boto3 and the good key; `None` when there is none.
    fn object(&self, key: &str) -> Option<Vec<u8>> {
        let out = self.tool(&[
            "get",
            &self.endpoint,
            BUCKET,
            key,
            &self.key_id,
            &self.secret,
        ]);
        out.status.success().then_some(out.stdout)
    }

    /// The server configuration for this bucket, with `secret` as the secret key. The TTL is
    /// 0 so every request asks the bucket (revalidating), which makes a stopped bucket show.
    fn config(&self, secret: &str) -> String {
        serde_json::json!({"server": {
            "s3": {"endpoint": self.endpoint, "region": "us-east-1",
                   "access_key_id": self.key_id, "secret_access_key": secret},
            "origin": {"timeout_ms": 3000},
            "origin_cache": {"ttl_secs": 0, "stale_if_error_secs": 600}
        }})
        .to_string()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// moto with the example store (and the fixtures) in a bucket.
fn bucket() -> Option<Moto> {
    let bin = moto_server()?;
    let source = temp_dir("s3-source");
    copy_dir(&repo().join("examples/store"), &source);
    add_fixtures(&source);
    let moto = Moto::start(&bin, &source);
    let _ = std::fs::remove_dir_all(&source);
    Some(moto)
}

/// `provedge serve --store s3://prov-store` with the bucket's settings and `secret`.
fn serve_bucket(moto: &Moto, secret: &str) -> Server {
    Server::start_store(Some(&moto.config(secret)), |store| {
        add_fixtures(store);
        Some(format!("s3://{BUCKET}"))
    })
}

/// The log note of the last 503 the server logged (lines are written asynchronously).
fn note_of_503(server: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = server.log();
        let note = log
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| l["status"] == 503)
            .map(|l| l["note"].as_str().unwrap_or_default().to_owned());
        match note {
            Some(note) => return note,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            None => panic!("no 503 in the log: {log}"),
        }
    }
}

/// Every case is served with the bytes `provedge render` gives for the folder (and its golden
/// file).
fn assert_every_vendor_renders_like_the_folder(server: &Server) {
    for (path, ua, golden_file) in CASES {
        let resp = server.get(path, *ua);
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        assert_eq!(
            resp.body,
            server.rendered(path, *ua),
            "{path}: served bytes differ from render over the folder"
        );
        assert_eq!(resp.body, golden(golden_file), "{path}");
    }
}

/// A firmware image streamed whole and in a range, and its checksum.
fn assert_streams_and_sums(server: &Server) {
    let image = firmware();
    let full = server.get("/algo-8188-5.2.fw", Some(ALGO_UA));
    assert_eq!(full.status, 200, "{}", full.text());
    assert_eq!(full.body, image);
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    let etag = full.header("etag").unwrap().to_owned();
    let part = server.connect().request(
        "GET",
        "/algo-8188-5.2.fw",
        &[("User-Agent", ALGO_UA), ("Range", "bytes=100199-100298")],
        None,
    );
    assert_eq!(part.status, 206, "{}", part.text());
    assert_eq!(
        part.header("content-range"),
        Some("bytes 100199-100298/300000")
    );
    assert_eq!(part.body, &image[100_199..100_299]);
    let unchanged = server.connect().request(
        "GET",
        "/algo-8188-5.2.fw",
        &[("User-Agent", ALGO_UA), ("If-None-Match", &etag)],
        None,
    );
    assert_eq!(unchanged.status, 304);
    let beyond = server.connect().request(
        "GET",
        "/algo-8188-5.2.fw",
        &[("User-Agent", ALGO_UA), ("Range", "bytes=300000-")],
        None,
    );
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range"), Some("bytes */300000"));
    for _ in 0..2 {
        let sum = server.get("/algo-8188-5.2.md5", Some(ALGO_UA));
        assert_eq!((sum.status, sum.text()), (200, md5_hex(&image)));
    }
    let tones = std::fs::read(server.store.join("algo/algop8188-tones.zip")).unwrap();
    let zip = server.get("/algop8188-tones.zip", Some(ALGO_UA));
    assert_eq!((zip.status, &zip.body), (200, &tones));
    assert_eq!(zip.header("content-type"), Some("application/zip"));
    let sum = server.get("/algop8188-tones.md5", Some(ALGO_UA));
    assert_eq!(sum.text(), md5_hex(&tones));
}

#[test]
fn a_bucket_serves_what_the_folder_does_and_its_last_good_files_when_it_fails() {
    let Some(mut moto) = bucket() else { return };
    let server = serve_bucket(&moto, &moto.secret.clone());
    assert_every_vendor_renders_like_the_folder(&server);
    // Asked again: revalidated against the bucket, the same bytes.
    assert_every_vendor_renders_like_the_folder(&server);
    assert_streams_and_sums(&server);

    // A phone's upload is PUT into the bucket (signed with its body's hash).
    let local = b"#!version:1.0.0.1\nlocal_time.time_zone = +1\n";
    let put = server.connect().request(
        "PUT",
        "/001565123456-local.cfg",
        &[("User-Agent", YEA_UA)],
        Some(local),
    );
    assert!(matches!(put.status, 201 | 204), "{}", put.text());
    assert_eq!(
        moto.object("uploads/yealink/001565123456-local.cfg")
            .as_deref(),
        Some(&local[..])
    );
    assert_ne!(
        server.get("/001565123456-local.cfg", Some(YEA_UA)).body,
        local.to_vec(),
        "an upload is never served back"
    );

    // The bucket goes away: what was fetched is served from the cache (stale-if-error)...
    moto.stop();
    let cached = server.get("/cfg000b82123456.xml", Some(GS_UA));
    assert_eq!(cached.status, 200, "{}", cached.text());
    assert_eq!(cached.body, golden("grandstream/cfg000b82123456.xml"));
    let sum = server.get("/algo-8188-5.2.md5", Some(ALGO_UA));
    assert_eq!((sum.status, sum.text()), (200, md5_hex(&firmware())));
    // ...and a device never fetched gets a clean 503 naming one of its keys.
    let unseen = server.get("/cfg000b82abcdef.xml", Some(UNSEEN_UA));
    assert_eq!(unseen.status, 503);
    assert!(unseen.body.is_empty(), "{}", unseen.text());
    let note = note_of_503(&server);
    assert!(
        note.contains("000b82abcdef") && note.contains("origin connect to"),
        "{note}"
    );
    // The server's own log and stderr never show the secret.
    assert!(!server.log().contains(&moto.secret));
    assert!(!server.stderr().contains(&moto.secret));
}

#[test]
fn the_bucket_checks_signatures_and_refuses_a_wrong_secret() {
    let Some(moto) = bucket() else { return };
    // moto itself refuses a request signed with another secret: signatures are checked.
    let denied = moto.tool(&[
        "denied",
        &moto.endpoint,
        BUCKET,
        "vars/global.json",
        &moto.key_id,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&denied.stdout).trim(),
        "SignatureDoesNotMatch"
    );
    // So does it refuse the server's reads when the server holds a wrong secret: 503, and the
    // log says which key and that the origin answered 403.
    let server = serve_bucket(&moto, "not-the-secret-key");
    let resp = server.get("/cfg000b82123456.xml", Some(GS_UA));
    assert_eq!(resp.status, 503, "{}", resp.text());
    let note = note_of_503(&server);
    assert!(note.contains("origin answered 403"), "{note}");
    // The same with the right one: signatures the bucket accepts.
    drop(server);
    let server = serve_bucket(&moto, &moto.secret.clone());
    assert_eq!(server.get("/cfg000b82123456.xml", Some(GS_UA)).status, 200);
}

/// `python3 -m http.server` on a folder holding the store under `store/`.
struct StaticServer {
    child: Child,
    port: u16,
}

impl StaticServer {
    fn start(root: &Path) -> StaticServer {
        let port = free_port();
        let mut child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--directory")
            .arg(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        wait_listening(port, &mut child, "python3 -m http.server");
        StaticServer { child, port }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_plain_http_origin_serves_what_the_folder_does() {
    let root = temp_dir("http-origin");
    copy_dir(&repo().join("examples/store"), &root.join("store"));
    add_fixtures(&root.join("store"));
    let origin = StaticServer::start(&root);
    let config = r#"{"server": {"origin_cache": {"ttl_secs": 0}}}"#;
    let server = Server::start_store(Some(config), |store| {
        add_fixtures(store);
        Some(format!("http://127.0.0.1:{}/store/", origin.port))
    });
    assert_every_vendor_renders_like_the_folder(&server);
    // Revalidated with If-Modified-Since (the static server sends no ETag).
    assert_every_vendor_renders_like_the_folder(&server);
    // It ignores Range: the server cuts the bytes the core asked for out of the whole object.
    assert_streams_and_sums(&server);
    // A device the store lacks.
    let stranger = "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82aaaaaa";
    assert_eq!(
        server.get("/cfg000b82aaaaaa.xml", Some(stranger)).status,
        404
    );
    drop(origin);
    let _ = std::fs::remove_dir_all(&root);
}

/// An origin that answers a device record with more than `max_object_bytes`: refused unread,
/// so a hostile or mistaken origin cannot make the server hold it.
#[test]
fn an_object_over_max_object_bytes_is_a_failed_read() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let origin = std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let head = "HTTP/1.1 200 OK\r\ncontent-length: 2000000\r\nconnection: close\r\n\r\n";
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&[b' '; 4096]);
        }
    });
    let config = r#"{"server": {"origin": {"max_object_bytes": 65536, "timeout_ms": 2000}}}"#;
    let server = Server::start_store(Some(config), |_| Some(format!("http://127.0.0.1:{port}")));
    let resp = server.get("/cfg000b82123456.xml", Some(GS_UA));
    assert_eq!(resp.status, 503);
    let note = note_of_503(&server);
    assert!(note.contains("exceeds max_object_bytes"), "{note}");
    drop(server);
    // Unblock the origin thread's accept loop.
    for _ in 0..8 {
        let _ = TcpStream::connect(("127.0.0.1", port));
    }
    let _ = origin.join();
}
