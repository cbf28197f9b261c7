//! The plugin configuration: JSON, parsed and checked once in `on_configure`.
//!
//! ```json
//! {
//!   "engine": {"route": {}, "policy": {}},
//!   "routes": {"legacy": {"mode": {"rewrite": {"prefix": ""}}}},
//!   "origin": {"upstream": "store", "authority": "127.0.0.1:8081", "prefix": "",
//!              "timeout_ms": 2000, "auth": "none"},
//!   "cache": {"ttl_secs": 10, "stale_if_error_secs": 300},
//!   "last_seen": {"write": true, "interval_secs": 300, "max_devices": 10000}
//! }
//! ```
//!
//! `engine` is the core's configuration (as `provedge --config`); each `routes` entry, keyed by
//! Envoy route name, replaces top-level keys of `engine` for requests on that route (so one
//! filter renders on some routes and rewrites on others; Envoy only: nginx gives each `location`
//! its own configuration). `proxy` is `auto` (the default: told by the first request),
//! `envoy` or `nginx` ([`crate::proxy`]). `last_seen` governs the devices'
//! last-seen records `PUT` to the origin ([`LastSeenConfig`]). Unknown keys anywhere are
//! errors.

use std::collections::BTreeMap;

use provedge::origin::cache::CacheConfig;
use provedge::{Config, Engine, Origin, OriginConfig};
use serde::Deserialize;
use serde_json::Value;

use crate::proxy::ProxySetting;
pub use crate::record::LastSeenConfig;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    engine: Option<Value>,
    #[serde(default)]
    routes: BTreeMap<String, Value>,
    origin: OriginConfig,
    #[serde(default)]
    cache: CacheConfig,
    #[serde(default)]
    last_seen: LastSeenConfig,
    /// Build the client identity from the TLS connection (Envoy's `connection.*` properties,
    /// nginx's `$ssl_client_verify` and `$ssl_client_s_dn`).
    #[serde(default = "yes")]
    identity_from_connection: bool,
    /// The proxy the filter runs in (`auto`, `envoy`, `nginx`).
    #[serde(default)]
    proxy: ProxySetting,
}

fn yes() -> bool {
    true
}

/// The checked configuration, with one engine per distinct route configuration.
pub struct Settings {
    /// The core's checked origin: the requests to send, the rules for the answers.
    pub origin: Origin,
    pub cache: CacheConfig,
    pub last_seen: LastSeenConfig,
    pub identity_from_connection: bool,
    pub proxy: ProxySetting,
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
        let origin = Origin::new(raw.origin).map_err(|e| e.within("origin").to_string())?;
        raw.cache
            .validate()
            .map_err(|e| e.within("cache").to_string())?;
        if raw.proxy == ProxySetting::Nginx && !routes.is_empty() {
            return Err(
                "routes: nginx has no route names; give each `location` its own \
                        configuration instead"
                    .into(),
            );
        }
        if raw.last_seen.max_devices == 0 {
            return Err("last_seen.max_devices: must be at least 1".into());
        }
        Ok(Settings {
            origin,
            cache: raw.cache,
            last_seen: raw.last_seen,
            identity_from_connection: raw.identity_from_connection,
            proxy: raw.proxy,
            engine,
            routes,
        })
    }

    /// The rule sets of this configuration's engines that serve a phone's file, passwords
    /// included, to anyone who names its MAC (the core's `Config::admitting_anyone`), by their
    /// key in the plugin configuration (`engine.policy.default`, `routes.r.policy.default`).
    pub fn admitting_anyone(&self) -> Vec<String> {
        let named = |prefix: String, engine: &Engine| {
            engine
                .config()
                .admitting_anyone()
                .into_iter()
                .map(move |key| format!("{prefix}.{key}"))
        };
        named("engine".into(), &self.engine)
            .chain(
                self.routes
                    .iter()
                    .flat_map(|(name, engine)| named(format!("routes.{name}"), engine)),
            )
            .collect()
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
        assert_eq!(s.origin.authority(), "store");
        assert_eq!(s.origin.prefix(), "/bucket");
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
    fn names_every_engine_that_lets_anyone_in() {
        let s = parse(
            r#"{"origin": {"upstream": "store"},
                "engine": {"policy": {"default": {"url_tokens": {"first_boot": "t"}}}},
                "routes": {"open": {"policy": {}},
                           "legacy": {"mode": {"rewrite": {"prefix": ""}}, "policy": {}}}}"#,
        )
        .unwrap();
        // The rewrite route forwards: its upstream serves the files, not this engine.
        assert_eq!(s.admitting_anyone(), ["routes.open.policy.default"]);
        let open = parse(r#"{"origin": {"upstream": "store"}}"#).unwrap();
        assert_eq!(open.admitting_anyone(), ["engine.policy.default"]);
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
                r#"{"origin": {"upstream": "s"}, "last_seen": {"max_devices": 0}}"#,
                "last_seen.max_devices",
            ),
            (
                r#"{"origin": {"upstream": "s"}, "last_seen": {"every": 1}}"#,
                "every",
            ),
            (
                r#"{"origin": {"upstream": "s"}, "proxy": "nginx", "routes": {"r": {}}}"#,
                "nginx has no route names",
            ),
            (
                r#"{"origin": {"upstream": "s"}, "proxy": "apache"}"#,
                "`apache`, expected one of `auto`, `envoy`, `nginx`",
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
        let key = provedge::StoreKey::new("vars/global.json").unwrap();
        let auth = |s: Settings| s.origin.get(&key, None, 0).headers;
        let s =
            parse(r#"{"origin": {"upstream": "s", "auth": {"bearer": {"token": "t"}}}}"#).unwrap();
        assert_eq!(auth(s), vec![("authorization", "Bearer t".to_owned())]);
        let s = parse(
            r#"{"origin": {"upstream": "s", "auth": {"sigv4": {"access_key_id": "a",
                "secret_access_key": "b", "region": "eu-west-1"}}}}"#,
        )
        .unwrap();
        let signed = auth(s);
        assert!(signed
            .iter()
            .any(|(n, v)| *n == "authorization" && v.contains("/eu-west-1/s3/aws4_request")));
        let s = parse(r#"{"origin": {"upstream": "s", "auth": "none"}}"#).unwrap();
        assert!(auth(s).is_empty());
    }
}
