//! User-Agent recognition: which vendor asks, which model, and which MAC (vendors.md §1.3).
//!
//! Each vendor's parser is a few lines of token handling rather than a regex: the formats are
//! simple, the parsers are fast and small in wasm, and each states exactly what it relies on.
//! A parser that recognises the vendor but not the MAC still reports the vendor: that alone
//! settles ambiguous file names. Forms that do not name their maker (Gigaset's bare
//! `N510 IP PRO/…`, Yealink's bare `W52P …`) are settled by the model tables and MAC ranges of
//! [`super::ua_models`]. `tests/user_agents.rs` holds every published sample, with its source.

use super::ua_models::{self, GIGASET_MODELS};
use crate::mac::Mac;
use crate::model::Model;
use crate::vendor::Vendor;

/// What a User-Agent says about the phone that sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserAgent {
    pub vendor: Vendor,
    pub model: Option<Model>,
    pub mac: Option<Mac>,
}

impl UserAgent {
    fn new(vendor: Vendor, model: Option<Model>, mac: Option<Mac>) -> UserAgent {
        UserAgent { vendor, model, mac }
    }
}

/// Recognises a User-Agent. `None` when no known vendor sent it.
pub fn parse(ua: &str) -> Option<UserAgent> {
    let ua = ua.trim();
    // Every form below is ASCII; anything longer than a header line is not a phone.
    if ua.len() > 512 {
        return None;
    }
    let parsers: [fn(&str) -> Option<UserAgent>; 12] = [
        grandstream,
        polycom,
        yealink,
        cisco,
        snom,
        fanvil,
        aastra,
        gigaset,
        panasonic,
        htek,
        algo,
        obihai,
    ];
    parsers.iter().find_map(|p| p(ua))
}

fn mac_token(t: &str) -> Option<Mac> {
    t.parse().ok()
}

/// `Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456`, old GXP2000:
/// `Grandstream GXP2000 (gxp2000e.bin:1.1.6.46) DevId 000b82123456`.
fn grandstream(ua: &str) -> Option<UserAgent> {
    let rest = strip_prefix_ci(ua, "Grandstream ")?;
    let tokens: Vec<&str> = rest.split_whitespace().collect();
    let model = match tokens.as_slice() {
        ["Model", "HW", model, ..] => Some(*model),
        [model, ..] if *model != "Model" => Some(*model),
        _ => None,
    };
    let mac = tokens
        .iter()
        .position(|t| *t == "DevId")
        .and_then(|i| tokens.get(i + 1))
        .and_then(|t| mac_token(t));
    Some(UserAgent::new(
        Vendor::Grandstream,
        model.and_then(Model::new),
        mac,
    ))
}

/// `FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 (SN:0004f2e765da) Type/Application`,
/// `FileTransport PolyCCX-CCX_500-UA/…`. The model drops Polycom's `_`: `VVX_400` → `vvx400`.
fn polycom(ua: &str) -> Option<UserAgent> {
    let product = ua.strip_prefix("FileTransport Poly")?;
    let product = product.strip_prefix("com").unwrap_or(product);
    let token = product.split_whitespace().next()?;
    let model = token
        .split('-')
        .nth(1)
        .and_then(|m| Model::new(&m.replace('_', "")));
    let mac = ua
        .find("(SN:")
        .and_then(|i| ua.get(i + 4..i + 16))
        .and_then(mac_token);
    Some(UserAgent::new(Vendor::Polycom, model, mac))
}

/// `Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37`, `yealink SIP VP-T49G …`, `Yealink CP860 …`,
/// `Yealink SIP-T56A  58.80.0.25 001565f429a4`, `Yealink-T46G 28.71.0.81 …` (no MAC), and the
/// bare `W52P 25.30.0.2 <mac>` / `VP530P 23.70.0.40 <mac>`.
fn yealink(ua: &str) -> Option<UserAgent> {
    let tokens: Vec<&str> = ua.split_whitespace().collect();
    let first = *tokens.first()?;
    let (model, mac_at) = if first.eq_ignore_ascii_case("yealink") {
        match tokens.get(1..)? {
            ["SIP", vp, ..] => (vp.strip_prefix("VP-").unwrap_or(vp), 4),
            [m, ..] => (m.strip_prefix("SIP-").unwrap_or(m), 3),
            [] => return Some(UserAgent::new(Vendor::Yealink, None, None)),
        }
    } else if let Some(m) = strip_prefix_ci(first, "yealink-") {
        (m, usize::MAX)
    } else if matches!(first, "W52P" | "VP530P" | "VP530")
        && tokens.len() == 3
        && ua_models::mac_says(tokens.get(2).and_then(|t| mac_token(t)), Vendor::Yealink)
    {
        // No maker in the UA: Yealink only when the MAC is in a Yealink range.
        (first, 2)
    } else {
        return None;
    };
    let mac = tokens.get(mac_at).and_then(|t| mac_token(t));
    Some(UserAgent::new(Vendor::Yealink, Model::new(model), mac))
}

