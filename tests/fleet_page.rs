//! The fleet page without a browser (issue 17): over real HTTP on `provedge serve`'s admin
//! listener and on `provedge fleet`. What a phone's User-Agent says is escaped; a phone
//! listener never answers `/fleet`; the token is asked for; sort, filter, tenants and the cap
//! work from the query; secrets never reach the page. The browser half is
//! tests/fleet_browser.rs.

mod serve_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serve_support::{copy_dir, repo, temp_dir, Client, Resp, Server, GS_UA, YEA_UA};

const ADMIN: &str = r#"{"server": {"admin_listen": "127.0.0.1:0"}}"#;

const HOSTILE_UA: &str =
    "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3\"><script>alert(1)</script>\
     <img src=x onerror=alert(2)> DevId 000b82123456";

fn admin_get(server: &Server, path: &str, headers: &[(&str, &str)]) -> Resp {
    Client::connect(server.admin_addr()).request("GET", path, headers, None)
}

/// The MACs of the page's rows, in order.
fn rows(html: &str) -> Vec<String> {
    html.split("<tr data-mac=\"")
        .skip(1)
        .map(|rest| rest[..12].to_owned())
        .collect()
}

/// The MACs of rows marked never seen.
fn unseen(html: &str) -> Vec<String> {
    html.split("<tr data-mac=\"")
        .skip(1)
        .filter(|rest| {
            rest.split_once('>')
                .is_some_and(|(tag, _)| tag.contains("class=\"unseen\""))
        })
        .map(|rest| rest[..12].to_owned())
        .collect()
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} not written", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn boot(server: &Server, path: &str, ua: &str) {
    let resp = server.get(path, Some(ua));
    assert_eq!(resp.status, 200, "{path}: {}", resp.text());
}

#[test]
fn a_hostile_user_agent_is_shown_escaped() {
    let server = Server::start_with(Some(ADMIN));
    boot(&server, "/cfg000b82123456.xml", HOSTILE_UA);
    wait_for(&server.store.join("last-seen/000b82123456.json"));
    for path in [
        "/fleet",
        "/fleet/device/000b82123456",
        "/fleet?q=%3Cscript%3E",
    ] {
        let resp = admin_get(&server, path, &[]);
        assert_eq!(resp.status, 200, "{path}");
        let html = resp.text();
        for raw in ["<script>alert", "<img", "\"><script", "onerror=alert(2)>"] {
            assert!(!html.contains(raw), "{path}: {raw} unescaped");
        }
        assert_eq!(
            html.matches("<script>").count(),
            usize::from(path != "/fleet/device/000b82123456")
        );
        let csp = resp.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.starts_with("default-src 'none'; style-src 'sha256-"),
            "{csp}"
        );
        assert_eq!(
            resp.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(resp.header("cache-control"), Some("no-store"));
    }
    let device = admin_get(&server, "/fleet/device/000b82123456", &[]).text();
    assert!(
        device.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{device}"
    );
    // The firmware column holds only version characters.
    let list = admin_get(&server, "/fleet", &[]).text();
    assert!(list.contains("<td data-label=\"Firmware\" class=\"fw\">1.0.11.3</td>"));
}

