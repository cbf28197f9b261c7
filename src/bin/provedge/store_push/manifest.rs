//! The manifest of a push, and the plan that compares it with the last one.
//!
//! The manifest (`store/manifest.json`) is `{"keys": {"<key>": "<sha256 hex>", …}}` plus the
//! placement the keys were pushed with (`"placement": {"kv_prefixes": […], "bucket": "…"}`):
//! a key whose placement changed since the last push is in the wrong backend even though its
//! content is the same, so it is moved (put where it now belongs, deleted where it was). The
//! generation is a short hash of the manifest's bytes: every change to any key's content or
//! place changes it.

use std::collections::BTreeMap;

use provedge::store::placement::{Backend, Placement};
use serde::{Deserialize, Serialize};

use super::check::{sha256_hex, Checked};

/// The hash a key has in the manifest written before the uploads start, for every key about to
/// be written: a push that stops half way leaves them listed (so the next push deletes the
/// ones that are gone) but matching no content (so it writes the others again).
pub const PENDING: &str = "pending";

/// Hex digits of the generation: 64 bits of the manifest's SHA-256, plenty to tell pushes of
/// one store apart.
const GENERATION_HEX: usize = 16;

/// Where a key's value lives.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    /// The Workers KV namespace bound as `STORE`.
    Kv,
    /// The R2 bucket of this name (bound as `BUCKET`).
    Bucket(String),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Kv => f.write_str("kv"),
            Location::Bucket(_) => f.write_str("r2"),
        }
    }
}

/// Where a push puts keys: the placement (from the configuration's `worker` section) and the
/// R2 bucket, if there is one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Recorded", into = "Recorded")]
pub struct Target {
    pub placement: Placement,
    pub bucket: Option<String>,
}

impl Target {
    /// Where `key` goes: the same decision the Worker makes to read it.
    pub fn location(&self, key: &str) -> Location {
        match (
            self.placement.backend(key, self.bucket.is_some()),
            &self.bucket,
        ) {
            (Backend::Objects, Some(bucket)) => Location::Bucket(bucket.clone()),
            _ => Location::Kv,
        }
    }
}

/// A [`Target`] as the manifest records it.
#[derive(Clone, Serialize, Deserialize)]
struct Recorded {
    kv_prefixes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bucket: Option<String>,
}

impl From<Recorded> for Target {
    fn from(r: Recorded) -> Target {
        Target {
            placement: Placement {
                kv_prefixes: r.kv_prefixes,
            },
            bucket: r.bucket,
        }
    }
}

impl From<Target> for Recorded {
    fn from(t: Target) -> Recorded {
        Recorded {
            kv_prefixes: t.placement.kv_prefixes,
            bucket: t.bucket,
        }
    }
}

/// What a push wrote: every key with the hash of its content, and where it put them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub keys: BTreeMap<String, String>,
    /// Absent in a manifest that did not record it: then the keys are taken to be where this
    /// push would put them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Target>,
}

impl Manifest {
    /// Reads a manifest, naming what is wrong with it.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("not a push manifest: {e}"))
    }

    /// The manifest as stored: compact JSON with keys in order, so the same store always gives
    /// the same bytes and so the same generation.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest is plain JSON")
    }
}

/// The generation of a manifest: a short hex hash of its bytes.
pub fn generation(manifest: &[u8]) -> String {
    let mut hex = sha256_hex(manifest);
    hex.truncate(GENERATION_HEX);
    hex
}

/// Why a key is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Not in the last manifest.
    New,
    /// Its content changed, or it moved to another backend.
    Changed,
}

/// One key to write: `files[index]` goes to `location`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Put {
    pub index: usize,
    pub location: Location,
    pub change: Change,
}

/// One key to delete from `location`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delete {
    pub key: String,
    pub location: Location,
    /// Gone from the store (`false`: moved to another backend, and written there).
    pub gone: bool,
}

/// What a push does.
#[derive(Clone, Debug)]
pub struct Plan {
    pub puts: Vec<Put>,
    pub deletes: Vec<Delete>,
    pub unchanged: usize,
    /// The manifest to write once every put and delete is done.
    pub manifest: Manifest,
}

impl Plan {
    /// Compares the checked files with the last manifest (`None`: no push yet).
    pub fn new(files: &[Checked], target: &Target, last: Option<&Manifest>) -> Plan {
        let empty = Manifest::default();
        let last = last.unwrap_or(&empty);
        // Where the last push put a key: by its recorded placement, or this push's.
        let before = last.placement.as_ref().unwrap_or(target);
        let mut puts = Vec::new();
        let mut deletes = Vec::new();
        let mut unchanged = 0;
        let mut keys = BTreeMap::new();
        for (index, file) in files.iter().enumerate() {
            let key = file.key.as_str();
            let location = target.location(key);
            keys.insert(key.to_owned(), file.sha256.clone());
            let change = match last.keys.get(key) {
                None => Change::New,
                Some(hash) => {
                    let was = before.location(key);
                    if was != location {
                        deletes.push(Delete {
                            key: key.to_owned(),
                            location: was,
                            gone: false,
                        });
                    } else if *hash == file.sha256 {
                        unchanged += 1;
                        continue;
                    }
                    Change::Changed
                }
            };
            puts.push(Put {
                index,
                location,
                change,
            });
        }
        for key in last.keys.keys().filter(|k| !keys.contains_key(*k)) {
            deletes.push(Delete {
                key: key.clone(),
                location: before.location(key),
                gone: true,
            });
        }
        Plan {
            puts,
            deletes,
            unchanged,
            manifest: Manifest {
                keys,
                placement: Some(target.clone()),
            },
        }
    }

