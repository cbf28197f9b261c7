//! Applying one row of cells to a device record: the rules `devices import` and `devices set`
//! share (docs/devices.md, "How a row changes a record").
//!
//! A cell with a value sets its field. What a blank cell means is the caller's [`Blank`]:
//! an import keeps the record's value (a CSV never deletes data, so an export without
//! passwords can be edited and imported back), `set` clears it. A column the header lacks
//! never changes anything. Whatever the cells say, the result must be a record the core
//! accepts: a known vendor, valid model and profile names, and every line with a user, a
//! server and a password.

use provedge::store::device::Transport;
use provedge::store::{profile_vars_key, DeviceRecord, Line};
use provedge::{Mac, Model, Vendor};
use serde_json::Value;

use super::columns::{Field, LineField, SERIAL_VAR};

/// What a blank cell does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blank {
    /// Keeps the record's value (`devices import`).
    Keep,
    /// Clears an optional field; a required one is an error (`devices set`).
    Clear,
}

/// The record `existing` becomes once `cell` (the row's cell of each field, `None` where the
/// header has no such column) is applied; or every fault, each `"column: reason"`.
pub fn apply<'r>(
    mac: Mac,
    existing: Option<&DeviceRecord>,
    cell: impl Fn(Field) -> Option<&'r str>,
    lines_in_header: u8,
    blank: Blank,
) -> Result<DeviceRecord, Vec<String>> {
    let mut faults = Vec::new();
    let given = |field| cell(field).filter(|v| !v.is_empty());
    let cleared = |field| blank == Blank::Clear && cell(field) == Some("");

    let vendor = match given(Field::Vendor) {
        Some(name) => Vendor::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = Vendor::ALL.iter().map(|v| v.name()).collect();
            format!(
                "vendor: unknown vendor {name:?} (known: {})",
                known.join(", ")
            )
        }),
        None if cleared(Field::Vendor) => Err("vendor: cannot be cleared".into()),
        None => existing
            .map(|r| r.vendor)
            .or_else(|| Vendor::by_oui(&mac))
            .ok_or_else(|| {
                "vendor: missing, and the MAC's maker (its OUI) is not a vendor provedge knows"
                    .into()
            }),
    };
    let mut record = existing.cloned().unwrap_or_else(|| DeviceRecord {
        mac,
        vendor: Vendor::Grandstream,
        model: None,
        profile: None,
        lines: Vec::new(),
        keys: Vec::new(),
        vars: serde_json::Map::new(),
        encryption: None,
        auth: None,
    });
    record.mac = mac;
    match vendor {
        Ok(v) => record.vendor = v,
        Err(e) => faults.push(e),
    }

    let model_cell = given(Field::Model)
        .map(|v| (Field::Model, v))
        .or_else(|| given(Field::Product).map(|v| (Field::Product, v)));
    match model_cell {
        Some((field, name)) => match Model::new(name) {
            Some(model) => record.model = Some(model),
            None => faults.push(format!(
                "{}: {name:?} is not a model name (letters, digits, . _ + -, at most 32)",
                field.name()
            )),
        },
        None if cleared(Field::Model) => record.model = None,
        None => {}
    }

    match given(Field::Profile) {
        Some(name) if profile_vars_key(name).is_some() => record.profile = Some(name.to_owned()),
        Some(name) => faults.push(format!(
            "profile: {name:?} cannot name vars/profiles/<profile>.json"
        )),
        None if cleared(Field::Profile) => record.profile = None,
        None => {}
    }

    match given(Field::Serial) {
        Some(serial) => {
            record
                .vars
                .insert(SERIAL_VAR.into(), Value::String(serial.to_owned()));
        }
        None if cleared(Field::Serial) => {
            record.vars.remove(SERIAL_VAR);
        }
        None => {}
    }

    for n in 1..=lines_in_header {
        if let Err(e) = apply_line(&mut record.lines, n, &cell, blank) {
            faults.extend(e);
        }
    }

    if faults.is_empty() {
        Ok(record)
    } else {
        Err(faults)
    }
}

