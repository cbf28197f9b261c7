//! Primitives a host lends the core: its own AES-CBC encryption and HMAC-SHA256.
//!
//! Why: in wasm the core's software AES is bitsliced (constant-time, without AES instructions)
//! and CBC encryption is serial, so it runs at a fraction of its speed; SHA-256 has no SHA
//! instructions either. An encrypted 20 KiB file cost about 1 ms of a workerd isolate's CPU in
//! the two, where workerd's own BoringSSL (`node:crypto`, synchronous) takes microseconds. Like
//! rustls's `CryptoProvider`, a host lends only primitives: the container, padding, salt and key
//! derivation stay the core's, so every host serves the same bytes, and the sans-IO API is
//! unchanged (the calls are synchronous).
//!
//! The core checks what it is lent against its own implementations before taking it
//! ([`lend`]), and a lent call that fails (`None`) or answers with the wrong length falls back
//! to software for that call. The slots are process-wide and set once; the functions are plain
//! `fn`s (so `Send + Sync`) and a host keeps any state it needs in its own thread-locals.

use std::fmt;
use std::sync::OnceLock;

use hmac::{Hmac, Mac as _};

use super::aes_cbc::{self, AesKey, Cipher, BLOCK};

/// The ciphertext of `blocks` (whole blocks, no padding: the core pads) under `key` and `iv`,
/// or `None` when the host could not.
pub type AesCbcEncrypt = fn(key: &AesKey, iv: &[u8; BLOCK], blocks: &[u8]) -> Option<Vec<u8>>;

/// HMAC-SHA256 under `key` of the concatenation of `message`'s parts, or `None` when the host
/// could not.
pub type HmacSha256 = fn(key: &[u8], message: &[&[u8]]) -> Option<[u8; 32]>;

/// What a host lends.
#[derive(Debug, Clone, Copy)]
pub struct Lent {
    /// AES-CBC encryption (the OpenSSL container, Panasonic, Obihai).
    pub aes_cbc_encrypt: AesCbcEncrypt,
    /// HMAC-SHA256 (the derived salt of every encrypted file).
    pub hmac_sha256: HmacSha256,
}

static LENT: OnceLock<Lent> = OnceLock::new();

/// Why a host's primitives were not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LendRefused {
    /// Its AES-CBC did not give the core's bytes (or failed) for this key size.
    WrongAes(Cipher),
    /// Its HMAC-SHA256 did not give the core's tag (or failed).
    WrongHmac,
    /// Primitives were lent already; the first stay.
    AlreadyLent,
}

impl fmt::Display for LendRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongAes(cipher) => {
                write!(
                    f,
                    "the host's {cipher} differs from the core's; software stays"
                )
            }
            Self::WrongHmac => {
                f.write_str("the host's HMAC-SHA256 differs from the core's; software stays")
            }
            Self::AlreadyLent => f.write_str("host crypto was lent already"),
        }
    }
}

impl std::error::Error for LendRefused {}

/// Takes a host's primitives for every file from now on, after checking that they give the
/// core's bytes: AES-CBC for every key size on one block and on many (a host that ignored the
/// IV, chained wrongly or padded is caught here, not in a phone), HMAC-SHA256 for keys shorter
/// and longer than its block and messages in several parts.
pub fn lend(lent: Lent) -> Result<(), LendRefused> {
    check(lent)?;
    LENT.set(lent).map_err(|_| LendRefused::AlreadyLent)
}

/// Whether a host's primitives are in use.
pub fn is_lent() -> bool {
    LENT.get().is_some()
}

pub(crate) fn aes_cbc_encrypt() -> Option<AesCbcEncrypt> {
    LENT.get().map(|l| l.aes_cbc_encrypt)
}

/// HMAC-SHA256 of `message`'s parts under `key`: the lent one when it answers, else software.
pub(crate) fn hmac_sha256(key: &[u8], message: &[&[u8]]) -> [u8; 32] {
    hmac_sha256_with(LENT.get().map(|l| l.hmac_sha256), key, message)
}

fn hmac_sha256_with(lent: Option<HmacSha256>, key: &[u8], message: &[&[u8]]) -> [u8; 32] {
    if let Some(tag) = lent.and_then(|hmac| hmac(key, message)) {
        return tag;
    }
    software_hmac_sha256(key, message)
}

