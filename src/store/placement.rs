//! Where each key lives when a store is split between a key-value store and an object store
//! (the Worker's Workers KV `STORE` and R2 `BUCKET`), and the store's generation.
//!
//! Small, hot records (device records, variables, last-seen, uploads) belong in KV; templates
//! and stored files (firmware, tones, images, pre-rendered files) in R2, which streams large
//! objects and answers `Range`. `provedge store push` and the Worker decide with the same
//! [`Placement`], so a key is always read where it was written.
//!
//! A pushed store also has a **generation** ([`GENERATION_KEY`]): the hash of the manifest of
//! every key's content, written last by `store push`. A host may cache any store value under
//! the generation it was read in: every input of every file changes the generation, so a steady
//! request costs one read (the generation) instead of one per key.

use serde::Deserialize;

/// The key holding the store's generation (a hash of the manifest), written last by a push.
pub const GENERATION_KEY: &str = "store/generation";
/// The key holding the manifest of the last push: every key with the hash of its content.
pub const MANIFEST_KEY: &str = "store/manifest.json";

/// Which backend holds a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The key-value store (Workers KV).
    Kv,
    /// The object store (R2).
    Objects,
}

/// The key prefixes (within a tenant's namespace) that live in the key-value store; every
/// other key lives in the object store when there is one.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Placement {
    pub kv_prefixes: Vec<String>,
}

impl Default for Placement {
    /// Device records, variables, last-seen records, uploads and the store's own keys in KV;
    /// templates and stored files in the object store.
    fn default() -> Placement {
        Placement {
            kv_prefixes: ["devices/", "vars/", "last-seen/", "uploads/", "store/"]
                .map(String::from)
                .to_vec(),
        }
    }
}

impl Placement {
    /// Where `key` lives, given whether there is an object store at all.
    pub fn backend(&self, key: &str, has_objects: bool) -> Backend {
        if !has_objects {
            return Backend::Kv;
        }
        let within = strip_namespace(key);
        if self
            .kv_prefixes
            .iter()
            .any(|p| within.starts_with(p.as_str()))
        {
            Backend::Kv
        } else {
            Backend::Objects
        }
    }
}

/// The key without its tenant namespace (`tenants/<name>/`).
fn strip_namespace(key: &str) -> &str {
    let Some(rest) = key
        .strip_prefix(super::TENANTS)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return key;
    };
    rest.split_once('/').map_or(key, |(_, within)| within)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_in_kv_files_in_objects() {
        let p = Placement::default();
        assert_eq!(p.backend("devices/000b82123456.json", true), Backend::Kv);
        assert_eq!(
            p.backend("tenants/acme/vars/global.json", true),
            Backend::Kv
        );
        assert_eq!(
            p.backend("templates/yealink/@mac.cfg", true),
            Backend::Objects
        );
        assert_eq!(
            p.backend("tenants/acme/algo/algo-8188.fw", true),
            Backend::Objects
        );
        assert_eq!(p.backend("templates/yealink/@mac.cfg", false), Backend::Kv);
        assert_eq!(p.backend(GENERATION_KEY, true), Backend::Kv);
    }
}
