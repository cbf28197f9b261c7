//! Rewrite mode: the engine names the canonical key and the server forwards the request there,
//! on `server.upstream`, streaming the answer back.
//!
//! One upstream connection per request (HTTP/1.1 through hyper's client): rewrite mode fronts
//! an object store or another web server on the same host or network, where a connect costs
//! less than keeping a pool honest.

use std::net::IpAddr;

use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::config::Upstream;
use super::http::Body;

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

fn end_to_end(name: &HeaderName) -> bool {
    !HOP_BY_HOP.contains(&name.as_str())
        && name != header::TRANSFER_ENCODING
        && name != header::HOST
}

/// Forwards `method target` with the client's end-to-end headers; the error is a log note.
pub async fn forward(
    upstream: &Upstream,
    method: Method,
    target: &str,
    headers: &HeaderMap,
    peer: IpAddr,
) -> Result<Response<Incoming>, String> {
    let stream = TcpStream::connect(&upstream.authority)
        .await
        .map_err(|e| format!("upstream {}: connect: {}", upstream.authority, e.kind()))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("upstream {}: {e}", upstream.authority))?;
    tokio::spawn(async move {
        // Ends when the response body is read or dropped.
        let _ = conn.await;
    });
    let mut req = Request::builder()
        .method(method)
        .uri(format!("{}{}", upstream.base, target))
        .body(Body::empty())
        .map_err(|e| format!("upstream request: {e}"))?;
    let out = req.headers_mut();
    for (name, value) in headers {
        if end_to_end(name) {
            out.append(name, value.clone());
        }
    }
    if let Ok(host) = HeaderValue::from_str(&upstream.authority) {
        out.insert(header::HOST, host);
    }
    if let Ok(peer) = HeaderValue::from_str(&peer.to_string()) {
        out.append(HeaderName::from_static("x-forwarded-for"), peer);
    }
    let mut resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("upstream {}: {e}", upstream.authority))?;
    let names: Vec<HeaderName> = resp
        .headers()
        .keys()
        .filter(|n| HOP_BY_HOP.contains(&n.as_str()) || *n == header::TRANSFER_ENCODING)
        .cloned()
        .collect();
    for name in names {
        resp.headers_mut().remove(name);
    }
    Ok(resp)
}
