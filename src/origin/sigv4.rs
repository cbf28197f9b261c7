//! AWS Signature Version 4 for origin requests, so an S3-compatible bucket (AWS S3, MinIO,
//! Ceph RGW, R2's S3 API) can be the store without a signing proxy in front of it, for every
//! host alike (the proxy-wasm filter's `dispatch_http_call`, the native server's hyper client).
//!
//! Only what hosts send is covered: GET and HEAD with an empty body, and PUT of an upload
//! whose body is hashed whole, signed in the `Authorization` header with `host`,
//! `x-amz-content-sha256`, `x-amz-date` (and `x-amz-security-token` for temporary credentials)
//! as the signed headers. The general [`sign`] takes any canonical request so the published
//! test vectors can check it whole. Pure computation: the time is an argument.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The SHA-256 of an empty payload, as S3 wants it in `x-amz-content-sha256` for a GET.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Long-lived or temporary credentials and where they are valid. Its `Debug` shows the key id
/// and scope only.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// For temporary (STS) credentials: sent as `x-amz-security-token` and signed.
    pub session_token: Option<String>,
    pub region: String,
    /// `s3` for buckets.
    pub service: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// One request to sign, already in canonical pieces.
pub struct Canonical<'a> {
    pub method: &'a str,
    /// The canonical URI: for S3 the path as sent on the wire (percent-encoded once). Other
    /// services want each segment encoded twice; callers signing for them pass that form.
    pub path: &'a str,
    /// The canonical query string (sorted, encoded), empty when there is none.
    pub query: &'a str,
    /// Header names (any case) and values; every one of them is signed.
    pub headers: &'a [(&'a str, &'a str)],
    pub payload_sha256: &'a str,
}

/// What signing produced: the header to send and the intermediate texts (for tests and logs
/// at debug level; none of them holds the secret).
#[derive(Debug, PartialEq, Eq)]
pub struct Signed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub authorization: String,
}

/// Signs `req` at `amz_date` (`YYYYMMDDTHHMMSSZ`).
pub fn sign(creds: &Credentials, amz_date: &str, req: &Canonical<'_>) -> Signed {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), trim_all(v)))
        .collect();
    headers.sort();
    let signed_headers = headers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let mut canonical_request = format!("{}\n{}\n{}\n", req.method, req.path, req.query);
    for (name, value) in &headers {
        canonical_request.push_str(name);
        canonical_request.push(':');
        canonical_request.push_str(value);
        canonical_request.push('\n');
    }
    canonical_request.push('\n');
    canonical_request.push_str(&signed_headers);
    canonical_request.push('\n');
    canonical_request.push_str(req.payload_sha256);

    let date = amz_date.get(..8).unwrap_or(amz_date);
    let scope = format!("{date}/{}/{}/aws4_request", creds.region, creds.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(
        format!("AWS4{}", creds.secret_access_key).as_bytes(),
        date.as_bytes(),
    );
    for part in [
        creds.region.as_str(),
        creds.service.as_str(),
        "aws4_request",
    ] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        creds.access_key_id
    );
    Signed {
        canonical_request,
        string_to_sign,
        authorization,
    }
}

/// The headers to add to a `method` of `path` on `host` at `unix_secs`, whose body hashes to
/// `payload_sha256` ([`EMPTY_SHA256`] for GET and HEAD).
pub fn request_headers(
    creds: &Credentials,
    method: &str,
    host: &str,
    path: &str,
    payload_sha256: &str,
    unix_secs: u64,
) -> Vec<(&'static str, String)> {
    let amz_date = amz_date(unix_secs);
    let mut signed: Vec<(&str, &str)> = vec![
        ("host", host),
        ("x-amz-content-sha256", payload_sha256),
        ("x-amz-date", &amz_date),
    ];
    if let Some(token) = &creds.session_token {
        signed.push(("x-amz-security-token", token));
    }
    let auth = sign(
        creds,
        &amz_date,
        &Canonical {
            method,
            path,
            query: "",
            headers: &signed,
            payload_sha256,
        },
    )
    .authorization;
    let mut out = vec![
        ("x-amz-content-sha256", payload_sha256.to_owned()),
        ("x-amz-date", amz_date.clone()),
        ("authorization", auth),
    ];
    if let Some(token) = &creds.session_token {
        out.push(("x-amz-security-token", token.clone()));
    }
    out
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time (UTC; the proleptic Gregorian calendar).
pub fn amz_date(unix_secs: u64) -> String {
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    // Howard Hinnant's days-to-civil, for days since 1970-01-01 (non-negative here).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Percent-encodes every byte but RFC 3986's unreserved characters and `/`.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0xf));
        }
    }
    out
}

