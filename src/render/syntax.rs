//! What each vendor's files are written in, what a value must not break in them, the template
//! a file is rendered from, and the media type it is served with.

use crate::mac::MacCase;
use crate::route::{Kind, Route};
use crate::vendor::Vendor;

/// The flavours of line-based `key = value` files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TextFlavor {
    /// Algo `.conf`, Aastra `key: value`, Snom `.htm`, Cisco 79xx `.cnf`, Htek `.cfg`.
    Plain,
    /// Yealink `.cfg`/`.boot`: the first line must be `#!version:1.0.0.1`.
    Yealink,
    /// Panasonic: the exact header line first, CRLF line ends, an empty last line.
    Panasonic,
}

/// The syntax of a rendered file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Syntax {
    /// Grandstream P-value text, encoded afterwards as XML or the legacy binary.
    PValues { binary: bool },
    /// An XML document (Polycom, Cisco flat profile, Snom, Fanvil, Gigaset, Htek, Obihai).
    Xml,
    /// Line-based text.
    Text(TextFlavor),
    /// A Yealink `<name>_Security.enc` key file, made from the configured Yealink key.
    YealinkKeyFile,
}

impl Syntax {
    /// The syntax `route`'s file is rendered in; `None` for files only ever served as stored
    /// (firmware, assets, keys, encrypted vendor containers).
    pub fn of(route: &Route) -> Option<Syntax> {
        if route.vendor() == Vendor::Yealink
            && route.kind() == Kind::Key
            && route.file().to_ascii_lowercase().ends_with("_security.enc")
        {
            return Some(Syntax::YealinkKeyFile);
        }
        if !matches!(route.kind(), Kind::Config | Kind::Directory) {
            return None;
        }
        let file = route.file().to_ascii_lowercase();
        let ext = file.rsplit_once('.').map(|(_, e)| e);
        let syntax = match (route.vendor(), ext) {
            (_, Some("xml"))
                if route.vendor() != Vendor::Grandstream || !file.starts_with("cfg") =>
            {
                Syntax::Xml
            }
            (Vendor::Grandstream, Some("xml")) => Syntax::PValues { binary: false },
            (Vendor::Grandstream, None) if file.starts_with("cfg") => {
                Syntax::PValues { binary: true }
            }
            (Vendor::Grandstream, Some("cfg")) => Syntax::Text(TextFlavor::Plain),
            (Vendor::Yealink, Some("cfg" | "boot")) => Syntax::Text(TextFlavor::Yealink),
            (Vendor::Polycom, Some("cfg")) => Syntax::Xml,
            (Vendor::Fanvil, Some("cfg")) => Syntax::Xml,
            (Vendor::Cisco, Some("cfg")) => Syntax::Xml,
            (Vendor::Cisco, Some("cnf")) => Syntax::Text(TextFlavor::Plain),
            // Panasonic's and Obihai's encrypted names: the same file as `.cfg`/`.xml`,
            // encrypted with the device's setting (vendors.md §7); see [`encrypted_by_name`].
            (Vendor::Panasonic, Some("cfg" | "enc")) => Syntax::Text(TextFlavor::Panasonic),
            (Vendor::Obihai, Some("aes")) => Syntax::Xml,
            (Vendor::Algo, Some("conf")) => Syntax::Text(TextFlavor::Plain),
            (Vendor::Aastra | Vendor::Htek | Vendor::Snom, Some("cfg" | "htm")) => {
                Syntax::Text(TextFlavor::Plain)
            }
            _ => return None,
        };
        Some(syntax)
    }

    /// Writes a template value into the output so it cannot change the file's structure: XML
    /// escaping for XML; for line-based formats, line breaks and other control characters
    /// become spaces (a value can never start a line of its own, i.e. a new key).
    pub fn escape_value(self, value: &str, out: &mut String) {
        match self {
            Syntax::Xml => super::xml::escape_into(value, out),
            Syntax::PValues { .. } | Syntax::Text(_) | Syntax::YealinkKeyFile => {
                super::xml::controls_to_spaces(value, out);
            }
        }
    }

    /// [`Syntax::escape_value`] for output being built as bytes.
    pub(crate) fn escape_value_bytes(self, value: &str, out: &mut Vec<u8>) {
        match self {
            Syntax::Xml => super::xml::escape_into_bytes(value, out),
            Syntax::PValues { .. } | Syntax::Text(_) | Syntax::YealinkKeyFile => {
                super::xml::controls_to_spaces_bytes(value, out);
            }
        }
    }

    /// The media type a rendered file of this syntax is served with.
    pub fn content_type(self) -> &'static str {
        match self {
            Syntax::PValues { binary: true } | Syntax::YealinkKeyFile => "application/octet-stream",
            Syntax::PValues { binary: false } | Syntax::Xml => "text/xml; charset=utf-8",
            Syntax::Text(_) => "text/plain; charset=utf-8",
        }
    }
}

