//! The nginx variables rules may read, and their values during a request.
//!
//! Only variables a provisioning config has a use for are known; any other `$name` is refused
//! when the rules load (nginx would accept `$server_port` and friends, but a rule file that
//! loads here must mean the same as in nginx, so unknown is an error, not empty). Names are
//! case-insensitive, as in nginx (`$URI` is `$uri`).
//!
//! Variables a file declares itself (`set $name …;` and named captures `(?<name>…)`) live in
//! per-request slots: nginx keeps them for the whole request, across location restarts.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// A variable in a value (a replacement, `set`, `if`, `return`).
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
    /// `$remote_addr`: the client address as the host's policy computed it.
    RemoteAddr,
    /// `$request_method`.
    RequestMethod,
    /// `$arg_NAME`: the raw value of the first `NAME=` in the query (name compared
    /// case-insensitively, as nginx does).
    Arg(Vec<u8>),
    /// `$http_NAME`: a request header (`_` stands for `-`, case-insensitive).
    Header(Vec<u8>),
    /// A variable the file declares (`set`, named capture): its slot.
    User(usize),
}

/// The names [`Vars::resolve`] knows, for error messages.
pub(crate) const KNOWN: &str = "$args, $query_string, $uri, $document_uri, $request_uri, $host, \
     $is_args, $scheme, $remote_addr, $request_method, $arg_NAME, $http_NAME, $1…$9, named \
     captures and variables the file sets";

/// Variables nginx has that a rule file here may not declare with `set` or a named capture:
/// they would shadow a variable of the same name (nginx refuses most of them too).
const RESERVED_PREFIXES: &[&str] = &["http_", "arg_", "cookie_", "sent_http_", "sent_trailer_"];

/// The built-in variables, by name.
fn builtin(name: &str) -> Option<Var> {
    Some(match name {
        "args" | "query_string" => Var::Args,
        "uri" | "document_uri" => Var::Uri,
        "request_uri" => Var::RequestUri,
        "host" => Var::Host,
        "is_args" => Var::IsArgs,
        "scheme" => Var::Scheme,
        "remote_addr" => Var::RemoteAddr,
        "request_method" => Var::RequestMethod,
        _ => {
            if let Some(arg) = name.strip_prefix("arg_").filter(|a| !a.is_empty()) {
                return Some(Var::Arg(arg.as_bytes().to_vec()));
            }
            if let Some(h) = name.strip_prefix("http_").filter(|h| !h.is_empty()) {
                return Some(Var::Header(h.as_bytes().to_vec()));
            }
            return None;
        }
    })
}

/// Other nginx variables: known to nginx, so `set` may not redeclare them, but not offered.
const NGINX_ONLY: &[&str] = &[
    "binary_remote_addr",
    "body_bytes_sent",
    "bytes_sent",
    "connection",
    "connection_requests",
    "content_length",
    "content_type",
    "document_root",
    "hostname",
    "https",
    "limit_rate",
    "msec",
    "nginx_version",
    "pid",
    "pipe",
    "realpath_root",
    "remote_port",
    "remote_user",
    "request",
    "request_body",
    "request_body_file",
    "request_completion",
    "request_filename",
    "request_id",
    "request_length",
    "request_time",
    "server_addr",
    "server_name",
    "server_port",
    "server_protocol",
    "status",
    "time_iso8601",
    "time_local",
];

/// The file's variable table, built while it loads: declared names get slots; uses of names
/// not declared are checked once the whole file is read (nginx resolves variables after
/// parsing, so a `set` later in the file declares a variable used earlier).
#[derive(Debug, Default)]
pub(crate) struct Vars {
    slots: BTreeMap<String, usize>,
    declared: Vec<bool>,
    /// (slot, line) of each use, checked by [`Vars::finish`].
    uses: Vec<(usize, usize)>,
}

