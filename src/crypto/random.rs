//! The one place where the crypto module reads the outside world: the OS CSPRNG.
//!
//! Everything else in [`crate::crypto`] is deterministic and takes its salt as an argument; the
//! `encrypt` conveniences call [`fill`] to draw one. How each target gets its bytes (all through
//! the `getrandom` crate, never a userspace PRNG):
//!
//! | target | source |
//! |---|---|
//! | native Linux (the `provedge` binary) | the `getrandom(2)` syscall, falling back to `/dev/urandom` |
//! | `wasm32-wasip1` (the proxy-wasm filter) | WASI `random_get`, which Envoy and other proxy-wasm hosts implement from their own CSPRNG |
//! | `wasm32-unknown-unknown` (the Worker) | `crypto.getRandomValues()` through `wasm-bindgen`, via getrandom's `wasm_js` feature, which `Cargo.toml` enables for that target only |
//!
//! In a Cloudflare Worker `crypto.getRandomValues` may only be called while a request is being
//! handled, not at script start-up; salts are drawn per file during a request, which is allowed.
//! If the source fails, the error is [`CryptoError::Randomness`] and nothing is encrypted: there is
//! no fallback to a weaker source.

use super::CryptoError;

/// Fills `buf` from the operating system's CSPRNG.
pub fn fill(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::fill(buf).map_err(CryptoError::Randomness)
}
