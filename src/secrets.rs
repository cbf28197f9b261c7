//! Secrets referenced, never written: a value `{"secret": "NAME"}` in the configuration, or in
//! a variable layer's `encryption` setting, stands for the host's secret `NAME` (a Worker
//! secret set with `wrangler secret put`, an environment variable of the native server), so
//! passwords, users and token secrets live neither in the store (KV, R2, a bucket) nor in the
//! bundle.
//!
//! The configuration lists the names it uses (`"secrets": ["GS_XML_PASS"]`); the host reads
//! each one once, at start, into [`Secrets`], and a missing one refuses the start, naming it.
//! References in the configuration are replaced before it is parsed
//! ([`crate::Config::from_document_with`]); references in a variable layer are replaced when
//! the layer is read ([`Secrets::resolve`]), from the same table.

use std::sync::Arc;

use serde_json::Value;

use crate::config::ConfigError;
use crate::seeded_map::{Seeded, SeededMap};

/// The host's secrets the configuration names, by name. `Debug` never shows a value.
#[derive(Clone, Default)]
pub struct Secrets(Arc<SeededMap<String, String>>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        write!(f, "Secrets({names:?})")
    }
}

impl Secrets {
    /// Reads every name in `names` through `read` (the host's secret store); the first one
    /// missing is a [`ConfigError`] at `secrets`.
    pub fn load(
        names: &[String],
        mut read: impl FnMut(&str) -> Option<String>,
    ) -> Result<Secrets, ConfigError> {
        let mut table = SeededMap::with_capacity_and_hasher(names.len(), Seeded::default());
        for name in names {
            let value = read(name).ok_or_else(|| ConfigError {
                key: "secrets".into(),
                reason: format!("the host has no secret {name:?}"),
            })?;
            table.insert(name.clone(), value);
        }
        Ok(Secrets(Arc::new(table)))
    }

    /// Replaces every `{"secret": "NAME"}` in `value` with the secret; `path` names where
    /// `value` is, for the error that names an unknown secret.
    pub fn resolve(&self, value: &mut Value, path: &str) -> Result<(), ConfigError> {
        if let Some(name) = reference(value) {
            let secret = self.0.get(name).ok_or_else(|| ConfigError {
                key: path.to_owned(),
                reason: format!("secret {name:?} is not in the configuration's \"secrets\""),
            })?;
            *value = Value::String(secret.clone());
            return Ok(());
        }
        match value {
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    self.resolve(v, &join(path, key))?;
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    self.resolve(v, &join(path, &i.to_string()))?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The name in `{"secret": "NAME"}` (an object with that one key), if `value` is one.
fn reference(value: &Value) -> Option<&str> {
    let map = value.as_object()?;
    if map.len() != 1 {
        return None;
    }
    map.get("secret")?.as_str()
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_replaced_and_unknown_ones_named() {
        let secrets =
            Secrets::load(&["PASS".into()], |n| (n == "PASS").then(|| "s3cr3t".into())).unwrap();
        let mut v = serde_json::json!({"users": [{"user": "u", "password": {"secret": "PASS"}}]});
        secrets.resolve(&mut v, "policy").unwrap();
        assert_eq!(v["users"][0]["password"], "s3cr3t");
        let mut bad = serde_json::json!({"a": {"secret": "NOPE"}});
        let e = secrets.resolve(&mut bad, "").unwrap_err();
        assert_eq!(e.key, "a");
        assert!(!format!("{secrets:?}").contains("s3cr3t"));
        let missing = Secrets::load(&["GONE".into()], |_| None).unwrap_err();
        assert!(missing.reason.contains("GONE"));
    }
}
