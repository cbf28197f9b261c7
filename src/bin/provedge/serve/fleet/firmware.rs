//! The firmware version a phone announces in its User-Agent, for the fleet page.
//!
//! The core's User-Agent parser ([`provedge::route::user_agent`]) says which vendor, model and
//! MAC; the version is only shown, never routed on, so it is read here, a few token rules per
//! vendor from the same reference samples (docs/vendors.md §1.3). A User-Agent is the phone's
//! own words, so the result is bounded and held to the characters versions use; the page
//! escapes it anyway.

use provedge::route::user_agent;
use provedge::Vendor;

/// Longest version shown.
const MAX_LEN: usize = 40;

/// The firmware version in `ua`, when its vendor's format shows one.
pub fn version(ua: &str) -> Option<String> {
    let ua = ua.trim();
    let found = match user_agent::parse(ua).map(|u| u.vendor) {
        Some(Vendor::Grandstream) => after_word(ua, "SW").or_else(|| {
            // Old GXP2000: `(gxp2000e.bin:1.1.6.46)`.
            let inner = ua.split_once('(')?.1.split_once(')')?.0;
            Some(inner.split_once(':')?.1)
        }),
        Some(Vendor::Polycom) => ua.split_once("-UA/").and_then(|(_, rest)| first_word(rest)),
        Some(Vendor::Cisco) => cisco(ua),
        Some(Vendor::Snom) => ua
            .split_once("-SIP ")
            .and_then(|(_, rest)| first_word(rest)),
        Some(Vendor::Aastra) => ua
            .split_whitespace()
            .find_map(|t| t.strip_prefix("V:"))
            .map(|v| v.strip_suffix("-SIP").unwrap_or(v)),
        Some(Vendor::Gigaset) => ua
            .split_once('/')
            .map(|(_, rest)| rest.split(';').next().unwrap_or(rest)),
        Some(Vendor::Panasonic) => ua.split_once('/').and_then(|(_, rest)| first_word(rest)),
        Some(Vendor::Htek) => ua.split_whitespace().nth(2),
        // Yealink, Fanvil, Algo, Obihai and the rest: the first dotted number.
        _ => dotted(ua),
    };
    found.and_then(clean)
}

/// The word after `word`: `SW 1.0.11.3` → `1.0.11.3`.
fn after_word<'a>(ua: &'a str, word: &str) -> Option<&'a str> {
    let mut tokens = ua.split_whitespace();
    tokens.find(|t| *t == word)?;
    tokens.next()
}

fn first_word(s: &str) -> Option<&str> {
    s.split_whitespace().next()
}

/// `Cisco/SPA508G-7.4.4 (…)`, `Linksys/SPA-942-6.1.5(a) (…)`: after the product's last `-`;
/// `Cisco-CP-7832-3PCC/11.0.1 (…)`: after the `/`.
fn cisco(ua: &str) -> Option<&str> {
    if ua.starts_with("Cisco-CP-") {
        return ua.split_once('/').and_then(|(_, rest)| first_word(rest));
    }
    let (_, rest) = ua.split_once('/')?;
    Some(first_word(rest)?.rsplit_once('-')?.1)
}

/// The first token that starts with a digit and has a dot: `28.72.0.1`.
fn dotted(ua: &str) -> Option<&str> {
    ua.split(|c: char| c.is_whitespace() || c == '/' || c == ';' || c == ',')
        .map(|t| t.trim_matches(|c: char| c == '(' || c == ')'))
        .find(|t| t.starts_with(|c: char| c.is_ascii_digit()) && t.contains('.'))
}

/// The version as shown: only the characters versions are made of, and not too long.
fn clean(version: &str) -> Option<String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "._+-()".contains(c);
    let kept: String = version
        .chars()
        .take_while(|&c| ok(c))
        .take(MAX_LEN)
        .collect();
    (!kept.is_empty()).then_some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The core's reference User-Agents (src/route/user_agent.rs), and what each announces.
    const TABLE: &[(&str, Option<&str>)] = &[
        (
            "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456",
            Some("1.0.11.3"),
        ),
        (
            "Grandstream GXP2000 (gxp2000e.bin:1.1.6.46) DevId 000b82654321",
            Some("1.1.6.46"),
        ),
        (
            "FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 (SN:0004f2123456) Type/Application",
            Some("5.9.5.0614"),
        ),
        (
            "FileTransport PolyCCX-CCX_500-UA/9.4.1.0508 (SN:64167f9f4c90) Type/Application",
            Some("9.4.1.0508"),
        ),
        ("Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37", Some("28.72.0.1")),
        ("Yealink SIP-T56A  58.80.0.25 001565f429a4", Some("58.80.0.25")),
        ("Yealink SIP VP-T49G 51.80.0.10 00:15:65:00:00:03", Some("51.80.0.10")),
        ("W52P 25.30.0.2 00:15:65:00:00:05", Some("25.30.0.2")),
        ("Cisco/SPA508G-7.4.4 (0002FDFF2103)(CBT141400UK)", Some("7.4.4")),
        ("Linksys/SPA-942-6.1.5(a) (88019FA42805)", Some("6.1.5(a)")),
        ("Cisco-CP-7832-3PCC/11.0.1 (00562b043615)", Some("11.0.1")),
        (
            "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)",
            Some("10.1.33.33"),
        ),
        ("Fanvil X5U-V2 2.12.16.17 0c383e557eb1", Some("2.12.16.17")),
        ("Fanvil X3S Pro 2.4.1 0c383e000001", Some("2.4.1")),
        ("Aastra6731i MAC:00-08-5D-23-74-29 V:3.2.0.70-SIP", Some("3.2.0.70")),
        (
            "Gigaset N870 IP PRO/83.V2.11.0+build.a546b91;7C2F80E0D605",
            Some("83.V2.11.0+build.a546b91"),
        ),
        ("Panasonic_KX-UT113/01.133 (0080f0c8c381)", Some("01.133")),
        ("Htek UC903 2.0.4.2 00:1f:c1:1c:22:a9", Some("2.0.4.2")),
        ("Algo-8188 5.2 0022EE123456", Some("5.2")),
        ("Grandstream Model HW GXP2170", None),
        ("curl/8.5.0", Some("8.5.0")),
        ("", None),
        // Hostile input: nothing but version characters survives.
        (
            "Yealink SIP-T46S 66.86.0.15<script>alert(1)</script> 00:15:65:12:34:56",
            Some("66.86.0.15"),
        ),
    ];

    #[test]
    fn the_reference_user_agents() {
        for (ua, want) in TABLE {
            assert_eq!(version(ua).as_deref(), *want, "{ua}");
        }
        let long = format!("Yealink SIP-T46S {} 001565123456", "1.".repeat(100));
        assert_eq!(version(&long).map(|v| v.len()), Some(MAX_LEN));
    }
}
