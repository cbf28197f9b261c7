//! AES-256-CBC encryption of a 20 KiB file in the OpenSSL container (EVP_BytesToKey/MD5, the
//! firmware default), timed from inside the process so the same code measures natively and
//! under wasmtime. Prints one `name MB/s` line per measurement (MB = 10^6 bytes).

use std::time::{Duration, Instant};

use provedge::crypto::{Cipher, Kdf, OpensslEnc, Password};

const SIZE: usize = 20 * 1024;
const ROUNDS: usize = 7;
const ROUND_TIME: Duration = Duration::from_millis(300);

/// Median MB/s of `ROUNDS` rounds, each running `f` repeatedly for about `ROUND_TIME`.
fn measure(mut f: impl FnMut() -> usize) -> f64 {
    let mut sink = 0usize;
    let mut rates = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let (mut n, start) = (0u64, Instant::now());
        while start.elapsed() < ROUND_TIME {
            sink = sink.wrapping_add(f());
            n += 1;
        }
        rates.push((n as f64 * SIZE as f64) / start.elapsed().as_secs_f64() / 1e6);
    }
    std::hint::black_box(sink);
    rates.sort_by(f64::total_cmp);
    rates[ROUNDS / 2]
}

fn main() {
    let pt: Vec<u8> = (0..SIZE).map(|i| (i * 31 % 251) as u8).collect();
    let password = Password::new("SecretPhrase1234").expect("non-empty");
    let enc = OpensslEnc::new(Cipher::Aes256Cbc, Kdf::default(), password);
    let with_rng = measure(|| {
        enc.encrypt(std::hint::black_box(&pt))
            .expect("CSPRNG")
            .len()
    });
    let fixed_salt = measure(|| {
        enc.encrypt_with_salt(std::hint::black_box(&pt), [7; 8])
            .len()
    });
    println!("encrypt_20KiB_random_salt {with_rng:.1}");
    println!("encrypt_20KiB_fixed_salt {fixed_salt:.1}");
}
