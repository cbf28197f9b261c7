//! The filters, tests and functions templates may use: all of minijinja's builtins but one.
//!
//! The proxy-wasm filter's budget is 2 MiB, so templates get minijinja's whole builtin
//! vocabulary (with `tojson` and `urlencode`), the same in every host, except the `debug()`
//! function: it prints every variable of the render, line passwords included, into the file a
//! phone receives, and provisioning has no use for it. Anything else is a template error (a 500
//! naming the template's key and line). The list is in docs/store.md ("Templates").
//!
//! provedge adds one test of its own, [`PROVEDGE_TESTS`]: `dialable`, which phonebook templates
//! use to leave out an entry whose number a phone could not dial, rather than serve a file the
//! phone drops whole.

use minijinja::{Environment, Value};

/// Filter names, in docs/store.md's order.
pub const FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "urlencode",
    "zip",
];

/// Test names (`{% if x is defined %}`), without the operator spellings (`==`, `<`, …).
pub const TESTS: &[&str] = &[
    "boolean",
    "defined",
    "divisibleby",
    "endingwith",
    "eq",
    "equalto",
    "escaped",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "greaterthan",
    "gt",
    "in",
    "int",
    "integer",
    "iterable",
    "le",
    "lessthan",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "safe",
    "sameas",
    "sequence",
    "startingwith",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

/// Global functions.
pub const FUNCTIONS: &[&str] = &["range", "dict", "namespace"];

/// provedge's own tests.
pub const PROVEDGE_TESTS: &[&str] = &["dialable"];

/// Longest number a phonebook entry may carry (E.164 is 15 digits; extensions, prefixes and
/// separators get the rest).
pub const MAX_DIALABLE: usize = 32;

/// `x is dialable`: a whole non-negative number, or a string of at most [`MAX_DIALABLE`]
/// characters, with at least one digit, made only of digits, a leading `+`, `*`, `#`, and the
/// separators space, `-`, `.`, `(`, `)`.
pub fn is_dialable(value: &Value) -> bool {
    if value.kind() == minijinja::value::ValueKind::Number {
        // A number written as a JSON number (an extension): dialable if it is a whole one.
        return value.as_usize().is_some();
    }
    let Some(s) = value.as_str() else {
        return false;
    };
    let s = s.trim();
    !s.is_empty()
        && s.len() <= MAX_DIALABLE
        && s.bytes().any(|b| b.is_ascii_digit())
        && s.char_indices().all(|(i, c)| {
            c.is_ascii_digit()
                || matches!(c, '*' | '#' | ' ' | '-' | '.' | '(' | ')')
                || (c == '+' && i == 0)
        })
}

/// Builtins templates may not use (see the module documentation).
pub const WITHHELD: &[&str] = &["debug"];

/// An environment with the vocabulary (escaping is set up by [`super::template`]).
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    for name in WITHHELD {
        env.remove_global(name);
    }
    env.add_test("dialable", |v: &Value| is_dialable(v));
    env
}

#[cfg(test)]
mod tests_ {
    use super::*;
    use minijinja::context;

    fn render(source: &str) -> Result<String, minijinja::Error> {
        let mut env = environment();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.render_str(
            source,
            context! { name => "Ab c", n => 3.6, xs => vec![3, 1, 2], m => context!{ b => 2, a => 1 } },
        )
    }

