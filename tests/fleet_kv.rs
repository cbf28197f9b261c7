//! `provedge fleet --kv-namespace-id` over a Worker deployment's KV (issue 17): the Worker runs
//! in workerd over local state pushed by `provedge store push --local`, phones of four vendors
//! boot through it so it writes their last-seen records to KV, and `provedge fleet` reads that
//! same state through wrangler (`--local --persist-to`): the rows are the store's devices,
//! never-seen first, the booted ones with their last fetch; a second view runs no wrangler.
//!
//! Needs what `tests/worker_workerd.rs` needs (see `worker_support`); without it the test
//! skips, unless `CI` or `PROVEDGE_REQUIRE_INTEROP=1` is set.

mod envoy_support;
mod worker_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use envoy_support::{copy_dir, repo, request, temp_dir, Resp, ALGO_UA, GS_UA, POLY_UA, YEA_UA};
use worker_support::{tools, Worker};

/// The boots: a phone's file and User-Agent, and its row's MAC, firmware and last file.
const BOOTS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "/cfg000b82123456.xml",
        GS_UA,
        "000b82123456",
        "1.0.11.3",
        "cfg000b82123456.xml",
    ),
    (
        "/001565123456.cfg",
        YEA_UA,
        "001565123456",
        "66.86.0.15",
        "001565123456.cfg",
    ),
    (
        "/0004f2123456-phone.cfg",
        POLY_UA,
        "0004f2123456",
        "5.9.5.0614",
        "0004f2123456-phone.cfg",
    ),
    (
        "/algom0022EE123456.conf",
        ALGO_UA,
        "0022ee123456",
        "5.2",
        "algom0022EE123456.conf",
    ),
];

fn example_store() -> PathBuf {
    let store = temp_dir("fleet-kv-store");
    copy_dir(&repo().join("examples/store"), &store);
    for dir in ["uploads", "last-seen"] {
        let _ = std::fs::remove_dir_all(store.join(dir));
    }
    store
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
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

/// The row of `mac`, up to the next one.
fn row<'a>(html: &'a str, mac: &str) -> &'a str {
    let start = html
        .find(&format!("<tr data-mac=\"{mac}\""))
        .unwrap_or_else(|| panic!("no row for {mac}"));
    let rest = &html[start..];
    &rest[..rest.find("</tr>").unwrap_or(rest.len())]
}

/// A running `provedge fleet` over the Worker's KV; killed on drop.
struct Fleet {
    child: Child,
    port: u16,
}

impl Fleet {
    fn start(worker: &Worker, cwd: &Path) -> Fleet {
        let mut child = Command::new(env!("CARGO_BIN_EXE_provedge"))
            .args(["fleet", "--listen", "127.0.0.1:0"])
            .args(["--kv-namespace-id", "STORE", "--local", "--persist-to"])
            .arg(worker.state())
            .current_dir(cwd)
            .env("PROVEDGE_WRANGLER", worker.wrangler())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("provedge fleet");
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        let port = line
            .strip_prefix("listening on ")
            .and_then(|addr| addr.trim().parse::<std::net::SocketAddr>().ok())
            .unwrap_or_else(|| panic!("provedge fleet: {line}"))
            .port();
        line.clear();
        err.read_line(&mut line).unwrap();
        assert!(
            line.starts_with("reading KV namespace STORE, local state in "),
            "{line}"
        );
        // The rest of what it says goes to the test's output.
        std::thread::spawn(move || {
            for line in err.lines().map_while(Result::ok) {
                eprintln!("provedge fleet: {line}");
            }
        });
        Fleet { child, port }
    }

    fn get(&self, path: &str) -> Resp {
        request(self.port, "GET", path, &[])
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn provedge_fleet_shows_a_worker_fleet_from_kv() {
    let Some(tools) = tools() else { return };
    let started = Instant::now();
    let store = example_store();
    let mut w = Worker::start(&tools, &store, "", None);
    let booted = unix_now();
    for (path, ua, _, _, _) in BOOTS {
        let resp = w.ua(path, Some(ua));
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
    }
    // The Worker writes last-seen records after answering (`waitUntil`).
    let deadline = Instant::now() + Duration::from_secs(20);
    for (_, _, mac, _, _) in BOOTS {
        while w.kv_get(&format!("last-seen/{mac}.json")).is_none() {
            assert!(
                Instant::now() < deadline,
                "no last-seen record for {mac} in KV"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    let cwd = temp_dir("fleet-kv-cwd");
    let fleet = Fleet::start(&w, &cwd);
    let first = Instant::now();
    let resp = fleet.get("/fleet");
    let first = first.elapsed();
    assert_eq!(resp.status, 200);
    let html = resp.text();
    assert!(!html.contains("class=\"problem"), "{html}");
    let mut devices: Vec<String> = std::fs::read_dir(store.join("devices"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy()[..12].to_owned())
        .collect();
    devices.sort();
    let mut listed = rows(&html);
    let never = unseen(&html);
    assert_eq!(
        never.len(),
        devices.len() - BOOTS.len(),
        "the devices no phone booted as: {never:?}"
    );
    assert_eq!(
        listed[..never.len()],
        never[..],
        "never-seen devices come first"
    );
    for (_, _, mac, firmware, file) in BOOTS {
        assert!(!never.contains(&mac.to_string()), "{mac} was seen");
        let row = row(&html, mac);
        for cell in [
            "class=\"ip\">127.0.0.1<".to_owned(),
            format!("class=\"fw\">{firmware}<"),
            format!("class=\"file\">{file}<"),
            "class=\"status s2\">200<".to_owned(),
        ] {
            assert!(row.contains(&cell), "{mac}: no {cell} in {row}");
        }
        let fetched: u64 = row
            .split_once("data-unix=\"")
            .and_then(|(_, rest)| rest.split('"').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{mac}: no last fetch in {row}"));
        assert!(
            (booted..=unix_now()).contains(&fetched),
            "{mac}: last fetch {fetched}, booted at {booted}"
        );
    }
    listed.sort();
    assert_eq!(listed, devices, "every device record in KV is a row");

    // Kept: the same page again, sorted, runs no wrangler.
    let again = Instant::now();
    let sorted = fleet.get("/fleet?sort=last&dir=desc");
    assert_eq!(sorted.status, 200);
    assert!(
        again.elapsed() < Duration::from_secs(1),
        "a second view within --kv-cache-secs reads no KV ({:?})",
        again.elapsed()
    );
    assert_eq!(rows(&sorted.text()).len(), devices.len());

    // A device page: the record from KV (its password masked) and its last-seen record.
    let device = fleet.get("/fleet/device/000b82123456");
    assert_eq!(device.status, 200);
    let device = device.text();
    assert!(device.contains("cfg000b82123456.xml") && device.contains("Front Desk"));
    assert!(!device.contains("gs-Line1-Secret") && !device.contains("global-Admin-Secret"));
    eprintln!(
        "first /fleet over KV took {first:?}; the whole test {:?}",
        started.elapsed()
    );
    drop(fleet);
    drop(w);
    let _ = std::fs::remove_dir_all(&cwd);
    let _ = std::fs::remove_dir_all(&store);
}
