//! The store's key layout: one layout for every backend (a folder, Workers KV/R2, an HTTP
//! object store), so the same example store works under every host.
//!
//! ```text
//! devices/<mac>.json                      device record (lower-case 12-hex MAC)
//! vars/global.json                        variables for every device
//! vars/vendors/<vendor>.json              … for one vendor
//! vars/models/<vendor>/<model>.json       … for one model
//! vars/profiles/<profile>.json            … for one tenant/profile
//! templates/<vendor>/<model>/<name>       template for one model
//! templates/<vendor>/<name>               template for every model of the vendor
//! <vendor>/<file>                         a file served as stored (firmware, tones, pre-rendered)
//! uploads/<vendor>/<file>                 what phones upload
//! ```
//!
//! A template's `<name>` is the canonical file name with the MAC written `@mac`
//! (`@mac-phone.cfg`, `algom@mac.conf`, `y000000000066.cfg`). Grandstream templates hold
//! P-value text and end in `.pvalues` instead of `.xml` (`cfg@mac.pvalues` renders both the
//! XML `cfg<mac>.xml` and the legacy binary `cfg<mac>`).

pub mod device;
pub mod placement;
pub mod records;
pub mod vars;

pub use device::{DeviceAuth, DeviceRecord, Line, LineKey, UrlToken};
pub use records::RecordCache;
pub use vars::{merge, Layers};

use crate::key::StoreKey;
use crate::mac::Mac;
use crate::model::Model;
use crate::vendor::Vendor;

/// The folder that holds the named tenants' namespaces.
pub const TENANTS: &str = "tenants";
/// The folder (in a tenant's namespace) that holds what phones upload.
pub const UPLOADS: &str = "uploads";

/// A tenant's key prefix: `tenants/<name>/`, or empty for the default tenant (whose keys are
/// at the root).
pub fn namespace(tenant: Option<&str>) -> String {
    match tenant {
        Some(name) => format!("{TENANTS}/{name}/"),
        None => String::new(),
    }
}

/// Key of a device record.
pub fn device_key(mac: Mac) -> StoreKey {
    // A MAC is 12 lower-case hex digits: the key is valid by construction.
    let mut key = String::with_capacity(25);
    key.push_str("devices/");
    key.push_str(&mac.compact(crate::mac::MacCase::Lower));
    key.push_str(".json");
    StoreKey::trusted(key)
}

/// Key of the global variables.
pub fn global_vars_key() -> StoreKey {
    key("vars/global.json")
}

/// Key of a vendor's variables.
pub fn vendor_vars_key(vendor: Vendor) -> StoreKey {
    // Vendor names are fixed lower-case slugs: valid by construction.
    StoreKey::trusted(format!("vars/vendors/{vendor}.json"))
}

/// Key of a model's variables.
pub fn model_vars_key(vendor: Vendor, model: &Model) -> Option<StoreKey> {
    StoreKey::join(&["vars/models/", vendor.name(), "/", model.as_str(), ".json"])
}

/// Key of a profile's (tenant's) variables. `None` for a profile name that is not a safe key.
pub fn profile_vars_key(profile: &str) -> Option<StoreKey> {
    StoreKey::new(&format!("vars/profiles/{profile}.json")).filter(|_| !profile.contains('/'))
}

/// Template keys for a template name, most specific first.
pub fn template_keys(vendor: Vendor, model: Option<&Model>, name: &str) -> Vec<StoreKey> {
    let mut keys = Vec::with_capacity(2);
    if let Some(model) = model {
        keys.extend(StoreKey::join(&[
            "templates/",
            vendor.name(),
            "/",
            model.as_str(),
            "/",
            name,
        ]));
    }
    keys.extend(StoreKey::join(&["templates/", vendor.name(), "/", name]));
    keys
}

/// The merged variables of one device, reading through `read` (the host's store). The way
/// operators see what a device's templates get: `provedge vars <mac>`.
pub fn merged_vars_for(
    mac: &str,
    mut read: impl FnMut(&StoreKey) -> crate::Lookup,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mac: Mac = mac.parse().map_err(|e| format!("invalid MAC: {e}"))?;
    let dkey = device_key(mac);
    let device = match read(&dkey) {
        crate::Lookup::Found(bytes) => {
            DeviceRecord::from_json(&bytes).map_err(|e| format!("{dkey}: {e}"))?
        }
        crate::Lookup::Missing => return Err(format!("no device {mac}")),
        crate::Lookup::Failed(reason) => return Err(format!("{dkey}: {reason}")),
    };
    let mut object =
        |key: &StoreKey| -> Result<Option<serde_json::Map<String, serde_json::Value>>, String> {
            match read(key) {
                crate::Lookup::Found(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(serde_json::Value::Object(map)) => Ok(Some(map)),
                    Ok(_) => Err(format!("{key}: not a JSON object")),
                    Err(e) => Err(format!(
                        "{key}: malformed JSON at line {} column {}",
                        e.line(),
                        e.column()
                    )),
                },
                crate::Lookup::Missing => Ok(None),
                crate::Lookup::Failed(reason) => Err(format!("{key}: {reason}")),
            }
        };
    let model = match &device.model {
        Some(m) => model_vars_key(device.vendor, m)
            .map(|k| object(&k))
            .transpose()?
            .flatten(),
        None => None,
    };
    let profile = match &device.profile {
        Some(p) => {
            object(&profile_vars_key(p).ok_or_else(|| format!("{dkey}: invalid profile name"))?)?
        }
        None => None,
    };
    let global = object(&global_vars_key())?;
    let vendor = object(&vendor_vars_key(device.vendor))?;
    let layers = Layers {
        global: global.as_ref(),
        vendor: vendor.as_ref(),
        model: model.as_ref(),
        profile: profile.as_ref(),
        device: Some(&device.vars),
    };
    Ok(layers.merged())
}

/// Keys built from the layout's literals and already-validated parts (a [`Mac`] prints as hex,
/// a [`Vendor`] as its lower-case name), so they are valid by construction.
fn key(s: &str) -> StoreKey {
    StoreKey::trusted(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout() {
        let mac = Mac::parse_compact("000B82123456").unwrap();
        assert_eq!(device_key(mac).as_str(), "devices/000b82123456.json");
        assert_eq!(global_vars_key().as_str(), "vars/global.json");
        assert_eq!(
            vendor_vars_key(Vendor::Yealink).as_str(),
            "vars/vendors/yealink.json"
        );
        let model = Model::new("T46S").unwrap();
        assert_eq!(
            model_vars_key(Vendor::Yealink, &model).unwrap().as_str(),
            "vars/models/yealink/t46s.json"
        );
        assert_eq!(
            profile_vars_key("Office").unwrap().as_str(),
            "vars/profiles/office.json"
        );
        assert!(profile_vars_key("../x").is_none());
        let keys: Vec<String> = template_keys(
            Vendor::Polycom,
            Some(&Model::new("vvx400").unwrap()),
            "@mac-phone.cfg",
        )
        .iter()
        .map(|k| k.to_string())
        .collect();
        assert_eq!(
            keys,
            [
                "templates/polycom/vvx400/@mac-phone.cfg",
                "templates/polycom/@mac-phone.cfg"
            ]
        );
    }
}
