//! A substitution of Grandstream P-value text, rendered straight into `gs_provision` XML.
//!
//! The text a Grandstream template renders is only ever parsed back into P-values
//! (`grandstream::parse_pvalues`) and written as XML. A value cannot break a line (its controls
//! are written as spaces), so where the lines are, and what each line's literal text says, is
//! known when the template is compiled: here each line becomes a P-value whose number and value
//! are literal or a hole, and a render writes each one's XML element straight from the context,
//! with no text in between.
//!
//! Only lines whose reading is certain take this path: a literal line (parsed at compile
//! time), `P<n> = {{ value }}`, `{{ name }} = {{ value }}` and a `#` comment, with nothing but
//! spaces and tabs around the `=` and at the ends. A template with any other line, or with a
//! loop that does not start and end at a line's start, is not compiled; a render whose name
//! hole is not exactly a P-value name (`P` and digits), or that repeats a P-value (the parse
//! merges repeats), declines, and the caller takes the long way.

use super::{print, Body, Item, Loop, Node, Path, Run};
use crate::render::grandstream;
use crate::render::xml::escape_pvalue_into_bytes;

/// One line of P-value text, or a loop of them.
#[derive(Debug)]
pub(super) enum Line {
    /// A literal line: its number, and its element as the XML writes it.
    Fixed {
        number: u32,
        xml: Box<[u8]>,
    },
    /// A line with holes: `P<n> = {{ value }}` or `{{ name }} = {{ value }}`.
    Value {
        name: Name,
        value: Path,
    },
    /// A comment with holes: they are read (a value the render cannot print declines it),
    /// nothing is written.
    Comment(Vec<Path>),
    For(Box<Loop<Line>>),
}

/// A P-value's number: literal, or the value of a hole.
#[derive(Debug)]
pub(super) enum Name {
    Fixed(u32),
    Hole(Path),
}

/// The first P-value number a render declines: numbers are marked in a bitmap to find repeats,
/// which stays small below it (the parse's own bitmap stops there too).
const MAX_NUMBER: u32 = 1 << 17;

impl Body for Line {
    fn run(run: &mut Run<'_, '_>, lines: &[Line]) -> Option<()> {
        for line in lines {
            match line {
                Line::Fixed { number, xml } => {
                    claim(run, *number)?;
                    run.out.extend_from_slice(xml);
                }
                Line::Value { name, value } => {
                    let number = match name {
                        Name::Fixed(number) => *number,
                        Name::Hole(path) => match run.read(path)? {
                            Item::Str(s) => number(s)?,
                            Item::Value(serde_json::Value::String(s)) => number(s)?,
                            _ => return None,
                        },
                    };
                    claim(run, number)?;
                    let value = run.read(value)?;
                    let mut printed = None;
                    grandstream::xml_element(&mut run.out, number, |xml| {
                        printed = print(value, xml, escape_pvalue_into_bytes);
                    });
                    printed?;
                }
                Line::Comment(holes) => {
                    // Printed as the text would have them, then cut off again.
                    let len = run.out.len();
                    for hole in holes {
                        let value = run.resolve(hole)?;
                        run.emit(value)?;
                    }
                    run.out.truncate(len);
                }
                Line::For(l) => run.for_loop(l)?,
            }
        }
        Some(())
    }
}

/// Marks `number` written; `None` when it already was (the parse would merge the two) or is
/// at least [`MAX_NUMBER`].
fn claim(run: &mut Run<'_, '_>, number: u32) -> Option<()> {
    if number >= MAX_NUMBER {
        return None;
    }
    let word = (number / 64) as usize;
    if run.seen.len() <= word {
        run.seen.resize(word + 1, 0);
    }
    let bits = run.seen.get_mut(word)?;
    let bit = 1u64 << (number % 64);
    if *bits & bit != 0 {
        return None;
    }
    *bits |= bit;
    Some(())
}

