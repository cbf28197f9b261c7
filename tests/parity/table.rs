//! The parity table: what every host answers, request by request.
//!
//! Each row is one request as a phone (or an attacker) sends it and the answer every host must
//! give: the status, the headers that matter, and the exact body. `tests/parity.rs` sends the
//! rows, in order, to the native server, the filter in real Envoy and the Worker in real
//! workerd, all started with [`CONFIG`] over a store made by [`prepare`]; a host that answers
//! otherwise fails the suite, naming the row and the difference.
//!
//! Read as documentation, the table says what provedge answers in every host:
//! - **Headers that matter** ([`super::row::MATTER`]) are checked on every row: a row that does not name
//!   one expects it absent. Any other header a row names is checked too.
//! - **ETags** of rendered files are the strong tag of the bytes ([`super::row::Header::BodyEtag`]), the
//!   same in every host; a stored (streamed) file's ETag is the store's own validator, so it is
//!   only required present, and a 304 or a range repeats what that host said before
//!   ([`super::row::Header::SameAs`]).
//! - **Bodies** come from outside the hosts: the golden files (`tests/golden`), the store's
//!   own bytes, or `provedge render` over the same store and configuration.
//! - **Known differences** ([`super::row::Known`]) are what a host gets wrong today: which parts of a row's
//!   answer, on which host, and why. Those parts must still differ (a host that starts
//!   answering as the table says fails until the mark is removed); every other part of the row
//!   is checked as usual.
//!
//! Rows run in order on one host: later rows may use earlier answers of the same host (the ETag
//! for a 304, the nonce of a Digest challenge), and uploads replace what earlier rows stored.

#![allow(dead_code)]

use std::path::Path;

use super::row::Body::{self, Golden, Md5Of, Render, RenderIn, Stored, StoredRange};
use super::row::Header::{Is, Like, SameAs};
use super::row::{get, head, put, Host, Payload, Row, Value, BIN, PRIVATE, TEXT, XML, ZIP};

pub const GS_UA: &str = "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456";
pub const GS_STRANGER_UA: &str =
    "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82aaaaaa";
pub const YEA_UA: &str = "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56";
pub const POLY_UA: &str =
    "FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 (SN:0004f2123456) Type/Application";
pub const POLY_STRANGER_UA: &str = "PolycomVVX-VVX_400-UA/5.9.0.9373";
pub const ALGO_UA: &str = "Algo-8188 5.2 0022EE123456";

/// The one configuration file every host is started with (the native server reads it as
/// `--config`, the filter gets its `engine` part, the Worker it as `PROVEDGE_CONFIG`). The
/// default tenant is open (phones ship without credentials); each other tenant shows one
/// policy switch:
/// - `acme`, by `Host: acme.example`: Basic credentials;
/// - `beta`, by path prefix `/beta`: Digest credentials (SHA-256 and MD5);
/// - `tok`, by path prefix `/tok`: URL tokens (tenant first-boot token `boot-tok`; the Yealink's
///   own steady token `dev-tok`, in its record);
/// - `nv`, by `Host: nethvoice.example`: URL tokens where Tancredi (NethVoice) has them,
///   after `/provisioning` (tenant first-boot token `boot-nv`; the Yealink's steady token
///   `dev-nv`);
/// - `near`, by `/near`: only clients on loopback (every host here is on 127.0.0.1);
/// - `far`, by `/far`: only clients in 192.0.2.0/24 (no client here).
pub const CONFIG: &str = r#"{"engine": {"policy": {
  "nonce_secret": "parity-nonce-secret",
  "tenants": [
    {"name": "acme", "hosts": ["acme.example"],
     "rules": {"auth": "basic", "realm": "acme", "users": [{"user": "prov", "password": "acme-pass"}]}},
    {"name": "beta", "path_prefix": "/beta",
     "rules": {"auth": "digest", "realm": "beta", "users": [{"user": "phone", "password": "beta-pass"}]}},
    {"name": "tok", "path_prefix": "/tok", "rules": {"url_tokens": {"first_boot": "boot-tok"}}},
    {"name": "nv", "hosts": ["nethvoice.example"],
     "rules": {"url_tokens": {"first_boot": "boot-nv", "path_prefix": "/provisioning"}}},
    {"name": "near", "path_prefix": "/near", "rules": {"allow": ["127.0.0.0/8", "::1/128"]}},
    {"name": "far", "path_prefix": "/far", "rules": {"allow": ["192.0.2.0/24"]}}
  ]
}}}"#;

