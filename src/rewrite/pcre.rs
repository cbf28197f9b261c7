//! nginx's regexes are PCRE2 in byte mode; this engine runs them on the `regex-lite` crate
//! (small enough for the proxy-wasm filter's size budget). The two agree on the constructs
//! rewrite rules use, but not on all syntax, so every pattern is *translated*, never passed
//! through: each literal byte becomes `\xHH` (so `[é]` is two bytes, as in PCRE, and a literal
//! `<` never turns into the crate's `\<` word boundary), `$` becomes "end, or before a final
//! newline" as in PCRE, and whatever the crate cannot express (lookaround, backreferences,
//! atomic groups, possessive quantifiers, recursion, `\K`, …) is refused with a reason, so a
//! rule file that loads behaves as nginx would.
//!
//! `regex-lite` matches `&str` only. Byte semantics are kept by reading every byte as the
//! character of the same number (Latin-1: byte `0xE9` is `U+00E9`) on both sides: the
//! translated pattern names bytes as `\xHH`, which the crate reads as `U+00HH`, and
//! [`ByteRegex`] maps the subject the same way. Its classes (`\d`, `\w`, `\s`, POSIX
//! classes) and case folding are ASCII-only, as PCRE's default tables are in byte mode, so a
//! byte matches exactly when its character does.

use std::borrow::Cow;
use std::fmt::Write as _;

use regex_lite::RegexBuilder;

/// A compiled rule regex that matches byte strings as PCRE does in byte mode.
#[derive(Clone, Debug)]
pub(crate) struct ByteRegex(regex_lite::Regex);

impl ByteRegex {
    /// Whether the regex matches anywhere in `subject`.
    pub fn is_match(&self, subject: &[u8]) -> bool {
        self.0.is_match(&latin1(subject))
    }

    /// The groups of the first match (group 0 is the whole match), as slices of `subject`;
    /// `None` for a group that did not take part.
    pub fn captures<'s>(&self, subject: &'s [u8]) -> Option<Vec<Option<&'s [u8]>>> {
        let text = latin1(subject);
        let caps = self.0.captures(&text)?;
        // A character of the Latin-1 text is one byte of the subject; only U+0080..U+00FF
        // take two bytes in the text (a lead byte 0xC2/0xC3 and a continuation byte).
        let at = |offset: usize| match &text {
            Cow::Borrowed(_) => offset,
            Cow::Owned(t) => {
                offset
                    - t.as_bytes()
                        .get(..offset)
                        .map_or(0, |b| b.iter().filter(|&&c| c >= 0xC0).count())
            }
        };
        Some(
            caps.iter()
                .map(|m| m.and_then(|m| subject.get(at(m.start())..at(m.end()))))
                .collect(),
        )
    }
}

