//! `server.max_connections_per_ip`: how many connections one client may hold open.
//!
//! `max_connections` protects the server; it does not stop one host from holding every place
//! (idle keep-alives, slow heads) while the phones of a building wait in the backlog. So open
//! connections are counted per client at accept, and one over the cap is closed there, before
//! any byte is read. Clients are grouped as the core's rate limits group them
//! ([`rate_group`]): an IPv4 address, or an IPv6 /64 (one subscriber line, whose host part a
//! client picks at will). Peers in `policy.trusted_proxies` are not counted: every phone behind
//! a proxy arrives from its address.
//!
//! The table holds only clients with a connection open, so it never outgrows
//! `max_connections`; a [`ClientSlot`] gives its place back when its connection ends, on
//! whichever loop that is.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwap;
use ipnet::IpNet;
use provedge::policy::network::{is_in, rate_group};

/// Open connections per client group.
pub struct ClientConnections {
    max: usize,
    /// `policy.trusted_proxies`, as the engine in force has them (a reload replaces both).
    exempt: ArcSwap<Vec<IpNet>>,
    open: Mutex<HashMap<IpAddr, usize>>,
    /// The log note of a refusal, made once.
    refusal: String,
}

impl ClientConnections {
    pub fn new(max: usize, trusted_proxies: Vec<IpNet>) -> ClientConnections {
        ClientConnections {
            max,
            exempt: ArcSwap::from_pointee(trusted_proxies),
            open: Mutex::new(HashMap::new()),
            refusal: format!("over server.max_connections_per_ip ({max}) from this client"),
        }
    }

    /// A place for a new connection from `peer`, or `None` when its group is at the cap.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<ClientSlot> {
        let peer = peer.to_canonical();
        if is_in(peer, &self.exempt.load()) {
            return Some(ClientSlot { held: None });
        }
        let group = rate_group(peer);
        let mut open = self.lock();
        let count = open.entry(group).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            held: Some((Arc::clone(self), group)),
        })
    }

    /// The proxies a reloaded configuration trusts, for the connections accepted from now on.
    pub fn exempt(&self, trusted_proxies: Vec<IpNet>) {
        self.exempt.store(Arc::new(trusted_proxies));
    }

    /// Why a connection was refused, for its log line.
    pub fn refusal(&self) -> &str {
        &self.refusal
    }

    /// A poisoned lock still holds usable counts: a panic elsewhere must not stop accepting.
    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One connection's place under its client's cap, given back on drop.
pub struct ClientSlot {
    held: Option<(Arc<ClientConnections>, IpAddr)>,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let Some((table, group)) = self.held.take() else {
            return;
        };
        let mut open = table.lock();
        if let Some(count) = open.get_mut(&group) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&group);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_each_client_group_and_gives_places_back() {
        let proxy: IpNet = "10.0.0.0/8".parse().unwrap();
        let table = Arc::new(ClientConnections::new(2, vec![proxy]));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let a = table.admit(ip("192.0.2.1")).unwrap();
        // The same client as an IPv4-mapped IPv6 address.
        let _b = table.admit(ip("::ffff:192.0.2.1")).unwrap();
        assert!(table.admit(ip("192.0.2.1")).is_none());
        assert!(table.admit(ip("192.0.2.2")).is_some(), "another client");
        drop(a);
        let _c = table.admit(ip("192.0.2.1")).unwrap();
        // One IPv6 /64 is one client, whatever its host part.
        let _d = table.admit(ip("2001:db8:0:1::1")).unwrap();
        let _e = table.admit(ip("2001:db8:0:1::2")).unwrap();
        assert!(table.admit(ip("2001:db8:0:1:ffff::3")).is_none());
        assert!(table.admit(ip("2001:db8:0:2::1")).is_some());
        // A trusted proxy is never capped.
        let proxied: Vec<_> = (0..5).map(|_| table.admit(ip("10.1.2.3"))).collect();
        assert!(proxied.iter().all(Option::is_some));
        drop(proxied);
        assert_eq!(table.lock().len(), 2, "only open groups are kept");
    }

    #[test]
    fn a_reload_changes_which_proxies_are_exempt() {
        let table = Arc::new(ClientConnections::new(1, Vec::new()));
        let proxy = "10.1.2.3".parse::<IpAddr>().unwrap();
        let _first = table.admit(proxy).unwrap();
        assert!(table.admit(proxy).is_none());
        table.exempt(vec!["10.0.0.0/8".parse().unwrap()]);
        assert!(table.admit(proxy).is_some() && table.admit(proxy).is_some());
        table.exempt(Vec::new());
        assert!(
            table.admit(proxy).is_none(),
            "no longer trusted: capped again"
        );
    }
}
