//! HTTP authentication for provisioning: Basic, and Digest (RFC 7616) with MD5 and SHA-256,
//! `qop=auth`, and nonces the server checks.
//!
//! Nonces are stateless and unforgeable: `<issued-at>.<HMAC-SHA-256(secret, issued-at, realm)>`,
//! so every worker (and every proxy-wasm VM) configured with the same secret accepts the others'
//! nonces, and an expired one is answered with `stale=true` (the phone retries without asking
//! the user). FusionPBX never checks its nonces; this does. `nc` replay tracking is not kept:
//! it would need shared state across workers; the nonce lifetime bounds replays instead.
//! Every password comparison is constant-time, and every configured password (rotation) is
//! tried, so timing does not reveal which one matched or how far a guess got.

use hmac::{Hmac, Mac as _};
use md5::Md5;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use super::Credential;

type HmacSha256 = Hmac<Sha256>;

/// Digest hash algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub enum DigestAlgorithm {
    #[serde(rename = "MD5")]
    Md5,
    #[serde(rename = "SHA-256")]
    Sha256,
}

impl DigestAlgorithm {
    fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }

    fn hash(self, data: &str) -> String {
        let bytes: Vec<u8> = match self {
            DigestAlgorithm::Md5 => Md5::digest(data.as_bytes()).to_vec(),
            DigestAlgorithm::Sha256 => Sha256::digest(data.as_bytes()).to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The outcome of checking an `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
pub enum Checked {
    /// A configured user proved a configured password.
    Valid { user: String },
    /// Right password, expired nonce: challenge again with `stale=true`.
    Stale,
    /// Missing, malformed or wrong. The reason is for the log only.
    Invalid(&'static str),
}

/// Checks `Authorization: Basic …`.
pub fn check_basic(header: &str, users: &[Credential]) -> Checked {
    let Some(b64) = strip_scheme(header, "basic") else {
        return Checked::Invalid("not Basic");
    };
    use base64::Engine as _;
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return Checked::Invalid("malformed Basic credentials");
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return Checked::Invalid("malformed Basic credentials");
    };
    let Some((user, password)) = text.split_once(':') else {
        return Checked::Invalid("malformed Basic credentials");
    };
    let mut matched: Option<&str> = None;
    for c in users {
        // Compare digests, so the comparison takes the same time whatever the lengths.
        let same_user =
            bool::from(Sha256::digest(c.user.as_bytes()).ct_eq(&Sha256::digest(user.as_bytes())));
        let same_pass = bool::from(
            Sha256::digest(c.password.as_bytes()).ct_eq(&Sha256::digest(password.as_bytes())),
        );
        if same_user & same_pass {
            matched = Some(&c.user);
        }
    }
    match matched {
        Some(user) => Checked::Valid {
            user: user.to_owned(),
        },
        None => Checked::Invalid("wrong Basic credentials"),
    }
}

/// Issues and checks Digest nonces.
#[derive(Clone)]
pub struct Nonces {
    secret: Vec<u8>,
    ttl_secs: u64,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Nonces(ttl {}s, secret redacted)", self.ttl_secs)
    }
}

impl Nonces {
    pub fn new(secret: Vec<u8>, ttl_secs: u64) -> Nonces {
        Nonces { secret, ttl_secs }
    }

    fn mac(&self, issued: u64, realm: &str) -> String {
        let mut mac = match HmacSha256::new_from_slice(&self.secret) {
            Ok(m) => m,
            // HMAC takes keys of any length; this arm cannot be reached.
            Err(_) => return String::new(),
        };
        mac.update(&issued.to_be_bytes());
        mac.update(realm.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    pub fn issue(&self, now: u64, realm: &str) -> String {
        format!("{now:x}.{}", self.mac(now, realm))
    }

    /// `Some(true)` fresh, `Some(false)` authentic but expired, `None` forged or malformed.
    fn verify(&self, nonce: &str, now: u64, realm: &str) -> Option<bool> {
        let (ts, tag) = nonce.split_once('.')?;
        let issued = u64::from_str_radix(ts, 16).ok()?;
        let authentic: bool = self
            .mac(issued, realm)
            .as_bytes()
            .ct_eq(tag.as_bytes())
            .into();
        authentic.then_some(issued <= now && now - issued <= self.ttl_secs)
    }
}

/// The `WWW-Authenticate` values for a Digest challenge, one per algorithm (SHA-256 first, as
/// RFC 7616 §3.7 asks; phones that only know MD5 pick the MD5 one).
pub fn digest_challenges(
    realm: &str,
    nonce: &str,
    algorithms: &[DigestAlgorithm],
    stale: bool,
) -> Vec<String> {
    algorithms
        .iter()
        .map(|a| {
            format!(
                "Digest realm=\"{realm}\", qop=\"auth\", algorithm={}, nonce=\"{nonce}\", opaque=\"{}\"{}",
                a.name(),
                DigestAlgorithm::Md5.hash(realm),
                if stale { ", stale=true" } else { "" }
            )
        })
        .collect()
}

/// What a Digest response is checked against: the realm, the accepted passwords and
/// algorithms, and the issuer of the nonces.
#[derive(Clone, Copy)]
pub struct DigestVerifier<'a> {
    pub realm: &'a str,
    pub users: &'a [Credential],
    pub algorithms: &'a [DigestAlgorithm],
    pub nonces: &'a Nonces,
}

/// Checks `Authorization: Digest …` for `method` and the request target `uri`.
pub fn check_digest(
    header: &str,
    method: &str,
    uri: &str,
    verifier: DigestVerifier<'_>,
    now: u64,
) -> Checked {
    let DigestVerifier {
        realm,
        users,
        algorithms,
        nonces,
    } = verifier;
    let Some(params) = strip_scheme(header, "digest") else {
        return Checked::Invalid("not Digest");
    };
    let p = parse_params(params);
    let get = |k: &str| {
        p.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let (Some(user), Some(nonce), Some(resp), Some(req_uri)) =
        (get("username"), get("nonce"), get("response"), get("uri"))
    else {
        return Checked::Invalid("Digest credentials lack a field");
    };
    if get("realm") != Some(realm) {
        return Checked::Invalid("Digest realm mismatch");
    }
    if req_uri != uri {
        return Checked::Invalid("Digest uri does not match the request");
    }
    let algorithm = match get("algorithm").unwrap_or("MD5") {
        a if a.eq_ignore_ascii_case("MD5") => DigestAlgorithm::Md5,
        a if a.eq_ignore_ascii_case("SHA-256") => DigestAlgorithm::Sha256,
        _ => return Checked::Invalid("unsupported Digest algorithm"),
    };
    if !algorithms.contains(&algorithm) {
        return Checked::Invalid("Digest algorithm not allowed");
    }
    let (Some(qop), Some(nc), Some(cnonce)) = (get("qop"), get("nc"), get("cnonce")) else {
        return Checked::Invalid("Digest without qop=auth");
    };
    if qop != "auth" {
        return Checked::Invalid("Digest qop is not auth");
    }
    let Some(fresh) = nonces.verify(nonce, now, realm) else {
        return Checked::Invalid("forged or malformed nonce");
    };
    let ha2 = algorithm.hash(&format!("{method}:{req_uri}"));
    let mut matched = false;
    for c in users.iter().filter(|c| c.user == user) {
        let ha1 = algorithm.hash(&format!("{user}:{realm}:{}", c.password));
        let want = algorithm.hash(&format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}"));
        matched |= bool::from(want.as_bytes().ct_eq(resp.to_ascii_lowercase().as_bytes()));
    }
    match (matched, fresh) {
        (true, true) => Checked::Valid {
            user: user.to_owned(),
        },
        (true, false) => Checked::Stale,
        (false, _) => Checked::Invalid("wrong Digest response"),
    }
}

fn strip_scheme<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let header = header.trim_start();
    let head = header.get(..scheme.len())?;
    let rest = &header[scheme.len()..];
    (head.eq_ignore_ascii_case(scheme) && rest.starts_with(' ')).then(|| rest.trim_start())
}

/// Parses `k=v, k="quoted, value"` auth-params.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().trim_start_matches(',').trim().to_owned();
        let after = after.trim_start();
        let (value, remaining) = if let Some(q) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &q[end.min(q.len())..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        out.push((key, value));
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<Credential> {
        vec![
            Credential {
                user: "Mufasa".into(),
                password: "Circle of Life".into(),
            },
            Credential {
                user: "Mufasa".into(),
                password: "rotated-new".into(),
            },
        ]
    }

    #[test]
    fn rfc7616_section_3_9_1_vectors() {
        // RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5.
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let uri = "/dir/index.html";
        for (alg, want) in [
            (
                DigestAlgorithm::Sha256,
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
            (DigestAlgorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
        ] {
            let ha1 = alg.hash("Mufasa:http-auth@example.org:Circle of Life");
            let ha2 = alg.hash(&format!("GET:{uri}"));
            assert_eq!(
                alg.hash(&format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}")),
                want
            );
        }
    }

    #[test]
    fn digest_round_trip_with_rotation_staleness_and_forgery() {
        let nonces = Nonces::new(b"k".to_vec(), 300);
        let realm = "provedge";
        let algs = [DigestAlgorithm::Sha256, DigestAlgorithm::Md5];
        let nonce = nonces.issue(1000, realm);
        let header = |alg: DigestAlgorithm, password: &str, nonce: &str| {
            let ha1 = alg.hash(&format!("Mufasa:{realm}:{password}"));
            let ha2 = alg.hash("GET:/cfg.xml");
            let resp = alg.hash(&format!("{ha1}:{nonce}:00000001:abc:auth:{ha2}"));
            format!("Digest username=\"Mufasa\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"/cfg.xml\", algorithm={}, qop=auth, nc=00000001, cnonce=\"abc\", response=\"{resp}\"", alg.name())
        };
        let check = |h: &str, now: u64| {
            let users = users();
            let verifier = DigestVerifier {
                realm,
                users: &users,
                algorithms: &algs,
                nonces: &nonces,
            };
            check_digest(h, "GET", "/cfg.xml", verifier, now)
        };
        for alg in algs {
            assert_eq!(
                check(&header(alg, "Circle of Life", &nonce), 1100),
                Checked::Valid {
                    user: "Mufasa".into()
                }
            );
            assert_eq!(
                check(&header(alg, "rotated-new", &nonce), 1100),
                Checked::Valid {
                    user: "Mufasa".into()
                }
            );
            assert!(matches!(
                check(&header(alg, "wrong", &nonce), 1100),
                Checked::Invalid(_)
            ));
            assert_eq!(
                check(&header(alg, "Circle of Life", &nonce), 2000),
                Checked::Stale
            );
        }
        let forged = "3e8.00000000000000000000000000000000";
        assert!(matches!(
            check(
                &header(DigestAlgorithm::Md5, "Circle of Life", forged),
                1100
            ),
            Checked::Invalid(_)
        ));
        let other_secret = Nonces::new(b"other".to_vec(), 300).issue(1000, realm);
        assert!(matches!(
            check(
                &header(DigestAlgorithm::Md5, "Circle of Life", &other_secret),
                1100
            ),
            Checked::Invalid(_)
        ));
        let wrong_uri = header(DigestAlgorithm::Md5, "Circle of Life", &nonce)
            .replace("/cfg.xml", "/other.xml");
        assert!(matches!(check(&wrong_uri, 1100), Checked::Invalid(_)));
        assert!(matches!(
            check_digest(
                &header(DigestAlgorithm::Md5, "Circle of Life", &nonce),
                "GET",
                "/cfg.xml",
                DigestVerifier {
                    realm,
                    users: &users(),
                    algorithms: &[DigestAlgorithm::Sha256],
                    nonces: &nonces,
                },
                1100
            ),
            Checked::Invalid(_)
        ));
    }

    #[test]
    fn basic_checks_every_password() {
        use base64::Engine as _;
        let enc = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        assert_eq!(
            check_basic(&enc("Mufasa:rotated-new"), &users()),
            Checked::Valid {
                user: "Mufasa".into()
            }
        );
        assert!(matches!(
            check_basic(&enc("Mufasa:nope"), &users()),
            Checked::Invalid(_)
        ));
        assert!(matches!(
            check_basic("Basic !!!", &users()),
            Checked::Invalid(_)
        ));
        assert!(matches!(
            check_basic("Bearer x", &users()),
            Checked::Invalid(_)
        ));
    }

    #[test]
    fn challenges_offer_each_algorithm() {
        let c = digest_challenges(
            "r",
            "n",
            &[DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
            true,
        );
        assert_eq!(c.len(), 2);
        assert!(
            c[0].contains("algorithm=SHA-256")
                && c[0].contains("qop=\"auth\"")
                && c[0].ends_with("stale=true")
        );
    }
}
