//! The MAC address: parsed once from whatever form a phone sends, used as a type everywhere after.
//!
//! Phones spell their MAC four ways (vendors.md §1.2): `000b82a1b2c3`, `000413922D24`,
//! `00:15:65:4a:a9:37` and `00-08-5D-23-74-29`. All of them parse to the same six bytes, so nothing
//! downstream ever compares strings that might differ only in case or separators.

use std::fmt;
use std::str::FromStr;

/// A 48-bit IEEE MAC address. Six bytes; there is no "upper-case MAC", only an upper-case *spelling*.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac([u8; 6]);

/// How a MAC is spelled in a file name or key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacCase {
    /// `000b82a1b2c3`: Grandstream, Yealink, Polycom, Fanvil, Cisco `$MA`, Htek.
    Lower,
    /// `000B82A1B2C3`: Algo, Aastra/Mitel, Snom, Cisco 79xx `SEP…`, Gigaset, Panasonic.
    Upper,
}

/// Why a string is not a MAC. Carries no input text, so it can be shown without echoing junk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacError {
    /// Not 12 hex digits once separators are removed; holds the digit count seen.
    WrongLength(usize),
    /// A character that is neither a hex digit nor an accepted separator.
    NotHex,
    /// Separators are present but not in the `xx:xx:…` / `xx-xx-…` positions.
    BadSeparators,
}

impl fmt::Display for MacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MacError::WrongLength(n) => write!(f, "expected 12 hex digits, found {n}"),
            MacError::NotHex => f.write_str("contains a character that is not a hex digit"),
            MacError::BadSeparators => f.write_str("separators are not between byte pairs"),
        }
    }
}

impl std::error::Error for MacError {}

impl Mac {
    /// Builds a MAC from its bytes.
    pub const fn from_bytes(bytes: [u8; 6]) -> Mac {
        Mac(bytes)
    }

    /// The six bytes, e.g. for the Grandstream binary header.
    pub const fn bytes(&self) -> [u8; 6] {
        self.0
    }

    /// The first three bytes (the IEEE OUI), which say who made the device.
    pub const fn oui(&self) -> [u8; 3] {
        [self.0[0], self.0[1], self.0[2]]
    }

    /// True for `00:00:00:00:00:00`, which Polycom and Yealink use as a "generic file" name and
    /// which therefore never identifies a device.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }

    /// Parses exactly twelve hex digits, no separators: the form every vendor uses in file names.
    pub fn parse_compact(s: &str) -> Result<Mac, MacError> {
        let b = s.as_bytes();
        if b.len() != 12 {
            return Err(if b.iter().all(u8::is_ascii_hexdigit) {
                MacError::WrongLength(b.len())
            } else {
                MacError::NotHex
            });
        }
        let mut out = [0u8; 6];
        // Twelve digits fill the six bytes exactly; a missing one cannot happen and would read
        // as a bad digit.
        let mut digits = b.iter().map(|&c| hex_val(c));
        for byte in &mut out {
            let hi = digits.next().flatten().ok_or(MacError::NotHex)?;
            let lo = digits.next().flatten().ok_or(MacError::NotHex)?;
            *byte = hi << 4 | lo;
        }
        Ok(Mac(out))
    }

    /// Spells the MAC as 12 hex digits in the given case, without allocating a `String` per digit.
    pub fn compact(&self, case: MacCase) -> String {
        let ten = match case {
            MacCase::Lower => b'a',
            MacCase::Upper => b'A',
        };
        let mut s = String::with_capacity(12);
        for byte in self.0 {
            s.push(hex_digit(byte >> 4, ten));
            s.push(hex_digit(byte & 0xf, ten));
        }
        s
    }
}

/// The hex digit for a nibble (0..=15), spelling ten as `ten` (`a` or `A`).
fn hex_digit(nibble: u8, ten: u8) -> char {
    // nibble ≤ 15, so neither sum overflows.
    char::from(if nibble < 10 {
        b'0' + nibble
    } else {
        ten + (nibble - 10)
    })
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Accepts the compact form and the colon/dash forms (`00:15:65:4a:a9:37`, `00-08-5D-23-74-29`).
impl FromStr for Mac {
    type Err = MacError;

    fn from_str(s: &str) -> Result<Mac, MacError> {
        let b = s.as_bytes();
        if !b.contains(&b':') && !b.contains(&b'-') {
            return Mac::parse_compact(s);
        }
        let Ok(b) = <&[u8; 17]>::try_from(b) else {
            let digits = b.iter().filter(|c| c.is_ascii_hexdigit()).count();
            return Err(if digits == 12 {
                MacError::BadSeparators
            } else {
                MacError::WrongLength(digits)
            });
        };
        let sep = b[2];
        // Every third byte (2, 5, …, 14) is a separator; the other twelve fill `compact`.
        let mut compact = [0u8; 12];
        let mut slots = compact.iter_mut();
        for (i, &c) in b.iter().enumerate() {
            if i % 3 != 2 {
                if let Some(slot) = slots.next() {
                    *slot = c;
                }
            } else if c != sep {
                return Err(MacError::BadSeparators);
            }
        }
        // The compact copy is ASCII by construction unless the input held multi-byte chars there.
        match std::str::from_utf8(&compact) {
            Ok(c) => Mac::parse_compact(c),
            Err(_) => Err(MacError::NotHex),
        }
    }
}

/// Lower-case compact form: the one spelling used in keys, logs and JSON.
impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.compact(MacCase::Lower))
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({self})")
    }
}

impl serde::Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Mac {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Mac, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses_to_the_same_bytes() {
        let want = Mac::from_bytes([0x00, 0x15, 0x65, 0x4a, 0xa9, 0x37]);
        for s in [
            "0015654aa937",
            "0015654AA937",
            "00:15:65:4a:a9:37",
            "00-15-65-4A-A9-37",
        ] {
            assert_eq!(s.parse::<Mac>(), Ok(want), "{s}");
        }
        assert_eq!(want.to_string(), "0015654aa937");
        assert_eq!(want.compact(MacCase::Upper), "0015654AA937");
        assert_eq!(want.oui(), [0x00, 0x15, 0x65]);
    }

    #[test]
    fn malformed_macs_are_refused_with_a_reason() {
        assert_eq!(
            Mac::parse_compact("0015654aa93"),
            Err(MacError::WrongLength(11))
        );
        assert_eq!(Mac::parse_compact("0015654aa93g"), Err(MacError::NotHex));
        assert_eq!(
            "00:15:65:4a:a9-37".parse::<Mac>(),
            Err(MacError::BadSeparators)
        );
        assert_eq!(
            "00:15:65:4a:a9:3".parse::<Mac>(),
            Err(MacError::WrongLength(11))
        );
        assert_eq!(
            "0:015:65:4a:a9:37".parse::<Mac>(),
            Err(MacError::BadSeparators)
        );
        assert_eq!("00:15:65:4a:é:37".parse::<Mac>(), Err(MacError::NotHex));
    }
}
