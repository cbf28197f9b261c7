//! Layered variables: global → vendor → model → tenant/profile → device, later wins.
//!
//! Objects merge key by key, recursively; any other value (string, number, array) replaces the
//! earlier one whole, so a device can override one P-value without restating the vendor's map.

use serde_json::{Map, Value};

/// The layers, in precedence order (later wins). Each is a JSON object, or absent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layers {
    pub global: Option<Map<String, Value>>,
    pub vendor: Option<Map<String, Value>>,
    pub model: Option<Map<String, Value>>,
    pub profile: Option<Map<String, Value>>,
    pub device: Option<Map<String, Value>>,
}

impl Layers {
    /// The merged result.
    pub fn merged(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for layer in [
            &self.global,
            &self.vendor,
            &self.model,
            &self.profile,
            &self.device,
        ]
        .into_iter()
        .flatten()
        {
            merge(&mut out, layer);
        }
        out
    }
}

impl Layers {
    /// The merged value of one top-level key, without merging everything else.
    pub fn merged_key(&self, key: &str) -> Option<Value> {
        let mut out: Option<Value> = None;
        for layer in [
            &self.global,
            &self.vendor,
            &self.model,
            &self.profile,
            &self.device,
        ]
        .into_iter()
        .flatten()
        {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Option<Map<String, Value>> {
        v.as_object().cloned()
    }

    #[test]
    fn one_key_merges_like_the_whole() {
        let layers = Layers {
            vendor: obj(json!({"encryption": {"scheme": "openssl", "password": "v"}, "x": 1})),
            device: obj(json!({"encryption": {"password": "d"}})),
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
        let layers = Layers {
            global: obj(json!({"ntp": "global", "tz": "UTC", "pvalues": {"P30": "a", "P64": "x"}})),
            vendor: obj(json!({"ntp": "vendor", "pvalues": {"P30": "b"}})),
            model: obj(json!({"tz": "model"})),
            profile: obj(json!({"ntp": "profile", "list": [1, 2]})),
            device: obj(json!({"pvalues": {"P64": "device"}, "list": [3]})),
        };
        assert_eq!(
            Value::Object(layers.merged()),
            json!({"ntp": "profile", "tz": "model", "pvalues": {"P30": "b", "P64": "device"}, "list": [3]})
        );
    }
}
