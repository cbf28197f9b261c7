//! The rule-file grammar: the server-level directives an operator pastes into an nginx
//! `server { … }` block, restricted to what rewriting needs.
//!
//! ```text
//! file     = { stmt }
//! stmt     = rewrite | location | "rewrite_log" ("on"|"off") ";"
//! rewrite  = "rewrite" REGEX REPLACEMENT [ "last" | "break" | "redirect" | "permanent" ] ";"
//! location = "location" [ "=" | "^~" | "~" | "~*" ] URI "{" { rewrite | rewrite_log } "}"
//! ```
//!
//! Anything else (`if`, `set`, `return`, `try_files`, nested or named locations) is refused
//! with its line: silently ignoring a directive nginx would obey would make the two disagree.

use super::location::{Location, Matcher};
use super::rule::Rule;
use super::token::{Token, Tokenizer};
use super::{pcre, LoadError, RuleSet};

/// Parses a whole rule file.
pub(crate) fn parse(text: &str) -> Result<RuleSet, LoadError> {
    let mut tokens = Tokenizer::new(text);
    let mut server = Vec::new();
    let mut locations: Vec<Location> = Vec::new();
    loop {
        let token = tokens
            .next_token()
            .map_err(|e| LoadError::new(e.line, e.reason))?;
        match token {
            Token::Eof { .. } => break,
            Token::BlockEnd { line } => return Err(LoadError::new(line, "unexpected \"}\"")),
            Token::Directive { words, line, block } => match words.first().map(String::as_str) {
                Some("location") => {
                    if !block {
                        return Err(LoadError::new(
                            line,
                            "directive \"location\" has no opening \"{\"",
                        ));
                    }
                    let matcher =
                        location_matcher(&words[1..]).map_err(|r| LoadError::new(line, r))?;
                    let rules = location_body(&mut tokens)?;
                    let loc = Location {
                        matcher,
                        rules,
                        line,
                    };
                    if let Some(key) = loc.duplicate_key() {
                        if let Some(first) =
                            locations.iter().find(|l| l.duplicate_key() == Some(key))
                        {
                            let reason =
                                format!("duplicate location (first at line {})", first.line);
                            return Err(LoadError::new(line, reason));
                        }
                    }
                    locations.push(loc);
                }
                _ => {
                    if let Some(rule) = simple(&words, line, block)? {
                        server.push(rule);
                    }
                }
            },
        }
    }
    Ok(RuleSet { server, locations })
}

/// The rules inside a location block, up to its `}`.
fn location_body(tokens: &mut Tokenizer<'_>) -> Result<Vec<Rule>, LoadError> {
    let mut rules = Vec::new();
    loop {
        match tokens
            .next_token()
            .map_err(|e| LoadError::new(e.line, e.reason))?
        {
            Token::BlockEnd { .. } => return Ok(rules),
            Token::Eof { line } => {
                return Err(LoadError::new(
                    line,
                    "unexpected end of file, expecting \"}\"",
                ))
            }
            Token::Directive { words, line, .. }
                if words.first().map(String::as_str) == Some("location") =>
            {
                return Err(LoadError::new(
                    line,
                    "nested location blocks are not supported",
                ));
            }
            Token::Directive { words, line, block } => {
                if let Some(rule) = simple(&words, line, block)? {
                    rules.push(rule);
                }
            }
        }
    }
}

/// A directive that is not a block: a rule, or `rewrite_log` (which changes only logging).
fn simple(words: &[String], line: usize, block: bool) -> Result<Option<Rule>, LoadError> {
    let name = words.first().map_or("", String::as_str);
    if block {
        let hint = if name == "rewrite" {
            ": an unquoted \"{\" starts a block in nginx; quote the regex"
        } else {
            ""
        };
        return Err(LoadError::new(
            line,
            format!("directive \"{name}\" is not terminated by \";\"{hint}"),
        ));
    }
    match name {
        "rewrite" => Rule::compile(&words[1..], line)
            .map(Some)
            .map_err(|r| LoadError::new(line, r)),
        "rewrite_log" => match words.get(1..) {
            Some([v]) if v == "on" || v == "off" => Ok(None),
            _ => Err(LoadError::new(
                line,
                "\"rewrite_log\" takes \"on\" or \"off\"",
            )),
        },
        other => Err(LoadError::new(
            line,
            format!(
                "unsupported directive \"{other}\" (rule files hold rewrite and location only)"
            ),
        )),
    }
}

/// `location`'s arguments, modifiers written apart (`= /x`) or joined (`=/x`), as nginx allows.
fn location_matcher(args: &[String]) -> Result<Matcher, String> {
    let (modifier, name) = match args {
        [m, name] => (m.as_str(), name.as_str()),
        [joined] => {
            let j = joined.as_str();
            if let Some(rest) = j.strip_prefix("~*") {
                ("~*", rest)
            } else if let Some(rest) = j.strip_prefix('~') {
                ("~", rest)
            } else if let Some(rest) = j.strip_prefix("^~") {
                ("^~", rest)
            } else if let Some(rest) = j.strip_prefix('=') {
                ("=", rest)
            } else {
                ("", j)
            }
        }
        _ => return Err("invalid number of arguments in \"location\" directive".into()),
    };
    if name.starts_with('@') && modifier.is_empty() {
        return Err("named locations are not supported".into());
    }
    let bytes = name.as_bytes().to_vec();
    match modifier {
        "" => Ok(Matcher::Prefix {
            prefix: bytes,
            stop_regex: false,
        }),
        "^~" => Ok(Matcher::Prefix {
            prefix: bytes,
            stop_regex: true,
        }),
        "=" => Ok(Matcher::Exact(bytes)),
        "~" => pcre::compile(name, false).map(Matcher::Regex),
        "~*" => pcre::compile(name, true).map(Matcher::Regex),
        other => Err(format!("invalid location modifier \"{other}\"")),
    }
}
