//! `provedge devices`: the fleet CSV in and out of a store folder (import, export, the one-off
//! edits) and the redirection services' files, run as the binary on small files in
//! tests/data/devices/ and on a generated 10,000-row file.

mod serve_support;

use serve_support::{copy_dir, provedge, snapshot};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use provedge::store::DeviceRecord;

/// Runs `provedge devices ARGS…`: exit code, stdout, stderr.
fn devices(args: &[&str]) -> (i32, String, String) {
    provedge(&[&["devices"], args].concat())
}

fn data(name: &str) -> String {
    format!("{}/tests/data/devices/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A fresh empty folder for one test, under cargo's scratch folder for integration tests; named
/// by the test alone, so the next run replaces it instead of leaving one more behind.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("provedge-devices-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Every record in a devices folder, read by the core.
fn records(devices_dir: &Path) -> BTreeMap<String, DeviceRecord> {
    snapshot(devices_dir)
        .into_iter()
        .map(|(path, bytes)| {
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let record = DeviceRecord::from_json(&bytes)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name, record)
        })
        .collect()
}

#[test]
fn an_import_writes_records_the_core_reads() {
    let store = scratch("import");
    let (code, out, err) = devices(&["import", &data("fleet.csv"), "--store", s(&store)]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, "created 3, changed 0, unchanged 0\n");
    let recs = records(&store.join("devices"));
    assert_eq!(
        recs.keys().collect::<Vec<_>>(),
        [
            "0004f2aabbce.json",
            "000b82aabbcd.json",
            "001565aabbcc.json"
        ]
    );
    let yealink = &recs["001565aabbcc.json"];
    assert_eq!(yealink.vendor.name(), "yealink");
    assert_eq!(yealink.model.as_ref().unwrap().as_str(), "t46s");
    assert_eq!(yealink.profile.as_deref(), Some("office"));
    assert_eq!(yealink.lines.len(), 2);
    assert_eq!(
        yealink.lines[0].display_name.as_deref(),
        Some("Alice, Front Desk")
    );
    assert_eq!((yealink.lines[0].port, yealink.lines[1].port), (5061, 5060));
    assert_eq!(yealink.lines[1].password, "yea-Secret-2");
    let gs = &recs["000b82aabbcd.json"];
    assert_eq!(gs.vars["serial_number"], "GS22AABBCD");
    assert_eq!(gs.lines[0].auth_id, None);
    assert_eq!(
        recs["0004f2aabbce.json"].lines[0].auth_id.as_deref(),
        Some("auth-1008")
    );
}

#[test]
fn the_common_header_is_read_too() {
    let store = scratch("common");
    let (code, out, err) = devices(&["import", &data("common.csv"), "--store", s(&store)]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "created 2, changed 0, unchanged 0\n", "")
    );
    let recs = records(&store.join("devices"));
    let fanvil = &recs["0c383eaabbd0.json"];
    assert_eq!(fanvil.vendor.name(), "fanvil");
    // `model` is blank: `product` names the model.
    assert_eq!(fanvil.model.as_ref().unwrap().as_str(), "x5u");
    let line = &fanvil.lines[0];
    assert_eq!(
        (
            line.user.as_str(),
            line.password.as_str(),
            line.server.as_str()
        ),
        ("2001", "fan-Secret-1", "pbx.example.com")
    );
    assert_eq!(line.display_name.as_deref(), Some("Dan"));
    assert_eq!(
        recs["001565aabbd1.json"].model.as_ref().unwrap().as_str(),
        "t48s"
    );
}

