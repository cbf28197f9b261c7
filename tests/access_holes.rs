//! The access holes of issue 12, each tried as an attacker would against the core (the same
//! core every host runs), each now failing to get the secret. The host-specific halves live in
//! `serve_security.rs` (native server), `envoy_filter.rs`/`envoy_security.rs` (real Envoy) and
//! `worker_workerd.rs` (real workerd).

mod common;

use std::net::IpAddr;

use common::{openssl, openssl_available, MemStore};
use provedge::render::grandstream;
use provedge::{Config, Decision, Engine, Request, Response};

const NOW: u64 = 1_800_000_000;

fn engine(json: &str) -> Engine {
    Engine::new(Config::from_json(json).unwrap()).unwrap()
}

fn tokens() -> Engine {
    engine(r#"{"policy":{"default":{"url_tokens":{"first_boot":"boot-tok"}}}}"#)
}

fn text(resp: &Response) -> String {
    String::from_utf8_lossy(&resp.body).into_owned()
}

fn set_record(store: &mut MemStore, mac: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let key = format!("devices/{mac}.json");
    let mut record: serde_json::Value = serde_json::from_slice(&store.files[&key]).unwrap();
    edit(&mut record);
    store.put(&key, serde_json::to_vec(&record).unwrap());
}

// ---- 2. URL tokens in rewrite and nginx-rules modes -----------------------------------------

#[test]
fn url_tokens_outside_serve_mode_are_refused_at_load() {
    for mode in [
        r#"{"rewrite":{"prefix":"/store"}}"#,
        r#"{"nginx":{"rules":"rewrite ^/(.*)$ /prov/$1 last;"}}"#,
    ] {
        let default = format!(
            r#"{{"mode":{mode},"policy":{{"default":{{"url_tokens":{{"first_boot":"t"}}}}}}}}"#
        );
        let err = Config::from_json(&default).unwrap_err().to_string();
        assert!(err.contains("policy.default.url_tokens"), "{err}");
        let tenant = format!(
            r#"{{"mode":{mode},"policy":{{"tenants":[{{"name":"acme","hosts":["a"],"rules":{{"url_tokens":{{"first_boot":"t"}}}}}}]}}}}"#
        );
        let err = Config::from_json(&tenant).unwrap_err().to_string();
        assert!(err.contains("policy.tenants.acme.url_tokens"), "{err}");
    }
    // A configuration built in code, past the parser, is refused by the engine itself: no
    // engine ever strips a token it cannot check and forwards `/any-wrong-token/cfg…`.
    let mut config = Config {
        mode: provedge::Mode::Rewrite {
            prefix: "/store".into(),
        },
        ..Config::default()
    };
    config.policy.default.url_tokens =
        Some(serde_json::from_str(r#"{"first_boot":"boot-tok"}"#).unwrap());
    let refused = Engine::new(config).unwrap_err();
    assert_eq!(refused.key, "policy.default.url_tokens");
}

// ---- 3. Token and encryption for stored and streamed device files -----------------------------

#[test]
fn a_stored_device_file_without_a_record_is_not_served_under_any_token() {
    let mut store = MemStore::example();
    store.put(
        "grandstream/cfg000b82777777.xml",
        "<gs_provision><P34>prerendered-secret</P34></gs_provision>",
    );
    let engine = tokens();
    for token in ["any-wrong-token", "boot-tok"] {
        let resp = store.serve(
            &engine,
            &Request::get(format!("/{token}/cfg000b82777777.xml")),
        );
        assert_eq!(resp.status, 404, "{token}");
        assert!(!text(&resp).contains("prerendered-secret"));
    }
}

#[test]
fn a_stored_device_file_without_a_record_is_encrypted_as_the_vendor_says() {
    let mut store = MemStore::example();
    let plain = "<gs_provision><P34>prerendered-secret</P34></gs_provision>";
    store.put("grandstream/cfg000b82777777.xml", plain);
    store.put(
        "vars/vendors/grandstream.json",
        r#"{"encryption": {"scheme": "openssl", "password": "vendor-wide"}}"#,
    );
    let resp = store.serve(&Engine::default(), &Request::get("/cfg000b82777777.xml"));
    assert_eq!(resp.status, 200);
    assert_eq!(&resp.body[..8], b"Salted__");
    assert!(!text(&resp).contains("prerendered-secret"));
    if openssl_available() {
        let decrypted = openssl(
            &[
                "enc",
                "-d",
                "-aes-256-cbc",
                "-md",
                "md5",
                "-pass",
                "pass:vendor-wide",
            ],
            &resp.body,
        );
        assert_eq!(decrypted, plain.as_bytes());
    }
    // A scanner probing MACs that have neither record nor file still costs one store round.
    let store = MemStore::example();
    store.serve(&Engine::default(), &Request::get("/cfg000b82888888.xml"));
    assert_eq!(store.reads.borrow().len(), 2, "{:?}", store.reads.borrow());
}

#[test]
fn streamed_device_files_pass_the_device_token_check() {
    let mut store = MemStore::example();
    set_record(&mut store, "00085d123456", |r| {
        r["auth"] = serde_json::json!({"token": "dev-tok"});
    });
    set_record(&mut store, "001565123456", |r| {
        r["auth"] = serde_json::json!({"token": "dev-tok-y"});
    });
    store.put(
        "aastra/00085d123456.tuz",
        b"aastra-encrypted-secret".to_vec(),
    );
    store.put("yealink/001565123456.enc", b"yealink-key-secret".to_vec());
    store.put("obihai/9cadef123456.aes", b"obihai-secret".to_vec());
    store.put(
        "panasonic/config0080f0123456.enc",
        b"panasonic-secret".to_vec(),
    );
    let engine = tokens();
    let get = |path: &str| store.serve(&engine, &Request::get(path));
    // The device's own token streams its file…
    let own = get("/dev-tok/00085D123456.tuz");
    assert_eq!(
        (own.status, own.body.as_slice()),
        (200, &b"aastra-encrypted-secret"[..])
    );
    assert_eq!(own.header("cache-control"), Some("private, no-store"));
    assert_eq!(get("/dev-tok-y/001565123456.enc").status, 200);
    // …a wrong token, another device's token or the tenant's first-boot token do not.
    for path in [
        "/any-wrong-token/00085D123456.tuz",
        "/dev-tok-y/00085D123456.tuz",
        "/boot-tok/00085D123456.tuz",
        "/dev-tok/001565123456.enc",
        "/any-wrong-token/9cadef123456.aes",
        "/any-wrong-token/Config0080F0123456.enc",
    ] {
        let resp = get(path);
        assert_eq!(resp.status, 404, "{path}");
        assert!(!text(&resp).contains("secret"), "{path}");
    }
}

#[test]
fn with_tokens_a_missing_device_and_a_wrong_token_look_the_same() {
    let mut store = MemStore::example();
    set_record(&mut store, "000b82123456", |r| {
        r["auth"] = serde_json::json!({"token": "dev-tok"});
    });
    let engine = tokens();
    let known = store.serve(&engine, &Request::get("/wrong/cfg000b82123456.xml"));
    let unknown = store.serve(&engine, &Request::get("/wrong/cfg000b82999999.xml"));
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    assert_eq!(text(&known), "not found\n");
}

/// Tancredi's URLs (`/provisioning/<token>/<file>`), as a fleet moved from it keeps them: the
/// token counts only right after `url_tokens.path_prefix`, nowhere else.
#[test]
fn a_token_counts_only_right_after_the_configured_prefix() {
    let mut store = MemStore::example();
    set_record(&mut store, "000b82123456", |r| {
        r["auth"] = serde_json::json!({"token": "tok2-steady", "first_boot_token": "tok1-first"});
    });
    let engine = engine(
        r#"{"policy":{"default":{"url_tokens":{"first_boot":"boot-tok","path_prefix":"/provisioning/"}}}}"#,
    );
    let get = |path: &str| store.serve(&engine, &Request::get(path));
    let steady = get("/provisioning/tok2-steady/cfg000b82123456.xml");
    assert_eq!(steady.status, 200, "{:?}", steady.note);
    assert!(text(&steady).contains("gs-Line1-Secret!"));
    // The device's first-boot token under the prefix: the stripped file, naming the steady token.
    let first = text(&get("/provisioning/tok1-first/cfg000b82123456.xml"));
    assert!(!first.contains("gs-Line1-Secret!"), "{first}");
    // The same token anywhere else is no token: without the prefix, under a look-alike prefix,
    // one segment deeper, with the prefix in another case or percent-encoded.
    for path in [
        "/tok2-steady/cfg000b82123456.xml",
        "/provisioningX/tok2-steady/cfg000b82123456.xml",
        "/provisioning/x/tok2-steady/cfg000b82123456.xml",
        "/Provisioning/tok2-steady/cfg000b82123456.xml",
        "/provisioning%2Ftok2-steady/cfg000b82123456.xml",
        "/x/provisioning/tok2-steady/cfg000b82123456.xml",
        "/provisioning/tok2-steady",
    ] {
        let resp = get(path);
        assert_eq!(resp.status, 404, "{path}");
        assert!(!text(&resp).contains("Secret"), "{path}");
    }
    // Another device's file under this device's token: nothing.
    let other = get("/provisioning/tok2-steady/cfg000b82654321.xml");
    assert!(!text(&other).contains("Secret"), "{}", other.status);
    // A prefix that is not whole segments is refused at load.
    for bad in ["provisioning", "/a//b", "/a/../b", "/a%2Fb"] {
        let json = format!(
            r#"{{"policy":{{"default":{{"url_tokens":{{"first_boot":"t","path_prefix":"{bad}"}}}}}}}}"#
        );
        assert!(Config::from_json(&json).is_err(), "{bad} accepted");
    }
}

// ---- 4. First boot ---------------------------------------------------------------------------

#[test]
fn the_tenant_first_boot_token_obtains_no_device_secret() {
    let mut store = MemStore::example();
    set_record(&mut store, "000b82123456", |r| {
        r["auth"] = serde_json::json!({"token": "steady-dev-tok", "first_boot_token": "fb-dev"});
        r["vars"]["sip_secret_extra"] = serde_json::json!("vars-secret-value");
        r["vars"]["pvalues"]["P1361"] = serde_json::json!("http-pass-secret");
    });
    store.put(
        "templates/grandstream/cfg@mac.pvalues",
        "P237 = prov.example.com/{{ device_token or 'none' }}\n\
         P34 = {{ lines[0].password }}\n\
         P2 = {{ vars.admin_password }}\n\
         P1361 = {{ vars.pvalues.P1361 }}\n\
         P3 = {{ vars.sip_secret_extra }}\n",
    );
    let engine = tokens();
    let first = store.serve(&engine, &Request::get("/boot-tok/cfg000b82123456.xml"));
    assert_eq!(first.status, 200, "{:?}", first.note);
    let body = text(&first);
    for secret in [
        "steady-dev-tok",
        "fb-dev",
        "gs-Line1-Secret!",
        "global-Admin-Secret!",
        "http-pass-secret",
        "vars-secret-value",
    ] {
        assert!(!body.contains(secret), "{secret} in {body}");
    }
    assert!(body.contains("prov.example.com/none"), "{body}");
    // The device's own first-boot token proves the device: it may learn its steady token, and
    // still no credential.
    let own = text(&store.serve(&engine, &Request::get("/fb-dev/cfg000b82123456.xml")));
    assert!(own.contains("prov.example.com/steady-dev-tok"), "{own}");
    assert!(!own.contains("gs-Line1-Secret!") && !own.contains("global-Admin-Secret!"));
    // So does a client certificate naming the device's MAC.
    let with_cert =
        Request::get("/boot-tok/cfg000b82123456.xml").with_identity(provedge::ClientIdentity {
            subject: "CN=000b82123456".into(),
            san: Vec::new(),
        });
    let proven = store.serve(&engine, &with_cert);
    assert!(
        text(&proven).contains("steady-dev-tok"),
        "{} {:?} {}",
        proven.status,
        proven.note,
        text(&proven)
    );
    // The full file, with the steady token.
    let steady = store.serve(
        &engine,
        &Request::get("/steady-dev-tok/cfg000b82123456.xml"),
    );
    assert!(
        text(&steady).contains("gs-Line1-Secret!"),
        "{} {:?}",
        steady.status,
        steady.note
    );
}

#[test]
fn operators_declare_more_secret_variables() {
    let engine = engine(
        r#"{"policy":{"default":{"url_tokens":{"first_boot":"boot-tok","secret_vars":["ntp_server"]}}}}"#,
    );
    let mut store = MemStore::example();
    store.put(
        "templates/grandstream/cfg@mac.pvalues",
        "P30 = {{ vars.ntp_server }}x\n",
    );
    set_record(&mut store, "000b82123456", |r| {
        r["auth"] = serde_json::json!({"token": "t"});
    });
    let body = text(&store.serve(&engine, &Request::get("/boot-tok/cfg000b82123456.xml")));
    assert!(
        body.contains("<P30>x</P30>") && !body.contains("pool.ntp.org"),
        "{body}"
    );
}

// ---- 5. Grandstream's legacy binary -----------------------------------------------------------

#[test]
fn the_grandstream_binary_carries_only_the_bootstrap_and_opens_the_xml() {
    let mut store = MemStore::example();
    set_record(&mut store, "000b82123456", |r| {
        r["encryption"] = serde_json::json!({"scheme": "openssl", "password": "xml-pass-1359"});
    });
    let engine = Engine::default();
    // Phase one: the binary, in clear.
    let bin = store.serve(&engine, &Request::get("/cfg000b82123456"));
    assert_eq!(bin.status, 200);
    let (mac, pvalues) = grandstream::decode_binary(&bin.body).unwrap();
    assert_eq!(mac.to_string(), "000b82123456");
    let numbers: Vec<u32> = pvalues.iter().map(|p| p.number).collect();
    assert!(
        numbers.contains(&237) && numbers.contains(&212),
        "{numbers:?}"
    );
    for secret in [34, 2, 35, 3] {
        assert!(
            !numbers.contains(&secret),
            "P{secret} in the clear binary: {numbers:?}"
        );
    }
    let raw = String::from_utf8_lossy(&bin.body);
    assert!(!raw.contains("gs-Line1-Secret") && !raw.contains("global-Admin-Secret"));
    let password = &pvalues.iter().find(|p| p.number == 1359).unwrap().value;
    // Phase two: the XML, decrypted with what the binary gave, by the real openssl.
    let xml = store.serve(&engine, &Request::get("/cfg000b82123456.xml"));
    assert_eq!(&xml.body[..8], b"Salted__");
    if openssl_available() {
        let pass = format!("pass:{password}");
        let plain = openssl(
            &["enc", "-d", "-aes-256-cbc", "-md", "md5", "-pass", &pass],
            &xml.body,
        );
        let plain = String::from_utf8(plain).unwrap();
        assert!(plain.contains("<P34>gs-Line1-Secret!</P34>"), "{plain}");
    }
    // Without encryption the binary carries everything, as before.
    let open = MemStore::example().get("/cfg000b82123456", None);
    let (_, all) = grandstream::decode_binary(&open.body).unwrap();
    assert!(all.iter().any(|p| p.number == 34));
}

#[test]
fn a_first_boot_binary_does_not_give_away_the_xml_password() {
    let mut store = MemStore::example();
    set_record(&mut store, "000b82123456", |r| {
        r["encryption"] = serde_json::json!({"scheme": "openssl", "password": "xml-pass-1359"});
        r["auth"] = serde_json::json!({"token": "dev-tok"});
    });
    let engine = tokens();
    let bin = store.serve(&engine, &Request::get("/boot-tok/cfg000b82123456"));
    assert_eq!(bin.status, 200);
    let (_, pvalues) = grandstream::decode_binary(&bin.body).unwrap();
    assert!(pvalues.iter().all(|p| p.number != 1359), "{pvalues:?}");
    let own = store.serve(&engine, &Request::get("/dev-tok/cfg000b82123456"));
    let (_, pvalues) = grandstream::decode_binary(&own.body).unwrap();
    assert!(pvalues
        .iter()
        .any(|p| p.number == 1359 && p.value == "xml-pass-1359"));
}

// ---- 6. Identical bytes from every instance ----------------------------------------------------

#[test]
fn two_engines_encrypt_the_same_file_to_the_same_bytes() {
    let mut store = MemStore::example();
    set_record(&mut store, "0022ee123456", |r| {
        r["encryption"] = serde_json::json!({"scheme": "openssl", "password": "algo-key"});
    });
    let (a, b) = (Engine::default(), Engine::default());
    let conf = |e: &Engine| store.serve(e, &Request::get("/algom0022EE123456.conf"));
    assert_eq!(conf(&a).body, conf(&b).body);
    assert_eq!(conf(&a).header("etag"), conf(&b).header("etag"));
    // A changed file gets another salt: key and IV are never reused across plaintexts.
    let mut changed = store.clone();
    set_record(&mut changed, "0022ee123456", |r| {
        r["lines"][0]["password"] = serde_json::json!("another-password");
    });
    let other = changed
        .serve(&a, &Request::get("/algom0022EE123456.conf"))
        .body;
    assert_ne!(other.get(8..16), conf(&a).body.get(8..16));
}

// ---- 7. A stranger cannot lock a phone out -----------------------------------------------------

#[test]
fn claims_of_a_mac_from_one_client_do_not_lock_out_the_phone() {
    let engine = engine(r#"{"policy":{"default":{"rate_limit":{"per_client":null}}}}"#);
    let store = MemStore::example();
    let stranger: IpAddr = "203.0.113.66".parse().unwrap();
    let phone: IpAddr = "192.0.2.10".parse().unwrap();
    let ua = "Grandstream Model HW GXP2170 SW 1.0.0.1 DevId 000b82123456";
    let claim = |peer: IpAddr| {
        store
            .serve(
                &engine,
                &Request::get("/cfg.xml")
                    .with_header("User-Agent", ua)
                    .with_peer(peer),
            )
            .status
    };
    let stranger_statuses: Vec<u16> = (0..125).map(|_| claim(stranger)).collect();
    assert_eq!(stranger_statuses.iter().filter(|s| **s == 429).count(), 5);
    let phone_file = store.serve(
        &engine,
        &Request::get("/cfg000b82123456.xml")
            .with_header("User-Agent", ua)
            .with_peer(phone),
    );
    assert_eq!(phone_file.status, 200);
    // IPv6 clients are one client per /64: rotating the host part buys nothing.
    let engine = engine_v6();
    let statuses: Vec<u16> = (0..5)
        .map(|i| {
            let peer: IpAddr = format!("2001:db8:1:2::{:x}", i + 1).parse().unwrap();
            store
                .serve(&engine, &Request::get("/cfg.xml").with_peer(peer))
                .status
        })
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
}

fn engine_v6() -> Engine {
    engine(
        r#"{"policy":{"default":{"rate_limit":{"per_client":{"per_minute":3},"per_mac":null}}}}"#,
    )
}

// ---- 8. Tokens in logs -------------------------------------------------------------------------

#[test]
fn loggable_paths_mask_the_token_segment() {
    let engine = engine(
        r#"{"policy":{"tenants":[{"name":"acme","path_prefix":"/acme","rules":{"url_tokens":{"first_boot":"b"}}}]}}"#,
    );
    assert_eq!(
        engine.loggable_path("/acme/Dev-Tok-1/cfg.xml?mac=1"),
        "/acme/-/cfg.xml"
    );
    assert_eq!(engine.loggable_path("/Dev-Tok-1/x/cfg.xml"), "/-/x/cfg.xml");
    assert_eq!(engine.loggable_path("/Dev-Tok-1"), "/-");
    assert_eq!(Engine::default().loggable_path("/a/b?c"), "/a/b");
}

#[test]
fn loggable_paths_mask_the_token_after_its_prefix_and_under_a_wrong_one() {
    let engine = engine(
        r#"{"policy":{"default":{"url_tokens":{"first_boot":"b","path_prefix":"/provisioning"}}}}"#,
    );
    assert_eq!(
        engine.loggable_path("/provisioning/Dev-Tok-1/001565123456.cfg?x"),
        "/provisioning/-/001565123456.cfg"
    );
    assert_eq!(
        engine.loggable_path("/provisioning/Dev-Tok-1"),
        "/provisioning/-"
    );
    // A phone sending its token under the wrong prefix, or none, must not write it to a log.
    assert_eq!(
        engine.loggable_path("/provision/Dev-Tok-1/a.cfg"),
        "/-/-/a.cfg"
    );
    assert_eq!(engine.loggable_path("/Dev-Tok-1/a.cfg"), "/-/-");
    assert_eq!(engine.loggable_path("/Dev-Tok-1"), "/-");
    // A target that is not a path is masked whole, whatever it holds.
    assert_eq!(
        engine.loggable_path("http://prov.example/provisioning/Dev-Tok-1/a.cfg"),
        "/-"
    );
    assert_eq!(engine.loggable_path("*"), "/-");
}

// ---- Low: uploads, Host ---------------------------------------------------------------------

#[test]
fn uploads_only_for_devices_the_store_knows() {
    let store = MemStore::example();
    let put = |path: &str| {
        let req = Request::new(provedge::Method::Put, path)
            .with_header("User-Agent", "PolycomVVX-VVX_400-UA/5.9.0.9373");
        Engine::default().run(&req, NOW, |k| store.read(k))
    };
    assert!(matches!(put("/0004f2123456-app.log"), Decision::Upload(u) if u.device().is_some()));
    for i in 0..20 {
        let decision = put(&format!("/0004f2aaaa{i:02x}-app.log"));
        assert!(
            matches!(&decision, Decision::Respond(r) if r.status == 404),
            "{decision:?}"
        );
    }
}

#[test]
fn claimed_macs_are_not_known_devices() {
    let store = MemStore::example();
    let ua = "Grandstream Model HW GXP2170 SW 1.0.0.1 DevId 000b82abcdef";
    let generic = store.serve(
        &Engine::default(),
        &Request::get("/cfg.xml").with_header("User-Agent", ua),
    );
    assert_eq!((generic.status, generic.device), (200, None));
    let own = store.serve(&Engine::default(), &Request::get("/cfg000b82123456.xml"));
    assert_eq!(
        own.device.map(|m| m.to_string()),
        Some("000b82123456".into())
    );
}

#[test]
fn two_host_headers_are_a_bad_request() {
    let req = Request::get("/cfg.xml")
        .with_header("Host", "acme.example")
        .with_header("host", "beta.example");
    let resp = MemStore::example().serve(&Engine::default(), &req);
    assert_eq!(resp.status, 400);
}
