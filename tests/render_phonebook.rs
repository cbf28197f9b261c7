//! Phonebooks (issue 16): the tenant's `contacts` and the device group's `group_contacts`,
//! written by the example store's directory templates in each vendor's format; a bad entry is
//! escaped or left out, never a file the phone drops whole. Grandstream, Polycom and Yealink's
//! local contacts are files the phones ask for by name; Yealink's remote phonebook, Snom's
//! `<tbook>` and Fanvil's remote phonebook are served at `phonebook/<vendor>.xml` and
//! `phonebook/<vendor>/<mac>.xml`, the URLs their configurations name (docs/store.md).

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
    ("/phonebook/yealink.xml", "<Unit "),
    ("/phonebook/yealink/001565123456.xml", "<Unit "),
    ("/phonebook/snom.xml", "<item "),
    ("/phonebook/snom/000413123456.xml", "<item "),
    ("/phonebook/fanvil.xml", "<DirectoryEntry>"),
    ("/phonebook/fanvil/0c383e123456.xml", "<DirectoryEntry>"),
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

const YEA_UA: &str = "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56";
const SNOM_UA: &str =
    "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413123456 SXM:0 UXM:0)";
const FANVIL_UA: &str = "Fanvil X5U-V2 2.12.16.17 0c383e123456";

/// The remote phonebooks of the example store's three contacts, byte for byte: Yealink's
/// `<YealinkIPPhoneBook>` (Phone1 the number, Phone2 the mobile), Snom's `<tbook>` (one number
/// per item, indexes from 0), Fanvil's `<PhoneBook>` (a `<Mobile>` only where there is one).
const REMOTE_PHONEBOOKS: &[(&str, &str)] = &[
    (
        "/phonebook/yealink.xml",
        r#"<?xml version="1.0" encoding="UTF-8"?>
<YealinkIPPhoneBook>
  <Title>Contacts</Title>
  <Menu Name="Contacts">
    <Unit Name="Front Desk" Phone1="1001" Phone2="" Phone3="" default_photo="Resource:"/>
    <Unit Name="Voicemail" Phone1="*97" Phone2="" Phone3="" default_photo="Resource:"/>
    <Unit Name="Dr. Smith &amp; Partners" Phone1="+1 (555) 010-9999" Phone2="+15550100000" Phone3="" default_photo="Resource:"/>
  </Menu>
</YealinkIPPhoneBook>
"#,
    ),
    (
        "/phonebook/snom.xml",
        r#"<?xml version="1.0" encoding="utf-8"?>
<tbook e="2" complete="true">
  <item context="active" type="none" index="0">
    <name>Front Desk</name>
    <number>1001</number>
  </item>
  <item context="active" type="none" index="1">
    <name>Voicemail</name>
    <number>*97</number>
  </item>
  <item context="active" type="none" index="2">
    <name>Dr. Smith &amp; Partners</name>
    <number>+1 (555) 010-9999</number>
  </item>
</tbook>
"#,
    ),
    (
        "/phonebook/fanvil.xml",
        r#"<?xml version="1.0" encoding="UTF-8"?>
<PhoneBook>
  <DirectoryEntry>
    <Name>Front Desk</Name>
    <Telephone>1001</Telephone>
  </DirectoryEntry>
  <DirectoryEntry>
    <Name>Voicemail</Name>
    <Telephone>*97</Telephone>
  </DirectoryEntry>
  <DirectoryEntry>
    <Name>Dr. Smith &amp; Partners</Name>
    <Telephone>+1 (555) 010-9999</Telephone>
    <Mobile>+15550100000</Mobile>
  </DirectoryEntry>
</PhoneBook>
"#,
    ),
];

/// Each vendor's device path, the vendor's generic path, and the entry the device's group adds.
const DEVICE_PHONEBOOKS: &[(&str, &str, &str)] = &[
    (
        "/phonebook/yealink/001565123456.xml",
        "/phonebook/yealink.xml",
        r#"    <Unit Name="Office Printer Room" Phone1="1090" Phone2="" Phone3="" default_photo="Resource:"/>
"#,
    ),
    (
        "/phonebook/snom/000413123456.xml",
        "/phonebook/snom.xml",
        r#"  <item context="active" type="none" index="3">
    <name>Office Printer Room</name>
    <number>1090</number>
  </item>
"#,
    ),
    (
        "/phonebook/fanvil/0c383e123456.xml",
        "/phonebook/fanvil.xml",
        r#"  <DirectoryEntry>
    <Name>Office Printer Room</Name>
    <Telephone>1090</Telephone>
  </DirectoryEntry>
"#,
    ),
];

fn body(resp: provedge::Response, path: &str) -> String {
    assert_eq!(resp.status, 200, "{path}: {:?}", resp.note);
    assert_eq!(
        resp.header("Content-Type"),
        Some("text/xml; charset=utf-8"),
        "{path}"
    );
    String::from_utf8(resp.body).unwrap()
}

/// The example store with every device in the `office` group.
fn all_in_office() -> MemStore {
    let mut store = MemStore::example();
    for mac in ["000413123456", "0c383e123456"] {
        let key = format!("devices/{mac}.json");
        let mut record: serde_json::Value = serde_json::from_slice(&store.files[&key]).unwrap();
        record["profile"] = json!("office");
        store.put(&key, serde_json::to_vec(&record).unwrap());
    }
    store
}

