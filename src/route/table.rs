//! The request families: every file name a phone asks for, one row per name shape.
//!
//! Rows are tried in order and the first shape that matches wins, so names spanning a
//! directory come first, then exact names,
//! then MAC forms (vendors.md §10: "MAC forms before model forms"), then model forms, then
//! free-form parts. A row that several vendors share (`<mac>.cfg`, `<mac>.xml`,
//! `cfg<mac>.xml`) lists every claimant; [`super::resolve`] settles which one by User-Agent,
//! OUI and configuration. A claimant marked [`Claim::hint`] is only chosen on such evidence.

use super::pattern::ModelRule as R;
use super::pattern::Seg::{self, Lit as L, Model as Mdl, Part as P};
use super::{Kind, Scope};
use crate::mac::MacCase;
use crate::vendor::Vendor::{self, *};

const M: Seg = Seg::Mac(None);
const MU: Seg = Seg::Mac(Some(MacCase::Upper));

/// A vendor's claim on a name shape.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Claim {
    pub vendor: Vendor,
    /// Only chosen when the User-Agent, OUI or configuration points at this vendor.
    pub needs_evidence: bool,
}

const fn by(vendor: Vendor) -> Claim {
    Claim {
        vendor,
        needs_evidence: false,
    }
}

const fn hint(vendor: Vendor) -> Claim {
    Claim {
        vendor,
        needs_evidence: true,
    }
}

/// One name shape and what it means.
#[derive(Debug)]
pub(crate) struct Family {
    pub pattern: &'static [Seg],
    /// The canonical spelling when it differs from the pattern (`cfg<mac>.bin` → `cfg<mac>`).
    pub canon: Option<&'static [Seg]>,
    /// What a GET/HEAD of it fetches; `None` for upload-only names (logs).
    pub read: Option<Kind>,
    /// Whether phones PUT/POST it.
    pub write: bool,
    /// Overrides the scope the pattern implies (a MAC slot means device, a model slot model).
    pub scope: Option<Scope>,
    pub claims: &'static [Claim],
}

impl Family {
    const fn get(pattern: &'static [Seg], kind: Kind, claims: &'static [Claim]) -> Family {
        Family {
            pattern,
            canon: None,
            read: Some(kind),
            write: false,
            scope: None,
            claims,
        }
    }

    const fn put(pattern: &'static [Seg], claims: &'static [Claim]) -> Family {
        Family {
            pattern,
            canon: None,
            read: None,
            write: true,
            scope: None,
            claims,
        }
    }

    const fn and_put(self) -> Family {
        Family {
            write: true,
            ..self
        }
    }

    const fn canon(self, canon: &'static [Seg]) -> Family {
        Family {
            canon: Some(canon),
            ..self
        }
    }

    const fn scope(self, scope: Scope) -> Family {
        Family {
            scope: Some(scope),
            ..self
        }
    }

    /// How many `/`-separated path segments the pattern spans (1 for a plain file name).
    pub fn depth(&self) -> usize {
        1 + self
            .pattern
            .iter()
            .map(|s| match s {
                Seg::Lit(l) => l.matches('/').count(),
                _ => 0,
            })
            .sum::<usize>()
    }

    /// The scope a match of this row has.
    pub fn scope_of(&self) -> Scope {
        self.scope.unwrap_or_else(|| {
            if self.pattern.iter().any(|s| matches!(s, Seg::Mac(_))) {
                Scope::Device
            } else if self.pattern.iter().any(|s| matches!(s, Seg::Model(_))) {
                Scope::Model
            } else {
                Scope::Generic
            }
        })
    }
}

use Kind::{Asset, Checksum, Config, Directory, Firmware, Key};

const GS: &[Claim] = &[by(Grandstream)];
const POLY: &[Claim] = &[by(Polycom)];
const YEA: &[Claim] = &[by(Yealink)];
const ALGO: &[Claim] = &[by(Algo)];
const CISCO: &[Claim] = &[by(Cisco)];
const AASTRA: &[Claim] = &[by(Aastra)];
const SNOM: &[Claim] = &[by(Snom)];
const GIGA: &[Claim] = &[by(Gigaset)];
const PANA: &[Claim] = &[by(Panasonic)];
const OBI: &[Claim] = &[by(Obihai)];

