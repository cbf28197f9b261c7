//! `provedge serve` reads its configuration again on SIGHUP, without a restart: a revoked URL
//! token or a narrowed network stops working at once, a file that fails changes nothing, the
//! keys that need a restart are named, and `--check` says whether a file would start.

mod serve_support;

use serve_support::{refused, Server, GS_UA};

const OWN: &str = "cfg000b82123456.xml";

fn tokens(first_boot: &str, extra_server: &str) -> String {
    format!(
        r#"{{"engine": {{"policy": {{"default": {{"url_tokens": {{"first_boot": "{first_boot}"}}}}}}}},
            "server": {{"admin_listen": "127.0.0.1:0"{extra_server}}}}}"#
    )
}

fn status(server: &Server, path: &str) -> u16 {
    server.get(path, Some(GS_UA)).status
}

#[test]
fn a_revoked_url_token_stops_working_at_the_reload_and_the_process_stays() {
    let server = Server::start_with(Some(&tokens("boot-old", "")));
    let old = format!("/boot-old/{OWN}");
    let new = format!("/boot-new/{OWN}");
    assert_eq!(status(&server, &old), 200);
    assert_eq!(status(&server, &new), 404);
    let pid = server.pid();

    // The leaked token is replaced; the answer rendered for it must not outlive it.
    let line = server.reload(&tokens("boot-new", ""));
    assert_eq!(
        line,
        format!("reloaded {}", server.config_path().display()),
        "{}",
        server.stderr()
    );
    assert_eq!(status(&server, &old), 404, "the revoked token still works");
    let body = server.get(&new, Some(GS_UA));
    assert_eq!(body.status, 200);
    assert!(!body.text().is_empty());
    assert_eq!(server.pid(), pid);
    assert!(
        server
            .stderr()
            .lines()
            .filter(|l| l.starts_with("listening on"))
            .count()
            == 1,
        "the server started again: {}",
        server.stderr()
    );
    let metrics = server.metrics();
    assert!(
        metrics.contains("provedge_config_reloads_total{result=\"applied\"} 1")
            && metrics.contains("\nprovedge_config_last_reload_successful 1\n"),
        "{metrics}"
    );
    assert!(gauge(&metrics, "provedge_config_loaded_timestamp_seconds") > 1_700_000_000);
}

/// A gauge's value in the exposition text.
fn gauge(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name}: {metrics}"))
        .parse()
        .unwrap()
}

