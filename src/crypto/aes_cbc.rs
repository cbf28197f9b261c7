//! AES-CBC with a key size chosen at run time, the block layer under the OpenSSL container,
//! Panasonic and Obihai.
//!
//! The key is an [`AesKey`] enum rather than a byte slice, so a key of the wrong length cannot
//! reach the cipher: every call below is infallible except the padding check on decryption.

use std::fmt;
use std::str::FromStr;

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::consts::U16;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use aes::{Aes128, Aes192, Aes256};
use serde::Deserialize;

use super::{CryptoError, UnknownName};

/// The AES block size; also the IV length.
pub const BLOCK: usize = 16;

/// Which AES-CBC variant, named as `openssl enc` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Cipher {
    /// `aes-128-cbc`: Panasonic's default (`CFG_FILE_KEY_LENGTH`), Obihai.
    #[serde(rename = "aes-128-cbc")]
    Aes128Cbc,
    /// `aes-192-cbc`: offered by Panasonic.
    #[serde(rename = "aes-192-cbc")]
    Aes192Cbc,
    /// `aes-256-cbc`: what Grandstream and Cisco document.
    #[serde(rename = "aes-256-cbc")]
    Aes256Cbc,
}

impl Cipher {
    /// Every variant, for tables and tests.
    pub const ALL: [Cipher; 3] = [Self::Aes128Cbc, Self::Aes192Cbc, Self::Aes256Cbc];

    /// Key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Self::Aes128Cbc => 16,
            Self::Aes192Cbc => 24,
            Self::Aes256Cbc => 32,
        }
    }

    /// The `openssl enc` name, e.g. `aes-256-cbc`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Aes128Cbc => "aes-128-cbc",
            Self::Aes192Cbc => "aes-192-cbc",
            Self::Aes256Cbc => "aes-256-cbc",
        }
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Cipher {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or(UnknownName {
                what: "cipher",
                expected: "aes-128-cbc, aes-192-cbc or aes-256-cbc",
            })
    }
}

/// An AES key whose length is part of its type.
#[derive(Clone, PartialEq, Eq)]
pub enum AesKey {
    /// 128-bit key.
    Aes128([u8; 16]),
    /// 192-bit key.
    Aes192([u8; 24]),
    /// 256-bit key.
    Aes256([u8; 32]),
}

impl AesKey {
    /// An all-zero key of the right size, to be filled by a KDF.
    pub(crate) fn zero(cipher: Cipher) -> Self {
        match cipher {
            Cipher::Aes128Cbc => Self::Aes128([0; 16]),
            Cipher::Aes192Cbc => Self::Aes192([0; 24]),
            Cipher::Aes256Cbc => Self::Aes256([0; 32]),
        }
    }

    /// The AES-CBC variant this key is for.
    pub fn cipher(&self) -> Cipher {
        match self {
            Self::Aes128(_) => Cipher::Aes128Cbc,
            Self::Aes192(_) => Cipher::Aes192Cbc,
            Self::Aes256(_) => Cipher::Aes256Cbc,
        }
    }

    pub(crate) fn as_bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Self::Aes128(k) => k,
            Self::Aes192(k) => k,
            Self::Aes256(k) => k,
        }
    }

    /// The raw key bytes (for comparing against `openssl enc -P`).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Aes128(k) => k,
            Self::Aes192(k) => k,
            Self::Aes256(k) => k,
        }
    }
}

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = self.as_bytes().len() * 8;
        write!(f, "AesKey({bits} bits, <redacted>)")
    }
}

/// Appends PKCS#7 padding (always 1..=16 bytes) to `buf`.
pub(crate) fn pad_pkcs7(buf: &mut Vec<u8>, msg_len: usize) {
    let n = BLOCK - msg_len % BLOCK;
    // n is in 1..=16, so the cast is lossless.
    buf.resize(buf.len() + n, n as u8);
}

