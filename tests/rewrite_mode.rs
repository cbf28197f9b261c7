//! Nginx-rules mode in the engine: every host gets the same rewrite decisions as nginx.

use provedge::{Config, Decision, Engine, Request};

const NOW: u64 = 1_800_000_000;

fn engine(rules: &str) -> Engine {
    let json = serde_json::json!({"mode": {"nginx": {"rules": rules}}}).to_string();
    Engine::new(Config::from_json(&json).unwrap()).unwrap()
}

#[test]
fn the_seed_rules_rewrite_to_fusionpbx() {
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/rewrite/fusionpbx-mcrane.conf"
    ))
    .unwrap();
    let engine = engine(&rules);
    let Decision::Rewrite(r) = engine.handle(&Request::get("/provision/001565123456.cfg"), NOW)
    else {
        panic!()
    };
    assert_eq!(r.target, "/app/provision/index.php?mac=001565123456");
    assert!(r.route.is_none());
    // No rule matches: passed on unchanged, as nginx would.
    let Decision::Rewrite(r) = engine.handle(&Request::get("/other/thing?x=1"), NOW) else {
        panic!()
    };
    assert_eq!(r.target, "/other/thing?x=1");
}

#[test]
fn redirects_cycles_and_policy_apply() {
    let engine = engine(
        "rewrite ^/old/(.*)$ /new/$1 permanent;\nlocation / {\n  rewrite ^/loop$ /loop last;\n}\n",
    );
    let Decision::Respond(r) = engine.handle(&Request::get("/old/cfg.xml"), NOW) else {
        panic!()
    };
    assert_eq!(
        (r.status, r.header("location")),
        (301, Some("/new/cfg.xml"))
    );
    let Decision::Respond(r) = engine.handle(&Request::get("/loop"), NOW) else {
        panic!()
    };
    assert_eq!(r.status, 500);
    assert!(r.body.is_empty() && r.note.unwrap().contains("Cycle"));
    // The policy stage still runs first.
    let json = serde_json::json!({"mode": {"nginx": {"rules": "rewrite ^ /x;"}}, "policy": {"default": {"deny": ["0.0.0.0/0"]}}}).to_string();
    let denied = Engine::new(Config::from_json(&json).unwrap()).unwrap();
    let Decision::Respond(r) = denied.handle(
        &Request::get("/a").with_peer("192.0.2.1".parse().unwrap()),
        NOW,
    ) else {
        panic!()
    };
    assert_eq!(r.status, 403);
}

#[test]
fn rules_that_do_not_load_are_refused_at_configuration_with_the_line() {
    let json = serde_json::json!({"mode": {"nginx": {"rules": "# ok\nrewrite \"(a|)*\" /y;\n"}}})
        .to_string();
    let err = Config::from_json(&json).unwrap_err().to_string();
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn return_if_set_and_variables_reach_the_response() {
    let engine = engine(
        "if ($http_x_test = yes) {\n  return 200 \"hi $request_method $remote_addr $scheme\";\n}\n\
         set $who $arg_who;\n\
         location = /gone {\n  return 410;\n}\n\
         location /old {\n  return 308 /new$is_args$args;\n}\n\
         location /deny {\n  deny all;\n}\n\
         location /who {\n  return 200 $who;\n}\n",
    );
    let req = Request::get("/x")
        .with_header("X-Test", "yes")
        .with_peer("192.0.2.7".parse().unwrap());
    let Decision::Respond(r) = engine.handle(&req, NOW) else {
        panic!()
    };
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"hi GET 192.0.2.7 http"[..])
    );
    assert_eq!(r.header("content-type"), Some("text/plain"));
    let Decision::Respond(r) = engine.handle(&Request::get("/gone"), NOW) else {
        panic!()
    };
    assert_eq!(r.status, 410);
    let Decision::Respond(r) = engine.handle(&Request::get("/old/a?b=1"), NOW) else {
        panic!()
    };
    assert_eq!((r.status, r.header("location")), (308, Some("/new?b=1")));
    let Decision::Respond(r) = engine.handle(&Request::get("/deny/x"), NOW) else {
        panic!()
    };
    assert_eq!(r.status, 403);
    let Decision::Respond(r) = engine.handle(&Request::get("/who?who=me"), NOW) else {
        panic!()
    };
    assert_eq!(r.body, b"me");
}

#[test]
fn scheme_is_https_only_behind_a_trusted_proxy_that_says_so() {
    let rules = "return 200 $scheme;";
    let json = serde_json::json!({
        "mode": {"nginx": {"rules": rules}},
        "policy": {"trusted_proxies": ["10.0.0.0/8"]},
    })
    .to_string();
    let engine = Engine::new(Config::from_json(&json).unwrap()).unwrap();
    let scheme = |peer: &str| {
        let req = Request::get("/")
            .with_header("X-Forwarded-Proto", "https")
            .with_peer(peer.parse().unwrap());
        match engine.handle(&req, NOW) {
            Decision::Respond(r) => String::from_utf8(r.body).unwrap(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(scheme("10.1.2.3"), "https");
    // A client cannot claim it.
    assert_eq!(scheme("192.0.2.1"), "http");
}
