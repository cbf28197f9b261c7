//! Why an encryption or decryption failed, in words that are safe to log.
//!
//! Every message here is fixed text or a length: no variant carries a password, key, IV or a
//! byte of plaintext, so a `CryptoError` can go into a log line, an HTTP 500 body or a CLI
//! `stderr` without leaking the secret that caused it.

use std::fmt;

/// A failed encryption, decryption or key parse.
///
/// The three decryption failures are kept apart on purpose: [`BadMagic`](Self::BadMagic) means
/// "this is not an OpenSSL file at all", [`Truncated`](Self::Truncated) means "the file was cut
/// short" (a transfer problem), and [`BadDecrypt`](Self::BadDecrypt) means "wrong password,
/// digest or cipher" (a configuration problem). Operators fix each in a different place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// The input does not start with the 8 bytes `Salted__`.
    BadMagic,
    /// The input ends before a whole header or a whole cipher block.
    Truncated,
    /// The padding did not check out after decryption: the password, key, digest or cipher is
    /// wrong, or the data is corrupt. OpenSSL calls this "bad decrypt".
    BadDecrypt,
    /// A password, key or IV is unusable; the payload says why without showing it.
    BadKey(KeyError),
    /// Text that should be base64 is not.
    BadBase64,
    /// The operating system's CSPRNG could not supply a salt.
    Randomness(getrandom::Error),
    /// The scheme cannot do this (for example a Yealink key file for a 32-character key).
    Unsupported(&'static str),
}

/// What is wrong with a password, key or IV. Never contains the secret itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The password or key is empty.
    Empty,
    /// The key has the wrong length; `expected` names the allowed lengths.
    Length {
        /// The allowed lengths, e.g. "16 or 32 characters".
        expected: &'static str,
        /// The length that was given.
        got: usize,
    },
    /// The key contains a character outside the set the device accepts.
    Charset {
        /// The set the device accepts, spelled out.
        allowed: &'static str,
    },
    /// A hex key or IV contains a character that is not a hex digit.
    NotHex,
    /// A PBKDF2 iteration count of zero.
    ZeroIterations,
    /// An RSA public key that is not PEM SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`).
    PublicKey,
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic => f.write_str("bad magic number: input does not start with Salted__"),
            Self::Truncated => f.write_str("truncated input: ends before a whole header or block"),
            Self::BadDecrypt => {
                f.write_str("bad decrypt: wrong password, key, digest or cipher, or corrupt data")
            }
            Self::BadKey(e) => write!(f, "bad key: {e}"),
            Self::BadBase64 => f.write_str("input is not valid base64"),
            Self::Randomness(e) => write!(f, "the OS random number generator failed: {e}"),
            Self::Unsupported(what) => write!(f, "unsupported: {what}"),
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the password or key is empty"),
            Self::Length { expected, got } => write!(f, "the key must be {expected}, got {got}"),
            Self::Charset { allowed } => write!(f, "the key has a character outside {allowed}"),
            Self::NotHex => f.write_str("the key or IV has a character that is not a hex digit"),
            Self::ZeroIterations => f.write_str("the PBKDF2 iteration count must be at least 1"),
            Self::PublicKey => f.write_str(
                "the RSA public key is not PEM SubjectPublicKeyInfo or PKCS#1 (BEGIN PUBLIC KEY / BEGIN RSA PUBLIC KEY)",
            ),
        }
    }
}

impl std::error::Error for CryptoError {}
impl std::error::Error for KeyError {}

impl From<KeyError> for CryptoError {
    fn from(e: KeyError) -> Self {
        Self::BadKey(e)
    }
}
