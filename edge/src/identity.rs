//! The client certificate as the device identity.
//!
//! On a hostname with mutual TLS, Cloudflare fills `request.cf.tlsClientAuth` for every request
//! that reaches the Worker, whatever became of the certificate: it reports the verdict
//! (`certPresented`, `certVerified`, `certRevoked`) and leaves the decision to the Worker. That
//! identity unlocks device files (with their SIP passwords) under MAC binding and
//! `require_identity`, so the decision fails closed: only a certificate that was presented,
//! chained to the zone's CA and is not revoked names a device; any other value, a missing field
//! included, is no identity at all.

use provedge::ClientIdentity;

/// The device identity `request.cf.tlsClientAuth` carries, or `None` unless the certificate was
/// presented (`certPresented` is `"1"`), verified (`certVerified` is `"SUCCESS"`; failures read
/// `"FAILED:<reason>"`, no certificate `"NONE"`) and not revoked (`certRevoked` is `"0"`).
///
/// `field` reads one property of `tlsClientAuth` by its Cloudflare name; it is a function so
/// that the host can read the JavaScript object lazily and tests can pass a table. The subject
/// is `certSubjectDNRFC2253` (`CN=000b82123456,O=Grandstream`), the form the policy stage reads
/// the MAC from; Cloudflare reports no subject alternative names.
pub fn client_identity(field: impl Fn(&str) -> Option<String>) -> Option<ClientIdentity> {
    let is = |name: &str, expected: &str| field(name).as_deref() == Some(expected);
    if !(is("certPresented", "1") && is("certVerified", "SUCCESS") && is("certRevoked", "0")) {
        return None;
    }
    let subject = field("certSubjectDNRFC2253").filter(|s| !s.is_empty())?;
    Some(ClientIdentity {
        subject,
        san: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBJECT: &str = "CN=000b82123456,O=Grandstream";

    fn judged(fields: &[(&str, &str)]) -> Option<ClientIdentity> {
        client_identity(|name| {
            fields
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn only_a_presented_verified_unrevoked_certificate_is_an_identity() {
        let identity = Some(ClientIdentity {
            subject: SUBJECT.into(),
            san: Vec::new(),
        });
        // (certPresented, certVerified, certRevoked, subject) → identity?; None = field absent.
        type Field<'a> = Option<&'a str>;
        type Row<'a> = (Field<'a>, Field<'a>, Field<'a>, Field<'a>, bool);
        #[rustfmt::skip]
        let table: [Row; 13] = [
            (Some("1"), Some("SUCCESS"), Some("0"), Some(SUBJECT), true),
            (Some("1"), Some("SUCCESS"), Some("1"), Some(SUBJECT), false),
            (Some("1"), Some("SUCCESS"), None, Some(SUBJECT), false),
            (Some("1"), Some("SUCCESS"), Some(""), Some(SUBJECT), false),
            (Some("1"), Some("FAILED:self signed certificate"), Some("0"), Some(SUBJECT), false),
            (Some("1"), Some("FAILED"), Some("0"), Some(SUBJECT), false),
            (Some("0"), Some("NONE"), Some("0"), Some(""), false),
            (Some("0"), Some("SUCCESS"), Some("0"), Some(SUBJECT), false),
            (None, Some("SUCCESS"), Some("0"), Some(SUBJECT), false),
            (Some("1"), None, Some("0"), Some(SUBJECT), false),
            (Some("1"), Some("success"), Some("0"), Some(SUBJECT), false),
            (Some("1"), Some("SUCCESS"), Some("0"), None, false),
            (Some("1"), Some("SUCCESS"), Some("0"), Some(""), false),
        ];
        for (presented, verified, revoked, subject, expected) in table {
            let fields: Vec<(&str, &str)> = [
                ("certPresented", presented),
                ("certVerified", verified),
                ("certRevoked", revoked),
                ("certSubjectDNRFC2253", subject),
            ]
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .collect();
            let got = judged(&fields);
            assert_eq!(got.is_some(), expected, "{fields:?}");
            if expected {
                assert_eq!(got, identity);
            }
        }
    }
}
