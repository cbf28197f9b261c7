//! Per-client limits shared by isolates: the Workers Rate Limiting binding `RATE_LIMIT`, when
//! one is bound. Compiled for wasm32 only.
//!
//! The core counts per-client requests in the isolate's own table, so without the binding a
//! client's count is per isolate (a client spread over isolates gets each one's allowance).
//! Cloudflare counts a binding for every isolate of a location (colo). With it, the Worker
//! first asks the binding, `RATE_LIMIT.limit({key})`, under the key the core's policy gives
//! ([`Engine::shared_client_key`]: the client's rate group within its tenant), and a refusal is
//! the core's own 429 ([`too_many_requests`]); an admitted request goes on to the engine, whose
//! per-isolate limits still hold. The binding's limit and period are its own
//! (`wrangler.toml`), the same for every tenant; requests the core would not count per client
//! (a tenant without `per_client`, a client the network lists refuse) are not asked about.
//! When the binding fails, the request is counted per isolate only, with a warning.

use provedge::policy::shared_limit::too_many_requests;
use provedge::{Engine, Request, Response};
use worker::js_sys::{Object, Reflect};
use worker::wasm_bindgen::JsValue;
use worker::Env;

use crate::stores::{call, set};

/// The binding's name (docs/worker.md, `edge/wrangler.toml`).
pub const BINDING: &str = "RATE_LIMIT";

/// The core's 429 when the binding refuses `request`'s client; `None` when it admits it, when
/// the core does not count the request per client, or when nothing is bound.
pub async fn refusal(env: &Env, engine: &Engine, request: &Request) -> Option<Response> {
    let limiter = Reflect::get(env, &JsValue::from_str(BINDING))
        .ok()
        .filter(JsValue::is_object)?;
    let key = engine.shared_client_key(request)?;
    match admits(&limiter, &key).await {
        Ok(true) => None,
        Ok(false) => Some(too_many_requests(format!(
            "client {key} over the {BINDING} binding's limit"
        ))),
        Err(e) => {
            worker::console_warn!("provedge: {BINDING}: {e}; counted per isolate only");
            None
        }
    }
}

/// `limiter.limit({key})`'s `success`.
async fn admits(limiter: &JsValue, key: &str) -> Result<bool, String> {
    let options = Object::new();
    set(&options, "key", &JsValue::from_str(key))?;
    let outcome = call(limiter, "limit", &[options.into()]).await?;
    Reflect::get(&outcome, &JsValue::from_str("success"))
        .ok()
        .and_then(|s| s.as_bool())
        .ok_or_else(|| "limit() gave no success".to_owned())
}
