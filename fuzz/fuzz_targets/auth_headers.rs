//! Basic and Digest `Authorization` parsers: arbitrary headers are refused or accepted, never
//! a panic; what a correct client sends for a configured user is accepted, and the same with
//! another password is not.
#![no_main]

use arbitrary::Arbitrary;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use md5::{Digest as _, Md5};
use provedge::policy::auth::{check_basic, check_digest, Checked, DigestAlgorithm, DigestVerifier, Nonces};
use provedge::policy::Credential;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    header: &'a str,
    user: &'a str,
    password: &'a str,
    cnonce: u64,
    now: u32,
}

fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

/// Digest fields are quoted strings: what a client cannot put in one is not under test.
fn quotable(s: &str) -> bool {
    !s.is_empty() && !s.contains(['"', '\\', ',', '\r', '\n']) && s.trim() == s
}

fuzz_target!(|input: Input<'_>| {
    let users = vec![Credential {
        user: input.user.to_owned(),
        password: input.password.to_owned(),
    }];
    let nonces = Nonces::new(b"fuzz-secret".to_vec(), 300);
    let realm = "provedge";
    let verifier = DigestVerifier {
        realm,
        users: &users,
        algorithms: &[DigestAlgorithm::Md5, DigestAlgorithm::Sha256],
        nonces: &nonces,
    };
    let now = u64::from(input.now);
    let _ = check_basic(input.header, &users);
    let _ = check_digest(input.header, "GET", "/cfg.xml", verifier, now);

    if input.user.contains(':') {
        return;
    }
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", input.user, input.password));
    assert_eq!(
        check_basic(&format!("Basic {basic}"), &users),
        Checked::Valid { user: input.user.to_owned() }
    );
    let wrong = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}x", input.user, input.password));
    assert_ne!(
        check_basic(&format!("Basic {wrong}"), &users),
        Checked::Valid { user: input.user.to_owned() }
    );

    if !quotable(input.user) {
        return;
    }
    let nonce = nonces.issue(now, realm);
    let cnonce = format!("{:016x}", input.cnonce);
    let respond = |password: &str| {
        let ha1 = md5_hex(&format!("{}:{realm}:{password}", input.user));
        let ha2 = md5_hex("GET:/cfg.xml");
        let response = md5_hex(&format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"));
        format!(
            "Digest username=\"{}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"/cfg.xml\", \
             algorithm=MD5, qop=auth, nc=00000001, cnonce=\"{cnonce}\", response=\"{response}\"",
            input.user
        )
    };
    assert_eq!(
        check_digest(&respond(input.password), "GET", "/cfg.xml", verifier, now),
        Checked::Valid { user: input.user.to_owned() }
    );
    assert!(matches!(
        check_digest(&respond(&format!("{}x", input.password)), "GET", "/cfg.xml", verifier, now),
        Checked::Invalid(_)
    ));
});
