//! Grandstream P-values: text either parses or is refused with a line number; the binary
//! `cfg<mac>` of parsed values decodes back to the same MAC and values with a valid checksum;
//! the XML of any values is escaped (no raw `<` inside a value); and arbitrary bytes given to
//! the binary decoder are refused or decoded, never a panic.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use provedge::render::grandstream::{decode_binary, parse_pvalues, to_binary, to_xml, word_sum};
use provedge::Mac;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    text: &'a str,
    mac: [u8; 6],
    file: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    let _ = decode_binary(input.file);
    let Ok(pvalues) = parse_pvalues(input.text) else {
        return;
    };
    let mac = Mac::from_bytes(input.mac);
    let file = to_binary(mac, &pvalues);
    assert_eq!(file.len() % 2, 0);
    assert_eq!(word_sum(&file), 0);
    let (back_mac, back) = decode_binary(&file).expect("own binary decodes");
    assert_eq!(back_mac, mac);
    assert_eq!(back, pvalues);
    let xml = to_xml(Some(mac), &pvalues);
    for p in &pvalues {
        let open = format!("<P{}>", p.number);
        let at = xml.find(&open).expect("every value is written");
        let rest = &xml[at + open.len()..];
        let end = rest.find("</").expect("closed");
        assert!(!rest[..end].contains('<'), "unescaped value in {xml}");
    }
});
