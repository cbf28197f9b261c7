//! One-off edits and looks: `provedge devices list`, `show MAC`, `set MAC COLUMN=VALUE…`,
//! `rm MAC…`. `set` speaks the CSV's column names and shares its rules (merge.rs), except that
//! a blank value clears an optional field.

use std::process::ExitCode;

use provedge::store::DeviceAuth;
use provedge::Mac;
use serde_json::{Map, Value};

use super::columns::{Field, Header};
use super::fleet::Stored;
use super::merge::{apply, Blank};
use super::StoreArgs;

#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Show line passwords (masked without it).
    #[arg(long)]
    with_passwords: bool,
    mac: String,
}

#[derive(clap::Args)]
pub struct SetArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Remove line N (later lines move up); applied after the COLUMN=VALUE pairs.
    #[arg(long, value_name = "N")]
    drop_line: Option<u8>,
    /// Set the device's own first-boot URL token: a token, `new` for a random one, or `none`
    /// to remove it once the phone is provisioned. Never printed.
    #[arg(long, value_name = "TOKEN|new|none")]
    first_boot_token: Option<String>,
    mac: String,
    /// CSV columns to set, e.g. model=T46S line1_password=…; a blank value clears.
    #[arg(value_name = "COLUMN=VALUE")]
    pairs: Vec<String>,
}

#[derive(clap::Args)]
pub struct RmArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[arg(required = true)]
    macs: Vec<String>,
}

fn parse_mac(s: &str) -> Result<Mac, String> {
    s.parse::<Mac>().map_err(|e| format!("bad MAC {s:?}: {e}"))
}

fn fail(e: String) -> ExitCode {
    eprintln!("{e}");
    ExitCode::FAILURE
}

/// A bad argument (a tenant name, a MAC): exit 2, as for every command.
fn usage(e: String) -> ExitCode {
    eprintln!("{e}");
    ExitCode::from(2)
}

/// One line per device: MAC, vendor, model, profile, lines and line 1's user.
pub fn list(args: ListArgs) -> ExitCode {
    let fleet = match args.store.fleet() {
        Ok(fleet) => fleet,
        Err(e) => return usage(e),
    };
    let macs = match fleet.macs() {
        Ok(macs) => macs,
        Err(e) => return fail(e),
    };
    let mut bad = 0;
    for mac in macs {
        match fleet.read(mac) {
            Ok(Some(Stored { record, .. })) => println!(
                "{mac}  {:<11}  {:<14}  {:<12}  {} {}  {}",
                record.vendor.name(),
                record.model.as_ref().map_or("-", |m| m.as_str()),
                record.profile.as_deref().unwrap_or("-"),
                record.lines.len(),
                if record.lines.len() == 1 {
                    "line "
                } else {
                    "lines"
                },
                record.lines.first().map_or("-", |l| l.user.as_str()),
            ),
            Ok(None) => {}
            Err(e) => {
                bad += 1;
                eprintln!("{e}");
            }
        }
    }
    if bad > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The record as JSON, passwords masked unless asked for; URL tokens and encryption settings
/// are only said to be set.
pub fn show(args: ShowArgs) -> ExitCode {
    let (fleet, mac) = match args
        .store
        .fleet()
        .and_then(|f| Ok((f, parse_mac(&args.mac)?)))
    {
        Ok(v) => v,
        Err(e) => return usage(e),
    };
    let stored = match fleet.read(mac) {
        Ok(Some(stored)) => stored,
        Ok(None) => return fail(format!("no device {mac}")),
        Err(e) => return fail(e),
    };
    let mut json = match serde_json::to_value(&stored.record) {
        Ok(Value::Object(map)) => map,
        _ => return fail("cannot show the record".into()),
    };
    if !args.with_passwords {
        if let Some(Value::Array(lines)) = json.get_mut("lines") {
            for line in lines {
                if let Some(pw) = line.get_mut("password") {
                    *pw = Value::String("********".into());
                }
            }
        }
    }
    for (key, value) in &stored.unserialized {
        if !value.is_null() {
            json.insert(key.clone(), Value::String("(set, not shown)".into()));
        }
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&Value::Object(json)).unwrap_or_default()
    );
    ExitCode::SUCCESS
}

