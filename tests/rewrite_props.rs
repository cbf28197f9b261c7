//! Properties of the rewrite engine that hold for every input: loading and applying never
//! panic (a panic kills a proxy-wasm VM), and outcomes keep their invariants.

use proptest::prelude::*;
use provedge::rewrite::{Outcome, RewriteInput, RuleSet};

/// Pieces rule files are made of, so generated files often load and exercise evaluation.
fn rule_line() -> impl Strategy<Value = String> {
    let regex = prop::sample::select(vec![
        "^/(.*)$",
        "^.*/provision/([A-Fa-f0-9]{12})(\\.(xml|cfg))?$",
        "(a)?(b)",
        "^",
        "x$",
        "^/(?i)AB",
        "[^/]+",
        "^/([0-9]*)x(.*)$",
        "\\.cfg$",
        "(?<n>a)",
        "a{2,}",
        "[[:alpha:]]",
        "(",
        "\\1",
        "(?=a)",
    ]);
    let repl = prop::collection::vec(
        prop::sample::select(vec![
            "/",
            "x",
            "$1",
            "$2",
            "$9",
            "?",
            "&",
            "%7b",
            "%",
            "$args",
            "$uri",
            "$is_args",
            "$host",
            "$request_uri",
            "$arg_a",
            "\\$1",
            "http://h/",
            "$scheme://",
            "${uri}",
            "é",
            "$",
        ]),
        0..6,
    )
    .prop_map(|v| v.concat());
    let flag = prop::sample::select(vec![
        "",
        " last",
        " break",
        " redirect",
        " permanent",
        " bogus",
    ]);
    (regex, repl, flag).prop_map(|(re, r, f)| format!("rewrite \"{re}\" \"{r}\"{f};"))
}

/// The rewrite module's other directives, with values built from the same pieces.
fn script_line() -> impl Strategy<Value = String> {
    let value = prop::sample::select(vec![
        "$1",
        "$2",
        "$uri",
        "$args",
        "x",
        "$v",
        "$n",
        "$http_x",
        "$remote_addr",
        "",
        "$",
        "é%",
    ]);
    let regex = prop::sample::select(vec!["^/(.*)$", "(?<n>a)", "(", "^", "(a)\\1", "(a|)*"]);
    (0usize..8, value, regex).prop_map(|(kind, v, re)| match kind {
        0 => format!("if ($uri ~ \"{re}\") {{ set $v \"{v}\"; }}"),
        1 => format!("if ($arg_a = \"{v}\") {{ return 200 \"{v}\"; }}"),
        2 => format!("set $v \"{v}\";"),
        3 => format!("return 301 \"/{v}\";"),
        4 => "break;".to_owned(),
        5 => format!("if ($http_x) {{ rewrite \"{re}\" \"/{v}\" last; break; }}"),
        6 => "set $args \"a=1\";".to_owned(),
        _ => format!("return 404 \"{v}\";"),
    })
}

fn rule_file() -> impl Strategy<Value = String> {
    let item = prop_oneof![
        3 => rule_line(),
        2 => script_line(),
        1 => (prop::collection::vec(script_line(), 0..3), prop::collection::vec(rule_line(), 0..2))
            .prop_map(|(a, b)| format!("location /a {{\n{}\nlocation /a/b {{\n{}\n}}\n}}", a.join("\n"), b.join("\n"))),
        1 => (prop::sample::select(vec!["", "= ", "^~ ", "~ ", "~* "]), "/[a-z]{0,3}", prop::collection::vec(rule_line(), 0..3))
            .prop_map(|(m, p, rules)| format!("location {m}{p} {{\n{}\n}}", rules.join("\n"))),
        1 => "[ -~\n{}#;\"'\\\\$]{0,40}",
    ];
    prop::collection::vec(item, 0..8).prop_map(|v| v.join("\n"))
}

fn target() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "/",
            "//",
            "a",
            "x",
            "b",
            ".",
            "..",
            "%",
            "%2e",
            "%2F",
            "%25",
            "%3F",
            "%00",
            "%zz",
            "%C3%A9",
            "?",
            "&",
            "=",
            "#",
            "+",
            "%20",
            "0004f2a1b2c3",
            "provision",
            ".cfg",
            "é",
            " ",
            "\u{7f}",
        ]),
        0..12,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics_the_loader(text in "\\PC{0,200}") {
        let _ = RuleSet::parse(&text);
    }

    #[test]
    fn arbitrary_rules_and_targets_never_panic(text in rule_file(), targets in prop::collection::vec(target(), 1..8)) {
        let Ok(rules) = RuleSet::parse(&text) else { return Ok(()) };
        for t in targets {
            let headers = vec![("X".to_owned(), "1".to_owned())];
            let input = RewriteInput::new(&t).with_host("pbx").with_headers(&headers);
            match rules.apply(&input) {
                Outcome::Internal(pass) => {
                    let up = pass.upstream_target();
                    if pass.rewritten() {
                        prop_assert!(!pass.uri().is_empty());
                        prop_assert!(up.len() >= pass.uri().len());
                    } else {
                        prop_assert_eq!(up, t.as_bytes().to_vec());
                        prop_assert!(pass.uri().starts_with(b"/"));
                    }
                }
                Outcome::Redirect(r) => prop_assert!([301, 302].contains(&r.status.code())),
                Outcome::Return(r) => prop_assert!((200..600).contains(&r.status)),
                other => prop_assert!(other.status().is_some()),
            }
        }
    }

    #[test]
    fn a_malformed_target_never_reaches_the_rules(t in target()) {
        let rules = RuleSet::parse("rewrite ^ /always;").expect("loads");
        let out = rules.apply(&RewriteInput::new(&t));
        let bad = !t.starts_with('/') || t.bytes().any(|b| b <= 0x20 || b == 0x7f);
        if bad {
            prop_assert!(matches!(out, Outcome::BadRequest(_)));
        }
    }
}
