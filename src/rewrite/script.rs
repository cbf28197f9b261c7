//! The directives of nginx's rewrite module as compiled statements: `rewrite`, `if`, `set`,
//! `return` and `break` (what `ngx_http_rewrite_module.c` compiles into its code array), plus
//! the access module's `allow`/`deny`, which FusionPBX's server block uses.

use std::net::IpAddr;

use ipnet::IpNet;

use super::pcre::{self, ByteRegex};
use super::replacement::Replacement;
use super::rule::Rule;
use super::vars::{Var, Vars};

/// A regex and where its named groups are stored (nginx makes each name a variable).
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    pub regex: ByteRegex,
    /// (group number, variable slot) for each named group.
    pub named: Vec<(usize, usize)>,
    /// Its number in the file's URI prefilter, for a regex on `$uri` that takes part
    /// (numbered once the whole file is read).
    pub prefilter: Option<usize>,
}

impl Pattern {
    pub fn compile(source: &str, caseless: bool, vars: &mut Vars) -> Result<Pattern, String> {
        let regex = pcre::compile(source, caseless)?;
        let named = regex
            .names()
            .iter()
            .map(|(group, name)| vars.declare(name).map(|slot| (*group, slot)))
            .collect::<Result<_, _>>()?;
        Ok(Pattern {
            regex,
            named,
            prefilter: None,
        })
    }
}

/// One directive of a block.
#[derive(Clone, Debug)]
pub(crate) enum Stmt {
    /// `rewrite` (boxed: a compiled regex is large, and most statements are not rules).
    Rewrite(Box<Rule>),
    /// `if (condition) { … }`: the body runs when the condition holds, then the block goes
    /// on after it (nginx compiles the body inline).
    If { cond: Condition, body: Vec<Stmt> },
    /// `set $name value;`
    Set {
        target: SetTarget,
        value: Replacement,
    },
    /// `return code [text];`, `return URL;`
    Return(ReturnSpec),
    /// `break;`
    Break,
}

/// What `set` writes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SetTarget {
    /// A variable of the file's own.
    User(usize),
    /// `$args`, the one built-in variable nginx lets `set` change (the query).
    Args,
}

/// An `if` condition.
#[derive(Clone, Debug)]
pub(crate) enum Condition {
    /// `($var)`: true unless empty or `0`.
    Truthy(Var),
    /// `($var = value)`, `($var != value)`.
    Equals {
        var: Var,
        value: Replacement,
        negated: bool,
    },
    /// `($var ~ regex)`, `~*`, `!~`, `!~*`: a match sets the captures.
    Matches {
        var: Var,
        pattern: Box<Pattern>,
        negated: bool,
    },
}

/// A compiled `return`.
#[derive(Clone, Debug)]
pub(crate) struct ReturnSpec {
    pub status: u16,
    /// The text: the Location of a redirect status, else the body.
    pub text: Option<Replacement>,
    pub line: usize,
}

/// One `allow` or `deny` line of ngx_http_access_module.
#[derive(Clone, Debug)]
pub(crate) struct AccessRule {
    pub allow: bool,
    /// `None` for `all`.
    pub net: Option<IpNet>,
}

impl AccessRule {
    pub fn parse(allow: bool, args: &[String]) -> Result<AccessRule, String> {
        let name = if allow { "allow" } else { "deny" };
        let [arg] = args else {
            return Err(format!(
                "invalid number of arguments in \"{name}\" directive"
            ));
        };
        if arg == "all" {
            return Ok(AccessRule { allow, net: None });
        }
        if arg == "unix:" {
            return Err(format!(
                "\"{name} unix:\" does not apply to provedge's hosts"
            ));
        }
        let net = arg
            .parse::<IpNet>()
            .map(|n| n.trunc())
            .or_else(|_| arg.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| format!("invalid parameter \"{arg}\""))?;
        Ok(AccessRule {
            allow,
            net: Some(net),
        })
    }

    /// Whether this line decides for `client` (nginx: the first line that matches decides).
    pub fn matches(&self, client: Option<IpAddr>) -> bool {
        match (&self.net, client) {
            (None, _) => true,
            (Some(net), Some(ip)) => {
                let ip = match ip {
                    IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
                    v4 => v4,
                };
                net.contains(&ip)
            }
            (Some(_), None) => false,
        }
    }
}

/// Statuses `return` may give here: nginx takes 0–999, but a host can only answer a real
/// final status (and 444, "close without answering", is not something every host can do).
pub(crate) fn return_status(code: u32) -> Result<u16, String> {
    match code {
        200..=599 if code != 444 => Ok(code as u16),
        444 => Err(
            "\"return 444\" (close the connection without answering) is not supported: \
                   not every host can drop a connection"
                .into(),
        ),
        _ => Err(format!(
            "\"return {code}\" is not a status a host can answer (200-599 are)"
        )),
    }
}

/// The redirect statuses whose `return` text is a Location (`ngx_http_send_response`).
pub(crate) fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}
