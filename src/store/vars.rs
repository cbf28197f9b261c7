//! Layered variables: global → vendor → model → tenant/profile → device, later wins.
//!
//! Objects merge key by key, recursively; any other value (string, number, array) replaces the
//! earlier one whole, so a device can override one P-value without restating the vendor's map.

use serde_json::{Map, Value};

/// The layers, in precedence order (later wins). Each is a JSON object, or absent. Borrowed:
/// the parsed layers are shared (the engine parses a variable file once per change of its
/// bytes, the device's own come with its record), and merging copies only what it must.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Layers<'a> {
    pub global: Option<&'a Map<String, Value>>,
    pub vendor: Option<&'a Map<String, Value>>,
    pub model: Option<&'a Map<String, Value>>,
    pub profile: Option<&'a Map<String, Value>>,
    pub device: Option<&'a Map<String, Value>>,
}

impl<'a> Layers<'a> {
    /// The layers present, in precedence order.
    pub fn present(&self) -> impl Iterator<Item = &'a Map<String, Value>> {
        [
            self.global,
            self.vendor,
            self.model,
            self.profile,
            self.device,
        ]
        .into_iter()
        .flatten()
    }

    /// The merged result.
    pub fn merged(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for layer in self.present() {
            merge(&mut out, layer);
        }
        out
    }

    /// The merged value of one top-level key, without merging everything else.
    pub fn merged_key(&self, key: &str) -> Option<Value> {
        let mut out: Option<Value> = None;
        for layer in self.present() {
            let Some(v) = layer.get(key) else { continue };
            match (&mut out, v) {
                (Some(Value::Object(base)), Value::Object(over)) => merge(base, over),
                _ => out = Some(v.clone()),
            }
        }
        out
    }
}

/// Merges `over` into `base`: objects recursively, everything else replaced.
pub fn merge(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Name parts that make a variable secret wherever it sits: `sip_password`, `admin_passwd`,
/// `api_secret`, `ldap_token`.
const SECRET_NAME_PARTS: [&str; 4] = ["password", "passwd", "secret", "token"];

/// Whether a variable's name says it holds a secret (any case, any depth).
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAME_PARTS.iter().any(|part| lower.contains(part))
}

/// Replaces with `mask` the variables named by `paths` (dotted: `pvalues.P34`, the policy's
/// `url_tokens.secret_vars`) and every variable, at any depth, whose name says it is a secret
/// ([`is_secret_name`]). First-boot files blank them (`""`); the native server's fleet page
/// shows `••••••`: one notion of a secret variable for both.
pub fn mask_secrets(vars: &mut Value, paths: &[String], mask: &str) {
    for path in paths {
        let mut at = Some(&mut *vars);
        for part in path.split('.') {
            at = at.and_then(|v| v.get_mut(part));
        }
        if let Some(v) = at {
            *v = Value::String(mask.to_owned());
        }
    }
    mask_secret_names(vars, mask);
}

fn mask_secret_names(value: &mut Value, mask: &str) {
    match value {
        Value::Object(map) => {
            for (name, v) in map.iter_mut() {
                if is_secret_name(name) {
                    *v = Value::String(mask.to_owned());
                } else {
                    mask_secret_names(v, mask);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask_secret_names(v, mask)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn one_key_merges_like_the_whole() {
        let vendor = obj(json!({"encryption": {"scheme": "openssl", "password": "v"}, "x": 1}));
        let device = obj(json!({"encryption": {"password": "d"}}));
        let layers = Layers {
            vendor: Some(&vendor),
            device: Some(&device),
            ..Layers::default()
        };
        assert_eq!(
            layers.merged_key("encryption"),
            layers.merged().get("encryption").cloned()
        );
        assert_eq!(
            layers.merged_key("encryption"),
            Some(json!({"scheme": "openssl", "password": "d"}))
        );
        assert_eq!(layers.merged_key("nope"), None);
    }

    #[test]
    fn later_layers_win_and_objects_merge() {
        let global =
            obj(json!({"ntp": "global", "tz": "UTC", "pvalues": {"P30": "a", "P64": "x"}}));
        let vendor = obj(json!({"ntp": "vendor", "pvalues": {"P30": "b"}}));
        let model = obj(json!({"tz": "model"}));
        let profile = obj(json!({"ntp": "profile", "list": [1, 2]}));
        let device = obj(json!({"pvalues": {"P64": "device"}, "list": [3]}));
        let layers = Layers {
            global: Some(&global),
            vendor: Some(&vendor),
            model: Some(&model),
            profile: Some(&profile),
            device: Some(&device),
        };
        assert_eq!(
            Value::Object(layers.merged()),
            json!({"ntp": "profile", "tz": "model", "pvalues": {"P30": "b", "P64": "device"}, "list": [3]})
        );
    }

    #[test]
    fn secrets_are_masked_by_name_at_any_depth_and_by_path() {
        let mut vars = json!({
            "ntp": "pool.ntp.org",
            "Admin_Password": "a",
            "encryption": {"scheme": "openssl", "password": "e"},
            "accounts": [{"sip_passwd": "p", "user": "1001"}],
            "pvalues": {"P34": "sip", "P35": "1001"},
            "api_token": {"nested": "t"}
        });
        mask_secrets(
            &mut vars,
            &["pvalues.P34".into(), "missing.path".into()],
            "•",
        );
        assert_eq!(
            vars,
            json!({
                "ntp": "pool.ntp.org",
                "Admin_Password": "•",
                "encryption": {"scheme": "openssl", "password": "•"},
                "accounts": [{"sip_passwd": "•", "user": "1001"}],
                "pvalues": {"P34": "•", "P35": "1001"},
                "api_token": "•"
            })
        );
        assert!(is_secret_name("ldapSecret") && !is_secret_name("label"));
    }
}
