//! `server.uploads_max_total_bytes`: the bytes phone uploads may take in the store together.
//!
//! `engine.uploads.max_bytes` bounds one upload, not how many: a phone (or whoever holds a
//! device's credentials) can upload under many names until the store's disk is full, and that
//! disk also holds the device records every phone needs. So the server keeps a count of the
//! bytes under `uploads/` (and every tenant's `tenants/<name>/uploads/`), measured by walking
//! the folders once at start and kept current by every upload after.
//!
//! An upload reserves what it adds (its size, less that of the file it replaces) before it
//! writes anything, and is refused when that does not fit: a phone replacing its log near the
//! bound is not refused for the moment both copies are on disk (at most
//! `engine.uploads.max_bytes` per upload in flight). Renames happen under the count's lock, so
//! what each one replaces leaves the count exactly, even when two uploads race for one name.
//! Files an operator removes by hand are noticed when an upload is refused: the folders are
//! measured again then, at most once per [`REMEASURE`], so clearing old uploads frees room
//! without a restart.
//!
//! Everything here blocks (file system calls under a lock): call it on the blocking pool.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Least time between two walks of the upload folders after a refusal.
const REMEASURE: Duration = Duration::from_secs(60);

/// The upload folders' usage and their bound.
pub struct UploadQuota {
    root: PathBuf,
    max: u64,
    usage: Mutex<Usage>,
    /// `Usage::stored` as of its last change, for readers that must not wait for a walk.
    stored: AtomicU64,
}

struct Usage {
    /// Bytes of the files in the upload folders.
    stored: u64,
    /// Bytes reserved by uploads being written.
    writing: u64,
    /// When `stored` was last measured by a walk.
    measured: Instant,
}

impl UploadQuota {
    /// Measures the upload folders of the store at `root` (blocking).
    pub fn measure(root: &Path, max: u64) -> UploadQuota {
        let stored = upload_bytes(root);
        UploadQuota {
            root: root.to_owned(),
            max,
            usage: Mutex::new(Usage {
                stored,
                writing: 0,
                measured: Instant::now(),
            }),
            stored: AtomicU64::new(stored),
        }
    }

    /// Bytes the uploads hold (for metrics): never waits, so a scrape on the event loop is not
    /// held up by a walk.
    pub fn stored(&self) -> u64 {
        self.stored.load(Ordering::Relaxed)
    }

    /// Room for an upload of `bytes` to `path`, or `None` when it would take the uploads over
    /// the bound.
    pub fn reserve(&self, path: &Path, bytes: u64) -> Option<Reservation<'_>> {
        let mut usage = self.lock();
        let adds = bytes.saturating_sub(file_len(path));
        if !fits(&usage, adds, self.max) && usage.measured.elapsed() >= REMEASURE {
            usage.stored = upload_bytes(&self.root);
            usage.measured = Instant::now();
            self.stored.store(usage.stored, Ordering::Relaxed);
        }
        if !fits(&usage, adds, self.max) {
            return None;
        }
        usage.writing += adds;
        Some(Reservation {
            quota: self,
            bytes,
            adds,
            committed: false,
        })
    }

    /// A poisoned lock still holds a usable count: a panic elsewhere must not stop uploads.
    fn lock(&self) -> MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The length of the file at `path`; 0 when there is none (or something else is there).
fn file_len(path: &Path) -> u64 {
    std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map_or(0, |m| m.len())
}

fn fits(usage: &Usage, bytes: u64, max: u64) -> bool {
    usage
        .stored
        .saturating_add(usage.writing)
        .saturating_add(bytes)
        <= max
}

/// Room held for one upload while it is written; released unless [`Reservation::commit`]
/// moves the file into place.
pub struct Reservation<'a> {
    quota: &'a UploadQuota,
    /// The upload's size.
    bytes: u64,
    /// What it was found to add, and holds in `Usage::writing`.
    adds: u64,
    committed: bool,
}

