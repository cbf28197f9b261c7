//! The parity suite: one table of requests (`tests/parity/table.rs`) run through every host —
//! the native server, the proxy-wasm filter in real Envoy and the Worker in real workerd —
//! each started with the table's one configuration over its own copy of the table's store. Every
//! row's answer is checked against the row's expectation (status, the headers that matter,
//! the body's bytes); a host that answers otherwise fails its test, naming the row and the
//! difference. Rows the table marks as known differences of a host must still differ: a host
//! that starts answering as the table says fails too, until the mark is removed.
//!
//! Envoy and workerd come from `scripts/test-all` (see `envoy_support` and `worker_support`);
//! without them their tests skip, unless `CI` or `PROVEDGE_REQUIRE_INTEROP=1` is set.
//! `PROVEDGE_PARITY_SHOW=1` prints every answer (status, headers that matter, body size).

// serve_support and envoy_support each include the tests' HTTP client as their own module.
#![allow(clippy::duplicate_mod)]

mod envoy_support;
mod serve_support;
mod worker_support;

#[path = "parity/check.rs"]
mod check;
#[path = "parity/row.rs"]
mod row;
#[path = "parity/table.rs"]
mod table;

use std::any::Any;
use std::collections::HashSet;
use std::path::PathBuf;

use check::{header_of, Answers, Difference, Reference};
use envoy_support::{bootstrap, copy_dir, free_port, repo, send_raw, temp_dir, Envoy, Origin};
use row::{Host, Known, Row, MATTER};
use table::CONFIG;

#[test]
fn the_native_server_answers_as_the_table_says() {
    run(Host::Native);
}

#[test]
fn the_filter_in_envoy_answers_as_the_table_says() {
    run(Host::Envoy);
}

#[test]
fn the_worker_in_workerd_answers_as_the_table_says() {
    run(Host::Worker);
}

/// The table itself: unique row names, references only to earlier rows, known differences
/// with their parts and reasons, and every device of the example store asked for.
#[test]
fn the_table_is_well_formed() {
    let rows = table::table();
    let mut seen = HashSet::new();
    for row in &rows {
        assert!(seen.insert(row.name), "two rows are named {:?}", row.name);
        let mut refs: Vec<&str> = row
            .headers
            .iter()
            .filter_map(|(_, v)| match v {
                row::Value::EtagOf(r) => Some(*r),
                row::Value::Digest { challenge, .. } => Some(*challenge),
                row::Value::Text(_) => None,
            })
            .collect();
        refs.extend(row.expect.headers.iter().filter_map(|(_, h)| match h {
            row::Header::SameAs(r) => Some(*r),
            _ => None,
        }));
        for r in refs {
            assert!(
                seen.contains(r) && r != row.name,
                "row {:?} refers to {r:?}, which is not an earlier row",
                row.name
            );
        }
        for known in &row.known {
            assert!(
                !known.why.is_empty() && !known.parts.is_empty(),
                "row {:?}: a known difference names its parts and its reason",
                row.name
            );
        }
    }
    assert!(rows.len() >= 40, "{} rows", rows.len());
    // Every device of the example store is asked for.
    for entry in std::fs::read_dir(repo().join("examples/store/devices")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let mac = name.trim_end_matches(".json");
        assert!(
            rows.iter()
                .any(|r| r.target.to_ascii_lowercase().contains(mac)),
            "no row asks for the example store's device {mac}"
        );
    }
}

/// A host running the parity configuration, and what must live as long as it does.
struct Running {
    port: u16,
    _keep: Vec<Box<dyn Any>>,
}

/// A directory removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh parity store (a copy of `examples/store` made by [`table::prepare`]).
fn parity_store(label: &str) -> Scratch {
    let dir = temp_dir(label);
    copy_dir(&repo().join("examples/store"), &dir);
    table::prepare(&dir);
    Scratch(dir)
}

/// The `engine` part of the configuration file.
fn engine_config() -> serde_json::Value {
    let document: serde_json::Value = serde_json::from_str(CONFIG).unwrap();
    document["engine"].clone()
}

