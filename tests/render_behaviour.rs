//! Rendering behaviour over the store: layering, hostile data, faults, and what a phone is
//! (never) sent.

mod common;

use common::MemStore;
use common::NOW;
use provedge::render::{grandstream, xml};
use provedge::{Engine, Request};
use serde_json::json;

fn device(mac: &str, vendor: &str, model: &str, extra: serde_json::Value) -> Vec<u8> {
    let mut d = json!({
        "mac": mac, "vendor": vendor, "model": model,
        "lines": [{"user": "2001", "password": "pw-2001", "display_name": "Plain Name", "server": "pbx.test"}],
    });
    if let (Some(obj), Some(extra)) = (d.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            obj.insert(k.clone(), v.clone());
        }
    }
    serde_json::to_vec(&d).unwrap()
}

#[test]
fn layers_apply_global_vendor_model_profile_device_in_order() {
    let mut store = MemStore::default();
    store
        .put("vars/global.json", r#"{"a":"global","b":"global","c":"global","d":"global","e":"global"}"#)
        .put("vars/vendors/yealink.json", r#"{"b":"vendor","c":"vendor","d":"vendor","e":"vendor"}"#)
        .put("vars/models/yealink/t46s.json", r#"{"c":"model","d":"model","e":"model"}"#)
        .put("vars/profiles/p1.json", r#"{"d":"profile","e":"profile"}"#)
        .put("devices/001565000001.json", device("001565000001", "yealink", "t46s", json!({"profile": "p1", "vars": {"e": "device"}})))
        .put("templates/yealink/@mac.cfg", "a = {{ vars.a }}\nb = {{ vars.b }}\nc = {{ vars.c }}\nd = {{ vars.d }}\ne = {{ vars.e }}\n");
    let body = String::from_utf8(store.get("/001565000001.cfg", None).body).unwrap();
    assert_eq!(
        body,
        "#!version:1.0.0.1\na = global\nb = vendor\nc = model\nd = profile\ne = device\n"
    );
}

#[test]
fn model_specific_templates_win_over_vendor_wide_ones() {
    let mut store = MemStore::default();
    store
        .put(
            "devices/001565000001.json",
            device("001565000001", "yealink", "t46s", json!({})),
        )
        .put(
            "devices/001565000002.json",
            device("001565000002", "yealink", "t54w", json!({})),
        )
        .put("templates/yealink/@mac.cfg", "which = vendor\n")
        .put("templates/yealink/t46s/@mac.cfg", "which = model\n");
    assert!(String::from_utf8(store.get("/001565000001.cfg", None).body)
        .unwrap()
        .ends_with("which = model\n"));
    assert!(String::from_utf8(store.get("/001565000002.cfg", None).body)
        .unwrap()
        .ends_with("which = vendor\n"));
}

const HOSTILE: &[&str] = &[
    "</P3><P2>owned</P2>",
    "x\" evil=\"1",
    "line\nadmin.pwd = owned",
    "cr\rlf\r\nP2 = owned",
    "a & b < c > d ' e",
    "nul\0byte",
    "{{ 7 * 7 }}{% raw %}",
];

fn hostile_store(value: &str) -> MemStore {
    let mut store = MemStore::example();
    let d = |mac: &str, vendor: &str, model: &str| {
        json!({"mac": mac, "vendor": vendor, "model": model,
               "lines": [{"user": "2001", "password": value, "display_name": value, "label": value, "server": "pbx.test"}],
               "keys": [{"type": "blf", "value": value, "label": value}],
               "vars": {"admin_password": value, "volume": value, "ringtone": value}})
    };
    for (mac, vendor, model) in [
        ("000b82123456", "grandstream", "gxp2170"),
        ("0004f2123456", "polycom", "vvx400"),
        ("001565123456", "yealink", "t46s"),
        ("0022ee123456", "algo", "8188"),
        ("00562b123456", "cisco", "cp-8841-3pcc"),
        ("000413123456", "snom", "d785"),
        ("0c383e123456", "fanvil", "x5u"),
        ("00085d123456", "aastra", "6731i"),
    ] {
        store.put(
            &format!("devices/{mac}.json"),
            serde_json::to_vec(&d(mac, vendor, model)).unwrap(),
        );
    }
    store
}

#[test]
fn hostile_device_data_cannot_break_any_format() {
    let baseline = hostile_store("plain");
    for value in HOSTILE.iter().copied().chain([&*"A".repeat(100_000)]) {
        let store = hostile_store(value);
        for path in [
            "/cfg000b82123456.xml",
            "/0004f2123456-phone.cfg",
            "/00562b123456.xml",
            "/000413123456.xml",
            "/0c383e123456.cfg",
        ] {
            let resp = store.get(path, None);
            assert_eq!(resp.status, 200, "{path} with {value:?}: {:?}", resp.note);
            let text = std::str::from_utf8(&resp.body).unwrap();
            xml::check_well_formed(text).unwrap_or_else(|e| panic!("{path} with {value:?}: {e}"));
            assert!(
                !text.contains("<P2>owned") && !text.contains("evil=\"1\""),
                "{path}: injected markup"
            );
            assert!(!text.contains('\0'));
        }
        // Line-based formats: the value never starts a line of its own, so the file has exactly
        // the lines the template has.
        for path in [
            "/001565123456.cfg",
            "/algom0022EE123456.conf",
            "/00085D123456.cfg",
        ] {
            let resp = store.get(path, None);
            assert_eq!(resp.status, 200, "{path} with {value:?}");
            let text = String::from_utf8(resp.body).unwrap();
            let base = String::from_utf8(baseline.get(path, None).body).unwrap();
            assert_eq!(
                text.lines().count(),
                base.lines().count(),
                "{path} with {value:?}:\n{text}"
            );
            assert!(!text
                .lines()
                .any(|l| l.trim_start().starts_with("admin.pwd = owned")
                    || l.starts_with("P2 = owned")));
            assert!(!text.contains('\0') && !text.contains('\r'));
        }
        // The binary carries the value intact (URL-encoded); controls are spaces.
        let bin = store.get("/cfg000b82123456", None).body;
        let (_, pvalues) = grandstream::decode_binary(&bin).unwrap();
        let p34 = pvalues.iter().find(|p| p.number == 34).unwrap();
        let want: String = value
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        assert_eq!(p34.value, want.trim());
    }
}

#[test]
fn an_unknown_device_is_a_404_and_costs_one_store_round() {
    let store = MemStore::example();
    let engine = Engine::default();
    let provedge::Decision::Fetch(first) =
        engine.handle(&Request::get("/cfg000b82aaaaaa.xml"), NOW)
    else {
        panic!()
    };
    let keys: Vec<String> = first.keys().iter().map(|k| k.to_string()).collect();
    assert_eq!(
        keys,
        [
            "grandstream/cfg000b82aaaaaa.xml",
            "devices/000b82aaaaaa.json"
        ]
    );
    let answers = store.answers(&first);
    let provedge::Decision::Respond(resp) = first.resume(&engine, answers) else {
        panic!("a second round for an unknown device")
    };
    assert_eq!(resp.status, 404);
    assert_eq!(
        String::from_utf8(resp.body).unwrap(),
        "no device 000b82aaaaaa\n"
    );
}

#[test]
fn faults_are_5xx_with_no_body_and_a_note_naming_the_key() {
    let cases: Vec<(MemStore, &str, &str, &str)> = vec![
        (
            {
                let mut s = MemStore::example();
                s.put("devices/001565123456.json", "{\"mac\": \"001565123456\", ");
                s
            },
            "/001565123456.cfg",
            "devices/001565123456.json",
            "malformed",
        ),
        (
            {
                let mut s = MemStore::example();
                s.put("devices/001565123456.json", device("001565123456", "yealink", "t46s", json!({"lines": [{"user": "1", "password": "x", "server": "s", "colour": "red"}]})));
                s
            },
            "/001565123456.cfg",
            "devices/001565123456.json",
            "colour",
        ),
        (
            {
                let mut s = MemStore::example();
                s.put(
                    "templates/yealink/@mac.cfg",
                    "a = 1\nb = {{ lines[0].nope }}\n",
                );
                s
            },
            "/001565123456.cfg",
            "templates/yealink/@mac.cfg line 2",
            "undefined",
        ),
        (
            {
                let mut s = MemStore::example();
                s.put("templates/yealink/@mac.cfg", "a = 1\n{% for %}\n");
                s
            },
            "/001565123456.cfg",
            "templates/yealink/@mac.cfg line 2",
            "syntax",
        ),
        (
            {
                let mut s = MemStore::example();
                s.put("templates/polycom/@mac-phone.cfg", "<a><b></a>");
                s
            },
            "/0004f2123456-phone.cfg",
            "templates/polycom/@mac-phone.cfg",
            "XML",
        ),
        (
            {
                let mut s = MemStore::example();
                s.put(
                    "templates/grandstream/cfg@mac.pvalues",
                    "P270 = ok\nnot a pvalue\n",
                );
                s
            },
            "/cfg000b82123456.xml",
            "templates/grandstream/cfg@mac.pvalues",
            "line 2",
        ),
        (
            {
                let mut s = MemStore::example();
                s.put("vars/global.json", "[1,2]");
                s
            },
            "/001565123456.cfg",
            "vars/global.json",
            "not a JSON object",
        ),
        (
            {
                let mut s = MemStore::example();
                s.put(
                    "devices/001565123456.json",
                    device("001565654321", "yealink", "t46s", json!({})),
                );
                s
            },
            "/001565123456.cfg",
            "devices/001565123456.json",
            "001565654321",
        ),
        (
            {
                let mut s = MemStore::example();
                s.failing.push("vars/vendors/yealink.json".into());
                s
            },
            "/001565123456.cfg",
            "vars/vendors/yealink.json",
            "failed",
        ),
    ];
    for (store, path, key, what) in cases {
        let resp = store.get(path, None);
        assert!(resp.status >= 500, "{path}: {}", resp.status);
        assert!(resp.body.is_empty(), "{path}: a faulty render sent a body");
        let note = resp.note.clone().unwrap_or_default();
        assert!(
            note.contains(key) && note.contains(what),
            "{path}: note {note:?} should name {key:?} and {what:?}"
        );
        assert!(
            !note.contains("yea-Line1-Secret") && !note.contains("pw-2001"),
            "{note}"
        );
    }
}

#[test]
fn a_device_of_another_vendor_is_not_served_under_this_one() {
    let mut store = MemStore::example();
    store.put(
        "devices/001565999999.json",
        device("001565999999", "polycom", "vvx400", json!({})),
    );
    let resp = store.get("/001565999999.cfg", None);
    assert_eq!(resp.status, 404);
}

#[test]
fn etags_are_strong_and_follow_the_bytes() {
    let store = MemStore::example();
    let a = store.get("/001565123456.cfg", None);
    let b = store.get("/001565123456.cfg", None);
    let etag = a.header("etag").unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34,
        "{etag}"
    );
    assert_eq!(b.header("etag"), Some(etag.as_str()));
    let mut changed = MemStore::example();
    changed.put("vars/global.json", r#"{"ntp_server":"other","timezone":"UTC","provisioning_url":"x","admin_password":"y","language":"English"}"#);
    assert_ne!(
        changed.get("/y000000000066.cfg", None).header("etag"),
        store.get("/y000000000066.cfg", None).header("etag")
    );
}

#[test]
fn content_types_follow_the_format() {
    let store = MemStore::example();
    for (path, ct) in [
        ("/cfg000b82123456.xml", "text/xml; charset=utf-8"),
        ("/cfg000b82123456", "application/octet-stream"),
        ("/001565123456.cfg", "text/plain; charset=utf-8"),
        ("/0004f2123456-phone.cfg", "text/xml; charset=utf-8"),
        ("/algom0022EE123456.conf", "text/plain; charset=utf-8"),
        ("/algom0022EE123456.md5", "text/plain; charset=utf-8"),
        ("/sip.ld", "application/octet-stream"),
        ("/algop8188-tones.zip", "application/zip"),
    ] {
        assert_eq!(
            store.get(path, None).header("content-type"),
            Some(ct),
            "{path}"
        );
    }
}

#[test]
fn templates_compile_once_per_engine() {
    let store = MemStore::example();
    let engine = Engine::default();
    for _ in 0..5 {
        assert_eq!(
            store
                .serve(&engine, &Request::get("/001565123456.cfg"))
                .status,
            200
        );
    }
    assert_eq!(engine.templates().len(), 1);
}

#[test]
fn rendered_files_are_reused_only_while_their_inputs_are_unchanged() {
    let mut store = MemStore::example();
    let engine = Engine::default();
    let req = Request::get("/001565123456.cfg");
    let first = store.serve(&engine, &req);
    assert_eq!(engine.renders().len(), 1);
    assert_eq!(store.serve(&engine, &req), first);
    // A changed device record changes the file at once.
    let mut record: serde_json::Value =
        serde_json::from_slice(&store.files["devices/001565123456.json"]).unwrap();
    record["lines"][0]["display_name"] = json!("Renamed");
    store.put(
        "devices/001565123456.json",
        serde_json::to_vec(&record).unwrap(),
    );
    let second = store.serve(&engine, &req);
    assert!(String::from_utf8_lossy(&second.body).contains("display_name = Renamed"));
    assert_ne!(second.header("etag"), first.header("etag"));
    // A generic file rendered for two requesters without records is not shared between them.
    let boot = |mac: &str| {
        let ua = format!("Yealink SIP-T46S 66.86.0.15 {mac}");
        String::from_utf8(
            store
                .serve(
                    &engine,
                    &Request::get("/y000000000000.boot").with_header("User-Agent", ua),
                )
                .body,
        )
        .unwrap()
    };
    assert!(boot("00:15:65:00:00:0a").contains("00156500000a.cfg"));
    assert!(boot("00:15:65:00:00:0b").contains("00156500000b.cfg"));
}

/// Drives a request to its response, counting store rounds.
fn rounds(engine: &Engine, store: &MemStore, req: &Request) -> (usize, provedge::Response) {
    let mut decision = engine.handle(req, NOW);
    let mut rounds = 0;
    loop {
        match decision {
            provedge::Decision::Fetch(fetch) => {
                rounds += 1;
                let answers = store.answers(&fetch);
                decision = fetch.resume(engine, answers);
            }
            provedge::Decision::Respond(resp) => return (rounds, resp),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_known_device_costs_one_round_and_a_changed_record_is_followed() {
    let mut store = MemStore::default();
    store
        .put(
            "devices/001565000001.json",
            device("001565000001", "yealink", "t46s", json!({})),
        )
        .put(
            "templates/yealink/t46s/@mac.cfg",
            "model = t46s\nuser = {{ lines[0].user }}\n",
        )
        .put(
            "templates/yealink/t48s/@mac.cfg",
            "model = t48s\nuser = {{ lines[0].user }}\n",
        );
    let engine = Engine::default();
    let req = Request::get("/001565000001.cfg");
    // First request: the record, then what it names.
    let (n, first) = rounds(&engine, &store, &req);
    assert_eq!((n, first.status), (2, 200));
    assert!(String::from_utf8_lossy(&first.body).contains("model = t46s"));
    // Steady state: one round, the same bytes.
    let (n, again) = rounds(&engine, &store, &req);
    assert_eq!((n, &again.body), (1, &first.body));
    // The record now names another model (and user): the keys named ahead from the earlier
    // record are not enough, so a second round reads the new model's template, and the new
    // record's data is what renders.
    store.put(
        "devices/001565000001.json",
        device(
            "001565000001",
            "yealink",
            "t48s",
            json!({"lines": [{"user": "3003", "password": "p", "server": "s"}]}),
        ),
    );
    let (n, changed) = rounds(&engine, &store, &req);
    assert_eq!((n, changed.status), (2, 200));
    let text = String::from_utf8(changed.body).unwrap();
    assert!(
        text.contains("model = t48s") && text.contains("user = 3003"),
        "{text}"
    );
    // A deleted record: a 404, never the file rendered from the earlier record.
    store.remove("devices/001565000001.json");
    let (_, gone) = rounds(&engine, &store, &req);
    assert_eq!(gone.status, 404);
}

/// The engine keeps, per remembered route, the keys a device's model and profile named the
/// first time; a record that names another profile (or model) must still be read with its own.
#[test]
fn a_changed_profile_or_model_is_followed_by_the_same_engine() {
    let mut store = MemStore::default();
    let record = |model: &str, profile: &str| {
        device(
            "001565000001",
            "yealink",
            model,
            json!({"profile": profile}),
        )
    };
    store
        .put("devices/001565000001.json", record("t46s", "p1"))
        .put("vars/profiles/p1.json", r#"{"tier":"one"}"#)
        .put("vars/profiles/p2.json", r#"{"tier":"two"}"#)
        .put(
            "templates/yealink/t46s/@mac.cfg",
            "model = t46s\ntier = {{ vars.tier }}\n",
        )
        .put(
            "templates/yealink/t48s/@mac.cfg",
            "model = t48s\ntier = {{ vars.tier }}\n",
        );
    let engine = Engine::default();
    let req = Request::get("/001565000001.cfg");
    let body = |engine: &Engine, store: &MemStore| {
        let (_, resp) = rounds(engine, store, &req);
        assert_eq!(resp.status, 200);
        String::from_utf8(resp.body).unwrap()
    };
    assert!(body(&engine, &store).ends_with("model = t46s\ntier = one\n"));
    assert!(body(&engine, &store).ends_with("model = t46s\ntier = one\n"));
    store.put("devices/001565000001.json", record("t46s", "p2"));
    assert!(body(&engine, &store).ends_with("model = t46s\ntier = two\n"));
    store.put("devices/001565000001.json", record("t48s", "p2"));
    assert!(body(&engine, &store).ends_with("model = t48s\ntier = two\n"));
    // Back to what the route's first request named.
    store.put("devices/001565000001.json", record("t46s", "p1"));
    assert!(body(&engine, &store).ends_with("model = t46s\ntier = one\n"));
    // A profile whose name is no safe key is a fault, even after good ones: this engine
    // answers it with the last good file, never with another profile's variables.
    store.put("devices/001565000001.json", record("t46s", "../p1"));
    let (_, bad) = rounds(&engine, &store, &req);
    assert_eq!(bad.status, 200);
    assert!(String::from_utf8(bad.body)
        .unwrap()
        .ends_with("model = t46s\ntier = one\n"));
    assert_eq!(rounds(&Engine::default(), &store, &req).1.status, 500);
}
