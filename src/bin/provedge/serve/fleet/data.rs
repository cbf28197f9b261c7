//! Where the fleet pages' data comes from: the store's device records
//! (`[tenants/<name>/]devices/<mac>.json`), the last-seen records every host writes
//! (`[tenants/<name>/]last-seen/<mac>.json`, in the store or `server.last_seen_dir`), the
//! server's memory of recent fetches, and the core's merged variables.
//!
//! **Listing.** A folder is listed (`read_dir`, on the blocking pool, never on the event loop);
//! an origin store (`https://…`, `s3://…`) has no listing, so its devices are the keys of
//! `store/manifest.json`, the manifest `provedge store push` keeps beside a Worker's store,
//! and their last-seen records are read by key; a Worker's KV namespace is listed by prefix
//! through wrangler ([`KvStore`]). Either way at most `server.fleet.max_devices` devices are
//! read per page (the first by MAC), and each listed folder or prefix is read once.
//!
//! **Reads.** Records in a folder are read straight from their files, not through the
//! server's store cache, so a page of ten thousand devices does not push the phones' files out
//! of it; an origin's go through the store's reader (its cache and timeouts), a few at a time;
//! KV's in one `wrangler kv bulk get` a page.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use provedge::access::last_seen_key;
use provedge::policy::{PolicyConfig, UrlTokens};
use provedge::store::{namespace, DeviceRecord, TENANTS};
use provedge::{Lookup, Mac, MacCase, StoreKey};
use serde_json::Value;

use super::super::config::{BearerToken, FleetSettings};
use super::super::stores::Store;
use super::html::MASK;
use super::kv::KvStore;
use super::recent::Recent;
use super::view::{Detail, Device, Listing, Seen};

/// Largest record file read (device and last-seen records are a few hundred bytes).
const MAX_RECORD_BYTES: u64 = 64 << 10;
/// Origin reads in flight at once for one page.
const ORIGIN_BATCH: usize = 32;
/// The key that lists an origin store's keys.
const MANIFEST: &str = "store/manifest.json";

/// Where the pages' records are.
pub enum Source<'a> {
    /// A store as `serve` opens it.
    Store {
        store: &'a Store,
        /// The folder last-seen records are written under: `server.last_seen_dir`, or a
        /// folder store's own; `None` reads them from the store (an origin a Worker writes to).
        last_seen_dir: Option<&'a Path>,
    },
    /// A Worker's KV namespace, records and last-seen records alike (`provedge fleet
    /// --kv-namespace-id`).
    Kv(&'a KvStore),
}

/// What the fleet pages read, and who may read them.
pub struct Site<'a> {
    pub source: Source<'a>,
    /// The tenants, and the variables each treats as secret.
    pub policy: &'a PolicyConfig,
    pub settings: &'a FleetSettings,
    /// A running server's recent fetches; `None` for `provedge fleet`.
    pub recent: Option<&'a Recent>,
    /// `server.metrics_token`: when set, the pages ask for it.
    pub token: Option<&'a BearerToken>,
}

