//! Access policy: no phone gets another's secrets, no stranger gets any.
//!
//! Runs in the core, so every host enforces the same rules. The checks, in order:
//!
//! 1. **Tenant**: chosen by `Host` and/or a path prefix (a FusionPBX domain, a Wazo-style
//!    provisioning key in the path). A tenant's store keys live under `tenants/<name>/`; the
//!    default tenant's at the root. A request matching no tenant goes to the default tenant, or
//!    is refused (404) when `unmatched` is `refuse`.
//! 2. **Network**: the client address (the peer, or behind trusted proxies the forwarded one)
//!    against the tenant's CIDR deny and allow lists → 403.
//! 3. **Rate** per client address → 429.
//! 4. **Credentials**: Basic and/or Digest against the tenant's users → 401 with a challenge.
//! 5. **URL token**: with `url_tokens`, the first path segment (or the one after
//!    `url_tokens.path_prefix`) is the tenant's first-boot token (the file is rendered without
//!    credentials) or the device's own token (checked once its record is read); anything
//!    else → 404.
//! 6. (after routing) **Identity and MAC binding**: the client-certificate identity (host,
//!    Envoy XFCC or a trusted proxy's header) and the User-Agent MAC must agree with the file's
//!    MAC → 403; `require_identity` refuses requests without one → 403.
//! 7. **Rate** per MAC → 429.
//!
//! Refusals say as little as possible (`forbidden`, `unauthorized`, `not found`); the reason
//! goes to the response's log note.

pub mod auth;
pub mod identity;
pub mod network;
pub mod ratelimit;
pub mod shared_limit;
pub mod token_prefix;

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

use crate::mac::Mac;
use crate::request::Request;
use crate::response::Response;
use crate::route::Route;
use auth::{Checked, DigestAlgorithm, Nonces};
use ratelimit::{Limit, Limiter};
use token_prefix::TokenPrefix;

/// A user and one of its passwords. Several entries with the same user allow rotation.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({}, <redacted>)", self.user)
    }
}

/// Which credentials a tenant requires.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// No credentials (the default: most phones ship without them configured).
    #[default]
    None,
    Basic,
    Digest,
    /// Basic or Digest, whichever the phone sends; challenges offer Digest.
    Any,
}

/// Rate limits; `null` disables one.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    pub per_client: Option<Limit>,
    pub per_mac: Option<Limit>,
}

impl Default for RateLimits {
    /// Generous for phones (a boot is about ten requests), ruinous for a scanner.
    fn default() -> RateLimits {
        RateLimits {
            per_client: Some(Limit { per_minute: 600 }),
            per_mac: Some(Limit { per_minute: 120 }),
        }
    }
}

/// Per-device URL tokens, as Tancredi does: a first-boot token shared by the tenant, and a
/// token per device (`auth.token` in its record) for everything after.
///
/// The tenant's first-boot token is a bootstrap, not a key to the fleet: a file rendered with
/// it carries no line password, no device auth or encryption settings, no variable named
/// secret (see [`UrlTokens::secret_vars`]) and not the device's own token. A device's own
/// first-boot token (`auth.first_boot_token` in its record; rotate or remove it once the phone
/// is provisioned) renders the same stripped file but hands the template `device_token`, and so
/// does the tenant token when a client certificate proves the device's MAC.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlTokens {
    pub first_boot: String,
    /// Variables first-boot files never carry, as dotted paths into the merged variables
    /// (`admin_password`, `pvalues.P34`); they are blanked to `""`. Besides these, every
    /// variable whose name contains `password`, `passwd`, `secret` or `token` is blanked.
    #[serde(default = "default_secret_vars")]
    pub secret_vars: Vec<String>,
    /// Path segments before the token (`/provisioning` for Tancredi's
    /// `/provisioning/<token>/<file>`): the token is the segment right after them, and both
    /// are stripped before routing. A request not under the prefix has no token (404).
    #[serde(default)]
    pub path_prefix: Option<TokenPrefix>,
}

/// Grandstream's secret P-values (admin password, SIP passwords of accounts 1–6, the XML
/// password, the provisioning server's HTTP password) and the `encryption` setting.
fn default_secret_vars() -> Vec<String> {
    [
        "encryption",
        "pvalues.P2",
        "pvalues.P34",
        "pvalues.P406",
        "pvalues.P506",
        "pvalues.P606",
        "pvalues.P1706",
        "pvalues.P1806",
        "pvalues.P1359",
        "pvalues.P1361",
    ]
    .map(String::from)
    .to_vec()
}

