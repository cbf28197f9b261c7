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
    let json = serde_json::json!({"mode": {"nginx": {"rules": "# ok\nrewrite \"(?=x)\" /y;\n"}}})
        .to_string();
    let err = Config::from_json(&json).unwrap_err().to_string();
    assert!(err.contains("line 2"), "{err}");
}
