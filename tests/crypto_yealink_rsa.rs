//! Yealink RSA mode (reference §4.5b) against the real `openssl` CLI: a key pair is generated
//! with `openssl genrsa`, provedge encrypts with the public half, and `openssl pkeyutl` plus
//! `openssl enc -aes-256-ecb` must recover the plaintext. Skips without `openssl` unless `CI`
//! or `PROVEDGE_REQUIRE_INTEROP=1` is set (as tests/crypto_openssl.rs does).

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use provedge::crypto::{CryptoError, Encryption, KeyError, YealinkRsa};

fn have_openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    let required = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
        || std::env::var("PROVEDGE_REQUIRE_INTEROP").is_ok_and(|v| v == "1");
    assert!(
        ok || !required,
        "the openssl CLI is missing but interop tests are required"
    );
    if !ok {
        eprintln!("note: openssl CLI not found; skipping interop test");
    }
    ok
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("provedge-yrsa-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("spawn openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// A fresh key pair: (private key path, SPKI PEM, PKCS#1 PEM).
fn key_pair(dir: &Path, bits: u32) -> (PathBuf, String, String) {
    let private = dir.join("private.pem");
    openssl(&["genrsa", "-out", path(&private), &bits.to_string()]);
    let spki = openssl(&["rsa", "-in", path(&private), "-pubout"]);
    let pkcs1 = openssl(&["rsa", "-in", path(&private), "-RSAPublicKey_out"]);
    (
        private,
        String::from_utf8(spki).expect("pem"),
        String::from_utf8(pkcs1).expect("pem"),
    )
}

fn settings(pem: &str) -> Encryption {
    serde_json::from_value(serde_json::json!({"scheme": "yealink_rsa", "public_key": pem}))
        .expect("settings")
}

/// Opens a file with openssl: returns the AES key (ASCII) and the plaintext.
fn open_with_openssl(dir: &Path, private: &Path, file: &[u8]) -> (String, Vec<u8>) {
    let text = std::str::from_utf8(file).expect("RSA-mode files are text");
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    assert_eq!(lines.len(), 7, "{text}");
    assert_eq!(lines[0], "#!encrypt:1.0.0.0\n");
    assert_eq!(lines[1], "#!key_signatue:RSA_256\n");
    assert_eq!(lines[2], "#!conf_encryption:AES_256\n");
    let wrapped = lines[3]
        .strip_prefix("#!key_ciphertext:")
        .and_then(|l| l.strip_suffix('\n'))
        .expect("key line");
    assert_eq!(lines[4], "#!---BEGIN CONFIG DATA---\n");
    let body = lines[5].strip_suffix('\n').expect("body line");
    assert_eq!(lines[6], "#!---END CONFIG DATA---\n");
    assert!(text.ends_with('\n') && !text.contains('\r'));

    let b64 = base64::engine::general_purpose::STANDARD;
    let wrapped_path = dir.join("wrapped.bin");
    std::fs::write(&wrapped_path, b64.decode(wrapped).expect("base64 key")).expect("write");
    let key = openssl(&[
        "pkeyutl",
        "-decrypt",
        "-inkey",
        path(private),
        "-pkeyopt",
        "rsa_padding_mode:pkcs1",
        "-in",
        path(&wrapped_path),
    ]);
    let key = String::from_utf8(key).expect("ASCII key");
    assert_eq!(key.len(), 32, "AES-256 key of 32 characters");
    assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()), "{key}");

    let body_path = dir.join("body.bin");
    let ct = b64.decode(body).expect("base64 body");
    assert_eq!(ct.len() % 16, 0);
    std::fs::write(&body_path, &ct).expect("write");
    let key_hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    let raw = openssl(&[
        "enc",
        "-d",
        "-aes-256-ecb",
        "-K",
        &key_hex,
        "-nopad",
        "-in",
        path(&body_path),
    ]);
    // PKCS#7, checked by hand on the -nopad output, then by openssl's own unpadding.
    let pad = usize::from(*raw.last().expect("non-empty"));
    assert!(
        (1..=16).contains(&pad)
            && raw[raw.len() - pad..]
                .iter()
                .all(|&b| usize::from(b) == pad)
    );
    let plain = openssl(&[
        "enc",
        "-d",
        "-aes-256-ecb",
        "-K",
        &key_hex,
        "-in",
        path(&body_path),
    ]);
    assert_eq!(plain, raw[..raw.len() - pad]);
    (key, plain)
}

#[test]
fn openssl_opens_rsa_mode_files_made_with_spki_and_pkcs1_keys() {
    if !have_openssl() {
        return;
    }
    let dir = scratch("pair");
    let (private, spki, pkcs1) = key_pair(&dir, 2048);
    for pem in [&spki, &pkcs1] {
        let enc = settings(pem);
        for size in [0usize, 1, 15, 16, 17, 1000, 20480] {
            let pt: Vec<u8> = (0..size)
                .map(|i| b"#!version:1.0.0.1\nx = y\n"[i % 24])
                .collect();
            let file = enc.encrypt(&pt).expect("encrypt");
            let (_, plain) = open_with_openssl(&dir, &private, &file);
            assert_eq!(plain, pt, "size {size}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn each_file_gets_its_own_key_and_the_salted_form_is_deterministic() {
    if !have_openssl() {
        return;
    }
    let dir = scratch("fresh");
    let (private, spki, _) = key_pair(&dir, 1024);
    let enc = settings(&spki);
    let pt = b"#!version:1.0.0.1\naccount.1.enable = 1\n";
    let (k1, _) = open_with_openssl(&dir, &private, &enc.encrypt(pt).expect("encrypt"));
    let (k2, _) = open_with_openssl(&dir, &private, &enc.encrypt(pt).expect("encrypt"));
    assert_ne!(k1, k2, "a fresh AES key per file");
    let a = enc.encrypt_with_salt(pt, [1; 8]);
    assert_eq!(a, enc.encrypt_with_salt(pt, [1; 8]));
    assert_ne!(a, enc.encrypt_with_salt(pt, [2; 8]));
    assert_eq!(open_with_openssl(&dir, &private, &a).1, pt);
    // provedge never holds the private key, so it cannot decrypt; it says so.
    assert!(matches!(enc.decrypt(&a), Err(CryptoError::Unsupported(_))));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unusable_public_keys_are_refused_at_load_time() {
    assert_eq!(
        YealinkRsa::from_pem("not a key").unwrap_err(),
        KeyError::PublicKey
    );
    let err = serde_json::from_value::<Encryption>(serde_json::json!({
        "scheme": "yealink_rsa", "public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    }))
    .unwrap_err();
    assert!(err.to_string().contains("RSA public key"), "{err}");
    if !have_openssl() {
        return;
    }
    let dir = scratch("short");
    let (_, spki, _) = key_pair(&dir, 512);
    assert!(matches!(
        YealinkRsa::from_pem(&spki),
        Err(KeyError::Length { got: 512, .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
