//! The request path, decoded once and checked before anything matches on it.
//!
//! Refused here, so no later stage (nor an upstream in rewrite mode) ever sees them: over-long
//! targets, bytes that do not decode to UTF-8, NUL and other control characters, backslashes,
//! and `.`/`..` segments whether sent plainly or percent-encoded.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

use super::RouteError;

/// A decoded, checked request path, held as one string: its non-empty segments, each after a
/// `/` (`/a/b`, with a final `/` when the path names a directory, and `/` alone when it has no
/// segment). One string rather than a string per segment: the file name, a tail spanning
/// directories and the whole path are all slices of it, so routing allocates once for the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path {
    joined: String,
    /// Where the last segment starts in `joined`.
    last: usize,
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
        let mut joined = String::with_capacity(decoded.len() + 1);
        let mut last = 0;
        for seg in decoded.split('/') {
            match seg {
                "" => {}
                "." | ".." => return Err(RouteError::Traversal),
                s => {
                    joined.push('/');
                    last = joined.len();
                    joined.push_str(s);
                }
            }
        }
        let trailing_slash = decoded.ends_with('/');
        if trailing_slash || joined.is_empty() {
            joined.push('/');
        }
        Ok(Path {
            joined,
            last,
            trailing_slash,
        })
    }

    /// The segments, in order.
    fn segments(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.joined.split('/').filter(|s| !s.is_empty())
    }

    /// The file name: the last segment, unless the path names a directory.
    pub fn file_name(&self) -> Option<&str> {
        if self.trailing_slash {
            return None;
        }
        self.joined.get(self.last..).filter(|name| !name.is_empty())
    }

    /// The last `n` segments joined with `/` (for names that span a directory, such as
    /// Cisco's `Cisco/CP-8841-3PCC/<mac>.cfg`).
    pub fn tail(&self, n: usize) -> Option<&str> {
        if self.trailing_slash || n == 0 {
            return None;
        }
        // The n-th `/` from the end starts the tail; segments are never empty, so each `/`
        // begins one.
        let (start, _) = self.joined.rmatch_indices('/').nth(n - 1)?;
        self.joined.get(start + 1..)
    }

    /// The directory segments before the file name, nearest the root first.
    pub fn directories(&self) -> impl DoubleEndedIterator<Item = &str> {
        let mut segments = self.segments();
        if !self.trailing_slash {
            segments.next_back();
        }
        segments
    }

    /// The whole decoded path, `/`-joined with a leading `/`.
    pub fn joined(&self) -> &str {
        &self.joined
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
        assert_eq!(p.directories().collect::<Vec<_>>(), ["prov", "yealink"]);
        assert_eq!(p.tail(1), Some("0015651234560.cfg"));
        assert_eq!(p.tail(2), Some("yealink/0015651234560.cfg"));
        assert_eq!(p.tail(3), Some("prov/yealink/0015651234560.cfg"));
        assert_eq!(p.tail(4), None);
        assert_eq!(p.joined(), "/prov/yealink/0015651234560.cfg");
        let doubled = Path::parse("//prov//cfg.xml", 1024).unwrap();
        assert_eq!(doubled.joined(), "/prov/cfg.xml");
        assert_eq!(doubled.tail(2), Some("prov/cfg.xml"));
        let root = Path::parse("/", 1024).unwrap();
        assert_eq!((root.file_name(), root.joined()), (None, "/"));
        assert_eq!(root.directories().count(), 0);
        let dir = Path::parse("/app/provision/", 1024).unwrap();
        assert_eq!(dir.file_name(), None);
        assert_eq!(dir.joined(), "/app/provision/");
        assert_eq!(dir.directories().collect::<Vec<_>>(), ["app", "provision"]);
        assert_eq!(dir.tail(1), None);
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
