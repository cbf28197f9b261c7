//! The PCRE → fancy-regex translation: a recursive-descent reader of PCRE2 syntax that writes
//! the same pattern for `fancy-regex`'s ASCII bytes mode, byte for byte, and refuses what the
//! engine would not answer as PCRE does (see the parent module).

use std::fmt::Write as _;

/// PCRE2's own bound on `{n,m}` counts.
const MAX_REPEAT: u32 = 65_535;

/// A translated pattern.
pub(super) struct Translation {
    /// The pattern for fancy-regex, with [`DOLLAR_MARK`] where PCRE's `$` stands.
    pub text: String,
    /// A non-multiline `$` (or `\Z`) was written.
    pub dollar: bool,
    /// Named groups: (group number, name).
    pub names: Vec<(usize, String)>,
    /// How many capturing groups the pattern has.
    pub groups: usize,
    /// The translation uses a construct only a backtracking engine has (lookaround,
    /// backreferences, atomic groups, possessive quantifiers, `\K`): it must run on
    /// `fancy-regex`.
    pub backtracking: bool,
}

/// Translates a PCRE pattern, or says why it cannot be.
pub(super) fn translate(p: &[u8]) -> Result<Translation, String> {
    let mut t = Translator {
        p,
        i: 0,
        out: String::with_capacity(p.len() * 2),
        multiline: false,
        extended: false,
        total_groups: count_groups(p),
        opened: 0,
        names: Vec::new(),
        dollar: false,
        quoted: false,
        backtracking: false,
    };
    t.alternation(0)?;
    if t.i < p.len() {
        return Err("unmatched closing parenthesis".into());
    }
    Ok(Translation {
        text: t.out,
        dollar: t.dollar,
        names: t.names,
        groups: t.opened,
        backtracking: t.backtracking,
    })
}

/// Stands for PCRE's non-multiline `$` in the translation until the two variants are made (the
/// translation never holds a raw control character otherwise).
pub(super) const DOLLAR_MARK: char = '\u{1}';

/// What a translated piece can do, for the checks that need the pattern's structure.
#[derive(Clone, Copy, Default)]
struct Info {
    /// It can match the empty string.
    nullable: bool,
    /// It holds a capturing group.
    captures: bool,
}

struct Translator<'p> {
    p: &'p [u8],
    i: usize,
    out: String,
    /// `(?m)` in force: `^` and `$` work at newlines (rewritten here, exactly).
    multiline: bool,
    /// `(?x)` in force: unescaped whitespace and `#` comments are dropped.
    extended: bool,
    total_groups: usize,
    /// Capturing groups opened so far (for relative backreferences).
    opened: usize,
    names: Vec<(usize, String)>,
    /// A non-multiline `$` (or `\Z`) was written.
    dollar: bool,
    /// Inside `\Q…\E`.
    quoted: bool,
    /// A construct only a backtracking engine has was written.
    backtracking: bool,
}

impl<'p> Translator<'p> {
    fn peek(&self) -> Option<u8> {
        self.p.get(self.i).copied()
    }