#[test]
fn remote_phonebooks_are_written_byte_for_byte() {
    let store = MemStore::example();
    for (path, want) in REMOTE_PHONEBOOKS {
        let text = body(store.get(path, None), path);
        assert_eq!(text, *want, "{path}");
        xml::check_well_formed(&text).unwrap();
    }
}

#[test]
fn a_device_path_adds_its_group_after_the_tenant_contacts() {
    let store = all_in_office();
    for (device, generic, added) in DEVICE_PHONEBOOKS {
        let shared = body(store.get(generic, None), generic);
        let own = body(store.get(device, None), device);
        // The device's file is the shared one with the group's entry before the closing tags;
        // the group's "Not dialable" entry is left out.
        let tail = shared
            .rfind("\n  </Menu>")
            .or_else(|| shared.rfind("\n</"))
            .unwrap()
            + 1;
        let want = format!("{}{added}{}", &shared[..tail], &shared[tail..]);
        assert_eq!(own, want, "{device}");
        assert!(!own.contains("call me maybe"), "{device}");
    }
}

#[test]
fn hostile_names_are_escaped_in_every_remote_phonebook() {
    let store = with_contacts(json!([
        {"name": "<&\">'", "number": "100", "mobile": "+44 20 7946 0000"},
        {"name": "   ", "number": "101"},
        {"name": ["not", "a", "name"], "number": "102"},
        {"name": "After", "number": "103"},
    ]));
    let cases = [
        (
            "/phonebook/yealink.xml",
            r#"<Unit Name="&lt;&amp;&quot;&gt;&apos;" Phone1="100" Phone2="+44 20 7946 0000""#,
        ),
        (
            "/phonebook/snom.xml",
            "<name>&lt;&amp;&quot;&gt;&apos;</name>\n    <number>100</number>",
        ),
        (
            "/phonebook/fanvil.xml",
            "<Name>&lt;&amp;&quot;&gt;&apos;</Name>\n    <Telephone>100</Telephone>\n    <Mobile>+44 20 7946 0000</Mobile>",
        ),
    ];
    for (path, escaped) in cases {
        let text = body(store.get(path, None), path);
        xml::check_well_formed(&text).unwrap_or_else(|e| panic!("{path}: {e}\n{text}"));
        assert!(text.contains(escaped), "{path}:\n{text}");
        // The blank and the non-string names are left out; the entry after them is kept.
        assert!(
            !text.contains(">101<") && !text.contains("\"101\"") && !text.contains("102"),
            "{path}:\n{text}"
        );
        assert!(text.contains("After"), "{path}:\n{text}");
    }
    // Snom's indexes count the entries written, so they stay unique and dense.
    let snom = body(store.get("/phonebook/snom.xml", None), "snom");
    assert!(snom.contains(r#"index="0""#) && snom.contains(r#"index="1""#));
    assert!(!snom.contains(r#"index="2""#), "{snom}");
}

#[test]
fn fusionpbx_directory_requests_get_the_vendors_phonebook() {
    let store = MemStore::example();
    // FusionPBX points phones at `?file=directory.xml` (and Snom at `<mac>/directory.xml`);
    // the User-Agent (or the query's MAC) says whose phonebook it is.
    for (ua, fusionpbx, native) in [
        (
            YEA_UA,
            "/app/provision/?file=directory.xml&contacts=users",
            "/phonebook/yealink.xml",
        ),
        (
            SNOM_UA,
            "/app/provision/000413123456/directory.xml",
            "/phonebook/snom.xml",
        ),
        (
            FANVIL_UA,
            "/app/provision/?address=0c383e123456&file=directory.xml&contacts=groups",
            "/phonebook/fanvil.xml",
        ),
    ] {
        let got = body(store.get(fusionpbx, Some(ua)), fusionpbx);
        assert_eq!(
            got,
            body(store.get(native, Some(ua)), native),
            "{fusionpbx}"
        );
    }
    // Without a User-Agent or MAC, nothing says whose.
    assert_eq!(store.get("/directory.xml", None).status, 404);
}

#[test]
fn a_tenant_prefix_serves_the_tenants_remote_phonebook() {
    let engine = Engine::new(
        Config::from_json(r#"{"policy":{"tenants":[{"name":"beta","path_prefix":"/beta"}]}}"#)
            .unwrap(),
    )
    .unwrap();
    let mut store = MemStore::example();
    for key in [
        "templates/phonebook/contacts.xml",
        "templates/fanvil/phonebook.xml",
    ] {
        let bytes = store.files[key].clone();
        store.put(&format!("tenants/beta/{key}"), bytes);
    }
    store.put(
        "tenants/beta/vars/global.json",
        r#"{"contacts": [{"name": "Beta Desk", "number": "300"}]}"#,
    );
    let path = "/beta/phonebook/fanvil.xml";
    let text = body(store.serve(&engine, &Request::get(path)), path);
    assert!(
        text.contains("<Name>Beta Desk</Name>") && !text.contains("Front Desk"),
        "{text}"
    );
}
