//! Whole responses and what a store read found: the vocabulary the pipeline, the policy and
//! the engine share (kept apart from all three, so none of them imports another for it).

use crate::mac::Mac;

/// A complete response. Never partial: the body is produced whole before a decision is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// A line for the host's log (never sent to the client): names the store key and the fault
    /// behind a 5xx. Built without secrets.
    pub note: Option<String>,
    /// The device this answer is for, when the engine knows it (its record was read, or a
    /// client certificate proved it): the only MAC a host may record as seen. A MAC a request
    /// merely claims (a User-Agent, a path) is not one.
    pub device: Option<Mac>,
    /// The tenant the request was admitted to (`None`: the default tenant, or refused before a
    /// tenant was chosen).
    pub tenant: Option<std::sync::Arc<str>>,
}

impl Response {
    /// No status yet, no headers, no body: the base of the constructors below.
    pub(crate) fn empty() -> Response {
        Response {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
            note: None,
            device: None,
            tenant: None,
        }
    }

    /// A 200 with a strong ETag computed from exactly these bytes.
    pub fn ok(body: Vec<u8>, content_type: &str) -> Response {
        let etag = etag(&body);
        Response::ok_tagged(body, content_type, etag)
    }

    /// A 200 whose ETag is already known (from the render cache).
    pub(crate) fn ok_tagged(body: Vec<u8>, content_type: &str, etag: String) -> Response {
        Response {
            headers: vec![
                ("content-type".into(), content_type.into()),
                ("etag".into(), etag),
            ],
            body,
            ..Response::empty()
        }
    }

    /// A fault on our side: a 5xx with no body, and `note` for the log.
    pub fn fault(status: u16, note: String) -> Response {
        Response {
            status,
            note: Some(note),
            ..Response::empty()
        }
    }

    /// A plain-text refusal or error. `reason` must not hold secrets; callers pass messages
    /// built from the route stage, which quotes only file names.
    pub fn text(status: u16, reason: &str) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: format!("{reason}\n").into_bytes(),
            ..Response::empty()
        }
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the host found under one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The bytes, shared with the host's cache ([`crate::Blob`]).
    Found(crate::Blob),
    Missing,
    /// The store could not answer (down, timed out). The reason goes to the log, not the client.
    Failed(String),
}

/// Turns a 200 into a 304 when the client already holds exactly these bytes (phones re-check
/// every few minutes; this is most of the traffic). `If-None-Match` compares weakly (RFC 9110
/// §13.1.2): `W/"x"` matches `"x"`, and `*` matches any current file.
pub(crate) fn conditional(resp: Response, if_none_match: Option<&str>) -> Response {
    let (Some(header), 200) = (if_none_match, resp.status) else {
        return resp;
    };
    let Some(etag) = resp.header("etag") else {
        return resp;
    };
    if !crate::object::etag_matches(header, etag) {
        return resp;
    }
    let headers = resp
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("etag") || n.eq_ignore_ascii_case("cache-control"))
        .cloned()
        .collect();
    Response {
        status: 304,
        headers,
        device: resp.device,
        tenant: resp.tenant,
        ..Response::empty()
    }
}

/// A strong ETag: the XXH3-128 of exactly the bytes served, as 32 hex digits in quotes.
///
/// A validator needs to tell versions of one file apart, not to resist a forger: whoever
/// chooses the bytes is the operator, and the phone holds the body anyway. XXH3 reads a 20 KiB
/// file in about a microsecond where SHA-256 took 6 natively and far more in wasm, and this
/// runs on every rendered answer.
pub(crate) fn etag(body: &[u8]) -> String {
    etag_of_digest(xxhash_rust::xxh3::xxh3_128(body))
}

/// [`etag`] from the digest of the bytes, when it is known already: a [`crate::Blob`] the
/// host shared carries it ([`crate::Blob::digest`] is the same XXH3-128), so a stored file
/// served from a host's cache is not hashed again for its ETag.
pub(crate) fn etag_of_digest(hash: u128) -> String {
    // Written by hand: `format!("{:032x}")` of a u128 goes through the formatter and grows its
    // string several times, on every render.
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for shift in (0..32).rev() {
        let digit = (hash >> (shift * 4)) as u8 & 0xf;
        tag.push(char::from(match digit {
            0..=9 => b'0' + digit,
            _ => b'a' + digit - 10,
        }));
    }
    tag.push('"');
    tag
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The hand-written hex is the formatter's: ETags served before it stay valid.
        #[test]
        fn etag_is_the_formatted_hash(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let want = format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(&body));
            prop_assert_eq!(super::etag(&body), want);
        }

        /// A blob's ETag, from its kept digest, is the ETag of its bytes.
        #[test]
        fn a_blob_etag_is_its_bytes_etag(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let blob = crate::Blob::from(body.as_slice());
            prop_assert_eq!(super::etag_of_digest(blob.digest()), super::etag(&body));
        }
    }
}
