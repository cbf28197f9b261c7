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

/// The high bit of every byte of `w` that is zero, and of no other (unlike [`has_zero`]'s
/// word, exact byte by byte: no carry crosses a byte).
#[inline]
pub(crate) fn zeros(w: u64) -> u64 {
    !(((w & !HIGHS) + !HIGHS) | w) & HIGHS
}

/// The high bit of every byte of `w` that is `b`.
#[inline]
pub(crate) fn bytes_equal(w: u64, b: u8) -> u64 {
    zeros(w ^ ONES.wrapping_mul(u64::from(b)))
}

/// The high bit of every byte of `w` below `n` (`n` at most 128).
#[inline]
pub(crate) fn bytes_below(w: u64, n: u8) -> u64 {
    !(((w & !HIGHS) + ONES.wrapping_mul(u64::from(0x80 - n.min(0x80)))) | w) & HIGHS
}

/// [`replace`] into bytes, which lets the copying go a word at a time. `specials` marks, with
/// its high bit, every byte of a word that may begin a replaced character (exactly: no carry
/// may cross a byte, see [`bytes_equal`]); the bytes before each marked one are appended with
/// one eight-byte store and the rest cut off again ([`push_word`]), where copying each run
/// between two replaced characters would be a call to `memcpy`. Whole characters are kept or
/// replaced, so bytes that were UTF-8 stay UTF-8.
#[inline]
pub(crate) fn replace_bytes(
    s: &str,
    out: &mut Vec<u8>,
    specials: impl Fn(u64) -> u64,
    replaced: impl Fn(u8) -> bool,
    write: impl Fn(u8, &mut Vec<u8>),
) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        // The next eight bytes; at the end, the few left, in the low bytes of the word.
        let (w, n) = match word(bytes, at) {
            Some(w) => (w, 8),
            None => {
                let n = bytes.len() - at;
                let w = match bytes
                    .len()
                    .checked_sub(8)
                    .and_then(|last| word(bytes, last))
                {
                    Some(last) => last >> (8 * (8 - n)),
                    None => short_word(bytes.get(at..).unwrap_or_default()),
                };
                (w, n)
            }
        };
        let valid = if n == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * n)) - 1
        };
        let mut marked = specials(w) & valid;
        // Bytes of this word written (or dropped) so far; past `n` when a C1 control's second
        // byte was the next word's first.
        let mut done = 0;
        while marked != 0 {
            let first = (marked.trailing_zeros() / 8) as usize;
            marked &= marked - 1;
            if first < done {
                continue;
            }
            push_word(out, w >> (8 * done), first - done);
            let b = (w >> (8 * first)) as u8;
            done = first + 1;
            let class = match (b, bytes.get(at + done)) {
                (0xc2, Some(&next @ 0x80..=0x9f)) => {
                    done += 1;
                    if !replaced(C1) {
                        out.extend_from_slice(&[b, next]);
                        continue;
                    }
                    C1
                }
                // Another character from U+0080 to U+00BF: its second byte is copied next.
                (0xc2, _) => {
                    out.push(b);
                    continue;
                }
                (b, _) => b,
            };
            if replaced(class) {
                write(class, out);
            } else {
                out.push(b);
            }
        }
        if done < n {
            push_word(out, w >> (8 * done), n - done);
        }
        at += done.max(n);
    }
}

/// At most eight bytes as the low bytes of a word, read as two overlapping halves (the bytes
/// both hold are the same, so or-ing them keeps them).
#[inline]
pub(crate) fn short_word(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    let at = |i: usize| bytes.get(i).map_or(0, |&b| u64::from(b));
    let pair = |i: usize| {
        let b: Option<[u8; 2]> = bytes.get(i..i + 2).and_then(|b| b.try_into().ok());
        b.map_or(0, |b| u64::from(u16::from_le_bytes(b)))
    };
    let quad = |i: usize| {
        let b: Option<[u8; 4]> = bytes.get(i..i + 4).and_then(|b| b.try_into().ok());
        b.map_or(0, |b| u64::from(u32::from_le_bytes(b)))
    };
    match n {
        4.. => quad(0) | quad(n - 4) << (8 * (n - 4)),
        2.. => pair(0) | pair(n - 2) << (8 * (n - 2)),
        _ => at(0),
    }
}

/// Appends the first `n` bytes of `w` (`n` at most eight): one store of all eight, the rest
/// cut off again.
#[inline]
pub(crate) fn push_word(out: &mut Vec<u8>, w: u64, n: usize) {
    let len = out.len() + n;
    out.extend_from_slice(&w.to_le_bytes());
    out.truncate(len);
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
            let marks = |m: u64| m.to_le_bytes().map(|x| x == 0x80);
            prop_assert_eq!(marks(zeros(w)), bytes.map(|x| x == 0));
            prop_assert_eq!(marks(bytes_equal(w, b)), bytes.map(|x| x == b));
            prop_assert_eq!(marks(bytes_below(w, n)), bytes.map(|x| x < n));
        }

        #[test]
        fn short_words_hold_their_bytes(bytes in prop::collection::vec(any::<u8>(), 0..=8)) {
            let mut padded = [0u8; 8];
            padded[..bytes.len()].copy_from_slice(&bytes);
            prop_assert_eq!(short_word(&bytes), u64::from_le_bytes(padded));
        }

        #[test]
        fn finds_the_first_byte(haystack in prop::collection::vec(any::<u8>(), 0..40), b in any::<u8>()) {
            prop_assert_eq!(find_byte(&haystack, b), haystack.iter().position(|&x| x == b));
        }
    }
}
