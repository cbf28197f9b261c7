//! Refusing a store that does not load, before anything is pushed: every device record,
//! variable layer and template is checked as the engine will read it, so a typo is an error
//! on the operator's terminal naming the key, not a 500 on a phone's next boot. A template
//! must also name the templates it extends, includes and imports as the engine can read them
//! (string literals), and those must be in the store, in the template's own namespace.
//!
//! Every file is also hashed here (SHA-256), once: the manifest compares these hashes with the
//! last push's, and the upload checks the bytes it sends against them.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use provedge::render::references::{self, Reference};
use provedge::render::{Syntax, TemplateCache, TextFlavor};
use provedge::store::{device_key, DeviceRecord, TENANTS};
use provedge::StoreKey;
use sha2::{Digest, Sha256};

use super::layout::{File, Problem};

/// A file that passed its check, with what the push needs to know about its content.
#[derive(Clone, Debug)]
pub struct Checked {
    pub key: StoreKey,
    pub path: PathBuf,
    pub size: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
}

/// What the engine reads a key as, which decides how it is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `devices/<mac>.json`: a [`DeviceRecord`] of that MAC.
    Device,
    /// `vars/**.json`: a JSON object (a variable layer).
    Vars,
    /// `templates/**`: UTF-8 text that compiles as a template.
    Template,
    /// Anything else is served as stored: any bytes.
    Stored,
}

impl Kind {
    /// The kind of `key`, within its tenant's namespace (`tenants/<name>/…`) if it has one.
    fn of(key: &str) -> Kind {
        let within = within_namespace(key);
        if within.starts_with("devices/") {
            Kind::Device
        } else if within.starts_with("vars/") && within.ends_with(".json") {
            Kind::Vars
        } else if within.starts_with("templates/") {
            Kind::Template
        } else {
            Kind::Stored
        }
    }
}

/// Checks and hashes every file: the files that passed, and every problem found (all of them,
/// so one run lists everything to fix).
pub fn check(files: Vec<File>) -> (Vec<Checked>, Vec<Problem>) {
    let present: HashSet<String> = files.iter().map(|f| f.key.as_str().to_owned()).collect();
    let mut checked = Vec::with_capacity(files.len());
    let mut problems = Vec::new();
    for File { key, path } in files {
        match check_one(&key, &path) {
            Ok(Loaded {
                size,
                sha256,
                references,
            }) => {
                problems.extend(unresolved(&key, &references, &present));
                checked.push(Checked {
                    key,
                    path,
                    size,
                    sha256,
                })
            }
            Err(reason) => problems.push(Problem::new(key.as_str(), reason)),
        }
    }
    (checked, problems)
}

/// What checking one file found out.
struct Loaded {
    size: u64,
    sha256: String,
    /// A template's references to other templates.
    references: Vec<Reference>,
}

/// Checks the file at `path` as what `key` is read as.
fn check_one(key: &StoreKey, path: &Path) -> Result<Loaded, String> {
    let kind = Kind::of(key.as_str());
    if kind == Kind::Stored {
        // Stored files may be firmware images: hashed as they stream, never held whole.
        let (size, sha256) = hash_file(path).map_err(|e| e.to_string())?;
        return Ok(Loaded {
            size,
            sha256,
            references: Vec::new(),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let references = match kind {
        Kind::Device => check_device(key, &bytes).map(|()| Vec::new())?,
        Kind::Vars => check_vars(&bytes).map(|()| Vec::new())?,
        Kind::Template => check_template(key, &bytes)?,
        Kind::Stored => unreachable!("hashed above"),
    };
    Ok(Loaded {
        size: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
        references,
    })
}

/// The references of the template `key` none of whose templates is in the store (`present`),
/// looked up in the template's namespace as the engine reads them (`ignore missing` includes
/// need none).
fn unresolved(key: &StoreKey, references: &[Reference], present: &HashSet<String>) -> Vec<Problem> {
    let namespace = &key.as_str()[..key.as_str().len() - within_namespace(key.as_str()).len()];
    references
        .iter()
        .filter(|r| !r.ignore_missing)
        .filter(|r| {
            !r.keys
                .iter()
                .any(|k| present.contains(&format!("{namespace}{k}")))
        })
        .map(|r| {
            let names: Vec<String> = r.keys.iter().map(|k| format!("{namespace}{k}")).collect();
            let what = match names.as_slice() {
                [one] => format!("{one}, which is not in the store"),
                many => format!("one of {}, none of which is in the store", many.join(", ")),
            };
            Problem::new(
                key.as_str(),
                format!("line {}: `{}` reads {what}", r.line, r.statement),
            )
        })
        .collect()
}

/// A device record parses (unknown fields refused, values never quoted: they may be secrets)
/// and is the record of the MAC its key names, as the engine requires.
fn check_device(key: &StoreKey, bytes: &[u8]) -> Result<(), String> {
    let record =
        DeviceRecord::from_json(bytes).map_err(|e| format!("malformed device record: {e}"))?;
    let expected = device_key(record.mac);
    if within_namespace(key.as_str()) != expected.as_str() {
        return Err(format!(
            "holds the record of {}, whose key is {expected}",
            record.mac
        ));
    }
    Ok(())
}

/// The key without its tenant namespace (`tenants/<name>/`), as the engine names keys.
fn within_namespace(key: &str) -> &str {
    key.strip_prefix(TENANTS)
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.split_once('/'))
        .map_or(key, |(_tenant, within)| within)
}

/// A variable layer is a JSON object. Errors give the position, never the text around it.
fn check_vars(bytes: &[u8]) -> Result<(), String> {
    match serde_json::from_slice(bytes) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err("not a JSON object".into()),
        Err(e) => Err(format!(
            "malformed JSON at line {} column {}",
            e.line(),
            e.column()
        )),
    }
}

/// A template is UTF-8, compiles exactly as the engine compiles it, and names the templates
/// it uses as the engine can read them: its references.
///
/// The core compiles through [`TemplateCache`], which keeps a template only once it compiled:
/// so after one render with no variables, a cache holding one template means the source
/// compiled, whatever the render then said (with no variables, any variable is undefined). A
/// syntax error is the error of the compile, with its line.
fn check_template(key: &StoreKey, bytes: &[u8]) -> Result<Vec<Reference>, String> {
    let source = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned())?;
    let cache = TemplateCache::bounded(1);
    // The syntax only chooses how values are escaped into the output, never how the template
    // is parsed.
    let syntax = Syntax::Text(TextFlavor::Plain);
    let nothing = provedge::render::template::to_value(serde_json::Map::new());
    if let Err(e) = cache.render_one(key, source, syntax, nothing) {
        if cache.is_empty() {
            return Err(match e.line {
                Some(line) => format!("template does not compile: line {line}: {}", e.message),
                None => format!("template does not compile: {}", e.message),
            });
        }
    }
    references::scan(source).map_err(|e| format!("line {}: {}", e.line, e.message))
}

