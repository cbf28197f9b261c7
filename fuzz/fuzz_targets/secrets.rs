//! No request gets a device's secrets without proving it is that device, whatever it asks and in
//! whatever order. The engine serves the example store for two tenants: the default one, and
//! `acme` (Host `acme.example`), which holds the same files under its namespace, its devices with
//! tokens and secrets of their own. Uploads are served back. One engine answers a few requests
//! in a row, so what one request leaves in the caches and the store (an upload) is there for the
//! next. Two policies:
//!
//! - URL tokens (a first-boot token per tenant; a steady and a first-boot token in every device's
//!   record): a device's secrets (its record's passwords, secrets and tokens) are in an answer
//!   (body or headers) only when the request's token segment is that device's steady token,
//!   exactly; its steady token alone (the template's `device_token`) also for its own
//!   first-boot token. The token segment is the first one for the default tenant, and for
//!   `acme` the one right after `/provisioning` (`url_tokens.path_prefix`, as NethVoice's
//!   Tancredi URLs have it).
//! - Client certificates (an input starting with the line `identity`): a proxy in front passes
//!   the verified subject on, and every request needs one; a device's secrets are in an answer
//!   only when the subject names its MAC and the request went to its tenant.
//!
//! In both, any secret the request itself carried an answer may say back. And the request's
//! access record (the line every host logs, with the response's note) holds no device's secret
//! and no tenant's token, save what the request carried itself, and under URL tokens not even
//! that when it was in a path segment the log masks. Bodies are searched as sent: an encrypted body
//! hides from this check only what it hides from a stranger.
#![no_main]

use std::collections::HashMap;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use provedge::access::{Done, Trail};
use provedge::{Blob, Config, Decision, Engine, Lookup, Method, Request, Stored};

mod example_store;

const NOW: u64 = 1_800_000_000;
/// URL tokens, as Tancredi deployments run: `acme`'s after `/provisioning`, as NethVoice's.
const TOKENS: &str = r#"{"uploads": {"serve_back": true},
    "policy": {"default": {"url_tokens": {"first_boot": "boot0tenant"},
                           "rate_limit": {"per_client": null, "per_mac": null}},
               "tenants": [{"name": "acme", "hosts": ["acme.example"],
                            "rules": {"url_tokens": {"first_boot": "boot0acme",
                                                      "path_prefix": "/provisioning"},
                                      "rate_limit": {"per_client": null, "per_mac": null}}}]}}"#;
/// Client certificates, verified by a proxy in front (the peer) that passes the subject on.
const IDENTITY: &str = r#"{"uploads": {"serve_back": true},
    "policy": {"trusted_proxies": ["192.0.2.0/24"], "identity_header": "x-cert",
               "default": {"require_identity": true,
                           "rate_limit": {"per_client": null, "per_mac": null}},
               "tenants": [{"name": "acme", "hosts": ["acme.example"],
                            "rules": {"require_identity": true,
                                      "rate_limit": {"per_client": null, "per_mac": null}}}]}}"#;
/// The tenants' first-boot tokens, in [`TOKENS`].
const TENANT_TOKENS: [&str; 2] = ["boot0tenant", "boot0acme"];
/// `acme`'s `url_tokens.path_prefix` in [`TOKENS`], with the `/` after it.
const ACME_PREFIX: &str = "/provisioning/";
/// An input starting with this line runs under [`IDENTITY`]; any other under [`TOKENS`].
const IDENTITY_MODE: &str = "identity\n";
/// Requests per input: enough for "warm the caches, then attack".
const MAX_REQUESTS: usize = 4;

/// One device of the store, with what only it may read.
struct Device {
    /// Its MAC, 12 lower-case hex digits.
    mac: String,
    /// Whether it is the `acme` tenant's.
    acme: bool,
    steady: String,
    first_boot: String,
    /// Its record's passwords, secrets and tokens (the steady token among them), each unique to
    /// it in the store.
    secrets: Vec<String>,
}

