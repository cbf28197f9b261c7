//! Stored files served as they are (firmware, tones, images): their metadata for the core's
//! answer (status, validators, ranges: `provedge::Stream::answer`), and the bytes it says to
//! send, read from the file as they are sent, never whole.

use std::io::{self, Seek, SeekFrom};
use std::path::Path;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::SystemTime;

use hyper::body::{Bytes, Frame, SizeHint};
use provedge::object::ObjectMeta;
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

    /// What the core needs to answer: length, validator, modification time.
    pub fn meta(&self) -> ObjectMeta {
        ObjectMeta {
            len: self.len,
            etag: self.etag.clone(),
            modified: self
                .modified
                .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map(|d| d.as_secs()),
        }
    }
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