    /// The unread pattern. Borrowed from the pattern, not from `self`, so it can be held while
    /// the translation is written.
    fn rest(&self) -> &'p [u8] {
        self.p.get(self.i..).unwrap_or_default()
    }

    /// Alternatives up to a `)` (left unread) or the end. `depth` 0 is the whole pattern.
    fn alternation(&mut self, depth: usize) -> Result<Info, String> {
        let (multiline, extended) = (self.multiline, self.extended);
        let mut info = self.sequence()?;
        while self.peek() == Some(b'|') {
            self.i += 1;
            self.out.push('|');
            let next = self.sequence()?;
            info.nullable |= next.nullable;
            info.captures |= next.captures;
        }
        if depth > 0 {
            // A flag set inside a group ends with it.
            self.multiline = multiline;
            self.extended = extended;
        }
        Ok(info)
    }

    /// Items up to `|`, `)` or the end.
    fn sequence(&mut self) -> Result<Info, String> {
        let mut info = Info {
            nullable: true,
            captures: false,
        };
        loop {
            self.skip_extended();
            match self.peek() {
                None => return Ok(info),
                Some(b'|' | b')') if !self.quoted => return Ok(info),
                _ => {}
            }
            let start = self.out.len();
            let Some(atom) = self.atom()? else { continue };
            let atom = self.quantifier(atom, start)?;
            info.nullable &= atom.nullable;
            info.captures |= atom.captures;
        }
    }

    /// In `(?x)` mode: skips whitespace and `#…` comments.
    fn skip_extended(&mut self) {
        while self.extended && !self.quoted {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') => self.i += 1,
                Some(b'#') => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.i += 1;
                    }
                }
                _ => return,
            }
        }
    }

    /// One item; `None` for something that writes nothing and cannot be quantified (a flag
    /// setting, a comment group).
    fn atom(&mut self) -> Result<Option<Info>, String> {
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        self.i += 1;
        if self.quoted {
            // `\Q…\E`: each byte is its own literal item, so a quantifier takes the last.
            if c == b'\\' && self.peek() == Some(b'E') {
                self.i += 1;
                self.quoted = false;
                return Ok(None);
            }
            byte(&mut self.out, c);
            return Ok(Some(Info::default()));
        }
        if c == b'\\' && matches!(self.peek(), Some(b'Q' | b'E')) {
            self.quoted = self.peek() == Some(b'Q');
            self.i += 1;
            return Ok(None);
        }
        let plain = Info::default();
        let assertion = Info {
            nullable: true,
            captures: false,
        };
        match c {
            b'\\' => self.escape().map(Some),
            b'[' => self.class().map(|()| Some(plain)),
            b'(' => self.group(),
            b'.' => {
                self.out.push('.');
                Ok(Some(plain))
            }
            b'^' => {
                self.backtracking |= self.multiline;
                self.out.push_str(if self.multiline {
                    r"(?:\A|(?<=\n)(?!\z))"
                } else {
                    r"\A"
                });
                Ok(Some(assertion))
            }
            b'$' => {
                self.dollar();
                Ok(Some(assertion))
            }
            b'*' | b'+' | b'?' => Err("a quantifier does not follow a repeatable item".into()),
            b'{' if repeat_len(self.rest()).is_some() => {
                Err("a quantifier does not follow a repeatable item".into())
            }
            _ => {
                byte(&mut self.out, c);
                Ok(Some(plain))
            }
        }
    }

    fn dollar(&mut self) {
        if self.multiline {
            self.backtracking = true;
            self.out.push_str(r"(?=\n|\z)");
        } else {
            self.dollar = true;
            self.out.push(DOLLAR_MARK);
        }
    }

    /// A quantifier after the item written at `out[start..]`, if one follows.
    fn quantifier(&mut self, atom: Info, start: usize) -> Result<Info, String> {
        if self.quoted {
            return Ok(atom);
        }
        self.skip_extended();
        let rest = self.rest();
        let (min, max, len) = match rest {
            [b'*', ..] => (0, u32::MAX, 1),
            [b'+', ..] => (1, u32::MAX, 1),
            [b'?', ..] => (0, 1, 1),
            [b'{', body @ ..] => match repeat_len(body) {
                Some((min, max, n)) => (min, max, n + 1),
                None => return Ok(atom),
            },
            _ => return Ok(atom),
        };
        if min > MAX_REPEAT || (max != u32::MAX && max > MAX_REPEAT) {
            return Err("number too big in {} quantifier".into());
        }
        if max < min {
            return Err("numbers out of order in {} quantifier".into());
        }
        if max > 1 && atom.nullable && atom.captures {
            return Err(
                "a repeated group that can match the empty string and captures (like `(a|)*`): \
                 PCRE and the regex engine disagree on what it captures"
                    .into(),
            );
        }
        // Group the item so the quantifier applies to all of it (a byte may be `\xHH`, a
        // rewritten `^` several tokens).
        self.out.insert_str(start, "(?:");
        self.out.push(')');
        // `len` counts bytes of `rest`, so the split always succeeds.
        let (spec, after) = rest.split_at_checked(len).unwrap_or((rest, &[]));
        self.out
            .push_str(std::str::from_utf8(spec).unwrap_or_default());
        self.i += len;
        if let [mode @ (b'?' | b'+'), ..] = after {
            self.backtracking |= *mode == b'+';
            self.out.push(char::from(*mode));
            self.i += 1;
        }
        Ok(Info {
            nullable: atom.nullable || min == 0,
            captures: atom.captures,
        })
    }

    /// A `\` sequence outside a class (just after the backslash).
    fn escape(&mut self) -> Result<Info, String> {
        let plain = Info::default();
        let assertion = Info {
            nullable: true,
            captures: false,
        };
        let Some(c) = self.peek() else {
            return Err("the regex ends with a lone '\\'".into());
        };
        self.i += 1;
        match c {
            b'd' | b'D' | b'w' | b'W' | b's' | b'S' | b'h' | b'H' | b'v' | b'V' | b'N' => {
                let (set, negated) = class_escape(c).unwrap_or_default();
                self.out.push('[');
                if negated {
                    self.out.push('^');
                }
                self.out.push_str(set);
                self.out.push(']');
                Ok(plain)
            }
            b'R' => {
                self.backtracking = true;
                self.out.push_str(r"(?>\x0D\x0A|[\x0A-\x0D\x{85}])");
                Ok(plain)
            }
            b'C' => {
                self.out.push_str(r"(?s:.)");
                Ok(plain)
            }
            b'b' | b'B' => {
                if self.peek() == Some(b'{') {
                    return Err("`\\b{…}` is not supported".into());
                }
                self.out.push('\\');
                self.out.push(c as char);
                Ok(assertion)
            }
            b'A' | b'G' => {
                self.out.push_str(r"\A");
                Ok(assertion)
            }
            b'z' => {
                self.out.push_str(r"\z");
                Ok(assertion)
            }
            b'Z' => {
                self.dollar = true;
                self.out.push(DOLLAR_MARK);
                Ok(assertion)
            }
            b'K' => {
                self.backtracking = true;
                self.out.push_str(r"\K");
                Ok(assertion)
            }
            b'E' => Ok(assertion),
            b'1'..=b'9' => {
                let (more, _) = split_digits(self.rest());
                // The number `c` starts; one too large to be a group reads as usize::MAX.
                let n = more
                    .iter()
                    .try_fold(usize::from(c - b'0'), |n, d| {
                        n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
                    })
                    .unwrap_or(usize::MAX);
                let digits = more.len();
                if n >= 10 && n > self.total_groups {
                    return Err(format!(
                        "\\{n} is an octal escape or a backreference depending on the number of \
                         groups; write \\x{{…}} or \\g{{{n}}}"
                    ));
                }
                self.i += digits;
                self.backref(n)
            }
            b'g' => {
                let (n, len) = group_reference(self.rest()).ok_or(
                    "\\g must be followed by a group number (\\g<…> calls are not supported)",
                )?;
                self.i += len;
                let n = if n < 0 {
                    let back = n.unsigned_abs() as usize;
                    (self.opened + 1)
                        .checked_sub(back)
                        .filter(|&g| g > 0)
                        .ok_or("a relative backreference before the first group")?
                } else {
                    n as usize
                };
                self.backref(n)
            }
            b'k' => {
                let close = match self.peek() {
                    Some(b'<') => b'>',
                    Some(b'\'') => b'\'',
                    Some(b'{') => b'}',
                    _ => return Err("\\k must be followed by <name>, 'name' or {name}".into()),
                };
                let name = self.name_until(close)?;
                self.named_backref(&name)
            }
            b'p' | b'P' | b'X' => Err(format!(
                "\\{} (Unicode properties) is not available in nginx's byte mode",
                c as char
            )),
            _ => {
                match simple_escape(c, self) {
                    Some(b) => byte(&mut self.out, b?),
                    None if c.is_ascii_alphanumeric() => {
                        return Err(format!("the escape \\{} is not supported", c as char))
                    }
                    // A backslash before punctuation, space or a non-ASCII byte is that byte.
                    None => byte(&mut self.out, c),
                }
                Ok(plain)
            }
        }
    }

    fn backref(&mut self, n: usize) -> Result<Info, String> {
        if n == 0 || n > self.total_groups {
            return Err(format!("reference to non-existent subpattern {n}"));
        }
        self.backtracking = true;
        let _ = write!(self.out, "(?:\\{n})");
        Ok(Info {
            nullable: true,
            captures: false,
        })
    }

    fn named_backref(&mut self, name: &str) -> Result<Info, String> {
        if !count_names(self.p).iter().any(|n| n == name) {
            return Err(format!("reference to non-existent subpattern \"{name}\""));
        }
        self.backtracking = true;
        let _ = write!(self.out, "(?:\\k<{name}>)");
        Ok(Info {
            nullable: true,
            captures: false,
        })
    }

    /// A group name up to `close` (after the opening `<`, `'` or `{`, which is skipped).
    fn name_until(&mut self, close: u8) -> Result<String, String> {
        self.i += 1;
        let mut parts = self.rest().splitn(2, |&b| b == close);
        let (Some(name), Some(_)) = (parts.next(), parts.next()) else {
            return Err("an unterminated group name".into());
        };
        if !valid_name(name) {
            return Err(format!(
                "invalid group name \"{}\"",
                String::from_utf8_lossy(name)
            ));
        }
        self.i += name.len() + 1;
        Ok(String::from_utf8_lossy(name).into_owned())
    }

    /// A `[…]` class (just after `[`): rebuilt member by member.
    fn class(&mut self) -> Result<(), String> {
        self.out.push('[');
        if self.peek() == Some(b'^') {
            self.out.push('^');
            self.i += 1;
        }
        let mut first = true;
        // What the last member was: a `-` after a single byte may form a range with the next.
        #[derive(PartialEq)]
        enum Prev {
            Other,
            Byte,
            RangeDash,
        }
        let mut prev = Prev::Other;
        loop {
            let Some(c) = self.peek() else {
                return Err("missing terminating ] for a character class".into());
            };
            self.i += 1;
            let mut now = Prev::Byte;
            match c {
                b']' if !first => {
                    self.out.push(']');
                    return Ok(());
                }
                b'[' if matches!(self.peek(), Some(b':')) && self.posix_class()? => {
                    now = Prev::Other;
                }
                b'[' if matches!(self.peek(), Some(b'.' | b'=')) => {
                    return Err("POSIX collating elements are not supported".into());
                }
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err("missing terminating ] for a character class".into());
                    };
                    self.i += 1;
                    match e {
                        b'd' | b'D' | b'w' | b'W' | b's' | b'S' | b'h' | b'H' | b'v' | b'V' => {
                            let (set, negated) = class_escape(e).unwrap_or_default();
                            let _ = write!(self.out, "{}{set}]", if negated { "[^" } else { "[" });
                            now = Prev::Other;
                        }
                        b'b' => byte(&mut self.out, 0x08),
                        b'Q' => {
                            let rest = self.rest();
                            let end = rest.windows(2).position(|w| w == b"\\E");
                            let (quoted, after) = end
                                .and_then(|n| rest.split_at_checked(n))
                                .unwrap_or((rest, &[]));
                            if quoted.len() > 1 && prev == Prev::RangeDash {
                                return Err("a range ending in \\Q…\\E is not supported".into());
                            }
                            for &b in quoted {
                                byte(&mut self.out, b);
                            }
                            if quoted.is_empty() {
                                now = Prev::Other;
                            }
                            // Past the `\E`, or to the end when there is none.
                            self.i += quoted.len() + after.len().min(2);
                        }
                        b'E' => continue,
                        _ => match simple_escape(e, self) {
                            Some(b) => byte(&mut self.out, b?),
                            None if e.is_ascii_alphanumeric() => {
                                return Err(format!(
                                    "the escape \\{} is not supported in a class",
                                    e as char
                                ))
                            }
                            None => byte(&mut self.out, e),
                        },
                    }
                }
                b'-' if prev == Prev::Byte => {
                    // A range dash between two single bytes; literal before `]` or a class.
                    let next_is_byte = match self.rest() {
                        [b']', ..] | [] | [b'[', b':', ..] => false,
                        [b'\\', e, ..] => !matches!(
                            e,
                            b'd' | b'D'
                                | b'w'
                                | b'W'
                                | b's'
                                | b'S'
                                | b'h'
                                | b'H'
                                | b'v'
                                | b'V'
                                | b'E'
                        ),
                        _ => true,
                    };
                    if next_is_byte {
                        self.out.push('-');
                        now = Prev::RangeDash;
                    } else {
                        byte(&mut self.out, c);
                    }
                }
                _ => byte(&mut self.out, c),
            }
            prev = match (prev, now) {
                (Prev::RangeDash, Prev::Byte) => Prev::Other,
                (_, now) => now,
            };
            first = false;
        }
    }

    /// `[:name:]` inside a class (just after `[`); `false` if it is not one.
    fn posix_class(&mut self) -> Result<bool, String> {
        let Some(close) = self.rest().windows(2).position(|w| w == b":]") else {
            return Ok(false);
        };
        let Some(name) = self.p.get(self.i + 1..self.i + close) else {
            return Ok(false);
        };
        let (negated, bare) = match name.strip_prefix(b"^") {
            Some(b) => (true, b),
            None => (false, name),
        };
        if bare.is_empty() || !bare.iter().all(u8::is_ascii_lowercase) {
            // Not a POSIX class name: the `[` is a literal member.
            return Ok(false);
        }
        let set = match bare {
            b"alnum" => "0-9A-Za-z",
            b"alpha" => "A-Za-z",
            b"ascii" => r"\x00-\x7F",
            b"blank" => r"\x09\x20",
            b"cntrl" => r"\x00-\x1F\x7F",
            b"digit" => "0-9",
            b"graph" => r"\x21-\x7E",
            b"lower" => "a-z",
            b"print" => r"\x20-\x7E",
            b"punct" => r"\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E",
            b"space" => r"\x09-\x0D\x20",
            b"upper" => "A-Z",
            b"word" => "0-9A-Za-z_",
            b"xdigit" => "0-9A-Fa-f",
            _ => {
                return Err(format!(
                    "unknown POSIX class [:{}:]",
                    String::from_utf8_lossy(name)
                ))
            }
        };
        let _ = write!(self.out, "{}{set}]", if negated { "[^" } else { "[" });
        self.i += close + 2;
        Ok(true)
    }

    /// A group (just after `(`); `None` for a flag setting or a comment.
    fn group(&mut self) -> Result<Option<Info>, String> {
        let refuse = |what: &str| Err(format!("{what} is not supported"));
        let rest = self.rest();
        let (open, capture): (String, bool) = match rest {
            [b'*', ..] => return refuse("a PCRE verb such as (*UTF)"),
            [b'?', b'#', ..] => {
                let close = rest
                    .iter()
                    .position(|&b| b == b')')
                    .ok_or("an unterminated (?# comment")?;
                self.i += close + 1;
                return Ok(None);
            }
            [b'?', b':', ..] => {
                self.i += 2;
                ("(?:".into(), false)
            }
            [b'?', b'>', ..] => {
                self.i += 2;
                ("(?>".into(), false)
            }
            [b'?', kind @ (b'=' | b'!'), ..] => {
                let s = format!("(?{}", char::from(*kind));
                self.i += 2;
                (s, false)
            }
            [b'?', b'<', kind @ (b'=' | b'!'), ..] => {
                let s = format!("(?<{}", char::from(*kind));
                self.i += 3;
                (s, false)
            }
            [b'?', open @ (b'<' | b'\''), ..] | [b'?', open @ b'P', b'<', ..] => {
                let (skip, close) = match open {
                    b'<' => (1, b'>'),
                    b'\'' => (1, b'\''),
                    _ => (2, b'>'),
                };
                self.i += skip;
                let name = self.name_until(close)?;
                self.opened += 1;
                self.names.push((self.opened, name.clone()));
                (format!("(?<{name}>"), true)
            }
            [b'?', b'P', b'=', ..] => {
                self.i += 2;
                let name = self.name_until(b')')?;
                // `name_until` consumed the `)`.
                return self.named_backref(&name).map(Some);
            }
            [b'?', b'|', ..] => return refuse("a branch-reset group"),
            [b'?', b'(', ..] => return refuse("a conditional group"),
            [b'?', b'R' | b'&' | b'+' | b'0'..=b'9' | b'C', ..]
            | [b'?', b'P', b'>', ..]
            | [b'?', b'-', b'0'..=b'9', ..] => {
                return refuse("recursion, subroutine calls and callouts are")
            }
            [b'?', flags @ ..] => return self.flags(flags),
            _ => {
                self.opened += 1;
                ("(".into(), true)
            }
        };
        self.backtracking |= !capture && open != "(?:";
        self.out.push_str(&open);
        let inner = self.alternation(1)?;
        if self.peek() != Some(b')') {
            return Err("missing closing parenthesis".into());
        }
        self.i += 1;
        self.out.push(')');
        let lookaround = open.starts_with("(?=")
            || open.starts_with("(?!")
            || open.starts_with("(?<=")
            || open.starts_with("(?<!");
        Ok(Some(Info {
            nullable: inner.nullable || lookaround,
            captures: inner.captures || capture,
        }))
    }

    /// `(?flags)` or `(?flags:…)` (at `?`, with `rest` what follows it). `i`, `s` and `U` go to
    /// the engine; `m` and `x` are applied here.
    fn flags(&mut self, rest: &[u8]) -> Result<Option<Info>, String> {
        let (spec, end) = rest
            .iter()
            .position(|&b| b == b')' || b == b':')
            .and_then(|at| Some((rest.get(..at)?, *rest.get(at)?)))
            .ok_or("an unterminated (? group")?;
        let mut on = true;
        let mut engine = String::new();
        let (mut multiline, mut extended) = (self.multiline, self.extended);
        for &f in spec {
            match f {
                b'-' if on => {
                    on = false;
                    engine.push('-');
                }
                b'i' | b's' | b'U' => engine.push(f as char),
                b'm' => multiline = on,
                b'x' => extended = on,
                _ => {
                    return Err(format!(
                        "the inline flags (?{}) are not supported (i, m, s, x and U are)",
                        String::from_utf8_lossy(spec)
                    ))
                }
            }
        }
        let engine = engine.trim_end_matches('-').to_owned();
        let scoped = end == b':';
        self.i += 1 + spec.len() + 1;
        if !scoped {
            // Applies to the rest of the enclosing group.
            self.multiline = multiline;
            self.extended = extended;
            if !engine.is_empty() {
                let _ = write!(self.out, "(?{engine})");
            }
            return Ok(None);
        }
        let saved = (self.multiline, self.extended);
        self.multiline = multiline;
        self.extended = extended;
        let _ = write!(self.out, "(?{engine}:");
        let inner = self.alternation(1)?;
        (self.multiline, self.extended) = saved;
        if self.peek() != Some(b')') {
            return Err("missing closing parenthesis".into());
        }
        self.i += 1;
        self.out.push(')');
        Ok(Some(inner))
    }
}

