//! Routes remembered by the request fields they depend on.
//!
//! A route is a pure function of the method, the target and the User-Agent (and the engine's
//! fixed configuration), and phones repeat the same requests every few minutes, so the engine
//! remembers recent results instead of matching the name tables again: in the native server
//! routing was the largest single part of the engine's time. The header limits are still
//! checked on every request (they depend on all headers). Refusals are remembered as routes
//! are (a phone asking every few minutes for a file no vendor table names, a monitor's
//! `/index.html`). The map is bounded in entries and long keys are not remembered, so a
//! scanner's stream of unique requests costs a bounded amount of memory.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use super::{check_headers, route, route_checked, Route, RouteConfig, RouteError};
use crate::request::{Method, Request};

/// By default at most this many routes are remembered (cleared wholesale when full, like the
/// engine's other caches; `memory.route_entries`).
pub const DEFAULT_ENTRIES: usize = 4096;
/// Requests whose target and User-Agent together are longer are routed without the memo (and
/// not kept).
const MAX_KEY: usize = 512;

/// Routes by a hash of method, target and User-Agent. The entry keeps the three fields, and a
/// hit must match them exactly, so two requests whose hashes collide only cost a miss (the later
/// one takes the slot). Nothing is allocated to look a request up.
///
/// Each remembered route carries an `A` the caller fills ([`RouteMemo::route_attached`]): what
/// it works out from the route alone, once, for every later request of the same route. (The
/// engine keeps a job's prelude there: the keys a route's file needs.)
pub struct RouteMemo<A = ()> {
    entries: Mutex<HashMap<u64, Entry<A>, BuildHasherDefault<Prehashed>>>,
    max_entries: usize,
}

/// The map's hasher: its keys are XXH3 hashes already ([`key`]), so hashing them again (with
/// the default SipHash) would only cost time.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the keys are `u64`); any other input is folded in anyway.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

/// A remembered route, the request fields it was routed from, and what is attached to it.
struct Entry<A> {
    method: Method,
    target: Box<str>,
    user_agent: Option<Box<str>>,
    route: Result<Route, RouteError>,
    attached: Arc<A>,
}

impl<A> Entry<A> {
    fn is_for(&self, req: &Request, user_agent: Option<&str>) -> bool {
        self.method == req.method
            && *self.target == *req.target
            && self.user_agent.as_deref() == user_agent
    }
}

/// The memo's key for a request. Absent and empty User-Agents hash differently (the seed
/// says which), as they route differently.
fn key(req: &Request, user_agent: Option<&str>) -> u64 {
    use xxhash_rust::xxh3::xxh3_64_with_seed as hash;
    let method = hash(req.method.as_str().as_bytes(), 0);
    let target = hash(req.target.as_bytes(), method);
    match user_agent {
        Some(ua) => hash(ua.as_bytes(), target ^ 1),
        None => target,
    }
}

impl Default for RouteMemo {
    fn default() -> RouteMemo {
        RouteMemo::bounded(DEFAULT_ENTRIES)
    }
}

impl<A> std::fmt::Debug for RouteMemo<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouteMemo")
    }
}

impl<A> Clone for RouteMemo<A> {
    /// A clone starts empty.
    fn clone(&self) -> RouteMemo<A> {
        RouteMemo::attaching(self.max_entries)
    }
}

impl RouteMemo {
    /// A memo of at most `entries` routes (0 turns it off).
    pub fn bounded(entries: usize) -> RouteMemo {
        RouteMemo::attaching(entries)
    }
}

impl<A> RouteMemo<A> {
    /// A memo of at most `entries` routes (0 turns it off), each with an `A` attached.
    pub fn attaching(entries: usize) -> RouteMemo<A> {
        RouteMemo {
            entries: Mutex::default(),
            max_entries: entries,
        }
    }
}

impl<A: Default> RouteMemo<A> {
    /// [`route`], answered from the memo when the same method, target and User-Agent were
    /// routed before.
    pub fn route(&self, req: &Request, cfg: &RouteConfig) -> Result<Route, RouteError> {
        self.route_attached(req, cfg).0
    }

