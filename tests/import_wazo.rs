//! `provedge import wazo`: a Wazo provd JSON database the project wrote in provd's format
//! (tests/data/wazo/jsondb: compact JSON, one file per document named by its id) is migrated
//! into a store: records, variable layers, the report, exit codes, `--dry-run`, no secret in
//! the output, and the imported phones' files rendered by provedge's own templates.

mod serve_support;

use serve_support::{copy_dir, provedge, snapshot};
use std::path::{Path, PathBuf};

use provedge::store::device::{LineKeyKind, Transport};
use provedge::store::DeviceRecord;
use serde_json::{json, Value};

const JSONDB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/wazo/jsondb");
const YEALINK: &str = "4c5bd1f2e3a94d6c9b0d1e2f3a4b5c6d";
const GRANDSTREAM: &str = "7d2e9f0a1b3c4d5e6f708192a3b4c5d6";
const TEMPLATE: &str = "c0ffee00d15ea5e5b0a7f1e2d3c4b5a6";

fn import(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["import", "wazo"];
    all.extend_from_slice(args);
    provedge(&all)
}

/// A fresh folder for one test, under cargo's scratch space for integration tests.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("import-wazo-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn record(store: &Path, mac: &str) -> DeviceRecord {
    let path = store.join(format!("devices/{mac}.json"));
    DeviceRecord::from_json(&std::fs::read(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Every secret value in the fixtures (they all say so), plus the autoprov line's password.
fn secrets() -> Vec<String> {
    let mut found = Vec::new();
    for bytes in snapshot(Path::new(JSONDB)).values() {
        let text = String::from_utf8_lossy(bytes);
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            if word.contains("Secret") && !found.iter().any(|f| f == word) {
                found.push(word.to_owned());
            }
        }
    }
    assert!(found.len() >= 10, "{found:?}");
    found
}

fn assert_no_secret(out: &str) {
    for secret in secrets() {
        assert!(!out.contains(&secret), "{secret} printed:\n{out}");
    }
}

/// The lines of the report that start with `verb`.
fn lines<'a>(stdout: &'a str, verb: &str) -> Vec<&'a str> {
    stdout.lines().filter(|l| l.starts_with(verb)).collect()
}

