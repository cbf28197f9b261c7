//! Grandstream encodings of one P-value list: `gs_provision` XML v1 and the legacy binary
//! `cfg<mac>` (vendors.md §2.3), plus the P-value text both are written in.
//!
//! Templates for Grandstream produce P-value text (`P270 = Front desk` lines, `#` comments: the
//! format Grandstream's own tools and the FusionPBX wiki use). It is parsed into an ordered
//! list, then encoded as the phone asked: the same source serves `cfg<mac>.xml` and `cfg<mac>`.

use std::borrow::Cow;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::mac::Mac;
use crate::seeded_map::SeededMap;

/// One P-value: its number and its value (borrowed from the text it was parsed from).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PValue<'a> {
    pub number: u32,
    pub value: Cow<'a, str>,
}

/// Parses P-value text. A repeated P-value keeps its first position and its last value (the
/// later layer of a template wins, as in the phone's own processing).
pub fn parse_pvalues(text: &str) -> Result<Vec<PValue<'_>>, String> {
    let mut out: Vec<PValue> = Vec::with_capacity(text.len() / 16);
    // Lines end at `\n`; a `\r` before it goes with the trimming.
    let mut rest = text;
    for i in 0.. {
        let (raw, next) = match super::scan::find_byte(rest.as_bytes(), b'\n') {
            Some(at) => (rest.get(..at).unwrap_or_default(), rest.get(at + 1..)),
            None => (rest, None),
        };
        let line = trim(raw);
        let Some(next) = next else {
            if !line.is_empty() && !line.starts_with('#') {
                out.push(parse_line(line, i + 1)?);
            }
            break;
        };
        rest = next;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(parse_line(line, i + 1)?);
    }
    Ok(merge_repeats(out))
}

/// One trimmed line that is neither empty nor a comment. Always inlined: returned through
/// memory, the P-value is read back before the write has landed, and that stall was a third
/// of the parse.
#[inline(always)]
fn parse_line(line: &str, line_no: usize) -> Result<PValue<'_>, String> {
    let (number, value) = match plain_line(line) {
        Some(parsed) => parsed,
        None => any_line(line, line_no)?,
    };
    Ok(PValue {
        number,
        value: Cow::Borrowed(value),
    })
}

/// The usual line, `P<digits> = <value>` with ASCII spaces or tabs around the `=`, read in one
/// pass; anything else (`None`) is read by [`any_line`], with the same result.
#[inline(always)]
fn plain_line(line: &str) -> Option<(u32, &str)> {
    let (&first, rest) = line.as_bytes().split_first()?;
    if first != b'P' && first != b'p' {
        return None;
    }
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    // Nine digits never overflow a u32.
    if digits == 0 || digits > 9 {
        return None;
    }
    let number = rest
        .get(..digits)?
        .iter()
        .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    let after = rest.get(digits..)?;
    let spaces = after
        .iter()
        .take_while(|&&c| c == b' ' || c == b'\t')
        .count();
    let (&equals, value) = after.get(spaces..)?.split_first()?;
    if equals != b'=' {
        return None;
    }
    let value = line.get(line.len() - value.len()..)?;
    Some((number, trim(value)))
}

/// Any line: the name before the first `=`, trimmed, is `P` (or `p`) and a number; the value
/// is the rest, trimmed.
#[cold]
fn any_line(line: &str, line_no: usize) -> Result<(u32, &str), String> {
    let Some((name, value)) = line.split_once('=') else {
        return Err(format!("line {line_no}: expected `P<number> = <value>`"));
    };
    let name = trim(name);
    let number = name
        .strip_prefix('P')
        .or_else(|| name.strip_prefix('p'))
        .and_then(|n| n.parse::<u32>().ok())
        .ok_or_else(|| {
            format!(
                "line {line_no}: {:?} is not a P-value name",
                name.chars().take(16).collect::<String>()
            )
        })?;
    Ok((number, trim(value)))
}

/// `str::trim`, quicker for the usual line: ASCII whitespace trimmed, and only if what is left
/// starts or ends with something else that might be whitespace (a vertical tab, a non-ASCII
/// space) the full Unicode trim.
fn trim(s: &str) -> &str {
    let t = s.trim_ascii();
    let plain = |b: Option<&u8>| b.is_some_and(|&b| b.is_ascii() && b != 0x0b);
    if t.is_empty() || plain(t.as_bytes().first()) && plain(t.as_bytes().last()) {
        t
    } else {
        s.trim()
    }
}

