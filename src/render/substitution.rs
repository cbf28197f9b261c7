//! Templates that only substitute values, rendered without minijinja's VM.
//!
//! Many device templates are text with `{{ path }}` holes and `{% for %}` loops over a list or a
//! `|dictsort`ed map: nothing the interpreter is needed for. Such a template is recognised once,
//! when it is compiled, from minijinja's own parse of it (so whitespace control, comments and
//! `{% raw %}` are exactly the interpreter's), and rendered by walking the parsed nodes straight
//! over the context's JSON: no conversion of the context into template values, no VM.
//!
//! The subset is small and every step of it either does what minijinja does or **declines**:
//! a value it does not print the same way (a float, a list, a map), a name or key that is not
//! there (strict undefined is an error, and the error is minijinja's to report), more work than
//! the fuel limit could allow. A declined render is rendered by minijinja from the start, so the
//! bytes served never depend on which path produced them (tests prove both paths equal).
//!
//! The subset:
//! * text, comments, whitespace control (the parser's);
//! * `{{ a.b[0]["c"] }}`: a context name or loop variable, then attributes, string keys and
//!   non-negative integer indexes; printing a string (escaped for the output syntax), an
//!   integer, a boolean (`True`, `False`), or nothing for `null`;
//! * `{% for x in path %}` over a list (or a map's keys), `{% for a, b in path %}` over a list of
//!   pairs, `{% for k, v in path|dictsort %}`, nested, without `else`, `if`, `recursive` or
//!   `loop`.
//!
//! A Grandstream template in the subset whose lines have a shape known at compile time is also
//! rendered straight into the XML the phone gets, without the P-value text ([`pvalue_xml`]).

use std::sync::atomic::{AtomicUsize, Ordering};

use minijinja::machinery::{ast, parse};
use serde_json::{Map, Value};

use super::syntax::Syntax;
use crate::mac::Mac;
use crate::store::Layers;

mod pvalue_xml;

/// A template in the subset, ready to render.
#[derive(Debug)]
pub struct Substitution {
    nodes: Vec<Node>,
    /// The fuel the top level charges (each loop charges its iterations).
    cost: u64,
    /// The context names the template reads (so a caller builds only those).
    roots: Vec<Box<str>>,
    /// The length of the last rendering: the next one is usually about as long, so its buffer
    /// is allocated once.
    last_len: AtomicUsize,
    /// The template as Grandstream XML lines, when its text is P-value lines whose shape is
    /// known at compile time ([`pvalue_xml`]).
    pvalue_lines: Option<Vec<pvalue_xml::Line>>,
    /// [`Substitution::last_len`] of the XML renderings.
    last_xml_len: AtomicUsize,
    /// The words of the last XML rendering's P-value bitmap, likewise.
    last_seen_words: AtomicUsize,
}

#[derive(Debug)]
enum Node {
    Raw(Box<str>),
    /// Text of at most eight bytes (a separator, a line end), as the low bytes of a word: it is
    /// appended with one store rather than a copy.
    Short {
        word: u64,
        len: usize,
    },
    Emit(Path),
    For(Box<Loop>),
}

/// A `for` loop whose body is made of `N`: template nodes, or P-value lines
/// ([`pvalue_xml::Line`]).
#[derive(Debug)]
struct Loop<N = Node> {
    iter: Path,
    /// The fuel one iteration charges: the loop's own instructions and its body's, but for
    /// nested loops' iterations.
    cost: u64,
    dictsort: bool,
    /// `for a, b in …` rather than `for x in …`.
    pair: bool,
    body: Vec<N>,
}

/// What a loop's body is made of: how a render runs it.
trait Body: Sized {
    fn run(run: &mut Run<'_, '_>, body: &[Self]) -> Option<()>;
}

impl Body for Node {
    fn run(run: &mut Run<'_, '_>, body: &[Node]) -> Option<()> {
        run.nodes(body)
    }
}

#[derive(Clone, Debug)]
struct Path {
    root: Root,
    steps: Vec<Step>,
}

#[derive(Clone, Debug)]
enum Root {
    /// A name from the render context.
    Context(Box<str>),
    /// A loop variable: its slot among the variables of the enclosing loops, outermost first.
    Local(usize),
}

#[derive(Clone, Debug)]
enum Step {
    Key(Box<str>),
    Index(usize),
}

/// minijinja's fuel ([`super::template`]): a render the interpreter could run out of fuel on is
/// declined, so the fast path never succeeds where the interpreter fails. The charges ([`cost`])
/// are at least twice the instructions minijinja executes for each construct, and the limit is
/// half the fuel.
const FUEL_LIMIT: u64 = super::template::FUEL / 2;