/// Applies the cells of line `n` (1-based) to `lines`.
fn apply_line<'r>(
    lines: &mut Vec<Line>,
    n: u8,
    cell: &impl Fn(Field) -> Option<&'r str>,
    blank: Blank,
) -> Result<(), Vec<String>> {
    let at = usize::from(n - 1);
    let cells: Vec<(LineField, &str)> = LineField::ALL
        .into_iter()
        .filter_map(|f| cell(Field::Line(n, f)).map(|v| (f, v)))
        .collect();
    let touched = cells
        .iter()
        .any(|(_, v)| !v.is_empty() || blank == Blank::Clear);
    if !touched {
        return Ok(());
    }
    if at > lines.len() {
        let first = cells.first().map_or(LineField::User, |(f, _)| *f);
        return Err(vec![format!(
            "{}: the device has no line {} (lines are numbered from 1 without gaps)",
            Field::Line(n, first).name(),
            n - 1
        )]);
    }
    if at == lines.len() {
        lines.push(Line {
            user: String::new(),
            auth_id: None,
            password: String::new(),
            display_name: None,
            server: String::new(),
            port: 5060,
            transport: Transport::Udp,
            label: None,
        });
    }
    let line = &mut lines[at];
    let mut faults = Vec::new();
    for (field, value) in cells {
        let name = Field::Line(n, field).name();
        let optional = |v: &str| (!v.is_empty()).then(|| v.to_owned());
        match field {
            LineField::User | LineField::Password | LineField::Server if value.is_empty() => {
                if blank == Blank::Clear {
                    faults.push(format!(
                        "{name}: cannot be cleared (remove the line with --drop-line {n})"
                    ));
                }
            }
            LineField::User => line.user = value.to_owned(),
            LineField::Password => line.password = value.to_owned(),
            LineField::Server => line.server = value.to_owned(),
            LineField::AuthId | LineField::DisplayName | LineField::Label
                if value.is_empty() && blank == Blank::Keep => {}
            LineField::AuthId => line.auth_id = optional(value),
            LineField::DisplayName => line.display_name = optional(value),
            LineField::Label => line.label = optional(value),
            LineField::Port => match value {
                "" if blank == Blank::Keep => {}
                "" => line.port = 5060,
                v => match v.parse::<u16>() {
                    Ok(port) if port > 0 => line.port = port,
                    _ => faults.push(format!("{name}: {v:?} is not a port (1 to 65535)")),
                },
            },
            LineField::Transport => match value.to_ascii_lowercase().as_str() {
                "" if blank == Blank::Keep => {}
                "" | "udp" => line.transport = Transport::Udp,
                "tcp" => line.transport = Transport::Tcp,
                "tls" => line.transport = Transport::Tls,
                _ => faults.push(format!(
                    "{name}: {value:?} is not a transport (udp, tcp or tls)"
                )),
            },
        }
    }
    for (field, missing) in [
        (LineField::User, line.user.is_empty()),
        (LineField::Server, line.server.is_empty()),
        (LineField::Password, line.password.is_empty()),
    ] {
        if missing {
            let what = match field {
                LineField::User => "user",
                LineField::Server => "server",
                _ => "password",
            };
            faults.push(format!("{}: missing {what}", Field::Line(n, field).name()));
        }
    }
    if faults.is_empty() {
        Ok(())
    } else {
        Err(faults)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn row(cells: &[(&str, &str)]) -> HashMap<Field, String> {
        cells
            .iter()
            .map(|(k, v)| (Field::parse(k).unwrap(), (*v).to_owned()))
            .collect()
    }

    fn run(
        existing: Option<&DeviceRecord>,
        cells: &[(&str, &str)],
        blank: Blank,
    ) -> Result<DeviceRecord, Vec<String>> {
        let cells = row(cells);
        let lines = cells
            .keys()
            .filter_map(|f| match f {
                Field::Line(n, _) => Some(*n),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let mac = Mac::parse_compact("001565aabbcc").unwrap();
        apply(
            mac,
            existing,
            |f| cells.get(&f).map(String::as_str),
            lines,
            blank,
        )
    }

    const LINE1: [(&str, &str); 3] = [
        ("line1_user", "1001"),
        ("line1_password", "pw"),
        ("line1_server", "pbx"),
    ];

    #[test]
    fn a_new_device_takes_its_vendor_from_the_oui() {
        let rec = run(None, &LINE1, Blank::Keep).unwrap();
        assert_eq!(rec.vendor, Vendor::Yealink);
        assert_eq!(
            (rec.lines[0].port, rec.lines[0].transport),
            (5060, Transport::Udp)
        );
    }

    #[test]
    fn blanks_keep_on_import_and_clear_on_set() {
        let mut cells = LINE1.to_vec();
        cells.extend([("model", "T46S"), ("line1_label", "Desk")]);
        let rec = run(None, &cells, Blank::Keep).unwrap();
        let kept = run(
            Some(&rec),
            &[("model", ""), ("line1_password", ""), ("line1_label", "")],
            Blank::Keep,
        )
        .unwrap();
        assert_eq!(kept, rec);
        let cleared = run(
            Some(&rec),
            &[("model", ""), ("line1_label", "")],
            Blank::Clear,
        )
        .unwrap();
        assert_eq!(
            (cleared.model, cleared.lines[0].label.clone()),
            (None, None)
        );
        let e = run(Some(&rec), &[("line1_password", "")], Blank::Clear).unwrap_err();
        assert!(e[0].contains("line1_password: cannot be cleared"), "{e:?}");
    }

    #[test]
    fn every_fault_is_named_by_its_column() {
        let e = run(
            None,
            &[
                ("vendor", "acme"),
                ("model", "bad/model"),
                ("line1_user", "1"),
                ("line1_server", "s"),
                ("line1_port", "70000"),
                ("line3_user", "3"),
            ],
            Blank::Keep,
        )
        .unwrap_err();
        assert!(e[0].starts_with("vendor: unknown vendor \"acme\""), "{e:?}");
        assert!(e[1].starts_with("model: \"bad/model\""), "{e:?}");
        assert!(
            e.iter().any(|m| m.starts_with("line1_port: \"70000\"")),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m == "line1_password: missing password"),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.starts_with("line3_user: the device has no line 2")),
            "{e:?}"
        );
    }
}