/// Every recognised name shape, in matching order.
pub(crate) const FAMILIES: &[Family] = &[
    // ---- names spanning a directory: more specific than any file name alone ----------
    Family::get(
        &[L("Cisco/CP-"), Mdl(R::Mpp), L("-3PCC/"), M, L(".cfg")],
        Config,
        CISCO,
    )
    .canon(&[M, L(".cfg")]),
    Family::get(&[M, L("/phonebook.xml")], Directory, GS),
    // Remote phonebooks at the URL the phone's configuration names (Yealink
    // `remote_phonebook.data.N.url`, Snom `<setting-files>`, Fanvil `<xmlContact>`):
    // `phonebook/<vendor>/<mac>.xml` (the tenant's and the device group's contacts) and
    // `phonebook/<vendor>.xml` (the tenant's), rendered from `<mac>-phonebook.xml` and
    // `phonebook.xml` like Grandstream's.
    Family::get(&[L("phonebook/yealink/"), M, L(".xml")], Directory, YEA)
        .canon(&[M, L("-phonebook.xml")]),
    Family::get(&[L("phonebook/snom/"), M, L(".xml")], Directory, SNOM)
        .canon(&[M, L("-phonebook.xml")]),
    Family::get(
        &[L("phonebook/fanvil/"), M, L(".xml")],
        Directory,
        &[by(Fanvil)],
    )
    .canon(&[M, L("-phonebook.xml")]),
    Family::get(&[L("phonebook/yealink.xml")], Directory, YEA).canon(&[L("phonebook.xml")]),
    Family::get(&[L("phonebook/snom.xml")], Directory, SNOM).canon(&[L("phonebook.xml")]),
    Family::get(&[L("phonebook/fanvil.xml")], Directory, &[by(Fanvil)])
        .canon(&[L("phonebook.xml")]),
    // ---- exact names ------------------------------------------------------------------
    Family::get(&[L("cfg.xml")], Config, GS),
    // Grandstream's name; also the file the other phonebook vendors' phonebooks are kept as
    // (`yealink/phonebook.xml`), so their User-Agent, OUI or directory says whose.
    Family::get(
        &[L("phonebook.xml")],
        Directory,
        &[by(Grandstream), hint(Yealink), hint(Snom), hint(Fanvil)],
    ),
    // FusionPBX's phonebook name (`?file=directory.xml`, `<mac>/directory.xml`): the
    // User-Agent or OUI says whose; served from the vendor's `phonebook.xml`.
    Family::get(
        &[L("directory.xml")],
        Directory,
        &[hint(Yealink), hint(Snom), hint(Fanvil)],
    )
    .canon(&[L("phonebook.xml")]),
    Family::get(&[L("boot.bin")], Firmware, GS),
    Family::get(&[L("bt-110.bin")], Firmware, GS),
    Family::get(&[L("html110.bin")], Firmware, GS),
    Family::get(&[L("vocbt.bin")], Firmware, GS),
    Family::get(&[L("vp.bin")], Firmware, GS),
    Family::get(&[L("000000000000.cfg")], Config, POLY),
    Family::get(&[L("000000000000-directory.xml")], Directory, POLY),
    Family::get(&[L("000000000000-license.cfg")], Config, POLY),
    Family::get(&[L("features.cfg")], Config, POLY),
    Family::get(&[L("site.cfg")], Config, POLY),
    Family::get(&[L("sip.cfg")], Config, POLY),
    Family::get(&[L("common.cfg")], Config, POLY),
    Family::get(&[L("phone1.cfg")], Config, POLY),
    Family::get(&[L("sip.ld")], Firmware, POLY),
    Family::get(&[L("bootblock.ld")], Firmware, POLY),
    Family::get(&[L("y000000000000.boot")], Config, YEA),
    Family::get(&[L("directory_setting.xml")], Asset, YEA),
    Family::get(&[L("favorite_setting.xml")], Asset, YEA),
    Family::get(&[L("super_search.xml")], Asset, YEA),
    Family::get(&[L("init.cfg")], Config, CISCO),
    Family::get(&[L("XMLDefault.cnf.xml")], Config, CISCO),
    Family::get(&[L("SIPDefault.cnf")], Config, CISCO),
    Family::get(&[L("dialplan.xml")], Config, CISCO),
    Family::get(&[L("OS79XX.TXT")], Firmware, CISCO),
    Family::get(&[L("ITLFile.tlv")], Key, CISCO),
    Family::get(&[L("RINGLIST.XML")], Asset, CISCO),
    Family::get(&[L("DISTINCTIVERINGLIST.XML")], Asset, CISCO),
    Family::get(&[L("aastra.cfg")], Config, AASTRA),
    Family::get(&[L("startup.cfg")], Config, AASTRA),
    Family::get(&[L("aastra.tuz")], Config, AASTRA),
    Family::get(&[L("startup.tuz")], Config, AASTRA),
    Family::get(&[L("security.tuz")], Key, AASTRA),
    Family::get(&[L("MN_Generic.cfg")], Config, AASTRA),
    Family::get(&[L("gui_lang.xml")], Asset, SNOM),
    Family::get(&[L("web_lang.xml")], Asset, SNOM),
    Family::get(&[L("provisioning.xml")], Config, GIGA),
    Family::get(&[L("ConfigCommon.cfg")], Config, PANA),
    Family::get(&[L("ConfigCom.cfg")], Config, PANA),
    // ---- device (MAC) names -----------------------------------------------------------
    // Grandstream: legacy binary, its 2023 `.bin` name, XML; Htek copies `cfg<mac>.xml`.
    Family::get(&[L("cfg"), M], Config, GS),
    Family::get(&[L("cfg"), M, L(".bin")], Config, GS).canon(&[L("cfg"), M]),
    Family::get(
        &[L("cfg"), M, L(".xml")],
        Config,
        &[by(Grandstream), hint(Htek)],
    ),
    // FusionPBX's nginx rules answer `cfg<mac>.cfg` with the XML; so do we.
    Family::get(&[L("cfg"), M, L(".cfg")], Config, GS).canon(&[L("cfg"), M, L(".xml")]),
    // GRP2612W per gs_tools ("XXX double-check this!"): vendors.md [U].
    Family::get(&[L("dev"), M, L(".cfg")], Config, GS),
    // Polycom per-device files; overrides and directories are also uploaded.
    Family::get(&[M, L("-phone.cfg")], Config, POLY).and_put(),
    Family::get(&[M, L("-web.cfg")], Config, POLY).and_put(),
    Family::get(&[M, L("-registration.cfg")], Config, POLY),
    Family::get(&[M, L("-sip.cfg")], Config, POLY),
    Family::get(&[M, L("-features.cfg")], Config, POLY),
    Family::get(&[M, L("-site.cfg")], Config, POLY),
    Family::get(&[M, L("-user.cfg")], Config, POLY),
    Family::get(&[M, L("-license.cfg")], Config, POLY),
    Family::get(&[M, L("-directory.xml")], Directory, POLY).and_put(),
    Family::put(&[M, L("-calls.xml")], POLY),
    Family::put(&[M, L("-app.log")], POLY),
    Family::put(&[M, L("-boot.log")], POLY),
    Family::put(&[M, L("-system.cfg")], POLY),
    // Yealink.
    Family::get(&[M, L(".boot")], Config, YEA),
    Family::get(&[M, L("-local.cfg")], Config, YEA).and_put(),
    Family::get(&[M, L("-contact.xml")], Directory, YEA).and_put(),
    Family::get(&[M, L("_Security.enc")], Key, YEA),
    // Shared per-device names, settled by User-Agent, OUI, configuration.
    Family::get(
        &[M, L(".cfg")],
        Config,
        &[
            by(Yealink),
            by(Polycom),
            by(Fanvil),
            by(Aastra),
            by(Htek),
            hint(Cisco),
        ],
    ),
    Family::get(
        &[M, L(".xml")],
        Config,
        &[by(Cisco), by(Snom), by(Gigaset), by(Obihai)],
    ),
    Family::get(&[M, L(".enc")], Key, YEA),
    Family::get(&[M, L("-init.xml")], Config, OBI),
    Family::get(&[M, L(".aes")], Config, OBI),
    Family::get(&[M, L(".obi")], Config, OBI),
    Family::get(&[M, L(".tuz")], Config, AASTRA),
    Family::get(&[L("MN_"), M, L(".cfg")], Config, AASTRA),
    // Algo: upper-case MAC; `algo<MAC>` is the older FusionPBX spelling of `algom<MAC>`.
    Family::get(&[L("algom"), M, L(".conf")], Config, ALGO),
    Family::get(&[L("algom"), M, L("-i.conf")], Config, ALGO),
    Family::get(&[L("algom"), M, L(".md5")], Checksum, ALGO),
    Family::get(&[L("algom"), M, L(".conf.md5")], Checksum, ALGO).canon(&[
        L("algom"),
        M,
        L(".md5"),
    ]),
    Family::get(&[L("algom"), M, L("-i.md5")], Checksum, ALGO),
    Family::get(&[L("algom"), M, L("-i.conf.md5")], Checksum, ALGO).canon(&[
        L("algom"),
        M,
        L("-i.md5"),
    ]),
    Family::get(&[L("algo"), M, L(".conf")], Config, ALGO).canon(&[L("algom"), M, L(".conf")]),
    Family::get(&[L("algo"), M, L(".md5")], Checksum, ALGO).canon(&[L("algom"), M, L(".md5")]),
    Family::get(&[L("algo"), M, L(".conf.md5")], Checksum, ALGO).canon(&[L("algom"), M, L(".md5")]),
    // Cisco ATA, 79xx, MPP directory form.
    Family::get(&[L("ATA"), MU, L(".cnf.xml")], Config, CISCO),
    Family::get(&[L("SEP"), MU, L(".cnf.xml")], Config, CISCO),
    Family::get(&[L("SIP"), MU, L(".cnf")], Config, CISCO),
    Family::get(&[L("CTLSEP"), MU, L(".tlv")], Key, CISCO),
    Family::get(&[L("ITLSEP"), MU, L(".tlv")], Key, CISCO),
    // Snom, Panasonic.
    Family::get(
        &[L("snom"), Mdl(R::Snom), L("-"), MU, L(".htm")],
        Config,
        SNOM,
    ),
    Family::get(&[L("C520-WiMi_"), MU, L(".cfg")], Config, SNOM),
    Family::get(&[L("Config"), M, L(".cfg")], Config, PANA),
    Family::get(&[L("Config"), M, L(".enc")], Config, PANA),
    Family::get(&[L("Config"), M, L(".e1c")], Config, PANA),
    Family::get(&[L("Config"), M, L(".e2c")], Config, PANA),
    Family::get(&[L("Config"), M, L(".e3c")], Config, PANA),
    // ---- model names --------------------------------------------------------------------
    Family::get(&[L("cfg"), Mdl(R::Grandstream), L(".xml")], Config, GS),
    Family::get(&[Mdl(R::Grandstream), L("fw.bin")], Firmware, GS),
    Family::get(
        &[L("y000000000"), Mdl(R::YealinkCode), L(".cfg")],
        Config,
        YEA,
    ),
    Family::get(
        &[L("y000000000"), Mdl(R::YealinkCode), L("_Security.enc")],
        Key,
        YEA,
    ),
    Family::get(&[L("y000000000"), Mdl(R::YealinkCode), L(".enc")], Key, YEA),
    Family::get(&[L("algop"), Mdl(R::Digits4), L(".conf")], Config, ALGO),
    Family::get(&[L("algop"), Mdl(R::Digits4), L("-i.conf")], Config, ALGO),
    Family::get(&[L("algop"), Mdl(R::Digits4), L(".md5")], Checksum, ALGO),
    Family::get(
        &[L("algop"), Mdl(R::Digits4), L(".conf.md5")],
        Checksum,
        ALGO,
    )
    .canon(&[L("algop"), Mdl(R::Digits4), L(".md5")]),
    Family::get(&[L("algop"), Mdl(R::Digits4), L("-i.md5")], Checksum, ALGO),
    Family::get(
        &[L("algop"), Mdl(R::Digits4), L("-i.conf.md5")],
        Checksum,
        ALGO,
    )
    .canon(&[L("algop"), Mdl(R::Digits4), L("-i.md5")]),
    Family::get(&[L("algop"), Mdl(R::Digits4), L("-tones.zip")], Asset, ALGO),
    Family::get(
        &[L("algop"), Mdl(R::Digits4), L("-tones.md5")],
        Checksum,
        ALGO,
    ),
    Family::get(
        &[L("algop"), Mdl(R::Digits4), L("-tones.zip.md5")],
        Checksum,
        ALGO,
    )
    .canon(&[L("algop"), Mdl(R::Digits4), L("-tones.md5")]),
    Family::get(
        &[L("algo-"), Mdl(R::Digits4), L("-"), P, L(".fw")],
        Firmware,
        ALGO,
    ),
    // `.fw.md5` before `.md5`: a free-form part would otherwise swallow the `.fw`.
    Family::get(
        &[L("algo-"), Mdl(R::Digits4), L("-"), P, L(".fw.md5")],
        Checksum,
        ALGO,
    )
    .canon(&[L("algo-"), Mdl(R::Digits4), L("-"), P, L(".md5")]),
    Family::get(
        &[L("algo-"), Mdl(R::Digits4), L("-"), P, L(".md5")],
        Checksum,
        ALGO,
    ),
    Family::get(&[L("spa"), Mdl(R::SpaPsn), L(".cfg")], Config, CISCO),
    Family::get(&[L("ata"), Mdl(R::Digits3), L(".cfg")], Config, CISCO),
    Family::get(&[Mdl(R::Mpp), L("-3PCC.xml")], Config, CISCO),
    Family::get(&[Mdl(R::Aastra), L(".cfg")], Config, AASTRA),
    Family::get(&[Mdl(R::Aastra), L(".tuz")], Config, AASTRA),
    Family::get(&[L("snom"), Mdl(R::Snom), L(".htm")], Config, SNOM),
    Family::get(
        &[L("snom"), Mdl(R::Snom), L("-firmware.xml")],
        Firmware,
        SNOM,
    ),
    Family::get(
        &[L("ConfigKX-"), Mdl(R::Panasonic), L(".cfg")],
        Config,
        PANA,
    ),
    Family::get(&[L("KX-"), Mdl(R::Panasonic), L(".cfg")], Config, PANA),
    Family::get(&[Mdl(R::FanvilCommon), L(".cfg")], Config, &[by(Fanvil)]),
    // ---- free-form names ----------------------------------------------------------------
    Family::get(&[L("algo-"), P, L(".fw")], Firmware, ALGO),
    Family::get(&[L("algo-"), P, L(".fw.md5")], Checksum, ALGO).canon(&[L("algo-"), P, L(".md5")]),
    Family::get(&[L("algo-"), P, L(".md5")], Checksum, ALGO),
    Family::get(&[P, L(".sip.ld")], Firmware, POLY).scope(Scope::Model),
    Family::get(&[P, L("_Security.enc")], Key, YEA),
    Family::get(&[P, L(".enc")], Key, YEA),
    Family::get(&[P, L(".rom")], Firmware, YEA),
    Family::get(&[P, L(".lang")], Asset, YEA),
    Family::get(&[P, L(".ld")], Firmware, &[hint(Polycom)]),
    Family::get(&[P, L(".bin")], Firmware, &[hint(Grandstream)]),
    Family::get(&[P, L(".fw")], Firmware, &[hint(Algo)]),
    Family::get(&[P, L(".zip")], Asset, &[hint(Algo)]),
    Family::get(&[P, L(".md5")], Checksum, &[hint(Algo)]),
];

