//! A device model name, normalised so that `GXP2170`, `gxp2170` and `GXP 2170` compare equal
//! only where they should: lower case, whitespace collapsed to `-`, nothing outside `[a-z0-9._+-]`.

use std::fmt;

/// The longest model name accepted; real ones are under 20 characters.
const MAX_LEN: usize = 32;

/// A normalised model name such as `gxp2170`, `t46s`, `vvx400`, `cp-8841-3pcc`, `8188`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Model(String);

impl Model {
    /// Normalises a model as a vendor spells it. `None` when nothing usable is left or the name
    /// is implausibly long (it came from a User-Agent, i.e. from the client).
    pub fn new(raw: &str) -> Option<Model> {
        let mut out = String::with_capacity(raw.len());
        let mut pending_dash = false;
        for c in raw.trim().chars() {
            if c.is_whitespace() {
                pending_dash = !out.is_empty();
                continue;
            }
            let c = c.to_ascii_lowercase();
            if !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')) {
                return None;
            }
            if pending_dash {
                out.push('-');
                pending_dash = false;
            }
            out.push(c);
        }
        (!out.is_empty() && out.len() <= MAX_LEN).then_some(Model(out))
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Model({})", self.0)
    }
}

impl serde::Serialize for Model {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Model {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Model, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Model::new(&s).ok_or_else(|| serde::de::Error::custom(format_args!("invalid model {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::Model;

    #[test]
    fn normalises_case_and_spaces() {
        assert_eq!(Model::new("GXP2170").unwrap().as_str(), "gxp2170");
        assert_eq!(
            Model::new(" N870  IP PRO ").unwrap().as_str(),
            "n870-ip-pro"
        );
        assert_eq!(Model::new("CP-8841-3PCC").unwrap().as_str(), "cp-8841-3pcc");
        assert!(Model::new("").is_none());
        assert!(Model::new("a/b").is_none());
        assert!(Model::new(&"x".repeat(33)).is_none());
    }
}