fn software_hmac_sha256(key: &[u8], message: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    for part in message {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The check [`lend`] makes: fixed, non-trivial inputs, compared with the core's software.
fn check(lent: Lent) -> Result<(), LendRefused> {
    let pattern = |len: usize, mul: usize| -> Vec<u8> {
        (0..len).map(|i| (i.wrapping_mul(mul) >> 3) as u8).collect()
    };
    for cipher in Cipher::ALL {
        let mut key = AesKey::zero(cipher);
        for (i, b) in key.as_bytes_mut().iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37).wrapping_add(11);
        }
        let iv: [u8; BLOCK] = std::array::from_fn(|i| (i as u8).wrapping_mul(91) ^ 0x5c);
        for blocks in [1, 67] {
            let plain = pattern(blocks * BLOCK, 131);
            let theirs = (lent.aes_cbc_encrypt)(&key, &iv, &plain);
            let mut ours = plain;
            aes_cbc::software_encrypt(&key, &iv, &mut ours);
            if theirs.as_ref() != Some(&ours) {
                return Err(LendRefused::WrongAes(cipher));
            }
        }
    }
    for key_len in [0, 16, 64, 100] {
        let key = pattern(key_len, 29);
        let (head, body) = (b"provedge check\0", pattern(3000, 7));
        let message: [&[u8]; 3] = [head, &body, &[]];
        if (lent.hmac_sha256)(&key, &message) != Some(software_hmac_sha256(&key, &message)) {
            return Err(LendRefused::WrongHmac);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::crypto::aes_cbc::{encrypt_in_place_with, pad_pkcs7, software_encrypt};

    /// A correct AES host: the software AES on a copy.
    fn faithful(key: &AesKey, iv: &[u8; BLOCK], blocks: &[u8]) -> Option<Vec<u8>> {
        let mut out = blocks.to_vec();
        software_encrypt(key, iv, &mut out);
        Some(out)
    }

    /// A correct HMAC host.
    fn faithful_hmac(key: &[u8], message: &[&[u8]]) -> Option<[u8; 32]> {
        Some(software_hmac_sha256(key, message))
    }

    const GOOD: Lent = Lent {
        aes_cbc_encrypt: faithful,
        hmac_sha256: faithful_hmac,
    };

    /// CBC without the IV (a zero IV): right shape, wrong bytes.
    fn ignores_iv(key: &AesKey, _: &[u8; BLOCK], blocks: &[u8]) -> Option<Vec<u8>> {
        faithful(key, &[0; BLOCK], blocks)
    }

    /// Restarts the chain at every block: right on one block, wrong on many.
    fn unchained(key: &AesKey, iv: &[u8; BLOCK], blocks: &[u8]) -> Option<Vec<u8>> {
        let mut out = blocks.to_vec();
        for block in out.chunks_mut(BLOCK) {
            software_encrypt(key, iv, block);
        }
        Some(out)
    }

    /// Pads as `createCipheriv` does by default: one block too many.
    fn pads(key: &AesKey, iv: &[u8; BLOCK], blocks: &[u8]) -> Option<Vec<u8>> {
        let mut out = blocks.to_vec();
        pad_pkcs7(&mut out, blocks.len());
        software_encrypt(key, iv, &mut out);
        Some(out)
    }

    /// Right for AES-256 only.
    fn only_256(key: &AesKey, iv: &[u8; BLOCK], blocks: &[u8]) -> Option<Vec<u8>> {
        match key {
            AesKey::Aes256(_) => faithful(key, iv, blocks),
            _ => Some(blocks.to_vec()),
        }
    }

    fn aes_fails(_: &AesKey, _: &[u8; BLOCK], _: &[u8]) -> Option<Vec<u8>> {
        None
    }

    /// Hashes only the first part of the message.
    fn first_part_only(key: &[u8], message: &[&[u8]]) -> Option<[u8; 32]> {
        Some(software_hmac_sha256(key, message.get(..1)?))
    }

    /// Hashes keys longer than 64 bytes as they are, not through SHA-256 first: right for
    /// short keys, wrong for long ones (a plausible hand-written HMAC bug).
    fn truncates_long_keys(key: &[u8], message: &[&[u8]]) -> Option<[u8; 32]> {
        Some(software_hmac_sha256(key.get(..64).unwrap_or(key), message))
    }

    fn hmac_fails(_: &[u8], _: &[&[u8]]) -> Option<[u8; 32]> {
        None
    }

    #[test]
    fn host_crypto_is_taken_only_when_it_gives_the_core_s_bytes() {
        assert_eq!(check(GOOD), Ok(()));
        let aes = |aes_cbc_encrypt| Lent {
            aes_cbc_encrypt,
            ..GOOD
        };
        let wrong = LendRefused::WrongAes;
        assert_eq!(check(aes(ignores_iv)), Err(wrong(Cipher::Aes128Cbc)));
        assert_eq!(check(aes(unchained)), Err(wrong(Cipher::Aes128Cbc)));
        assert_eq!(check(aes(pads)), Err(wrong(Cipher::Aes128Cbc)));
        assert_eq!(check(aes(only_256)), Err(wrong(Cipher::Aes128Cbc)));
        assert_eq!(check(aes(aes_fails)), Err(wrong(Cipher::Aes128Cbc)));
        let hmac = |hmac_sha256| Lent {
            hmac_sha256,
            ..GOOD
        };
        for bad in [first_part_only, truncates_long_keys, hmac_fails] {
            assert_eq!(check(hmac(bad)), Err(LendRefused::WrongHmac));
        }
        // A refused host is never installed, whatever else this test binary lent.
        assert_eq!(lend(aes(unchained)), Err(wrong(Cipher::Aes128Cbc)));
        assert!(wrong(Cipher::Aes256Cbc).to_string().contains("aes-256-cbc"));
    }

    #[test]
    fn a_failing_or_short_host_answer_leaves_the_work_to_software() {
        let key = AesKey::Aes256([7; 32]);
        let iv = [3; BLOCK];
        let plain: Vec<u8> = (0..=255u8).cycle().take(40 * BLOCK + 5).collect();
        let mut want = plain.clone();
        software_encrypt(&key, &iv, &mut want);
        // The trailing partial block is left as it is, by every path.
        assert_eq!(want[40 * BLOCK..], plain[40 * BLOCK..]);
        fn short(key: &AesKey, iv: &[u8; BLOCK], blocks: &[u8]) -> Option<Vec<u8>> {
            let mut out = faithful(key, iv, blocks)?;
            out.truncate(out.len() - BLOCK);
            Some(out)
        }
        let hosts: [Option<AesCbcEncrypt>; 4] =
            [None, Some(faithful), Some(aes_fails), Some(short)];
        for lent in hosts {
            let mut buf = plain.clone();
            encrypt_in_place_with(lent, &key, &iv, &mut buf);
            assert_eq!(buf, want);
        }
        // A wrong host that got past the check would show: the lent path is really taken.
        let mut buf = plain.clone();
        encrypt_in_place_with(Some(ignores_iv), &key, &iv, &mut buf);
        assert_ne!(buf, want);

        let message: [&[u8]; 2] = [b"a", b"bc"];
        let tag = software_hmac_sha256(b"k", &message);
        assert_eq!(hmac_sha256_with(None, b"k", &message), tag);
        assert_eq!(hmac_sha256_with(Some(hmac_fails), b"k", &message), tag);
        assert_ne!(hmac_sha256_with(Some(first_part_only), b"k", &message), tag);
    }

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    fn counted(key: &AesKey, iv: &[u8; BLOCK], blocks: &[u8]) -> Option<Vec<u8>> {
        CALLS.fetch_add(1, Ordering::Relaxed);
        faithful(key, iv, blocks)
    }

    fn counted_hmac(key: &[u8], message: &[&[u8]]) -> Option<[u8; 32]> {
        CALLS.fetch_add(1, Ordering::Relaxed);
        faithful_hmac(key, message)
    }

    #[test]
    fn lent_crypto_serves_every_encryption_once_lent() {
        let counting = Lent {
            aes_cbc_encrypt: counted,
            hmac_sha256: counted_hmac,
        };
        match lend(counting) {
            Ok(()) | Err(LendRefused::AlreadyLent) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(is_lent());
        assert_eq!(lend(GOOD), Err(LendRefused::AlreadyLent));
        let before = CALLS.load(Ordering::Relaxed);
        let setting: crate::crypto::Encryption =
            serde_json::from_str(r#"{"scheme": "openssl", "password": "lent"}"#)
                .expect("a setting");
        let file = setting.encrypt(&[0x42; 1000]).expect("encrypts");
        // The salt's HMAC and the cipher both went to the host.
        assert!(CALLS.load(Ordering::Relaxed) >= before + 2);
        assert_eq!(setting.decrypt(&file).as_deref(), Ok(&[0x42; 1000][..]));
    }
}
