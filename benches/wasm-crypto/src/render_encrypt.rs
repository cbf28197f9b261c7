//! Row 3 of benches/all.sh where it runs in V8: a full render of the 200-P-value Grandstream file
//! of benches/render.rs (inputs changing every request, so the render cache never answers) and
//! the AES-256-CBC encryption (OpenSSL container, random salt) of a 20 KiB file, timed from inside
//! the process so the same code measures natively, under wasmtime and under V8 (Node's WASI,
//! the engine Envoy's `envoy.wasm.runtime.v8` and workerd embed). Prints one `name µs` line per
//! measurement: the median over rounds of the time per operation.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use provedge::crypto::{Cipher, Kdf, OpensslEnc, Password};
use provedge::{Config, Decision, Engine, Lookup, Request, StoreKey};

const NOW: u64 = 1_800_000_000;
const SIZE: usize = 20 * 1024;
const ROUNDS: usize = 7;
const ROUND_TIME: Duration = Duration::from_millis(200);

fn median_us(mut f: impl FnMut() -> usize) -> f64 {
    let mut sink = 0usize;
    let mut per_op = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let (mut n, start) = (0u32, Instant::now());
        while start.elapsed() < ROUND_TIME {
            sink = sink.wrapping_add(f());
            n += 1;
        }
        per_op.push(start.elapsed().as_secs_f64() * 1e6 / f64::from(n));
    }
    black_box(sink);
    per_op.sort_by(f64::total_cmp);
    per_op[ROUNDS / 2]
}

fn store(display_name: &str) -> HashMap<String, Vec<u8>> {
    let pvalues: serde_json::Map<String, serde_json::Value> = (0..200)
        .map(|i| {
            (
                format!("P{}", 1000 + i),
                format!("value-{i} & <more>").into(),
            )
        })
        .collect();
    let device = serde_json::json!({"mac": "000b82123456", "vendor": "grandstream", "model": "gxp2170",
        "lines": [{"user": "1001", "password": "secret", "display_name": display_name,
                   "server": "pbx.example.com"}]});
    HashMap::from([
        (
            "vars/global.json".to_string(),
            serde_json::to_vec(&serde_json::json!({ "pvalues": pvalues })).unwrap(),
        ),
        (
            "devices/000b82123456.json".to_string(),
            serde_json::to_vec(&device).unwrap(),
        ),
        (
            "templates/grandstream/cfg@mac.pvalues".to_string(),
            b"P271 = 1\nP35 = {{ lines[0].user }}\nP34 = {{ lines[0].password }}\nP3 = {{ lines[0].display_name }}\n\
{% for name, value in vars.pvalues|dictsort %}{{ name }} = {{ value }}\n{% endfor %}"
                .to_vec(),
        ),
    ])
}

fn serve(engine: &Engine, files: &HashMap<String, Vec<u8>>, req: &Request) -> usize {
    match engine.run(req, NOW, |k: &StoreKey| {
        files
            .get(k.as_str())
            // Fresh bytes each request, as a host hands over what it has just read when the
            // inputs changed (their digest is computed again, as it would be then).
            .map_or(Lookup::Missing, |b| Lookup::Found(b.clone().into()))
    }) {
        Decision::Respond(r) if r.status == 200 => r.body.len(),
        other => panic!("{other:?}"),
    }
}

fn main() {
    // Rate limits off, as in benches/render.rs: one client sends everything.
    let config =
        r#"{"policy": {"default": {"rate_limit": {"per_client": null, "per_mac": null}}}}"#;
    let engine = Engine::new(Config::from_json(config).unwrap()).unwrap();
    let (front, back) = (store("Front Desk"), store("Back Desk"));
    let req = Request::get("/cfg000b82123456.xml");
    let pt: Vec<u8> = (0..SIZE).map(|i| (i * 31 % 251) as u8).collect();
    let enc = OpensslEnc::new(
        Cipher::Aes256Cbc,
        Kdf::default(),
        Password::new("SecretPhrase1234").expect("non-empty"),
    );
    let mut flip = false;
    let mut render = || {
        flip = !flip;
        serve(&engine, if flip { &front } else { &back }, black_box(&req))
    };
    if std::env::var_os("PROVEDGE_ONLY_CACHED").is_some() {
        // For profiling the cached path alone (`PROVEDGE_ONLY_CACHED=1`).
        let cached_us = median_us(|| serve(&engine, &front, black_box(&req)));
        println!("cached_request {cached_us:.1}");
        return;
    }
    let render_us = median_us(&mut render);
    // The same request with unchanged inputs: the render cache answers, as it does for a phone
    // asking again (what Envoy's render mode does per request once warm).
    let cached_us = median_us(|| serve(&engine, &front, black_box(&req)));

    let encrypt = || enc.encrypt(black_box(&pt)).expect("CSPRNG").len();
    let encrypt_us = median_us(encrypt);
    let both_us = median_us(|| render() + encrypt());
    println!("render_full {render_us:.1}");
    println!("cached_request {cached_us:.1}");
    println!("encrypt_20KiB {encrypt_us:.1}");
    println!("render_and_encrypt {both_us:.1}");
}
