//! nginx's regexes are PCRE2 (10.42 in Debian 12) in byte mode, without UTF or UCP; this module
//! runs them on `fancy-regex` in its ASCII bytes mode, which matches `&[u8]` byte by byte with
//! ASCII-only classes, case folding and word boundaries, as PCRE does in byte mode.
//!
//! `fancy-regex` was chosen over `regex` (and the `regex-lite` used before) because rules are
//! written for a backtracking engine: it runs every pattern it can on the `regex` crate (lazy
//! DFA, literal prefilters, linear time) and only the parts that need backtracking
//! (lookaround, backreferences, atomic groups, possessive quantifiers) on its own backtracking
//! VM, with a step limit. PCRE2 itself (the `pcre2` crate) does not build for wasm. A pattern
//! with none of those parts runs on that engine (`regex-automata`'s meta engine) directly
//! ([`automaton`]): same answers, groups written into a buffer the caller keeps, and the text
//! the URI prefilter compiles.
//!
//! The syntaxes differ, so every pattern is *translated* by a recursive-descent reader of PCRE
//! syntax, never passed through: each literal byte becomes `\xHH` (so `[é]` is two bytes, a
//! literal `<` never becomes a word boundary, `&&` in a class is not a set operation), classes
//! are rebuilt member by member, `(?m)` and `(?x)` are applied here, and `$` is compiled twice:
//! as `\z` for subjects that do not end in a newline (where the two are the same) and as the
//! lookahead `(?=\n?\z)` for subjects that do, so the common case stays on the fast engine and
//! the rare one is still exactly PCRE's. What cannot be given PCRE's answer is refused with a
//! reason, so a rule file that loads behaves as nginx would:
//!
//! * recursion, subroutine calls, conditionals, callouts, verbs (`(*UTF)`), branch-reset
//!   groups, `\p{…}`, `\X`, `\R` inside classes, code points above `\xFF`;
//! * a repeated group that can match the empty string and holds a capture (`(a|)*`): PCRE
//!   leaves the capture of the last, empty iteration, the `regex` crate the last non-empty one;
//! * ambiguous `\10`-style escapes (PCRE reads them as backreference or octal depending on the
//!   number of groups).

mod automaton;
mod translate;

use fancy_regex::{BytesMode, RegexBuilder};

pub(crate) use automaton::syntax_config;

/// The most backtracking steps one match may take before giving up (nginx gives up with a 500
/// when PCRE hits its match limit; so does provedge, at this bound).
const BACKTRACK_LIMIT: usize = 1_000_000;
/// Compiled-program bound for the `regex` crate part of one pattern.
pub(crate) const SIZE_LIMIT: usize = 1 << 20;
/// Lazy-DFA cache bound per pattern (memory per rule, whatever the requests).
const DFA_LIMIT: usize = 256 << 10;

/// A compiled rule regex that matches byte strings as PCRE does in byte mode.
#[derive(Clone, Debug)]
pub(crate) struct ByteRegex {
    /// `$` as `\z`: exact for every subject that does not end in `\n`.
    plain: Engine,
    /// `$` as "end, or before a final `\n`", for subjects ending in `\n`; `None` when the
    /// pattern has no `$` (then `plain` is exact for every subject).
    newline: Option<fancy_regex::Regex>,
    /// Named groups: (group number, name).
    names: Vec<(usize, String)>,
}

/// What runs a pattern.
#[derive(Clone, Debug)]
enum Engine {
    /// No backtracking construct: the meta engine, directly (linear time, never gives up).
    Automaton(automaton::Automaton),
    /// Lookaround, backreferences, atomic groups: `fancy-regex`'s backtracking VM for those
    /// parts (with its step limit), the meta engine for the rest.
    Fancy(fancy_regex::Regex),
}

/// The backtracking VM gave up (nginx: PCRE's match limit, answered with 500).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Exhausted;

/// The groups of a match as byte ranges of the subject: index 0 is the whole match; `None`
/// for a group that did not take part. Trailing groups that did not take part are dropped,
/// as nginx counts only up to the highest group set (`rc` of `pcre2_match`).
pub(crate) type Groups = Vec<Option<(usize, usize)>>;

impl ByteRegex {
    /// The engine that is exact for `subject`: the newline variant for a subject ending in
    /// `\n` when the pattern has a `$`.
    fn engine(&self, subject: &[u8]) -> Result<&automaton::Automaton, &fancy_regex::Regex> {
        match (&self.newline, &self.plain) {
            (Some(nl), _) if subject.last() == Some(&b'\n') => Err(nl),
            (_, Engine::Automaton(a)) => Ok(a),
            (_, Engine::Fancy(f)) => Err(f),
        }
    }

    /// Whether matching `subject` runs on the meta engine alone, which cannot give up (so a
    /// match known to exist can have its groups read later, and cannot fail then).
    pub fn is_automaton_for(&self, subject: &[u8]) -> bool {
        self.engine(subject).is_ok()
    }