/// `prov:acme-pass` for acme's Basic realm, and a wrong password.
const ACME_BASIC: &str = "Basic cHJvdjphY21lLXBhc3M=";
const ACME_BASIC_WRONG: &str = "Basic cHJvdjpub3BlLW5vcGU=";

/// beta's Digest challenges, SHA-256 first (the nonce carries the time; the opaque is fixed).
const BETA_CHALLENGES: &str = concat!(
    "Digest realm=\"beta\", qop=\"auth\", algorithm=SHA-256, nonce=\"*\", ",
    "opaque=\"*\", Digest realm=\"beta\", qop=\"auth\", algorithm=MD5, ",
    "nonce=\"*\", opaque=\"*\""
);

/// The Yealink's key file, a device file served as stored (`yealink/<mac>.enc`).
pub const YEALINK_KEY_FILE: &[u8] = b"YEALINK-AES-KEY-FILE 001565123456 0123456789abcdef\n";

/// Turns a copy of `examples/store` into the parity store: the runtime state a local server
/// may have left removed, the Yealink's key file added, and one folder per tenant (a copy of
/// the root's devices, templates and variables), told apart by their line passwords: acme has
/// no Grandstream; tok's Yealink has its steady URL token.
pub fn prepare(store: &Path) {
    for dir in ["uploads", "last-seen", "tenants"] {
        let _ = std::fs::remove_dir_all(store.join(dir));
    }
    std::fs::create_dir_all(store.join("yealink")).unwrap();
    std::fs::write(store.join("yealink/001565123456.enc"), YEALINK_KEY_FILE).unwrap();
    for tenant in ["acme", "beta", "tok", "nv", "near", "far"] {
        let root = store.join("tenants").join(tenant);
        for dir in ["devices", "templates", "vars"] {
            super::envoy_support::copy_dir(&store.join(dir), &root.join(dir));
        }
        let record = root.join("devices/001565123456.json");
        let mut device: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
        device["lines"][0]["password"] = format!("{tenant}-Line1-Secret").into();
        match tenant {
            "tok" => device["auth"] = serde_json::json!({"token": "dev-tok"}),
            "nv" => device["auth"] = serde_json::json!({"token": "dev-nv"}),
            _ => {}
        }
        std::fs::write(&record, serde_json::to_vec_pretty(&device).unwrap()).unwrap();
    }
    std::fs::remove_file(store.join("tenants/acme/devices/000b82123456.json")).unwrap();
    std::fs::create_dir_all(store.join("tenants/tok/yealink")).unwrap();
    std::fs::write(
        store.join("tenants/tok/yealink/001565123456.enc"),
        b"YEALINK-AES-KEY-FILE of tok's 001565123456\n",
    )
    .unwrap();
}

/// Why hosts differ today (the hosts' owners fix these; the marks then go).
const WORKERD_TWO_HOSTS: &str = "workerd refuses the request itself before the Worker runs \
     (500 Internal Server Error: invalid hostname when stringifying URL)";

/// A target of 2,100 bytes, over the engine's `limits.max_target` (2048).
fn long_target() -> &'static str {
    Box::leak(format!("/{}.cfg", "a".repeat(2100)).into_boxed_str())
}

/// `row` with 70 more headers, over the engine's `limits.max_headers` (64).
fn many_headers(row: Row) -> Row {
    (0..70).fold(row, |row, i| {
        let name: &'static str = Box::leak(format!("X-Pad-{i}").into_boxed_str());
        row.header(name, Value::Text("v"))
    })
}

