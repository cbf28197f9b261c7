//! Tancredi's data folders: the scopes (`scopes/<id>.ini`) of the writable folder and, for ids
//! it lacks, of the shipped one; the tokens (`tokens/`, `first_access_tokens/`); and the
//! effective variables of a phone (defaults → its model chain → the phone, later wins).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use provedge::Mac;

use super::ini;

/// Tancredi's `scopeType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Defaults,
    Model,
    Phone,
}

/// One scope file, read.
#[derive(Debug)]
pub struct Scope {
    pub id: String,
    pub kind: Kind,
    /// `inheritFrom` (empty when absent).
    pub inherit_from: String,
    /// `[data]`'s scalar values.
    pub data: BTreeMap<String, String>,
    /// `[data]`'s `name[…] = …` lines: (line, name).
    pub arrays: Vec<(usize, String)>,
    /// The file it was read from, for messages.
    pub file: PathBuf,
}

/// What reading a scope file gave.
#[derive(Debug)]
pub enum Read {
    Scope(Scope),
    /// Not read: `FILE:LINE: reason` or another reason.
    Refused {
        id: String,
        reason: String,
    },
    /// Not a scope Tancredi renders (an unknown `scopeType`).
    Skipped {
        id: String,
        reason: String,
    },
}

impl Read {
    pub fn id(&self) -> &str {
        match self {
            Read::Scope(s) => &s.id,
            Read::Refused { id, .. } | Read::Skipped { id, .. } => id,
        }
    }
}

/// Every scope: `data_dir/scopes/*.ini`, plus `shipped/scopes/*.ini` for the ids the data
/// folder lacks (a file in the data folder replaces the shipped one whole). Sorted by id.
pub fn read_all(data_dir: &Path, shipped: Option<&Path>) -> std::io::Result<Vec<Read>> {
    let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
    for root in shipped.into_iter().chain([data_dir]) {
        for entry in std::fs::read_dir(root.join("scopes"))? {
            let path = entry?.path();
            let Some(id) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".ini"))
            else {
                continue;
            };
            if path.is_file() {
                // The data folder comes last, so its file replaces the shipped one.
                files.insert(id.to_owned(), path);
            }
        }
    }
    Ok(files
        .into_iter()
        .map(|(id, path)| read_scope(id, path))
        .collect())
}

fn read_scope(id: String, file: PathBuf) -> Read {
    let shown = file.display().to_string();
    let text = match std::fs::read(&file) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => {
                return Read::Refused {
                    id,
                    reason: format!("{shown}: not UTF-8"),
                }
            }
        },
        Err(e) => {
            return Read::Refused {
                id,
                reason: format!("{shown}: {e}"),
            }
        }
    };
    let parsed = match ini::parse(&text) {
        Ok(parsed) => parsed,
        Err(e) => {
            return Read::Refused {
                id,
                reason: format!("{shown}:{}: {}", e.line, e.reason),
            }
        }
    };
    let meta = parsed.values("metadata");
    let kind = match meta.get("scopeType").map(String::as_str) {
        Some("defaults") => Kind::Defaults,
        Some("model") => Kind::Model,
        Some("phone") => Kind::Phone,
        Some(other) => {
            return Read::Skipped {
                id,
                reason: format!("scopeType {other:?} is not defaults, model or phone"),
            }
        }
        None => {
            return Read::Skipped {
                id,
                reason: "no [metadata] scopeType".into(),
            }
        }
    };
    let data = parsed.sections.get("data");
    Read::Scope(Scope {
        id,
        kind,
        inherit_from: meta.get("inheritFrom").cloned().unwrap_or_default(),
        data: data.map(|s| s.values.clone()).unwrap_or_default(),
        arrays: data.map(|s| s.arrays.clone()).unwrap_or_default(),
        file,
    })
}

/// The scopes by id, for following `inheritFrom`.
pub struct Scopes<'a> {
    by_id: HashMap<&'a str, &'a Read>,
}

