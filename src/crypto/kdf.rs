//! Password to key and IV, exactly as `openssl enc` derives them.
//!
//! Two derivations exist. [`Kdf::EvpBytesToKey`] is OpenSSL's historical one and the only one
//! phone firmware knows (Grandstream, Cisco, Panasonic): one round of
//! `D1 = H(password || salt)`, `Di = H(D(i-1) || password || salt)`, concatenated until there are
//! key + IV bytes (reference §1.1). It is weak (one hash), which is why OpenSSL 1.1.1 added
//! `-pbkdf2`: [`Kdf::Pbkdf2`] is PBKDF2-HMAC over the same digest, with the key and IV taken from
//! one output of `key_len + 16` bytes. EVP_BytesToKey is written here (it is ten lines); PBKDF2
//! comes from the RustCrypto `pbkdf2` crate.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use serde::Deserialize;
use sha2::digest::Digest as HashFn;

use super::aes_cbc::{AesKey, Cipher, BLOCK};
use super::{Password, UnknownName};

/// The salt length of the OpenSSL container.
pub const SALT_LEN: usize = 8;

/// `openssl enc`'s default `-iter` when `-pbkdf2` is given without one.
pub const DEFAULT_PBKDF2_ITERATIONS: NonZeroU32 = match NonZeroU32::new(10_000) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

/// The hash used by the derivation (`openssl enc -md`).
///
/// MD5 is the default because it is what firmware expects: OpenSSL used it until 1.1.0 and the
/// vendors' instructions predate that change (reference §1.1, §2.5, §5.3). A file made with the
/// wrong digest fails on the phone with "bad decrypt".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Digest {
    /// `-md md5`: OpenSSL ≤ 1.0.2's default, and the firmware default.
    #[default]
    Md5,
    /// `-md sha256`: OpenSSL ≥ 1.1.0's default.
    Sha256,
}

impl Digest {
    /// Both variants, for tables and tests.
    pub const ALL: [Digest; 2] = [Self::Md5, Self::Sha256];

    /// The `openssl -md` name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha256 => "sha256",
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Digest {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Self::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or(UnknownName {
                what: "digest",
                expected: "md5 or sha256",
            })
    }
}

/// How the password becomes a key and IV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kdf {
    /// `openssl enc -md <digest>` without `-pbkdf2`: EVP_BytesToKey, one iteration.
    EvpBytesToKey(Digest),
    /// `openssl enc -md <digest> -pbkdf2 -iter <iterations>`.
    Pbkdf2 {
        /// The HMAC digest.
        md: Digest,
        /// The iteration count (`-iter`).
        iterations: NonZeroU32,
    },
}

impl Default for Kdf {
    /// EVP_BytesToKey with MD5: what Grandstream and Cisco firmware expect.
    fn default() -> Self {
        Self::EvpBytesToKey(Digest::Md5)
    }
}

/// The key and IV for one file. `Debug` redacts both.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyIv {
    /// The AES key.
    pub key: AesKey,
    /// The CBC initialisation vector.
    pub iv: [u8; BLOCK],
}

impl fmt::Debug for KeyIv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyIv")
            .field("key", &self.key)
            .field("iv", &"<redacted>")
            .finish()
    }
}

/// The largest key + IV: AES-256 key and one block.
const MAX_MATERIAL: usize = 32 + BLOCK;

impl Kdf {
    /// Derives the key for `cipher` and the IV from `password` and `salt`.
    pub fn derive(self, cipher: Cipher, password: &Password, salt: &[u8; SALT_LEN]) -> KeyIv {
        let mut material = [0u8; MAX_MATERIAL];
        let len = cipher.key_len() + BLOCK;
        let (out, _) = material.split_at_mut(len);
        let pass = password.as_bytes();
        match self {
            Self::EvpBytesToKey(Digest::Md5) => evp_bytes_to_key::<md5::Md5>(pass, salt, out),
            Self::EvpBytesToKey(Digest::Sha256) => {
                evp_bytes_to_key::<sha2::Sha256>(pass, salt, out)
            }
            Self::Pbkdf2 {
                md: Digest::Md5,
                iterations,
            } => pbkdf2::pbkdf2_hmac::<md5::Md5>(pass, salt, iterations.get(), out),
            Self::Pbkdf2 {
                md: Digest::Sha256,
                iterations,
            } => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pass, salt, iterations.get(), out),
        }
        let (key, iv) = material.split_at(cipher.key_len());
        let mut out = KeyIv {
            key: AesKey::zero(cipher),
            iv: [0; BLOCK],
        };
        // Equal lengths by construction: `material` holds key_len + BLOCK ≤ MAX_MATERIAL bytes.
        out.key.as_bytes_mut().copy_from_slice(key);
        if let Some(iv) = iv.first_chunk::<BLOCK>() {
            out.iv = *iv;
        }
        out
    }
}

/// OpenSSL's `EVP_BytesToKey` with one iteration, filling `out`.
fn evp_bytes_to_key<H: HashFn>(password: &[u8], salt: &[u8], out: &mut [u8]) {
    let mut out = out.iter_mut();
    let mut prev: Option<sha2::digest::Output<H>> = None;
    while out.len() > 0 {
        let mut h = H::new();
        if let Some(p) = &prev {
            h.update(p);
        }
        h.update(password);
        h.update(salt);
        let d = h.finalize();
        // The digest comes first in the zip: when it runs out, zip stops before taking a byte
        // of `out` it could not fill, so the next round starts exactly where this one ended.
        for (byte, slot) in d.iter().zip(out.by_ref()) {
            *slot = *byte;
        }
        prev = Some(d);
    }
}