impl Reservation<'_> {
    /// Renames the written `temp` file to `path`, counting it and no longer counting the file it
    /// replaces. Returns whether one was replaced.
    pub fn commit(mut self, temp: &Path, path: &Path) -> io::Result<bool> {
        let mut usage = self.quota.lock();
        let old = std::fs::symlink_metadata(path).ok();
        std::fs::rename(temp, path)?;
        let old_len = old.as_ref().filter(|m| m.is_file()).map_or(0, |m| m.len());
        usage.stored = usage
            .stored
            .saturating_add(self.bytes)
            .saturating_sub(old_len);
        self.quota.stored.store(usage.stored, Ordering::Relaxed);
        usage.writing = usage.writing.saturating_sub(self.adds);
        self.committed = true;
        Ok(old.is_some())
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let mut usage = self.quota.lock();
            usage.writing = usage.writing.saturating_sub(self.adds);
        }
    }
}

/// Bytes of the files under the store's upload folders: `uploads/` and `tenants/*/uploads/`.
fn upload_bytes(root: &Path) -> u64 {
    use provedge::store::{TENANTS, UPLOADS};
    let tenants = std::fs::read_dir(root.join(TENANTS))
        .into_iter()
        .flatten()
        .flatten()
        .map(|tenant| tenant.path().join(UPLOADS));
    std::iter::once(root.join(UPLOADS))
        .chain(tenants)
        .map(|dir| folder_bytes(&dir))
        .fold(0, u64::saturating_add)
}

/// Bytes of the regular files under `dir`, symbolic links not followed (a link could point
/// anywhere, or back up the tree). This process's own temporary files are left out: they are
/// uploads being written, already counted by their reservations. Unreadable entries count 0.
fn folder_bytes(dir: &Path) -> u64 {
    let in_flight = format!(".{}-", std::process::id());
    let mut total = 0u64;
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.is_file() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let ours =
                    name.starts_with('.') && name.ends_with(".tmp") && name.contains(&in_flight);
                if !ours {
                    total = total.saturating_add(meta.len());
                }
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_uploads_and_what_replacing_frees() {
        let root = std::env::temp_dir().join(format!("provedge-quota-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("uploads/polycom")).unwrap();
        std::fs::create_dir_all(root.join("tenants/acme/uploads/yealink")).unwrap();
        std::fs::create_dir_all(root.join("devices")).unwrap();
        std::fs::write(root.join("uploads/polycom/a.log"), [0u8; 100]).unwrap();
        std::fs::write(root.join("tenants/acme/uploads/yealink/b.cfg"), [0u8; 50]).unwrap();
        std::fs::write(root.join("devices/x.json"), [0u8; 1000]).unwrap();
        let quota = UploadQuota::measure(&root, 400);
        assert_eq!(quota.stored(), 150, "devices/ is not uploads");

        let upload = |name: &str| root.join("uploads/polycom").join(name);
        let write = |name: &str, len: usize| {
            let temp = upload(&format!(".{name}.tmp"));
            std::fs::write(&temp, vec![0u8; len]).unwrap();
            temp
        };
        // Replacing a.log (100) with 200 bytes adds 100: 250 stored.
        let held = quota.reserve(&upload("a.log"), 200).unwrap();
        assert!(
            quota.reserve(&upload("c.log"), 151).is_none(),
            "150 + 100 held + 151 > 400"
        );
        let temp = write("a.log", 200);
        assert!(held.commit(&temp, &upload("a.log")).unwrap());
        assert_eq!(quota.stored(), 250);
        // A failed write gives its room back.
        drop(quota.reserve(&upload("c.log"), 150).unwrap());
        let held = quota.reserve(&upload("c.log"), 150).unwrap();
        let temp = write("c.log", 150);
        assert!(!held.commit(&temp, &upload("c.log")).unwrap());
        assert_eq!(quota.stored(), 400);
        assert!(quota.reserve(&upload("d.log"), 1).is_none());
        // Full, a replacement that does not grow still fits.
        assert!(quota.reserve(&upload("c.log"), 150).is_some());

        // Files removed by hand count until a refusal measures again, once per REMEASURE.
        std::fs::remove_file(upload("c.log")).unwrap();
        assert!(
            quota.reserve(&upload("d.log"), 1).is_none(),
            "measured just now"
        );
        if let Some(earlier) = Instant::now().checked_sub(REMEASURE) {
            quota.lock().measured = earlier;
            assert!(quota.reserve(&upload("d.log"), 1).is_some());
            assert_eq!(quota.stored(), 250);
        }
        std::fs::remove_dir_all(&root).unwrap();
    }
}
