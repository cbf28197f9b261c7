//! The plugin configuration: JSON, parsed and checked once in `on_configure`.
//!
//! ```json
//! {
//!   "engine": {"route": {}, "policy": {}},
//!   "routes": {"legacy": {"mode": {"rewrite": {"prefix": ""}}}},
//!   "origin": {"upstream": "store", "authority": "127.0.0.1:8081", "prefix": "",
//!              "timeout_ms": 2000, "auth": "none"},
//!   "cache": {"ttl_secs": 10, "stale_if_error_secs": 300}
//! }
//! ```
//!
//! `engine` is the core's configuration (as `provedge --config`); each `routes` entry, keyed by
//! Envoy route name, replaces top-level keys of `engine` for requests on that route (so one
//! filter renders on some routes and rewrites on others). Unknown keys anywhere are errors.

use std::collections::BTreeMap;

use provedge::{Config, Engine};
use serde::Deserialize;
use serde_json::Value;

use crate::cache::CacheConfig;
use crate::sigv4::Credentials;

/// Where the store's objects come from.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    /// Envoy cluster name, or `host:port` under ngx_wasm_module.
    pub upstream: String,
    /// `:authority` (Host) sent to the origin; defaults to `upstream`.
    #[serde(default)]
    pub authority: String,
    /// Path prefix of the store on the origin (`/bucket` for a path-style S3 bucket).
    #[serde(default)]
    pub prefix: String,
    /// Per-request timeout.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub auth: Auth,
    /// Largest object read into the VM; a larger answer is an origin failure.
    #[serde(default = "default_max_object_bytes")]
    pub max_object_bytes: usize,
    /// Origin statuses that mean "no such object" (S3 without ListBucket answers 403).
    #[serde(default = "default_missing")]
    pub missing_statuses: Vec<u16>,
}

fn default_timeout_ms() -> u64 {
    2000
}

fn default_max_object_bytes() -> usize {
    1 << 20
}

fn default_missing() -> Vec<u16> {
    vec![404, 410]
}

/// How the filter authenticates to the origin.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Auth {
    /// Nothing (a private origin, or Envoy's `aws_request_signing` on the cluster).
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer { token: String },
    /// AWS SigV4 signed in the filter.
    Sigv4 {
        access_key_id: String,
        secret_access_key: String,
        #[serde(default)]
        session_token: Option<String>,
        region: String,
        #[serde(default = "default_service")]
        service: String,
    },
}

fn default_service() -> String {
    "s3".into()
}

