//! Why a request was not routed, with the HTTP status each reason deserves.

use std::fmt;

use crate::mac::MacError;
use crate::request::Method;
use crate::vendor::Vendor;

/// A refusal of the route stage. Every variant is the client's doing, so every status is 4xx.
/// Messages quote only the file name (never headers or query values, which may carry secrets),
/// cut to a readable length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// The request target is not a usable origin-form path.
    BadTarget(&'static str),
    /// A `.`/`..` segment or a backslash, plain or percent-encoded.
    Traversal,
    /// The target is longer than the configured limit.
    PathTooLong { len: usize, max: usize },
    /// One header value is longer than the configured limit.
    HeaderTooLarge { max: usize },
    /// More header fields than the configured limit.
    TooManyHeaders { count: usize, max: usize },
    /// A name has a vendor's shape but its MAC is malformed.
    InvalidMac { found: String, error: MacError },
    /// The query form named a MAC that does not parse.
    InvalidQueryMac { error: MacError },
    /// The method is not one this file accepts.
    MethodNotAllowed {
        method: Method,
        allow: &'static [&'static str],
    },
    /// No vendor asks for a file of this name.
    Unrecognised { file: String },
    /// Several vendors ask for this name and nothing says which phone this is.
    Ambiguous { file: String, vendors: Vec<Vendor> },
}

impl RouteError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            RouteError::BadTarget(_)
            | RouteError::Traversal
            | RouteError::InvalidMac { .. }
            | RouteError::InvalidQueryMac { .. } => 400,
            RouteError::PathTooLong { .. } => 414,
            RouteError::HeaderTooLarge { .. } | RouteError::TooManyHeaders { .. } => 431,
            RouteError::MethodNotAllowed { .. } => 405,
            RouteError::Unrecognised { .. } | RouteError::Ambiguous { .. } => 404,
        }
    }
}

/// Quotes client text safely: at most 64 characters, escaped.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cut: String = self.0.chars().take(64).collect();
        if cut.len() < self.0.len() {
            write!(f, "{:?}…", cut)
        } else {
            write!(f, "{:?}", cut)
        }
    }
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::BadTarget(why) => write!(f, "bad request target: {why}"),
            RouteError::Traversal => f.write_str("path traversal refused"),
            RouteError::PathTooLong { len, max } => {
                write!(f, "request target is {len} bytes, over the limit of {max}")
            }
            RouteError::HeaderTooLarge { max } => {
                write!(f, "a header value is over the limit of {max} bytes")
            }
            RouteError::TooManyHeaders { count, max } => {
                write!(f, "{count} header fields, over the limit of {max}")
            }
            RouteError::InvalidMac { found, error } => {
                write!(f, "invalid MAC {} in file name: {error}", Quoted(found))
            }
            RouteError::InvalidQueryMac { error } => write!(f, "invalid MAC in the query: {error}"),
            RouteError::MethodNotAllowed { method, allow } => {
                write!(
                    f,
                    "method {} not allowed here (allowed: {})",
                    Quoted(method.as_str()),
                    allow.join(", ")
                )
            }
            RouteError::Unrecognised { file } => write!(f, "no vendor requests {}", Quoted(file)),
            RouteError::Ambiguous { file, vendors } if vendors.is_empty() => write!(
                f,
                "{}: no User-Agent, OUI or configured default names the vendor",
                Quoted(file)
            ),
            RouteError::Ambiguous { file, vendors } => {
                let names: Vec<&str> = vendors.iter().map(|v| v.name()).collect();
                write!(
                    f,
                    "{} could be {}; no User-Agent, OUI or configured default says which",
                    Quoted(file),
                    names.join(" or ")
                )
            }
        }
    }
}

impl std::error::Error for RouteError {}
