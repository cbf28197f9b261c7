//! The native host: the `provedge` command line over the sans-IO core.

mod folder_store;
mod render_cmd;
mod route_cmd;

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
}

/// Reads an engine configuration file, naming the file (and, from serde, the key) on error.
fn load_config(path: Option<&std::path::Path>) -> Result<provedge::Config, String> {
    let Some(path) = path else {
        return Ok(provedge::Config::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    provedge::Config::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Route(args) => route_cmd::run(args),
        Command::Render(args) => render_cmd::run(args),
        Command::Vars(args) => render_cmd::vars(args),
    }
}
