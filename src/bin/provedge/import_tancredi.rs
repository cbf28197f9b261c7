//! `provedge import tancredi DATA_DIR [--shipped DIR] [--store STORE] [--tenant NAME] [--dry-run]`
//!
//! Migrates a Tancredi (NethVoice) fleet's data into a store: one device record per phone
//! scope, the defaults scope into `vars/global.json` and each model scope a phone uses into
//! `vars/models/<vendor>/<model>.json`, and prints the configuration that serves the phones at
//! their Tancredi URLs (`/provisioning/<token>/<file>`). Everything is worked out and checked
//! before anything is written; a refused scope writes nothing. Twig templates are not
//! converted: provedge's own vendor templates serve the phones' files. Passwords and tokens are
//! never printed, only the names of the variables and folders they come from. Exit status: 0
//! when everything converted, 1 when something was refused (the rest is written), 2 for a
//! usage error. docs/tancredi.md has the mapping.

mod ini;
mod phone;
mod scopes;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use provedge::store::{global_vars_key, namespace};
use provedge::Mac;
use serde_json::{json, Map, Value};

use self::phone::{as_vars, ModelLayer, Outcome};
use self::scopes::{Kind, Read, Scopes, Tokens};
use crate::devices::fleet::Stored;
use crate::import_cmd::{describe, plural, Destination};
use crate::store_files::laid_over;

#[derive(clap::Args)]
pub struct Args {
    /// Tancredi's writable data folder (`/var/lib/tancredi/data`): `scopes/`, `tokens/`,
    /// `first_access_tokens/`.
    data_dir: PathBuf,
    /// Tancredi's shipped data folder (`/usr/share/tancredi/data`), whose `scopes/*.ini` are
    /// read for the ids the data folder lacks.
    #[arg(long)]
    shipped: Option<PathBuf>,
    #[command(flatten)]
    to: Destination,
}

/// One file to write: its store key (namespaced) and bytes.
struct VarsWrite {
    key: String,
    bytes: Vec<u8>,
}