/// SPA: `Cisco/SPA508G-7.4.4 (0002FDFF2103)(CBT141400UK)` (MAC then serial) or
/// `Cisco/SPA525G-7.4.7 (CBT141900G7)` (serial only); Linksys: `Linksys/SPA-942-6.1.5(a)
/// (88019FA42805)` (serial only, even when it looks like a MAC); MPP:
/// `Cisco-CP-7832-3PCC/11.0.1 (00562b043615)`; MPP ATA: `Cisco/ATA191-MPP-11-1-0-MSR4
/// (FCH2443D9R4)` (serial only). The model is the product up to its first `-`.
fn cisco(ua: &str) -> Option<UserAgent> {
    if let Some(rest) = ua.strip_prefix("Cisco-CP-") {
        let (product, tail) = rest.split_once('/')?;
        let mac = paren_groups(tail).next().and_then(mac_token);
        return Some(UserAgent::new(
            Vendor::Cisco,
            Model::new(&format!("cp-{product}")),
            mac,
        ));
    }
    if let Some(rest) = ua.strip_prefix("Cisco/") {
        let (product, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        let model = product.split_once('-').map_or(product, |(m, _)| m);
        let groups: Vec<&str> = paren_groups(tail).collect();
        // Only when a second group (the serial) follows is the first one the MAC.
        let mac = match groups.as_slice() {
            [first, _, ..] => mac_token(first),
            _ => None,
        };
        return Some(UserAgent::new(Vendor::Cisco, Model::new(model), mac));
    }
    let rest = ua.strip_prefix("Linksys/")?;
    let product = rest.split_whitespace().next()?;
    let model = product.rsplit_once('-').map_or(product, |(m, _)| m);
    Some(UserAgent::new(Vendor::Cisco, Model::new(model), None))
}

fn paren_groups(s: &str) -> impl Iterator<Item = &str> {
    s.split('(')
        .skip(1)
        .filter_map(|g| g.split_once(')').map(|(inner, _)| inner))
}

/// Every Snom form: desk phones `Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33
/// 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)` (MAC from 8.7.5 on) and `snom320-SIP 8.4.18
/// 1.1.3-s`; DECT bases `snomM700/03.23.0005 (MAC=000413XXXXXX; SER= 00000; HW=255)`; and the
/// spellings `snom-D785 …` and `Snom M900 …`. "snom" must start a word; the model is the
/// alphanumeric run after it (after one `-` or space) and must hold a digit (`snom lid 3605`,
/// firmware 6.5, is Snom with no model). The MAC is a `MAC=` value or a 12-hex token.
fn snom(ua: &str) -> Option<UserAgent> {
    let bytes = ua.as_bytes();
    let at = (0..ua.len()).find(|&i| {
        bytes
            .get(i..i + 4)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"snom"))
            && (i == 0 || matches!(bytes.get(i - 1), Some(b' ' | b'(' | b';')))
    })?;
    // "snom" is ASCII, so `at + 4` is a character boundary.
    let rest = ua.get(at + 4..)?;
    let rest = rest
        .strip_prefix('-')
        .or_else(|| rest.strip_prefix(' '))
        .unwrap_or(rest);
    let end = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let word = &rest[..end];
    let model = word
        .bytes()
        .any(|b| b.is_ascii_digit())
        .then(|| Model::new(word))
        .flatten();
    let tail = &rest[end..];
    let mac = tail
        .split(|c: char| c.is_whitespace() || matches!(c, ';' | '(' | ')'))
        .find_map(|t| {
            let t = t.strip_prefix("MAC=").unwrap_or(t);
            (t.len() == 12).then(|| mac_token(t)).flatten()
        });
    // A bare word such as "snowmobile" is not a phone: a model, a MAC or firmware 6.5's `lid`.
    if model.is_none() && mac.is_none() && !word.eq_ignore_ascii_case("lid") {
        return None;
    }
    Some(UserAgent::new(Vendor::Snom, model, mac))
}

/// `Fanvil X5U-V2 2.12.16.17 0c383e557eb1`; the model may have a space (`X3S Pro`).
fn fanvil(ua: &str) -> Option<UserAgent> {
    let rest = ua.strip_prefix("Fanvil ")?;
    let tokens: Vec<&str> = rest.split_whitespace().collect();
    let version_at = tokens
        .iter()
        .position(|t| t.starts_with(|c: char| c.is_ascii_digit()) && t.contains('.'))
        .unwrap_or(tokens.len());
    let model = Model::new(&tokens.get(..version_at).unwrap_or_default().join(" "));
    let mac = tokens.get(version_at + 1).and_then(|t| mac_token(t));
    Some(UserAgent::new(Vendor::Fanvil, model, mac))
}

