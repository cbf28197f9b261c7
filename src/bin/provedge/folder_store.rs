//! The folder store: store keys are paths under a directory.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use provedge::{Lookup, StoreKey};

/// A store in a local folder. Keys are validated lower-case relative paths (no `..`), so joining
/// them onto the root cannot leave it.
#[derive(Clone, Debug)]
pub struct FolderStore {
    root: PathBuf,
}

impl FolderStore {
    pub fn new(root: impl Into<PathBuf>) -> FolderStore {
        FolderStore { root: root.into() }
    }

    /// `--store DIR`, or `examples/store` under the current directory, or the repository's own
    /// example store (so `cargo run -- render …` works from anywhere).
    pub fn from_arg(arg: Option<&Path>) -> FolderStore {
        match arg {
            Some(dir) => FolderStore::new(dir),
            None => {
                let local = PathBuf::from("examples/store");
                if local.is_dir() {
                    FolderStore::new(local)
                } else {
                    FolderStore::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/store"))
                }
            }
        }
    }

    /// The folder the keys are paths under.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a key's file lives.
    pub fn path(&self, key: &StoreKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    pub fn read(&self, key: &StoreKey) -> Lookup {
        match std::fs::read(self.path(key)) {
            Ok(bytes) => Lookup::Found(bytes.into()),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                Lookup::Missing
            }
            Err(e) => Lookup::Failed(format!("{}: {}", key, e.kind())),
        }
    }
}
