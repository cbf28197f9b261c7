//! Stored files served as they are (firmware, tones, images): never read whole, with `Range`,
//! `HEAD`, and an ETag from the file's metadata for `If-None-Match`.

use std::io::{self, Seek, SeekFrom};
use std::path::Path;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::SystemTime;

use hyper::body::{Bytes, Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};

/// Bytes per read from the file.
const CHUNK: usize = 64 << 10;

/// An open stored file and what its metadata says.
pub struct Opened {
    file: std::fs::File,
    pub len: u64,
    pub modified: Option<SystemTime>,
    /// Strong ETag from length, modification time and inode: any replacement changes it.
    pub etag: String,
}

/// Opens the file for `path`; `Ok(None)` when there is none.
pub fn open(path: &Path) -> io::Result<Option<Opened>> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    let modified = meta.modified().ok();
    let nanos = modified
        .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0u64;
    Ok(Some(Opened {
        file,
        len: meta.len(),
        modified,
        etag: format!("\"{:x}-{nanos:x}-{inode:x}\"", meta.len()),
    }))
}

impl Opened {
    /// The body for `range` (as [`parse_range`] gave it), read from the file as it is sent.
    pub fn body(mut self, start: u64, len: u64) -> io::Result<FileBody> {
        self.file.seek(SeekFrom::Start(start))?;
        Ok(FileBody {
            file: tokio::fs::File::from_std(self.file),
            remaining: len,
            buf: Vec::new(),
        })
    }

    /// `Last-Modified`, when the file system knows it.
    pub fn last_modified(&self) -> Option<String> {
        self.modified.map(httpdate::fmt_http_date)
    }
}

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Ranged {
    /// The whole file (no range, an unsupported or malformed one, or several ranges).
    Full,
    /// Bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// Nothing of the file can satisfy it: 416.
    Unsatisfiable,
}

/// Reads a single byte range (RFC 9110 §14.1.2); anything else is served whole, as the RFC
/// allows a server to ignore `Range`.
pub fn parse_range(header: Option<&str>, len: u64) -> Ranged {
    let Some(spec) = header.map(str::trim).and_then(|h| {
        h.get(..6)
            .filter(|unit| unit.eq_ignore_ascii_case("bytes="))
            .map(|_| h[6..].trim())
    }) else {
        return Ranged::Full;
    };
    if spec.contains(',') {
        return Ranged::Full;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ranged::Full;
    };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match (first.trim().is_empty(), number(first), number(last)) {
        // `-N`: the last N bytes.
        (true, _, Some(n)) => {
            if n == 0 || len == 0 {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part {
                    start: len.saturating_sub(n),
                    end: len - 1,
                }
            }
        }
        (false, Some(start), None) if last.trim().is_empty() => {
            if start >= len {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part {
                    start,
                    end: len - 1,
                }
            }
        }
        (false, Some(start), Some(end)) if start <= end => {
            if start >= len {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part {
                    start,
                    end: end.min(len - 1),
                }
            }
        }
        _ => Ranged::Full,
    }
}

/// Whether an `If-None-Match` list names `etag` (weak comparison, RFC 9110 §13.1.2).
pub fn etag_matches(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// Whether the file is unchanged since an `If-Modified-Since` date (second precision).
pub fn not_modified_since(header: &str, modified: Option<SystemTime>) -> bool {
    let (Ok(since), Some(modified)) = (httpdate::parse_http_date(header), modified) else {
        return false;
    };
    let secs = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    secs(modified) <= secs(since)
}

/// A file read in chunks as the client takes them; memory per stream is one chunk.
pub struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    buf: Vec<u8>,
}

impl hyper::body::Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(this.remaining).map_or(CHUNK, |r| r.min(CHUNK));
        if this.buf.len() != want {
            this.buf.resize(want, 0);
        }
        let mut read = ReadBuf::new(&mut this.buf);
        ready!(Pin::new(&mut this.file).poll_read(cx, &mut read))?;
        let n = read.filled().len();
        if n == 0 {
            // The file shrank under us: end the response short rather than pad it.
            this.remaining = 0;
            return Poll::Ready(Some(Err(io::ErrorKind::UnexpectedEof.into())));
        }
        this.remaining -= n as u64;
        let mut chunk = std::mem::take(&mut this.buf);
        chunk.truncate(n);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let cases: &[(Option<&str>, u64, Ranged)] = &[
            (None, 10, Ranged::Full),
            (Some("bytes=0-3"), 10, Ranged::Part { start: 0, end: 3 }),
            (Some("BYTES=2-"), 10, Ranged::Part { start: 2, end: 9 }),
            (Some("bytes=-4"), 10, Ranged::Part { start: 6, end: 9 }),
            (Some("bytes=-40"), 10, Ranged::Part { start: 0, end: 9 }),
            (Some("bytes=5-100"), 10, Ranged::Part { start: 5, end: 9 }),
            (Some("bytes=10-"), 10, Ranged::Unsatisfiable),
            (Some("bytes=10-12"), 10, Ranged::Unsatisfiable),
            (Some("bytes=-0"), 10, Ranged::Unsatisfiable),
            (Some("bytes=0-"), 0, Ranged::Unsatisfiable),
            (Some("bytes=3-1"), 10, Ranged::Full),
            (Some("bytes=0-1,4-5"), 10, Ranged::Full),
            (Some("bytes=a-b"), 10, Ranged::Full),
            (Some("bytes=+1-2"), 10, Ranged::Full),
            (Some("items=0-1"), 10, Ranged::Full),
            (Some("bytes=99999999999999999999999-"), 10, Ranged::Full),
        ];
        for (header, len, want) in cases {
            assert_eq!(&parse_range(*header, *len), want, "{header:?} of {len}");
        }
    }

    #[test]
    fn etags() {
        assert!(etag_matches("\"a\"", "\"a\""));
        assert!(etag_matches("W/\"a\", \"b\"", "\"a\""));
        assert!(etag_matches("*", "\"a\""));
        assert!(!etag_matches("\"b\"", "\"a\""));
    }
}
