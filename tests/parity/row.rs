//! The parity table's vocabulary: a row (one request), what it expects (status, headers,
//! body), the known differences of a host, and the builders `table.rs` writes its rows with.

#![allow(dead_code)]

/// The hosts the table runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// `provedge serve` over a folder.
    Native,
    /// The proxy-wasm filter in Envoy, over an HTTP origin serving the folder.
    Envoy,
    /// The Worker in workerd, over KV seeded from the folder.
    Worker,
}

impl Host {
    pub fn name(self) -> &'static str {
        match self {
            Host::Native => "native",
            Host::Envoy => "envoy",
            Host::Worker => "worker",
        }
    }
}

/// Headers checked on every row; a row that does not name one expects it absent.
pub const MATTER: &[&str] = &[
    "etag",
    "cache-control",
    "content-type",
    "content-range",
    "www-authenticate",
];

/// Content types and the cache-control of files for one phone.
pub const XML: &str = "text/xml; charset=utf-8";
pub const TEXT: &str = "text/plain; charset=utf-8";
pub const BIN: &str = "application/octet-stream";
pub const ZIP: &str = "application/zip";
pub const PRIVATE: &str = "private, no-store";

/// A request header's value.
#[derive(Clone, Debug)]
pub enum Value {
    Text(&'static str),
    /// The `etag` this host answered to an earlier row.
    EtagOf(&'static str),
    /// Digest credentials (RFC 7616, `qop=auth`) for this row's method and target, answering
    /// the challenge this host gave in an earlier row as a phone would: its SHA-256 challenge,
    /// or its MD5 one when it offers no SHA-256.
    Digest {
        challenge: &'static str,
        user: &'static str,
        password: &'static str,
    },
}

/// What follows the request head.
#[derive(Clone, Debug)]
pub enum Payload {
    None,
    Bytes(&'static [u8]),
    /// A `Content-Length` of this many bytes and no body at all: a host must answer on the
    /// declaration alone.
    DeclaredOnly(u64),
}

/// An expected response header.
#[derive(Clone, Debug)]
pub enum Header {
    Is(&'static str),
    /// `*` stands for any run of characters (a Digest nonce, which carries the time).
    Like(&'static str),
    /// Present, with any value (a store's own validator).
    Present,
    Absent,
    /// The strong ETag of the expected body: its XXH3-128 in hex, quoted.
    BodyEtag,
    /// The value this host gave the same header in an earlier row.
    SameAs(&'static str),
}

/// The expected body, from outside the hosts.
#[derive(Clone, Debug)]
pub enum Body {
    Empty,
    Text(&'static str),
    /// A file of `tests/golden`.
    Golden(&'static str),
    /// A file of the parity store, as stored.
    Stored(&'static str),
    /// Bytes `start..=end` of a file of the parity store.
    StoredRange(&'static str, usize, usize),
    /// What `provedge render --config CONFIG` gives for this target and User-Agent over the
    /// parity store.
    Render(&'static str, Option<&'static str>),
    /// What `provedge render` (no configuration) gives over a tenant's folder as the store:
    /// what the tenant's phones get once admitted.
    RenderIn(&'static str, &'static str, Option<&'static str>),
    /// The lower-case hex MD5 of another expected body (an Algo checksum file).
    Md5Of(Box<Body>),
    /// Text where `*` stands for any run of characters: for a refusal that names a number a
    /// host legitimately changes (a proxy adds headers of its own before the engine counts).
    Like(&'static str),
}

/// The answer a row expects.
#[derive(Clone, Debug)]
pub struct Expect {
    pub status: u16,
    pub headers: Vec<(&'static str, Header)>,
    pub body: Body,
}

/// One request and the answer every host must give.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: &'static str,
    pub method: &'static str,
    pub target: &'static str,
    /// `Host` (default `provedge.test`).
    pub host: &'static str,
    pub headers: Vec<(&'static str, Value)>,
    pub payload: Payload,
    pub expect: Expect,
    /// What hosts answer otherwise today.
    pub known: Vec<Known>,
}

/// A known difference: on `host`, these `parts` of the answer (`"status"`, `"body"`, a header
/// name, or `"*"` for the whole answer) differ from the row's expectation, because of `why`.
#[derive(Clone, Debug)]
pub struct Known {
    pub host: Host,
    pub parts: &'static [&'static str],
    pub why: &'static str,
}

impl Row {
    pub fn new(name: &'static str, method: &'static str, target: &'static str) -> Row {
        Row {
            name,
            method,
            target,
            host: "provedge.test",
            headers: Vec::new(),
            payload: Payload::None,
            expect: Expect {
                status: 200,
                headers: Vec::new(),
                body: Body::Empty,
            },
            known: Vec::new(),
        }
    }

    pub fn ua(self, ua: &'static str) -> Row {
        self.header("User-Agent", Value::Text(ua))
    }

    pub fn header(mut self, name: &'static str, value: Value) -> Row {
        self.headers.push((name, value));
        self
    }

    pub fn host(mut self, host: &'static str) -> Row {
        self.host = host;
        self
    }

    pub fn payload(mut self, payload: Payload) -> Row {
        self.payload = payload;
        self
    }

    /// The status and body; headers as named by the calls that follow.
    pub fn answers(mut self, status: u16, body: Body) -> Row {
        self.expect.status = status;
        self.expect.body = body;
        self
    }

    /// Expects `name` as `header` (replacing an earlier expectation of it).
    pub fn with(mut self, name: &'static str, header: Header) -> Row {
        self.expect.headers.retain(|(n, _)| *n != name);
        self.expect.headers.push((name, header));
        self
    }

    /// A rendered file for one phone: its type, its strong ETag, and kept by no shared cache.
    /// That is a device's own file, and any file rendered for a request that names its MAC
    /// (a model or generic file asked by a phone whose User-Agent names it): its variables
    /// may be in it.
    pub fn private(self, content_type: &'static str) -> Row {
        self.shared(content_type)
            .with("cache-control", Header::Is(PRIVATE))
    }

    /// A rendered file for any phone (a model or generic file asked without a MAC), or an
    /// Algo checksum: its type and strong ETag, no cache-control.
    pub fn shared(self, content_type: &'static str) -> Row {
        self.with("content-type", Header::Is(content_type))
            .with("etag", Header::BodyEtag)
    }

    /// A stored file streamed as it is: its type, the store's validator, byte ranges.
    pub fn streamed(self, content_type: &'static str) -> Row {
        self.with("content-type", Header::Is(content_type))
            .with("etag", Header::Present)
            .with("accept-ranges", Header::Is("bytes"))
    }

    /// A refusal: plain text saying only why (never a secret).
    pub fn refused(self, status: u16, text: &'static str) -> Row {
        self.answers(status, Body::Text(text))
            .with("content-type", Header::Is(TEXT))
    }

    /// A refusal whose text holds a number hosts legitimately change ([`Body::Like`]).
    pub fn refused_like(self, status: u16, pattern: &'static str) -> Row {
        self.answers(status, Body::Like(pattern))
            .with("content-type", Header::Is(TEXT))
    }

    /// `host` answers these `parts` otherwise today, because of `why`.
    pub fn known(mut self, host: Host, parts: &'static [&'static str], why: &'static str) -> Row {
        self.known.push(Known { host, parts, why });
        self
    }
}

pub fn get(name: &'static str, target: &'static str) -> Row {
    Row::new(name, "GET", target)
}

pub fn head(name: &'static str, target: &'static str) -> Row {
    Row::new(name, "HEAD", target)
}

pub fn put(name: &'static str, target: &'static str, body: &'static [u8]) -> Row {
    Row::new(name, "PUT", target).payload(Payload::Bytes(body))
}
