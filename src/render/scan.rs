//! Scanning text eight bytes at a time, for the loops every rendered byte passes through:
//! escaping values, finding line ends. Plain safe Rust ("SIMD within a register"), so every
//! host (native, proxy-wasm, Worker) runs the same code.

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// Eight bytes as one word (`None` when fewer than eight are left).
#[inline]
pub(crate) fn word(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// Whether some byte of `w` is zero.
#[inline]
pub(crate) fn has_zero(w: u64) -> bool {
    w.wrapping_sub(ONES) & !w & HIGHS != 0
}

/// Whether some byte of `w` is `b`.
#[inline]
pub(crate) fn has_byte(w: u64, b: u8) -> bool {
    has_zero(w ^ ONES.wrapping_mul(u64::from(b)))
}

/// Whether some byte of `w` is below `n` (`n` at most 128).
#[inline]
pub(crate) fn has_below(w: u64, n: u8) -> bool {
    w.wrapping_sub(ONES.wrapping_mul(u64::from(n))) & !w & HIGHS != 0
}

/// The position of the first `needle` in `haystack`.
#[inline]
pub(crate) fn find_byte(haystack: &[u8], needle: u8) -> Option<usize> {
    let mut at = 0;
    while let Some(w) = word(haystack, at) {
        if has_byte(w, needle) {
            break;
        }
        at += 8;
    }
    let rest = haystack.get(at..)?;
    rest.iter().position(|&b| b == needle).map(|p| at + p)
}

/// Where escaped text goes: a `String`, or bytes that are known to stay UTF-8 (every piece
/// written is a whole `str`).
pub(crate) trait Sink {
    fn push_str(&mut self, s: &str);
}

impl Sink for String {
    #[inline]
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }
}

impl Sink for Vec<u8> {
    #[inline]
    fn push_str(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
}

/// Appends `s` to `out` with some characters replaced, copying the runs between them whole.
/// `special` says which bytes may begin a replaced character and `clean` that none of eight
/// bytes does; `replaced` says which are replaced and `write` writes a replacement. Those two
/// see an ASCII byte, or [`C1`] for a C1 control (U+0080–U+009F, UTF-8 `C2 80`–`C2 9F`), and
/// no other byte.
#[inline]
pub(crate) fn replace<S: Sink>(
    s: &str,
    out: &mut S,
    special: impl Fn(u8) -> bool,
    clean: impl Fn(u64) -> bool,
    replaced: impl Fn(u8) -> bool,
    write: impl Fn(u8, &mut S),
) {
    let bytes = s.as_bytes();
    let mut copied = 0;
    let mut at = 0;
    loop {
        while let Some(w) = word(bytes, at) {
            if !clean(w) {
                break;
            }
            at += 8;
        }
        // Byte by byte to the end of the word that was not clean (or of the text).
        let end = (at + 8).min(bytes.len());
        if at >= end {
            break;
        }
        while at < end {
            let Some(&b) = bytes.get(at) else { break };
            if !special(b) {
                at += 1;
                continue;
            }
            let (width, class) = match (b, bytes.get(at + 1)) {
                (0xc2, Some(0x80..=0x9f)) => (2, C1),
                // Another character from U+0080 to U+00BF.
                (0xc2, _) => {
                    at += 1;
                    continue;
                }
                (b, _) => (1, b),
            };
            if replaced(class) {
                // `at` and `at + width` are character boundaries: ASCII, or a whole C1
                // control.
                out.push_str(s.get(copied..at).unwrap_or_default());
                write(class, out);
                copied = at + width;
            }
            at += width;
        }
    }
    out.push_str(s.get(copied..).unwrap_or_default());
}

/// Stands for a C1 control in [`replace`].
pub(crate) const C1: u8 = 0xc2;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn words_agree_with_bytes(bytes in prop::array::uniform8(any::<u8>()), b in any::<u8>(), n in 0u8..=128) {
            let w = u64::from_le_bytes(bytes);
            prop_assert_eq!(has_zero(w), bytes.contains(&0));
            prop_assert_eq!(has_byte(w, b), bytes.contains(&b));
            prop_assert_eq!(has_below(w, n), bytes.iter().any(|&x| x < n));
        }

        #[test]
        fn finds_the_first_byte(haystack in prop::collection::vec(any::<u8>(), 0..40), b in any::<u8>()) {
            prop_assert_eq!(find_byte(&haystack, b), haystack.iter().position(|&x| x == b));
        }
    }
}
