//! The data the User-Agent recognisers consult: model names that identify a vendor on their own,
//! model spellings that need mapping, and which MAC ranges settle a rebadged phone's vendor.
//!
//! Kept apart from the parsers so that adding a model is a one-line change to a table, and so
//! the tests can walk the tables. Every row names its source (vendors.md section or the public
//! repository it was read from).

use crate::mac::Mac;
use crate::vendor::Vendor;

/// Gigaset DECT bases that announce themselves *without* the word "Gigaset": the model, in
/// [`crate::model::Model`] form (lower case, spaces as `-`). A User-Agent of the Gigaset shape
/// `<model>/<version>[;<MAC>]` whose model is here is Gigaset even without a MAC.
///
/// Sources: WAZO `wazo_gigaset/common/common.py` (`N510 IP PRO`, `N720 DM PRO`, `N720-DM-PRO`),
/// the Gigaset wiki user-agent page (`N670 IP PRO`, `N870 IP PRO`, `N870 VI PRO`), vendors.md §7.
pub const GIGASET_MODELS: &[&str] = &[
    "n510-ip-pro",
    "n720-dm-pro",
    "n720-ip-pro",
    "n870-ip-pro",
    "n870e-ip-pro",
    "n870-vi-pro",
    "n670-ip-pro",
];

/// Aastra's short UA model names and the full model they stand for (WAZO
/// `wazo_aastra/common/common.py` `_UA_MODELS_MAP`; the first two are marked "not tested" there).
pub const AASTRA_SHORT_MODELS: &[(&str, &str)] = &[
    ("51i", "6751i"),
    ("53i", "6753i"),
    ("55i", "6755i"),
    ("57i", "6757i"),
];

/// Whether `mac` settles a UA that does not name its maker as `vendor`: the MAC's OUI is
/// attributed to `vendor` (vendors.md §1.4). Rebadged phones are settled the same way: a UA in
/// one maker's shape with another maker's OUI is not taken for the first maker.
pub fn mac_says(mac: Option<Mac>, vendor: Vendor) -> bool {
    mac.and_then(|m| Vendor::by_oui(&m)) == Some(vendor)
}

/// The full Aastra model for a UA spelling (`57i` → `6757i`), or the spelling itself.
pub fn aastra_model(ua_model: &str) -> &str {
    AASTRA_SHORT_MODELS
        .iter()
        .find(|(short, _)| short.eq_ignore_ascii_case(ua_model))
        .map_or(ua_model, |(_, full)| full)
}
