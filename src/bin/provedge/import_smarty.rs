//! Smarty, as FusionPBX's provisioning templates use it, converted to provedge's minijinja.
//!
//! The conversion keeps Smarty's output byte for byte where the two engines can agree
//! (docs/fusionpbx.md, "What the conversion keeps"): a tag that prints nothing (`{if}`,
//! `{/foreach}`, `{* … *}`, `{assign}`) swallows the one newline right after it, as PHP does
//! after Smarty's compiled code, which provedge's `trim_blocks` reproduces; a tag that prints
//! keeps it; the spaces before a tag are kept (`{%+`, since provedge's `lstrip_blocks` would
//! remove them); unset variables print nothing; `==` compares as PHP compares these strings;
//! `{if $x}` is PHP's truthiness. Variables go through the [`Mapping`].
//!
//! Whatever it cannot convert faithfully is a [`Refusal`] with its line: never a silently
//! dropped or approximated construct.

use std::collections::BTreeSet;

use super::mapping::{Collection, Mapping};

/// A construct the conversion refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub line: usize,
    /// The construct as written (shortened).
    pub construct: String,
    pub reason: String,
}

/// A converted template, and what was refused (when anything was, the text must not be used).
#[derive(Debug, Default)]
pub struct Converted {
    pub text: String,
    pub refusals: Vec<Refusal>,
}

/// Converts one template. `vendor` is the FusionPBX vendor folder (some variables map
/// differently per vendor).
pub fn convert(source: &str, mapping: &Mapping, vendor: &str) -> Converted {
    let mut c = Converter {
        mapping,
        vendor: vendor.to_owned(),
        out: String::with_capacity(source.len() * 2),
        refusals: Vec::new(),
        scopes: Vec::new(),
        assigned: assigned_names(source),
        line: 1,
    };
    if !c.assigned.is_empty() {
        // Smarty's assignments outlive the loop they are made in; minijinja's do not, except
        // on a namespace. The newline is swallowed by `trim_blocks`.
        c.out.push_str("{% set smarty = namespace() %}\n");
    }
    c.run(source);
    for scope in c.scopes.iter().rev() {
        let (line, what) = (scope.line, scope.kind.opening());
        c.refusals.push(Refusal {
            line,
            construct: what.into(),
            reason: "never closed".into(),
        });
    }
    Converted {
        text: c.out,
        refusals: c.refusals,
    }
}

// ---- the tag stream ------------------------------------------------------------------------

