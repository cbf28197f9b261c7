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
//! {"scheme": "yealink_rsa", "public_key": "-----BEGIN PUBLIC KEY-----\n…"}
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
    Cipher, CryptoError, Digest, Kdf, KeyError, ObihaiKey, OpensslEnc, Panasonic, Password,
    YealinkKey, YealinkRsa,
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
    /// Yealink RSA mode: a fresh AES-256 key per file, wrapped with the operator's RSA public
    /// key and carried in the file's `#!key_ciphertext` line.
    YealinkRsa(YealinkRsa),
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

    /// Encrypts one file. Where the scheme has a salt, it is derived from the key material
    /// and the plaintext ([`derived_salt`]), so every engine instance (Envoy workers, Worker
    /// isolates, replicas) turns the same inputs into the same bytes: an Algo `.conf` and its
    /// `.md5` agree wherever each was fetched, and ETags do not change per instance.
    ///
    /// RSA mode is the exception: PKCS#1 v1.5 padding is random by design, so its key and
    /// padding come from the OS CSPRNG and every fetch gets different bytes.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if let Self::YealinkRsa(rsa) = self {
            return rsa.encrypt(plaintext);
        }
        let salt = match self {
            Self::Openssl(enc) | Self::Panasonic(Panasonic(enc)) => {
                derived_salt(enc.password.as_bytes(), plaintext)
            }
            _ => [0u8; SALT_LEN],
        };
        Ok(self.encrypt_with_salt(plaintext, salt))
    }

    /// Encrypts one file with a caller-chosen salt (ignored by the schemes without one).
    /// Deterministic: for tests and for hosts that bring their own randomness.
    pub fn encrypt_with_salt(&self, plaintext: &[u8], salt: [u8; SALT_LEN]) -> Vec<u8> {
        match self {
            Self::None => plaintext.to_vec(),
            Self::Openssl(enc) => enc.encrypt_with_salt(plaintext, salt),
            Self::Yealink { key, padding } => key.encrypt(plaintext, *padding),
            Self::YealinkRsa(rsa) => rsa.encrypt_with_salt(plaintext, salt),
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
            Self::YealinkRsa(_) => Err(CryptoError::Unsupported(
                "Yealink RSA-mode files open only with the RSA private key, which provedge never holds",
            )),
            Self::Obihai(key) => key.decrypt(file),
            Self::Panasonic(p) => p.decrypt(file),
        }
    }
}

/// The salt of a file: the first 8 bytes of HMAC-SHA256 keyed with the password over a
/// version label and the plaintext.
///
/// A salt only has to differ between different files under one password (so that equal
/// files are the only ones that share a key and IV, and they share the whole ciphertext
/// anyway); it need not be unpredictable. Keyed with the password, it tells nobody without the
/// password anything about the plaintext beyond "these two files are equal", which their equal
/// ciphertexts say regardless. A changed file gets a new salt, so a key and IV are never reused
/// across different plaintexts.
pub fn derived_salt(password: &[u8], plaintext: &[u8]) -> [u8; SALT_LEN] {
    let tag = super::lent::hmac_sha256(password, &[b"provedge salt v1\0", plaintext]);
    let mut salt = [0u8; SALT_LEN];
    for (s, t) in salt.iter_mut().zip(tag.iter()) {
        *s = *t;
    }
    salt
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
    YealinkRsa {
        public_key: String,
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
            Raw::YealinkRsa { public_key } => Self::YealinkRsa(YealinkRsa::from_pem(&public_key)?),
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
