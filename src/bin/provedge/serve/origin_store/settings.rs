//! `--store http(s)://host[:port][/prefix]` and `--store s3://bucket[/prefix]`, with the
//! `server.origin`, `server.origin_cache` and `server.s3` settings, checked at start into the
//! core's [`Origin`] (what to send for a key, how to read the answer) and the address to
//! connect to.
//!
//! An S3 bucket is read path-style (`<endpoint>/<bucket>/<key>`), which every S3-compatible
//! server answers (MinIO, Ceph RGW, moto, R2's S3 API) and AWS still serves, signed with the
//! core's SigV4. Credentials come from `server.s3` or, when it names none, from the standard
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` (and `AWS_REGION` /
//! `AWS_DEFAULT_REGION`), so a secret need not sit in the configuration file.

use std::path::PathBuf;

use hyper::Uri;
use provedge::origin::Auth;
use provedge::{Origin, OriginConfig};
use serde::Deserialize;

/// `server.origin`: how an origin store is asked. Every key is optional.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OriginSettings {
    /// One read (connect, answer and body of a device record or template), or the answer head
    /// of a streamed file, must come within this time; a slower origin counts as failed.
    pub timeout_ms: u64,
    /// Largest object read whole (device records, variables, templates); larger is a failure.
    /// Streamed files (firmware, tones, images) are never read whole and have no such bound.
    pub max_object_bytes: usize,
    /// Statuses that mean "no such object" (an S3 bucket without ListBucket answers 403).
    pub missing_statuses: Vec<u16>,
    /// `Authorization: Bearer <token>` on every request to an `http(s)://` store.
    pub bearer_token: Option<Secret>,
    /// CA certificates (PEM bundle) an `https://` store's certificate must chain to, instead of
    /// the public web roots (a private origin with its own CA).
    pub ca_file: Option<PathBuf>,
}

impl Default for OriginSettings {
    fn default() -> OriginSettings {
        let core = OriginConfig::new("default");
        OriginSettings {
            timeout_ms: core.timeout_ms,
            max_object_bytes: core.max_object_bytes,
            missing_statuses: core.missing_statuses,
            bearer_token: None,
            ca_file: None,
        }
    }
}

/// `server.origin_cache`: the core's one-tier cache settings (a single process needs no
/// shared tier: every event loop reads the same map).
pub use provedge::origin::cache::LocalCacheSettings as OriginCacheSettings;

/// `server.s3`: the S3 API behind `--store s3://…`. Every key is optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Settings {
    /// Base URL of the S3 API (`http://127.0.0.1:9000` for a local MinIO); default
    /// `https://s3.<region>.amazonaws.com`.
    pub endpoint: Option<String>,
    /// Signing region; default `AWS_REGION`, `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// Default `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// Default `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<Secret>,
    /// For temporary credentials; default `AWS_SESSION_TOKEN`.
    pub session_token: Option<Secret>,
}

/// A secret setting: never shown (its `Debug` is redacted).
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// What `--store` names.
#[derive(Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// An HTTP(S) server holding the store's keys under a path prefix.
    Http {
        tls: bool,
        authority: String,
        prefix: String,
    },
    /// An S3 bucket, with a key prefix.
    S3 { bucket: String, prefix: String },
}

impl StoreUrl {
    /// `Ok(None)` for anything that is not a URL this server reads (a folder path).
    pub fn parse(arg: &str) -> Result<Option<StoreUrl>, String> {
        if let Some(rest) = arg.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid = (3..=63).contains(&bucket.len())
                && bucket
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b));
            if !valid {
                return Err("--store s3://BUCKET: a bucket name is 3 to 63 of a-z 0-9 . -".into());
            }
            return Ok(Some(StoreUrl::S3 {
                bucket: bucket.to_owned(),
                prefix: clean_prefix(prefix)?,
            }));
        }
        let tls = if arg.starts_with("https://") {
            true
        } else if arg.starts_with("http://") {
            false
        } else {
            return Ok(None);
        };
        // Messages never echo the URL: it could carry credentials.
        let uri: Uri = arg
            .parse()
            .map_err(|e| format!("--store: not a URL ({e})"))?;
        let authority = uri.authority().ok_or("--store: the URL has no host")?;
        if authority.as_str().contains('@') {
            return Err("--store: credentials in the URL are not supported (use \
                        server.origin.bearer_token or server.s3)"
                .into());
        }
        if uri.query().is_some() {
            return Err("--store: the URL must not have a query".into());
        }
        Ok(Some(StoreUrl::Http {
            tls,
            authority: authority.as_str().to_owned(),
            prefix: clean_prefix(uri.path())?,
        }))
    }
}

/// A key prefix as a path: `/a/b`, or empty; no `.`/`..` segments, printable ASCII.
fn clean_prefix(prefix: &str) -> Result<String, String> {
    let segments: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
    let bad = |s: &&str| {
        *s == "." || *s == ".." || !s.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b'%')
    };
    if segments.iter().any(bad) {
        return Err("--store: the prefix must be plain path segments".into());
    }
    Ok(segments.iter().map(|s| format!("/{s}")).collect())
}

/// Where to connect and what to send: the core's origin, and the transport to reach it.
pub struct Resolved {
    pub origin: Origin,
    /// `host:port` to connect to.
    pub connect: String,
    /// TLS, with the server name to verify.
    pub tls: Option<String>,
}