#[test]
fn phone_listeners_never_answer_the_fleet_page() {
    // With an admin listener, /fleet on the phone listener is the engine's: an unknown file.
    let server = Server::start_with(Some(ADMIN));
    for path in [
        "/fleet",
        "/fleet/",
        "/fleet/device/000b82123456",
        "/fleet?tenant=x",
    ] {
        let resp = server.get(path, None);
        assert_eq!(resp.status, 404, "{path}");
        assert!(!resp.text().contains("<html"), "{path}");
    }
    let lines = server.log_lines(4);
    assert_eq!(
        lines.len(),
        4,
        "the phone listener logs them as any request"
    );
    assert!(lines.iter().all(|l| l["status"] == 404));
    // Without one, not even the metrics token opens it there.
    let server = Server::start_with(Some(r#"{"server": {"metrics_token": "fleet-token"}}"#));
    let mut client = server.connect();
    let resp = client.request(
        "GET",
        "/fleet",
        &[("Authorization", "Bearer fleet-token")],
        None,
    );
    assert_eq!(resp.status, 404);
    assert!(!resp.text().contains("<html"));
}

#[test]
fn the_admin_listener_asks_for_the_token_as_bearer_or_basic() {
    let config = r#"{"server": {"admin_listen": "127.0.0.1:0", "metrics_token": "fleet-token"}}"#;
    let server = Server::start_with(Some(config));
    use base64::Engine as _;
    let basic = |s: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    };
    let cases: &[(Option<String>, u16)] = &[
        (None, 401),
        (Some("Bearer fleet-token".into()), 200),
        (Some(basic("admin:fleet-token")), 200),
        (Some(basic("anyone:fleet-token")), 200),
        (Some(basic("admin:wrong")), 401),
        (Some("Bearer wrong".into()), 401),
        (Some(basic("fleet-token")), 401),
    ];
    for path in ["/fleet", "/fleet/device/000b82123456"] {
        for (auth, status) in cases {
            let headers: Vec<(&str, &str)> = auth
                .as_deref()
                .map(|a| ("Authorization", a))
                .into_iter()
                .collect();
            let resp = admin_get(&server, path, &headers);
            assert_eq!(resp.status, *status, "{path} {auth:?}");
            if resp.status == 401 {
                assert_eq!(
                    resp.header("www-authenticate"),
                    Some("Basic realm=\"provedge fleet\", charset=\"UTF-8\"")
                );
                assert!(!resp.text().contains("000b82123456"));
            }
        }
    }
    // Anything but GET and HEAD is refused; HEAD has the length and no body.
    let mut client = Client::connect(server.admin_addr());
    let bearer = [("Authorization", "Bearer fleet-token")];
    assert_eq!(
        client.request("POST", "/fleet", &bearer, Some(b"x")).status,
        405
    );
    let head = Client::connect(server.admin_addr()).request("HEAD", "/fleet", &bearer, None);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty() && head.header("content-length").is_some());
    // None of it is phone traffic: not logged, not counted.
    assert!(server.log().is_empty(), "{}", server.log());
    let metrics = admin_get(&server, "/metrics", &bearer).text();
    assert!(!metrics.contains("provedge_requests_total{"), "{metrics}");
}