#[test]
fn a_narrowed_network_refuses_at_the_reload_and_widening_it_serves_again() {
    let allow =
        |net: &str| format!(r#"{{"engine": {{"policy": {{"default": {{"allow": ["{net}"]}}}}}}}}"#);
    let server = Server::start_with(Some(&allow("127.0.0.0/8")));
    let own = format!("/{OWN}");
    assert_eq!(status(&server, &own), 200);
    assert!(server.reload(&allow("10.0.0.0/8")).starts_with("reloaded "));
    assert_eq!(status(&server, &own), 403);
    assert!(server
        .reload(&allow("127.0.0.1/32"))
        .starts_with("reloaded "));
    assert_eq!(status(&server, &own), 200);
}

#[test]
fn a_reload_that_fails_changes_nothing_and_says_where() {
    let server = Server::start_with(Some(&tokens("boot-old", "")));
    let old = format!("/boot-old/{OWN}");
    let path = server.config_path().display().to_string();
    let failing = [
        // Not JSON to the end.
        (r#"{"engine": {"policy": "#.to_owned(), "EOF while parsing"),
        // A key the engine does not know.
        (
            r#"{"engine": {"policy": {"default": {"url_token": {}}}}, "server": {"admin_listen": "127.0.0.1:0"}}"#
                .to_owned(),
            "engine.policy.default.url_token: unknown field",
        ),
        // Rules the engine cannot compile.
        (
            r#"{"engine": {"mode": {"nginx": {"rules": "rewrite ( /x;"}}}, "server": {"admin_listen": "127.0.0.1:0", "upstream": "http://127.0.0.1:9"}}"#
                .to_owned(),
            "engine.mode.nginx.rules",
        ),
        // A mode that forwards, on a server started without an upstream.
        (
            r#"{"engine": {"mode": {"rewrite": {"prefix": "/s"}}}, "server": {"admin_listen": "127.0.0.1:0", "upstream": "http://127.0.0.1:9"}}"#
                .to_owned(),
            "engine.mode: needs server.upstream",
        ),
    ];
    for (config, want) in &failing {
        let line = server.reload(config);
        assert!(
            line.starts_with(&format!(
                "reload failed, the configuration in force stays: {path}: "
            )) && line.contains(want),
            "{config}: {line:?} lacks {want:?}"
        );
        assert_eq!(
            status(&server, &old),
            200,
            "{config}: the old token stopped"
        );
    }
    let metrics = server.metrics();
    assert!(
        metrics.contains("provedge_config_reloads_total{result=\"failed\"} 4")
            && metrics.contains("provedge_config_reloads_total{result=\"applied\"} 0"),
        "{metrics}"
    );
    // The failure shows until a reload succeeds; the time is still the start's.
    let loaded = gauge(&metrics, "provedge_config_loaded_timestamp_seconds");
    assert_eq!(gauge(&metrics, "provedge_config_last_reload_successful"), 0);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(server
        .reload(&tokens("boot-new", ""))
        .starts_with("reloaded "));
    let metrics = server.metrics();
    assert_eq!(gauge(&metrics, "provedge_config_last_reload_successful"), 1);
    assert!(gauge(&metrics, "provedge_config_loaded_timestamp_seconds") > loaded);
    assert_eq!(status(&server, &old), 404);
}

#[test]
fn keys_that_need_a_restart_are_named_and_the_rest_applies() {
    let server = Server::start_with(Some(&tokens("boot-old", r#", "max_connections": 100"#)));
    let line = server.reload(&tokens(
        "boot-new",
        r#", "max_connections": 200, "workers": 1"#,
    ));
    assert_eq!(
        line,
        format!(
            "reloaded {}; at the next restart: server.max_connections, server.workers",
            server.config_path().display()
        )
    );
    assert_eq!(status(&server, &format!("/boot-new/{OWN}")), 200);
    assert_eq!(status(&server, &format!("/boot-old/{OWN}")), 404);
}

#[test]
fn sighup_without_a_configuration_file_does_not_end_the_server() {
    let mut server = Server::start();
    server.signal("HUP");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !server.stderr().contains("reload: no --config file") {
        assert!(std::time::Instant::now() < deadline, "{}", server.stderr());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(server.wait(std::time::Duration::from_millis(200)), None);
    assert_eq!(status(&server, &format!("/{OWN}")), 200);
}

#[test]
fn check_says_whether_the_server_would_start_and_serves_nothing() {
    let (code, stderr, path) = refused(&tokens("boot", ""), &["--check"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, format!("{path}: configuration ok\n"));
    let (code, stderr, path) = refused(
        r#"{"engine": {"policy": {"default": {"allow": ["10.0.0.1"]}}}}"#,
        &["--check"],
    );
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with(&format!("{path}: engine.policy.default.allow[0]: ")),
        "{stderr}"
    );
    assert!(!stderr.contains("listening"), "{stderr}");
}

/// The systemd unit's command lines, run as systemd would run them (with the installed paths
/// replaced by a scratch store, configuration and port): the check before the start, the
/// start, and the reload's check and SIGHUP.
#[test]
fn the_systemd_units_commands_check_start_and_reload() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let unit =
        std::fs::read_to_string(serve_support::repo().join("examples/provedge.service")).unwrap();
    let dir = serve_support::temp_dir("systemd-unit");
    let store = dir.join("store");
    serve_support::copy_dir(&serve_support::repo().join("examples/store"), &store);
    let config = dir.join("serve.json");
    std::fs::write(&config, tokens("boot-old", "")).unwrap();
    let lines = |key: &str| -> Vec<Vec<String>> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|command| {
                command
                    .split_whitespace()
                    .map(|word| match word {
                        "/usr/local/bin/provedge" => env!("CARGO_BIN_EXE_provedge").to_owned(),
                        "/etc/provedge/serve.json" => config.display().to_string(),
                        "/var/lib/provedge/store" => store.display().to_string(),
                        "0.0.0.0:80" => "127.0.0.1:0".to_owned(),
                        other => other.to_owned(),
                    })
                    .collect()
            })
            .collect()
    };
    let run = |argv: &[String], pid: u32| {
        let argv: Vec<String> = argv
            .iter()
            .map(|w| w.replace("$MAINPID", &pid.to_string()))
            .collect();
        let out = Command::new(&argv[0]).args(&argv[1..]).output().unwrap();
        assert!(out.status.success(), "{argv:?}: {out:?}");
    };
    let [pre] = &lines("ExecStartPre")[..] else {
        panic!("one ExecStartPre")
    };
    run(pre, 0);
    let [start] = &lines("ExecStart")[..] else {
        panic!("one ExecStart")
    };
    let mut child = Command::new(&start[0])
        .args(&start[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut next = || stderr.next().unwrap().unwrap();
    let addr = loop {
        if let Some(addr) = next().strip_prefix("listening on ") {
            break addr.to_owned();
        }
    };
    // One kept-alive connection throughout: its requests after the reload get the new file.
    let mut client = serve_support::Client::connect(addr.parse().unwrap());
    let mut get = |path: &str| {
        client
            .request("GET", path, &[("User-Agent", GS_UA)], None)
            .status
    };
    assert_eq!(get(&format!("/boot-old/{OWN}")), 200);
    std::fs::write(&config, tokens("boot-new", "")).unwrap();
    let reload = lines("ExecReload");
    assert_eq!(reload.len(), 2, "a check, then SIGHUP");
    for command in &reload {
        run(command, child.id());
    }
    assert_eq!(next(), format!("reloaded {}", config.display()));
    assert_eq!(get(&format!("/boot-old/{OWN}")), 404);
    assert_eq!(get(&format!("/boot-new/{OWN}")), 200);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `serve --check` with the listener given: (exit code, stderr).
fn check_on(listen: &str, config: &str) -> (Option<i32>, String) {
    let (code, stderr, _) = serve_support::serve_to_exit(config, &["--check", "--listen", listen]);
    (code, stderr)
}

#[test]
fn rules_that_let_anyone_in_are_warned_about_on_a_listener_beyond_loopback() {
    let warning = |key: &str| {
        format!("warning: engine.{key} lets in anyone who names a phone's MAC: that phone's file is served with its passwords; set url_tokens, allow, auth or require_identity there (docs/security.md) (0.0.0.0:")
    };
    // The defaults on every address: whoever names a MAC gets that phone's passwords.
    let (code, stderr) = check_on("0.0.0.0:0", "{}");
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with(&warning("policy.default")), "{stderr}");
    assert!(lines[1].ends_with(": configuration ok"), "{stderr}");
    // On loopback (a demo) there is nothing to say.
    let (code, stderr) = check_on("127.0.0.1:0", "{}");
    assert_eq!(code, Some(0));
    assert!(!stderr.contains("warning"), "{stderr}");
    // Only the rule set that asks nothing is named.
    let tenants = r#"{"engine": {"policy": {"default": {"url_tokens": {"first_boot": "t"}},
        "tenants": [{"name": "acme", "hosts": ["acme.example"]}]}}}"#;
    let (_, stderr) = check_on("0.0.0.0:0", tenants);
    let warned: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning"))
        .collect();
    assert_eq!(warned.len(), 1, "{stderr}");
    assert!(
        warned[0].starts_with(&warning("policy.tenants.acme.rules")),
        "{stderr}"
    );
}