impl Vars {
    /// The variable `$name` used on `line`.
    pub fn resolve(&mut self, name: &str, line: usize) -> Result<Var, String> {
        let lower = name.to_ascii_lowercase();
        if let Some(var) = builtin(&lower) {
            return Ok(var);
        }
        if NGINX_ONLY.contains(&lower.as_str()) {
            return Err(format!(
                "unsupported variable \"${name}\" (provedge knows {KNOWN})"
            ));
        }
        let slot = self.slot(lower);
        self.uses.push((slot, line));
        Ok(Var::User(slot))
    }

    /// Declares `$name` (by `set` or a named capture); its slot, or why it may not be.
    pub fn declare(&mut self, name: &str) -> Result<usize, String> {
        let lower = name.to_ascii_lowercase();
        if builtin(&lower).is_some() || NGINX_ONLY.contains(&lower.as_str()) {
            return Err(format!(
                "\"${name}\" is a built-in variable; setting it is not supported"
            ));
        }
        if RESERVED_PREFIXES.iter().any(|p| lower.starts_with(p)) {
            return Err(format!(
                "\"${name}\" would shadow nginx's \"${}…\" variables; choose another name",
                RESERVED_PREFIXES
                    .iter()
                    .find(|p| lower.starts_with(*p))
                    .unwrap_or(&"")
            ));
        }
        if lower.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("\"${name}\" is not a variable name"));
        }
        let slot = self.slot(lower);
        // `slot` just made sure `declared` covers the slot.
        if let Some(declared) = self.declared.get_mut(slot) {
            *declared = true;
        }
        Ok(slot)
    }

    fn slot(&mut self, lower: String) -> usize {
        let next = self.slots.len();
        let slot = *self.slots.entry(lower).or_insert(next);
        if slot == self.declared.len() {
            self.declared.push(false);
        }
        slot
    }

    /// Every use names a declared variable, or the first that does not, with its line.
    pub fn finish(&self) -> Result<usize, (usize, String)> {
        for &(slot, line) in &self.uses {
            if !self.declared.get(slot).copied().unwrap_or(false) {
                let name = self
                    .slots
                    .iter()
                    .find(|(_, &s)| s == slot)
                    .map_or("?", |(n, _)| n.as_str());
                return Err((
                    line,
                    format!("unknown variable \"${name}\" (provedge knows {KNOWN})"),
                ));
            }
        }
        Ok(self.declared.len())
    }
}

/// What does not change while a request is rewritten: the request as the host passed it.
pub(crate) struct Request<'a> {
    pub request_uri: &'a [u8],
    pub host: &'a [u8],
    pub https: bool,
    pub method: &'a str,
    pub headers: &'a [(String, String)],
    pub remote_addr: Option<IpAddr>,
}

/// What variables read at the moment a directive runs.
pub(crate) struct Env<'a> {
    pub req: &'a Request<'a>,
    pub uri: &'a [u8],
    pub args: &'a [u8],
    /// Slots of the file's own variables; `None` until set (reads as empty, as nginx's
    /// "uninitialized variable").
    pub user: &'a [Option<Vec<u8>>],
}

impl Env<'_> {
    /// Appends the variable's value to `out`. Values are copied raw: nginx never escapes a
    /// variable, only captures.
    pub fn append(&self, var: &Var, out: &mut Vec<u8>) {
        match var {
            Var::Args => out.extend_from_slice(self.args),
            Var::Uri => out.extend_from_slice(self.uri),
            Var::RequestUri => out.extend_from_slice(self.req.request_uri),
            Var::Host => out.extend_from_slice(self.req.host),
            Var::IsArgs if !self.args.is_empty() => out.push(b'?'),
            Var::IsArgs => {}
            Var::Scheme => out.extend_from_slice(if self.req.https { b"https" } else { b"http" }),
            Var::RemoteAddr => {
                if let Some(ip) = self.req.remote_addr {
                    out.extend_from_slice(ip.to_string().as_bytes());
                }
            }
            Var::RequestMethod => out.extend_from_slice(self.req.method.as_bytes()),
            Var::Arg(name) => out.extend_from_slice(arg(self.args, name).unwrap_or_default()),
            Var::Header(name) => header(self.req.headers, name, out),
            Var::User(slot) => {
                if let Some(Some(v)) = self.user.get(*slot) {
                    out.extend_from_slice(v);
                }
            }
        }
    }

    /// The variable's value on its own (for `if`).
    pub fn value(&self, var: &Var) -> Vec<u8> {
        let mut out = Vec::new();
        self.append(var, &mut out);
        out
    }
}

