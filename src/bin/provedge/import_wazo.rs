//! `provedge import wazo JSONDB_DIR [--store STORE] [--tenant NAME] [--dry-run]`
//!
//! Migrates a Wazo provd fleet's data (provd's JSON database: `devices/` and `configs/`) into a
//! store: one device record per device, with the lines and keys of its effective
//! `raw_config` (provd's inheritance, [`provd::Configs::effective`]), and the variable layers
//! provd's inheritance stands for (`base` → `vars/global.json`, each device template →
//! `vars/profiles/<profile>.json`). Everything is converted and checked in memory first; a
//! refused device writes nothing. No value is ever printed, only names: line and admin
//! passwords sit next to everything named. Wazo's plugin templates are not converted (they
//! depend on values the Python plugins compute); provedge's own vendor templates serve the
//! files. Exit status: 0 when everything converted, 1 when something was refused (the rest is
//! written), 2 for a usage error. docs/wazo.md has the details.

mod convert;
mod provd;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use provedge::store::{global_vars_key, namespace, profile_vars_key};
use provedge::Mac;
use serde_json::Value;

use crate::devices::fleet::Stored;
use crate::import_cmd::{describe, Destination};
use crate::store_files::laid_over;
use convert::Outcome;
use provd::Object;

#[derive(clap::Args)]
pub struct Args {
    /// provd's JSON database: the folder holding `devices/` and `configs/` (usually
    /// /var/lib/wazo-provd/jsondb).
    jsondb_dir: PathBuf,
    #[command(flatten)]
    to: Destination,
}

/// A variable layer to write: its store key (in the namespace) and the variables from Wazo.
struct Layer {
    key: String,
    vars: Object,
    left_out: Vec<String>,
}

