//! Where a URL token sits in the path: right after a fixed prefix (`url_tokens.path_prefix`).
//!
//! Tancredi (NethVoice) serves its phones at `/provisioning/<token>/<file>`, and the phones of a
//! fleet moved from it keep that URL in their configuration: provedge must find the token after
//! `/provisioning`, not in the first segment.

use serde::Deserialize;

/// A path prefix of whole segments: `/provisioning`, `/prov/phones`. Stored without a trailing
/// `/`; each segment non-empty, not `.` or `..`, without `?`, `#`, `%` or control characters, so
/// a request matches it byte for byte or not at all (no decoding can make another path equal).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct TokenPrefix(String);

impl TokenPrefix {
    /// The target after the prefix (starting with `/`), or `None` when the target is not under it.
    pub fn strip<'t>(&self, target: &'t str) -> Option<&'t str> {
        target
            .strip_prefix(self.0.as_str())
            .filter(|rest| rest.starts_with('/'))
    }

    /// The prefix as configured, without the trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How many path segments the prefix holds.
    pub fn segments(&self) -> usize {
        self.0.matches('/').count()
    }
}

impl TryFrom<String> for TokenPrefix {
    type Error = String;

    fn try_from(s: String) -> Result<TokenPrefix, String> {
        let trimmed = s.trim_end_matches('/');
        let Some(inner) = trimmed.strip_prefix('/') else {
            return Err(format!("url_tokens.path_prefix {s:?} must start with `/`"));
        };
        let bad_segment = |seg: &str| {
            seg.is_empty()
                || seg == "."
                || seg == ".."
                || seg.contains(['?', '#', '%'])
                || seg.chars().any(char::is_control)
        };
        if inner.split('/').any(bad_segment) {
            return Err(format!(
                "url_tokens.path_prefix {s:?} must be whole path segments (`/provisioning`): \
                 none empty, `.` or `..`, none with `?`, `#`, `%` or control characters"
            ));
        }
        Ok(TokenPrefix(trimmed.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(s: &str) -> Result<TokenPrefix, String> {
        TokenPrefix::try_from(s.to_owned())
    }

    #[test]
    fn strips_whole_segments_only() {
        let p = prefix("/provisioning/").unwrap();
        assert_eq!(p.as_str(), "/provisioning");
        assert_eq!(p.strip("/provisioning/tok/a.cfg"), Some("/tok/a.cfg"));
        assert_eq!(p.strip("/provisioning"), None);
        assert_eq!(p.strip("/provisioningX/tok/a.cfg"), None);
        assert_eq!(p.strip("/Provisioning/tok/a.cfg"), None);
        assert_eq!(p.strip("/tok/a.cfg"), None);
        assert_eq!(p.segments(), 1);
        assert_eq!(prefix("/a/b").unwrap().segments(), 2);
    }

    #[test]
    fn refuses_what_is_not_a_prefix_of_segments() {
        for bad in [
            "",
            "/",
            "provisioning",
            "/a//b",
            "/a/../b",
            "/./a",
            "/a%2fb",
            "/a?b",
            "/a#",
        ] {
            assert!(prefix(bad).is_err(), "{bad:?} accepted");
        }
    }
}
