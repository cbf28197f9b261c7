//! The evaluation loop of nginx's rewrite module and its phases (nginx 1.22).
//!
//! 1. The target is parsed and normalised into `$uri` and `$args` ([`super::uri`]); a malformed
//!    one is a 400 before any directive runs.
//! 2. Server-level directives run once, in order (nginx's server-rewrite phase). `last` and
//!    `break` both just stop them here.
//! 3. The location for the current `$uri` is found and its directives run. A rule without a
//!    flag hands its result to the next directive; `last` stops the block; `break` (flag or
//!    directive) stops it *and* clears the "URI changed" mark. If the mark is set when the
//!    block ends, locations are searched again with the new URI: nginx allows 10 such
//!    restarts, and the 11th is a 500 ("rewrite or internal redirection cycle").
//! 4. A redirect (flag, or a replacement starting with `http://`, `https://`, `$scheme`) or a
//!    `return` ends everything; so does a `deny` of the final location (403).
//!
//! State nginx keeps for the whole request is kept here too: the captures of the last regex
//! that matched with groups (a failed `rewrite` or `if` regex clears them, a failed location
//! regex does not), named captures and `set` variables.

use super::location;
use super::pcre::{Exhausted, Groups};
use super::prefilter::UriScan;
use super::replacement::{Captures, Expanded, Replacement};
use super::rule::{Action, Rule};
use super::script::{self, Condition, Pattern, ReturnSpec, SetTarget, Stmt};
use super::uri::{parse_target, unescape_redirect, BadTarget};
use super::vars::{Env, Request, Var};
use super::{Internal, Outcome, Redirect, Return, RewriteInput, RuleSet, ServerError};

/// Longest target accepted, like nginx's default 8 KiB request-line buffer (414 beyond).
pub(crate) const MAX_TARGET: usize = 8 * 1024;

/// Longest rewritten path plus query, and longest value a `set` or `return` builds. nginx has
/// no such bound; `set $a $a$a;` run on every restart would otherwise grow without limit.
pub(crate) const MAX_REWRITTEN: usize = 64 * 1024;

/// nginx's `NGX_HTTP_MAX_URI_CHANGES + 1`.
const URI_CHANGES: u32 = 11;

/// The request as the directives see and change it (`'r`: the rule file).
struct State<'a, 'r> {
    req: Request<'a>,
    uri: Vec<u8>,
    args: Vec<u8>,
    /// The original path held `%` or `+`: captures get escaped in queries and redirects.
    escape_captures: bool,
    captures: Captures<'r>,
    /// Groups of a match being read, before they replace `captures`.
    scratch: Groups,
    /// The prefilter's last scan of `$uri`.
    scan: UriScan<'r>,
    /// The file's own variables (`set`, named captures).
    user: Vec<Option<Vec<u8>>>,
    /// Lines of the rules that matched and directives that answered, in order.
    applied: Vec<usize>,
    /// nginx's `valid_unparsed_uri`: nothing changed the path or the query, so the original
    /// target goes upstream as received.
    unchanged: bool,
    /// The original path held a `%` escape (nginx's `quoted_uri`).
    quoted: bool,
    /// A rewrite matched (nginx's `r->internal`).
    internal: bool,
}

/// One run of a block's code array (one call of nginx's rewrite handler).
struct Run {
    /// nginx's `e->quote`: set when the handler starts, cleared by each rewrite that matches.
    quote: bool,
    /// nginx's `r->uri_changed`.
    uri_changed: bool,
}

/// Whether a block's code goes on after a directive.
enum Flow {
    Next,
    Stop,
}

