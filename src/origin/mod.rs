//! Origin stores: the store's objects read from an HTTP server or an S3-compatible bucket
//! instead of a folder or a key-value binding, for every host that has one (the proxy-wasm
//! filter always; the native server with `--store http(s)://…` or `s3://…`).
//!
//! Sans-IO like the rest of the core: this module says which request a host must send for a key
//! ([`Origin::get`], [`Origin::get_piece`], [`Origin::put`], [`Origin::stream`]: path, validators,
//! `Range`, SigV4 or bearer authentication), what the answer means ([`answer::classify`],
//! [`checksum::classify_piece`]) and what is remembered of it ([`cache::Cache`]: TTL, negative
//! entries, revalidation, stale-if-error). The host sends the request however it sends
//! requests, with the time it reads from its own clock, and hands the answer back.
//!
//! | module | what |
//! |---|---|
//! | [`cache`] | the two-tier object cache and what an answer does to it ([`cache::Cache::settle`]) |
//! | [`answer`] | what an answer to a GET means: object, absence, 304, failure |
//! | [`checksum`] | digests of stored files remembered per version; `Range` pieces |
//! | [`sigv4`] | AWS Signature Version 4 |

pub mod answer;
pub mod cache;
pub mod checksum;
pub mod sigv4;

use serde::Deserialize;

use crate::config::ConfigError;
use crate::key::StoreKey;
use cache::Entry;
use checksum::Asked;
use sigv4::Credentials;

/// Where a store's objects come from (`origin` in the proxy-wasm filter's configuration; the
/// native server builds one from `--store URL` and `server.origin` / `server.s3`). Checked
/// into an [`Origin`] by [`Origin::new`].
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginConfig {
    /// The host's name for where requests go: an Envoy cluster, `host:port` under
    /// ngx_wasm_module, the address the native server connects to.
    pub upstream: String,
    /// `Host` (`:authority`) sent to the origin, and signed; defaults to `upstream`.
    #[serde(default)]
    pub authority: String,
    /// Path prefix of the store on the origin (`/bucket` for a path-style S3 bucket).
    #[serde(default)]
    pub prefix: String,
    /// Per-request timeout.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub auth: Auth,
    /// Largest object read whole (device records, templates); a larger answer is an origin
    /// failure. Also the piece size when a host sums a stored file in `Range` pieces.
    #[serde(default = "default_max_object_bytes")]
    pub max_object_bytes: usize,
    /// Origin statuses that mean "no such object" (S3 without ListBucket answers 403).
    #[serde(default = "default_missing")]
    pub missing_statuses: Vec<u16>,
}

fn default_timeout_ms() -> u64 {
    2000
}

fn default_max_object_bytes() -> usize {
    1 << 20
}

fn default_missing() -> Vec<u16> {
    vec![404, 410]
}

impl OriginConfig {
    /// The defaults for an origin reached at `upstream`.
    pub fn new(upstream: impl Into<String>) -> OriginConfig {
        OriginConfig {
            upstream: upstream.into(),
            authority: String::new(),
            prefix: String::new(),
            timeout_ms: default_timeout_ms(),
            auth: Auth::None,
            max_object_bytes: default_max_object_bytes(),
            missing_statuses: default_missing(),
        }
    }
}

impl std::fmt::Debug for OriginConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OriginConfig")
            .field("upstream", &self.upstream)
            .field("authority", &self.authority)
            .field("prefix", &self.prefix)
            .field("timeout_ms", &self.timeout_ms)
            .field("auth", &self.auth)
            .field("max_object_bytes", &self.max_object_bytes)
            .field("missing_statuses", &self.missing_statuses)
            .finish()
    }
}

/// How a host authenticates to the origin.
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Auth {
    /// Nothing (a private origin, or Envoy's `aws_request_signing` on the cluster).
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer { token: String },
    /// AWS SigV4, signed by the core.
    Sigv4 {
        access_key_id: String,
        secret_access_key: String,
        #[serde(default)]
        session_token: Option<String>,
        region: String,
        #[serde(default = "default_service")]
        service: String,
    },
}