/// The environment, read once (a function so tests can hand in their own).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Checks `url` with the settings; errors name the setting (`server.s3.access_key_id: …`).
pub fn resolve(
    url: &StoreUrl,
    origin: &OriginSettings,
    s3: &S3Settings,
    env: Env<'_>,
) -> Result<Resolved, String> {
    let (tls, authority, prefix, auth) = match url {
        StoreUrl::Http {
            tls,
            authority,
            prefix,
        } => {
            let auth = match &origin.bearer_token {
                Some(Secret(token)) => Auth::Bearer {
                    token: token.clone(),
                },
                None => Auth::None,
            };
            (*tls, authority.clone(), prefix.clone(), auth)
        }
        StoreUrl::S3 { bucket, prefix } => {
            let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
            let region = nonempty(s3.region.clone())
                .or_else(|| nonempty(env("AWS_REGION")))
                .or_else(|| nonempty(env("AWS_DEFAULT_REGION")))
                .unwrap_or_else(|| "us-east-1".into());
            let access_key_id = nonempty(s3.access_key_id.clone())
                .or_else(|| nonempty(env("AWS_ACCESS_KEY_ID")))
                .ok_or(
                    "server.s3.access_key_id: needed for an s3:// store (or AWS_ACCESS_KEY_ID)",
                )?;
            let secret_access_key = nonempty(s3.secret_access_key.clone().map(|s| s.0))
                .or_else(|| nonempty(env("AWS_SECRET_ACCESS_KEY")))
                .ok_or(
                    "server.s3.secret_access_key: needed for an s3:// store \
                     (or AWS_SECRET_ACCESS_KEY)",
                )?;
            let session_token = nonempty(s3.session_token.clone().map(|s| s.0))
                .or_else(|| nonempty(env("AWS_SESSION_TOKEN")));
            let endpoint = s3
                .endpoint
                .clone()
                .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
            let Some(StoreUrl::Http {
                tls,
                authority,
                prefix: base,
            }) = StoreUrl::parse(&endpoint).map_err(|e| {
                format!("server.s3.endpoint: {}", e.trim_start_matches("--store: "))
            })?
            else {
                return Err("server.s3.endpoint: must be an http:// or https:// URL".into());
            };
            let auth = Auth::Sigv4 {
                access_key_id,
                secret_access_key,
                session_token,
                region,
                service: "s3".into(),
            };
            (tls, authority, format!("{base}/{bucket}{prefix}"), auth)
        }
    };
    let uri: Uri = format!("http://{authority}/")
        .parse()
        .map_err(|e| format!("--store: bad host ({e})"))?;
    let host = uri.host().unwrap_or_default().to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    // An IPv6 literal keeps its brackets to connect; the TLS name goes without them.
    let connect = format!("{host}:{port}");
    let server_name = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let config = OriginConfig {
        upstream: connect.clone(),
        authority,
        prefix,
        timeout_ms: origin.timeout_ms,
        auth,
        max_object_bytes: origin.max_object_bytes,
        missing_statuses: origin.missing_statuses.clone(),
    };
    let origin = Origin::new(config).map_err(|e| e.within("server.origin").to_string())?;
    Ok(Resolved {
        origin,
        connect,
        tls: tls.then_some(server_name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn store_urls() {
        assert_eq!(StoreUrl::parse("examples/store"), Ok(None));
        assert_eq!(
            StoreUrl::parse("s3://prov-store/site/a/"),
            Ok(Some(StoreUrl::S3 {
                bucket: "prov-store".into(),
                prefix: "/site/a".into()
            }))
        );
        assert_eq!(
            StoreUrl::parse("https://store.example:8443/p/"),
            Ok(Some(StoreUrl::Http {
                tls: true,
                authority: "store.example:8443".into(),
                prefix: "/p".into()
            }))
        );
        for bad in [
            "s3://A",
            "s3://ab",
            "http://user:pw@host/",
            "http://host/?q",
            "http://host/a/../b",
            "http:///x",
        ] {
            let err = StoreUrl::parse(bad).unwrap_err();
            assert!(!err.contains("pw"), "{err}");
        }
    }

    #[test]
    fn s3_credentials_from_settings_or_env() {
        let url = StoreUrl::parse("s3://bucket/pre").unwrap().unwrap();
        let origin = OriginSettings::default();
        let missing = resolve(&url, &origin, &S3Settings::default(), &no_env);
        assert!(missing.is_err_and(|e| e.starts_with("server.s3.access_key_id: ")));
        let env = |name: &str| match name {
            "AWS_ACCESS_KEY_ID" => Some("AKID".to_owned()),
            "AWS_SECRET_ACCESS_KEY" => Some("secret".to_owned()),
            "AWS_REGION" => Some("eu-west-1".to_owned()),
            _ => None,
        };
        let s3 = S3Settings {
            endpoint: Some("http://127.0.0.1:5000".into()),
            ..S3Settings::default()
        };
        let resolved = resolve(&url, &origin, &s3, &env).unwrap();
        assert_eq!(resolved.connect, "127.0.0.1:5000");
        assert_eq!(resolved.tls, None);
        assert_eq!(resolved.origin.prefix(), "/bucket/pre");
        let key = provedge::StoreKey::new("vars/global.json").unwrap();
        let get = resolved.origin.get(&key, None, 0);
        assert!(get
            .headers
            .iter()
            .any(|(n, v)| *n == "authorization" && v.contains("AKID/19700101/eu-west-1/s3/")));
        // The default endpoint is AWS's, over TLS.
        let aws = resolve(&url, &origin, &S3Settings::default(), &env).unwrap();
        assert_eq!(aws.connect, "s3.eu-west-1.amazonaws.com:443");
        assert_eq!(aws.tls.as_deref(), Some("s3.eu-west-1.amazonaws.com"));
    }
}
