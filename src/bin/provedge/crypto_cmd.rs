//! `provedge encrypt`, `provedge decrypt` and `provedge yealink-keyfile`.
//!
//! Encrypt and decrypt read the whole of stdin and write the result to stdout only once it is
//! complete: on any failure stdout stays empty, stderr gets one line that never contains the
//! password or key, and the exit code is 1 (2 for a bad combination of options).
//!
//! ```text
//! provedge encrypt --scheme openssl --cipher aes-256-cbc --password P [--md md5|sha256] [--pbkdf2 [--iter N]]
//! provedge decrypt --scheme openssl …same flags…
//! provedge encrypt --scheme panasonic --password P [--cipher aes-128-cbc] [--md md5]
//! provedge encrypt --scheme yealink --key K [--padding space|pkcs7]
//! provedge encrypt --scheme obihai --key <32 hex> --iv <32 hex>
//! provedge yealink-keyfile --key K > y000000000058_Security.enc
//! ```

use std::ffi::OsString;
use std::io::{Read, Write};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;

use provedge::crypto::{
    self, Cipher, Digest, Encryption, Kdf, ObihaiKey, OpensslEnc, Padding, Panasonic, Password,
    YealinkKey, DEFAULT_PBKDF2_ITERATIONS,
};

/// Which file format to produce or read.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scheme {
    /// OpenSSL `enc` container (Grandstream, Cisco).
    Openssl,
    /// Base64 OpenSSL container (Panasonic KX-UTG).
    Panasonic,
    /// AES-ECB with a 16- or 32-character key (Yealink).
    Yealink,
    /// Raw AES-128-CBC with a hex key and IV (Obihai).
    Obihai,
}

/// Options shared by `encrypt` and `decrypt`.
#[derive(clap::Args)]
pub struct Args {
    /// File format.
    #[arg(long, value_enum)]
    scheme: Scheme,
    /// Cipher for openssl (default aes-256-cbc) and panasonic (default aes-128-cbc).
    #[arg(long, value_parser = str::parse::<Cipher>)]
    cipher: Option<Cipher>,
    /// Password for openssl and panasonic (raw bytes, as `openssl -pass pass:`).
    #[arg(long, conflicts_with = "password_file")]
    password: Option<OsString>,
    /// Read the password from the first line of a file (as `openssl -pass file:`), keeping it
    /// out of the process list.
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// Key-derivation digest for openssl and panasonic [default: md5, what firmware expects].
    #[arg(long, value_parser = str::parse::<Digest>)]
    md: Option<Digest>,
    /// Derive the key with PBKDF2 instead of EVP_BytesToKey (openssl only).
    #[arg(long)]
    pbkdf2: bool,
    /// PBKDF2 iteration count [default: 10000, as openssl].
    #[arg(long, requires = "pbkdf2")]
    iter: Option<NonZeroU32>,
    /// Yealink: the 16- or 32-character key. Obihai: the key as 32 hex digits.
    #[arg(long)]
    key: Option<String>,
    /// Obihai: the IV as 32 hex digits.
    #[arg(long)]
    iv: Option<String>,
    /// Yealink padding [default: space, as the vendor tool].
    #[arg(long, value_parser = str::parse::<Padding>)]
    padding: Option<Padding>,
    /// Encrypt with this salt (16 hex digits) instead of a random one, for reproducible output.
    /// Never reuse a salt for device files.
    #[arg(long)]
    salt: Option<String>,
}

/// Options of `yealink-keyfile`.
#[derive(clap::Args)]
pub struct KeyfileArgs {
    /// The 16-character config key to wrap under Yealink's built-in key.
    #[arg(long)]
    key: String,
}

/// A failure, with the exit code it maps to.
enum Failure {
    /// Options that do not fit together (exit 2).
    Usage(String),
    /// Encryption, decryption or IO failed (exit 1).
    Run(String),
}

pub fn encrypt(args: Args) -> ExitCode {
    finish(encrypt_stdin(&args))
}

pub fn decrypt(args: Args) -> ExitCode {
    finish(decrypt_stdin(&args))
}

pub fn yealink_keyfile(args: KeyfileArgs) -> ExitCode {
    let file = YealinkKey::parse(&args.key)
        .map_err(|e| Failure::Usage(format!("--key: {e}")))
        .and_then(|k| k.key_file().map_err(|e| Failure::Usage(e.to_string())));
    finish(file.map(Vec::from))
}

fn encrypt_stdin(args: &Args) -> Result<Vec<u8>, Failure> {
    let settings = settings(args)?;
    let input = read_stdin()?;
    match &args.salt {
        Some(hex) => {
            let salt =
                crypto::parse_salt(hex).map_err(|e| Failure::Usage(format!("--salt: {e}")))?;
            Ok(settings.encrypt_with_salt(&input, salt))
        }
        None => settings
            .encrypt(&input)
            .map_err(|e| Failure::Run(e.to_string())),
    }
}

fn decrypt_stdin(args: &Args) -> Result<Vec<u8>, Failure> {
    if args.salt.is_some() {
        return Err(Failure::Usage(
            "--salt applies only to encrypt: the file carries its salt".into(),
        ));
    }
    let settings = settings(args)?;
    let input = read_stdin()?;
    settings
        .decrypt(&input)
        .map_err(|e| Failure::Run(e.to_string()))
}

