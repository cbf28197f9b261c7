//! Recognition of arbitrary requests: an error is a 4xx with a reason; a device file's key
//! carries its MAC; a recognised request's canonical key, asked for with the same method and
//! a User-Agent that does not contradict it, is the same key when it is recognised at all
//! (what rewrite mode sends upstream names the same file); routing is deterministic; the
//! engine's memo of routes answers exactly what routing does, the first time and when it
//! remembers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provedge::route::{self, RouteConfig};
use provedge::{Method, Request, Scope};

// The input is `METHOD TARGET`, then the User-Agent, then `name: value` header lines (the seeds
// in fuzz/seeds/route/ are real phones' requests in this form).
fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or_default();
    let (method, target) = first.split_once(' ').unwrap_or(("GET", first));
    let user_agent = lines.next().filter(|ua| !ua.is_empty());
    let cfg = RouteConfig::default();
    let mut req = Request::new(Method::parse(method), target);
    if let Some(ua) = user_agent {
        req = req.with_header("User-Agent", ua);
    }
    for line in lines.take(8) {
        if let Some((name, value)) = line.split_once(':') {
            req = req.with_header(name.trim(), value.trim());
        }
    }
    let routed = route::route(&req, &cfg);
    let memo = route::RouteMemo::default();
    for _ in 0..2 {
        assert_eq!(memo.route(&req, &cfg), routed, "the memo differs from routing");
    }
    match routed {
        Err(e) => {
            assert!((400..500).contains(&e.status()), "{e}: {}", e.status());
            assert!(!e.to_string().is_empty());
        }
        Ok(r) => {
            assert!(!r.file().is_empty());
            if let (Some(mac), Scope::Device) = (r.mac(), r.scope()) {
                assert!(r.key().as_str().contains(&mac.to_string()), "{}", r.key());
            }
            let again = route::route(&req, &cfg).expect("routing is deterministic");
            assert_eq!(again.key(), r.key());
            let mut canonical = Request::new(Method::parse(method), format!("/{}", r.key().as_str()));
            if let Some(ua) = user_agent {
                canonical = canonical.with_header("User-Agent", ua);
            }
            // Not every canonical name is one a phone asks for (a phonebook's URL is the
            // operator's), but one that is must name the same file. Unless the User-Agent
            // names another vendor than the path did (a Snom asking `/phonebook/yealink.xml`):
            // then the canonical name's vendor directory is weaker evidence than the
            // User-Agent, by design (`route`'s order of evidence), and the policy's MAC
            // binding is what judges such a request.
            let contradicted = r.user_agent().is_some_and(|ua| ua.vendor != r.vendor());
            if let (Ok(back), false) = (route::route(&canonical, &cfg), contradicted) {
                assert_eq!(back.key(), r.key(), "from {target:?}");
            }
        }
    }
});
