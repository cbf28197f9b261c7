//! `provedge devices export [--store DIR] [--tenant T] [--with-passwords] [-o FILE]`: the
//! fleet as the documented CSV, the header `devices import` reads. Passwords are written only
//! with `--with-passwords`; without it their cells are blank, which an import reads as "keep
//! the stored password", so an export can be edited and imported back as it is.
//!
//! With `--redirect SERVICE` it writes a redirection service's file instead (redirect.rs).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use provedge::store::device::Transport;
use provedge::store::DeviceRecord;

use super::columns::{export_header, SERIAL_VAR};
use super::fleet::Fleet;
use super::redirect;
use super::StoreArgs;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// Write line passwords (blank without it).
    #[arg(long)]
    with_passwords: bool,
    /// Write to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    redirect: redirect::RedirectArgs,
}

pub fn run(args: Args) -> ExitCode {
    let fleet = match args.store.fleet() {
        Ok(fleet) => fleet,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let records = match read_all(&fleet) {
        Ok(records) => records,
        Err(faults) => {
            for fault in &faults {
                eprintln!("{fault}");
            }
            eprintln!("nothing exported: the records above do not read");
            return ExitCode::FAILURE;
        }
    };
    let written = match args.redirect.service {
        Some(service) => match redirect::write(service, &args.redirect, &args.store, &records) {
            Ok(bytes) => bytes,
            Err(code) => return code,
        },
        None => fleet_csv(&records, args.with_passwords),
    };
    let result = match &args.output {
        Some(path) => {
            std::fs::write(path, &written).map_err(|e| format!("{}: {e}", path.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&written)
                .and_then(|()| out.flush())
                .map_err(|e| format!("stdout: {e}"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Every record of the fleet, in MAC order; or each one that does not read.
pub fn read_all(fleet: &Fleet) -> Result<Vec<DeviceRecord>, Vec<String>> {
    let macs = fleet.macs().map_err(|e| vec![e])?;
    let mut records = Vec::with_capacity(macs.len());
    let mut faults = Vec::new();
    for mac in macs {
        match fleet.read(mac) {
            Ok(Some(stored)) => records.push(stored.record),
            Ok(None) => {}
            Err(e) => faults.push(e),
        }
    }
    if faults.is_empty() {
        Ok(records)
    } else {
        Err(faults)
    }
}

/// The documented CSV of `records`.
fn fleet_csv(records: &[DeviceRecord], with_passwords: bool) -> Vec<u8> {
    let lines = records
        .iter()
        .map(|r| r.lines.len())
        .max()
        .unwrap_or(0)
        .min(usize::from(super::columns::MAX_LINES));
    let lines = u8::try_from(lines).unwrap_or(super::columns::MAX_LINES);
    let header = export_header(lines);
    let mut out = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = out.write_record(&header);
    for record in records {
        let mut row: Vec<String> = vec![
            record.mac.to_string(),
            record.vendor.name().to_owned(),
            record
                .model
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_default(),
            record.profile.clone().unwrap_or_default(),
            match record.vars.get(SERIAL_VAR) {
                Some(serde_json::Value::String(s)) => s.clone(),
                _ => String::new(),
            },
        ];
        for n in 0..usize::from(lines.max(1)) {
            match record.lines.get(n) {
                Some(line) => row.extend([
                    line.user.clone(),
                    line.auth_id.clone().unwrap_or_default(),
                    if with_passwords {
                        line.password.clone()
                    } else {
                        String::new()
                    },
                    line.display_name.clone().unwrap_or_default(),
                    line.server.clone(),
                    line.port.to_string(),
                    match line.transport {
                        Transport::Udp => "udp",
                        Transport::Tcp => "tcp",
                        Transport::Tls => "tls",
                    }
                    .to_owned(),
                    line.label.clone().unwrap_or_default(),
                ]),
                None => row.extend(std::iter::repeat(String::new()).take(8)),
            }
        }
        let _ = out.write_record(&row);
    }
    out.into_inner().unwrap_or_default()
}