impl Site<'_> {
    /// The named tenants: those the policy configures, and those the store has a namespace
    /// for (`tenants/<name>/`), sorted.
    pub async fn tenants(&self) -> Vec<String> {
        let mut names: BTreeSet<String> =
            self.policy.tenants.iter().map(|t| t.name.clone()).collect();
        let mut folders: Vec<PathBuf> = self.folder().into_iter().collect();
        folders.extend(self.last_seen_dir().map(Path::to_path_buf));
        let found = blocking(move || {
            let mut found = BTreeSet::new();
            for folder in folders {
                if let Ok(entries) = std::fs::read_dir(folder.join(TENANTS)) {
                    for entry in entries.flatten().take(10_000) {
                        if entry.file_type().is_ok_and(|t| t.is_dir()) {
                            found.extend(entry.file_name().to_str().map(str::to_owned));
                        }
                    }
                }
            }
            found
        })
        .await
        .unwrap_or_default();
        names.extend(found);
        if self.folder().is_none() {
            if let Ok(keys) = self.keys_under("tenants/").await {
                for key in keys {
                    if let Some(name) = key
                        .strip_prefix("tenants/")
                        .and_then(|rest| rest.split_once('/'))
                        .map(|(name, _)| name)
                    {
                        names.insert(name.to_owned());
                    }
                }
            }
        }
        names.retain(|name| valid_tenant(name));
        names.into_iter().collect()
    }

    /// A tenant's devices: every device record and every last-seen record, at most
    /// `max_devices` of them (the first by MAC).
    pub async fn list(&self, tenant: Option<&str>) -> Listing {
        let max = self.settings.max_devices;
        let ns = namespace(tenant);
        let mut problems = Vec::new();
        let (with_record, records) = match self.folder() {
            Some(root) => {
                let dir = root.join(&ns).join("devices");
                match blocking(move || list_macs(&dir, max)).await {
                    Some(Ok(found)) => found,
                    Some(Err(e)) => {
                        problems.push(format!("{ns}devices/: {e}"));
                        (BTreeSet::new(), 0)
                    }
                    None => (BTreeSet::new(), 0),
                }
            }
            None => match self.keys_under(&format!("{ns}devices/")).await {
                Ok(keys) => macs_under(&keys, &format!("{ns}devices/"), max),
                Err(e) => {
                    problems.push(e);
                    (BTreeSet::new(), 0)
                }
            },
        };
        let (seen_macs, seen_count) = match (self.last_seen_dir(), &self.source) {
            (Some(dir), _) => {
                let dir = dir.join(&ns).join("last-seen");
                match blocking(move || list_macs(&dir, max)).await {
                    Some(Ok(found)) => found,
                    // No device seen yet: the writer makes the folder with the first record.
                    Some(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                        (BTreeSet::new(), 0)
                    }
                    Some(Err(e)) => {
                        problems.push(format!("{ns}last-seen/: {e}"));
                        (BTreeSet::new(), 0)
                    }
                    None => (BTreeSet::new(), 0),
                }
            }
            (None, Source::Kv(kv)) => {
                let prefix = format!("{ns}last-seen/");
                match kv.keys(&prefix).await {
                    Ok(keys) => macs_under(&keys, &prefix, max),
                    Err(e) => {
                        problems.push(e);
                        (BTreeSet::new(), 0)
                    }
                }
            }
            // An origin's last-seen records are found by the devices' keys.
            (None, Source::Store { .. }) => (with_record.clone(), 0),
        };
        let mut macs: BTreeSet<Mac> = with_record.union(&seen_macs).copied().collect();
        let truncated = macs.len() > max || records > max || seen_count > max;
        while macs.len() > max {
            macs.pop_last();
        }
        let macs: Vec<Mac> = macs.into_iter().collect();
        let record_keys: Vec<String> = macs
            .iter()
            .map(|m| format!("{ns}devices/{}.json", m.compact(MacCase::Lower)))
            .collect();
        let seen_keys: Vec<String> = macs
            .iter()
            .map(|m| last_seen_key(tenant, *m).as_str().to_owned())
            .collect();
        if let Source::Kv(kv) = &self.source {
            // Every value of the page in one wrangler run; the reads below find them kept.
            let wanted: Vec<String> = macs
                .iter()
                .zip(record_keys.iter().zip(&seen_keys))
                .flat_map(|(mac, (record, seen))| {
                    [
                        with_record.contains(mac).then(|| record.clone()),
                        seen_macs.contains(mac).then(|| seen.clone()),
                    ]
                })
                .flatten()
                .collect();
            let _ = kv.read(&wanted).await;
        }
        let records_read = self.read_records(&record_keys, &with_record, &macs).await;
        let seen_read = self.read_seen(&seen_keys, &seen_macs, &macs).await;
        let mut seen_found = 0;
        let devices: Vec<Device> = macs
            .iter()
            .zip(records_read.into_iter().zip(seen_read))
            .map(|(mac, (record, seen))| {
                let record = match record {
                    Lookup::Found(bytes) => DeviceRecord::from_json(&bytes)
                        .map(Some)
                        .map_err(|e| format!("{ns}devices/{mac}.json: {e}")),
                    Lookup::Missing => Ok(None),
                    Lookup::Failed(why) => Err(why),
                };
                if let Err(why) = &record {
                    problems.push(why.clone());
                }
                let seen = parse_seen(seen, &format!("{ns}last-seen/{mac}.json"), &mut problems);
                seen_found += usize::from(seen.is_some());
                Device::new(*mac, record, seen)
            })
            .collect();
        if problems.len() > 20 {
            let more = problems.len() - 20;
            problems.truncate(20);
            problems.push(format!("… and {more} more"));
        }
        Listing {
            read: devices.len(),
            devices,
            records,
            seen: if self.lists_seen() {
                seen_count
            } else {
                seen_found
            },
            truncated,
            max_devices: max,
            problems,
        }
    }

    /// One device: its record, last-seen record, recent fetches and merged variables (secret
    /// ones masked); `None` when the store knows nothing of it.
    pub async fn device(&self, tenant: Option<&str>, mac: Mac) -> Option<Detail> {
        let ns = namespace(tenant);
        let record_key = format!("{ns}devices/{}.json", mac.compact(MacCase::Lower));
        let seen_key = last_seen_key(tenant, mac);
        if let Source::Kv(kv) = &self.source {
            let _ = kv
                .read(&[record_key.clone(), seen_key.as_str().to_owned()])
                .await;
        }
        let record = match self
            .store_read(std::slice::from_ref(&record_key))
            .await
            .pop()
        {
            Some(Lookup::Found(bytes)) => DeviceRecord::from_json(&bytes)
                .map(Some)
                .map_err(|e| format!("{record_key}: {e}")),
            Some(Lookup::Failed(why)) => Err(why),
            Some(Lookup::Missing) | None => Ok(None),
        };
        let all = BTreeSet::from([mac]);
        let seen_lookup = self
            .read_seen(&[seen_key.as_str().to_owned()], &all, &[mac])
            .await
            .pop()
            .unwrap_or(Lookup::Missing);
        let seen = parse_seen(seen_lookup, seen_key.as_str(), &mut Vec::new());
        let recent = self.recent.map(|r| r.of(&seen_key));
        let heard_of = recent.as_ref().is_some_and(|r| !r.is_empty());
        if matches!(record, Ok(None)) && seen.is_none() && !heard_of {
            return None;
        }
        let vars = match &record {
            Ok(Some(_)) => self.merged_vars(&ns, mac).await.map(|mut vars| {
                provedge::store::vars::mask_secrets(&mut vars, &self.secret_vars(tenant), MASK);
                Some(vars)
            }),
            _ => Ok(None),
        };
        Some(Detail {
            mac,
            record,
            seen,
            recent,
            vars,
        })
    }

    /// The variables a tenant treats as secret beyond those named so (`…password…`,
    /// `…secret…`): its `url_tokens.secret_vars`, or the policy's default list when it has no
    /// URL tokens (the page masks more than a first-boot file, never less).
    fn secret_vars(&self, tenant: Option<&str>) -> Vec<String> {
        let rules = tenant
            .and_then(|name| self.policy.tenants.iter().find(|t| t.name == name))
            .map_or(&self.policy.default, |t| &t.rules);
        match &rules.url_tokens {
            Some(tokens) => tokens.secret_vars.clone(),
            None => serde_json::from_str::<UrlTokens>(r#"{"first_boot": "-"}"#)
                .map(|t| t.secret_vars)
                .unwrap_or_default(),
        }
    }

    /// The core's merged variables of a device ([`provedge::store::merged_vars_for`], what
    /// `provedge vars` prints), in the tenant's namespace: the core asks for keys, the store
    /// answers them, until it has what it needs (three rounds: record, then the layers).
    async fn merged_vars(&self, ns: &str, mac: Mac) -> Result<Value, String> {
        let mut found: HashMap<String, Lookup> = HashMap::new();
        for _ in 0..4 {
            let mut wanted: Vec<String> = Vec::new();
            let merged = provedge::store::merged_vars_for(&mac.to_string(), |key| {
                found.get(key.as_str()).cloned().unwrap_or_else(|| {
                    wanted.push(key.as_str().to_owned());
                    Lookup::Missing
                })
            });
            if wanted.is_empty() {
                return merged.map(Value::Object);
            }
            let keys: Vec<String> = wanted.iter().map(|k| format!("{ns}{k}")).collect();
            let answers = self.store_read(&keys).await;
            for (key, answer) in wanted.into_iter().zip(answers) {
                found.insert(key, answer);
            }
        }
        Err("variables: the store did not answer".into())
    }

    /// Device records of `macs`, by key; only those in `listed` are asked for.
    async fn read_records(
        &self,
        keys: &[String],
        listed: &BTreeSet<Mac>,
        macs: &[Mac],
    ) -> Vec<Lookup> {
        match self.folder() {
            Some(root) => read_files(root, keys, listed, macs).await,
            None => self.read_listed(keys, listed, macs).await,
        }
    }

    /// Last-seen records of `macs`, by key; only those in `listed` are asked for.
    async fn read_seen(
        &self,
        keys: &[String],
        listed: &BTreeSet<Mac>,
        macs: &[Mac],
    ) -> Vec<Lookup> {
        match self.last_seen_dir() {
            Some(dir) => read_files(dir.to_path_buf(), keys, listed, macs).await,
            None => self.read_listed(keys, listed, macs).await,
        }
    }

    async fn read_listed(
        &self,
        keys: &[String],
        listed: &BTreeSet<Mac>,
        macs: &[Mac],
    ) -> Vec<Lookup> {
        let mut out = vec![Lookup::Missing; keys.len()];
        let asked: Vec<usize> = (0..keys.len())
            .filter(|&i| macs.get(i).is_some_and(|m| listed.contains(m)))
            .collect();
        for batch in asked.chunks(ORIGIN_BATCH) {
            let batch_keys: Vec<String> = batch.iter().map(|&i| keys[i].clone()).collect();
            let answers = self.store_read(&batch_keys).await;
            for (&i, answer) in batch.iter().zip(answers) {
                out[i] = answer;
            }
        }
        out
    }

    /// The store folder records are read from; `None` for an origin or KV.
    fn folder(&self) -> Option<PathBuf> {
        match &self.source {
            Source::Store { store, .. } => store.folder(),
            Source::Kv(_) => None,
        }
    }

    /// The folder last-seen records are read from; `None` when they are read by key.
    fn last_seen_dir(&self) -> Option<&Path> {
        match &self.source {
            Source::Store { last_seen_dir, .. } => *last_seen_dir,
            Source::Kv(_) => None,
        }
    }

    /// Whether last-seen records are listed (a folder, KV), not only looked up by the
    /// devices' keys (an origin).
    fn lists_seen(&self) -> bool {
        self.last_seen_dir().is_some() || matches!(self.source, Source::Kv(_))
    }

    /// The keys under `prefix` of a store that is not a folder: KV's listing, or every key of
    /// an origin's manifest (the caller picks the prefix's).
    async fn keys_under(&self, prefix: &str) -> Result<Vec<String>, String> {
        match &self.source {
            Source::Kv(kv) => kv.keys(prefix).await.map(|keys| keys.to_vec()),
            Source::Store { .. } => self.manifest_keys().await,
        }
    }

    /// Reads keys through the store's reader, answers in the order asked.
    async fn store_read(&self, keys: &[String]) -> Vec<Lookup> {
        let store = match &self.source {
            Source::Kv(kv) => return kv.read(keys).await,
            Source::Store { store, .. } => store,
        };
        let typed: Vec<Option<StoreKey>> = keys.iter().map(|k| StoreKey::new(k)).collect();
        let asked: Vec<StoreKey> = typed.iter().flatten().cloned().collect();
        let (answers, _) = store.read(&asked).await;
        let mut by_key: HashMap<StoreKey, Lookup> = answers.into_iter().collect();
        typed
            .iter()
            .zip(keys)
            .map(|(key, raw)| match key {
                Some(key) => by_key
                    .remove(key)
                    .unwrap_or_else(|| Lookup::Failed(format!("{raw}: not read"))),
                None => Lookup::Failed(format!("{raw}: not a store key")),
            })
            .collect()
    }

    /// The keys `store/manifest.json` lists (an origin store's only listing).
    async fn manifest_keys(&self) -> Result<Vec<String>, String> {
        let unlisted = |why: &str| {
            format!(
                "{MANIFEST}: {why}; an HTTP or S3 store's devices are listed by the manifest \
                 `provedge store push` writes (or serve a folder)"
            )
        };
        match self.store_read(&[MANIFEST.to_owned()]).await.pop() {
            Some(Lookup::Found(bytes)) => {
                let manifest: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| unlisted(&format!("not JSON ({e})")))?;
                let keys = manifest
                    .get("keys")
                    .and_then(Value::as_object)
                    .ok_or_else(|| unlisted("no \"keys\" object"))?;
                Ok(keys.keys().cloned().collect())
            }
            Some(Lookup::Failed(why)) => Err(unlisted(&why)),
            Some(Lookup::Missing) | None => Err(unlisted("missing")),
        }
    }
}

