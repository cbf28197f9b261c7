//! The proxy-wasm filter's request conversion (`provedge_filter::core_request`): whatever
//! header bytes and `source.address` the proxy hands over become a request the engine answers
//! without panicking; `:path` is the target, `:authority` the `Host`, other pseudo-headers never
//! reach the core, and a parseable address is the peer.
#![no_main]

use std::net::{IpAddr, SocketAddr};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use provedge::{Decision, Engine};

#[derive(Arbitrary, Debug)]
struct Input {
    headers: Vec<(String, Vec<u8>)>,
    source_address: Option<String>,
}

fuzz_target!(|input: Input| {
    let headers: Vec<(String, Vec<u8>)> = input.headers.into_iter().take(32).collect();
    let req = provedge_filter::core_request(headers.clone(), input.source_address.as_deref());
    let last = |name: &str| {
        headers
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    if let Some(path) = last(":path") {
        assert_eq!(req.target, path);
    }
    assert!(req.headers.iter().all(|(n, _)| !n.starts_with(':')));
    let hosts = headers.iter().filter(|(n, _)| n == ":authority").count();
    let host_headers = headers.iter().filter(|(n, _)| n == "host").count();
    assert_eq!(
        req.headers.iter().filter(|(n, _)| n == "host").count(),
        hosts + host_headers
    );
    let expected_peer = input.source_address.as_deref().and_then(|a| {
        a.parse::<SocketAddr>()
            .map(|s| s.ip())
            .or_else(|_| a.parse::<IpAddr>())
            .ok()
    });
    assert_eq!(req.peer, expected_peer);
    match Engine::default().handle(&req, 1_800_000_000) {
        Decision::Respond(resp) => assert!((100..600).contains(&resp.status)),
        _ => {}
    }
});
