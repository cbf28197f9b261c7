//! Secrets referenced from the configuration and from variable layers, read from the host at
//! start (a Worker secret, an environment variable), never stored in the store or the bundle.

mod common;

use common::{openssl, openssl_available, MemStore};
use provedge::{Config, Engine, Request};

fn host_secret(name: &str) -> Option<String> {
    match name {
        "FIRST_BOOT" => Some("boot-from-secret".into()),
        "GS_XML_PASS" => Some("xml-pass-from-secret".into()),
        _ => None,
    }
}

#[test]
fn configuration_and_vars_name_secrets_the_host_holds() {
    let text = r#"{"engine": {"secrets": ["FIRST_BOOT", "GS_XML_PASS"],
                  "policy": {"default": {"url_tokens": {"first_boot": {"secret": "FIRST_BOOT"}}}}}}"#;
    let (config, secrets) = Config::from_document_with(text, host_secret).unwrap();
    let tokens = config.policy.default.url_tokens.as_ref().unwrap();
    assert_eq!(tokens.first_boot, "boot-from-secret");
    let fresh = Engine::new(config.clone())
        .unwrap()
        .with_secrets(secrets.clone());
    let engine = Engine::new(config).unwrap().with_secrets(secrets);
    // The store holds only the name of the XML password.
    let mut store = MemStore::example();
    store.put(
        "vars/vendors/grandstream.json",
        r#"{"encryption": {"scheme": "openssl", "password": {"secret": "GS_XML_PASS"}}}"#,
    );
    let resp = store.serve(
        &engine,
        &Request::get("/boot-from-secret/cfg000b82123456.xml"),
    );
    assert_eq!(resp.status, 200, "{:?}", resp.note);
    assert_eq!(&resp.body[..8], b"Salted__");
    if openssl_available() {
        let plain = openssl(
            &[
                "enc",
                "-d",
                "-aes-256-cbc",
                "-md",
                "md5",
                "-pass",
                "pass:xml-pass-from-secret",
            ],
            &resp.body,
        );
        assert!(String::from_utf8(plain).unwrap().contains("<gs_provision"));
    }
    // A name the configuration does not list is a fault naming it, never plaintext: the
    // request answered before gets its last good (encrypted) file, marked stale…
    store.put(
        "vars/vendors/grandstream.json",
        r#"{"encryption": {"scheme": "openssl", "password": {"secret": "UNLISTED"}}}"#,
    );
    let path = "/boot-from-secret/cfg000b82123456.xml";
    let stale = store.serve(&engine, &Request::get(path));
    assert_eq!((stale.status, &stale.body[..8]), (200, &b"Salted__"[..]));
    assert_eq!(stale.header("x-provedge-stale"), Some("render-failed"));
    assert!(stale.note.unwrap().contains("UNLISTED"));
    // …and an engine that never answered it gives the clean 500.
    let resp = store.serve(&fresh, &Request::get(path));
    assert_eq!((resp.status, resp.body.len()), (500, 0));
    assert!(resp.note.unwrap().contains("UNLISTED"));
}

#[test]
fn a_secret_the_host_lacks_refuses_the_start() {
    let text = r#"{"engine": {"secrets": ["MISSING"]}}"#;
    let e = Config::from_document_with(text, host_secret).unwrap_err();
    assert_eq!(e.key, "engine.secrets");
    assert!(e.reason.contains("MISSING"));
    let unlisted = r#"{"engine": {"policy": {"nonce_secret": {"secret": "FIRST_BOOT"}}}}"#;
    let e = Config::from_document_with(unlisted, host_secret).unwrap_err();
    assert_eq!(e.key, "engine.policy.nonce_secret");
}
