//! workerd's own AES-CBC and HMAC-SHA256, lent to the core ([`provedge::crypto::lent`]).
//!
//! In wasm the core's AES is bitsliced and its SHA-256 has no SHA instructions: an encrypted
//! 20 KiB file cost about 1 ms of the isolate's CPU in the cipher and the salt's HMAC.
//! `node:crypto` is workerd's BoringSSL, synchronous, and takes microseconds, so the core's
//! sans-IO API stays as it is: the core still pads, salts and derives keys and asks only for
//! the primitives. It checks them against its own before taking them and falls back to
//! software for any call that fails. Needs the `nodejs_compat` flag (edge/wrangler.toml);
//! without it nothing is lent and the Worker runs as before.
//! Compiled for wasm32 only.

use provedge::crypto::aes_cbc::{AesKey, BLOCK};
use provedge::crypto::lent::{self, Lent};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
// `node:crypto` when the Worker runs with `nodejs_compat`; without the flag there is none, the
// Worker still starts, and the core keeps its own code.
const nodeCrypto = globalThis.process?.getBuiltinModule?.("node:crypto");
export function node_crypto_available() {
  return nodeCrypto !== undefined;
}
export function aes_cbc_encrypt(name, key, iv, blocks) {
  const cipher = nodeCrypto.createCipheriv(name, key, iv);
  cipher.setAutoPadding(false);
  const head = cipher.update(blocks);
  const tail = cipher.final();
  if (tail.length === 0) return head;
  const whole = new Uint8Array(head.length + tail.length);
  whole.set(head);
  whole.set(tail, head.length);
  return whole;
}
export function hmac_sha256(key) {
  return nodeCrypto.createHmac("sha256", key);
}
"#)]
extern "C" {
    fn node_crypto_available() -> bool;

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
    // `openssl enc`'s names, which are also node:crypto's.
    aes_cbc_encrypt(key.cipher().name(), key.as_bytes(), iv, blocks).ok()
}

/// The lent HMAC: `None` when workerd threw or gave a tag of another length.
fn workerd_hmac_sha256(key: &[u8], message: &[&[u8]]) -> Option<[u8; 32]> {
    let hmac = hmac_sha256(key).ok()?;
    for part in message {
        hmac.update(part).ok()?;
    }
    hmac.digest().ok()?.try_into().ok()
}

/// Lends workerd's primitives to the core, once per isolate. Without `nodejs_compat`, or when
/// they did not give the core's bytes, that is logged and the core's own stay.
pub fn lend() {
    thread_local! {
        static TRIED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if TRIED.with(|tried| tried.replace(true)) {
        return;
    }
    if !node_crypto_available() {
        worker::console_warn!(
            "provedge: no node:crypto (the nodejs_compat flag is off): files are encrypted by \
             the core's slower wasm AES"
        );
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
