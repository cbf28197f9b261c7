//! The server's configuration file (`--config FILE`):
//!
//! ```json
//! {"engine": {"route": {…}, "mode": "serve", "uploads": {…}, "policy": {…}},
//!  "server": {"upstream": "http://127.0.0.1:9000", "last_seen_interval_secs": 300,
//!             "admin_listen": "127.0.0.1:9090", "max_connections_per_ip": 64,
//!             "uploads_max_total_bytes": 268435456,
//!             "tls": {"listen": "0.0.0.0:443", "cert": "server.pem", "key": "server.key",
//!                     "client_ca": "phones-ca.pem", "client_cert": "optional"}}}
//! ```
//!
//! `engine` is handed unchanged to [`provedge::Config::from_json`], so the server accepts exactly
//! what the other hosts accept. Both parts refuse unknown keys, and every error names the file
//! and the key (`serve.json: server.store_cache_bytes: invalid type: …`), at start, never later.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper::Uri;
use serde::Deserialize;

use super::origin_store::settings::{OriginCacheSettings, OriginSettings, S3Settings};

/// Most connections `server.max_connections` may allow (the shutdown wait counts in `u32`).
pub const MAX_CONNECTIONS: usize = 1 << 20;

/// The file as a whole.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConfigFile {
    engine: Option<serde_json::Value>,
    server: ServerConfig,
    /// The Worker's section of the same document (`provedge store push` reads its placement):
    /// another host's, so this one ignores it.
    #[serde(rename = "worker")]
    _worker: Option<serde_json::Value>,
}

/// Settings of the native host; every key is optional.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Base URL (`http://host:port[/path]`) requests are forwarded to in rewrite mode.
    pub upstream: Option<String>,
    /// A device's last-seen record is written at most once per this many seconds.
    pub last_seen_interval_secs: u64,
    /// Folder the last-seen records go under (default: the store folder).
    pub last_seen_dir: Option<PathBuf>,
    /// How many devices the last-seen throttle remembers; past it new devices go unrecorded
    /// until old entries expire.
    pub last_seen_max_devices: usize,
    /// Bound on the bytes the store cache holds.
    pub store_cache_bytes: usize,
    /// Bound on the files the store cache holds.
    pub store_cache_entries: usize,
    /// A store file checked (or found absent) less than this long ago is trusted without a new
    /// `stat`; 0 checks on every read.
    pub store_recheck_ms: u64,
    /// A client must send a request's whole header section within this time (slowloris); an
    /// idle keep-alive connection is closed after it too.
    pub header_read_timeout_ms: u64,
    /// An upload body must arrive within this time.
    pub body_read_timeout_ms: u64,
    /// Connect-and-answer time allowed to the upstream in rewrite mode.
    pub upstream_timeout_ms: u64,
    /// Largest request header section, in bytes (larger: 431). At least 8192.
    pub max_header_bytes: usize,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Connections one client may hold open at once (IPv4 address, or IPv6 /64 as the core's
    /// rate limits group them), so one host cannot take every `max_connections` place: past it
    /// a new connection is closed as soon as it is accepted, unanswered. Peers in the engine's
    /// `policy.trusted_proxies` are not capped: every phone behind them shares their address.
    pub max_connections_per_ip: usize,
    /// Event loops (threads serving connections); default: one per core.
    pub workers: Option<usize>,
    /// On SIGTERM, how long open requests may take to finish.
    pub shutdown_grace_secs: u64,
    /// Whether `GET /metrics` answers at all (see `admin_listen` and `metrics_token` for where).
    pub metrics: bool,
    /// A listener of its own for `/metrics` and `/healthz` (plain HTTP; keep it on loopback or a
    /// management network, e.g. `127.0.0.1:9090`). With it, neither is answered on the phone
    /// listeners: counters tell a scanner which vendors and files are served, and how busy.
    pub admin_listen: Option<SocketAddr>,
    /// Without `admin_listen`, `/metrics` is answered on the phone listeners only to a request
    /// with `Authorization: Bearer <token>` (compared in constant time); without a token it is
    /// not answered there at all (a 404 from the engine, as for any unknown file). With
    /// `admin_listen`, a set token is required there too.
    pub metrics_token: Option<BearerToken>,
    /// Bytes all phone uploads may take in the store together (`uploads/` and every tenant's
    /// `tenants/<name>/uploads/`; default 256 MiB): a phone may upload files of
    /// `engine.uploads.max_bytes` under many names, and the store's disk is the provisioning
    /// server's. An upload that would go over it is refused and nothing is written. Measured
    /// by walking the folders at start and counted on every upload after; files removed by hand
    /// count until an upload is refused, which measures again (at most once a minute).
    pub uploads_max_total_bytes: u64,
    /// An HTTPS listener beside the plain one (see [`TlsConfig`]).
    pub tls: Option<TlsConfig>,
    /// How an origin store (`--store http(s)://…` or `s3://…`) is asked.
    pub origin: OriginSettings,
    /// How long an origin store's objects are trusted, and the memory they may take.
    pub origin_cache: OriginCacheSettings,
    /// The S3 API behind `--store s3://…`.
    pub s3: S3Settings,
    /// The fleet page on the admin listener (see [`FleetSettings`]).
    pub fleet: FleetSettings,
}

