//! The native host: the `provedge` command line over the sans-IO core.

mod crypto_cmd;
mod devices;
mod fleet_cmd;
mod folder_store;
mod import_cmd;
mod import_fusionpbx;
mod import_tancredi;
mod import_wazo;
mod render_cmd;
mod rewrite_cmd;
mod route_cmd;
mod rules_cmd;
mod serve;
mod store_files;
mod store_push;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// provedge: provisioning engine for VoIP phones.
#[derive(Parser)]
#[command(name = "provedge", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Recognise a request: print its route as JSON, or why it is refused.
    Route(route_cmd::Args),
    /// Render the file a request would be served: exactly its bytes on stdout.
    Render(render_cmd::Args),
    /// Print a device's merged variables (global → vendor → model → profile → device).
    Vars(render_cmd::VarsArgs),
    /// Encrypt stdin to stdout in a phone's format (OpenSSL enc, Panasonic, Yealink, Obihai).
    Encrypt(crypto_cmd::Args),
    /// Decrypt stdin to stdout; on failure print nothing on stdout and exit non-zero.
    Decrypt(crypto_cmd::Args),
    /// Write the Yealink `<name>_Security.enc` file that carries a 16-character key.
    YealinkKeyfile(crypto_cmd::KeyfileArgs),
    /// Apply an nginx rewrite rule file to a request: print the upstream target, `302 URL`,
    /// `301 URL` or the error status nginx would answer with.
    Rewrite(rewrite_cmd::Args),
    /// Work with rule files: `export-nginx` prints the router as nginx rewrite lines.
    #[command(subcommand)]
    Rules(rules_cmd::Command),
    /// Serve phones over HTTP from a store folder (GET/HEAD, uploads, /metrics, /healthz).
    Serve(serve::Args),
    /// Serve the fleet pages (devices, last fetches) read-only from a store, on 127.0.0.1.
    Fleet(fleet_cmd::Args),
    /// Bring another provisioning system into a store: `import fusionpbx DIR` (templates),
    /// `import tancredi DATA_DIR` (a Tancredi/NethVoice fleet), `import wazo JSONDB_DIR` (a Wazo
    /// provd fleet).
    #[command(subcommand)]
    Import(import_cmd::Command),
    /// Work with the store a Cloudflare Worker serves: `push` uploads a folder to KV and R2.
    #[command(subcommand)]
    Store(store_push::Command),
    /// Get a fleet in and out: `import FILE.csv`, `export`, `list`, `show`, `set`, `rm`.
    #[command(subcommand)]
    Devices(devices::Command),
}

/// Reads an engine configuration file, naming the file (and, from serde, the key) on error.
/// The engine configuration of `--config FILE`: the same file `serve --config` reads.
fn load_config(path: Option<&std::path::Path>) -> Result<provedge::Config, String> {
    serve::config::load_engine(path)
}

/// Seconds since the Unix epoch, the engine's notion of now.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Route(args) => route_cmd::run(args),
        Command::Render(args) => render_cmd::run(args),
        Command::Vars(args) => render_cmd::vars(args),
        Command::Encrypt(args) => crypto_cmd::encrypt(args),
        Command::Decrypt(args) => crypto_cmd::decrypt(args),
        Command::YealinkKeyfile(args) => crypto_cmd::yealink_keyfile(args),
        Command::Rewrite(args) => rewrite_cmd::run(args),
        Command::Rules(command) => rules_cmd::run(command),
        Command::Serve(args) => serve::run(args),
        Command::Fleet(args) => fleet_cmd::run(args),
        Command::Import(command) => import_cmd::run(command),
        Command::Store(command) => store_push::run(command),
        Command::Devices(command) => devices::run(command),
    }
}
