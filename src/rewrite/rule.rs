//! One `rewrite REGEX REPLACEMENT [flag];` directive, compiled as `ngx_http_rewrite` compiles it.

use super::prefilter::KnownScan;
use super::replacement::Replacement;
use super::script::Pattern;
use super::vars::Vars;
use super::RedirectStatus;

/// What happens after a rule matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// No flag: go on with the block's next directive, on the new URI.
    Continue,
    /// `last`: stop this block; in a location, search locations again.
    Last,
    /// `break`: stop this block and keep the new URI where it is.
    Break,
    /// `redirect`, `permanent`, or a replacement starting with `http://`, `https://` or
    /// `$scheme`: answer with a redirect.
    Redirect(RedirectStatus),
}

/// A compiled rewrite rule.
#[derive(Clone, Debug)]
pub(crate) struct Rule {
    pub line: usize,
    pub pattern: Pattern,
    pub replacement: Replacement,
    /// No trailing `?` in the replacement: the original query is kept (appended).
    pub keep_args: bool,
    pub action: Action,
    /// The prefilter's scan of the path this rule always writes, when it always writes the
    /// same one (made once the whole file is read): no scan after it matches.
    pub scan_after: Option<KnownScan>,
    /// How many `rewrite`s from this one on, in a row, the prefilter numbered one after the
    /// other (this one included): a scan ruling this one out can skip to the next it allows.
    pub run: usize,
}

impl Rule {
    /// Compiles the directive's arguments (the words after `rewrite`).
    pub fn compile(args: &[String], line: usize, vars: &mut Vars) -> Result<Rule, String> {
        let (pattern, replacement, flag) = match args {
            [p, r] => (p, r, None),
            [p, r, f] => (p, r, Some(f.as_str())),
            _ => return Err("invalid number of arguments in \"rewrite\" directive".into()),
        };
        if replacement.is_empty() {
            return Err("empty replacement".into());
        }
        let pattern = Pattern::compile(pattern, false, vars)?;
        let (replacement, keep_args) = match replacement.strip_suffix('?') {
            Some(r) => (r, false),
            None => (replacement.as_str(), true),
        };
        let by_scheme = ["http://", "https://", "$scheme"]
            .iter()
            .any(|p| replacement.starts_with(p));
        let action = match (flag, by_scheme) {
            (Some("permanent"), _) => Action::Redirect(RedirectStatus::Permanent),
            (Some("redirect"), _) | (_, true) => Action::Redirect(RedirectStatus::Found),
            (None, false) => Action::Continue,
            (Some("last"), false) => Action::Last,
            (Some("break"), false) => Action::Break,
            (Some(other), false) => return Err(format!("invalid parameter \"{other}\"")),
        };
        if let (Some(f), true) = (flag, by_scheme) {
            if !matches!(f, "last" | "break" | "redirect" | "permanent") {
                return Err(format!("invalid parameter \"{f}\""));
            }
        }
        let redirect = matches!(action, Action::Redirect(_));
        let replacement = Replacement::compile(replacement, !redirect, vars, line)?;
        Ok(Rule {
            line,
            pattern,
            replacement,
            keep_args,
            action,
            scan_after: None,
            run: 0,
        })
    }
}
