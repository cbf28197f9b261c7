//! A rewrite's replacement, compiled once the way `ngx_http_script_compile` does, and expanded
//! per request the way nginx's script engine does.
//!
//! The escaping rules are nginx's, quirks included, because the upstream sees their result:
//! a capture is percent-escaped (nginx's "args" table) only when it lands in the query part or
//! in a redirect, *and* the original request path held a `%` or `+`; otherwise it is copied
//! raw. Variables are never escaped. (nginx before 2026 also kept escaping captures in later
//! rules' paths once a query had been written; the fix, upstream 2046b45aa and in Debian's
//! 1.22.1-9+deb12u11, resets that per rule, and so does this port.)

use super::uri::{escape_into, Escape};
use super::vars::{Scope, Var, KNOWN};

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
    /// Compiles `source` (trailing `?` already removed). `split_args` is false for redirects,
    /// whose `?` stays literal.
    pub fn compile(source: &str, split_args: bool) -> Result<Replacement, String> {
        let src = source.as_bytes();
        let mut pieces = Vec::new();
        let mut has_question_mark = false;
        let mut split_args = split_args;
        let mut i = 0;
        while i < src.len() {
            if src[i] == b'$' {
                i += 1;
                let Some(&c) = src.get(i) else {
                    return Err("invalid variable name".into());
                };
                if (b'1'..=b'9').contains(&c) {
                    pieces.push(Piece::Capture(usize::from(c - b'0')));
                    i += 1;
                    continue;
                }
                let bracket = c == b'{';
                if bracket {
                    i += 1;
                }
                let start = i;
                while src
                    .get(i)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
                {
                    i += 1;
                }
                let name = std::str::from_utf8(&src[start..i]).unwrap_or_default();
                if bracket {
                    if src.get(i) != Some(&b'}') {
                        return Err(format!(
                            "the closing bracket in \"{name}\" variable is missing"
                        ));
                    }
                    i += 1;
                }
                if name.is_empty() {
                    return Err("invalid variable name".into());
                }
                let var = Var::from_name(name).ok_or_else(|| {
                    format!("unsupported variable \"${name}\" (provedge knows {KNOWN})")
                })?;
                pieces.push(Piece::Var(var));
                continue;
            }
            if src[i] == b'?' && split_args {
                has_question_mark = true;
                split_args = false;
                pieces.push(Piece::ArgsStart);
                i += 1;
                continue;
            }
            let start = i;
            while i < src.len() && src[i] != b'$' {
                if src[i] == b'?' {
                    has_question_mark = true;
                    if split_args {
                        break;
                    }
                }
                i += 1;
            }
            pieces.push(Piece::Literal(src[start..i].to_vec()));
        }
        Ok(Replacement {
            pieces,
            has_question_mark,
        })
    }

    /// Expands the replacement. `captures[n]` is group `n`'s bytes if it took part in the
    /// match; `escape_captures` is the request's `quoted || plus`; `redirect` makes every
    /// capture eligible for escaping (nginx's `e->quote`).
    pub fn expand(
        &self,
        captures: &[Option<&[u8]>],
        scope: &Scope<'_>,
        escape_captures: bool,
        redirect: bool,
    ) -> Expanded {
        let mut bytes = Vec::with_capacity(64);
        let mut args_at = None;
        // nginx's `e->is_args`: captures after the first `?` are in the query.
        let mut in_args = false;
        for piece in &self.pieces {
            match piece {
                Piece::Literal(l) => bytes.extend_from_slice(l),
                Piece::Capture(n) => {
                    let Some(Some(cap)) = captures.get(*n) else {
                        continue;
                    };
                    if (in_args || redirect) && escape_captures {
                        escape_into(&mut bytes, cap, Escape::Args);
                    } else {
                        bytes.extend_from_slice(cap);
                    }
                }
                Piece::Var(v) => scope.append(v, &mut bytes),
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

    fn scope() -> Scope<'static> {
        Scope {
            uri: b"/old",
            args: b"a=1",
            request_uri: b"/old?a=1",
            host: b"pbx",
            https: false,
        }
    }

    /// The expansion as `path|query` (or just the path when no query was split off).
    fn run(src: &str, split: bool, caps: &[Option<&[u8]>], esc: bool) -> String {
        let r = Replacement::compile(src, split).unwrap();
        let mut e = r.expand(caps, &scope(), esc, !split);
        if let Some(at) = e.args_at {
            e.bytes.insert(at, b'|');
        }
        String::from_utf8(e.bytes).unwrap()
    }

    #[test]
    fn captures_variables_and_the_query_split() {
        let caps: &[Option<&[u8]>] = &[Some(b"/x/a b"), Some(b"a b")];
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
        assert!(
            !Replacement::compile("/x$args", false)
                .unwrap()
                .has_question_mark
        );
        assert!(
            Replacement::compile("http://h/x?y", false)
                .unwrap()
                .has_question_mark
        );
    }

    #[test]
    fn bad_variables_are_refused() {
        for bad in ["/x$", "/x${uri", "/x$/", "/x$http_user_agent", "/x$0"] {
            assert!(Replacement::compile(bad, true).is_err(), "{bad}");
        }
    }
}
