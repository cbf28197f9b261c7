//! The policy matrix: tenants × MAC sources × credentials × networks, every combination checked
//! against an independent statement of the rules, and every 200 checked for the right tenant's
//! secret (no cross-tenant read, no phone served another's file).

mod common;

use std::net::IpAddr;

use common::MemStore;
use md5::{Digest as _, Md5};
use provedge::{Config, Engine, Request, Response};

const NOW: u64 = 1_800_000_000;

fn config() -> Config {
    Config::from_json(
        r#"{
        "policy": {
            "trusted_proxies": ["10.0.0.0/8"],
            "nonce_secret": "matrix-secret",
            "tenants": [
                {"name": "acme", "hosts": ["acme.example"],
                 "rules": {"allow": ["192.0.2.0/24", "2001:db8::/32"], "auth": "digest", "realm": "acme",
                           "users": [{"user": "phone", "password": "acme-old"}, {"user": "phone", "password": "acme-new"}],
                           "digest_algorithms": ["MD5"]}},
                {"name": "beta", "path_prefix": "/beta",
                 "rules": {"deny": ["198.51.100.0/24"], "auth": "basic",
                           "users": [{"user": "prov", "password": "beta-pass"}]}}
            ]
        }
    }"#,
    )
    .unwrap()
}

fn store() -> MemStore {
    let mut store = MemStore::example();
    let template = "#!version:1.0.0.1\naccount.1.password = {{ lines[0].password }}\n";
    for (ns, secret) in [
        ("", "root-secret"),
        ("tenants/acme/", "acme-secret"),
        ("tenants/beta/", "beta-secret"),
    ] {
        let record = format!(
            r#"{{"mac":"001565123456","vendor":"yealink","model":"t46s","lines":[{{"user":"1","password":"{secret}","server":"pbx"}}]}}"#
        );
        store.put(&format!("{ns}devices/001565123456.json"), record);
        store.put(&format!("{ns}templates/yealink/@mac.cfg"), template);
    }
    store
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tenant {
    Default,
    Acme,
    Beta,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum MacSource {
    None,
    UaSame,
    UaOther,
    CertSame,
    CertOther,
    /// An XFCC header from an untrusted peer: must be ignored.
    SpoofedCertOther,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Creds {
    None,
    Valid,
    Wrong,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Net {
    /// Directly from 192.0.2.10 (allowed by acme, not denied by beta).
    Allowed,
    /// Directly from 198.51.100.7 (outside acme's allow list, in beta's deny list).
    Denied,
    /// Through the trusted proxy, forwarded for 198.51.100.7.
    ProxiedDenied,
    /// From 198.51.100.7 claiming (untrusted) to be 192.0.2.10.
    SpoofedAllowed,
}

/// The rules, stated independently of the implementation.
fn expected(t: Tenant, m: MacSource, c: Creds, n: Net) -> u16 {
    let client_is_listed_bad = matches!(n, Net::Denied | Net::ProxiedDenied | Net::SpoofedAllowed);
    let network_ok = match t {
        Tenant::Default => true,
        Tenant::Acme | Tenant::Beta => !client_is_listed_bad,
    };
    if !network_ok {
        return 403;
    }
    if t != Tenant::Default && c != Creds::Valid {
        return 401;
    }
    // A spoofed XFCC counts only when the peer really is the trusted proxy.
    let trusted_peer = n == Net::ProxiedDenied;
    if matches!(m, MacSource::UaOther | MacSource::CertOther)
        || (m == MacSource::SpoofedCertOther && trusted_peer)
    {
        return 403;
    }
    200
}

fn request(
    engine: &Engine,
    store: &MemStore,
    t: Tenant,
    m: MacSource,
    c: Creds,
    n: Net,
) -> Response {
    let path = match t {
        Tenant::Beta => "/beta/001565123456.cfg",
        _ => "/001565123456.cfg",
    };
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let mut req = Request::get(path);
    req = match n {
        Net::Allowed => req.with_peer(ip("192.0.2.10")),
        Net::Denied => req.with_peer(ip("198.51.100.7")),
        Net::ProxiedDenied => req
            .with_peer(ip("10.1.2.3"))
            .with_header("X-Forwarded-For", "198.51.100.7"),
        Net::SpoofedAllowed => req
            .with_peer(ip("198.51.100.7"))
            .with_header("X-Forwarded-For", "192.0.2.10"),
    };
    if t == Tenant::Acme {
        req = req.with_header("Host", "acme.example:8080");
    }
    req = match m {
        MacSource::None => req,
        MacSource::UaSame => req.with_header(
            "User-Agent",
            "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56",
        ),
        MacSource::UaOther => req.with_header(
            "User-Agent",
            "Yealink SIP-T46S 66.86.0.15 00:15:65:65:43:21",
        ),
        MacSource::CertSame | MacSource::CertOther | MacSource::SpoofedCertOther => {
            let mac = if m == MacSource::CertSame {
                "001565123456"
            } else {
                "001565654321"
            };
            let xfcc = format!("Hash=1;Subject=\"CN={mac},O=Yealink\"");
            if m == MacSource::SpoofedCertOther {
                req.with_header("x-forwarded-client-cert", xfcc)
            } else {
                // Identity headers count only from the trusted proxy: send through it, keeping
                // the network case's client address.
                let client = req.peer.unwrap().to_string();
                let mut r = req.with_header("x-forwarded-client-cert", xfcc);
                match n {
                    Net::Allowed | Net::Denied => {
                        r = r.with_header("X-Forwarded-For", client.clone())
                    }
                    // The client's own (spoofed) header, then the address the proxy saw.
                    Net::SpoofedAllowed => r
                        .headers
                        .retain(|(k, _)| !k.eq_ignore_ascii_case("x-forwarded-for")),
                    Net::ProxiedDenied => {}
                }
                if n == Net::SpoofedAllowed {
                    r = r.with_header("X-Forwarded-For", format!("192.0.2.10, {client}"));
                }
                r.peer = Some(ip("10.1.2.3"));
                r
            }
        }
    };
    match (t, c) {
        (_, Creds::None) | (Tenant::Default, _) => {}
        (Tenant::Beta, creds) => {
            use base64::Engine as _;
            let pass = if creds == Creds::Valid {
                "beta-pass"
            } else {
                "nope"
            };
            let b64 = base64::engine::general_purpose::STANDARD.encode(format!("prov:{pass}"));
            req = req.with_header("Authorization", format!("Basic {b64}"));
        }
        (Tenant::Acme, creds) => {
            // Ask for a challenge first, as a phone does.
            let challenge = store.serve(engine, &req);
            if challenge.status != 401 {
                return challenge;
            }
            let www = challenge.header("www-authenticate").unwrap().to_owned();
            let nonce = www
                .split("nonce=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_owned();
            let pass = if creds == Creds::Valid {
                "acme-new"
            } else {
                "nope"
            };
            let h = |s: String| -> String {
                Md5::digest(s.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            };
            let ha1 = h(format!("phone:acme:{pass}"));
            let ha2 = h(format!("GET:{path}"));
            let resp = h(format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}"));
            req = req.with_header(
                "Authorization",
                format!("Digest username=\"phone\", realm=\"acme\", nonce=\"{nonce}\", uri=\"{path}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\", response=\"{resp}\""),
            );
        }
    }
    store.serve(engine, &req)
}

#[test]
fn the_policy_matrix() {
    let engine = Engine::new(config()).unwrap();
    let store = store();
    let mut failures = Vec::new();
    let mut count = 0;
    for t in [Tenant::Default, Tenant::Acme, Tenant::Beta] {
        for m in [
            MacSource::None,
            MacSource::UaSame,
            MacSource::UaOther,
            MacSource::CertSame,
            MacSource::CertOther,
            MacSource::SpoofedCertOther,
        ] {
            for c in [Creds::None, Creds::Valid, Creds::Wrong] {
                for n in [
                    Net::Allowed,
                    Net::Denied,
                    Net::ProxiedDenied,
                    Net::SpoofedAllowed,
                ] {
                    count += 1;
                    let resp = request(&engine, &store, t, m, c, n);
                    let want = expected(t, m, c, n);
                    let body = String::from_utf8_lossy(&resp.body).to_string();
                    if resp.status != want {
                        failures.push(format!(
                            "{t:?} {m:?} {c:?} {n:?}: want {want}, got {} ({:?})",
                            resp.status, resp.note
                        ));
                        continue;
                    }
                    if want == 200 {
                        let secret = match t {
                            Tenant::Default => "root-secret",
                            Tenant::Acme => "acme-secret",
                            Tenant::Beta => "beta-secret",
                        };
                        let others = ["root-secret", "acme-secret", "beta-secret"]
                            .into_iter()
                            .filter(|s| *s != secret);
                        if !body.contains(secret) || others.into_iter().any(|o| body.contains(o)) {
                            failures.push(format!(
                                "{t:?} {m:?} {c:?} {n:?}: wrong tenant's file: {body}"
                            ));
                        }
                    } else {
                        // Refusals name no check and carry no secret.
                        assert!(
                            ["forbidden\n", "unauthorized\n"].contains(&body.as_str()),
                            "{body:?}"
                        );
                        assert!(resp.note.is_some());
                    }
                    if want == 401 {
                        assert!(resp.header("www-authenticate").is_some());
                    }
                }
            }
        }
    }
    assert_eq!(count, 216);
    assert!(
        failures.is_empty(),
        "{} of {count} combinations wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_tenant_cannot_read_another_tenants_devices() {
    let engine = Engine::new(config()).unwrap();
    let mut store = MemStore::example();
    // The MAC exists only in beta's namespace.
    store.put(
        "tenants/beta/devices/0015650000aa.json",
        r#"{"mac":"0015650000aa","vendor":"yealink","lines":[]}"#,
    );
    store.put("tenants/beta/templates/yealink/@mac.cfg", "x = 1\n");
    let acme = Request::get("/0015650000aa.cfg")
        .with_peer("192.0.2.10".parse().unwrap())
        .with_header("Host", "acme.example");
    // Even before credentials, acme has no such device; with none, the default tenant neither.
    let resp = store.serve(
        &engine,
        &Request::get("/0015650000aa.cfg").with_peer("192.0.2.10".parse().unwrap()),
    );
    assert_eq!(resp.status, 404);
    let reads = store.reads.borrow().clone();
    assert!(
        reads.iter().all(|k| !k.starts_with("tenants/beta/")),
        "default tenant read beta's keys: {reads:?}"
    );
    assert_eq!(store.serve(&engine, &acme).status, 401);
}

#[test]
fn unmatched_requests_can_be_refused_and_tenant_names_are_checked() {
    let mut cfg = config();
    cfg.policy.unmatched = provedge::policy::Unmatched::Refuse;
    let engine = Engine::new(cfg).unwrap();
    assert_eq!(
        MemStore::example()
            .serve(&engine, &Request::get("/cfg.xml"))
            .status,
        404
    );
    let bad = Config::from_json(r#"{"policy":{"tenants":[{"name":"../x"}]}}"#)
        .unwrap_err()
        .to_string();
    assert!(bad.contains("tenant name"), "{bad}");
    let no_users = Config::from_json(r#"{"policy":{"default":{"auth":"basic"}}}"#)
        .unwrap_err()
        .to_string();
    assert!(no_users.contains("at least one user"), "{no_users}");
}

#[test]
fn url_tokens_first_boot_omits_credentials_and_device_tokens_must_match() {
    let engine = Engine::new(
        Config::from_json(r#"{"policy":{"default":{"url_tokens":{"first_boot":"boot-tok"}}}}"#)
            .unwrap(),
    )
    .unwrap();
    let mut store = MemStore::example();
    store.put(
        "devices/001565123456.json",
        r#"{"mac":"001565123456","vendor":"yealink","model":"t46s",
            "auth":{"token":"dev-tok-1","first_boot_token":"fb-001565"},
            "lines":[{"user":"1","password":"steady-secret","server":"pbx"}]}"#,
    );
    store.put(
        "templates/yealink/@mac.cfg",
        "{% if first_boot %}static.auto_provision.server.url = https://prov/{{ device_token }}/\n{% endif %}account.1.password = {{ lines[0].password }}\n",
    );
    let get = |path: &str| store.serve(&engine, &Request::get(path));
    // The tenant's first-boot token: no credentials, and not the device's own token either.
    let first = get("/boot-tok/001565123456.cfg");
    assert_eq!(first.status, 200);
    let body = String::from_utf8(first.body).unwrap();
    assert!(
        body.contains("https://prov//")
            && !body.contains("dev-tok-1")
            && !body.contains("steady-secret"),
        "{body}"
    );
    // The device's own first-boot token: still no credentials, but its steady token.
    let own = String::from_utf8(get("/fb-001565/001565123456.cfg").body).unwrap();
    assert!(
        own.contains("https://prov/dev-tok-1/") && !own.contains("steady-secret"),
        "{own}"
    );
    let steady = get("/dev-tok-1/001565123456.cfg");
    assert!(String::from_utf8(steady.body)
        .unwrap()
        .contains("steady-secret"));
    assert_eq!(get("/wrong-tok/001565123456.cfg").status, 404);
    assert_eq!(get("/001565123456.cfg").status, 404);
    // The cached full file is never served for the first-boot token.
    assert!(!String::from_utf8(get("/boot-tok/001565123456.cfg").body)
        .unwrap()
        .contains("steady-secret"));
}

#[test]
fn scanners_are_rate_limited_per_client_and_per_mac() {
    let engine = Engine::new(
        Config::from_json(r#"{"policy":{"default":{"rate_limit":{"per_client":{"per_minute":20},"per_mac":{"per_minute":3}}}}}"#).unwrap(),
    ).unwrap();
    let store = MemStore::example();
    let scanner: IpAddr = "203.0.113.50".parse().unwrap();
    let statuses: Vec<u16> = (0..30)
        .map(|i| {
            store
                .serve(
                    &engine,
                    &Request::get(format!("/0015650000{i:02x}.cfg")).with_peer(scanner),
                )
                .status
        })
        .collect();
    assert!(statuses[..20].iter().all(|s| *s == 404));
    assert!(statuses[20..].iter().all(|s| *s == 429), "{statuses:?}");
    // Per MAC: the fourth request for one MAC in a minute from one client is refused.
    let mac_statuses: Vec<u16> = (0..4)
        .map(|_| {
            let peer: IpAddr = "192.0.2.100".parse().unwrap();
            store
                .serve(&engine, &Request::get("/001565123456.cfg").with_peer(peer))
                .status
        })
        .collect();
    assert_eq!(mac_statuses, [200, 200, 200, 429]);
    let limited = store.serve(
        &engine,
        &Request::get("/001565123456.cfg").with_peer("192.0.2.100".parse().unwrap()),
    );
    assert_eq!(limited.header("retry-after"), Some("60"));
    // A new minute, a new window.
    assert_eq!(
        store
            .serve_at(
                &engine,
                &Request::get("/001565123456.cfg").with_peer("192.0.2.1".parse().unwrap()),
                NOW + 60
            )
            .status,
        200
    );
}
