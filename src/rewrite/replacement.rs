//! A value with variables and captures (a rewrite's replacement, a `set` or `if` operand, a
//! `return` text), compiled once the way `ngx_http_script_compile` does, and expanded per
//! request the way nginx's script engine does.
//!
//! The escaping rules are nginx's, quirks included, because the upstream sees their result:
//! a capture is percent-escaped (nginx's "args" table) only when it lands in the query part or
//! the engine's `quote` mark is up (a redirect; a `set` or `if` value before any rewrite of the
//! same block matched), *and* the original request path held a `%` or `+`; otherwise it is
//! copied raw. Variables are never escaped. (nginx before 2026 also kept escaping captures in later
//! rules' paths once a query had been written; the fix, upstream 2046b45aa and in Debian's
//! 1.22.1-9+deb12u11, resets that per rule, and so does this port.)

use super::pcre::{ByteRegex, Groups};
use super::uri::{escape_into, Escape};
use super::vars::{Env, Var, Vars};

/// The captures of the last regex that matched (nginx's `r->captures` and
/// `r->captures_data`): kept for the whole request, across directives and location restarts.
///
/// Two costs are put off until they are due. Reading a match's groups costs more than knowing
/// it matched, and most matches' groups are never read (a `location ~ \.php$`, an `if` that
/// only guards), so a match on the meta engine may leave them pending: the regex is kept, and
/// the groups are read when a value that uses them is expanded ([`Captures::settle`]). That
/// engine cannot give up, so reading later gives what reading at once would have. And when the
/// subject is `$uri` (nearly always), it is not copied: it is `$uri` until a rule changes
/// `$uri`, and that rule hands the old one over ([`Captures::keep_uri`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct Captures<'r> {
    /// The subject the regex matched, when it is not the current `$uri`.
    data: Vec<u8>,
    /// The subject is the current `$uri`.
    on_uri: bool,
    /// Group ranges, group 0 first, up to the highest group that took part (once settled).
    groups: Groups,
    /// The regex that matched, when its groups are still to be read.
    pending: Option<&'r ByteRegex>,
}

impl<'r> Captures<'r> {
    /// A regex without backtracking constructs matched the current `$uri` (`on_uri`) or
    /// `subject`; its groups are read when needed.
    pub fn defer(&mut self, regex: &'r ByteRegex, subject: &[u8], on_uri: bool) {
        self.set_subject(subject, on_uri);
        self.groups.clear();
        self.pending = Some(regex);
    }

    /// A regex matched the current `$uri` (`on_uri`) or `subject` with these groups (swapped
    /// in; `groups` gets the old buffer back).
    pub fn replace(&mut self, subject: &[u8], on_uri: bool, groups: &mut Groups) {
        self.set_subject(subject, on_uri);
        std::mem::swap(&mut self.groups, groups);
        self.pending = None;
    }

    fn set_subject(&mut self, subject: &[u8], on_uri: bool) {
        self.on_uri = on_uri;
        if !on_uri {
            self.data.clear();
            self.data.extend_from_slice(subject);
        }
    }

    /// `$uri` is about to change: if it is the subject, it is kept here.
    pub fn keep_uri(&mut self, uri: Vec<u8>) {
        if self.on_uri {
            self.data = uri;
            self.on_uri = false;
        }
    }

    /// A regex failed: no captures (nginx's `r->ncaptures = 0`).
    pub fn clear(&mut self) {
        self.groups.clear();
        self.pending = None;
    }

    /// Reads the pending groups, if any (`uri` is the current `$uri`).
    pub fn settle(&mut self, uri: &[u8]) {
        if let Some(regex) = self.pending.take() {
            let subject = if self.on_uri { uri } else { &self.data };
            // Only a regex on the meta engine is deferred, and it cannot give up.
            if !matches!(regex.captures_into(subject, &mut self.groups), Ok(true)) {
                self.groups.clear();
            }
        }
    }

