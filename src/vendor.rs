//! The vendors provedge knows, and who made a MAC (its OUI).

use std::fmt;

use crate::mac::Mac;

/// A phone maker whose provisioning requests provedge recognises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Vendor {
    Grandstream,
    Polycom,
    Yealink,
    Algo,
    Cisco,
    Aastra,
    Snom,
    Fanvil,
    Gigaset,
    Panasonic,
    Htek,
    Obihai,
}

impl Vendor {
    /// Every vendor, in a stable order (used for docs, tables and property tests).
    pub const ALL: [Vendor; 12] = [
        Vendor::Grandstream,
        Vendor::Polycom,
        Vendor::Yealink,
        Vendor::Algo,
        Vendor::Cisco,
        Vendor::Aastra,
        Vendor::Snom,
        Vendor::Fanvil,
        Vendor::Gigaset,
        Vendor::Panasonic,
        Vendor::Htek,
        Vendor::Obihai,
    ];

    /// The lower-case name used in store keys, JSON and configuration.
    pub const fn name(self) -> &'static str {
        match self {
            Vendor::Grandstream => "grandstream",
            Vendor::Polycom => "polycom",
            Vendor::Yealink => "yealink",
            Vendor::Algo => "algo",
            Vendor::Cisco => "cisco",
            Vendor::Aastra => "aastra",
            Vendor::Snom => "snom",
            Vendor::Fanvil => "fanvil",
            Vendor::Gigaset => "gigaset",
            Vendor::Panasonic => "panasonic",
            Vendor::Htek => "htek",
            Vendor::Obihai => "obihai",
        }
    }

    /// Parses a vendor name case-insensitively; `mitel` is an alias of `aastra`, `poly` and
    /// `linksys` of `polycom` and `cisco`, as operators name them in directories and configs.
    pub fn from_name(name: &str) -> Option<Vendor> {
        let lower = name.to_ascii_lowercase();
        let v = match lower.as_str() {
            "mitel" => Vendor::Aastra,
            "poly" => Vendor::Polycom,
            "linksys" | "sipura" => Vendor::Cisco,
            "obi" => Vendor::Obihai,
            _ => return Vendor::ALL.into_iter().find(|v| v.name() == lower),
        };
        Some(v)
    }

    /// The vendor that registered the MAC's OUI, from the IEEE registry as summarised in
    /// vendors.md §1.4. Only OUIs attributed there with confidence [V] are built in; the
    /// unverified ones (Yealink `c4fc22`/`44dbd2`) can be added per deployment
    /// (`RouteConfig::extra_ouis`). Cisco owns over a thousand OUIs: only those FusionPBX keys on
    /// and the MPP example are listed, because the User-Agent and path identify Cisco better.
    pub fn by_oui(mac: &Mac) -> Option<Vendor> {
        let oui = mac.oui();
        OUIS.iter()
            .find(|(o, _)| *o == oui)
            .map(|(_, vendor)| *vendor)
    }
}

/// The built-in OUI attributions (for the nginx exporter, which writes them into regexes).
pub(crate) fn builtin_ouis() -> &'static [([u8; 3], Vendor)] {
    OUIS
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Vendor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Vendor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Vendor, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Vendor::from_name(&s)
            .ok_or_else(|| serde::de::Error::custom(format_args!("unknown vendor {s:?}")))
    }
}

const fn oui(v: u32) -> [u8; 3] {
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

/// OUI → vendor, vendors.md §1.4. Spectralink (`00907a`) is mapped to Polycom as FusionPBX does.
const OUIS: &[([u8; 3], Vendor)] = &[
    (oui(0x000b82), Vendor::Grandstream),
    (oui(0xc074ad), Vendor::Grandstream),
    (oui(0xec74d7), Vendor::Grandstream),
    (oui(0x0004f2), Vendor::Polycom),
    (oui(0x64167f), Vendor::Polycom),
    (oui(0x482567), Vendor::Polycom),
    (oui(0x00907a), Vendor::Polycom),
    (oui(0x001565), Vendor::Yealink),
    (oui(0x805ec0), Vendor::Yealink),
    (oui(0x805e0c), Vendor::Yealink),
    (oui(0x249ad8), Vendor::Yealink),
    (oui(0x001873), Vendor::Cisco),
    (oui(0xa44c11), Vendor::Cisco),
    (oui(0x0021a0), Vendor::Cisco),
    (oui(0x30e4db), Vendor::Cisco),
    (oui(0x002155), Vendor::Cisco),
    (oui(0x68efbd), Vendor::Cisco),
    (oui(0x00562b), Vendor::Cisco),
    (oui(0x000e08), Vendor::Cisco),
    (oui(0x00045a), Vendor::Cisco),
    (oui(0x000625), Vendor::Cisco),
    (oui(0x0022ee), Vendor::Algo),
    (oui(0x000413), Vendor::Snom),
    (oui(0x0c383e), Vendor::Fanvil),
    (oui(0x00085d), Vendor::Aastra),
    (oui(0x08000f), Vendor::Aastra),
    (oui(0x1400e9), Vendor::Aastra),
    (oui(0x7c2f80), Vendor::Gigaset),
    (oui(0x002104), Vendor::Gigaset),
    (oui(0x589ec6), Vendor::Gigaset),
    (oui(0x14b370), Vendor::Gigaset),
    (oui(0x0080f0), Vendor::Panasonic),
    (oui(0xbcc342), Vendor::Panasonic),
    (oui(0x080023), Vendor::Panasonic),
    (oui(0x001fc1), Vendor::Htek),
    (oui(0x9cadef), Vendor::Obihai),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_resolve() {
        for v in Vendor::ALL {
            assert_eq!(Vendor::from_name(v.name()), Some(v));
            assert_eq!(Vendor::from_name(&v.name().to_uppercase()), Some(v));
        }
        assert_eq!(Vendor::from_name("Mitel"), Some(Vendor::Aastra));
        assert_eq!(Vendor::from_name("nokia"), None);
    }

    #[test]
    fn ouis_identify_their_makers() {
        let mac = |s: &str| Mac::parse_compact(s).unwrap();
        assert_eq!(
            Vendor::by_oui(&mac("000b82123456")),
            Some(Vendor::Grandstream)
        );
        assert_eq!(Vendor::by_oui(&mac("0022EE123456")), Some(Vendor::Algo));
        assert_eq!(Vendor::by_oui(&mac("00562b123456")), Some(Vendor::Cisco));
        assert_eq!(Vendor::by_oui(&mac("aabbcc123456")), None);
    }
}
