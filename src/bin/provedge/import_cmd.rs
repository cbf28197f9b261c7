//! `provedge import`: bring another provisioning system into a store. FusionPBX's templates
//! (docs/fusionpbx.md), a Tancredi (NethVoice) fleet (docs/tancredi.md) and a Wazo provd fleet
//! (docs/wazo.md), each by its own module.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use provedge::store::DeviceRecord;

use crate::devices::fleet::{Fleet, Stored};
use crate::store_files::write_atomic;
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

impl Destination {
    /// The device records of the destination's namespace; a tenant name that is not one is
    /// the error. Without a store (a dry run) it is never read: see [`Destination::holds`].
    pub fn fleet(&self) -> Result<Fleet, String> {
        Fleet::new(
            self.store.as_deref().unwrap_or(Path::new("")),
            self.tenant.as_deref(),
        )
    }

    /// Whether the store already holds a record of `mac` (an import replaces it); never
    /// without a store.
    pub fn holds(&self, fleet: &Fleet, mac: provedge::Mac) -> bool {
        self.store.is_some() && fleet.holds(mac)
    }

    /// Writes the records, then the variable layers (store keys in the namespace, and their
    /// bytes), each atomically; the first failure names what it was writing. Nothing without a
    /// store or on a dry run.
    pub fn write<'a>(
        &self,
        fleet: &Fleet,
        records: impl IntoIterator<Item = (&'a str, &'a Stored)>,
        layers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<(), String> {
        let Some(store) = self.store.as_deref().filter(|_| !self.dry_run) else {
            return Ok(());
        };
        for (name, stored) in records {
            fleet.write(stored).map_err(|e| format!("{name}: {e}"))?;
        }
        for (key, bytes) in layers {
            write_atomic(&store.join(key), bytes).map_err(|e| format!("{key}: {e}"))?;
        }
        Ok(())
    }
}

/// How an import's report describes a record: `yealink t46`, `1 line`, `2 keys` (each importer
/// adds what it carries besides).
pub fn describe(record: &DeviceRecord) -> Vec<String> {
    let mut head = record.vendor.name().to_owned();
    if let Some(model) = &record.model {
        head.push(' ');
        head.push_str(model.as_str());
    }
    vec![
        head,
        plural(record.lines.len(), "line"),
        plural(record.keys.len(), "key"),
    ]
}

/// `1 line`, `2 lines`.
pub fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
