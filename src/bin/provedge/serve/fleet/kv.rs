//! A Worker deployment's records as the fleet pages read them: its Workers KV namespace, where
//! the Worker keeps device records, variables and last-seen records by default
//! ([`provedge::store::placement::Placement`]), read through wrangler
//! (`provedge fleet --kv-namespace-id ID [--local --persist-to DIR]`).
//!
//! A wrangler process costs a second or two, so nothing here runs one per device: a listing is
//! one `kv key list --prefix` (`devices/`, `last-seen/`, `tenants/`, each tenant's), the values
//! of a page are one `kv bulk get` (100 keys a process against the account, its limit), and
//! both are kept for `--kv-cache-secs` (30): a page viewed again, sorted or filtered inside that
//! time runs no wrangler at all. Runs are one at a time (local state is one SQLite file), and
//! a page that finds another's run under way waits for it and takes its answer.
//!
//! The values kept are bounded: past `max_values` (a few times `server.fleet.max_devices`) the
//! expired ones go, and if that is not enough, all of them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use provedge::Lookup;
use tokio::sync::Mutex;

use crate::store_push::wrangler::Wrangler;

/// A KV namespace read through wrangler, with what it answered lately.
pub struct KvStore {
    wrangler: Arc<Wrangler>,
    /// How long a listing or value is used before wrangler is asked again.
    ttl: Duration,
    /// Values kept at most.
    max_values: usize,
    /// Where the key files of `kv bulk get` are written (removed on drop).
    scratch: PathBuf,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    /// Keys under a prefix, by prefix, with when they were listed.
    listings: HashMap<String, (Instant, Arc<Vec<String>>)>,
    /// Values by key (`None`: no value), with when they were read.
    values: HashMap<String, (Instant, Option<Vec<u8>>)>,
}

impl KvStore {
    /// Reads the namespace `wrangler` names, keeping answers for `ttl` and at most
    /// `max_values` values.
    pub fn new(wrangler: Wrangler, ttl: Duration, max_values: usize) -> Result<KvStore, String> {
        let scratch =
            std::env::temp_dir().join(format!("provedge-fleet-kv-{}", std::process::id()));
        std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
        Ok(KvStore {
            wrangler: Arc::new(wrangler),
            ttl,
            max_values: max_values.max(1),
            scratch,
            cache: Mutex::new(Cache::default()),
        })
    }

    /// Which namespace in which storage, for the start-up line.
    pub fn describe(&self) -> String {
        self.wrangler.describe()
    }

    /// The keys under `prefix`, listed at most `ttl` ago.
    pub async fn keys(&self, prefix: &str) -> Result<Arc<Vec<String>>, String> {
        let mut cache = self.cache.lock().await;
        if let Some((at, keys)) = cache.listings.get(prefix) {
            if at.elapsed() < self.ttl {
                return Ok(Arc::clone(keys));
            }
        }
        let wrangler = Arc::clone(&self.wrangler);
        let owned = prefix.to_owned();
        let keys = tokio::task::spawn_blocking(move || wrangler.kv_list(&owned))
            .await
            .map_err(|_| "wrangler kv key list: the task failed".to_owned())??;
        let keys = Arc::new(keys);
        cache
            .listings
            .insert(prefix.to_owned(), (Instant::now(), Arc::clone(&keys)));
        Ok(keys)
    }

    /// The values of `keys`, in their order: those read at most `ttl` ago as they were, the
    /// others in one `kv bulk get`. A failed run fails every key it was asked for (and keeps
    /// nothing: the next page asks again).
    pub async fn read(&self, keys: &[String]) -> Vec<Lookup> {
        let mut cache = self.cache.lock().await;
        let fresh = |at: &Instant| at.elapsed() < self.ttl;
        let mut wanted: Vec<String> = keys
            .iter()
            .filter(|k| !cache.values.get(*k).is_some_and(|(at, _)| fresh(at)))
            .cloned()
            .collect();
        wanted.sort();
        wanted.dedup();
        let mut failed: Option<String> = None;
        if !wanted.is_empty() {
            let wrangler = Arc::clone(&self.wrangler);
            let scratch = self.scratch.clone();
            let asked = wanted.clone();
            let answer =
                tokio::task::spawn_blocking(move || wrangler.kv_bulk_get(&asked, &scratch))
                    .await
                    .unwrap_or_else(|_| Err("wrangler kv bulk get: the task failed".into()));
            match answer {
                Ok(values) => {
                    let now = Instant::now();
                    if cache.values.len() + wanted.len() > self.max_values {
                        cache.values.retain(|_, (at, _)| fresh(at));
                        if cache.values.len() + wanted.len() > self.max_values {
                            cache.values.clear();
                        }
                    }
                    for (key, value) in wanted.iter().zip(values) {
                        cache.values.insert(key.clone(), (now, value));
                    }
                }
                Err(e) => failed = Some(e),
            }
        }
        keys.iter()
            .map(|key| match (cache.values.get(key), &failed) {
                (Some((at, value)), _) if fresh(at) || failed.is_none() => match value {
                    Some(bytes) => Lookup::Found(bytes.as_slice().into()),
                    None => Lookup::Missing,
                },
                (_, Some(why)) => Lookup::Failed(format!("{key}: {why}")),
                // Read just now but not kept: more keys than the cache holds.
                (_, None) => Lookup::Failed(format!("{key}: not read (over the value cache)")),
            })
            .collect()
    }
}

impl Drop for KvStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}
