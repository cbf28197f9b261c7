//! Faults at the origin, natively: `provedge serve --store http://…` in front of an origin that
//! hangs up, is slower than its timeout, answers garbage, too much, junk, half a body, hostile
//! headers, a 500 or a 304 nobody asked for. A request answered before gets its last good file
//! (the core's, marked `X-Provedge-Stale`); one never answered gets a clean 5xx with no body, in
//! bounded time; the server stays up. (The same origin drives the Envoy filter in
//! `tests/envoy_filter.rs`, and the Worker's KV is taken away in `tests/worker_workerd.rs`.)

// serve_support and envoy_support each include the tests' HTTP client as their own module.
#![allow(clippy::duplicate_mod)]

mod envoy_support;
mod serve_support;

use std::time::{Duration, Instant};

use envoy_support::{Behaviour, Origin};
use provedge::last_good::STALE_HEADER;
use serve_support::{Server, GS_UA, YEA_UA};

#[test]
fn a_failing_or_hostile_origin_gives_the_last_good_file_or_a_clean_5xx() {
    let store = envoy_support::temp_dir("faults-origin");
    envoy_support::copy_dir(&envoy_support::repo().join("examples/store"), &store);
    let origin = Origin::start(store.clone());
    // No origin cache, so every request meets the origin as it is now.
    let config = r#"{"server": {"origin": {"timeout_ms": 400, "max_object_bytes": 65536},
                                "origin_cache": {"ttl_secs": 0, "stale_if_error_secs": 0}}}"#;
    let server = Server::start_store(Some(config), |_| {
        Some(format!("http://127.0.0.1:{}", origin.port))
    });
    let gs = "/cfg000b82123456.xml";
    let good = server.get(gs, Some(GS_UA));
    assert_eq!(good.status, 200);
    for behaviour in [
        Behaviour::Hangup,
        Behaviour::Slow(Duration::from_millis(1500)),
        Behaviour::Garbage,
        Behaviour::Huge,
        Behaviour::JunkBody,
        Behaviour::Truncated,
        Behaviour::HostileHeaders,
        Behaviour::Status(500),
        Behaviour::Status(304),
    ] {
        origin.set(behaviour.clone());
        let start = Instant::now();
        let again = server.get(gs, Some(GS_UA));
        assert_eq!(
            (again.status, &again.body),
            (200, &good.body),
            "{behaviour:?}"
        );
        // Hostile headers around the right bytes may render afresh; every real fault is marked.
        if behaviour != Behaviour::HostileHeaders {
            assert!(again.header(STALE_HEADER).is_some(), "{behaviour:?}");
        }
        // Never answered well: a clean 5xx, no body, never a partial file.
        let never = server.get("/001565123456.cfg", Some(YEA_UA));
        if behaviour != Behaviour::HostileHeaders {
            assert!(
                (500..=503).contains(&never.status),
                "{behaviour:?}: {}",
                never.status
            );
            assert!(never.body.is_empty(), "{behaviour:?}");
            assert_eq!(never.header(STALE_HEADER), None);
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{behaviour:?} took {:?}",
            start.elapsed()
        );
    }
    // The server survived all of it, and serves fresh files again.
    origin.set(Behaviour::Normal);
    let after = server.get(gs, Some(GS_UA));
    assert_eq!((after.status, after.header(STALE_HEADER)), (200, None));
    assert_eq!(server.get("/001565123456.cfg", Some(YEA_UA)).status, 200);
    let _ = std::fs::remove_dir_all(&store);
}
