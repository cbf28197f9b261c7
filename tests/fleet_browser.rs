//! The fleet page in a real browser (issue 17): `provedge serve` with an admin listener on
//! 127.0.0.1, phones of five vendors booted over HTTP with their real User-Agents (so their
//! last-seen records exist), then tests/fleet/check_fleet.py drives headless Debian Chromium
//! through Selenium: the rows, a sort header, the filter form, the page with JavaScript
//! switched off, a 390x844 phone viewport and its screenshot, and a device page that must not
//! hold the SIP password.
//!
//! Tools: `PROVEDGE_SELENIUM_PYTHON` (a Python with PyPI `selenium`; default
//! `~/.cache/provedge/selenium-venv/bin/python`), `PROVEDGE_CHROMEDRIVER` (default
//! `/usr/bin/chromedriver`) and `PROVEDGE_CHROMIUM` (default `/usr/bin/chromium`), which
//! scripts/test-all installs. Without them the test skips, unless `CI` or
//! `PROVEDGE_REQUIRE_INTEROP=1` is set: then it fails. The screenshot is kept at
//! `target/tmp/fleet-phone.png` for a look.

mod serve_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use serve_support::{temp_dir, Server, ALGO_UA, GS_UA, POLY_UA, YEA_UA};

const SNOM_UA: &str =
    "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413123456 SXM:0 UXM:0)";

fn interop_required() -> bool {
    std::env::var_os("CI").is_some()
        || std::env::var("PROVEDGE_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// The browser tools, or `None` (skip) when one is missing and not required.
struct Tools {
    python: PathBuf,
    chromedriver: PathBuf,
    chromium: PathBuf,
}

fn tools() -> Option<Tools> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let path =
        |var: &str, default: PathBuf| std::env::var_os(var).map(PathBuf::from).unwrap_or(default);
    let tools = Tools {
        python: path(
            "PROVEDGE_SELENIUM_PYTHON",
            home.join(".cache/provedge/selenium-venv/bin/python"),
        ),
        chromedriver: path("PROVEDGE_CHROMEDRIVER", "/usr/bin/chromedriver".into()),
        chromium: path("PROVEDGE_CHROMIUM", "/usr/bin/chromium".into()),
    };
    let selenium = tools.python.exists()
        && Command::new(&tools.python)
            .args(["-c", "import selenium"])
            .output()
            .is_ok_and(|o| o.status.success());
    let missing: Vec<String> = [
        (!selenium).then(|| format!("selenium ({})", tools.python.display())),
        (!tools.chromedriver.exists()).then(|| tools.chromedriver.display().to_string()),
        (!tools.chromium.exists()).then(|| tools.chromium.display().to_string()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return Some(tools);
    }
    let why = format!(
        "missing {}: run scripts/test-all, or `apt-get install chromium chromium-driver` and \
         PyPI selenium in a venv (PROVEDGE_SELENIUM_PYTHON)",
        missing.join(", ")
    );
    assert!(!interop_required(), "{why}");
    eprintln!("skipping: {why}");
    None
}

/// GETs `path` as a phone with `ua` and expects a 200.
fn boot(server: &Server, path: &str, ua: &str) {
    let resp = server.get(path, Some(ua));
    assert_eq!(resp.status, 200, "{path}: {}", resp.text());
}

/// Waits until the server's last-seen writer has written every one of `macs`' records.
fn wait_for_last_seen(store: &Path, macs: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !macs
        .iter()
        .all(|m| store.join(format!("last-seen/{m}.json")).exists())
    {
        assert!(Instant::now() < deadline, "last-seen records not written");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_fleet_page_in_headless_chromium() {
    let Some(tools) = tools() else { return };
    let config = r#"{"server": {"admin_listen": "127.0.0.1:0"}}"#;
    let server = Server::start_prepared(Some(config), |store| {
        // A second Yealink, never booted: the filter finds two, the sort has a tie.
        let record = std::fs::read_to_string(store.join("devices/001565123456.json")).unwrap();
        std::fs::write(
            store.join("devices/001565abcdef.json"),
            record.replace("001565123456", "001565abcdef"),
        )
        .unwrap();
    });
    boot(&server, "/cfg000b82123456.xml", GS_UA);
    boot(&server, "/001565123456.boot", YEA_UA);
    boot(&server, "/001565123456.cfg", YEA_UA);
    boot(&server, "/0004f2123456.cfg", POLY_UA);
    boot(&server, "/0004f2123456-phone.cfg", POLY_UA);
    boot(&server, "/algom0022EE123456.conf", ALGO_UA);
    boot(&server, "/000413123456.xml", SNOM_UA);
    let seen = [
        "000b82123456",
        "001565123456",
        "0004f2123456",
        "0022ee123456",
        "000413123456",
    ];
    wait_for_last_seen(&server.store, &seen);
    // Every device record of the served store (the example's, and the one this test added).
    let mut devices: Vec<serde_json::Value> = std::fs::read_dir(server.store.join("devices"))
        .unwrap()
        .map(|entry| {
            let record: serde_json::Value =
                serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
            let mac = record["mac"].as_str().unwrap().to_owned();
            json!({"mac": mac, "vendor": record["vendor"], "model": record["model"],
                   "seen": seen.contains(&mac.as_str())})
        })
        .collect();
    devices.sort_by_key(|d| d["mac"].as_str().unwrap_or_default().to_owned());
    let dir = temp_dir("fleet-browser");
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fleet-phone.png");
    let expected = json!({
        "base": format!("http://{}", server.admin_addr()),
        "chromedriver": tools.chromedriver,
        "chromium": tools.chromium,
        "screenshot": screenshot,
        "devices": devices,
        "filter": "yealink",
        "device": "000b82123456",
        "secrets": ["gs-Line1-Secret!", "global-Admin-Secret!"],
    });
    let expected_path = dir.join("expected.json");
    std::fs::write(&expected_path, expected.to_string()).unwrap();
    let began = Instant::now();
    let out = Command::new(&tools.python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fleet/check_fleet.py"))
        .arg(&expected_path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "check_fleet.py: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "browser checks took {:.1}s: {}",
        began.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&out.stdout).trim()
    );
    // The pages were the admin listener's: none of them is in the phones' log.
    assert!(!server.log().contains("/fleet"), "{}", server.log());
}