pub fn run(args: Args) -> ExitCode {
    let fleet = match args.to.fleet() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("--tenant: {e}");
            return ExitCode::from(2);
        }
    };
    let db = match provd::read(&args.jsondb_dir) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let prefix = namespace(args.to.tenant.as_deref());
    // Only with a store is there anything to replace; a dry run without one creates.
    let store = args.to.store.as_deref();

    let mut refused = 0;
    for (file, why) in &db.refused {
        println!("refused  {file}: {why}");
        refused += 1;
    }

    // Convert every device, in memory.
    let mut records: Vec<(String, Stored, bool)> = Vec::new();
    let mut seen: BTreeMap<Mac, String> = BTreeMap::new();
    let mut profiles: BTreeMap<String, String> = BTreeMap::new();
    let mut skipped = 0;
    for doc in &db.devices {
        match convert::device(&doc.body, &db.configs) {
            Outcome::Converted {
                record,
                profile_config,
                notes,
            } => {
                let mac = record.mac;
                if let Some(first) = seen.get(&mac) {
                    println!("refused  {}: MAC {mac} is also {first}'s", doc.file);
                    refused += 1;
                    continue;
                }
                let stored = Stored::new(*record);
                if let Err(e) = stored.to_json() {
                    println!("refused  {}: {e}", doc.file);
                    refused += 1;
                    continue;
                }
                seen.insert(mac, doc.file.clone());
                if let (Some(name), Some(id)) = (&stored.record.profile, profile_config) {
                    profiles.entry(name.clone()).or_insert(id);
                }
                let exists = args.to.holds(&fleet, mac);
                let mut line = format!(
                    "{} {} -> {}{}",
                    if exists { "replaced" } else { "created " },
                    doc.file,
                    prefix,
                    provedge::store::device_key(mac),
                );
                let mut what = describe(&stored.record);
                if let Some(profile) = &stored.record.profile {
                    what.push(format!("profile {profile}"));
                }
                line.push_str(&format!(" ({})", what.join(", ")));
                if !notes.is_empty() {
                    line.push_str("; left out: ");
                    line.push_str(&notes.join(", "));
                }
                println!("{line}");
                records.push((doc.file.clone(), stored, exists));
            }
            Outcome::Refused(why) => {
                println!("refused  {}: {why}", doc.file);
                refused += 1;
            }
            Outcome::Skipped(why) => {
                println!("skipped  {}: {why}", doc.file);
                skipped += 1;
            }
        }
    }

    // The layers: base → global, each device template in use → its profile.
    let mut layers = Vec::new();
    if let Some(base) = db.configs.get("base") {
        let (vars, left_out) = convert::own_vars(&base.raw_config);
        layers.push(Layer {
            key: format!("{prefix}{}", global_vars_key()),
            vars,
            left_out,
        });
    }
    for (name, id) in &profiles {
        let (Some(config), Some(key)) = (db.configs.get(id), profile_vars_key(name)) else {
            continue;
        };
        let (vars, left_out) = convert::own_vars(&config.raw_config);
        layers.push(Layer {
            key: format!("{prefix}{key}"),
            vars,
            left_out,
        });
    }
    let mut ready = Vec::new();
    for layer in layers {
        match laid_over(store, &layer.key, &layer.vars) {
            Ok((bytes, _)) => ready.push((layer, bytes)),
            Err(why) => {
                println!("refused  {}: {why}", layer.key);
                refused += 1;
            }
        }
    }

    // Everything is checked: write.
    let written = args.to.write(
        &fleet,
        records
            .iter()
            .map(|(file, stored, _)| (file.as_str(), stored)),
        ready
            .iter()
            .map(|(layer, bytes)| (layer.key.as_str(), bytes.as_slice())),
    );
    if let Err(e) = written {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    for (layer, _) in &ready {
        let names: Vec<&str> = layer.vars.keys().map(String::as_str).collect();
        let mut line = format!("layer    {}: {}", layer.key, names.join(", "));
        if names.is_empty() {
            line.push_str("(no variables)");
        }
        if !layer.left_out.is_empty() {
            line.push_str(&format!(
                "; left out: settings {} (not scalars)",
                layer.left_out.join(", ")
            ));
        }
        println!("{line}");
    }

    let created = records.iter().filter(|(_, _, exists)| !exists).count();
    let written = if args.to.dry_run {
        "dry run: nothing written".to_owned()
    } else {
        format!("{} layers written", ready.len())
    };
    println!(
        "{created} created, {} replaced, {refused} refused (not written), {skipped} skipped; {written}",
        records.len() - created,
    );
    println!(
        "note: Wazo's plugin templates are not converted (they use XX_* values the plugins' \
         Python code computes): provedge's own vendor templates serve the phones' files \
         (docs/wazo.md)"
    );
    for (n, (tenant, key)) in provisioning_keys(&args.jsondb_dir).into_iter().enumerate() {
        // A name the configuration accepts as it is printed (`[a-z0-9_-]+`), one per key.
        let name = match (&args.to.tenant, n) {
            (Some(tenant), _) => tenant.clone(),
            (None, 0) => "wazo".to_owned(),
            (None, n) => format!("wazo-{}", n + 1),
        };
        // The whole `--config` file, as `import tancredi` prints it.
        let config = serde_json::json!({"engine": {"policy": {"tenants": [
            {"name": name, "path_prefix": format!("/{key}")}
        ]}}});
        let import_hint = if args.to.tenant.is_some() {
            String::new()
        } else {
            format!(" (import with --tenant {name})")
        };
        println!(
            "hint: Wazo tenant {tenant} puts its provisioning key in the URL path; serve those \
             phones from a provedge tenant{import_hint}: {config}"
        );
    }
    if refused > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The tenants' provisioning keys in provd's `app.json` (next to JSONDB_DIR): every
/// `provisioning_key` string, with the name of the object holding it (the tenant's uuid).
fn provisioning_keys(jsondb_dir: &Path) -> Vec<(String, String)> {
    fn walk(name: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(key)) = map.get("provisioning_key") {
                    if !key.is_empty() {
                        out.push((name.to_owned(), key.clone()));
                    }
                }
                for (k, v) in map {
                    walk(k, v, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(name, v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(bytes) = std::fs::read(jsondb_dir.join("../app.json")) {
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            walk("(app.json)", &v, &mut out);
        }
    }
    out
}
