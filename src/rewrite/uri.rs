//! The request target as nginx sees it: split, percent-decoded and normalised into `$uri`, and
//! the byte tables nginx escapes and unescapes with.
//!
//! Rewrite regexes match the *normalised* URI, not the bytes the client sent, so this is a port
//! of nginx 1.22's `ngx_http_parse_complex_uri` (with `merge_slashes on`, the default) and of the
//! request-line checks that turn a target into a 400. A decoded byte is fed back through the
//! state machine (so `%2F` merges like `/` and `%2e%2e` climbs like `..`), except `%25`, `%23`
//! and `%3F`, which stay literal `%`, `#` and `?`. Climbing above the root, a bad escape and
//! `%00` are 400s, as in nginx.

/// Why nginx would answer 400 before any rewrite runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadTarget {
    /// The target does not start with `/` (absolute-form and `*` are not accepted here).
    NotOriginForm,
    /// A control character or space in the target.
    ControlCharacter,
    /// `%` not followed by two hex digits, or `%00`.
    BadEscape,
    /// `..` above the root.
    AboveRoot,
    /// Longer than nginx's default request-line buffer (414).
    TooLong,
}

impl BadTarget {
    /// What went wrong, for logs.
    pub fn reason(self) -> &'static str {
        match self {
            BadTarget::NotOriginForm => "the target does not start with '/'",
            BadTarget::ControlCharacter => "the target holds a control character or space",
            BadTarget::BadEscape => "the target holds a bad percent-escape or %00",
            BadTarget::AboveRoot => "the path climbs above the root",
            BadTarget::TooLong => "the target is longer than 8 KiB",
        }
    }
}

/// A parsed request target: nginx's `$uri`, `$args` and the flags the rewrite engine consults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// Decoded, normalised path (`$uri`).
    pub uri: Vec<u8>,
    /// The raw query, without `?` and without any `#fragment` (`$args`).
    pub args: Vec<u8>,
    /// The path held a `%` escape (nginx's `quoted_uri`): captures are then re-escaped where
    /// they land in a query or a redirect.
    pub quoted: bool,
    /// The path held a `+`, raw or as `%2B` (nginx's `plus_in_uri`); same effect as `quoted`.
    pub plus: bool,
}

/// Parses a request target the way nginx's request-line parser and `parse_complex_uri` do.
pub(crate) fn parse_target(raw: &[u8]) -> Result<Target, BadTarget> {
    if raw.first() != Some(&b'/') {
        return Err(BadTarget::NotOriginForm);
    }
    let end = memchr::memchr2(b'?', b'#', raw).unwrap_or(raw.len());
    let (path, rest) = raw.split_at_checked(end).unwrap_or((raw, &[]));
    let in_path = kinds(path);
    if (in_path | kinds(rest)) & CONTROL != 0 {
        // A control character or space anywhere: nginx's request-line parser refuses it.
        return Err(BadTarget::ControlCharacter);
    }
    if in_path & NOT_PLAIN == 0 {
        return Ok(plain_target(path, rest, in_path & PLUS != 0));
    }
    let mut out = Normaliser {
        uri: Vec::with_capacity(raw.len()),
        quoted: false,
        plus: false,
    };
    let args = out.run(raw)?;
    Ok(Target {
        uri: out.uri,
        args,
        quoted: out.quoted,
        plus: out.plus,
    })
}

/// Byte kinds for [`kinds`]: a control character or space (0x00-0x20, 0x7f).
const CONTROL: u8 = 1;
const PERCENT: u8 = 2;
const PLUS: u8 = 4;
const SLASH: u8 = 8;
/// `SLASH << 1`: a slash's kind, shifted, marks what may not follow it.
const DOT: u8 = 16;
/// A `/` followed by `/` (merged slashes) or `.` (a dot segment).
const SLASH_THEN: u8 = 32;
/// What a path must not hold to be its own normal form.
const NOT_PLAIN: u8 = PERCENT | SLASH_THEN;

/// The kind of every byte.
// Evaluated at compile time: an index out of range would fail the build, not a request.
#[allow(clippy::indexing_slicing)]
const KINDS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            0..=0x20 | 0x7f => CONTROL,
            b'%' => PERCENT,
            b'+' => PLUS,
            b'/' => SLASH,
            b'.' => DOT,
            _ => 0,
        };
        b += 1;
    }
    table
};

