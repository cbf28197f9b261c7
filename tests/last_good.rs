//! Faults after a good answer: the store down, a template broken by an edit, a device record
//! that no longer parses. The same request gets its last good file, marked stale; any other
//! request (another device, another token, none) gets the clean 5xx, never that file.

mod common;

use common::MemStore;
use provedge::last_good::STALE_HEADER;
use provedge::{Config, Engine, Request, Response};

const GS: &str = "/cfg000b82123456.xml";
const GS_UA: &str = "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456";
const GS_TEMPLATE: &str = "templates/grandstream/cfg@mac.pvalues";

fn get(path: &str) -> Request {
    Request::get(path).with_header("User-Agent", GS_UA)
}

fn stale(resp: &Response) -> Option<&str> {
    resp.header(STALE_HEADER)
}

#[test]
fn a_broken_template_serves_the_last_good_file_of_that_request() {
    let mut store = MemStore::example();
    let engine = Engine::default();
    let good = store.serve(&engine, &get(GS));
    assert_eq!(good.status, 200);
    assert_eq!(stale(&good), None);
    // An edit breaks the template.
    store.put(GS_TEMPLATE, b"P30 = {{ broken(".to_vec());
    let during = store.serve(&engine, &get(GS));
    assert_eq!(during.status, 200);
    assert_eq!(during.body, good.body);
    assert_eq!(stale(&during), Some("render-failed"));
    assert_eq!(during.header("etag"), good.header("etag"));
    assert!(during.note.as_deref().unwrap().contains("last good"));
    // A phone holding the file revalidates to a 304 while the fault lasts.
    let etag = good.header("etag").unwrap().to_owned();
    let revalidated = store.serve(&engine, &get(GS).with_header("If-None-Match", &etag));
    assert_eq!(revalidated.status, 304);
    // Fixed: fresh again, no longer marked.
    store.put(GS_TEMPLATE, MemStore::example().files[GS_TEMPLATE].clone());
    let after = store.serve(&engine, &get(GS));
    assert_eq!((after.status, stale(&after)), (200, None));
}

#[test]
fn a_store_failure_or_an_unparsable_record_is_stale_for_the_same_request_only() {
    let mut store = MemStore::example();
    let engine = Engine::default();
    let good = store.serve(&engine, &get(GS));
    assert_eq!(good.status, 200);
    // The store fails for the device's record.
    store.failing.push("devices/000b82123456.json".into());
    let down = store.serve(&engine, &get(GS));
    assert_eq!(
        (down.status, stale(&down)),
        (200, Some("store-unavailable"))
    );
    assert_eq!(down.body, good.body);
    // A request never answered before has nothing to fall back on: a clean 503, no body.
    let other = store.serve(&engine, &get("/cfg000b82123456"));
    assert_eq!(other.status, 503);
    assert!(other.body.is_empty());
    store.failing.clear();
    // The record no longer parses.
    store.put("devices/000b82123456.json", b"{ not json".to_vec());
    let broken = store.serve(&engine, &get(GS));
    assert_eq!(
        (broken.status, stale(&broken)),
        (200, Some("render-failed"))
    );
    assert_eq!(broken.body, good.body);
    // A fresh engine (a restarted host) knows no last good file: the clean 500.
    let fresh = store.serve(&Engine::default(), &get(GS));
    assert_eq!((fresh.status, fresh.body.is_empty()), (500, true));
}

#[test]
fn a_stale_file_goes_only_to_the_token_that_was_given_it() {
    let engine = Engine::new(
        Config::from_json(r#"{"policy":{"default":{"url_tokens":{"first_boot":"boot-tok"}}}}"#)
            .unwrap(),
    )
    .unwrap();
    let mut store = MemStore::example();
    let mut record: serde_json::Value =
        serde_json::from_slice(&store.files["devices/000b82123456.json"]).unwrap();
    record["auth"] = serde_json::json!({"token": "dev-tok"});
    store.put(
        "devices/000b82123456.json",
        serde_json::to_vec(&record).unwrap(),
    );
    let own = store.serve(&engine, &get("/dev-tok/cfg000b82123456.xml"));
    assert_eq!(own.status, 200);
    assert!(String::from_utf8_lossy(&own.body).contains("gs-Line1-Secret!"));
    let first_boot = store.serve(&engine, &get("/boot-tok/cfg000b82123456.xml"));
    assert_eq!(first_boot.status, 200);
    assert!(!String::from_utf8_lossy(&first_boot.body).contains("gs-Line1-Secret!"));
    // The record breaks: its token can no longer be checked.
    store.put("devices/000b82123456.json", b"{ not json".to_vec());
    let again = store.serve(&engine, &get("/dev-tok/cfg000b82123456.xml"));
    assert_eq!((again.status, again.body.clone()), (200, own.body.clone()));
    // The first-boot token gets its own stripped file back, never the device's.
    let boot = store.serve(&engine, &get("/boot-tok/cfg000b82123456.xml"));
    assert_eq!(boot.body, first_boot.body);
    // A guessed token, or another device's, gets no file at all.
    for path in [
        "/guess/cfg000b82123456.xml",
        "/dev-tok-y/cfg000b82123456.xml",
    ] {
        let resp = store.serve(&engine, &get(path));
        assert_ne!(resp.status, 200, "{path}");
        assert!(!String::from_utf8_lossy(&resp.body).contains("gs-Line1-Secret!"));
    }
}

#[test]
fn the_bound_holds_and_zero_bytes_turns_it_off() {
    let engine =
        Engine::new(Config::from_json(r#"{"memory":{"last_good_bytes":0}}"#).unwrap()).unwrap();
    let mut store = MemStore::example();
    assert_eq!(store.serve(&engine, &get(GS)).status, 200);
    store.put(GS_TEMPLATE, b"P30 = {{ broken(".to_vec());
    let resp = store.serve(&engine, &get(GS));
    assert_eq!((resp.status, stale(&resp)), (500, None));
}

mod serve_support;

/// The native server: the same core, so the same stand-in, over a folder the test edits; and
/// the access log says the answer was stale without the file's secrets.
#[test]
fn the_native_server_serves_the_last_good_file_while_a_template_is_broken() {
    // Files are re-checked on every read (`store_recheck_ms: 0`), so the edit shows at once.
    let server = serve_support::Server::start_with(Some(r#"{"server": {"store_recheck_ms": 0}}"#));
    let good = server.get(GS, Some(GS_UA));
    assert_eq!(good.status, 200);
    let template = server.store.join(GS_TEMPLATE);
    let original = std::fs::read(&template).unwrap();
    std::fs::write(&template, b"P30 = {{ broken(").unwrap();
    let during = server.get(GS, Some(GS_UA));
    assert_eq!((during.status, &during.body), (200, &good.body));
    assert_eq!(during.header(STALE_HEADER), Some("render-failed"));
    // Another device of the same template, never answered: the clean 500.
    let other = server.get(
        "/cfg000b82000001.xml",
        Some("Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82000001"),
    );
    assert_ne!(other.status, 200);
    std::fs::write(&template, original).unwrap();
    let after = server.get(GS, Some(GS_UA));
    assert_eq!((after.status, after.header(STALE_HEADER)), (200, None));
    // The access record of the stale answer carries the fault behind it, no secrets.
    let lines = server.log_lines(4);
    let stale_line = lines
        .iter()
        .find(|l| l["note"].as_str().is_some_and(|n| n.contains("last good")))
        .unwrap_or_else(|| panic!("no access record notes the stale answer: {lines:?}"));
    assert_eq!(stale_line["status"], 200);
    assert!(!server.log().contains("gs-Line1-Secret!"));
}
