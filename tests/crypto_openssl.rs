//! Interoperability with the real `openssl` CLI, the reference implementation that phone
//! firmware was built against. Every expected output here comes from `openssl` itself.
//!
//! The tests need the `openssl` binary. Without it they skip with a note, unless `CI` or
//! `PROVEDGE_REQUIRE_INTEROP=1` is set, in which case they fail: an interop suite that silently
//! ran nothing must not pass in CI. (`scripts/test-all` installs `openssl` and sets the flag.)
//!
//! Passwords go to `openssl` through `-pass env:` so that non-ASCII and non-UTF-8 bytes arrive
//! exactly as given, with no shell in between.

use std::ffi::OsStr;
use std::io::Write;
use std::num::NonZeroU32;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Output, Stdio};

use provedge::crypto::{
    panasonic, Cipher, CryptoError, Digest, Kdf, ObihaiKey, OpensslEnc, Padding, Password,
    YealinkKey, DEFAULT_PBKDF2_ITERATIONS,
};

const SIZES: [usize; 8] = [0, 1, 15, 16, 17, 1000, 20480, 65536];
const PASS_VAR: &str = "PROVEDGE_TEST_PASS";

/// Passwords with multi-byte UTF-8 (Latin, Cyrillic, emoji) and one that is not UTF-8 at all.
const PASSWORDS: [&[u8]; 4] = [
    "pässwörd".as_bytes(),
    "ключ-🔑-密码".as_bytes(),
    b"SecretPhrase1234",
    b"latin1-p\xe4ss\xff",
];

fn interop_required() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    ci || std::env::var("PROVEDGE_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// Whether to run: true if `openssl` works; false (skip) if not and not required; panics if
/// it is required.
fn have_openssl() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !interop_required(),
            "the openssl CLI is missing but CI or PROVEDGE_REQUIRE_INTEROP=1 requires the interop tests"
        );
        eprintln!("note: openssl CLI not found; skipping interop test");
    }
    ok
}

/// Runs `openssl <args>` with `input` on stdin and `password` in `$PROVEDGE_TEST_PASS`.
fn openssl(args: &[String], password: &[u8], input: &[u8]) -> Output {
    run(Command::new("openssl").args(args), password, input)
}

