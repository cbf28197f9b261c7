//! The folder store behind the server: files read lazily, kept in a bounded cache, and checked
//! against the file system, so a changed file is served without a restart.
//!
//! A check is one `stat`: when the file's length, modification time and inode still match the
//! cached copy, the copy is served ([`Probe::Hit`]) on the async worker, since a stat costs
//! microseconds. Otherwise the caller reads it with [`CachedStore::load`] on the blocking pool;
//! that read takes the stamp from the open file (`fstat`), so the bytes and the stamp describe
//! the same inode (an atomic replace by rename is a new inode).
//!
//! A file checked less than `server.store_recheck_ms` ago (default 1000) is trusted without a
//! new stat, and so is a file found absent: under load, a device file costs about eight keys,
//! mostly absent ones, and eight stats per request is what separates a cache from the disk.
//! Set it to 0 to stat on every read. The cache is bounded by entries and bytes (least recently
//! used out first); files larger than an eighth of the byte bound are served but not kept; the
//! absent list has the same entry bound and starts over when full.

use std::fs::Metadata;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use provedge::seeded_map::SeededMap;
use provedge::{Blob, Lookup, StoreKey};

use crate::folder_store::FolderStore;

/// What a cache probe found.
pub enum Probe {
    /// The cached copy is current.
    Hit(Blob),
    /// No such file.
    Missing,
    /// Not cached, or changed: read it with [`CachedStore::load`].
    Read,
}

/// Identifies one version of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        }
    }
}

struct Entry {
    stamp: Stamp,
    bytes: Blob,
    /// Tick of the last use, for evicting the least recently used entry.
    used: u64,
    /// When the stamp was last compared with the file.
    checked: Instant,
}

#[derive(Default)]
struct Inner {
    entries: SeededMap<String, Entry>,
    bytes: usize,
    tick: u64,
    /// Keys found absent, and when.
    absent: SeededMap<String, Instant>,
}

/// A [`FolderStore`] with a bounded, self-validating cache.
pub struct CachedStore {
    folder: FolderStore,
    max_entries: usize,
    max_bytes: usize,
    recheck: Duration,
    inner: Mutex<Inner>,
}

