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