/// The number of a P-value name that is exactly `P` (or `p`) and one to nine digits: the
/// names the parse reads the same whatever surrounds them.
fn number(name: &str) -> Option<u32> {
    let (&p, digits) = name.as_bytes().split_first()?;
    if p != b'P' && p != b'p' || digits.is_empty() || digits.len() > 9 {
        return None;
    }
    // Nine digits never overflow a u32.
    digits.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// The template's nodes as lines; `None` when some line is not one of [`Line`]'s shapes.
pub(super) fn compile(nodes: &[Node]) -> Option<Vec<Line>> {
    let mut lines = Lines::default();
    lines.nodes(nodes)?;
    // The text's last line needs no line end.
    lines.end_line()?;
    // A number written twice outside any loop would make every render decline at the second
    // one, after most of the work: such a template goes the long way from the start.
    let mut fixed: Vec<u32> = lines
        .out
        .iter()
        .filter_map(|line| match line {
            Line::Fixed { number, .. }
            | Line::Value {
                name: Name::Fixed(number),
                ..
            } => Some(*number),
            _ => None,
        })
        .collect();
    fixed.sort_unstable();
    if fixed.windows(2).any(|pair| pair.first() == pair.last()) {
        return None;
    }
    Some(lines.out)
}

/// What one line is made of, as it is read.
enum Part<'n> {
    Text(String),
    Hole(&'n Path),
}

#[derive(Default)]
struct Lines<'n> {
    out: Vec<Line>,
    /// The line being read.
    line: Vec<Part<'n>>,
}

impl<'n> Lines<'n> {
    fn nodes(&mut self, nodes: &'n [Node]) -> Option<()> {
        for node in nodes {
            match node {
                Node::Raw(text) => self.text(text)?,
                Node::Short { word, len } => {
                    let bytes = word.to_le_bytes();
                    self.text(std::str::from_utf8(bytes.get(..*len)?).ok()?)?;
                }
                Node::Emit(path) => self.line.push(Part::Hole(path)),
                Node::For(l) => {
                    // A loop of whole lines: it starts at a line's start, and so does each
                    // iteration (its body ends with a line end).
                    if !self.line.is_empty() {
                        return None;
                    }
                    let mut body = Lines::default();
                    body.nodes(&l.body)?;
                    if !body.line.is_empty() {
                        return None;
                    }
                    self.out.push(Line::For(Box::new(Loop {
                        iter: l.iter.clone(),
                        cost: l.cost,
                        dictsort: l.dictsort,
                        pair: l.pair,
                        body: body.out,
                    })));
                }
            }
        }
        Some(())
    }

    fn text(&mut self, text: &str) -> Option<()> {
        let mut pieces = text.split('\n');
        let first = pieces.next().unwrap_or_default();
        self.push_text(first);
        for piece in pieces {
            self.end_line()?;
            self.push_text(piece);
        }
        Some(())
    }

    fn push_text(&mut self, text: &str) {
        match self.line.last_mut() {
            Some(Part::Text(last)) => last.push_str(text),
            _ if text.is_empty() => {}
            _ => self.line.push(Part::Text(text.to_owned())),
        }
    }

    /// Reads the line made so far as a [`Line`].
    fn end_line(&mut self) -> Option<()> {
        let parts = std::mem::take(&mut self.line);
        let line = match parts.as_slice() {
            [] => return Some(()),
            [Part::Text(text)] => {
                let parsed = grandstream::parse_pvalues(text).ok()?;
                let (pvalue, None) = (parsed.first(), parsed.get(1)) else {
                    return None;
                };
                let Some(pvalue) = pvalue else {
                    // Empty, or a comment.
                    return Some(());
                };
                let mut xml = Vec::new();
                grandstream::xml_element(&mut xml, pvalue.number, |xml| {
                    crate::render::xml::escape_into_bytes(&pvalue.value, xml);
                });
                Line::Fixed {
                    number: pvalue.number,
                    xml: xml.into(),
                }
            }
            [Part::Text(text), ..] if text.trim_start_matches([' ', '\t']).starts_with('#') => {
                let holes = parts.iter().filter_map(|part| match part {
                    Part::Hole(path) => Some((*path).clone()),
                    Part::Text(_) => None,
                });
                Line::Comment(holes.collect())
            }
            [Part::Text(head), Part::Hole(value), tail @ ..] if blank_end(tail) => Line::Value {
                name: Name::Fixed(literal_name(head)?),
                value: (*value).clone(),
            },
            [Part::Hole(name), Part::Text(equals), Part::Hole(value), tail @ ..]
                if separator(equals) && blank_end(tail) =>
            {
                Line::Value {
                    name: Name::Hole((*name).clone()),
                    value: (*value).clone(),
                }
            }
            _ => return None,
        };
        self.out.push(line);
        Some(())
    }
}

