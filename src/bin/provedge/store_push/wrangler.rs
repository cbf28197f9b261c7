//! Workers KV and R2 through `wrangler` (npm), the tool operators already deploy the Worker
//! with: it holds their Cloudflare login, and with `--local` it reads and writes the same local
//! state `wrangler dev` and Miniflare read. `provedge store push` writes with it, `provedge
//! fleet --kv-namespace-id` reads the last-seen records with it.
//!
//! The commands, all with `--local --persist-to PATH` or `--remote` (and `--config FILE` when
//! a wrangler configuration is named):
//!
//! ```text
//! wrangler kv key get KEY            (--binding STORE | --namespace-id ID)
//! wrangler kv key list --prefix P    … [{"name": …}, …]
//! wrangler kv bulk get FILE.json     … ["key", …] → {"key": {"value": "…"|null}, …}
//! wrangler kv bulk put FILE.json     … [{"key": …, "value": <base64>, "base64": true}, …]
//! wrangler kv bulk delete FILE.json --force     … ["key", …]
//! wrangler r2 object put BUCKET/KEY --file PATH
//! wrangler r2 object delete BUCKET/KEY
//! ```
//!
//! `--binding STORE` lets wrangler find the namespace id in the wrangler configuration of the
//! working directory (the Worker's `wrangler.toml`), so a push goes where the Worker reads.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The Worker's KV binding (docs/worker.md).
pub const KV_BINDING: &str = "STORE";
/// Where `--local` keeps its state without `--persist-to`: where `wrangler dev` keeps it.
pub const DEFAULT_PERSIST_TO: &str = ".wrangler/state";
/// Keys one `kv bulk get` asks the account for (the API's limit); local state takes any number.
const REMOTE_BULK_GET: usize = 100;

/// Where wrangler keeps the values.
#[derive(Clone, Debug)]
pub enum Storage {
    /// Local state under this folder (`--local --persist-to`), as `wrangler dev` keeps it.
    Local(PathBuf),
    /// The Cloudflare account wrangler is logged in to (`--remote`).
    Remote,
}

impl Storage {
    /// What `--local [--persist-to DIR]` names: local state, by default where `wrangler dev`
    /// keeps it; the account without `--local`.
    pub fn from_args(local: bool, persist_to: Option<&Path>) -> Storage {
        match (local, persist_to) {
            (false, _) => Storage::Remote,
            (true, Some(dir)) => Storage::Local(dir.to_owned()),
            (true, None) => Storage::Local(PathBuf::from(DEFAULT_PERSIST_TO)),
        }
    }
}

impl std::fmt::Display for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Storage::Local(dir) => write!(f, "local state in {}", dir.display()),
            Storage::Remote => f.write_str("the account"),
        }
    }
}

/// Which KV namespace.
#[derive(Clone, Debug)]
pub enum Namespace {
    /// The one bound as [`KV_BINDING`] in the wrangler configuration.
    Binding,
    /// This namespace id.
    Id(String),
}

/// A way to run wrangler against one KV namespace (and R2 buckets) in one storage.
#[derive(Clone, Debug)]
pub struct Wrangler {
    program: PathBuf,
    storage: Storage,
    namespace: Namespace,
    /// The wrangler configuration (`--config`); `None`: the one of the working directory.
    config: Option<PathBuf>,
}

impl Wrangler {
    pub fn new(program: PathBuf, storage: Storage, namespace: Namespace) -> Wrangler {
        Wrangler {
            program,
            storage,
            namespace,
            config: None,
        }
    }

    /// Reads the namespace bound as [`KV_BINDING`] from this wrangler configuration rather
    /// than the working directory's.
    pub fn with_config(mut self, config: Option<PathBuf>) -> Wrangler {
        self.config = config;
        self
    }

    /// Which namespace in which storage, for messages.
    pub fn describe(&self) -> String {
        let kv = match (&self.namespace, &self.config) {
            (Namespace::Id(id), _) => format!("KV namespace {id}"),
            (Namespace::Binding, Some(file)) => {
                format!("KV (binding {KV_BINDING} in {})", file.display())
            }
            (Namespace::Binding, None) => format!("KV (binding {KV_BINDING})"),
        };
        format!("{kv}, {}", self.storage)
    }

    /// Whether wrangler processes may run side by side. Local state is SQLite that one
    /// workerd at a time may write: concurrent local bulk puts fail with 500s.
    pub fn parallel(&self) -> bool {
        matches!(self.storage, Storage::Remote)
    }

