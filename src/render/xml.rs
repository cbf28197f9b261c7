//! XML output: escaping values, and checking that a rendered file is well-formed before any
//! phone sees it (a broken template must become a 5xx, never a file the phone chokes on).

use quick_xml::events::Event;
use quick_xml::Reader;

/// Appends `s` escaped for XML text and attribute values. Characters XML 1.0 forbids (C0
/// controls other than tab, and NUL) are dropped rather than encoded: no entity can carry them.
pub fn escape_into(s: &str, out: &mut String) {
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