impl CachedStore {
    pub fn new(
        folder: FolderStore,
        max_entries: usize,
        max_bytes: usize,
        recheck: Duration,
    ) -> CachedStore {
        CachedStore {
            folder,
            max_entries,
            max_bytes,
            recheck,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Where a key's file lives.
    pub fn path(&self, key: &StoreKey) -> PathBuf {
        self.folder.path(key)
    }

    /// The folder the keys are paths under.
    pub fn root(&self) -> &Path {
        self.folder.root()
    }

    /// Reads the keys of one fetch round: cache hits at once, the rest together on the blocking
    /// pool. Also returns how many came from the cache.
    pub async fn read(self: &Arc<Self>, keys: &[StoreKey]) -> (Vec<(StoreKey, Lookup)>, usize) {
        let mut found = Vec::with_capacity(keys.len());
        let mut misses = Vec::new();
        for (key, probe) in keys.iter().zip(self.probe_round(keys)) {
            match probe {
                Probe::Hit(bytes) => found.push((key.clone(), Lookup::Found(bytes))),
                Probe::Missing => found.push((key.clone(), Lookup::Missing)),
                Probe::Read => misses.push(key.clone()),
            }
        }
        let cached = keys.len() - misses.len();
        if !misses.is_empty() {
            let reader = Arc::clone(self);
            let wanted = misses.clone();
            match tokio::task::spawn_blocking(move || {
                wanted
                    .into_iter()
                    .map(|k| {
                        let lookup = reader.load(&k);
                        (k, lookup)
                    })
                    .collect::<Vec<_>>()
            })
            .await
            {
                Ok(loaded) => found.extend(loaded),
                Err(_) => found.extend(
                    misses
                        .into_iter()
                        .map(|k| (k, Lookup::Failed("store task failed".into()))),
                ),
            }
        }
        (found, cached)
    }

    /// What the cache says of every key of a fetch round, in order: a copy or an absence
    /// checked within `recheck` is answered at once, under one lock and one clock read for the
    /// whole round (a device file's round is about eight keys, and the server's workers share
    /// the lock); any other key is checked against its file (at most one `stat`, no read).
    fn probe_round(&self, keys: &[StoreKey]) -> Vec<Probe> {
        let now = Instant::now();
        let known: Vec<Option<Probe>> = match self.inner.lock() {
            Ok(mut inner) if !self.recheck.is_zero() => keys
                .iter()
                .map(|key| self.recent_in(&mut inner, key, now))
                .collect(),
            _ => Vec::new(),
        };
        let mut known = known.into_iter();
        keys.iter()
            .map(|key| match known.next().flatten() {
                Some(probe) => probe,
                None => self.checked(key, now),
            })
            .collect()
    }

    /// Answers from the cache when it was checked recently, else checks it against the file:
    /// at most one `stat`, no read.
    #[cfg(test)]
    fn probe(&self, key: &StoreKey) -> Probe {
        self.probe_round(std::slice::from_ref(key))
            .pop()
            .unwrap_or(Probe::Read)
    }

    /// Checks the cached copy of `key` against the file (one `stat`).
    fn checked(&self, key: &StoreKey, now: Instant) -> Probe {
        let meta = match std::fs::metadata(self.path(key)) {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => {
                self.absent(key, now);
                return Probe::Missing;
            }
            Err(e) if absent(&e) => {
                self.absent(key, now);
                return Probe::Missing;
            }
            // Let the read report it.
            Err(_) => return Probe::Read,
        };
        let stamp = Stamp::of(&meta);
        let Ok(mut inner) = self.inner.lock() else {
            return Probe::Read;
        };
        inner.absent.remove(key.as_str());
        inner.tick += 1;
        let tick = inner.tick;
        match inner.entries.get_mut(key.as_str()) {
            Some(entry) if entry.stamp == stamp => {
                entry.used = tick;
                entry.checked = now;
                Probe::Hit(entry.bytes.clone())
            }
            _ => Probe::Read,
        }
    }

    /// What the cache knows without a `stat`: a copy or an absence checked within `recheck`.
    fn recent_in(&self, inner: &mut Inner, key: &StoreKey, now: Instant) -> Option<Probe> {
        inner.tick += 1;
        let tick = inner.tick;
        if let Some(entry) = inner.entries.get_mut(key.as_str()) {
            if now.saturating_duration_since(entry.checked) < self.recheck {
                entry.used = tick;
                return Some(Probe::Hit(entry.bytes.clone()));
            }
            return None;
        }
        match inner.absent.get(key.as_str()) {
            Some(seen) if now.saturating_duration_since(*seen) < self.recheck => {
                Some(Probe::Missing)
            }
            _ => None,
        }
    }

    /// Notes that a key has no file (and drops any copy of it).
    fn absent(&self, key: &StoreKey, now: Instant) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if let Some(old) = inner.entries.remove(key.as_str()) {
            inner.bytes -= old.bytes.len();
        }
        if self.recheck.is_zero() {
            return;
        }
        if inner.absent.len() >= self.max_entries {
            // A scanner walking names: start over rather than track every probe.
            inner.absent.clear();
        }
        inner.absent.insert(key.as_str().to_owned(), now);
    }

    /// Reads a file (blocking) and remembers it when it fits.
    pub fn load(&self, key: &StoreKey) -> Lookup {
        let now = Instant::now();
        let mut file = match std::fs::File::open(self.path(key)) {
            Ok(file) => file,
            Err(e) if absent(&e) => {
                self.absent(key, now);
                return Lookup::Missing;
            }
            Err(e) => return Lookup::Failed(e.kind().to_string()),
        };
        let meta = match file.metadata() {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => {
                self.absent(key, now);
                return Lookup::Missing;
            }
            Err(e) => return Lookup::Failed(e.kind().to_string()),
        };
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        if let Err(e) = file.read_to_end(&mut bytes) {
            return Lookup::Failed(e.kind().to_string());
        }
        // A file that changed while being read gets a stamp that no longer matches, so the
        // next probe reads it again.
        let bytes = Blob::from(bytes);
        self.remember(key, Stamp::of(&meta), &bytes, now);
        Lookup::Found(bytes)
    }

    /// Files and bytes held.
    pub fn usage(&self) -> (usize, usize) {
        self.inner
            .lock()
            .map(|i| (i.entries.len(), i.bytes))
            .unwrap_or((0, 0))
    }

    fn remember(&self, key: &StoreKey, stamp: Stamp, bytes: &Blob, checked: Instant) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.absent.remove(key.as_str());
        if let Some(old) = inner.entries.remove(key.as_str()) {
            inner.bytes -= old.bytes.len();
        }
        if bytes.len() > self.max_bytes / 8 {
            return;
        }
        while !inner.entries.is_empty()
            && (inner.entries.len() >= self.max_entries
                || inner.bytes + bytes.len() > self.max_bytes)
        {
            let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(old) = inner.entries.remove(&oldest) {
                inner.bytes -= old.bytes.len();
            }
        }
        inner.tick += 1;
        let used = inner.tick;
        inner.bytes += bytes.len();
        inner.entries.insert(
            key.as_str().to_owned(),
            Entry {
                stamp,
                bytes: bytes.clone(),
                used,
                checked,
            },
        );
    }
}