    /// The value of a KV key, `None` when there is none.
    pub fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let mut args = vec![os("kv"), os("key"), os("get"), os(key)];
        args.extend(self.kv_args());
        let out = self.spawn(&args)?;
        // wrangler prints `Value not found` (exit 0) for a missing key in local state, and
        // fails with the API's 404 for one in the account. No value this push reads is that
        // text (a manifest is a JSON object, a generation hex).
        if out.status.success() {
            if out.stdout.trim_ascii_end() == b"Value not found" {
                return Ok(None);
            }
            return Ok(Some(out.stdout));
        }
        if String::from_utf8_lossy(&out.stderr).contains(" 404") {
            return Ok(None);
        }
        Err(failure(&format!("kv key get {key}"), &out))
    }

    /// The keys under `prefix`, as wrangler lists them: every page of the account's; local
    /// state answers its first 1000 (Miniflare's one page).
    pub fn kv_list(&self, prefix: &str) -> Result<Vec<String>, String> {
        let mut args = vec![os("kv"), os("key"), os("list"), os("--prefix"), os(prefix)];
        args.extend(self.kv_args());
        let out = self.spawn(&args)?;
        if !out.status.success() {
            return Err(failure(&format!("kv key list --prefix {prefix}"), &out));
        }
        #[derive(serde::Deserialize)]
        struct Key {
            name: String,
        }
        let keys: Vec<Key> = first_json(&out.stdout).map_err(|e| {
            format!("wrangler kv key list --prefix {prefix}: not a list of keys ({e})")
        })?;
        Ok(keys.into_iter().map(|k| k.name).collect())
    }

    /// The values of `keys` as text (`kv bulk get`, wrangler 4's open beta), in their order;
    /// `None` for a key without one. The account is asked 100 keys a process (its limit),
    /// local state all at once; `scratch` is a folder for the key files.
    pub fn kv_bulk_get(
        &self,
        keys: &[String],
        scratch: &Path,
    ) -> Result<Vec<Option<Vec<u8>>>, String> {
        let chunk = match self.storage {
            Storage::Remote => REMOTE_BULK_GET,
            Storage::Local(_) => keys.len().max(1),
        };
        let mut out = Vec::with_capacity(keys.len());
        for (n, part) in keys.chunks(chunk).enumerate() {
            out.extend(self.bulk_get_one(part, &scratch.join(format!("bulk-get-{n}.json")))?);
        }
        Ok(out)
    }

    fn bulk_get_one(&self, keys: &[String], file: &Path) -> Result<Vec<Option<Vec<u8>>>, String> {
        let list = serde_json::to_vec(keys).map_err(|e| e.to_string())?;
        std::fs::write(file, list).map_err(|e| format!("{}: {e}", file.display()))?;
        let mut args = vec![os("kv"), os("bulk"), os("get"), file.into()];
        args.extend(self.kv_args());
        let out = self.spawn(&args);
        let _ = std::fs::remove_file(file);
        let out = out?;
        if !out.status.success() {
            return Err(failure("kv bulk get", &out));
        }
        // Local state answers `{"key": {"value": …}}`, the account's API `{"key": …}`.
        let values: serde_json::Map<String, serde_json::Value> = first_json(&out.stdout)
            .map_err(|e| format!("wrangler kv bulk get: not an object of values ({e})"))?;
        Ok(keys
            .iter()
            .map(|key| {
                let value = values.get(key)?;
                let value = value.get("value").unwrap_or(value);
                match value {
                    serde_json::Value::String(text) => Some(text.clone().into_bytes()),
                    serde_json::Value::Null => None,
                    other => Some(other.to_string().into_bytes()),
                }
            })
            .collect())
    }

    /// Writes the values listed in `file` (wrangler's bulk format, base64 values).
    pub fn kv_bulk_put(&self, file: &Path) -> Result<(), String> {
        let mut args = vec![os("kv"), os("bulk"), os("put"), file.into()];
        args.extend(self.kv_args());
        self.run("kv bulk put", &args)
    }

    /// Deletes the keys listed in `file` (a JSON array of keys).
    pub fn kv_bulk_delete(&self, file: &Path) -> Result<(), String> {
        let mut args = vec![
            os("kv"),
            os("bulk"),
            os("delete"),
            file.into(),
            os("--force"),
        ];
        args.extend(self.kv_args());
        self.run("kv bulk delete", &args)
    }

    /// Uploads `file` as the object `key` of `bucket`, streamed by wrangler from the file.
    pub fn r2_put(&self, bucket: &str, key: &str, file: &Path) -> Result<(), String> {
        let mut args = vec![
            os("r2"),
            os("object"),
            os("put"),
            os(&format!("{bucket}/{key}")),
            os("--file"),
            file.into(),
        ];
        args.extend(self.storage_args());
        self.run(&format!("r2 object put {bucket}/{key}"), &args)
    }

    /// Deletes the object `key` of `bucket` (nothing to delete is no error).
    pub fn r2_delete(&self, bucket: &str, key: &str) -> Result<(), String> {
        let mut args = vec![
            os("r2"),
            os("object"),
            os("delete"),
            os(&format!("{bucket}/{key}")),
        ];
        args.extend(self.storage_args());
        self.run(&format!("r2 object delete {bucket}/{key}"), &args)
    }

    fn kv_args(&self) -> Vec<OsString> {
        let mut args = match &self.namespace {
            Namespace::Binding => vec![os("--binding"), os(KV_BINDING)],
            Namespace::Id(id) => vec![os("--namespace-id"), os(id)],
        };
        args.extend(self.storage_args());
        args
    }

    fn storage_args(&self) -> Vec<OsString> {
        let mut args = match &self.storage {
            Storage::Local(dir) => vec![os("--local"), os("--persist-to"), dir.into()],
            Storage::Remote => vec![os("--remote")],
        };
        if let Some(config) = &self.config {
            args.extend([os("--config"), config.into()]);
        }
        args
    }

    fn run(&self, what: &str, args: &[OsString]) -> Result<(), String> {
        let out = self.spawn(args)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(failure(what, &out))
        }
    }

    fn spawn(&self, args: &[OsString]) -> Result<Output, String> {
        Command::new(&self.program)
            .args(args)
            // No usage-data prompt or upload; plain text errors.
            .env("WRANGLER_SEND_METRICS", "false")
            .env("NO_COLOR", "1")
            .env("FORCE_COLOR", "0")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", self.program.display()))
    }
}

