//! Grandstream encodings of one P-value list: `gs_provision` XML v1 and the legacy binary
//! `cfg<mac>` (vendors.md §2.3), plus the P-value text both are written in.
//!
//! Templates for Grandstream produce P-value text (`P270 = Front desk` lines, `#` comments: the
//! format Grandstream's own tools and the FusionPBX wiki use). It is parsed into an ordered
//! list, then encoded as the phone asked: the same source serves `cfg<mac>.xml` and `cfg<mac>`.

use std::fmt::Write as _;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::mac::Mac;

/// One P-value: its number and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PValue {
    pub number: u32,
    pub value: String,
}

/// Parses P-value text. A repeated P-value keeps its first position and its last value (the
/// later layer of a template wins, as in the phone's own processing).
pub fn parse_pvalues(text: &str) -> Result<Vec<PValue>, String> {
    let mut out: Vec<PValue> = Vec::new();
    let mut position: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
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
        let value = value.trim().to_owned();
        match position.get(&number) {
            Some(&at) => {
                if let Some(earlier) = out.get_mut(at) {
                    earlier.value = value;
                }
            }
            None => {
                position.insert(number, out.len());
                out.push(PValue { number, value });
            }
        }
    }
    Ok(out)
}

/// XML v1: `<gs_provision version="1">`, a `<mac>` element for device files, one `<Pnnn>` per
/// value. Values are escaped; characters XML 1.0 cannot carry are dropped.
pub fn to_xml(mac: Option<Mac>, pvalues: &[PValue]) -> String {
    let mut xml = String::with_capacity(64 + pvalues.len() * 24);
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<gs_provision version=\"1\">\n");
    if let Some(mac) = mac {
        let _ = writeln!(xml, "  <mac>{mac}</mac>");
    }
    xml.push_str("  <config version=\"1\">\n");
    for p in pvalues {
        let _ = write!(xml, "    <P{n}>", n = p.number);
        super::xml::escape_into(&p.value, &mut xml);
        let _ = writeln!(xml, "</P{n}>", n = p.number);
    }
    xml.push_str("  </config>\n</gs_provision>\n");
    xml
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
    let mut header = [
        w0, w1, w2, w3, 0, 0, m0, m1, m2, m3, m4, m5, b'\r', b'\n', b'\r', b'\n',
    ];
    // The 16-byte header keeps the body word-aligned, so the words can be summed in two parts
    // (a trailing odd byte sums as if already NUL-padded).
    let sum = word_sum(&header).wrapping_add(word_sum(body.as_bytes()));
    [header[4], header[5]] = 0u16.wrapping_sub(sum).to_be_bytes();
    let mut file = Vec::with_capacity(header.len() + body.len() + pad);
    file.extend_from_slice(&header);
    file.extend_from_slice(body.as_bytes());
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
pub fn decode_binary(file: &[u8]) -> Result<(Mac, Vec<PValue>), String> {
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
            value: value.into_owned(),
        });
    }
    Ok((mac, pvalues))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(number: u32, value: &str) -> PValue {
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
