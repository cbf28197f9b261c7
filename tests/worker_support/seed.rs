//! Local state seeded by `provedge store push --local` (the built binary, through the wrangler
//! `scripts/test-all` installs), as an operator fills the Worker's KV namespace and R2 bucket:
//! the keys, where the placement puts them, the manifest and the generation are the push's.
//!
//! Pushing through wrangler costs about a second and a half a wrangler process, and a push
//! runs one per R2 object (local state takes one writer at a time): the example store is some
//! 40 s over KV and R2. So pushed states are kept between runs under the tests' target folder
//! (`CARGO_TARGET_TMPDIR/worker-states/<fingerprint>`), by a fingerprint of the store folder's
//! files and of where its keys go, each with the `provedge` binary that pushed it (its size and
//! modification time), and a Worker runs over a copy of one. State another binary pushed is
//! not trusted as it is: before it serves, the store is pushed again into a copy of it (or,
//! when none is kept, of the kept state with the fewest keys to change), and the result kept.
//! A push with nothing to write only reads the manifest and the generation (two wrangler
//! runs); a changed `provedge` writes what it writes differently. Pushes run one at a time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// The KV namespace id the state's `STORE` has.
pub const STORE_ID: &str = "STORE";
/// The R2 bucket bound as `BUCKET`, when the Worker has one.
pub const BUCKET: &str = "provedge-test";
/// Most pushed states kept; the least recently used go first.
const KEPT: usize = 40;

/// Held for a whole seeding: pushes and the copies of kept state run one at a time.
static SEEDING: Mutex<()> = Mutex::new(());

/// What a push writes a store folder to.
#[derive(Clone, Debug)]
pub struct Target {
    /// The wrangler `scripts/test-all` installs.
    pub wrangler: PathBuf,
    /// `PROVEDGE_CONFIG`: its `worker.kv_prefixes` place the keys (`--config`).
    pub config: String,
    /// Whether the Worker has the bucket (`--bucket`); without it every key is in KV.
    pub r2: bool,
}

impl Target {
    /// Where the keys go, as the fingerprint counts it.
    fn placement(&self) -> String {
        let prefixes = serde_json::from_str::<serde_json::Value>(&self.config)
            .ok()
            .and_then(|c| c.get("worker")?.get("kv_prefixes").cloned())
            .unwrap_or_default();
        format!("bucket={} kv_prefixes={prefixes}", self.r2)
    }

    /// Runs `provedge store push STORE --local --persist-to STATE` from `cwd` (a folder without
    /// a wrangler configuration); the summary line. Panics with wrangler's words on failure.
    pub fn push(&self, store: &Path, state: &Path, cwd: &Path) -> String {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_provedge"));
        cmd.args(["store", "push"])
            .arg(store)
            .args(["--local", "--persist-to"])
            .arg(state)
            .args(["--kv-namespace-id", STORE_ID])
            .current_dir(cwd)
            .env("PROVEDGE_WRANGLER", &self.wrangler);
        if self.r2 {
            cmd.args(["--bucket", BUCKET]);
        }
        if serde_json::from_str::<serde_json::Value>(&self.config).is_ok() {
            let file = cwd.join("provedge-config.json");
            std::fs::write(&file, &self.config).unwrap();
            cmd.arg("--config").arg(file);
        }
        let out = cmd.output().expect("provedge store push");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "provedge store push {}: {stdout}{}",
            store.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        stdout.lines().last().unwrap_or_default().to_owned()
    }
}

/// Fills `into` (a folder that does not exist yet) with the state a push of `store` leaves.
pub fn seed(target: &Target, store: &Path, into: &Path) {
    let _one_at_a_time = SEEDING.lock().unwrap_or_else(|e| e.into_inner());
    let files = files_of(store);
    let placement = target.placement();
    let fingerprint = fingerprint(&placement, &files);
    let kept = root().join(&fingerprint);
    if std::fs::read_to_string(kept.join("pushed-by")).ok() != Some(binary()) {
        push_kept(target, store, &placement, &files, &kept);
    }
    let _ = std::fs::write(kept.join("used"), b"");
    copy(&kept.join("state"), into).unwrap_or_else(|e| panic!("copying {}: {e}", kept.display()));
}

