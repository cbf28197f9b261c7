//! AES-256-CBC encryption of a 20 KiB config in the OpenSSL container, the size of a large
//! Grandstream or Cisco profile: with a fresh salt from the OS CSPRNG (what a request pays), with
//! a fixed salt (the cipher alone), and the EVP_BytesToKey and PBKDF2 derivations on their own.
//! The wasm figure comes from `benches/wasm-crypto/run`, which times the same call natively
//! and under wasmtime in one run.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use provedge::crypto::{Cipher, Digest, Kdf, OpensslEnc, Password, DEFAULT_PBKDF2_ITERATIONS};

const SIZE: usize = 20 * 1024;

fn encrypt(c: &mut Criterion) {
    let pt: Vec<u8> = (0..SIZE).map(|i| (i * 31 % 251) as u8).collect();
    let password = Password::new("SecretPhrase1234").expect("non-empty");
    let enc = OpensslEnc::new(Cipher::Aes256Cbc, Kdf::default(), password.clone());

    let mut g = c.benchmark_group("aes-256-cbc 20KiB");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.bench_function("encrypt, random salt", |b| {
        b.iter(|| enc.encrypt(black_box(&pt)).expect("CSPRNG"))
    });
    g.bench_function("encrypt, fixed salt", |b| {
        b.iter(|| enc.encrypt_with_salt(black_box(&pt), [7; 8]))
    });
    let file = enc.encrypt_with_salt(&pt, [7; 8]);
    g.bench_function("decrypt", |b| b.iter(|| enc.decrypt(black_box(&file))));
    g.finish();

    let mut g = c.benchmark_group("key derivation");
    let pbkdf2 = Kdf::Pbkdf2 {
        md: Digest::Sha256,
        iterations: DEFAULT_PBKDF2_ITERATIONS,
    };
    for (name, kdf) in [("evp md5", Kdf::default()), ("pbkdf2 sha256 10000", pbkdf2)] {
        g.bench_function(name, |b| {
            b.iter(|| kdf.derive(Cipher::Aes256Cbc, &password, black_box(&[7; 8])))
        });
    }
    g.finish();
}

criterion_group!(benches, encrypt);
criterion_main!(benches);