/// One tenant's rules.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    pub allow: Vec<IpNet>,
    pub deny: Vec<IpNet>,
    pub auth: AuthMode,
    pub realm: String,
    pub users: Vec<Credential>,
    pub digest_algorithms: Vec<DigestAlgorithm>,
    /// Refuse requests without a client-certificate identity.
    pub require_identity: bool,
    /// Refuse a device file to a requester whose User-Agent or certificate names another MAC.
    pub mac_binding: bool,
    pub url_tokens: Option<UrlTokens>,
    pub rate_limit: RateLimits,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            allow: Vec::new(),
            deny: Vec::new(),
            auth: AuthMode::None,
            realm: "provedge".into(),
            users: Vec::new(),
            digest_algorithms: vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
            require_identity: false,
            mac_binding: true,
            url_tokens: None,
            rate_limit: RateLimits::default(),
        }
    }
}

/// A named tenant.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// Lower-case name; the store namespace is `tenants/<name>/`.
    pub name: String,
    /// `Host` values (port ignored) that select it; empty = any host.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// A path prefix that selects it (`/acme`), stripped before routing.
    #[serde(default)]
    pub path_prefix: Option<String>,
    #[serde(default)]
    pub rules: Rules,
}

/// What to do with requests no tenant claims.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unmatched {
    #[default]
    Default,
    Refuse,
}

/// The policy configuration (`"policy"` in the engine configuration).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Peers whose forwarding and identity headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The header a trusted proxy puts the client address in: `x-forwarded-for` (the
    /// default), `forwarded` (RFC 7239 `for=`), or any other name carrying addresses
    /// (`x-real-ip`). Only this one is read, so a header the proxy does not rewrite cannot be
    /// used to smuggle an address past it.
    pub client_address_header: String,
    /// Accept Envoy's `x-forwarded-client-cert` from trusted proxies.
    pub trust_xfcc: bool,
    /// A header carrying the certificate subject, set by a trusted front proxy.
    pub identity_header: Option<String>,
    /// Secret for Digest nonces; set the same one on every worker. Random per engine if absent.
    pub nonce_secret: Option<String>,
    pub nonce_ttl_secs: u64,
    /// Most keys each rate-limit table tracks.
    pub rate_table_size: usize,
    pub tenants: Vec<Tenant>,
    /// Rules for the default tenant (store at the root).
    pub default: Rules,
    pub unmatched: Unmatched,
}

impl Default for PolicyConfig {
    fn default() -> PolicyConfig {
        PolicyConfig {
            trusted_proxies: Vec::new(),
            client_address_header: "x-forwarded-for".into(),
            trust_xfcc: true,
            identity_header: None,
            nonce_secret: None,
            nonce_ttl_secs: 300,
            rate_table_size: 10_000,
            tenants: Vec::new(),
            default: Rules::default(),
            unmatched: Unmatched::Default,
        }
    }
}

impl Rules {
    /// Whether these rules let in anyone who names a device: no network list, credentials, URL
    /// token or certificate is asked for, so whoever knows or guesses a phone's MAC gets its
    /// file, passwords included (MAC binding only stops a client that names another MAC).
    pub fn admit_anyone(&self) -> bool {
        self.allow.is_empty()
            && self.auth == AuthMode::None
            && self.url_tokens.is_none()
            && !self.require_identity
    }
}

/// What a host says of a rule set that admits anyone ([`Rules::admit_anyone`]), named by its
/// key in the host's configuration file (`engine.policy.default`), so every host warns alike.
pub fn admitting_anyone_warning(key: &str) -> String {
    format!(
        "{key} lets in anyone who names a phone's MAC: that phone's file is served with its \
         passwords; set url_tokens, allow, auth or require_identity there (docs/security.md)"
    )
}

