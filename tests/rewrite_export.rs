//! `provedge rules export-nginx` must behave like the router: wherever the exported rules
//! rewrite a request, they rewrite it to the store key the router gives, and they do rewrite
//! the requests they are meant to cover. The rules are evaluated by provedge's nginx engine,
//! which `nginx_rewrite_diff` checks against real nginx (and which also runs the export there).

use provedge::rewrite::export::export_nginx;
use provedge::rewrite::{Outcome, RewriteInput, RuleSet};
use provedge::route::{self, RouteConfig};
use provedge::Request;

/// One MAC per vendor OUI in the router's table, plus one no vendor owns.
const MACS: &[&str] = &[
    "0004f2a1b2c3",
    "001565a1b2c3",
    "000b82a1b2c3",
    "00085da1b2c3",
    "0022eea1b2c3",
    "001873a1b2c3",
    "000413a1b2c3",
    "0c383ea1b2c3",
    "001fc1a1b2c3",
    "7c2f80a1b2c3",
    "0080f0a1b2c3",
    "9cadefa1b2c3",
    "123456a1b2c3",
];

/// File names of every row shape; `{mac}` is filled in.
const NAMES: &[&str] = &[
    "Cisco/CP-8841-3PCC/{mac}.cfg",
    "{mac}/phonebook.xml",
    "cfg.xml",
    "phonebook.xml",
    "boot.bin",
    "000000000000.cfg",
    "000000000000-directory.xml",
    "features.cfg",
    "sip.cfg",
    "sip.ld",
    "y000000000000.boot",
    "XMLDefault.cnf.xml",
    "SIPDefault.cnf",
    "aastra.cfg",
    "startup.cfg",
    "security.tuz",
    "provisioning.xml",
    "ConfigCommon.cfg",
    "cfg{mac}",
    "cfg{mac}.bin",
    "cfg{mac}.xml",
    "cfg{mac}.cfg",
    "dev{mac}.cfg",
    "{mac}-phone.cfg",
    "{mac}-web.cfg",
    "{mac}-registration.cfg",
    "{mac}-sip.cfg",
    "{mac}-features.cfg",
    "{mac}-calls.xml",
    "{mac}-app.log",
    "{mac}.boot",
    "{mac}-local.cfg",
    "{mac}_Security.enc",
    "{mac}.cfg",
    "{mac}.xml",
    "{mac}.enc",
    "{mac}.tuz",
    "MN_{mac}.cfg",
    "algom{mac}.conf",
    "algom{mac}.conf.md5",
    "algo{mac}.conf",
    "ATA{mac}.cnf.xml",
    "SEP{mac}.cnf.xml",
    "SIP{mac}.cnf",
    "snomd785-{mac}.htm",
    "C520-WiMi_{mac}.cfg",
    "Config{mac}.cfg",
    "cfggxp2170.xml",
    "gxp2170fw.bin",
    "y000000000066.cfg",
    "y000000000066_Security.enc",
    "algop8188.conf",
    "algop8188-tones.zip.md5",
    "algo-8188-2.8.3.fw",
    "spa504g.cfg",
    "ata191.cfg",
    "8841-3PCC.xml",
    "6731i.cfg",
    "snom320.htm",
    "snomd785-firmware.xml",
    "KX-UT136.cfg",
    "f0v00x600000.cfg",
    "algo-2.8.3.fw",
    "account_Security.enc",
    "T46S-66.86.0.15.rom",
    "lang.lang",
    "sip330.sip.ld",
    "firmware.ld",
    "fw.bin",
    "image.zip",
    "x.md5",
    "logo.png",
];

const DIRS: &[&str] = &[
    "/",
    "/provision/",
    "/prov/polycom/",
    "/p/yealink/x/",
    "/a/b/c/",
];

fn corpus() -> Vec<String> {
    let mut out = Vec::new();
    for name in NAMES {
        let macs: &[&str] = if name.contains("{mac}") { MACS } else { &["-"] };
        for (i, mac) in macs.iter().enumerate() {
            let lower = name.replace("{mac}", mac);
            let dir = DIRS[i % DIRS.len()];
            for n in [
                lower.clone(),
                lower.to_ascii_uppercase(),
                name.replace("{mac}", &mac.to_ascii_uppercase()),
            ] {
                out.push(format!("{dir}{n}"));
                out.push(format!("/{n}?mac={mac}"));
            }
        }
    }
    out.extend(
        [
            "/app/provision/index.php?mac=0004f2a1b2c3",
            "/app/provision/?mac=0004f2a1b2c3&file=features.cfg",
            "/provision/",
            "/",
            "/provision/readme.txt",
            "/a%5cb/0004f2a1b2c3-phone.cfg",
            "/%C3%A9/0004f2a1b2c3-phone.cfg",
            "/provision/0004f2a1b2c3-phone.cfg%0a",
        ]
        .map(String::from),
    );
    out.extend(EXPORT_DIVERGENCES.iter().map(|(p, _)| p.to_string()));
    out.sort();
    out.dedup();
    out
}

