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
//!   host                              core (this crate)
//!   ────                              ─────────────────
//!   Request ─────────────────────────▶ Engine::handle
//!                                       │ route   (recognise vendor, file, MAC)
//!                                       │ policy  (tenant, MAC binding, auth, CIDR)   [issue 5]
//!        ◀──────── Decision::Fetch(keys)┘
//!   read keys from folder / KV / HTTP
//!   Fetch::resume(lookups) ───────────▶ render, encrypt                             [issues 3, 4]
//!        ◀──────── Decision::Respond(Response) | Decision::Rewrite(target)
//! ```
//!
//! * [`Request`] is what a host hands in: method, target, headers, peer address and an optional
//!   verified client-certificate identity. Nothing is trusted or validated yet.
//! * [`route::route`] turns it into a typed [`Route`]: [`Vendor`], [`Scope`], [`Kind`], a parsed
//!   [`Mac`] (never a loose string), the model, the canonical file name and [`StoreKey`]. Bad
//!   input becomes a [`RouteError`] with the right 4xx status.
//! * [`Engine::handle`] returns a [`Decision`]: respond, rewrite, or fetch these keys. A
//!   [`Fetch`] is consumed by [`Fetch::resume`], which may ask for more keys; the loop ends in
//!   a whole [`Response`] (never a partial body) or a [`Rewrite`].
//!
//! Each host (the `provedge` binary, `filters/` for proxy-wasm, `edge/` for Workers) is a thin
//! adapter: it converts its native request into a [`Request`], performs the reads a [`Fetch`]
//! asks for, and converts the final [`Decision`] back. Because all logic is here, one test
//! suite proves all hosts.
//!
//! ## No panics on the request path
//!
//! A panic kills a proxy-wasm VM. Every fallible step returns a value; indexing is checked;
//! input sizes are bounded by [`route::Limits`]. Property tests feed arbitrary bytes through
//! [`route::route`].
//!
//! ## Features
//!
//! The default `cli` feature builds the native binary's dependencies (clap). The library
//! itself builds for `wasm32-wasip1` and `wasm32-unknown-unknown` with
//! `--no-default-features`.

pub mod access;
pub mod config;
pub mod crypto;
pub mod decision;
pub mod engine;
pub mod key;
pub mod mac;
pub mod model;
pub mod object;
mod pipeline;
pub mod policy;
pub mod render;
pub mod request;
pub mod response;
pub mod rewrite;
pub mod route;
pub mod store;
pub mod vendor;

pub use engine::{
    Checksum, Config, ConfigError, Decision, Engine, Fetch, Lookup, Md5Hasher, MemoryConfig, Mode,
    RenderConfig, Response, Rewrite, Stored, Stream, Summed, Upload, UploadConfig,
};
pub use key::StoreKey;
pub use mac::{Mac, MacCase, MacError};
pub use model::Model;
pub use request::{ClientIdentity, Method, Request};
pub use route::{Kind, Route, RouteConfig, RouteError, Scope, Subject};
pub use vendor::Vendor;
