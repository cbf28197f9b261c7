//! The fixed parts of line-based formats, applied after the template so a template cannot
//! forget them.

use crate::mac::Mac;
use crate::route::yealink_codes;

/// Yealink's mandatory first line (vendors.md §4.2–4.3).
pub const YEALINK_VERSION: &str = "#!version:1.0.0.1";

/// Panasonic's mandatory first line: exactly these 44 bytes, then the recommended suffix
/// (vendors.md §7).
pub const PANASONIC_HEADER: &str =
    "# Panasonic SIP Phone Standard Format File # DO NOT CHANGE THIS LINE!";

/// Puts `#!version:1.0.0.1` first unless the template already did.
pub fn yealink(text: String) -> String {
    if text.starts_with(YEALINK_VERSION) {
        text
    } else {
        format!("{YEALINK_VERSION}\n{text}")
    }
}

/// Panasonic: header line first, CRLF line ends, an empty last line.
pub fn panasonic(text: &str) -> String {
    let body = text
        .strip_prefix(PANASONIC_HEADER)
        .map_or(text, |rest| rest.trim_start_matches(['\r', '\n']));
    let mut out = String::with_capacity(text.len() + 80);
    out.push_str(PANASONIC_HEADER);
    out.push_str("\r\n");
    for line in body.lines() {
        out.push_str(line.trim_end_matches('\r'));
        out.push_str("\r\n");
    }
    if !out.ends_with("\r\n\r\n") {
        out.push_str("\r\n");
    }
    out
}

/// The MAC boot file a Yealink phone asks for first, when the store has no template for it:
/// the model's common file (when the model is known) and the MAC file, in that order.
pub fn yealink_default_boot(mac: Mac, model: Option<&str>) -> String {
    let mut out = format!("{YEALINK_VERSION}\n");
    if let Some(code) = model.and_then(yealink_codes::code_of) {
        out.push_str(&format!("include:config \"y000000000{code:03}.cfg\"\n"));
    }
    out.push_str(&format!(
        "include:config \"{mac}.cfg\"\noverwrite_mode = 1\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yealink_version_line_is_added_once() {
        assert_eq!(yealink("a = 1\n".into()), "#!version:1.0.0.1\na = 1\n");
        assert_eq!(
            yealink("#!version:1.0.0.1\na = 1\n".into()),
            "#!version:1.0.0.1\na = 1\n"
        );
    }

    #[test]
    fn panasonic_framing() {
        let out = panasonic("A=\"1\"\nB=\"2\"\n");
        assert!(out.starts_with("# Panasonic SIP Phone Standard Format File #"));
        assert_eq!(
            &out.as_bytes()[..44],
            b"# Panasonic SIP Phone Standard Format File #"
        );
        assert!(out.ends_with("B=\"2\"\r\n\r\n"));
        assert!(!out.replace("\r\n", "").contains('\n'));
        assert_eq!(panasonic(&out), out);
    }

    #[test]
    fn default_boot_includes_common_then_mac_file() {
        let mac = Mac::parse_compact("001565123456").unwrap();
        assert_eq!(
            yealink_default_boot(mac, Some("t46s")),
            "#!version:1.0.0.1\ninclude:config \"y000000000066.cfg\"\ninclude:config \"001565123456.cfg\"\noverwrite_mode = 1\n"
        );
    }
}
