//! The server's configuration file (`--config FILE`):
//!
//! ```json
//! {"engine": {"route": {…}, "mode": "serve", "uploads": {…}, "policy": {…}},
//!  "server": {"upstream": "http://127.0.0.1:9000", "last_seen_interval_secs": 300}}
//! ```
//!
//! `engine` is handed unchanged to [`provedge::Config::from_json`], so the server accepts exactly
//! what the other hosts accept. Both parts refuse unknown keys, and every error names the file
//! and the key (`serve.json: server.store_cache_bytes: invalid type: …`), at start, never later.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper::Uri;
use serde::Deserialize;

/// Most connections `server.max_connections` may allow (the shutdown wait counts in `u32`).
pub const MAX_CONNECTIONS: usize = 1 << 20;

/// The file as a whole.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConfigFile {
    engine: Option<serde_json::Value>,
    server: ServerConfig,
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
    /// Event loops (threads serving connections); default: one per core.
    pub workers: Option<usize>,
    /// On SIGTERM, how long open requests may take to finish.
    pub shutdown_grace_secs: u64,
    /// Whether `GET /metrics` answers.
    pub metrics: bool,
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
            workers: None,
            shutdown_grace_secs: 10,
            metrics: true,
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
    let at = |e: String| format!("{}: {e}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| at(e.to_string()))?;
    let file: ConfigFile =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&text))
            .map_err(|e| at(keyed(e.path().to_string(), e.inner().to_string())))?;
    let engine = match file.engine {
        None => provedge::Config::default(),
        Some(value) => engine_config(value).map_err(at)?,
    };
    check(&engine, &file.server).map_err(at)?;
    Ok((engine, file.server))
}

/// `key: message`, or just the message for errors about the document as a whole.
fn keyed(path: String, message: String) -> String {
    if path.is_empty() || path == "." {
        message
    } else {
        format!("{path}: {message}")
    }
}

/// Parses the `engine` part with the core's own parser. When that fails, the same value is run
/// through serde once more only to learn the key's path for the message.
fn engine_config(value: serde_json::Value) -> Result<provedge::Config, String> {
    let text = value.to_string();
    provedge::Config::from_json(&text).map_err(|message| {
        let message = message
            .strip_prefix("configuration: ")
            .unwrap_or(&message)
            .to_owned();
        match serde_path_to_error::deserialize::<_, provedge::Config>(&value) {
            Err(e) => format!(
                "engine.{}",
                keyed(e.path().to_string(), e.inner().to_string())
            ),
            // Parsed, so the core refused a value it validates itself (its message names the key).
            Ok(_) => format!("engine.{message}"),
        }
    })
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
    Ok(())
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