/// `server.fleet`: the operator's page of the fleet, `/fleet` on `admin_listen` (never on the
/// phone listeners; docs/fleet.md). Its bounds are memory: a page lists at most `max_devices`
/// (and says so past it), and the recent fetches kept for device pages take about 150 bytes
/// each, at most `recent_fetches` × `recent_devices` of them.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetSettings {
    /// Whether `/fleet` answers on the admin listener.
    pub enabled: bool,
    /// Most devices one page reads and lists; the rest are counted, not shown.
    pub max_devices: usize,
    /// Fetches remembered per device (in memory only: a restart forgets them).
    pub recent_fetches: usize,
    /// Devices whose fetches are remembered; past it the one heard from longest ago is
    /// forgotten.
    pub recent_devices: usize,
}

impl Default for FleetSettings {
    fn default() -> FleetSettings {
        FleetSettings {
            enabled: true,
            max_devices: 10_000,
            recent_fetches: 16,
            recent_devices: 4096,
        }
    }
}

/// `server.tls`: a second listener, HTTPS, beside the plain HTTP one of `--listen`. Both stay
/// open because phones fetch their first-boot files over plain HTTP (they have no CA yet) and
/// later ones over HTTPS, with their factory certificate. Paths are read at start, relative to
/// the working directory (as `--store` and `server.last_seen_dir` are).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Address of the HTTPS listener; `--tls-listen` overrides it.
    #[serde(default = "TlsConfig::default_listen")]
    pub listen: SocketAddr,
    /// The server's certificate chain (PEM), its own certificate first.
    pub cert: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CAs (PEM bundle) that sign the phones' certificates; without it none is asked for.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// Whether a client certificate is asked for; see [`ClientCert`]. Default: `optional` with
    /// `client_ca`, `none` without.
    #[serde(default)]
    pub client_cert: Option<ClientCert>,
}

impl TlsConfig {
    fn default_listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8443))
    }

    /// The client-certificate mode in force, defaults applied.
    pub fn client_cert(&self) -> ClientCert {
        match (self.client_cert, &self.client_ca) {
            (Some(mode), _) => mode,
            (None, Some(_)) => ClientCert::Optional,
            (None, None) => ClientCert::None,
        }
    }
}

/// `server.tls.client_cert`: how the HTTPS listener treats client certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientCert {
    /// None is asked for; requests carry no identity.
    None,
    /// Asked for: a certificate `client_ca` verifies is the request's identity, a connection
    /// without one is served without identity, and any other certificate fails the handshake.
    Optional,
    /// A certificate `client_ca` verifies is needed to finish the handshake.
    Required,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            upstream: None,
            last_seen_interval_secs: 300,
            last_seen_dir: None,
            last_seen_max_devices: 100_000,
            store_cache_bytes: 64 << 20,
            store_cache_entries: 4096,
            store_recheck_ms: 1000,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            upstream_timeout_ms: 10_000,
            max_header_bytes: 64 << 10,
            max_connections: 4096,
            max_connections_per_ip: 64,
            workers: None,
            shutdown_grace_secs: 10,
            metrics: true,
            admin_listen: None,
            metrics_token: None,
            uploads_max_total_bytes: 256 << 20,
            tls: None,
            origin: OriginSettings::default(),
            origin_cache: OriginCacheSettings::default(),
            s3: S3Settings::default(),
            fleet: FleetSettings::default(),
        }
    }
}

