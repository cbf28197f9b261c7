//! The baseline for "what nginx spends" on its rewrite rules: the rule file's regexes compiled
//! by PCRE2 with JIT (what nginx 1.22+ links) and evaluated as `ngx_http_rewrite_module` does:
//! the URI percent-decoded, the server-level `if`s and `rewrite`s in order (a flagless match
//! replaces the URI and goes on, `last`/`break` stop, a redirect answers), then the location
//! search (the regex locations in order, else the longest prefix) and that location's rules,
//! with nginx's restart after a `last`. The replacement is expanded (`$1`…`$9`; other variables
//! are left as written), so a match costs what nginx's script engine pays at the least.
//!
//! It is deliberately a lower bound on nginx: no request parsing, no variable machinery, no
//! phase handlers, just PCRE2 doing the matching nginx asks of it.

use pcre2::bytes::{CaptureLocations, Regex, RegexBuilder};

/// One compiled directive.
enum Stmt {
    Rewrite {
        re: Regex,
        replacement: Vec<u8>,
        flag: Flag,
    },
    /// `if ($uri ~ re)` / `!~` / `~*` / `!~*`; other conditions are left out (taken as false).
    If {
        re: Regex,
        negate: bool,
        body: Vec<Stmt>,
    },
    Break,
}

#[derive(Clone, Copy, PartialEq)]
enum Flag {
    None,
    Last,
    Break,
    Redirect,
}

enum Match {
    Prefix { prefix: Vec<u8>, no_regex: bool },
    Exact(Vec<u8>),
    Regex(Regex),
}

struct Location {
    matcher: Match,
    body: Vec<Stmt>,
}

/// A rule file compiled for PCRE2-JIT.
pub struct Pcre2Rules {
    server: Vec<Stmt>,
    locations: Vec<Location>,
    locs: CaptureLocations,
}

/// Where evaluation ended: the final URI and query, or a redirect.
#[derive(Debug, PartialEq)]
pub enum Result {
    Pass {
        uri: Vec<u8>,
        args: Vec<u8>,
    },
    Redirect(Vec<u8>),
    /// A `..` above the root: nginx answers 400.
    BadRequest,
}

/// What `ngx_http_parse_complex_uri` makes of a path: percent-decoded, `//` merged, `.` and `..`
/// resolved.
fn normalize(path: &[u8]) -> Option<Vec<u8>> {
    let decoded: Vec<u8> = percent_encoding::percent_decode(path).collect();
    let mut out: Vec<u8> = Vec::with_capacity(decoded.len());
    for segment in decoded.split(|&b| b == b'/').skip(1) {
        match segment {
            b"" | b"." => {}
            b".." => {
                let cut = out.iter().rposition(|&b| b == b'/')?;
                out.truncate(cut);
            }
            s => {
                out.push(b'/');
                out.extend_from_slice(s);
            }
        }
    }
    if out.is_empty()
        || decoded.ends_with(b"/")
        || decoded.ends_with(b"/.")
        || decoded.ends_with(b"/..")
    {
        out.push(b'/');
    }
    Some(out)
}

fn regex(pattern: &str, caseless: bool) -> Regex {
    RegexBuilder::new()
        .jit_if_available(true)
        .caseless(caseless)
        .build(pattern)
        .unwrap_or_else(|e| panic!("PCRE2 refuses {pattern:?}: {e}"))
}

/// nginx's tokens: whitespace-separated words, `"…"`/`'…'` quoted, `#` comments, `;`, `{`, `}`.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '#' => while chars.next_if(|&c| c != '\n').is_some() {},
            ';' | '{' | '}' => {
                out.push(c.to_string());
                chars.next();
            }
            '"' | '\'' => {
                chars.next();
                let mut word = String::new();
                while let Some(ch) = chars.next() {
                    match ch {
                        '\\' => match chars.next() {
                            Some(n) if n == c || n == '\\' => word.push(n),
                            Some(n) => {
                                word.push('\\');
                                word.push(n);
                            }
                            None => {}
                        },
                        q if q == c => break,
                        _ => word.push(ch),
                    }
                }
                out.push(word);
            }
            _ => {
                let mut word = String::new();
                while let Some(c) = chars.next_if(|c| !c.is_whitespace() && !";{}".contains(*c)) {
                    word.push(c);
                }
                out.push(word);
            }
        }
    }
    out
}