enum Piece<'a> {
    Text(&'a str),
    Tag(&'a str),
    Comment(&'a str),
    Literal(&'a str),
}

/// Splits a source into text, tags, comments and `{literal}` blocks, with the line each
/// starts on. Smarty's auto-literal rule: `{` followed by whitespace is text.
fn pieces(source: &str) -> Result<Vec<(usize, Piece<'_>)>, (usize, String)> {
    let mut out = Vec::new();
    let bytes = source.as_bytes();
    let (mut at, mut text_from) = (0usize, 0usize);
    let line_at = |from: usize, to: usize, line: usize| {
        line + source[from..to].bytes().filter(|&b| b == b'\n').count()
    };
    let mut text_line = 1;
    while at < bytes.len() {
        if bytes[at] != b'{' || bytes.get(at + 1).map_or(true, |b| b.is_ascii_whitespace()) {
            at += 1;
            continue;
        }
        if text_from < at {
            out.push((text_line, Piece::Text(&source[text_from..at])));
        }
        let line = line_at(text_from, at, text_line);
        let rest = &source[at..];
        let end = if rest.starts_with("{*") {
            let close = rest
                .find("*}")
                .ok_or((line, "a comment that never ends".to_owned()))?;
            out.push((line, Piece::Comment(&rest[2..close])));
            at + close + 2
        } else if rest.starts_with("{literal}") {
            let close = rest
                .find("{/literal}")
                .ok_or((line, "{literal} without {/literal}".to_owned()))?;
            out.push((line, Piece::Literal(&rest[9..close])));
            at + close + 10
        } else {
            let close = tag_end(rest).ok_or((line, "a tag that never ends".to_owned()))?;
            out.push((line, Piece::Tag(&rest[1..close])));
            at + close + 1
        };
        text_line = line_at(at, end, line);
        at = end;
        text_from = end;
    }
    if text_from < bytes.len() {
        out.push((text_line, Piece::Text(&source[text_from..])));
    }
    Ok(out)
}

/// Where the `}` closing the tag that starts `rest` is: quotes and nested braces (a
/// `{$a_{$b}}` name, a `"{$x}"` string) are skipped.
fn tag_end(rest: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'"' | b'\'' => quote = Some(b),
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// The variables a template assigns (`{assign var=x …}`, `{$x = …}`): Smarty's template-wide
/// variables, kept on a namespace.
fn assigned_names(source: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let Ok(pieces) = pieces(source) else {
        return names;
    };
    for (_, piece) in pieces {
        let Piece::Tag(body) = piece else { continue };
        let body = body.trim();
        if let Some(attrs) = body.strip_prefix("assign ") {
            if let Some(at) = attrs.find("var=") {
                let name: String = attrs[at + 4..]
                    .trim_start_matches(['"', '\''])
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        } else if let Some(rest) = body.strip_prefix('$') {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let after = rest[name.len()..].trim_start();
            let assigns = (after.starts_with('=') && !after.starts_with("=="))
                || after == "++"
                || after == "--";
            if !name.is_empty() && assigns {
                names.insert(name);
            }
        }
    }
    names
}

// ---- expressions ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Var(String),
    Ident(String),
    Str(String),
    /// A double-quoted string with `$` or `{` in it: Smarty interpolates those.
    Interpolated,
    Num(String),
    Op(&'static str),
}

fn tokens(body: &str) -> Result<Vec<Tok>, String> {
    const OPS: &[&str] = &[
        "===", "!==", "==", "!=", "<>", "<=", ">=", "&&", "||", "=>", "->", "<", ">", "!", "+",
        "-", "*", "/", "%", "=", ".", ",", "[", "]", "(", ")", "|", ":", "@",
    ];
    let mut out = Vec::new();
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'$' {
            let start = i + 1;
            i = start;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if i == start {
                return Err("a `$` with no variable name".into());
            }
            if b.get(i) == Some(&b'{') {
                return Err("a variable name built from another variable".into());
            }
            out.push(Tok::Var(body[start..i].to_owned()));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident(body[start..i].to_owned()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                // `1.2` is a number; `$a.1.b` never reaches here (the `.` is read as an op
                // first after a name), but `1.` followed by a name is an accessor.
                if b[i] == b'.' && !b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    break;
                }
                i += 1;
            }
            out.push(Tok::Num(body[start..i].to_owned()));
        } else if c == b'"' || c == b'\'' {
            let mut s = String::new();
            let mut interpolated = false;
            i += 1;
            loop {
                let Some(&ch) = b.get(i) else {
                    return Err("a string that never ends".into());
                };
                if ch == c {
                    i += 1;
                    break;
                }
                if ch == b'\\' && i + 1 < b.len() {
                    let next = b[i + 1];
                    let escaped = match (c, next) {
                        (b'"', b'n') => Some('\n'),
                        (b'"', b't') => Some('\t'),
                        (_, b'\\') => Some('\\'),
                        (q, n) if n == q => Some(q as char),
                        (b'"', b'$') => Some('$'),
                        _ => None,
                    };
                    if let Some(e) = escaped {
                        s.push(e);
                        i += 2;
                        continue;
                    }
                }
                if c == b'"' && (ch == b'$' || ch == b'{' || ch == b'`') {
                    interpolated = true;
                }
                let ch_len = body[i..].chars().next().map_or(1, char::len_utf8);
                s.push_str(&body[i..i + ch_len]);
                i += ch_len;
            }
            out.push(if interpolated {
                Tok::Interpolated
            } else {
                Tok::Str(s)
            });
        } else {
            let op = OPS
                .iter()
                .find(|op| body[i..].starts_with(**op))
                .ok_or_else(|| format!("unexpected {:?}", &body[i..i + 1]))?;
            out.push(Tok::Op(op));
            i += op.len();
        }
    }
    Ok(out)
}

/// A variable reference: `$name`, its accessors and an `@property`.
#[derive(Clone, Debug, PartialEq)]
struct Var {
    name: String,
    path: Vec<Acc>,
    prop: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
enum Acc {
    Key(String),
    Index(i64),
    /// `[i]` naming a `{section}`.
    Section(String),
    Dyn(Box<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Var(Var),
    Str(String),
    Num(String),
    Bool(bool),
    Null,
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Bin(&'static str, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
    Modified(Box<Expr>, String, Vec<Expr>),
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn new(body: &str) -> Result<Parser, String> {
        Ok(Parser {
            toks: tokens(body)?,
            at: 0,
        })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn peek_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }

    fn peek_word(&self, words: &[&str]) -> Option<String> {
        match self.peek() {
            Some(Tok::Ident(w)) if words.iter().any(|x| x.eq_ignore_ascii_case(w)) => {
                Some(w.to_ascii_lowercase())
            }
            _ => None,
        }
    }

    fn bump(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn done(&self) -> bool {
        self.at >= self.toks.len()
    }

    fn expect_op(&mut self, op: &str) -> Result<(), String> {
        if self.peek_op(op) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected `{op}`"))
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_op("||") || self.peek_word(&["or"]).is_some() {
            self.at += 1;
            let right = self.and()?;
            left = Expr::Bin("or", Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.comparison()?;
        while self.peek_op("&&") || self.peek_word(&["and"]).is_some() {
            self.at += 1;
            let right = self.comparison()?;
            left = Expr::Bin("and", Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let left = self.additive()?;
        let op = match self.peek() {
            Some(Tok::Op(o))
                if ["==", "===", "<>", "!=", "!==", "<", ">", "<=", ">="].contains(o) =>
            {
                match *o {
                    "===" => "==",
                    "<>" | "!==" => "!=",
                    o => o,
                }
            }
            Some(Tok::Ident(w)) => match w.to_ascii_lowercase().as_str() {
                "eq" => "==",
                "ne" | "neq" => "!=",
                "gt" => ">",
                "lt" => "<",
                "ge" | "gte" => ">=",
                "le" | "lte" => "<=",
                "is" => return Err("Smarty's `is` tests".into()),
                _ => return Ok(left),
            },
            _ => return Ok(left),
        };
        self.at += 1;
        let right = self.additive()?;
        Ok(Expr::Bin(op, Box::new(left), Box::new(right)))
    }

    fn additive(&mut self) -> Result<Expr, String> {
        let mut left = self.multiplicative()?;
        while let Some(Tok::Op(op @ ("+" | "-"))) = self.peek() {
            let op = *op;
            self.at += 1;
            let right = self.multiplicative()?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn multiplicative(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Some(Tok::Op(op @ ("*" | "/" | "%"))) => *op,
                Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("mod") => "%",
                _ => return Ok(left),
            };
            self.at += 1;
            let right = self.unary()?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_op("!") || self.peek_word(&["not"]).is_some() {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek_op("-") {
            self.at += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut e = self.primary()?;
        while self.peek_op("|") {
            self.at += 1;
            if self.peek_op("@") {
                return Err("a modifier applied to a whole array (`|@…`)".into());
            }
            let Some(Tok::Ident(name)) = self.bump() else {
                return Err("expected a modifier name".into());
            };
            let mut args = Vec::new();
            while self.peek_op(":") {
                self.at += 1;
                args.push(self.unary_arg()?);
            }
            e = Expr::Modified(Box::new(e), name, args);
        }
        Ok(e)
    }

    /// A modifier argument: a single value (modifiers bind tighter than operators).
    fn unary_arg(&mut self) -> Result<Expr, String> {
        if self.peek_op("-") {
            self.at += 1;
            return Ok(Expr::Neg(Box::new(self.primary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.bump() {
            Some(Tok::Var(name)) => Ok(Expr::Var(self.var(name)?)),
            Some(Tok::Str(s)) => Ok(Expr::Str(s)),
            Some(Tok::Interpolated) => {
                Err("a double-quoted string with variables in it (write them outside)".into())
            }
            Some(Tok::Num(n)) => Ok(Expr::Num(n)),
            Some(Tok::Op("(")) => {
                let e = self.expr()?;
                self.expect_op(")")?;
                Ok(e)
            }
            Some(Tok::Ident(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Ok(Expr::Bool(true)),
                "false" => Ok(Expr::Bool(false)),
                "null" => Ok(Expr::Null),
                _ if self.peek_op("(") => {
                    self.at += 1;
                    let mut args = Vec::new();
                    while !self.peek_op(")") {
                        if !args.is_empty() {
                            self.expect_op(",")?;
                        }
                        args.push(self.expr()?);
                    }
                    self.at += 1;
                    Ok(Expr::Call(w.to_ascii_lowercase(), args))
                }
                // A bare constant (`FILTER_VALIDATE_BOOLEAN`) only makes sense as an argument.
                _ => Ok(Expr::Call(format!("const:{w}"), Vec::new())),
            },
            Some(Tok::Op(op)) => Err(format!("unexpected `{op}`")),
            None => Err("an expression is missing".into()),
        }
    }

    fn var(&mut self, name: String) -> Result<Var, String> {
        let mut v = Var {
            name,
            path: Vec::new(),
            prop: None,
        };
        loop {
            if self.peek_op(".") {
                self.at += 1;
                match self.bump() {
                    Some(Tok::Ident(k)) => v.path.push(Acc::Key(k)),
                    Some(Tok::Num(n)) => {
                        // `$a.1.2` lexes as `1.2`: split it back into accessors.
                        for part in n.split('.') {
                            v.path.push(Acc::Index(
                                part.parse().map_err(|_| "a bad index".to_owned())?,
                            ));
                        }
                    }
                    Some(Tok::Var(_)) => return Err("an accessor taken from a variable".into()),
                    _ => return Err("expected a name after `.`".into()),
                }
            } else if self.peek_op("[") {
                self.at += 1;
                let acc = match (self.peek().cloned(), self.toks.get(self.at + 1)) {
                    (Some(Tok::Str(k)), Some(Tok::Op("]"))) => {
                        self.at += 1;
                        Acc::Key(k)
                    }
                    (Some(Tok::Num(n)), Some(Tok::Op("]"))) => {
                        self.at += 1;
                        Acc::Index(n.parse().map_err(|_| "a bad index".to_owned())?)
                    }
                    (Some(Tok::Ident(s)), Some(Tok::Op("]"))) => {
                        self.at += 1;
                        Acc::Section(s)
                    }
                    _ => Acc::Dyn(Box::new(self.expr()?)),
                };
                self.expect_op("]")?;
                v.path.push(acc);
            } else if self.peek_op("@") {
                self.at += 1;
                let Some(Tok::Ident(p)) = self.bump() else {
                    return Err("expected a property after `@`".into());
                };
                v.prop = Some(p.to_ascii_lowercase());
                return Ok(v);
            } else if self.peek_op("->") {
                return Err("an object property or method (`->`)".into());
            } else {
                return Ok(v);
            }
        }
    }

    /// `name=value` attributes (`{foreach from=$x item=row}`, `{assign var=x value=1}`).
    fn attributes(&mut self) -> Result<Vec<(String, Expr)>, String> {
        let mut attrs = Vec::new();
        while !self.done() {
            let Some(Tok::Ident(name)) = self.bump() else {
                return Err("expected `name=value`".into());
            };
            self.expect_op("=")?;
            let value = match (self.peek().cloned(), self.toks.get(self.at + 1)) {
                // A bare word is a name (`item=row`), unless an operator follows.
                (Some(Tok::Ident(w)), next) if !matches!(next, Some(Tok::Op("(" | "|" | "."))) => {
                    self.at += 1;
                    Expr::Str(w)
                }
                _ => self.expr()?,
            };
            attrs.push((name.to_ascii_lowercase(), value));
        }
        Ok(attrs)
    }
}

// ---- the converter -------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScopeKind {
    If,
    Foreach,
    Section,
}

impl ScopeKind {
    fn opening(self) -> &'static str {
        match self {
            ScopeKind::If => "{if}",
            ScopeKind::Foreach => "{foreach}",
            ScopeKind::Section => "{section}",
        }
    }
}

/// An open block, and for loops what their variables stand for.
struct Scope {
    kind: ScopeKind,
    line: usize,
    /// `{foreach}`: the item variable's Smarty name and minijinja name.
    item: Option<(String, String)>,
    /// `{foreach … key}`: the key variable.
    key: Option<String>,
    /// `name=`: for `$smarty.foreach.NAME` / `$smarty.section.NAME`.
    name: Option<String>,
    /// The provedge list the loop walks (for its elements' field mapping).
    list: Option<String>,
    /// `{section}`: the index variable and the count expression.
    section: Option<(String, String)>,
}

struct Converter<'m> {
    mapping: &'m Mapping,
    vendor: String,
    out: String,
    refusals: Vec<Refusal>,
    scopes: Vec<Scope>,
    assigned: BTreeSet<String>,
    line: usize,
}

/// Context names a Smarty variable may not take over in minijinja.
const RESERVED: &[&str] = &[
    "lines",
    "keys",
    "vars",
    "mac",
    "mac_upper",
    "model",
    "vendor",
    "file",
    "scope",
    "device",
    "first_boot",
    "device_token",
    "loop",
    "smarty",
    "range",
    "dict",
    "namespace",
    "true",
    "false",
    "none",
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "self",
    "super",
];

/// A path into the template context: a root name and accessors.
#[derive(Clone, Debug)]
struct Path {
    root: String,
    segs: Vec<Seg>,
    /// The FusionPBX field it came from (for [`Mapping::value`]).
    field: Option<String>,
}

#[derive(Clone, Debug)]
enum Seg {
    Name(String),
    Index(i64),
    Expr(String),
}

enum Resolved {
    /// A value that may be missing at render time.
    Path(Path),
    /// An expression that always has a value (a loop index, a literal).
    Always(String),
    /// A FusionPBX list mapped to a provedge list.
    List(Path, String),
}

impl Path {
    fn parse(target: &str) -> Path {
        let mut parts = target.split('.');
        let root = parts.next().unwrap_or_default().to_owned();
        let mut p = Path {
            root,
            segs: Vec::new(),
            field: None,
        };
        p.extend_dotted(parts);
        p
    }

    fn extend_dotted<'a>(&mut self, parts: impl Iterator<Item = &'a str>) {
        for part in parts.filter(|p| !p.is_empty()) {
            self.segs.push(match part.parse::<i64>() {
                Ok(i) => Seg::Index(i),
                Err(_) => Seg::Name(part.to_owned()),
            });
        }
    }

    /// The path as an expression whose every step but the last may be missing: `(a.b |
    /// default({})).c`. Its value may still be undefined.
    fn guarded(&self) -> String {
        let mut e = self.root.clone();
        let n = self.segs.len();
        for (i, seg) in self.segs.iter().enumerate() {
            let access = match seg {
                Seg::Name(name) if is_ident(name) => format!(".{name}"),
                Seg::Name(name) => format!("[{}]", quote(name)),
                Seg::Index(i) => format!("[{i}]"),
                Seg::Expr(x) => format!("[{x}]"),
            };
            e = if i + 1 < n {
                format!("({e}{access} | default({{}}))")
            } else {
                format!("{e}{access}")
            };
        }
        e
    }
}

fn is_ident(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&s)
}

/// A minijinja string literal.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\r' => q.push_str("\\r"),
            '\t' => q.push_str("\\t"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

impl Converter<'_> {
    fn run(&mut self, source: &str) {
        let pieces = match pieces(source) {
            Ok(p) => p,
            Err((line, reason)) => {
                self.refuse(line, "{", &reason);
                return;
            }
        };
        for (line, piece) in pieces {
            self.line = line;
            match piece {
                Piece::Text(t) | Piece::Literal(t) => self.text(t),
                Piece::Comment(c) => {
                    let open = self.block_open("{#");
                    self.out.push_str(&open);
                    self.out.push_str(&c.replace("#}", "# }"));
                    self.out.push_str("#}");
                }
                Piece::Tag(body) => self.tag(body),
            }
        }
    }

    fn refuse(&mut self, line: usize, construct: &str, reason: &str) {
        let mut construct: String = construct.chars().take(60).collect();
        if construct.len() < 60 && !construct.ends_with('}') && construct.starts_with('{') {
            construct.push('}');
        }
        self.refusals.push(Refusal {
            line,
            construct,
            reason: reason.to_owned(),
        });
    }

    /// Text as it is, with minijinja's openers (`{{`, `{%`, `{#`) written so they print.
    fn text(&mut self, t: &str) {
        let mut chars = t.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '{' && matches!(chars.peek(), Some('{' | '%' | '#')) {
                self.out.push_str("{{ \"{\" }}");
            } else {
                self.out.push(c);
            }
        }
    }

    /// A block or comment opener: `{%+` when only spaces precede it on its line, so they stay
    /// (Smarty keeps them; provedge's `lstrip_blocks` would not).
    fn block_open(&self, opener: &str) -> String {
        let line_start = self.out.rfind('\n').map_or(0, |i| i + 1);
        let before = &self.out[line_start..];
        if !before.is_empty() && before.chars().all(|c| c == ' ' || c == '\t') {
            format!("{opener}+")
        } else {
            opener.to_owned()
        }
    }

    fn block(&mut self, inner: &str) {
        let open = self.block_open("{%");
        self.out.push_str(&open);
        self.out.push(' ');
        self.out.push_str(inner);
        self.out.push_str(" %}");
    }

    fn tag(&mut self, body: &str) {
        let construct = format!("{{{body}}}");
        let depth = self.scopes.len();
        if let Err(reason) = self.tag_inner(body.trim()) {
            self.refuse(self.line, &construct, &reason);
            // A refused opener still opens its block, so its closing tag is not refused too,
            // and its item variable is known (as itself), so its uses are not either.
            let word = body.split_whitespace().next().unwrap_or_default();
            let kind = match word {
                "if" => Some(ScopeKind::If),
                "foreach" => Some(ScopeKind::Foreach),
                "section" => Some(ScopeKind::Section),
                _ => None,
            };
            if let (Some(kind), true) = (kind, self.scopes.len() == depth) {
                self.open(kind);
                let item = body
                    .split_once(" as $")
                    .map(|(_, r)| r)
                    .or_else(|| body.split_once("item=").map(|(_, r)| r))
                    .map(|r| {
                        r.trim_start_matches(['"', '\'', '$'])
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect::<String>()
                    });
                if let (Some(scope), Some(item)) = (self.scopes.last_mut(), item) {
                    scope.item = Some((item.clone(), item));
                }
            }
        }
    }

    fn tag_inner(&mut self, body: &str) -> Result<(), String> {
        let (word, rest) = match body.find(|c: char| c.is_ascii_whitespace()) {
            Some(at) => (&body[..at], body[at..].trim()),
            None => (body, ""),
        };
        match word {
            "if" => {
                let cond = self.cond(&Parser::whole(rest)?)?;
                self.block(&format!("if {cond}"));
                self.open(ScopeKind::If);
            }
            "elseif" | "else" if word == "elseif" || rest.starts_with("if ") => {
                let rest = if word == "else" { &rest[3..] } else { rest };
                self.expect_open(ScopeKind::If, body)?;
                let cond = self.cond(&Parser::whole(rest)?)?;
                self.block(&format!("elif {cond}"));
            }
            "else" if rest.is_empty() => {
                self.expect_open(ScopeKind::If, body)?;
                self.block("else");
            }
            "/if" => self.close(ScopeKind::If, "endif", body)?,
            "foreach" => self.foreach(rest)?,
            "foreachelse" => {
                self.expect_open(ScopeKind::Foreach, body)?;
                self.block("else");
            }
            "/foreach" => self.close(ScopeKind::Foreach, "endfor", body)?,
            "section" => self.section(rest)?,
            "sectionelse" => {
                self.expect_open(ScopeKind::Section, body)?;
                self.block("else");
            }
            "/section" => self.close(ScopeKind::Section, "endfor", body)?,
            "assign" => {
                let attrs = Parser::new(rest)?.attributes()?;
                let var = attrs.iter().find(|(k, _)| k == "var");
                let value = attrs.iter().find(|(k, _)| k == "value");
                match (var, value, attrs.len()) {
                    (Some((_, Expr::Str(name))), Some((_, value)), 2) => {
                        self.assign(name.clone(), value)?
                    }
                    _ => return Err("`{assign}` takes exactly `var=` and `value=`".into()),
                }
            }
            "break" | "continue" if rest.is_empty() => {
                if !self
                    .scopes
                    .iter()
                    .any(|s| matches!(s.kind, ScopeKind::Foreach | ScopeKind::Section))
                {
                    return Err(format!("`{{{word}}}` outside a loop"));
                }
                self.block(word);
            }
            "for" => self.for_range(rest)?,
            "forelse" => {
                self.expect_open(ScopeKind::Foreach, body)?;
                self.block("else");
            }
            "/for" => self.close(ScopeKind::Foreach, "endfor", body)?,
            w if w.starts_with('$') && (body.ends_with("++") || body.ends_with("--")) => {
                let name = body[1..body.len() - 2].trim();
                if !self.assigned.contains(name) {
                    return Err("`++`/`--` of anything but a plain variable".into());
                }
                let op = if body.ends_with("++") { "+" } else { "-" };
                let current = self.num(&Expr::Var(Var {
                    name: name.to_owned(),
                    path: Vec::new(),
                    prop: None,
                }))?;
                self.block(&format!("set smarty.{name} = {current} {op} 1"));
            }
            "ldelim" if rest.is_empty() => self.out.push_str("{{ \"{\" }}"),
            "rdelim" if rest.is_empty() => self.out.push('}'),
            w if w.starts_with('$') && is_assignment(body) => {
                let (name, value) = body.split_once('=').unwrap_or_default();
                let name = name.trim().trim_start_matches('$');
                if !is_ident(name) && !self.assigned.contains(name) {
                    return Err("an assignment to anything but a plain variable".into());
                }
                let value = Parser::whole(value)?;
                self.assign(name.to_owned(), &value)?;
            }
            w if w.starts_with('$')
                || w.starts_with('"')
                || w.starts_with('\'')
                || w.starts_with(|c: char| c.is_ascii_digit())
                || is_call(body) =>
            {
                let e = Parser::whole(body)?;
                let printed = self.print(&e)?;
                self.out.push_str("{{ ");
                self.out.push_str(&printed);
                self.out.push_str(" }}");
            }
            "strip" | "/strip" => {
                return Err("`{strip}` (rewrite the lines without the spaces)".into())
            }
            "include" | "extends" | "block" | "/block" => {
                return Err(
                    "Smarty template inclusion (use provedge's `{% include %}`/`{% extends %}`)"
                        .into(),
                )
            }
            _ => return Err(format!("Smarty's `{{{word}}}` has no conversion")),
        }
        Ok(())
    }

    fn open(&mut self, kind: ScopeKind) {
        self.scopes.push(Scope {
            kind,
            line: self.line,
            item: None,
            key: None,
            name: None,
            list: None,
            section: None,
        });
    }

    fn expect_open(&self, kind: ScopeKind, body: &str) -> Result<(), String> {
        match self.scopes.last() {
            Some(s) if s.kind == kind => Ok(()),
            _ => Err(format!("`{{{body}}}` outside {}", kind.opening())),
        }
    }

    fn close(&mut self, kind: ScopeKind, end: &str, body: &str) -> Result<(), String> {
        self.expect_open(kind, body)?;
        self.scopes.pop();
        self.block(end);
        Ok(())
    }

    fn assign(&mut self, name: String, value: &Expr) -> Result<(), String> {
        let v = self.value(value)?;
        self.block(&format!("set smarty.{name} = {v}"));
        Ok(())
    }

    fn foreach(&mut self, rest: &str) -> Result<(), String> {
        let mut p = Parser::new(rest)?;
        let (source, item, key, name) = if matches!(p.peek(), Some(Tok::Var(_))) {
            // Smarty 3: `{foreach $list as $item}`, `… as $key => $item`, `… name=x`.
            let Some(Tok::Var(v)) = p.bump() else {
                unreachable!()
            };
            let source = p.var(v)?;
            if p.peek_word(&["as"]).is_none() {
                return Err("expected `as`".into());
            }
            p.at += 1;
            let Some(Tok::Var(first)) = p.bump() else {
                return Err("expected the item variable".into());
            };
            let (key, item) = if p.peek_op("=>") {
                p.at += 1;
                let Some(Tok::Var(item)) = p.bump() else {
                    return Err("expected the item variable".into());
                };
                (Some(first), item)
            } else {
                (None, first)
            };
            let attrs = p.attributes()?;
            let name = attr_name(&attrs, "name")?;
            (source, item, key, name)
        } else {
            let attrs = p.attributes()?;
            let Some((_, Expr::Var(from))) = attrs.iter().find(|(k, _)| k == "from") else {
                return Err("`{foreach}` without `from=$list`".into());
            };
            let item = attr_name(&attrs, "item")?.ok_or("`{foreach}` without `item=`")?;
            (
                from.clone(),
                item,
                attr_name(&attrs, "key")?,
                attr_name(&attrs, "name")?,
            )
        };
        let item_j = self.local_name(&item);
        let (iterable, list) = match self.resolve(&source)? {
            Resolved::List(path, list) => (format!("{} | default([])", path.guarded()), Some(list)),
            Resolved::Path(path) => (format!("{} | default([])", path.guarded()), None),
            Resolved::Always(_) => return Err("a loop over something that is not a list".into()),
        };
        let head = match &key {
            None => format!("for {item_j} in {iterable}"),
            Some(_) if list.is_some() => {
                return Err("a `$key => $item` loop over a list (use `@index`)".into())
            }
            Some(k) => format!(
                "for {}, {item_j} in ({iterable}) | items",
                self.local_name(k)
            ),
        };
        self.block(&head);
        self.open(ScopeKind::Foreach);
        if let Some(scope) = self.scopes.last_mut() {
            scope.item = Some((item, item_j));
            scope.key = key;
            scope.name = name;
            scope.list = list;
        }
        Ok(())
    }

    /// `{for $i = 1 to 10}` (`step` is refused).
    fn for_range(&mut self, rest: &str) -> Result<(), String> {
        let mut p = Parser::new(rest)?;
        let Some(Tok::Var(var)) = p.bump() else {
            return Err("expected `$name = from to to`".into());
        };
        p.expect_op("=")?;
        let from = p.additive()?;
        if p.peek_word(&["to"]).is_none() {
            return Err("expected `to`".into());
        }
        p.at += 1;
        let to = p.additive()?;
        if !p.done() {
            return Err("`{for}` with `step` or `max`".into());
        }
        let name = self.local_name(&var);
        let (from, to) = (self.num(&from)?, self.num(&to)?);
        self.block(&format!("for {name} in range({from}, {to} + 1)"));
        self.open(ScopeKind::Foreach);
        if let Some(scope) = self.scopes.last_mut() {
            scope.item = Some((var, name));
        }
        Ok(())
    }

    fn section(&mut self, rest: &str) -> Result<(), String> {
        let attrs = Parser::new(rest)?.attributes()?;
        let name = attr_name(&attrs, "name")?.ok_or("`{section}` without `name=`")?;
        if let Some((k, _)) = attrs.iter().find(|(k, _)| k != "name" && k != "loop") {
            return Err(format!("`{{section}}` with `{k}=`"));
        }
        let Some((_, lp)) = attrs.iter().find(|(k, _)| k == "loop") else {
            return Err("`{section}` without `loop=`".into());
        };
        let count = match lp {
            Expr::Num(n) => n.clone(),
            Expr::Var(v) => match self.resolve(v)? {
                Resolved::List(path, _) | Resolved::Path(path) => {
                    let g = path.guarded();
                    format!("({g} if {g} is number else ({g} | default([]) | length))")
                }
                Resolved::Always(e) => e,
            },
            _ => return Err("a `{section}` loop that is not a list or a number".into()),
        };
        let index = format!("{}_index", self.local_name(&name));
        self.block(&format!("for {index} in range({count})"));
        self.open(ScopeKind::Section);
        if let Some(scope) = self.scopes.last_mut() {
            scope.name = Some(name);
            scope.section = Some((index, count));
        }
        Ok(())
    }

    /// A Smarty variable name as a minijinja one: kept unless it would shadow a context name.
    fn local_name(&self, name: &str) -> String {
        if RESERVED.contains(&name) {
            format!("{name}_")
        } else {
            name.to_owned()
        }
    }

    // ---- variables ---------------------------------------------------------------------

    fn resolve(&self, v: &Var) -> Result<Resolved, String> {
        if v.name == "smarty" {
            return self.smarty_var(v);
        }
        // Loop variables, innermost first.
        for (depth, scope) in self.scopes.iter().enumerate().rev() {
            let innermost = depth + 1 == self.scopes.len()
                || self.scopes[depth + 1..]
                    .iter()
                    .all(|s| s.kind == ScopeKind::If);
            if let Some((item, item_j)) = &scope.item {
                if *item == v.name {
                    if let Some(prop) = &v.prop {
                        return loop_prop(prop, innermost).map(Resolved::Always);
                    }
                    return self.element(item_j, scope.list.as_deref(), &v.path, innermost, None);
                }
            }
            if scope.key.as_deref() == Some(v.name.as_str()) && v.path.is_empty() {
                return Ok(Resolved::Always(self.local_name(&v.name)));
            }
        }
        if v.prop.is_some() {
            return Err("an `@` property of a variable that is not a loop's item".into());
        }
        if self.assigned.contains(&v.name) {
            let mut p = Path {
                root: "smarty".into(),
                segs: vec![Seg::Name(v.name.clone())],
                field: None,
            };
            self.append(&mut p, &v.path)?;
            return Ok(Resolved::Path(p));
        }
        // The longest static prefix the mapping knows.
        let statics: Vec<String> = v
            .path
            .iter()
            .map_while(|a| match a {
                Acc::Key(k) => Some(k.clone()),
                Acc::Index(i) => Some(i.to_string()),
                _ => None,
            })
            .collect();
        for k in (0..=statics.len()).rev() {
            let mut prefix = v.name.clone();
            for s in &statics[..k] {
                prefix.push('.');
                prefix.push_str(s);
            }
            if let Some((collection, _)) = self.mapping.collection(&prefix) {
                return self.indexed(&collection, &v.path[k..]);
            }
            if let Some(target) = self.mapping.variable(&self.vendor, &prefix) {
                let mut p = Path::parse(&target);
                p.field = Some(prefix.rsplit('.').next().unwrap_or(&prefix).to_owned());
                self.append(&mut p, &v.path[k..])?;
                return Ok(Resolved::Path(p));
            }
        }
        Err(format!("no mapping for `${}`", v.name))
    }

    /// A collection, or one element of it named by an index (`$account.1.user_id`).
    fn indexed(&self, c: &Collection, rest: &[Acc]) -> Result<Resolved, String> {
        let list = Path::parse(&c.to);
        match rest.first() {
            None => Ok(Resolved::List(list, c.to.clone())),
            Some(Acc::Index(i)) => {
                let mut element = list;
                element.segs.push(Seg::Index(i - c.first));
                let root = format!("({} | default({{}}))", element.guarded());
                self.element(&root, Some(&c.to), &rest[1..], false, Some(i - c.first + 1))
            }
            Some(_) => Err(format!(
                "an element of `{}` chosen by anything but a number",
                c.to
            )),
        }
    }

    /// A field of an element of a list: `element` is the element's expression, `list` the
    /// provedge list it is from (for the field mapping).
    fn element(
        &self,
        element: &str,
        list: Option<&str>,
        path: &[Acc],
        innermost: bool,
        position: Option<i64>,
    ) -> Result<Resolved, String> {
        let mut base = Path {
            root: element.to_owned(),
            segs: Vec::new(),
            field: None,
        };
        let Some(list) = list else {
            self.append(&mut base, path)?;
            return Ok(Resolved::Path(base));
        };
        if path.is_empty() {
            return Ok(Resolved::Path(base));
        }
        let statics: Vec<String> = path
            .iter()
            .map_while(|a| match a {
                Acc::Key(k) => Some(k.clone()),
                Acc::Index(i) => Some(i.to_string()),
                _ => None,
            })
            .collect();
        for k in (1..=statics.len()).rev() {
            let field = statics[..k].join(".");
            let Some(target) = self.mapping.field(list, &field) else {
                continue;
            };
            if let Some(literal) = target.strip_prefix('=') {
                if !path[k..].is_empty() {
                    return Err("an accessor after a constant".into());
                }
                return Ok(Resolved::Always(quote(literal)));
            }
            let mut p = if target == "@position" {
                if !path[k..].is_empty() {
                    return Err("an accessor after a position".into());
                }
                return match position {
                    Some(n) => Ok(Resolved::Always(n.to_string())),
                    None if innermost => Ok(Resolved::Always("loop.index".into())),
                    None => Err(format!("`{field}` of an outer loop's item")),
                };
            } else if let Some(relative) = target.strip_prefix('.') {
                let mut p = base.clone();
                p.extend_dotted(relative.split('.'));
                p
            } else {
                Path::parse(&target)
            };
            p.field = Some(field);
            self.append(&mut p, &path[k..])?;
            return Ok(Resolved::Path(p));
        }
        Err(format!(
            "no mapping for the field `{}` of `{list}`'s elements",
            statics.first().cloned().unwrap_or_default()
        ))
    }

    fn append(&self, p: &mut Path, path: &[Acc]) -> Result<(), String> {
        for a in path {
            p.segs.push(match a {
                Acc::Key(k) => Seg::Name(k.clone()),
                Acc::Index(i) => Seg::Index(*i),
                Acc::Section(name) => Seg::Expr(self.section_index(name)?),
                Acc::Dyn(e) => Seg::Expr(self.value(e)?),
            });
        }
        Ok(())
    }

    fn section_index(&self, name: &str) -> Result<String, String> {
        self.scopes
            .iter()
            .rev()
            .find(|s| s.kind == ScopeKind::Section && s.name.as_deref() == Some(name))
            .and_then(|s| s.section.as_ref())
            .map(|(index, _)| index.clone())
            .ok_or_else(|| format!("`[{name}]` outside a `{{section name={name}}}`"))
    }

    /// `$smarty.foreach.NAME.prop` and `$smarty.section.NAME.prop`.
    fn smarty_var(&self, v: &Var) -> Result<Resolved, String> {
        let keys: Vec<&str> = v
            .path
            .iter()
            .map(|a| match a {
                Acc::Key(k) => k.as_str(),
                _ => "",
            })
            .collect();
        let [kind @ ("foreach" | "section"), name, prop] = keys.as_slice() else {
            return Err("`$smarty.…` other than a loop's properties".into());
        };
        let at = self
            .scopes
            .iter()
            .rposition(|s| s.name.as_deref() == Some(*name))
            .ok_or_else(|| format!("`$smarty.{kind}.{name}` outside that loop"))?;
        let innermost = self.scopes[at + 1..]
            .iter()
            .all(|s| s.kind == ScopeKind::If);
        if let Some((index, count)) = &self.scopes[at].section {
            let e = match *prop {
                "index" | "index_prev" | "index_next" if *prop != "index" => {
                    return Err(format!("`$smarty.section.{name}.{prop}`"))
                }
                "index" => index.clone(),
                "iteration" | "rownum" => format!("({index} + 1)"),
                "first" => format!("({index} == 0)"),
                "last" => format!("({index} + 1 == {count})"),
                "total" | "loop" => count.clone(),
                other => return Err(format!("`$smarty.section.{name}.{other}`")),
            };
            return Ok(Resolved::Always(e));
        }
        loop_prop(prop, innermost).map(Resolved::Always)
    }

    // ---- expressions in their contexts -------------------------------------------------

    /// What a `{…}` output tag prints.
    fn print(&self, e: &Expr) -> Result<String, String> {
        match e {
            Expr::Var(v) => match self.resolve(v)? {
                Resolved::Path(p) => Ok(format!("{} | default(\"\")", p.guarded())),
                Resolved::Always(x) => Ok(x),
                Resolved::List(..) => Err("printing a whole list".into()),
            },
            Expr::Bool(true) => Ok("\"1\"".into()),
            Expr::Bool(false) | Expr::Null => Ok("\"\"".into()),
            Expr::Bin("and" | "or" | "==" | "!=" | "<" | ">" | "<=" | ">=", ..) | Expr::Not(_) => {
                // PHP prints true as 1 and false as nothing.
                Ok(format!("(\"1\" if {} else \"\")", self.cond(e)?))
            }
            _ => self.value(e),
        }
    }

    /// A value where its type matters (an assignment, an index, a modifier's input).
    fn value(&self, e: &Expr) -> Result<String, String> {
        Ok(match e {
            Expr::Var(v) => match self.resolve(v)? {
                Resolved::Path(p) => format!("({} | default(none))", p.guarded()),
                Resolved::Always(x) => x,
                Resolved::List(p, _) => format!("({} | default([]))", p.guarded()),
            },
            Expr::Str(s) => quote(s),
            Expr::Num(n) => n.clone(),
            Expr::Bool(b) => b.to_string(),
            Expr::Null => "none".into(),
            Expr::Neg(x) => format!("(-{})", self.num(x)?),
            Expr::Bin(op @ ("+" | "-" | "*" | "/" | "%"), a, b) => {
                format!("({} {op} {})", self.num(a)?, self.num(b)?)
            }
            Expr::Bin(..) | Expr::Not(_) => self.cond(e)?,
            Expr::Call(name, args) => self.call_value(name, args)?,
            Expr::Modified(x, name, args) => self.modifier(x, name, args)?,
        })
    }

    /// A value compared as PHP compares these strings: a missing or null value is `""`.
    fn string(&self, e: &Expr) -> Result<String, String> {
        Ok(match e {
            Expr::Var(v) => match self.resolve(v)? {
                Resolved::Path(p) => {
                    let g = p.guarded();
                    format!("(({g} if {g} is defined and {g} is not none else \"\") | string)")
                }
                Resolved::Always(x) => format!("({x} | string)"),
                Resolved::List(..) => return Err("comparing a whole list".into()),
            },
            Expr::Str(s) => quote(s),
            Expr::Num(n) => quote(n),
            Expr::Bool(true) => "\"1\"".into(),
            Expr::Bool(false) | Expr::Null => "\"\"".into(),
            _ => format!("({} | string)", self.value(e)?),
        })
    }

    /// A number, as PHP makes one of a numeric string (anything else is 0).
    fn num(&self, e: &Expr) -> Result<String, String> {
        Ok(match e {
            Expr::Num(n) => n.clone(),
            Expr::Var(v) => match self.resolve(v)? {
                Resolved::Path(p) => format!("({} | default(0) | int(0))", p.guarded()),
                Resolved::Always(x) => x,
                Resolved::List(..) => return Err("arithmetic on a whole list".into()),
            },
            Expr::Bin(op @ ("+" | "-" | "*" | "/" | "%"), a, b) => {
                format!("({} {op} {})", self.num(a)?, self.num(b)?)
            }
            Expr::Neg(x) => format!("(-{})", self.num(x)?),
            _ => format!("({} | int(0))", self.value(e)?),
        })
    }

    /// A condition, with PHP's truthiness.
    fn cond(&self, e: &Expr) -> Result<String, String> {
        Ok(match e {
            Expr::Var(v) => {
                match self.resolve(v)? {
                    Resolved::Path(p) => {
                        let g = p.guarded();
                        format!("({g} is defined and {g} not in [none, false, 0, \"\", \"0\", [], {{}}])")
                    }
                    Resolved::Always(x) => x,
                    Resolved::List(p, _) => format!("({} | default([]) | length > 0)", p.guarded()),
                }
            }
            Expr::Not(x) => format!("not {}", self.cond(x)?),
            Expr::Bin(op @ ("and" | "or"), a, b) => {
                format!("({} {op} {})", self.cond(a)?, self.cond(b)?)
            }
            Expr::Bin(op @ ("==" | "!="), a, b) => {
                let (a, b) = self.translated(a, b);
                format!("({} {op} {})", self.string(&a)?, self.string(&b)?)
            }
            Expr::Bin(op @ ("<" | ">" | "<=" | ">="), a, b) => {
                format!("({} {op} {})", self.num(a)?, self.num(b)?)
            }
            Expr::Call(name, args) if name == "isset" => {
                let parts = args
                    .iter()
                    .map(|a| match a {
                        Expr::Var(v) => match self.resolve(v)? {
                            Resolved::Path(p) => {
                                let g = p.guarded();
                                Ok(format!("({g} is defined and {g} is not none)"))
                            }
                            Resolved::Always(_) => Ok("true".into()),
                            Resolved::List(p, _) => Ok(format!("({} is defined)", p.guarded())),
                        },
                        _ => Err("`isset()` of something that is not a variable".to_owned()),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if parts.is_empty() {
                    return Err("`isset()` of nothing".into());
                }
                format!("({})", parts.join(" and "))
            }
            Expr::Call(name, args) if name == "empty" && args.len() == 1 => {
                format!("not {}", self.cond(&args[0])?)
            }
            Expr::Call(name, args)
                if name == "filter_var"
                    && args.len() == 2
                    && args[1] == Expr::Call("const:FILTER_VALIDATE_BOOLEAN".into(), vec![]) =>
            {
                format!(
                    "(({} | lower) in [\"1\", \"true\", \"on\", \"yes\"])",
                    self.string(&args[0])?
                )
            }
            Expr::Str(s) => (!(s.is_empty() || s == "0")).to_string(),
            Expr::Num(n) => (n.parse::<f64>().unwrap_or(0.0) != 0.0).to_string(),
            Expr::Bool(b) => b.to_string(),
            Expr::Null => "false".into(),
            _ => {
                let v = self.value(e)?;
                format!("({v} not in [none, false, 0, \"\", \"0\", [], {{}}])")
            }
        })
    }

    /// A comparison of a mapped field with a literal, the literal in provedge's spelling
    /// (`device_key_type == "speed_dial"` → `type == "speeddial"`).
    fn translated(&self, a: &Expr, b: &Expr) -> (Expr, Expr) {
        let field_of = |e: &Expr| match e {
            Expr::Var(v) => match self.resolve(v) {
                Ok(Resolved::Path(p)) => p.field,
                _ => None,
            },
            _ => None,
        };
        let tr = |field: Option<String>, lit: &Expr| match (field, lit) {
            (Some(f), Expr::Str(s)) => Expr::Str(self.mapping.value(&f, s).to_owned()),
            (_, other) => other.clone(),
        };
        (tr(field_of(b), a), tr(field_of(a), b))
    }

    fn call_value(&self, name: &str, args: &[Expr]) -> Result<String, String> {
        match (name, args) {
            ("count" | "sizeof", [x]) => Ok(format!("({} | length)", self.list_value(x)?)),
            ("isset" | "empty" | "filter_var", _) => {
                self.cond(&Expr::Call(name.into(), args.to_vec()))
            }
            ("strtoupper", [x]) => Ok(format!("({} | upper)", self.string(x)?)),
            ("strtolower", [x]) => Ok(format!("({} | lower)", self.string(x)?)),
            ("trim", [x]) => Ok(format!("({} | trim)", self.string(x)?)),
            ("substr", [x, start]) => Ok(format!("{}[{}:]", self.string(x)?, self.num(start)?)),
            ("substr", [x, start, len]) => {
                let (start, len) = (self.num(start)?, self.num(len)?);
                Ok(format!("{}[{start}:{start} + {len}]", self.string(x)?))
            }
            (n, _) if n.starts_with("const:") => Err(format!("the PHP constant `{}`", &n[6..])),
            (n, _) => Err(format!("the PHP function `{n}()`")),
        }
    }

    fn list_value(&self, e: &Expr) -> Result<String, String> {
        match e {
            Expr::Var(v) => match self.resolve(v)? {
                Resolved::Path(p) | Resolved::List(p, _) => {
                    Ok(format!("({} | default([]))", p.guarded()))
                }
                Resolved::Always(x) => Ok(x),
            },
            _ => Err("counting something that is not a variable".into()),
        }
    }

    fn modifier(&self, x: &Expr, name: &str, args: &[Expr]) -> Result<String, String> {
        let s = || self.string(x);
        Ok(match (name.to_ascii_lowercase().as_str(), args) {
            ("upper", []) => format!("({} | upper)", s()?),
            ("lower", []) => format!("({} | lower)", s()?),
            ("trim", []) => format!("({} | trim)", s()?),
            ("capitalize", []) => format!("({} | title)", s()?),
            ("replace", [from, to]) => {
                format!(
                    "({} | replace({}, {}))",
                    s()?,
                    self.string(from)?,
                    self.string(to)?
                )
            }
            ("cat", [more]) => format!("({} ~ {})", s()?, self.string(more)?),
            ("count" | "count_characters", []) => format!("({} | length)", self.list_value(x)?),
            ("escape", []) => format!("({} | e)", s()?),
            ("escape", [Expr::Str(how)]) if how == "html" || how == "htmlall" => {
                format!("({} | e)", s()?)
            }
            ("escape", [Expr::Str(how)]) if how == "url" => format!("({} | urlencode)", s()?),
            ("default", [d]) => {
                let fallback = self.value(d)?;
                match x {
                    Expr::Var(v) => match self.resolve(v)? {
                        Resolved::Path(p) => {
                            let g = p.guarded();
                            format!(
                                "({g} if {g} is defined and {g} is not none and {g} != \"\" else {fallback})"
                            )
                        }
                        Resolved::Always(e) => e,
                        Resolved::List(..) => return Err("a default for a whole list".into()),
                    },
                    _ => format!("({} or {fallback})", self.value(x)?),
                }
            }
            (other, _) => return Err(format!("the modifier `|{other}`")),
        })
    }
}

impl Parser {
    /// Parses all of `body` as one expression.
    fn whole(body: &str) -> Result<Expr, String> {
        let mut p = Parser::new(body)?;
        let e = p.expr()?;
        if !p.done() {
            return Err(format!(
                "unexpected {:?} after the expression",
                p.toks[p.at]
            ));
        }
        Ok(e)
    }
}

/// `{substr($mac, 0, 6)}`: an output tag that starts with a function call.
fn is_call(body: &str) -> bool {
    let name: String = body
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    !name.is_empty() && body[name.len()..].starts_with('(')
}

fn is_assignment(body: &str) -> bool {
    let b = body.as_bytes();
    let mut quote = None;
    for (i, &c) in b.iter().enumerate() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if c == b'=' => {
                let prev = i.checked_sub(1).map(|j| b[j]);
                let next = b.get(i + 1).copied();
                return !matches!(prev, Some(b'=' | b'!' | b'<' | b'>'))
                    && !matches!(next, Some(b'=' | b'>'));
            }
            None => {}
        }
    }
    false
}

fn attr_name(attrs: &[(String, Expr)], key: &str) -> Result<Option<String>, String> {
    match attrs.iter().find(|(k, _)| k == key) {
        None => Ok(None),
        Some((_, Expr::Str(s))) => Ok(Some(s.clone())),
        Some((_, Expr::Var(v))) if v.path.is_empty() && v.prop.is_none() => {
            Ok(Some(v.name.clone()))
        }
        Some(_) => Err(format!("`{key}=` must be a name")),
    }
}

/// `@index` / `$smarty.foreach.x.index` and friends, of the innermost loop only (minijinja's
/// `loop` is the innermost loop's).
fn loop_prop(prop: &str, innermost: bool) -> Result<String, String> {
    if !innermost {
        return Err(format!("`{prop}` of an outer loop"));
    }
    Ok(match prop {
        "index" => "loop.index0",
        "iteration" => "loop.index",
        "first" => "loop.first",
        "last" => "loop.last",
        "total" => "loop.length",
        other => return Err(format!("the loop property `{other}`")),
    }
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(source: &str) -> Converted {
        convert(source, &Mapping::builtin(), "yealink")
    }

    #[test]
    fn tags_that_print_nothing_swallow_their_newline_and_keep_the_spaces_before_them() {
        let c = conv("a\n  {if $x}\nb\n  {/if}\n{* note *}\nc = {$y}\n");
        assert!(c.refusals.is_empty(), "{:?}", c.refusals);
        assert!(c.text.contains("  {%+ if "), "{}", c.text);
        assert!(
            c.text
                .contains("{# note #}\nc = {{ vars.y | default(\"\") }}\n"),
            "{}",
            c.text
        );
    }

    #[test]
    fn accounts_keys_and_settings_are_mapped() {
        let c = conv("{$account.2.user_id} {$user_id_1} {$mac} {$yealink_rport}");
        assert!(c.refusals.is_empty(), "{:?}", c.refusals);
        assert_eq!(
            c.text,
            "{{ (lines[1] | default({})).user | default(\"\") }} \
             {{ (lines[0] | default({})).user | default(\"\") }} \
             {{ mac | default(\"\") }} {{ vars.yealink_rport | default(\"\") }}"
        );
        let c = conv(
            "{foreach $keys['line'] as $row}{$row.device_key_id}={$row.device_key_label}{/foreach}",
        );
        assert!(c.refusals.is_empty(), "{:?}", c.refusals);
        assert_eq!(
            c.text,
            "{% for row in keys | default([]) %}{{ loop.index }}={{ row.label | default(\"\") }}{% endfor %}"
        );
    }

    #[test]
    fn what_cannot_be_converted_is_refused_with_its_line() {
        let c = conv("a\n{$x|string_format:\"%d\"}\n{include file=\"x.tpl\"}\n{$a_{$b}}\n{if $x is even}{/if}\n{strip}\n{foreach $x|@sort as $r}{$r.a}{/foreach}\n");
        let lines: Vec<usize> = c.refusals.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7], "{:?}", c.refusals);
        let c = conv("{foreach $lines as $row}\n");
        assert_eq!(c.refusals[0].reason, "never closed");
        let c = conv(
            "{foreach $lines as $l}{foreach $keys.line as $k}{$l.line_number}{/foreach}{/foreach}",
        );
        assert!(
            c.refusals[0].reason.contains("outer loop"),
            "{:?}",
            c.refusals
        );
    }

    #[test]
    fn assignments_live_on_a_namespace() {
        let c = conv(
            "{assign var=x value=1}{foreach $lines as $r}{assign var=x value=$x+1}{/foreach}{$x}",
        );
        assert!(c.refusals.is_empty(), "{:?}", c.refusals);
        assert!(c
            .text
            .starts_with("{% set smarty = namespace() %}\n{% set smarty.x = 1 %}"));
        assert!(
            c.text.ends_with("{{ smarty.x | default(\"\") }}"),
            "{}",
            c.text
        );
    }
}