/// `bytes` with every byte read as the character of the same number.
fn latin1(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(ascii) if bytes.is_ascii() => Cow::Borrowed(ascii),
        _ => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// Compiles an nginx (PCRE) regex; `caseless` is the `~*` of a location.
pub(crate) fn compile(pattern: &str, caseless: bool) -> Result<ByteRegex, String> {
    let translated = translate(pattern.as_bytes())?;
    RegexBuilder::new(&translated)
        .case_insensitive(caseless)
        .size_limit(1 << 20)
        .build()
        .map(ByteRegex)
        .map_err(|e| {
            let detail = e.to_string();
            if detail.contains("size limit") || detail.contains("too many states") {
                format!("regex \"{pattern}\" is too large")
            } else {
                format!("regex \"{pattern}\" is invalid: {detail}")
            }
        })
}

/// What PCRE's `$` means outside multi-line mode: the very end, or just before a final `\n`.
const DOLLAR: &str = r"(?:\n?\z)";

fn translate(p: &[u8]) -> Result<String, String> {
    let mut out = String::with_capacity(p.len() * 2);
    let mut i = 0;
    while i < p.len() {
        let c = p[i];
        i += 1;
        match c {
            b'\\' => i = escape(p, i, &mut out, false)?,
            b'[' => i = class(p, i, &mut out)?,
            b'(' => i = group(p, i, &mut out)?,
            b')' | b'|' | b'.' | b'^' => out.push(c as char),
            b'$' => out.push_str(DOLLAR),
            b'*' | b'+' | b'?' => {
                out.push(c as char);
                i = after_quantifier(p, i, &mut out)?;
            }
            b'{' => match quantifier_len(&p[i..]) {
                Some(n) => {
                    out.push('{');
                    out.push_str(std::str::from_utf8(&p[i..i + n]).unwrap_or_default());
                    i += n;
                    i = after_quantifier(p, i, &mut out)?;
                }
                None => byte(&mut out, c),
            },
            _ => byte(&mut out, c),
        }
    }
    Ok(out)
}

/// A literal byte, in a form neither engine can misread.
fn byte(out: &mut String, b: u8) {
    if b.is_ascii_alphanumeric() || b == b'/' || b == b'_' {
        out.push(b as char);
    } else {
        let _ = write!(out, "\\x{b:02X}");
    }
}

/// After `*`, `+`, `?` or `{…}`: a lazy `?` is kept, a possessive `+` refused.
fn after_quantifier(p: &[u8], i: usize, out: &mut String) -> Result<usize, String> {
    match p.get(i) {
        Some(b'?') => {
            out.push('?');
            Ok(i + 1)
        }
        Some(b'+') => Err("possessive quantifiers (`*+`, `++`, `?+`) are not supported".into()),
        _ => Ok(i),
    }
}

/// If `rest` (just after `{`) is a PCRE quantifier body `n}`, `n,}` or `n,m}`, its length.
/// Anything else (PCRE2 10.42 reads `{,m}` and `{x}` literally) is `None`.
fn quantifier_len(rest: &[u8]) -> Option<usize> {
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let n = digits(rest);
    if n == 0 {
        return None;
    }
    match rest.get(n)? {
        b'}' => Some(n + 1),
        b',' => {
            let m = digits(&rest[n + 1..]);
            (rest.get(n + 1 + m)? == &b'}').then_some(n + m + 2)
        }
        _ => None,
    }
}

/// A `\` sequence at `p[i..]` (just after the backslash). Returns the index after it.
fn escape(p: &[u8], i: usize, out: &mut String, in_class: bool) -> Result<usize, String> {
    let Some(&c) = p.get(i) else {
        return Err("the regex ends with a lone '\\'".into());
    };
    let i = i + 1;
    match c {
        b'd' | b'D' | b'w' | b'W' | b's' | b'S' => {
            out.push('\\');
            out.push(c as char);
        }
        b'b' if in_class => byte(out, 0x08),
        b'b' | b'B' if !in_class => {
            if p.get(i) == Some(&b'{') {
                return Err("`\\b{…}` is not supported".into());
            }
            out.push('\\');
            out.push(c as char);
        }
        b'A' if !in_class => out.push_str(r"\A"),
        b'z' if !in_class => out.push_str(r"\z"),
        b'Z' if !in_class => out.push_str(DOLLAR),
        b'n' => byte(out, b'\n'),
        b't' => byte(out, b'\t'),
        b'r' => byte(out, b'\r'),
        b'f' => byte(out, 0x0c),
        b'e' => byte(out, 0x1b),
        b'a' => byte(out, 0x07),
        b'x' => return hex_escape(p, i, out),
        b'Q' if !in_class => return quoted_literal(p, i, out),
        b'E' if !in_class => {} // a stray \E is ignored by PCRE
        b'1'..=b'9' if !in_class => {
            return Err(format!(
                "backreference \\{} is not supported by the regex engine",
                c as char
            ))
        }
        b'g' | b'k' if !in_class => {
            return Err("backreferences are not supported by the regex engine".into())
        }
        b'K' => return Err("\\K is not supported by the regex engine".into()),
        c if c.is_ascii_alphanumeric() => {
            return Err(format!("the escape \\{} is not supported", c as char));
        }
        // A backslash before punctuation, space or a non-ASCII byte is that byte.
        c => byte(out, c),
    }
    Ok(i)
}

/// `\xH`, `\xHH` or `\x{H…}` (at most 0xFF in byte mode).
fn hex_escape(p: &[u8], mut i: usize, out: &mut String) -> Result<usize, String> {
    let mut value: u32 = 0;
    if p.get(i) == Some(&b'{') {
        let close = p[i..]
            .iter()
            .position(|&b| b == b'}')
            .ok_or("unterminated \\x{…}")?;
        let digits = &p[i + 1..i + close];
        if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err("bad \\x{…} escape".into());
        }
        for &d in digits {
            value = value * 16 + u32::from(hex_value(d));
        }
        i += close + 1;
    } else {
        for _ in 0..2 {
            match p.get(i) {
                Some(&d) if d.is_ascii_hexdigit() => {
                    value = value * 16 + u32::from(hex_value(d));
                    i += 1;
                }
                _ => break,
            }
        }
    }
    let b = u8::try_from(value).map_err(|_| {
        "a character code above \\xFF needs UTF-8 mode, which nginx does not use".to_owned()
    })?;
    byte(out, b);
    Ok(i)
}