/// The most a rendering's buffer starts with (a longer one grows as it is written).
const MAX_CAPACITY: usize = 1 << 20;

/// Objects merged from several layers one render may hold (each read of a key that several
/// layers hold an object at is one): the memory a render takes stays small.
const MAX_MERGED: usize = 4096;

/// The fuel one execution of `nodes` charges, but for the iterations of loops among them.
/// minijinja spends one unit per instruction: text is one (`EmitRaw`); a printed path is a
/// `Lookup`, one or two per step (`GetAttr`, or `LoadConst` and `GetItem`) and an `Emit`; a loop
/// evaluates its iterable (and `dictsort`, one `ApplyFilter`), then per iteration an `Iterate`,
/// an `UnpackList` and a `StoreLocal` per variable, its body and a `Jump`, and a last `Iterate`.
fn cost(nodes: &[Node]) -> u64 {
    let path = |p: &Path| 2 * (1 + 2 * p.steps.len() as u64);
    nodes
        .iter()
        .map(|node| match node {
            Node::Raw(_) | Node::Short { .. } => 2,
            Node::Emit(p) => path(p) + 2,
            Node::For(l) => path(&l.iter) + 2 * 3,
        })
        .sum()
}

impl Substitution {
    /// The template as a substitution, if it is in the subset.
    pub fn compile(source: &str) -> Option<Substitution> {
        let ast::Stmt::Template(template) =
            parse(source, "<template>", super::template::syntax()).ok()?
        else {
            return None;
        };
        let mut compiler = Compiler::default();
        let nodes = compiler.statements(&template.children)?;
        Some(Substitution {
            cost: cost(&nodes),
            pvalue_lines: pvalue_xml::compile(&nodes),
            nodes,
            roots: compiler.roots,
            last_len: AtomicUsize::new(0),
            last_xml_len: AtomicUsize::new(0),
            last_seen_words: AtomicUsize::new(0),
        })
    }

    /// The buffer a rendering starts with: the last one's length (`last`) and some room, at
    /// least 4 KiB, at most [`MAX_CAPACITY`].
    fn capacity(last: &AtomicUsize) -> usize {
        let last = last.load(Ordering::Relaxed);
        (last + last / 8).clamp(4096, MAX_CAPACITY)
    }

    /// The context names the template reads.
    pub fn roots(&self) -> impl Iterator<Item = &str> {
        self.roots.iter().map(|r| &**r)
    }

    /// Renders with `context` giving each context name's data; `None` when the render is not
    /// one this path makes exactly as minijinja would (the caller then renders with minijinja).
    pub fn render<'a>(
        &self,
        syntax: Syntax,
        context: &dyn Fn(&str) -> Option<Data<'a>>,
    ) -> Option<String> {
        let mut run = Run::new(syntax, context, Self::capacity(&self.last_len));
        run.spend(self.cost)?;
        run.nodes(&self.nodes)?;
        self.last_len.store(run.out.len(), Ordering::Relaxed);
        // Made of whole `str`s and whole characters of them, so always UTF-8.
        String::from_utf8(run.out).ok()
    }

    /// What rendering the template as P-value text, parsing it (`grandstream::parse_pvalues`)
    /// and writing it as XML (`grandstream::to_xml_bytes`) makes, without the text: `None`
    /// when [`Substitution::render`] would decline, and when the text's lines are not all ones
    /// this reads exactly as the parse would (a repeated P-value, a name that is not one), so
    /// the caller then takes that long way.
    pub fn render_pvalue_xml<'a>(
        &self,
        mac: Option<Mac>,
        context: &dyn Fn(&str) -> Option<Data<'a>>,
    ) -> Option<Vec<u8>> {
        let lines = self.pvalue_lines.as_ref()?;
        let syntax = Syntax::PValues { binary: false };
        let mut run = Run::new(syntax, context, Self::capacity(&self.last_xml_len));
        // As large as the last render's bitmap (bounded by pvalue_xml's largest number), so
        // that marking ascending numbers does not grow it word by word.
        run.seen
            .reserve(self.last_seen_words.load(Ordering::Relaxed));
        super::grandstream::xml_head(mac, &mut run.out);
        run.spend(self.cost)?;
        pvalue_xml::Line::run(&mut run, lines)?;
        run.out.extend_from_slice(super::grandstream::XML_TAIL);
        self.last_xml_len.store(run.out.len(), Ordering::Relaxed);
        self.last_seen_words
            .store(run.seen.len(), Ordering::Relaxed);
        Some(run.out)
    }
}

#[derive(Default)]
struct Compiler {
    /// Loop variable names in scope, outermost first (a slot is an index into this).
    scope: Vec<Box<str>>,
    roots: Vec<Box<str>>,
}