impl ServerConfig {
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }

    pub fn store_recheck(&self) -> Duration {
        Duration::from_millis(self.store_recheck_ms)
    }

    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_millis(self.body_read_timeout_ms)
    }

    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_timeout_ms)
    }
}

/// Reads the configuration, or the defaults without a file. Errors name the file and the key.
pub fn load(path: Option<&Path>) -> Result<(provedge::Config, ServerConfig), String> {
    let Some(path) = path else {
        return Ok((provedge::Config::default(), ServerConfig::default()));
    };
    load_file(path).map(|file| (file.engine, file.server))
}

/// A configuration file as read and checked, with its `server` part also as written: a reload
/// compares that with the running one to name the keys it cannot change without a restart.
pub struct Loaded {
    pub engine: provedge::Config,
    pub server: ServerConfig,
    pub server_json: serde_json::Map<String, serde_json::Value>,
}

/// [`load`] for a file that must be there.
pub fn load_file(path: &Path) -> Result<Loaded, String> {
    let (engine, server, server_json) = parse(path)?;
    check(&engine, &server).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Loaded {
        engine,
        server,
        server_json,
    })
}

/// The engine part of the same file, for the commands that only run the engine (`render`,
/// `route`, `rewrite`): one file format for every command, so the file `serve` runs with is
/// the one an operator debugs with.
pub fn load_engine(path: Option<&Path>) -> Result<provedge::Config, String> {
    match path {
        None => Ok(provedge::Config::default()),
        Some(path) => parse(path).map(|(engine, _, _)| engine),
    }
}

type Parsed = (
    provedge::Config,
    ServerConfig,
    serde_json::Map<String, serde_json::Value>,
);

fn parse(path: &Path) -> Result<Parsed, String> {
    let at = |e: String| format!("{}: {e}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| at(e.to_string()))?;
    let file: ConfigFile = serde_path_to_error::deserialize(
        &mut serde_json::Deserializer::from_str(&text),
    )
    .map_err(|e| {
        let inner = e.inner().to_string();
        let mut message = keyed(e.path().to_string(), inner.clone());
        // A bare engine object, the format `render --config` once took.
        let engine_keys = ["route", "mode", "uploads", "policy", "render"];
        if engine_keys
            .iter()
            .any(|k| inner.starts_with(&format!("unknown field `{k}`, expected")))
        {
            message.push_str(
                " (the file holds {\"engine\": {…}, \"server\": {…}}: put the engine \
                         keys under \"engine\")",
            );
        }
        at(message)
    })?;
    let engine = match file.engine {
        None => provedge::Config::default(),
        Some(value) => engine_config(value).map_err(at)?,
    };
    // The same text parsed as a document, which it is (the typed parse above succeeded).
    let server_json = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(mut doc)) => match doc.remove("server") {
            Some(serde_json::Value::Object(server)) => server,
            _ => serde_json::Map::new(),
        },
        _ => serde_json::Map::new(),
    };
    Ok((engine, file.server, server_json))
}

/// `key: message`, or just the message for errors about the document as a whole.
fn keyed(path: String, message: String) -> String {
    if path.is_empty() || path == "." {
        message
    } else {
        format!("{path}: {message}")
    }
}

/// Parses the `engine` part with the core's own parser, which names the key.
fn engine_config(value: serde_json::Value) -> Result<provedge::Config, String> {
    provedge::Config::from_json(&value.to_string()).map_err(|e| e.within("engine").to_string())
}

