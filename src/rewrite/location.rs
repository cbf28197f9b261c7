//! `location` blocks, as far as they scope rewrite directives and access rules: which block runs
//! for a URI, chosen the way `ngx_http_core_find_location` chooses (nginx 1.22), nested blocks
//! included.
//!
//! At each level an exact (`=`) location equal to the URI wins outright. Otherwise the longest
//! matching prefix is remembered and its nested locations are searched the same way; if none
//! of them decides and the prefix is not `^~`, this level's regex locations (`~`, `~*`) are
//! tried in file order and the first match wins (after searching its own nested locations);
//! else the deepest prefix found, if any. Prefixes compare bytes case-sensitively, as nginx
//! does on Linux. A regex location's match sets the captures, as in nginx.

use super::pcre::Exhausted;
use super::script::{AccessRule, Pattern, Stmt};

/// How a location matches.
#[derive(Clone, Debug)]
pub(crate) enum Matcher {
    /// `location = /path`.
    Exact(Vec<u8>),
    /// `location /prefix` or, with `stop_regex`, `location ^~ /prefix`.
    Prefix { prefix: Vec<u8>, stop_regex: bool },
    /// `location ~ re` or `location ~* re` (boxed: a compiled regex is large).
    Regex(Box<Pattern>),
}

/// A location block: its directives, access rules and nested locations.
#[derive(Clone, Debug)]
pub(crate) struct Location {
    pub matcher: Matcher,
    /// The name as written (the prefix, or the regex source): nested prefixes must start
    /// with it, as nginx requires.
    pub name: String,
    pub body: Vec<Stmt>,
    /// `allow`/`deny` lines; empty means inherited from the enclosing block.
    pub access: Vec<AccessRule>,
    pub children: Vec<Location>,
    /// Where the block starts, for messages.
    pub line: usize,
}

impl Location {
    /// The key two sibling locations may not share (nginx: "duplicate location").
    pub fn duplicate_key(&self) -> Option<(u8, &[u8])> {
        match &self.matcher {
            Matcher::Exact(p) => Some((b'=', p)),
            Matcher::Prefix { prefix, .. } => Some((b'/', prefix)),
            Matcher::Regex(_) => None,
        }
    }
}

/// The location chosen, with the access rules in force there.
pub(crate) struct Found<'a> {
    pub location: &'a Location,
    pub access: &'a [AccessRule],
}

/// What a search of one level gives (nginx's return codes of the same name).
enum Search<'a> {
    /// Decided: an exact match or a regex location.
    Ok(Found<'a>),
    /// A prefix matched; the parent level may still try its regex locations.
    Again(Found<'a>),
    Declined,
}

/// The location whose directives run for `uri`, if any. `regex` runs a regex location's
/// pattern (setting the captures on a match, as nginx does).
pub(crate) fn find<'a>(
    locations: &'a [Location],
    server_access: &'a [AccessRule],
    uri: &[u8],
    regex: &mut impl FnMut(&'a Pattern) -> Result<bool, Exhausted>,
) -> Result<Option<Found<'a>>, Exhausted> {
    Ok(match search(locations, server_access, uri, regex)? {
        Search::Ok(found) | Search::Again(found) => Some(found),
        Search::Declined => None,
    })
}

fn search<'a>(
    level: &'a [Location],
    inherited: &'a [AccessRule],
    uri: &[u8],
    regex: &mut impl FnMut(&'a Pattern) -> Result<bool, Exhausted>,
) -> Result<Search<'a>, Exhausted> {
    let access = |loc: &'a Location| {
        if loc.access.is_empty() {
            inherited
        } else {
            &loc.access[..]
        }
    };
    let mut longest: Option<&Location> = None;
    for loc in level {
        match &loc.matcher {
            Matcher::Exact(path) if path.as_slice() == uri => {
                return Ok(Search::Ok(Found {
                    location: loc,
                    access: access(loc),
                }))
            }
            Matcher::Prefix { prefix, .. }
                if uri.starts_with(prefix)
                    && longest.map_or(true, |l| match &l.matcher {
                        Matcher::Prefix { prefix: p, .. } => prefix.len() > p.len(),
                        _ => true,
                    }) =>
            {
                longest = Some(loc);
            }
            _ => {}
        }
    }
    let mut result = Search::Declined;
    let mut noregex = false;
    if let Some(prefix) = longest {
        noregex = matches!(
            prefix.matcher,
            Matcher::Prefix {
                stop_regex: true,
                ..
            }
        );
        result = match search(&prefix.children, access(prefix), uri, regex)? {
            Search::Ok(found) => return Ok(Search::Ok(found)),
            Search::Again(deeper) => Search::Again(deeper),
            Search::Declined => Search::Again(Found {
                location: prefix,
                access: access(prefix),
            }),
        };
    }
    if !noregex {
        for loc in level {
            let Matcher::Regex(pattern) = &loc.matcher else {
                continue;
            };
            if regex(pattern)? {
                let found = match search(&loc.children, access(loc), uri, regex)? {
                    Search::Ok(found) | Search::Again(found) => found,
                    Search::Declined => Found {
                        location: loc,
                        access: access(loc),
                    },
                };
                return Ok(Search::Ok(found));
            }
        }
    }
    Ok(result)
}
