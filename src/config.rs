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
    pub memory: MemoryConfig,
    /// Names of the host's secrets that `{"secret": "NAME"}` values (here and in variable
    /// layers' `encryption`) refer to; the host reads them at start (see [`crate::secrets`]).
    pub secrets: Vec<String>,
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

/// Bounds of the engine's caches, each a setting with a documented default (a proxy-wasm VM or
/// a Worker isolate has less memory than a server). Every cache starts over when full.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Compiled templates (512).
    pub template_entries: usize,
    /// Rendered (and encrypted) files (4096)…
    pub render_entries: usize,
    /// …holding at most this many bytes (64 MiB).
    pub render_bytes: usize,
    /// Parsed device records (16384).
    pub record_entries: usize,
    /// Parsed variable files (256)…
    pub vars_entries: usize,
    /// …parsed from at most this many bytes of JSON (4 MiB; parsed, a few times that).
    pub vars_bytes: usize,
    /// Remembered routes by method, target and User-Agent (4096; 0 turns the memo off).
    pub route_entries: usize,
    /// Last good answers, served when the store or a template fails (4096)…
    pub last_good_entries: usize,
    /// …holding at most this many bytes (16 MiB; 0 turns it off).
    pub last_good_bytes: usize,
}

impl Default for MemoryConfig {
    fn default() -> MemoryConfig {
        MemoryConfig {
            template_entries: crate::render::template::DEFAULT_ENTRIES,
            render_entries: crate::render::cache::DEFAULT_ENTRIES,
            render_bytes: crate::render::cache::DEFAULT_BYTES,
            record_entries: crate::store::records::DEFAULT_ENTRIES,
            vars_entries: crate::render::layers::DEFAULT_ENTRIES,
            vars_bytes: crate::render::layers::DEFAULT_BYTES,
            route_entries: crate::route::memo::DEFAULT_ENTRIES,
            last_good_entries: crate::last_good::DEFAULT_ENTRIES,
            last_good_bytes: crate::last_good::DEFAULT_BYTES,
        }
    }
}

/// A configuration provedge cannot run with: the key (a dotted path such as
/// `policy.tenants.0.rules.allow`, empty for the document as a whole) and why. Hosts refuse to
/// start with it, naming their file or setting before the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

impl ConfigError {
    fn at(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The same error, its key under `section` (`engine`).
    pub fn within(mut self, section: &str) -> ConfigError {
        self.key = if self.key.is_empty() {
            section.to_owned()
        } else {
            format!("{section}.{}", self.key)
        };
        self
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.key, self.reason)
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for String {
    fn from(e: ConfigError) -> String {
        e.to_string()
    }
}

impl Config {
    /// The rule sets under which this engine serves a phone's file, passwords included, to
    /// anyone who names its MAC ([`PolicyConfig::admitting_anyone`]); none outside serve mode,
    /// where the upstream serves the files. Hosts warn about them at start.
    pub fn admitting_anyone(&self) -> Vec<String> {
        match self.mode {
            Mode::Serve => self.policy.admitting_anyone(),
            _ => Vec::new(),
        }
    }

    /// Parses a JSON engine configuration and checks it, naming the offending key on error.
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let config: Config = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." { String::new() } else { path };
            ConfigError::at(key, e.into_inner().to_string())
        })?;
        config.validate()?;
        Ok(config)
    }

    /// The engine part of a configuration file, `{"engine": {…}, "server": {…}}` (the one file
    /// format every command and host reads; a host takes its own section and ignores the
    /// others'), or a bare engine object.
    pub fn from_document(text: &str) -> Result<Config, ConfigError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ConfigError::at("", e.to_string()))?;
        match value.get("engine") {
            Some(engine) => Config::from_json(&engine.to_string()).map_err(|e| e.within("engine")),
            None => Config::from_json(text),
        }
    }

    /// [`Config::from_document`] for a host with secrets: reads the names the configuration
    /// lists in `engine.secrets` through `read`, replaces every `{"secret": "NAME"}` in the
    /// configuration with its value, and hands the table on for variable layers (give it to
    /// [`crate::Engine::with_secrets`]).
    pub fn from_document_with(
        text: &str,
        read: impl FnMut(&str) -> Option<String>,
    ) -> Result<(Config, crate::secrets::Secrets), ConfigError> {
        let mut value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ConfigError::at("", e.to_string()))?;
        let (engine, section) = match value.get_mut("engine") {
            Some(engine) => (engine, "engine"),
            None => (&mut value, ""),
        };
        let within = |e: ConfigError| {
            if section.is_empty() {
                e
            } else {
                e.within(section)
            }
        };
        let names: Vec<String> = match engine.get("secrets") {
            None => Vec::new(),
            Some(list) => serde_json::from_value(list.clone())
                .map_err(|e| within(ConfigError::at("secrets", e.to_string())))?,
        };
        let secrets = crate::secrets::Secrets::load(&names, read).map_err(within)?;
        secrets.resolve(engine, "").map_err(within)?;
        let config = Config::from_json(&engine.to_string()).map_err(within)?;
        Ok((config, secrets))
    }

    /// What serde cannot check: values that must make sense together. [`crate::Engine::new`]
    /// runs it too, so an engine never runs with a configuration that fails it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.policy
            .validate()
            .map_err(|e| match e.split_once(": ") {
                Some((key, reason)) => ConfigError::at(key, reason),
                None => ConfigError::at("policy", e),
            })?;
        if let Mode::Nginx { rules } = &self.mode {
            RuleSet::parse(rules)
                .map_err(|e| ConfigError::at("mode.nginx.rules", e.to_string()))?;
        }
        if let Some(key) = self.tokens_outside_serve() {
            return Err(ConfigError::at(
                key,
                "URL tokens are checked against device records, which only \"mode\": \"serve\" \
                 reads; rewrite and nginx modes would strip the token and forward any request. \
                 Check tokens upstream, or serve from the store",
            ));
        }
        Ok(())
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
    /// Largest accepted body, in bytes; also the largest upload served back.
    pub max_bytes: usize,
    /// Serve a phone's own uploads back on its next fetch of the same name: Polycom
    /// `<mac>-phone.cfg`/`<mac>-web.cfg` overrides and Yealink `<mac>-local.cfg` (off by
    /// default; needs `enabled`). Only to that device, proven by a full grant and its MAC in the
    /// User-Agent, a client certificate or its own URL token; an upload over `max_bytes` is
    /// ignored. Otherwise the name renders as usual.
    pub serve_back: bool,
}

impl Default for UploadConfig {
    fn default() -> UploadConfig {
        UploadConfig {
            enabled: true,
            max_bytes: 1 << 20,
            serve_back: false,
        }
    }
}
