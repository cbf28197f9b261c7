//! The engine's configuration: parsed and checked once (at start, or in proxy-wasm's
//! `on_configure`), so nothing invalid reaches the request path.

use serde::Deserialize;

use crate::policy::PolicyConfig;
use crate::rewrite::RuleSet;
use crate::route::RouteConfig;

/// How the engine answers recognised requests.
///
/// In JSON: `"mode": "serve"` or `"mode": {"rewrite": {"prefix": "/store"}}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Mode {
    /// Answer from the store: fetch the canonical key and respond with it.
    #[default]
    Serve,
    /// Rewrite the request to `<prefix>/<canonical key>` and let the host pass it on.
    Rewrite { prefix: String },
    /// Behave exactly as the operator's nginx `rewrite` rules (the text of the rule file) and
    /// let the host pass the rewritten request on: the drop-in for FusionPBX-style setups.
    Nginx { rules: String },
}

/// Engine configuration: parsed and checked once (at start, or in proxy-wasm's `on_configure`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub route: RouteConfig,
    pub mode: Mode,
    pub uploads: UploadConfig,
    pub policy: PolicyConfig,
    pub render: RenderConfig,
}

/// How files are rendered.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RenderConfig {
    /// The P-values Grandstream's legacy binary `cfg<mac>` keeps when the device's XML is
    /// encrypted: what a phone needs to find and fetch the XML. P1359 (the XML password) is
    /// always added from the encryption setting; every other value lives only in the XML.
    pub grandstream_bootstrap_pvalues: Vec<String>,
}

impl Default for RenderConfig {
    /// Config server path and protocol, and the config and firmware prefixes and postfixes.
    fn default() -> RenderConfig {
        RenderConfig {
            grandstream_bootstrap_pvalues: ["P237", "P212", "P234", "P235", "P192", "P232", "P233"]
                .map(String::from)
                .to_vec(),
        }
    }
}

impl Config {
    /// Parses a JSON configuration, naming the offending key on error.
    pub fn from_json(text: &str) -> Result<Config, String> {
        let config: Config =
            serde_json::from_str(text).map_err(|e| format!("configuration: {e}"))?;
        config
            .policy
            .validate()
            .map_err(|e| format!("configuration: {e}"))?;
        if let Mode::Nginx { rules } = &config.mode {
            RuleSet::parse(rules).map_err(|e| format!("configuration: mode.nginx.rules {e}"))?;
        }
        if let Some(key) = config.tokens_outside_serve() {
            return Err(format!(
                "configuration: {key}: URL tokens are checked against device records, which \
                 only \"mode\": \"serve\" reads; rewrite and nginx modes would strip the \
                 token and forward any request. Check tokens upstream, or serve from the store"
            ));
        }
        Ok(config)
    }

    /// The engine part of a configuration file, `{"engine": {…}, "server": {…}}` (the one file
    /// format every command and host reads; a host takes its own section and ignores the
    /// others'), or a bare engine object.
    pub fn from_document(text: &str) -> Result<Config, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("configuration: {e}"))?;
        match value.get("engine") {
            Some(engine) => Config::from_json(&engine.to_string())
                .map_err(|e| e.replacen("configuration: ", "configuration: engine.", 1)),
            None => Config::from_json(text),
        }
    }

    /// The first tenant that uses URL tokens in a mode that forwards requests, if any.
    fn tokens_outside_serve(&self) -> Option<String> {
        if self.mode == Mode::Serve {
            return None;
        }
        if self.policy.default.url_tokens.is_some() {
            return Some("policy.default.url_tokens".into());
        }
        self.policy
            .tenants
            .iter()
            .find(|t| t.rules.url_tokens.is_some())
            .map(|t| format!("policy.tenants.{}.url_tokens", t.name))
    }
}

/// Limits on phone uploads.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadConfig {
    /// Whether uploads are accepted at all (refused with 403 when not).
    pub enabled: bool,
    /// Largest accepted body, in bytes.
    pub max_bytes: usize,
}

impl Default for UploadConfig {
    fn default() -> UploadConfig {
        UploadConfig {
            enabled: true,
            max_bytes: 1 << 20,
        }
    }
}
