//! `provedge fleet [--store DIR|URL] [--listen ADDR] [--config FILE]`: the fleet pages of the
//! admin listener, read-only, over a store no running server watches (docs/fleet.md). The
//! work is the server's own page code (`serve::fleet`); this is its command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The store: a folder (default: examples/store), `http(s)://host[:port][/prefix]`, or
    /// `s3://bucket[/prefix]` (with `server.s3`), as for `serve`.
    #[arg(long)]
    store: Option<PathBuf>,
    /// Address to serve the pages on (keep it on loopback); port 0 lets the system choose.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// The configuration `serve` runs with: tenants, `server.s3`, `server.last_seen_dir`,
    /// `server.metrics_token`.
    #[arg(long)]
    config: Option<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    crate::serve::run_fleet(args.store.as_deref(), args.listen, args.config.as_deref())
}
