//! "Last seen" per device: when a phone last fetched a file, from where, with which firmware.
//!
//! Each record is a small JSON file in the store folder (or `server.last_seen_dir`) at
//! `[tenants/<name>/]last-seen/<mac>.json`, next to the tenant's other keys, so operators read it
//! with `cat`, any tool that lists the store sees it, and it survives restarts. No route maps to
//! `last-seen/`, so the files are never served. Only answered requests (status below 400) with a
//! MAC count: a scanner walking MAC ranges gets 404s and writes nothing.
//!
//! A device is written at most once per `last_seen_interval_secs`: an in-memory map of the last
//! write per device decides, bounded by `last_seen_max_devices` (expired entries are pruned
//! when it fills). Writes happen on a writer thread fed by a bounded queue (temporary file and
//! rename, so a reader never sees half a record); requests never wait for them.

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use provedge::Mac;
use serde::Serialize;

/// Records waiting for the writer, at most.
const QUEUE: usize = 1024;

/// One device's record, as written.
#[derive(Serialize)]
pub struct Record {
    pub mac: String,
    pub time: String,
    pub unix: u64,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub tenant: Option<String>,
    pub vendor: &'static str,
    pub model: Option<String>,
    pub file: String,
    pub status: u16,
}

struct Job {
    path: PathBuf,
    record: Record,
}

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
}

pub struct LastSeen {
    dir: PathBuf,
    interval: u64,
    max_devices: usize,
    /// (tenant namespace, MAC) → unix time of the last record queued.
    marks: Mutex<HashMap<(String, Mac), u64>>,
    queue: SyncSender<Job>,
    counters: Arc<Counters>,
}

impl LastSeen {
    /// Starts the writer thread.
    pub fn start(dir: PathBuf, interval: u64, max_devices: usize) -> std::io::Result<LastSeen> {
        let (queue, rx) = mpsc::sync_channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let writer_counters = Arc::clone(&counters);
        std::thread::Builder::new()
            .name("provedge-last-seen".into())
            .spawn(move || write_records(&rx, &writer_counters))?;
        Ok(LastSeen {
            dir,
            interval,
            max_devices,
            marks: Mutex::new(HashMap::new()),
            queue,
            counters,
        })
    }

    /// Notes that `mac` (of the tenant whose keys start with `namespace`) was served; the record
    /// is written unless one was written less than the interval ago.
    pub fn saw(&self, namespace: &str, mac: Mac, record: impl FnOnce() -> Record) {
        let record_now = {
            let Ok(mut marks) = self.marks.lock() else {
                return;
            };
            let now = unix_now();
            let key = (namespace.to_owned(), mac);
            match marks.get(&key) {
                Some(&last) if now < last.saturating_add(self.interval) => false,
                Some(_) => {
                    marks.insert(key, now);
                    true
                }
                None => {
                    if marks.len() >= self.max_devices {
                        let interval = self.interval;
                        marks.retain(|_, last| now < last.saturating_add(interval));
                    }
                    if marks.len() >= self.max_devices {
                        false
                    } else {
                        marks.insert(key, now);
                        true
                    }
                }
            }
        };
        if !record_now {
            return;
        }
        let path = self
            .dir
            .join(format!("{namespace}last-seen"))
            .join(format!("{mac}.json"));
        if self
            .queue
            .try_send(Job {
                path,
                record: record(),
            })
            .is_err()
        {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn written(&self) -> u64 {
        self.counters.written.load(Ordering::Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

fn write_records(rx: &Receiver<Job>, counters: &Counters) {
    while let Ok(job) = rx.recv() {
        match write_record(&job) {
            Ok(()) => counters.written.fetch_add(1, Ordering::Relaxed),
            Err(_) => counters.dropped.fetch_add(1, Ordering::Relaxed),
        };
    }
}

fn write_record(job: &Job) -> std::io::Result<()> {
    let dir = job.path.parent().ok_or(std::io::ErrorKind::InvalidInput)?;
    std::fs::create_dir_all(dir)?;
    let mut text = serde_json::to_vec_pretty(&job.record)?;
    text.push(b'\n');
    let temp = job.path.with_extension("json.tmp");
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(&text)?;
    drop(file);
    std::fs::rename(&temp, &job.path)
}
