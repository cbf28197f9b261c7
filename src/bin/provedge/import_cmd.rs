//! `provedge import`: bring another provisioning system into a store. FusionPBX's templates
//! (docs/fusionpbx.md), a Tancredi (NethVoice) fleet (docs/tancredi.md) and a Wazo provd fleet
//! (docs/wazo.md), each by its own module.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::{import_fusionpbx, import_tancredi, import_wazo};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Convert FusionPBX's Smarty provisioning templates into a store's templates.
    Fusionpbx(import_fusionpbx::Args),
    /// Migrate a Tancredi (NethVoice) fleet: phone scopes to device records, the defaults and
    /// model scopes to variable layers, tokens to the records' URL tokens.
    Tancredi(import_tancredi::Args),
    /// Migrate a Wazo provd fleet: its devices' effective configs to device records, the base
    /// config and device templates to variable layers.
    Wazo(import_wazo::Args),
}

pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Fusionpbx(args) => import_fusionpbx::run(args),
        Command::Tancredi(args) => import_tancredi::run(args),
        Command::Wazo(args) => import_wazo::run(args),
    }
}

/// Where an import writes: a store folder (or nothing, with `--dry-run`) and a tenant's
/// namespace in it.
#[derive(clap::Args)]
pub struct Destination {
    /// The store folder to write into.
    #[arg(long, required_unless_present = "dry_run")]
    pub store: Option<PathBuf>,
    /// The tenant whose namespace (`tenants/<name>/`) receives the fleet.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Convert and report, write nothing.
    #[arg(long)]
    pub dry_run: bool,
}