/// Pushes `store` into a copy of the nearest kept state and keeps the result as `kept`.
fn push_kept(
    target: &Target,
    store: &Path,
    placement: &str,
    files: &BTreeMap<String, String>,
    kept: &Path,
) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let work = root().join(format!(".work-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let state = work.join("state");
    let start = if kept.join("files.json").exists() {
        Some(kept.to_owned())
    } else {
        nearest(placement, files)
    };
    if let Some(from) = &start {
        if copy(&from.join("state"), &state).is_err() {
            // Replaced by another test process meanwhile: push it all.
            let _ = std::fs::remove_dir_all(&state);
        }
    }
    let summary = target.push(store, &state, &work);
    let unchanged = summary.starts_with("0 new, 0 changed, ") && summary.contains(" 0 deleted,");
    if start.as_deref() == Some(kept) && unchanged {
        let _ = std::fs::remove_dir_all(&work);
        let _ = std::fs::write(kept.join("pushed-by"), binary());
        return;
    }
    let listed = serde_json::json!({"placement": placement, "files": files});
    std::fs::write(work.join("files.json"), listed.to_string()).unwrap();
    std::fs::write(work.join("pushed-by"), binary()).unwrap();
    // This push replaces what was kept; when another test process keeps its push of the same
    // store in between, that one stays.
    let old = root().join(format!(".old-{}-{n}", std::process::id()));
    let _ = std::fs::rename(kept, &old);
    if std::fs::rename(&work, kept).is_err() {
        let _ = std::fs::remove_dir_all(&work);
    }
    let _ = std::fs::remove_dir_all(&old);
    prune();
}

/// The kept state of the same placement with the fewest keys to write or delete for `files`,
/// if that is fewer than pushing from nothing.
fn nearest(placement: &str, files: &BTreeMap<String, String>) -> Option<PathBuf> {
    let mut best: Option<(usize, PathBuf)> = None;
    for entry in std::fs::read_dir(root()).ok()?.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("files.json")) else {
            continue;
        };
        let Ok(listed) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if listed["placement"] != placement {
            continue;
        }
        let theirs: BTreeMap<String, String> =
            serde_json::from_value(listed["files"].clone()).unwrap_or_default();
        let differ = files
            .iter()
            .filter(|(k, h)| theirs.get(*k) != Some(h))
            .count()
            + theirs.keys().filter(|k| !files.contains_key(*k)).count();
        let nearer = match &best {
            Some((d, _)) => differ < *d,
            None => differ < files.len(),
        };
        if nearer {
            best = Some((differ, entry.path()));
        }
    }
    best.map(|(_, path)| path)
}

/// Removes the least recently used kept states past [`KEPT`], and what pushes that stopped
/// half way (a test process killed) left over an hour ago.
fn prune() {
    let Ok(entries) = std::fs::read_dir(root()) else {
        return;
    };
    let (left, entries): (Vec<_>, Vec<_>) = entries
        .flatten()
        .partition(|e| e.file_name().to_string_lossy().starts_with('.'));
    for entry in left {
        let age = entry.metadata().and_then(|m| m.modified()).ok();
        if age
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|a| a.as_secs() > 3600)
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let mut kept: Vec<(std::time::SystemTime, PathBuf)> = entries
        .into_iter()
        .map(|e| {
            let used = std::fs::metadata(e.path().join("used"))
                .or_else(|_| std::fs::metadata(e.path()))
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (used, e.path())
        })
        .collect();
    if kept.len() <= KEPT {
        return;
    }
    kept.sort();
    for (_, path) in &kept[..kept.len() - KEPT] {
        let _ = std::fs::remove_dir_all(path);
    }
}

/// The `provedge` binary the pushes run, as its size and modification time.
fn binary() -> String {
    let meta = std::fs::metadata(env!("CARGO_BIN_EXE_provedge")).expect("the provedge binary");
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .unwrap_or_default();
    format!("{} bytes, modified {}", meta.len(), modified.as_nanos())
}

/// Where pushed states are kept.
fn root() -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("worker-states");
    std::fs::create_dir_all(&root).unwrap();
    root
}

/// The keys a push takes from `store` with their contents' SHA-256: every file but dotfiles
/// and the runtime state (`uploads/`, `last-seen/`, at the root and in tenants).
fn files_of(store: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, key: &str, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // `key` is the folder's: `` at the root, `tenants/<name>/` in a tenant.
            let namespace =
                key.is_empty() || key.starts_with("tenants/") && key.matches('/').count() == 2;
            let runtime = namespace && ["uploads", "last-seen"].contains(&name.as_str());
            if name.starts_with('.') || runtime {
                continue;
            }
            let key = format!("{key}{name}");
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &format!("{key}/"), out);
            } else {
                let bytes = std::fs::read(entry.path()).unwrap();
                out.insert(key, hex(&Sha256::digest(bytes)));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(store, "", &mut out);
    out
}

fn fingerprint(placement: &str, files: &BTreeMap<String, String>) -> String {
    let mut hash = Sha256::new();
    hash.update(placement);
    for (key, sum) in files {
        hash.update(format!("\n{key}\0{sum}"));
    }
    hex(&hash.finalize())[..24].to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Copies a folder (which must not exist yet at `to`).
fn copy(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