pub(crate) fn apply(rules: &RuleSet, input: &RewriteInput<'_>) -> Outcome {
    let raw = input.target.as_bytes();
    if raw.len() > MAX_TARGET {
        return Outcome::BadRequest(BadTarget::TooLong);
    }
    let target = match parse_target(raw) {
        Ok(t) => t,
        Err(e) => return Outcome::BadRequest(e),
    };
    let host = normalise_host(input.host);
    let mut st = State {
        req: Request {
            request_uri: raw,
            host: &host,
            https: input.https,
            method: input.method,
            headers: input.headers,
            remote_addr: input.remote_addr,
        },
        uri: target.uri,
        args: target.args,
        escape_captures: target.quoted || target.plus,
        captures: Captures::default(),
        scratch: Groups::new(),
        scan: UriScan::new(&rules.prefilter),
        user: Vec::new(),
        applied: Vec::new(),
        unchanged: true,
        quoted: target.quoted,
        internal: false,
    };
    st.user.resize(rules.slots, None);
    match run(rules, &mut st) {
        Ok(()) => Outcome::Internal(Internal {
            uri: st.uri,
            args: st.args,
            applied: st.applied,
            // Sent upstream only when nothing changed.
            original: if st.unchanged {
                raw.to_vec()
            } else {
                Vec::new()
            },
            changed: !st.unchanged,
            escape: st.quoted || st.internal,
        }),
        Err(end) => end,
    }
}

fn run<'r>(rules: &'r RuleSet, st: &mut State<'_, 'r>) -> Result<(), Outcome> {
    let mut server = Run {
        quote: true,
        uri_changed: false,
    };
    block(&rules.server, st, &mut server)?;
    let mut changes_left = URI_CHANGES;
    loop {
        let found = {
            // Taken out while the locations are searched (and put back unchanged), so the
            // regexes can set the captures.
            let uri = std::mem::take(&mut st.uri);
            let mut regex = |p: &'r Pattern| {
                if st.scan.rules_out(p.prefilter) {
                    // A failed location regex leaves the captures.
                    return Ok(false);
                }
                matched(p, &uri, true, st, false)
            };
            let found = location::find(&rules.locations, &rules.server_access, &uri, &mut regex);
            st.uri = uri;
            found.map_err(|_| Outcome::ServerError(ServerError::RegexLimit))?
        };
        let Some(found) = found else {
            return access(&rules.server_access, st);
        };
        let mut phase = Run {
            quote: true,
            uri_changed: false,
        };
        block(&found.location.body, st, &mut phase)?;
        if !phase.uri_changed {
            return access(found.access, st);
        }
        changes_left -= 1;
        if changes_left == 0 {
            return Err(Outcome::ServerError(ServerError::Cycle));
        }
    }
}

/// ngx_http_access_module: the first `allow`/`deny` line matching the client decides.
fn access(rules: &[script::AccessRule], st: &State<'_, '_>) -> Result<(), Outcome> {
    match rules.iter().find(|r| r.matches(st.req.remote_addr)) {
        Some(rule) if !rule.allow => Err(Outcome::Return(Return {
            status: 403,
            location: None,
            body: None,
            applied: st.applied.clone(),
        })),
        _ => Ok(()),
    }
}

/// Runs a regex against `subject` (`is_uri`: the subject is the current `$uri`, so the
/// prefilter may answer); on a match, sets the captures and the named-capture variables.
/// `clear_on_miss` is nginx's `r->ncaptures = 0` after a failed `rewrite` or `if` regex (a
/// failed location regex leaves them).
fn matched<'r>(
    pattern: &'r Pattern,
    subject: &[u8],
    is_uri: bool,
    st: &mut State<'_, 'r>,
    clear_on_miss: bool,
) -> Result<bool, Exhausted> {
    let known_match = match pattern.prefilter {
        Some(index) if is_uri => {
            if !st.scan.can_match(index, subject) {
                if clear_on_miss {
                    st.captures.clear();
                }
                return Ok(false);
            }
            st.scan.is_fresh()
        }
        _ => false,
    };
    // nginx 1.22 resets the captures on every match, a regex without groups included (then
    // `$1` and up are empty).
    if known_match && pattern.named.is_empty() && pattern.regex.is_automaton_for(subject) {
        st.captures.defer(&pattern.regex, subject, is_uri);
        return Ok(true);
    }
    if !pattern.regex.captures_into(subject, &mut st.scratch)? {
        if clear_on_miss {
            st.captures.clear();
        }
        return Ok(false);
    }
    for &(group, slot) in &pattern.named {
        let value = match st.scratch.get(group) {
            Some(Some((s, e))) => subject.get(*s..*e).unwrap_or_default().to_vec(),
            _ => Vec::new(),
        };
        if let Some(v) = st.user.get_mut(slot) {
            *v = Some(value);
        }
    }
    st.captures.replace(subject, is_uri, &mut st.scratch);
    Ok(true)
}

