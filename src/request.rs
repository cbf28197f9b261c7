//! What a host hands the core: an HTTP request reduced to the parts provisioning needs.
//!
//! Hosts build a [`Request`] from whatever their runtime gives them (hyper's `Request`, proxy-wasm
//! header maps, a Workers `Request`). Nothing here is validated yet: limits and path rules are
//! enforced by the [`route`](crate::route) stage so every host refuses the same inputs the same way.

use std::fmt;
use std::net::IpAddr;

/// The request method, reduced to what phones use. Anything else is kept verbatim so the
/// refusal can name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Put,
    Post,
    Other(String),
}

impl Method {
    /// Parses a method token. Methods are case-sensitive in HTTP; `get` is not `GET`.
    pub fn parse(s: &str) -> Method {
        match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "PUT" => Method::Put,
            "POST" => Method::Post,
            other => Method::Other(other.to_owned()),
        }
    }

    /// The method as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Other(s) => s,
        }
    }

    /// True for methods that fetch a file (GET, HEAD).
    pub fn reads(&self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }

    /// True for methods that phones use to upload (PUT, POST).
    pub fn writes(&self) -> bool {
        matches!(self, Method::Put | Method::Post)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity a verified client certificate carries, as the host saw it. Only hosts that
/// terminated (or were told about) mutual TLS fill this in; the policy stage decides how far
/// to trust it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ClientIdentity {
    /// Subject distinguished name, e.g. `CN=000b82123456,O=Grandstream`.
    pub subject: String,
    /// Subject alternative names (DNS, URI, …) as strings.
    pub san: Vec<String>,
}

/// A request as the core sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The request target exactly as received: path and optional query, still percent-encoded.
    pub target: String,
    /// Header fields in arrival order; names are compared case-insensitively.
    pub headers: Vec<(String, String)>,
    /// The address of the direct peer, if the host knows it.
    pub peer: Option<IpAddr>,
    /// A verified client-certificate identity, if the host has one.
    pub client_identity: Option<ClientIdentity>,
}

impl Request {
    /// A request with no headers, peer or identity; add them with the builder methods.
    pub fn new(method: Method, target: impl Into<String>) -> Request {
        Request {
            method,
            target: target.into(),
            headers: Vec::new(),
            peer: None,
            client_identity: None,
        }
    }

    /// A `GET` of `target`.
    pub fn get(target: impl Into<String>) -> Request {
        Request::new(Method::Get, target)
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the direct peer address.
    pub fn with_peer(mut self, peer: IpAddr) -> Request {
        self.peer = Some(peer);
        self
    }

    /// Sets the verified client-certificate identity.
    pub fn with_identity(mut self, identity: ClientIdentity) -> Request {
        self.client_identity = Some(identity);
        self
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The User-Agent, if any.
    pub fn user_agent(&self) -> Option<&str> {
        self.header("user-agent")
    }

    /// The path part of the target (before `?`), still percent-encoded.
    pub fn raw_path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The query part of the target (after `?`), if any.
    pub fn raw_query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }
}
