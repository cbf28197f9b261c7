//! Encrypted files as served: configured per device / tenant / vendor in the store (device
//! wins), checked against the real `openssl` CLI.

mod common;

use common::{openssl, openssl_available, MemStore};
use md5::{Digest, Md5};

fn with_device_encryption(mac: &str, setting: serde_json::Value) -> MemStore {
    let mut store = MemStore::example();
    let key = format!("devices/{mac}.json");
    let mut record: serde_json::Value = serde_json::from_slice(&store.files[&key]).unwrap();
    record["encryption"] = setting;
    store.put(&key, serde_json::to_vec(&record).unwrap());
    store
}

#[test]
fn grandstream_xml_is_openssl_aes_256_cbc_with_md5_and_the_binary_stays_plain() {
    if !openssl_available() {
        return;
    }
    let plain = MemStore::example().get("/cfg000b82123456.xml", None).body;
    let store = with_device_encryption(
        "000b82123456",
        serde_json::json!({"scheme": "openssl", "password": "P1359-secret"}),
    );
    let engine = provedge::Engine::default();
    let served = store.serve(&engine, &provedge::Request::get("/cfg000b82123456.xml"));
    assert_eq!(served.status, 200);
    assert_eq!(&served.body[..8], b"Salted__");
    assert_ne!(served.body, plain);
    let decrypted = openssl(
        &[
            "enc",
            "-d",
            "-aes-256-cbc",
            "-md",
            "md5",
            "-pass",
            "pass:P1359-secret",
        ],
        &served.body,
    );
    assert_eq!(decrypted, plain);
    // Served again: the same ciphertext (the salt is derived from the password and the
    // plaintext), so revalidation still works.
    assert_eq!(
        store
            .serve(&engine, &provedge::Request::get("/cfg000b82123456.xml"))
            .body,
        served.body
    );
    // The legacy binary is how the phone learns P1359: never encrypted (and, with the XML
    // encrypted, carrying only what the phone needs to fetch it: tests/access_holes.rs).
    let bin = store.get("/cfg000b82123456", None).body;
    assert!(provedge::render::grandstream::decode_binary(&bin).is_ok());
}

#[test]
fn vendor_wide_settings_apply_and_the_device_wins() {
    if !openssl_available() {
        return;
    }
    let mut store = MemStore::example();
    store.put(
        "vars/vendors/yealink.json",
        r#"{"encryption": {"scheme": "yealink", "key": "0123456789abcdef"}}"#,
    );
    let plain = MemStore::example().get("/001565123456.cfg", None).body;
    let served = store.get("/001565123456.cfg", None).body;
    assert_eq!(served.len() % 16, 0);
    let decrypted = openssl(
        &[
            "enc",
            "-d",
            "-aes-128-ecb",
            "-nopad",
            "-K",
            "30313233343536373839616263646566",
        ],
        &served,
    );
    assert_eq!(&decrypted[..plain.len()], &plain[..]);
    assert!(
        decrypted[plain.len()..].iter().all(|b| *b == b' '),
        "space padding"
    );
    // The key file the phone fetches carries that key under Yealink's common key.
    let keyfile = store.get("/001565123456_Security.enc", None).body;
    let recovered = openssl(
        &[
            "enc",
            "-d",
            "-aes-128-ecb",
            "-nopad",
            "-K",
            &hex(b"EKs35XacP6eybA25"),
        ],
        &keyfile,
    );
    assert_eq!(recovered, b"0123456789abcdef");
    // A device that says "none" gets plaintext even though its vendor encrypts.
    let mut record: serde_json::Value =
        serde_json::from_slice(&store.files["devices/001565123456.json"]).unwrap();
    record["encryption"] = serde_json::json!({"scheme": "none"});
    store.put(
        "devices/001565123456.json",
        serde_json::to_vec(&record).unwrap(),
    );
    assert_eq!(store.get("/001565123456.cfg", None).body, plain);
}

#[test]
fn algo_checksums_are_of_the_encrypted_bytes() {
    let store = with_device_encryption(
        "0022ee123456",
        serde_json::json!({"scheme": "openssl", "password": "algo-key", "md": "sha256", "pbkdf2_iter": 1000}),
    );
    let engine = provedge::Engine::default();
    let get = |path: &str| store.serve(&engine, &provedge::Request::get(path)).body;
    let conf = get("/algom0022EE123456.conf");
    assert_eq!(&conf[..8], b"Salted__");
    let want: String = Md5::digest(&conf)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        String::from_utf8(get("/algom0022EE123456.md5")).unwrap(),
        want
    );
    // …and the conf decrypts, with the real openssl, to the plain render.
    if openssl_available() {
        let plain = MemStore::example()
            .get("/algom0022EE123456.conf", None)
            .body;
        let decrypted = openssl(
            &[
                "enc",
                "-d",
                "-aes-256-cbc",
                "-md",
                "sha256",
                "-pbkdf2",
                "-iter",
                "1000",
                "-pass",
                "pass:algo-key",
            ],
            &conf,
        );
        assert_eq!(decrypted, plain);
    }
}

#[test]
fn an_encrypted_device_never_gets_plaintext() {
    // No template: the stored, pre-rendered file is encrypted on its way out.
    let mut store = with_device_encryption(
        "001565123456",
        serde_json::json!({"scheme": "yealink", "key": "0123456789abcdef"}),
    );
    store.files.remove("templates/yealink/@mac.cfg");
    store.put(
        "yealink/001565123456.cfg",
        "#!version:1.0.0.1\naccount.1.password = prerendered-secret\n",
    );
    let served = store.get("/001565123456.cfg", None);
    assert_eq!(served.status, 200);
    assert!(!String::from_utf8_lossy(&served.body).contains("prerendered-secret"));
    // A setting that does not parse is a fault without the secret, not plaintext.
    let broken = with_device_encryption(
        "001565123456",
        serde_json::json!({"scheme": "yealink", "key": "short-secret"}),
    );
    let resp = broken.get("/001565123456.cfg", None);
    assert_eq!(resp.status, 500);
    assert!(resp.body.is_empty());
    let note = resp.note.unwrap();
    assert!(
        note.contains("devices/001565123456.json") && !note.contains("short-secret"),
        "{note}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