/// `$http_NAME` as nginx 1.22 reads it: `Cookie` lines joined with `; `, `X-Forwarded-For`
/// with `, `, any other header's first line.
fn header(headers: &[(String, String)], name: &[u8], out: &mut Vec<u8>) {
    let matches = |h: &str| {
        h.len() == name.len()
            && h.bytes().zip(name).all(|(c, &n)| {
                let c = if c == b'-' {
                    b'_'
                } else {
                    c.to_ascii_lowercase()
                };
                c == n
            })
    };
    let sep: &[u8] = match name {
        b"cookie" => b"; ",
        b"x_forwarded_for" => b", ",
        _ => {
            if let Some((_, v)) = headers.iter().find(|(h, _)| matches(h)) {
                out.extend_from_slice(v.as_bytes());
            }
            return;
        }
    };
    for (i, (_, v)) in headers.iter().filter(|(h, _)| matches(h)).enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        out.extend_from_slice(v.as_bytes());
    }
}

/// nginx's `ngx_http_arg`: the value after the first `name=` that starts the query or follows
/// an `&`, up to the next `&`.
pub(crate) fn arg<'a>(args: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    // Where an argument can start: the query's start and the byte after every `&`.
    let mut starts = std::iter::successors(Some(args), |from| {
        let amp = from.iter().position(|&b| b == b'&')?;
        from.get(amp + 1..)
    });
    starts.find_map(|from| {
        let (candidate, after) = from.split_at_checked(name.len())?;
        let value = after.strip_prefix(b"=")?;
        candidate
            .eq_ignore_ascii_case(name)
            .then(|| value.split(|&b| b == b'&').next().unwrap_or(value))
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
    fn names_resolve_case_insensitively() {
        let mut vars = Vars::default();
        assert_eq!(vars.resolve("query_string", 1), Ok(Var::Args));
        assert_eq!(vars.resolve("URI", 1), Ok(Var::Uri));
        assert_eq!(vars.resolve("arg_mac", 1), Ok(Var::Arg(b"mac".to_vec())));
        assert_eq!(
            vars.resolve("HTTP_User_Agent", 1),
            Ok(Var::Header(b"user_agent".to_vec()))
        );
        assert!(vars.resolve("server_port", 1).is_err());
        // A use before the `set` that declares it is fine; an undeclared one is not.
        let used = vars.resolve("Later", 3).unwrap();
        assert_eq!(
            vars.declare("later"),
            Ok(match used {
                Var::User(s) => s,
                _ => unreachable!(),
            })
        );
        assert!(vars.finish().is_ok());
        vars.resolve("never", 7).unwrap();
        assert_eq!(vars.finish().unwrap_err().0, 7);
        assert!(vars.declare("uri").is_err());
        assert!(vars.declare("http_x").is_err());
        assert!(vars.declare("1").is_err());
    }

    #[test]
    fn headers_read_as_nginx_1_22_reads_them() {
        let headers: Vec<(String, String)> = [
            ("User-Agent", "a"),
            ("user-agent", "b"),
            ("Cookie", "x=1"),
            ("cookie", "y=2"),
            ("X-Forwarded-For", "1.1.1.1"),
            ("x-forwarded-for", "2.2.2.2"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        let get = |name: &[u8]| {
            let mut out = Vec::new();
            header(&headers, name, &mut out);
            out
        };
        assert_eq!(get(b"user_agent"), b"a");
        assert_eq!(get(b"cookie"), b"x=1; y=2");
        assert_eq!(get(b"x_forwarded_for"), b"1.1.1.1, 2.2.2.2");
        assert_eq!(get(b"referer"), b"");
    }
}
