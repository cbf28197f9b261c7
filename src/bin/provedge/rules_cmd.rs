//! `provedge rules export-nginx [--prefix P]`
//!
//! Prints nginx `rewrite` lines equivalent to the typed router (see
//! `provedge::rewrite::export`): a recognised phone file is rewritten to `<prefix>/<store key>`.

use std::io::Write;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print nginx rewrite lines that send recognised phone files to their store keys.
    ExportNginx {
        /// Path the store keys live under upstream (`/store` gives `/store/polycom/…`).
        #[arg(long, default_value = "")]
        prefix: String,
    },
}

pub fn run(command: Command) -> ExitCode {
    match command {
        Command::ExportNginx { prefix } => match provedge::rewrite::export::export_nginx(&prefix) {
            Ok(rules) => match std::io::stdout().lock().write_all(rules.as_bytes()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("stdout: {e}");
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
    }
}
