//! Request bodies under a cap: what the Worker reads of a phone's body, and how much.
//!
//! Everything a Worker holds counts against the isolate's memory, and a body comes from whoever
//! reaches the hostname. So a body is judged on its declared length before a byte of it is read,
//! and otherwise counted chunk by chunk as it arrives, refused at the first byte over the cap.
//! The cap is the engine's `uploads.max_bytes` for uploads (stored in KV or R2) and for the bodies of
//! rewritten requests (passed on to the upstream).

/// A body refused for its size: over the cap by its declared length or by what arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLarge;

/// The length a request declares in `Content-Length`, or `None` when it declares none or not
/// exactly one (the runtime joins repeated fields with `, `; a body without a usable length is
/// counted as it arrives instead). A run of digits too long for `u64` declares more than any cap.
pub fn declared_length(content_length: Option<&str>) -> Option<u64> {
    let value = content_length?.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse().unwrap_or(u64::MAX))
}

/// Counts a body's bytes against a cap as they arrive, so that the host stops reading at the
/// first chunk too many rather than after the whole body.
#[derive(Debug)]
pub struct BodyCap {
    max: usize,
    seen: usize,
}

impl BodyCap {
    /// A cap of `max` bytes for a body that declares `declared` bytes: refused at once, before
    /// any of it is read, when the declaration alone is over the cap.
    pub fn new(max: usize, declared: Option<u64>) -> Result<BodyCap, TooLarge> {
        if declared.is_some_and(|n| n > max as u64) {
            return Err(TooLarge);
        }
        Ok(BodyCap { max, seen: 0 })
    }

    /// Admits the next `len` bytes, or refuses the body when they take it over the cap.
    pub fn admit(&mut self, len: usize) -> Result<(), TooLarge> {
        match self.seen.checked_add(len) {
            Some(total) if total <= self.max => {
                self.seen = total;
                Ok(())
            }
            _ => Err(TooLarge),
        }
    }
}

/// How the body of a rewritten request goes on to the upstream.
#[derive(Debug)]
pub enum Forward {
    /// Handed to the upstream fetch as the runtime's own stream, never held by the Worker. Only
    /// for a body with a declared length within the cap: the HTTP framing bounds it to exactly
    /// that length, and the runtime sends it on with the same `Content-Length`.
    Stream,
    /// Read first, counted against the cap, then sent: a body without a declared length
    /// (chunked) has nothing else bounding it, and the Worker has no counting pass-through
    /// stream, so at most the cap is held in memory.
    Read(BodyCap),
}

impl Forward {
    /// How to pass on a body that declares `declared` bytes, under a cap of `max`; a
    /// declaration over the cap is refused before any of the body is read.
    pub fn new(max: usize, declared: Option<u64>) -> Result<Forward, TooLarge> {
        match declared {
            Some(_) => BodyCap::new(max, declared).map(|_| Forward::Stream),
            None => BodyCap::new(max, None).map(Forward::Read),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_a_declaration_only_when_it_is_one_number() {
        for (value, declared) in [
            (None, None),
            (Some("0"), Some(0)),
            (Some("1048576"), Some(1 << 20)),
            (Some(" 12 "), Some(12)),
            (Some("99999999999999999999999"), Some(u64::MAX)),
            (Some(""), None),
            (Some("+5"), None),
            (Some("-5"), None),
            (Some("5, 5"), None),
            (Some("0x10"), None),
        ] {
            assert_eq!(declared_length(value), declared, "{value:?}");
        }
    }

    #[test]
    fn a_declared_length_over_the_cap_is_refused_before_reading() {
        assert_eq!(BodyCap::new(64, Some(65)).err(), Some(TooLarge));
        assert_eq!(BodyCap::new(64, Some(u64::MAX)).err(), Some(TooLarge));
        assert!(BodyCap::new(64, Some(64)).is_ok());
        assert!(BodyCap::new(64, None).is_ok());
    }

    #[test]
    fn counting_stops_at_the_first_chunk_over_the_cap() {
        let mut cap = BodyCap::new(64, None).unwrap();
        assert_eq!(cap.admit(32), Ok(()));
        assert_eq!(cap.admit(32), Ok(()), "exactly the cap is accepted");
        assert_eq!(cap.admit(1), Err(TooLarge));

        let mut cap = BodyCap::new(64, None).unwrap();
        assert_eq!(cap.admit(65), Err(TooLarge), "one chunk over the cap");
        let mut cap = BodyCap::new(usize::MAX, None).unwrap();
        assert_eq!(cap.admit(usize::MAX), Ok(()));
        assert_eq!(cap.admit(1), Err(TooLarge), "no overflow");
    }

    #[test]
    fn rewritten_bodies_stream_when_their_length_is_declared_within_the_cap() {
        assert!(matches!(Forward::new(64, Some(64)), Ok(Forward::Stream)));
        assert!(matches!(Forward::new(64, Some(0)), Ok(Forward::Stream)));
        assert!(matches!(Forward::new(64, Some(65)), Err(TooLarge)));
        assert!(matches!(Forward::new(64, None), Ok(Forward::Read(_))));
    }
}
