//! Fixed-length hex decoding for keys, IVs and salts given on a command line or in settings.
//!
//! Hand-written because it is a dozen lines and its errors must never echo the input.

use super::KeyError;

/// Decodes exactly `2 * N` hex digits (either case) into `N` bytes.
pub fn decode<const N: usize>(text: &str, expected: &'static str) -> Result<[u8; N], KeyError> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return Err(KeyError::Length {
            expected,
            got: digits.len(),
        });
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let (hi, lo) = match pair {
            [hi, lo] => (nibble(*hi)?, nibble(*lo)?),
            _ => return Err(KeyError::NotHex),
        };
        *byte = hi << 4 | lo;
    }
    Ok(out)
}

fn nibble(c: u8) -> Result<u8, KeyError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(KeyError::NotHex),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_both_cases_and_refuses_bad_input() {
        assert_eq!(decode::<2>("0aFf", "4"), Ok([0x0a, 0xff]));
        assert_eq!(
            decode::<2>("0aF", "4 hex digits"),
            Err(KeyError::Length {
                expected: "4 hex digits",
                got: 3
            })
        );
        assert_eq!(decode::<2>("0aFg", "4"), Err(KeyError::NotHex));
        // Multi-byte UTF-8 must not be split into a "valid" pair.
        assert_eq!(decode::<1>("é", "2"), Err(KeyError::NotHex));
    }
}
