//! `provedge devices check [--store DIR] [--tenant T] [--config FILE] [MAC…]`: every device's
//! files rendered as the server would serve them, before the phones ask.
//!
//! A template edited for one model, a variable layer that no longer parses, a record whose
//! MAC routes to another vendor: each breaks only some phones, and only when they next boot.
//! This renders, for every record (or the MACs named), each file of its vendor that the store
//! has a template for (the names come from the route table, [`provedge::route::device_files`],
//! kept when the template they render from is in the namespace), through the same engine and
//! configuration as `provedge render`, and prints one line per file that would not be served.
//!
//! What it leaves aside, so that every failure it prints is one a phone would meet: access
//! rules (each namespace's rules are opened: no token, network or identity is needed, and
//! files are rendered whole, as a device's steady token gets them); names a record's phone
//! asks for only when told its files are encrypted (Panasonic `.enc`, Obihai `.aes`), unless
//! the record sets `encryption`; and files served as stored (firmware, keys), which are not
//! rendered.
//!
//! Exit codes: 0 every file renders, 1 some file does not (or a record does not parse), 2 bad
//! arguments or configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use provedge::policy::{RateLimits, Rules};
use provedge::render::syntax::{self, Syntax};
use provedge::route::{self, Route};
use provedge::{Engine, Mac, Mode, Request, Vendor};

use super::fleet::{Fleet, Stored};
use super::StoreArgs;
use crate::folder_store::FolderStore;
use crate::import_cmd::plural;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    store: StoreArgs,
    /// The configuration `serve` runs with: its routes, tenants and render settings apply.
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// Print every file checked (`ok` and its size), not only those that fail.
    #[arg(long)]
    verbose: bool,
    /// Check these devices only (default: every record of the namespace).
    macs: Vec<String>,
}