/// Hashes a file as it streams.
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex(&hasher.finalize())))
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> StoreKey {
        StoreKey::new(s).unwrap()
    }

    #[test]
    fn kinds_by_key_within_the_namespace() {
        for (k, kind) in [
            ("devices/000b82123456.json", Kind::Device),
            ("tenants/acme/devices/000b82123456.json", Kind::Device),
            ("vars/global.json", Kind::Vars),
            ("tenants/acme/vars/models/yealink/t46s.json", Kind::Vars),
            ("vars/readme.txt", Kind::Stored),
            ("templates/yealink/@mac.cfg", Kind::Template),
            ("tenants/acme/templates/algo/algom@mac.conf", Kind::Template),
            ("algo/algop8188-tones.zip", Kind::Stored),
            ("tenants/devices/x.json", Kind::Stored),
        ] {
            assert_eq!(Kind::of(k), kind, "{k}");
        }
    }

    #[test]
    fn the_checks_name_what_is_wrong() {
        let record = br#"{"mac": "000b82123456", "vendor": "grandstream"}"#;
        for (k, bytes, wanted) in [
            ("devices/000b82123456.json", &record[..], None),
            ("tenants/a/devices/000b82123456.json", &record[..], None),
            (
                "devices/000b82aaaaaa.json",
                &record[..],
                Some("holds the record of 000b82123456"),
            ),
            (
                "tenants/a/devices/x000b82123456.json",
                &record[..],
                Some("holds the record of"),
            ),
            (
                "devices/000b82123456.json",
                br#"{"mac": "000b82123456", "vendor": "grandstream", "pasword": "x"}"#,
                Some("malformed device record: unknown field `pasword`"),
            ),
            ("vars/global.json", b"[1]", Some("not a JSON object")),
            (
                "vars/global.json",
                b"{\n\"a\": }",
                Some("malformed JSON at line 2"),
            ),
            ("templates/yealink/@mac.cfg", b"a = {{ nope }}\n", None),
            (
                "templates/yealink/@mac.cfg",
                b"a = 1\n{% if %}\n",
                Some("template does not compile: line 2: syntax error"),
            ),
            ("templates/yealink/@mac.cfg", b"\xff", Some("not UTF-8")),
            ("polycom/sip.ld", b"\xff\x00", None),
        ] {
            let kind = Kind::of(k);
            let result = match kind {
                Kind::Device => check_device(&key(k), bytes),
                Kind::Vars => check_vars(bytes),
                Kind::Template => check_template(&key(k), bytes).map(|_| ()),
                Kind::Stored => Ok(()),
            };
            match (result, wanted) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert!(e.starts_with(w), "{k}: {e}"),
                (other, _) => panic!("{k}: {other:?}, wanted {wanted:?}"),
            }
        }
    }

    #[test]
    fn references_must_be_in_the_store_in_the_templates_namespace() {
        let present: HashSet<String> = [
            "templates/yealink/base.cfg",
            "tenants/acme/templates/yealink/acme.cfg",
        ]
        .map(String::from)
        .into();
        let refs = |source: &str| check_template(&key("templates/x/t.cfg"), source.as_bytes());
        for (k, source, wanted) in [
            ("templates/yealink/@mac.cfg", "{% extends 'yealink/base.cfg' %}", vec![]),
            (
                "tenants/acme/templates/yealink/@mac.cfg",
                "{% extends 'yealink/base.cfg' %}",
                vec!["line 1: `extends` reads tenants/acme/templates/yealink/base.cfg, which is not in the store"],
            ),
            (
                "tenants/acme/templates/yealink/@mac.cfg",
                "{% include ['yealink/acme.cfg', 'yealink/none.cfg'] %}",
                vec![],
            ),
            (
                "templates/yealink/@mac.cfg",
                "a\n{% include ['yealink/a.cfg', 'yealink/b.cfg'] %}\n{% include 'x.cfg' ignore missing %}",
                vec!["line 2: `include` reads one of templates/yealink/a.cfg, templates/yealink/b.cfg, none of which is in the store"],
            ),
        ] {
            let found: Vec<String> = unresolved(&key(k), &refs(source).unwrap(), &present)
                .into_iter()
                .map(|p| p.reason)
                .collect();
            assert_eq!(found, wanted, "{k}: {source}");
        }
        let e = refs("a\n{% include name %}").unwrap_err();
        assert!(e.starts_with("line 2: "), "{e}");
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