/// `Aastra6731i MAC:00-08-5D-23-74-29 V:3.2.0.70-SIP`, `Mitel6940 MAC:14-00-E9-1B-45-24 V:…`.
fn aastra(ua: &str) -> Option<UserAgent> {
    let rest = ua
        .strip_prefix("Aastra")
        .or_else(|| ua.strip_prefix("Mitel"))?;
    let mut tokens = rest.split_whitespace();
    let model = tokens
        .next()
        .map(ua_models::aastra_model)
        .and_then(Model::new);
    let mac = tokens
        .find_map(|t| t.strip_prefix("MAC:"))
        .and_then(mac_token);
    Some(UserAgent::new(Vendor::Aastra, model, mac))
}

/// `Gigaset N870 IP PRO/83.V2.11.0+build.a546b91;7C2F80E0D605[;Handset=50]`, and without the
/// maker: `N510 IP PRO/42.245.00.000.000;7C2F804DF9A9`, `N720-DM-PRO/70.040.00.000.000`. A
/// maker-less UA is Gigaset when its model is in [`GIGASET_MODELS`] or its MAC is in a Gigaset
/// range; the version must start with a digit either way.
fn gigaset(ua: &str) -> Option<UserAgent> {
    let prefixed = strip_prefix_ci(ua, "Gigaset ");
    let body = prefixed.unwrap_or(ua);
    let (model, tail) = body.split_once('/')?;
    if !tail.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mac = tail.split(';').nth(1).and_then(mac_token);
    let model = Model::new(model);
    if prefixed.is_none()
        && !model
            .as_ref()
            .is_some_and(|m| GIGASET_MODELS.contains(&m.as_str()))
        && !ua_models::mac_says(mac, Vendor::Gigaset)
    {
        return None;
    }
    Some(UserAgent::new(Vendor::Gigaset, model, mac))
}

