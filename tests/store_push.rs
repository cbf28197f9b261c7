//! `provedge store push` through real wrangler (npm) into local state (`--local --persist-to`),
//! then the Worker in real workerd (Miniflare, `tests/worker/serve_persisted.mjs`) over that
//! state: a first push writes every key, a second writes nothing, a changed template and a
//! deleted device are one changed and one deleted key, and the Worker serves the bytes
//! `provedge render` gives. A store that does not load (a bad record, a template that does not
//! compile, one that extends a template not in the store) is refused with every bad key named
//! and nothing written; a bucket takes templates and files, and a push without it moves them
//! back; the configuration's `worker.kv_prefixes` and the wrangler configuration's `BUCKET`
//! decide where keys go.
//!
//! Every wrangler command the push runs goes through a wrapper that logs it, so "nothing
//! written" is checked on the commands themselves.
//!
//! Needs wrangler and Miniflare in `PROVEDGE_WORKERD_TOOLS` or `~/.cache/provedge/workerd`
//! (`scripts/test-all` installs both) and, to serve, the built Worker (`scripts/build-worker`).
//! Without them the tests skip, unless `CI` or `PROVEDGE_REQUIRE_INTEROP=1` is set: then they
//! fail.

mod envoy_support;

use std::io::{BufRead, BufReader, Lines, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::time::Duration;

use base64::Engine as _;
use envoy_support::{
    copy_dir, free_port, golden, interop_required, rendered, repo, request, temp_dir, wait_exit,
    GS_UA,
};
use sha2::{Digest, Sha256};

/// The folder where scripts/test-all installs wrangler and Miniflare.
fn tools_dir() -> PathBuf {
    std::env::var_os("PROVEDGE_WORKERD_TOOLS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/provedge/workerd")))
        .unwrap_or_default()
}

/// wrangler, or `None` (skip) when it is missing and not required.
fn wrangler() -> Option<PathBuf> {
    let installed = tools_dir().join("node_modules/.bin/wrangler");
    if installed.is_file() && tools_dir().join("node_modules/miniflare").is_dir() {
        return Some(installed);
    }
    let why = format!(
        "wrangler or Miniflare is missing from {}: run scripts/test-all",
        tools_dir().display()
    );
    assert!(!interop_required(), "{why}");
    eprintln!("skipping: {why}");
    None
}

/// Whether the Worker is built, or (skip) not and not required.
fn worker_built() -> bool {
    let shim = repo().join("edge/build/shim.mjs");
    if shim.exists() {
        return true;
    }
    let why = format!(
        "the Worker ({}) is not built: run scripts/build-worker",
        shim.display()
    );
    assert!(!interop_required(), "{why}");
    eprintln!("skipping the Worker half: {why}");
    false
}

/// A copy of the example store, without the runtime state a local server may have left in it.
fn example_store() -> PathBuf {
    let store = temp_dir("push-store");
    copy_dir(&repo().join("examples/store"), &store);
    for dir in ["uploads", "last-seen"] {
        let _ = std::fs::remove_dir_all(store.join(dir));
    }
    store
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| if p.is_dir() { count_files(&p) } else { 1 })
        .sum()
}

/// Runs `provedge store push` with wrangler behind a wrapper that logs every command.
struct Pusher {
    dir: PathBuf,
    log: PathBuf,
    wrapper: PathBuf,
}

impl Pusher {
    fn new(real: &Path) -> Pusher {
        let dir = temp_dir("push-run");
        let log = dir.join("wrangler.log");
        let wrapper = dir.join("wrangler");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                log.display(),
                real.display()
            ),
        )
        .unwrap();
        let mut perms = std::fs::metadata(&wrapper).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&wrapper, perms).unwrap();
        Pusher { dir, log, wrapper }
    }

    /// `provedge store push STORE --local --persist-to STATE --kv-namespace-id STORE ARGS…`
    /// from a folder with no wrangler configuration.
    fn push(&self, store: &Path, state: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_provedge"))
            .args(["store", "push"])
            .arg(store)
            .args(["--local", "--persist-to"])
            .arg(state)
            .args(["--kv-namespace-id", "STORE"])
            .args(args)
            .current_dir(&self.dir)
            .env("PROVEDGE_WRANGLER", &self.wrapper)
            .output()
            .unwrap()
    }

    /// A push that must succeed: its summary line.
    fn pushed(&self, store: &Path, state: &Path, args: &[&str]) -> String {
        let out = self.push(store, state, args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "push failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout.lines().last().unwrap_or_default().to_owned()
    }

    /// The wrangler commands run since the last call.
    fn take_commands(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        text.lines().map(str::to_owned).collect()
    }
}

