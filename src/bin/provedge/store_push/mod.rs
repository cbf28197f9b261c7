//! `provedge store push DIR`: a store folder into the Worker's Workers KV (`STORE`) and R2
//! (`BUCKET`), through wrangler.
//!
//! A push refuses a store that does not load (every device record, variable layer and template
//! is checked as the engine reads it; exit 2, nothing written), then writes only what changed
//! since the last push: the manifest of the last push (`store/manifest.json`, every key with
//! its content's SHA-256) says what is there. In order:
//!
//! 1. the last manifest with every key about to be written marked pending (so a push that stops
//!    half way is redone, not trusted, by the next one);
//! 2. new and changed keys, each where [`provedge::store::placement::Placement`] puts it, the
//!    same decision the Worker makes to read it;
//! 3. deletions of the keys that are gone;
//! 4. the new manifest and, last, the generation (`store/generation`, a short hash of the
//!    manifest): hosts that cache by generation switch to the new store only once it is whole.
//!
//! A push with nothing to write writes nothing.

mod bindings;
mod check;
mod layout;
mod manifest;
mod upload;
pub(crate) mod wrangler;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use provedge::store::placement::{Backend, Placement, GENERATION_KEY, MANIFEST_KEY};

use check::Checked;
use layout::Problem;
use manifest::{generation, Change, Location, Manifest, Plan, Target};
use upload::Uploader;
use wrangler::{Namespace, Storage, Wrangler};

/// Largest value Workers KV stores (25 MiB).
const KV_MAX_VALUE: u64 = 25 << 20;
/// Largest object `wrangler r2 object put` uploads (300 MiB).
const R2_MAX_PUT: u64 = 300 << 20;

/// Work with the store a Worker serves from.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Upload a store folder to Workers KV and R2 through wrangler: checks it loads first, then
    /// writes only the keys whose content changed since the last push and deletes the ones
    /// that are gone.
    Push(Args),
}

#[derive(clap::Args)]
pub struct Args {
    /// The store folder (devices/, vars/, templates/, stored files, `tenants/<name>/…`);
    /// uploads/, last-seen/ and dotfiles are left out.
    dir: PathBuf,
    /// The configuration file the Worker runs with (`{"engine": {…}, "worker": {…}}`): its
    /// `worker.kv_prefixes` say which keys live in KV (default: device records, variables and
    /// the push's own keys).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Write wrangler's local state (what `wrangler dev` and Miniflare read), not the account.
    #[arg(long)]
    local: bool,
    /// The folder of the local state [default: .wrangler/state].
    #[arg(long, requires = "local")]
    persist_to: Option<PathBuf>,
    /// The KV namespace [default: the one the wrangler configuration of the working directory
    /// binds as STORE].
    #[arg(long)]
    kv_namespace_id: Option<String>,
    /// The R2 bucket for templates and stored files [default: the one the wrangler
    /// configuration binds as BUCKET; without one, everything goes to KV].
    #[arg(long)]
    bucket: Option<String>,
    /// Print what would be written and deleted; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// wrangler processes at once against the account (local state takes one at a time).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    jobs: u16,
}

/// How a push ends when it does not succeed.
enum Failure {
    /// A bad command line or configuration (exit 2).
    Usage(String),
    /// The store does not load, or cannot be placed (exit 2): nothing was written.
    Refused(Vec<Problem>),
    /// wrangler failed (exit 1): the store is as the last complete push left it, plus some of
    /// this push's values; the next push redoes them.
    Failed(Vec<String>),
}

pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Push(args) => match push(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(Failure::Usage(e)) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
            Err(Failure::Refused(problems)) => {
                for p in &problems {
                    eprintln!("{p}");
                }
                eprintln!(
                    "{}: store refused ({} problem{}); nothing pushed",
                    args.dir.display(),
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                );
                ExitCode::from(2)
            }
            Err(Failure::Failed(errors)) => {
                for e in &errors {
                    eprintln!("{e}");
                }
                eprintln!("push failed: the next push writes what this one did not");
                ExitCode::FAILURE
            }
        },
    }
}

