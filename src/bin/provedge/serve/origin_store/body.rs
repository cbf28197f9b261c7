//! A streamed file's body as the origin sends it, cut to exactly the bytes the core said to
//! send: what precedes them is skipped (an origin that ignored `Range` sends the whole object)
//! and what follows is dropped. Memory is one frame at a time; an origin that goes quiet for
//! longer than `server.origin.timeout_ms` ends the response short, as a failed read would.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

pub struct OriginBody {
    inner: Incoming,
    /// Bytes still to skip before the first one sent.
    skip: u64,
    /// Bytes still to send.
    remaining: u64,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl OriginBody {
    /// Sends `len` bytes of `inner` from offset `skip`.
    pub fn new(inner: Incoming, skip: u64, len: u64, idle: Duration) -> OriginBody {
        OriginBody {
            inner,
            skip,
            remaining: len,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
        }
    }

    /// Ends the body with `kind`: the response is cut short, which the client sees.
    fn fail(&mut self, kind: io::ErrorKind) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.remaining = 0;
        Poll::Ready(Some(Err(kind.into())))
    }
}

impl hyper::body::Body for OriginBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        loop {
            if this.remaining == 0 {
                return Poll::Ready(None);
            }
            let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => {
                    if this.deadline.as_mut().poll(cx).is_ready() {
                        return this.fail(io::ErrorKind::TimedOut);
                    }
                    return Poll::Pending;
                }
                // The origin ended before the bytes the headers promised.
                Poll::Ready(None) => return this.fail(io::ErrorKind::UnexpectedEof),
                Poll::Ready(Some(Err(_))) => return this.fail(io::ErrorKind::ConnectionAborted),
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            let next = Instant::now() + this.idle;
            this.deadline.as_mut().reset(next);
            let Ok(mut data) = frame.into_data() else {
                continue;
            };
            if this.skip > 0 {
                let n = usize::try_from(this.skip).map_or(data.len(), |s| s.min(data.len()));
                data = data.slice(n..);
                this.skip -= n as u64;
            }
            if let Ok(remaining) = usize::try_from(this.remaining) {
                data.truncate(remaining);
            }
            if data.is_empty() {
                continue;
            }
            this.remaining -= data.len() as u64;
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
