//! workerd's own AES-CBC and HMAC-SHA256, lent to the core ([`provedge::crypto::lent`]).
//!
//! In wasm the core's AES is bitsliced and its SHA-256 has no SHA instructions: an encrypted
//! 20 KiB file cost about 1 ms of the isolate's CPU in the cipher and the salt's HMAC.
//! `node:crypto` is workerd's BoringSSL, synchronous, and takes microseconds, so the core's
//! sans-IO API stays as it is: the core still pads, salts and derives keys and asks only for
//! the primitives. It checks them against its own before taking them and falls back to
//! software for any call that fails. Needs the `nodejs_compat` flag (edge/wrangler.toml).
//! Compiled for wasm32 only.

use provedge::crypto::aes_cbc::{AesKey, BLOCK};
use provedge::crypto::lent::{self, Lent};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
import { Buffer } from "node:buffer";
import { createCipheriv, createHmac } from "node:crypto";
export function aes_cbc_encrypt(name, key, iv, blocks) {
  const cipher = createCipheriv(name, key, iv);
  cipher.setAutoPadding(false);
  const head = cipher.update(blocks);
  const tail = cipher.final();
  return tail.length === 0 ? head : Buffer.concat([head, tail]);
}
export function hmac_sha256(key) {
  return createHmac("sha256", key);
}
"#)]
extern "C" {
    /// The ciphertext of whole `blocks`, without padding; throws on a bad key or IV length.
    #[wasm_bindgen(catch)]
    fn aes_cbc_encrypt(
        name: &str,
        key: &[u8],
        iv: &[u8],
        blocks: &[u8],
    ) -> Result<Vec<u8>, JsValue>;

    /// A `node:crypto` Hmac object.
    type Hmac;

    #[wasm_bindgen(catch)]
    fn hmac_sha256(key: &[u8]) -> Result<Hmac, JsValue>;

    /// Adds `data` to the message (copied before it returns).
    #[wasm_bindgen(method, catch)]
    fn update(this: &Hmac, data: &[u8]) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn digest(this: &Hmac) -> Result<Vec<u8>, JsValue>;
}

/// The lent AES: `None` when workerd threw, which leaves the blocks to the core's.
fn workerd_aes_cbc(key: &AesKey, iv: &[u8; BLOCK], blocks: &[u8]) -> Option<Vec<u8>> {
    let name = match key {
        AesKey::Aes128(_) => "aes-128-cbc",
        AesKey::Aes192(_) => "aes-192-cbc",
        AesKey::Aes256(_) => "aes-256-cbc",
    };
    aes_cbc_encrypt(name, key.as_bytes(), iv, blocks).ok()
}

/// The lent HMAC: `None` when workerd threw or gave a tag of another length.
fn workerd_hmac_sha256(key: &[u8], message: &[&[u8]]) -> Option<[u8; 32]> {
    let hmac = hmac_sha256(key).ok()?;
    for part in message {
        hmac.update(part).ok()?;
    }
    hmac.digest().ok()?.try_into().ok()
}

/// Lends workerd's primitives to the core, once per isolate; a refusal (they did not give the
/// core's bytes) is logged and the core's own stay.
pub fn lend() {
    if lent::is_lent() {
        return;
    }
    let workerd = Lent {
        aes_cbc_encrypt: workerd_aes_cbc,
        hmac_sha256: workerd_hmac_sha256,
    };
    if let Err(e) = lent::lend(workerd) {
        worker::console_warn!("provedge: {e}");
    }
}
