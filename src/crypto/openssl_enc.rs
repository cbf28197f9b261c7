//! The OpenSSL `enc` container: what `openssl enc -e -aes-256-cbc -pass …` writes, and what
//! Grandstream, Cisco SPA/MPP and (base64-wrapped) Panasonic firmware decrypt.
//!
//! ```text
//! offset 0  : "Salted__"                  8 bytes, the magic
//! offset 8  : salt                        8 bytes, random per file
//! offset 16 : AES-CBC(key, iv, PKCS#7(plaintext))   always ≥ 1 block
//! ```
//!
//! Key and IV come from the password and salt through a [`Kdf`] (reference §1.1). Only the
//! salted form is produced: the unsalted OpenSSL 0.9.7 form would make every file under one
//! password share a key and IV. Decryption tells three failures apart ([`CryptoError::BadMagic`],
//! [`CryptoError::Truncated`], [`CryptoError::BadDecrypt`]) because each has a different cause.
//!
//! Unlike `openssl enc -S <salt>` on OpenSSL 3, which silently drops the header,
//! [`OpensslEnc::encrypt_with_salt`] always writes it.

use super::aes_cbc::{self, Cipher, BLOCK};
use super::kdf::{Kdf, KeyIv, SALT_LEN};
use super::{random, CryptoError, Password};

/// The first 8 bytes of every salted file.
pub const MAGIC: [u8; 8] = *b"Salted__";

/// Magic plus salt.
pub const HEADER_LEN: usize = MAGIC.len() + SALT_LEN;

/// A cipher, a key derivation and a password: everything needed to produce or read one
/// OpenSSL-container file except the salt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpensslEnc {
    /// AES-128/192/256-CBC.
    pub cipher: Cipher,
    /// EVP_BytesToKey (MD5 by default) or PBKDF2.
    pub kdf: Kdf,
    /// The shared secret the phone also knows.
    pub password: Password,
}

impl OpensslEnc {
    /// Bundles the three parameters.
    pub fn new(cipher: Cipher, kdf: Kdf, password: Password) -> Self {
        Self {
            cipher,
            kdf,
            password,
        }
    }

    /// The size of the file for a plaintext of `plaintext_len` bytes.
    pub const fn encrypted_len(plaintext_len: usize) -> usize {
        HEADER_LEN + (plaintext_len / BLOCK + 1) * BLOCK
    }

    /// The key and IV this file would use with `salt` (what `openssl enc -P` prints).
    pub fn key_iv(&self, salt: &[u8; SALT_LEN]) -> KeyIv {
        self.kdf.derive(self.cipher, &self.password, salt)
    }

    /// Encrypts with a salt the caller chose: deterministic, for tests and for hosts that bring
    /// their own randomness. A salt must never be reused with the same password.
    pub fn encrypt_with_salt(&self, plaintext: &[u8], salt: [u8; SALT_LEN]) -> Vec<u8> {
        let kiv = self.key_iv(&salt);
        let mut out = Vec::with_capacity(Self::encrypted_len(plaintext.len()));
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&salt);
        out.extend_from_slice(plaintext);
        aes_cbc::pad_pkcs7(&mut out, plaintext.len());
        // `out` starts with the HEADER_LEN bytes written above, so the body is always there.
        if let Some(body) = out.get_mut(HEADER_LEN..) {
            aes_cbc::encrypt_in_place(&kiv.key, &kiv.iv, body);
        }
        out
    }

    /// Encrypts with a fresh salt from the OS CSPRNG (see [`random`]).
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut salt = [0u8; SALT_LEN];
        random::fill(&mut salt)?;
        Ok(self.encrypt_with_salt(plaintext, salt))
    }

    /// Decrypts a whole file.
    pub fn decrypt(&self, file: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (salt, ciphertext) = split_header(file)?;
        aes_cbc::check_blocks(ciphertext)?;
        let kiv = self.key_iv(salt);
        let mut buf = ciphertext.to_vec();
        let len = aes_cbc::decrypt_pkcs7_in_place(&kiv.key, &kiv.iv, &mut buf)?;
        buf.truncate(len);
        Ok(buf)
    }
}

/// Splits a file into its salt and ciphertext.
///
/// Input that disagrees with the magic in its first bytes is [`CryptoError::BadMagic`] even when
/// short; input that agrees but ends before the salt does is [`CryptoError::Truncated`].
pub fn split_header(file: &[u8]) -> Result<(&[u8; SALT_LEN], &[u8]), CryptoError> {
    if file.iter().zip(MAGIC).any(|(&seen, want)| seen != want) {
        return Err(CryptoError::BadMagic);
    }
    let (_, rest) = file
        .split_first_chunk::<{ MAGIC.len() }>()
        .ok_or(CryptoError::Truncated)?;
    rest.split_first_chunk::<SALT_LEN>()
        .ok_or(CryptoError::Truncated)
}