/// CBC-encrypts `buf` in place. The caller has padded it to whole blocks; a trailing partial
/// block (which the callers never leave) would be left as it is.
///
/// A host's own AES-CBC runs when one was lent ([`super::lent`]) and it succeeds; otherwise the
/// software AES below, which gives the same bytes.
pub(crate) fn encrypt_in_place(key: &AesKey, iv: &[u8; BLOCK], buf: &mut [u8]) {
    encrypt_in_place_with(super::lent::aes_cbc_encrypt(), key, iv, buf);
}

/// [`encrypt_in_place`] with the lent AES-CBC given, so tests can drive every case of it.
pub(super) fn encrypt_in_place_with(
    lent: Option<super::lent::AesCbcEncrypt>,
    key: &AesKey,
    iv: &[u8; BLOCK],
    buf: &mut [u8],
) {
    let whole = buf.len() - buf.len() % BLOCK;
    if let (Some(lent), Some(blocks)) = (lent, buf.get_mut(..whole)) {
        // The host's answer replaces the plaintext only when it is whole: a failure or a
        // short answer leaves the plaintext for the software AES.
        match lent(key, iv, blocks) {
            Some(cipher) if cipher.len() == blocks.len() => {
                blocks.copy_from_slice(&cipher);
                return;
            }
            _ => {}
        }
    }
    software_encrypt(key, iv, buf);
}

/// The software AES-CBC (RustCrypto's `aes`: AES-NI natively, constant-time bitslicing in
/// wasm).
pub(super) fn software_encrypt(key: &AesKey, iv: &[u8; BLOCK], buf: &mut [u8]) {
    let iv = iv.into();
    match key {
        AesKey::Aes128(k) => encrypt_blocks(cbc::Encryptor::<Aes128>::new(k.into(), iv), buf),
        AesKey::Aes192(k) => encrypt_blocks(cbc::Encryptor::<Aes192>::new(k.into(), iv), buf),
        AesKey::Aes256(k) => encrypt_blocks(cbc::Encryptor::<Aes256>::new(k.into(), iv), buf),
    }
}

/// Runs a block-mode encryptor (CBC here, ECB for Yealink) over every whole block of `buf`.
/// Block by block rather than through `encrypt_padded_mut`, which returns a `Result` for a
/// buffer-size error that cannot happen here: this path has no error to handle at all.
pub(crate) fn encrypt_blocks<E: BlockEncryptMut<BlockSize = U16>>(mut enc: E, buf: &mut [u8]) {
    for block in buf.chunks_exact_mut(BLOCK) {
        enc.encrypt_block_mut(GenericArray::from_mut_slice(block));
    }
}

/// Decrypts `buf` in place and checks and strips the PKCS#7 padding; returns the plaintext
/// length. `buf` must be whole, non-empty blocks (callers report [`CryptoError::Truncated`]
/// otherwise); a padding failure is [`CryptoError::BadDecrypt`].
pub(crate) fn decrypt_pkcs7_in_place(
    key: &AesKey,
    iv: &[u8; BLOCK],
    buf: &mut [u8],
) -> Result<usize, CryptoError> {
    let iv = iv.into();
    let plain = match key {
        AesKey::Aes128(k) => {
            cbc::Decryptor::<Aes128>::new(k.into(), iv).decrypt_padded_mut::<Pkcs7>(buf)
        }
        AesKey::Aes192(k) => {
            cbc::Decryptor::<Aes192>::new(k.into(), iv).decrypt_padded_mut::<Pkcs7>(buf)
        }
        AesKey::Aes256(k) => {
            cbc::Decryptor::<Aes256>::new(k.into(), iv).decrypt_padded_mut::<Pkcs7>(buf)
        }
    };
    plain.map(<[u8]>::len).map_err(|_| CryptoError::BadDecrypt)
}

/// Checks that `ciphertext` is one or more whole blocks, the only shape CBC with PKCS#7 can
/// produce.
pub(crate) fn check_blocks(ciphertext: &[u8]) -> Result<(), CryptoError> {
    if ciphertext.is_empty() || ciphertext.len() % BLOCK != 0 {
        return Err(CryptoError::Truncated);
    }
    Ok(())
}
