//! The policy matrix end to end over real HTTP on the native server, with curl as the client
//! (Digest is negotiated by curl's own `--digest`, a real RFC 7616 client).

mod serve_support;

use std::process::Command;

use serve_support::Server;

const CONFIG: &str = r#"{
  "engine": {
    "policy": {
      "trusted_proxies": ["127.0.0.0/8", "::1/128"],
      "nonce_secret": "e2e-secret",
      "tenants": [
        {"name": "acme", "hosts": ["acme.example"],
         "rules": {"allow": ["192.0.2.0/24"], "auth": "digest", "realm": "acme",
                   "users": [{"user": "phone", "password": "acme-old"}, {"user": "phone", "password": "acme-new"}]}},
        {"name": "beta", "path_prefix": "/beta",
         "rules": {"deny": ["198.51.100.0/24"], "auth": "basic", "users": [{"user": "prov", "password": "beta-pass"}]}}
      ]
    }
  }
}"#;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tenant {
    Default,
    Acme,
    Beta,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum MacSource {
    None,
    UaSame,
    UaOther,
    CertSame,
    CertOther,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Creds {
    None,
    Valid,
    Wrong,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Net {
    /// Forwarded (by the trusted local proxy) for 192.0.2.10.
    Allowed,
    /// Forwarded for 198.51.100.7.
    Denied,
}

/// The same rules as the core's matrix (tests/policy_matrix.rs), stated independently.
fn expected(t: Tenant, m: MacSource, c: Creds, n: Net) -> u16 {
    if t != Tenant::Default && n == Net::Denied {
        return 403;
    }
    if t != Tenant::Default && c != Creds::Valid {
        return 401;
    }
    if matches!(m, MacSource::UaOther | MacSource::CertOther) {
        return 403;
    }
    200
}

fn curl(server: &Server, t: Tenant, m: MacSource, c: Creds, n: Net) -> (u16, String) {
    let path = if t == Tenant::Beta {
        "/beta/001565123456.cfg"
    } else {
        "/001565123456.cfg"
    };
    let url = format!("http://{}{path}", server.addr);
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "10"]);
    cmd.args([
        "-H",
        &format!(
            "X-Forwarded-For: {}",
            if n == Net::Allowed {
                "192.0.2.10"
            } else {
                "198.51.100.7"
            }
        ),
    ]);
    if t == Tenant::Acme {
        cmd.args(["-H", "Host: acme.example"]);
    }
    match m {
        MacSource::None => {}
        MacSource::UaSame => {
            cmd.args(["-A", "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56"]);
        }
        MacSource::UaOther => {
            cmd.args(["-A", "Yealink SIP-T46S 66.86.0.15 00:15:65:65:43:21"]);
        }
        MacSource::CertSame | MacSource::CertOther => {
            let mac = if m == MacSource::CertSame {
                "001565123456"
            } else {
                "001565654321"
            };
            cmd.args([
                "-H",
                &format!("x-forwarded-client-cert: Hash=1;Subject=\"CN={mac},O=Yealink\""),
            ]);
        }
    }
    match (t, c) {
        (Tenant::Default, _) | (_, Creds::None) => {}
        (Tenant::Acme, c) => {
            let pass = if c == Creds::Valid {
                "acme-new"
            } else {
                "nope"
            };
            cmd.args(["--digest", "-u", &format!("phone:{pass}")]);
        }
        (Tenant::Beta, c) => {
            let pass = if c == Creds::Valid {
                "beta-pass"
            } else {
                "nope"
            };
            cmd.args(["--basic", "-u", &format!("prov:{pass}")]);
        }
    }
    let out = cmd.arg(&url).output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn put_tenant_devices(server: &Server) {
    for (ns, secret) in [
        ("", "root-secret"),
        ("tenants/acme/", "acme-secret"),
        ("tenants/beta/", "beta-secret"),
    ] {
        let dir = server.store.join(ns);
        std::fs::create_dir_all(dir.join("devices")).unwrap();
        std::fs::create_dir_all(dir.join("templates/yealink")).unwrap();
        std::fs::write(
            dir.join("devices/001565123456.json"),
            format!(r#"{{"mac":"001565123456","vendor":"yealink","model":"t46s","lines":[{{"user":"1","password":"{secret}","server":"pbx"}}]}}"#),
        )
        .unwrap();
        std::fs::write(
            dir.join("templates/yealink/@mac.cfg"),
            "account.1.password = {{ lines[0].password }}\n",
        )
        .unwrap();
    }
}

#[test]
fn the_policy_matrix_over_http_with_curl() {
    let server = Server::start_with(Some(CONFIG));
    put_tenant_devices(&server);
    let mut failures = Vec::new();
    let mut count = 0;
    for t in [Tenant::Default, Tenant::Acme, Tenant::Beta] {
        for m in [
            MacSource::None,
            MacSource::UaSame,
            MacSource::UaOther,
            MacSource::CertSame,
            MacSource::CertOther,
        ] {
            for c in [Creds::None, Creds::Valid, Creds::Wrong] {
                for n in [Net::Allowed, Net::Denied] {
                    count += 1;
                    let (status, body) = curl(&server, t, m, c, n);
                    let want = expected(t, m, c, n);
                    if status != want {
                        failures.push(format!(
                            "{t:?} {m:?} {c:?} {n:?}: want {want}, got {status}"
                        ));
                        continue;
                    }
                    if want == 200 {
                        let secret = match t {
                            Tenant::Default => "root-secret",
                            Tenant::Acme => "acme-secret",
                            Tenant::Beta => "beta-secret",
                        };
                        if !body.contains(secret)
                            || ["root-secret", "acme-secret", "beta-secret"]
                                .iter()
                                .any(|s| *s != secret && body.contains(s))
                        {
                            failures.push(format!("{t:?} {m:?} {c:?} {n:?}: wrong tenant's file"));
                        }
                    }
                }
            }
        }
    }
    assert_eq!(count, 90);
    assert!(
        failures.is_empty(),
        "{} of {count} wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The log names the reasons, never a secret.
    let log = server.log();
    for secret in [
        "acme-old",
        "acme-new",
        "beta-pass",
        "root-secret",
        "acme-secret",
        "beta-secret",
        "e2e-secret",
    ] {
        assert!(!log.contains(secret), "the access log leaks {secret}");
    }
}
