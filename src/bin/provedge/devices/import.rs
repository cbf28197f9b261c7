//! `provedge devices import FILE.csv [--store DIR] [--tenant T] [--dry-run]`
//!
//! Three passes, so that nothing is written unless every row is good: read every row (a bad
//! MAC, a duplicate MAC, a row of the wrong width), then apply each row to the device's stored
//! record (an unknown vendor, a line without a password, a stored record the core cannot read),
//! and only then write the records that change, each atomically. Faults are reported as
//! `FILE:LINE: column: reason`, LINE being the line of the file the row starts on.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use provedge::Mac;

use super::columns::{Field, Header};
use super::fleet::{Fleet, Stored};
use super::merge::{apply, Blank};
use super::StoreArgs;

/// The most faults printed; the count of the rest follows.
const MAX_FAULTS_SHOWN: usize = 100;

#[derive(clap::Args)]
pub struct Args {
    /// The CSV file (header row first; see docs/devices.md).
    file: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    /// Check every row and say what would change, writing nothing.
    #[arg(long)]
    dry_run: bool,
}

/// What importing one row does to its device's record.
enum Outcome {
    Create(Stored),
    Change(Stored),
    Unchanged,
}

pub fn run(args: Args) -> ExitCode {
    let fleet = match args.store.fleet() {
        Ok(fleet) => fleet,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let file = args.file.display().to_string();
    let reader = match csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&args.file)
    {
        Ok(reader) => reader,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcomes = match plan(reader, &fleet) {
        Ok(outcomes) => outcomes,
        Err(faults) => {
            for fault in faults.iter().take(MAX_FAULTS_SHOWN) {
                eprintln!("{file}:{fault}");
            }
            if faults.len() > MAX_FAULTS_SHOWN {
                eprintln!("… and {} more", faults.len() - MAX_FAULTS_SHOWN);
            }
            eprintln!(
                "{} {}; nothing written",
                faults.len(),
                if faults.len() == 1 { "fault" } else { "faults" }
            );
            return ExitCode::FAILURE;
        }
    };
    let (mut created, mut changed, mut unchanged) = (0usize, 0usize, 0usize);
    for outcome in &outcomes {
        match outcome {
            Outcome::Create(_) => created += 1,
            Outcome::Change(_) => changed += 1,
            Outcome::Unchanged => unchanged += 1,
        }
    }
    if args.dry_run {
        println!("dry run: would create {created}, change {changed}, leave {unchanged} unchanged");
        return ExitCode::SUCCESS;
    }
    let writes: Vec<Stored> = outcomes
        .into_iter()
        .filter_map(|o| match o {
            Outcome::Create(stored) | Outcome::Change(stored) => Some(stored),
            Outcome::Unchanged => None,
        })
        .collect();
    let progress = progress_bar(writes.len() as u64, "writing");
    let written = write_all(&fleet, &writes, &progress);
    progress.finish_and_clear();
    if let Err(e) = written {
        eprintln!("{e}");
        eprintln!(
            "stopped after writing {} of {} records",
            progress.position(),
            writes.len()
        );
        return ExitCode::FAILURE;
    }
    println!("created {created}, changed {changed}, unchanged {unchanged}");
    ExitCode::SUCCESS
}

/// Reads and checks every row, and works out what each does; or every fault, each
/// `LINE: column: reason`.
fn plan(
    mut reader: csv::Reader<std::fs::File>,
    fleet: &Fleet,
) -> Result<Vec<Outcome>, Vec<String>> {
    let header = reader
        .headers()
        .map_err(|e| vec![format!("1: {e}")])
        .and_then(|h| Header::parse(h.iter()).map_err(|e| vec![format!("1: {e}")]))?;

    // Pass 1: every row read, its MAC parsed, duplicates found.
    let mut faults = Vec::new();
    let mut rows: Vec<(u64, Mac, csv::StringRecord)> = Vec::new();
    let mut first_line: HashMap<Mac, u64> = HashMap::new();
    for result in reader.records() {
        let row = match result {
            Ok(row) => row,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                faults.push(format!("{line}: {}", csv_fault(&e)));
                continue;
            }
        };
        let line = row.position().map_or(0, |p| p.line());
        if row.len() != header.len() {
            faults.push(format!(
                "{line}: {} fields, the header has {}",
                row.len(),
                header.len()
            ));
            continue;
        }
        let cell = header.cell(&row, Field::Mac).unwrap_or("");
        let mac = match cell.parse::<Mac>() {
            Ok(mac) if mac.is_zero() => {
                faults.push(format!("{line}: mac: 000000000000 names no device"));
                continue;
            }
            Ok(mac) => mac,
            Err(_) if cell.is_empty() => {
                faults.push(format!("{line}: mac: missing"));
                continue;
            }
            Err(e) => {
                faults.push(format!("{line}: mac: bad MAC {cell:?}: {e}"));
                continue;
            }
        };
        if let Some(first) = first_line.get(&mac) {
            faults.push(format!(
                "{line}: mac: duplicate MAC {mac} (first on line {first})"
            ));
            continue;
        }
        first_line.insert(mac, line);
        rows.push((line, mac, row));
    }

    // Pass 2: each row applied to its device's stored record.
    let progress = progress_bar(rows.len() as u64, "checking");
    let lines = header.lines();
    let mut outcomes = Vec::with_capacity(rows.len());
    for (line, mac, row) in &rows {
        progress.inc(1);
        let existing = match fleet.read(*mac) {
            Ok(existing) => existing,
            Err(e) => {
                faults.push(format!("{line}: {e}"));
                continue;
            }
        };
        let cell = |field| header.cell(row, field);
        match apply(
            *mac,
            existing.as_ref().map(|s| &s.record),
            cell,
            lines,
            Blank::Keep,
        ) {
            Ok(record) => outcomes.push(match existing {
                None => Outcome::Create(Stored::new(record)),
                Some(old) if old.record == record => Outcome::Unchanged,
                Some(old) => Outcome::Change(Stored {
                    record,
                    unserialized: old.unserialized,
                }),
            }),
            Err(row_faults) => {
                faults.extend(row_faults.into_iter().map(|f| format!("{line}: {f}")));
            }
        }
    }
    progress.finish_and_clear();
    if faults.is_empty() {
        Ok(outcomes)
    } else {
        faults.sort_by_key(|f| {
            f.split(':')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        });
        Err(faults)
    }
}

