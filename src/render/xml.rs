//! XML output: escaping values, and checking that a rendered file is well-formed before any
//! phone sees it (a broken template must become a 5xx, never a file the phone chokes on).

use quick_xml::events::Event;
use quick_xml::Reader;

use super::scan;

/// Appends `s` escaped for XML text and attribute values. Characters XML 1.0 forbids (C0
/// controls other than tab, and NUL) are dropped rather than encoded: no entity can carry them.
/// So are DEL and the C1 controls (all of `char::is_control` but tab).
pub fn escape_into(s: &str, out: &mut String) {
    escape(s, out);
}

/// [`escape_into`] for a file being built as bytes.
pub(crate) fn escape_into_bytes(s: &str, out: &mut Vec<u8>) {
    scan::replace_bytes(s, out, escape_specials, escape_replaced, write_escape);
}

/// A value as it reaches the XML through P-value text, in one pass rather than three: written
/// into the text with its controls as spaces ([`controls_to_spaces`]), read back trimmed as the
/// rest of its line (`grandstream::parse_pvalues`, when nothing but ASCII space surrounds it
/// there), then escaped ([`escape_into`]). A control becomes a space, so it is trimmed as one.
pub(crate) fn escape_pvalue_into_bytes(s: &str, out: &mut Vec<u8>) {
    // The usual value starts and ends with a printable ASCII character: nothing to trim.
    let printable = |b: Option<&u8>| b.is_some_and(|&b| (0x21..0x7f).contains(&b));
    let s = if printable(s.as_bytes().first()) && printable(s.as_bytes().last()) {
        s
    } else {
        s.trim_matches(|c: char| c.is_whitespace() || c.is_control())
    };
    scan::replace_bytes(
        s,
        out,
        escape_specials,
        |_| true,
        |b, out| match b {
            b'&' | b'<' | b'>' | b'"' | b'\'' => write_escape(b, out),
            _ => out.push(b' '),
        },
    );
}

#[inline]
fn escape<S: scan::Sink>(s: &str, out: &mut S) {
    scan::replace(
        s,
        out,
        escape_special,
        escape_clean,
        escape_replaced,
        write_escape,
    );
}

/// The bytes escaping looks at.
#[inline]
fn escape_special(b: u8) -> bool {
    control_special(b) || matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'')
}

/// That none of eight bytes is one escaping looks at.
#[inline]
fn escape_clean(w: u64) -> bool {
    control_clean(w)
        && !(scan::has_byte(w, b'"')
        // `&` and `'`, then `<` and `>`: each pair differs in one bit.
        || scan::has_byte(w | u64::from_le_bytes([0x01; 8]), b'\'')
        || scan::has_byte(w | u64::from_le_bytes([0x02; 8]), b'>'))
}

/// [`escape_special`] for each byte of a word, marked by its high bit.
#[inline]
fn escape_specials(w: u64) -> u64 {
    control_specials(w)
        | scan::bytes_equal(w, b'"')
        // `&` and `'`, then `<` and `>`: each pair differs in one bit.
        | scan::bytes_equal(w | u64::from_le_bytes([0x01; 8]), b'\'')
        | scan::bytes_equal(w | u64::from_le_bytes([0x02; 8]), b'>')
}

/// Everything escaping looks at is replaced but the tab.
#[inline]
fn escape_replaced(b: u8) -> bool {
    b != b'\t'
}

/// The entity for a byte escaping replaces; nothing for a control.
#[inline]
fn write_escape<S: scan::Sink>(b: u8, out: &mut S) {
    match b {
        b'&' => out.push_str("&amp;"),
        b'<' => out.push_str("&lt;"),
        b'>' => out.push_str("&gt;"),
        b'"' => out.push_str("&quot;"),
        b'\'' => out.push_str("&apos;"),
        // Controls, which no entity can carry.
        _ => {}
    }
}

/// Appends `s` with every control character (`char::is_control`: C0, DEL, C1) written as one
/// space: what a value may not put into a line-based file.
pub(crate) fn controls_to_spaces(s: &str, out: &mut String) {
    scan::replace(
        s,
        out,
        control_special,
        control_clean,
        |_| true,
        |_, out| out.push(' '),
    );
}

/// [`controls_to_spaces`] for text being built as bytes.
pub(crate) fn controls_to_spaces_bytes(s: &str, out: &mut Vec<u8>) {
    scan::replace_bytes(s, out, control_specials, |_| true, |_, out| out.push(b' '));
}

