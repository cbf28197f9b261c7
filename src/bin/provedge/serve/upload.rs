//! Phone uploads: the body is read up to the engine's cap and written to the store atomically
//! (a temporary file beside the target, then a rename), readable by the server only and never
//! executable, within the room [`UploadQuota`] leaves.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use provedge::Stored;

use super::upload_quota::UploadQuota;

/// Why a body was not received.
pub enum Refused {
    /// Longer than the cap (by its `Content-Length` or by what arrived).
    TooLarge,
    /// The client did not send it in time.
    TimedOut,
    /// The connection failed mid-body.
    Broken,
}

/// Reads at most `max` bytes of the body; one byte more is [`Refused::TooLarge`].
pub async fn receive(
    mut body: Incoming,
    declared: Option<u64>,
    max: usize,
    timeout: Duration,
) -> Result<Vec<u8>, Refused> {
    if declared.is_some_and(|n| n > max as u64) {
        return Err(Refused::TooLarge);
    }
    let read = async {
        let mut bytes = Vec::with_capacity(declared.map_or(0, |n| n as usize));
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| Refused::Broken)?;
            if let Some(data) = frame.data_ref() {
                if bytes.len() + data.len() > max {
                    return Err(Refused::TooLarge);
                }
                bytes.extend_from_slice(data);
            }
        }
        Ok(bytes)
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(Refused::TimedOut))
}

/// The log's reason for an upload refused by `server.uploads_max_total_bytes`.
pub const OVER_QUOTA: &str = "uploads are at server.uploads_max_total_bytes";

/// Writes `bytes` to `path` atomically, within the uploads' quota (blocking: run it off the
/// async workers).
pub fn store(path: &Path, bytes: &[u8], quota: &UploadQuota) -> Stored {
    let Some(room) = quota.reserve(path, bytes.len() as u64) else {
        return Stored::Full(OVER_QUOTA.into());
    };
    let stored = write_temporary(path, bytes).and_then(|temp| {
        room.commit(&temp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
    });
    match stored {
        Ok(replaced) => Stored::Done { replaced },
        // The engine adds the key; the kind says what went wrong without naming host paths.
        Err(e) => Stored::Failed(e.kind().to_string()),
    }
}

/// Writes `bytes` to a new file beside `path` (mode 0600, synced), for a rename onto `path`.
fn write_temporary(path: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().ok_or(io::ErrorKind::InvalidInput)?;
    let name = path.file_name().ok_or(io::ErrorKind::InvalidInput)?;
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(
        ".{}.{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    match written {
        Ok(()) => Ok(temp),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}