fn block(toks: &[String], i: &mut usize, locations: &mut Vec<Location>) -> Vec<Stmt> {
    let mut stmts = Vec::new();
    while *i < toks.len() {
        let start = *i;
        let end = toks[start..]
            .iter()
            .position(|t| t == ";" || t == "{" || t == "}")
            .map_or(toks.len(), |n| start + n);
        let words = &toks[start..end];
        let term = toks.get(end).map_or("", String::as_str);
        *i = end + 1;
        if term == "}" && words.is_empty() {
            return stmts;
        }
        match (words.first().map(String::as_str), term) {
            (Some("rewrite"), ";") => {
                let flag = match words.get(3).map(String::as_str) {
                    Some("last") => Flag::Last,
                    Some("break") => Flag::Break,
                    Some("redirect" | "permanent") => Flag::Redirect,
                    _ if words[2].starts_with("http://") || words[2].starts_with("https://") => {
                        Flag::Redirect
                    }
                    _ => Flag::None,
                };
                stmts.push(Stmt::Rewrite {
                    re: regex(&words[1], false),
                    replacement: words[2].as_bytes().to_vec(),
                    flag,
                });
            }
            (Some("break"), ";") => stmts.push(Stmt::Break),
            (Some("if"), "{") => {
                let joined = words[1..].join(" ");
                let inner = joined.strip_prefix('(').unwrap_or(&joined);
                let inner = inner.strip_suffix(')').unwrap_or(inner);
                let cond: Vec<&str> = inner.split_whitespace().collect();
                let body = block(toks, i, locations);
                if let [_var, op @ ("~" | "~*" | "!~" | "!~*"), re] = cond[..] {
                    stmts.push(Stmt::If {
                        re: regex(re, op.ends_with('*')),
                        negate: op.starts_with('!'),
                        body,
                    });
                }
            }
            (Some("location"), "{") => {
                let matcher = match &words[1..] {
                    [op, re] if op == "~" || op == "~*" => Match::Regex(regex(re, op == "~*")),
                    [op, p] if op == "=" => Match::Exact(p.as_bytes().to_vec()),
                    [op, p] if op == "^~" => Match::Prefix {
                        prefix: p.as_bytes().to_vec(),
                        no_regex: true,
                    },
                    [p] if p.starts_with('~') => {
                        Match::Regex(regex(p.trim_start_matches(['~', '*']), p.starts_with("~*")))
                    }
                    [p] => Match::Prefix {
                        prefix: p.as_bytes().to_vec(),
                        no_regex: false,
                    },
                    other => panic!("location {other:?}"),
                };
                let body = block(toks, i, locations);
                locations.push(Location { matcher, body });
            }
            (Some("server"), "{") => stmts.extend(block(toks, i, locations)),
            (_, "{") => {
                block(toks, i, locations);
            }
            _ => {}
        }
        if term == "}" {
            return stmts;
        }
    }
    stmts
}

enum Step {
    Next,
    Last,
    Stop,
    Redirect(Vec<u8>),
}

