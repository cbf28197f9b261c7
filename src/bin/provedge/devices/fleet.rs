//! One tenant's device records in a store folder: `devices/<mac>.json`, or
//! `tenants/<name>/devices/<mac>.json` for a named tenant.
//!
//! Records are read and written as the core's [`DeviceRecord`]: every record written is parsed
//! back by [`DeviceRecord::from_json`] before it replaces the old file, and the replacement is
//! atomic (a temporary file in the same folder, then a rename), so a phone never reads half a
//! record.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use provedge::store::{device_key, namespace, DeviceRecord};
use provedge::Mac;
use serde_json::{Map, Value};

/// A stored record: the core's typed record, plus what the core reads but never writes back
/// (`encryption` and `auth` hold keys and tokens, so [`DeviceRecord`] does not serialize them).
#[derive(Clone, Debug)]
pub struct Stored {
    pub record: DeviceRecord,
    /// The stored JSON of each field the typed record does not serialize, kept as it was.
    pub unserialized: Map<String, Value>,
}

impl Stored {
    /// A record not yet stored.
    pub fn new(record: DeviceRecord) -> Stored {
        Stored {
            record,
            unserialized: Map::new(),
        }
    }

    /// Parses a stored record as the core does, keeping the fields it does not write back.
    pub fn parse(bytes: &[u8]) -> Result<Stored, String> {
        let record = DeviceRecord::from_json(bytes)?;
        let Ok(Value::Object(mut raw)) = serde_json::from_slice(bytes) else {
            return Err("not a JSON object".into());
        };
        // A null is what an absent optional field reads as: only values are kept.
        let written = written_fields(&record);
        raw.retain(|k, v| !written.contains_key(k) && !v.is_null());
        Ok(Stored {
            record,
            unserialized: raw,
        })
    }

    /// The bytes of the record as stored: the typed record, then the fields it does not
    /// serialize. Parsed back before anything is written, so only what the core reads alike
    /// is ever stored.
    pub fn to_json(&self) -> Result<Vec<u8>, String> {
        /// The record's fields in their declared order, then the unserialized ones.
        #[derive(serde::Serialize)]
        struct AsStored<'a> {
            #[serde(flatten)]
            record: &'a DeviceRecord,
            #[serde(flatten)]
            unserialized: &'a Map<String, Value>,
        }
        let written = written_fields(&self.record);
        let unserialized: Map<String, Value> = self
            .unserialized
            .iter()
            .filter(|(k, _)| !written.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut bytes = serde_json::to_vec_pretty(&AsStored {
            record: &self.record,
            unserialized: &unserialized,
        })
        .map_err(|e| format!("cannot serialize the record: {e}"))?;
        bytes.push(b'\n');
        match DeviceRecord::from_json(&bytes) {
            Ok(back) if back == self.record => Ok(bytes),
            Ok(_) => Err("the record would not read back as written".into()),
            Err(e) => Err(format!("the record would not read back: {e}")),
        }
    }
}

fn written_fields(record: &DeviceRecord) -> Map<String, Value> {
    match serde_json::to_value(record) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// One tenant's `devices/` folder.
#[derive(Clone, Debug)]
pub struct Fleet {
    /// The folder holding `<mac>.json`.
    dir: PathBuf,
    /// The tenant's key prefix (`tenants/<name>/`, or empty), for messages.
    prefix: String,
}

impl Fleet {
    /// The fleet of `tenant` (`None`: the default tenant) in the store folder `root`.
    pub fn new(root: &Path, tenant: Option<&str>) -> Result<Fleet, String> {
        if let Some(name) = tenant {
            let ok = !name.is_empty()
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !ok {
                return Err(format!("tenant name {name:?} must be [a-z0-9_-]+"));
            }
        }
        let prefix = namespace(tenant);
        Ok(Fleet {
            dir: root.join(&prefix).join("devices"),
            prefix,
        })
    }

    /// The store key of a device's record, as messages name it.
    pub fn key(&self, mac: Mac) -> String {
        format!("{}{}", self.prefix, device_key(mac))
    }

    fn path(&self, mac: Mac) -> PathBuf {
        self.dir.join(format!("{mac}.json"))
    }

    /// Whether the namespace holds a record of `mac`; one the core cannot read counts too (an
    /// import replaces it whole all the same).
    pub fn holds(&self, mac: Mac) -> bool {
        !matches!(self.read(mac), Ok(None))
    }

    /// The record of `mac`, if there is one.
    pub fn read(&self, mac: Mac) -> Result<Option<Stored>, String> {
        match std::fs::read(self.path(mac)) {
            Ok(bytes) => Stored::parse(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: {e}", self.key(mac))),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                Ok(None)
            }
            Err(e) => Err(format!("{}: {e}", self.key(mac))),
        }
    }

    /// Every MAC with a record, in order. Files not named `<lower-case mac>.json` are not
    /// records the core would read, so they are left out.
    pub fn macs(&self) -> Result<Vec<Mac>, String> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("{}: {e}", self.dir.display())),
        };
        let mut macs = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", self.dir.display()))?;
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if let Ok(mac) = Mac::parse_compact(stem) {
                if mac.to_string() == stem {
                    macs.push(mac);
                }
            }
        }
        macs.sort();
        Ok(macs)
    }

    /// Stores a record atomically: written to a temporary file in the same folder, flushed to
    /// disk, then renamed over the old record.
    pub fn write(&self, stored: &Stored) -> Result<(), String> {
        let mac = stored.record.mac;
        let key = self.key(mac);
        let bytes = stored.to_json().map_err(|e| format!("{key}: {e}"))?;
        crate::store_files::write_atomic(&self.path(mac), &bytes).map_err(|e| format!("{key}: {e}"))
    }

    /// Removes a record; `false` when there was none.
    pub fn remove(&self, mac: Mac) -> Result<bool, String> {
        match std::fs::remove_file(self.path(mac)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(format!("{}: {e}", self.key(mac))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unserialized_fields_survive_a_rewrite() {
        let bytes = br#"{"mac":"001565123456","vendor":"yealink",
            "lines":[{"user":"1","password":"p","server":"s"}],
            "auth":{"token":"steady-1","first_boot_token":"boot-1"}}"#;
        let stored = Stored::parse(bytes).unwrap();
        assert_eq!(stored.unserialized.keys().collect::<Vec<_>>(), ["auth"]);
        let again = Stored::parse(&stored.to_json().unwrap()).unwrap();
        assert_eq!(again.record, stored.record);
        assert!(again
            .record
            .auth
            .unwrap()
            .token
            .unwrap()
            .matches("steady-1"));
    }

    #[test]
    fn tenant_names_are_store_namespaces() {
        let root = Path::new("/store");
        let mac = Mac::parse_compact("001565123456").unwrap();
        let acme = Fleet::new(root, Some("acme")).unwrap();
        assert_eq!(acme.key(mac), "tenants/acme/devices/001565123456.json");
        assert_eq!(
            Fleet::new(root, None).unwrap().key(mac),
            "devices/001565123456.json"
        );
        assert!(Fleet::new(root, Some("../x")).is_err());
        assert!(Fleet::new(root, Some("Acme")).is_err());
    }
}
