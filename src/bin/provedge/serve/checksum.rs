//! Checksums of stored files (Algo `.md5` of firmware and tones), summed once per file version.
//!
//! A firmware image can be tens of MiB and phones ask for its `.md5` on every boot. Reading it
//! whole per request let 16 concurrent requests for the `.md5` of a 64 MiB file take the
//! server's memory past a gigabyte. Here a file is read in 64 KiB pieces on the blocking pool
//! (never on the event loop), at most [`MAX_SUMMING`] files at a time, and the digest is kept
//! by the file's version (length, modification time, inode) in a bounded table: the first
//! request sums, the rest (and every later one until the file changes) are answered from the
//! table. Requests that arrive while a file is being summed wait for that sum instead of
//! starting their own.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use provedge::{Md5Hasher, Summed};
use tokio::sync::Semaphore;

/// Files summed at once: bounds memory (one piece each) and blocking threads.
const MAX_SUMMING: usize = 2;
/// Bytes read per piece.
const PIECE: usize = 64 * 1024;

/// A file version: a changed file gets a new digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Version {
    len: u64,
    modified_ns: i128,
    inode: u64,
}

/// Digests by file, bounded by entries.
pub struct Checksums {
    known: Mutex<HashMap<PathBuf, (Version, [u8; 16])>>,
    summing: Semaphore,
    capacity: usize,
}

impl Checksums {
    pub fn new(capacity: usize) -> Checksums {
        Checksums {
            known: Mutex::new(HashMap::new()),
            summing: Semaphore::new(MAX_SUMMING),
            capacity: capacity.max(1),
        }
    }

    /// The MD5 of the file at `path`, from the table when its version is unchanged.
    pub async fn sum(self: &Arc<Self>, path: &Path, hasher: Md5Hasher) -> Summed {
        let version = match version_of(path).await {
            Ok(Some(v)) => v,
            Ok(None) => return Summed::Missing,
            Err(e) => return Summed::Failed(e.kind().to_string()),
        };
        if let Some(digest) = self.known(path, version) {
            return Summed::Found(digest);
        }
        // One permit per file being summed; a request that waited finds the sum made meanwhile.
        let Ok(_permit) = self.summing.acquire().await else {
            return Summed::Failed("checksum pool closed".into());
        };
        if let Some(digest) = self.known(path, version) {
            return Summed::Found(digest);
        }
        let owned = path.to_owned();
        let summed = tokio::task::spawn_blocking(move || sum_file(&owned, hasher)).await;
        match summed {
            Ok(Ok(Some((digest, read_version)))) => {
                if read_version == version {
                    self.remember(path, version, digest);
                }
                Summed::Found(digest)
            }
            Ok(Ok(None)) => Summed::Missing,
            Ok(Err(e)) => Summed::Failed(e.kind().to_string()),
            Err(_) => Summed::Failed("checksum task failed".into()),
        }
    }

    fn known(&self, path: &Path, version: Version) -> Option<[u8; 16]> {
        let known = self.known.lock().ok()?;
        known
            .get(path)
            .filter(|(v, _)| *v == version)
            .map(|(_, d)| *d)
    }

    fn remember(&self, path: &Path, version: Version, digest: [u8; 16]) {
        let Ok(mut known) = self.known.lock() else {
            return;
        };
        if known.len() >= self.capacity && !known.contains_key(path) {
            // Digests are cheap to lose (one re-sum); a bounded share goes, not the table.
            let drop: Vec<PathBuf> = known
                .keys()
                .take((self.capacity / 10).max(1))
                .cloned()
                .collect();
            for p in drop {
                known.remove(&p);
            }
        }
        known.insert(path.to_owned(), (version, digest));
    }

    /// How many digests are kept (for metrics).
    pub fn len(&self) -> usize {
        self.known.lock().map_or(0, |k| k.len())
    }
}

async fn version_of(path: &Path) -> std::io::Result<Option<Version>> {
    match tokio::fs::metadata(path).await {
        Ok(meta) if meta.is_file() => Ok(Some(version(&meta))),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn version(meta: &std::fs::Metadata) -> Version {
    use std::os::unix::fs::MetadataExt;
    Version {
        len: meta.len(),
        modified_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        inode: meta.ino(),
    }
}

/// Sums the file in pieces; returns the version of the file actually read, so a file replaced
/// mid-read is not remembered under the old version.
fn sum_file(path: &Path, mut hasher: Md5Hasher) -> std::io::Result<Option<([u8; 16], Version)>> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let read_version = version(&file.metadata()?);
    let mut piece = vec![0u8; PIECE];
    loop {
        let n = file.read(&mut piece)?;
        if n == 0 {
            break;
        }
        hasher.update(piece.get(..n).unwrap_or_default());
    }
    Ok(Some((hasher.finish(), read_version)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sums_once_per_version() {
        let dir = std::env::temp_dir().join(format!("provedge-sum-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("fw.bin");
        std::fs::write(&file, vec![7u8; 200_000]).unwrap();
        let sums = Arc::new(Checksums::new(4));
        let first = sums.sum(&file, Md5Hasher::default()).await;
        let mut expect = Md5Hasher::default();
        expect.update(&vec![7u8; 200_000]);
        assert_eq!(first, Summed::Found(expect.finish()));
        assert_eq!(sums.len(), 1);
        std::fs::write(&file, b"changed").unwrap();
        let mut changed = Md5Hasher::default();
        changed.update(b"changed");
        assert_eq!(
            sums.sum(&file, Md5Hasher::default()).await,
            Summed::Found(changed.finish())
        );
        assert_eq!(
            sums.sum(&dir.join("absent"), Md5Hasher::default()).await,
            Summed::Missing
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