impl PolicyConfig {
    /// The rule sets in use that admit anyone ([`Rules::admit_anyone`]), by their key in the
    /// engine configuration (`policy.default`, `policy.tenants.acme.rules`), for hosts to warn
    /// about where strangers can reach them. The default rules count unless requests no tenant
    /// claims are refused.
    pub fn admitting_anyone(&self) -> Vec<String> {
        let default = (self.unmatched == Unmatched::Default && self.default.admit_anyone())
            .then(|| "policy.default".to_owned());
        default
            .into_iter()
            .chain(
                self.tenants
                    .iter()
                    .filter(|t| t.rules.admit_anyone())
                    .map(|t| format!("policy.tenants.{}.rules", t.name)),
            )
            .collect()
    }

    /// Checks what serde cannot: tenant names and prefixes usable as store namespaces.
    pub fn validate(&self) -> Result<(), String> {
        for t in &self.tenants {
            let ok = !t.name.is_empty()
                && t.name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !ok {
                return Err(format!(
                    "policy.tenants: tenant name {:?} must be [a-z0-9_-]+",
                    t.name
                ));
            }
            if let Some(p) = &t.path_prefix {
                if !p.starts_with('/') || p.len() < 2 {
                    return Err(format!(
                        "policy.tenants.{}: path_prefix must start with '/'",
                        t.name
                    ));
                }
            }
            for rules in [&t.rules] {
                if rules.auth != AuthMode::None && rules.users.is_empty() {
                    return Err(format!(
                        "policy.tenants.{}: auth needs at least one user",
                        t.name
                    ));
                }
            }
        }
        if self.default.auth != AuthMode::None && self.default.users.is_empty() {
            return Err("policy.default: auth needs at least one user".into());
        }
        Ok(())
    }
}

/// How a request may be served, once admitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admission {
    /// The tenant's store namespace (`tenants/<name>/`), empty for the default tenant.
    pub namespace: String,
    /// The request target with the tenant prefix and URL token removed.
    pub target: String,
    pub token: Token,
    pub client: Option<IpAddr>,
    pub identity_mac: Option<Mac>,
    /// The tenant's name (`None` for the default tenant): every decision carries it, so hosts
    /// never derive it from key prefixes.
    pub tenant_name: Option<std::sync::Arc<str>>,
    tenant: usize,
}

/// What the URL token allows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Token {
    /// No URL tokens in this tenant.
    #[default]
    NotUsed,
    /// The first-boot token: render without credentials.
    FirstBoot,
    /// A token to be checked against the device's record.
    Device(String),
}

/// The policy at run time: configuration plus nonces and rate-limit tables.
#[derive(Debug)]
pub struct Policy {
    config: PolicyConfig,
    nonces: Nonces,
    per_client: Limiter<(usize, IpAddr)>,
    /// Keyed by tenant, MAC and (for MACs not proven by a certificate) the claiming client.
    per_mac: Limiter<(usize, Mac, Option<IpAddr>)>,
}

impl Clone for Policy {
    /// A clone shares the configuration and nonce secret but starts with empty rate tables.
    fn clone(&self) -> Policy {
        Policy {
            config: self.config.clone(),
            nonces: self.nonces.clone(),
            per_client: Limiter::new(self.config.rate_table_size),
            per_mac: Limiter::new(self.config.rate_table_size),
        }
    }
}

impl Default for Policy {
    fn default() -> Policy {
        Policy::new(PolicyConfig::default())
    }
}

/// Not a tenant: sentinel index of the default tenant.
const DEFAULT: usize = usize::MAX;

impl Policy {
    pub fn new(config: PolicyConfig) -> Policy {
        let secret = match &config.nonce_secret {
            Some(s) => s.as_bytes().to_vec(),
            None => {
                let mut key = vec![0u8; 32];
                // Without an OS random source, fall back to a fixed key: nonces still expire, and
                // the log says to configure `nonce_secret` (see README); never a panic.
                if crate::crypto::random::fill(&mut key).is_err() {
                    key = b"provedge-unconfigured-nonce-secret".to_vec();
                }
                key
            }
        };
        Policy {
            nonces: Nonces::new(secret, config.nonce_ttl_secs),
            per_client: Limiter::new(config.rate_table_size),
            per_mac: Limiter::new(config.rate_table_size),
            config,
        }
    }

    /// Whether some tenant puts URL tokens in paths (which logs must then mask).
    pub fn uses_url_tokens(&self) -> bool {
        self.config.default.url_tokens.is_some()
            || self
                .config
                .tenants
                .iter()
                .any(|t| t.rules.url_tokens.is_some())
    }

