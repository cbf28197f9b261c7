//! The names a phone asks for about itself, listed from the route table: what a tool must
//! request to see every file a device would get (`provedge devices check`), without a phone.

use super::pattern::Seg;
use super::table::{mac_case, FAMILIES};
use crate::mac::Mac;
use crate::vendor::Vendor;

/// Every device-scoped name `vendor` claims whose only variable part is the MAC, spelled as
/// its phones ask (`cfg000b82123456.xml`, `algom0022EE123456.conf`,
/// `phonebook/yealink/001565123456.xml`), once each, in table order. Names only uploaded are
/// left out; so are names with a model or free-form part, which no record decides.
pub fn device_files(vendor: Vendor, mac: Mac) -> Vec<String> {
    let mut files: Vec<String> = Vec::new();
    for family in FAMILIES {
        let claimed = family.claims.iter().any(|c| c.vendor == vendor);
        if !claimed || family.read.is_none() || family.scope_of() != super::Scope::Device {
            continue;
        }
        let spelled: Option<String> = family
            .pattern
            .iter()
            .map(|seg| match *seg {
                Seg::Lit(lit) => Some(lit.to_owned()),
                Seg::Mac(case) => Some(mac.compact(case.unwrap_or(mac_case(vendor)))),
                Seg::Model(_) | Seg::Part => None,
            })
            .collect();
        if let Some(file) = spelled.filter(|f| !files.contains(f)) {
            files.push(file);
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{self, RouteConfig, Scope};
    use crate::Request;

    fn mac(s: &str) -> Mac {
        s.parse().unwrap()
    }

    #[test]
    fn lists_each_vendors_own_names_spelled_as_its_phones_ask() {
        let gs = device_files(Vendor::Grandstream, mac("000b82123456"));
        assert!(gs.contains(&"cfg000b82123456.xml".to_owned()), "{gs:?}");
        assert!(
            gs.contains(&"000b82123456/phonebook.xml".to_owned()),
            "{gs:?}"
        );
        let algo = device_files(Vendor::Algo, mac("0022ee123456"));
        assert!(
            algo.contains(&"algom0022EE123456.conf".to_owned()),
            "{algo:?}"
        );
        let yea = device_files(Vendor::Yealink, mac("001565123456"));
        assert!(yea.contains(&"001565123456.cfg".to_owned()), "{yea:?}");
        assert!(yea.contains(&"phonebook/yealink/001565123456.xml".to_owned()));
        // No other vendor's names, no model names, nothing twice.
        assert!(!yea
            .iter()
            .any(|f| f.contains("-phone.cfg") || f.starts_with("y0000")));
        let mut unique = yea.clone();
        unique.dedup();
        assert_eq!(unique.len(), yea.len());
    }

    /// Every name listed routes back to a device file of the same MAC, for every vendor (given
    /// the vendor, as a phone's User-Agent or OUI gives it).
    #[test]
    fn every_listed_name_routes_to_the_device() {
        let m = mac("c0ffee123456");
        for vendor in Vendor::ALL {
            let cfg = RouteConfig {
                extra_ouis: vec![route::OuiClaim {
                    oui: m.oui(),
                    vendor,
                }],
                ..RouteConfig::default()
            };
            let files = device_files(vendor, m);
            assert!(!files.is_empty(), "{vendor:?}");
            for file in files {
                let routed = route::route(&Request::get(format!("/{file}")), &cfg)
                    .unwrap_or_else(|e| panic!("{vendor:?} {file}: {e}"));
                assert_eq!(routed.vendor(), vendor, "{file}");
                assert_eq!(routed.scope(), Scope::Device, "{file}");
                assert_eq!(routed.subject_mac(), Some(m), "{file}");
            }
        }
    }
}
