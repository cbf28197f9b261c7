//! The `provedge rewrite` command-line contract.

use std::process::Command;

fn data(name: &str) -> String {
    format!("{}/tests/data/rewrite/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `provedge rewrite`; returns (exit code, stdout, stderr).
fn rewrite(rules: &str, extra: &[&str], path: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_provedge"))
        .args(["rewrite", "--rules", rules])
        .args(extra)
        .arg(path)
        .output()
        .expect("run provedge");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn prints_the_upstream_target_redirects_and_errors() {
    let all = data("fusionpbx-all.conf");
    let install = data("fusionpbx-install.conf");
    let server = data("semantics-server.conf");
    let locations = data("semantics-locations.conf");
    let cases: &[(&str, &[&str], &str, &str)] = &[
        (
            &all,
            &[],
            "/provision/0004f2a1b2c3.cfg?x=1",
            "/app/provision/index.php?mac=0004f2a1b2c3&x=1\n",
        ),
        (&all, &[], "/nothing/here?x=%20", "/nothing/here?x=%20\n"),
        (&server, &[], "/s/red/a", "302 /s/target/a\n"),
        (&server, &[], "/s/perm/a", "301 /s/target/a?x=1\n"),
        (
            &server,
            &["--host", "PBX.example.com:8080", "--https"],
            "/s/scheme/a",
            "302 https://pbx.example.com/x/a\n",
        ),
        (&locations, &[], "/loop/a", "500\n"),
        (&all, &[], "/a%zz", "400\n"),
        (
            &install,
            &[],
            "/index.php?x=1",
            "301 https://localhost/index.php?x=1\n",
        ),
        (&install, &[], "/provision/.git", "403\n"),
        (
            &install,
            &[],
            "/provision/api/v1",
            "/provision/api/index.php?rewrite_uri=v1\n",
        ),
    ];
    for (rules, extra, path, want) in cases {
        let (code, stdout, stderr) = rewrite(rules, extra, path);
        assert_eq!((code, stdout.as_str()), (0, *want), "{path}: {stderr}");
    }
}

#[test]
fn a_rule_file_that_does_not_load_exits_2_with_file_and_line() {
    let dir = std::env::temp_dir().join(format!("provedge-rewrite-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let cases = [
        (
            "unquoted.conf",
            "# fine\nrewrite ^/([0-9]{12})$ /x;\n",
            2,
            "quote the regex",
        ),
        (
            "empty-loop.conf",
            "rewrite \"^/(a|)*$\" /x;\n",
            1,
            "empty string",
        ),
        (
            "file-test.conf",
            "\n\nif (-f $uri) {\n  return 404;\n}\n",
            3,
            "file test",
        ),
    ];
    for (name, text, line, reason) in cases {
        let file = dir.join(name);
        std::fs::write(&file, text).expect("write rules");
        let (code, stdout, stderr) = rewrite(file.to_str().expect("utf-8 path"), &[], "/a");
        let prefix = format!("{}:{line} ", file.display());
        assert_eq!(code, 2, "{name}");
        assert!(stdout.is_empty(), "{name}: {stdout}");
        assert!(
            stderr.starts_with(&prefix) && stderr.contains(reason),
            "{name}: {stderr}"
        );
    }
    let (code, _, stderr) = rewrite(dir.join("missing.conf").to_str().expect("utf-8"), &[], "/a");
    assert_eq!(code, 2, "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rules_export_nginx_prints_rules_that_load() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_provedge"))
            .args(["rules", "export-nginx"])
            .args(args)
            .output()
            .expect("run provedge")
    };
    let out = run(&["--prefix", "/store"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let rules = provedge::rewrite::RuleSet::parse(&text).expect("the export loads");
    let pass = match rules.apply(&provedge::rewrite::RewriteInput::new(
        "/p/0004f2a1b2c3-phone.cfg?x=1",
    )) {
        provedge::rewrite::Outcome::Internal(pass) => pass,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        pass.upstream_target(),
        b"/store/polycom/0004f2a1b2c3-phone.cfg?x=1"
    );
    assert_eq!(run(&["--prefix", "store?"]).status.code(), Some(2));
}
