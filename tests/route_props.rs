//! Properties of recognition that hold for every input, not just the table's.

use proptest::prelude::*;
use provedge::route::{self, RouteConfig};
use provedge::{Mac, MacCase, Method, Request, Scope, Vendor};

/// Every device file-name form per vendor; `{mac}` is filled in with the MAC in a random case.
const DEVICE_FORMS: &[(Vendor, &str)] = &[
    (Vendor::Grandstream, "cfg{mac}"),
    (Vendor::Grandstream, "cfg{mac}.bin"),
    (Vendor::Grandstream, "cfg{mac}.xml"),
    (Vendor::Grandstream, "{mac}/phonebook.xml"),
    (Vendor::Polycom, "{mac}.cfg"),
    (Vendor::Polycom, "{mac}-phone.cfg"),
    (Vendor::Polycom, "{mac}-registration.cfg"),
    (Vendor::Polycom, "{mac}-sip.cfg"),
    (Vendor::Polycom, "{mac}-features.cfg"),
    (Vendor::Polycom, "{mac}-site.cfg"),
    (Vendor::Polycom, "{mac}-web.cfg"),
    (Vendor::Polycom, "{mac}-license.cfg"),
    (Vendor::Polycom, "{mac}-directory.xml"),
    (Vendor::Yealink, "{mac}.boot"),
    (Vendor::Yealink, "{mac}.cfg"),
    (Vendor::Yealink, "{mac}-local.cfg"),
    (Vendor::Yealink, "{mac}-contact.xml"),
    (Vendor::Yealink, "{mac}_Security.enc"),
    (Vendor::Algo, "algom{mac}.conf"),
    (Vendor::Algo, "algom{mac}-i.conf"),
    (Vendor::Algo, "algom{mac}.conf.md5"),
    (Vendor::Algo, "algom{mac}.md5"),
    (Vendor::Cisco, "{mac}.xml"),
    (Vendor::Cisco, "ATA{mac}.cnf.xml"),
    (Vendor::Cisco, "SEP{mac}.cnf.xml"),
    (Vendor::Cisco, "SIP{mac}.cnf"),
    (Vendor::Cisco, "Cisco/CP-8841-3PCC/{mac}.cfg"),
    (Vendor::Aastra, "{mac}.cfg"),
    (Vendor::Aastra, "{mac}.tuz"),
    (Vendor::Aastra, "MN_{mac}.cfg"),
    (Vendor::Snom, "snomD785-{mac}.htm"),
    (Vendor::Snom, "{mac}.xml"),
    (Vendor::Fanvil, "{mac}.cfg"),
    (Vendor::Gigaset, "{mac}.xml"),
    (Vendor::Panasonic, "Config{mac}.cfg"),
    (Vendor::Htek, "cfg{mac}.xml"),
    (Vendor::Htek, "{mac}.cfg"),
    (Vendor::Obihai, "{mac}.xml"),
    (Vendor::Obihai, "{mac}.aes"),
];

fn mixed_case(mac: &Mac, mask: u16) -> String {
    mac.compact(MacCase::Lower)
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if mask & (1 << i) != 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_device_form_routes_back_to_its_mac(
        bytes in prop::array::uniform6(any::<u8>()).prop_filter("not all zero", |b| *b != [0; 6]),
        form in 0..DEVICE_FORMS.len(),
        mask in any::<u16>(),
    ) {
        let mac = Mac::from_bytes(bytes);
        let (vendor, template) = DEVICE_FORMS[form];
        // The vendor's directory is the weakest evidence, so shared names resolve even for MACs
        // whose OUI belongs to no one; a MAC with another maker's OUI may resolve to that maker.
        let path = format!("/prov/{}/{}", vendor.name(), template.replace("{mac}", &mixed_case(&mac, mask)));
        let route = route::route(&Request::get(path.clone()), &RouteConfig::default())
            .map_err(|e| TestCaseError::fail(format!("{path}: {e}")))?;
        prop_assert_eq!(route.mac(), Some(mac), "{}", path);
        prop_assert_eq!(route.scope(), Scope::Device);
        let oui_vendor = Vendor::by_oui(&mac);
        if oui_vendor.is_none() || oui_vendor == Some(vendor) {
            prop_assert_eq!(route.vendor(), vendor, "{}", path);
        }
        prop_assert!(route.key().as_str().contains(&mac.to_string()), "{}", route.key());
    }

    #[test]
    fn arbitrary_text_never_panics(method in "\\PC{0,8}", target in "\\PC{0,300}", ua in "\\PC{0,200}") {
        let req = Request::new(Method::parse(&method), target).with_header("User-Agent", ua);
        if let Err(e) = route::route(&req, &RouteConfig::default()) {
            prop_assert!((400..500).contains(&e.status()));
            let _ = e.to_string();
        }
    }

    #[test]
    fn arbitrary_bytes_percent_encoded_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), ua in prop::collection::vec(any::<u8>(), 0..100)) {
        let encoded: String = bytes.iter().map(|b| format!("%{b:02x}")).collect();
        let req = Request::get(format!("/{encoded}")).with_header("User-Agent", String::from_utf8_lossy(&ua));
        let _ = route::route(&req, &RouteConfig::default());
    }

    #[test]
    fn vendor_shaped_noise_never_panics(
        prefix in prop::sample::select(vec!["cfg", "algom", "algop", "y000000000", "SEP", "snom", "Config", "MN_", "f0", "spa", ""]),
        middle in "[0-9a-fA-FxX:._-]{0,20}",
        suffix in prop::sample::select(vec![".xml", ".cfg", ".conf", ".md5", ".conf.md5", "-phone.cfg", ".boot", "_Security.enc", ".htm", ""]),
        ua in prop::sample::select(vec!["", "Grandstream Model HW GXP2170 SW 1 DevId 000b82123456", "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56", "Algo"]),
    ) {
        let req = Request::get(format!("/{prefix}{middle}{suffix}")).with_header("User-Agent", ua);
        match route::route(&req, &RouteConfig::default()) {
            Ok(r) => prop_assert!(!r.file().is_empty() && !r.key().as_str().is_empty()),
            Err(e) => prop_assert!((400..500).contains(&e.status())),
        }
    }
}
