//! # provedge: a sans-IO provisioning engine for VoIP phones
//!
//! Phones boot and ask for files whose names each vendor invents (`cfg000b82123456.xml`,
//! `0004f2123456-phone.cfg`, `y000000000066.cfg`, `algom0022EE123456.conf`, …). provedge
//! recognises every such request, fetches the device's data from a store, renders and encrypts
//! the file the phone expects, and enforces who may have it, identically inside Envoy or nginx
//! (proxy-wasm), in a Cloudflare Worker, and in the native server.
//!
//! ## Design: the core never does IO
//!
//! Like rustls and quinn-proto, the core is a state machine that is *driven* by a host:
//!
//! ```text
//!   host                                   core (this crate)
//!   ────                                   ─────────────────
//!   Engine::new(Config) ─────────────────▶ checked once: ConfigError { key, reason } or an engine
//!   Request + now ───────────────────────▶ Engine::handle: policy, route, plan
//!        ◀──── Decision::Fetch(keys) ──────┘
//!   read every key (concurrently)
//!   Fetch::resume(answers) ──────────────▶ match answers to keys, render, encrypt (≤ 8 rounds)
//!        ◀──── Respond | Rewrite | Stream | Checksum | Upload
//!   Stream::answer(ObjectMeta) ──────────▶ 200/206/304/416 and every header
//!   Checksum::respond(Summed) ───────────▶ the .md5 answer
//!   Upload::finish(Stored) ──────────────▶ 201/204/413/507/503
//!   Trail::record(Done) ─────────────────▶ AccessRecord (+ LastSeen when due)
//! ```
//!
//! ## The host contract
//!
//! **A host supplies**, per request: the [`Request`] (method, target as received, every
//! header, the connection's peer address, and a client-certificate [`ClientIdentity`] only when
//! the host itself verified it); `now`, seconds since the Unix epoch from its clock (an
//! argument of [`Engine::handle`], never optional: rate limits and nonces depend on it); the
//! bytes under each key a [`Fetch`] names, as a [`Lookup`] (found, missing, or failed with a
//! reason for the log), in any order (found bytes are a [`Blob`]: a host that caches what it
//! read hands over the cached blob itself, which is neither copied nor hashed again); for a [`Stream`], the object's [`object::ObjectMeta`]
//! (length, a strong validator, modification time) and then exactly the bytes the answer
//! names; for a [`Checksum`], the object fed through [`Md5Hasher`] piece by piece; for an
//! [`Upload`], the body within [`Upload::max_bytes`] and what became of it ([`Stored`]).
//!
//! **The core owns** every decision: the tenant (every [`Decision`] carries it), the
//! rounds of store reads and their cap, which answer belongs to which key, every status code
//! and header (ETags and 304s, `Range`, `cache-control` by scope, challenges), the body of
//! every answer it makes, and one [`access::AccessRecord`] per request with the
//! [`access::LastSeen`] update it implies. A host never inspects keys, never builds a status
//! or a header of its own except for its own faults (an upstream that timed out: 502/504),
//! and emits the record in its native way: a JSON line on stdout (the native server), the
//! proxy's log (the filter), `console.log` (the Worker).
//!
//! **A host may not** read a key the core did not name, serve bytes the core did not decide,
//! or believe a forwarding or identity header itself: the policy decides which peers are
//! trusted.
//!
//! * [`route::route`] turns a request into a typed [`Route`]: [`Vendor`], [`Scope`], [`Kind`],
//!   a parsed [`Mac`] (never a loose string), the model, the canonical file name and
//!   [`StoreKey`]. Bad input becomes a [`RouteError`] with the right 4xx status.
//! * The hosts are `src/bin/provedge` (native CLI and server), `filters/` (proxy-wasm) and
//!   `edge/` (Workers); the parity suite (`tests/parity.rs`) runs one table of requests
//!   through all three and fails on the first that disagrees.
//!
//! ## No panics on the request path
//!
//! A panic kills a proxy-wasm VM. Every fallible step returns a value; indexing is checked;
//! input sizes are bounded by [`route::Limits`]. Clippy's `unwrap_used`, `expect_used`, `panic`
//! and `indexing_slicing` are denied in the library outside its tests (`scripts/test-all` runs
//! clippy), property tests feed arbitrary bytes through [`route::route`], and the fuzz targets
//! (`fuzz/`, docs/fuzzing.md) drive every parser.
//!
//! ## Features
//!
//! The default `cli` feature builds the native binary's dependencies (clap). The library
//! itself builds for `wasm32-wasip1` and `wasm32-unknown-unknown` with
//! `--no-default-features`.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod access;
pub mod blob;
pub mod config;
pub mod crypto;
pub mod decision;
pub mod engine;
mod framed;
pub mod key;
pub mod last_good;
pub mod mac;
pub mod model;
pub mod object;
pub mod origin;
mod pipeline;
pub mod policy;
pub mod render;
pub mod request;
pub mod response;
pub mod rewrite;
pub mod route;
pub mod secrets;
pub mod seeded_map;
pub mod store;
pub mod vendor;

pub use blob::Blob;
pub use engine::{
    Checksum, Config, ConfigError, Decision, Engine, Fetch, Lookup, Md5Hasher, MemoryConfig, Mode,
    RenderConfig, Response, Rewrite, Stored, Stream, Summed, Upload, UploadConfig,
};
pub use key::StoreKey;
pub use mac::{Mac, MacCase, MacError};
pub use model::Model;
pub use origin::{Origin, OriginConfig, OriginRequest};
pub use request::{ClientIdentity, Method, Request};
pub use route::{Kind, Route, RouteConfig, RouteError, Scope, Subject};
pub use vendor::Vendor;
