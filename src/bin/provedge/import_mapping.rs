//! The table from FusionPBX's template variables to provedge's: the editable part of
//! `provedge import fusionpbx` (docs/fusionpbx.md, "The mapping").
//!
//! A FusionPBX variable is written as a dotted path (`account.1.user_id`, `keys.line`,
//! `yealink_rport`); a provedge one as a path into a template's context (`lines.0.user`,
//! `vars.yealink_rport`). Patterns may hold `{n}` (a number) and `{name}` (one name); targets
//! use `{n}`, `{n-1}` and `{name}`. The built-in table is [`DEFAULT`]; `--mapping FILE` replaces
//! or adds entries with a JSON file of the same shape (`--print-mapping` prints the default).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The built-in mapping, as `--print-mapping` prints it.
pub const DEFAULT: &str = r#"{
  "variables": {
    "mac": "mac",
    "address": "mac",
    "device_address": "mac",
    "model": "model",
    "domain_name": "vars.domain_name",
    "server_address": "lines.0.server",
    "user_id": "lines.0.user",
    "auth_id": "lines.0.auth_id",
    "display_name": "lines.0.display_name",
    "password": "lines.0.password",
    "user_password": "lines.0.password",
    "sip_port": "lines.0.port",
    "sip_transport": "lines.0.transport",
    "server_address_{n}": "lines.{n-1}.server",
    "user_id_{n}": "lines.{n-1}.user",
    "auth_id_{n}": "lines.{n-1}.auth_id",
    "display_name_{n}": "lines.{n-1}.display_name",
    "user_password_{n}": "lines.{n-1}.password",
    "sip_port_{n}": "lines.{n-1}.port",
    "sip_transport_{n}": "lines.{n-1}.transport",
    "{name}": "vars.{name}"
  },
  "collections": {
    "lines": {"to": "lines", "first": 1},
    "account": {"to": "lines", "first": 1},
    "user": {"to": "lines", "first": 1},
    "keys.line": {"to": "keys", "first": 1},
    "keys.{name}": {"to": "vars.keys.{name}", "first": 1},
    "contacts": {"to": "vars.contacts", "first": 0}
  },
  "fields": {
    "lines": {
      "line_number": "@position",
      "user_id": ".user",
      "auth_id": ".auth_id",
      "password": ".password",
      "user_password": ".password",
      "display_name": ".display_name",
      "label": ".label",
      "server_address": ".server",
      "server_address_primary": ".server",
      "server.1.address": ".server",
      "server.2.address": "vars.server_address_secondary",
      "server_address_secondary": "vars.server_address_secondary",
      "enabled": "=true",
      "sip_port": ".port",
      "sip_transport": ".transport",
      "register_expires": "vars.register_expires",
      "outbound_proxy": "vars.outbound_proxy",
      "outbound_proxy_primary": "vars.outbound_proxy_primary",
      "outbound_proxy_secondary": "vars.outbound_proxy_secondary",
      "shared_line": "vars.shared_line"
    },
    "keys": {
      "device_key_id": "@position",
      "device_key_type": ".type",
      "device_key_value": ".value",
      "device_key_extension": ".value",
      "device_key_label": ".label",
      "device_key_line": ".line"
    },
    "vars.keys.{name}": {
      "device_key_id": "@position",
      "device_key_type": ".type",
      "device_key_value": ".value",
      "device_key_extension": ".value",
      "device_key_label": ".label",
      "device_key_line": ".line"
    },
    "vars.contacts": {
      "{name}": ".{name}"
    }
  },
  "values": {
    "device_key_type": {"speed_dial": "speeddial", "check_voicemail": "dtmf"}
  },
  "vendors": {
    "algo": {"mac": "mac_upper", "address": "mac_upper", "device_address": "mac_upper"},
    "aastra": {"mac": "mac_upper", "address": "mac_upper", "device_address": "mac_upper"},
    "cisco": {"mac": "mac_upper", "address": "mac_upper", "device_address": "mac_upper"},
    "gigaset": {"mac": "mac_upper", "address": "mac_upper", "device_address": "mac_upper"}
  }
}"#;