struct Fixture {
    files: HashMap<String, Blob>,
    devices: Vec<Device>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(fixture);

impl Fixture {
    /// The store's answer for `key`.
    fn read(&self, key: &provedge::StoreKey) -> Lookup {
        self.files
            .get(key.as_str())
            .map_or(Lookup::Missing, |b| Lookup::Found(b.clone()))
    }
}

fn fixture() -> Fixture {
    let mut files = example_store::load();
    // The second tenant holds the same files, its devices with secrets of their own.
    let tenant: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(k, v)| (format!("tenants/acme/{k}"), v.clone()))
        .collect();
    files.extend(tenant);
    // Every device gets its tokens.
    let mut devices = Vec::new();
    for (key, bytes) in files.iter_mut() {
        let (record_key, (steady, first_boot)) = match key.strip_prefix("tenants/acme/") {
            Some(k) => (k, ("sa0", "fa0")),
            None => (key.as_str(), ("st0", "fb0")),
        };
        let Some(mac) = record_key
            .strip_prefix("devices/")
            .and_then(|k| k.strip_suffix(".json"))
        else {
            continue;
        };
        let acme = record_key.len() != key.len();
        let mut record: serde_json::Value = serde_json::from_slice(bytes).expect("a record");
        if acme {
            // The second tenant's secrets: the first's, reversed.
            each_secret(&mut record, false, &mut |s| *s = s.chars().rev().collect());
        }
        let (steady, first_boot) = (format!("{steady}{mac}"), format!("{first_boot}{mac}"));
        record["auth"] = serde_json::json!({"token": steady, "first_boot_token": first_boot});
        let mut secrets = Vec::new();
        each_secret(&mut record, false, &mut |s| secrets.push(s.clone()));
        *bytes = serde_json::to_vec(&record).expect("JSON");
        devices.push(Device {
            mac: mac.to_owned(),
            acme,
            steady,
            first_boot,
            secrets,
        });
    }
    // A secret is a device's own only if no other file holds it.
    let all: Vec<&[u8]> = files.values().map(|b| b.as_slice()).collect();
    for device in &mut devices {
        device.secrets.retain(|s| {
            s.len() >= 6
                && all
                    .iter()
                    .filter(|file| contains(file, s.as_bytes()))
                    .count()
                    == 1
        });
        assert!(
            device.secrets.contains(&device.steady),
            "the steady token is a secret"
        );
    }
    let files = files.into_iter().map(|(k, v)| (k, v.into())).collect();
    let fixture = Fixture { files, devices };
    reaches_secrets(&fixture);
    fixture
}

fn engine(config: &str) -> Engine {
    Engine::new(Config::from_json(config).expect("the configuration")).expect("the engine")
}

/// The property is not vacuous: a phone with its steady token gets its secrets here, in either
/// tenant, and one with its certificate.
fn reaches_secrets(fixture: &Fixture) {
    let req = Request::get("/st0000b82123456/cfg000b82123456.xml").with_header(
        "User-Agent",
        "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456",
    );
    let read = |k: &provedge::StoreKey| fixture.read(k);
    let tokens = engine(TOKENS);
    let Decision::Respond(response) = tokens.run(&req, NOW, read) else {
        panic!("the Grandstream's own file is answered");
    };
    assert_eq!(response.status, 200);
    assert!(contains(&response.body, b"gs-Line1-Secret!"));
    let req = Request {
        target: "/provisioning/sa0000b82123456/cfg000b82123456.xml".into(),
        ..req.with_header("Host", "acme.example")
    };
    let Decision::Respond(response) = tokens.run(&req, NOW, read) else {
        panic!("the other tenant's Grandstream's own file is answered");
    };
    assert_eq!(response.status, 200);
    assert!(contains(&response.body, b"!terceS-1eniL-sg"));
    let req = Request::get("/cfg000b82123456.xml")
        .with_header("x-cert", "CN=000b82123456")
        .with_peer([192, 0, 2, 7].into());
    let Decision::Respond(response) = engine(IDENTITY).run(&req, NOW, read) else {
        panic!("the Grandstream's own file is answered for its certificate");
    };
    assert_eq!(response.status, 200);
    assert!(contains(&response.body, b"gs-Line1-Secret!"));
}