/// `Panasonic_KX-UT113/01.133 (0080f0c8c381)`.
fn panasonic(ua: &str) -> Option<UserAgent> {
    let rest = ua.strip_prefix("Panasonic_")?;
    let (model, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let mac = paren_groups(tail).next().and_then(mac_token);
    Some(UserAgent::new(Vendor::Panasonic, Model::new(model), mac))
}

/// `Htek UC903 2.0.4.2 00:1f:c1:1c:22:a9`.
fn htek(ua: &str) -> Option<UserAgent> {
    let rest = ua.strip_prefix("Htek ")?;
    let tokens: Vec<&str> = rest.split_whitespace().collect();
    let model = tokens.first().and_then(|m| Model::new(m));
    let mac = tokens.get(2).and_then(|t| mac_token(t));
    Some(UserAgent::new(Vendor::Htek, model, mac))
}

/// Algo's format is not documented (vendors.md §1.3 [U]): any UA naming "Algo" as a word, with
/// the first four-digit token as the model and the first MAC-shaped token as the MAC.
fn algo(ua: &str) -> Option<UserAgent> {
    let words = || ua.split(|c: char| !c.is_ascii_alphanumeric() && c != ':' && c != '-');
    if !words().any(|w| w.eq_ignore_ascii_case("algo") || strip_prefix_ci(w, "algo-").is_some()) {
        return None;
    }
    let model = words()
        .flat_map(|w| w.split('-'))
        .find(|w| w.len() == 4 && w.bytes().all(|b| b.is_ascii_digit()))
        .and_then(Model::new);
    let mac = words().find_map(mac_token);
    Some(UserAgent::new(Vendor::Algo, model, mac))
}

/// Obihai's format is not documented (vendors.md §1.3 [U]): any UA starting with `OBIHAI` or
/// `OBi`, with the first MAC-shaped token as the MAC.
fn obihai(ua: &str) -> Option<UserAgent> {
    if strip_prefix_ci(ua, "obihai").is_none() && !ua.starts_with("OBi") {
        return None;
    }
    let mac = ua
        .split(|c: char| !c.is_ascii_alphanumeric() && c != ':' && c != '-')
        .find_map(mac_token);
    Some(UserAgent::new(Vendor::Obihai, None, mac))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ua: &str, vendor: Vendor, model: Option<&str>, mac: Option<&str>) {
        let got = parse(ua).unwrap_or_else(|| panic!("not recognised: {ua}"));
        assert_eq!(got.vendor, vendor, "{ua}");
        assert_eq!(got.model.as_ref().map(Model::as_str), model, "{ua}");
        assert_eq!(got.mac.map(|m| m.to_string()).as_deref(), mac, "{ua}");
    }

    #[test]
    fn the_reference_samples() {
        use Vendor::*;
        check(
            "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456",
            Grandstream,
            Some("gxp2170"),
            Some("000b82123456"),
        );
        check(
            "Grandstream GXP2000 (gxp2000e.bin:1.1.6.46) DevId 000b82654321",
            Grandstream,
            Some("gxp2000"),
            Some("000b82654321"),
        );
        check(
            "FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application",
            Polycom,
            Some("vvx400"),
            None,
        );
        check("FileTransport PolycomSoundStationIP-SSIP_5000-UA/4.0.3.7562 (SN:0004f2e765da) Type/Application", Polycom, Some("ssip5000"), Some("0004f2e765da"));
        check(
            "FileTransport PolyCCX-CCX_500-UA/9.4.1.0508 (SN:64167f9f4c90) Type/Application",
            Polycom,
            Some("ccx500"),
            Some("64167f9f4c90"),
        );
        check(
            "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37",
            Yealink,
            Some("t46g"),
            Some("0015654aa937"),
        );
        check(
            "yealink SIP-T28P 2.70.0.140 00:15:65:00:00:01",
            Yealink,
            Some("t28p"),
            Some("001565000001"),
        );
        check(
            "Yealink SIP-T38G  38.70.0.125 00:15:65:00:00:02",
            Yealink,
            Some("t38g"),
            Some("001565000002"),
        );
        check(
            "Yealink SIP VP-T49G 51.80.0.10 00:15:65:00:00:03",
            Yealink,
            Some("t49g"),
            Some("001565000003"),
        );
        check(
            "Yealink CP860 37.72.0.5 00:15:65:00:00:04",
            Yealink,
            Some("cp860"),
            Some("001565000004"),
        );
        check(
            "Yealink SIP-T56A  58.80.0.25 001565f429a4",
            Yealink,
            Some("t56a"),
            Some("001565f429a4"),
        );
        check(
            "Yealink-T46G 28.71.0.81 28.1.0.128.0.0.0",
            Yealink,
            Some("t46g"),
            None,
        );
        check(
            "W52P 25.30.0.2 00:15:65:00:00:05",
            Yealink,
            Some("w52p"),
            Some("001565000005"),
        );
        check(
            "Cisco/SPA508G-7.4.4 (0002FDFF2103)(CBT141400UK)",
            Cisco,
            Some("spa508g"),
            Some("0002fdff2103"),
        );
        check(
            "Cisco/SPA525G-7.4.7 (CBT141900G7)",
            Cisco,
            Some("spa525g"),
            None,
        );
        check(
            "Linksys/SPA-942-6.1.5(a) (88019FA42805)",
            Cisco,
            Some("spa-942"),
            None,
        );
        check(
            "Cisco-CP-7832-3PCC/11.0.1 (00562b043615)",
            Cisco,
            Some("cp-7832-3pcc"),
            Some("00562b043615"),
        );
        check("Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)", Snom, Some("d785"), Some("000413922d24"));
        check(
            "Mozilla/4.0 (compatible; snom320-SIP 8.4.35 1.1.3-u)",
            Snom,
            Some("320"),
            None,
        );
        check(
            "Fanvil X5U-V2 2.12.16.17 0c383e557eb1",
            Fanvil,
            Some("x5u-v2"),
            Some("0c383e557eb1"),
        );
        check(
            "Aastra6731i MAC:00-08-5D-23-74-29 V:3.2.0.70-SIP",
            Aastra,
            Some("6731i"),
            Some("00085d237429"),
        );
        check(
            "Mitel6940 MAC:14-00-E9-1B-45-24 V:6.4.0.140-SIP",
            Aastra,
            Some("6940"),
            Some("1400e91b4524"),
        );
        check(
            "Gigaset N870 IP PRO/83.V2.11.0+build.a546b91;7C2F80E0D605",
            Gigaset,
            Some("n870-ip-pro"),
            Some("7c2f80e0d605"),
        );
        check(
            "N720 IP PRO/70.085.00.000.000;7C2F80E0D606",
            Gigaset,
            Some("n720-ip-pro"),
            Some("7c2f80e0d606"),
        );
        check(
            "Panasonic_KX-UT113/01.133 (0080f0c8c381)",
            Panasonic,
            Some("kx-ut113"),
            Some("0080f0c8c381"),
        );
        check(
            "Htek UC903 2.0.4.2 00:1f:c1:1c:22:a9",
            Htek,
            Some("uc903"),
            Some("001fc11c22a9"),
        );
        check(
            "Algo-8188 5.2 0022EE123456",
            Algo,
            Some("8188"),
            Some("0022ee123456"),
        );
    }

    #[test]
    fn strangers_are_not_recognised() {
        for ua in [
            "curl/8.5.0",
            "Mozilla/5.0 (X11; Linux x86_64)",
            "",
            "Algorithmic crawler/1.0",
            "N720/1.0;001565000001",
        ] {
            assert_eq!(parse(ua), None, "{ua}");
        }
    }
}