    /// The pattern text the URI prefilter compiles: `Some` when the pattern runs on the meta
    /// engine, where it is exact for subjects that do not end in `\n`.
    pub fn prefilter_source(&self) -> Option<&str> {
        match &self.plain {
            Engine::Automaton(a) => Some(a.source()),
            Engine::Fancy(_) => None,
        }
    }

    /// Writes the groups of the first match into `groups` (cleared first); `false` without a
    /// match (then `groups` is empty).
    pub fn captures_into(&self, subject: &[u8], groups: &mut Groups) -> Result<bool, Exhausted> {
        let fancy = match self.engine(subject) {
            Ok(a) => return Ok(a.captures_into(subject, groups)),
            Err(fancy) => fancy,
        };
        groups.clear();
        let Some(caps) = fancy.captures(subject).map_err(|_| Exhausted)? else {
            return Ok(false);
        };
        groups.extend((0..caps.len()).map(|i| caps.get(i).map(|m| (m.start(), m.end()))));
        while groups.len() > 1 && groups.last() == Some(&None) {
            groups.pop();
        }
        Ok(true)
    }

    /// The groups of the first match, or `None` without a match.
    #[cfg(test)]
    pub fn captures(&self, subject: &[u8]) -> Result<Option<Groups>, Exhausted> {
        let mut groups = Groups::new();
        Ok(self.captures_into(subject, &mut groups)?.then_some(groups))
    }

    /// The named groups, as (group number, name).
    pub fn names(&self) -> &[(usize, String)] {
        &self.names
    }
}