/// Calls `visit` on every string under a key that names a secret (as the policy's secret
/// variables do); with `secret`, on every string.
fn each_secret(value: &mut serde_json::Value, secret: bool, visit: &mut dyn FnMut(&mut String)) {
    match value {
        serde_json::Value::String(s) if secret => visit(s),
        serde_json::Value::Array(items) => {
            for item in items {
                each_secret(item, secret, visit);
            }
        }
        serde_json::Value::Object(fields) => {
            for (name, item) in fields.iter_mut() {
                each_secret(item, secret || secret_name(name), visit);
            }
        }
        _ => {}
    }
}

fn secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["password", "passwd", "secret", "token"]
        .iter()
        .any(|s| name.contains(s))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The input is requests separated by blank lines, each `METHOD TARGET`, then the User-Agent,
/// then `name: value` header lines (the seeds in fuzz/seeds/secrets/ are phones' requests with
/// and without tokens in this form). A PUT carries a fixed body.
fn requests(text: &str) -> Vec<(&str, Request)> {
    text.split("\n\n")
        .take(MAX_REQUESTS)
        .map(|block| {
            let mut lines = block.split('\n');
            let first = lines.next().unwrap_or_default();
            let (method, target) = first.split_once(' ').unwrap_or(("GET", first));
            let mut req = Request::new(Method::parse(method), target);
            if let Some(ua) = lines.next().filter(|ua| !ua.is_empty()) {
                req = req.with_header("User-Agent", ua);
            }
            for line in lines.take(8) {
                if let Some((name, value)) = line.split_once(':') {
                    req = req.with_header(name.trim(), value.trim());
                }
            }
            (block, req.with_peer([192, 0, 2, 7].into()))
        })
        .collect()
}

/// What a request proved about one device.
#[derive(PartialEq)]
enum Proof {
    /// Nothing: none of its secrets.
    Nothing,
    /// Its own first-boot token: its steady token (the template's `device_token`) alone.
    FirstBoot,
    /// Its steady token, or a certificate naming it in its tenant: all its secrets.
    Device,
}

fn proof(identity_mode: bool, device: &Device, req: &Request) -> Proof {
    if identity_mode {
        let header = |name: &'static str| {
            req.headers
                .iter()
                .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_ascii_lowercase())
        };
        // Either header the policy believes from the proxy; a necessary condition only (the
        // policy takes the first MAC-shaped token of one of them).
        let names_it = header("x-cert")
            .chain(header("x-forwarded-client-cert"))
            .any(|subject| {
                let compact: String = subject.chars().filter(|c| !":-.".contains(*c)).collect();
                compact.contains(&device.mac)
            });
        let acme = header("host").any(|host| {
            let name = host
                .rsplit_once(':')
                .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
                .map_or(host.as_str(), |(name, _)| name);
            name == "acme.example"
        });
        return if names_it && acme == device.acme {
            Proof::Device
        } else {
            Proof::Nothing
        };
    }
    // The policy compares the token's path segment, as sent, with the token, byte for byte.
    let segment = if device.acme {
        req.target
            .strip_prefix(ACME_PREFIX)
            .map_or("", |rest| first_segment(rest))
    } else {
        req.target.strip_prefix('/').map_or("", first_segment)
    };
    if segment == device.steady {
        Proof::Device
    } else if segment == device.first_boot {
        Proof::FirstBoot
    } else {
        Proof::Nothing
    }
}