/// What serde cannot check: values that must make sense together.
fn check(engine: &provedge::Config, server: &ServerConfig) -> Result<(), String> {
    if let Some(url) = &server.upstream {
        Upstream::parse(url).map_err(|e| format!("server.upstream: {e}"))?;
    }
    // Every mode but `serve` hands requests on.
    if engine.mode != provedge::Mode::Serve && server.upstream.is_none() {
        return Err("server.upstream: required when engine.mode is not serve".into());
    }
    if server.max_header_bytes < 8192 {
        return Err("server.max_header_bytes: must be at least 8192".into());
    }
    if server.max_connections == 0 || server.max_connections > MAX_CONNECTIONS {
        return Err(format!(
            "server.max_connections: must be 1 to {MAX_CONNECTIONS}"
        ));
    }
    if server.max_connections_per_ip == 0 {
        return Err("server.max_connections_per_ip: must be above 0".into());
    }
    if server.workers.is_some_and(|n| n == 0 || n > 1024) {
        return Err("server.workers: must be 1 to 1024".into());
    }
    if server.store_cache_entries == 0 {
        return Err("server.store_cache_entries: must be above 0".into());
    }
    if server.header_read_timeout_ms == 0 || server.body_read_timeout_ms == 0 {
        return Err(
            "server.header_read_timeout_ms and server.body_read_timeout_ms: must be above 0".into(),
        );
    }
    let fleet = &server.fleet;
    if fleet.max_devices == 0 || fleet.max_devices > 1_000_000 {
        return Err("server.fleet.max_devices: must be 1 to 1000000".into());
    }
    if fleet.recent_fetches > 1000 {
        return Err("server.fleet.recent_fetches: must be 0 to 1000".into());
    }
    if let Some(tls) = &server.tls {
        match (tls.client_cert(), &tls.client_ca) {
            (ClientCert::None, Some(_)) => {
                return Err("server.tls.client_ca: set, but client_cert is none".into())
            }
            (ClientCert::Optional | ClientCert::Required, None) => {
                return Err("server.tls.client_cert: needs server.tls.client_ca".into())
            }
            _ => {}
        }
    }
    Ok(())
}

/// `server.metrics_token`: a non-empty secret, never shown (its `Debug` is redacted), checked
/// against a request's bearer credentials in constant time.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct BearerToken(String);

impl TryFrom<String> for BearerToken {
    type Error = &'static str;

    fn try_from(token: String) -> Result<BearerToken, Self::Error> {
        // Bearer credentials are `token68` (RFC 6750 §2.1); anything else could never be sent.
        let token68 = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
        if token.is_empty() || !token.bytes().all(token68) {
            return Err("must be a non-empty bearer token (letters, digits, -._~+/=)");
        }
        Ok(BearerToken(token))
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(…)")
    }
}

impl BearerToken {
    /// Whether an `Authorization` header value carries this token as `Bearer` credentials.
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some((scheme, presented)) = value.split_at_checked(7) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case(b"bearer ") {
            return false;
        }
        self.matches(presented.trim_ascii())
    }

    /// Whether an `Authorization` header value is `Basic` credentials whose password is this
    /// token (any user name): how a browser logs in to the fleet page, which asks with a
    /// `Basic` challenge. A `Bearer` value is admitted as [`BearerToken::admits`] does.
    pub fn admits_basic_or_bearer(&self, authorization: Option<&[u8]>) -> bool {
        use base64::Engine as _;
        if self.admits(authorization) {
            return true;
        }
        let Some((scheme, encoded)) = authorization.and_then(|v| v.split_at_checked(6)) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case(b"basic ") {
            return false;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim_ascii())
        else {
            return false;
        };
        match decoded.iter().position(|&b| b == b':') {
            Some(colon) => self.matches(&decoded[colon + 1..]),
            None => false,
        }
    }

    /// Both sides are hashed first, so the comparison takes the same time whatever the
    /// presented length.
    fn matches(&self, presented: &[u8]) -> bool {
        use sha2::{Digest, Sha256};
        use subtle::ConstantTimeEq;
        bool::from(Sha256::digest(presented).ct_eq(&Sha256::digest(self.0.as_bytes())))
    }
}

/// A parsed `server.upstream`: plain HTTP to `authority`, paths under `base`.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// `host:port`, as connected to and sent as `Host`.
    pub authority: String,
    /// Path prefix before the rewritten target, without a trailing `/`.
    pub base: String,
}

