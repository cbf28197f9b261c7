//! Issue 19, point 4: files phones upload and expect back. Polycom `<mac>-phone.cfg` and
//! `<mac>-web.cfg` overrides and Yealink `<mac>-local.cfg` are served back on the phone's next
//! fetch when `uploads.serve_back` is on: to that device only, capped by `uploads.max_bytes`,
//! and never to another device or a request that does not show the device's MAC.

mod common;

use common::{MemStore, NOW};
use provedge::{Config, Decision, Engine, Method, Request, Response};

const POLY_UA: &str =
    "FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 (SN:0004f2123456) Type/Application";
const POLY_OTHER_UA: &str =
    "FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 (SN:0004f2aaaaaa) Type/Application";
const POLY_NO_MAC_UA: &str = "FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 Type/Application";
const YEA_UA: &str = "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56";

const OVERRIDE: &[u8] =
    b"<?xml version=\"1.0\"?><PHONE_CONFIG><OVERRIDES up.backlight.idleIntensity=\"1\"/></PHONE_CONFIG>\n";
const LOCAL: &[u8] = b"#!version:1.0.0.1\nlang.gui = German\n";

fn engine(json: &str) -> Engine {
    Engine::new(Config::from_json(json).unwrap()).unwrap()
}

fn serving() -> Engine {
    engine(r#"{"uploads": {"serve_back": true}}"#)
}

fn get(store: &MemStore, engine: &Engine, path: &str, ua: &str) -> Response {
    store.serve(engine, &Request::get(path).with_header("User-Agent", ua))
}

/// PUTs `body` through the engine the way a host does: the engine names the key, the host
/// stores the bytes there.
fn upload(store: &mut MemStore, engine: &Engine, path: &str, ua: &str, body: &[u8]) {
    let req = Request::new(Method::Put, path).with_header("User-Agent", ua);
    match engine.run(&req, NOW, |k| store.read(k)) {
        Decision::Upload(u) => {
            assert!(body.len() <= u.max_bytes());
            store.put(u.key().as_str(), body);
        }
        other => panic!("{path}: expected an upload, got {other:?}"),
    }
}

#[test]
fn uploads_come_back_to_their_phone_when_the_operator_enables_it() {
    let engine = serving();
    let mut store = MemStore::example();
    let rendered = get(&store, &engine, "/0004f2123456-phone.cfg", POLY_UA);
    assert_eq!(rendered.status, 200);
    assert_ne!(rendered.body, OVERRIDE);

    upload(
        &mut store,
        &engine,
        "/0004f2123456-phone.cfg",
        POLY_UA,
        OVERRIDE,
    );
    upload(
        &mut store,
        &engine,
        "/0004f2123456-web.cfg",
        POLY_UA,
        OVERRIDE,
    );
    upload(
        &mut store,
        &engine,
        "/001565123456-local.cfg",
        YEA_UA,
        LOCAL,
    );
    for (path, ua, want) in [
        ("/0004f2123456-phone.cfg", POLY_UA, OVERRIDE),
        ("/0004f2123456-web.cfg", POLY_UA, OVERRIDE),
        ("/001565123456-local.cfg", YEA_UA, LOCAL),
    ] {
        let resp = get(&store, &engine, path, ua);
        assert_eq!(resp.status, 200, "{path}: {:?}", resp.note);
        assert_eq!(resp.body, want, "{path}");
        let header = |name: &str| {
            resp.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("cache-control"), Some("private, no-store"), "{path}");
        let etag = header("etag")
            .expect("an ETag, for the phone's revalidation")
            .to_owned();
        // The phone's revalidation of its own file is a 304.
        let again = store.serve(
            &engine,
            &Request::get(path)
                .with_header("User-Agent", ua)
                .with_header("If-None-Match", &etag),
        );
        assert_eq!(again.status, 304, "{path}");
    }
}

#[test]
fn off_by_default() {
    let mut store = MemStore::example();
    let default = Engine::default();
    upload(
        &mut store,
        &default,
        "/0004f2123456-phone.cfg",
        POLY_UA,
        OVERRIDE,
    );
    let resp = get(&store, &default, "/0004f2123456-phone.cfg", POLY_UA);
    assert_eq!(resp.status, 200);
    assert_ne!(resp.body, OVERRIDE, "the template, not the upload");
    // `serve_back` without uploads enabled serves nothing back either.
    let off = engine(r#"{"uploads": {"enabled": false, "serve_back": true}}"#);
    assert_ne!(
        get(&store, &off, "/0004f2123456-phone.cfg", POLY_UA).body,
        OVERRIDE
    );
}

#[test]
fn never_to_another_device_nor_to_a_request_that_does_not_show_the_mac() {
    let engine = serving();
    let mut store = MemStore::example();
    upload(
        &mut store,
        &engine,
        "/0004f2123456-phone.cfg",
        POLY_UA,
        OVERRIDE,
    );
    // Another phone asking for this phone's file: refused by MAC binding, never the upload.
    let other = get(&store, &engine, "/0004f2123456-phone.cfg", POLY_OTHER_UA);
    assert_ne!(other.body, OVERRIDE);
    // A request that does not show a MAC gets the rendered file, not the phone's own upload.
    let anonymous = get(&store, &engine, "/0004f2123456-phone.cfg", POLY_NO_MAC_UA);
    assert_eq!(anonymous.status, 200);
    assert_ne!(anonymous.body, OVERRIDE);
    // The other phone's own name does not reach this phone's upload.
    let own = get(&store, &engine, "/0004f2aaaaaa-phone.cfg", POLY_OTHER_UA);
    assert_ne!(own.body, OVERRIDE);
    // Logs and other stored uploads are never served back.
    upload(
        &mut store,
        &engine,
        "/0004f2123456-app.log",
        POLY_UA,
        b"log line\n",
    );
    let log = store.serve(
        &engine,
        &Request::get("/0004f2123456-app.log").with_header("User-Agent", POLY_UA),
    );
    assert_ne!(log.body, b"log line\n");
}

#[test]
fn an_upload_for_a_device_without_a_record_is_not_served() {
    let engine = serving();
    let mut store = MemStore::example();
    // Stored directly (the engine refuses uploads of unknown devices).
    store.put("uploads/polycom/0004f2999999-phone.cfg", OVERRIDE);
    let ua = "FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 (SN:0004f2999999) Type/Application";
    assert_ne!(
        get(&store, &engine, "/0004f2999999-phone.cfg", ua).body,
        OVERRIDE
    );
}

#[test]
fn uploads_over_the_cap_are_not_served_back() {
    let engine = engine(r#"{"uploads": {"serve_back": true, "max_bytes": 16}}"#);
    let mut store = MemStore::example();
    // Stored before the cap was lowered.
    store.put("uploads/yealink/001565123456-local.cfg", LOCAL);
    assert!(LOCAL.len() > 16);
    assert_ne!(
        get(&store, &engine, "/001565123456-local.cfg", YEA_UA).body,
        LOCAL
    );
    store.put("uploads/yealink/001565123456-local.cfg", &LOCAL[..16]);
    assert_eq!(
        get(&store, &engine, "/001565123456-local.cfg", YEA_UA).body,
        &LOCAL[..16]
    );
}