/// The template name for a route's file: its canonical name with the MAC written `@mac`,
/// lower case. Grandstream files take their P-value source, `.pvalues`, instead of `.xml`.
pub fn template_name(route: &Route, syntax: Syntax) -> String {
    // Lower-cased first, so one replacement covers a MAC written in either case.
    let mut name = route.file().to_ascii_lowercase();
    if let Some(mac) = route.subject_mac() {
        let mac = mac.compact(MacCase::Lower);
        if name.contains(&mac) {
            name = name.replace(&mac, "@mac");
        }
    }
    if encrypted_by_name(route) {
        if let Some(dot) = name.rfind('.') {
            name.truncate(dot);
            name.push_str(if route.vendor() == Vendor::Panasonic {
                ".cfg"
            } else {
                ".xml"
            });
        }
    }
    if let Syntax::PValues { .. } = syntax {
        if let Some(stem) = name.strip_suffix(".xml") {
            name.truncate(stem.len());
        }
        name.push_str(".pvalues");
    }
    name
}

/// Whether the file's name says it is encrypted: Panasonic `Config<MAC>.enc` (KX-UTG,
/// `openssl enc -a`) and Obihai `<mac>.aes` (`SYNC -A=aes …`). They are rendered from the plain
/// name's template (`.cfg`, `.xml`), and served only to a device with an encryption setting: a
/// phone told the file is encrypted must never receive plaintext under that name.
pub fn encrypted_by_name(route: &Route) -> bool {
    let suffix = match route.vendor() {
        Vendor::Panasonic => ".enc",
        Vendor::Obihai => ".aes",
        _ => return false,
    };
    let file = route.file().as_bytes();
    file.len()
        .checked_sub(suffix.len())
        .and_then(|at| file.get(at..))
        .is_some_and(|end| end.eq_ignore_ascii_case(suffix.as_bytes()))
}

/// The media type of a file served as stored, by extension.
pub fn static_content_type(file: &str) -> &'static str {
    let ext = file
        .rsplit_once('.')
        .map_or(String::new(), |(_, e)| e.to_ascii_lowercase());
    match ext.as_str() {
        "xml" => "text/xml; charset=utf-8",
        "cfg" | "conf" | "boot" | "md5" | "txt" | "cnf" | "htm" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "wav" => "audio/wav",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{self, RouteConfig};
    use crate::Request;

    fn r(path: &str) -> Route {
        route::route(&Request::get(path), &RouteConfig::default()).unwrap()
    }

    #[test]
    fn syntaxes_and_template_names() {
        let cases = [
            (
                "/cfg000b82123456.xml",
                Some(Syntax::PValues { binary: false }),
                "cfg@mac.pvalues",
            ),
            (
                "/cfg000b82123456",
                Some(Syntax::PValues { binary: true }),
                "cfg@mac.pvalues",
            ),
            (
                "/cfggxp2170.xml",
                Some(Syntax::PValues { binary: false }),
                "cfggxp2170.pvalues",
            ),
            (
                "/cfg.xml",
                Some(Syntax::PValues { binary: false }),
                "cfg.pvalues",
            ),
            (
                "/0004f2123456-phone.cfg",
                Some(Syntax::Xml),
                "@mac-phone.cfg",
            ),
            (
                "/y000000000066.cfg",
                Some(Syntax::Text(TextFlavor::Yealink)),
                "y000000000066.cfg",
            ),
            (
                "/001565123456.boot",
                Some(Syntax::Text(TextFlavor::Yealink)),
                "@mac.boot",
            ),
            (
                "/algom0022EE123456.conf",
                Some(Syntax::Text(TextFlavor::Plain)),
                "algom@mac.conf",
            ),
            ("/00562b123456.xml", Some(Syntax::Xml), "@mac.xml"),
            (
                "/snomD785-000413123456.htm",
                Some(Syntax::Text(TextFlavor::Plain)),
                "snomd785-@mac.htm",
            ),
            (
                "/000b82123456/phonebook.xml",
                Some(Syntax::Xml),
                "@mac/phonebook.xml",
            ),
            // Encrypted names render from the plain name's template.
            (
                "/Config0080F0123456.enc",
                Some(Syntax::Text(TextFlavor::Panasonic)),
                "config@mac.cfg",
            ),
            ("/9cadef123456.aes", Some(Syntax::Xml), "@mac.xml"),
        ];
        for (path, syntax, name) in cases {
            let route = r(path);
            assert_eq!(Syntax::of(&route), syntax, "{path}");
            assert_eq!(template_name(&route, syntax.unwrap()), name, "{path}");
        }
        assert_eq!(Syntax::of(&r("/sip.ld")), None);
        assert_eq!(Syntax::of(&r("/algom0022EE123456.md5")), None);
    }
}
