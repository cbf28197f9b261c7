//! The policy stage never panics, whatever the headers say.

use proptest::prelude::*;
use provedge::{Config, Decision, Engine, Request};

fn engine() -> Engine {
    Engine::new(
        Config::from_json(
            r#"{"policy": {"trusted_proxies": ["127.0.0.0/8", "::1/128"], "identity_header": "x-cert",
                "tenants": [{"name": "t", "hosts": ["t.example"], "path_prefix": "/t",
                             "rules": {"auth": "any", "users": [{"user": "u", "password": "p"}], "url_tokens": {"first_boot": "b"}}}],
                "default": {"auth": "digest", "users": [{"user": "u", "password": "p"}], "allow": ["10.0.0.0/8"], "require_identity": true}}}"#,
        )
        .unwrap(),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn hostile_headers_never_panic(
        auth in "\\PC{0,120}",
        scheme in prop::sample::select(vec!["Basic ", "Digest ", "basic", "DIGEST username=", "Bearer ", "", "Basic\u{e9}"]),
        xff in "\\PC{0,60}",
        fwd in "\\PC{0,60}",
        xfcc in "\\PC{0,120}",
        host in "\\PC{0,40}",
        path in prop::sample::select(vec!["/t/b/001565123456.cfg", "/t/x/cfg.xml", "/cfg.xml", "/t", "/t/", "/"]),
        now in any::<u64>(),
        peer in prop::sample::select(vec!["127.0.0.1", "::1", "10.1.1.1", "203.0.113.1"]),
    ) {
        let engine = engine();
        let req = Request::get(path)
            .with_header("Authorization", format!("{scheme}{auth}"))
            .with_header("X-Forwarded-For", xff)
            .with_header("Forwarded", fwd)
            .with_header("x-forwarded-client-cert", xfcc.clone())
            .with_header("x-cert", xfcc)
            .with_header("Host", host)
            .with_peer(peer.parse().unwrap());
        if let Decision::Respond(r) = engine.handle(&req, now) {
            prop_assert!((200..600).contains(&r.status));
        }
    }
}
