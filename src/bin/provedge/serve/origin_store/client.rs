//! The HTTP/1.1 client an origin store is read with: hyper's client connection over TCP, or
//! over rustls (ring, TLS 1.3 and 1.2) for `https://` origins, verified against the public web
//! roots or `server.origin.ca_file`.
//!
//! One connection per request, as rewrite mode's proxy does: the core's cache answers most
//! reads without the origin, a round's reads go out together, and a streamed file keeps its
//! connection for as long as the phone takes to read it.

use std::path::Path;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue, HOST};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use provedge::{Origin, OriginRequest};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Sends requests to one origin.
pub struct OriginClient {
    /// `host:port`.
    connect: String,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl OriginClient {
    /// A client for `connect`, over TLS when `tls` names the server; `ca_file` replaces the
    /// public roots. Errors name the setting.
    pub fn new(
        connect: String,
        tls: Option<&str>,
        ca_file: Option<&Path>,
    ) -> Result<OriginClient, String> {
        let Some(name) = tls else {
            return Ok(OriginClient { connect, tls: None });
        };
        let mut roots = rustls::RootCertStore::empty();
        match ca_file {
            Some(path) => {
                let at = |e: String| format!("server.origin.ca_file: {}: {e}", path.display());
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                    .map_err(|e| at(e.to_string()))?
                    .collect::<Result<_, _>>()
                    .map_err(|e| at(e.to_string()))?;
                if certs.is_empty() {
                    return Err(at("no certificate in it".into()));
                }
                for cert in certs {
                    roots.add(cert).map_err(|e| at(e.to_string()))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("--store: TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server = ServerName::try_from(name.to_owned())
            .map_err(|e| format!("--store: TLS server name: {e}"))?;
        Ok(OriginClient {
            connect,
            tls: Some((TlsConnector::from(Arc::new(config)), server)),
        })
    }

    /// Sends `req` (the core's) with `extra` headers (the phone's `Range` and the like) and
    /// `body`; the error is a log reason. The caller bounds the time.
    pub async fn send(
        &self,
        origin: &Origin,
        req: &OriginRequest,
        extra: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Response<Incoming>, String> {
        let mut request = Request::builder()
            .method(req.method)
            .uri(req.path.as_str())
            .body(Full::new(body))
            .map_err(|e| format!("request: {e}"))?;
        let headers = request.headers_mut();
        let host = HeaderValue::from_str(origin.authority()).map_err(|e| format!("host: {e}"))?;
        headers.insert(HOST, host);
        for (name, value) in &req.headers {
            let bad = |e: String| format!("{name}: {e}");
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| bad(e.to_string()))?;
            let value = HeaderValue::from_str(value).map_err(|e| bad(e.to_string()))?;
            headers.insert(name, value);
        }
        for (name, value) in extra {
            headers.insert(name, value.clone());
        }
        let tcp = TcpStream::connect(&self.connect)
            .await
            .map_err(|e| format!("connect to {}: {}", self.connect, e.kind()))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => exchange(tcp, request).await,
            Some((connector, name)) => {
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| format!("TLS with {}: {e}", self.connect))?;
                exchange(tls, request).await
            }
        }
    }
}

/// One request on a new connection; the connection lives until the answer's body is read or
/// dropped.
async fn exchange<I>(io: I, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, String>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
        .send_request(request)
        .await
        .map_err(|e| format!("HTTP: {e}"))
}