fn default_service() -> String {
    "s3".into()
}

/// Names the kind only: configurations get logged, secrets must not be.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer { .. } => f.write_str("Bearer(…)"),
            Auth::Sigv4 {
                access_key_id,
                region,
                ..
            } => write!(f, "Sigv4({access_key_id}, {region}, …)"),
        }
    }
}

/// A checked [`OriginConfig`]: what hosts ask for the requests to send and the rules to apply
/// to the answers.
#[derive(Clone, Debug)]
pub struct Origin {
    config: OriginConfig,
    credentials: Option<Credentials>,
}

/// One request a host must send to the origin. The host adds `Host` (or `:authority`) from
/// [`Origin::authority`], the body where there is one, and its transport's own headers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a request is what the host must send"]
pub struct OriginRequest {
    pub method: &'static str,
    /// Percent-encoded, the prefix included.
    pub path: String,
    /// Authentication, validators, `Range`, content type: every header the origin must get.
    pub headers: Vec<(&'static str, String)>,
}

/// Headers of a phone's request a host must not pass on when it forwards the request to the
/// origin ([`Origin::stream`]): the phone's credentials are for provedge, not for the store,
/// and signing headers are the host's alone.
pub const NOT_FORWARDED: [&str; 5] = [
    "authorization",
    "cookie",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
];

impl Origin {
    /// Checks `config`; the error names the key, relative to the origin's section (hosts add
    /// theirs with [`ConfigError::within`]).
    pub fn new(mut config: OriginConfig) -> Result<Origin, ConfigError> {
        let err = |key: &str, reason: &str| ConfigError {
            key: key.into(),
            reason: reason.into(),
        };
        if config.upstream.trim().is_empty() {
            return Err(err("upstream", "empty"));
        }
        if config.authority.is_empty() {
            config.authority = config.upstream.clone();
        }
        let prefix = config.prefix.trim_end_matches('/');
        if !prefix.is_empty() && !prefix.starts_with('/') {
            return Err(err("prefix", "must start with '/'"));
        }
        config.prefix = prefix.to_owned();
        if !(1..=60_000).contains(&config.timeout_ms) {
            return Err(err("timeout_ms", "must be 1..=60000"));
        }
        if config.max_object_bytes == 0 {
            return Err(err("max_object_bytes", "must be above 0"));
        }
        let credentials = match &config.auth {
            Auth::None => None,
            Auth::Bearer { token } => {
                let header_safe = token.bytes().all(|b| (0x21..0x7f).contains(&b));
                if token.is_empty() || !header_safe {
                    return Err(err(
                        "auth.bearer.token",
                        "must be printable ASCII, not empty",
                    ));
                }
                None
            }
            Auth::Sigv4 {
                access_key_id,
                secret_access_key,
                session_token,
                region,
                service,
            } => {
                if [access_key_id, secret_access_key, region, service]
                    .iter()
                    .any(|s| s.is_empty())
                {
                    return Err(err("auth.sigv4", "every field must be set"));
                }
                Some(Credentials {
                    access_key_id: access_key_id.clone(),
                    secret_access_key: secret_access_key.clone(),
                    session_token: session_token.clone(),
                    region: region.clone(),
                    service: service.clone(),
                })
            }
        };
        let safe = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
        if !safe(&config.authority) || !safe(&config.prefix) {
            return Err(err(
                "authority",
                "authority and prefix must be printable ASCII",
            ));
        }
        Ok(Origin {
            config,
            credentials,
        })
    }

    /// Where the host sends requests (see [`OriginConfig::upstream`]).
    pub fn upstream(&self) -> &str {
        &self.config.upstream
    }

    /// The `Host` (`:authority`) to send.
    pub fn authority(&self) -> &str {
        &self.config.authority
    }

    /// The store's path prefix on the origin (no trailing `/`; empty for the root).
    pub fn prefix(&self) -> &str {
        &self.config.prefix
    }