/// Expands a value, reading pending captures first if it uses them.
fn expand(value: &Replacement, st: &mut State<'_, '_>, quote: bool) -> Expanded {
    if value.reads_captures() {
        st.captures.settle(&st.uri);
    }
    value.expand(&st.captures, &env(st), st.escape_captures, quote)
}

fn env<'s>(st: &'s State<'_, '_>) -> Env<'s> {
    Env {
        req: &st.req,
        uri: &st.uri,
        args: &st.args,
        user: &st.user,
    }
}

const REGEX_LIMIT: Outcome = Outcome::ServerError(ServerError::RegexLimit);
const TOO_LONG: Outcome = Outcome::ServerError(ServerError::TooLong);

/// Runs a block's directives. `Err` ends the request (redirect, return, error).
fn block<'r>(stmts: &'r [Stmt], st: &mut State<'_, 'r>, run: &mut Run) -> Result<Flow, Outcome> {
    let mut next = 0;
    while let Some(stmt) = stmts.get(next) {
        next += 1;
        let flow = match stmt {
            Stmt::Rewrite(rule) => {
                // The common case, kept short: the last scan of `$uri` rules this rule out,
                // and maybe the ones after it: they fail as nginx's would (clearing the
                // captures) without running.
                if let Some(skip) = st.scan.ruled_out_run(rule.pattern.prefilter, rule.run) {
                    st.captures.clear();
                    next += skip - 1;
                    continue;
                }
                rewrite(rule, st, run)?
            }
            Stmt::If { cond, body, .. } => {
                if condition(cond, st, run)? {
                    block(body, st, run)?
                } else {
                    Flow::Next
                }
            }
            Stmt::Set { target, value, .. } => {
                let v = expand(value, st, run.quote).bytes;
                if v.len() > MAX_REWRITTEN {
                    return Err(TOO_LONG);
                }
                match target {
                    SetTarget::User(slot) => {
                        if let Some(s) = st.user.get_mut(*slot) {
                            *s = Some(v);
                        }
                    }
                    SetTarget::Args => {
                        st.args = v;
                        st.unchanged = false;
                    }
                }
                Flow::Next
            }
            Stmt::Return(spec) => return Err(answer(spec, st)),
            Stmt::Break => {
                run.uri_changed = false;
                Flow::Stop
            }
        };
        if let Flow::Stop = flow {
            return Ok(Flow::Stop);
        }
    }
    Ok(Flow::Next)
}

/// `return`: its text is expanded by a fresh script engine (no escaping of captures).
fn answer(spec: &ReturnSpec, st: &mut State<'_, '_>) -> Outcome {
    let text = spec.text.as_ref().map(|t| expand(t, st, false).bytes);
    if text.as_ref().is_some_and(|t| t.len() > MAX_REWRITTEN) {
        return TOO_LONG;
    }
    st.applied.push(spec.line);
    let applied = std::mem::take(&mut st.applied);
    let (location, body) = if script::is_redirect(spec.status) {
        // nginx sends the Location (even an empty one) and its own page for the status.
        (Some(text.unwrap_or_default()), None)
    } else if matches!(spec.status, 204 | 304) {
        (None, Some(Vec::new()))
    } else if spec.status < 400 {
        // Below 400 nginx always sends the text, empty or not, as the body.
        (None, Some(text.unwrap_or_default()))
    } else {
        (None, text)
    };
    Outcome::Return(Return {
        status: spec.status,
        location,
        body,
        applied,
    })
}

