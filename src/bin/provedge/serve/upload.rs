//! Phone uploads: the body is read up to the engine's cap and written to the store atomically
//! (a temporary file beside the target, then a rename), readable by the server only and never
//! executable.

use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use provedge::Stored;

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

/// Writes `bytes` to `path` atomically (blocking: run it off the async workers).
pub fn store(path: &Path, bytes: &[u8]) -> Stored {
    match write_atomically(path, bytes) {
        Ok(replaced) => Stored::Done { replaced },
        // The engine adds the key; the kind says what went wrong without naming host paths.
        Err(e) => Stored::Failed(e.kind().to_string()),
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<bool> {
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
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    let replaced = std::fs::symlink_metadata(path).is_ok();
    if let Err(e) = std::fs::rename(&temp, path) {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    Ok(replaced)
}