#[test]
fn sort_and_filter_come_from_the_query_never_seen_devices_first() {
    let server = Server::start_with(Some(ADMIN));
    boot(&server, "/cfg000b82123456.xml", GS_UA);
    // Fetch times are kept to the millisecond: the Yealink is the later one.
    std::thread::sleep(Duration::from_millis(20));
    boot(&server, "/001565123456.cfg", YEA_UA);
    wait_for(&server.store.join("last-seen/000b82123456.json"));
    wait_for(&server.store.join("last-seen/001565123456.json"));
    let never = [
        "000413123456",
        "0004f2123456",
        "00085d123456",
        "000e08123456",
        "001873123456",
        "001fc1123456",
        "0021a0123456",
        "0022ee123456",
        "00562b123456",
        "0080f0123456",
        "0c383e123456",
        "7c2f80123456",
        "9cadef123456",
    ];
    let page = |query: &str| {
        let resp = admin_get(&server, &format!("/fleet{query}"), &[]);
        assert_eq!(resp.status, 200, "{query}");
        resp.text()
    };
    let html = page("");
    assert_eq!(unseen(&html), never);
    assert_eq!(rows(&html)[13..], ["000b82123456", "001565123456"]);
    // Never-seen devices stay first whatever the order.
    let html = page("?sort=mac&dir=desc");
    let mut reversed = never.to_vec();
    reversed.reverse();
    assert_eq!(rows(&html)[..13], reversed);
    assert_eq!(rows(&html)[13..], ["001565123456", "000b82123456"]);
    // By vendor: aastra, algo, cisco (by MAC), fanvil, gigaset, htek, obihai, panasonic,
    // polycom, snom; then grandstream, yealink.
    let html = page("?sort=vendor");
    assert_eq!(
        rows(&html),
        [
            "00085d123456",
            "0022ee123456",
            "000e08123456",
            "001873123456",
            "0021a0123456",
            "00562b123456",
            "0c383e123456",
            "7c2f80123456",
            "001fc1123456",
            "9cadef123456",
            "0080f0123456",
            "0004f2123456",
            "000413123456",
            "000b82123456",
            "001565123456"
        ]
    );
    assert!(html.contains("aria-sort=\"ascending\""));
    assert!(html.contains("id=\"sort-vendor\" href=\"/fleet?sort=vendor&amp;dir=desc\""));
    assert_eq!(
        rows(&page("?sort=last"))[13..],
        ["001565123456", "000b82123456"]
    );
    // Filters: vendor, model, MAC with separators, file, client address.
    for (query, want) in [
        ("?q=YEALINK", &["001565123456"][..]),
        ("?q=gxp2170", &["000b82123456"]),
        ("?q=00%3A04%3Af2", &["0004f2123456"]),
        ("?q=cfg000b82123456.xml", &["000b82123456"]),
        (
            "?q=127.0.0.1&sort=mac&dir=desc",
            &["001565123456", "000b82123456"],
        ),
        ("?q=no+such+thing", &[]),
    ] {
        let html = page(query);
        assert_eq!(rows(&html), want, "{query}");
    }
    assert!(page("?q=no+such+thing").contains("id=\"empty\""));
    // The filter box keeps what was asked, escaped.
    assert!(page("?q=%22%3E").contains("value=\"&quot;&gt;\""));
    // Unknown sort and direction are the defaults, an unknown page or MAC a 404 page.
    assert_eq!(rows(&page("?sort=bogus&dir=up")), rows(&page("")));
    assert_eq!(admin_get(&server, "/fleet/nope", &[]).status, 404);
    assert_eq!(
        admin_get(&server, "/fleet/device/not-a-mac", &[]).status,
        404
    );
    assert_eq!(
        admin_get(&server, "/fleet/device/001565999999", &[]).status,
        404
    );
}

#[test]
fn the_device_page_masks_secrets() {
    let server = Server::start_prepared(Some(ADMIN), |store| {
        // A Grandstream SIP password as a P-value: masked by the policy's default list.
        let path = store.join("devices/000b82123456.json");
        let record = std::fs::read_to_string(&path).unwrap();
        let record = record.replace(
            r#""P1362": "en""#,
            r#""P1362": "en", "P34": "p34-Secret-Value""#,
        );
        std::fs::write(&path, record).unwrap();
    });
    boot(&server, "/cfg000b82123456.xml", GS_UA);
    boot(&server, "/cfg000b82123456", GS_UA);
    let html = admin_get(&server, "/fleet/device/000b82123456", &[]).text();
    for secret in [
        "gs-Line1-Secret!",
        "global-Admin-Secret!",
        "p34-Secret-Value",
    ] {
        assert!(!html.contains(secret), "{secret} on the page");
    }
    assert!(html.contains("&quot;admin_password&quot;: &quot;••••••&quot;"));
    assert!(html.contains("&quot;P34&quot;: &quot;••••••&quot;"));
    assert!(html.contains("<td data-label=\"Password\" class=\"secret\">••••••</td>"));
    // The recent fetches are the server's memory: both requests, newest first.
    let fetches = html.split("id=\"fetches\"").nth(1).unwrap_or_default();
    let first = fetches.find("cfg000b82123456<").unwrap();
    let second = fetches.find("cfg000b82123456.xml").unwrap();
    assert!(first < second, "{fetches}");
}

const TENANTS: &str = r#"{
  "engine": {"policy": {"tenants": [{"name": "acme", "path_prefix": "/acme"}]}},
  "server": {"admin_listen": "127.0.0.1:0"}
}"#;

