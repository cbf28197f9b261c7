//! The access log: one JSON object per request on stdout.
//!
//! Requests append their line to a shared buffer; a writer thread takes the whole buffer and
//! writes it with one call, at most every [`BATCH`] while lines keep coming. So a request never
//! waits for stdout nor wakes a thread per line, and a burst costs one write. The buffer is
//! bounded ([`MAX_PENDING`]): when stdout falls that far behind, lines are dropped and counted
//! (`provedge_log_lines_dropped_total`).
//!
//! A request's line is the core's `provedge::access::AccessRecord`, the same record every host
//! emits: the route's vendor, MAC, model and file, never headers or the query string (the path
//! appears only for requests that did not route, as the engine's `loggable_path` gives it:
//! without its query, and with the URL-token segment masked, since a device's token is its
//! password), and the core's `note`, which it builds without secrets. Connections that never became a request have lines of their own: a failed TLS
//! handshake ([`TlsFailure`]: `tls` says so and `note` says why, rustls' reason, which names no
//! certificate contents or key), and a connection closed at accept ([`ConnectionRefused`]).

use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use provedge::access::AccessRecord;
use serde::Serialize;

/// How long the writer gathers lines before writing them.
const BATCH: Duration = Duration::from_millis(20);
/// Bytes of lines waiting for the writer, at most.
const MAX_PENDING: usize = 8 << 20;

/// A connection to the HTTPS listener whose handshake failed.
#[derive(Serialize)]
pub struct TlsFailure<'a> {
    pub time: String,
    pub client: IpAddr,
    /// Always `handshake failed`: tells these lines from requests.
    pub tls: &'static str,
    pub note: &'a str,
    /// Microseconds from the connection's acceptance to the failure.
    pub duration_us: u64,
}

/// A connection closed as soon as it was accepted (`server.max_connections_per_ip`).
#[derive(Serialize)]
pub struct ConnectionRefused<'a> {
    pub time: String,
    pub client: IpAddr,
    /// Always `refused`: tells these lines from requests.
    pub connection: &'static str,
    pub note: &'a str,
}

#[derive(Default)]
struct Pending {
    lines: Vec<u8>,
    /// The writer is asleep waiting for a first line.
    idle: bool,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    /// Held while a batch is written, so batches reach stdout in order.
    out: Mutex<()>,
    dropped: AtomicU64,
}

pub struct AccessLog {
    shared: Arc<Shared>,
}

impl AccessLog {
    /// Starts the writer thread.
    pub fn start() -> std::io::Result<AccessLog> {
        let shared = Arc::new(Shared::default());
        let writer = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("provedge-log".into())
            .spawn(move || write_batches(&writer))?;
        Ok(AccessLog { shared })
    }

    /// Logs a line the server writes itself (a refused connection, a failed handshake).
    pub fn log(&self, line: &impl Serialize) {
        if let Ok(text) = serde_json::to_vec(line) {
            self.push(&text);
        }
    }

    /// Logs a request's access record, in the core's own JSON writer (the bytes
    /// `serde_json` would write, without its generic machinery on every request).
    pub fn log_request(&self, record: &AccessRecord) {
        self.push(record.to_json().as_bytes());
    }

    /// Queues one line (its newline added) for the writer thread.
    fn push(&self, text: &[u8]) {
        let Ok(mut pending) = self.shared.pending.lock() else {
            return;
        };
        if pending.lines.len() + text.len() + 1 > MAX_PENDING {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        pending.lines.extend_from_slice(text);
        pending.lines.push(b'\n');
        if pending.idle {
            pending.idle = false;
            self.shared.wake.notify_one();
        }
    }

    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Writes every line logged so far (at shutdown).
    pub fn flush(&self) {
        write_pending(&self.shared);
    }
}

fn write_batches(shared: &Shared) {
    loop {
        {
            let Ok(mut pending) = shared.pending.lock() else {
                return;
            };
            while pending.lines.is_empty() {
                pending.idle = true;
                pending = match shared.wake.wait(pending) {
                    Ok(p) => p,
                    Err(_) => return,
                };
            }
        }
        std::thread::sleep(BATCH);
        write_pending(shared);
    }
}

/// Takes what is pending and writes it in one go.
fn write_pending(shared: &Shared) {
    let Ok(_out) = shared.out.lock() else {
        return;
    };
    let batch = match shared.pending.lock() {
        Ok(mut pending) => std::mem::take(&mut pending.lines),
        Err(_) => return,
    };
    if batch.is_empty() {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(&batch);
    let _ = stdout.flush();
}

/// RFC 3339 UTC with milliseconds: `2024-05-01T12:00:00.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub fn shorten(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_utc_times() {
        let at = |s: u64, ms: u64| rfc3339(UNIX_EPOCH + Duration::from_millis(s * 1000 + ms));
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_714_564_800, 123), "2024-05-01T12:00:00.123Z");
    }

    #[test]
    fn shortens_at_char_boundaries() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("aé", 2), "a");
    }
}