/// Extensions of static files (images, ringtones, firmware) a recognised phone may fetch from
/// any directory; they are served as stored, under `<vendor>/<name>`.
pub(crate) const ASSET_EXTENSIONS: &[(&str, Kind)] = &[
    ("png", Asset),
    ("jpg", Asset),
    ("jpeg", Asset),
    ("gif", Asset),
    ("bmp", Asset),
    ("wav", Asset),
    ("mp3", Asset),
    ("zip", Asset),
    ("img", Firmware),
    ("bin", Firmware),
    ("rom", Firmware),
    ("fw", Firmware),
    ("ld", Firmware),
];

/// The per-device main file of each vendor: what the FusionPBX query form
/// `/app/provision/?mac=<mac>` answers with when it names no file.
pub(crate) fn main_device_file(vendor: Vendor) -> (&'static str, &'static str) {
    match vendor {
        Grandstream | Htek => ("cfg", ".xml"),
        Polycom | Yealink | Fanvil | Aastra => ("", ".cfg"),
        Algo => ("algom", ".conf"),
        Cisco | Snom | Gigaset | Obihai => ("", ".xml"),
        Panasonic => ("Config", ".cfg"),
    }
}

/// The case a vendor's phones expect MACs in inside file names (vendors.md §1.2, FusionPBX
/// `format_address`). Patterns may force a case (Cisco's `SEP<MAC>` is upper case while
/// Cisco's `$MA` names are lower case).
pub(crate) fn mac_case(vendor: Vendor) -> MacCase {
    match vendor {
        Algo | Aastra | Snom | Gigaset | Panasonic => MacCase::Upper,
        Grandstream | Polycom | Yealink | Cisco | Fanvil | Htek | Obihai => MacCase::Lower,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_well_formed() {
        for f in FAMILIES {
            assert!(!f.claims.is_empty(), "{:?}", f.pattern);
            assert!(f.read.is_some() || f.write, "{:?}", f.pattern);
            let macs = f
                .pattern
                .iter()
                .filter(|s| matches!(s, Seg::Mac(_)))
                .count();
            assert!(macs <= 1, "{:?}", f.pattern);
            if let Some(c) = f.canon {
                for slot in c.iter().filter(|s| !matches!(s, Seg::Lit(_))) {
                    assert!(
                        f.pattern.contains(slot),
                        "canonical form uses a slot the pattern lacks: {:?}",
                        f.pattern
                    );
                }
            }
        }
    }

    #[test]
    fn no_two_rows_have_the_same_shape() {
        for (i, a) in FAMILIES.iter().enumerate() {
            for b in &FAMILIES[i + 1..] {
                assert_ne!(
                    a.pattern, b.pattern,
                    "duplicate row: list every claimant in one row"
                );
            }
        }
    }
}