/// The members of `\d`, `\w`, `\s`, `\h`, `\v`, `\N` in PCRE's byte mode (C locale), as class
/// contents, and whether the escape is the negated form.
fn class_escape(c: u8) -> Option<(&'static str, bool)> {
    let set = match c.to_ascii_lowercase() {
        b'd' => "0-9",
        b'w' => "0-9A-Za-z_",
        b's' => r"\x09-\x0D\x20",
        b'h' => r"\x09\x20\xA0",
        b'v' => r"\x0A-\x0D\x85",
        b'n' => r"\x0A",
        _ => return None,
    };
    Some((set, c.is_ascii_uppercase()))
}

/// Escapes that stand for one byte: `\n`, `\t`, `\xHH`, `\x{H…}`, `\0oo`, `\o{…}`, `\cX`, ….
/// `None` if `c` does not start one.
fn simple_escape(c: u8, t: &mut Translator<'_>) -> Option<Result<u8, String>> {
    Some(Ok(match c {
        b'n' => b'\n',
        b't' => b'\t',
        b'r' => b'\r',
        b'f' => 0x0c,
        b'e' => 0x1b,
        b'a' => 0x07,
        b'x' => return Some(hex_escape(t)),
        b'0' => {
            let (v, digits) = t
                .rest()
                .iter()
                .take(2)
                .take_while(|b| (b'0'..=b'7').contains(b))
                .fold((0u32, 0), |(v, n), d| (v * 8 + u32::from(d - b'0'), n + 1));
            t.i += digits;
            return Some(u8::try_from(v).map_err(|_| "octal escape above \\377".to_owned()));
        }
        b'o' => {
            let Some(digits) = braced(t.rest())
                .filter(|d| !d.is_empty() && d.iter().all(|d| (b'0'..=b'7').contains(d)))
            else {
                return Some(Err("bad \\o{…} escape".into()));
            };
            let v = digits.iter().fold(0u32, |v, d| {
                v.saturating_mul(8).saturating_add(u32::from(d - b'0'))
            });
            t.i += digits.len() + 2;
            return Some(u8::try_from(v).map_err(|_| {
                "a character code above \\xFF needs UTF-8 mode, which nginx does not use".to_owned()
            }));
        }
        b'c' => {
            let Some(x) = t.peek().filter(|x| x.is_ascii_graphic()) else {
                return Some(Err(
                    "\\c must be followed by a printable ASCII character".into()
                ));
            };
            t.i += 1;
            x.to_ascii_uppercase() ^ 0x40
        }
        _ => return None,
    }))
}