    /// How long one request may take.
    pub fn timeout_ms(&self) -> u64 {
        self.config.timeout_ms
    }

    /// Largest object read whole; the piece size of a sum in `Range` pieces.
    pub fn max_object_bytes(&self) -> usize {
        self.config.max_object_bytes
    }

    /// Whether the origin's `status` means "no such object".
    pub fn is_missing(&self, status: u16) -> bool {
        self.config.missing_statuses.contains(&status)
    }

    /// The origin's path for a store key: the prefix, then the key percent-encoded (template
    /// names hold `@`, file names `+`, `(`, …).
    pub fn path(&self, key: &str) -> String {
        sigv4::encode_path(&format!("{}/{key}", self.config.prefix))
    }

    /// The GET of `key`, conditional on the validators of `stale` when it holds an object (a
    /// 304 then renews it; see [`cache::Cache::settle`]).
    pub fn get(&self, key: &StoreKey, stale: Option<&Entry>, unix_secs: u64) -> OriginRequest {
        let mut req = self.request("GET", key, None, unix_secs);
        if let Some(stale) = stale.filter(|e| e.body.is_some()) {
            if let Some(etag) = &stale.etag {
                req.headers.push(("if-none-match", etag.clone()));
            }
            if let Some(date) = &stale.last_modified {
                req.headers.push(("if-modified-since", date.clone()));
            }
        }
        req
    }

    /// The GET of one piece of `key`'s object (see [`checksum::classify_piece`]).
    pub fn get_piece(&self, key: &StoreKey, asked: Asked, unix_secs: u64) -> OriginRequest {
        let mut req = self.request("GET", key, None, unix_secs);
        req.headers.push(("range", asked.header()));
        req
    }

    /// The PUT of an upload's `body` under `key`. The body is signed whole (SigV4 hashes it),
    /// which the engine's upload cap keeps small.
    pub fn put(&self, key: &StoreKey, body: &[u8], unix_secs: u64) -> OriginRequest {
        let mut req = self.request("PUT", key, Some(body), unix_secs);
        req.headers
            .push(("content-type", "application/octet-stream".into()));
        req
    }

    /// The request that fetches a streamed file (`Decision::Stream`) for a phone's GET (or
    /// HEAD, with `head`): the host forwards the phone's `Range`, `If-Range`,
    /// `If-None-Match` and `If-Modified-Since` with it (unsigned, as SigV4 allows), never
    /// the headers in [`NOT_FORWARDED`], and streams the answer's body through.
    pub fn stream(&self, key: &StoreKey, head: bool, unix_secs: u64) -> OriginRequest {
        let method = if head { "HEAD" } else { "GET" };
        self.request(method, key, None, unix_secs)
    }

    fn request(
        &self,
        method: &'static str,
        key: &StoreKey,
        body: Option<&[u8]>,
        unix_secs: u64,
    ) -> OriginRequest {
        let path = self.path(key.as_str());
        let headers = self.auth_headers(method, &path, body, unix_secs);
        OriginRequest {
            method,
            path,
            headers,
        }
    }