/// A tenant name as a namespace: one plain store-key segment, as stored (lower case; no `/`,
/// `.` or `..`).
pub fn valid_tenant(name: &str) -> bool {
    let key = format!("{TENANTS}/{name}/x");
    !name.contains('/') && StoreKey::new(&key).is_some_and(|k| k.as_str() == key)
}

/// The MACs of `<mac>.json` files in `dir` (the first `max` by MAC), and how many there are.
fn list_macs(dir: &Path, max: usize) -> std::io::Result<(BTreeSet<Mac>, usize)> {
    let mut macs = BTreeSet::new();
    let mut count = 0;
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(mac) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".json"))
            .filter(|stem| stem.len() == 12)
            .and_then(|stem| Mac::parse_compact(stem).ok())
        else {
            continue;
        };
        count += 1;
        macs.insert(mac);
        if macs.len() > max {
            macs.pop_last();
        }
    }
    Ok((macs, count))
}

/// The MACs of `<prefix><mac>.json` keys (the first `max`), and how many there are.
fn macs_under(keys: &[String], prefix: &str, max: usize) -> (BTreeSet<Mac>, usize) {
    let mut macs = BTreeSet::new();
    let mut count = 0;
    for key in keys {
        let Some(mac) = key
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(".json"))
            .filter(|stem| stem.len() == 12)
            .and_then(|stem| Mac::parse_compact(stem).ok())
        else {
            continue;
        };
        count += 1;
        macs.insert(mac);
        if macs.len() > max {
            macs.pop_last();
        }
    }
    (macs, count)
}