pub fn run(args: Args) -> ExitCode {
    for (what, dir) in [
        Some(("DATA_DIR", &args.data_dir)),
        args.shipped.as_ref().map(|d| ("--shipped", d)),
    ]
    .into_iter()
    .flatten()
    {
        if !dir.join("scopes").is_dir() {
            eprintln!(
                "{what} {}: no scopes/ folder (Tancredi's data folder holds scopes/<id>.ini)",
                dir.display()
            );
            return ExitCode::from(2);
        }
    }
    let tenant = args.to.tenant.as_deref();
    let fleet = match args.to.fleet() {
        Ok(fleet) => fleet,
        Err(e) => {
            eprintln!("--tenant: {e}");
            return ExitCode::from(2);
        }
    };
    let read = scopes::read_all(&args.data_dir, args.shipped.as_deref()).and_then(|all| {
        let tokens = Tokens::read(&args.data_dir.join("tokens"))?;
        let first = Tokens::read(&args.data_dir.join("first_access_tokens"))?;
        Ok((all, tokens, first))
    });
    let (all, tokens, first_access) = match read {
        Ok(read) => read,
        Err(e) => {
            eprintln!("{}: {e}", args.data_dir.display());
            return ExitCode::FAILURE;
        }
    };
    let scopes = Scopes::new(&all);
    let ns = namespace(tenant);

    // Every phone converted, in id order; nothing written yet.
    let mut report = Vec::new();
    let mut records: Vec<(Stored, &str)> = Vec::new();
    let mut layers: BTreeMap<String, (ModelLayer, &str)> = BTreeMap::new();
    let mut macs: HashMap<Mac, &str> = HashMap::new();
    let (mut created, mut replaced, mut refused, mut skipped) = (0, 0, 0, 0);
    for scope in &all {
        let s = match scope {
            Read::Refused { id, reason } => {
                report.push(format!("refused   {id}: {reason}"));
                refused += 1;
                continue;
            }
            Read::Skipped { id, reason } => {
                report.push(format!("skipped   {id}: {reason}"));
                skipped += 1;
                continue;
            }
            Read::Scope(s) if s.kind != Kind::Phone => continue,
            Read::Scope(s) => s,
        };
        let converted = match phone::convert(s, &scopes, &tokens, &first_access) {
            Outcome::Converted(c) => c,
            Outcome::Refused(reason) => {
                report.push(format!("refused   {}: {reason}", s.id));
                refused += 1;
                continue;
            }
            Outcome::Skipped(reason) => {
                report.push(format!("skipped   {}: {reason}", s.id));
                skipped += 1;
                continue;
            }
        };
        if let Some(other) = macs.get(&converted.mac) {
            report.push(format!(
                "refused   {}: the scope {other} names the same MAC",
                s.id
            ));
            refused += 1;
            continue;
        }
        if let Some(layer) = &converted.model_layer {
            let key = format!("{ns}{}", layer.key);
            match layers.get(&key) {
                Some((kept, from)) if kept.vars != layer.vars => {
                    report.push(format!(
                        "refused   {}: its model scopes ({}) would fill {key}, which the \
                         model scopes of {from} ({}) fill differently",
                        s.id,
                        layer.scopes.join(" → "),
                        kept.scopes.join(" → "),
                    ));
                    refused += 1;
                    continue;
                }
                Some(_) => {}
                None => {
                    layers.insert(key, (layer.clone(), s.id.as_str()));
                }
            }
        }
        macs.insert(converted.mac, &s.id);
        let exists = args.to.holds(&fleet, converted.mac);
        let verb = if exists {
            replaced += 1;
            "replaced "
        } else {
            created += 1;
            "created  "
        };
        let record = &converted.stored.record;
        let mut what = describe(record);
        if let Some(auth) = &record.auth {
            let mut held = Vec::new();
            if auth.token.is_some() {
                held.push("token");
            }
            if auth.first_boot_token.is_some() {
                held.push("first-boot token");
            }
            what.push(held.join(" and "));
        }
        report.push(format!(
            "{verb} {} -> {ns}{} ({})",
            s.id,
            provedge::store::device_key(converted.mac),
            what.join(", ")
        ));
        for note in &converted.notes {
            report.push(format!("note      {}: {note}", s.id));
        }
        records.push((converted.stored, &s.id));
    }

    // The variable layers: the defaults scope, and each model chain a converted phone uses.
    // (source scopes, namespaced key, variables)
    let mut sources: Vec<(String, String, &Map<String, Value>)> = Vec::new();
    let defaults_vars = match all.iter().find(|r| r.id() == "defaults") {
        Some(Read::Scope(d)) => {
            let mut vars = as_vars(&d.data);
            // The base of the phones' URLs, as provedge's templates name it (a Yealink's file
            // points the phone at `<provisioning_url>/<device_token>/`).
            if let Some(url) = provisioning_url(&d.data) {
                vars.insert("provisioning_url".into(), Value::String(url));
            }
            Some(vars)
        }
        _ => None,
    };
    if let Some(vars) = &defaults_vars {
        sources.push((
            "defaults".into(),
            format!("{ns}{}", global_vars_key()),
            vars,
        ));
    }
    for (key, (layer, _)) in &layers {
        sources.push((layer.scopes.join(" → "), key.clone(), &layer.vars));
    }
    let written_scopes: Vec<&str> = std::iter::once("defaults")
        .chain(
            layers
                .values()
                .flat_map(|(l, _)| l.scopes.iter().map(String::as_str)),
        )
        .collect();
    for scope in &all {
        if let Read::Scope(s) = scope {
            if s.kind != Kind::Phone && written_scopes.contains(&s.id.as_str()) {
                for (line, name) in &s.arrays {
                    report.push(format!(
                        "ignored   {}: {}:{line}: the array `{name}[…]` (arrays are not carried)",
                        s.id,
                        s.file.display()
                    ));
                }
            }
        }
    }
    let mut vars_writes = Vec::new();
    for (from, key, vars) in sources {
        match laid_over(args.to.store.as_deref(), &key, vars) {
            Ok((bytes, kept)) => {
                let kept = if kept > 0 {
                    format!("; {kept} kept from the store")
                } else {
                    String::new()
                };
                report.push(format!(
                    "vars      {from} -> {key} ({}{kept})",
                    plural(vars.len(), "variable")
                ));
                vars_writes.push(VarsWrite { key, bytes });
            }
            Err(e) => {
                report.push(format!("refused   {from}: {key}: {e}"));
                refused += 1;
            }
        }
    }
    let unused = all
        .iter()
        .filter(|r| matches!(r, Read::Scope(s) if s.kind == Kind::Model))
        .filter(|r| {
            !layers
                .values()
                .any(|(l, _)| l.scopes.iter().any(|id| id == r.id()))
        })
        .count();
    if unused > 0 {
        report.push(format!(
            "unused    {} (no imported phone inherits from them; not written)",
            plural(unused, "model scope")
        ));
    }
    let roots: Vec<&Path> = [Some(args.data_dir.as_path()), args.shipped.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let templates = scopes::count_templates(&roots);
    report.push(format!(
        "templates {} in templates/ and templates-custom/ not converted: provedge's own vendor \
         templates serve the phones' files (docs/tancredi.md)",
        plural(templates, "file")
    ));

    // Everything is checked: write, unless this is a dry run.
    let written = args.to.write(
        &fleet,
        records.iter().map(|(stored, id)| (*id, stored)),
        vars_writes
            .iter()
            .map(|file| (file.key.as_str(), file.bytes.as_slice())),
    );
    let mut out = std::io::stdout().lock();
    for line in &report {
        let _ = writeln!(out, "{line}");
    }
    let written_note = if args.to.dry_run {
        "dry run: nothing written".to_owned()
    } else {
        format!("{} written", plural(vars_writes.len(), "variable file"))
    };
    let _ = writeln!(
        out,
        "{created} created, {replaced} replaced, {refused} refused (not written), {skipped} \
         skipped; {written_note}"
    );
    if let Err(e) = written {
        let _ = out.flush();
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    match serve_config(&scopes, tenant) {
        Ok(config) => {
            let _ = writeln!(
                out,
                "# serve them at their Tancredi URLs with this configuration \
                 (provedge serve --config FILE; it holds a new first-boot token):"
            );
            let _ = writeln!(out, "{config}");
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    if refused > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// A defaults value that is set: trimmed, not empty.
fn setting<'a>(defaults: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    defaults
        .get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

/// The path Tancredi serves its phones under (`provisioning_url_path`, without its slashes;
/// `provisioning` when unset).
fn url_path(defaults: &BTreeMap<String, String>) -> &str {
    setting(defaults, "provisioning_url_path")
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty())
        .unwrap_or("provisioning")
}

/// `<scheme>://<hostname>/<path>`, Tancredi's provisioning URLs without the token and file
/// (scheme `http` when unset, as Tancredi's); `None` without a hostname.
fn provisioning_url(defaults: &BTreeMap<String, String>) -> Option<String> {
    let host = setting(defaults, "hostname")?;
    let scheme = setting(defaults, "provisioning_url_scheme").unwrap_or("http");
    Some(format!("{scheme}://{host}/{}", url_path(defaults)))
}

/// The engine configuration that serves the phones at their Tancredi URLs
/// (`/<provisioning_url_path>/<token>/<file>`), with a new random first-boot token.
fn serve_config(scopes: &Scopes<'_>, tenant: Option<&str>) -> Result<Value, String> {
    // A refused defaults scope is reported above; the configuration then takes Tancredi's
    // defaults.
    let none = BTreeMap::new();
    let defaults = scopes.defaults().unwrap_or(&none);
    let path = url_path(defaults);
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random source: {e}"))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let rules = json!({"url_tokens": {"first_boot": token, "path_prefix": format!("/{path}")}});
    let policy = match tenant {
        None => json!({"default": rules}),
        // Chosen by the host name Tancredi put in the phones' URLs, so they reach it as they
        // are; without one, the operator adds `hosts` (a tenant with neither is never chosen).
        Some(name) => match setting(defaults, "hostname") {
            Some(host) => json!({"tenants": [{"name": name, "hosts": [host], "rules": rules}]}),
            None => json!({"tenants": [{"name": name, "rules": rules}]}),
        },
    };
    Ok(json!({"engine": {"policy": policy}}))
}
