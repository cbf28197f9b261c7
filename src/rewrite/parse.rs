//! The rule-file grammar: what an operator pastes from an nginx `server { … }` block (or the
//! whole block), compiled the way nginx compiles it.
//!
//! ```text
//! file      = { stmt } | "server" "{" { stmt } "}"
//! stmt      = rewrite | return | set | break | if | location | access | flag | content
//! rewrite   = "rewrite" REGEX REPLACEMENT [ "last" | "break" | "redirect" | "permanent" ] ";"
//! return    = "return" ( CODE [ TEXT ] | URL ) ";"
//! set       = "set" "$"NAME VALUE ";"
//! break     = "break" ";"
//! if        = "if" "(" CONDITION ")" "{" { rewrite | return | set | break | flag } "}"
//! location  = "location" [ "=" | "^~" | "~" | "~*" ] URI "{" { stmt } "}"
//! access    = ( "allow" | "deny" ) ( ADDRESS | CIDR | "all" ) ";"
//! flag      = ( "rewrite_log" | "uninitialized_variable_warn" ) ( "on" | "off" ) ";"
//! ```
//!
//! `content` is the short list of directives that only say how nginx itself listens, logs or
//! serves what it does not rewrite ([`CONTENT`]): in rewrite mode the upstream serves, so they
//! are accepted and have no effect. Anything else (`try_files`, `error_page`, named locations,
//! file tests in `if`, …) is refused with its line: silently ignoring a directive nginx would
//! obey would make the two disagree.

use super::location::{Location, Matcher};
use super::prefilter::UriPrefilter;
use super::replacement::Replacement;
use super::rule::Rule;
use super::script::{self, AccessRule, Condition, Pattern, ReturnSpec, SetTarget, Stmt};
use super::token::{Token, Tokenizer};
use super::vars::Vars;
use super::{LoadError, RuleSet};

/// Directives accepted without effect: how nginx listens, logs and serves content itself.
/// In rewrite mode the request goes upstream, which serves it.
pub(crate) const CONTENT: &[&str] = &[
    "listen",
    "server_name",
    "access_log",
    "error_log",
    "client_max_body_size",
    "client_body_buffer_size",
    "root",
    "alias",
    "index",
    "include",
    "default_type",
    "fastcgi_pass",
    "fastcgi_index",
    "fastcgi_param",
    "fastcgi_read_timeout",
];

/// A directive as read: its words, its line and, for a block, what is inside.
struct Node {
    words: Vec<String>,
    line: usize,
    block: Option<Vec<Node>>,
}

impl Node {
    fn name(&self) -> &str {
        self.words.first().map_or("", String::as_str)
    }

    fn args(&self) -> &[String] {
        self.words.get(1..).unwrap_or_default()
    }
}

/// Where a directive stands (nginx's `NGX_HTTP_SRV_CONF`, `…_LOC_CONF`, `…_SIF_CONF`,
/// `…_LIF_CONF`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Server,
    Location,
    If,
}

/// Parses a whole rule file.
pub(crate) fn parse(text: &str) -> Result<RuleSet, LoadError> {
    let mut tokens = Tokenizer::new(text);
    let mut nodes = read_block(&mut tokens, None)?;
    if let Some(at) = nodes.iter().position(|n| n.name() == "server") {
        let server = nodes.remove(at);
        let Some(block) = server.block else {
            return Err(LoadError::new(
                server.line,
                "directive \"server\" has no opening \"{\"",
            ));
        };
        if let Some(other) = nodes.first() {
            return Err(LoadError::new(
                other.line,
                "a rule file holds one server block and nothing outside it",
            ));
        }
        nodes = block;
    }
    let mut vars = Vars::default();
    let mut set = RuleSet {
        server: Vec::new(),
        server_access: Vec::new(),
        locations: Vec::new(),
        slots: 0,
        prefilter: Default::default(),
    };
    let (server, access, locations) = compile_block(&nodes, Ctx::Server, None, &mut vars)?;
    set.server = server;
    set.server_access = access;
    set.locations = locations;
    set.slots = vars
        .finish()
        .map_err(|(line, reason)| LoadError::new(line, reason))?;
    set.prefilter = UriPrefilter::build(&mut set.server, &mut set.locations);
    Ok(set)
}