    /// [`RouteMemo::route`], with the `A` attached to the route: shared by every request the
    /// memo answers with the same entry, a fresh one for a route it does not keep.
    pub fn route_attached(
        &self,
        req: &Request,
        cfg: &RouteConfig,
    ) -> (Result<Route, RouteError>, Arc<A>) {
        let user_agent = req.user_agent();
        if self.max_entries == 0
            || matches!(req.method, Method::Other(_))
            || req.target.len() + user_agent.map_or(0, str::len) > MAX_KEY
        {
            return (route(req, cfg), Arc::default());
        }
        if let Err(e) = check_headers(req, &cfg.limits) {
            return (Err(e), Arc::default());
        }
        let key = key(req, user_agent);
        let hit = self.entries.lock().ok().and_then(|m| {
            m.get(&key)
                .filter(|e| e.is_for(req, user_agent))
                .map(|e| (e.route.clone(), Arc::clone(&e.attached)))
        });
        if let Some(hit) = hit {
            return hit;
        }
        let routed = route_checked(req, cfg);
        let attached = Arc::default();
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.max_entries {
                entries.clear();
            }
            let entry = Entry {
                method: req.method.clone(),
                target: req.target.as_str().into(),
                user_agent: user_agent.map(Box::from),
                route: routed.clone(),
                attached: Arc::clone(&attached),
            };
            entries.insert(key, entry);
        }
        (routed, attached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_attached_lives_with_the_remembered_route() {
        let memo: RouteMemo<std::sync::OnceLock<u32>> = RouteMemo::attaching(2);
        let cfg = RouteConfig::default();
        let req = Request::get("/cfg000b82123456.xml");
        let (first, attached) = memo.route_attached(&req, &cfg);
        attached.get_or_init(|| 7);
        // The same request finds the same route and what its first request attached.
        let (again, same) = memo.route_attached(&req, &cfg);
        assert_eq!(again, first);
        assert!(Arc::ptr_eq(&attached, &same));
        assert_eq!(same.get(), Some(&7));
        // Another request (here only its User-Agent differs) has its own.
        let other = req.clone().with_header("user-agent", "Grandstream GXP2170");
        let (_, theirs) = memo.route_attached(&other, &cfg);
        assert!(theirs.get().is_none());
        // Once the memo is cleared for room, a request starts from an empty attachment.
        assert!(memo
            .route_attached(&Request::get("/cfg.xml"), &cfg)
            .0
            .is_ok());
        let (_, after) = memo.route_attached(&req, &cfg);
        assert!(after.get().is_none());
        // A memo that keeps nothing attaches a fresh one to every request.
        let off: RouteMemo<std::sync::OnceLock<u32>> = RouteMemo::attaching(0);
        let (_, a) = off.route_attached(&req, &cfg);
        a.get_or_init(|| 1);
        assert!(off.route_attached(&req, &cfg).1.get().is_none());
    }

    #[test]
    fn remembers_routes_but_still_checks_every_request() {
        let memo = RouteMemo::default();
        let cfg = RouteConfig::default();
        let ua = "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56";
        let req = Request::get("/y000000000066.cfg").with_header("user-agent", ua);
        let first = memo.route(&req, &cfg).unwrap();
        assert_eq!(memo.route(&req, &cfg).unwrap(), first);
        assert_eq!(first, route(&req, &cfg).unwrap());
        // Another User-Agent is another key: the model file is then the requester's.
        let other = Request::get("/y000000000066.cfg").with_header(
            "user-agent",
            "Yealink SIP-T48S 66.86.0.15 00:15:65:65:43:21",
        );
        assert_eq!(
            memo.route(&other, &cfg).unwrap(),
            route(&other, &cfg).unwrap()
        );
        assert_ne!(memo.route(&other, &cfg).unwrap(), first);
        // The header limits apply to a remembered request too.
        let mut flooded = req.clone();
        for i in 0..=cfg.limits.max_headers {
            flooded = flooded.with_header(format!("x-{i}"), "v");
        }
        assert!(matches!(
            memo.route(&flooded, &cfg),
            Err(RouteError::TooManyHeaders { .. })
        ));
        // A refusal is remembered as itself: a method the file does not take stays refused,
        // and the same method on a name it serves is still answered.
        let put = Request {
            method: Method::Put,
            ..req.clone()
        };
        let refused = route(&put, &cfg);
        assert!(matches!(refused, Err(RouteError::MethodNotAllowed { .. })));
        assert_eq!(memo.route(&put, &cfg), refused);
        assert_eq!(memo.route(&put, &cfg), refused);
        assert_eq!(memo.route(&req, &cfg).unwrap(), first);
        for unknown in ["/index.html", "/../etc/passwd", "/cfg00000000000Z.xml"] {
            let req = Request::get(unknown);
            let refused = route(&req, &cfg);
            assert!(refused.is_err(), "{unknown}");
            assert_eq!(memo.route(&req, &cfg), refused, "{unknown}");
            assert_eq!(memo.route(&req, &cfg), refused, "{unknown}");
        }
    }

    #[test]
    fn a_colliding_slot_is_a_miss_not_another_route() {
        let memo = RouteMemo::default();
        let cfg = RouteConfig::default();
        let asked = Request::get("/cfg000b82123456.xml");
        let other = Request::get("/0004f2123456-phone.cfg");
        // Plant `other`'s route in the slot `asked` hashes to, as a collision would.
        let planted = Entry {
            method: Method::Get,
            target: other.target.as_str().into(),
            user_agent: None,
            route: route(&other, &cfg),
            attached: Arc::default(),
        };
        memo.entries
            .lock()
            .unwrap()
            .insert(key(&asked, None), planted);
        assert_eq!(
            memo.route(&asked, &cfg).unwrap(),
            route(&asked, &cfg).unwrap()
        );
    }

    #[test]
    fn absent_and_empty_user_agents_are_different_requests() {
        let memo = RouteMemo::default();
        let cfg = RouteConfig::default();
        let bare = Request::get("/cfg.xml");
        let empty = bare.clone().with_header("user-agent", "");
        assert_ne!(key(&bare, None), key(&empty, Some("")));
        for req in [&bare, &empty, &bare, &empty] {
            assert_eq!(memo.route(req, &cfg), route(req, &cfg));
        }
    }
}
