//! The nginx variables a replacement may use, and their values during a rewrite.
//!
//! Only variables that make sense for a provisioning rewrite are known; any other `$name` is
//! refused when the rules load (nginx would accept `$http_user_agent` and friends, but a rule
//! file that loads here must mean the same as in nginx, so unknown is an error, not empty).

/// A variable in a replacement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Var {
    /// `$args`, `$query_string`: the current query, raw.
    Args,
    /// `$uri`, `$document_uri`: the current (decoded, or already rewritten) path.
    Uri,
    /// `$request_uri`: the target exactly as the client sent it.
    RequestUri,
    /// `$host`: the Host header, lower-cased, without port.
    Host,
    /// `$is_args`: `?` when there is a query, else empty.
    IsArgs,
    /// `$scheme`: `http` or `https`.
    Scheme,
    /// `$arg_NAME`: the raw value of the first `NAME=` in the query (name compared
    /// case-insensitively, as nginx does).
    Arg(Vec<u8>),
}

/// The names [`Var::from_name`] knows, for error messages.
pub(crate) const KNOWN: &str =
    "$args, $query_string, $uri, $document_uri, $request_uri, $host, $is_args, $scheme, $arg_NAME";

impl Var {
    pub fn from_name(name: &str) -> Option<Var> {
        Some(match name {
            "args" | "query_string" => Var::Args,
            "uri" | "document_uri" => Var::Uri,
            "request_uri" => Var::RequestUri,
            "host" => Var::Host,
            "is_args" => Var::IsArgs,
            "scheme" => Var::Scheme,
            _ => match name.strip_prefix("arg_") {
                Some(arg) if !arg.is_empty() => Var::Arg(arg.as_bytes().to_vec()),
                _ => return None,
            },
        })
    }
}

/// What variables read: the request as it stands at the moment the rule runs.
pub(crate) struct Scope<'a> {
    pub uri: &'a [u8],
    pub args: &'a [u8],
    pub request_uri: &'a [u8],
    pub host: &'a [u8],
    pub https: bool,
}

impl Scope<'_> {
    /// Appends the variable's value to `out`. Values are copied raw: nginx does not escape
    /// variables in a replacement, only captures.
    pub fn append(&self, var: &Var, out: &mut Vec<u8>) {
        match var {
            Var::Args => out.extend_from_slice(self.args),
            Var::Uri => out.extend_from_slice(self.uri),
            Var::RequestUri => out.extend_from_slice(self.request_uri),
            Var::Host => out.extend_from_slice(self.host),
            Var::IsArgs if !self.args.is_empty() => out.push(b'?'),
            Var::IsArgs => {}
            Var::Scheme => out.extend_from_slice(if self.https { b"https" } else { b"http" }),
            Var::Arg(name) => out.extend_from_slice(arg(self.args, name).unwrap_or_default()),
        }
    }
}

/// nginx's `ngx_http_arg`: the value after the first `name=` that starts the query or follows
/// an `&`, up to the next `&`.
fn arg<'a>(args: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let n = name.len();
    (0..args.len()).find_map(|at| {
        let candidate = args.get(at..at + n)?;
        let starts = at == 0 || args[at - 1] == b'&';
        if starts && candidate.eq_ignore_ascii_case(name) && args.get(at + n) == Some(&b'=') {
            let value = &args[at + n + 1..];
            Some(value.split(|&b| b == b'&').next().unwrap_or(value))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arg_lookup_follows_nginx() {
        assert_eq!(arg(b"mac=1&file=a", b"file"), Some(&b"a"[..]));
        assert_eq!(arg(b"MAC=1&file=a", b"mac"), Some(&b"1"[..]));
        assert_eq!(arg(b"xmac=1&mac=2", b"mac"), Some(&b"2"[..]));
        assert_eq!(arg(b"mac", b"mac"), None);
        assert_eq!(arg(b"mac=", b"mac"), Some(&b""[..]));
        assert_eq!(arg(b"", b"mac"), None);
    }

    #[test]
    fn names() {
        assert_eq!(Var::from_name("query_string"), Some(Var::Args));
        assert_eq!(Var::from_name("arg_mac"), Some(Var::Arg(b"mac".to_vec())));
        assert_eq!(Var::from_name("arg_"), None);
        assert_eq!(Var::from_name("http_user_agent"), None);
    }
}
