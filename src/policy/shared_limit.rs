//! Per-client rate limits a host counts beyond its own process.
//!
//! The policy's own tables ([`super::ratelimit`]) count per process, per VM or per isolate. A
//! host with a counter shared wider (the Cloudflare Worker's rate-limiting binding counts for
//! every isolate of a Cloudflare location) asks [`Policy::shared_client_key`] for the key of a
//! request's count,
//! asks its counter, and answers a refusal with [`too_many_requests`]: the 429 the policy's own
//! limit gives. The policy's own count still runs; the shared one only adds refusals.

use super::{network, too_many, Policy};
use crate::request::Request;
use crate::response::Response;

impl Policy {
    /// The key a host counts `req` under against a shared per-client limit: the client's rate
    /// group (its IPv4 address, or its IPv6 /64: the group the policy's own per-client count
    /// uses) within its tenant's store namespace (`tenants/acme/192.0.2.7`; the default
    /// tenant's is the bare group), so tenants never share a count.
    ///
    /// `None` when the policy would not count the request per client: its tenant has no
    /// per-client limit, there is no client address, or the policy refuses the request before
    /// counting it (no tenant claims it, the network lists refuse the client).
    pub fn shared_client_key(&self, req: &Request) -> Option<String> {
        let (tenant, _) = self.tenant_of(req).ok()?;
        let rules = self.rules(tenant);
        rules.rate_limit.per_client?;
        let client = network::client_address(
            req.peer,
            &req.headers,
            &self.config.trusted_proxies,
            &self.config.client_address_header,
        )?;
        if !network::admitted(Some(client), &rules.allow, &rules.deny) {
            return None;
        }
        let namespace =
            crate::store::namespace(self.config.tenants.get(tenant).map(|t| t.name.as_str()));
        Some(format!("{namespace}{}", network::rate_group(client)))
    }
}

/// The policy's refusal of a client over a per-client limit (429 with `retry-after`, the body
/// and headers of the policy's own), for a limit the host counted; `note` (the access record's)
/// says which.
pub fn too_many_requests(note: String) -> Response {
    too_many(note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicyConfig;

    fn policy(json: &str) -> Policy {
        Policy::new(serde_json::from_str::<PolicyConfig>(json).unwrap())
    }

    fn from(peer: &str, target: &str) -> Request {
        Request {
            method: crate::request::Method::Get,
            target: target.into(),
            headers: Vec::new(),
            peer: peer.parse().ok(),
            client_identity: None,
        }
    }

    #[test]
    fn the_key_is_the_clients_rate_group_within_its_tenant() {
        let p = policy(
            r#"{"tenants": [
                {"name": "acme", "path_prefix": "/acme"},
                {"name": "free", "path_prefix": "/free",
                 "rules": {"rate_limit": {"per_client": null}}},
                {"name": "near", "path_prefix": "/near", "rules": {"allow": ["192.0.2.0/24"]}}
            ]}"#,
        );
        let key = |peer: &str, target: &str| p.shared_client_key(&from(peer, target));
        assert_eq!(key("192.0.2.7", "/cfg.xml").as_deref(), Some("192.0.2.7"));
        assert_eq!(
            key("192.0.2.7", "/acme/cfg.xml").as_deref(),
            Some("tenants/acme/192.0.2.7")
        );
        // An IPv6 client is counted by its /64, as the policy's own count does.
        assert_eq!(
            key("2001:db8:1:2:aaaa::7", "/cfg.xml").as_deref(),
            Some("2001:db8:1:2::")
        );
        assert_eq!(
            key("::ffff:192.0.2.7", "/cfg.xml").as_deref(),
            Some("192.0.2.7")
        );
        // Not counted per client: no limit, no address, refused by the network lists.
        assert_eq!(key("192.0.2.7", "/free/cfg.xml"), None);
        assert_eq!(key("", "/cfg.xml"), None);
        assert_eq!(key("198.51.100.1", "/near/cfg.xml"), None);
        assert_eq!(
            key("192.0.2.9", "/near/cfg.xml").as_deref(),
            Some("tenants/near/192.0.2.9")
        );
    }

    #[test]
    fn a_shared_refusal_is_the_policys_own_429() {
        let p = policy(r#"{"default": {"rate_limit": {"per_client": {"per_minute": 1}}}}"#);
        let req = from("192.0.2.7", "/cfg.xml");
        assert!(p.admit(&req, 60).is_ok());
        let own = p.admit(&req, 60).expect_err("over the policy's own limit");
        let shared = too_many_requests("over a shared limit".into());
        assert_eq!(
            (shared.status, &shared.headers, &shared.body),
            (own.status, &own.headers, &own.body)
        );
        assert_eq!(shared.note.as_deref(), Some("over a shared limit"));
    }
}