impl Compiler {
    fn statements(&mut self, statements: &[ast::Stmt<'_>]) -> Option<Vec<Node>> {
        statements.iter().map(|s| self.statement(s)).collect()
    }

    fn statement(&mut self, statement: &ast::Stmt<'_>) -> Option<Node> {
        match statement {
            ast::Stmt::EmitRaw(raw) => Some(match raw.raw.len() {
                len @ 0..=8 => Node::Short {
                    word: super::scan::short_word(raw.raw.as_bytes()),
                    len,
                },
                _ => Node::Raw(raw.raw.into()),
            }),
            ast::Stmt::EmitExpr(emit) => Some(Node::Emit(self.path(&emit.expr)?)),
            ast::Stmt::ForLoop(for_loop) => self.for_loop(for_loop).map(|l| Node::For(Box::new(l))),
            _ => None,
        }
    }

    fn for_loop(&mut self, for_loop: &ast::ForLoop<'_>) -> Option<Loop> {
        if for_loop.filter_expr.is_some() || for_loop.recursive || !for_loop.else_body.is_empty() {
            return None;
        }
        // The iterable is evaluated outside the loop's own variables.
        let (iter, dictsort) = match &for_loop.iter {
            ast::Expr::Filter(filter) if filter.name == "dictsort" && filter.args.is_empty() => {
                (self.path(filter.expr.as_ref()?)?, true)
            }
            expr => (self.path(expr)?, false),
        };
        let targets: Vec<&str> = match &for_loop.target {
            ast::Expr::Var(var) => vec![var.id],
            ast::Expr::List(list) => list
                .items
                .iter()
                .map(|item| match item {
                    ast::Expr::Var(var) => Some(var.id),
                    _ => None,
                })
                .collect::<Option<_>>()?,
            _ => return None,
        };
        let pair = match targets.len() {
            1 => false,
            2 => true,
            _ => return None,
        };
        // A dictsort item is a (key, value) tuple: printing or indexing one is minijinja's.
        if dictsort && !pair || targets.contains(&"loop") {
            return None;
        }
        let depth = self.scope.len();
        self.scope.extend(targets.iter().map(|t| Box::from(*t)));
        let body = self.statements(&for_loop.body);
        self.scope.truncate(depth);
        let body = body?;
        Some(Loop {
            iter,
            cost: 2 * (3 + targets.len() as u64) + cost(&body),
            dictsort,
            pair,
            body,
        })
    }

    fn path(&mut self, expr: &ast::Expr<'_>) -> Option<Path> {
        match expr {
            ast::Expr::Var(var) => {
                // `loop` is the interpreter's own object.
                if var.id == "loop" {
                    return None;
                }
                // The innermost binding wins (a later target of the same loop, too).
                let root = match self.scope.iter().rposition(|n| **n == *var.id) {
                    Some(slot) => Root::Local(slot),
                    None => {
                        if !self.roots.iter().any(|r| **r == *var.id) {
                            self.roots.push(var.id.into());
                        }
                        Root::Context(var.id.into())
                    }
                };
                Some(Path {
                    root,
                    steps: Vec::new(),
                })
            }
            ast::Expr::GetAttr(attr) => {
                let mut path = self.path(&attr.expr)?;
                path.steps.push(Step::Key(attr.name.into()));
                Some(path)
            }
            ast::Expr::GetItem(item) => {
                let ast::Expr::Const(subscript) = &item.subscript_expr else {
                    return None;
                };
                let step = match subscript.value.as_str() {
                    Some(key) => Step::Key(key.into()),
                    None if subscript.value.is_integer() => {
                        Step::Index(subscript.value.as_usize()?)
                    }
                    None => return None,
                };
                let mut path = self.path(&item.expr)?;
                path.steps.push(step);
                Some(path)
            }
            _ => None,
        }
    }
}

/// Context data as the fast path reads it.
#[derive(Clone, Copy, Debug)]
pub enum Data<'a> {
    /// Any JSON value but an object.
    Value(&'a Value),
    Object(&'a Map<String, Value>),
    /// The variable layers, merged as they are read ([`crate::store::vars::merge`]'s rules:
    /// objects merge key by key, anything else replaces), without copying them.
    Layers(&'a Layers<'a>),
}

impl<'a> Data<'a> {
    pub fn of(value: &'a Value) -> Data<'a> {
        match value {
            Value::Object(map) => Data::Object(map),
            value => Data::Value(value),
        }
    }

    /// The merged variables of `layers`.
    pub fn layers(layers: &'a Layers<'a>) -> Data<'a> {
        Data::Layers(layers)
    }
}

/// A value during a render: [`Data`], a map's key, or objects of several layers being merged
/// (kept in the render's list of them, so an item stays small to copy).
#[derive(Clone, Copy, Debug)]
enum Item<'a> {
    /// Any JSON value but an object.
    Value(&'a Value),
    Object(&'a Map<String, Value>),
    Merged(usize),
    Str(&'a str),
}

impl<'a> Item<'a> {
    fn of(value: &'a Value) -> Item<'a> {
        match value {
            Value::Object(map) => Item::Object(map),
            value => Item::Value(value),
        }
    }
}

/// Objects of several layers that merge into one, in precedence order (later wins).
#[derive(Clone, Copy, Debug, Default)]
struct Merged<'a> {
    maps: [Option<&'a Map<String, Value>>; 5],
}

/// What one key of merged objects is.
enum Merge<'a> {
    Value(&'a Value),
    Objects(Merged<'a>),
}

impl<'a> Merged<'a> {
    fn from_iter(layers: impl Iterator<Item = &'a Map<String, Value>>) -> Merged<'a> {
        let mut maps = [None; 5];
        for (slot, map) in maps.iter_mut().zip(layers) {
            *slot = Some(map);
        }
        Merged { maps }
    }

    fn present(&self) -> impl DoubleEndedIterator<Item = &'a Map<String, Value>> + '_ {
        self.maps.iter().flatten().copied()
    }

    /// The merged value of `key`: the last layer's, unless that is an object, which merges
    /// with the objects of the layers before it back to the last one that was not an object.
    fn get(&self, key: &str) -> Option<Merge<'a>> {
        let mut objects = [None; 5];
        let mut found = 0;
        for value in self.present().rev().filter_map(|m| m.get(key)) {
            match value {
                Value::Object(map) => {
                    if let Some(slot) = objects.get_mut(found) {
                        *slot = Some(map);
                    }
                    found += 1;
                }
                value if found == 0 => return Some(Merge::Value(value)),
                _ => break,
            }
        }
        if found == 0 {
            return None;
        }
        // Back into precedence order.
        if let Some(objects) = objects.get_mut(..found) {
            objects.reverse();
        }
        Some(Merge::Objects(Merged { maps: objects }))
    }

    /// Every key of the merged objects, in string order (a merged map's order): the layers'
    /// keys, each already in that order, merged.
    fn keys(&self) -> Vec<&'a str> {
        let mut layers: Vec<_> = self.present().map(|m| m.keys().peekable()).collect();
        let mut keys = Vec::new();
        while let Some(next) = layers
            .iter_mut()
            .filter_map(|k| k.peek().map(|k| k.as_str()))
            .min()
        {
            for layer in &mut layers {
                layer.next_if(|k| k.as_str() == next);
            }
            keys.push(next);
        }
        keys
    }
}

struct Run<'r, 'a> {
    syntax: Syntax,
    context: &'r dyn Fn(&str) -> Option<Data<'a>>,
    /// Loop variables of the enclosing loops, outermost first.
    locals: Vec<Item<'a>>,
    /// The merged objects [`Item::Merged`] refers to.
    merged: Vec<Merged<'a>>,
    fuel: u64,
    /// Bytes, so that values are copied a word at a time ([`super::scan::replace_bytes`]).
    out: Vec<u8>,
    /// The P-value numbers written so far, a bit each ([`pvalue_xml`]).
    seen: Vec<u64>,
}

impl<'r, 'a> Run<'r, 'a> {
    fn new(
        syntax: Syntax,
        context: &'r dyn Fn(&str) -> Option<Data<'a>>,
        capacity: usize,
    ) -> Run<'r, 'a> {
        Run {
            syntax,
            context,
            locals: Vec::new(),
            merged: Vec::new(),
            fuel: 0,
            out: Vec::with_capacity(capacity),
            seen: Vec::new(),
        }
    }
    fn spend(&mut self, fuel: u64) -> Option<()> {
        self.fuel = self.fuel.saturating_add(fuel);
        (self.fuel <= FUEL_LIMIT).then_some(())
    }

    fn nodes(&mut self, nodes: &[Node]) -> Option<()> {
        for node in nodes {
            match node {
                Node::Raw(text) => self.out.extend_from_slice(text.as_bytes()),
                Node::Short { word, len } => super::scan::push_word(&mut self.out, *word, *len),
                Node::Emit(path) => {
                    let value = self.read(path)?;
                    self.emit(value)?;
                }
                Node::For(l) => self.for_loop(l)?,
            }
        }
        Some(())
    }

    /// [`Run::resolve`], a loop variable as it is (the usual case) read in place.
    #[inline]
    fn read(&mut self, path: &Path) -> Option<Item<'a>> {
        match (&path.root, &*path.steps) {
            (Root::Local(slot), []) => self.locals.get(*slot).copied(),
            _ => self.resolve(path),
        }
    }

    fn resolve(&mut self, path: &Path) -> Option<Item<'a>> {
        let mut item = match &path.root {
            Root::Context(name) => {
                let data = (self.context)(name)?;
                self.item(data)?
            }
            Root::Local(slot) => *self.locals.get(*slot)?,
        };
        for step in &path.steps {
            item = match step {
                Step::Key(key) => self.get(item, key)?,
                Step::Index(index) => match item {
                    Item::Value(Value::Array(items)) => Item::of(items.get(*index)?),
                    _ => return None,
                },
            };
        }
        Some(item)
    }

    fn item(&mut self, data: Data<'a>) -> Option<Item<'a>> {
        match data {
            Data::Value(value) => Some(Item::Value(value)),
            Data::Object(map) => Some(Item::Object(map)),
            Data::Layers(layers) => self.merge(Merged::from_iter(layers.present())),
        }
    }

    /// Objects to merge as an item: one is that object, as it is. Declined past
    /// [`MAX_MERGED`] of them in one render.
    fn merge(&mut self, merged: Merged<'a>) -> Option<Item<'a>> {
        let mut maps = merged.present();
        if let (Some(only), None) = (maps.next(), maps.next()) {
            return Some(Item::Object(only));
        }
        if self.merged.len() >= MAX_MERGED {
            return None;
        }
        self.merged.push(merged);
        Some(Item::Merged(self.merged.len() - 1))
    }

    fn get(&mut self, item: Item<'a>, key: &str) -> Option<Item<'a>> {
        match item {
            Item::Object(map) => map.get(key).map(Item::of),
            Item::Merged(at) => match self.merged.get(at)?.get(key)? {
                Merge::Value(value) => Some(Item::of(value)),
                Merge::Objects(objects) => self.merge(objects),
            },
            Item::Value(_) | Item::Str(_) => None,
        }
    }

    /// A map's entries in its own order (string order: serde_json's maps are sorted, and so
    /// are minijinja's).
    fn entries(&mut self, item: Item<'a>) -> Option<Vec<(&'a str, Item<'a>)>> {
        match item {
            Item::Object(map) => Some(map.iter().map(|(k, v)| (k.as_str(), Item::of(v))).collect()),
            Item::Merged(at) => {
                let keys = self.merged.get(at)?.keys();
                keys.into_iter()
                    .map(|k| Some((k, self.get(item, k)?)))
                    .collect()
            }
            Item::Value(_) | Item::Str(_) => None,
        }
    }

    /// Writes a value as the engine's formatter does (see `template::compile`), strings
    /// escaped for the output syntax.
    fn emit(&mut self, item: Item<'a>) -> Option<()> {
        let syntax = self.syntax;
        print(item, &mut self.out, |s, out| {
            syntax.escape_value_bytes(s, out)
        })
    }

    /// The iterations of a `|dictsort` loop over a map's `len` entries, in the map's own order.
    /// minijinja's dictsort: keys compared with ASCII letters lower-cased, a stable sort of the
    /// map's own order. That order nearly always is the sorted one already; when it is not
    /// (keys that differ in case), minijinja sorts, and the render is declined.
    fn dictsort<N: Body>(
        &mut self,
        l: &Loop<N>,
        entries: impl Iterator<Item = (&'a str, Item<'a>)> + Clone,
        len: usize,
    ) -> Option<()> {
        let keys = entries.clone().map(|(k, _)| k);
        if !keys
            .clone()
            .zip(keys.skip(1))
            .all(|(a, b)| dictsort_order(a, b).is_le())
        {
            return None;
        }
        self.spend(l.cost.saturating_mul(len as u64))?;
        let depth = self.locals.len();
        for (key, value) in entries {
            self.locals.truncate(depth);
            self.locals.push(Item::Str(key));
            self.locals.push(value);
            N::run(self, &l.body)?;
        }
        Some(())
    }

    fn for_loop<N: Body>(&mut self, l: &Loop<N>) -> Option<()> {
        let iter = self.resolve(&l.iter)?;
        let depth = self.locals.len();
        if l.dictsort {
            // A map is read in place; merged layers' keys are collected first.
            match iter {
                Item::Object(map) => self.dictsort(
                    l,
                    map.iter().map(|(k, v)| (k.as_str(), Item::of(v))),
                    map.len(),
                )?,
                _ => {
                    let entries = self.entries(iter)?;
                    let len = entries.len();
                    self.dictsort(l, entries.into_iter(), len)?;
                }
            }
        } else {
            match iter {
                Item::Value(Value::Array(items)) => {
                    self.spend(l.cost.saturating_mul(items.len() as u64))?;
                    for item in items {
                        self.locals.truncate(depth);
                        if l.pair {
                            // Unpacking: only a list of exactly two.
                            match item {
                                Value::Array(pair) => match pair.as_slice() {
                                    [a, b] => {
                                        self.locals.push(Item::of(a));
                                        self.locals.push(Item::of(b));
                                    }
                                    _ => return None,
                                },
                                _ => return None,
                            }
                        } else {
                            self.locals.push(Item::of(item));
                        }
                        N::run(self, &l.body)?;
                    }
                }
                // A map iterates over its keys.
                Item::Object(_) | Item::Merged(_) if !l.pair => {
                    let entries = self.entries(iter)?;
                    self.spend(l.cost.saturating_mul(entries.len() as u64))?;
                    for (key, _) in entries {
                        self.locals.truncate(depth);
                        self.locals.push(Item::Str(key));
                        N::run(self, &l.body)?;
                    }
                }
                _ => return None,
            }
        }
        self.locals.truncate(depth);
        Some(())
    }
}

/// Writes a value as the engine's formatter does (see `template::compile`): a string by
/// `string`, integers and booleans as they print, `null` as nothing; `None` for a value
/// minijinja prints its own way.
#[inline]
fn print(item: Item<'_>, out: &mut Vec<u8>, string: impl FnOnce(&str, &mut Vec<u8>)) -> Option<()> {
    match item {
        Item::Str(s) => string(s, out),
        Item::Value(Value::String(s)) => string(s, out),
        Item::Value(Value::Null) => {}
        // As minijinja prints them (Jinja's Python spelling).
        Item::Value(Value::Bool(b)) => out.extend_from_slice(if *b { b"True" } else { b"False" }),
        Item::Value(Value::Number(n)) => {
            use std::io::Write as _;
            if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else {
                // Floats print minijinja's way.
                return None;
            }
        }
        Item::Value(Value::Array(_) | Value::Object(_)) | Item::Object(_) | Item::Merged(_) => {
            return None
        }
    }
    Some(())
}

/// minijinja's dictsort order of two keys: past their common prefix (compared as it is),
/// ASCII letters lower-cased.
fn dictsort_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (
        a.get(same..).unwrap_or_default(),
        b.get(same..).unwrap_or_default(),
    );
    // The first differing byte nearly always decides.
    if let (Some(x), Some(y)) = (a.first(), b.first()) {
        let (x, y) = (x.to_ascii_lowercase(), y.to_ascii_lowercase());
        if x != y {
            return x.cmp(&y);
        }
    }
    a.iter()
        .map(u8::to_ascii_lowercase)
        .cmp(b.iter().map(u8::to_ascii_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::StoreKey;
    use crate::render::syntax::TextFlavor;
    use crate::render::template::{to_value, TemplateCache};
    use proptest::prelude::*;
    use serde_json::json;

    const SYNTAXES: [Syntax; 3] = [
        Syntax::Xml,
        Syntax::PValues { binary: false },
        Syntax::Text(TextFlavor::Plain),
    ];

    /// What minijinja renders (an error as `Err`).
    fn interpreted(template: &str, syntax: Syntax, ctx: &Value) -> Result<String, String> {
        let key = StoreKey::new("templates/x/t.cfg").unwrap();
        TemplateCache::bounded(1)
            .render_one(&key, template, syntax, to_value(ctx))
            .map_err(|e| e.to_string())
    }

    /// What the fast path renders, if it does.
    fn substituted(template: &str, syntax: Syntax, ctx: &Value) -> Option<String> {
        Substitution::compile(template)?.render(syntax, &|name| ctx.get(name).map(Data::of))
    }

    /// The fast path either declines or renders exactly what minijinja renders.
    fn same(template: &str, ctx: &Value) -> Option<String> {
        let mut rendered = None;
        for syntax in SYNTAXES {
            let fast = substituted(template, syntax, ctx);
            if let Some(fast) = &fast {
                assert_eq!(
                    Ok(fast.clone()),
                    interpreted(template, syntax, ctx),
                    "{syntax:?} {template:?} {ctx}"
                );
            }
            rendered = rendered.or(fast);
        }
        rendered
    }

    fn ctx() -> Value {
        json!({
            "name": "a & <b> \"c\" 'd' é\u{0}\u{85}\r\n",
            "n": 42, "neg": -7, "big": u64::MAX, "flag": true, "off": false, "nothing": null,
            "f": 1.5, "list": ["x", "<y>", "z"], "pairs": [["k1", "v1"], ["k2", 2]],
            "map": {"b": "1", "a": "3", "c": 4, "_": null, "z": true, "é": "e", "p10": "p", "p9": 9},
            "cased": {"b": "1", "A": "2", "a": "3", "B": 4},
            "nested": {"inner": {"deep": "d&"}, "items": [{"a": "i0"}, {"a": "i1"}]},
            "lines": [{"user": "1001", "password": "p<w>"}],
        })
    }

    #[test]
    fn renders_the_subset_as_minijinja_does() {
        let ctx = ctx();
        for template in [
            "plain text, no holes\n",
            "{{ name }}|{{ n }}|{{ neg }}|{{ big }}|{{ flag }}|{{ off }}|{{ nothing }}\n",
            "{{ list[0] }}{{ list.1 }}{{ nested.inner.deep }}{{ nested['inner']['deep'] }}",
            "{{ nested.items[1].a }} {{ lines[0].user }} {{ lines[0].password }}\n",
            "{% for x in list %}[{{ x }}]\n{% endfor %}",
            "{% for k, v in map|dictsort %}{{ k }}={{ v }}\n{% endfor %}",
            "{% for k in map %}{{ k }},{% endfor %}",
            "{% for a, b in pairs %}{{ a }}:{{ b }};{% endfor %}",
            "{% for x in list %}{% for k, v in map|dictsort %}{{ x }}{{ k }}{% endfor %}\n{% endfor %}",
            "  {% for i in nested.items %}\n  {{ i.a }}\n  {% endfor %}\nend\n\n",
            "{%- for x in list -%}  {{ x }}  {%- endfor %}  \n",
            "{% for name in list %}{{ name }}{% endfor %}{{ name }}",
            "{% for x, x in pairs %}{{ x }}{% endfor %}",
            "{# a comment #}{% raw %}{{ not a hole }}{% endraw %}\n",
            "{% for x in [] %}never{% endfor %}",
            "P271 = 1\nP35 = {{ lines[0].user }}\n{% for name, value in map|dictsort %}{{ name }} = {{ value }}\n{% endfor %}",
        ] {
            // `[]` is a constant, not a path: declined; everything else renders.
            let fast = same(template, &ctx);
            assert_eq!(fast.is_some(), !template.contains("[]"), "{template:?}");
        }
    }

    #[test]
    fn declines_what_it_does_not_print_the_same() {
        let ctx = ctx();
        for template in [
            // Values minijinja prints its own way.
            "{{ f }}",
            "{{ list }}",
            "{{ nested }}",
            "{{ map|dictsort }}",
            // Missing names, keys and indexes: strict undefined is minijinja's error.
            "{{ missing }}",
            "{{ nested.nope }}",
            "{{ list[9] }}",
            "{{ list[-1] }}",
            "{{ name.attr }}",
            "{% for x in name %}{{ x }}{% endfor %}",
            "{% for a, b in list %}{{ a }}{% endfor %}",
            "{% for k, v in list|dictsort %}{{ k }}{% endfor %}",
            // Keys whose order changes with case: minijinja sorts them.
            "{% for k, v in cased|dictsort %}{{ k }}{% endfor %}",
            // Anything beyond the subset.
            "{% if flag %}x{% endif %}",
            "{% set y = 1 %}{{ y }}",
            "{{ name|upper }}",
            "{{ name ~ 'x' }}",
            "{{ 'literal' }}",
            "{% for x in list %}{{ loop.index }}{% endfor %}",
            "{% for x in list %}{{ x }}{% else %}none{% endfor %}",
            "{% for x in list if x %}{{ x }}{% endfor %}",
            "{% for k, v in map|dictsort(reverse=true) %}{{ k }}{% endfor %}",
            "{% extends 'x/base.cfg' %}",
            "{% include 'x/part.cfg' ignore missing %}",
            "{% macro m() %}{% endmacro %}",
            "{{ unclosed",
        ] {
            assert_eq!(same(template, &ctx), None, "{template:?}");
        }
    }

    #[test]
    fn declines_a_render_that_could_run_out_of_fuel() {
        let list: Vec<u32> = (0..2000).collect();
        let ctx = json!({"list": list});
        let template = "{% for a in list %}{% for b in list %}{{ b }}{% endfor %}{% endfor %}";
        assert_eq!(substituted(template, Syntax::Xml, &ctx), None);
        assert!(interpreted(template, Syntax::Xml, &ctx)
            .unwrap_err()
            .contains("fuel"));
        // A large but affordable render is still made.
        let template = "{% for a in list %}{{ a }}\n{% endfor %}";
        assert!(same(template, &ctx).is_some());
    }

    /// An item read whole, as JSON.
    fn materialize<'a>(run: &mut Run<'_, 'a>, item: Item<'a>) -> Value {
        match item {
            Item::Value(v) => v.clone(),
            Item::Str(s) => Value::from(s),
            Item::Object(m) => Value::Object(m.clone()),
            Item::Merged(_) => Value::Object(
                run.entries(item)
                    .unwrap()
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), materialize(run, v)))
                    .collect(),
            ),
        }
    }

    /// A render with nothing in its context, to read items with.
    fn run<'r, 'a>(context: &'r dyn Fn(&str) -> Option<Data<'a>>) -> Run<'r, 'a> {
        Run::new(Syntax::Xml, context, 0)
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-zA-Z &<>\"'\t\n\r\u{0}\u{7f}\u{85}\u{9f}éΣ€😀=#]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::btree_map("[abAB_P1]{1,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn object() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::btree_map("[abAB_P1]{1,2}", json_value(), 0..5)
            .prop_map(|m| m.into_iter().collect())
    }

    fn layers() -> impl Strategy<Value = Vec<Option<Map<String, Value>>>> {
        prop::collection::vec(prop::option::of(object()), 5)
    }

    fn as_layers(maps: &[Option<Map<String, Value>>]) -> Layers<'_> {
        let get = |i: usize| maps.get(i).and_then(Option::as_ref);
        Layers {
            global: get(0),
            vendor: get(1),
            model: get(2),
            profile: get(3),
            device: get(4),
        }
    }

    /// Every key a template could read: each one- and two-level path.
    const KEYS: [&str; 7] = ["a", "b", "A", "B", "_", "P1", "ab"];

    proptest! {
        #[test]
        fn merged_layers_read_as_the_merge(maps in layers()) {
            let layers = as_layers(&maps);
            let merged = Value::Object(layers.merged());
            let nothing = |_: &str| -> Option<Data<'_>> { None };
            let mut run = run(&nothing);
            let vars = run.item(Data::layers(&layers)).unwrap();
            prop_assert_eq!(materialize(&mut run, vars), merged.clone());
            for key in KEYS {
                let read = run.get(vars, key).map(|item| materialize(&mut run, item));
                prop_assert_eq!(read.as_ref(), merged.get(key));
            }
        }

        #[test]
        fn substitution_over_layers_renders_as_minijinja_over_the_merge(
            maps in layers(),
            user in "[a-zA-Z &<>\"'\t\n\u{0}\u{85}é😀]{0,8}",
        ) {
            let layers = as_layers(&maps);
            let ctx = json!({"vars": layers.merged(), "lines": [{"user": user}]});
            let mut templates = vec![
                "{% for k, v in vars|dictsort %}{{ k }} = {{ v }}\n{% endfor %}".to_owned(),
                "{% for k in vars %}{{ k }};{% endfor %}".to_owned(),
                "{{ lines[0].user }}".to_owned(),
            ];
            for a in KEYS {
                templates.push(format!("x{{{{ vars.{a} }}}}y\n"));
                templates.push(format!(
                    "{{% for k, v in vars.{a}|dictsort %}}{{{{ k }}}}={{{{ v }}}}\n{{% endfor %}}"
                ));
                templates.push(format!("{{% for x in vars['{a}'] %}}[{{{{ x }}}}]{{% endfor %}}"));
                for b in KEYS {
                    templates.push(format!("{{{{ vars.{a}.{b} }}}}|{{{{ vars.{a}[0] }}}}"));
                }
            }
            for template in &templates {
                for syntax in SYNTAXES {
                    let Some(fast) = Substitution::compile(template)
                        .and_then(|s| s.render(syntax, &|name| match name {
                            "vars" => Some(Data::layers(&layers)),
                            name => ctx.get(name).map(Data::of),
                        }))
                    else {
                        continue;
                    };
                    prop_assert_eq!(Ok(fast), interpreted(template, syntax, &ctx), "{}", template);
                }
            }
        }

        #[test]
        fn substitution_renders_any_value_as_minijinja(
            value in json_value(),
            map in object(),
            list in prop::collection::vec(json_value(), 0..4),
        ) {
            let ctx = json!({"v": value, "m": map, "l": list});
            for template in [
                "<{{ v }}>\n",
                "{% for k, x in m|dictsort %}{{ k }} = {{ x }}\n{% endfor %}",
                "{% for k in m %}{{ k }} {% endfor %}",
                "{% for x in l %}{{ x }},{% endfor %}",
                "{% for a, b in l %}{{ a }}:{{ b }},{% endfor %}",
                "{% for x in l %}{% for y in x %}{{ y }}{% endfor %}{% endfor %}",
                "{{ v.a }}{{ v[0] }}{{ m.a }}{{ m.a.b }}{{ l[1] }}",
            ] {
                same(template, &ctx);
            }
        }
    }
}