/// The bytes [`controls_to_spaces`] looks at.
#[inline]
fn control_special(b: u8) -> bool {
    matches!(b, 0..=0x1f | 0x7f | 0xc2)
}

/// [`control_special`] for each byte of a word, marked by its high bit.
#[inline]
fn control_specials(w: u64) -> u64 {
    scan::bytes_below(w, 0x20) | scan::bytes_equal(w, 0x7f) | scan::bytes_equal(w, 0xc2)
}

/// That none of eight bytes is one [`controls_to_spaces`] looks at.
#[inline]
fn control_clean(w: u64) -> bool {
    !(scan::has_below(w, 0x20) || scan::has_byte(w, 0x7f) || scan::has_byte(w, 0xc2))
}

/// Checks that `text` is one well-formed XML document: tags balance, attributes and entities
/// parse, and there is exactly one root element.
pub fn check_well_formed(text: &str) -> Result<(), String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(ref e) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
                check_attributes(e)?;
            }
            Event::Empty(ref e) => {
                if depth == 0 {
                    roots += 1;
                }
                check_attributes(e)?;
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(ref t) => {
                t.decode().map_err(|e| format!("malformed text: {e}"))?;
                if depth == 0 && !t.iter().all(u8::is_ascii_whitespace) {
                    return Err("text outside the root element".into());
                }
            }
            Event::GeneralRef(ref r) => {
                let name = r.decode().map_err(|e| format!("malformed entity: {e}"))?;
                let known = matches!(&*name, "amp" | "lt" | "gt" | "quot" | "apos")
                    || name.starts_with('#');
                if !known {
                    return Err(format!("unknown entity &{name};"));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    match (roots, depth) {
        (1, 0) => Ok(()),
        (0, _) => Err("no root element".into()),
        (_, 0) => Err(format!("{roots} root elements")),
        _ => Err("unclosed element".into()),
    }
}

fn check_attributes(e: &quick_xml::events::BytesStart<'_>) -> Result<(), String> {
    for attr in e.attributes() {
        let attr = attr.map_err(|e| format!("malformed attribute: {e}"))?;
        attr.unescape_value()
            .map_err(|e| format!("malformed attribute value: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Text rich in what escaping looks at: markup, C0, DEL, C1 and other U+0080–U+00BF
    /// characters (all starting with the byte 0xC2), wider characters, and plain runs.
    fn text() -> impl Strategy<Value = String> {
        "([a-z0-9 =#-]{0,9}|[&<>\"'\t\n\r\u{0}\u{1f}\u{7f}\u{80}\u{85}\u{9f}\u{a0}\u{bf}\u{c2}éΣ€😀]){0,12}"
    }

    /// What escaping was before it went eight bytes at a time.
    fn escape_reference(s: &str) -> String {
        let mut out = String::new();
        for c in s.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&apos;"),
                '\t' => out.push(c),
                c if c.is_control() => {}
                c => out.push(c),
            }
        }
        out
    }

    proptest! {
        #[test]
        fn escaping_is_the_character_by_character_escaping(s in text(), prefix in text()) {
            let mut out = prefix.clone();
            escape_into(&s, &mut out);
            prop_assert_eq!(out, format!("{prefix}{}", escape_reference(&s)));
            let mut bytes = prefix.clone().into_bytes();
            escape_into_bytes(&s, &mut bytes);
            prop_assert_eq!(bytes, format!("{prefix}{}", escape_reference(&s)).into_bytes());
            let mut spaced = String::new();
            controls_to_spaces(&s, &mut spaced);
            let reference: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
            prop_assert_eq!(&spaced, &reference);
            let mut spaced = prefix.clone().into_bytes();
            controls_to_spaces_bytes(&s, &mut spaced);
            prop_assert_eq!(spaced, format!("{prefix}{reference}").into_bytes());
        }
    }

    #[test]
    fn accepts_documents_and_refuses_breakage() {
        assert!(check_well_formed(
            "<?xml version=\"1.0\"?>\n<a x=\"1\"><b>t &amp; u</b><c/></a>\n"
        )
        .is_ok());
        for bad in [
            "<a><b></a>",
            "<a>",
            "<a x=\"1></a>",
            "<a></a><b/>",
            "<a>&bogus;</a>",
            "",
            "text",
            "<a x=1/>",
        ] {
            assert!(check_well_formed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn escaping_keeps_documents_whole() {
        let mut v = String::new();
        escape_into("</a><evil x=\"&\0\n'", &mut v);
        assert!(
            check_well_formed(&format!("<a x=\"{v}\">{v}</a>")).is_ok(),
            "{v}"
        );
    }
}