/// The first JSON document of wrangler's output (it prints `Success!` and warnings after it).
fn first_json<T: serde::de::DeserializeOwned>(stdout: &[u8]) -> Result<T, serde_json::Error> {
    let start = stdout
        .iter()
        .position(|b| matches!(b, b'[' | b'{'))
        .unwrap_or(0);
    serde_json::Deserializer::from_slice(&stdout[start..])
        .into_iter::<T>()
        .next()
        .unwrap_or_else(|| serde_json::from_slice(b""))
}

fn os(s: &str) -> OsString {
    OsStr::new(s).to_owned()
}

/// `what` failed: what wrangler said, without its colours, banner and log-file notes.
fn failure(what: &str, out: &Output) -> String {
    let text = if out.stderr.iter().any(|b| !b.is_ascii_whitespace()) {
        &out.stderr
    } else {
        &out.stdout
    };
    let text = strip_ansi(&String::from_utf8_lossy(text));
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains("Logs were written to"))
        .collect();
    let tail = match lines.len() {
        0 => "no output".to_owned(),
        n => lines[n.saturating_sub(8)..].join(" | "),
    };
    format!("wrangler {what} failed ({}): {tail}", out.status)
}

/// `text` without terminal colour sequences (`ESC [ … letter`), which wrangler writes even
/// when told not to.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The wrangler to run: `PROVEDGE_WRANGLER`, the one `scripts/test-all` installs under
/// `PROVEDGE_WORKERD_TOOLS` or `~/.cache/provedge/workerd`, or `wrangler` on `PATH`.
pub fn find() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("PROVEDGE_WRANGLER") {
        return Ok(path.into());
    }
    let tools = std::env::var_os("PROVEDGE_WORKERD_TOOLS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/provedge/workerd"))
        });
    let installed = tools.map(|dir| dir.join("node_modules/.bin/wrangler"));
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("wrangler"))
            .find(|p| p.is_file())
    });
    installed
        .filter(|p| p.is_file())
        .or(on_path)
        .ok_or_else(|| {
            "wrangler not found: install it with `npm install wrangler` (on PATH), or set \
             PROVEDGE_WRANGLER to its path"
                .to_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_stripped() {
        assert_eq!(
            strip_ansi("\u{1b}[31m✘ \u{1b}[41;31m[\u{1b}[41;97mERROR\u{1b}[41;31m]\u{1b}[0m no"),
            "✘ [ERROR] no"
        );
    }

    #[test]
    fn the_json_before_wranglers_last_words() {
        let listed: Vec<serde_json::Value> =
            first_json(b"[\n  {\"name\": \"devices/a.json\"}\n]\n").unwrap();
        assert_eq!(listed.len(), 1);
        let got: serde_json::Map<String, serde_json::Value> =
            first_json(b"{\"k\": {\"value\": null}}\n\nSuccess!\n").unwrap();
        assert!(got["k"]["value"].is_null());
        assert!(first_json::<Vec<String>>(b"no json").is_err());
    }
}