/// The Worker in workerd over the pushed state; stopped on drop.
struct Served {
    child: Child,
    port: u16,
    commands: ChildStdin,
    answers: Lines<BufReader<ChildStdout>>,
}

impl Served {
    fn start(state: &Path, bucket: Option<&str>) -> Served {
        for _ in 0..3 {
            let port = free_port();
            let mut cmd = Command::new("node");
            cmd.arg(repo().join("tests/worker/serve_persisted.mjs"))
                .arg(port.to_string())
                .arg(state)
                .arg("")
                .arg("STORE")
                .args(bucket)
                .env("PROVEDGE_WORKERD_TOOLS", tools_dir())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            let mut child = cmd.spawn().expect("node");
            let commands = child.stdin.take().unwrap();
            let mut answers = BufReader::new(child.stdout.take().unwrap()).lines();
            match answers.next() {
                Some(Ok(line)) if line.starts_with("ready ") => {
                    return Served {
                        child,
                        port,
                        commands,
                        answers,
                    }
                }
                other => {
                    // A port taken between choosing and binding it: try another.
                    eprintln!("workerd did not start: {other:?}");
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        panic!("workerd did not start on three ports");
    }

    fn ask(&mut self, command: &str) -> serde_json::Value {
        writeln!(self.commands, "{command}").unwrap();
        loop {
            let line = self
                .answers
                .next()
                .expect("serve_persisted.mjs ended")
                .unwrap();
            if let Some(json) = line.strip_prefix("kv ") {
                return serde_json::from_str(json).unwrap();
            }
        }
    }

    fn keys(&mut self, command: &str) -> Vec<String> {
        serde_json::from_value(self.ask(command)).unwrap()
    }

    fn value(&mut self, command: &str) -> Option<Vec<u8>> {
        let answer: Option<String> = serde_json::from_value(self.ask(command)).unwrap();
        answer.map(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap()
        })
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // SIGTERM first: the script disposes of workerd, which SIGKILL would orphan.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        if !wait_exit(&mut self.child, Duration::from_secs(10)) {
            let _ = self.child.kill();
        }
    }
}

/// The generation a manifest implies: the first 16 hex digits of its SHA-256.
fn generation_of(manifest: &[u8]) -> String {
    Sha256::digest(manifest)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..16]
        .to_owned()
}