/// What a collection (something `{foreach}` walks, or `{$account.1.…}` indexes) maps to.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Collection {
    /// The provedge path of the list.
    pub to: String,
    /// The FusionPBX index of its first element (`account.1` is `lines.0`).
    pub first: i64,
}

/// The whole table.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// FusionPBX variable → provedge path; of the patterns that match, the most specific (most
    /// literal characters) wins.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// FusionPBX list → provedge list.
    #[serde(default)]
    pub collections: BTreeMap<String, Collection>,
    /// For each provedge list, its elements' FusionPBX field → provedge path: `.field` of the
    /// element, `@position` (1-based), `=text` (a constant), or a path from the context's root.
    #[serde(default)]
    pub fields: BTreeMap<String, BTreeMap<String, String>>,
    /// FusionPBX field → (FusionPBX value → provedge value), for literals compared with it.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// Per vendor folder: variables mapped differently there.
    #[serde(default)]
    pub vendors: BTreeMap<String, BTreeMap<String, String>>,
}

/// A placeholder's value when a pattern matched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bound {
    pub n: Option<i64>,
    pub name: Option<String>,
}

impl Mapping {
    /// The built-in table.
    pub fn builtin() -> Mapping {
        serde_json::from_str(DEFAULT).unwrap_or_default()
    }

    /// The built-in table with a file's entries laid over it.
    pub fn with_overrides(json: &str) -> Result<Mapping, String> {
        let extra: Mapping = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let mut m = Mapping::builtin();
        m.variables.extend(extra.variables);
        m.collections.extend(extra.collections);
        for (list, fields) in extra.fields {
            m.fields.entry(list).or_default().extend(fields);
        }
        for (field, values) in extra.values {
            m.values.entry(field).or_default().extend(values);
        }
        for (vendor, vars) in extra.vendors {
            m.vendors.entry(vendor).or_default().extend(vars);
        }
        Ok(m)
    }

    /// The provedge path of a FusionPBX variable path, with the vendor's own entries first.
    pub fn variable(&self, vendor: &str, path: &str) -> Option<String> {
        let own = self.vendors.get(vendor).and_then(|v| lookup(v, path));
        own.or_else(|| lookup(&self.variables, path))
    }

    /// The collection a FusionPBX path names, and the placeholders it bound.
    pub fn collection(&self, path: &str) -> Option<(Collection, Bound)> {
        best(self.collections.iter(), path).map(|(c, b)| {
            let to = substitute(&c.to, &b);
            (Collection { to, first: c.first }, b)
        })
    }

    /// The target of a field of an element of the provedge list `list`.
    pub fn field(&self, list: &str, field: &str) -> Option<String> {
        let fields = self.fields.get(list).or_else(|| {
            // `vars.keys.memory` uses the entry written for `vars.keys.{name}`.
            self.fields
                .iter()
                .find(|(pattern, _)| matches(pattern, list).is_some())
                .map(|(_, f)| f)
        })?;
        lookup(fields, field)
    }

    /// A literal compared with `field`, in provedge's spelling.
    pub fn value<'a>(&'a self, field: &str, literal: &'a str) -> &'a str {
        self.values
            .get(field)
            .and_then(|v| v.get(literal))
            .map_or(literal, String::as_str)
    }
}

fn lookup(table: &BTreeMap<String, String>, path: &str) -> Option<String> {
    best(table.iter(), path).map(|(target, bound)| substitute(target, &bound))
}

/// The most specific matching pattern: the one with the most literal characters (an exact
/// entry beats `user_id_{n}`, which beats `{name}`).
fn best<'a, T: 'a>(
    entries: impl Iterator<Item = (&'a String, &'a T)>,
    path: &str,
) -> Option<(&'a T, Bound)> {
    entries
        .filter_map(|(pattern, value)| {
            let literal = pattern.replace("{n}", "").replace("{name}", "").len();
            matches(pattern, path).map(|b| (literal, value, b))
        })
        .max_by_key(|(literal, _, _)| *literal)
        .map(|(_, value, bound)| (value, bound))
}

