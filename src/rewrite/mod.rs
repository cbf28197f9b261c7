//! A drop-in for nginx's rewrite module: load the rewrite part of the server block operators
//! run today (FusionPBX's `if ($uri !~* …) { rewrite ^(.*) https://$host$1 permanent; }`, its
//! `rewrite "^.*/provision/([A-Fa-f0-9]{12})…" /app/provision/index.php?mac=$1 last;` lists,
//! or the whole `server { … }` block) and get, for any request, exactly the answer nginx 1.22
//! would give, so moving a deployment from nginx to provedge's rewrite mode changes nothing the
//! upstream or the phone can see.
//!
//! ## Design
//!
//! Faithfulness is the point, so each part is a port of the nginx code that defines it rather
//! than a reading of its documentation:
//!
//! * [`token`]: `ngx_conf_read_token`: quoting, `\` escapes, `#` comments, and the unquoted
//!   `{` that ends a directive (why nginx refuses `{12}` in an unquoted regex).
//! * [`parse`]: the directives of the rewrite module (`rewrite`, `if`, `set`, `return`,
//!   `break`, `rewrite_log`, `uninitialized_variable_warn`), nested `location` blocks,
//!   `allow`/`deny`, compiled as `ngx_http_rewrite_module.c` compiles them; anything provedge
//!   cannot honour is refused with its line.
//! * [`pcre`]: PCRE → `fancy-regex` translation, in byte mode like nginx's PCRE; whatever cannot
//!   be given PCRE's answer is refused at load with its line. Patterns without a backtracking
//!   construct run directly on `regex-automata`'s meta engine, the one `fancy-regex` delegates
//!   them to.
//! * [`prefilter`]: every regex on `$uri` compiled once into one lazy DFA, so one scan of
//!   `$uri` says which can match; directives still run one by one, in order, and only the
//!   regexes the scan leaves in run.
//! * [`uri`]: `ngx_http_parse_complex_uri`: rules match the decoded, slash-merged,
//!   dot-resolved `$uri`, and a malformed target is a 400 before any rule runs.
//! * [`replacement`] and [`vars`]: `ngx_http_script_compile` and the script engine: `$1`…`$9`,
//!   variables, the first `?` splitting off a new query, and nginx's capture escaping.
//! * [`script`]: the compiled directives; [`location`]: `ngx_http_core_find_location`.
//! * [`eval`]: the phases: server directives once, then location directives with restarts
//!   after `last` (or a flagless change), the 10-restart limit, `break`, redirects, `return`.
//!
//! Loading validates everything once ([`RuleSet::parse`]); applying ([`RuleSet::apply`]) never
//! panics and is bounded: targets over 8 KiB are refused, a rewritten URI or a variable over
//! 64 KiB is a 500, a regex gives up after a fixed number of backtracking steps (a 500, as
//! nginx answers when PCRE hits its match limit), and each regex's DFA cache (and the
//! prefilter's) is capped.
//!
//! ## What a host does with the [`Outcome`]
//!
//! * [`Outcome::Internal`]: forward upstream with [`Internal::upstream_target`], the bytes
//!   nginx's `proxy_pass http://upstream;` would send: the original target untouched when no
//!   rule matched, else the new path escaped as nginx escapes it plus `?` and the new query.
//! * [`Outcome::Redirect`]: answer 301/302 with [`Redirect::location`]. nginx turns a relative
//!   Location into an absolute one with the server's scheme, host and port
//!   (`absolute_redirect on`); the host knows those, this module does not.
//! * [`Outcome::Return`]: a `return` (or a `deny`): answer its status, with its Location or
//!   body when it has one.
//! * [`Outcome::BadRequest`] (400/414) and [`Outcome::ServerError`] (500): answer with the
//!   status.
//!
//! Deliberate divergences from nginx are listed in `docs/rewrite.md`.
//!
//! [`export`] goes the other way: it renders the typed router as nginx rules.

mod eval;
pub mod export;
mod location;
mod parse;
mod pcre;
mod prefilter;
mod replacement;
mod rule;
mod script;
mod token;
mod uri;
mod vars;

/// The rule-file generator (and random source) of the differential test against nginx, for
/// the unit tests of these modules.
#[cfg(test)]
#[path = "../../tests/rewrite_gen/mod.rs"]
#[allow(dead_code)]
mod rewrite_gen;

use std::fmt;
use std::net::IpAddr;

pub use uri::BadTarget;

