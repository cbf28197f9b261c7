//! The filters, tests and functions templates may use: a chosen subset of minijinja's builtins.
//!
//! `Environment::new()` registers every builtin (about sixty), and each one drags its argument
//! conversion code into the binary: about 200 KB of the proxy-wasm filter, whose budget is 1 MiB.
//! Provisioning templates need far fewer, so the environment starts empty and gets this list,
//! the same in every host. A template using anything else fails with "unknown filter" (a 500 with
//! the template's key and line, like any template error). The list is in docs/store.md ("Templates").

use minijinja::{filters, functions, tests, Environment, Value};

/// Filter names, in docs/store.md's order.
pub const FILTERS: &[&str] = &[
    "default", "d", "lower", "upper", "replace", "trim", "length", "count", "join", "split",
    "first", "last", "int", "string", "list", "items", "dictsort", "sort", "safe", "escape", "e",
];

/// Test names (`{% if x is defined %}`).
pub const TESTS: &[&str] = &[
    "defined",
    "undefined",
    "none",
    "true",
    "false",
    "boolean",
    "number",
    "integer",
    "string",
    "sequence",
    "mapping",
    "odd",
    "even",
    "eq",
    "ne",
    "in",
    "startingwith",
    "endingwith",
];

/// Global functions.
pub const FUNCTIONS: &[&str] = &["range", "dict", "namespace"];

/// Registers the vocabulary on an environment made with `Environment::empty()`.
pub fn install(env: &mut Environment<'_>) {
    env.add_filter("default", filters::default);
    env.add_filter("d", filters::default);
    env.add_filter("lower", filters::lower);
    env.add_filter("upper", filters::upper);
    env.add_filter("replace", filters::replace);
    env.add_filter("trim", filters::trim);
    env.add_filter("length", filters::length);
    env.add_filter("count", filters::length);
    env.add_filter("join", filters::join);
    env.add_filter("split", filters::split);
    env.add_filter("first", filters::first);
    env.add_filter("last", filters::last);
    env.add_filter("int", filters::int);
    env.add_filter("string", filters::string);
    env.add_filter("list", filters::list);
    env.add_filter("items", filters::items);
    env.add_filter("dictsort", filters::dictsort);
    env.add_filter("sort", filters::sort);
    env.add_filter("safe", filters::safe);
    env.add_filter("escape", filters::escape);
    env.add_filter("e", filters::escape);

    env.add_test("defined", tests::is_defined);
    env.add_test("undefined", tests::is_undefined);
    env.add_test("none", tests::is_none);
    env.add_test("true", tests::is_true);
    env.add_test("false", tests::is_false);
    env.add_test("boolean", tests::is_boolean);
    env.add_test("number", tests::is_number);
    env.add_test("integer", tests::is_integer);
    env.add_test("string", tests::is_string);
    env.add_test("sequence", tests::is_sequence);
    env.add_test("mapping", tests::is_mapping);
    env.add_test("odd", tests::is_odd);
    env.add_test("even", tests::is_even);
    env.add_test("eq", tests::is_eq);
    env.add_test("ne", tests::is_ne);
    env.add_test("in", tests::is_in);
    env.add_test("startingwith", tests::is_startingwith);
    env.add_test("endingwith", tests::is_endingwith);

    env.add_global("range", Value::from_function(functions::range));
    env.add_global("dict", Value::from_function(functions::dict));
    env.add_global("namespace", Value::from_function(functions::namespace));
}

#[cfg(test)]
mod tests_ {
    use super::*;
    use minijinja::context;

    fn render(source: &str) -> Result<String, minijinja::Error> {
        let mut env = Environment::empty();
        install(&mut env);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.render_str(
            source,
            context! { name => "Ab c", n => 3.6, xs => vec![3, 1, 2], m => context!{ b => 2, a => 1 } },
        )
    }

    #[test]
    fn every_listed_name_is_registered() {
        use minijinja::ErrorKind::{UnknownFilter, UnknownFunction, UnknownTest};
        let mut env = Environment::empty();
        install(&mut env);
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
        for f in FUNCTIONS {
            assert_ne!(
                kind(format!("{{{{ {f}() }}}}")),
                Some(UnknownFunction),
                "function {f}"
            );
        }
        assert_eq!(kind("{{ 1 | pprint }}".into()), Some(UnknownFilter));
        assert_eq!(kind("{{ 1 is divisibleby(1) }}".into()), Some(UnknownTest));
    }

    #[test]
    fn the_vocabulary_behaves_like_jinja() {
        let cases = [
            ("{{ missing | default('x') }}", "x"),
            ("{{ name | lower }}|{{ name | upper }}", "ab c|AB C"),
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
        ];
        for (src, want) in cases {
            assert_eq!(render(src).unwrap(), want, "{src}");
        }
    }

    #[test]
    fn names_outside_the_vocabulary_are_errors() {
        let err = render("{{ name | pprint }}").unwrap_err();
        assert!(err.to_string().contains("unknown filter"), "{err}");
        let err = render("{{ debug() }}").unwrap_err();
        assert!(err.to_string().contains("debug"), "{err}");
        // Each file is one template: no includes, imports or inheritance (minijinja without
        // `multi_template`, 31 KB less in the filter).
        for statement in [
            "{% include 'x' %}",
            "{% extends 'x' %}",
            "{% import 'x' as y %}",
        ] {
            assert!(render(statement).is_err(), "{statement}");
        }
    }
}