fn hex_value(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        _ => (d | 0x20).wrapping_sub(b'a').wrapping_add(10),
    }
}

/// `\Q…\E`: everything up to `\E` (or the end) is literal.
fn quoted_literal(p: &[u8], i: usize, out: &mut String) -> Result<usize, String> {
    let end = p[i..]
        .windows(2)
        .position(|w| w == b"\\E")
        .map_or(p.len(), |n| i + n);
    for &b in &p[i..end] {
        byte(out, b);
    }
    Ok((end + 2).min(p.len()))
}

/// A `[…]` class starting at `p[i..]` (just after `[`).
fn class(p: &[u8], mut i: usize, out: &mut String) -> Result<usize, String> {
    out.push('[');
    if p.get(i) == Some(&b'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let Some(&c) = p.get(i) else {
            return Err("missing terminating ] for a character class".into());
        };
        i += 1;
        match c {
            b']' if !first => {
                out.push(']');
                return Ok(i);
            }
            b'[' if p.get(i) == Some(&b':') => {
                let close = p[i..]
                    .windows(2)
                    .position(|w| w == b":]")
                    .ok_or("unterminated POSIX class")?;
                let name = &p[i + 1..i + close];
                let known = [
                    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower",
                    "print", "punct", "space", "upper", "word", "xdigit",
                ];
                let bare = name.strip_prefix(b"^").unwrap_or(name);
                if !known.iter().any(|k| k.as_bytes() == bare) {
                    return Err(format!(
                        "unknown POSIX class [:{}:]",
                        String::from_utf8_lossy(name)
                    ));
                }
                out.push_str("[:");
                out.push_str(std::str::from_utf8(name).unwrap_or_default());
                out.push_str(":]");
                i += close + 2;
            }
            b'\\' => i = escape(p, i, out, true)?,
            b'-' => {
                // A range dash between two members, or a literal one at either end.
                let at_end = p.get(i) == Some(&b']');
                if first || at_end {
                    byte(out, c);
                } else {
                    out.push('-');
                }
            }
            _ => byte(out, c),
        }
        first = false;
    }
}

/// A group opening at `p[i..]` (just after `(`).
fn group(p: &[u8], i: usize, out: &mut String) -> Result<usize, String> {
    if p.get(i) == Some(&b'*') {
        return Err("PCRE verbs such as (*UTF) are not supported".into());
    }
    if p.get(i) != Some(&b'?') {
        out.push('(');
        return Ok(i);
    }
    let rest = &p[i + 1..];
    let refuse = |what: &str| Err(format!("{what} is not supported by the regex engine"));
    match rest.first().copied() {
        Some(b':') => {
            out.push_str("(?:");
            Ok(i + 2)
        }
        Some(b'=' | b'!') => refuse("lookahead"),
        Some(b'<') if matches!(rest.get(1), Some(b'=' | b'!')) => refuse("lookbehind"),
        Some(b'>') => refuse("an atomic group"),
        Some(b'|') => refuse("a branch-reset group"),
        Some(b'#') => {
            // A comment group: dropped.
            let close = rest
                .iter()
                .position(|&b| b == b')')
                .ok_or("unterminated (?# comment")?;
            Ok(i + 1 + close + 1)
        }
        Some(b'<' | b'\'') | Some(b'P') if named_group(rest).is_some() => {
            let (name, len) = named_group(rest).unwrap_or_default();
            out.push_str("(?P<");
            out.push_str(&name);
            out.push('>');
            Ok(i + 1 + len)
        }
        Some(b'P' | b'&' | b'R' | b'(' | b'C' | b'0'..=b'9' | b'+' | b'-')
            if !rest.first().is_some_and(|&b| {
                b == b'-' && rest.get(1).is_some_and(u8::is_ascii_alphabetic)
            }) =>
        {
            refuse("recursion, conditionals and callouts")
        }
        _ => flags(rest, i + 1, out),
    }
}