#[test]
fn every_fault_is_reported_with_its_line_and_nothing_is_written() {
    let store = scratch("faults");
    let file = data("faults.csv");
    let (code, out, err) = devices(&["import", &file, "--store", s(&store)]);
    assert_eq!((code, out.as_str()), (1, ""));
    let want = [
        format!("{file}:3: mac: bad MAC \"00:15:65:aa:bb:e\": expected 12 hex digits, found 11"),
        format!("{file}:4: vendor: unknown vendor \"acme\" (known: grandstream, polycom, yealink, algo, cisco, aastra, snom, fanvil, gigaset, panasonic, htek, obihai)"),
        format!("{file}:5: line1_password: missing password"),
        format!("{file}:6: mac: duplicate MAC 001565aabbe0 (first on line 2)"),
        format!("{file}:7: 5 fields, the header has 6"),
        "5 faults; nothing written".to_owned(),
    ];
    assert_eq!(err.lines().collect::<Vec<_>>(), want);
    // Row 2 was good, but nothing is written while any row is bad.
    assert!(snapshot(&store).is_empty());
    // No password is ever quoted in a fault.
    assert!(!err.contains("ok-"), "{err}");
}

#[test]
fn a_bad_header_names_the_column() {
    let dir = scratch("header");
    let file = dir.join("typo.csv");
    std::fs::write(&file, "mac,vendor,line1_pasword\n001565aabbcc,yealink,x\n").unwrap();
    let (code, _, err) = devices(&["import", s(&file), "--store", s(&dir.join("store"))]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with(&format!(
            "{}:1: column 3 \"line1_pasword\" is not a device column",
            s(&file)
        )),
        "{err}"
    );
    assert!(!dir.join("store").exists());
}

#[test]
fn a_dry_run_writes_nothing() {
    let store = scratch("dry-run");
    let (code, out, _) = devices(&[
        "import",
        &data("fleet.csv"),
        "--store",
        s(&store),
        "--dry-run",
    ]);
    assert_eq!(
        (code, out.as_str()),
        (0, "dry run: would create 3, change 0, leave 0 unchanged\n")
    );
    assert!(snapshot(&store).is_empty());
    devices(&["import", &data("fleet.csv"), "--store", s(&store)]);
    let before = snapshot(&store);
    let (code, out, _) = devices(&[
        "import",
        &data("common.csv"),
        "--store",
        s(&store),
        "--dry-run",
    ]);
    assert_eq!(
        (code, out.as_str()),
        (0, "dry run: would create 2, change 0, leave 0 unchanged\n")
    );
    assert_eq!(snapshot(&store), before);
}

#[test]
fn a_second_import_changes_nothing() {
    let store = scratch("idempotent");
    devices(&["import", &data("fleet.csv"), "--store", s(&store)]);
    let before = snapshot(&store);
    let (code, out, _) = devices(&["import", &data("fleet.csv"), "--store", s(&store)]);
    assert_eq!(
        (code, out.as_str()),
        (0, "created 0, changed 0, unchanged 3\n")
    );
    assert_eq!(snapshot(&store), before);
}

#[test]
fn export_then_import_round_trips() {
    let a = scratch("round-trip-a");
    devices(&["import", &data("fleet.csv"), "--store", s(&a)]);
    devices(&["import", &data("common.csv"), "--store", s(&a)]);

    // With passwords, into an empty store: the same records.
    let (code, csv, _) = devices(&["export", "--store", s(&a), "--with-passwords"]);
    assert_eq!(code, 0);
    assert!(csv.starts_with(
        "mac,vendor,model,profile,serial,line1_user,line1_auth_id,line1_password,\
         line1_display_name,line1_server,line1_port,line1_transport,line1_label,line2_user,"
    ));
    let b = scratch("round-trip-b");
    let file = b.join("fleet.csv");
    std::fs::write(&file, &csv).unwrap();
    let (code, out, _) = devices(&["import", s(&file), "--store", s(&b.join("store"))]);
    assert_eq!(
        (code, out.as_str()),
        (0, "created 5, changed 0, unchanged 0\n")
    );
    assert_eq!(
        records(&b.join("store/devices")),
        records(&a.join("devices"))
    );

    // Without passwords: blank cells, which an import reads as "keep the stored password".
    let (_, csv, _) = devices(&["export", "--store", s(&a)]);
    assert!(!csv.contains("Secret"), "{csv}");
    std::fs::write(&file, &csv).unwrap();
    let before = snapshot(&a);
    let (code, out, _) = devices(&["import", s(&file), "--store", s(&a)]);
    assert_eq!(
        (code, out.as_str()),
        (0, "created 0, changed 0, unchanged 5\n")
    );
    assert_eq!(snapshot(&a), before);
}