#[test]
fn push_writes_only_what_changed_and_the_worker_serves_it() {
    let Some(real) = wrangler() else { return };
    let store = example_store();
    let state = temp_dir("push-state").join("state");
    let pusher = Pusher::new(&real);
    let n = count_files(&store);

    let first = pusher.pushed(&store, &state, &[]);
    assert!(
        first.starts_with(&format!("{n} new, 0 changed, 0 unchanged, 0 deleted, ")),
        "{first}"
    );
    assert!(first.contains("r2: 0)"), "{first}");
    let commands = pusher.take_commands();
    assert!(
        commands.iter().any(|c| c.starts_with("kv bulk put ")),
        "{commands:?}"
    );

    // Nothing changed: the manifest and the generation are read, nothing is written.
    let again = pusher.pushed(&store, &state, &[]);
    assert!(
        again.starts_with(&format!(
            "0 new, 0 changed, {n} unchanged, 0 deleted, 0 bytes (kv: 0, r2: 0)"
        )),
        "{again}"
    );
    let commands = pusher.take_commands();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert!(
        commands.iter().all(|c| c.starts_with("kv key get store/")),
        "{commands:?}"
    );

    // One template changed (a comment: the same output), one device gone.
    let template = store.join("templates/polycom/features.cfg");
    let mut text = std::fs::read(&template).unwrap();
    text.extend_from_slice(b"{# pushed again #}");
    std::fs::write(&template, &text).unwrap();
    std::fs::remove_file(store.join("devices/0c383e123456.json")).unwrap();
    let dry = pusher.push(&store, &state, &["--dry-run"]);
    let dry = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        dry.contains("changed templates/polycom/features.cfg (kv, "),
        "{dry}"
    );
    assert!(
        dry.contains("deleted devices/0c383e123456.json (from kv)"),
        "{dry}"
    );
    assert!(dry.ends_with("(dry run: nothing written)\n"), "{dry}");
    assert!(
        pusher
            .take_commands()
            .iter()
            .all(|c| c.starts_with("kv key get ")),
        "a dry run only reads"
    );
    let third = pusher.pushed(&store, &state, &[]);
    assert!(
        third.starts_with(&format!(
            "0 new, 1 changed, {} unchanged, 1 deleted, {} bytes (kv: {}, r2: 0)",
            n - 2,
            text.len(),
            text.len()
        )),
        "{third}"
    );

    if !worker_built() {
        return;
    }
    let mut w = Served::start(&state, None);
    // What landed: the changed template, no deleted device, a manifest and its generation.
    assert_eq!(
        w.value("get templates/polycom/features.cfg").as_deref(),
        Some(&text[..])
    );
    assert_eq!(w.value("get devices/0c383e123456.json"), None);
    assert_eq!(
        w.keys("keys devices/").len(),
        count_files(&store.join("devices"))
    );
    let manifest = w.value("get store/manifest.json").expect("a manifest");
    let listed: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(listed["keys"].as_object().unwrap().len(), n - 1);
    let generation = w.value("get store/generation").expect("a generation");
    assert_eq!(
        String::from_utf8(generation).unwrap(),
        generation_of(&manifest)
    );

    // The Worker serves the pushed store: the bytes of `provedge render`.
    let xml = request(
        w.port,
        "GET",
        "/cfg000b82123456.xml",
        &[("User-Agent", GS_UA)],
    );
    assert_eq!(xml.status, 200, "{}", xml.text());
    assert_eq!(xml.body, golden("grandstream/cfg000b82123456.xml"));
    assert_eq!(
        xml.body,
        rendered(&store, "/cfg000b82123456.xml", Some(GS_UA))
    );
}

