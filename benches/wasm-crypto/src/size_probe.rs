//! A cdylib that parses a JSON document and, with the `crypto` feature, also parses it as
//! encryption settings and encrypts with them, so every scheme is linked. The size difference
//! between the two builds is what the crypto code adds to a wasm module.

/// Takes a JSON document at `ptr..ptr+len`; returns a length so nothing is optimised away.
///
/// # Safety
/// `ptr..ptr+len` must be readable memory of this module.
#[no_mangle]
pub unsafe extern "C" fn probe(ptr: *const u8, len: usize) -> usize {
    let input = unsafe { std::slice::from_raw_parts(ptr, len) };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(input) else {
        return 0;
    };
    #[cfg(feature = "crypto")]
    {
        if let Ok(settings) = serde_json::from_value::<provedge::crypto::Encryption>(value) {
            return settings.encrypt(input).map_or(1, |v| v.len());
        }
        2
    }
    #[cfg(not(feature = "crypto"))]
    {
        value.as_object().map_or(3, |o| o.len())
    }
}

/// For the Worker check: encrypts with a salt from the host's CSPRNG and returns the salt as a
/// little-endian integer (0 if randomness failed). On `wasm32-unknown-unknown` the salt comes
/// from `crypto.getRandomValues`, so two calls from JavaScript must return different values.
#[cfg(feature = "crypto")]
#[no_mangle]
pub extern "C" fn fresh_salt() -> u64 {
    use provedge::crypto::{Cipher, Kdf, OpensslEnc, Password};
    let Ok(password) = Password::new("probe") else {
        return 0;
    };
    let enc = OpensslEnc::new(Cipher::Aes256Cbc, Kdf::default(), password);
    match enc.encrypt(b"probe") {
        Ok(file) => file
            .get(8..16)
            .and_then(|s| <[u8; 8]>::try_from(s).ok())
            .map_or(0, u64::from_le_bytes),
        Err(_) => 0,
    }
}