#[test]
fn tenants_are_picked_by_name_and_nothing_else() {
    let server = Server::start_prepared(Some(TENANTS), |store| {
        let acme = store.join("tenants/acme");
        std::fs::create_dir_all(acme.join("devices")).unwrap();
        std::fs::create_dir_all(acme.join("templates/yealink")).unwrap();
        std::fs::write(
            acme.join("devices/001565aaaaaa.json"),
            r#"{"mac":"001565aaaaaa","vendor":"yealink","model":"t54w","lines":[{"user":"1","password":"acme-Line-Secret","server":"pbx"}]}"#,
        )
        .unwrap();
        std::fs::write(acme.join("templates/yealink/@mac.cfg"), "ok\n").unwrap();
        // A folder under tenants/ whose name is no tenant's is not offered.
        std::fs::create_dir_all(store.join("tenants/Not Valid")).unwrap();
    });
    boot(
        &server,
        "/acme/001565aaaaaa.cfg",
        "Yealink SIP-T54W 96.86.0.15 00:15:65:aa:aa:aa",
    );
    wait_for(
        &server
            .store
            .join("tenants/acme/last-seen/001565aaaaaa.json"),
    );
    let default = admin_get(&server, "/fleet", &[]).text();
    assert!(!rows(&default).contains(&"001565aaaaaa".to_owned()));
    assert!(default.contains("<option value=\"acme\">acme</option>"));
    assert!(!default.contains("Not Valid"));
    let acme = admin_get(&server, "/fleet?tenant=acme", &[]).text();
    assert_eq!(rows(&acme), ["001565aaaaaa"]);
    assert!(acme.contains("<option value=\"acme\" selected>acme</option>"));
    assert!(acme.contains("href=\"/fleet/device/001565aaaaaa?tenant=acme\""));
    assert!(acme.contains("96.86.0.15"));
    let device = admin_get(&server, "/fleet/device/001565aaaaaa?tenant=acme", &[]);
    assert_eq!(device.status, 200);
    assert!(!device.text().contains("acme-Line-Secret"));
    assert!(device.text().contains("001565aaaaaa.cfg"));
    // The default tenant has no such device; a name that is no tenant is a 404.
    assert_eq!(
        admin_get(&server, "/fleet/device/001565aaaaaa", &[]).status,
        404
    );
    for bad in ["nope", "..", "..%2F..", "Not+Valid", "acme%2F..%2F.."] {
        let resp = admin_get(&server, &format!("/fleet?tenant={bad}"), &[]);
        assert_eq!(resp.status, 404, "{bad}");
    }
}

#[test]
fn the_page_lists_at_most_max_devices() {
    let config = r#"{"server": {"admin_listen": "127.0.0.1:0", "fleet": {"max_devices": 3}}}"#;
    let server = Server::start_with(Some(config));
    let html = admin_get(&server, "/fleet", &[]).text();
    assert_eq!(
        rows(&html),
        ["000413123456", "0004f2123456", "00085d123456"],
        "the first three by MAC"
    );
    assert!(html.contains("id=\"truncated\""), "the page says so");
    assert!(html.contains("15 device records"));
    let off = Server::start_with(Some(
        r#"{"server": {"admin_listen": "127.0.0.1:0", "fleet": {"enabled": false}}}"#,
    ));
    assert_eq!(admin_get(&off, "/fleet", &[]).status, 404);
}

/// A running `provedge fleet`.
struct Fleet {
    child: Child,
    addr: SocketAddr,
}

impl Fleet {
    fn start(store: &str, config: Option<&Path>) -> Fleet {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_provedge"));
        cmd.args(["fleet", "--listen", "127.0.0.1:0", "--store", store]);
        if let Some(config) = config {
            cmd.arg("--config").arg(config);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        let addr = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("provedge fleet: {line}"))
            .trim()
            .parse()
            .unwrap();
        Fleet { child, addr }
    }

