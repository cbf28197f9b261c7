//! Per-device encryption settings, as the store holds them for a device, tenant or vendor.
//!
//! [`Encryption`] is validated while it is deserialised: a key of the wrong length, a bad hex
//! IV or a zero iteration count fails when configuration is loaded, not when a phone asks for a
//! file. Secrets inside it are held in redacting types, so `Debug` is safe to log.
//!
//! JSON shape (the `scheme` tag selects the variant; unknown fields are refused so a typo
//! cannot silently turn a setting off):
//!
//! ```json
//! {"scheme": "none"}
//! {"scheme": "openssl", "cipher": "aes-256-cbc", "md": "md5", "password": "…", "pbkdf2_iter": 10000}
//! {"scheme": "yealink", "key": "0123456789abcdef", "padding": "space"}
//! {"scheme": "obihai", "key_hex": "…32 hex…", "iv_hex": "…32 hex…"}
//! {"scheme": "panasonic", "cipher": "aes-128-cbc", "md": "md5", "password": "…"}
//! ```
//!
//! Defaults: `openssl` uses `aes-256-cbc` and `md5` with EVP_BytesToKey (what Grandstream and
//! Cisco firmware expect); `pbkdf2_iter` absent means no PBKDF2. `panasonic` uses `aes-128-cbc`
//! and `md5`. `yealink` pads with spaces.

use std::num::NonZeroU32;

use serde::Deserialize;

use super::kdf::SALT_LEN;
use super::yealink::Padding;
use super::{
    random, Cipher, CryptoError, Digest, Kdf, KeyError, ObihaiKey, OpensslEnc, Panasonic, Password,
    YealinkKey,
};

/// How a device's files are encrypted.
///
/// Callers must treat an `Err` from [`Encryption::encrypt`] as a failed response (HTTP 500),
/// never fall back to the plaintext: a device configured for encryption never receives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Raw")]
pub enum Encryption {
    /// Files are served as rendered.
    #[default]
    None,
    /// The OpenSSL `enc` container (Grandstream, Cisco).
    Openssl(OpensslEnc),
    /// Yealink AES-ECB with a 16- or 32-character key.
    Yealink {
        /// The config key.
        key: YealinkKey,
        /// Space (vendor tool) or PKCS#7 padding.
        padding: Padding,
    },
    /// Obihai raw AES-128-CBC.
    Obihai(ObihaiKey),
    /// Panasonic: the OpenSSL container in base64.
    Panasonic(Panasonic),
}

impl Encryption {
    /// Whether files are transformed at all.
    pub fn is_enabled(&self) -> bool {
        !matches!(self, Self::None)
    }

    /// Encrypts one file, drawing a salt from the OS CSPRNG where the scheme has one.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut salt = [0u8; SALT_LEN];
        if matches!(self, Self::Openssl(_) | Self::Panasonic(_)) {
            random::fill(&mut salt)?;
        }
        Ok(self.encrypt_with_salt(plaintext, salt))
    }

    /// Encrypts one file with a caller-chosen salt (ignored by the schemes without one).
    /// Deterministic: for tests and for hosts that bring their own randomness.
    pub fn encrypt_with_salt(&self, plaintext: &[u8], salt: [u8; SALT_LEN]) -> Vec<u8> {
        match self {
            Self::None => plaintext.to_vec(),
            Self::Openssl(enc) => enc.encrypt_with_salt(plaintext, salt),
            Self::Yealink { key, padding } => key.encrypt(plaintext, *padding),
            Self::Obihai(key) => key.encrypt(plaintext),
            Self::Panasonic(p) => p.encrypt_with_salt(plaintext, salt),
        }
    }

    /// Reverses [`Encryption::encrypt`] (for diagnostics and tests).
    pub fn decrypt(&self, file: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match self {
            Self::None => Ok(file.to_vec()),
            Self::Openssl(enc) => enc.decrypt(file),
            Self::Yealink { key, padding } => key.decrypt(file, *padding),
            Self::Obihai(key) => key.decrypt(file),
            Self::Panasonic(p) => p.decrypt(file),
        }
    }
}

/// The serialised form, before validation of the parts that serde cannot check alone.
#[derive(Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case", deny_unknown_fields)]
enum Raw {
    None,
    Openssl {
        #[serde(default = "aes_256")]
        cipher: Cipher,
        #[serde(default)]
        md: Digest,
        password: Password,
        #[serde(default)]
        pbkdf2_iter: Option<u32>,
    },
    Yealink {
        key: YealinkKey,
        #[serde(default)]
        padding: Padding,
    },
    Obihai {
        key_hex: String,
        iv_hex: String,
    },
    Panasonic {
        #[serde(default = "aes_128")]
        cipher: Cipher,
        #[serde(default)]
        md: Digest,
        password: Password,
    },
}

fn aes_256() -> Cipher {
    Cipher::Aes256Cbc
}

fn aes_128() -> Cipher {
    Cipher::Aes128Cbc
}

impl TryFrom<Raw> for Encryption {
    type Error = KeyError;
    fn try_from(raw: Raw) -> Result<Self, KeyError> {
        Ok(match raw {
            Raw::None => Self::None,
            Raw::Openssl {
                cipher,
                md,
                password,
                pbkdf2_iter,
            } => {
                let kdf = match pbkdf2_iter {
                    None => Kdf::EvpBytesToKey(md),
                    Some(n) => Kdf::Pbkdf2 {
                        md,
                        iterations: NonZeroU32::new(n).ok_or(KeyError::ZeroIterations)?,
                    },
                };
                Self::Openssl(OpensslEnc::new(cipher, kdf, password))
            }
            Raw::Yealink { key, padding } => Self::Yealink { key, padding },
            Raw::Obihai { key_hex, iv_hex } => {
                Self::Obihai(ObihaiKey::from_hex(&key_hex, &iv_hex)?)
            }
            Raw::Panasonic {
                cipher,
                md,
                password,
            } => Self::Panasonic(Panasonic(OpensslEnc::new(
                cipher,
                Kdf::EvpBytesToKey(md),
                password,
            ))),
        })
    }
}