/// `\xH`, `\xHH` or `\x{H…}` (at most 0xFF in byte mode); the `x` is already read.
fn hex_escape(t: &mut Translator<'_>) -> Result<u8, String> {
    let mut value: u32 = 0;
    if t.peek() == Some(b'{') {
        let digits = braced(t.rest()).ok_or("unterminated \\x{…}")?;
        if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err("bad \\x{…} escape".into());
        }
        for &d in digits {
            value = value * 16 + u32::from(hex_value(d));
        }
        t.i += digits.len() + 2;
    } else {
        for _ in 0..2 {
            match t.peek() {
                Some(d) if d.is_ascii_hexdigit() => {
                    value = value * 16 + u32::from(hex_value(d));
                    t.i += 1;
                }
                _ => break,
            }
        }
    }
    u8::try_from(value).map_err(|_| {
        "a character code above \\xFF needs UTF-8 mode, which nginx does not use".to_owned()
    })
}

fn hex_value(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        _ => (d | 0x20).wrapping_sub(b'a').wrapping_add(10),
    }
}

/// A literal byte, in a form the engine cannot misread.
fn byte(out: &mut String, b: u8) {
    if b.is_ascii_alphanumeric() || b == b'/' || b == b'_' {
        out.push(b as char);
    } else {
        let _ = write!(out, "\\x{b:02X}");
    }
}

