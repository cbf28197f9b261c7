//! Workers KV and R2 through `wrangler` (npm), the tool operators already deploy the Worker
//! with: it holds their Cloudflare login, and with `--local` it writes the same local state
//! `wrangler dev` and Miniflare read.
//!
//! The commands, all with `--local --persist-to PATH` or `--remote`:
//!
//! ```text
//! wrangler kv key get KEY            (--binding STORE | --namespace-id ID)
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

/// Where wrangler keeps the values.
#[derive(Clone, Debug)]
pub enum Storage {
    /// Local state under this folder (`--local --persist-to`), as `wrangler dev` keeps it.
    Local(PathBuf),
    /// The Cloudflare account wrangler is logged in to (`--remote`).
    Remote,
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
}

impl Wrangler {
    pub fn new(program: PathBuf, storage: Storage, namespace: Namespace) -> Wrangler {
        Wrangler {
            program,
            storage,
            namespace,
        }
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
        match &self.storage {
            Storage::Local(dir) => vec![os("--local"), os("--persist-to"), dir.into()],
            Storage::Remote => vec![os("--remote")],
        }
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
}