/// The kinds of byte in `bytes`, OR-ed, with [`SLASH_THEN`] for a `/` followed by a `/` or
/// `.`: one table lookup per byte and no branch.
fn kinds(bytes: &[u8]) -> u8 {
    let (mut kinds, mut pairs, mut after_slash) = (0u8, 0u8, 0u8);
    for &b in bytes {
        let kind = KINDS.get(usize::from(b)).copied().unwrap_or(0);
        kinds |= kind;
        pairs |= after_slash & kind;
        after_slash = (kind & SLASH) | ((kind & SLASH) << 1);
    }
    kinds | if pairs != 0 { SLASH_THEN } else { 0 }
}

/// The common case without the state machine: a path with no `%`, no `//` and no `/.` is its
/// own normal form (the machine would copy every byte). `rest` is what follows the path
/// (`?query#fragment`).
fn plain_target(path: &[u8], rest: &[u8], plus: bool) -> Target {
    let args = match rest.split_first() {
        Some((b'?', query)) => {
            let fragment = memchr::memchr(b'#', query).unwrap_or(query.len());
            query.get(..fragment).unwrap_or(query).to_vec()
        }
        _ => Vec::new(),
    };
    Target {
        uri: path.to_vec(),
        args,
        quoted: false,
        plus,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Usual,
    Slash,
    Dot,
    DotDot,
}

struct Normaliser {
    uri: Vec<u8>,
    quoted: bool,
    plus: bool,
}

/// What the state machine does after a byte.
enum Step {
    Next,
    Args,
    Done,
}

impl Normaliser {
    /// Runs the path through the state machine; returns the raw args.
    fn run(&mut self, raw: &[u8]) -> Result<Vec<u8>, BadTarget> {
        let mut state = State::Usual;
        let mut rest = raw;
        let mut end = Step::Next;
        while let [ch, after @ ..] = rest {
            let ch = *ch;
            rest = after;
            if ch != b'%' {
                end = self.feed(&mut state, ch)?;
                if !matches!(end, Step::Next) {
                    break;
                }
                continue;
            }
            self.quoted = true;
            let [hi, lo_ch, after @ ..] = rest else {
                return Err(BadTarget::BadEscape);
            };
            let (Some(hi), Some(lo)) = (hex(*hi), hex(*lo_ch)) else {
                return Err(BadTarget::BadEscape);
            };
            let lo_ch = *lo_ch;
            rest = after;
            let decoded = (hi << 4) | lo;
            if lo_ch.is_ascii_digit() {
                // nginx: a digit second nibble; `%25` and `%23` stay literal, `%00` is refused.
                match decoded {
                    b'%' | b'#' => {
                        self.uri.push(decoded);
                        state = State::Usual;
                        continue;
                    }
                    0 => return Err(BadTarget::BadEscape),
                    _ => {}
                }
            } else if decoded == b'?' {
                self.uri.push(decoded);
                state = State::Usual;
                continue;
            } else if decoded == b'+' {
                self.plus = true;
            }
            end = self.feed(&mut state, decoded)?;
            if !matches!(end, Step::Next) {
                break;
            }
        }
        match end {
            Step::Args => {
                let args = rest.split(|&b| b == b'#').next().unwrap_or(rest);
                Ok(args.to_vec())
            }
            Step::Done => Ok(Vec::new()),
            Step::Next => {
                match state {
                    State::Dot => {
                        self.uri.pop();
                    }
                    State::DotDot => self.climb()?,
                    _ => {}
                }
                Ok(Vec::new())
            }
        }
    }

    /// One byte (raw or decoded) through `parse_complex_uri`'s states.
    fn feed(&mut self, state: &mut State, ch: u8) -> Result<Step, BadTarget> {
        match *state {
            State::Usual => match ch {
                b'/' => {
                    *state = State::Slash;
                    self.uri.push(ch);
                }
                b'?' => return Ok(Step::Args),
                b'#' => return Ok(Step::Done),
                _ => {
                    self.plus |= ch == b'+';
                    self.uri.push(ch);
                }
            },
            State::Slash => match ch {
                b'/' => {} // merge_slashes
                b'.' => {
                    *state = State::Dot;
                    self.uri.push(ch);
                }
                b'?' => return Ok(Step::Args),
                b'#' => return Ok(Step::Done),
                _ => {
                    self.plus |= ch == b'+';
                    *state = State::Usual;
                    self.uri.push(ch);
                }
            },
            State::Dot => match ch {
                b'/' => {
                    *state = State::Slash;
                    self.uri.pop();
                }
                b'.' => {
                    *state = State::DotDot;
                    self.uri.push(ch);
                }
                b'?' | b'#' => {
                    self.uri.pop();
                    return Ok(if ch == b'?' { Step::Args } else { Step::Done });
                }
                _ => {
                    self.plus |= ch == b'+';
                    *state = State::Usual;
                    self.uri.push(ch);
                }
            },
            State::DotDot => match ch {
                b'/' | b'?' | b'#' => {
                    self.climb()?;
                    match ch {
                        b'?' => return Ok(Step::Args),
                        b'#' => return Ok(Step::Done),
                        _ => *state = State::Slash,
                    }
                }
                _ => {
                    self.plus |= ch == b'+';
                    *state = State::Usual;
                    self.uri.push(ch);
                }
            },
        }
        Ok(Step::Next)
    }

    /// Drops the `/..` just written and the segment before it (`u -= 4`, then back to a `/`).
    fn climb(&mut self) -> Result<(), BadTarget> {
        // The buffer ends in "/.."; nginx steps back over it and the previous segment.
        let mut u = self.uri.len().checked_sub(4).ok_or(BadTarget::AboveRoot)?;
        loop {
            if self.uri.get(u) == Some(&b'/') {
                self.uri.truncate(u + 1);
                return Ok(());
            }
            u = u.checked_sub(1).ok_or(BadTarget::AboveRoot)?;
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// nginx's `NGX_ESCAPE_URI` set: what `proxy_pass` escapes in a rewritten path.
const ESCAPE_URI: [u32; 8] = [
    0xffff_ffff,
    0xd000_002d,
    0x5000_0000,
    0xb800_0001,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
];

/// nginx's `NGX_ESCAPE_ARGS` set: what a capture is escaped with where it lands in a query.
const ESCAPE_ARGS: [u32; 8] = [
    0xffff_ffff,
    0xd800_086d,
    0x5000_0000,
    0xb800_0001,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
];

/// Which of nginx's escape tables to use.
#[derive(Clone, Copy)]
pub(crate) enum Escape {
    Uri,
    Args,
}

/// Appends `src` to `out`, percent-escaping (upper-case hex) the bytes nginx's table marks.
pub(crate) fn escape_into(out: &mut Vec<u8>, src: &[u8], table: Escape) {
    let bits = match table {
        Escape::Uri => &ESCAPE_URI,
        Escape::Args => &ESCAPE_ARGS,
    };
    // Upper-case hex for a nibble (0..=15, so neither sum overflows).
    let hex = |n: u8| if n < 10 { b'0' + n } else { b'A' + (n - 10) };
    for &b in src {
        // b >> 5 is 0..=7, always a word of the eight-word table.
        let escaped = bits
            .get(usize::from(b >> 5))
            .is_some_and(|word| word & (1u32 << (b & 0x1f)) != 0);
        if escaped {
            out.extend_from_slice(&[b'%', hex(b >> 4), hex(b & 0xf)]);
        } else {
            out.push(b);
        }
    }
}

/// nginx's `ngx_unescape_uri(…, NGX_UNESCAPE_REDIRECT)` over a redirect's Location, followed by
/// the untouched rest: decodes `%XX` to printable bytes above `%`, keeps others escaped, stops
/// at the first `?` (raw or `%3F`), and drops malformed escapes the way nginx does.
pub(crate) fn unescape_redirect(src: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len());
    let mut rest = src;
    while let [ch, after @ ..] = rest {
        let ch = *ch;
        rest = after;
        if ch == b'?' {
            out.push(ch);
            break;
        }
        if ch != b'%' {
            out.push(ch);
            continue;
        }
        // sw_quoted: a non-hex byte drops the '%' and is kept.
        let [first, after @ ..] = rest else { break };
        let first = *first;
        rest = after;
        let Some(hi) = hex(first) else {
            out.push(first);
            continue;
        };
        // sw_quoted_second: a non-hex byte drops all three.
        let [second, after @ ..] = rest else { break };
        let second = *second;
        rest = after;
        let Some(lo) = hex(second) else { continue };
        let decoded = (hi << 4) | lo;
        if !second.is_ascii_digit() && decoded == b'?' {
            out.push(b'?');
            break;
        }
        if decoded > b'%' && decoded < 0x7f {
            out.push(decoded);
        } else {
            out.extend_from_slice(&[b'%', first, second]);
        }
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(raw: &str) -> Result<(String, String), BadTarget> {
        parse_target(raw.as_bytes()).map(|t| {
            (
                String::from_utf8_lossy(&t.uri).into_owned(),
                String::from_utf8_lossy(&t.args).into_owned(),
            )
        })
    }

    /// The shortcut for plain paths gives what the state machine gives, wherever it applies.
    #[test]
    fn plain_paths_take_the_shortcut_exactly() {
        const PIECES: &[&str] = &[
            "/", "a", "b.cfg", ".", "..", "+", "?", "#", "&", "=", "%41", "%2F", "~", "x/", "é",
        ];
        let mut rng = crate::rewrite::rewrite_gen::Rng::new(0x2545_F491_4F6C_DD1D);
        let (mut shortcut, mut total) = (0, 0);
        for _ in 0..20_000 {
            let mut raw = String::from("/");
            for _ in 0..rng.below(9) {
                raw.push_str(rng.pick(PIECES));
            }
            total += 1;
            let bytes = raw.as_bytes();
            let end = memchr::memchr2(b'?', b'#', bytes).unwrap_or(bytes.len());
            let (path, rest) = bytes.split_at(end);
            if kinds(path) & NOT_PLAIN != 0 {
                continue;
            }
            let fast = plain_target(path, rest, kinds(path) & PLUS != 0);
            shortcut += 1;
            let mut machine = Normaliser {
                uri: Vec::new(),
                quoted: false,
                plus: false,
            };
            let args = machine.run(raw.as_bytes());
            assert_eq!(Ok(&fast.args), args.as_ref(), "{raw}");
            assert_eq!(fast.uri, machine.uri, "{raw}");
            assert_eq!(
                (fast.quoted, fast.plus),
                (machine.quoted, machine.plus),
                "{raw}"
            );
        }
        assert!(
            shortcut > total / 10 && shortcut < total,
            "{shortcut} of {total}"
        );
    }

    #[test]
    fn normalises_like_nginx() {
        let cases = [
            ("/a//b/./c/../d", "/a/b/d", ""),
            ("/a/%2e%2E/b", "/b", ""),
            ("/a%2Fb%2f%2F/c", "/a/b/c", ""),
            ("/a%3Fb?x=%41", "/a?b", "x=%41"),
            ("/a%25%23", "/a%#", ""),
            ("/a/.", "/a/", ""),
            ("/a/..", "/", ""),
            ("/a/b/..?q#f", "/a/", "q"),
            ("/a#frag?x", "/a", ""),
            ("/a?x#frag", "/a", "x"),
            ("/%C3%A9", "/\u{e9}", ""),
            ("/", "/", ""),
            ("/a.?", "/a.", ""),
        ];
        for (raw, want_uri, want_args) in cases {
            assert_eq!(
                uri(raw),
                Ok((want_uri.to_owned(), want_args.to_owned())),
                "{raw}"
            );
        }
    }

    #[test]
    fn refuses_what_nginx_refuses() {
        assert_eq!(uri("/.."), Err(BadTarget::AboveRoot));
        assert_eq!(uri("/a/../.."), Err(BadTarget::AboveRoot));
        assert_eq!(uri("/%2e%2e/x"), Err(BadTarget::AboveRoot));
        assert_eq!(uri("/a%zz"), Err(BadTarget::BadEscape));
        assert_eq!(uri("/a%4"), Err(BadTarget::BadEscape));
        assert_eq!(uri("/a%00"), Err(BadTarget::BadEscape));
        assert_eq!(uri("/a b"), Err(BadTarget::ControlCharacter));
        assert_eq!(uri("a"), Err(BadTarget::NotOriginForm));
    }

    #[test]
    fn flags_quotes_and_pluses_in_the_path_only() {
        let t = parse_target(b"/a+b?c%20").unwrap();
        assert!(t.plus && !t.quoted);
        let t = parse_target(b"/a%2bb").unwrap();
        assert!(t.plus && t.quoted);
        let t = parse_target(b"/ab?c+%20").unwrap();
        assert!(!t.plus && !t.quoted);
    }

    #[test]
    fn escapes_with_nginx_tables() {
        let mut out = Vec::new();
        escape_into(&mut out, b"a b&c+d?e/\xff", Escape::Args);
        assert_eq!(out, b"a%20b%26c%2Bd%3Fe/%FF");
        out.clear();
        escape_into(&mut out, b"a b&c+d?e/\xff", Escape::Uri);
        assert_eq!(out, b"a%20b&c+d%3Fe/%FF");
    }

    #[test]
    fn unescapes_redirects_like_nginx() {
        assert_eq!(unescape_redirect(b"/a%41%20%3fb%41"), b"/aA%20?b%41");
        assert_eq!(unescape_redirect(b"/a%zz%4zq%"), b"/azzq");
        assert_eq!(unescape_redirect(b"/x?%41"), b"/x?%41");
    }
}