/// Where the export routes a request the router refuses, and why (docs/rewrite.md, "Export").
/// Each must still differ, so the list stays true.
const EXPORT_DIVERGENCES: &[(&str, &str)] = &[
    (
        "/a/../0004f2a1b2c3-phone.cfg",
        "nginx resolves `..` before any rule runs; the router refuses it",
    ),
    (
        "/a/%2e%2E/0004f2a1b2c3-phone.cfg",
        "the same, percent-encoded",
    ),
];

/// The key the exported rules route `target` to, if a routing (`last`) rule matched.
fn exported_key(rules: &RuleSet, routing_lines: &[usize], target: &str) -> Option<String> {
    match rules.apply(&RewriteInput::new(target)) {
        Outcome::Internal(pass) if pass.applied().iter().any(|l| routing_lines.contains(l)) => {
            let uri = String::from_utf8(pass.uri().to_vec()).expect("keys are ASCII");
            Some(uri.trim_start_matches('/').to_owned())
        }
        _ => None,
    }
}

#[test]
fn exported_rules_route_like_the_router() {
    let text = export_nginx("").expect("export");
    let rules = RuleSet::parse(&text).unwrap_or_else(|e| panic!("the export does not load: {e}"));
    let routing_lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.ends_with(" last;"))
        .map(|(i, _)| i + 1)
        .collect();
    let mut disagree = Vec::new();
    let (mut routed, mut covered) = (0, 0);
    let paths = corpus();
    for path in &paths {
        let router = route::route(&Request::get(path.as_str()), &RouteConfig::default()).ok();
        let export = exported_key(&rules, &routing_lines, path);
        routed += usize::from(router.is_some());
        covered += usize::from(export.is_some());
        let want = router.as_ref().map(|r| r.key().as_str().to_owned());
        let differs = export.is_some() && export != want;
        let allowed = EXPORT_DIVERGENCES.iter().any(|(p, _)| p == path);
        if differs != allowed {
            disagree.push(format!(
                "{path}: export {export:?}, router {want:?}, allow-listed {allowed}"
            ));
        }
    }
    assert!(
        disagree.is_empty(),
        "the export disagrees with the router:\n{}",
        disagree.join("\n")
    );
    // What the export must cover: lower-case names whose vendor the name (or its OUI) decides.
    for (path, key) in [
        (
            "/provision/0004f2a1b2c3-phone.cfg",
            "polycom/0004f2a1b2c3-phone.cfg",
        ),
        (
            "/x/0004f2a1b2c3-PHONE.CFG",
            "polycom/0004f2a1b2c3-phone.cfg",
        ),
        ("/provision/0004F2A1B2C3-phone.cfg", ""),
        ("/prov/001565a1b2c3.cfg", "yealink/001565a1b2c3.cfg"),
        (
            "/prov/CFG000b82a1b2c3.XML",
            "grandstream/cfg000b82a1b2c3.xml",
        ),
        ("/cfg123456a1b2c3.xml", "grandstream/cfg123456a1b2c3.xml"),
        ("/prov/cfg123456a1b2c3.xml", ""),
        ("/y000000000066.cfg?a=1", "yealink/y000000000066.cfg"),
        (
            "/Cisco/CP-8841-3PCC/001873a1b2c3.cfg",
            "cisco/001873a1b2c3.cfg",
        ),
        ("/algom0022eea1b2c3.conf.md5", "algo/algom0022eea1b2c3.md5"),
        ("/provision/000000000000.cfg", "polycom/000000000000.cfg"),
    ] {
        let got = exported_key(&rules, &routing_lines, path).unwrap_or_default();
        assert_eq!(got, key, "{path}");
    }
    assert!(
        covered * 4 >= routed,
        "the export covers {covered} of {routed} routed paths"
    );
    eprintln!(
        "{} paths: router routes {routed}, the export {covered}, no disagreement",
        paths.len()
    );
}

#[test]
fn the_prefix_is_checked() {
    assert!(export_nginx("/store/")
        .expect("prefix")
        .contains("\"/store/polycom/$1-phone.cfg\" last;"));
    for bad in ["store", "/a b", "/$uri", "/x?y"] {
        assert!(export_nginx(bad).is_err(), "{bad}");
    }
}