/// Whether an error means "no such file" (including a path through a plain file).
fn absent(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> StoreKey {
        StoreKey::new(s).unwrap()
    }

    #[test]
    fn serves_from_cache_until_the_file_changes() {
        let dir = std::env::temp_dir().join(format!("provedge-store-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("vars")).unwrap();
        let store = CachedStore::new(FolderStore::new(&dir), 8, 1 << 20, Duration::ZERO);
        let k = key("vars/global.json");
        assert!(matches!(store.probe(&k), Probe::Missing));
        std::fs::write(dir.join("vars/global.json"), b"{}").unwrap();
        assert!(matches!(store.probe(&k), Probe::Read));
        assert_eq!(store.load(&k), Lookup::Found(b"{}".into()));
        assert!(matches!(store.probe(&k), Probe::Hit(b) if b == b"{}"));
        std::fs::write(dir.join("vars/global.json"), b"{\"a\":1}").unwrap();
        assert!(matches!(store.probe(&k), Probe::Read));
        std::fs::remove_file(dir.join("vars/global.json")).unwrap();
        assert!(matches!(store.probe(&k), Probe::Missing));
        assert_eq!(store.usage(), (0, 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stays_within_its_bounds() {
        let dir = std::env::temp_dir().join(format!("provedge-store-b-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("vars")).unwrap();
        let store = CachedStore::new(FolderStore::new(&dir), 3, 1 << 20, Duration::ZERO);
        for i in 0..10 {
            let name = format!("vars/f{i}.json");
            std::fs::write(dir.join(&name), vec![b'x'; 100]).unwrap();
            assert!(matches!(store.load(&key(&name)), Lookup::Found(_)));
        }
        assert_eq!(store.usage(), (3, 300));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn trusts_a_recent_check_for_the_recheck_interval() {
        let dir = std::env::temp_dir().join(format!("provedge-store-r-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("vars")).unwrap();
        let store = CachedStore::new(
            FolderStore::new(&dir),
            8,
            1 << 20,
            Duration::from_millis(300),
        );
        let k = key("vars/global.json");
        assert!(matches!(store.probe(&k), Probe::Missing));
        std::fs::write(dir.join("vars/global.json"), b"{}").unwrap();
        // Absent a moment ago: still absent until the interval has passed.
        assert!(matches!(store.probe(&k), Probe::Missing));
        std::thread::sleep(Duration::from_millis(350));
        assert!(matches!(store.probe(&k), Probe::Read));
        assert_eq!(store.load(&k), Lookup::Found(b"{}".into()));
        std::fs::write(dir.join("vars/global.json"), b"[]").unwrap();
        assert!(matches!(store.probe(&k), Probe::Hit(b) if b == b"{}"));
        std::thread::sleep(Duration::from_millis(350));
        assert!(matches!(store.probe(&k), Probe::Read));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
