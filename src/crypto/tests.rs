//! Behaviour that the vectors do not cover: the three decryption failures, settings parsing and
//! validation, and that secrets stay out of `Debug` and error text.

use super::*;

const SECRET: &str = "hunter2-Sekr3t";

fn enc(cipher: Cipher, kdf: Kdf, pass: &str) -> OpensslEnc {
    OpensslEnc::new(cipher, kdf, Password::new(pass).expect("non-empty"))
}

fn sample() -> (OpensslEnc, Vec<u8>) {
    let e = enc(Cipher::Aes256Cbc, Kdf::default(), SECRET);
    let file = e.encrypt_with_salt(b"<config/>\n", [9; 8]);
    (e, file)
}

#[test]
fn decryption_failures_are_told_apart() {
    let (e, file) = sample();
    let table: [(&[u8], CryptoError); 8] = [
        (b"", CryptoError::Truncated),
        (b"Salt", CryptoError::Truncated),
        (b"Xalt", CryptoError::BadMagic),
        (b"<?xml version", CryptoError::BadMagic),
        (b"Salted__1234", CryptoError::Truncated),
        (&file[..16], CryptoError::Truncated),
        (&file[..file.len() - 1], CryptoError::Truncated),
        (&file[..24], CryptoError::Truncated),
    ];
    for (input, want) in table {
        assert_eq!(e.decrypt(input), Err(want), "{} bytes", input.len());
    }
    let wrong_password = enc(Cipher::Aes256Cbc, Kdf::default(), "not-the-password");
    assert_eq!(wrong_password.decrypt(&file), Err(CryptoError::BadDecrypt));
    let wrong_digest = enc(
        Cipher::Aes256Cbc,
        Kdf::EvpBytesToKey(Digest::Sha256),
        SECRET,
    );
    assert_eq!(wrong_digest.decrypt(&file), Err(CryptoError::BadDecrypt));
    assert_eq!(e.decrypt(&file).as_deref(), Ok(&b"<config/>\n"[..]));
}

#[test]
fn error_messages_name_the_problem() {
    assert!(CryptoError::BadDecrypt.to_string().contains("bad decrypt"));
    assert!(CryptoError::BadMagic.to_string().contains("bad magic"));
    assert!(CryptoError::Truncated.to_string().contains("truncated"));
}

#[test]
fn fresh_salts_differ() {
    let (e, _) = sample();
    let a = e.encrypt(b"same").expect("CSPRNG available");
    let b = e.encrypt(b"same").expect("CSPRNG available");
    assert_eq!(a[..8], openssl_enc::MAGIC);
    assert_ne!(a[8..16], b[8..16], "two files got the same salt");
    assert_eq!(e.decrypt(&a).as_deref(), Ok(&b"same"[..]));
}

#[test]
fn pbkdf2_differs_from_evp_and_round_trips() {
    let evp = enc(
        Cipher::Aes128Cbc,
        Kdf::EvpBytesToKey(Digest::Sha256),
        SECRET,
    );
    let pb = enc(
        Cipher::Aes128Cbc,
        Kdf::Pbkdf2 {
            md: Digest::Sha256,
            iterations: DEFAULT_PBKDF2_ITERATIONS,
        },
        SECRET,
    );
    assert_ne!(evp.key_iv(&[1; 8]), pb.key_iv(&[1; 8]));
    let file = pb.encrypt_with_salt(b"x", [1; 8]);
    assert_eq!(pb.decrypt(&file).as_deref(), Ok(&b"x"[..]));
    assert_eq!(evp.decrypt(&file), Err(CryptoError::BadDecrypt));
}

