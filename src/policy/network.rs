//! Who the client is on the network: the real client address behind trusted proxies, and the
//! CIDR allow and deny lists.

use std::net::IpAddr;

use ipnet::IpNet;

/// The client's address: the direct peer, unless the peer is a trusted proxy, in which case
/// the forwarding header `header` (`x-forwarded-for`, `forwarded` or a header of the
/// operator's choosing) is read from the right, skipping trusted hops, and the first
/// untrusted address is the client. A header from an untrusted peer is never read.
pub fn client_address(
    peer: Option<IpAddr>,
    headers: &[(String, String)],
    trusted: &[IpNet],
    header: &str,
) -> Option<IpAddr> {
    let peer = peer?;
    if !is_in(peer, trusted) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = if header.eq_ignore_ascii_case("forwarded") {
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
        header_values(headers, header)
            .flat_map(|v| v.split(','))
            .filter_map(|s| parse_addr(s.trim()))
            .collect()
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

/// The key a client is rate-limited under: its IPv4 address, or its IPv6 /64 (one subscriber
/// line, whose host part a client may change at will). IPv4-mapped addresses count as IPv4.
pub fn rate_group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
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
                &trusted,
                XFF
            ),
            ip("203.0.113.9")
        );
        // Trusted peer: rightmost untrusted address wins, spoofed left entries are ignored.
        assert_eq!(
            client_address(
                ip("10.0.0.1"),
                &h("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.0.0.2"),
                &trusted,
                XFF
            ),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_address(
                ip("::1"),
                &h("Forwarded", "for=\"[2001:db8::7]:4711\";proto=https"),
                &trusted,
                "forwarded"
            ),
            ip("2001:db8::7")
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), &[], &trusted, XFF),
            ip("10.0.0.1")
        );
    }

    const XFF: &str = "x-forwarded-for";

    #[test]
    fn only_the_configured_forwarding_header_is_read() {
        let trusted = nets(&["10.0.0.0/8"]);
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let both = vec![
            ("Forwarded".to_owned(), "for=192.0.2.66".to_owned()),
            ("X-Real-IP".to_owned(), "198.51.100.7".to_owned()),
        ];
        // The proxy writes X-Real-IP; a client's own Forwarded header is not read.
        assert_eq!(
            client_address(ip("10.0.0.1"), &both, &trusted, "x-real-ip"),
            ip("198.51.100.7")
        );
        // With the default, neither counts: the client is the proxy itself.
        assert_eq!(
            client_address(ip("10.0.0.1"), &both, &trusted, XFF),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn ipv6_clients_are_grouped_by_their_64() {
        let g = |s: &str| rate_group(s.parse().unwrap());
        assert_eq!(g("2001:db8:1:2:aaaa::1"), g("2001:db8:1:2:bbbb::9"));
        assert_ne!(g("2001:db8:1:2::1"), g("2001:db8:1:3::1"));
        assert_eq!(g("::ffff:192.0.2.1"), g("192.0.2.1"));
        assert_ne!(g("192.0.2.1"), g("192.0.2.2"));
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
