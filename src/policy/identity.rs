//! The client-certificate identity: where it may come from, and the MAC it carries.
//!
//! Phones with factory certificates (Grandstream, Yealink, Polycom, Cisco) carry their MAC in
//! the certificate subject or a SAN. The identity is taken, in order, from the host itself
//! (a TLS listener of the native server, Workers' `tlsClientAuth`), from Envoy's
//! `x-forwarded-client-cert` (XFCC), or from a header a trusted front proxy sets, and the
//! headers only when the direct peer is a trusted proxy. How vendors spell the MAC in their
//! subjects is not public in our references (vendors.md has no sample), so the first
//! MAC-shaped token of the CN, then of the SANs, is taken.

use crate::mac::Mac;
use crate::request::ClientIdentity;

/// Parses an XFCC header (`By=…;Hash=…;Subject="CN=…,O=…";URI=…;DNS=…`, elements joined with
/// `,` by each proxy). The last element is the one the nearest (trusted) proxy added.
pub fn from_xfcc(value: &str) -> Option<ClientIdentity> {
    let element = split_outside_quotes(value, ',').into_iter().last()?;
    let mut identity = ClientIdentity::default();
    for pair in split_outside_quotes(element, ';') {
        let Some((key, raw)) = pair.split_once('=') else {
            continue;
        };
        let v = unquote(raw.trim());
        match key.trim().to_ascii_lowercase().as_str() {
            "subject" => identity.subject = v,
            "uri" | "dns" => identity.san.push(v),
            _ => {}
        }
    }
    (!identity.subject.is_empty() || !identity.san.is_empty()).then_some(identity)
}

/// The MAC an identity names: the first MAC-shaped token of the subject's CN, else of any SAN.
pub fn mac_of(identity: &ClientIdentity) -> Option<Mac> {
    let cn = attributes(&identity.subject)
        .into_iter()
        .filter_map(|ava| ava.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("cn"))
        .map(|(_, v)| v.trim());
    cn.into_iter()
        .chain(identity.san.iter().map(String::as_str))
        .find_map(mac_in)
}

/// The `type=value` pairs of a distinguished name (RFC 4514): split at the `,` between RDNs and
/// the `+` inside a multi-valued RDN, but not at an escaped (`\,`, `\2C`) or quoted one, so a
/// value such as `O=x\,CN=<another MAC>` cannot pose as a CN.
fn attributes(dn: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in dn.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' | '+' if !quoted => {
                parts.push(dn[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(dn[start..].trim());
    parts
}

fn mac_in(s: &str) -> Option<Mac> {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '-'))
        .find_map(|token| {
            // `00:15:65:12:34:56` whole, else a 12-digit part of `urn:mac:0004F2123456`.
            token.parse().ok().or_else(|| {
                token
                    .split([':', '-'])
                    .find_map(|part| Mac::parse_compact(part).ok())
            })
        })
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn unquote(s: &str) -> String {
    match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\""),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xfcc_subject_and_sans() {
        let xfcc = r#"By=spiffe://edge;Hash=abc;Subject="CN=000b82123456,O=Grandstream Networks\, Inc.";URI=urn:dev:000b82123456;DNS=phone.example"#;
        let id = from_xfcc(xfcc).unwrap();
        assert_eq!(id.subject, "CN=000b82123456,O=Grandstream Networks\\, Inc.");
        assert_eq!(id.san, ["urn:dev:000b82123456", "phone.example"]);
        assert_eq!(mac_of(&id).unwrap().to_string(), "000b82123456");
        // Two proxies: the last element is the nearest one's.
        let two = format!(r#"Subject="CN=aaaaaaaaaaaa",{xfcc}"#);
        assert_eq!(
            mac_of(&from_xfcc(&two).unwrap()).unwrap().to_string(),
            "000b82123456"
        );
    }

    #[test]
    fn escaped_separators_cannot_pose_as_a_cn() {
        let id = |subject: &str| ClientIdentity {
            subject: subject.into(),
            san: Vec::new(),
        };
        let own: Mac = "000b82123456".parse().unwrap();
        for subject in [
            r"O=x\,CN=000b82aaaaaa,CN=000b82123456",
            r"O=x\2CCN=000b82aaaaaa,CN=000b82123456",
            r#"O="x,CN=000b82aaaaaa",CN=000b82123456"#,
            "serialNumber=1+CN=000b82123456,O=Grandstream",
            "CN=000b82123456+serialNumber=000b82aaaaaa,O=Grandstream",
        ] {
            assert_eq!(mac_of(&id(subject)), Some(own), "{subject}");
        }
    }

    #[test]
    fn macs_in_cn_or_san_in_any_spelling() {
        let id = |subject: &str, san: &[&str]| ClientIdentity {
            subject: subject.into(),
            san: san.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(
            mac_of(&id("CN=SIP-T46S 00:15:65:12:34:56,O=Yealink", &[]))
                .unwrap()
                .to_string(),
            "001565123456"
        );
        assert_eq!(
            mac_of(&id("O=Poly", &["urn:mac:0004F2123456"]))
                .unwrap()
                .to_string(),
            "0004f2123456"
        );
        assert!(mac_of(&id("CN=phone,O=Example", &["dns:phone.example"])).is_none());
        assert!(from_xfcc("Hash=abc").is_none());
    }
}