#[test]
fn settings_parse_with_defaults() {
    let s: Encryption =
        serde_json::from_str(&format!(r#"{{"scheme":"openssl","password":"{SECRET}"}}"#))
            .expect("valid");
    assert_eq!(
        s,
        Encryption::Openssl(enc(
            Cipher::Aes256Cbc,
            Kdf::EvpBytesToKey(Digest::Md5),
            SECRET
        ))
    );

    let s: Encryption = serde_json::from_str(&format!(
        r#"{{"scheme":"openssl","cipher":"aes-192-cbc","md":"sha256","password":"{SECRET}","pbkdf2_iter":7}}"#
    ))
    .expect("valid");
    let iterations = std::num::NonZeroU32::new(7).expect("non-zero");
    assert_eq!(
        s,
        Encryption::Openssl(enc(
            Cipher::Aes192Cbc,
            Kdf::Pbkdf2 {
                md: Digest::Sha256,
                iterations
            },
            SECRET
        ))
    );

    let s: Encryption =
        serde_json::from_str(r#"{"scheme":"yealink","key":"0123456789abcdef"}"#).expect("valid");
    assert!(matches!(
        s,
        Encryption::Yealink {
            padding: Padding::Space,
            ..
        }
    ));

    let s: Encryption = serde_json::from_str(r#"{"scheme":"none"}"#).expect("valid");
    assert!(!s.is_enabled());
    assert_eq!(s.encrypt(b"plain"), Ok(b"plain".to_vec()));

    let s: Encryption = serde_json::from_str(
        r#"{"scheme":"obihai","key_hex":"1234567890abcdef1234567890abcd01","iv_hex":"1234567890ABCDEF1234567890ABCD02"}"#,
    )
    .expect("valid");
    assert!(s.is_enabled());
}

#[test]
fn bad_settings_fail_at_load_without_echoing_secrets() {
    let table = [
        format!(r#"{{"scheme":"openssl","password":"{SECRET}","pbkdf2_iter":0}}"#),
        format!(r#"{{"scheme":"openssl","pasword":"{SECRET}"}}"#),
        format!(r#"{{"scheme":"openssl","password":"{SECRET}","cipher":"aes-256-gcm"}}"#),
        r#"{"scheme":"openssl","password":""}"#.to_string(),
        format!(r#"{{"scheme":"yealink","key":"{SECRET}"}}"#),
        r#"{"scheme":"yealink","key":"0123456789abcde!"}"#.to_string(),
        format!(r#"{{"scheme":"obihai","key_hex":"{SECRET}","iv_hex":"00"}}"#),
        r#"{"scheme":"obihai","key_hex":"1234567890abcdef1234567890abcdXX","iv_hex":"1234567890abcdef1234567890abcd02"}"#.to_string(),
        r#"{"scheme":"rot13"}"#.to_string(),
        r#"{"scheme":"yealink","key":"0123456789abcdef","paddign":"pkcs7"}"#.to_string(),
    ];
    for json in &table {
        let err = serde_json::from_str::<Encryption>(json)
            .expect_err(json)
            .to_string();
        assert!(!err.contains(SECRET), "{err}");
        assert!(!err.contains("abcdXX") && !err.contains("abcde!"), "{err}");
    }
}

#[test]
fn debug_redacts_every_secret() {
    let table = [
        format!(r#"{{"scheme":"openssl","password":"{SECRET}"}}"#),
        format!(r#"{{"scheme":"panasonic","password":"{SECRET}"}}"#),
        r#"{"scheme":"yealink","key":"Sekr3tSekr3tSekr"}"#.to_string(),
        r#"{"scheme":"obihai","key_hex":"5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e","iv_hex":"5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5f"}"#.to_string(),
    ];
    for json in &table {
        let s: Encryption = serde_json::from_str(json).expect(json);
        let shown = format!("{s:?} {s:#?}");
        for needle in [SECRET, "Sekr3t", "5e5e", "^^^^"] {
            assert!(!shown.contains(needle), "{shown}");
        }
        assert!(shown.contains("redacted"), "{shown}");
    }
    let (e, _) = sample();
    let kiv = e.key_iv(&[0; 8]);
    let shown = format!("{kiv:?}");
    assert!(shown.contains("redacted"));
    let key_hex: String = kiv
        .key
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!shown.contains(&key_hex[..8]));
}

#[test]
fn yealink_keys_are_validated() {
    let table = [
        ("", Err(KeyError::Empty)),
        (
            "0123456789abcde",
            Err(KeyError::Length {
                expected: "16 or 32 characters",
                got: 15,
            }),
        ),
        ("0123456789abcdef", Ok(128)),
        ("#$%*+,-.:=?@[]^_", Ok(128)),
        ("{}~0123456789abcdefghijklmnopqrs", Ok(256)),
        (
            "0123456789abcde/",
            Err(KeyError::Charset {
                allowed: yealink::KEY_CHARSET,
            }),
        ),
        (
            "0123456789abcdé",
            Err(KeyError::Charset {
                allowed: yealink::KEY_CHARSET,
            }),
        ),
    ];
    for (key, want) in table {
        assert_eq!(YealinkKey::parse(key).map(|k| k.bits()), want, "{key:?}");
    }
}

#[test]
fn yealink_decrypt_errors() {
    let k = YealinkKey::parse("0123456789abcdef").expect("valid");
    assert_eq!(
        k.decrypt(&[0; 15], Padding::Space),
        Err(CryptoError::Truncated)
    );
    assert_eq!(k.decrypt(&[], Padding::Pkcs7), Err(CryptoError::Truncated));
    assert_eq!(k.decrypt(&[], Padding::Space), Ok(vec![]));
    // Space padding adds nothing to aligned input and strips only what it could have added.
    let aligned = [b'a'; 32];
    assert_eq!(k.encrypt(&aligned, Padding::Space).len(), 32);
    let spaces = k.encrypt(&[b' '; 20], Padding::Space);
    assert_eq!(k.decrypt(&spaces, Padding::Space), Ok(vec![b' '; 17]));
    // A PKCS#7 file under the wrong key fails its padding check (deterministic for this input).
    let other = YealinkKey::parse("fedcba9876543210").expect("valid");
    let file = k.encrypt(b"account.1.enable = 1\n", Padding::Pkcs7);
    assert_eq!(
        other.decrypt(&file, Padding::Pkcs7),
        Err(CryptoError::BadDecrypt)
    );
    assert!(matches!(
        YealinkKey::from_key_file(&[0; 15]),
        Err(CryptoError::BadKey(KeyError::Length { got: 15, .. }))
    ));
}