fn run(cmd: &mut Command, password: &[u8], input: &[u8]) -> Output {
    let mut child = cmd
        .env(PASS_VAR, OsStr::from_bytes(password))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    // Feed stdin from a thread: 64 KiB does not fit a pipe while stdout is unread.
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait");
    feeder.join().expect("feeder");
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Deterministic bytes covering every value (xorshift), different per size.
fn plaintext(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9 ^ len as u32;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// The `openssl enc` flags for one parameter set (without -e/-d and -pass).
fn enc_flags(cipher: Cipher, kdf: Kdf) -> Vec<String> {
    let mut v = vec!["enc".to_string(), format!("-{}", cipher.name())];
    match kdf {
        Kdf::EvpBytesToKey(md) => v.extend(["-md".into(), md.name().into()]),
        Kdf::Pbkdf2 { md, iterations } => v.extend([
            "-md".into(),
            md.name().into(),
            "-pbkdf2".into(),
            "-iter".into(),
            iterations.to_string(),
        ]),
    }
    v.extend(["-pass".into(), format!("env:{PASS_VAR}")]);
    v
}

fn all_params() -> Vec<(Cipher, Kdf)> {
    let iter = NonZeroU32::new(1000).expect("non-zero");
    let mut v = Vec::new();
    for cipher in Cipher::ALL {
        for md in Digest::ALL {
            v.push((cipher, Kdf::EvpBytesToKey(md)));
            v.push((
                cipher,
                Kdf::Pbkdf2 {
                    md,
                    iterations: iter,
                },
            ));
        }
    }
    v
}

/// Every cipher × digest × {EVP_BytesToKey, PBKDF2} × size, in both directions, plus a
/// byte-exact comparison at a fixed salt.
#[test]
fn container_round_trips_with_openssl() {
    if !have_openssl() {
        return;
    }
    let mut case = 0;
    for (cipher, kdf) in all_params() {
        for size in SIZES {
            case += 1;
            let pass = PASSWORDS[case % PASSWORDS.len()];
            let what = format!(
                "{cipher} {kdf:?} size {size} password #{}",
                case % PASSWORDS.len()
            );
            let ours = OpensslEnc::new(cipher, kdf, Password::new(pass).expect("non-empty"));
            let pt = plaintext(size);
            let flags = enc_flags(cipher, kdf);

            // provedge encrypts, openssl decrypts.
            let file = ours.encrypt(&pt).expect("CSPRNG");
            assert_eq!(file.len(), OpensslEnc::encrypted_len(size), "{what}");
            let dec = openssl(&[flags.clone(), vec!["-d".into()]].concat(), pass, &file);
            assert!(
                dec.status.success(),
                "{what}: {}",
                String::from_utf8_lossy(&dec.stderr)
            );
            assert!(dec.stdout == pt, "{what}: openssl decrypted something else");

            // openssl encrypts, provedge decrypts.
            let theirs = openssl(&[flags.clone(), vec!["-e".into()]].concat(), pass, &pt);
            assert!(
                theirs.status.success(),
                "{what}: {}",
                String::from_utf8_lossy(&theirs.stderr)
            );
            assert_eq!(
                ours.decrypt(&theirs.stdout).as_deref(),
                Ok(&pt[..]),
                "{what}"
            );

            // Same salt, same bytes. OpenSSL 3 drops the header when given -S; compare the
            // body then, the whole file if a future version keeps it.
            let salt: [u8; 8] = std::array::from_fn(|i| (case * 31 + i) as u8);
            let fixed = ours.encrypt_with_salt(&pt, salt);
            let s = openssl(
                &[flags, vec!["-e".into(), "-S".into(), hex(&salt)]].concat(),
                pass,
                &pt,
            );
            assert!(
                s.status.success(),
                "{what}: {}",
                String::from_utf8_lossy(&s.stderr)
            );
            let expect = if s.stdout.starts_with(b"Salted__") {
                &fixed[..]
            } else {
                &fixed[16..]
            };
            assert!(s.stdout == expect, "{what}: bytes differ from openssl -S");
        }
    }
}

/// `-pbkdf2` without `-iter` means 10000 iterations in openssl; the same default here.
#[test]
fn pbkdf2_default_iterations_match_openssl() {
    if !have_openssl() {
        return;
    }
    let pass = PASSWORDS[1];
    let kdf = Kdf::Pbkdf2 {
        md: Digest::Sha256,
        iterations: DEFAULT_PBKDF2_ITERATIONS,
    };
    let ours = OpensslEnc::new(
        Cipher::Aes256Cbc,
        kdf,
        Password::new(pass).expect("non-empty"),
    );
    let pt = plaintext(100);
    let args: Vec<String> = [
        "enc",
        "-e",
        "-aes-256-cbc",
        "-md",
        "sha256",
        "-pbkdf2",
        "-pass",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("env:{PASS_VAR}"),
        "-S".into(),
        "0001020304050607".into(),
    ])
    .collect();
    let s = openssl(&args, pass, &pt);
    assert!(s.status.success());
    let fixed = ours.encrypt_with_salt(&pt, [0, 1, 2, 3, 4, 5, 6, 7]);
    let expect = if s.stdout.starts_with(b"Salted__") {
        &fixed[..]
    } else {
        &fixed[16..]
    };
    assert!(s.stdout == expect);
}

/// A file openssl made with one digest fails with the other, as the reference warns (§1.1).
#[test]
fn wrong_digest_is_bad_decrypt() {
    if !have_openssl() {
        return;
    }
    let pass = b"SecretPhrase1234";
    let pt = plaintext(500);
    let flags = enc_flags(Cipher::Aes256Cbc, Kdf::EvpBytesToKey(Digest::Md5));
    let theirs = openssl(
        &[
            flags,
            vec!["-e".into(), "-S".into(), "0102030405060708".into()],
        ]
        .concat(),
        pass,
        &pt,
    );
    // Re-attach the header OpenSSL 3 drops with -S.
    let mut file = b"Salted__\x01\x02\x03\x04\x05\x06\x07\x08".to_vec();
    if theirs.stdout.starts_with(b"Salted__") {
        file.clear();
    }
    file.extend_from_slice(&theirs.stdout);
    let sha = OpensslEnc::new(
        Cipher::Aes256Cbc,
        Kdf::EvpBytesToKey(Digest::Sha256),
        Password::new(&pass[..]).expect("non-empty"),
    );
    assert_eq!(sha.decrypt(&file), Err(CryptoError::BadDecrypt));
    let md5 = OpensslEnc::new(
        Cipher::Aes256Cbc,
        Kdf::EvpBytesToKey(Digest::Md5),
        Password::new(&pass[..]).expect("non-empty"),
    );
    assert_eq!(md5.decrypt(&file).as_deref(), Ok(&pt[..]));
}

/// Yealink config files are plain AES-ECB: `openssl enc -aes-128-ecb -K` (or 256) reads and
/// writes them, `-nopad` for the vendor's space padding.
#[test]
fn yealink_ecb_matches_openssl() {
    if !have_openssl() {
        return;
    }
    let keys = ["0123456789abcdef", "#$%*+,-.:=?@[]^_{}~ABCDEFGHIJKLM"];
    for key in keys {
        let yk = YealinkKey::parse(key).expect("valid key");
        let ecb = format!("-aes-{}-ecb", yk.bits());
        for size in SIZES {
            let pt = plaintext(size);
            for padding in Padding::ALL {
                let mut args = vec![
                    "enc".to_string(),
                    "-d".into(),
                    ecb.clone(),
                    "-K".into(),
                    hex(key.as_bytes()),
                ];
                if padding == Padding::Space {
                    args.push("-nopad".into());
                }
                let file = yk.encrypt(&pt, padding);
                let dec = openssl(&args, b"", &file);
                assert!(dec.status.success(), "{key} {size} {padding:?}");
                let mut want = pt.clone();
                if padding == Padding::Space {
                    want.resize(size.div_ceil(16) * 16, b' ');
                }
                assert!(dec.stdout == want, "{key} {size} {padding:?}");
            }
            // openssl (PKCS#7) encrypts, provedge decrypts.
            let args = vec![
                "enc".to_string(),
                "-e".into(),
                ecb.clone(),
                "-K".into(),
                hex(key.as_bytes()),
            ];
            let theirs = openssl(&args, b"", &pt);
            assert_eq!(
                yk.decrypt(&theirs.stdout, Padding::Pkcs7).as_deref(),
                Ok(&pt[..])
            );
        }
        // The key file is the key under the common key, one ECB block.
        if let Ok(file) = yk.key_file() {
            let args = [
                "enc",
                "-d",
                "-aes-128-ecb",
                "-nopad",
                "-K",
                &hex(b"EKs35XacP6eybA25"),
            ]
            .map(String::from);
            let dec = openssl(&args, b"", &file);
            assert_eq!(dec.stdout, key.as_bytes());
        }
    }
}

/// Obihai is `openssl enc -aes-128-cbc -K … -iv …`.
#[test]
fn obihai_matches_openssl() {
    if !have_openssl() {
        return;
    }
    let (k, iv) = (
        "00112233445566778899aabbccddeeff",
        "0f0e0d0c0b0a09080706050403020100",
    );
    let key = ObihaiKey::from_hex(k, iv).expect("valid hex");
    for size in SIZES {
        let pt = plaintext(size);
        let args = ["enc", "-e", "-aes-128-cbc", "-K", k, "-iv", iv].map(String::from);
        let theirs = openssl(&args, b"", &pt);
        assert!(theirs.stdout == key.encrypt(&pt), "size {size}");
        assert_eq!(key.decrypt(&theirs.stdout).as_deref(), Ok(&pt[..]));
    }
}

/// Panasonic is `openssl enc -aes-128-cbc -a`: base64 armour both ways.
#[test]
fn panasonic_armour_matches_openssl() {
    if !have_openssl() {
        return;
    }
    let pass = "12341234abcdabcd12341234abcdabcd".as_bytes();
    for cipher in Cipher::ALL {
        let p = provedge::crypto::Panasonic(OpensslEnc::new(
            cipher,
            Kdf::default(),
            Password::new(pass).expect("non-empty"),
        ));
        for size in SIZES {
            let pt = plaintext(size);
            let mut flags = enc_flags(cipher, Kdf::default());
            flags.push("-a".into());
            let dec = openssl(
                &[flags.clone(), vec!["-d".into()]].concat(),
                pass,
                &p.encrypt(&pt).expect("CSPRNG"),
            );
            assert!(dec.status.success() && dec.stdout == pt, "{cipher} {size}");
            let theirs = openssl(&[flags.clone(), vec!["-e".into()]].concat(), pass, &pt);
            assert_eq!(
                p.decrypt(&theirs.stdout).as_deref(),
                Ok(&pt[..]),
                "{cipher} {size}"
            );
            // Same salt: the armour is byte-identical too (OpenSSL 3 -S drops the header, so
            // compare the decoded body).
            let fixed = p.encrypt_with_salt(&pt, [7; 8]);
            let s = openssl(
                &[
                    flags,
                    vec!["-e".into(), "-S".into(), "0707070707070707".into()],
                ]
                .concat(),
                pass,
                &pt,
            );
            let body = panasonic::dearmor(&s.stdout).expect("openssl wrote base64");
            let ours = panasonic::dearmor(&fixed).expect("we wrote base64");
            let expect = if body.starts_with(b"Salted__") {
                &ours[..]
            } else {
                &ours[16..]
            };
            assert!(body == expect, "{cipher} {size}");
        }
    }
}

/// The `provedge` binary against openssl, per the CLI contract.
#[cfg(feature = "cli")]
mod cli {
    use super::*;

    const BIN: &str = env!("CARGO_BIN_EXE_provedge");

    fn provedge(args: &[&str], input: &[u8]) -> Output {
        run(Command::new(BIN).args(args), b"", input)
    }

    fn provedge_os(args: &[&OsStr], input: &[u8]) -> Output {
        run(Command::new(BIN).args(args), b"", input)
    }

    #[test]
    fn encrypt_and_decrypt_interoperate() {
        if !have_openssl() {
            return;
        }
        let pt = plaintext(20480);
        for (i, (cipher, kdf)) in all_params().into_iter().enumerate() {
            let pass = PASSWORDS[i % PASSWORDS.len()];
            let mut ours: Vec<&OsStr> = [
                "--scheme",
                "openssl",
                "--cipher",
                cipher.name(),
                "--password",
            ]
            .map(OsStr::new)
            .to_vec();
            ours.push(OsStr::from_bytes(pass));
            let (md, iter) = match kdf {
                Kdf::EvpBytesToKey(md) => (md, None),
                Kdf::Pbkdf2 { md, iterations } => (md, Some(iterations.to_string())),
            };
            ours.extend([OsStr::new("--md"), OsStr::new(md.name())]);
            if let Some(n) = &iter {
                ours.extend([OsStr::new("--pbkdf2"), OsStr::new("--iter"), OsStr::new(n)]);
            }
            let what = format!("{cipher} {kdf:?}");
            let flags = enc_flags(cipher, kdf);

            let enc = provedge_os(&[&[OsStr::new("encrypt")][..], &ours].concat(), &pt);
            assert!(
                enc.status.success(),
                "{what}: {}",
                String::from_utf8_lossy(&enc.stderr)
            );
            let dec = openssl(
                &[flags.clone(), vec!["-d".into()]].concat(),
                pass,
                &enc.stdout,
            );
            assert!(dec.status.success() && dec.stdout == pt, "{what}");

            let theirs = openssl(&[flags, vec!["-e".into()]].concat(), pass, &pt);
            let dec = provedge_os(
                &[&[OsStr::new("decrypt")][..], &ours].concat(),
                &theirs.stdout,
            );
            assert!(dec.status.success() && dec.stdout == pt, "{what}");
        }
    }

    #[test]
    fn failures_exit_non_zero_with_empty_stdout_and_no_secret() {
        let secret = "pässwörd-s3cret";
        let ok = provedge(
            &["encrypt", "--scheme", "openssl", "--password", secret],
            b"payload",
        );
        assert!(ok.status.success());
        let table: [(&[&str], &[u8], &str); 5] = [
            (
                &["decrypt", "--scheme", "openssl", "--password", "wrong-pass"],
                &ok.stdout,
                "bad decrypt",
            ),
            (
                &[
                    "decrypt",
                    "--scheme",
                    "openssl",
                    "--password",
                    secret,
                    "--md",
                    "sha256",
                ],
                &ok.stdout,
                "bad decrypt",
            ),
            (
                &["decrypt", "--scheme", "openssl", "--password", secret],
                b"not an openssl file",
                "bad magic",
            ),
            (
                &["decrypt", "--scheme", "openssl", "--password", secret],
                &ok.stdout[..20],
                "truncated",
            ),
            (
                &[
                    "decrypt",
                    "--scheme",
                    "yealink",
                    "--key",
                    "0123456789abcdef",
                    "--padding",
                    "pkcs7",
                ],
                b"0123456789",
                "truncated",
            ),
        ];
        for (args, input, msg) in table {
            let out = provedge(args, input);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?}");
            assert!(out.stdout.is_empty(), "{args:?}");
            assert!(stderr.contains(msg), "{args:?}: {stderr}");
            assert!(
                !stderr.contains(secret) && !stderr.contains("wrong-pass"),
                "{stderr}"
            );
        }
        let ok = provedge(
            &["decrypt", "--scheme", "openssl", "--password", secret],
            &ok.stdout,
        );
        assert_eq!(ok.stdout, b"payload");
    }

    #[test]
    fn yealink_commands_interoperate() {
        if !have_openssl() {
            return;
        }
        let key = "ljB7jiDIQQ7XD888";
        let pt = b"#!version:1.0.0.1\naccount.1.enable = 1\n";
        let enc = provedge(&["encrypt", "--scheme", "yealink", "--key", key], pt);
        assert!(enc.status.success());
        let args = [
            "enc",
            "-d",
            "-aes-128-ecb",
            "-nopad",
            "-K",
            &hex(key.as_bytes()),
        ]
        .map(String::from);
        let dec = openssl(&args, b"", &enc.stdout);
        assert_eq!(dec.stdout, [&pt[..], &[b' '; 9]].concat());
        let back = provedge(
            &["decrypt", "--scheme", "yealink", "--key", key],
            &enc.stdout,
        );
        assert_eq!(back.stdout, pt);

        let keyfile = provedge(&["yealink-keyfile", "--key", key], b"");
        assert_eq!(hex(&keyfile.stdout), "ac31d043a08b31ec3c0a88fc2de47156");
        let refused = provedge(
            &[
                "yealink-keyfile",
                "--key",
                "0123456789abcdef0123456789abcdef",
            ],
            b"",
        );
        assert!(!refused.status.success() && refused.stdout.is_empty());
    }
}
