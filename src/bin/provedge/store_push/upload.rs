//! Running a push's writes through wrangler: KV values in bulk (one process for thousands of
//! keys, values base64 so any bytes survive), R2 objects one by one (streamed by wrangler from
//! the file: firmware is never held in memory here), a bounded number of wrangler processes at
//! once, and a progress bar over keys.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use base64::Engine as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::check::{sha256_hex, Checked};
use super::manifest::Location;
use super::wrangler::Wrangler;

/// Most keys in one `kv bulk put` (the API takes 10,000).
const BULK_KEYS: usize = 5_000;
/// Most value bytes in one `kv bulk put` before base64 (the API takes 100 MB a request).
const BULK_BYTES: u64 = 32 << 20;

/// One wrangler process's worth of work.
#[derive(Clone, Debug)]
pub enum Job {
    /// These files (indices into the checked files) into KV.
    KvPut(Vec<usize>),
    /// This file into the bucket.
    R2Put { index: usize, bucket: String },
    /// These keys out of KV.
    KvDelete(Vec<String>),
    /// This key out of the bucket.
    R2Delete { bucket: String, key: String },
}

impl Job {
    /// How many keys the job writes or deletes (what the progress bar counts).
    fn keys(&self) -> usize {
        match self {
            Job::KvPut(files) => files.len(),
            Job::KvDelete(keys) => keys.len(),
            Job::R2Put { .. } | Job::R2Delete { .. } => 1,
        }
    }
}

/// Groups writes into jobs: KV files into bulk puts within the limits, each R2 file alone.
pub fn put_jobs(files: &[Checked], puts: impl IntoIterator<Item = (usize, Location)>) -> Vec<Job> {
    let mut jobs = Vec::new();
    let mut chunk: Vec<usize> = Vec::new();
    let mut chunk_bytes = 0;
    for (index, location) in puts {
        match location {
            Location::Bucket(bucket) => jobs.push(Job::R2Put { index, bucket }),
            Location::Kv => {
                let size = files[index].size;
                if !chunk.is_empty()
                    && (chunk.len() == BULK_KEYS || chunk_bytes + size > BULK_BYTES)
                {
                    jobs.push(Job::KvPut(std::mem::take(&mut chunk)));
                    chunk_bytes = 0;
                }
                chunk.push(index);
                chunk_bytes += size;
            }
        }
    }
    if !chunk.is_empty() {
        jobs.push(Job::KvPut(chunk));
    }
    jobs
}

/// Groups deletions into jobs: KV keys in bulk, R2 objects one by one.
pub fn delete_jobs(deletes: impl IntoIterator<Item = (String, Location)>) -> Vec<Job> {
    let mut jobs = Vec::new();
    let mut kv: Vec<String> = Vec::new();
    for (key, location) in deletes {
        match location {
            Location::Kv => kv.push(key),
            Location::Bucket(bucket) => jobs.push(Job::R2Delete { bucket, key }),
        }
    }
    for chunk in kv.chunks(BULK_KEYS) {
        jobs.push(Job::KvDelete(chunk.to_vec()));
    }
    jobs
}

/// One entry of wrangler's bulk put file.
#[derive(Serialize)]
struct BulkEntry<'a> {
    key: &'a str,
    value: String,
    base64: bool,
}

/// Runs jobs against one wrangler target.
pub struct Uploader<'a> {
    wrangler: &'a Wrangler,
    files: &'a [Checked],
    scratch: Scratch,
    workers: usize,
    progress: ProgressBar,
}