    /// The variables first-boot files of an admitted request never carry.
    pub fn secret_vars(&self, admission: &Admission) -> &[String] {
        self.rules(admission.tenant)
            .url_tokens
            .as_ref()
            .map_or(&[], |t| t.secret_vars.as_slice())
    }

    /// A request target as logs may show it: with URL tokens in use, the segment that holds
    /// the token (after a tenant's path prefix, and after `url_tokens.path_prefix`) is replaced
    /// by `-`; the query is dropped. Logs are written before (or without) knowing the tenant,
    /// so every configured token prefix is tried; a path under none of them has its first
    /// segments masked, as many as the longest token prefix has plus one, so a token sent
    /// under the wrong prefix is masked too.
    pub fn loggable_path<'a>(&self, path: &'a str) -> std::borrow::Cow<'a, str> {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        if !self.uses_url_tokens() {
            return path.into();
        }
        let prefix = self
            .config
            .tenants
            .iter()
            .filter_map(|t| t.path_prefix.as_deref())
            .map(|p| p.trim_end_matches('/'))
            .find(|p| {
                path.strip_prefix(p)
                    .is_some_and(|rest| rest.starts_with('/'))
            })
            .unwrap_or("");
        let rest = path.get(prefix.len()..).unwrap_or("");
        let token_prefixes = || {
            self.all_rules()
                .filter_map(|r| r.url_tokens.as_ref()?.path_prefix.as_ref())
        };
        let (kept, rest, masked) =
            match token_prefixes().find_map(|p| Some((p.as_str(), p.strip(rest)?))) {
                Some((token_prefix, under)) => (token_prefix, under, 1),
                None => (
                    "",
                    rest,
                    1 + token_prefixes()
                        .map(TokenPrefix::segments)
                        .max()
                        .unwrap_or(0),
                ),
            };
        // A target that is not a path (`*`, an absolute URL) is masked whole.
        let Some(rest) = rest.strip_prefix('/') else {
            return format!("{prefix}{kept}/-").into();
        };
        let mut out = format!("{prefix}{kept}");
        let mut segments = rest.splitn(masked + 1, '/');
        for _ in 0..masked {
            if segments.next().is_some() {
                out.push_str("/-");
            }
        }
        if let Some(tail) = segments.next() {
            out.push('/');
            out.push_str(tail);
        }
        out.into()
    }

    /// The default rules, then each tenant's.
    fn all_rules(&self) -> impl Iterator<Item = &Rules> {
        std::iter::once(&self.config.default).chain(self.config.tenants.iter().map(|t| &t.rules))
    }

    fn rules(&self, tenant: usize) -> &Rules {
        self.config
            .tenants
            .get(tenant)
            .map_or(&self.config.default, |t| &t.rules)
    }

    /// Checks 1–5: tenant, network, client rate, credentials, URL token.
    pub fn admit(&self, req: &Request, now: u64) -> Result<Admission, Response> {
        // Two `Host` fields make the tenant a matter of which one a component reads; a proxy
        // that joined them into one value (Envoy) leaves a comma, which no host name holds.
        let hosts: Vec<&str> = req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.as_str())
            .collect();
        if hosts.len() > 1 || hosts.iter().any(|h| h.contains(',')) {
            return Err(Response::text(400, "more than one Host header"));
        }
        let (tenant, mut target) = self.tenant_of(req)?;
        let rules = self.rules(tenant);
        let client = network::client_address(
            req.peer,
            &req.headers,
            &self.config.trusted_proxies,
            &self.config.client_address_header,
        );
        if !network::admitted(client, &rules.allow, &rules.deny) {
            return Err(refuse(
                403,
                format!("client {} refused by the network lists", show(client)),
            ));
        }
        if let (Some(limit), Some(ip)) = (rules.rate_limit.per_client, client) {
            if !self
                .per_client
                .allow(&(tenant, network::rate_group(ip)), now, limit)
            {
                return Err(too_many(format!(
                    "client {ip} over {} requests a minute",
                    limit.per_minute
                )));
            }
        }
        self.authenticate(req, rules, now)?;
        let token = match &rules.url_tokens {
            None => Token::NotUsed,
            Some(tokens) => {
                let under_prefix = match &tokens.path_prefix {
                    None => Some(target.as_str()),
                    Some(prefix) => prefix.strip(&target),
                };
                let (token, rest) = under_prefix
                    .and_then(split_first_segment)
                    .ok_or_else(|| refuse(404, "no URL token".into()))?;
                let token_matches: bool =
                    subtle::ConstantTimeEq::ct_eq(token.as_bytes(), tokens.first_boot.as_bytes())
                        .into();
                let t = if token_matches {
                    Token::FirstBoot
                } else {
                    Token::Device(token.to_owned())
                };
                target = rest;
                t
            }
        };
        let identity_mac = self.identity(req).and_then(|id| identity::mac_of(&id));
        if rules.require_identity && identity_mac.is_none() {
            return Err(refuse(
                403,
                "no client-certificate identity naming a MAC".into(),
            ));
        }
        let namespace =
            crate::store::namespace(self.config.tenants.get(tenant).map(|t| t.name.as_str()));
        Ok(Admission {
            tenant_name: self
                .config
                .tenants
                .get(tenant)
                .map(|t| t.name.as_str().into()),
            namespace,
            target,
            token,
            client,
            identity_mac,
            tenant,
        })
    }

    /// Checks 6–7 once the request is routed: MAC binding and the per-MAC rate.
    pub fn check_route(
        &self,
        admission: &Admission,
        route: &Route,
        now: u64,
    ) -> Result<(), Response> {
        let rules = self.rules(admission.tenant);
        if rules.mac_binding {
            if let Some(conflict) = route.mac_conflict() {
                return Err(refuse(403, format!("MAC conflict: {conflict}")));
            }
            if let (Some(id), Some(mac)) = (admission.identity_mac, route.mac()) {
                if id != mac {
                    return Err(refuse(
                        403,
                        format!("certificate names {id}, request is for {mac}"),
                    ));
                }
            }
        }
        if let (Some(limit), Some(mac)) = (rules.rate_limit.per_mac, route.mac()) {
            // A MAC a client merely claims (path, User-Agent, `?mac=`) is counted per client,
            // so a stranger's claims cannot use up the real phone's allowance; a MAC the
            // client certificate proves is counted for the device itself.
            let claimant = match admission.identity_mac {
                Some(id) if id == mac => None,
                _ => admission.client.map(network::rate_group),
            };
            if !self
                .per_mac
                .allow(&(admission.tenant, mac, claimant), now, limit)
            {
                return Err(too_many(format!(
                    "MAC {mac} over {} requests a minute",
                    limit.per_minute
                )));
            }
        }
        Ok(())
    }

    fn tenant_of(&self, req: &Request) -> Result<(usize, String), Response> {
        let host = req.header("host").map(|h| {
            h.rsplit_once(':').map_or(h, |(name, port)| {
                if port.bytes().all(|b| b.is_ascii_digit()) {
                    name
                } else {
                    h
                }
            })
        });
        for (i, t) in self.config.tenants.iter().enumerate() {
            let host_ok = t.hosts.is_empty()
                || host.is_some_and(|h| t.hosts.iter().any(|th| th.eq_ignore_ascii_case(h)));
            if !host_ok {
                continue;
            }
            match &t.path_prefix {
                None if !t.hosts.is_empty() => return Ok((i, req.target.clone())),
                None => {}
                Some(prefix) => {
                    let prefix = prefix.trim_end_matches('/');
                    if let Some(rest) = req.target.strip_prefix(prefix) {
                        if rest.starts_with('/') {
                            return Ok((i, rest.to_owned()));
                        }
                    }
                }
            }
        }
        match self.config.unmatched {
            Unmatched::Default => Ok((DEFAULT, req.target.clone())),
            Unmatched::Refuse => Err(refuse(404, "no tenant for this host and path".into())),
        }
    }

    fn authenticate(&self, req: &Request, rules: &Rules, now: u64) -> Result<(), Response> {
        if rules.auth == AuthMode::None {
            return Ok(());
        }
        let header = req.header("authorization");
        let checked = match header {
            None => Checked::Invalid("no credentials"),
            Some(h)
                if h.trim_start()
                    .get(..6)
                    .is_some_and(|scheme| scheme.eq_ignore_ascii_case("basic ")) =>
            {
                if matches!(rules.auth, AuthMode::Basic | AuthMode::Any) {
                    auth::check_basic(h, &rules.users)
                } else {
                    Checked::Invalid("Basic not allowed")
                }
            }
            Some(h) => {
                if matches!(rules.auth, AuthMode::Digest | AuthMode::Any) {
                    let verifier = auth::DigestVerifier {
                        realm: &rules.realm,
                        users: &rules.users,
                        algorithms: &rules.digest_algorithms,
                        nonces: &self.nonces,
                    };
                    auth::check_digest(h, req.method.as_str(), &req.target, verifier, now)
                } else {
                    Checked::Invalid("Digest not allowed")
                }
            }
        };
        let (stale, why) = match checked {
            Checked::Valid { .. } => return Ok(()),
            Checked::Stale => (true, "stale nonce"),
            Checked::Invalid(why) => (false, why),
        };
        let mut resp = Response::text(401, "unauthorized");
        resp.note = Some(format!("authentication failed: {why}"));
        if matches!(rules.auth, AuthMode::Digest | AuthMode::Any) {
            let nonce = self.nonces.issue(now, &rules.realm);
            for challenge in
                auth::digest_challenges(&rules.realm, &nonce, &rules.digest_algorithms, stale)
            {
                resp.headers.push(("www-authenticate".into(), challenge));
            }
        }
        if rules.auth == AuthMode::Basic {
            resp.headers.push((
                "www-authenticate".into(),
                format!("Basic realm=\"{}\", charset=\"UTF-8\"", rules.realm),
            ));
        }
        Err(resp)
    }

    fn identity(&self, req: &Request) -> Option<crate::request::ClientIdentity> {
        if let Some(id) = &req.client_identity {
            return Some(id.clone());
        }
        let trusted = req
            .peer
            .is_some_and(|p| network::is_in(p, &self.config.trusted_proxies));
        if !trusted {
            return None;
        }
        if self.config.trust_xfcc {
            if let Some(id) = req
                .header("x-forwarded-client-cert")
                .and_then(identity::from_xfcc)
            {
                return Some(id);
            }
        }
        let name = self.config.identity_header.as_deref()?;
        req.header(name)
            .map(|subject| crate::request::ClientIdentity {
                subject: subject.to_owned(),
                san: Vec::new(),
            })
    }
}

