//! The native host: the `provedge` command line over the sans-IO core.

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
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Route(args) => route_cmd::run(args),
    }
}
