//! Obihai raw AES-128-CBC: `openssl enc -aes-128-cbc -K <hex> -iv <hex>` (reference §7 Obihai).
//!
//! The device is given the key and IV themselves (`SYNC -A=aes -K=$SPRM0 -IV=$SPRM1 …`), so
//! there is no password, no salt and no `Salted__` header: just PKCS#7-padded CBC. The IV is
//! fixed by the device's configuration, so equal plaintexts give equal files; that is the
//! vendor's scheme and cannot be improved from the server side.

use std::fmt;

use super::aes_cbc::{self, AesKey, BLOCK};
use super::{hex, CryptoError, KeyError};

/// The key and IV an Obihai device is configured with. `Debug` redacts both.
#[derive(Clone, PartialEq, Eq)]
pub struct ObihaiKey {
    key: [u8; 16],
    iv: [u8; BLOCK],
}

impl ObihaiKey {
    /// From raw bytes.
    pub fn new(key: [u8; 16], iv: [u8; BLOCK]) -> Self {
        Self { key, iv }
    }

    /// From two strings of 32 hex digits each.
    pub fn from_hex(key_hex: &str, iv_hex: &str) -> Result<Self, KeyError> {
        Ok(Self {
            key: hex::decode(key_hex, "32 hex digits")?,
            iv: hex::decode(iv_hex, "32 hex digits")?,
        })
    }

    /// Encrypts; deterministic.
    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut buf = Vec::with_capacity(plaintext.len() + BLOCK);
        buf.extend_from_slice(plaintext);
        aes_cbc::pad_pkcs7(&mut buf, plaintext.len());
        aes_cbc::encrypt_in_place(&AesKey::Aes128(self.key), &self.iv, &mut buf);
        buf
    }

    /// Decrypts and checks the padding.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        aes_cbc::check_blocks(ciphertext)?;
        let mut buf = ciphertext.to_vec();
        let len = aes_cbc::decrypt_pkcs7_in_place(&AesKey::Aes128(self.key), &self.iv, &mut buf)?;
        buf.truncate(len);
        Ok(buf)
    }
}

impl fmt::Debug for ObihaiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ObihaiKey(<redacted>)")
    }
}