impl Pcre2Rules {
    pub fn parse(text: &str) -> Pcre2Rules {
        let toks = tokens(text);
        let mut locations = Vec::new();
        let server = block(&toks, &mut 0, &mut locations);
        // One capture-location buffer large enough for every regex of the file.
        let mut widest = None::<&Regex>;
        fn visit<'a>(stmts: &'a [Stmt], widest: &mut Option<&'a Regex>) {
            for s in stmts {
                match s {
                    Stmt::Rewrite { re, .. } => {
                        if widest.map_or(true, |w| w.captures_len() < re.captures_len()) {
                            *widest = Some(re)
                        }
                    }
                    Stmt::If { re, body, .. } => {
                        if widest.map_or(true, |w| w.captures_len() < re.captures_len()) {
                            *widest = Some(re)
                        }
                        visit(body, widest)
                    }
                    Stmt::Break => {}
                }
            }
        }
        visit(&server, &mut widest);
        for l in &locations {
            visit(&l.body, &mut widest);
        }
        let locs = widest
            .expect("a rule file with rewrites")
            .capture_locations();
        Pcre2Rules {
            server,
            locations,
            locs,
        }
    }

    /// nginx's evaluation of one request target.
    pub fn apply(&mut self, target: &[u8]) -> Result {
        let (path, query) = match target.iter().position(|&b| b == b'?') {
            Some(q) => (&target[..q], &target[q + 1..]),
            None => (target, &b""[..]),
        };
        let Some(mut uri) = normalize(path) else {
            return Result::BadRequest;
        };
        let mut args = query.to_vec();
        let locs = &mut self.locs;
        match run(&self.server, &mut uri, &mut args, locs) {
            Step::Redirect(to) => return Result::Redirect(to),
            Step::Next | Step::Last | Step::Stop => {}
        }
        for _ in 0..10 {
            let Some(loc) = find_location(&self.locations, &uri) else {
                break;
            };
            match run(&loc.body, &mut uri, &mut args, locs) {
                Step::Redirect(to) => return Result::Redirect(to),
                Step::Last => continue,
                Step::Next | Step::Stop => break,
            }
        }
        Result::Pass { uri, args }
    }
}

fn find_location<'a>(locations: &'a [Location], uri: &[u8]) -> Option<&'a Location> {
    let mut best: Option<(&Location, usize, bool)> = None;
    for l in locations {
        match &l.matcher {
            Match::Exact(p) if p == uri => return Some(l),
            Match::Prefix { prefix, no_regex }
                if uri.starts_with(prefix) && best.map_or(true, |(_, n, _)| prefix.len() > n) =>
            {
                best = Some((l, prefix.len(), *no_regex));
            }
            _ => {}
        }
    }
    if best.map_or(true, |(_, _, no_regex)| !no_regex) {
        for l in locations {
            if let Match::Regex(re) = &l.matcher {
                if re.is_match(uri).unwrap_or(false) {
                    return Some(l);
                }
            }
        }
    }
    best.map(|(l, _, _)| l)
}

fn run(stmts: &[Stmt], uri: &mut Vec<u8>, args: &mut Vec<u8>, locs: &mut CaptureLocations) -> Step {
    for s in stmts {
        match s {
            Stmt::Break => return Step::Stop,
            Stmt::If { re, negate, body } => {
                if re.is_match(uri).unwrap_or(false) != *negate {
                    match run(body, uri, args, locs) {
                        Step::Next => {}
                        other => return other,
                    }
                }
            }
            Stmt::Rewrite {
                re,
                replacement,
                flag,
            } => {
                if re.captures_read(locs, uri).ok().flatten().is_none() {
                    continue;
                }
                let expanded = expand(replacement, uri, locs);
                if *flag == Flag::Redirect {
                    return Step::Redirect(expanded);
                }
                // New arguments come first, the previous ones after them (none after a final `?`).
                match expanded.iter().position(|&b| b == b'?') {
                    Some(q) => {
                        let mut new_args = expanded[q + 1..].to_vec();
                        if q + 1 < expanded.len() && !args.is_empty() {
                            new_args.push(b'&');
                            new_args.extend_from_slice(args);
                        }
                        *args = new_args;
                        *uri = expanded[..q].to_vec();
                    }
                    None => *uri = expanded,
                }
                match flag {
                    Flag::Last => return Step::Last,
                    Flag::Break => return Step::Stop,
                    _ => {}
                }
            }
        }
    }
    Step::Next
}

fn expand(replacement: &[u8], subject: &[u8], locs: &CaptureLocations) -> Vec<u8> {
    let mut out = Vec::with_capacity(replacement.len() + subject.len());
    let mut i = 0;
    while i < replacement.len() {
        let b = replacement[i];
        if b == b'$' && replacement.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let n = (replacement[i + 1] - b'0') as usize;
            if let Some((s, e)) = locs.get(n) {
                out.extend_from_slice(&subject[s..e]);
            }
            i += 2;
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}
