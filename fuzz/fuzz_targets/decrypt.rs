//! Every decryptor: arbitrary settings JSON loads or is refused; arbitrary bytes decrypt to a
//! value or an error (never a panic, which would kill a proxy-wasm VM); decrypt ∘ encrypt is
//! the identity (Yealink's space padding up to trailing spaces, as documented).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use provedge::crypto::{Encryption, Padding};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    scheme: u8,
    key: &'a str,
    settings_json: &'a str,
    plaintext: &'a [u8],
    garbage: &'a [u8],
    salt: [u8; 8],
}

fn settings(scheme: u8, key: &str) -> Option<Encryption> {
    let json = match scheme % 5 {
        0 => format!(r#"{{"scheme":"openssl","password":{key:?}}}"#),
        1 => format!(r#"{{"scheme":"yealink","key":{key:?}}}"#),
        2 => {
            let hex: String = key.bytes().cycle().take(16).map(|b| format!("{b:02x}")).collect();
            format!(r#"{{"scheme":"obihai","key_hex":"{hex}","iv_hex":"{hex}"}}"#)
        }
        3 => format!(r#"{{"scheme":"panasonic","password":{key:?}}}"#),
        _ => r#"{"scheme":"yealink","key":"0123456789abcdef","padding":"space"}"#.to_owned(),
    };
    serde_json::from_str(&json).ok()
}

fuzz_target!(|input: Input<'_>| {
    let _ = serde_json::from_str::<Encryption>(input.settings_json);
    let Some(s) = settings(input.scheme, input.key) else {
        return;
    };
    let _ = s.decrypt(input.garbage);
    let file = s.encrypt_with_salt(input.plaintext, input.salt);
    let back = s.decrypt(&file).expect("own output decrypts");
    match s {
        Encryption::Yealink { padding: Padding::Space, .. } => {
            let pt = input.plaintext;
            let trimmed = pt.len() - pt.iter().rev().take_while(|&&b| b == b' ').count();
            assert!(back.len() >= trimmed && back.len() <= pt.len());
            assert_eq!(&back[..], &pt[..back.len()]);
        }
        _ => assert_eq!(back, input.plaintext),
    }
});
