//! Properties of encryption that hold for every input: decryption of arbitrary bytes returns a
//! value and never panics (a panic would kill a proxy-wasm VM), every scheme round-trips, and a
//! cut-short file is reported as truncated.

use std::num::NonZeroU32;

use proptest::prelude::*;
use provedge::crypto::{
    openssl_enc, Cipher, CryptoError, Digest, Encryption, Kdf, ObihaiKey, OpensslEnc, Padding,
    Panasonic, Password, YealinkKey,
};

fn cipher() -> impl Strategy<Value = Cipher> {
    prop::sample::select(Cipher::ALL.to_vec())
}

/// Both digests, EVP_BytesToKey or PBKDF2 with few iterations (the count is not under test).
fn kdf() -> impl Strategy<Value = Kdf> {
    let md = prop::sample::select(Digest::ALL.to_vec());
    (md, prop::option::of(1u32..4)).prop_map(|(md, iter)| match iter.and_then(NonZeroU32::new) {
        None => Kdf::EvpBytesToKey(md),
        Some(iterations) => Kdf::Pbkdf2 { md, iterations },
    })
}

fn password() -> impl Strategy<Value = Password> {
    prop::collection::vec(any::<u8>(), 1..40).prop_map(|p| Password::new(p).expect("non-empty"))
}

fn openssl() -> impl Strategy<Value = OpensslEnc> {
    (cipher(), kdf(), password()).prop_map(|(c, k, p)| OpensslEnc::new(c, k, p))
}

fn yealink_key() -> impl Strategy<Value = YealinkKey> {
    prop_oneof![
        "[0-9A-Za-z#$%*+,.:=?@^_{}~-]{16}",
        "[0-9A-Za-z#$%*+,.:=?@^_{}~-]{32}"
    ]
    .prop_map(|k| YealinkKey::parse(&k).expect("valid by construction"))
}

/// Every scheme, as the store would configure it.
fn settings() -> impl Strategy<Value = Encryption> {
    prop_oneof![
        Just(Encryption::None),
        openssl().prop_map(Encryption::Openssl),
        (yealink_key(), prop::sample::select(Padding::ALL.to_vec()))
            .prop_map(|(key, padding)| Encryption::Yealink { key, padding }),
        (any::<[u8; 16]>(), any::<[u8; 16]>())
            .prop_map(|(k, iv)| Encryption::Obihai(ObihaiKey::new(k, iv))),
        (cipher(), password()).prop_map(|(c, p)| Encryption::Panasonic(Panasonic(
            OpensslEnc::new(c, Kdf::default(), p)
        ))),
    ]
}

/// Arbitrary bytes, half of them behind a valid magic so they reach the cipher.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    let tail = prop::collection::vec(any::<u8>(), 0..300);
    (any::<bool>(), tail).prop_map(|(magic, tail)| {
        if magic {
            [&openssl_enc::MAGIC[..], &tail].concat()
        } else {
            tail
        }
    })
}

proptest! {
    #[test]
    fn decrypting_arbitrary_bytes_never_panics(s in settings(), input in garbage()) {
        // Any outcome is fine as long as it is a value, except that the OpenSSL container
        // must refuse input that contradicts its magic.
        let out = s.decrypt(&input);
        let seen = &input[..input.len().min(openssl_enc::MAGIC.len())];
        if matches!(s, Encryption::Openssl(_)) && !openssl_enc::MAGIC.starts_with(seen) {
            prop_assert_eq!(out, Err(CryptoError::BadMagic));
        }
    }

    #[test]
    fn every_scheme_round_trips(s in settings(), pt in prop::collection::vec(any::<u8>(), 0..2048), salt in any::<[u8; 8]>()) {
        let file = s.encrypt_with_salt(&pt, salt);
        // Space padding adds nothing to aligned input, and empty input is aligned: the one
        // case where the file may equal its (empty) plaintext.
        let space_padded = matches!(s, Encryption::Yealink { padding: Padding::Space, .. });
        if s.is_enabled() && !(space_padded && pt.is_empty()) {
            prop_assert_ne!(&file, &pt);
        }
        let back = s.decrypt(&file).expect("own output decrypts");
        match s {
            // Space padding cannot tell its spaces from the plaintext's (documented).
            Encryption::Yealink { padding: Padding::Space, .. } => {
                let trimmed = pt.len() - pt.iter().rev().take_while(|&&b| b == b' ').count();
                prop_assert!(back.len() >= trimmed && back.len() <= pt.len());
                prop_assert_eq!(&back[..], &pt[..back.len()]);
            }
            _ => prop_assert_eq!(back, pt),
        }
    }

    #[test]
    fn random_salts_round_trip(e in openssl(), pt in prop::collection::vec(any::<u8>(), 0..512)) {
        let file = e.encrypt(&pt).expect("CSPRNG");
        prop_assert_eq!(e.decrypt(&file), Ok(pt));
    }

    #[test]
    fn cut_short_files_are_truncated(e in openssl(), pt in prop::collection::vec(any::<u8>(), 0..200), cut in any::<prop::sample::Index>()) {
        let file = e.encrypt_with_salt(&pt, [3; 8]);
        let len = cut.index(file.len());
        let prefix = &file[..len];
        // A prefix ending mid-block, or with no ciphertext, cannot be a file. (A prefix of whole
        // blocks may pass the padding check by chance, so it is not asserted.)
        if len < 32 || (len - 16) % 16 != 0 {
            prop_assert_eq!(e.decrypt(prefix), Err(CryptoError::Truncated));
        }
    }

    #[test]
    fn flipped_bits_never_panic(s in settings(), pt in prop::collection::vec(any::<u8>(), 0..300), at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut file = s.encrypt_with_salt(&pt, [5; 8]);
        if !file.is_empty() {
            let i = at.index(file.len());
            file[i] ^= 1 << bit;
        }
        let _ = s.decrypt(&file);
    }

    #[test]
    fn arbitrary_settings_json_never_panics(json in ".{0,200}", key in "[ -~]{0,40}") {
        let _ = serde_json::from_str::<Encryption>(&json);
        let wrapped = format!(r#"{{"scheme":"yealink","key":{key:?}}}"#);
        let _ = serde_json::from_str::<Encryption>(&wrapped);
        let wrapped = format!(r#"{{"scheme":"obihai","key_hex":{key:?},"iv_hex":{key:?}}}"#);
        let _ = serde_json::from_str::<Encryption>(&wrapped);
    }
}
