//! A device model name, normalised so that `GXP2170`, `gxp2170` and `GXP 2170` compare equal
//! only where they should: lower case, whitespace collapsed to `-`, nothing outside `[a-z0-9._+-]`.

use std::fmt;

/// The longest model name accepted; real ones are under 20 characters.
const MAX_LEN: usize = 32;

/// A normalised model name such as `gxp2170`, `t46s`, `vvx400`, `cp-8841-3pcc`, `8188`.
///
/// Held inline (at most [`MAX_LEN`] ASCII bytes) rather than on the heap: a route carries up to
/// two models and the engine clones remembered routes on every request, so copying a model
/// must not allocate.
#[derive(Clone, Copy)]
pub struct Model {
    len: u8,
    bytes: [u8; MAX_LEN],
}

impl Model {
    /// Normalises a model as a vendor spells it. `None` when nothing usable is left or the name
    /// is implausibly long (it came from a User-Agent, i.e. from the client).
    pub fn new(raw: &str) -> Option<Model> {
        let mut model = Model {
            len: 0,
            bytes: [0; MAX_LEN],
        };
        let mut pending_dash = false;
        for c in raw.trim().chars() {
            if c.is_whitespace() {
                pending_dash = model.len > 0;
                continue;
            }
            let c = c.to_ascii_lowercase();
            if !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')) {
                return None;
            }
            if pending_dash {
                model.push(b'-')?;
                pending_dash = false;
            }
            // Checked above: `c` is ASCII.
            model.push(c as u8)?;
        }
        (model.len > 0).then_some(model)
    }

    /// Appends an ASCII byte; `None` past [`MAX_LEN`].
    fn push(&mut self, b: u8) -> Option<()> {
        *self.bytes.get_mut(usize::from(self.len))? = b;
        self.len += 1;
        Some(())
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever pushed, so both fallbacks are unreachable.
        let bytes = self.bytes.get(..usize::from(self.len)).unwrap_or_default();
        std::str::from_utf8(bytes).unwrap_or_default()
    }
}

impl PartialEq for Model {
    fn eq(&self, other: &Model) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Model {}

impl PartialOrd for Model {
    fn partial_cmp(&self, other: &Model) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Model {
    fn cmp(&self, other: &Model) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for Model {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Model({})", self.as_str())
    }
}

impl serde::Serialize for Model {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
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