fn push(args: &Args) -> Result<(), Failure> {
    let started = Instant::now();
    let placement = placement(args.config.as_deref()).map_err(Failure::Usage)?;
    let (target, bucket_from) = target(args, placement)?;
    let files = load(&args.dir)?;
    check_sizes(&files, &target)?;

    let wrangler = wrangler_for(args)?;
    eprintln!(
        "{}",
        describe(args, files.len(), &target, bucket_from.as_deref())
    );
    let last = Last::read(&wrangler)?;
    let plan = Plan::new(&files, &target, last.manifest.as_ref());
    let summary = Summary::of(&plan, &files);
    if args.dry_run {
        print_plan(&plan, &files);
        println!("{summary} (dry run: nothing written)");
        return Ok(());
    }

    let manifest = plan.manifest.to_bytes();
    let generation = generation(&manifest);
    if !(plan.is_empty() && last.is_current(&wrangler, &manifest, &generation)?) {
        write(
            &wrangler,
            &files,
            &plan,
            &last,
            &manifest,
            &generation,
            args.jobs,
        )?;
    }
    println!(
        "{summary}; generation {generation} ({:.1?})",
        started.elapsed()
    );
    Ok(())
}

/// The placement the Worker reads from the same configuration document: `worker.kv_prefixes`,
/// default [`Placement::default`]. The rest of `worker` is the Worker's to check, and the rest
/// of the document other hosts' (the engine may name Worker secrets, which only the Worker
/// can resolve).
fn placement(path: Option<&Path>) -> Result<Placement, String> {
    let Some(path) = path else {
        return Ok(Placement::default());
    };
    let at = |e: String| format!("{}: {e}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| at(e.to_string()))?;
    let document: serde_json::Value = serde_json::from_str(&text).map_err(|e| at(e.to_string()))?;
    let Some(worker) = document.get("worker") else {
        return Ok(Placement::default());
    };
    if !worker.is_object() {
        return Err(at("worker: not an object".into()));
    }
    match worker.get("kv_prefixes") {
        None => Ok(Placement::default()),
        Some(list) => serde_json::from_value(list.clone())
            .map(|kv_prefixes| Placement { kv_prefixes })
            .map_err(|e| at(format!("worker.kv_prefixes: {e}"))),
    }
}

/// Where keys go: the placement, and the bucket (`--bucket`, else the one the wrangler
/// configuration binds) with the file that named it.
fn target(args: &Args, placement: Placement) -> Result<(Target, Option<PathBuf>), Failure> {
    let (bucket, from) = match &args.bucket {
        Some(name) => (Some(name.clone()), None),
        None => {
            let cwd = std::env::current_dir().map_err(|e| Failure::Usage(e.to_string()))?;
            match bindings::configured_bucket(&cwd).map_err(Failure::Usage)? {
                Some((name, path)) => (Some(name), Some(path)),
                None => (None, None),
            }
        }
    };
    // The push's own keys are in KV, where the Worker reads the generation (it refuses a
    // placement that puts it elsewhere).
    for own in [MANIFEST_KEY, GENERATION_KEY] {
        if placement.backend(own, true) != Backend::Kv {
            return Err(Failure::Usage(format!(
                "worker.kv_prefixes: must place {own} in KV (add \"store/\")"
            )));
        }
    }
    Ok((Target { placement, bucket }, from))
}

/// wrangler against the namespace and storage the command line names.
fn wrangler_for(args: &Args) -> Result<Wrangler, Failure> {
    let storage = Storage::from_args(args.local, args.persist_to.as_deref());
    let namespace = match &args.kv_namespace_id {
        Some(id) => Namespace::Id(id.clone()),
        None => Namespace::Binding,
    };
    let program = wrangler::find().map_err(|e| Failure::Failed(vec![e]))?;
    Ok(Wrangler::new(program, storage, namespace))
}

/// What the last push left in KV.
struct Last {
    /// Its manifest as stored.
    bytes: Option<Vec<u8>>,
    /// Its manifest, if it reads as one.
    manifest: Option<Manifest>,
    /// The stored generation, when it was read beside the manifest.
    generation: Option<Result<Option<Vec<u8>>, String>>,
}

impl Last {
    /// Reads the last manifest. Against the account the generation is read beside it; local
    /// state takes one wrangler at a time, so there it is read only when it decides anything
    /// (a push with nothing else to write).
    fn read(wrangler: &Wrangler) -> Result<Last, Failure> {
        let (bytes, generation) = if wrangler.parallel() {
            std::thread::scope(|s| {
                let generation = s.spawn(|| wrangler.kv_get(GENERATION_KEY));
                let manifest = wrangler.kv_get(MANIFEST_KEY);
                let generation = generation.join().expect("the generation read");
                (manifest, Some(generation))
            })
        } else {
            (wrangler.kv_get(MANIFEST_KEY), None)
        };
        let bytes = bytes.map_err(|e| Failure::Failed(vec![e]))?;
        let manifest = bytes.as_deref().and_then(|b| {
            Manifest::parse(b)
                .map_err(|e| {
                    eprintln!("warning: {MANIFEST_KEY}: {e}; pushing every key, and deleting none")
                })
                .ok()
        });
        Ok(Last {
            bytes,
            manifest,
            generation,
        })
    }

    /// Whether the store already is `manifest` under `generation`: a push that stopped between
    /// its manifest and its generation left the manifest current but not the generation.
    fn is_current(
        &self,
        wrangler: &Wrangler,
        manifest: &[u8],
        generation: &str,
    ) -> Result<bool, Failure> {
        if self.bytes.as_deref() != Some(manifest) {
            return Ok(false);
        }
        let stored = match &self.generation {
            Some(read) => read.clone(),
            None => wrangler.kv_get(GENERATION_KEY),
        }
        .map_err(|e| Failure::Failed(vec![e]))?;
        Ok(stored.as_deref() == Some(generation.as_bytes()))
    }
}

/// Writes a plan: the pending manifest, the values, the deletions, then the manifest and the
/// generation.
fn write(
    wrangler: &Wrangler,
    files: &[Checked],
    plan: &Plan,
    last: &Last,
    manifest: &[u8],
    generation: &str,
    jobs: u16,
) -> Result<(), Failure> {
    let total = plan.puts.len() + plan.deletes.len();
    let uploader = Uploader::new(wrangler, files, usize::from(jobs), total)
        .map_err(|e| Failure::Failed(vec![e]))?;
    let result = (|| {
        if !plan.puts.is_empty() {
            let pending = plan.pending(files, last.manifest.as_ref()).to_bytes();
            uploader
                .put_kv_values(&[(MANIFEST_KEY, &pending)])
                .map_err(|e| vec![e])?;
        }
        let puts = plan.puts.iter().map(|p| (p.index, p.location.clone()));
        uploader.run(upload::put_jobs(files, puts))?;
        let deletes = plan
            .deletes
            .iter()
            .map(|d| (d.key.clone(), d.location.clone()));
        uploader.run(upload::delete_jobs(deletes))?;
        // The generation last, in one bulk put after the manifest: a manifest that did not
        // land only makes the next push redo this one.
        uploader
            .put_kv_values(&[
                (MANIFEST_KEY, manifest),
                (GENERATION_KEY, generation.as_bytes()),
            ])
            .map_err(|e| vec![e])
    })();
    uploader.finish();
    result.map_err(Failure::Failed)
}

/// Walks and checks the folder: every file with its hash, or every problem.
fn load(dir: &Path) -> Result<Vec<Checked>, Failure> {
    let (files, mut problems) = layout::walk(dir).map_err(Failure::Usage)?;
    let (checked, found) = check::check(files);
    problems.extend(found);
    if problems.is_empty() {
        Ok(checked)
    } else {
        problems.sort_by(|a, b| a.key.cmp(&b.key));
        Err(Failure::Refused(problems))
    }
}

/// Refuses values their backend cannot hold, before anything is written.
fn check_sizes(files: &[Checked], target: &Target) -> Result<(), Failure> {
    let problems: Vec<Problem> = files
        .iter()
        .filter_map(|f| match target.location(f.key.as_str()) {
            Location::Kv if f.size > KV_MAX_VALUE => Some(Problem::new(
                f.key.as_str(),
                format!(
                    "{} bytes: over Workers KV's 25 MiB value limit (give --bucket: files go to R2)",
                    f.size
                ),
            )),
            Location::Bucket(_) if f.size > R2_MAX_PUT => Some(Problem::new(
                f.key.as_str(),
                format!("{} bytes: over wrangler's 300 MiB upload limit", f.size),
            )),
            _ => None,
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Refused(problems))
    }
}

/// The line saying where the push goes, so an operator sees it before anything is written.
fn describe(args: &Args, keys: usize, target: &Target, bucket_from: Option<&Path>) -> String {
    let kv = match &args.kv_namespace_id {
        None => format!("KV (binding {})", wrangler::KV_BINDING),
        Some(id) => format!("KV namespace {id}"),
    };
    let r2 = match (&target.bucket, bucket_from) {
        (Some(b), Some(from)) => format!(
            " and R2 bucket {b} (bound as {} in {})",
            bindings::R2_BINDING,
            from.display()
        ),
        (Some(b), None) => format!(" and R2 bucket {b}"),
        (None, _) => String::new(),
    };
    let storage = match (args.local, &args.persist_to) {
        (false, _) => ", in the account".to_owned(),
        (true, dir) => format!(
            ", local state in {}",
            dir.as_deref()
                .unwrap_or(Path::new(wrangler::DEFAULT_PERSIST_TO))
                .display()
        ),
    };
    format!(
        "pushing {} ({keys} keys) to {kv}{r2}{storage}",
        args.dir.display()
    )
}

/// The plan, one line a key, for `--dry-run`.
fn print_plan(plan: &Plan, files: &[Checked]) {
    for put in &plan.puts {
        let file = &files[put.index];
        let change = match put.change {
            Change::New => "new",
            Change::Changed => "changed",
        };
        println!(
            "{change} {} ({}, {} bytes)",
            file.key, put.location, file.size
        );
    }
    for delete in &plan.deletes {
        let what = if delete.gone { "deleted" } else { "moved" };
        println!("{what} {} (from {})", delete.key, delete.location);
    }
}

/// The counts of a push.
struct Summary {
    new: usize,
    changed: usize,
    unchanged: usize,
    deleted: usize,
    kv_bytes: u64,
    r2_bytes: u64,
}

impl Summary {
    fn of(plan: &Plan, files: &[Checked]) -> Summary {
        let mut s = Summary {
            new: 0,
            changed: 0,
            unchanged: plan.unchanged,
            deleted: plan.deletes.iter().filter(|d| d.gone).count(),
            kv_bytes: 0,
            r2_bytes: 0,
        };
        for put in &plan.puts {
            match put.change {
                Change::New => s.new += 1,
                Change::Changed => s.changed += 1,
            }
            match put.location {
                Location::Kv => s.kv_bytes += files[put.index].size,
                Location::Bucket(_) => s.r2_bytes += files[put.index].size,
            }
        }
        s
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} new, {} changed, {} unchanged, {} deleted, {} bytes (kv: {}, r2: {})",
            self.new,
            self.changed,
            self.unchanged,
            self.deleted,
            self.kv_bytes + self.r2_bytes,
            self.kv_bytes,
            self.r2_bytes
        )
    }
}