/// Reads directives up to the `}` that closes the block opened on `open` (or the end).
fn read_block(tokens: &mut Tokenizer<'_>, open: Option<usize>) -> Result<Vec<Node>, LoadError> {
    let mut nodes = Vec::new();
    loop {
        match tokens
            .next_token()
            .map_err(|e| LoadError::new(e.line, e.reason))?
        {
            Token::Eof { line } => {
                return match open {
                    None => Ok(nodes),
                    Some(_) => Err(LoadError::new(
                        line,
                        "unexpected end of file, expecting \"}\"",
                    )),
                }
            }
            Token::BlockEnd { line } => {
                return match open {
                    Some(_) => Ok(nodes),
                    None => Err(LoadError::new(line, "unexpected \"}\"")),
                }
            }
            Token::Directive { words, line, block } => {
                // nginx checks the kind of directive when it meets its `{` or `;`, before
                // reading what a block holds.
                let name = words.first().map_or("", String::as_str);
                let takes_block = matches!(name, "if" | "location" | "server");
                if block && !takes_block {
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
                if !block && takes_block {
                    return Err(LoadError::new(
                        line,
                        format!("directive \"{name}\" has no opening \"{{\""),
                    ));
                }
                let block = if block {
                    Some(read_block(tokens, Some(line))?)
                } else {
                    None
                };
                nodes.push(Node { words, line, block });
            }
        }
    }
}

type Compiled = (Vec<Stmt>, Vec<AccessRule>, Vec<Location>);

/// Compiles the directives of one block. `parent` is the enclosing location, if any.
fn compile_block(
    nodes: &[Node],
    ctx: Ctx,
    parent: Option<&Location>,
    vars: &mut Vars,
) -> Result<Compiled, LoadError> {
    let mut stmts = Vec::new();
    let mut access = Vec::new();
    let mut locations: Vec<Location> = Vec::new();
    // Flag directives already set in this block (nginx: "directive is duplicate").
    let mut flags: Vec<&str> = Vec::new();
    for node in nodes {
        let line = node.line;
        let err = |reason: String| LoadError::new(line, reason);
        let name = node.name();
        let not_here = || LoadError::new(line, format!("\"{name}\" directive is not allowed here"));
        match name {
            "rewrite" => stmts.push(Stmt::Rewrite(Box::new(
                Rule::compile(node.args(), line, vars).map_err(err)?,
            ))),
            "return" => stmts.push(Stmt::Return(
                compile_return(node.args(), line, vars).map_err(err)?,
            )),
            "set" => stmts.push(compile_set(node.args(), line, vars).map_err(err)?),
            "break" => {
                if !node.args().is_empty() {
                    return Err(err(
                        "invalid number of arguments in \"break\" directive".into()
                    ));
                }
                stmts.push(Stmt::Break);
            }
            "rewrite_log" | "uninitialized_variable_warn" => match node.args() {
                _ if flags.contains(&name) => {
                    return Err(err(format!("\"{name}\" directive is duplicate")))
                }
                [v] if v.eq_ignore_ascii_case("on") || v.eq_ignore_ascii_case("off") => {
                    flags.push(name)
                }
                _ => return Err(err(format!("\"{name}\" takes \"on\" or \"off\""))),
            },
            "if" => {
                if ctx == Ctx::If {
                    return Err(not_here());
                }
                let cond = condition(node.args(), line, vars).map_err(err)?;
                let body = node.block.as_deref().unwrap_or_default();
                let (body, _, _) = compile_block(body, Ctx::If, parent, vars)?;
                stmts.push(Stmt::If { cond, body });
            }
            "location" => {
                if ctx == Ctx::If {
                    return Err(not_here());
                }
                let loc = compile_location(node, parent, vars)?;
                if let Some(key) = loc.duplicate_key() {
                    if let Some(first) = locations.iter().find(|l| l.duplicate_key() == Some(key)) {
                        return Err(err(format!(
                            "duplicate location \"{}\" (first at line {})",
                            loc.name, first.line
                        )));
                    }
                }
                locations.push(loc);
            }
            "allow" | "deny" => {
                if ctx == Ctx::If {
                    return Err(not_here());
                }
                access.push(AccessRule::parse(name == "allow", node.args()).map_err(err)?);
            }
            "auth_basic" if ctx != Ctx::If => {
                match node.args() {
                    [v] if v == "off" => {}
                    _ => return Err(err(
                        "\"auth_basic\" other than \"off\" is not supported (provedge's policy \
                         does authentication)"
                            .into(),
                    )),
                }
            }
            "proxy_pass" if ctx != Ctx::If => {
                // Without a URI part, nginx forwards the rewritten target as provedge does.
                let plain = node.args().first().is_some_and(|u| {
                    let rest = u.split_once("://").map_or("", |(_, r)| r);
                    node.args().len() == 1 && !rest.contains('/') && !u.contains('$')
                });
                if !plain {
                    return Err(err(
                        "\"proxy_pass\" with a URI part or variables is not supported (provedge \
                         forwards the rewritten target as it is)"
                            .into(),
                    ));
                }
            }
            "server" => {
                return Err(err(
                    "a rule file holds one server block and nothing outside it".into(),
                ))
            }
            _ if CONTENT.contains(&name) && ctx != Ctx::If => {}
            _ => {
                return Err(err(format!(
                    "unsupported directive \"{name}\" (rule files hold the rewrite module's \
                     directives, location, allow/deny, and the content directives provedge \
                     leaves to the upstream)"
                )))
            }
        }
    }
    Ok((stmts, access, locations))
}

fn compile_location(
    node: &Node,
    parent: Option<&Location>,
    vars: &mut Vars,
) -> Result<Location, LoadError> {
    let line = node.line;
    let (modifier, name) = location_name(node.args()).map_err(|r| LoadError::new(line, r))?;
    if name.starts_with('@') && modifier.is_empty() {
        return Err(LoadError::new(
            line,
            "named locations (@name) are not supported: they are reached only by try_files, \
             error_page and similar, which rule files do not have",
        ));
    }
    if let Some(parent) = parent {
        if matches!(parent.matcher, Matcher::Exact(_)) {
            return Err(LoadError::new(
                line,
                format!(
                    "location \"{name}\" cannot be inside the exact location \"{}\"",
                    parent.name
                ),
            ));
        }
        let regex = matches!(modifier, "~" | "~*");
        if !regex && !name.starts_with(parent.name.as_str()) {
            return Err(LoadError::new(
                line,
                format!(
                    "location \"{name}\" is outside location \"{}\"",
                    parent.name
                ),
            ));
        }
    }
    let bytes = name.as_bytes().to_vec();
    let matcher = match modifier {
        "" => Matcher::Prefix {
            prefix: bytes,
            stop_regex: false,
        },
        "^~" => Matcher::Prefix {
            prefix: bytes,
            stop_regex: true,
        },
        "=" => Matcher::Exact(bytes),
        "~" | "~*" => Matcher::Regex(Box::new(
            Pattern::compile(name, modifier == "~*", vars).map_err(|r| LoadError::new(line, r))?,
        )),
        other => {
            return Err(LoadError::new(
                line,
                format!("invalid location modifier \"{other}\""),
            ))
        }
    };
    let mut loc = Location {
        matcher,
        name: name.to_owned(),
        body: Vec::new(),
        access: Vec::new(),
        children: Vec::new(),
        line,
    };
    let inner = node.block.as_deref().unwrap_or_default();
    let (body, access, children) = compile_block(inner, Ctx::Location, Some(&loc), vars)?;
    loc.body = body;
    loc.access = access;
    loc.children = children;
    Ok(loc)
}

/// `location`'s arguments, modifiers written apart (`= /x`) or joined (`=/x`), as nginx allows.
fn location_name(args: &[String]) -> Result<(&str, &str), String> {
    match args {
        [m, name] => Ok((m.as_str(), name.as_str())),
        [joined] => {
            let j = joined.as_str();
            Ok(if let Some(rest) = j.strip_prefix("~*") {
                ("~*", rest)
            } else if let Some(rest) = j.strip_prefix('~') {
                ("~", rest)
            } else if let Some(rest) = j.strip_prefix("^~") {
                ("^~", rest)
            } else if let Some(rest) = j.strip_prefix('=') {
                ("=", rest)
            } else {
                ("", j)
            })
        }
        _ => Err("invalid number of arguments in \"location\" directive".into()),
    }
}

/// `return code [text]` or `return URL`, as `ngx_http_rewrite_return` reads them.
fn compile_return(args: &[String], line: usize, vars: &mut Vars) -> Result<ReturnSpec, String> {
    let (code, text) = match args {
        [code] => (code, None),
        [code, text] => (code, Some(text)),
        _ => return Err("invalid number of arguments in \"return\" directive".into()),
    };
    let numeric = !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit());
    let (status, text) = if numeric {
        let n: u32 = code.parse().unwrap_or(u32::MAX);
        if n > 999 {
            return Err(format!("invalid return code \"{code}\""));
        }
        (script::return_status(n)?, text)
    } else if text.is_none()
        && ["http://", "https://", "$scheme"]
            .iter()
            .any(|p| code.starts_with(p))
    {
        (302, Some(code))
    } else {
        return Err(format!("invalid return code \"{code}\""));
    };
    let text = text
        .map(|t| Replacement::compile(t, false, vars, line))
        .transpose()?;
    Ok(ReturnSpec { status, text, line })
}