/// Creates or changes one record from COLUMN=VALUE pairs.
pub fn set(args: SetArgs) -> ExitCode {
    let (fleet, mac) = match args
        .store
        .fleet()
        .and_then(|f| Ok((f, parse_mac(&args.mac)?)))
    {
        Ok(v) => v,
        Err(e) => return usage(e),
    };
    let mut names = Vec::new();
    let mut values = Vec::new();
    for pair in &args.pairs {
        let Some((name, value)) = pair.split_once('=') else {
            return fail(format!("{pair:?}: expected COLUMN=VALUE"));
        };
        if Field::parse(name) == Some(Field::Mac) {
            return fail("mac: the device is named by the MAC argument".into());
        }
        names.push(name);
        values.push(value);
    }
    // The MAC goes in as a column, so the pairs are read exactly as a CSV row would be.
    let mac_text = mac.to_string();
    names.push("mac");
    values.push(&mac_text);
    let header = match Header::parse(names.iter().copied()) {
        Ok(header) => header,
        Err(e) => return fail(e),
    };
    let row = csv::StringRecord::from(values);
    let existing = match fleet.read(mac) {
        Ok(existing) => existing,
        Err(e) => return fail(e),
    };
    let cell = |field| header.cell(&row, field);
    let old = existing.as_ref().map(|s| &s.record);
    let mut record = match apply(mac, old, cell, header.lines(), Blank::Clear) {
        Ok(record) => record,
        Err(faults) => {
            for fault in faults {
                eprintln!("{fault}");
            }
            return ExitCode::FAILURE;
        }
    };
    if let Some(n) = args.drop_line {
        if n == 0 || usize::from(n) > record.lines.len() {
            return fail(format!("--drop-line {n}: the device has no line {n}"));
        }
        record.lines.remove(usize::from(n - 1));
    }
    let mut unserialized = existing
        .as_ref()
        .map(|s| s.unserialized.clone())
        .unwrap_or_default();
    if let Some(token) = &args.first_boot_token {
        match set_first_boot_token(&mut unserialized, token) {
            Ok(auth) => record.auth = auth,
            Err(e) => return fail(e),
        }
    }
    let verb = match &existing {
        None => "created",
        Some(old) if old.record == record => {
            println!("unchanged {mac}");
            return ExitCode::SUCCESS;
        }
        Some(_) => "changed",
    };
    match fleet.write(&Stored {
        record,
        unserialized,
    }) {
        Ok(()) => {
            println!("{verb} {mac}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// Sets (or with `none` removes) `auth.first_boot_token` in the stored JSON; returns the
/// device auth the core will read from it.
fn set_first_boot_token(
    unserialized: &mut Map<String, Value>,
    token: &str,
) -> Result<Option<DeviceAuth>, String> {
    let mut auth = match unserialized.remove("auth") {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    match token {
        "none" => {
            auth.remove("first_boot_token");
        }
        "new" => {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).map_err(|e| format!("no random source: {e}"))?;
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            auth.insert("first_boot_token".into(), Value::String(hex));
        }
        token => {
            provedge::store::UrlToken::try_from(token.to_owned())
                .map_err(|e| format!("--first-boot-token: {e}"))?;
            auth.insert("first_boot_token".into(), Value::String(token.to_owned()));
        }
    }
    if auth.is_empty() {
        return Ok(None);
    }
    let value = Value::Object(auth);
    let parsed: DeviceAuth = serde_json::from_value(value.clone())
        .map_err(|_| "the stored auth object does not read".to_owned())?;
    unserialized.insert("auth".into(), value);
    Ok(Some(parsed))
}

/// Removes records; a MAC without one is an error (the others are still removed).
pub fn rm(args: RmArgs) -> ExitCode {
    let fleet = match args.store.fleet() {
        Ok(fleet) => fleet,
        Err(e) => return usage(e),
    };
    let mut code = ExitCode::SUCCESS;
    for text in &args.macs {
        let result = parse_mac(text).and_then(|mac| Ok((mac, fleet.remove(mac)?)));
        match result {
            Ok((mac, true)) => println!("removed {mac}"),
            Ok((mac, false)) => {
                eprintln!("no device {mac}");
                code = ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("{e}");
                code = ExitCode::FAILURE;
            }
        }
    }
    code
}
