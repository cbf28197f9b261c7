//! The Worker's request conversion (`provedge_edge::core_request`) and client-certificate
//! identity (`provedge_edge::identity::client_identity`): whatever method, path, query and
//! headers the runtime gives become a request the engine answers without panicking; the target
//! is path and query; the peer is `CF-Connecting-IP` when it parses, never another header; a
//! certificate is an identity only when Cloudflare says it verified it.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use provedge::{Decision, Engine};

#[derive(Arbitrary, Debug)]
struct Input {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    tls_fields: Vec<(String, String)>,
}

fuzz_target!(|input: Input| {
    let headers: Vec<(String, String)> = input.headers.into_iter().take(32).collect();
    let req = provedge_edge::core_request(
        &input.method,
        &input.path,
        input.query.as_deref(),
        headers.clone(),
    );
    match input.query.as_deref() {
        Some(q) if !q.is_empty() => assert_eq!(req.target, format!("{}?{q}", input.path)),
        _ => assert_eq!(req.target, input.path),
    }
    let connecting = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("cf-connecting-ip"))
        .and_then(|(_, v)| v.trim().parse().ok());
    assert_eq!(req.peer, connecting);
    let fields = &input.tls_fields;
    let identity = provedge_edge::identity::client_identity(|name| {
        fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    });
    if identity.is_some() {
        let is = |name: &str, want: &str| {
            fields.iter().find(|(n, _)| n == name).is_some_and(|(_, v)| v == want)
        };
        assert!(
            is("certPresented", "1") && is("certVerified", "SUCCESS") && is("certRevoked", "0"),
            "an identity from a certificate not presented, verified and unrevoked: {fields:?}"
        );
    }
    let req = provedge::Request {
        client_identity: identity,
        ..req
    };
    match Engine::default().handle(&req, 1_800_000_000) {
        Decision::Respond(resp) => assert!((100..600).contains(&resp.status)),
        _ => {}
    }
});
