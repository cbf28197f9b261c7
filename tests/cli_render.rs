//! The `provedge render` contract.

use std::process::Command;

fn render(args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_provedge"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("render")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn writes_exactly_the_served_bytes() {
    let golden = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/grandstream/cfg000b82123456.bin"
    ))
    .unwrap();
    let (code, stdout, stderr) = render(&[
        "--user-agent",
        "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456",
        "/cfg000b82123456",
    ]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(stdout, golden);
}

#[test]
fn the_default_store_is_the_example_store_wherever_it_runs() {
    let out = Command::new(env!("CARGO_BIN_EXE_provedge"))
        .current_dir(std::env::temp_dir())
        .args(["render", "/algom0022EE123456.conf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("# Algo 8188"));
}

#[test]
fn failures_exit_1_with_status_and_reason() {
    let (code, stdout, stderr) = render(&["/cfg000b82aaaaaa.xml"]);
    assert_eq!((code, stdout.len()), (1, 0));
    assert_eq!(stderr, "404 no device 000b82aaaaaa\n");
    let (code, stdout, stderr) = render(&["/index.html"]);
    assert_eq!((code, stdout.len()), (1, 0));
    assert!(stderr.starts_with("404 "), "{stderr}");
}

#[test]
fn a_broken_store_is_a_5xx_naming_the_key() {
    let dir = std::env::temp_dir().join(format!("provedge-render-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("devices")).unwrap();
    std::fs::create_dir_all(dir.join("templates/yealink")).unwrap();
    std::fs::write(
        dir.join("devices/001565123456.json"),
        r#"{"mac":"001565123456","vendor":"yealink"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/yealink/@mac.cfg"),
        "x = {{ nothing.here }}\n",
    )
    .unwrap();
    let (code, stdout, stderr) = render(&["--store", dir.to_str().unwrap(), "/001565123456.cfg"]);
    assert_eq!((code, stdout.len()), (1, 0));
    assert!(
        stderr.starts_with("500 template templates/yealink/@mac.cfg line 1: undefined"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A copy of the example store whose Algo encrypts (vendor-wide), in a fresh folder.
fn encrypted_store(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("provedge-{label}-{}", std::process::id()));
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/store");
    let copy = Command::new("cp")
        .arg("-r")
        .arg(&example)
        .arg(&dir)
        .status()
        .unwrap();
    assert!(copy.success());
    std::fs::write(
        dir.join("vars/vendors/algo.json"),
        r#"{"encryption": {"scheme": "openssl", "password": "fleet-key"}}"#,
    )
    .unwrap();
    dir
}

#[test]
fn two_processes_encrypt_a_file_to_the_same_bytes_and_its_md5_agrees() {
    let dir = encrypted_store("two-processes");
    let store = dir.to_str().unwrap();
    let (code_a, conf_a, _) = render(&["--store", store, "/algom0022EE123456.conf"]);
    let (code_b, conf_b, _) = render(&["--store", store, "/algom0022EE123456.conf"]);
    assert_eq!((code_a, code_b), (0, 0));
    assert_eq!(&conf_a[..8], b"Salted__");
    assert_eq!(conf_a, conf_b, "two instances served different ciphertexts");
    let (_, md5, _) = render(&["--store", store, "/algom0022EE123456.md5"]);
    use md5::Digest as _;
    let want: String = md5::Md5::digest(&conf_a)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(String::from_utf8(md5).unwrap(), want);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn render_reads_the_same_configuration_file_as_serve() {
    let dir = std::env::temp_dir().join(format!("provedge-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("provedge.json");
    let path = file.to_str().unwrap();
    // One file for every command: `{"engine": …, "server": …}`.
    std::fs::write(
        &file,
        r#"{"engine": {"policy": {"default": {"url_tokens": {"first_boot": "boot"}}}},
            "server": {"last_seen_interval_secs": 60}}"#,
    )
    .unwrap();
    let (code, _, stderr) = render(&["--config", path, "/cfg000b82123456.xml"]);
    assert_eq!((code, stderr.as_str()), (1, "404 no URL token\n"));
    let (code, stdout, _) = render(&["--config", path, "/boot/cfg000b82123456.xml"]);
    assert_eq!(code, 0);
    assert!(!String::from_utf8(stdout)
        .unwrap()
        .contains("gs-Line1-Secret!"));
    // A bare engine object (the old `render --config` format) is refused with the way out.
    std::fs::write(&file, r#"{"policy": {}}"#).unwrap();
    let (code, _, stderr) = render(&["--config", path, "/cfg.xml"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("put the engine keys under \"engine\""),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