/// Reads `keys` under `root` on the blocking pool; only those whose MAC is `listed`.
async fn read_files(
    root: PathBuf,
    keys: &[String],
    listed: &BTreeSet<Mac>,
    macs: &[Mac],
) -> Vec<Lookup> {
    let jobs: Vec<Option<String>> = keys
        .iter()
        .zip(macs)
        .map(|(key, mac)| listed.contains(mac).then(|| key.clone()))
        .collect();
    let count = jobs.len();
    blocking(move || {
        jobs.iter()
            .map(|key| match key {
                Some(key) => read_file(&root.join(key), key),
                None => Lookup::Missing,
            })
            .collect()
    })
    .await
    .unwrap_or_else(|| vec![Lookup::Failed("read task failed".into()); count])
}

/// One small file; a larger one is refused rather than read.
fn read_file(path: &Path, key: &str) -> Lookup {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Missing,
        Err(e) => return Lookup::Failed(format!("{key}: {}", e.kind())),
    };
    let mut bytes = Vec::new();
    match file.take(MAX_RECORD_BYTES + 1).read_to_end(&mut bytes) {
        Ok(n) if n as u64 > MAX_RECORD_BYTES => {
            Lookup::Failed(format!("{key}: larger than {MAX_RECORD_BYTES} bytes"))
        }
        Ok(_) => Lookup::Found(bytes.into()),
        Err(e) => Lookup::Failed(format!("{key}: {}", e.kind())),
    }
}

