//! `provedge devices import`'s row handling: the CLI's own column and merge modules, compiled
//! in here as they are (the binary's modules are not a library). Any CSV either has its header
//! refused with a reason or each row is refused with its faults or becomes a device record that
//! serializes to JSON the core reads back as the same record, for the row's MAC — what the
//! import writes (`devices/<mac>.json`) always loads.
#![no_main]

#[path = "../../src/bin/provedge/devices/columns.rs"]
#[allow(dead_code)]
mod columns;
#[path = "../../src/bin/provedge/devices/merge.rs"]
#[allow(dead_code)]
mod merge;

use columns::{Field, Header};
use libfuzzer_sys::fuzz_target;
use merge::{apply, Blank};
use provedge::store::DeviceRecord;
use provedge::Mac;

fuzz_target!(|data: &[u8]| {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(data);
    let Ok(names) = reader.headers().cloned() else {
        return;
    };
    let header = match Header::parse(names.iter()) {
        Ok(header) => header,
        Err(e) => {
            assert!(!e.is_empty());
            return;
        }
    };
    for row in reader.records().take(64) {
        let Ok(row) = row else { continue };
        if row.len() != header.len() {
            continue;
        }
        let Ok(mac) = header.cell(&row, Field::Mac).unwrap_or("").parse::<Mac>() else {
            continue;
        };
        let cell = |field| header.cell(&row, field);
        match apply(mac, None, cell, header.lines(), Blank::Keep) {
            Err(faults) => assert!(faults.iter().all(|f| f.contains(':')), "{faults:?}"),
            Ok(record) => {
                assert_eq!(record.mac, mac);
                let json = serde_json::to_vec_pretty(&record).expect("a record serializes");
                let back = DeviceRecord::from_json(&json)
                    .unwrap_or_else(|e| panic!("written record does not load: {e}"));
                assert_eq!(back, record);
            }
        }
    }
});