/// ` = `: an `=` with only spaces and tabs around it.
fn separator(text: &str) -> bool {
    text.trim_matches([' ', '\t']) == "="
}

/// What follows a line's value hole: nothing, or spaces, tabs and a `\r`.
fn blank_end(parts: &[Part<'_>]) -> bool {
    match parts {
        [] => true,
        [Part::Text(text)] => text.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r')),
        _ => false,
    }
}

/// The number of `P<n> = `, with only spaces and tabs before the name and around the `=`.
fn literal_name(head: &str) -> Option<u32> {
    let (name, after) = head.split_once('=')?;
    if !after.bytes().all(|b| matches!(b, b' ' | b'\t')) {
        return None;
    }
    number(name.trim_matches([' ', '\t']))
}

#[cfg(test)]
mod tests {
    use super::super::{Data, Substitution};
    use crate::mac::Mac;
    use crate::render::grandstream::{parse_pvalues, to_xml_bytes};
    use crate::render::syntax::Syntax;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// The long way: the substitution's text, parsed, written as XML (`None` when the
    /// substitution declines, `Err` when the text does not parse).
    fn long_way(
        template: &Substitution,
        mac: Option<Mac>,
        ctx: &Value,
    ) -> Option<Result<Vec<u8>, String>> {
        let text = template.render(Syntax::PValues { binary: false }, &|name| {
            ctx.get(name).map(Data::of)
        })?;
        Some(parse_pvalues(&text).map(|pvalues| to_xml_bytes(mac, &pvalues)))
    }

    /// The fast path's XML, after checking it is the long way's whenever it is made.
    fn fast(template: &str, mac: Option<Mac>, ctx: &Value) -> Option<Vec<u8>> {
        let compiled = Substitution::compile(template)?;
        let fast = compiled.render_pvalue_xml(mac, &|name| ctx.get(name).map(Data::of))?;
        assert_eq!(
            long_way(&compiled, mac, ctx),
            Some(Ok(fast.clone())),
            "{template:?} {ctx}"
        );
        Some(fast)
    }

    fn mac() -> Option<Mac> {
        Mac::parse_compact("000b82123456").ok()
    }

    #[test]
    fn grandstream_templates_take_the_fast_path() {
        let ctx = json!({
            "lines": [{"user": " 1001\u{0} ", "password": "<&'\">"}],
            "vars": {"pvalues": {"P1000": "a & <b>", "P1001": 7, "P1002": null, "P1003": true}},
        });
        for template in [
            "P271 = 1\nP35 = {{ lines[0].user }}\nP34 = {{ lines[0].password }}\n\
             {% for name, value in vars.pvalues|dictsort %}{{ name }} = {{ value }}\n{% endfor %}",
            "# {{ lines[0].user }}\n\n  P3\t=\t{{ lines[0].password }} \r\nP4 = x",
            "{% for k, v in vars.pvalues|dictsort %}# {{ k }}\n{{ k }} = {{ v }}\n{% endfor %}",
        ] {
            assert!(fast(template, mac(), &ctx).is_some(), "{template:?}");
        }
    }

    #[test]
    fn lines_the_parse_reads_otherwise_are_left_to_it() {
        let ctx = json!({"v": "x", "n": "P1 = 2", "m": {"P1": "a", "p01": "b"}});
        for template in [
            // Not compiled: lines whose reading depends on the values.
            "{{ v }}\n",
            "P1 = a{{ v }}\n",
            "P1 = {{ v }}b\n",
            "x{% for k, v in m|dictsort %}{{ k }} = {{ v }}\n{% endfor %}",
            "{% for k, v in m|dictsort %}{{ k }} = {{ v }}{% endfor %}",
            "X1 = 2\n",
            // Declined at render: a name that is not one, a repeat.
            "{{ n }} = {{ v }}\n",
            "{% for k, v in m|dictsort %}{{ k }} = {{ v }}\n{% endfor %}",
            "P1 = 1\nP1 = {{ v }}\n",
        ] {
            assert_eq!(fast(template, None, &ctx), None, "{template:?}");
        }
        // A number written twice outside loops is known at compile time: not compiled at all.
        for template in ["P1 = 1\nP1 = {{ v }}\n", "P1 = {{ v }}\nP2 = 2\np01 = 3\n"] {
            let compiled = Substitution::compile(template).expect("in the subset");
            assert!(compiled.pvalue_lines.is_none(), "{template:?}");
        }
        let distinct = Substitution::compile("P1 = 1\nP2 = {{ v }}\n").expect("in the subset");
        assert!(distinct.pvalue_lines.is_some());
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => "[a-z0-9 &<>\"'=#\t\n\r\u{0}\u{b}\u{7f}\u{85}\u{9f}\u{a0}\u{3000}éΣ😀]{0,10}"
                .prop_map(Value::from),
            1 => Just(Value::Null),
            1 => any::<bool>().prop_map(Value::from),
            1 => any::<i32>().prop_map(Value::from),
            1 => Just(Value::from(1.5)),
            1 => Just(json!(["x"])),
        ]
    }

    /// Names as a map's keys: P-values, repeated in other spellings, and names that are not.
    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => (0u32..6).prop_map(|n| format!("P{n}")),
            1 => (0u32..6).prop_map(|n| format!("p0{n}")),
            1 => prop::sample::select(vec![
                "P", "X1", "P 1", " P1", "P1 ", "P+1", "#P1", "P1=2", "P999999999", "P1000000000",
                "P131072", "",
            ])
            .prop_map(String::from),
        ]
    }

    /// One line of a template, in every shape the fast path reads and some it does not.
    fn line() -> impl Strategy<Value = String> {
        let n = 0u32..6;
        let space = "[ \t]{0,2}";
        let end = "[ \t\r]{0,2}";
        prop_oneof![
            (n.clone(), space, space, value(), end)
                .prop_map(|(n, a, b, v, e)| format!("P{n}{a}={b}{}{e}", literal(&v))),
            (space, n.clone(), space, space, "[vw]", end)
                .prop_map(|(l, n, a, b, h, e)| format!("{l}P{n}{a}={b}{{{{ {h} }}}}{e}")),
            (space, "[vw]").prop_map(|(l, h)| format!("{l}# note {{{{ {h} }}}}")),
            (space, space, end).prop_map(|(a, b, e)| format!(
                "{{% for k, x in m|dictsort %}}{{{{ k }}}}{a}={b}{{{{ x }}}}{e}\n{{% endfor %}}"
            )),
            n.clone()
                .prop_map(|n| format!("{{% for x in l %}}P{n} = {{{{ x }}}}\n{{% endfor %}}")),
            Just("{% for k, x in m|dictsort %}# {{ k }}\n{% endfor %}".to_owned()),
            Just(String::new()),
            Just("# comment".to_owned()),
            Just("P1 = {{ v }}{{ w }}".to_owned()),
            Just("{{ v }}".to_owned()),
            Just("x = 1".to_owned()),
        ]
    }

    /// A value as a template's literal text: strings only, without line ends.
    fn literal(v: &Value) -> String {
        v.as_str().unwrap_or("lit").replace(['\n', '{', '}'], "")
    }

    proptest! {
        #[test]
        fn the_fast_path_is_the_long_way(
            lines in prop::collection::vec(line(), 0..8),
            final_newline in any::<bool>(),
            v in value(),
            w in value(),
            m in prop::collection::btree_map(name(), value(), 0..5),
            l in prop::collection::vec(value(), 0..3),
            with_mac in any::<bool>(),
        ) {
            let mut template = lines.join("\n");
            if final_newline {
                template.push('\n');
            }
            let ctx = json!({"v": v, "w": w, "m": m, "l": l});
            fast(&template, mac().filter(|_| with_mac), &ctx);
        }
    }
}