impl Upstream {
    /// Parses the URL; messages never echo it, since it could carry credentials.
    pub fn parse(url: &str) -> Result<Upstream, String> {
        let uri: Uri = url.parse().map_err(|e| format!("not a URL ({e})"))?;
        let authority = uri.authority().ok_or("no host")?;
        if authority.as_str().contains('@') {
            return Err("credentials in the URL are not supported".into());
        }
        if uri.scheme_str() != Some("http") {
            return Err("only http:// upstreams are supported".into());
        }
        if uri.query().is_some() {
            return Err("must not have a query".into());
        }
        let authority = match authority.port_u16() {
            Some(_) => authority.as_str().to_owned(),
            None => format!("{}:80", authority.host()),
        };
        Ok(Upstream {
            authority,
            base: uri.path().trim_end_matches('/').to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(json: &str) -> Result<ServerConfig, String> {
        let server: ServerConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
        check(&provedge::Config::default(), &server)?;
        Ok(server)
    }

    #[test]
    fn client_certificates_are_optional_with_a_ca_and_off_without() {
        let mode = |json: &str| server(json).map(|s| s.tls.map(|t| t.client_cert()));
        let tls = |extra: &str| format!(r#"{{"tls": {{"cert": "c", "key": "k"{extra}}}}}"#);
        assert_eq!(mode(&tls("")), Ok(Some(ClientCert::None)));
        assert_eq!(
            mode(&tls(r#", "client_ca": "ca""#)),
            Ok(Some(ClientCert::Optional))
        );
        assert_eq!(
            mode(&tls(r#", "client_ca": "ca", "client_cert": "required""#)),
            Ok(Some(ClientCert::Required))
        );
        assert!(mode(&tls(r#", "client_ca": "ca", "client_cert": "none""#))
            .is_err_and(|e| e.starts_with("server.tls.client_ca: ")));
        assert!(mode(&tls(r#", "client_cert": "optional""#))
            .is_err_and(|e| e.starts_with("server.tls.client_cert: ")));
        let listen = server(&tls("")).unwrap().tls.unwrap().listen;
        assert_eq!(listen.to_string(), "127.0.0.1:8443");
        assert_eq!(mode("{}"), Ok(None));
    }

    #[test]
    fn metrics_tokens_are_bearer_credentials_and_never_shown() {
        let token = server(r#"{"metrics_token": "s3cret"}"#)
            .unwrap()
            .metrics_token
            .unwrap();
        assert!(!format!("{token:?}").contains("s3cret"));
        let cases: &[(Option<&[u8]>, bool)] = &[
            (Some(b"Bearer s3cret"), true),
            (Some(b"bearer  s3cret "), true),
            (Some(b"Bearer s3cre"), false),
            (Some(b"Bearer s3crett"), false),
            (Some(b"Basic s3cret"), false),
            (Some(b"s3cret"), false),
            (None, false),
        ];
        for (header, admitted) in cases {
            assert_eq!(token.admits(*header), *admitted, "{header:?}");
        }
        for bad in [r#""""#, r#""has space""#] {
            assert!(
                server(&format!(r#"{{"metrics_token": {bad}}}"#)).is_err(),
                "{bad}"
            );
        }
        assert!(server(r#"{"max_connections_per_ip": 0}"#).is_err());
    }

    #[test]
    fn the_fleet_page_takes_the_token_as_a_basic_password_too() {
        use base64::Engine as _;
        let token = server(r#"{"metrics_token": "s3cret"}"#)
            .unwrap()
            .metrics_token
            .unwrap();
        let basic = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        let cases: &[(&str, bool)] = &[
            (&basic("admin:s3cret"), true),
            (&basic(":s3cret"), true),
            (&basic("anyone:s3cret"), true),
            (&basic("admin:s3cre"), false),
            (&basic("s3cret"), false),
            (&basic("s3cret:admin"), false),
            ("Basic !!!", false),
            ("Bearer s3cret", true),
            ("Bearer nope", false),
        ];
        for (header, admitted) in cases {
            assert_eq!(
                token.admits_basic_or_bearer(Some(header.as_bytes())),
                *admitted,
                "{header}"
            );
        }
        assert!(!token.admits_basic_or_bearer(None));
        assert!(!token.admits(Some(basic("a:s3cret").as_bytes())));
        assert!(server(r#"{"fleet": {"max_devices": 0}}"#).is_err());
        assert!(server(r#"{"fleet": {"nope": 1}}"#).is_err());
    }
}