fn split_first_segment(target: &str) -> Option<(&str, String)> {
    let rest = target.strip_prefix('/')?;
    let (first, tail) = rest.split_once('/')?;
    (!first.is_empty()).then(|| (first, format!("/{tail}")))
}

fn show(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "without address".into(), |ip| ip.to_string())
}

fn refuse(status: u16, note: String) -> Response {
    let text = match status {
        401 => "unauthorized",
        403 => "forbidden",
        _ => "not found",
    };
    let mut resp = Response::text(status, text);
    resp.note = Some(note);
    resp
}

fn too_many(note: String) -> Response {
    let mut resp = Response::text(429, "too many requests");
    resp.headers.push(("retry-after".into(), "60".into()));
    resp.note = Some(note);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(json: &str) -> Vec<String> {
        serde_json::from_str::<PolicyConfig>(json)
            .unwrap()
            .admitting_anyone()
    }

    #[test]
    fn names_the_rule_sets_that_ask_nothing_of_a_client() {
        assert_eq!(open("{}"), ["policy.default"]);
        for guarded in [
            r#"{"default": {"allow": ["10.0.0.0/8"]}}"#,
            r#"{"default": {"url_tokens": {"first_boot": "t"}}}"#,
            r#"{"default": {"require_identity": true}}"#,
            r#"{"default": {"auth": "basic", "users": [{"user": "u", "password": "p"}]}}"#,
        ] {
            assert_eq!(open(guarded), Vec::<String>::new(), "{guarded}");
        }
        // A deny list alone still lets in everyone else; MAC binding does not ask who asks.
        assert_eq!(
            open(r#"{"default": {"deny": ["10.0.0.0/8"], "mac_binding": true}}"#),
            ["policy.default"]
        );
        assert_eq!(
            open(
                r#"{"unmatched": "refuse", "tenants": [
                    {"name": "acme", "hosts": ["a"]},
                    {"name": "bravo", "hosts": ["b"], "rules": {"url_tokens": {"first_boot": "t"}}}]}"#
            ),
            ["policy.tenants.acme.rules"]
        );
    }
}