/// A repeated number keeps its first position and takes its last value. Repeats are rare, so
/// they are looked for first, in a bitmap of the numbers seen (P-values are below 100000 in
/// practice; a list with a number beyond it is merged the long way).
fn merge_repeats(pvalues: Vec<PValue<'_>>) -> Vec<PValue<'_>> {
    const BITMAP_BITS: usize = 1 << 17;
    // Only as many words as the largest number needs: zeroing all of them would cost more
    // than the look.
    let largest = pvalues.iter().map(|p| p.number as usize).max().unwrap_or(0);
    let mut seen = vec![0u64; largest.min(BITMAP_BITS - 1) / 64 + 1];
    let mut repeats = false;
    for p in &pvalues {
        let n = p.number as usize;
        let Some(bits) = seen.get_mut(n / 64) else {
            repeats = true;
            break;
        };
        let bit = 1u64 << (n % 64);
        repeats |= *bits & bit != 0;
        *bits |= bit;
    }
    if !repeats {
        return pvalues;
    }
    let mut out: Vec<PValue> = Vec::with_capacity(pvalues.len());
    let mut position: SeededMap<u32, usize> = SeededMap::default();
    for p in pvalues {
        match position.get(&p.number) {
            Some(&at) => {
                if let Some(earlier) = out.get_mut(at) {
                    earlier.value = p.value;
                }
            }
            None => {
                position.insert(p.number, out.len());
                out.push(p);
            }
        }
    }
    out
}

/// A number's decimal digits, formatted once, as ASCII bytes in a word, first digit lowest
/// (what `write!` does without the formatting machinery: a file has hundreds of them).
#[derive(Clone, Copy)]
struct Digits {
    word: u64,
    len: u32,
}

impl Digits {
    /// `None` beyond eight digits.
    fn new(mut n: u32) -> Option<Digits> {
        if n >= 100_000_000 {
            return None;
        }
        let (mut word, mut len) = (0u64, 0);
        loop {
            word = word << 8 | u64::from(b'0' + (n % 10) as u8);
            len += 1;
            n /= 10;
            if n == 0 {
                return Some(Digits { word, len });
            }
        }
    }

    /// Appends the digits: all eight bytes of the word at once, then the unused ones cut off.
    #[inline]
    fn write(self, out: &mut Vec<u8>) {
        let len = out.len() + self.len as usize;
        out.extend_from_slice(&self.word.to_le_bytes());
        out.truncate(len);
    }
}

/// Appends `n` in decimal.
fn push_number(out: &mut Vec<u8>, n: u32) {
    match Digits::new(n) {
        Some(digits) => digits.write(out),
        None => out.extend_from_slice(n.to_string().as_bytes()),
    }
}

/// XML v1: `<gs_provision version="1">`, a `<mac>` element for device files, one `<Pnnn>` per
/// value. Values are escaped; characters XML 1.0 cannot carry are dropped.
pub fn to_xml(mac: Option<Mac>, pvalues: &[PValue]) -> String {
    // Made of whole `str`s, so always UTF-8.
    String::from_utf8(to_xml_bytes(mac, pvalues)).unwrap_or_default()
}

/// [`to_xml`] as the bytes served.
pub fn to_xml_bytes(mac: Option<Mac>, pvalues: &[PValue]) -> Vec<u8> {
    let values: usize = pvalues.iter().map(|p| p.value.len()).sum();
    let mut xml = Vec::with_capacity(128 + values + values / 2 + pvalues.len() * 32);
    xml_head(mac, &mut xml);
    for p in pvalues {
        xml_element(&mut xml, p.number, |xml| {
            super::xml::escape_into_bytes(&p.value, xml);
        });
    }
    xml.extend_from_slice(XML_TAIL);
    xml
}

/// The XML document up to its first P-value (shared with the substitution fast path, which
/// writes the document without the P-value list in between).
pub(crate) fn xml_head(mac: Option<Mac>, xml: &mut Vec<u8>) {
    xml.extend_from_slice(
        b"<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<gs_provision version=\"1\">\n",
    );
    if let Some(mac) = mac {
        xml.extend_from_slice(b"  <mac>");
        xml.extend_from_slice(mac.to_string().as_bytes());
        xml.extend_from_slice(b"</mac>\n");
    }
    xml.extend_from_slice(b"  <config version=\"1\">\n");
}

/// The XML document after its last P-value.
pub(crate) const XML_TAIL: &[u8] = b"  </config>\n</gs_provision>\n";

/// One `<Pn>value</Pn>` line of the XML, the value written (escaped) by `value`.
#[inline]
pub(crate) fn xml_element(xml: &mut Vec<u8>, number: u32, value: impl FnOnce(&mut Vec<u8>)) {
    match Digits::new(number) {
        Some(digits) => {
            xml.extend_from_slice(b"    <P");
            digits.write(xml);
            xml.push(b'>');
            value(xml);
            xml.extend_from_slice(b"</P");
            digits.write(xml);
            xml.extend_from_slice(b">\n");
        }
        None => {
            let number = number.to_string();
            xml.extend_from_slice(b"    <P");
            xml.extend_from_slice(number.as_bytes());
            xml.push(b'>');
            value(xml);
            xml.extend_from_slice(b"</P");
            xml.extend_from_slice(number.as_bytes());
            xml.extend_from_slice(b">\n");
        }
    }
}

/// Characters left as they are in binary-format values: RFC 3986 unreserved.
const VALUE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The key Grandstream's generator appends; the constant `0b82`, not part of the MAC
/// (vendors.md §2.3: Wazo's `mac[2:6]` only equals it for OUI 000b82).
const GNKEY: &str = "gnkey=0b82";

/// The legacy binary `cfg<mac>`:
///
/// ```text
/// 0..4   u32 BE  length of the file in 16-bit words
/// 4..6   u16 BE  checksum: makes the sum of all BE 16-bit words ≡ 0 (mod 2^16)
/// 6..12  MAC
/// 12..16 0D 0A 0D 0A
/// 16..   body: P<n>=<url-encoded value> joined by '&', then "&gnkey=0b82", NUL-padded to even
/// ```
pub fn to_binary(mac: Mac, pvalues: &[PValue]) -> Vec<u8> {
    let values: usize = pvalues.iter().map(|p| p.value.len()).sum();
    let mut body: Vec<u8> = Vec::with_capacity(16 + values + values / 2 + pvalues.len() * 8);
    for p in pvalues {
        body.push(b'P');
        push_number(&mut body, p.number);
        body.push(b'=');
        for part in utf8_percent_encode(&p.value, VALUE_SET) {
            body.extend_from_slice(part.as_bytes());
        }
        body.push(b'&');
    }
    body.extend_from_slice(GNKEY.as_bytes());
    let pad = body.len() % 2;
    let [w0, w1, w2, w3] = (((16 + body.len() + pad) / 2) as u32).to_be_bytes();
    let [m0, m1, m2, m3, m4, m5] = mac.bytes();
    let mut header = [
        w0, w1, w2, w3, 0, 0, m0, m1, m2, m3, m4, m5, b'\r', b'\n', b'\r', b'\n',
    ];
    // The 16-byte header keeps the body word-aligned, so the words can be summed in two parts
    // (a trailing odd byte sums as if already NUL-padded).
    let sum = word_sum(&header).wrapping_add(word_sum(&body));
    [header[4], header[5]] = 0u16.wrapping_sub(sum).to_be_bytes();
    let mut file = Vec::with_capacity(header.len() + body.len() + pad);
    file.extend_from_slice(&header);
    file.extend_from_slice(&body);
    if pad == 1 {
        file.push(0);
    }
    file
}

/// The sum of the big-endian 16-bit words of an even-length buffer, mod 2^16.
pub fn word_sum(bytes: &[u8]) -> u16 {
    bytes
        .chunks(2)
        .map(|w| match *w {
            [hi, lo] => u16::from_be_bytes([hi, lo]),
            [hi] => u16::from_be_bytes([hi, 0]),
            _ => 0,
        })
        .fold(0u16, u16::wrapping_add)
}

/// Decodes a binary file back into its MAC and P-values (the `gnkey` pair removed). Used to
/// prove the encoder and to inspect files from other generators.
pub fn decode_binary(file: &[u8]) -> Result<(Mac, Vec<PValue<'static>>), String> {
    let Some((header, body)) = file
        .split_first_chunk::<16>()
        .filter(|_| file.len() % 2 == 0)
    else {
        return Err(format!("{} bytes is not a binary config", file.len()));
    };
    let [w0, w1, w2, w3, _, _, m0, m1, m2, m3, m4, m5, separator @ ..] = *header;
    let words = u32::from_be_bytes([w0, w1, w2, w3]) as usize;
    if words * 2 != file.len() {
        return Err(format!(
            "header says {words} words, file has {}",
            file.len() / 2
        ));
    }
    if word_sum(file) != 0 {
        return Err("checksum mismatch".into());
    }
    if separator != *b"\r\n\r\n" {
        return Err("missing CRLF CRLF after the MAC".into());
    }
    let mac = Mac::from_bytes([m0, m1, m2, m3, m4, m5]);
    let body = std::str::from_utf8(body).map_err(|_| "body is not text".to_string())?;
    let body = body.trim_end_matches('\0');
    let mut pvalues = Vec::new();
    for pair in body.split('&') {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("pair without '=': {pair:?}"))?;
        if name == "gnkey" {
            continue;
        }
        let number = name
            .strip_prefix('P')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("bad P-value name {name:?}"))?;
        let value = percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| "value is not UTF-8".to_string())?;
        pvalues.push(PValue {
            number,
            value: Cow::Owned(value.into_owned()),
        });
    }
    Ok((mac, pvalues))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::fmt::Write as _;

    /// P-value parsing as it was before it went a byte at a time.
    fn parse_reference(text: &str) -> Result<Vec<PValue<'_>>, String> {
        let mut out: Vec<PValue> = Vec::new();
        let mut position: SeededMap<u32, usize> = SeededMap::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, value)) = line.split_once('=') else {
                return Err(format!("line {}: expected `P<number> = <value>`", i + 1));
            };
            let name = name.trim();
            let number = name
                .strip_prefix('P')
                .or_else(|| name.strip_prefix('p'))
                .and_then(|n| n.parse::<u32>().ok())
                .ok_or_else(|| {
                    format!(
                        "line {}: {:?} is not a P-value name",
                        i + 1,
                        name.chars().take(16).collect::<String>()
                    )
                })?;
            let value = value.trim();
            match position.get(&number) {
                Some(&at) => out[at].value = value.into(),
                None => {
                    position.insert(number, out.len());
                    out.push(PValue {
                        number,
                        value: value.into(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// The XML as it was written with `write!`.
    fn xml_reference(mac: Option<Mac>, pvalues: &[PValue]) -> String {
        let mut xml = String::new();
        xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<gs_provision version=\"1\">\n");
        if let Some(mac) = mac {
            let _ = writeln!(xml, "  <mac>{mac}</mac>");
        }
        xml.push_str("  <config version=\"1\">\n");
        for p in pvalues {
            let _ = write!(xml, "    <P{n}>", n = p.number);
            crate::render::xml::escape_into(&p.value, &mut xml);
            let _ = writeln!(xml, "</P{n}>", n = p.number);
        }
        xml.push_str("  </config>\n</gs_provision>\n");
        xml
    }

    /// The binary as it was written with `write!`.
    fn binary_reference(mac: Mac, pvalues: &[PValue]) -> Vec<u8> {
        let mut body = String::new();
        for p in pvalues {
            let _ = write!(
                body,
                "P{}={}&",
                p.number,
                utf8_percent_encode(&p.value, VALUE_SET)
            );
        }
        body.push_str(GNKEY);
        let pad = body.len() % 2;
        let [w0, w1, w2, w3] = (((16 + body.len() + pad) / 2) as u32).to_be_bytes();
        let [m0, m1, m2, m3, m4, m5] = mac.bytes();
        let mut header = [w0, w1, w2, w3, 0, 0, m0, m1, m2, m3, m4, m5, 13, 10, 13, 10];
        let sum = word_sum(&header).wrapping_add(word_sum(body.as_bytes()));
        [header[4], header[5]] = 0u16.wrapping_sub(sum).to_be_bytes();
        let mut file = header.to_vec();
        file.extend_from_slice(body.as_bytes());
        if pad == 1 {
            file.push(0);
        }
        file
    }

    /// Lines as templates write them, and as they go wrong: spacing, case, comments, repeats,
    /// signs, leading zeros, huge numbers, Unicode spaces, CRLF, no `=`.
    fn line() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            (0u32..40).prop_map(|n| format!("P{n}")),
            (0u32..40).prop_map(|n| format!("p{n:03}")),
            any::<u32>().prop_map(|n| format!("P{n}")),
            Just("P99999999999".to_owned()),
            Just("P+7".to_owned()),
            Just("P".to_owned()),
            Just("X1".to_owned()),
            Just("#P1".to_owned()),
            Just(String::new()),
        ];
        let space = "[ \t\u{b}\u{a0}\u{3000}]{0,2}";
        let value = "[a-z &<>=#\t\r\u{a0}\u{85}é]{0,8}";
        (
            space,
            name,
            space.prop_map(String::from),
            prop::bool::weighted(0.95),
            value,
            space,
            prop::bool::ANY,
        )
            .prop_map(|(lead, name, mid, eq, value, tail, crlf)| {
                let eq = if eq { "=" } else { "" };
                let end = if crlf { "\r" } else { "" };
                format!("{lead}{name}{mid}{eq}{value}{tail}{end}")
            })
    }

    proptest! {
        #[test]
        fn parsing_and_encoding_are_what_they_were(
            lines in prop::collection::vec(line(), 0..12),
            final_newline in prop::bool::ANY,
        ) {
            let mut text = lines.join("\n");
            if final_newline {
                text.push('\n');
            }
            let parsed = parse_pvalues(&text);
            prop_assert_eq!(&parsed, &parse_reference(&text));
            if let Ok(pvalues) = parsed {
                let mac = Mac::parse_compact("000b82123456").ok();
                prop_assert_eq!(to_xml(mac, &pvalues), xml_reference(mac, &pvalues));
                prop_assert_eq!(to_xml_bytes(None, &pvalues), xml_reference(None, &pvalues).into_bytes());
                if let Some(mac) = mac {
                    prop_assert_eq!(to_binary(mac, &pvalues), binary_reference(mac, &pvalues));
                    let (back_mac, back) = decode_binary(&to_binary(mac, &pvalues)).unwrap();
                    prop_assert_eq!(back_mac, mac);
                    prop_assert_eq!(back, pvalues);
                }
            }
        }
    }

    #[test]
    fn numbers_of_every_width_are_written_whole() {
        for n in [0, 7, 10, 99, 100, 12_345, 99_999_999, 100_000_000, u32::MAX] {
            let pv = [PValue {
                number: n,
                value: "v".into(),
            }];
            assert_eq!(to_xml(None, &pv), xml_reference(None, &pv));
            let mac = Mac::from_bytes([0; 6]);
            assert_eq!(to_binary(mac, &pv), binary_reference(mac, &pv));
            assert_eq!(decode_binary(&to_binary(mac, &pv)).unwrap().1, pv);
        }
    }

    fn p(number: u32, value: &str) -> PValue<'_> {
        PValue {
            number,
            value: value.into(),
        }
    }

    #[test]
    fn the_reference_binary_vector() {
        // vendors.md §8.2 item 5.
        let mac = Mac::parse_compact("000b82000000").unwrap();
        let file = to_binary(mac, &[p(30, "time.nist.gov"), p(63, "1"), p(31, "1")]);
        let hex: String = file.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "0000001cfc10000b820000000d0a0d0a5033303d74696d652e6e6973742e676f76265036333d31265033313d3126676e6b65793d30623832"
        );
        assert_eq!(word_sum(&file), 0);
        assert_eq!(
            decode_binary(&file).unwrap(),
            (mac, vec![p(30, "time.nist.gov"), p(63, "1"), p(31, "1")])
        );
    }

    #[test]
    fn odd_bodies_are_padded_and_values_encoded() {
        let mac = Mac::parse_compact("000b82123456").unwrap();
        let pv = vec![p(270, "Front desk & co"), p(3, "Ünïcode=ok"), p(2, "")];
        let file = to_binary(mac, &pv);
        assert_eq!(file.len() % 2, 0);
        assert_eq!(word_sum(&file), 0);
        assert_eq!(decode_binary(&file).unwrap(), (mac, pv));
        let mut broken = file.clone();
        broken[20] ^= 1;
        assert!(decode_binary(&broken).is_err());
    }

    #[test]
    fn pvalue_text_parses_with_comments_and_repeats() {
        let pv = parse_pvalues("# account\nP271 = 1\n\nP270=Front desk\n  P271 = 0  \n").unwrap();
        assert_eq!(pv, vec![p(271, "0"), p(270, "Front desk")]);
        assert!(parse_pvalues("P270 Front").unwrap_err().contains("line 1"));
        assert!(parse_pvalues("X1 = 2").is_err());
    }

    #[test]
    fn xml_escapes_values() {
        let xml = to_xml(
            Some(Mac::parse_compact("000b82123456").unwrap()),
            &[p(270, "<a & \"b\">")],
        );
        assert!(xml.contains("<mac>000b82123456</mac>"));
        assert!(
            xml.contains("<P270>&lt;a &amp; &quot;b&quot;&gt;</P270>"),
            "{xml}"
        );
    }
}
