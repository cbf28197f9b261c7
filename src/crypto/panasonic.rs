//! Panasonic KX-UTG200/300 encrypted config: the OpenSSL container, base64-armoured
//! (`openssl enc -aes-128-cbc -a -salt -pass pass:<key>`, reference §7 Panasonic).
//!
//! The armour is OpenSSL's `-a` format: standard base64 in 64-column lines, each ending in
//! `\n`. Decoding ignores ASCII whitespace, so files re-wrapped with CRLF still open. The
//! cipher follows the phone's `CFG_FILE_KEY_LENGTH` (AES-128 by default); the digest is MD5 by
//! the era of the firmware (inferred: reference tag \[I\]).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::kdf::SALT_LEN;
use super::{random, CryptoError, OpensslEnc};

/// Line width of `openssl enc -a` output.
pub const LINE: usize = 64;

/// The OpenSSL container parameters; Panasonic only adds the armour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panasonic(pub OpensslEnc);

impl Panasonic {
    /// Encrypts with a caller-chosen salt and armours the result.
    pub fn encrypt_with_salt(&self, plaintext: &[u8], salt: [u8; SALT_LEN]) -> Vec<u8> {
        armor(&self.0.encrypt_with_salt(plaintext, salt))
    }

    /// Encrypts with a fresh salt from the OS CSPRNG and armours the result.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut salt = [0u8; SALT_LEN];
        random::fill(&mut salt)?;
        Ok(self.encrypt_with_salt(plaintext, salt))
    }

    /// Removes the armour and decrypts.
    pub fn decrypt(&self, text: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.0.decrypt(&dearmor(text)?)
    }
}

/// Base64 in 64-column lines, each terminated by `\n`, as `openssl enc -a` writes it.
pub fn armor(bytes: &[u8]) -> Vec<u8> {
    let b64 = STANDARD.encode(bytes);
    let mut out = Vec::with_capacity(b64.len() + b64.len() / LINE + 1);
    for line in b64.as_bytes().chunks(LINE) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

/// Decodes base64, ignoring ASCII whitespace anywhere.
pub fn dearmor(text: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    STANDARD.decode(compact).map_err(|_| CryptoError::BadBase64)
}
