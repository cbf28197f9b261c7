//! A store folder as the keys a push sends: the folder store's layout (`src/store/mod.rs`),
//! minus what is not the operator's to push.
//!
//! Left out: dotfiles and dot-folders (`.git`, `.DS_Store`, editors' swap files), and the
//! runtime state a host writes into a store (`uploads/`, `last-seen/`, at the root and in each
//! tenant's namespace): pushing them would overwrite what phones uploaded since, and deleting
//! them would lose it. Refused: names that are not store keys as they stand (a key is lower
//! case; `Devices/X.json` would be pushed where no host ever reads) and the push's own
//! `store/` folder.

use std::path::{Path, PathBuf};

use provedge::store::placement::{GENERATION_KEY, MANIFEST_KEY};
use provedge::store::{TENANTS, UPLOADS};
use provedge::StoreKey;

/// Folders of runtime state: what phones upload, and the last-seen records hosts write
/// (`provedge::access`, `[tenants/<name>/]last-seen/<mac>.json`).
const RUNTIME_STATE: [&str; 2] = [UPLOADS, "last-seen"];

/// The folder of the push's own keys (the manifest and the generation).
const OWN_KEYS: &str = "store";

/// Folders nested deeper than this are refused: a symbolic link that points back up the tree
/// would otherwise be walked forever.
const MAX_DEPTH: usize = 32;

/// One file of the store folder and the key it is pushed under.
#[derive(Clone, Debug)]
pub struct File {
    pub key: StoreKey,
    pub path: PathBuf,
}

/// A key (or, for a name that is no key, the path under the folder) that cannot be pushed,
/// and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub reason: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Problem {
        Problem {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

/// Every file under `root` that is part of the store, sorted by key, and every name that
/// cannot be a key. `Err` only when `root` itself cannot be read.
pub fn walk(root: &Path) -> Result<(Vec<File>, Vec<Problem>), String> {
    if !root.is_dir() {
        return Err(format!("{}: not a store folder", root.display()));
    }
    let mut files = Vec::new();
    let mut problems = Vec::new();
    visit(root, "", 0, &mut files, &mut problems)
        .map_err(|e| format!("{}: {e}", root.display()))?;
    files.sort_by(|a, b| a.key.cmp(&b.key));
    problems.sort_by(|a, b| a.key.cmp(&b.key));
    Ok((files, problems))
}

/// Walks `dir`, whose key prefix is `prefix` (empty or ending in `/`). Symbolic links are
/// followed, as the folder store follows them when it serves.
fn visit(
    dir: &Path,
    prefix: &str,
    depth: usize,
    files: &mut Vec<File>,
    problems: &mut Vec<Problem>,
) -> std::io::Result<()> {
    if depth > MAX_DEPTH {
        problems.push(Problem::new(
            prefix.trim_end_matches('/'),
            format!("nested more than {MAX_DEPTH} folders deep (a symbolic link loop?)"),
        ));
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            problems.push(Problem::new(
                format!("{prefix}{}", name.to_string_lossy()),
                "the name is not UTF-8",
            ));
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let rel = format!("{prefix}{name}");
        let path = entry.path();
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) => {
                problems.push(Problem::new(rel, e.to_string()));
                continue;
            }
        };
        if meta.is_dir() {
            if is_runtime_state(&rel) {
                continue;
            }
            if rel == OWN_KEYS {
                problems.push(Problem::new(
                    rel,
                    format!("reserved for the push's own keys ({MANIFEST_KEY}, {GENERATION_KEY})"),
                ));
                continue;
            }
            visit(&path, &format!("{rel}/"), depth + 1, files, problems)?;
        } else if meta.is_file() {
            match StoreKey::new(&rel) {
                Some(key) if key.as_str() == rel => files.push(File { key, path }),
                _ => problems.push(Problem::new(
                    rel,
                    "not a store key: keys are lower case, made of a-z 0-9 . _ + , ( ) @ -",
                )),
            }
        }
    }
    Ok(())
}

/// Whether the folder `rel` (a path under the store, no trailing `/`) is runtime state: at
/// the root, or directly in a tenant's namespace (`tenants/<name>/uploads`).
fn is_runtime_state(rel: &str) -> bool {
    let within = rel
        .strip_prefix(TENANTS)
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.split_once('/'))
        .map_or(rel, |(_tenant, within)| within);
    RUNTIME_STATE.contains(&within)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_state_is_left_out_at_the_root_and_in_tenants() {
        for (rel, left_out) in [
            ("uploads", true),
            ("last-seen", true),
            ("tenants/acme/uploads", true),
            ("tenants/acme/last-seen", true),
            ("tenants/uploads", false),
            ("polycom/uploads", false),
            ("devices", false),
            ("tenants/acme/devices", false),
        ] {
            assert_eq!(is_runtime_state(rel), left_out, "{rel}");
        }
    }

    #[test]
    fn walks_keys_skips_dotfiles_and_state_and_names_bad_names() {
        let root = std::env::temp_dir().join(format!("provedge-layout-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (path, body) in [
            ("devices/000b82123456.json", "{}"),
            ("tenants/acme/vars/global.json", "{}"),
            ("tenants/acme/uploads/polycom/x.log", "x"),
            ("uploads/polycom/y.log", "y"),
            ("last-seen/000b82123456.json", "{}"),
            (".git/HEAD", "ref"),
            ("templates/.swp", "x"),
            ("Algo/Tones.zip", "z"),
            ("store/manifest.json", "{}"),
        ] {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        let (files, problems) = walk(&root).unwrap();
        let keys: Vec<&str> = files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            ["devices/000b82123456.json", "tenants/acme/vars/global.json"]
        );
        let named: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(named, ["Algo/Tones.zip", "store"]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
