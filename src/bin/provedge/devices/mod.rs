//! `provedge devices`: getting a fleet in and out of a store folder.
//!
//! `import` reads the fleet CSV (docs/devices.md) and writes `devices/<mac>.json` records;
//! `export` writes the same CSV back, or a vendor redirection service's bulk-import file
//! (`--redirect`, docs/bootstrap.md); `list`, `show`, `set` and `rm` are for one-off edits;
//! `check` renders every device's files before the phones ask for them.
//! Records are the core's [`provedge::store::DeviceRecord`], read and written through it, so
//! nothing here can store a record the engine would refuse. `--tenant` works in the tenant's
//! namespace (`tenants/<name>/`), exactly where the engine reads that tenant's devices.

mod check;
mod columns;
mod edit;
mod export;
pub mod fleet;
mod import;
mod merge;
mod redirect;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::folder_store::FolderStore;
use fleet::Fleet;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create and update device records from a CSV file; nothing is written unless every row
    /// is good.
    Import(import::Args),
    /// Write the fleet as CSV (the header `import` reads), or a redirection service's file.
    Export(export::Args),
    /// One line per device.
    List(edit::ListArgs),
    /// A device's record as JSON, passwords masked.
    Show(edit::ShowArgs),
    /// Create or change one device: `set MAC model=T46S line1_password=…`.
    Set(edit::SetArgs),
    /// Remove device records.
    Rm(edit::RmArgs),
    /// Render every device's files as the server would, and name those that would fail.
    Check(check::Args),
}

/// Where the records are: the store folder and the tenant.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// The store folder (default: examples/store, as for every command).
    #[arg(long)]
    store: Option<PathBuf>,
    /// The tenant whose namespace (tenants/<name>/) holds the records (default: the default
    /// tenant, at the store's root).
    #[arg(long)]
    tenant: Option<String>,
}

impl StoreArgs {
    fn fleet(&self) -> Result<Fleet, String> {
        let store = FolderStore::from_arg(self.store.as_deref());
        Fleet::new(store.root(), self.tenant.as_deref())
    }

    fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }
}

pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Import(args) => import::run(args),
        Command::Export(args) => export::run(args),
        Command::List(args) => edit::list(args),
        Command::Show(args) => edit::show(args),
        Command::Set(args) => edit::set(args),
        Command::Rm(args) => edit::rm(args),
        Command::Check(args) => check::run(args),
    }
}