/// Whether `path` fits `pattern` (`{n}` a number, `{name}` one name: letters, digits, `_`,
/// `-`), and what the placeholders are.
pub fn matches(pattern: &str, path: &str) -> Option<Bound> {
    let mut bound = Bound::default();
    let (mut p, mut s) = (pattern, path);
    loop {
        if p.is_empty() {
            return s.is_empty().then_some(bound);
        }
        if let Some(rest) = p.strip_prefix("{n}") {
            let digits = s.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            bound.n = Some(s[..digits].parse().ok()?);
            p = rest;
            s = &s[digits..];
        } else if let Some(rest) = p.strip_prefix("{name}") {
            // One name: no `.`, so `{name}` never swallows a path.
            let end = s
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(s.len());
            if end == 0 {
                return None;
            }
            bound.name = Some(s[..end].to_owned());
            p = rest;
            s = &s[end..];
        } else {
            let c = p.chars().next()?;
            if !s.starts_with(c) {
                return None;
            }
            p = &p[c.len_utf8()..];
            s = &s[c.len_utf8()..];
        }
    }
}

/// A target with its placeholders filled in.
pub fn substitute(target: &str, bound: &Bound) -> String {
    let mut out = target.to_owned();
    if let Some(n) = bound.n {
        out = out
            .replace("{n-1}", &(n - 1).to_string())
            .replace("{n}", &n.to_string());
    }
    if let Some(name) = &bound.name {
        out = out.replace("{name}", name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_table_parses_and_resolves() {
        let m = Mapping::builtin();
        assert!(!m.variables.is_empty());
        let cases = [
            ("yealink", "account.1.user_id", None),
            ("yealink", "user_id_2", Some("lines.1.user")),
            ("yealink", "mac", Some("mac")),
            ("algo", "mac", Some("mac_upper")),
            ("yealink", "yealink_rport", Some("vars.yealink_rport")),
            ("yealink", "domain_name", Some("vars.domain_name")),
        ];
        for (vendor, path, want) in cases {
            assert_eq!(m.variable(vendor, path).as_deref(), want, "{path}");
        }
        let (c, _) = m.collection("keys.memory").unwrap();
        assert_eq!(c.to, "vars.keys.memory");
        assert_eq!(m.collection("keys.line").unwrap().0.to, "keys");
        assert_eq!(
            m.field("vars.keys.memory", "device_key_label").unwrap(),
            ".label"
        );
        assert_eq!(m.field("lines", "user_id").unwrap(), ".user");
        assert_eq!(
            m.field("vars.contacts", "contact_name_given").unwrap(),
            ".contact_name_given"
        );
        assert_eq!(m.value("device_key_type", "speed_dial"), "speeddial");
    }

    #[test]
    fn overrides_replace_and_add() {
        let m = Mapping::with_overrides(
            r#"{"variables": {"domain_name": "vars.sip_domain", "x_{n}": "vars.x.{n}"}}"#,
        )
        .unwrap();
        assert_eq!(
            m.variable("snom", "domain_name").unwrap(),
            "vars.sip_domain"
        );
        assert_eq!(m.variable("snom", "x_7").unwrap(), "vars.x.7");
        assert!(Mapping::with_overrides(r#"{"variabels": {}}"#).is_err());
    }

    /// docs/fusionpbx.md documents the built-in table: every pattern in it is named there.
    #[test]
    fn the_documentation_names_every_builtin_entry() {
        let doc = include_str!("../../../docs/fusionpbx.md");
        let m = Mapping::builtin();
        let names = m
            .variables
            .keys()
            .chain(m.collections.keys())
            .chain(m.fields.values().flat_map(|f| f.keys()))
            .chain(m.values.values().flat_map(|v| v.keys()))
            .chain(m.vendors.keys());
        for name in names {
            assert!(
                doc.contains(&format!("`{name}`")),
                "docs/fusionpbx.md does not name `{name}`"
            );
        }
    }
}
