//! Rendering with hostile device data: the example store's templates, every vendor's device
//! file, with a device record whose strings come from the fuzzer. The engine answers 200 or a
//! clean 4xx/5xx (never a panic); a 200 is the same bytes when asked again (renders are
//! deterministic, so caches and ETags hold); XML formats stay well-formed whatever the values; and the
//! record's password never reaches another device's file.
#![no_main]

use std::collections::HashMap;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use provedge::response::Lookup;
use provedge::{Decision, Engine, Request, StoreKey};

mod example_store;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    device: u8,
    display_name: &'a str,
    user: &'a str,
    password: &'a str,
    label: &'a str,
    var_name: &'a str,
    var_value: &'a str,
    raw_record: Option<&'a str>,
}

/// (MAC, vendor, model, the file the phone asks for, whether it is XML)
const DEVICES: &[(&str, &str, &str, &str, bool)] = &[
    ("000b82123456", "grandstream", "gxp2170", "/cfg000b82123456.xml", true),
    ("001565123456", "yealink", "t46s", "/001565123456.cfg", false),
    ("0004f2123456", "polycom", "vvx400", "/0004f2123456-phone.cfg", true),
    ("0022ee123456", "algo", "8188", "/algom0022EE123456.conf", false),
];

fn example_store() -> &'static HashMap<String, Vec<u8>> {
    static STORE: OnceLock<HashMap<String, Vec<u8>>> = OnceLock::new();
    STORE.get_or_init(example_store::load)
}

fn answer(engine: &Engine, target: &str, record: &(String, Vec<u8>)) -> (u16, Vec<u8>) {
    let store = example_store();
    let read = |key: &StoreKey| {
        if key.as_str() == record.0 {
            return Lookup::Found(record.1.as_slice().into());
        }
        match store.get(key.as_str()) {
            Some(bytes) => Lookup::Found(bytes.as_slice().into()),
            None => Lookup::Missing,
        }
    };
    match engine.run(&Request::get(target), 1_800_000_000, read) {
        Decision::Respond(resp) => (resp.status, resp.body),
        other => panic!("a GET of a device file ends in a response, not {other:?}"),
    }
}

fuzz_target!(|input: Input<'_>| {
    let (mac, vendor, model, target, xml) = DEVICES[usize::from(input.device) % DEVICES.len()];
    let record = match input.raw_record {
        Some(raw) => raw.as_bytes().to_vec(),
        None => serde_json::to_vec(&serde_json::json!({
            "mac": mac, "vendor": vendor, "model": model,
            "lines": [{"user": input.user, "auth_id": input.user, "password": input.password,
                       "display_name": input.display_name, "server": "pbx.example.com",
                       "label": input.label}],
            "vars": {input.var_name: input.var_value},
        }))
        .expect("JSON"),
    };
    let record = (format!("devices/{mac}.json"), record);
    let engine = Engine::default();
    let (status, body) = answer(&engine, target, &record);
    assert!(status == 200 || (400..600).contains(&status), "{status}");
    if status != 200 {
        return;
    }
    // A fresh engine (no caches) renders the same bytes.
    assert_eq!(answer(&Engine::default(), target, &record), (status, body.clone()));
    if xml {
        // Whatever the record holds, an XML file stays well-formed: a hostile value that
        // escaped escaping would break it (the engine's own check, `render::xml`).
        let text = std::str::from_utf8(&body).expect("an XML file is UTF-8");
        if let Err(e) = provedge::render::xml::check_well_formed(text) {
            panic!("{target} is not well-formed XML ({e}):\n{text}");
        }
    }
    // Another device's file never carries this record's password.
    if input.password.len() >= 8 {
        let (other_mac, _, _, other_target, _) =
            DEVICES[(usize::from(input.device) + 1) % DEVICES.len()];
        assert_ne!(other_mac, mac);
        let carries = |bytes: &[u8]| {
            bytes
                .windows(input.password.len())
                .any(|w| w == input.password.as_bytes())
        };
        let (_, other) = answer(&engine, other_target, &record);
        // A "password" that is a piece of the other file's own text proves nothing.
        let example = (record.0.clone(), example_store()[&record.0].clone());
        let (_, baseline) = answer(&Engine::default(), other_target, &example);
        assert!(
            !carries(&other) || carries(&baseline),
            "{other_target} carries {mac}'s password"
        );
    }
});
