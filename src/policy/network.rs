//! Who the client is on the network: the real client address behind trusted proxies, and the
//! CIDR allow and deny lists.

use std::net::IpAddr;

use ipnet::IpNet;

/// The client's address: the direct peer, unless the peer is a trusted proxy, in which case
/// the forwarding headers are read from the right, skipping trusted hops, and the first
/// untrusted address is the client. A header from an untrusted peer is never read.
pub fn client_address(
    peer: Option<IpAddr>,
    headers: &[(String, String)],
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let peer = peer?;
    if !is_in(peer, trusted) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = {
        let xff: Vec<IpAddr> = header_values(headers, "x-forwarded-for")
            .flat_map(|v| v.split(','))
            .filter_map(|s| parse_addr(s.trim()))
            .collect();
        if xff.is_empty() {
            header_values(headers, "forwarded")
                .flat_map(|v| v.split(','))
                .filter_map(|element| {
                    element.split(';').find_map(|pair| {
                        let (k, v) = pair.trim().split_once('=')?;
                        k.trim()
                            .eq_ignore_ascii_case("for")
                            .then(|| parse_addr(v.trim().trim_matches('"')))
                            .flatten()
                    })
                })
                .collect()
        } else {
            xff
        }
    };
    // Rightmost first: each trusted hop appended the address it saw.
    let mut client = peer;
    for addr in forwarded.into_iter().rev() {
        client = addr;
        if !is_in(addr, trusted) {
            break;
        }
    }
    Some(client)
}

fn header_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Parses `1.2.3.4`, `1.2.3.4:5060`, `2001:db8::1`, `[2001:db8::1]:443`.
fn parse_addr(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (host, port) = s.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse().ok()
}

/// Whether `ip` falls in any of `nets` (an IPv4-mapped IPv6 address counts as IPv4).
pub fn is_in(ip: IpAddr, nets: &[IpNet]) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    nets.iter().any(|n| n.contains(&ip))
}

/// The allow/deny verdict: deny wins; an empty allow list allows everyone not denied.
pub fn admitted(ip: Option<IpAddr>, allow: &[IpNet], deny: &[IpNet]) -> bool {
    match ip {
        Some(ip) => !is_in(ip, deny) && (allow.is_empty() || is_in(ip, allow)),
        // Without an address only an unrestricted tenant admits.
        None => allow.is_empty() && deny.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn h(name: &str, v: &str) -> Vec<(String, String)> {
        vec![(name.into(), v.into())]
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_peers() {
        let trusted = nets(&["10.0.0.0/8", "::1/128"]);
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // Untrusted peer: its header is ignored.
        assert_eq!(
            client_address(
                ip("203.0.113.9"),
                &h("X-Forwarded-For", "10.9.9.9"),
                &trusted
            ),
            ip("203.0.113.9")
        );
        // Trusted peer: rightmost untrusted address wins, spoofed left entries are ignored.
        assert_eq!(
            client_address(
                ip("10.0.0.1"),
                &h("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.0.0.2"),
                &trusted
            ),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_address(
                ip("::1"),
                &h("Forwarded", "for=\"[2001:db8::7]:4711\";proto=https"),
                &trusted
            ),
            ip("2001:db8::7")
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), &[], &trusted),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn deny_wins_and_allow_restricts() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let allow = nets(&["192.0.2.0/24", "2001:db8::/32"]);
        let deny = nets(&["192.0.2.66/32"]);
        assert!(admitted(ip("192.0.2.10"), &allow, &deny));
        assert!(!admitted(ip("192.0.2.66"), &allow, &deny));
        assert!(!admitted(ip("198.51.100.1"), &allow, &deny));
        assert!(admitted(ip("2001:db8::5"), &allow, &deny));
        assert!(admitted(ip("::ffff:192.0.2.10"), &allow, &deny));
        assert!(admitted(ip("198.51.100.1"), &[], &deny));
        assert!(!admitted(None, &allow, &[]));
    }
}