/// `(?<name>`, `(?'name'` or `(?P<name>`: the name and the length of what follows `(?`.
fn named_group(rest: &[u8]) -> Option<(String, usize)> {
    let (skip, close) = match rest {
        [b'<', ..] => (1, b'>'),
        [b'\'', ..] => (1, b'\''),
        [b'P', b'<', ..] => (2, b'>'),
        _ => return None,
    };
    let end = rest[skip..].iter().position(|&b| b == close)?;
    let name = &rest[skip..skip + end];
    let ok = !name.is_empty()
        && !name[0].is_ascii_digit()
        && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    ok.then(|| (String::from_utf8_lossy(name).into_owned(), skip + end + 1))
}

/// `(?flags)` or `(?flags:`; only `i`, `s` and `U`, which mean the same in both engines.
fn flags(rest: &[u8], at: usize, out: &mut String) -> Result<usize, String> {
    let end = rest
        .iter()
        .position(|&b| b == b')' || b == b':')
        .ok_or("unterminated (? group")?;
    let spec = &rest[..end];
    if spec.is_empty() || !spec.iter().all(|b| matches!(b, b'i' | b's' | b'U' | b'-')) {
        return Err(format!(
            "the inline flags (?{}) are not supported (only i, s and U are)",
            String::from_utf8_lossy(spec)
        ));
    }
    out.push_str("(?");
    out.push_str(std::str::from_utf8(spec).unwrap_or_default());
    out.push(rest[end] as char);
    Ok(at + end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, subject: &[u8]) -> Option<Vec<Option<Vec<u8>>>> {
        let re = compile(pattern, false).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        re.captures(subject)
            .map(|c| c.into_iter().map(|g| g.map(<[u8]>::to_vec)).collect())
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
    }

    #[test]
    fn dollar_also_matches_before_a_final_newline() {
        assert!(m("^/a$", b"/a\n").is_some());
        assert!(m("^/a$", b"/a\n\n").is_none());
        assert!(m(r"^/a\Z", b"/a\n").is_some());
        assert!(m(r"^/a\z", b"/a\n").is_none());
    }

    #[test]
    fn literals_are_bytes_as_in_pcre() {
        assert!(m("^/[é]$", b"/\xa9").is_some());
        assert!(m("^/é$", b"/\xc3\xa9").is_some());
        assert!(m(r"^/a\<b\>$", b"/a<b>").is_some());
        assert!(m(r"^/a{x}{,2}$", b"/a{x}{,2}").is_some());
        assert!(m(r"^/[]a-]+$", b"/]a-").is_some());
        assert!(m(r"^/[a&&b]$", b"/&").is_some());
        assert!(m(r"^/\Q.*\E$", b"/.*").is_some());
        assert!(m(r"^/\x41\x{42}$", b"/AB").is_some());
        assert!(m(r"^.$", b"\xff").is_some());
        assert!(m(r"^/[[:xdigit:]]{2}$", b"/aF").is_some());
        assert!(m(r"(?i)^/ABC$", b"/abc").is_some());
        assert!(m(r"^/a(?#note)b$", b"/ab").is_some());
        assert!(compile("^/abc$", true).unwrap().is_match(b"/ABC"));
    }

    #[test]
    fn refuses_what_the_crate_cannot_express() {
        for bad in [
            r"^/(?=a)",
            r"^/(?!a)",
            r"(?<=a)b",
            r"(?<!a)b",
            r"(a)\1",
            r"(?<n>a)\k<n>",
            r"a*+",
            r"a++",
            r"(?>a)",
            r"(?|a)",
            r"(?R)",
            r"(?1)",
            r"\K",
            r"\h",
            r"(*UTF)a",
            r"(?x)a b",
            r"(?m)^a",
            r"[",
            r"\",
            r"\x{100}",
            r"(?P=n)",
        ] {
            assert!(compile(bad, false).is_err(), "{bad} should be refused");
        }
    }
}