impl<'a> Uploader<'a> {
    /// An uploader running up to `workers` wrangler processes at once, with a progress bar
    /// over `total` keys (drawn only when stdout is a terminal).
    pub fn new(
        wrangler: &'a Wrangler,
        files: &'a [Checked],
        workers: usize,
        total: usize,
    ) -> Result<Uploader<'a>, String> {
        let target = if std::io::stdout().is_terminal() {
            ProgressDrawTarget::stdout()
        } else {
            ProgressDrawTarget::hidden()
        };
        let progress = ProgressBar::with_draw_target(Some(total as u64), target);
        progress.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} keys {wide_msg}")
                .expect("a valid template"),
        );
        Ok(Uploader {
            wrangler,
            files,
            scratch: Scratch::new()?,
            workers: if wrangler.parallel() {
                workers.max(1)
            } else {
                1
            },
            progress,
        })
    }

    /// Runs every job, stopping at the first failure (jobs already running finish). Every
    /// failure, naming its keys.
    pub fn run(&self, jobs: Vec<Job>) -> Result<(), Vec<String>> {
        let queue = Mutex::new(jobs.into_iter());
        let errors = Mutex::new(Vec::new());
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..self.workers {
                scope.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        let Some(job) = queue.lock().expect("queue").next() else {
                            break;
                        };
                        match self.run_one(&job) {
                            Ok(()) => self.progress.inc(job.keys() as u64),
                            Err(e) => {
                                stop.store(true, Ordering::Relaxed);
                                errors.lock().expect("errors").push(e);
                            }
                        }
                    }
                });
            }
        });
        let errors = errors.into_inner().expect("errors");
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Writes values the push made itself (the manifest, the generation) into KV, in one bulk
    /// put, in this order.
    pub fn put_kv_values(&self, values: &[(&str, &[u8])]) -> Result<(), String> {
        let entries: Vec<BulkEntry> = values
            .iter()
            .map(|(key, bytes)| BulkEntry {
                key,
                value: base64::engine::general_purpose::STANDARD.encode(bytes),
                base64: true,
            })
            .collect();
        let path = self.scratch.write_json("kv-put", &entries)?;
        let result = self.wrangler.kv_bulk_put(&path);
        let _ = std::fs::remove_file(path);
        result.map_err(|e| format!("{}: {e}", key_list(values.iter().map(|(k, _)| *k))))
    }

    /// Ends the progress bar, leaving the terminal for the summary.
    pub fn finish(&self) {
        self.progress.finish_and_clear();
    }

    fn run_one(&self, job: &Job) -> Result<(), String> {
        match job {
            Job::KvPut(indices) => {
                let mut entries = Vec::with_capacity(indices.len());
                for &i in indices {
                    let file = &self.files[i];
                    entries.push(BulkEntry {
                        key: file.key.as_str(),
                        value: base64::engine::general_purpose::STANDARD
                            .encode(self.read_checked(file)?),
                        base64: true,
                    });
                }
                let path = self.scratch.write_json("kv-put", &entries)?;
                drop(entries);
                let result = self.wrangler.kv_bulk_put(&path);
                let _ = std::fs::remove_file(path);
                result.map_err(|e| {
                    let keys = indices.iter().map(|&i| self.files[i].key.as_str());
                    format!("{}: {e}", key_list(keys))
                })
            }
            Job::R2Put { index, bucket } => {
                let file = &self.files[*index];
                self.progress.set_message(file.key.to_string());
                self.wrangler
                    .r2_put(bucket, file.key.as_str(), &file.path)
                    .map_err(|e| format!("{}: {e}", file.key))
            }
            Job::KvDelete(keys) => {
                let path = self.scratch.write_json("kv-delete", keys)?;
                let result = self.wrangler.kv_bulk_delete(&path);
                let _ = std::fs::remove_file(path);
                result.map_err(|e| format!("{}: {e}", key_list(keys.iter().map(String::as_str))))
            }
            Job::R2Delete { bucket, key } => {
                self.progress.set_message(key.clone());
                self.wrangler
                    .r2_delete(bucket, key)
                    .map_err(|e| format!("{key}: {e}"))
            }
        }
    }

    /// The file's bytes, which must still be the bytes that were checked and hashed: the
    /// manifest will say so.
    fn read_checked(&self, file: &Checked) -> Result<Vec<u8>, String> {
        let bytes = std::fs::read(&file.path).map_err(|e| format!("{}: {e}", file.key))?;
        if sha256_hex(&bytes) != file.sha256 {
            return Err(format!("{}: changed during the push; push again", file.key));
        }
        Ok(bytes)
    }
}

/// `a`, `a, b` or `a, b, c and 9 more`: the keys of a failed bulk job.
fn key_list<'k>(keys: impl Iterator<Item = &'k str>) -> String {
    let keys: Vec<&str> = keys.collect();
    match keys.len() {
        0..=3 => keys.join(", "),
        n => format!("{} and {} more", keys[..3].join(", "), n - 3),
    }
}

/// A private folder for wrangler's input files, removed when the push ends.
struct Scratch {
    dir: PathBuf,
    next: AtomicUsize,
}

impl Scratch {
    fn new() -> Result<Scratch, String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("provedge-push-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Scratch {
            dir,
            next: AtomicUsize::new(0),
        })
    }

    fn write(&self, label: &str, bytes: &[u8]) -> Result<PathBuf, String> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("{label}-{n}"));
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    fn write_json(&self, label: &str, value: &impl Serialize) -> Result<PathBuf, String> {
        let bytes = serde_json::to_vec(value).expect("plain JSON");
        self.write(&format!("{label}.json"), &bytes)
    }

    #[cfg(test)]
    fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provedge::StoreKey;

    fn sized(key: &str, size: u64) -> Checked {
        Checked {
            key: StoreKey::new(key).unwrap(),
            path: key.into(),
            size,
            sha256: String::new(),
        }
    }

    #[test]
    fn kv_in_bulk_within_limits_r2_one_by_one() {
        let files = [
            sized("devices/a.json", 10),
            sized("templates/t.cfg", 10),
            sized("a/big.bin", BULK_BYTES - 10),
            sized("vars/b.json", 10),
        ];
        let bucket = Location::Bucket("files".into());
        let jobs = put_jobs(
            &files,
            [
                (0, Location::Kv),
                (1, bucket.clone()),
                (2, Location::Kv),
                (3, Location::Kv),
            ],
        );
        let shape: Vec<String> = jobs.iter().map(|j| format!("{j:?}")).collect();
        assert_eq!(
            shape,
            [
                r#"R2Put { index: 1, bucket: "files" }"#,
                "KvPut([0, 2])",
                "KvPut([3])"
            ]
        );
        let deletes = delete_jobs([
            ("a".to_owned(), Location::Kv),
            ("b".to_owned(), bucket),
            ("c".to_owned(), Location::Kv),
        ]);
        assert_eq!(deletes.iter().map(Job::keys).sum::<usize>(), 3);
        assert_eq!(deletes.len(), 2);
    }

    #[test]
    fn failed_bulk_jobs_name_their_keys() {
        assert_eq!(key_list(["a", "b"].into_iter()), "a, b");
        assert_eq!(
            key_list(["a", "b", "c", "d", "e"].into_iter()),
            "a, b, c and 2 more"
        );
    }

    #[test]
    fn scratch_files_go_with_the_push() {
        let scratch = Scratch::new().unwrap();
        let dir = scratch.dir().to_owned();
        scratch.write_json("x", &["a"]).unwrap();
        assert!(dir.is_dir());
        drop(scratch);
        assert!(!dir.exists());
    }
}
