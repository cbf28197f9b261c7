//! The seed's FusionPBX rule lists and the semantics fixtures, as a table of requests and what
//! nginx answers (each row was checked against nginx 1.22.1 by `nginx_rewrite_diff`; this table
//! keeps the behaviour pinned where nginx is not installed).

use provedge::rewrite::{Outcome, RewriteInput, RuleSet};

fn rules(name: &str) -> RuleSet {
    let path = format!(
        "{}/tests/data/rewrite/{name}.conf",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    RuleSet::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What the CLI prints: the upstream target, `30x LOCATION`, or the status.
fn answer(rules: &RuleSet, target: &str) -> String {
    match rules.apply(&RewriteInput::new(target).with_host("pbx.example.com")) {
        Outcome::Internal(pass) => String::from_utf8_lossy(&pass.upstream_target()).into_owned(),
        Outcome::Redirect(r) => format!(
            "{} {}",
            r.status.code(),
            String::from_utf8_lossy(&r.location)
        ),
        Outcome::Return(r) => match r.location.as_ref().or(r.body.as_ref()) {
            Some(text) => format!("{} {}", r.status, String::from_utf8_lossy(text)),
            None => r.status.to_string(),
        },
        other => other.status().unwrap_or(0).to_string(),
    }
}

#[test]
fn seed_rule_lists_answer_as_nginx_does() {
    let table: &[(&str, &str, &str)] = &[
        // mcrane: "$1" without a group is empty; `last` stops the list.
        (
            "fusionpbx-mcrane",
            "/provision/aastra.cfg",
            "/app/provision/?mac=&file=aastra.cfg",
        ),
        (
            "fusionpbx-mcrane",
            "/provision/aastra.cfg?x=1",
            "/app/provision/?mac=&file=aastra.cfg&x=1",
        ),
        (
            "fusionpbx-mcrane",
            "/p/provision/0004F2A1B2C3.cfg",
            "/app/provision/index.php?mac=0004F2A1B2C3",
        ),
        (
            "fusionpbx-mcrane",
            "/provision/0004f2a1b2c3",
            "/app/provision/index.php?mac=0004f2a1b2c3",
        ),
        (
            "fusionpbx-mcrane",
            "/provision/0004f2a1b2c3.CFG",
            "/provision/0004f2a1b2c3.CFG",
        ),
        (
            "fusionpbx-mcrane",
            "/provision/%30004f2a1b2c3.cfg",
            "/app/provision/index.php?mac=0004f2a1b2c3",
        ),
        (
            "fusionpbx-mcrane",
            "//provision//0004f2a1b2c3.xml?a=1",
            "/app/provision/index.php?mac=0004f2a1b2c3&a=1",
        ),
        (
            "fusionpbx-cfg",
            "/provision/cfg000b82a1b2c3.xml",
            "/app/provision/?mac=000b82a1b2c3",
        ),
        // yealink: `\$1\$2` keeps its backslashes.
        (
            "fusionpbx-yealink",
            "/provision/y000000000066.cfg",
            r"/app/provision/index.php?file=\y000000000066\.cfg",
        ),
        (
            "fusionpbx-yealink",
            "/y000000000066",
            r"/app/provision/index.php?file=\y000000000066\",
        ),
        (
            "fusionpbx-combined",
            "/provision/cfg000b82a1b2c3.cfg",
            "/app/provision/index.php?mac=000b82a1b2c3",
        ),
        (
            "fusionpbx-combined",
            "/provision/0004f2a1b2c3",
            "/app/provision/index.php?mac=0004f2a1b2c3",
        ),
        // mputnam: the typo and `%7b%24mac%7d` go upstream as written.
        (
            "fusionpbx-mputnam",
            "/provision/000000000000.cfg",
            "/app/provison/?mac=&file=%7b%24mac%7d.cfg",
        ),
        (
            "fusionpbx-mputnam",
            "/provision/0004f2a1b2c3-registration.cfg",
            "/app/provision/?mac=0004f2a1b2c3&file=%7b%24mac%7d-registration.cfg",
        ),
        (
            "fusionpbx-mputnam",
            "/provision/0004f2a1b2c3-phone.cfg?a=1",
            "/app/provision/?mac=0004f2a1b2c3&a=1",
        ),
        (
            "fusionpbx-mputnam",
            "/provision/0004f2a1b2c3-features.cfg",
            "/provision/0004f2a1b2c3-features.cfg",
        ),
        (
            "fusionpbx-mputnam",
            "/provision/sip_330.ld",
            "/provision/sip_330.ld",
        ),
        // syadnom: images; later rules see the rewritten URI.
        (
            "fusionpbx-syadnom",
            "/x/provision/logo.png",
            "/app/provision/logo.png",
        ),
        (
            "fusionpbx-syadnom",
            "/provision/a%20b.png",
            "/app/provision/a%20b.png",
        ),
        (
            "fusionpbx-syadnom",
            "/provision/0004f2a1b2c3-features.cfg",
            "/app/provision/?mac=0004f2a1b2c3&file=features.cfg",
        ),
        // the location example: case-sensitive directory, mandatory extension.
        (
            "fusionpbx-location",
            "/provisioning/yealink/001565a1b2c3.cfg",
            "/app/provision/index.php?mac=001565a1b2c3",
        ),
        (
            "fusionpbx-location",
            "/provisioning/Yealink/001565a1b2c3.cfg",
            "/provisioning/Yealink/001565a1b2c3.cfg",
        ),
        (
            "fusionpbx-location",
            "/provisioning/yealink/001565a1b2c3",
            "/provisioning/yealink/001565a1b2c3",
        ),
        // malformed targets never reach the rules.
        ("fusionpbx-all", "/provision/%zz.cfg", "400"),
        ("fusionpbx-all", "/../provision/0004f2a1b2c3.cfg", "400"),
    ];
    for (set, target, want) in table {
        assert_eq!(answer(&rules(set), target), *want, "[{set}] {target}");
    }
}

#[test]
fn semantics_fixtures_answer_as_nginx_does() {
    let table: &[(&str, &str, &str)] = &[
        ("semantics-server", "/s/noflag/a", "/s/second/a"),
        ("semantics-server", "/s/drop/a?b=1", "/s/dropped/a"),
        ("semantics-server", "/s/newq/a?b=1", "/s/q?v=a&b=1"),
        ("semantics-server", "/s/twoq/a?b=1", "/s/q?v=a?w=2&b=1"),
        ("semantics-server", "/s/esc/a%20b", "/s/e/a%20b?v=a%20b"),
        ("semantics-server", "/s/esc/a&b", "/s/e/a&b?v=a&b"),
        ("semantics-server", "/s/esc/a+b", "/s/e/a+b?v=a%2Bb"),
        ("semantics-server", "/s/opt/b", "/s/o/[][b]"),
        ("semantics-server", "/s/red/a?b=1", "302 /s/target/a?b=1"),
        (
            "semantics-server",
            "/s/perm/a?b=1",
            "301 /s/target/a?x=1&b=1",
        ),
        (
            "semantics-server",
            "/s/absdrop/a?b=1",
            "302 http://example.com/a",
        ),
        (
            "semantics-server",
            "/s/scheme/a",
            "302 http://pbx.example.com/x/a",
        ),
        ("semantics-server", "/s/redesc/a", "302 /s/rA/%20a?z%41"),
        ("semantics-server", "/s/empty", "500"),
        ("semantics-locations", "/chain/xxxxxxxxxx", "/chain/"),
        ("semantics-locations", "/chain/xxxxxxxxxxx", "500"),
        ("semantics-locations", "/srv/xxxxxxxxxx", "/chain/"),
        ("semantics-locations", "/nfbreak/xxa", "/nfbroken/xa"),
        // a restart finds `^~ /stop`; a regex location beats the plain prefix `/hop`.
        ("semantics-locations", "/hop/a", "/stopped/a"),
        ("semantics-locations", "/hop/a.cfg", "/hop/a.cfg"),
        ("semantics-locations", "/re/a.XML", "/re-xml/a.XML"),
        ("semantics-locations", "/re/a.CFG", "/re/a.CFG"),
        ("semantics-locations", "/loop/a", "500"),
        ("semantics-locations", "/lr/a?z=1", "302 /done/a?z=1"),
    ];
    for (set, target, want) in table {
        assert_eq!(answer(&rules(set), target), *want, "[{set}] {target}");
    }
}

#[test]
fn script_directives_answer_as_nginx_does() {
    let table: &[(&str, &str, &str)] = &[
        // An `if` regex sets positional and named captures for later directives.
        (
            "semantics-script",
            "/t/if/abc/def",
            "200 from_if=abc-abc-def word=abc",
        ),
        // `set` before a rewrite escapes captures, after one it does not; `return` never.
        (
            "semantics-script",
            "/t/quote/a%20b",
            "200 before=a%20b after=a b ret=a b",
        ),
        // A failed rewrite regex clears the captures, a regex without groups resets them.
        ("semantics-script", "/t/clear/x", "200 after-miss=[]"),
        ("semantics-script", "/t/nogroup/abc", "200 uri=/t/x/"),
        ("semantics-script", "/t/ret/301?a=1", "301 /t/moved?a=1"),
        (
            "semantics-script",
            "/t/ret/url?x=1",
            "302 https://pbx.example.com/t/ret/url?x=1",
        ),
        ("semantics-script", "/t/ret/404", "404"),
        ("semantics-script", "/t/ret/redir-empty", "302 "),
        (
            "semantics-script",
            "/t/ret/other?z",
            "418 teapot GET /t/ret/other z",
        ),
        ("semantics-script", "/t/brk/x", "/t/brk2/x"),
        ("semantics-script", "/t/args?q=1", "/t/args?n=1&q=1"),
        ("semantics-script", "/t/nest/deep/a", "200 deep"),
        ("semantics-script", "/t/nest/a.cfg", "200 nested-regex "),
        ("semantics-script", "/t/nest/a.xml", "200 outer-regex a"),
        ("semantics-script", "/t/cond?a=0", "200 none"),
        ("semantics-script", "/t/cond?C=1", "200 c"),
        ("semantics-script", "/t/deny/x", "403"),
        // FusionPBX's install script: HTTPS except provisioning, the REST rule in an `if`.
        (
            "fusionpbx-install",
            "/index.php?x=1",
            "301 https://pbx.example.com/index.php?x=1",
        ),
        (
            "fusionpbx-install",
            "/provision/api/v1",
            "/provision/api/index.php?rewrite_uri=v1",
        ),
        ("fusionpbx-install", "/provision/.htaccess", "403"),
        (
            "fusionpbx-install",
            "/provision/algom0004f2a1b2c3.conf",
            "/app/provision/?mac=0004f2a1b2c3&file=algom%7b%24mac%7d.conf",
        ),
        ("fusionpbx-install", "/app/xml_cdr/x", "/app/xml_cdr/x"),
    ];
    for (set, target, want) in table {
        assert_eq!(answer(&rules(set), target), *want, "[{set}] {target}");
    }
}

/// A file saved with CRLF line ends loads and answers as the LF one does.
#[test]
fn crlf_files_load_and_answer_the_same() {
    for name in [
        "fusionpbx-install",
        "semantics-script",
        "semantics-locations",
    ] {
        let path = format!(
            "{}/tests/data/rewrite/{name}.conf",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("fixture");
        let crlf = RuleSet::parse(&text.replace('\n', "\r\n")).expect("CRLF loads");
        let lf = rules(name);
        for target in [
            "/provision/api/v1",
            "/t/if/abc/def",
            "/chain/xxx",
            "/index.php",
        ] {
            assert_eq!(
                answer(&crlf, target),
                answer(&lf, target),
                "[{name}] {target}"
            );
        }
    }
    let e = RuleSet::parse("# a\r\n\r\nreturn 999 x;\r\n").expect_err("refused");
    assert_eq!(e.line, 3, "{e}");
}
