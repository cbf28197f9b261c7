//! Yealink "compatibility mode" config encryption and `_Security.enc` key files (reference §4.5a).
//!
//! A config file is `AES-ECB(K, plaintext || padding)` where the key `K` is 16 or 32 ASCII
//! characters used directly as an AES-128 or AES-256 key: no KDF, no IV, no header. The file
//! keeps its name. The phone gets `K` either from its own settings
//! (`static.auto_provision.aes_key.com` / `.mac`) or from `<name>_Security.enc` beside the file,
//! which is `K` encrypted with AES-128-ECB under a key built into every phone.
//!
//! ECB and a fixed built-in key are Yealink's design, not ours; they are reproduced here because
//! the phones accept nothing stronger in this mode. Decryption cannot detect a wrong key when
//! padding is [`Padding::Space`] (there is nothing to check), so it returns garbage rather than
//! an error; only [`Padding::Pkcs7`] can report [`CryptoError::BadDecrypt`].

use std::fmt;
use std::str::FromStr;

use aes::cipher::block_padding::{NoPadding, Pkcs7};
use aes::cipher::{BlockDecryptMut, KeyInit};
use aes::{Aes128, Aes256};
use serde::Deserialize;

use super::aes_cbc::{self, BLOCK};
use super::{CryptoError, KeyError, UnknownName};

/// The key every Yealink phone uses to open `_Security.enc` files (reference §4.5a).
pub const COMMON_KEY: [u8; 16] = *b"EKs35XacP6eybA25";

/// The characters Yealink accepts in `aes_key` settings, as its admin guide lists them.
pub const KEY_CHARSET: &str = "0-9 A-Z a-z # $ % * + , - . : = ? @ [ ] ^ _ { } ~";

/// A Yealink config key: 16 characters (AES-128) or 32 characters (AES-256) from
/// [`KEY_CHARSET`]. A key the phone could not be configured with cannot be constructed.
/// `Debug` redacts it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct YealinkKey(KeyBytes);

#[derive(Clone, PartialEq, Eq)]
enum KeyBytes {
    Aes128([u8; 16]),
    Aes256([u8; 32]),
}

/// How the last block is filled before encryption.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    /// Spaces up to the next 16-byte boundary, none if already aligned: what Yealink's own
    /// tool writes (reference §4.5a), so output matches it byte for byte. Config parsers ignore
    /// trailing spaces; decryption strips up to 15 of them, including any the plaintext had.
    #[default]
    Space,
    /// PKCS#7 (always 1..=16 bytes): what third-party tools write; phones accept it too.
    Pkcs7,
}

impl Padding {
    /// Both variants, for tables and tests.
    pub const ALL: [Padding; 2] = [Self::Space, Self::Pkcs7];

    /// The CLI and settings name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Space => "space",
            Self::Pkcs7 => "pkcs7",
        }
    }
}

impl FromStr for Padding {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or(UnknownName {
                what: "padding",
                expected: "space or pkcs7",
            })
    }
}

fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"#$%*+,-.:=?@[]^_{}~".contains(&b)
}

impl YealinkKey {
    /// Validates length and character set.
    pub fn parse(key: &str) -> Result<Self, KeyError> {
        Self::from_bytes(key.as_bytes())
    }

    fn from_bytes(key: &[u8]) -> Result<Self, KeyError> {
        if !key.iter().all(|&b| allowed(b)) {
            return Err(KeyError::Charset {
                allowed: KEY_CHARSET,
            });
        }
        if let Ok(k) = <[u8; 16]>::try_from(key) {
            Ok(Self(KeyBytes::Aes128(k)))
        } else if let Ok(k) = <[u8; 32]>::try_from(key) {
            Ok(Self(KeyBytes::Aes256(k)))
        } else if key.is_empty() {
            Err(KeyError::Empty)
        } else {
            Err(KeyError::Length {
                expected: "16 or 32 characters",
                got: key.len(),
            })
        }
    }

    /// 128 or 256.
    pub fn bits(&self) -> u16 {
        match self.0 {
            KeyBytes::Aes128(_) => 128,
            KeyBytes::Aes256(_) => 256,
        }
    }

    /// Encrypts a config file. Deterministic: ECB has no IV and this mode no salt.
    pub fn encrypt(&self, plaintext: &[u8], padding: Padding) -> Vec<u8> {
        let mut buf = Vec::with_capacity(plaintext.len() + BLOCK);
        buf.extend_from_slice(plaintext);
        match padding {
            Padding::Space => {
                let n = (BLOCK - plaintext.len() % BLOCK) % BLOCK;
                buf.resize(plaintext.len() + n, b' ');
            }
            Padding::Pkcs7 => aes_cbc::pad_pkcs7(&mut buf, plaintext.len()),
        }
        match &self.0 {
            KeyBytes::Aes128(k) => {
                aes_cbc::encrypt_blocks(ecb::Encryptor::<Aes128>::new(k.into()), &mut buf)
            }
            KeyBytes::Aes256(k) => {
                aes_cbc::encrypt_blocks(ecb::Encryptor::<Aes256>::new(k.into()), &mut buf)
            }
        }
        buf
    }

