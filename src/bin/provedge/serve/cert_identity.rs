//! A verified client certificate as the core's [`ClientIdentity`]: the subject as an RFC 4514
//! (RFC 2253) string, last RDN first (`CN=000b82123456,O=Grandstream`, as Workers'
//! `certSubjectDNRFC2253` and Envoy's XFCC `Subject` spell it), and the SANs as bare values
//! (`phone.example`, `urn:dev:000b82123456`, `192.0.2.7`, as XFCC's `DNS=` and `URI=` carry
//! them). The core finds the MAC in those (`provedge::policy::identity::mac_of`); this module
//! only spells them.
//!
//! Two choices keep that reading safe, both within RFC 4514: a `,` or `+` inside a value is
//! escaped as `\2C` / `\2B`, so no value can look like an RDN boundary to a reader that splits
//! on them (a CA-signed `O=x,CN=<another MAC>` stays one `O`), and within a multi-valued RDN
//! (an unordered set) the CN comes first.
//!
//! x509-parser reads the certificate; it is a native-only dependency (feature `cli`).

use std::fmt::Write;
use std::net::IpAddr;

use provedge::ClientIdentity;
use x509_parser::asn1_rs::{Tag, ToDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// The identity of the end-entity certificate `der` (which the handshake verified), or `None`
/// if it does not parse.
pub fn from_der(der: &[u8]) -> Option<ClientIdentity> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let san = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext.value.general_names.iter().filter_map(san).collect(),
        _ => Vec::new(),
    };
    Some(ClientIdentity {
        subject: rfc4514(cert.subject()),
        san,
    })
}

/// One SAN entry as a bare string; names with no text form (other names, X.400, …) are skipped.
fn san(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::DNSName(s) | GeneralName::URI(s) | GeneralName::RFC822Name(s) => {
            Some((*s).to_owned())
        }
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
            16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
            _ => None,
        }
        .map(|ip| ip.to_string()),
        GeneralName::DirectoryName(dn) => Some(rfc4514(dn)),
        _ => None,
    }
}

/// RFC 4514: RDNs in reverse order joined by `,`, multi-valued RDNs by `+`, the short names of
/// its section 3 or the dotted OID, values escaped, non-string values as `#` and their DER hex.
fn rfc4514(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    for (i, rdn) in name
        .iter()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        let mut attrs: Vec<_> = rdn.iter().collect();
        attrs.sort_by_key(|attr| attr.attr_type().to_id_string() != "2.5.4.3");
        for (j, attr) in attrs.into_iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            attribute(attr, &mut out);
        }
    }
    out
}

fn attribute(attr: &AttributeTypeAndValue<'_>, out: &mut String) {
    let oid = attr.attr_type().to_id_string();
    let short = match oid.as_str() {
        "2.5.4.3" => Some("CN"),
        "2.5.4.7" => Some("L"),
        "2.5.4.8" => Some("ST"),
        "2.5.4.10" => Some("O"),
        "2.5.4.11" => Some("OU"),
        "2.5.4.6" => Some("C"),
        "2.5.4.9" => Some("STREET"),
        "0.9.2342.19200300.100.1.25" => Some("DC"),
        "0.9.2342.19200300.100.1.1" => Some("UID"),
        _ => None,
    };
    out.push_str(short.unwrap_or(&oid));
    out.push('=');
    match text(attr) {
        Some(value) if short.is_some() => escape(&value, out),
        _ => hex_der(attr, out),
    }
}

/// The value as text, for the string types certificates use.
fn text(attr: &AttributeTypeAndValue<'_>) -> Option<String> {
    if let Ok(s) = attr.as_str() {
        return Some(s.to_owned());
    }
    let value = attr.attr_value();
    match value.tag() {
        // UCS-2 / UTF-16 big-endian.
        Tag::BmpString => {
            let units: Vec<u16> = value
                .data
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        // UTF-32 big-endian.
        Tag::UniversalString => value
            .data
            .chunks_exact(4)
            .map(|quad| char::from_u32(u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]])))
            .collect(),
        _ => None,
    }
}

/// RFC 4514 section 2.4: `";<>\` escaped, `,` and `+` as hex pairs, `#` and space at the
/// start, space at the end, and NUL as `\00`.
fn escape(value: &str, out: &mut String) {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' => out.push_str("\\2C"),
            '+' => out.push_str("\\2B"),
            '"' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' | ' ' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            ' ' if i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
}