    #[test]
    fn every_listed_name_is_registered() {
        use minijinja::ErrorKind::{UnknownFilter, UnknownFunction, UnknownTest};
        let env = environment();
        // Names are looked up when evaluated, so each probe runs; an error other than "unknown"
        // (a probe argument of the wrong type) still proves the name is there.
        let kind = |src: String| env.render_str(&src, ()).err().map(|e| e.kind());
        for f in FILTERS {
            assert_ne!(
                kind(format!("{{{{ 1 | {f} }}}}")),
                Some(UnknownFilter),
                "filter {f}"
            );
        }
        for t in TESTS {
            assert_ne!(
                kind(format!("{{{{ 1 is {t} }}}}")),
                Some(UnknownTest),
                "test {t}"
            );
        }
        for t in PROVEDGE_TESTS {
            assert_ne!(
                kind(format!("{{{{ 1 is {t} }}}}")),
                Some(UnknownTest),
                "test {t}"
            );
        }
        for f in FUNCTIONS {
            assert_ne!(
                kind(format!("{{{{ {f}() }}}}")),
                Some(UnknownFunction),
                "function {f}"
            );
        }
        assert_eq!(
            env.globals()
                .map(|(name, _)| name)
                .collect::<Vec<_>>()
                .len(),
            FUNCTIONS.len(),
            "a global function that docs/store.md does not list"
        );
    }

    #[test]
    fn the_vocabulary_behaves_like_jinja() {
        let cases = [
            ("{{ name | lower }}|{{ name | upper }}", "ab c|AB C"),
            ("{{ missing | default('x') }}{{ missing | d('y') }}", "xy"),
            ("{{ name | replace(' ', '_') }}", "Ab_c"),
            ("{{ '  a ' | trim }}", "a"),
            ("{{ xs | length }} {{ xs | sort | join(',') }}", "3 1,2,3"),
            ("{{ xs | first }}{{ xs | last }}", "32"),
            ("{{ n | int }} {{ '7' | int + 1 }}", "3 8"),
            ("{% for k, v in m | dictsort %}{{ k }}={{ v }};{% endfor %}", "a=1;b=2;"),
            ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
            ("{{ 'a,b' | split(',') | list | length }}", "2"),
            ("{% if missing is undefined and 3 is odd and 'ab' is startingwith('a') %}y{% endif %}", "y"),
            ("{{ dict(a=1).a }}", "1"),
            // Back with the whole vocabulary (issue 16).
            ("{{ xs | max }}{{ xs | min }}{{ xs | sum }}", "316"),
            ("{{ xs | map('string') | join('-') }}", "3-1-2"),
            ("{{ n | round }} {{ -2 | abs }} {{ 9 is divisibleby(3) }}", "4.0 2 True"),
            ("{{ 'a b' | title }} {{ 'a b' | capitalize }}", "A B A b"),
            ("{{ '%s-%d' | format('x', 2) }}", "x-2"),
            ("{{ 'a b&c' | urlencode }}", "a%20b%26c"),
            ("{{ m | tojson }}", r#"{"b": 2, "a": 1}"#),
            ("{% for b in xs | batch(2) %}[{{ b | join }}]{% endfor %}", "[31][2]"),
            ("{% for x in xs %}{{ loop.previtem | default('-') }}{% endfor %}", "-31"),
            ("{% macro kv(k, v) %}{{ k }}={{ v }}{% endmacro %}{{ kv('a', 1) }}", "a=1"),
        ];
        for (src, want) in cases {
            assert_eq!(render(src).unwrap(), want, "{src}");
        }
    }

    #[test]
    fn dialable_numbers() {
        for good in ["1001", "+1 (555) 010-9999", "*97", "#31#", "0049.30.1234"] {
            assert!(is_dialable(&Value::from(good)), "{good}");
        }
        for bad in [
            "",
            "abc",
            "+",
            "1+1",
            "10\n01",
            "javascript:1",
            &"1".repeat(33),
        ] {
            assert!(!is_dialable(&Value::from(bad)), "{bad:?}");
        }
        assert!(is_dialable(&Value::from(1001)));
        assert!(!is_dialable(&Value::from(-1)) && !is_dialable(&Value::from(1.5)));
        assert_eq!(
            render("{{ '1001' is dialable }} {{ 'x' is dialable }}").unwrap(),
            "True False"
        );
    }

    #[test]
    fn withheld_and_unknown_names_are_errors() {
        let err = render("{{ debug() }}").unwrap_err();
        assert!(err.to_string().contains("debug"), "{err}");
        let err = render("{{ name | no_such_filter }}").unwrap_err();
        assert!(err.to_string().contains("unknown filter"), "{err}");
    }
}
