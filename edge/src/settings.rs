//! The Worker's own settings: the `worker` section of the configuration document, beside the
//! engine's (`{"engine": {…}, "worker": {…}}`, the one file format every host reads; the core
//! takes `engine`, each host its own section).
//!
//! Parsed and checked once per isolate with the engine, so a wrong key refuses the start (a
//! clean 500 naming `worker.<key>` in the log) instead of failing requests one by one. Every
//! bound on what the Worker holds is here, with its default.

use provedge::store::placement::{Backend, Placement, GENERATION_KEY};
use provedge::ConfigError;
use serde::Deserialize;

/// `worker`: where keys live, how long reads are trusted, what the Worker may hold.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Key prefixes (within a tenant's namespace) that live in Workers KV (`STORE`); every
    /// other key lives in R2 (`BUCKET`) when it is bound. The same rule `provedge store push`
    /// writes by ([`Placement`]); default: device records, variables, last-seen, uploads and
    /// the store's own keys in KV, templates and stored files in R2.
    pub kv_prefixes: Vec<String>,
    /// How long an isolate trusts the store generation it read before reading it again: a
    /// pushed store's change is seen within this (plus KV's own propagation, about 60 s).
    pub generation_ttl_secs: u64,
    /// How long after an isolate first sees a new generation it still distrusts what KV
    /// answers for the keys under it: KV is eventually consistent (a value written by a push
    /// may be served old for about 60 s where it was read before), so a value read in this
    /// window is kept only `cache.ttl_secs`, never under the generation. R2 is strongly
    /// consistent and needs no such window. 0 for a store that is (Miniflare's).
    pub kv_propagation_secs: u64,
    /// The isolate's cache of store values.
    pub cache: CacheSettings,
    /// How long a value read under a generation is kept in the colo's Cache API (a named cache,
    /// `provedge`), where every isolate of the colo finds it; 0 turns that tier off.
    pub colo_cache_secs: u64,
    /// The largest R2 object read whole for the engine (templates, pre-rendered files); a larger
    /// one is a failed read. Stored files that are served as they are stream, whatever size.
    pub max_object_bytes: usize,
    /// A device's last-seen record is written at most once per this per isolate.
    pub last_seen_interval_secs: u64,
    /// How many devices' last-seen marks an isolate keeps (the bound of that table).
    pub last_seen_devices: usize,
    /// Adds `x-provedge-reads` to every answer: what the request read from KV, R2, the colo's
    /// cache and the isolate's; and `x-provedge-aes`: `workerd` when workerd's own AES-CBC
    /// encrypts files, `software` when the core's does. For tests and diagnosis; off in
    /// production.
    pub debug_reads: bool,
}

impl Default for WorkerSettings {
    fn default() -> WorkerSettings {
        WorkerSettings {
            kv_prefixes: Placement::default().kv_prefixes,
            generation_ttl_secs: 60,
            kv_propagation_secs: 60,
            cache: CacheSettings::default(),
            colo_cache_secs: 86_400,
            max_object_bytes: 1 << 20,
            last_seen_interval_secs: 300,
            last_seen_devices: 100_000,
            debug_reads: false,
        }
    }
}

/// `worker.cache`: the core's one-tier cache settings for the isolate.
pub use provedge::origin::cache::LocalCacheSettings as CacheSettings;

impl WorkerSettings {
    /// The `worker` section of a configuration document (defaults when it has none, or when the
    /// document is empty); errors name the key (`worker.cache.ttl_secs`).
    pub fn from_document(text: &str) -> Result<WorkerSettings, ConfigError> {
        if text.trim().is_empty() {
            return Ok(WorkerSettings::default());
        }
        let document: serde_json::Value = serde_json::from_str(text).map_err(|e| ConfigError {
            key: String::new(),
            reason: e.to_string(),
        })?;
        let Some(section) = document.get("worker") else {
            return Ok(WorkerSettings::default());
        };
        if !section.is_object() {
            return Err(ConfigError {
                key: "worker".into(),
                reason: "must be an object".into(),
            });
        }
        let settings: WorkerSettings = serde_path_to_error::deserialize(section).map_err(|e| {
            let path = e.path().to_string();
            ConfigError {
                key: match path.as_str() {
                    "." => "worker".to_owned(),
                    path => format!("worker.{path}"),
                },
                reason: e.into_inner().to_string(),
            }
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// What serde cannot check.
    fn validate(&self) -> Result<(), ConfigError> {
        // `store push` writes the generation where the placement says; the Worker reads it
        // with KV's edge cache (`cacheTtl`), so it must be a KV key.
        if self.placement().backend(GENERATION_KEY, true) != Backend::Kv {
            return Err(ConfigError {
                key: "worker.kv_prefixes".into(),
                reason: format!("must place {GENERATION_KEY} in KV (add \"store/\")"),
            });
        }
        if self.last_seen_devices == 0 {
            return Err(ConfigError {
                key: "worker.last_seen_devices".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// Which backend holds a key.
    pub fn placement(&self) -> Placement {
        Placement {
            kv_prefixes: self.kv_prefixes.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_a_section_and_errors_naming_the_key() {
        for text in ["", "{}", r#"{"engine": {}}"#, r#"{"mode": "serve"}"#] {
            assert_eq!(
                WorkerSettings::from_document(text).unwrap(),
                WorkerSettings::default(),
                "{text}"
            );
        }
        let set = WorkerSettings::from_document(
            r#"{"engine": {}, "worker": {"generation_ttl_secs": 1, "debug_reads": true,
                "cache": {"ttl_secs": 5, "max_bytes": 1024}}}"#,
        )
        .unwrap();
        assert_eq!(set.generation_ttl_secs, 1);
        assert!(set.debug_reads);
        assert_eq!(set.cache.core().ttl_secs, 5);
        assert_eq!(set.cache.core().local_bytes, 1024);
        assert_eq!(set.cache.core().shared_bytes, 0);
        assert_eq!(set.kv_prefixes, Placement::default().kv_prefixes);

        for (text, key) in [
            (r#"{"worker": {"ttl": 1}}"#, "worker.ttl"),
            (r#"{"worker": []}"#, "worker"),
            (
                r#"{"worker": {"cache": {"shared_bytes": 1}}}"#,
                "worker.cache.shared_bytes",
            ),
            (
                r#"{"worker": {"generation_ttl_secs": "soon"}}"#,
                "worker.generation_ttl_secs",
            ),
            (
                r#"{"worker": {"kv_prefixes": ["devices/"]}}"#,
                "worker.kv_prefixes",
            ),
            (
                r#"{"worker": {"last_seen_devices": 0}}"#,
                "worker.last_seen_devices",
            ),
        ] {
            let e = WorkerSettings::from_document(text).unwrap_err();
            assert_eq!(e.key, key, "{text}: {e}");
        }
    }
}