#[test]
fn fields_the_csv_does_not_carry_are_kept() {
    let store = scratch("preserve");
    let devices_dir = store.join("devices");
    std::fs::create_dir_all(&devices_dir).unwrap();
    let path = devices_dir.join("001565aabbcc.json");
    std::fs::write(
        &path,
        r#"{"mac": "001565aabbcc", "vendor": "yealink", "model": "t46s",
            "lines": [{"user": "1005", "password": "old-Secret", "server": "pbx.example.com",
                       "port": 5061, "transport": "tls"}],
            "keys": [{"type": "blf", "value": "1001", "label": "Front Desk"}],
            "vars": {"ringtone": "Ring3.wav"},
            "encryption": {"scheme": "openssl", "password": "fleet-key"},
            "auth": {"token": "steady-token-1", "first_boot_token": "boot-token-1"}}"#,
    )
    .unwrap();
    let file = store.join("change.csv");
    std::fs::write(
        &file,
        "mac,line1_display_name,line1_password\n001565aabbcc,Alice,\n",
    )
    .unwrap();
    let (code, out, err) = devices(&["import", s(&file), "--store", s(&store)]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "created 0, changed 1, unchanged 0\n", "")
    );
    let bytes = std::fs::read(&path).unwrap();
    let rec = DeviceRecord::from_json(&bytes).unwrap();
    let line = &rec.lines[0];
    assert_eq!(line.display_name.as_deref(), Some("Alice"));
    assert_eq!((line.password.as_str(), line.port), ("old-Secret", 5061));
    assert_eq!(rec.keys.len(), 1);
    assert_eq!(rec.vars["ringtone"], "Ring3.wav");
    assert!(rec.encryption.is_some());
    let auth = rec.auth.unwrap();
    assert!(auth.token.unwrap().matches("steady-token-1"));
    assert!(auth.first_boot_token.unwrap().matches("boot-token-1"));
    // The record is replaced by a rename: no temporary file is left behind.
    assert_eq!(std::fs::read_dir(&devices_dir).unwrap().count(), 1);
}

#[test]
fn an_imported_device_renders() {
    let store = scratch("render");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/store"),
        &store,
    );
    // The example's Yealink template sets the ringtone from a variable that the example store
    // keeps on its one Yealink's record: give the model one.
    std::fs::write(
        store.join("vars/models/yealink/t46s.json"),
        r#"{"backlight_time": "60", "ringtone": "Ring1.wav"}"#,
    )
    .unwrap();
    let (code, _, err) = devices(&["import", &data("fleet.csv"), "--store", s(&store)]);
    assert_eq!((code, err.as_str()), (0, ""));
    let out = Command::new(env!("CARGO_BIN_EXE_provedge"))
        .args(["render", "--store", s(&store), "--user-agent"])
        .arg("Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc")
        .arg("/001565aabbcc.cfg")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let cfg = String::from_utf8(out.stdout).unwrap();
    for want in [
        "account.1.user_name = 1005",
        "account.1.password = yea-Secret-1",
        "account.2.password = yea-Secret-2",
    ] {
        assert!(cfg.contains(want), "{want} not in\n{cfg}");
    }
}