/// If `rest` (just after `{`) is a PCRE quantifier body `n}`, `n,}` or `n,m}`: (min, max, the
/// length of the body). PCRE2 10.42 reads anything else (`{,m}`, `{x}`) literally.
fn repeat_len(rest: &[u8]) -> Option<(u32, u32, usize)> {
    let number = |s: &[u8]| {
        std::str::from_utf8(s)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(u32::MAX - 1)
    };
    let (low, after) = split_digits(rest);
    if low.is_empty() {
        return None;
    }
    let min = number(low);
    match after {
        [b'}', ..] => Some((min, min, low.len() + 1)),
        [b',', after @ ..] => {
            let (high, after) = split_digits(after);
            if after.first() != Some(&b'}') {
                return None;
            }
            let max = if high.is_empty() {
                u32::MAX
            } else {
                number(high)
            };
            Some((min, max, low.len() + high.len() + 2))
        }
        _ => None,
    }
}

/// Splits `s` after its leading ASCII digits.
fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    // n ≤ s.len(), so the split always succeeds.
    s.split_at_checked(n).unwrap_or((s, &[]))
}

/// If `rest` starts with `{…}`: what is between the braces (up to the first `}`).
fn braced(rest: &[u8]) -> Option<&[u8]> {
    let body = rest.strip_prefix(b"{")?;
    let close = body.iter().position(|&b| b == b'}')?;
    body.get(..close)
}