/// `set $name value`.
fn compile_set(args: &[String], line: usize, vars: &mut Vars) -> Result<Stmt, String> {
    let [name, value] = args else {
        return Err("invalid number of arguments in \"set\" directive".into());
    };
    let Some(var) = name.strip_prefix('$') else {
        return Err(format!("invalid variable name \"{name}\""));
    };
    if var.is_empty() {
        return Err("invalid variable name \"$\"".into());
    }
    let target = if var.eq_ignore_ascii_case("args") {
        SetTarget::Args
    } else {
        SetTarget::User(vars.declare(var)?)
    };
    let value = Replacement::compile(value, false, vars, line)?;
    Ok(Stmt::Set { target, value })
}

/// An `if` condition, as `ngx_http_rewrite_if_condition` reads its words.
fn condition(args: &[String], line: usize, vars: &mut Vars) -> Result<Condition, String> {
    let invalid = |w: &str| format!("invalid condition \"{w}\"");
    let mut v: Vec<String> = args.to_vec();
    let n = v.len();
    let Some(first) = v.first_mut() else {
        return Err("invalid number of arguments in \"if\" directive".into());
    };
    if !first.starts_with('(') {
        return Err(invalid(first));
    }
    // A lone "(" is a word of its own; otherwise it is stripped from the first word.
    let start = if first.len() == 1 {
        1
    } else {
        first.remove(0);
        0
    };
    let Some(last) = v.last_mut() else {
        return Err("invalid number of arguments in \"if\" directive".into());
    };
    if !last.ends_with(')') {
        return Err(invalid(last));
    }
    // Likewise a lone ")" is dropped, and otherwise stripped from the last word.
    let mut end = n;
    if last.len() == 1 {
        if n == 1 {
            return Err(invalid(last));
        }
        end -= 1;
    } else {
        last.pop();
    }
    let Some([word, rest @ ..]) = v.get(start..end) else {
        return Err(invalid(")"));
    };
    if let Some(name) = word.strip_prefix('$').filter(|name| !name.is_empty()) {
        if !matches!(rest, [] | [_, _]) {
            return Err(invalid(word));
        }
        let var = vars.resolve(name, line)?;
        if matches!(var, super::vars::Var::User(_)) && name.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("unknown \"{name}\" variable"));
        }
        let [op, operand] = rest else {
            return Ok(Condition::Truthy(var));
        };
        let op = op.as_str();
        return match op {
            "=" | "!=" => Ok(Condition::Equals {
                var,
                value: Replacement::compile(operand, false, vars, line)?,
                negated: op == "!=",
            }),
            "~" | "~*" | "!~" | "!~*" => Ok(Condition::Matches {
                var,
                pattern: Box::new(Pattern::compile(operand, op.ends_with('*'), vars)?),
                negated: op.starts_with('!'),
            }),
            _ => Err(format!("unexpected \"{op}\" in condition")),
        };
    }
    let file_test = matches!(
        word.as_str(),
        "-f" | "-d" | "-e" | "-x" | "!-f" | "!-d" | "!-e" | "!-x"
    );
    if file_test {
        if rest.len() != 1 {
            return Err(invalid(word));
        }
        return Err(format!(
            "the file test \"{word}\" is not supported: it asks nginx's file system, and \
             provedge's store is read asynchronously, after the rules have run"
        ));
    }
    Err(invalid(word))
}