impl<'a> Scopes<'a> {
    pub fn new(all: &'a [Read]) -> Scopes<'a> {
        Scopes {
            by_id: all.iter().map(|r| (r.id(), r)).collect(),
        }
    }

    /// The defaults scope's values (empty when there is no defaults scope); an error when it
    /// was refused.
    pub fn defaults(&self) -> Result<&'a BTreeMap<String, String>, String> {
        static NONE: BTreeMap<String, String> = BTreeMap::new();
        match self.by_id.get("defaults") {
            None => Ok(&NONE),
            Some(Read::Scope(s)) => Ok(&s.data),
            Some(_) => Err("the defaults scope was refused".into()),
        }
    }

    /// The scopes `phone` inherits from, nearest first, up to (not including) `defaults`:
    /// `inheritFrom` is followed until it is empty or `defaults`, as Tancredi does; a scope met
    /// a second time ends the chain, so a cycle cannot loop.
    pub fn ancestors(&self, phone: &'a Scope) -> Result<Vec<&'a Scope>, String> {
        let mut chain = Vec::new();
        let mut seen: HashSet<&str> = HashSet::from([phone.id.as_str()]);
        let mut next = phone.inherit_from.as_str();
        while !next.is_empty() && next != "defaults" && seen.insert(next) {
            match self.by_id.get(next) {
                Some(Read::Scope(s)) => {
                    chain.push(s);
                    next = s.inherit_from.as_str();
                }
                Some(Read::Refused { .. }) => {
                    return Err(format!("the scope {next:?} it inherits from was refused"))
                }
                Some(Read::Skipped { .. }) => {
                    return Err(format!("the scope {next:?} it inherits from was skipped"))
                }
                None => return Err(format!("inheritFrom {next:?}: no such scope")),
            }
        }
        Ok(chain)
    }
}

/// Merges layers flatly, later wins (PHP's `array_merge` of string keys).
pub fn merge<'m>(
    layers: impl IntoIterator<Item = &'m BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for layer in layers {
        out.extend(layer.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    out
}

/// The tokens of one folder (`tokens/` or `first_access_tokens/`) by the MAC the file names.
/// The file name is the token and its content the phone's scope id; files whose content is not
/// a MAC (or that cannot be read) name no phone and are left out. A token whose name is not
/// UTF-8 is kept as `None`, so the phone it names is refused rather than silently left
/// without it.
#[derive(Debug, Default)]
pub struct Tokens {
    by_mac: HashMap<Mac, Vec<Option<String>>>,
}

impl Tokens {
    /// Reads `dir`; an absent folder has no tokens.
    pub fn read(dir: &Path) -> std::io::Result<Tokens> {
        let mut tokens = Tokens::default();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(tokens),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let path = entry?.path();
            if !path.is_file() {
                continue;
            }
            let Ok(content) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(mac) = content.trim().parse::<Mac>() else {
                continue;
            };
            let name = path.file_name().and_then(|n| n.to_str()).map(str::to_owned);
            tokens.by_mac.entry(mac).or_default().push(name);
        }
        Ok(tokens)
    }

    /// The token naming `mac`: `Ok(None)` when none does; an error (naming the folder, never a
    /// token) when two do or its name is not text.
    pub fn for_mac(&self, mac: Mac, folder: &str) -> Result<Option<&str>, String> {
        match self.by_mac.get(&mac).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([Some(token)]) => Ok(Some(token)),
            Some([None]) => Err(format!(
                "the file in {folder}/ naming this MAC has a name that is not UTF-8"
            )),
            Some(more) => Err(format!(
                "{} files in {folder}/ name this MAC (Tancredi keeps one)",
                more.len()
            )),
        }
    }
}

/// How many files `templates/` and `templates-custom/` of each root hold.
pub fn count_templates(roots: &[&Path]) -> usize {
    fn count(dir: &Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() {
                        count(&path)
                    } else {
                        1
                    }
                })
                .sum()
        })
    }
    roots
        .iter()
        .flat_map(|root| ["templates", "templates-custom"].map(|d| root.join(d)))
        .map(|dir| count(&dir))
        .sum()
}