fn hex_der(attr: &AttributeTypeAndValue<'_>, out: &mut String) {
    out.push('#');
    let der = attr.attr_value().to_der_vec().unwrap_or_default();
    for byte in der {
        let _ = write!(out, "{byte:02x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    /// DER of `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj
    /// '/C=US/O=Grandstream Networks, Inc./OU=a\+b/CN=000b82123456+serialNumber=42/emailAddress=p@example.com'
    /// -addext 'subjectAltName=DNS:phone.example,URI:urn:dev:000b82123456,IP:192.0.2.7,IP:2001:db8::1,email:p@example.com'`.
    const CERT: &str = "\
MIICszCCAligAwIBAgIUbu9mHTFSHWQwrNcNH+50U3PeAI0wCgYIKoZIzj0EAwIwgYAxCzAJBgNVBAYTAlVTMSMwIQYDVQQK\
DBpHcmFuZHN0cmVhbSBOZXR3b3JrcywgSW5jLjEMMAoGA1UECwwDYStiMSAwCQYDVQQFEwI0MjATBgNVBAMMDDAwMGI4MjEy\
MzQ1NjEcMBoGCSqGSIb3DQEJARYNcEBleGFtcGxlLmNvbTAgFw0yNjExMjIxNDExNDZaGA8yMTI2MTAyOTE0MTE0NlowgYAx\
CzAJBgNVBAYTAlVTMSMwIQYDVQQKDBpHcmFuZHN0cmVhbSBOZXR3b3JrcywgSW5jLjEMMAoGA1UECwwDYStiMSAwCQYDVQQF\
EwI0MjATBgNVBAMMDDAwMGI4MjEyMzQ1NjEcMBoGCSqGSIb3DQEJARYNcEBleGFtcGxlLmNvbTBZMBMGByqGSM49AgEGCCqG\
SM49AwEHA0IABKpldoQMAvnr9TDitLhFjI7B05F+BlUBhVWXXk/MJdYAKmQwllfIFxzhVwRz5aJeRvdDrxN8SIUsPTN5CnWu\
9nejgaswgagwHQYDVR0OBBYEFOtJa2JWi2V4pbMgYWU/E0u7d7cLMB8GA1UdIwQYMBaAFOtJa2JWi2V4pbMgYWU/E0u7d7cL\
MA8GA1UdEwEB/wQFMAMBAf8wVQYDVR0RBE4wTIINcGhvbmUuZXhhbXBsZYYUdXJuOmRldjowMDBiODIxMjM0NTaHBMAAAgeH\
ECABDbgAAAAAAAAAAAAAAAGBDXBAZXhhbXBsZS5jb20wCgYIKoZIzj0EAwIDSQAwRgIhALLJ5XAkc36Yb0e6SBvcXvdcze+3\
LdypCRJxVK6OgyxJAiEA5Jc+8UlQfz/og5VeKkV3imKt6FpLApT9Nf6623N1kMw=";

    #[test]
    fn subject_and_sans_as_the_core_reads_them() {
        let der = base64::engine::general_purpose::STANDARD
            .decode(CERT)
            .unwrap();
        let id = from_der(&der).unwrap();
        assert_eq!(
            id.subject,
            "1.2.840.113549.1.9.1=#160d70406578616d706c652e636f6d,\
             CN=000b82123456+2.5.4.5=#13023432,OU=a\\2Bb,O=Grandstream Networks\\2C Inc.,C=US"
        );
        assert_eq!(
            id.san,
            [
                "phone.example",
                "urn:dev:000b82123456",
                "192.0.2.7",
                "2001:db8::1",
                "p@example.com"
            ]
        );
        let mac = provedge::policy::identity::mac_of(&id).unwrap();
        assert_eq!(mac.to_string(), "000b82123456");
    }

    #[test]
    fn escapes_as_rfc_4514_says() {
        let cases = [
            ("000b82123456", "000b82123456"),
            (
                "Grandstream Networks, Inc.",
                "Grandstream Networks\\2C Inc.",
            ),
            ("a+b", "a\\2Bb"),
            ("#1 ", "\\#1\\ "),
            (" x", "\\ x"),
            ("q\"<>;\\", "q\\\"\\<\\>\\;\\\\"),
            ("nul\0", "nul\\00"),
            ("", ""),
        ];
        for (raw, escaped) in cases {
            let mut out = String::new();
            escape(raw, &mut out);
            assert_eq!(out, escaped, "{raw:?}");
        }
    }

    #[test]
    fn a_garbage_certificate_is_no_identity() {
        assert!(from_der(b"not a certificate").is_none());
        assert!(from_der(&[]).is_none());
    }
}