    /// Decrypts a config file and removes `padding`.
    pub fn decrypt(&self, ciphertext: &[u8], padding: Padding) -> Result<Vec<u8>, CryptoError> {
        if ciphertext.len() % BLOCK != 0 || (padding == Padding::Pkcs7 && ciphertext.is_empty()) {
            return Err(CryptoError::Truncated);
        }
        let mut buf = ciphertext.to_vec();
        let len = match (&self.0, padding) {
            (KeyBytes::Aes128(k), Padding::Pkcs7) => ecb::Decryptor::<Aes128>::new(k.into())
                .decrypt_padded_mut::<Pkcs7>(&mut buf)
                .map(<[u8]>::len),
            (KeyBytes::Aes256(k), Padding::Pkcs7) => ecb::Decryptor::<Aes256>::new(k.into())
                .decrypt_padded_mut::<Pkcs7>(&mut buf)
                .map(<[u8]>::len),
            (KeyBytes::Aes128(k), Padding::Space) => ecb::Decryptor::<Aes128>::new(k.into())
                .decrypt_padded_mut::<NoPadding>(&mut buf)
                .map(strip_space_padding),
            (KeyBytes::Aes256(k), Padding::Space) => ecb::Decryptor::<Aes256>::new(k.into())
                .decrypt_padded_mut::<NoPadding>(&mut buf)
                .map(strip_space_padding),
        }
        .map_err(|_| CryptoError::BadDecrypt)?;
        buf.truncate(len);
        Ok(buf)
    }

    /// The 16-byte `<name>_Security.enc` file that carries this key: `AES-128-ECB(COMMON_KEY, K)`.
    ///
    /// Only 16-character keys fit: the reference documents the file as exactly 16 bytes, and no
    /// public source shows what the phone expects for a 32-character key, so that case is
    /// refused rather than guessed.
    pub fn key_file(&self) -> Result<[u8; 16], CryptoError> {
        match &self.0 {
            KeyBytes::Aes128(k) => {
                let mut block = *k;
                aes_cbc::encrypt_blocks(
                    ecb::Encryptor::<Aes128>::new(&COMMON_KEY.into()),
                    &mut block,
                );
                Ok(block)
            }
            KeyBytes::Aes256(_) => Err(CryptoError::Unsupported(
                "a Yealink _Security.enc key file holds a 16-character key, not a 32-character one",
            )),
        }
    }

    /// Reads the key out of a `_Security.enc` file. A file that does not decrypt to a valid key
    /// is [`CryptoError::BadDecrypt`].
    pub fn from_key_file(file: &[u8]) -> Result<Self, CryptoError> {
        let mut block = <[u8; 16]>::try_from(file).map_err(|_| {
            CryptoError::BadKey(KeyError::Length {
                expected: "16 bytes",
                got: file.len(),
            })
        })?;
        let dec = ecb::Decryptor::<Aes128>::new(&COMMON_KEY.into());
        dec.decrypt_padded_mut::<NoPadding>(&mut block)
            .map_err(|_| CryptoError::BadDecrypt)?;
        Self::from_bytes(&block).map_err(|_| CryptoError::BadDecrypt)
    }
}

/// The key file's name for a config file: `y000000000058.cfg` → `y000000000058_Security.enc`.
pub fn key_file_name(config_file: &str) -> String {
    let base = match config_file.rsplit_once('.') {
        Some((base, _ext)) if !base.is_empty() => base,
        _ => config_file,
    };
    format!("{base}_Security.enc")
}

/// Length without the trailing spaces of the last block (at most 15, the most space padding adds).
fn strip_space_padding(plain: &[u8]) -> usize {
    let spaces = plain
        .iter()
        .rev()
        .take(BLOCK - 1)
        .take_while(|&&b| b == b' ')
        .count();
    plain.len() - spaces
}

impl FromStr for YealinkKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        Self::parse(s)
    }
}

impl TryFrom<String> for YealinkKey {
    type Error = KeyError;
    fn try_from(s: String) -> Result<Self, KeyError> {
        Self::parse(&s)
    }
}

impl fmt::Debug for YealinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "YealinkKey(AES-{}, <redacted>)", self.bits())
    }
}