    /// Group `n`'s bytes (`uri` is the current `$uri`); empty if it did not take part or does
    /// not exist. The captures must be settled.
    pub fn group<'s>(&'s self, n: usize, uri: &'s [u8]) -> &'s [u8] {
        let subject = if self.on_uri { uri } else { &self.data };
        match self.groups.get(n) {
            Some(Some((s, e))) => subject.get(*s..*e).unwrap_or_default(),
            _ => &[],
        }
    }
}

/// One piece of a compiled replacement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    /// `$1`…`$9`.
    Capture(usize),
    Var(Var),
    /// The first literal `?` of an internal rewrite: what follows is the new query.
    ArgsStart,
}

/// A compiled replacement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Replacement {
    pieces: Vec<Piece>,
    /// A `$1`…`$9` appears: the captures must be settled before expanding.
    reads_captures: bool,
    /// A literal `?` appears (nginx's `sc.args`): in a redirect, the original query is then
    /// appended with `&` rather than `?`.
    pub has_question_mark: bool,
}

/// The expanded bytes and where the query starts, if the replacement split one off.
pub(crate) struct Expanded {
    pub bytes: Vec<u8>,
    pub args_at: Option<usize>,
}

impl Replacement {
    /// Compiles `source` (a rewrite's trailing `?` already removed). `split_args` is true only
    /// for an internal rewrite, whose first `?` starts the new query; variables are looked up
    /// in (or, for the file's own, noted to) `vars`, for the directive on `line`.
    pub fn compile(
        source: &str,
        split_args: bool,
        vars: &mut Vars,
        line: usize,
    ) -> Result<Replacement, String> {
        let mut rest = source.as_bytes();
        let mut pieces = Vec::new();
        let mut has_question_mark = false;
        let mut split_args = split_args;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix(b"$") {
                let (bracket, name_start) = match after {
                    [] => return Err("invalid variable name".into()),
                    [d @ b'1'..=b'9', after @ ..] => {
                        pieces.push(Piece::Capture(usize::from(d - b'0')));
                        rest = after;
                        continue;
                    }
                    [b'{', name_start @ ..] => (true, name_start),
                    _ => (false, after),
                };
                let len = name_start
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                // `len` counts bytes of `name_start`, so the split always succeeds.
                let (name, after) = name_start
                    .split_at_checked(len)
                    .unwrap_or((name_start, &[]));
                let name = std::str::from_utf8(name).unwrap_or_default();
                rest = after;
                if bracket {
                    let Some(after) = rest.strip_prefix(b"}") else {
                        return Err(format!(
                            "the closing bracket in \"{name}\" variable is missing"
                        ));
                    };
                    rest = after;
                }
                if name.is_empty() {
                    return Err("invalid variable name".into());
                }
                pieces.push(Piece::Var(vars.resolve(name, line)?));
                continue;
            }
            if split_args {
                if let Some(after) = rest.strip_prefix(b"?") {
                    has_question_mark = true;
                    split_args = false;
                    pieces.push(Piece::ArgsStart);
                    rest = after;
                    continue;
                }
            }
            // A literal runs to the next `$`, or to the `?` that starts the new query.
            let len = rest
                .iter()
                .position(|&b| b == b'$' || (b == b'?' && split_args))
                .unwrap_or(rest.len());
            let (literal, after) = rest.split_at_checked(len).unwrap_or((rest, &[]));
            has_question_mark |= literal.contains(&b'?');
            pieces.push(Piece::Literal(literal.to_vec()));
            rest = after;
        }
        Ok(Replacement {
            reads_captures: pieces.iter().any(|p| matches!(p, Piece::Capture(_))),
            pieces,
            has_question_mark,
        })
    }

    /// The path an internal rewrite with this replacement always writes, when no capture or
    /// variable comes before its query (`/app/provision/?mac=$1` always writes
    /// `/app/provision/`).
    pub fn constant_path(&self) -> Option<Vec<u8>> {
        let mut path = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(l) => path.extend_from_slice(l),
                Piece::ArgsStart => break,
                Piece::Capture(_) | Piece::Var(_) => return None,
            }
        }
        Some(path)
    }

    /// Whether expanding reads `$1`…`$9`.
    pub fn reads_captures(&self) -> bool {
        self.reads_captures
    }

    /// Expands the value. `escape_captures` is the request's `quoted || plus`; `quote` makes
    /// every capture eligible for escaping (nginx's `e->quote`).
    pub fn expand(
        &self,
        captures: &Captures,
        env: &Env<'_>,
        escape_captures: bool,
        quote: bool,
    ) -> Expanded {
        let mut bytes = Vec::with_capacity(64);
        let mut args_at = None;
        // nginx's `e->is_args`: captures after the first `?` are in the query.
        let mut in_args = false;
        for piece in &self.pieces {
            match piece {
                Piece::Literal(l) => bytes.extend_from_slice(l),
                Piece::Capture(n) => {
                    let cap = captures.group(*n, env.uri);
                    if (in_args || quote) && escape_captures {
                        escape_into(&mut bytes, cap, Escape::Args);
                    } else {
                        bytes.extend_from_slice(cap);
                    }
                }
                Piece::Var(v) => env.append(v, &mut bytes),
                Piece::ArgsStart => {
                    in_args = true;
                    args_at = Some(bytes.len());
                }
            }
        }
        Expanded { bytes, args_at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewrite::vars::Request;

    fn request() -> Request<'static> {
        Request {
            request_uri: b"/old?a=1",
            host: b"pbx",
            https: false,
            method: "GET",
            headers: &[],
            remote_addr: None,
        }
    }

    /// The expansion as `path|query` (or just the path when no query was split off).
    fn run(src: &str, split: bool, caps: &[&[u8]], esc: bool) -> String {
        let mut vars = Vars::default();
        let r = Replacement::compile(src, split, &mut vars, 1).unwrap();
        let mut data = Vec::new();
        let mut groups = Vec::new();
        for c in caps {
            groups.push(Some((data.len(), data.len() + c.len())));
            data.extend_from_slice(c);
        }
        let mut captures = Captures::default();
        captures.replace(&data, false, &mut groups);
        let req = request();
        let env = Env {
            req: &req,
            uri: b"/old",
            args: b"a=1",
            user: &[],
        };
        let mut e = r.expand(&captures, &env, esc, !split);
        if let Some(at) = e.args_at {
            e.bytes.insert(at, b'|');
        }
        String::from_utf8(e.bytes).unwrap()
    }

    #[test]
    fn captures_variables_and_the_query_split() {
        let caps: &[&[u8]] = &[b"/x/a b", b"a b"];
        assert_eq!(
            run("/n/$1?m=$1&$args", true, caps, false),
            "/n/a b|m=a b&a=1"
        );
        assert_eq!(run("/n/$1?m=$1", true, caps, true), "/n/a b|m=a%20b");
        assert_eq!(run("/n/$1?m=$1", true, caps, false), "/n/a b|m=a b");
        assert_eq!(run("/n/$2$9?q?r", true, caps, true), "/n/|q?r");
        assert_eq!(run(r"/f=\$1\$2", true, caps, false), r"/f=\a b\");
        assert_eq!(
            run("http://$host${uri}x?a?b", false, caps, false),
            "http://pbx/oldx?a?b"
        );
        assert_eq!(run("http://h/$1", false, caps, true), "http://h/a%20b");
        assert_eq!(run("/x$is_args$arg_a", true, caps, false), "/x?1");
    }

    #[test]
    fn only_a_literal_question_mark_counts() {
        let mut vars = Vars::default();
        assert!(
            !Replacement::compile("/x$args", false, &mut vars, 1)
                .unwrap()
                .has_question_mark
        );
        assert!(
            Replacement::compile("http://h/x?y", false, &mut vars, 1)
                .unwrap()
                .has_question_mark
        );
    }

    #[test]
    fn bad_variables_are_refused() {
        for bad in ["/x$", "/x${uri", "/x$/", "/x$server_port", "/x$0"] {
            let mut vars = Vars::default();
            let loaded = Replacement::compile(bad, true, &mut vars, 1)
                .map_err(|_| ())
                .and_then(|_| vars.finish().map(|_| ()).map_err(|_| ()));
            assert!(loaded.is_err(), "{bad}");
        }
    }
}