/// A loaded rule file. Cheap to share across requests; clone it into each worker or VM.
#[derive(Clone, Debug)]
pub struct RuleSet {
    /// Directives outside any location: nginx's server-rewrite phase.
    server: Vec<script::Stmt>,
    /// Server-level `allow`/`deny`, for requests no location takes (and inherited by those
    /// that have none of their own).
    server_access: Vec<script::AccessRule>,
    locations: Vec<location::Location>,
    /// How many variables the file declares (`set`, named captures).
    slots: usize,
    /// Every `$uri` regex of the file as one automaton: one scan says which can match.
    prefilter: prefilter::UriPrefilter,
}

impl RuleSet {
    /// Loads a rule file: the rewrite directives and `location` blocks of an nginx `server`
    /// block (or the whole block). Refuses, with the line, whatever nginx would refuse and
    /// whatever this engine cannot reproduce exactly. CRLF line ends load like LF.
    pub fn parse(text: &str) -> Result<RuleSet, LoadError> {
        parse::parse(text)
    }

    /// What nginx would do with this request.
    pub fn apply(&self, input: &RewriteInput<'_>) -> Outcome {
        eval::apply(self, input)
    }

    /// How many directives the file holds (server level, in `if` blocks and in locations).
    pub fn len(&self) -> usize {
        fn count(stmts: &[script::Stmt]) -> usize {
            stmts
                .iter()
                .map(|s| match s {
                    script::Stmt::If { body, .. } => 1 + count(body),
                    _ => 1,
                })
                .sum()
        }
        fn locations(locs: &[location::Location]) -> usize {
            locs.iter()
                .map(|l| count(&l.body) + l.access.len() + locations(&l.children))
                .sum()
        }
        count(&self.server) + self.server_access.len() + locations(&self.locations)
    }

    /// Whether the file holds no rules at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a rule file did not load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// 1-based line of the offending directive.
    pub line: usize,
    pub reason: String,
}