/// The table, in the order the rows run.
pub fn table() -> Vec<Row> {
    let tones = "algo/algop8188-tones.zip";
    let sip_ld = "polycom/sip.ld";
    vec![
        // Grandstream: cfg<mac> → cfg<mac>.xml → cfg<model>.xml → cfg.xml.
        get("gs binary", "/cfg000b82123456")
            .ua(GS_UA)
            .answers(200, Golden("grandstream/cfg000b82123456.bin"))
            .private(BIN),
        get("gs xml", "/cfg000b82123456.xml")
            .ua(GS_UA)
            .answers(200, Golden("grandstream/cfg000b82123456.xml"))
            .private(XML),
        get("gs xml revalidated", "/cfg000b82123456.xml")
            .ua(GS_UA)
            .header("If-None-Match", Value::EtagOf("gs xml"))
            .answers(304, Body::Empty)
            .with("etag", SameAs("gs xml"))
            .with("cache-control", Is(PRIVATE)),
        get(
            "gs xml, weak If-None-Match of another tag",
            "/cfg000b82123456.xml",
        )
        .ua(GS_UA)
        .header("If-None-Match", Value::Text("W/\"0123\""))
        .answers(200, Golden("grandstream/cfg000b82123456.xml"))
        .private(XML),
        get(
            "gs xml, name in capitals under a directory",
            "/Provision/CFG000B82123456.XML",
        )
        .ua(GS_UA)
        .answers(200, Golden("grandstream/cfg000b82123456.xml"))
        .private(XML),
        get(
            "gs xml, a Range is ignored on a rendered file",
            "/cfg000b82123456.xml",
        )
        .ua(GS_UA)
        .header("Range", Value::Text("bytes=0-9"))
        .answers(200, Golden("grandstream/cfg000b82123456.xml"))
        .private(XML),
        head("gs xml HEAD", "/cfg000b82123456.xml")
            .ua(GS_UA)
            .answers(200, Body::Empty)
            .with("content-type", Is(XML))
            .with("etag", SameAs("gs xml"))
            .with("cache-control", Is(PRIVATE))
            .with("content-length", SameAs("gs xml")),
        get("gs model file, asked by the device", "/cfggxp2170.xml")
            .ua(GS_UA)
            .answers(200, Render("/cfggxp2170.xml", Some(GS_UA)))
            .private(XML),
        get("gs model file, no User-Agent", "/cfggxp2170.xml")
            .answers(200, Golden("grandstream/cfggxp2170.xml"))
            .shared(XML),
        get("gs generic file", "/cfg.xml")
            .answers(200, Golden("grandstream/cfg.xml"))
            .shared(XML),
        get("gs unknown device", "/cfg000b82aaaaaa.xml")
            .ua(GS_STRANGER_UA)
            .refused(404, "no device 000b82aaaaaa\n"),
        get(
            "gs another device's file (MAC conflict)",
            "/cfg000b82654321.xml",
        )
        .ua(GS_UA)
        .refused(403, "forbidden\n"),
        get("gs FusionPBX URL", "/app/provision/?mac=000b82123456")
            .ua(GS_UA)
            .answers(200, Render("/app/provision/?mac=000b82123456", Some(GS_UA)))
            .private(XML),
        // Algo: algom<MAC> → algom<MAC>-i → algop<model>, each with its .md5; tones.
        get("algo device conf", "/algom0022EE123456.conf")
            .ua(ALGO_UA)
            .answers(200, Golden("algo/algom0022EE123456.conf"))
            .private(TEXT),
        get("algo device checksum", "/algom0022EE123456.md5")
            .ua(ALGO_UA)
            .answers(200, Golden("algo/algom0022EE123456.md5"))
            .shared(TEXT),
        get(
            "algo device -i conf (none stored)",
            "/algom0022EE123456-i.conf",
        )
        .ua(ALGO_UA)
        .refused(404, "no algom0022EE123456-i.conf\n"),
        get("algo model conf", "/algop8188.conf")
            .ua(ALGO_UA)
            .answers(200, Render("/algop8188.conf", Some(ALGO_UA)))
            .private(TEXT),
        get("algo model checksum", "/algop8188.md5")
            .ua(ALGO_UA)
            .answers(
                200,
                Md5Of(Box::new(Render("/algop8188.conf", Some(ALGO_UA)))),
            )
            .shared(TEXT),
        get("algo tones (stored)", "/algop8188-tones.zip")
            .ua(ALGO_UA)
            .answers(200, Stored(tones))
            .streamed(ZIP),
        get("algo tones revalidated", "/algop8188-tones.zip")
            .ua(ALGO_UA)
            .header("If-None-Match", Value::EtagOf("algo tones (stored)"))
            .answers(304, Body::Empty)
            .with("etag", SameAs("algo tones (stored)")),
        get("algo tones, first 10 bytes", "/algop8188-tones.zip")
            .ua(ALGO_UA)
            .header("Range", Value::Text("bytes=0-9"))
            .answers(206, StoredRange(tones, 0, 9))
            .streamed(ZIP)
            .with("etag", SameAs("algo tones (stored)"))
            .with("content-range", Is("bytes 0-9/26")),
        get("algo tones, last 6 bytes", "/algop8188-tones.zip")
            .ua(ALGO_UA)
            .header("Range", Value::Text("bytes=-6"))
            .answers(206, StoredRange(tones, 20, 25))
            .streamed(ZIP)
            .with("etag", SameAs("algo tones (stored)"))
            .with("content-range", Is("bytes 20-25/26")),
        get("algo tones, range past the end", "/algop8188-tones.zip")
            .ua(ALGO_UA)
            .header("Range", Value::Text("bytes=100-"))
            .answers(416, Body::Empty)
            .streamed(ZIP)
            .with("etag", SameAs("algo tones (stored)"))
            .with("content-range", Is("bytes */26")),
        head("algo tones HEAD", "/algop8188-tones.zip")
            .ua(ALGO_UA)
            .answers(200, Body::Empty)
            .streamed(ZIP)
            .with("etag", SameAs("algo tones (stored)"))
            .with("content-length", Is("26")),
        get(
            "algo tones, a Range for another version",
            "/algop8188-tones.zip",
        )
        .ua(ALGO_UA)
        .header("Range", Value::Text("bytes=0-9"))
        .header("If-Range", Value::Text("\"another-version\""))
        .answers(200, Stored(tones))
        .streamed(ZIP)
        .with("etag", SameAs("algo tones (stored)")),
        get("algo tones checksum", "/algop8188-tones.md5")
            .ua(ALGO_UA)
            .answers(200, Md5Of(Box::new(Stored(tones))))
            .shared(TEXT),
        get(
            "algo device checksum by its .conf.md5 name",
            "/algom0022EE123456.conf.md5",
        )
        .ua(ALGO_UA)
        .answers(200, Golden("algo/algom0022EE123456.md5"))
        .shared(TEXT),
        // Yealink: boot file → model file → MAC file; the key file; a local-config backup.
        get("yealink boot file", "/001565123456.boot")
            .ua(YEA_UA)
            .answers(200, Golden("yealink/001565123456.boot"))
            .private(TEXT),
        get("yealink generic boot file", "/y000000000000.boot")
            .ua(YEA_UA)
            .answers(200, Golden("yealink/y000000000000.boot"))
            .private(TEXT),
        get("yealink model file", "/y000000000066.cfg")
            .ua(YEA_UA)
            .answers(200, Golden("yealink/y000000000066.cfg"))
            .private(TEXT),
        get("yealink device file", "/001565123456.cfg")
            .ua(YEA_UA)
            .answers(200, Golden("yealink/001565123456.cfg"))
            .private(TEXT),
        get("yealink key file (stored device file)", "/001565123456.enc")
            .ua(YEA_UA)
            .answers(200, Stored("yealink/001565123456.enc"))
            .streamed(BIN)
            .with("cache-control", Is(PRIVATE)),
        get("yealink key file revalidated", "/001565123456.enc")
            .ua(YEA_UA)
            .header(
                "If-None-Match",
                Value::EtagOf("yealink key file (stored device file)"),
            )
            .answers(304, Body::Empty)
            .with("etag", SameAs("yealink key file (stored device file)"))
            .with("cache-control", Is(PRIVATE)),
        put(
            "yealink local config backup",
            "/001565123456-local.cfg",
            b"#!version:1.0.0.1\nlocal_time.time_zone = +1\n",
        )
        .ua(YEA_UA)
        .answers(201, Body::Empty),
        get(
            "yealink FusionPBX URL with file",
            "/app/provision/index.php?mac=001565123456&file={$mac}.cfg",
        )
        .ua(YEA_UA)
        .answers(200, Golden("yealink/001565123456.cfg"))
        .private(TEXT),
        // Polycom: master file → per-device files → firmware; logs uploaded.
        get("polycom master file", "/000000000000.cfg")
            .ua(POLY_UA)
            .answers(200, Render("/000000000000.cfg", Some(POLY_UA)))
            .private(XML),
        get("polycom device master file", "/0004f2123456.cfg")
            .ua(POLY_UA)
            .answers(200, Golden("polycom/0004f2123456.cfg"))
            .private(XML),
        get("polycom phone file", "/0004f2123456-phone.cfg")
            .ua(POLY_UA)
            .answers(200, Golden("polycom/0004f2123456-phone.cfg"))
            .private(XML),
        get("polycom features file", "/features.cfg")
            .ua(POLY_UA)
            .answers(200, Render("/features.cfg", Some(POLY_UA)))
            .private(XML),
        get("polycom firmware (stored)", "/sip.ld")
            .ua(POLY_UA)
            .answers(200, Stored(sip_ld))
            .streamed(BIN),
        get("polycom firmware, bytes 5-14", "/sip.ld")
            .ua(POLY_UA)
            .header("Range", Value::Text("bytes=5-14"))
            .answers(206, StoredRange(sip_ld, 5, 14))
            .streamed(BIN)
            .with("etag", SameAs("polycom firmware (stored)"))
            .with("content-range", Is("bytes 5-14/37")),
        put(
            "polycom log upload",
            "/0004f2123456-app.log",
            b"0101 boot ok\n",
        )
        .ua(POLY_UA)
        .answers(201, Body::Empty),
        Row::new(
            "polycom override upload (POST)",
            "POST",
            "/0004f2123456-phone.cfg",
        )
        .ua(POLY_UA)
        .payload(Payload::Bytes(b"<PHONE_CONFIG/>"))
        .answers(201, Body::Empty),
        get(
            "polycom phone file after the override upload",
            "/0004f2123456-phone.cfg",
        )
        .ua(POLY_UA)
        .answers(200, Golden("polycom/0004f2123456-phone.cfg"))
        .private(XML),
        put(
            "polycom log upload again (replaces)",
            "/0004f2123456-app.log",
            b"0102 boot ok again\n",
        )
        .ua(POLY_UA)
        .answers(204, Body::Empty),
        get("polycom log is not served back", "/0004f2123456-app.log")
            .ua(POLY_UA)
            .refused(
                405,
                "method \"GET\" not allowed here (allowed: PUT, POST)\n",
            )
            .with("allow", Is("PUT, POST")),
        put(
            "polycom log upload for an unknown device",
            "/0004f2aaaaaa-app.log",
            b"abc",
        )
        .ua(POLY_STRANGER_UA)
        .refused(404, "no device 0004f2aaaaaa\n"),
        Row::new(
            "polycom log upload declared over the cap",
            "PUT",
            "/0004f2123456-boot.log",
        )
        .ua(POLY_UA)
        .payload(Payload::DeclaredOnly(1_048_577))
        .refused(413, "uploads are limited to 1048576 bytes\n"),
        // Cisco, Snom, Fanvil, Aastra: settled by the OUI of the MAC in the path.
        get("cisco device file", "/00562b123456.xml")
            .answers(200, Golden("cisco/00562b123456.xml"))
            .private(XML),
        get("cisco model file", "/8841-3PCC.xml")
            .answers(200, Golden("cisco/8841-3PCC.xml"))
            .shared(XML),
        get("snom device file", "/000413123456.xml")
            .answers(200, Golden("snom/000413123456.xml"))
            .private(XML),
        get("fanvil device file", "/0c383e123456.cfg")
            .answers(200, Golden("fanvil/0c383e123456.cfg"))
            .private(XML),
        get("aastra generic file", "/aastra.cfg")
            .answers(200, Golden("aastra/aastra.cfg"))
            .shared(TEXT),
        get("aastra device file", "/00085D123456.cfg")
            .answers(200, Golden("aastra/00085D123456.cfg"))
            .private(TEXT),
        // Issue 19: Gigaset, Panasonic, Htek, Obihai, Cisco SPA and 79xx, settled by the OUI.
        // The Panasonic and Obihai devices are set up for their vendors' encryption.
        get("gigaset device file", "/7C2F80123456.xml")
            .answers(200, Golden("gigaset/7C2F80123456.xml"))
            .private(XML),
        get(
            "panasonic device file, encrypted",
            "/Config0080F0123456.enc",
        )
        .answers(200, Golden("panasonic/Config0080F0123456.enc"))
        .private(BIN),
        get("htek device file", "/cfg001fc1123456.xml")
            .answers(200, Golden("htek/cfg001fc1123456.xml"))
            .private(XML),
        get("obihai device file, encrypted", "/9cadef123456.aes")
            .answers(200, Golden("obihai/9cadef123456.aes"))
            .private(BIN),
        get("cisco spa model file", "/spa504G.cfg")
            .answers(200, Golden("cisco/spa504G.cfg"))
            .shared(XML),
        get("cisco spa device file", "/000e08123456.xml")
            .answers(200, Golden("cisco/000e08123456.xml"))
            .private(XML),
        get("cisco 79x1 device file", "/SEP001873123456.cnf.xml")
            .answers(200, Golden("cisco/SEP001873123456.cnf.xml"))
            .private(XML),
        get("cisco 7960 device file", "/SIP0021A0123456.cnf")
            .answers(200, Golden("cisco/SIP0021A0123456.cnf"))
            .private(TEXT),
        // Refusals.
        get("traversal", "/..%2f..%2fetc%2fpasswd").refused(400, "path traversal refused\n"),
        get("malformed MAC in a vendor's name", "/cfg000b8212345g.xml").refused(
            400,
            concat!(
                "invalid MAC \"000b8212345g\" in file name: ",
                "contains a character that is not a hex digit\n"
            ),
        ),
        get("nobody's file", "/nothing/here.txt").refused(404, "no vendor requests \"here.txt\"\n"),
        get("target over 2048 bytes", long_target()).refused(
            414,
            "request target is 2105 bytes, over the limit of 2048\n",
        ),
        many_headers(get("more than 64 headers", "/cfg.xml"))
            .refused_like(431, "* header fields, over the limit of 64\n"),
        get("two Host headers", "/cfg.xml")
            .header("Host", Value::Text("other.example"))
            .refused(400, "more than one Host header\n")
            .known(Host::Worker, &["*"], WORKERD_TWO_HOSTS),
        put("PUT of a file phones only read", "/cfg.xml", b"x")
            .refused(
                405,
                "method \"PUT\" not allowed here (allowed: GET, HEAD)\n",
            )
            .with("allow", Is("GET, HEAD")),
        // Tenant acme (by Host): Basic credentials; its own devices.
        get("acme without credentials", "/001565123456.cfg")
            .host("acme.example")
            .ua(YEA_UA)
            .refused(401, "unauthorized\n")
            .with(
                "www-authenticate",
                Is("Basic realm=\"acme\", charset=\"UTF-8\""),
            ),
        get("acme with a wrong password", "/001565123456.cfg")
            .host("acme.example")
            .ua(YEA_UA)
            .header("Authorization", Value::Text(ACME_BASIC_WRONG))
            .refused(401, "unauthorized\n")
            .with(
                "www-authenticate",
                Is("Basic realm=\"acme\", charset=\"UTF-8\""),
            ),
        get("acme device file", "/001565123456.cfg")
            .host("acme.example")
            .ua(YEA_UA)
            .header("Authorization", Value::Text(ACME_BASIC))
            .answers(
                200,
                RenderIn("tenants/acme", "/001565123456.cfg", Some(YEA_UA)),
            )
            .private(TEXT),
        get("acme has no such device", "/cfg000b82123456.xml")
            .host("acme.example")
            .ua(GS_UA)
            .header("Authorization", Value::Text(ACME_BASIC))
            .refused(404, "no device 000b82123456\n"),
        // Tenant beta (path prefix /beta): Digest credentials.
        get("beta without credentials", "/beta/001565123456.cfg")
            .ua(YEA_UA)
            .refused(401, "unauthorized\n")
            .with("www-authenticate", Like(BETA_CHALLENGES)),
        get("beta with Digest credentials", "/beta/001565123456.cfg")
            .ua(YEA_UA)
            .header(
                "Authorization",
                Value::Digest {
                    challenge: "beta without credentials",
                    user: "phone",
                    password: "beta-pass",
                },
            )
            .answers(
                200,
                RenderIn("tenants/beta", "/001565123456.cfg", Some(YEA_UA)),
            )
            .private(TEXT),
        get(
            "beta with a wrong Digest password",
            "/beta/001565123456.cfg",
        )
        .ua(YEA_UA)
        .header(
            "Authorization",
            Value::Digest {
                challenge: "beta without credentials",
                user: "phone",
                password: "nope",
            },
        )
        .refused(401, "unauthorized\n")
        .with("www-authenticate", Like(BETA_CHALLENGES)),
        // Tenant tok (path prefix /tok): URL tokens.
        get("tok first-boot token", "/tok/boot-tok/001565123456.cfg")
            .ua(YEA_UA)
            .answers(200, Render("/tok/boot-tok/001565123456.cfg", Some(YEA_UA)))
            .private(TEXT),
        get("tok device token", "/tok/dev-tok/001565123456.cfg")
            .ua(YEA_UA)
            .answers(200, Render("/tok/dev-tok/001565123456.cfg", Some(YEA_UA)))
            .private(TEXT),
        get("tok wrong token", "/tok/wrong/001565123456.cfg")
            .ua(YEA_UA)
            .refused(404, "not found\n"),
        get("tok no token", "/tok/001565123456.cfg")
            .ua(YEA_UA)
            .refused(404, "not found\n"),
        get(
            "tok stored device file, device token",
            "/tok/dev-tok/001565123456.enc",
        )
        .ua(YEA_UA)
        .answers(200, Stored("tenants/tok/yealink/001565123456.enc"))
        .streamed(BIN)
        .with("cache-control", Is(PRIVATE)),
        get(
            "tok stored device file, first-boot token",
            "/tok/boot-tok/001565123456.enc",
        )
        .ua(YEA_UA)
        .refused(404, "not found\n"),
        // Tenant nv (Host nethvoice.example): URL tokens after /provisioning, as Tancredi's.
        get(
            "nv device token after the prefix",
            "/provisioning/dev-nv/001565123456.cfg",
        )
        .host("nethvoice.example")
        .ua(YEA_UA)
        .answers(
            200,
            RenderIn("tenants/nv", "/001565123456.cfg", Some(YEA_UA)),
        )
        .private(TEXT),
        get(
            "nv device token without the prefix",
            "/dev-nv/001565123456.cfg",
        )
        .host("nethvoice.example")
        .ua(YEA_UA)
        .refused(404, "not found\n"),
        get(
            "nv device token under another prefix",
            "/provision/dev-nv/001565123456.cfg",
        )
        .host("nethvoice.example")
        .ua(YEA_UA)
        .refused(404, "not found\n"),
        // Tenants near and far (path prefixes): CIDR allow lists.
        get("near: a client on loopback", "/near/001565123456.cfg")
            .ua(YEA_UA)
            .answers(
                200,
                RenderIn("tenants/near", "/001565123456.cfg", Some(YEA_UA)),
            )
            .private(TEXT),
        get(
            "far: a client outside the allow list",
            "/far/001565123456.cfg",
        )
        .ua(YEA_UA)
        .refused(403, "forbidden\n"),
    ]
}