#[test]
fn a_fleet_becomes_records_and_layers_and_renders_with_provedges_templates() {
    let store = scratch("fleet");
    copy_dir(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/store")),
        &store,
    );
    let global_before = json_file(&store.join("vars/global.json"));
    let (code, stdout, stderr) = import(&[JSONDB, "--store", s(&store)]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(stderr, "");
    assert_no_secret(&stdout);

    // The report: one line per device, per refused file and per layer, then the summary.
    assert_eq!(
        lines(&stdout, "created"),
        [
            format!(
                "created  devices/{YEALINK} -> devices/001565aabbcc.json (yealink t46s, 2 lines, \
                 3 keys, profile defaultconfigdevice); left out: funckey 4 (type \"transfer\"), \
                 settings syslog (not scalars)"
            ),
            format!(
                "created  devices/{GRANDSTREAM} -> devices/000b82aabb01.json (grandstream \
                 gxp2170, 1 line, 0 keys, profile {TEMPLATE})"
            ),
            "created  devices/a1a1b2b2c3c34d4de5e5f6f607071818 -> devices/00085daabb07.json \
             (aastra 6731i, 1 line, 0 keys, profile defaultconfigdevice)"
                .to_owned(),
        ]
    );
    assert_eq!(
        lines(&stdout, "refused"),
        [
            "refused  devices/b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0: not JSON (line 1 column 1)",
            "refused  devices/0f1e2d3c4b5a69788796a5b4c3d2e1f0: line 1 has no password",
            "refused  devices/5a5b5c5d5e5f40414243444546474849: lines 1, 3 have a gap: provedge \
             numbers lines 1..N without gaps (line 2 is missing)",
        ]
    );
    assert_eq!(
        lines(&stdout, "skipped"),
        [
            "skipped  devices/1a2b3c4d5e6f47089a1b2c3d4e5f6071: auto-provisioning placeholder, \
             no user assigned",
            "skipped  devices/99887766554433221100ffeeddccbbaa: SCCP is not provisioned by provedge",
            "skipped  devices/e1e2e3e4e5e6470889aabbccddeeff01: provedge serves no vendor \
             \"Digium\", and the MAC's maker (its OUI) is not one it knows",
        ]
    );
    assert_eq!(
        lines(&stdout, "layer"),
        [
            "layer    vars/global.json: locale, ntp_enabled, ntp_ip, ntp_server, timezone"
                .to_owned(),
            format!(
                "layer    vars/profiles/{TEMPLATE}.json: admin_password, admin_username, locale, \
                 ntp_ip, ntp_server, sip_dtmf_mode, vlan_enabled, vlan_id"
            ),
            "layer    vars/profiles/defaultconfigdevice.json: admin_password, admin_username, \
             ntp_enabled, ntp_ip, ntp_server, sip_dtmf_mode, user_password, user_username"
                .to_owned(),
        ]
    );
    assert!(
        stdout.contains(
            "\n3 created, 0 replaced, 3 refused (not written), 3 skipped; 3 layers written\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("note: Wazo's plugin templates are not converted"));
    // app.json next to the jsondb holds a tenant's provisioning key: the tenant to configure.
    let hint =
        r#"{"engine":{"policy":{"tenants":[{"name":"wazo","path_prefix":"/k3yAbCdEf0123456"}]}}}"#;
    assert!(stdout.contains(hint), "{stdout}");
    // … and it is a configuration file the server starts with.
    let config = scratch("hint").join("hint.json");
    std::fs::write(&config, hint).unwrap();
    let (code, _, stderr) = provedge(&["serve", "--check", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");

    // The Yealink: two lines (auth id kept where it differs), three keys in position order,
    // the device config's own scalars as variables.
    let yealink = record(&store, "001565aabbcc");
    assert_eq!(yealink.vendor.name(), "yealink");
    assert_eq!(yealink.model.unwrap().as_str(), "t46s");
    assert_eq!(yealink.profile.as_deref(), Some("defaultconfigdevice"));
    let l1 = &yealink.lines[0];
    assert_eq!(
        (
            l1.user.as_str(),
            l1.auth_id.as_deref(),
            l1.password.as_str(),
            l1.server.as_str(),
            l1.port,
            l1.transport
        ),
        (
            "1001",
            Some("alice-auth"),
            "yea-Wazo-Line1-Secret",
            "10.0.0.5",
            5060,
            Transport::Udp
        )
    );
    assert_eq!(l1.display_name.as_deref(), Some("Alice Martin"));
    assert_eq!(l1.label.as_deref(), Some("Alice Martin"));
    let l2 = &yealink.lines[1];
    assert_eq!(
        (
            l2.user.as_str(),
            l2.auth_id.as_deref(),
            l2.server.as_str(),
            l2.port
        ),
        ("1002", None, "10.0.0.6", 5070)
    );
    let keys: Vec<(LineKeyKind, &str, Option<&str>, u8)> = yealink
        .keys
        .iter()
        .map(|k| (k.kind, k.value.as_str(), k.label.as_deref(), k.line))
        .collect();
    assert_eq!(
        keys,
        [
            (LineKeyKind::Blf, "1003", Some("Bob"), 1),
            (LineKeyKind::Speeddial, "*98", Some("Voicemail"), 1),
            (LineKeyKind::Park, "700", Some("Park"), 2),
        ]
    );
    assert_eq!(
        Value::Object(yealink.vars),
        json!({"exten_dnd": "*25", "exten_park": "700", "exten_voicemail": "*98", "protocol": "SIP"})
    );

    // The Grandstream: one TLS line whose server is the config's sip_proxy_ip, port 5061.
    let gs = record(&store, "000b82aabb01");
    assert_eq!(gs.profile.as_deref(), Some(TEMPLATE));
    let l = &gs.lines[0];
    assert_eq!(
        (
            l.user.as_str(),
            l.auth_id.as_deref(),
            l.server.as_str(),
            l.port,
            l.transport
        ),
        ("2001", None, "pbx.example.org", 5061, Transport::Tls)
    );
    // The Aastra: the vendor's own name, a registrar port on the line.
    let aastra = record(&store, "00085daabb07");
    assert_eq!(
        (aastra.vendor.name(), aastra.lines[0].port),
        ("aastra", 5062)
    );
    // Nothing for the refused and skipped devices.
    for mac in [
        "001565aabb02",
        "001873aabb03",
        "001565aabb04",
        "805ec0aabb05",
        "000fd3aabb06",
    ] {
        assert!(!store.join(format!("devices/{mac}.json")).exists(), "{mac}");
    }

    // The layers: Wazo's keys laid over the store's, the others kept.
    let global = json_file(&store.join("vars/global.json"));
    assert_eq!(global["ntp_server"], "10.0.0.5");
    assert_eq!(global["ntp_ip"], "10.0.0.5");
    assert_eq!(global["ntp_enabled"], true);
    assert_eq!(global["timezone"], "Europe/Paris");
    assert_eq!(global["contacts"], global_before["contacts"]);
    assert_eq!(global["admin_password"], global_before["admin_password"]);
    assert!(global.get("X_xivo_phonebook_ip").is_none());
    let template = json_file(&store.join(format!("vars/profiles/{TEMPLATE}.json")));
    assert_eq!(
        template,
        json!({"admin_username": "admin", "admin_password": "tpl-Admin-Secret-9z",
               "ntp_ip": "10.1.1.1", "ntp_server": "10.1.1.1", "vlan_enabled": true,
               "vlan_id": 42, "locale": "de_DE", "sip_dtmf_mode": "RTP-out-of-band"})
    );
    let dcd = json_file(&store.join("vars/profiles/defaultconfigdevice.json"));
    assert_eq!(dcd["user_password"], "dcd-User-Secret-4k");
    assert_eq!(dcd["ntp_server"], "10.0.0.5");

    // provedge's own templates serve the imported phones, as imported (no layer added).
    let (code, cfg, stderr) = provedge(&[
        "render",
        "--store",
        s(&store),
        "--user-agent",
        "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc",
        "/001565aabbcc.cfg",
    ]);
    assert_eq!((code, stderr.as_str()), (0, ""), "{cfg}");
    for expected in [
        "account.1.user_name = 1001",
        "account.1.auth_name = alice-auth",
        "account.1.password = yea-Wazo-Line1-Secret",
        "account.1.sip_server.1.address = 10.0.0.5",
        "account.2.password = yea-Wazo-Line2-Secret",
        "account.2.sip_server.1.address = 10.0.0.6",
        "account.2.sip_server.1.port = 5070",
        "linekey.2.value = 1003",
    ] {
        assert!(cfg.contains(expected), "{expected} not in\n{cfg}");
    }
    let (code, xml, stderr) = provedge(&[
        "render",
        "--store",
        s(&store),
        "--user-agent",
        "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82aabb01",
        "/cfg000b82aabb01.xml",
    ]);
    assert_eq!((code, stderr.as_str()), (0, ""), "{xml}");
    for expected in [
        "<P35>2001</P35>",
        "<P34>gs-Wazo-Line1-Secret</P34>",
        "<P47>pbx.example.org:5061</P47>",
        "<P130>2</P130>",
        "<P2>tpl-Admin-Secret-9z</P2>",
    ] {
        assert!(xml.contains(expected), "{expected} not in\n{xml}");
    }

    // Again: the records are replaced whole, the layers written again.
    let (code, stdout, _) = import(&[JSONDB, "--store", s(&store)]);
    assert_eq!(code, 1);
    assert_eq!(lines(&stdout, "replaced").len(), 3, "{stdout}");
    assert!(lines(&stdout, "created").is_empty(), "{stdout}");
    assert!(
        stdout.contains("\n0 created, 3 replaced, 3 refused"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&store).ok();
}

#[test]
fn a_dry_run_writes_nothing_and_reports_alike() {
    let store = scratch("dry");
    std::fs::write(store.join("marker"), "x").unwrap();
    let before = snapshot(&store);
    let (code, stdout, stderr) = import(&[JSONDB, "--store", s(&store), "--dry-run"]);
    assert_eq!((code, stderr.as_str()), (1, ""));
    assert_eq!(snapshot(&store), before);
    assert_no_secret(&stdout);
    assert_eq!(lines(&stdout, "created").len(), 3, "{stdout}");
    assert!(
        stdout.contains("3 skipped; dry run: nothing written\n"),
        "{stdout}"
    );
    // Without a store, a dry run needs no --store.
    let (code, stdout, _) = import(&[JSONDB, "--dry-run"]);
    assert_eq!(code, 1);
    assert_eq!(lines(&stdout, "created").len(), 3, "{stdout}");
    std::fs::remove_dir_all(&store).ok();
}

#[test]
fn a_clean_fleet_exits_0_into_a_tenant_namespace() {
    let dir = scratch("clean");
    let jsondb = dir.join("jsondb");
    copy_dir(&Path::new(JSONDB).join("configs"), &jsondb.join("configs"));
    std::fs::create_dir_all(jsondb.join("devices")).unwrap();
    for id in [YEALINK, GRANDSTREAM, "1a2b3c4d5e6f47089a1b2c3d4e5f6071"] {
        std::fs::copy(
            Path::new(JSONDB).join("devices").join(id),
            jsondb.join("devices").join(id),
        )
        .unwrap();
    }
    let store = dir.join("store");
    let (code, stdout, stderr) = import(&[s(&jsondb), "--store", s(&store), "--tenant", "acme"]);
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "created  devices/{YEALINK} -> tenants/acme/devices/001565aabbcc.json"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("layer    tenants/acme/vars/global.json: "));
    assert!(
        stdout.contains(
            "\n2 created, 0 replaced, 0 refused (not written), 1 skipped; 3 layers written\n"
        ),
        "{stdout}"
    );
    // No app.json next to this jsondb: no hint.
    assert!(!stdout.contains("hint:"), "{stdout}");
    assert!(store
        .join("tenants/acme/devices/000b82aabb01.json")
        .is_file());
    assert!(store
        .join("tenants/acme/vars/profiles/defaultconfigdevice.json")
        .is_file());
    assert!(!store.join("devices").exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn usage_errors_exit_2() {
    let dir = scratch("usage");
    let (code, stdout, stderr) = import(&[s(&dir), "--store", s(&dir)]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.contains("no devices/ folder"), "{stderr}");
    let (code, _, stderr) = import(&[JSONDB, "--store", s(&dir), "--tenant", "../x"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--tenant"), "{stderr}");
    // Writing needs a store.
    let (code, _, _) = import(&[JSONDB]);
    assert_eq!(code, 2);
    assert_eq!(snapshot(&dir).len(), 0);
    std::fs::remove_dir_all(&dir).ok();
}
