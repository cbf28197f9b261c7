//! Phonebooks (issue 16): the tenant's `contacts` and the device group's `group_contacts`,
//! written by the example store's directory templates in each vendor's format; a bad entry is
//! escaped or left out, never a file the phone drops whole.

mod common;

use common::{MemStore, NOW};
use provedge::render::xml;
use provedge::{Config, Decision, Engine, Request};
use serde_json::json;

/// Every phonebook route of the example store, and the element each entry is written as.
const PHONEBOOKS: &[(&str, &str)] = &[
    ("/phonebook.xml", "<Contact>"),
    ("/000b82123456/phonebook.xml", "<Contact>"),
    ("/000000000000-directory.xml", "<item>"),
    ("/0004f2123456-directory.xml", "<item>"),
    ("/001565123456-contact.xml", "<contact "),
];

fn with_contacts(contacts: serde_json::Value) -> MemStore {
    let mut store = MemStore::example();
    let mut global: serde_json::Value =
        serde_json::from_slice(&store.files["vars/global.json"]).unwrap();
    global["contacts"] = contacts;
    store.put("vars/global.json", serde_json::to_vec(&global).unwrap());
    store.remove("vars/profiles/office.json");
    store
}

#[test]
fn bad_entries_are_escaped_or_left_out_and_every_file_stays_well_formed() {
    let store = with_contacts(json!([
        {"name": "Desk </item></Contact><evil a=\"1\"> & 'co'", "number": "1001"},
        {"name": "Line break", "number": "1002\n<x>"},
        {"name": "Script", "number": "javascript:alert(1)"},
        {"number": "1003"},
        {"name": "No number"},
        {"name": "As a JSON number", "number": 1004},
        {"name": "Bad mobile", "number": "1005", "mobile": "<m>"},
        {"name": "Control \u{0007} char", "number": "1006"},
    ]));
    let engine = Engine::default();
    for (path, entry) in PHONEBOOKS {
        let resp = store.serve(&engine, &Request::get(*path));
        assert_eq!(resp.status, 200, "{path}: {:?}", resp.note);
        let text = String::from_utf8(resp.body).unwrap();
        xml::check_well_formed(&text).unwrap_or_else(|e| panic!("{path}: {e}\n{text}"));
        // Kept: the escaped name, the JSON number, the entry with a bad mobile (without it),
        // the one with a control character (without it). Left out: the rest.
        assert_eq!(text.matches(entry).count(), 4, "{path}:\n{text}");
        assert!(!text.contains("<evil") && !text.contains("<x>") && !text.contains("<m>"));
        assert!(
            !text.contains("javascript") && !text.contains('\u{7}'),
            "{path}"
        );
        assert!(
            text.contains("&amp;") && text.contains("1004"),
            "{path}:\n{text}"
        );
    }
}

#[test]
fn a_device_group_adds_its_contacts_and_a_tenant_has_its_own() {
    let engine = Engine::new(
        Config::from_json(r#"{"policy":{"tenants":[{"name":"beta","path_prefix":"/beta"}]}}"#)
            .unwrap(),
    )
    .unwrap();
    let mut store = with_contacts(json!([{"name": "Root Desk", "number": "100"}]));
    store.put(
        "vars/profiles/office.json",
        r#"{"group_contacts": [{"name": "Office Only", "number": "200"}]}"#,
    );
    // Beta's namespace: its own templates, variables and device.
    let keys: Vec<String> = store
        .files
        .keys()
        .filter(|k| {
            k.starts_with("templates/polycom/")
                || k.starts_with("templates/phonebook/")
                || *k == "devices/0004f2123456.json"
        })
        .cloned()
        .collect();
    for key in keys {
        let bytes = store.files[&key].clone();
        store.put(&format!("tenants/beta/{key}"), bytes);
    }
    store.put(
        "tenants/beta/vars/global.json",
        r#"{"contacts": [{"name": "Beta Desk", "number": "300"}]}"#,
    );
    let text = |path: &str| {
        let resp = store.serve(&engine, &Request::get(path));
        assert_eq!(resp.status, 200, "{path}: {:?}", resp.note);
        String::from_utf8(resp.body).unwrap()
    };
    // The generic file has no device, so no group.
    let generic = text("/000000000000-directory.xml");
    assert!(generic.contains("Root Desk") && !generic.contains("Office Only"));
    // The device's own file adds its group's (its record's `profile` is `office`).
    let own = text("/0004f2123456-directory.xml");
    assert!(
        own.contains("Root Desk") && own.contains("Office Only"),
        "{own}"
    );
    // Beta's phones get beta's contacts only.
    let beta = text("/beta/0004f2123456-directory.xml");
    assert!(
        beta.contains("Beta Desk") && !beta.contains("Root Desk"),
        "{beta}"
    );
}

#[test]
fn a_steady_phonebook_request_costs_one_store_round() {
    let store = MemStore::example();
    let engine = Engine::default();
    let req = Request::get("/0004f2123456-directory.xml");
    let count = || {
        let mut decision = engine.handle(&req, NOW);
        let mut rounds = 0;
        loop {
            match decision {
                Decision::Fetch(fetch) => {
                    rounds += 1;
                    let answers = store.answers(&fetch);
                    decision = fetch.resume(&engine, answers);
                }
                Decision::Respond(resp) => return (rounds, resp.status),
                other => panic!("{other:?}"),
            }
        }
    };
    // The record; variables and the file's template; the generic directory it extends; the
    // contacts macro that one imports. Then one round.
    assert_eq!(count(), (4, 200));
    assert_eq!(count(), (1, 200));
}