pub fn run(args: Args) -> ExitCode {
    match Check::new(&args) {
        Ok(check) => check.run(&args),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

/// One check's engine, store and namespace.
struct Check {
    engine: Engine,
    route: route::RouteConfig,
    store: FolderStore,
    fleet: Fleet,
    /// What selects the tenant in a request: its `Host`, or its path prefix.
    host: Option<String>,
    path_prefix: String,
    /// The namespace's templates folder (`[tenants/<name>/]templates`).
    templates: std::path::PathBuf,
    /// Each vendor's device templates there, read once ([`device_templates`]).
    by_vendor: BTreeMap<Vendor, BTreeSet<String>>,
}

/// One file checked: rendered (its size), or why it would not be served.
struct Checked {
    file: String,
    outcome: Result<usize, String>,
}

impl Check {
    fn new(args: &Args) -> Result<Check, String> {
        let mut config = crate::load_config(args.config.as_deref())?;
        // The files are what is checked, not who may fetch them.
        config.mode = Mode::Serve;
        config.policy.default = open_rules();
        let tenant = args.store.tenant();
        let (mut host, mut path_prefix) = (None, String::new());
        for t in &mut config.policy.tenants {
            t.rules = open_rules();
            if Some(t.name.as_str()) == tenant {
                host = t.hosts.first().cloned();
                path_prefix = t.path_prefix.clone().unwrap_or_default();
            }
        }
        if let Some(name) = tenant {
            let configured = config.policy.tenants.iter().any(|t| t.name == name);
            if !configured || (host.is_none() && path_prefix.is_empty()) {
                return Err(format!(
                    "--tenant {name}: the --config file must name it in \
                     engine.policy.tenants, with hosts or a path_prefix that reach it"
                ));
            }
        }
        let route = config.route.clone();
        let engine = Engine::new(config).map_err(|e| format!("engine.{e}"))?;
        let store = FolderStore::from_arg(args.store.store.as_deref());
        let fleet = args.store.fleet()?;
        let templates = store
            .root()
            .join(provedge::store::namespace(tenant))
            .join("templates");
        let by_vendor = Vendor::ALL
            .into_iter()
            .map(|v| (v, device_templates(&templates.join(v.name()))))
            .collect();
        Ok(Check {
            engine,
            route,
            store,
            fleet,
            host,
            path_prefix,
            templates,
            by_vendor,
        })
    }

    fn run(&self, args: &Args) -> ExitCode {
        let macs = match self.macs(&args.macs) {
            Ok(macs) => macs,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        };
        let bar = ProgressBar::new(macs.len() as u64).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} devices")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let (mut files, mut failed, mut unreadable) = (0, 0, 0);
        for mac in &macs {
            bar.inc(1);
            let stored = match self.fleet.read(*mac) {
                Ok(Some(stored)) => stored,
                Ok(None) => {
                    say(
                        &bar,
                        format!("{mac}  -  no record: {}", self.fleet.key(*mac)),
                    );
                    unreadable += 1;
                    continue;
                }
                Err(e) => {
                    say(&bar, format!("{mac}  -  {e}"));
                    unreadable += 1;
                    continue;
                }
            };
            let vendor = stored.record.vendor.name();
            let checked = self.device(&stored);
            if checked.is_empty() {
                say(
                    &bar,
                    format!(
                        "{mac}  {vendor}  -  no template for any of its files under {}/{vendor}/",
                        self.templates.display(),
                    ),
                );
                failed += 1;
            }
            for Checked { file, outcome } in &checked {
                match outcome {
                    Ok(bytes) if args.verbose => {
                        say(&bar, format!("{mac}  {vendor}  {file}  ok ({bytes} bytes)"));
                    }
                    Ok(_) => {}
                    Err(reason) => {
                        say(&bar, format!("{mac}  {vendor}  {file}  {reason}"));
                        failed += 1;
                    }
                }
            }
            files += checked.len();
        }
        bar.finish_and_clear();
        println!(
            "{}, {} checked, {failed} failed{}",
            plural(macs.len(), "device"),
            plural(files, "file"),
            match unreadable {
                0 => String::new(),
                n => format!(", {} not read", plural(n, "record")),
            }
        );
        if failed + unreadable > 0 {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }

    /// The MACs named, or every record's.
    fn macs(&self, named: &[String]) -> Result<Vec<Mac>, String> {
        if named.is_empty() {
            return self.fleet.macs();
        }
        named
            .iter()
            .map(|m| m.parse().map_err(|e| format!("{m}: {e}")))
            .collect()
    }

    /// Renders each of the device's files the namespace has a template for.
    fn device(&self, stored: &Stored) -> Vec<Checked> {
        let record = &stored.record;
        let Some(templates) = self.by_vendor.get(&record.vendor) else {
            return Vec::new();
        };
        let mut checked = Vec::new();
        for file in route::device_files(record.vendor, record.mac) {
            // The vendor's folder in the path, as the weakest evidence: the OUI still decides,
            // as it does for a phone whose User-Agent does not name its vendor.
            let path = format!("/{}/{file}", record.vendor.name());
            let Ok(routed) = route::route(&Request::get(path.as_str()), &self.route) else {
                continue;
            };
            let Some(template) = template_of(&routed) else {
                continue;
            };
            if !templates.contains(&template)
                || (syntax::encrypted_by_name(&routed) && record.encryption.is_none())
            {
                continue;
            }
            if routed.vendor() != record.vendor {
                checked.push(Checked {
                    outcome: Err(format!(
                        "routed as {} by the MAC's OUI {}: a phone that does not name its \
                         vendor in its User-Agent gets that vendor's file (engine.route.\
                         extra_ouis can attribute the OUI)",
                        routed.vendor().name(),
                        hex_oui(record.mac)
                    )),
                    file,
                });
                continue;
            }
            checked.push(Checked {
                outcome: self.render(&path),
                file,
            });
        }
        checked
    }

    /// The rendered size, or why the file would not be served, as `provedge render` says it.
    fn render(&self, path: &str) -> Result<usize, String> {
        let mut req = Request::get(format!("{}{path}", self.path_prefix));
        if let Some(host) = &self.host {
            req = req.with_header("Host", host.as_str());
        }
        crate::render_cmd::served(
            self.engine
                .run(&req, crate::unix_now(), |key| self.store.read(key)),
        )
        .map(|resp| resp.body.len())
    }
}

/// Rules every request of the check passes: no network, credential, identity or token is
/// asked for, and no rate limit counts a fleet's thousands of requests.
fn open_rules() -> Rules {
    Rules {
        rate_limit: RateLimits {
            per_client: None,
            per_mac: None,
        },
        ..Rules::default()
    }
}

/// The template a routed file renders from, if it is rendered at all.
fn template_of(routed: &Route) -> Option<String> {
    Syntax::of(routed).map(|syntax| syntax::template_name(routed, syntax))
}

/// The device templates of one vendor's folder: names holding `@mac`, relative to the
/// folder, with a model folder in front taken off (`t46s/@mac.cfg` is `@mac.cfg` for a
/// T46S); `@mac/phonebook.xml` keeps its `@mac` folder, which is part of the name.
fn device_templates(dir: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let Ok(relative) = path.strip_prefix(dir) else {
                continue;
            };
            let relative = relative.to_string_lossy().to_ascii_lowercase();
            let name = match relative.split_once('/') {
                Some((model, rest)) if !model.contains("@mac") => rest.to_owned(),
                _ => relative,
            };
            if name.contains("@mac") {
                names.insert(name);
            }
        }
    }
    names
}

/// A report line on stdout; the bar (drawn on stderr only on a terminal) steps aside for it.
fn say(bar: &ProgressBar, line: String) {
    bar.suspend(|| println!("{line}"));
}

fn hex_oui(mac: Mac) -> String {
    mac.oui().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_templates_take_model_folders_off_and_keep_mac_folders() {
        let dir = std::env::temp_dir().join(format!("provedge-check-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for name in [
            "@mac.cfg",
            "t46s/@mac.cfg",
            "@mac/phonebook.xml",
            "y000000000066.cfg",
        ] {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        let names = device_templates(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            ["@mac.cfg", "@mac/phonebook.xml"]
        );
    }
}