/// Starts `host` with the table's configuration over its own parity store; `None` when its
/// tools are missing (and not required).
fn start(host: Host) -> Option<Running> {
    match host {
        Host::Native => {
            let server = serve_support::Server::start_prepared(Some(CONFIG), table::prepare);
            Some(Running {
                port: server.addr.port(),
                _keep: vec![Box::new(server)],
            })
        }
        Host::Envoy => {
            let (envoy_bin, module) = envoy_support::tools()?;
            let store = parity_store("parity-envoy");
            let origin = Origin::start(store.0.clone());
            let plugin = serde_json::json!({
                "engine": engine_config(),
                "origin": {"upstream": "store", "authority": format!("127.0.0.1:{}", origin.port)},
            })
            .to_string();
            let (port, admin) = (free_port(), free_port());
            let yaml = bootstrap(&module, &plugin, port, admin, origin.port);
            let envoy = Envoy::start(&envoy_bin, &yaml, port, admin)
                .unwrap_or_else(|log| panic!("envoy: {log}"));
            Some(Running {
                port,
                // Envoy first: it stops before its origin and store go.
                _keep: vec![Box::new(envoy), Box::new(origin), Box::new(store)],
            })
        }
        Host::Worker => {
            let tools = worker_support::tools()?;
            let store = parity_store("parity-worker");
            // Every key in KV: one `kv bulk put` instead of a wrangler process per R2 object
            // (minutes on a fresh machine); R2 has its own tests in tests/worker_workerd.rs.
            let worker = worker_support::Worker::start_with(
                &tools,
                &store.0,
                CONFIG,
                None,
                &worker_support::Layout::kv(),
            );
            Some(Running {
                port: worker.port,
                _keep: vec![Box::new(worker), Box::new(store)],
            })
        }
    }
}

/// Runs the whole table on `host`, in order, and fails naming every difference the table does
/// not mark as known for it (and every known difference that no longer is one).
fn run(host: Host) {
    let Some(running) = start(host) else { return };
    let reference = Reference::new();
    let show = std::env::var("PROVEDGE_PARITY_SHOW").is_ok_and(|v| v == "1");
    let rows = table::table();
    let mut answers = Answers::new();
    let (mut failures, mut known, mut exact) = (Vec::new(), Vec::new(), 0);
    for row in &rows {
        let differences = match check::request(row, &answers) {
            Err(why) => vec![Difference::new("request", why)],
            Ok(bytes) => match send_raw(running.port, &bytes, row.method == "HEAD") {
                Err(e) => vec![Difference::new("answer", format!("none: {e}"))],
                Ok(resp) => {
                    if show {
                        print_answer(host, row.name, &resp);
                    }
                    let differences = check::differences(row, &resp, &answers, &reference);
                    answers.insert(row.name, resp);
                    differences
                }
            },
        };
        exact += usize::from(differences.is_empty());
        let (failed, marked) = judge(host, row, &differences);
        failures.extend(failed);
        known.extend(marked);
    }
    eprintln!(
        "parity on {}: {} rows, {exact} exactly as the table says, {} known differences, \
         {} failures",
        host.name(),
        rows.len(),
        known.len(),
        failures.len()
    );
    for k in &known {
        eprintln!("  {k}");
    }
    assert!(
        failures.is_empty(),
        "{} answers otherwise than the parity table says:\n{}",
        host.name(),
        failures.join("\n")
    );
}

/// What a row's differences on `host` mean: failures (differences no mark of the row covers,
/// and marks whose parts no longer differ), and the known differences seen, each a report.
fn judge(host: Host, row: &Row, differences: &[Difference]) -> (Vec<String>, Vec<String>) {
    let marks: Vec<&Known> = row.known.iter().filter(|k| k.host == host).collect();
    let covers = |k: &Known, part: &str| k.parts.iter().any(|p| *p == "*" || *p == part);
    let listed =
        |ds: Vec<&Difference>| -> String { ds.iter().map(|d| format!("\n    {d}")).collect() };
    let target: String = row.target.chars().take(60).collect();
    let more = if target.len() < row.target.len() {
        "…"
    } else {
        ""
    };
    let heading = format!("row {:?} ({} {target}{more})", row.name, row.method);
    let (mut failures, mut known) = (Vec::new(), Vec::new());
    let unexpected: Vec<&Difference> = differences
        .iter()
        .filter(|d| !marks.iter().any(|k| covers(k, &d.part)))
        .collect();
    if !unexpected.is_empty() {
        failures.push(format!("{heading} differs:{}", listed(unexpected)));
    }
    for mark in marks {
        let gone: Vec<&str> = mark
            .parts
            .iter()
            .copied()
            .filter(|p| !differences.iter().any(|d| *p == "*" || d.part == *p))
            .collect();
        if !gone.is_empty() {
            failures.push(format!(
                "{heading} is now answered as the table says in {gone:?}: remove its known \
                 mark ({})",
                mark.why
            ));
        }
        let seen: Vec<&Difference> = differences
            .iter()
            .filter(|d| covers(mark, &d.part))
            .collect();
        if !seen.is_empty() {
            known.push(format!("{heading}, known ({}):{}", mark.why, listed(seen)));
        }
    }
    (failures, known)
}

fn print_answer(host: Host, row: &str, resp: &envoy_support::Resp) {
    let headers: Vec<String> = MATTER
        .iter()
        .chain(&["allow", "accept-ranges", "content-length"])
        .filter_map(|n| header_of(resp, n).map(|v| format!("{n}: {v}")))
        .collect();
    println!(
        "{} | {row} | {} | {} | {} bytes {:?}",
        host.name(),
        resp.status,
        headers.join(" | "),
        resp.body.len(),
        String::from_utf8_lossy(&resp.body[..resp.body.len().min(60)])
    );
}
