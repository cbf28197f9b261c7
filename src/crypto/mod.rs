//! Encryption of provisioning files in the formats phone firmware decrypts (issue 4).
//!
//! | scheme | vendors | module | format |
//! |---|---|---|---|
//! | OpenSSL `enc` container | Grandstream, Cisco SPA/MPP | [`openssl_enc`] | `Salted__` + salt + AES-CBC, key from a password |
//! | base64 OpenSSL container | Panasonic KX-UTG | [`panasonic`] | the above, `openssl -a` armour |
//! | AES-ECB, key as-is | Yealink | [`yealink`] | no header; `_Security.enc` key files |
//! | raw AES-128-CBC | Obihai | [`obihai`] | key and IV given, no header |
//! | AES-256-ECB, key RSA-wrapped | Yealink (RSA mode) | [`yealink_rsa`] | `#!encrypt` header, key inline |
//!
//! [`Encryption`] is the per-device setting that picks one of these; the store deserialises it
//! and the render step calls [`Encryption::encrypt`].
//!
//! ## Sans-IO: salts derived, not drawn
//!
//! Every scheme has a deterministic core that takes its salt as an argument
//! (`encrypt_with_salt`), which is what the vector tests drive. What is served uses
//! [`Encryption::encrypt`], whose salt is [`settings::derived_salt`]: a keyed hash of the
//! password and the plaintext, so every instance of a fleet (Envoy workers, Worker isolates,
//! replicas) serves identical bytes for identical inputs. The per-scheme `encrypt`
//! conveniences (the `provedge encrypt` command) still draw a salt from the OS CSPRNG through
//! [`random::fill`]: `getrandom(2)` natively, WASI `random_get` under proxy-wasm,
//! `crypto.getRandomValues` in the Worker.
//!
//! ## Secrets
//!
//! Passwords and keys live in [`Password`], [`YealinkKey`], [`ObihaiKey`] and [`AesKey`], whose
//! `Debug` prints `<redacted>` and which have no `Display`. [`CryptoError`] messages are fixed
//! text; a wrong-length key reports its length, never its value.
//!
//! Only the KDF (`EVP_BytesToKey`, in [`kdf`]) and the container framing are written here; the
//! ciphers, modes, digests, PBKDF2 and base64 are RustCrypto and `base64` crates. A host may lend
//! its own AES-CBC and HMAC-SHA256 ([`lent`]): the Worker lends workerd's, which are many times
//! faster than these in wasm.

pub mod aes_cbc;
mod error;
mod hex;
pub mod kdf;
pub mod lent;
pub mod obihai;
pub mod openssl_enc;
pub mod panasonic;
pub mod random;
mod secret;
pub mod settings;
pub mod yealink;
pub mod yealink_rsa;

use std::fmt;

pub use aes_cbc::{AesKey, Cipher};
pub use error::{CryptoError, KeyError};
pub use kdf::{Digest, Kdf, KeyIv, DEFAULT_PBKDF2_ITERATIONS, SALT_LEN};
pub use obihai::ObihaiKey;
pub use openssl_enc::OpensslEnc;
pub use panasonic::Panasonic;
pub use secret::Password;
pub use settings::Encryption;
pub use yealink::{Padding, YealinkKey};
pub use yealink_rsa::YealinkRsa;

/// Decodes a hex salt (16 digits), e.g. from a `--salt` option.
pub fn parse_salt(text: &str) -> Result<[u8; SALT_LEN], KeyError> {
    hex::decode(text, "16 hex digits")
}

/// A name (cipher, digest, padding) that is not one of the choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownName {
    /// What was being named, e.g. "cipher".
    pub what: &'static str,
    /// The accepted names.
    pub expected: &'static str,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {}: expected {}", self.what, self.expected)
    }
}

impl std::error::Error for UnknownName {}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;