#[test]
fn a_store_that_does_not_load_is_refused_and_nothing_is_pushed() {
    let store = example_store();
    std::fs::write(
        store.join("devices/000b82123456.json"),
        r#"{"mac": "000b82123456", "vendor": "grandstream", "pasword": "hunter2"}"#,
    )
    .unwrap();
    std::fs::write(
        store.join("templates/polycom/features.cfg"),
        "<features>\n{% if %}\n</features>\n",
    )
    .unwrap();
    std::fs::write(
        store.join("templates/snom/@mac.xml"),
        "{% extends 'snom/base.xml' %}\n",
    )
    .unwrap();
    // The push must refuse before it runs wrangler at all: a wrapper that only logs.
    let pusher = Pusher::new(Path::new("/bin/false"));
    let state = temp_dir("push-refused").join("state");
    let out = pusher.push(&store, &state, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "devices/000b82123456.json: malformed device record: unknown field `pasword`"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "templates/polycom/features.cfg: template does not compile: line 2: syntax error"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "templates/snom/@mac.xml: line 1: `extends` reads templates/snom/base.xml, \
             which is not in the store"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "a value was echoed: {stderr}");
    assert!(
        stderr.contains("store refused (3 problems); nothing pushed"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    assert_eq!(pusher.take_commands(), Vec::<String>::new());
    assert!(!state.exists());
}

#[test]
fn a_bucket_takes_templates_and_files_and_a_push_without_it_moves_them_back() {
    let Some(real) = wrangler() else { return };
    // A small store: R2 objects are one wrangler process each.
    let example = repo().join("examples/store");
    let store = temp_dir("push-bucket-store");
    for key in [
        "devices/000b82123456.json",
        "vars/global.json",
        "vars/profiles/office.json",
        "vars/vendors/grandstream.json",
        "vars/models/grandstream/gxp2170.json",
        "templates/grandstream/cfg@mac.pvalues",
        "algo/algop8188-tones.zip",
    ] {
        let to = store.join(key);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(example.join(key), to).unwrap();
    }
    let state = temp_dir("push-bucket").join("state");
    let pusher = Pusher::new(&real);

    let first = pusher.pushed(&store, &state, &["--bucket", "provedge-test"]);
    assert!(
        first.starts_with("7 new, 0 changed, 0 unchanged, 0 deleted, "),
        "{first}"
    );
    let commands = pusher.take_commands();
    assert_eq!(
        commands
            .iter()
            .filter(|c| c.starts_with("r2 object put provedge-test/"))
            .count(),
        2,
        "{commands:?}"
    );
    if !worker_built() {
        return;
    }
    {
        let mut w = Served::start(&state, Some("provedge-test"));
        assert_eq!(
            w.keys("r2keys "),
            [
                "algo/algop8188-tones.zip",
                "templates/grandstream/cfg@mac.pvalues"
            ]
        );
        let zip = std::fs::read(store.join("algo/algop8188-tones.zip")).unwrap();
        assert_eq!(w.value("r2get algo/algop8188-tones.zip"), Some(zip));
        assert_eq!(w.value("get templates/grandstream/cfg@mac.pvalues"), None);
        assert!(w
            .keys("keys ")
            .contains(&"devices/000b82123456.json".to_owned()));
        // The Worker with BUCKET bound reads the templates from R2.
        let xml = request(
            w.port,
            "GET",
            "/cfg000b82123456.xml",
            &[("User-Agent", GS_UA)],
        );
        assert_eq!(xml.status, 200, "{}", xml.text());
        assert_eq!(xml.body, golden("grandstream/cfg000b82123456.xml"));
    }

    // Without a bucket every key belongs in KV: the two R2 keys move, nothing else is written.
    let moved = pusher.pushed(&store, &state, &[]);
    assert!(
        moved.starts_with("0 new, 2 changed, 5 unchanged, 0 deleted, "),
        "{moved}"
    );
    assert!(moved.contains("r2: 0)"), "{moved}");
    let commands = pusher.take_commands();
    assert_eq!(
        commands
            .iter()
            .filter(|c| c.starts_with("r2 object delete provedge-test/"))
            .count(),
        2,
        "{commands:?}"
    );
    let mut w = Served::start(&state, Some("provedge-test"));
    assert_eq!(w.keys("r2keys "), Vec::<String>::new());
    assert!(w
        .keys("keys ")
        .contains(&"templates/grandstream/cfg@mac.pvalues".to_owned()));
}

#[test]
fn the_configuration_and_the_wrangler_configuration_decide_where_keys_go() {
    let store = example_store();
    let state = temp_dir("push-config").join("state");
    let config = temp_dir("push-config-file").join("provedge.json");

    // The Worker reads the generation from KV and refuses a placement that puts it elsewhere;
    // so does a push, before it runs wrangler.
    std::fs::write(
        &config,
        r#"{"worker": {"kv_prefixes": ["devices/", "vars/"]}}"#,
    )
    .unwrap();
    let refusing = Pusher::new(Path::new("/bin/false"));
    let config_arg = config.to_str().unwrap();
    let out = refusing.push(
        &store,
        &state,
        &["--config", config_arg, "--bucket", "files"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("worker.kv_prefixes: must place store/manifest.json in KV"),
        "{stderr}"
    );
    assert_eq!(refusing.take_commands(), Vec::<String>::new());

    let Some(real) = wrangler() else { return };
    // The Worker's own settings beside `kv_prefixes` are the Worker's to check.
    std::fs::write(
        &config,
        r#"{"engine": {}, "worker": {"kv_prefixes": ["devices/", "store/"], "generation_ttl_secs": 5}}"#,
    )
    .unwrap();
    let pusher = Pusher::new(&real);
    // No --bucket: the one the wrangler configuration of the working directory binds.
    std::fs::write(
        pusher.dir.join("wrangler.toml"),
        "name = \"provedge\"\ncompatibility_date = \"2025-09-01\"\n\n\
         [[r2_buckets]]\nbinding = \"BUCKET\"\nbucket_name = \"from-toml\"\n",
    )
    .unwrap();
    let out = pusher.push(&store, &state, &["--config", config_arg, "--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("R2 bucket from-toml (bound as BUCKET in "),
        "{stderr}"
    );
    assert!(
        stdout.contains("new devices/000b82123456.json (kv, "),
        "{stdout}"
    );
    assert!(stdout.contains("new vars/global.json (r2, "), "{stdout}");
    assert!(
        stdout.contains("new templates/polycom/features.cfg (r2, "),
        "{stdout}"
    );
    let commands = pusher.take_commands();
    assert_eq!(
        commands.len(),
        1,
        "a dry run reads the manifest only: {commands:?}"
    );
    assert!(
        commands[0].starts_with("kv key get store/manifest.json "),
        "{commands:?}"
    );
}