/// An `if` condition (its regex forms set or clear the captures as nginx's do).
fn condition<'r>(cond: &'r Condition, st: &mut State<'_, 'r>, run: &Run) -> Result<bool, Outcome> {
    Ok(match cond {
        Condition::Truthy(var) => {
            let v = env(st).value(var);
            !v.is_empty() && v != b"0"
        }
        Condition::Equals {
            var,
            value,
            negated,
        } => {
            let left = env(st).value(var);
            let right = expand(value, st, run.quote).bytes;
            (left == right) != *negated
        }
        Condition::Matches {
            var,
            pattern,
            negated,
        } => {
            let hit = if *var == Var::Uri {
                // `$uri` is taken out while the regex runs (and put back unchanged), so the
                // prefilter may answer and nothing is copied.
                let uri = std::mem::take(&mut st.uri);
                let hit = matched(pattern, &uri, true, st, true);
                st.uri = uri;
                hit
            } else {
                let subject = env(st).value(var);
                matched(pattern, &subject, false, st, true)
            };
            hit.map_err(|_| REGEX_LIMIT)? != *negated
        }
    })
}

/// One `rewrite` directive.
fn rewrite<'r>(rule: &'r Rule, st: &mut State<'_, 'r>, run: &mut Run) -> Result<Flow, Outcome> {
    let uri = std::mem::take(&mut st.uri);
    let hit = matched(&rule.pattern, &uri, true, st, true);
    st.uri = uri;
    if !hit.map_err(|_| REGEX_LIMIT)? {
        return Ok(Flow::Next);
    }
    run.uri_changed = rule.action != Action::Break;
    st.unchanged = false;
    st.internal = true;
    let redirect = matches!(rule.action, Action::Redirect(_));
    let expanded = expand(&rule.replacement, st, redirect);
    // nginx's regex end code: the quote mark is down from here on in this block.
    run.quote = false;
    st.applied.push(rule.line);
    if let Action::Redirect(status) = rule.action {
        let mut location = unescape_redirect(&expanded.bytes);
        if rule.keep_args && !st.args.is_empty() {
            location.push(if rule.replacement.has_question_mark {
                b'&'
            } else {
                b'?'
            });
            location.extend_from_slice(&st.args);
        }
        return Err(Outcome::Redirect(Redirect {
            status,
            location,
            applied: std::mem::take(&mut st.applied),
        }));
    }
    let mut bytes = expanded.bytes;
    let (uri, args) = match expanded.args_at {
        Some(at) => {
            let mut args = bytes.split_off(at.min(bytes.len()));
            if rule.keep_args && !st.args.is_empty() {
                args.push(b'&');
                args.extend_from_slice(&st.args);
            }
            (bytes, args)
        }
        None if rule.keep_args => (bytes, std::mem::take(&mut st.args)),
        None => (bytes, Vec::new()),
    };
    if uri.is_empty() {
        return Err(Outcome::ServerError(ServerError::EmptyUri));
    }
    if uri.len() + args.len() > MAX_REWRITTEN {
        return Err(TOO_LONG);
    }
    let old = std::mem::replace(&mut st.uri, uri);
    st.captures.keep_uri(old);
    st.scan.rewritten(rule.scan_after.as_ref());
    st.args = args;
    Ok(match rule.action {
        Action::Last | Action::Break => Flow::Stop,
        _ => Flow::Next,
    })
}

/// `$host` as nginx derives it from a Host header: lower case, without port or trailing dot.
fn normalise_host(host: &str) -> Vec<u8> {
    let h = host.trim();
    let h = match h.rfind(':') {
        Some(colon) if !h.ends_with(']') && h[colon + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            &h[..colon]
        }
        _ => h,
    };
    h.strip_suffix('.')
        .unwrap_or(h)
        .to_ascii_lowercase()
        .into_bytes()
}