/// `s` without its first `n` bytes; empty if it is shorter.
fn skip(s: &[u8], n: usize) -> &[u8] {
    s.get(n..).unwrap_or_default()
}

/// `\g` forms that name a group by number: `N`, `{N}`, `-N`, `{-N}`. Returns the (signed)
/// number and the length read.
fn group_reference(rest: &[u8]) -> Option<(i64, usize)> {
    let (body, extra) = match rest.first()? {
        b'{' => (braced(rest)?, 2),
        _ => {
            let sign = usize::from(rest.first() == Some(&b'-'));
            let n = skip(rest, sign)
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            (rest.get(..sign + n)?, 0)
        }
    };
    let n: i64 = std::str::from_utf8(body).ok()?.parse().ok()?;
    (n != 0).then_some((n, body.len() + extra))
}

fn valid_name(name: &[u8]) -> bool {
    name.first().is_some_and(|b| !b.is_ascii_digit())
        && name.len() <= 32
        && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// Capturing groups in a pattern: `(` not followed by `?` or `*`, and named groups; skipping
/// escapes, classes, `\Q…\E` and comments. (An approximation only where the pattern is invalid,
/// which the translation then refuses.)
fn count_groups(p: &[u8]) -> usize {
    scan_groups(p).0
}

fn count_names(p: &[u8]) -> Vec<String> {
    scan_groups(p).1
}

fn scan_groups(p: &[u8]) -> (usize, Vec<String>) {
    let (mut n, mut names) = (0, Vec::new());
    let mut rest = p;
    while let [c, after @ ..] = rest {
        rest = match (c, after) {
            (b'\\', [b'Q', ..]) => rest
                .windows(2)
                .position(|w| w == b"\\E")
                .map_or(&[][..], |e| skip(rest, e + 2)),
            (b'\\', _) => skip(after, 1),
            // Past the class's closing `]`.
            (b'[', _) => skip(class_end(after), 1),
            (b'(', _) => {
                match after {
                    [b'?', b'<', b'=' | b'!', ..] => {}
                    [b'?', b'<', name @ ..]
                    | [b'?', b'P', b'<', name @ ..]
                    | [b'?', b'\'', name @ ..] => {
                        n += 1;
                        let name = name
                            .iter()
                            .position(|&b| b == b'>' || b == b'\'')
                            .and_then(|end| name.get(..end))
                            .unwrap_or_default();
                        names.push(String::from_utf8_lossy(name).into_owned());
                    }
                    [b'?' | b'*', ..] => {}
                    _ => n += 1,
                }
                after
            }
            _ => after,
        };
    }
    (n, names)
}

/// A class's members (after its `[`) skipped: what is left from the closing `]` on, or nothing
/// if the class is not closed.
fn class_end(class: &[u8]) -> &[u8] {
    let class = class.strip_prefix(b"^").unwrap_or(class);
    let mut rest = class.strip_prefix(b"]").unwrap_or(class);
    loop {
        rest = match rest {
            [] | [b']', ..] => return rest,
            [b'\\', escaped @ ..] => skip(escaped, 1),
            [b'[', b':', ..] => rest
                .windows(2)
                .position(|w| w == b":]")
                .map_or(skip(rest, 1), |e| skip(rest, e + 2)),
            [_, more @ ..] => more,
        };
    }
}
