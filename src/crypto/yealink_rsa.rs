//! Yealink "RSA mode" config encryption (reference §4.5b, confidence [V-per-GITAWARE]).
//!
//! Each file gets a fresh 32-character AES key. The body is `AES-256-ECB(key, PKCS#7(plaintext))`
//! in base64; the key itself travels *inside the file*, encrypted with the operator's RSA public
//! key under PKCS#1 v1.5, so no `_Security.enc` file is involved. The phone opens it with the
//! matching private key (its built-in one, or one the operator installed). Layout, as written by
//! `gitaware/yealink-encryption@d7f8e60d` (`yealinkencryption.py`), which claims compatibility
//! with Yealink's Config_Encrypt_Tool:
//!
//! ```text
//! #!encrypt:1.0.0.0
//! #!key_signatue:RSA_256                      (Yealink's spelling)
//! #!conf_encryption:AES_256
//! #!key_ciphertext:<base64(RSA-PKCS1v15(pub, key as ASCII))>
//! #!---BEGIN CONFIG DATA---
//! <base64(AES-256-ECB(key, PKCS#7(plaintext)))>        (one line)
//! #!---END CONFIG DATA---
//! ```
//!
//! Every line ends in `\n`. The reference's source pads with PKCS#7 (not zeros), and this module
//! follows it; phones ignore padding they do not check, and PKCS#7 is what the tool writes.
//!
//! Randomness: the AES key and the PKCS#1 v1.5 padding come from an HMAC-SHA256 stream
//! ([`Stream`]) seeded from [`super::random::fill`] (the OS CSPRNG) in [`YealinkRsa::encrypt`],
//! or from a caller's salt and the plaintext in [`YealinkRsa::encrypt_with_salt`] (deterministic,
//! for tests). The served path always takes the first.

use std::fmt;

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::pkcs8::DecodePublicKey as _;
use rsa::rand_core::{CryptoRng, RngCore};
use rsa::traits::PublicKeyParts as _;
use rsa::{Pkcs1v15Encrypt, RsaPublicKey};
use sha2::Sha256;

use super::yealink::{Padding, YealinkKey};
use super::{random, CryptoError, KeyError, SALT_LEN};

/// The header lines before the wrapped key, exactly as the reference gives them.
pub const HEADER: &str = "#!encrypt:1.0.0.0\n#!key_signatue:RSA_256\n#!conf_encryption:AES_256\n";
/// The line that opens the encrypted body.
pub const BEGIN: &str = "#!---BEGIN CONFIG DATA---\n";
/// The line that closes it.
pub const END: &str = "#!---END CONFIG DATA---\n";

/// The characters a generated AES key is drawn from (the reference tool's `[A-Za-z0-9]`, a
/// subset of what Yealink accepts in `aes_key` settings).
const KEY_ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The smallest modulus accepted: 1024 bits is what Yealink's built-in pair uses (reference).
pub const MIN_BITS: usize = 1024;

/// The operator's RSA public key that wraps each file's AES key. Parsed from PEM, SPKI
/// (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`), when configuration is loaded.
#[derive(Clone, PartialEq, Eq)]
pub struct YealinkRsa {
    public_key: RsaPublicKey,
}

impl YealinkRsa {
    /// Parses a PEM public key; a key shorter than [`MIN_BITS`] is refused.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let pem = pem.trim();
        let public_key = RsaPublicKey::from_public_key_pem(pem)
            .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
            .map_err(|_| KeyError::PublicKey)?;
        if public_key.size() * 8 < MIN_BITS {
            return Err(KeyError::Length {
                expected: "an RSA modulus of at least 1024 bits",
                got: public_key.size() * 8,
            });
        }
        Ok(Self { public_key })
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.public_key.size() * 8
    }

    /// Encrypts one file with a fresh key and padding drawn from the OS CSPRNG.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut seed = [0u8; 32];
        random::fill(&mut seed)?;
        self.encrypt_with(plaintext, &mut Stream::new(&seed))
    }

    /// Deterministic: the key and padding are derived from `salt` and the plaintext. For tests
    /// and for [`super::Encryption::encrypt_with_salt`]; nothing served uses it.
    pub fn encrypt_with_salt(&self, plaintext: &[u8], salt: [u8; SALT_LEN]) -> Vec<u8> {
        let mut mac = new_hmac(&salt);
        mac.update(b"provedge yealink-rsa v1\0");
        mac.update(plaintext);
        let seed: [u8; 32] = mac.finalize().into_bytes().into();
        // Cannot fail: the key size was checked at parse time, and a 32-byte message fits any
        // modulus of 1024 bits or more.
        self.encrypt_with(plaintext, &mut Stream::new(&seed))
            .unwrap_or_default()
    }

    fn encrypt_with(&self, plaintext: &[u8], rng: &mut Stream) -> Result<Vec<u8>, CryptoError> {
        let mut ascii = [0u8; 32];
        for c in &mut ascii {
            *c = KEY_ALPHABET
                .get(rng.below(KEY_ALPHABET.len()))
                .copied()
                .unwrap_or(b'0');
        }
        let key = YealinkKey::parse(std::str::from_utf8(&ascii).unwrap_or_default())
            .map_err(CryptoError::BadKey)?;
        let wrapped = self
            .public_key
            .encrypt(rng, Pkcs1v15Encrypt, &ascii)
            .map_err(|_| CryptoError::Unsupported("the RSA key is too short for the AES key"))?;
        let body = key.encrypt(plaintext, Padding::Pkcs7);
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut out = String::with_capacity(256 + body.len() * 4 / 3 + wrapped.len() * 4 / 3);
        out.push_str(HEADER);
        out.push_str("#!key_ciphertext:");
        b64.encode_string(&wrapped, &mut out);
        out.push('\n');
        out.push_str(BEGIN);
        b64.encode_string(&body, &mut out);
        out.push('\n');
        out.push_str(END);
        Ok(out.into_bytes())
    }
}

impl fmt::Debug for YealinkRsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "YealinkRsa(RSA-{})", self.bits())
    }
}

fn new_hmac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

/// HMAC-SHA256 in counter mode over a 32-byte seed: the byte stream the AES key and the PKCS#1
/// padding are drawn from. With an OS-random seed it is as unpredictable as the seed.
struct Stream {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl Stream {
    fn new(seed: &[u8; 32]) -> Self {
        Self {
            seed: *seed,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    fn byte(&mut self) -> u8 {
        if self.used == self.block.len() {
            let mut mac = new_hmac(&self.seed);
            mac.update(&self.counter.to_be_bytes());
            self.block = mac.finalize().into_bytes().into();
            self.counter += 1;
            self.used = 0;
        }
        self.used += 1;
        self.block.get(self.used - 1).copied().unwrap_or(0)
    }

    /// A uniform index below `n` (n ≤ 256), by rejection.
    fn below(&mut self, n: usize) -> usize {
        let limit = 256 - 256 % n;
        loop {
            let b = usize::from(self.byte());
            if b < limit {
                return b % n;
            }
        }
    }
}

impl RngCore for Stream {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for d in dest {
            *d = self.byte();
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for Stream {}