    /// Whether the push writes or deletes anything.
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty()
    }

    /// The manifest to write before the first upload: the last one, with every key about to be
    /// written listed as [`PENDING`] (see there).
    pub fn pending(&self, files: &[Checked], last: Option<&Manifest>) -> Manifest {
        let mut manifest = last.cloned().unwrap_or_default();
        if manifest.placement.is_none() {
            manifest.placement = self.manifest.placement.clone();
        }
        for put in &self.puts {
            let key = files[put.index].key.as_str().to_owned();
            manifest.keys.insert(key, PENDING.to_owned());
        }
        manifest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provedge::StoreKey;

    fn file(key: &str, content: &str) -> Checked {
        Checked {
            key: StoreKey::new(key).unwrap(),
            path: key.into(),
            size: content.len() as u64,
            sha256: sha256_hex(content.as_bytes()),
        }
    }

    fn kv_only() -> Target {
        Target {
            placement: Placement::default(),
            bucket: None,
        }
    }

    fn with_bucket() -> Target {
        Target {
            placement: Placement::default(),
            bucket: Some("files".into()),
        }
    }

    #[test]
    fn locations_follow_the_placement() {
        let t = with_bucket();
        assert_eq!(t.location("devices/000b82123456.json"), Location::Kv);
        assert_eq!(
            t.location("templates/yealink/@mac.cfg"),
            Location::Bucket("files".into())
        );
        assert_eq!(t.location("store/generation"), Location::Kv);
        assert_eq!(
            kv_only().location("templates/yealink/@mac.cfg"),
            Location::Kv
        );
    }

    #[test]
    fn new_changed_unchanged_and_deleted() {
        let first = [
            file("devices/a.json", "1"),
            file("templates/x/t.cfg", "t"),
            file("vars/global.json", "{}"),
        ];
        let plan = Plan::new(&first, &kv_only(), None);
        assert_eq!(plan.puts.len(), 3);
        assert!(plan.puts.iter().all(|p| p.change == Change::New));
        let last = plan.manifest;

        let same = Plan::new(&first, &kv_only(), Some(&last));
        assert!(same.is_empty());
        assert_eq!(same.unchanged, 3);
        assert_eq!(same.manifest, last);

        let second = [
            file("templates/x/t.cfg", "t2"),
            file("vars/global.json", "{}"),
        ];
        let plan = Plan::new(&second, &kv_only(), Some(&last));
        assert_eq!(
            plan.puts,
            [Put {
                index: 0,
                location: Location::Kv,
                change: Change::Changed
            }]
        );
        assert_eq!(
            plan.deletes,
            [Delete {
                key: "devices/a.json".into(),
                location: Location::Kv,
                gone: true
            }]
        );
        assert_eq!(plan.unchanged, 1);
    }

    #[test]
    fn a_new_placement_moves_keys_whatever_their_content() {
        let files = [file("devices/a.json", "1"), file("templates/x/t.cfg", "t")];
        let last = Plan::new(&files, &kv_only(), None).manifest;
        let plan = Plan::new(&files, &with_bucket(), Some(&last));
        assert_eq!(plan.unchanged, 1);
        assert_eq!(
            plan.puts,
            [Put {
                index: 1,
                location: Location::Bucket("files".into()),
                change: Change::Changed
            }]
        );
        assert_eq!(
            plan.deletes,
            [Delete {
                key: "templates/x/t.cfg".into(),
                location: Location::Kv,
                gone: false
            }]
        );
    }

    #[test]
    fn an_interrupted_push_is_redone() {
        let files = [file("devices/a.json", "1"), file("devices/b.json", "2")];
        let last = Plan::new(&files[..1], &kv_only(), None).manifest;
        let plan = Plan::new(&files, &kv_only(), Some(&last));
        let pending = plan.pending(&files, Some(&last));
        assert_eq!(pending.keys["devices/a.json"], files[0].sha256);
        assert_eq!(pending.keys["devices/b.json"], PENDING);
        // Stopped after the pending manifest: b is written again; if b is gone, it is deleted.
        assert_eq!(Plan::new(&files, &kv_only(), Some(&pending)).puts.len(), 1);
        let gone = Plan::new(&files[..1], &kv_only(), Some(&pending));
        assert_eq!(gone.deletes.len(), 1);
    }

    #[test]
    fn the_generation_is_a_short_hash_of_the_manifest() {
        let manifest = Plan::new(&[file("devices/a.json", "1")], &kv_only(), None).manifest;
        let bytes = manifest.to_bytes();
        assert_eq!(Manifest::parse(&bytes).unwrap(), manifest);
        let g = generation(&bytes);
        assert_eq!(g.len(), 16);
        assert!(sha256_hex(&bytes).starts_with(&g));
        assert!(String::from_utf8(bytes)
            .unwrap()
            .starts_with(r#"{"keys":{"devices/a.json":""#));
    }
}
