//! `location` blocks, only as far as they scope rewrite rules: which block's rules run for a
//! URI, chosen the way `ngx_http_core_find_location` chooses (nginx 1.22).
//!
//! An exact (`=`) location equal to the URI wins outright. Otherwise the longest matching
//! prefix is remembered; if it is `^~`, it wins; else regex locations (`~`, `~*`) are tried in
//! file order and the first match wins; else the longest prefix, if any. Prefixes compare
//! bytes case-sensitively, as nginx does on Linux. Nested and named (`@`) locations are not
//! supported: they are refused when the rules load.

use super::pcre::ByteRegex;
use super::rule::Rule;

/// How a location matches.
#[derive(Clone, Debug)]
pub(crate) enum Matcher {
    /// `location = /path`.
    Exact(Vec<u8>),
    /// `location /prefix` or, with `stop_regex`, `location ^~ /prefix`.
    Prefix { prefix: Vec<u8>, stop_regex: bool },
    /// `location ~ re` or `location ~* re`.
    Regex(ByteRegex),
}

/// A location block and its rules.
#[derive(Clone, Debug)]
pub(crate) struct Location {
    pub matcher: Matcher,
    pub rules: Vec<Rule>,
    /// Where the block starts, for messages.
    pub line: usize,
}

impl Location {
    /// The key two locations may not share (nginx: "duplicate location").
    pub fn duplicate_key(&self) -> Option<(u8, &[u8])> {
        match &self.matcher {
            Matcher::Exact(p) => Some((b'=', p)),
            Matcher::Prefix { prefix, .. } => Some((b'/', prefix)),
            Matcher::Regex(_) => None,
        }
    }
}

/// The location whose rules run for `uri`, if any.
pub(crate) fn find<'a>(locations: &'a [Location], uri: &[u8]) -> Option<&'a Location> {
    let mut longest: Option<(&Location, usize, bool)> = None;
    for loc in locations {
        match &loc.matcher {
            Matcher::Exact(path) if path.as_slice() == uri => return Some(loc),
            Matcher::Prefix { prefix, stop_regex }
                if uri.starts_with(prefix)
                    && longest.map_or(true, |(_, len, _)| prefix.len() > len) =>
            {
                longest = Some((loc, prefix.len(), *stop_regex));
            }
            _ => {}
        }
    }
    if let Some((loc, _, true)) = longest {
        return Some(loc);
    }
    locations
        .iter()
        .find(|l| matches!(&l.matcher, Matcher::Regex(re) if re.is_match(uri)))
        .or(longest.map(|(loc, _, _)| loc))
}