fn parse_seen(lookup: Lookup, key: &str, problems: &mut Vec<String>) -> Option<Seen> {
    match lookup {
        Lookup::Found(bytes) => match serde_json::from_slice::<Seen>(&bytes) {
            Ok(seen) => Some(seen),
            Err(e) => {
                problems.push(format!("{key}: not a last-seen record ({e})"));
                None
            }
        },
        Lookup::Missing => None,
        Lookup::Failed(why) => {
            problems.push(why);
            None
        }
    }
}

/// Runs file-system work on the blocking pool; `None` if it panicked.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(work).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_are_one_plain_segment() {
        for good in ["acme", "a-b_c.1"] {
            assert!(valid_tenant(good), "{good}");
        }
        for bad in ["", "..", ".", "a/b", "A", "a b", "<x>"] {
            assert!(!valid_tenant(bad), "{bad}");
        }
    }

    #[test]
    fn folders_and_manifests_list_the_first_macs() {
        let keys: Vec<String> = [
            "devices/001565000003.json",
            "devices/001565000001.json",
            "devices/001565000002.json",
            "devices/not-a-mac.json",
            "tenants/acme/devices/001565000009.json",
            "vars/global.json",
        ]
        .map(String::from)
        .to_vec();
        let (macs, count) = macs_under(&keys, "devices/", 2);
        assert_eq!(count, 3);
        let macs: Vec<String> = macs.iter().map(Mac::to_string).collect();
        assert_eq!(macs, ["001565000001", "001565000002"]);
        let (acme, _) = macs_under(&keys, "tenants/acme/devices/", 10);
        assert_eq!(acme.len(), 1);
        let dir = std::env::temp_dir().join(format!("provedge-fleet-list-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in [
            "001565000002.json",
            "001565000001.json",
            "x.json",
            "001565000003.json.tmp",
        ] {
            std::fs::write(dir.join(name), "{}").unwrap();
        }
        let (macs, count) = list_macs(&dir, 1).unwrap();
        assert_eq!((macs.len(), count), (1, 2));
        assert_eq!(
            macs.first().map(Mac::to_string).as_deref(),
            Some("001565000001")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