/// A relative path's first segment.
fn first_segment(path: &str) -> &str {
    path.split(['/', '?']).next().unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE;
    let text = String::from_utf8_lossy(data);
    let (identity_mode, text) = match text.strip_prefix(IDENTITY_MODE) {
        Some(rest) => (true, rest),
        None => (false, &*text),
    };
    let engine = engine(if identity_mode { IDENTITY } else { TOKENS });
    let mut uploaded: HashMap<String, Blob> = HashMap::new();
    for (block, req) in requests(text) {
        let read = |k: &provedge::StoreKey| match uploaded.get(k.as_str()) {
            Some(upload) => Lookup::Found(upload.clone()),
            None => fixture.read(k),
        };
        // Driven as a host drives it, keeping the access record's trail.
        let mut trail = Trail::default();
        let mut decision = engine.handle(&req, NOW);
        let response = loop {
            trail.saw(&decision);
            decision = match decision {
                Decision::Fetch(fetch) => {
                    let answers: Vec<_> =
                        fetch.keys().iter().map(|k| (k.clone(), read(k))).collect();
                    fetch.resume(&engine, answers)
                }
                Decision::Respond(response) => break response,
                Decision::Stream(stream) => break stream.respond(read(stream.key())),
                Decision::Checksum(sum) => break sum.respond_whole(read(sum.key())),
                Decision::Upload(upload) => {
                    uploaded.insert(
                        upload.key().as_str().to_owned(),
                        b"uploaded\n".to_vec().into(),
                    );
                    break upload.finish(Stored::Done { replaced: false });
                }
                Decision::Rewrite(rewrite) => panic!("serve mode rewrote to {}", rewrite.target),
            };
        };
        trail.answered(&response);
        let done = Done {
            arrived_ms: NOW * 1000,
            client: req.peer,
            status: response.status,
            bytes: response.body.len() as u64,
            duration_us: 1,
        };
        // The record's text as a log reader gets it: its JSON strings unescaped (an escape such
        // as `\u000b` before `oot0…` must not read as `boot0…`).
        let record = trail.record(&engine, &req, done).to_json();
        let mut record: serde_json::Value =
            serde_json::from_str(&record).expect("the record is JSON");
        let mut logged = Vec::new();
        each_secret(&mut record, true, &mut |s| logged.push(s.clone()));
        let log = logged.join("\n");
        let logged_elsewhere = if identity_mode {
            block.to_owned()
        } else {
            without_token_segment(block, &req.target)
        };
        for secret in fixture
            .devices
            .iter()
            .flat_map(|d| &d.secrets)
            .map(String::as_str)
            .chain(TENANT_TOKENS)
        {
            assert!(
                !log.contains(secret) || logged_elsewhere.contains(secret),
                "the access record of {} {} holds a secret",
                req.method.as_str(),
                req.target
            );
        }
        assert!((100..600).contains(&response.status));
        for device in &fixture.devices {
            let proof = proof(identity_mode, device, &req);
            if proof == Proof::Device {
                continue;
            }
            for secret in &device.secrets {
                // What the request brought, an answer may say back (a 400's reason).
                if block.contains(secret.as_str())
                    || (proof == Proof::FirstBoot && *secret == device.steady)
                {
                    continue;
                }
                assert!(
                    !contains(&response.body, secret.as_bytes())
                        && !response
                            .headers
                            .iter()
                            .any(|(_, v)| v.contains(secret.as_str())),
                    "{} {} got a secret of device {}{} (status {})",
                    req.method.as_str(),
                    req.target,
                    device.mac,
                    if device.acme { " of acme" } else { "" },
                    response.status
                );
            }
        }
    }
});

/// The request's text without the path segments that may hold a URL token: the first one (the
/// default tenant's), and the one after `acme`'s prefix. What a request under URL tokens
/// carried that a log may say back (a routed file's name, a refused path's other segments).
fn without_token_segment(block: &str, target: &str) -> String {
    // Rebuilt from its parts, as `requests` split it: the segment's text may be in the method too.
    let (first, rest) = block.split_once('\n').unwrap_or((block, ""));
    let method = first.split_once(' ').map_or("", |(method, _)| method);
    let after_first = |path: &str| path.split_once('/').map_or("", |(_, tail)| tail).to_owned();
    let shown = match target.strip_prefix(ACME_PREFIX) {
        Some(under) => format!("{ACME_PREFIX}{}", after_first(under)),
        None => format!(
            "/{}",
            after_first(target.strip_prefix('/').unwrap_or(target))
        ),
    };
    format!("{method} {shown}\n{rest}")
}