impl Auth {
    pub fn credentials(&self) -> Option<Credentials> {
        match self {
            Auth::Sigv4 {
                access_key_id,
                secret_access_key,
                session_token,
                region,
                service,
            } => Some(Credentials {
                access_key_id: access_key_id.clone(),
                secret_access_key: secret_access_key.clone(),
                session_token: session_token.clone(),
                region: region.clone(),
                service: service.clone(),
            }),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    engine: Option<Value>,
    #[serde(default)]
    routes: BTreeMap<String, Value>,
    origin: Origin,
    #[serde(default)]
    cache: CacheConfig,
    /// Build the client identity from the TLS connection (`connection.*` properties).
    #[serde(default = "yes")]
    identity_from_connection: bool,
}

fn yes() -> bool {
    true
}

/// The checked configuration, with one engine per distinct route configuration.
pub struct Settings {
    pub origin: Origin,
    pub credentials: Option<Credentials>,
    pub cache: CacheConfig,
    pub identity_from_connection: bool,
    pub engine: Engine,
    pub routes: BTreeMap<String, Engine>,
}

impl Settings {
    /// Parses and checks the plugin configuration; the error names the offending key.
    pub fn parse(raw: &[u8]) -> Result<Settings, String> {
        let value: Value = serde_json::from_slice(raw).map_err(|e| format!("not JSON: {e}"))?;
        let raw: Raw = serde_json::from_value(value).map_err(|e| e.to_string())?;
        let base = match raw.engine {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => return Err("engine: expected an object".into()),
        };
        let engine =
            build_engine(&Value::Object(base.clone())).map_err(|e| format!("engine: {e}"))?;
        let mut routes = BTreeMap::new();
        for (name, over) in raw.routes {
            let Value::Object(over) = over else {
                return Err(format!("routes.{name}: expected an object"));
            };
            let mut merged = base.clone();
            merged.extend(over);
            let e =
                build_engine(&Value::Object(merged)).map_err(|e| format!("routes.{name}: {e}"))?;
            routes.insert(name, e);
        }
        let mut origin = raw.origin;
        if origin.upstream.trim().is_empty() {
            return Err("origin.upstream: empty".into());
        }
        if origin.authority.is_empty() {
            origin.authority = origin.upstream.clone();
        }
        let prefix = origin.prefix.trim_end_matches('/');
        if !prefix.is_empty() && !prefix.starts_with('/') {
            return Err("origin.prefix: must start with '/'".into());
        }
        origin.prefix = prefix.to_owned();
        if !(1..=60_000).contains(&origin.timeout_ms) {
            return Err("origin.timeout_ms: must be 1..=60000".into());
        }
        match &origin.auth {
            Auth::Bearer { token } if token.is_empty() => {
                return Err("origin.auth.bearer.token: empty".into())
            }
            Auth::Sigv4 {
                access_key_id,
                secret_access_key,
                region,
                service,
                ..
            } if [access_key_id, secret_access_key, region, service]
                .iter()
                .any(|s| s.is_empty()) =>
            {
                return Err("origin.auth.sigv4: every field must be set".into())
            }
            _ => {}
        }
        let safe = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
        if !safe(&origin.authority) || !safe(&origin.prefix) {
            return Err("origin: authority and prefix must be printable ASCII".into());
        }
        raw.cache.validate()?;
        Ok(Settings {
            credentials: origin.auth.credentials(),
            origin,
            cache: raw.cache,
            identity_from_connection: raw.identity_from_connection,
            engine,
            routes,
        })
    }

    /// The engine for a request on the Envoy route `route` (if known).
    pub fn engine_for(&self, route: Option<&str>) -> &Engine {
        route
            .and_then(|r| self.routes.get(r))
            .unwrap_or(&self.engine)
    }
}

/// The core's own parser, so the filter refuses exactly what `provedge --config` refuses
/// (policy checks and nginx rules included).
fn build_engine(value: &Value) -> Result<Engine, String> {
    Ok(Engine::new(Config::from_json(&value.to_string())?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, String> {
        Settings::parse(text.as_bytes())
    }

    #[test]
    fn minimal_and_per_route() {
        let s = parse(
            r#"{"origin": {"upstream": "store", "prefix": "/bucket/"},
                "routes": {"legacy": {"mode": {"rewrite": {"prefix": ""}}}}}"#,
        )
        .unwrap();
        assert_eq!(s.origin.authority, "store");
        assert_eq!(s.origin.prefix, "/bucket");
        assert_eq!(
            s.engine_for(Some("legacy")).config().mode,
            provedge::Mode::Rewrite {
                prefix: String::new()
            }
        );
        assert_eq!(
            s.engine_for(Some("other")).config().mode,
            provedge::Mode::Serve
        );
        assert_eq!(s.engine_for(None).config().mode, provedge::Mode::Serve);
    }

    #[test]
    fn bad_configurations_name_the_key() {
        for (text, needle) in [
            ("", "not JSON"),
            ("{}", "origin"),
            (r#"{"origin": {"upstream": ""}}"#, "origin.upstream"),
            (
                r#"{"origin": {"upstream": "s", "timeout_ms": 0}}"#,
                "timeout_ms",
            ),
            (
                r#"{"origin": {"upstream": "s", "prefix": "x"}}"#,
                "origin.prefix",
            ),
            (
                r#"{"origin": {"upstream": "s"}, "cache": {"ttl": 1}}"#,
                "ttl",
            ),
            (
                r#"{"origin": {"upstream": "s"}, "engine": {"mode": "x"}}"#,
                "engine",
            ),
            (
                r#"{"origin": {"upstream": "s"}, "routes": {"r": {"mode": {"nginx": {"rules": "rewrite ^(a /b;"}}}}}"#,
                "routes.r",
            ),
            (
                r#"{"origin": {"upstream": "s", "auth": {"sigv4": {"access_key_id": "a", "secret_access_key": "", "region": "r"}}}}"#,
                "sigv4",
            ),
            (
                r#"{"origin": {"upstream": "s"}, "cache": {"shared_slots": 0}}"#,
                "shared_slots",
            ),
            (
                r#"{"origin": {"upstream": "s"}, "engine": {"policy": {"default": {"allow": ["nope"]}}}}"#,
                "engine",
            ),
        ] {
            let err = parse(text)
                .err()
                .unwrap_or_else(|| panic!("{text} accepted"));
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    /// The configurations the examples carry are valid (Envoy's block scalar, nginx's quoted
    /// `proxy_wasm` arguments).
    #[test]
    fn the_examples_configurations_parse() {
        let envoy = include_str!("../../examples/envoy.yaml");
        let start = envoy.find("value: |").unwrap() + "value: |".len();
        let end = start + envoy[start..].find("- name:").unwrap();
        parse(&envoy[start..end]).unwrap();
        let nginx = include_str!("../../examples/nginx.conf");
        let mut found = 0;
        for part in nginx.split("proxy_wasm provedge '").skip(1) {
            let config = &part[..part.find("';").unwrap()];
            parse(config).unwrap_or_else(|e| panic!("{config}: {e}"));
            found += 1;
        }
        assert_eq!(found, 2);
    }

    #[test]
    fn auth_variants() {
        let s =
            parse(r#"{"origin": {"upstream": "s", "auth": {"bearer": {"token": "t"}}}}"#).unwrap();
        assert!(matches!(s.origin.auth, Auth::Bearer { .. }));
        let s = parse(
            r#"{"origin": {"upstream": "s", "auth": {"sigv4": {"access_key_id": "a",
                "secret_access_key": "b", "region": "eu-west-1"}}}}"#,
        )
        .unwrap();
        assert_eq!(s.credentials.unwrap().service, "s3");
        assert!(parse(r#"{"origin": {"upstream": "s", "auth": "none"}}"#).is_ok());
    }
}
