//! The evaluation loop of nginx's rewrite module and its phases (nginx 1.22).
//!
//! 1. The target is parsed and normalised into `$uri` and `$args` ([`super::uri`]); a malformed
//!    one is a 400 before any rule runs.
//! 2. Server-level rules run once, in order (nginx's server-rewrite phase). `last` and `break`
//!    both just stop them here.
//! 3. The location for the current `$uri` is found and its rules run. A rule without a flag
//!    hands its result to the next rule; `last` stops the block; `break` stops it *and* clears
//!    the "URI changed" mark. If the mark is set when the block ends, locations are searched
//!    again with the new URI: nginx allows 10 such restarts, and the 11th is a 500
//!    ("rewrite or internal redirection cycle").
//! 4. A redirect (flag, or a replacement starting with `http://`, `https://`, `$scheme`) ends
//!    everything with a Location built from the replacement, unescaped as nginx does, plus the
//!    original query unless the replacement ends in `?`.

use super::location;
use super::rule::{Action, Rule};
use super::uri::{parse_target, unescape_redirect, BadTarget};
use super::vars::Scope;
use super::{Internal, Outcome, Redirect, RewriteInput, RuleSet, ServerError};

/// Longest target accepted, like nginx's default 8 KiB request-line buffer (414 beyond).
pub(crate) const MAX_TARGET: usize = 8 * 1024;

/// Longest rewritten path plus query. nginx has no such bound; a rule like `$1$1$1…` applied in
/// a loop would otherwise grow without limit on the request path.
pub(crate) const MAX_REWRITTEN: usize = 64 * 1024;

/// nginx's `NGX_HTTP_MAX_URI_CHANGES + 1`.
const URI_CHANGES: u32 = 11;

/// The request as the rules see and change it.
struct State<'a> {
    uri: Vec<u8>,
    args: Vec<u8>,
    /// The original path held `%` or `+`: captures get escaped in queries and redirects.
    escape_captures: bool,
    request_uri: &'a [u8],
    host: Vec<u8>,
    https: bool,
    /// Lines of the rules that matched, in order.
    applied: Vec<usize>,
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
    let mut st = State {
        uri: target.uri,
        args: target.args,
        escape_captures: target.quoted || target.plus,
        request_uri: raw,
        host: normalise_host(input.host),
        https: input.https,
        applied: Vec::new(),
    };
    if let Err(end) = run_block(&rules.server, &mut st) {
        return end;
    }
    let mut changes_left = URI_CHANGES;
    while let Some(loc) = location::find(&rules.locations, &st.uri) {
        match run_block(&loc.rules, &mut st) {
            Err(end) => return end,
            Ok(false) => break,
            Ok(true) => {
                changes_left -= 1;
                if changes_left == 0 {
                    return Outcome::ServerError(ServerError::Cycle);
                }
            }
        }
    }
    Outcome::Internal(Internal {
        uri: st.uri,
        args: st.args,
        applied: st.applied,
        original: raw.to_vec(),
    })
}

/// Runs one block's rules. `Ok(changed)` says whether locations must be searched again;
/// `Err` ends the request (redirect or error).
fn run_block(rules: &[Rule], st: &mut State<'_>) -> Result<bool, Outcome> {
    let mut uri_changed = false;
    for rule in rules {
        let redirect = matches!(rule.action, Action::Redirect(_));
        let expanded = {
            let Some(captures) = rule.regex.captures(&st.uri) else {
                continue;
            };
            let scope = Scope {
                uri: &st.uri,
                args: &st.args,
                request_uri: st.request_uri,
                host: &st.host,
                https: st.https,
            };
            rule.replacement
                .expand(&captures, &scope, st.escape_captures, redirect)
        };
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
        uri_changed = rule.action != Action::Break;
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
            return Err(Outcome::ServerError(ServerError::TooLong));
        }
        st.uri = uri;
        st.args = args;
        if matches!(rule.action, Action::Last | Action::Break) {
            break;
        }
    }
    Ok(uri_changed)
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
