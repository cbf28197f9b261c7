//! `provedge fleet [--store DIR|URL | --kv-namespace-id ID …] [--listen ADDR] [--config FILE]`:
//! the fleet pages of the admin listener, read-only, over a store no running server watches, or
//! over a Worker deployment's KV namespace through wrangler (docs/fleet.md). The work is the
//! server's own page code (`serve::fleet`); this is its command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::serve::FleetOrigin;
use crate::store_push::wrangler::{self, Namespace, Storage, Wrangler};

#[derive(clap::Args)]
#[command(group(
    clap::ArgGroup::new("kv")
        .args(["kv_namespace_id", "wrangler_config"])
        .multiple(true)
        .conflicts_with("store")
))]
pub struct Args {
    /// The store: a folder (default: examples/store), `http(s)://host[:port][/prefix]`, or
    /// `s3://bucket[/prefix]` (with `server.s3`), as for `serve`.
    #[arg(long)]
    store: Option<PathBuf>,
    /// Read a Worker deployment's KV namespace instead (device records and last-seen records
    /// where the Worker keeps them), through wrangler.
    #[arg(long)]
    kv_namespace_id: Option<String>,
    /// The Worker's wrangler configuration (e.g. edge/wrangler.toml): without
    /// --kv-namespace-id, the namespace it binds as STORE is read.
    #[arg(long)]
    wrangler_config: Option<PathBuf>,
    /// Read wrangler's local state (what `wrangler dev` and Miniflare keep), not the account.
    #[arg(long, requires = "kv")]
    local: bool,
    /// The folder of the local state [default: .wrangler/state].
    #[arg(long, requires = "local")]
    persist_to: Option<PathBuf>,
    /// Seconds a KV listing and the values read are kept before wrangler is asked again.
    #[arg(long, default_value_t = 30)]
    kv_cache_secs: u64,
    /// Address to serve the pages on (keep it on loopback); port 0 lets the system choose.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// The configuration `serve` runs with: tenants, `server.s3`, `server.last_seen_dir`,
    /// `server.metrics_token`, `server.fleet.max_devices`.
    #[arg(long)]
    config: Option<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    let origin = if args.kv_namespace_id.is_some() || args.wrangler_config.is_some() {
        let program = match wrangler::find() {
            Ok(program) => program,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        };
        let namespace = match args.kv_namespace_id {
            Some(id) => Namespace::Id(id),
            None => Namespace::Binding,
        };
        let storage = Storage::from_args(args.local, args.persist_to.as_deref());
        FleetOrigin::Kv {
            wrangler: Wrangler::new(program, storage, namespace).with_config(args.wrangler_config),
            cache: Duration::from_secs(args.kv_cache_secs),
        }
    } else {
        FleetOrigin::Store(args.store.as_deref())
    };
    crate::serve::run_fleet(origin, args.listen, args.config.as_deref())
}
