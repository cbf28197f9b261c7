//! "Last seen" per device: when a phone last fetched a file, from where, with which firmware.
//!
//! The core says which requests update a device's record and what it holds
//! (`provedge::access::LastSeen`: only devices the engine knows, only answers below 400) and
//! when it is due (`LastSeenMarks`: at most once per `last_seen_interval_secs` per device,
//! bounded by `last_seen_max_devices`). This host writes it as a small JSON file in the store
//! folder (or `server.last_seen_dir`) at the core's key, `[tenants/<name>/]last-seen/<mac>.json`,
//! so operators read it with `cat` and it survives restarts. No route maps to `last-seen/`, so
//! the files are never served. Writes happen on a writer thread fed by a bounded queue
//! (temporary file and rename, so a reader never sees half a record); requests never wait.
//! An origin store (`--store http(s)://…`, `s3://…`) has no folder: there records are written
//! only with `server.last_seen_dir`.
//!
//! Every request that would be recorded also goes, unthrottled, to the fleet page's memory of
//! each device's last fetches ([`Recent`]), written or not.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;

use provedge::access::{LastSeen as Seen, LastSeenMarks};

use super::fleet::recent::Recent;

/// Records waiting for the writer, at most.
const QUEUE: usize = 1024;

struct Job {
    path: PathBuf,
    record: Vec<u8>,
}

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
}

/// The last-seen writer.
pub struct LastSeen {
    /// Where records go; `None` writes none.
    dir: Option<PathBuf>,
    marks: LastSeenMarks,
    queue: SyncSender<Job>,
    counters: Arc<Counters>,
    recent: Recent,
}

impl LastSeen {
    /// Starts the writer thread (records under `dir`; none without it); `recent` remembers
    /// the fetches for the fleet page.
    pub fn start(
        dir: Option<PathBuf>,
        interval: u64,
        max_devices: usize,
        recent: Recent,
    ) -> std::io::Result<LastSeen> {
        let (queue, rx) = mpsc::sync_channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let writer_counters = Arc::clone(&counters);
        std::thread::Builder::new()
            .name("provedge-last-seen".into())
            .spawn(move || write_records(&rx, &writer_counters))?;
        Ok(LastSeen {
            dir,
            marks: LastSeenMarks::new(interval, max_devices),
            queue,
            counters,
            recent,
        })
    }

    /// Writes `record` at `now` (seconds) unless the device's was written less than the
    /// interval ago.
    pub fn saw(&self, record: &Seen, now: u64) {
        self.recent.saw(record);
        let Some(dir) = &self.dir else {
            return;
        };
        if !self.marks.due(record.key(), now) {
            return;
        }
        let job = Job {
            path: dir.join(record.key().as_str()),
            record: record.to_json(),
        };
        if self.queue.try_send(job).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The folder records are written under, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The devices' recent fetches.
    pub fn recent(&self) -> &Recent {
        &self.recent
    }

    pub fn written(&self) -> u64 {
        self.counters.written.load(Ordering::Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }
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
    let mut text = job.record.clone();
    text.push(b'\n');
    let temp = job.path.with_extension("json.tmp");
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(&text)?;
    drop(file);
    std::fs::rename(&temp, &job.path)
}
