//! `provedge import fusionpbx` (issue 16): FusionPBX-style Smarty templates the project wrote
//! (tests/data/fusionpbx/provision) are converted into a store, and provedge renders them to
//! the bytes a Smarty renderer writes (tests/data/fusionpbx/expected, worked out by hand from
//! Smarty's rules); what cannot be converted is reported with file and line and not written.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::MemStore;
use provedge::{Engine, Request};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fusionpbx")
}

/// A fresh store folder holding the fixture devices and variables.
fn store_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "provedge-import-fusionpbx-{tag}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    copy(&data().join("store"), &dir);
    dir
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

fn import(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_provedge"))
        .args(["import", "fusionpbx"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// (request path, expected file)
const RENDERS: &[(&str, &str)] = &[
    ("/001565a1b2c3.cfg", "yealink/001565a1b2c3.cfg"),
    ("/0004f2a1b2c3.cfg", "polycom/0004f2a1b2c3.cfg"),
    ("/algom0022EEA1B2C3.conf", "algo/algom0022EEA1B2C3.conf"),
    ("/0c383ea1b2c3.cfg", "fanvil/0c383ea1b2c3.cfg"),
    ("/000413a1b2c3.xml", "snom/000413a1b2c3.xml"),
];

#[test]
fn converted_templates_render_what_smarty_renders() {
    let store = store_dir("render");
    let provision = data().join("provision");
    let (code, report) = import(&[
        provision.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ]);
    // One fixture holds constructs that cannot be converted: exit status 1, the rest written.
    assert_eq!(code, 1, "{report}");
    let mem = MemStore::from_dir(&store);
    let engine = Engine::default();
    for (path, expected) in RENDERS {
        let resp = mem.serve(&engine, &Request::get(*path));
        assert_eq!(resp.status, 200, "{path}: {:?}", resp.note);
        let want = std::fs::read_to_string(data().join("expected").join(expected)).unwrap();
        assert_eq!(String::from_utf8(resp.body).unwrap(), want, "{path}");
    }
    // Grandstream: provedge writes the XML from P-values, so the P-values are compared.
    let resp = mem.serve(&engine, &Request::get("/cfg000b82a1b2c3.xml"));
    assert_eq!(resp.status, 200, "{:?}", resp.note);
    let want =
        std::fs::read_to_string(data().join("expected/grandstream/cfg000b82a1b2c3.xml")).unwrap();
    assert_eq!(
        pvalues(&String::from_utf8(resp.body).unwrap()),
        pvalues(&want)
    );
    let _ = std::fs::remove_dir_all(&store);
}

/// The `<Pnnn>value</Pnnn>` pairs of a `gs_provision` document, in order.
fn pvalues(xml: &str) -> Vec<(String, String)> {
    xml.lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("<P")?;
            let (n, rest) = l.split_once('>')?;
            let value = rest.strip_suffix(&format!("</P{n}>"))?;
            Some((n.to_owned(), value.to_owned()))
        })
        .collect()
}

#[test]
fn the_report_names_every_refusal_with_file_and_line_and_writes_none_of_that_file() {
    let store = store_dir("report");
    let provision = data().join("provision");
    let (code, report) = import(&[
        provision.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    for line in [
        "converted yealink/t46s/{$mac}.cfg -> templates/yealink/t46s/@mac.cfg",
        "converted grandstream/gxp2170/{$mac}.xml -> templates/grandstream/gxp2170/cfg@mac.pvalues",
        "converted snom/D785/{$mac}.xml -> templates/snom/d785/@mac.xml",
        "converted algo/8180/algom{$mac}.conf -> templates/algo/8180/algom@mac.conf",
        "refused   yealink/t46s/y000000000028.cfg line 2: {$yealink_date_format|string_format:\"%d\"}: the modifier `|string_format`",
        "refused   yealink/t46s/y000000000028.cfg line 3: {math equation=\"x + 1\" x=$yealink_offset}: Smarty's `{math}` has no conversion",
        "skipped   digium/d65/{$mac}.cfg: provedge serves no vendor of that name",
        "skipped   grandstream/gxp2170/README.txt: not a template",
        "skipped   yealink/README.md: not in a `<vendor>/<model>/` folder",
        "6 converted (6 written), 1 refused (not written), 3 skipped",
    ] {
        assert!(report.lines().any(|l| l == line), "missing {line:?} in:\n{report}");
    }
    assert!(!store
        .join("templates/yealink/t46s/y000000000028.cfg")
        .exists());
    assert!(store.join("templates/yealink/t46s/@mac.cfg").exists());
    // A dry run converts and reports the same, and writes nothing.
    let dry = store_dir("dry");
    let (code, report) = import(&[provision.to_str().unwrap(), "--dry-run"]);
    assert_eq!(code, 1);
    assert!(report.ends_with("6 converted (0 written), 1 refused (not written), 3 skipped\n"));
    assert!(!dry.join("templates").exists());
    let _ = std::fs::remove_dir_all(&store);
    let _ = std::fs::remove_dir_all(&dry);
}

#[test]
fn the_mapping_is_editable() {
    let store = store_dir("mapping");
    let mapping = store.join("mapping.json");
    std::fs::write(
        &mapping,
        r#"{"variables": {"domain_name": "vars.sip_domain"}}"#,
    )
    .unwrap();
    std::fs::write(
        store.join("vars/global.json"),
        r#"{"sip_domain": "sip.example.net", "ntp_server_primary": "pool.ntp.org"}"#,
    )
    .unwrap();
    let (_, report) = import(&[
        data().join("provision").to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--mapping",
        mapping.to_str().unwrap(),
    ]);
    assert!(
        report.contains("converted polycom/vvx400/{$mac}.cfg"),
        "{report}"
    );
    let resp =
        MemStore::from_dir(&store).serve(&Engine::default(), &Request::get("/0004f2a1b2c3.cfg"));
    assert!(String::from_utf8_lossy(&resp.body).contains("2001@sip.example.net"));
    // The built-in table, printed for editing, is the JSON the option reads.
    let (code, printed) = import(&["--print-mapping"]);
    assert_eq!(code, 0);
    let value: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(value["variables"]["mac"], "mac");
    let (code, _) = {
        let out = Command::new(env!("CARGO_BIN_EXE_provedge"))
            .args([
                "import",
                "fusionpbx",
                "x",
                "--dry-run",
                "--mapping",
                "/nonexistent.json",
            ])
            .output()
            .unwrap();
        (out.status.code().unwrap(), ())
    };
    assert_eq!(code, 2);
    let _ = std::fs::remove_dir_all(&store);
}