/// Records written at once. Each is flushed to disk before its rename, so an import is bound
/// by the disk's flush latency rather than the CPU; a few writers in flight hide most of it
/// (10,000 records on this project's machine, debug build: 38 s one at a time, 3 s with 8).
const WRITERS: usize = 8;

/// Writes every record, [`WRITERS`] at a time, stopping at the first failure.
fn write_all(fleet: &Fleet, writes: &[Stored], progress: &ProgressBar) -> Result<(), String> {
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<String>> = Mutex::new(None);
    let failed = || failure.lock().map_or(true, |f| f.is_some());
    std::thread::scope(|scope| {
        for _ in 0..WRITERS.min(writes.len()) {
            scope.spawn(|| {
                while !failed() {
                    let Some(stored) = writes.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    match fleet.write(stored) {
                        Ok(()) => progress.inc(1),
                        Err(e) => {
                            if let Ok(mut slot) = failure.lock() {
                                slot.get_or_insert(e);
                            }
                        }
                    }
                }
            });
        }
    });
    match failure.into_inner() {
        Ok(None) => Ok(()),
        Ok(Some(e)) => Err(e),
        Err(_) => Err("a writer panicked".into()),
    }
}

/// A CSV reader's error, without its position (the caller puts the line first).
fn csv_fault(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => {
            format!("field {} is not UTF-8", err.field() + 1)
        }
        _ => e.to_string(),
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal (never in pipes and tests).
fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} devices {msg}")
            .expect("a valid template"),
    );
    bar.set_message(what.to_owned());
    bar
}