/// Header values are signed with surrounding space removed and inner runs of spaces folded.
fn trim_all(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lower-case hex SHA-256, as `x-amz-content-sha256` wants a body's hash.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail; the fallback keeps this
    // panic-free all the same.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(nibble(b >> 4, b'a'));
        out.push(nibble(b, b'a'));
    }
    out
}

fn hex_digit(n: u8) -> char {
    nibble(n, b'A')
}

/// The hex digit for the low four bits of `n`, spelling ten as `ten` (`a` or `A`).
fn nibble(n: u8, ten: u8) -> char {
    let n = n & 0xf;
    // n ≤ 15, so neither sum overflows.
    char::from(if n < 10 { b'0' + n } else { ten + (n - 10) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The credentials of AWS's SigV4 test suite.
    fn suite() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
            region: "us-east-1".into(),
            service: "service".into(),
        }
    }

    const SUITE_HEADERS: &[(&str, &str)] = &[
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", "20150830T123600Z"),
    ];

    fn suite_sign(method: &str, path: &str, query: &str) -> Signed {
        sign(
            &suite(),
            "20150830T123600Z",
            &Canonical {
                method,
                path,
                query,
                headers: SUITE_HEADERS,
                payload_sha256: EMPTY_SHA256,
            },
        )
    }

    #[test]
    fn get_vanilla() {
        let s = suite_sign("GET", "/", "");
        assert_eq!(
            s.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             host;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(
            s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn more_suite_cases() {
        // get-vanilla-query-order-key-case: the canonical query is sorted.
        assert!(suite_sign("GET", "/", "Param1=value1&Param2=value2")
            .authorization
            .ends_with(
                "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
            ));
        // post-vanilla.
        assert!(suite_sign("POST", "/", "").authorization.ends_with(
            "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        ));
        // get-utf8: the path `/ሴ`, canonically `/%E1%88%B4`.
        let s = suite_sign("GET", &encode_path("/\u{1234}"), "");
        assert!(s.canonical_request.starts_with("GET\n/%E1%88%B4\n"));
        assert!(s.authorization.ends_with(
            "Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"
        ));
    }

    /// The GetObject example of the S3 documentation ("Signature Calculations for the
    /// Authorization Header"): a ranged GET of `/test.txt` from `examplebucket`.
    #[test]
    fn s3_get_object_example() {
        let creds = Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
            region: "us-east-1".into(),
            service: "s3".into(),
        };
        let s = sign(
            &creds,
            "20130524T000000Z",
            &Canonical {
                method: "GET",
                path: "/test.txt",
                query: "",
                headers: &[
                    ("Host", "examplebucket.s3.amazonaws.com"),
                    ("Range", "bytes=0-9"),
                    ("x-amz-content-sha256", EMPTY_SHA256),
                    ("x-amz-date", "20130524T000000Z"),
                ],
                payload_sha256: EMPTY_SHA256,
            },
        );
        assert!(s
            .string_to_sign
            .ends_with("\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"));
        assert_eq!(
            s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn dates_and_paths() {
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(amz_date(4_102_444_799), "20991231T235959Z");
        assert_eq!(
            encode_path("/b/templates/polycom/@mac-phone.cfg"),
            "/b/templates/polycom/%40mac-phone.cfg"
        );
        assert_eq!(encode_path("/a+b,(c)~"), "/a%2Bb%2C%28c%29~");
    }

    #[test]
    fn gets_are_signed_with_the_token() {
        let mut creds = suite();
        creds.service = "s3".into();
        creds.session_token = Some("tok".into());
        let headers = request_headers(
            &creds,
            "GET",
            "store:9000",
            "/bucket/devices/x.json",
            EMPTY_SHA256,
            1_440_938_160,
        );
        let auth = &headers
            .iter()
            .find(|(n, _)| *n == "authorization")
            .unwrap()
            .1;
        assert!(auth
            .contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token"));
        assert!(headers.contains(&("x-amz-security-token", "tok".into())));
        assert!(!auth.contains(&creds.secret_access_key));
        assert_eq!(sha256_hex(b""), EMPTY_SHA256);
    }
}
