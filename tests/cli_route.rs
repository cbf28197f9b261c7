//! The `provedge route` contract that checks outside the crate rely on.

mod serve_support;

/// Runs `provedge route ARGS…`: exit code, stdout, stderr.
fn run(args: &[&str]) -> (i32, String, String) {
    serve_support::provedge(&[&["route"], args].concat())
}

#[test]
fn a_recognised_request_prints_exactly_the_seven_keys() {
    let (code, stdout, _) = run(&[
        "--user-agent",
        "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56",
        "/y000000000066.cfg",
    ]);
    assert_eq!(code, 0);
    assert_eq!(stdout.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let obj = v.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["file", "key", "kind", "mac", "model", "scope", "vendor"]
    );
    assert_eq!(v["vendor"], "yealink");
    assert_eq!(v["scope"], "model");
    assert_eq!(v["kind"], "config");
    assert_eq!(v["mac"], "001565123456");
    assert_eq!(v["model"], "t46s");
    assert_eq!(v["file"], "y000000000066.cfg");
    assert_eq!(v["key"], "yealink/y000000000066.cfg");
}

#[test]
fn nulls_are_json_nulls_and_case_is_canonical() {
    let (code, stdout, _) = run(&["/ALGOM0022ee123456.CONF"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["model"].is_null());
    assert_eq!(v["mac"], "0022ee123456");
    assert_eq!(v["file"], "algom0022EE123456.conf");
    assert_eq!(v["key"], "algo/algom0022ee123456.conf");
}

#[test]
fn methods_are_honoured() {
    let (code, stdout, _) = run(&["--method", "PUT", "/0004f2123456-app.log"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["kind"], "upload");
    let (code, stdout, stderr) = run(&["--method", "GET", "/0004f2123456-app.log"]);
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(stderr.starts_with("405 "), "{stderr}");
}

#[test]
fn refusals_print_nothing_on_stdout_and_one_reason_line() {
    for (path, status) in [
        ("/index.html", "404"),
        ("/../etc/passwd", "400"),
        ("/cfg000b8212345.xml", "400"),
        ("/aabbcc123456.cfg", "404"),
    ] {
        let (code, stdout, stderr) = run(&[path]);
        assert_eq!(code, 1, "{path}");
        assert_eq!(stdout, "", "{path}");
        assert_eq!(stderr.lines().count(), 1, "{path}: {stderr}");
        assert!(stderr.starts_with(status), "{path}: {stderr}");
    }
}

#[test]
fn a_route_config_file_is_honoured_and_a_bad_one_is_named() {
    let dir = std::env::temp_dir().join(format!("provedge-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("route.json");
    std::fs::write(&good, r#"{"engine":{"route":{"grandstream":{"config_prefix":"gs_"},"default_vendors":[{"prefix":"/fv/","vendor":"fanvil"}]}}}"#).unwrap();
    let (code, stdout, _) = run(&[
        "--config",
        good.to_str().unwrap(),
        "/gs_cfg000b82123456.xml",
    ]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(r#""file":"cfg000b82123456.xml""#),
        "{stdout}"
    );
    let (code, stdout, _) = run(&["--config", good.to_str().unwrap(), "/fv/aabbcc123456.cfg"]);
    assert_eq!(code, 0);
    assert!(stdout.contains(r#""vendor":"fanvil""#), "{stdout}");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"engine":{"route":{"grandstrem":{}}}}"#).unwrap();
    let (code, _, stderr) = run(&["--config", bad.to_str().unwrap(), "/cfg.xml"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("bad.json") && stderr.contains("grandstrem"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