#[test]
fn a_tenant_s_records_live_in_its_namespace() {
    let store = scratch("tenant");
    let (code, _, _) = devices(&[
        "import",
        &data("common.csv"),
        "--store",
        s(&store),
        "--tenant",
        "acme",
    ]);
    assert_eq!(code, 0);
    assert_eq!(records(&store.join("tenants/acme/devices")).len(), 2);
    assert!(!store.join("devices").exists());
    let (code, out, _) = devices(&["list", "--store", s(&store), "--tenant", "acme"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 2);
    let (code, _, err) = devices(&["list", "--store", s(&store), "--tenant", "../x"]);
    assert_eq!(
        (code, err.as_str()),
        (2, "tenant name \"../x\" must be [a-z0-9_-]+\n")
    );
}

#[test]
fn one_off_edits() {
    let store = scratch("edits");
    let st = s(&store);
    devices(&["import", &data("fleet.csv"), "--store", st]);

    let (code, out, _) = devices(&["list", "--store", st]);
    assert_eq!(code, 0);
    assert!(
        out.lines().any(|l| l.starts_with("001565aabbcc  yealink")),
        "{out}"
    );

    let (code, out, _) = devices(&["show", "--store", st, "00:15:65:AA:BB:CC"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("\"password\": \"********\"") && !out.contains("yea-Secret"),
        "{out}"
    );

    let (code, out, _) = devices(&[
        "set",
        "--store",
        st,
        "001565aabbcc",
        "model=T48S",
        "line1_label=",
        "--drop-line",
        "2",
    ]);
    assert_eq!((code, out.as_str()), (0, "changed 001565aabbcc\n"));
    let rec = &records(&store.join("devices"))["001565aabbcc.json"];
    assert_eq!(rec.model.as_ref().unwrap().as_str(), "t48s");
    assert_eq!((rec.lines.len(), rec.lines[0].label.clone()), (1, None));

    let (code, _, err) = devices(&["set", "--store", st, "001565aabbcc", "line1_password="]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("line1_password: cannot be cleared"),
        "{err}"
    );

    let (code, out, _) = devices(&[
        "set",
        "--store",
        st,
        "001565aabbcc",
        "--first-boot-token",
        "new",
    ]);
    assert_eq!((code, out.as_str()), (0, "changed 001565aabbcc\n"));
    let rec = &records(&store.join("devices"))["001565aabbcc.json"];
    assert!(rec.auth.as_ref().unwrap().first_boot_token.is_some());

    let (code, out, _) = devices(&[
        "set",
        "--store",
        st,
        "001565aabb00",
        "line1_user=9",
        "line1_password=p",
        "line1_server=s",
    ]);
    assert_eq!((code, out.as_str()), (0, "created 001565aabb00\n"));
    let (code, out, err) = devices(&["rm", "--store", st, "001565aabb00", "001565aabb99"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (1, "removed 001565aabb00\n", "no device 001565aabb99\n")
    );
    assert_eq!(records(&store.join("devices")).len(), 3);
}

/// A fleet whose Yealink has its own first-boot token, and a configuration whose default
/// tenant uses URL tokens.
fn redirect_fixture(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let store = dir.join("store");
    devices(&["import", &data("fleet.csv"), "--store", s(&store)]);
    devices(&["import", &data("common.csv"), "--store", s(&store)]);
    devices(&[
        "set",
        "--store",
        s(&store),
        "001565aabbcc",
        "--first-boot-token",
        "boot-aabbcc",
    ]);
    devices(&[
        "set",
        "--store",
        s(&store),
        "001565aabbd1",
        "--first-boot-token",
        "boot-aabbd1",
    ]);
    let config = dir.join("provedge.json");
    std::fs::write(
        &config,
        r#"{"engine": {"policy": {"default": {"url_tokens": {"first_boot": "tenant-boot"}}}}}"#,
    )
    .unwrap();
    (store, config)
}

#[test]
fn redirect_files_per_service() {
    let (store, config) = redirect_fixture("redirect");
    let export = |service: &str, extra: &[&str]| {
        let mut args = vec![
            "export",
            "--store",
            s(&store),
            "--redirect",
            service,
            "--base-url",
            "https://prov.example.com/",
            "--config",
            s(&config),
        ];
        args.extend_from_slice(extra);
        devices(&args)
    };

    let (code, out, err) = export("yealink-rps", &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "mac,uniqueServerUrl\n\
         001565aabbcc,https://prov.example.com/boot-aabbcc/\n\
         001565aabbd1,https://prov.example.com/boot-aabbd1/\n"
    );
    assert!(err.contains("3 devices of other vendors left out"), "{err}");

    let (code, out, err) = export("poly-ztp", &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "mac,profile,provisioningUrl\n0004f2aabbce,office,https://prov.example.com/tenant-boot/\n"
    );
    assert!(err.contains("set the provisioning URL of profile \"office\" (1 devices) to https://prov.example.com/tenant-boot/"), "{err}");

    let (code, out, err) = export("grandstream-gdms", &["--group", "HQ"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "mac,sn,deviceName,site,provisioningUrl\n\
         00:0B:82:AA:BB:CD,GS22AABBCD,Bob,HQ,https://prov.example.com/tenant-boot/\n"
    );

    let (code, out, err) = export("fanvil-fdps", &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "mac,model,group,provisioningUrl\n0c383eaabbd0,x5u,,https://prov.example.com/tenant-boot/\n"
    );
}

#[test]
fn redirect_refusals_name_the_missing_column() {
    let (store, config) = redirect_fixture("refusals");
    let st = s(&store);
    // A Yealink without its own first-boot token, a Grandstream without a serial number, a
    // Polycom without a profile, a Fanvil without a model.
    devices(&[
        "set",
        "--store",
        st,
        "001565aabbd1",
        "--first-boot-token",
        "none",
    ]);
    devices(&["set", "--store", st, "000b82aabbcd", "serial="]);
    devices(&["set", "--store", st, "0004f2aabbce", "profile="]);
    devices(&["set", "--store", st, "0c383eaabbd0", "model="]);
    let cases = [
        (
            "yealink-rps",
            "001565aabbd1: uniqueServerUrl: the device has no first-boot token",
        ),
        (
            "grandstream-gdms",
            "000b82aabbcd: sn: the device has no serial number",
        ),
        (
            "poly-ztp",
            "0004f2aabbce: profile: the device has no profile",
        ),
        (
            "fanvil-fdps",
            "0c383eaabbd0: model: the device has no model",
        ),
    ];
    for (service, want) in cases {
        let out_file = store.join(format!("{service}.csv"));
        let (code, out, err) = devices(&[
            "export",
            "--store",
            st,
            "--redirect",
            service,
            "--base-url",
            "https://prov.example.com",
            "--config",
            s(&config),
            "-o",
            s(&out_file),
        ]);
        assert_eq!((code, out.as_str()), (1, ""), "{service}: {err}");
        assert!(err.starts_with(want), "{service}: {err}");
        assert!(
            err.ends_with(&format!("1 device refused by {service}; nothing written\n")),
            "{err}"
        );
        assert!(!out_file.exists());
    }
    // Without URL tokens in the policy, a Yealink's URL needs no token of its own.
    let plain = store.join("plain.json");
    std::fs::write(&plain, r#"{"engine": {}}"#).unwrap();
    let (code, out, _) = devices(&[
        "export",
        "--store",
        st,
        "--redirect",
        "yealink-rps",
        "--base-url",
        "https://prov.example.com/acme",
        "--config",
        s(&plain),
    ]);
    assert_eq!(code, 0);
    assert!(
        out.ends_with("001565aabbd1,https://prov.example.com/acme/\n"),
        "{out}"
    );
}

#[test]
fn a_redirected_phone_gets_its_first_boot_file() {
    let dir = scratch("redirected");
    let store = dir.join("store");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/store"),
        &store,
    );
    std::fs::write(
        store.join("vars/models/yealink/t46s.json"),
        r#"{"backlight_time": "60", "ringtone": "Ring1.wav"}"#,
    )
    .unwrap();
    let st = s(&store);
    devices(&["import", &data("fleet.csv"), "--store", st]);
    for mac in ["001565aabbcc", "001565123456"] {
        let (code, _, err) = devices(&["set", "--store", st, mac, "--first-boot-token", "new"]);
        assert_eq!(code, 0, "{err}");
    }
    let config = dir.join("provedge.json");
    std::fs::write(
        &config,
        r#"{"engine": {"policy": {"default": {"url_tokens": {"first_boot": "tenant-boot"}}}}}"#,
    )
    .unwrap();
    let (code, rps, err) = devices(&[
        "export",
        "--store",
        st,
        "--redirect",
        "yealink-rps",
        "--base-url",
        "https://prov.example.com",
        "--config",
        s(&config),
    ]);
    assert_eq!(code, 0, "{err}");
    let url = rps
        .lines()
        .find_map(|l| l.strip_prefix("001565aabbcc,"))
        .unwrap()
        .to_owned();
    let path = url.strip_prefix("https://prov.example.com").unwrap();
    // The phone asks RPS's URL for its own file; the engine checks the token against the
    // record and serves the stripped first-boot file.
    let out = Command::new(env!("CARGO_BIN_EXE_provedge"))
        .args([
            "render",
            "--store",
            st,
            "--config",
            s(&config),
            "--user-agent",
        ])
        .arg("Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc")
        .arg(format!("{path}001565aabbcc.cfg"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = String::from_utf8(out.stdout).unwrap();
    assert!(cfg.contains("account.1.user_name = 1005"), "{cfg}");
    assert!(!cfg.contains("yea-Secret-1"), "{cfg}");
}

/// 10,000 rows: every record written and read back by the core, then a re-import that changes
/// nothing. Correctness only: time and memory are measured by hand (docs/devices.md).
#[test]
fn ten_thousand_rows() {
    let dir = scratch("10k");
    let file = dir.join("fleet.csv");
    let vendors = [
        ("yealink", 0x001565, "T46S"),
        ("grandstream", 0x000b82, "GXP2170"),
        ("polycom", 0x0004f2, "VVX400"),
        ("fanvil", 0x0c383e, "X5U"),
    ];
    let mut csv = String::from(
        "mac,vendor,model,profile,serial,line1_user,line1_password,line1_display_name,\
         line1_server,line2_user,line2_password,line2_server,line2_transport\n",
    );
    for i in 0..10_000u32 {
        let (vendor, oui, model) = vendors[i as usize % 4];
        csv.push_str(&format!(
            "{oui:06x}{i:06x},{vendor},{model},office,SN{i:06},{},pw-{i},User {i},pbx.example.com,{},pw2-{i},pbx.example.com,tls\n",
            10_000 + i,
            30_000 + i,
        ));
    }
    std::fs::write(&file, csv).unwrap();
    let store = dir.join("store");
    let (code, out, err) = devices(&["import", s(&file), "--store", s(&store)]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, "created 10000, changed 0, unchanged 0\n");
    let recs = records(&store.join("devices"));
    assert_eq!(recs.len(), 10_000);
    let rec = &recs[&format!("{:06x}{:06x}.json", 0x000b82, 4321)];
    assert_eq!(rec.vendor.name(), "grandstream");
    assert_eq!(rec.lines[1].password, "pw2-4321");
    assert_eq!(rec.vars["serial_number"], "SN004321");
    let (code, out, _) = devices(&["import", s(&file), "--store", s(&store)]);
    assert_eq!(
        (code, out.as_str()),
        (0, "created 0, changed 0, unchanged 10000\n")
    );
    let (code, csv, _) = devices(&["export", "--store", s(&store)]);
    assert_eq!((code, csv.lines().count()), (0, 10_001));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The summary line of `devices check`, and its other lines.
fn checked(out: &str) -> (&str, Vec<&str>) {
    let mut lines: Vec<&str> = out.lines().collect();
    let summary = lines.pop().unwrap_or_default();
    (summary, lines)
}

#[test]
fn check_renders_every_devices_files_as_served_and_names_those_that_would_fail() {
    let store = scratch("check");
    copy_dir(&serve_support::repo().join("examples/store"), &store);
    // The example fleet renders whole; each line of --verbose is a file `render` serves alike.
    let (code, out, err) = devices(&["check", "--store", s(&store), "--verbose"]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let (summary, lines) = checked(&out);
    assert!(
        summary.starts_with("15 devices, ") && summary.ends_with(" checked, 0 failed"),
        "{summary}"
    );
    assert_eq!(
        summary,
        format!("15 devices, {} files checked, 0 failed", lines.len())
    );
    for (mac, vendor, file) in [
        ("000b82123456", "grandstream", "cfg000b82123456.xml"),
        ("0022ee123456", "algo", "algom0022EE123456.conf"),
        (
            "001565123456",
            "yealink",
            "phonebook/yealink/001565123456.xml",
        ),
    ] {
        let (code, rendered, err) =
            provedge(&["render", "--store", s(&store), &format!("/{file}")]);
        assert_eq!(code, 0, "{file}: {err}");
        let line = format!("{mac}  {vendor}  {file}  ok ({} bytes)", rendered.len());
        assert!(lines.contains(&line.as_str()), "{line:?} not in {out}");
    }
    // Every device of the example store has at least its main file checked.
    for mac in std::fs::read_dir(store.join("devices")).unwrap() {
        let mac = mac.unwrap().file_name().to_string_lossy()[..12].to_owned();
        assert!(lines.iter().any(|l| l.starts_with(&mac)), "{mac}: {out}");
    }

    // A broken template for one model, a record whose MAC another vendor's OUI claims, and a
    // vendor with no templates left: each names its device and why; the rest still pass.
    std::fs::create_dir_all(store.join("templates/yealink/t46s")).unwrap();
    std::fs::write(
        store.join("templates/yealink/t46s/@mac.cfg"),
        "#!version:1.0.0.1\n{% if %}\n",
    )
    .unwrap();
    let yealink = std::fs::read_to_string(store.join("devices/001565123456.json")).unwrap();
    std::fs::write(
        store.join("devices/0004f2999999.json"),
        yealink.replace("001565123456", "0004f2999999"),
    )
    .unwrap();
    std::fs::remove_dir_all(store.join("templates/htek")).unwrap();
    let (code, out, err) = devices(&["check", "--store", s(&store)]);
    assert_eq!((code, err.as_str()), (1, ""), "{out}");
    let (summary, lines) = checked(&out);
    assert!(summary.starts_with("16 devices, "), "{summary}");
    assert!(summary.ends_with(" checked, 3 failed"), "{out}");
    let failing = |mac: &str| -> Vec<&str> {
        lines
            .iter()
            .copied()
            .filter(|l| l.starts_with(mac))
            .collect()
    };
    let [t46s] = failing("001565123456")[..] else {
        panic!("{out}")
    };
    assert!(
        t46s.starts_with("001565123456  yealink  001565123456.cfg  500 ")
            && t46s.contains("templates/yealink/t46s/@mac.cfg"),
        "{t46s}"
    );
    // Only the name Polycom shares: `phonebook/yealink/…` and `…-contact.xml` are Yealink's
    // alone.
    let [stray] = failing("0004f2999999")[..] else {
        panic!("{out}")
    };
    assert!(
        stray.starts_with(
            "0004f2999999  yealink  0004f2999999.cfg  routed as polycom by the MAC's OUI 0004f2"
        ),
        "{stray}"
    );
    assert_eq!(
        failing("001fc1123456"),
        [format!(
            "001fc1123456  htek  -  no template for any of its files under {}/htek/",
            store.join("templates").display()
        )
        .as_str()]
    );
    // Named devices only.
    let (code, out, _) = devices(&["check", "--store", s(&store), "000b82123456"]);
    assert_eq!(
        (code, checked(&out).0),
        (0, "1 device, 5 files checked, 0 failed")
    );
}

#[test]
fn check_reaches_a_tenants_namespace_through_its_configuration_and_opens_its_rules() {
    let store = scratch("check-tenant");
    let acme = store.join("tenants/acme");
    copy_dir(&serve_support::repo().join("examples/store"), &acme);
    let config = store.join("serve.json");
    // The tenant's rules would refuse every request without a token: the check renders all
    // the same, as the device's steady token gets the files.
    std::fs::write(
        &config,
        r#"{"engine": {"policy": {"tenants": [{"name": "acme", "hosts": ["acme.example"],
            "rules": {"url_tokens": {"first_boot": "boot"}, "allow": ["10.0.0.0/8"]}}]}}}"#,
    )
    .unwrap();
    let args = ["check", "--store", s(&store), "--tenant", "acme"];
    let (code, out, err) = devices(&[&args[..], &["--config", s(&config)]].concat());
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(checked(&out).0.starts_with("15 devices, "), "{out}");
    // Without the configuration nothing says how a request reaches the tenant.
    let (code, _, err) = devices(&args);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("--tenant acme: the --config file must name it"),
        "{err}"
    );
}