#[cfg(test)]
thread_local! {
    /// Tests: compile every pattern for `fancy-regex` alone, as before the meta engine was used
    /// directly (then no pattern takes part in a prefilter either): the reference the fast
    /// paths are compared with.
    pub(crate) static FANCY_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Compiles an nginx (PCRE) regex; `caseless` is the `~*` of a location or an `if`.
pub(crate) fn compile(pattern: &str, caseless: bool) -> Result<ByteRegex, String> {
    #[cfg(test)]
    let automaton = !FANCY_ONLY.with(|f| f.get());
    #[cfg(not(test))]
    let automaton = true;
    compile_with(pattern, caseless, automaton)
}

/// [`compile`], with the meta engine allowed or not (the tests compare the two).
fn compile_with(pattern: &str, caseless: bool, automaton: bool) -> Result<ByteRegex, String> {
    let t = translate::translate(pattern.as_bytes())
        .map_err(|reason| format!("regex \"{pattern}\": {reason}"))?;
    let build = |text: String| {
        let mut b = RegexBuilder::new(&text);
        b.bytes_mode(BytesMode::Ascii)
            .case_insensitive(caseless)
            .backtrack_limit(BACKTRACK_LIMIT)
            .delegate_size_limit(SIZE_LIMIT)
            .delegate_dfa_size_limit(DFA_LIMIT);
        b.build().map_err(|e| {
            let detail = e.to_string();
            if detail.contains("size limit") || detail.contains("too big") {
                format!("regex \"{pattern}\" is too large")
            } else {
                format!("regex \"{pattern}\" is not supported: {detail}")
            }
        })
    };
    let text = t.text.replace(translate::DOLLAR_MARK, r"\z");
    let automaton = if t.backtracking || !automaton {
        None
    } else {
        automaton::Automaton::build(&text, caseless, t.groups)
    };
    let plain = match automaton {
        Some(a) => Engine::Automaton(a),
        None => Engine::Fancy(build(text)?),
    };
    let newline = if t.dollar {
        Some(build(t.text.replace(translate::DOLLAR_MARK, r"(?=\n?\z)"))?)
    } else {
        None
    };
    Ok(ByteRegex {
        plain,
        newline,
        names: t.names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, subject: &[u8]) -> Option<Vec<Option<Vec<u8>>>> {
        let re = compile(pattern, false).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        re.captures(subject).expect("not exhausted").map(|c| {
            c.into_iter()
                .map(|g| g.map(|(s, e)| subject[s..e].to_vec()))
                .collect()
        })
    }

    #[test]
    fn seed_patterns_compile_and_match() {
        let caps = m(
            r"^.*/provision/([A-Fa-f0-9]{12})(\.(xml|cfg))?$",
            b"/x/provision/0004F2AABBCC.cfg",
        )
        .unwrap();
        assert_eq!(caps[1].as_deref(), Some(&b"0004F2AABBCC"[..]));
        assert_eq!(caps[3].as_deref(), Some(&b"cfg"[..]));
        assert!(m(r"^.*/(y[0-9]{12})(\.cfg)?$", b"/y000000000066.cfg").is_some());
        assert!(m(r"^.*/provision/(.*).(png|jpg|gif)", b"/provision/a/b.png").is_some());
        assert!(m(r"^.*(provision|xml_cdr|firmware).*$", b"/app/xml_cdr/x").is_some());
    }

    #[test]
    fn dollar_is_pcres_dollar() {
        assert!(m("^/a$", b"/a\n").is_some());
        assert!(m("^/a$", b"/a\n\n").is_none());
        assert!(m(r"^/a\Z", b"/a\n").is_some());
        assert!(m(r"^/a\z", b"/a\n").is_none());
        // The newline stays outside a group holding the `$`, as in PCRE.
        assert_eq!(m("(a$)", b"a\n").unwrap()[1].as_deref(), Some(&b"a"[..]));
        assert!(m("(?m)^b$", b"a\nb\nc").is_some());
        assert!(m("(?m)^$", b"a\n").is_none());
    }

    #[test]
    fn literals_and_classes_are_bytes_as_in_pcre() {
        assert!(m("^/[é]$", b"/\xa9").is_some());
        assert!(m("^/é$", b"/\xc3\xa9").is_some());
        assert!(m(r"^/a\<b\>$", b"/a<b>").is_some());
        assert!(m(r"^/a{x}{,2}$", b"/a{x}{,2}").is_some());
        assert!(m(r"^/[]a-]+$", b"/]a-").is_some());
        assert!(m(r"^/[a&&b]$", b"/&").is_some());
        assert!(m(r"^/[\d-z]+$", b"/1-z").is_some());
        assert!(m(r"^/[a-c[]+$", b"/b[").is_some());
        assert!(m(r"^/\Q.*\E$", b"/.*").is_some());
        assert!(m(r"^/\x41\x{42}\0103\o{104}\cE$", b"/AB\x083D\x05").is_some());
        assert!(m(r"^.$", b"\xff").is_some());
        assert!(m(r"^.$", b"\n").is_none());
        assert!(m(r"^/[[:xdigit:]]{2}$", b"/aF").is_some());
        assert!(m(r"^\s\h\v$", b"\x0b\xa0\x85").is_some());
        assert!(m(r"^\w$", b"\xe9").is_none());
        assert!(m(r"\bx\b", b"\xe9x\xe9").is_some());
        assert!(m(r"(?i)^/ABC$", b"/abc").is_some());
        assert!(m(r"(?i)^\xe9$", b"\xc9").is_none());
        assert!(m(r"^/a(?#note)b$", b"/ab").is_some());
        assert!(m("(?x) ^/a  b # comment\n $", b"/ab").is_some());
        assert!(m(r"(?x)^/a\ b$", b"/a b").is_some());
        assert!(compile("^/abc$", true)
            .unwrap()
            .captures(b"/ABC")
            .unwrap()
            .is_some());
    }

    #[test]
    fn backtracking_constructs_work() {
        assert!(m(r"^/(a)\1$", b"/aa").is_some());
        assert!(m(r"^/(?<n>a)\k<n>(?P=n)\g{1}\g{-1}$", b"/aaaaa").is_some());
        assert!(m(r"(?<=/x)y", b"/xy").is_some());
        assert!(m(r"(?<=a|bc)d", b"bcd").is_some());
        assert!(m(r"^/(?!admin)", b"/admin").is_none());
        assert!(m(r"^a*+a", b"aaa").is_none());
        assert!(m(r"^(?>a+)b", b"aab").is_some());
        assert_eq!(m(r"(?U)a+", b"aaa").unwrap()[0].as_deref(), Some(&b"a"[..]));
        let named = compile(r"^/(?<mac>[0-9a-f]{12})(?P<ext>\.cfg)?$", false).unwrap();
        assert_eq!(named.names(), &[(1, "mac".into()), (2, "ext".into())]);
    }

    #[test]
    fn unset_trailing_groups_are_not_counted() {
        let re = compile("(a)|(b)", false).unwrap();
        assert_eq!(re.captures(b"a").unwrap().unwrap().len(), 2);
        assert_eq!(re.captures(b"b").unwrap().unwrap().len(), 3);
    }

    #[test]
    fn refuses_what_cannot_be_given_pcres_answer() {
        for bad in [
            r"(a|)*",
            r"(a?)+",
            r"(?R)",
            r"(?1)",
            r"(?(1)a|b)",
            r"(?|a)",
            r"\p{L}",
            r"(*UTF)a",
            r"(?J)a",
            r"[",
            r"\",
            r"(",
            r")",
            r"\x{100}",
            r"\o}",
            r"\o{}",
            r"\1",
            r"(a)\12",
            r"*a",
            r"a{3,2}",
            r"a{70000}",
            r"\k<nope>",
        ] {
            assert!(compile(bad, false).is_err(), "{bad} should be refused");
        }
    }

    /// The meta engine must give exactly what `fancy-regex` gives (it is the engine
    /// `fancy-regex` delegates to, but reads the translation with `regex-syntax` directly):
    /// random patterns over PCRE's syntax, both engines, the same groups on every subject.
    #[test]
    fn meta_engine_agrees_with_fancy_regex() {
        const ALPHABET: &[&str] = &[
            "(",
            ")",
            "[",
            "]",
            "{2}",
            "{1,3}",
            "{0}",
            "\\",
            "^",
            "$",
            "|",
            "?",
            "*",
            "+",
            ".",
            "-",
            "a",
            "A",
            "b",
            "1",
            "/",
            "x",
            "(?:",
            "(?<n>",
            "(?i)",
            "(?-i)",
            "(?i:",
            "(?s)",
            "(?U)",
            "(?x)",
            "\\d",
            "\\w",
            "\\W",
            "\\s",
            "\\b",
            "\\B",
            "\\Z",
            "\\z",
            "\\A",
            "[^a]",
            "[a-c]",
            "[[:alpha:]]",
            "\\x41",
            "\\.",
            ".*",
            ".+?",
            "é",
            "\n",
            "\\Q.*\\E",
            "(?=a)",
            "\\1",
            "(?>a)",
            "a++",
        ];
        const SUBJECTS: &[&[u8]] = &[
            b"",
            b"/a/a/a",
            b"a/ab\n/a",
            b"/provision/a/provision/1",
            b"a",
            b"A",
            b"/a1x",
            b"aaa",
            b"abAB",
            b"/provision/aBc.cfg",
            b"a\nb",
            b"a\n",
            b"\xe9x",
            b"x\xc3\xa9",
            b"A1_X-b/",
            b"{2}",
            b"ba1/x.",
            b"  a",
        ];
        let mut rng = crate::rewrite::rewrite_gen::Rng::new(0x9E37_79B9_7F4A_7C15);
        let mut next = || rng.next();
        let (mut on_meta, mut compared) = (0, 0);
        for _ in 0..6_000 {
            // A third start as FusionPBX's rules do, `^.*` or `^(.*)` (read from the tail).
            const STARTS: &[&str] = &["^.*", "^(.*)", "^.*/", "(?s)^.*", "^.*a", "^(.*)/a"];
            let mut pattern = match next() % 9 {
                n @ 0..=5 => STARTS[n as usize].to_owned(),
                _ => String::new(),
            };
            for _ in 0..(1 + next() % 10) {
                pattern.push_str(ALPHABET[(next() % ALPHABET.len() as u64) as usize]);
            }
            let caseless = next() % 3 == 0;
            let both = compile_with(&pattern, caseless, true);
            let fancy = compile_with(&pattern, caseless, false);
            let (both, fancy) = match (both, fancy) {
                (Ok(b), Ok(f)) => (b, f),
                (Err(_), Err(_)) => continue,
                // A repeated empty group (`(?:)+`): PCRE and the meta engine take it,
                // `fancy-regex`'s parser does not.
                (Ok(_), Err(e)) if e.contains("Target of repeat operator is invalid") => continue,
                (b, f) => panic!("{pattern:?}: loads {:?} vs {:?}", b.err(), f.err()),
            };
            if both.prefilter_source().is_some() {
                on_meta += 1;
            }
            for subject in SUBJECTS {
                compared += 1;
                assert_eq!(
                    both.captures(subject),
                    fancy.captures(subject),
                    "{pattern:?} (caseless {caseless}) on {:?}",
                    String::from_utf8_lossy(subject)
                );
            }
        }
        assert!(on_meta > 1_000, "{on_meta} patterns on the meta engine");
        assert!(compared > 10_000);
    }

    /// Loading runs on untrusted configuration: no pattern may panic the translator or the
    /// engine, valid or not.
    #[test]
    fn arbitrary_patterns_never_panic() {
        const ALPHABET: &[&str] = &[
            "(", ")", "[", "]", "{", "}", "\\", "^", "$", "|", "?", "*", "+", ".", "-", ",", "a",
            "1", "0", "x", "{2}", "{1,", "(?", "(?<", "n>", "'", ":", "=", "!", "#", "P", "k", "g",
            "Q", "E", "\n", " ", "é", "[:", ":]", "^~", "\\x", "\\1", "(?i)", "(?x)", "(?m)",
            "\\Z", "\\b",
        ];
        let mut rng = crate::rewrite::rewrite_gen::Rng::new(0x2545_F491_4F6C_DD1D);
        for _ in 0..3_000 {
            let mut pattern = String::new();
            for _ in 0..rng.below(12) {
                pattern.push_str(rng.pick(ALPHABET));
            }
            if let Ok(re) = compile(&pattern, rng.chance(50)) {
                let _ = re.captures(b"/a1x\n");
                let _ = re.captures(b"");
            }
        }
    }
}
