//! Device records: what the store knows about one phone.

use serde::{Deserialize, Serialize};

use crate::crypto::settings::Encryption;
use crate::mac::Mac;
use crate::model::Model;
use crate::vendor::Vendor;

/// One phone, as stored at `devices/<mac>.json`.
///
/// Unknown fields are refused: a misspelt `pasword` must fail loudly (a 5xx and a log line
/// naming the key) rather than silently provision a line without its password.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRecord {
    pub mac: Mac,
    pub vendor: Vendor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Model>,
    /// The tenant/profile whose variables apply (`vars/profiles/<profile>.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default)]
    pub lines: Vec<Line>,
    #[serde(default)]
    pub keys: Vec<LineKey>,
    /// Free-form variables; the last layer of [`super::Layers`].
    #[serde(default)]
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// How the device's files are encrypted; wins over an `encryption` variable. Checked when
    /// the record is read (a bad key is a malformed record, never plaintext). Never handed to
    /// templates: it holds the key.
    #[serde(default, skip_serializing)]
    pub encryption: Option<Encryption>,
    /// The device's URL tokens. Never handed to templates (they get `device_token` when the
    /// request may know it).
    #[serde(default, skip_serializing)]
    pub auth: Option<DeviceAuth>,
}

/// A device's URL tokens (see the policy's `url_tokens`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceAuth {
    /// The steady token: the device's own files, with their secrets.
    #[serde(default)]
    pub token: Option<UrlToken>,
    /// The device's own first-boot token: a stripped first-boot file that may name `token`.
    /// Rotate or remove it once the phone is provisioned.
    #[serde(default)]
    pub first_boot_token: Option<UrlToken>,
}

/// A URL token: compared in constant time, never printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct UrlToken(String);

impl UrlToken {
    /// Whether `presented` is this token, in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        subtle::ConstantTimeEq::ct_eq(self.0.as_bytes(), presented.as_bytes()).into()
    }

    /// The token itself, for the one place it is handed on: a template's `device_token`.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UrlToken {
    type Error = &'static str;
    /// A token is one non-empty path segment.
    fn try_from(s: String) -> Result<UrlToken, &'static str> {
        if s.is_empty() || s.contains(['/', '?', '#']) || s.chars().any(char::is_control) {
            return Err("a URL token is one non-empty path segment");
        }
        Ok(UrlToken(s))
    }
}

impl std::fmt::Debug for UrlToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlToken(<redacted>)")
    }
}

/// A SIP account on a line of the phone.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    /// SIP user (extension).
    pub user: String,
    /// Authentication id; defaults to `user`.
    #[serde(default)]
    pub auth_id: Option<String>,
    pub password: String,
    #[serde(default)]
    pub display_name: Option<String>,
    pub server: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default)]
    pub transport: Transport,
    /// Label on the phone's line key.
    #[serde(default)]
    pub label: Option<String>,
}

/// Debug without the password: records end up in logs and panics in development.
impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Line")
            .field("user", &self.user)
            .field("auth_id", &self.auth_id)
            .field("password", &"<redacted>")
            .field("server", &self.server)
            .field("port", &self.port)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

fn default_port() -> u16 {
    5060
}

/// SIP transport.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

/// A programmable key: BLF, speed dial, line appearance.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LineKey {
    #[serde(rename = "type")]
    pub kind: LineKeyKind,
    /// What the key dials or watches (an extension, a number).
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub label: Option<String>,
    /// The line (1-based) the key acts on.
    #[serde(default = "first_line")]
    pub line: u8,
}

fn first_line() -> u8 {
    1
}

/// What a programmable key does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LineKeyKind {
    Line,
    Blf,
    Speeddial,
    Park,
    Dtmf,
}

impl DeviceRecord {
    /// Parses a record, naming what is wrong (but never quoting values: they may be secrets).
    pub fn from_json(bytes: &[u8]) -> Result<DeviceRecord, String> {
        serde_json::from_slice(bytes).map_err(|e| {
            // Messages about field names are safe to show; messages about values ("unknown
            // variant `…`", "invalid type: string \"…\"") quote the value, which may be a secret.
            let msg = e.to_string();
            let about_fields = ["unknown field", "missing field", "duplicate field"]
                .iter()
                .any(|p| msg.starts_with(p));
            if e.is_data() && !about_fields {
                format!("invalid value at line {} column {}", e.line(), e.column())
            } else {
                msg
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_record_parses_and_debug_hides_passwords() {
        let rec = DeviceRecord::from_json(
            br#"{"mac":"00:0B:82:12:34:56","vendor":"grandstream","model":"GXP2170","profile":"office",
                 "lines":[{"user":"1001","password":"s3cret-pw","server":"pbx.example.com"}],
                 "keys":[{"type":"blf","value":"1002","label":"Bob"}],
                 "vars":{"ntp":"pool.ntp.org"}}"#,
        )
        .unwrap();
        assert_eq!(rec.mac.to_string(), "000b82123456");
        assert_eq!(rec.model.as_ref().unwrap().as_str(), "gxp2170");
        assert_eq!(rec.lines[0].port, 5060);
        assert_eq!(rec.keys[0].line, 1);
        assert!(!format!("{rec:?}").contains("s3cret-pw"));
    }

    #[test]
    fn typos_and_bad_values_are_refused_without_echoing_values() {
        let e = DeviceRecord::from_json(br#"{"mac":"000b82123456","vendor":"grandstream","lines":[{"user":"1","pasword":"x","server":"s"}]}"#).unwrap_err();
        assert!(e.contains("pasword"), "{e}");
        let e = DeviceRecord::from_json(br#"{"mac":"000b82123456","vendor":"grandstream","lines":[{"user":"1","password":"p","server":"s","transport":"hunter2"}]}"#).unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
