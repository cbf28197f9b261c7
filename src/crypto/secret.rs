//! Secrets that cannot leak through `Debug`.
//!
//! Settings structs derive `Debug` so they can be logged while debugging a deployment; the
//! secrets inside them are wrapped in types whose `Debug` prints `<redacted>`, so no derive
//! anywhere can print a password by accident. None of them implements `Display` or `Serialize`.

use std::fmt;

use serde::Deserialize;

use super::KeyError;

/// A non-empty password, held as the exact bytes OpenSSL would hash.
///
/// `openssl enc -pass pass:…` uses the raw bytes of its argument, so a password is bytes, not
/// text: a UTF-8 password from JSON and the same password typed into a shell derive the same key.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Password(Vec<u8>);

impl Password {
    /// Accepts any non-empty byte string.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, KeyError> {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self(bytes))
    }

    /// The bytes that go into the key derivation.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl TryFrom<String> for Password {
    type Error = KeyError;
    fn try_from(s: String) -> Result<Self, KeyError> {
        Self::new(s.into_bytes())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}