    /// Headers that authenticate a `method` of `path` (already encoded) with `body` (none for
    /// GET and HEAD) to the origin.
    fn auth_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        unix_secs: u64,
    ) -> Vec<(&'static str, String)> {
        match (&self.config.auth, &self.credentials) {
            (Auth::Bearer { token }, _) => vec![("authorization", format!("Bearer {token}"))],
            (Auth::Sigv4 { .. }, Some(creds)) => {
                let hash = body.map_or_else(|| sigv4::EMPTY_SHA256.to_owned(), sigv4::sha256_hex);
                sigv4::request_headers(
                    creds,
                    method,
                    &self.config.authority,
                    path,
                    &hash,
                    unix_secs,
                )
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An origin from its JSON configuration.
    pub(crate) fn origin(json: &str) -> Origin {
        Origin::new(serde_json::from_str(json).unwrap()).unwrap()
    }

    fn key(s: &str) -> StoreKey {
        StoreKey::new(s).unwrap()
    }

    #[test]
    fn paths_validators_and_pieces() {
        let o = origin(r#"{"upstream": "s", "prefix": "/b/"}"#);
        assert_eq!(o.authority(), "s");
        assert_eq!(
            o.path("templates/polycom/@mac-phone.cfg"),
            "/b/templates/polycom/%40mac-phone.cfg"
        );
        let plain = o.get(&key("vars/global.json"), None, 0);
        assert_eq!(
            (plain.method, plain.path.as_str()),
            ("GET", "/b/vars/global.json")
        );
        assert!(plain.headers.is_empty());
        let stale = Entry {
            body: Some(b"{}".into()),
            etag: Some("\"e\"".into()),
            last_modified: Some("Tue, 01 Dec 2026 00:00:00 GMT".into()),
            validated_ms: 0,
        };
        let conditional = o.get(&key("vars/global.json"), Some(&stale), 0);
        assert_eq!(
            conditional.headers,
            vec![
                ("if-none-match", "\"e\"".into()),
                ("if-modified-since", "Tue, 01 Dec 2026 00:00:00 GMT".into())
            ]
        );
        // An absence has no validators to send.
        assert!(o
            .get(&key("vars/global.json"), Some(&Entry::missing(0)), 0)
            .headers
            .is_empty());
        let piece = o.get_piece(&key("algo/fw.bin"), Asked::piece(0, 10, None), 0);
        assert_eq!(piece.headers, vec![("range", "bytes=0-9".into())]);
        assert_eq!(o.stream(&key("algo/fw.bin"), true, 0).method, "HEAD");
    }

    #[test]
    fn requests_are_authenticated() {
        let bearer = origin(r#"{"upstream": "s", "auth": {"bearer": {"token": "t"}}}"#);
        assert_eq!(
            bearer.get(&key("a/b"), None, 0).headers,
            vec![("authorization", "Bearer t".into())]
        );
        let s3 = origin(
            r#"{"upstream": "minio", "authority": "127.0.0.1:9000", "prefix": "/bucket",
                "auth": {"sigv4": {"access_key_id": "AKID", "secret_access_key": "secret",
                                   "region": "eu-west-1"}}}"#,
        );
        let put = s3.put(&key("uploads/polycom/x.log"), b"log", 1_440_938_160);
        let names: Vec<&str> = put.headers.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "x-amz-content-sha256",
                "x-amz-date",
                "authorization",
                "content-type"
            ]
        );
        assert_eq!(put.headers[0].1, sigv4::sha256_hex(b"log"));
        assert!(put.headers[2]
            .1
            .starts_with("AWS4-HMAC-SHA256 Credential=AKID/20150830/eu-west-1/s3/aws4_request"));
        assert!(!format!("{s3:?}").contains("secret"));
        assert!(!format!("{bearer:?}").contains("\"t\""));
    }

    #[test]
    fn bad_settings_name_the_key() {
        for (json, key) in [
            (r#"{"upstream": " "}"#, "upstream"),
            (r#"{"upstream": "s", "prefix": "x"}"#, "prefix"),
            (r#"{"upstream": "s", "timeout_ms": 0}"#, "timeout_ms"),
            (
                r#"{"upstream": "s", "max_object_bytes": 0}"#,
                "max_object_bytes",
            ),
            (
                r#"{"upstream": "s", "auth": {"bearer": {"token": "a\nb"}}}"#,
                "auth.bearer.token",
            ),
            (
                r#"{"upstream": "s", "auth": {"sigv4": {"access_key_id": "a",
                    "secret_access_key": "", "region": "r"}}}"#,
                "auth.sigv4",
            ),
            (r#"{"upstream": "s", "authority": "h\u00e9"}"#, "authority"),
        ] {
            let config: OriginConfig = serde_json::from_str(json).unwrap();
            let err = Origin::new(config).unwrap_err();
            assert_eq!(err.key, key, "{json}");
        }
    }
}
