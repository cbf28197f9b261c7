//! The HTTPS listener's TLS (`server.tls`): rustls on the `ring` provider, TLS 1.3 and 1.2 (many
//! phones speak only 1.2), HTTP/1.1 by ALPN.
//!
//! Certificates and keys are read once, at start, and a bad one stops the start naming its key
//! (`server.tls.cert: server.pem: No such file or directory`). With `client_ca`, rustls' WebPKI
//! verifier checks the phone's certificate against it during the handshake: a certificate it does
//! not verify fails the handshake in every mode, so only a verified end-entity certificate ever
//! becomes a request's identity ([`super::cert_identity`]). rustls implements no CBC or static-RSA
//! suites: a phone offering only those cannot connect.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::config::{ClientCert, TlsConfig};
use super::http::State;
use super::logging::{rfc3339, shorten, TlsFailure};

/// Builds the acceptor from `server.tls`; errors name the key and the file.
pub fn acceptor(config: &TlsConfig) -> Result<TlsAcceptor, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(&config.cert).map_err(|e| format!("server.tls.cert: {e}"))?;
    let key = private_key(&config.key).map_err(|e| format!("server.tls.key: {e}"))?;
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("server.tls: {e}"))?;
    let builder = match (&config.client_ca, config.client_cert()) {
        (Some(path), mode @ (ClientCert::Optional | ClientCert::Required)) => {
            let at = |e: String| format!("server.tls.client_ca: {e}");
            let mut roots = RootCertStore::empty();
            for ca in certificates(path).map_err(at)? {
                roots
                    .add(ca)
                    .map_err(|e| at(format!("{}: {e}", path.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match mode {
                ClientCert::Optional => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| at(e.to_string()))?)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut server = builder.with_single_cert(chain, key).map_err(|e| {
        format!(
            "server.tls.key: {} with the certificate of {}: {e}",
            config.key.display(),
            config.cert.display()
        )
    })?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// Every certificate of a PEM file, at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let at = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let pem = std::fs::read(path).map_err(|e| at(&e))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| at(&e))?;
    if certs.is_empty() {
        return Err(at(&"no CERTIFICATE in the file"));
    }
    Ok(certs)
}

/// The first private key of a PEM file. Messages never quote the file.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let at = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let pem = std::fs::read(path).map_err(|e| at(&e))?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => at(&"no PRIVATE KEY in the file"),
        _ => at(&"not a PEM private key"),
    })
}

/// Runs the handshake within `header_read_timeout_ms`, or until shutdown. A failure (a scanner,
/// plain HTTP on the TLS port, an unknown CA, no certificate where one is required) ends this
/// connection only: one JSON line on the access log and a count in `/metrics`.
pub async fn handshake(
    state: &State,
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    peer: IpAddr,
    stopping: impl std::future::Future<Output = ()>,
) -> Option<TlsStream<TcpStream>> {
    let began = Instant::now();
    let failed = |reason: &str| {
        state.metrics.tls_handshake_failed();
        state.log.log(&TlsFailure {
            time: rfc3339(SystemTime::now()),
            client: peer,
            tls: "handshake failed",
            note: shorten(reason, 200),
            duration_us: u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX),
        });
    };
    let limit = state.config.header_read_timeout();
    tokio::select! {
        done = tokio::time::timeout(limit, acceptor.accept(tcp)) => match done {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(e)) => {
                failed(&e.to_string());
                None
            }
            Err(_) => {
                failed("handshake not finished in time");
                None
            }
        },
        () = stopping => None,
    }
}