impl LoadError {
    fn new(line: usize, reason: impl Into<String>) -> LoadError {
        LoadError {
            line,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for LoadError {}

/// The parts of a request rewriting reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RewriteInput<'a> {
    /// The request target as received: path and optional query, still percent-encoded.
    pub target: &'a str,
    /// The Host header (`$host`; port and case are normalised away). Empty if none.
    pub host: &'a str,
    /// Whether the request reached the host over TLS (`$scheme`); see `docs/rewrite.md` for
    /// how the engine decides it behind a proxy.
    pub https: bool,
    /// The request method (`$request_method`).
    pub method: &'a str,
    /// The request headers in arrival order (`$http_NAME`).
    pub headers: &'a [(String, String)],
    /// The client address (`$remote_addr`, `allow`/`deny`): the one the policy computed, so a
    /// trusted proxy's forwarded address, not the proxy's.
    pub remote_addr: Option<IpAddr>,
}

impl<'a> RewriteInput<'a> {
    /// A plain-HTTP `GET` of `target` with no headers and no known client.
    pub fn new(target: &'a str) -> RewriteInput<'a> {
        RewriteInput {
            target,
            host: "",
            https: false,
            method: "GET",
            headers: &[],
            remote_addr: None,
        }
    }

    /// Sets the request method.
    pub fn with_method(self, method: &'a str) -> RewriteInput<'a> {
        RewriteInput { method, ..self }
    }

    /// Sets the request headers (the Host header is passed apart, with [`Self::with_host`]).
    pub fn with_headers(self, headers: &'a [(String, String)]) -> RewriteInput<'a> {
        RewriteInput { headers, ..self }
    }

    /// Sets the client address.
    pub fn with_remote_addr(self, remote_addr: Option<IpAddr>) -> RewriteInput<'a> {
        RewriteInput {
            remote_addr,
            ..self
        }
    }

    /// Sets the Host header.
    pub fn with_host(self, host: &'a str) -> RewriteInput<'a> {
        RewriteInput { host, ..self }
    }

    /// Marks the request as received over TLS.
    pub fn with_https(self, https: bool) -> RewriteInput<'a> {
        RewriteInput { https, ..self }
    }
}

impl<'a> From<&'a crate::Request> for RewriteInput<'a> {
    /// The request as it arrived: its target, Host, method, headers and peer (a host behind
    /// proxies should pass the policy's client address instead, as the engine does).
    fn from(req: &'a crate::Request) -> RewriteInput<'a> {
        RewriteInput::new(&req.target)
            .with_host(req.header("host").unwrap_or(""))
            .with_method(req.method.as_str())
            .with_headers(&req.headers)
            .with_remote_addr(req.peer)
    }
}

/// What nginx would do with a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Pass the request on, rewritten or not.
    Internal(Internal),
    /// Answer with a redirect.
    Redirect(Redirect),
    /// Answer as a `return` directive (or a `deny`) says.
    Return(Return),
    /// nginx refuses the target before rewriting (400, or 414 when too long).
    BadRequest(BadTarget),
    /// nginx answers 500.
    ServerError(ServerError),
}

/// A request to pass on, with nginx's `$uri` and `$args` after rewriting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Internal {
    uri: Vec<u8>,
    args: Vec<u8>,
    applied: Vec<usize>,
    /// The target as received, when nothing changed it (empty otherwise: not sent).
    original: Vec<u8>,
    /// A rule matched or `set $args` ran (nginx's `valid_unparsed_uri` is off): the target
    /// upstream is rebuilt from `$uri` and `$args`.
    changed: bool,
    /// The rebuilt path is escaped: the original held a `%` escape or a rule matched
    /// (nginx's proxy checks `quoted_uri || internal`); after only `set $args`, raw bytes
    /// of the path go upstream raw.
    escape: bool,
}

impl Internal {
    /// `$uri`: the decoded path if no rule matched, else the path the last rule produced.
    pub fn uri(&self) -> &[u8] {
        &self.uri
    }

    /// `$args`: the query, raw.
    pub fn args(&self) -> &[u8] {
        &self.args
    }

    /// Whether the request was changed: a rule matched, or `set $args` ran.
    pub fn rewritten(&self) -> bool {
        self.changed
    }

    /// The lines of the rules that matched, in the order they ran (for logs).
    pub fn applied(&self) -> &[usize] {
        &self.applied
    }

    /// The target to send upstream, as nginx's `proxy_pass` (without a URI part) sends it:
    /// the original bytes if nothing was changed, else the path escaped with nginx's URI
    /// table, then `?` and the query if there is one. Bytes, because a `$uri` copied into a
    /// query may hold any byte.
    pub fn upstream_target(&self) -> Vec<u8> {
        if !self.changed {
            return self.original.clone();
        }
        let mut out = Vec::with_capacity(self.uri.len() + self.args.len() + 8);
        if self.escape {
            uri::escape_into(&mut out, &self.uri, uri::Escape::Uri);
        } else {
            out.extend_from_slice(&self.uri);
        }
        if !self.args.is_empty() {
            out.push(b'?');
            out.extend_from_slice(&self.args);
        }
        out
    }
}

/// A redirect answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub status: RedirectStatus,
    /// The Location as the rewrite built it (relative if the replacement was).
    pub location: Vec<u8>,
    /// The lines of the rules that matched, the redirecting one last (for logs).
    pub applied: Vec<usize>,
}

/// What a `return` (or `deny`, 403) answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Return {
    /// 200–599 (the statuses a host can answer; others are refused at load).
    pub status: u16,
    /// For 301, 302, 303, 307 and 308: the text, as the Location (relative if it was).
    pub location: Option<Vec<u8>>,
    /// The body: the text for other statuses (empty below 400 without one); `None` for an
    /// error status without text, where nginx sends its own error page and the host sends its
    /// own, and for redirects.
    pub body: Option<Vec<u8>>,
    /// The lines of the rules that matched and of the answering directive (for logs).
    pub applied: Vec<usize>,
}

/// `redirect` (302) or `permanent` (301).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectStatus {
    /// 302, from the `redirect` flag or a replacement starting with a scheme.
    Found,
    /// 301, from the `permanent` flag.
    Permanent,
}

impl RedirectStatus {
    pub fn code(self) -> u16 {
        match self {
            RedirectStatus::Found => 302,
            RedirectStatus::Permanent => 301,
        }
    }
}

/// Why nginx would answer 500.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerError {
    /// More than 10 location restarts: "rewrite or internal redirection cycle".
    Cycle,
    /// A rule produced an empty path: "the rewritten URI has a zero length".
    EmptyUri,
    /// The rewritten path and query, or a variable, outgrew 64 KiB (a provedge bound; nginx
    /// has none).
    TooLong,
    /// A regex gave up after its backtracking limit (nginx: PCRE's match limit).
    RegexLimit,
}

impl BadTarget {
    /// The status nginx answers with.
    pub fn status(self) -> u16 {
        match self {
            BadTarget::TooLong => 414,
            _ => 400,
        }
    }
}

impl Outcome {
    /// The status of a final answer; `None` for [`Outcome::Internal`], which goes upstream.
    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Internal(_) => None,
            Outcome::Redirect(r) => Some(r.status.code()),
            Outcome::Return(r) => Some(r.status),
            Outcome::BadRequest(b) => Some(b.status()),
            Outcome::ServerError(_) => Some(500),
        }
    }
}
