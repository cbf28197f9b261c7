//! A drop-in for nginx `rewrite` rules: load the rule lists operators run today (FusionPBX's
//! `rewrite "^.*/provision/([A-Fa-f0-9]{12})…" /app/provision/index.php?mac=$1 last;` and
//! friends) and get, for any request, exactly the answer nginx 1.22 would give, so moving a
//! deployment from nginx to provedge's rewrite mode changes nothing the upstream can see.
//!
//! ## Design
//!
//! Faithfulness is the point, so each part is a port of the nginx code that defines it rather
//! than a reading of its documentation:
//!
//! * [`token`]: `ngx_conf_read_token`: quoting, `\` escapes, `#` comments, and the unquoted
//!   `{` that ends a directive (why nginx refuses `{12}` in an unquoted regex).
//! * [`parse`]: the rule-file grammar: `rewrite` and `location` blocks, nothing else.
//! * [`pcre`]: PCRE → `regex-lite` translation. Byte-oriented like nginx's PCRE; whatever the crate
//!   cannot express exactly (lookaround, backreferences, …) is refused at load with its line.
//! * [`uri`]: `ngx_http_parse_complex_uri`: rules match the decoded, slash-merged,
//!   dot-resolved `$uri`, and a malformed target is a 400 before any rule runs.
//! * [`replacement`] and [`vars`]: `ngx_http_script_compile` and the script engine: `$1`…`$9`,
//!   variables, the first `?` splitting off a new query, and nginx's capture escaping.
//! * [`location`]: `ngx_http_core_find_location`, only to scope rules.
//! * [`eval`]: the phases: server rules once, then location rules with restarts after `last`
//!   (or a flagless change), the 10-restart limit, `break`, and redirects.
//!
//! Loading validates everything once ([`RuleSet::parse`]); applying ([`RuleSet::apply`]) never
//! panics and is bounded: targets over 8 KiB are refused, a rewritten URI over 64 KiB is a 500.
//!
//! ## What a host does with the [`Outcome`]
//!
//! * [`Outcome::Internal`]: forward upstream with [`Internal::upstream_target`], the bytes
//!   nginx's `proxy_pass http://upstream;` would send: the original target untouched when no
//!   rule matched, else the new path escaped as nginx escapes it plus `?` and the new query.
//! * [`Outcome::Redirect`]: answer 301/302 with [`Redirect::location`]. nginx turns a relative
//!   Location into an absolute one with the server's scheme, host and port
//!   (`absolute_redirect on`); the host knows those, this module does not.
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
mod replacement;
mod rule;
mod token;
mod uri;
mod vars;

use std::fmt;

pub use uri::BadTarget;

/// A loaded rule file. Cheap to share across requests; clone it into each worker or VM.
#[derive(Clone, Debug)]
pub struct RuleSet {
    /// Rules outside any location: nginx's server-rewrite phase.
    server: Vec<rule::Rule>,
    locations: Vec<location::Location>,
}

impl RuleSet {
    /// Loads a rule file: `rewrite` lines, optionally inside `location` blocks, as written for
    /// an nginx `server` block. Refuses, with the line, whatever nginx would refuse and
    /// whatever this engine cannot reproduce exactly.
    pub fn parse(text: &str) -> Result<RuleSet, LoadError> {
        parse::parse(text)
    }

    /// What nginx would do with this request.
    pub fn apply(&self, input: &RewriteInput<'_>) -> Outcome {
        eval::apply(self, input)
    }

    /// How many rules the file holds (server level and in locations).
    pub fn len(&self) -> usize {
        self.server.len() + self.locations.iter().map(|l| l.rules.len()).sum::<usize>()
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
    /// Whether the request came over TLS (`$scheme`).
    pub https: bool,
}

impl<'a> RewriteInput<'a> {
    /// A plain-HTTP request for `target` with no Host header.
    pub fn new(target: &'a str) -> RewriteInput<'a> {
        RewriteInput {
            target,
            host: "",
            https: false,
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
    fn from(req: &'a crate::Request) -> RewriteInput<'a> {
        RewriteInput::new(&req.target).with_host(req.header("host").unwrap_or(""))
    }
}

/// What nginx would do with a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Pass the request on, rewritten or not.
    Internal(Internal),
    /// Answer with a redirect.
    Redirect(Redirect),
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
    original: Vec<u8>,
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

    /// Whether any rule matched.
    pub fn rewritten(&self) -> bool {
        !self.applied.is_empty()
    }

    /// The lines of the rules that matched, in the order they ran (for logs).
    pub fn applied(&self) -> &[usize] {
        &self.applied
    }

    /// The target to send upstream, as nginx's `proxy_pass` (without a URI part) sends it:
    /// the original bytes if nothing was rewritten, else the path escaped with nginx's URI
    /// table, then `?` and the query if there is one. Bytes, because a `$uri` copied into a
    /// query may hold any byte.
    pub fn upstream_target(&self) -> Vec<u8> {
        if self.applied.is_empty() {
            return self.original.clone();
        }
        let mut out = Vec::with_capacity(self.uri.len() + self.args.len() + 8);
        uri::escape_into(&mut out, &self.uri, uri::Escape::Uri);
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
    /// The rewritten path and query outgrew 64 KiB (a provedge bound; nginx has none).
    TooLong,
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
            Outcome::BadRequest(b) => Some(b.status()),
            Outcome::ServerError(_) => Some(500),
        }
    }
}