/// Builds the settings for `args.scheme`, refusing options that scheme would ignore so that a
/// misplaced flag is not silently dropped.
fn settings(a: &Args) -> Result<Encryption, Failure> {
    let given = [
        ("--cipher", a.cipher.is_some()),
        (
            "--password/--password-file",
            a.password.is_some() || a.password_file.is_some(),
        ),
        ("--md", a.md.is_some()),
        ("--pbkdf2", a.pbkdf2),
        ("--key", a.key.is_some()),
        ("--iv", a.iv.is_some()),
        ("--padding", a.padding.is_some()),
    ];
    let (allowed, name): (&[&str], _) = match a.scheme {
        Scheme::Openssl => (
            &["--cipher", "--password/--password-file", "--md", "--pbkdf2"],
            "openssl",
        ),
        Scheme::Panasonic => (
            &["--cipher", "--password/--password-file", "--md"],
            "panasonic",
        ),
        Scheme::Yealink => (&["--key", "--padding"], "yealink"),
        Scheme::Obihai => (&["--key", "--iv"], "obihai"),
    };
    if let Some((flag, _)) = given
        .iter()
        .find(|(flag, set)| *set && !allowed.contains(flag))
    {
        return Err(Failure::Usage(format!(
            "{flag} does not apply to --scheme {name}"
        )));
    }
    Ok(match a.scheme {
        Scheme::Openssl => {
            let md = a.md.unwrap_or_default();
            let kdf = if a.pbkdf2 {
                Kdf::Pbkdf2 {
                    md,
                    iterations: a.iter.unwrap_or(DEFAULT_PBKDF2_ITERATIONS),
                }
            } else {
                Kdf::EvpBytesToKey(md)
            };
            let cipher = a.cipher.unwrap_or(Cipher::Aes256Cbc);
            Encryption::Openssl(OpensslEnc::new(cipher, kdf, password(a)?))
        }
        Scheme::Panasonic => {
            let kdf = Kdf::EvpBytesToKey(a.md.unwrap_or_default());
            let cipher = a.cipher.unwrap_or(Cipher::Aes128Cbc);
            Encryption::Panasonic(Panasonic(OpensslEnc::new(cipher, kdf, password(a)?)))
        }
        Scheme::Yealink => Encryption::Yealink {
            key: YealinkKey::parse(required(&a.key, "--key")?)
                .map_err(|e| Failure::Usage(format!("--key: {e}")))?,
            padding: a.padding.unwrap_or_default(),
        },
        Scheme::Obihai => Encryption::Obihai(
            ObihaiKey::from_hex(required(&a.key, "--key")?, required(&a.iv, "--iv")?)
                .map_err(|e| Failure::Usage(format!("--key/--iv: {e}")))?,
        ),
    })
}

fn required<'a>(value: &'a Option<String>, flag: &str) -> Result<&'a str, Failure> {
    value
        .as_deref()
        .ok_or_else(|| Failure::Usage(format!("{flag} is required for this scheme")))
}

fn password(a: &Args) -> Result<Password, Failure> {
    let bytes = match (&a.password, &a.password_file) {
        (Some(p), _) => os_bytes(p.clone())?,
        (None, Some(file)) => {
            let text = std::fs::read(file)
                .map_err(|e| Failure::Run(format!("--password-file {}: {e}", file.display())))?;
            first_line(&text).to_vec()
        }
        (None, None) => {
            return Err(Failure::Usage(
                "--password or --password-file is required".into(),
            ))
        }
    };
    Password::new(bytes).map_err(|e| Failure::Usage(format!("--password: {e}")))
}

/// The first line without its `\n` or `\r\n`, as `openssl -pass file:` reads it.
fn first_line(text: &[u8]) -> &[u8] {
    let line = text.split(|&b| b == b'\n').next().unwrap_or_default();
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(unix)]
fn os_bytes(s: OsString) -> Result<Vec<u8>, Failure> {
    use std::os::unix::ffi::OsStringExt;
    Ok(s.into_vec())
}

#[cfg(not(unix))]
fn os_bytes(s: OsString) -> Result<Vec<u8>, Failure> {
    s.into_string()
        .map(String::into_bytes)
        .map_err(|_| Failure::Usage("--password is not valid Unicode".into()))
}

fn read_stdin() -> Result<Vec<u8>, Failure> {
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut input)
        .map_err(|e| Failure::Run(format!("reading stdin: {e}")))?;
    Ok(input)
}

/// Writes a complete result to stdout, or reports the failure on stderr with nothing on stdout.
fn finish(result: Result<Vec<u8>, Failure>) -> ExitCode {
    let failure = match result {
        Ok(bytes) => {
            let mut out = std::io::stdout().lock();
            match out.write_all(&bytes).and_then(|()| out.flush()) {
                Ok(()) => return ExitCode::SUCCESS,
                Err(e) => Failure::Run(format!("writing stdout: {e}")),
            }
        }
        Err(f) => f,
    };
    match failure {
        Failure::Usage(msg) => {
            eprintln!("provedge: {msg}");
            ExitCode::from(2)
        }
        Failure::Run(msg) => {
            eprintln!("provedge: {msg}");
            ExitCode::FAILURE
        }
    }
}