    fn get(&self, path: &str) -> Resp {
        Client::connect(self.addr).request("GET", path, &[], None)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A store copy with last-seen records as any host writes them.
fn store_with_last_seen(dir: &Path) -> std::path::PathBuf {
    let store = dir.join("store");
    copy_dir(&repo().join("examples/store"), &store);
    std::fs::create_dir_all(store.join("last-seen")).unwrap();
    std::fs::write(
        store.join("last-seen/001565123456.json"),
        r#"{"mac": "001565123456", "time": "2027-01-15T08:00:00.000Z", "unix": 1800000000,
            "ip": "192.0.2.44", "user_agent": "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56",
            "tenant": null, "vendor": "yealink", "model": "t46s", "file": "001565123456.cfg",
            "status": 200, "written_by": "a later host"}"#,
    )
    .unwrap();
    store
}

#[test]
fn provedge_fleet_serves_the_pages_from_a_folder() {
    let dir = temp_dir("fleet-cmd");
    let store = store_with_last_seen(&dir);
    let fleet = Fleet::start(store.to_str().unwrap(), None);
    let html = fleet.get("/fleet").text();
    assert_eq!(rows(&html).len(), 15);
    assert_eq!(rows(&html)[14], "001565123456", "the one seen comes last");
    assert!(html.contains("192.0.2.44") && html.contains("66.86.0.15"));
    assert!(html.contains("2027-01-15 08:00:00 UTC"));
    let device = fleet.get("/fleet/device/001565123456").text();
    assert!(!device.contains("yea-Line1-Secret!") && !device.contains("global-Admin-Secret!"));
    assert!(device.contains("Kept in memory by a running server"));
    let root = fleet.get("/");
    assert_eq!(
        (root.status, root.header("location")),
        (302, Some("/fleet"))
    );
    assert_eq!(
        fleet.get("/cfg000b82123456.xml").status,
        404,
        "it serves no phone"
    );
    drop(fleet);
    // With the configuration's token, the pages ask for it.
    let config = dir.join("fleet.json");
    std::fs::write(&config, r#"{"server": {"metrics_token": "t0ken"}}"#).unwrap();
    let fleet = Fleet::start(store.to_str().unwrap(), Some(&config));
    assert_eq!(fleet.get("/fleet").status, 401);
    let resp = Client::connect(fleet.addr).request(
        "GET",
        "/fleet",
        &[("Authorization", "Bearer t0ken")],
        None,
    );
    assert_eq!(resp.status, 200);
    drop(fleet);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `python3 -m http.server` on `root`, or `None` when Python is not here.
struct StaticServer {
    child: Child,
    port: u16,
}

impl StaticServer {
    fn start(root: &Path) -> Option<StaticServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "python3 -m http.server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(StaticServer { child, port })
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn provedge_fleet_lists_an_http_store_by_its_manifest() {
    let dir = temp_dir("fleet-http");
    let store = store_with_last_seen(&dir);
    // Without a manifest the page says why it lists nothing.
    let Some(origin) = StaticServer::start(&dir) else {
        eprintln!("skipping: python3 is not here");
        return;
    };
    let url = format!("http://127.0.0.1:{}/store", origin.port);
    let fleet = Fleet::start(&url, None);
    let html = fleet.get("/fleet").text();
    assert!(rows(&html).is_empty());
    assert!(html.contains("store/manifest.json: missing"), "{html}");
    drop(fleet);
    // `provedge store push`'s manifest lists the device records; last-seen records are read
    // by key.
    std::fs::create_dir_all(store.join("store")).unwrap();
    std::fs::write(
        store.join("store/manifest.json"),
        r#"{"keys": {"devices/001565123456.json": "00", "devices/000b82123456.json": "00",
                     "vars/global.json": "00"}}"#,
    )
    .unwrap();
    let fleet = Fleet::start(&url, None);
    let html = fleet.get("/fleet").text();
    assert_eq!(rows(&html), ["000b82123456", "001565123456"]);
    assert_eq!(unseen(&html), ["000b82123456"]);
    assert!(html.contains("192.0.2.44"));
    let device = fleet.get("/fleet/device/001565123456").text();
    assert!(
        device.contains("&quot;admin_password&quot;: &quot;••••••&quot;"),
        "{device}"
    );
    assert!(!device.contains("global-Admin-Secret!"));
    drop(fleet);
    drop(origin);
    let _ = std::fs::remove_dir_all(&dir);
}
