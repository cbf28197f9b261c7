//! The request path, decoded once and checked before anything matches on it.
//!
//! Refused here, so no later stage (nor an upstream in rewrite mode) ever sees them: over-long
//! targets, bytes that do not decode to UTF-8, NUL and other control characters, backslashes,
//! and `.`/`..` segments whether sent plainly or percent-encoded.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

use super::RouteError;

/// A decoded, checked request path: its non-empty segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path {
    segments: Vec<String>,
    /// The path ended in `/` (a directory, not a file).
    trailing_slash: bool,
}

impl Path {
    /// Decodes and checks the path part of a request target.
    pub fn parse(raw: &str, max_len: usize) -> Result<Path, RouteError> {
        if raw.len() > max_len {
            return Err(RouteError::PathTooLong {
                len: raw.len(),
                max: max_len,
            });
        }
        let raw = strip_absolute_form(raw);
        if !raw.starts_with('/') {
            return Err(RouteError::BadTarget("the path must start with '/'"));
        }
        let decoded: Cow<'_, str> = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| RouteError::BadTarget("the path is not UTF-8 once decoded"))?;
        if decoded.chars().any(|c| c.is_control()) {
            return Err(RouteError::BadTarget("the path holds a control character"));
        }
        if decoded.contains('\\') {
            return Err(RouteError::Traversal);
        }
        let mut segments = Vec::new();
        for seg in decoded.split('/') {
            match seg {
                "" => {}
                "." | ".." => return Err(RouteError::Traversal),
                s => segments.push(s.to_owned()),
            }
        }
        Ok(Path {
            trailing_slash: decoded.ends_with('/'),
            segments,
        })
    }

    /// The file name: the last segment, unless the path names a directory.
    pub fn file_name(&self) -> Option<&str> {
        if self.trailing_slash {
            return None;
        }
        self.segments.last().map(String::as_str)
    }

    /// The last `n` segments joined with `/` (for names that span a directory, such as
    /// Cisco's `Cisco/CP-8841-3PCC/<mac>.cfg`).
    pub fn tail(&self, n: usize) -> Option<String> {
        if self.trailing_slash || n == 0 {
            return None;
        }
        let start = self.segments.len().checked_sub(n)?;
        self.segments.get(start..).map(|tail| tail.join("/"))
    }

    /// The directory segments before the file name.
    pub fn directories(&self) -> &[String] {
        if self.trailing_slash {
            return &self.segments;
        }
        self.segments.split_last().map_or(&[], |(_, dirs)| dirs)
    }

    /// The whole decoded path, `/`-joined with a leading `/`.
    pub fn joined(&self) -> String {
        let mut s = String::new();
        for seg in &self.segments {
            s.push('/');
            s.push_str(seg);
        }
        if self.trailing_slash || s.is_empty() {
            s.push('/');
        }
        s
    }
}

/// Proxies may pass `http://host/path`; only the path matters here.
fn strip_absolute_form(raw: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if raw
            .get(..scheme.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(scheme))
        {
            let rest = &raw[scheme.len()..];
            return rest.find('/').map_or("/", |i| &rest[i..]);
        }
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_splits() {
        let p = Path::parse("/prov/yealink/%30015651234560.cfg", 1024).unwrap();
        assert_eq!(p.file_name(), Some("0015651234560.cfg"));
        assert_eq!(p.directories(), ["prov", "yealink"]);
        assert_eq!(p.tail(2).as_deref(), Some("yealink/0015651234560.cfg"));
        let dir = Path::parse("/app/provision/", 1024).unwrap();
        assert_eq!(dir.file_name(), None);
        assert_eq!(dir.joined(), "/app/provision/");
        assert_eq!(
            Path::parse("http://pbx/cfg.xml", 1024).unwrap().file_name(),
            Some("cfg.xml")
        );
    }

    #[test]
    fn refuses_traversal_and_junk() {
        for bad in [
            "/../etc/passwd",
            "/a/%2e%2e/b",
            "/a/%2E%2E%2fb",
            "/a/..%5cb",
            "/a%00.cfg",
            "/a%0d%0a",
            "/%ff.cfg",
            "cfg.xml",
            "/a/./b",
        ] {
            assert!(Path::parse(bad, 1024).is_err(), "{bad}");
        }
        assert!(matches!(
            Path::parse(&format!("/{}", "a".repeat(2000)), 1024),
            Err(RouteError::PathTooLong { .. })
        ));
    }
}
