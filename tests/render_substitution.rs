//! Templates that only substitute values are rendered without minijinja's interpreter
//! (`render::substitution`); the bytes served must be exactly the interpreter's. Each case is
//! served twice by a fresh engine: with the template as written, and with a no-op
//! `{% if true %}{% endif %}` appended, which the fast path declines, so minijinja renders it.
//! Also: the parsed variable files the engine keeps are per key, so a tenant never reads
//! another's.

mod common;

use common::MemStore;
use provedge::render::substitution::Substitution;
use provedge::{Config, Engine, Request, Response};
use serde_json::json;

const GS_UA: &str = "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456";

/// Values a template must never let break its file.
const HOSTILE: &str = "a & <b> \"c\" 'd' é 😀\r\nP2 = owned\u{0}\u{7}\u{85}\u{a0}=#";

fn engine(config: &str) -> Engine {
    Engine::new(Config::from_json(config).unwrap()).unwrap()
}

fn interpreted(template: &str) -> String {
    format!("{template}{{% if true %}}{{% endif %}}")
}

/// The store with `template` at `key`, and the same store with the interpreter's copy.
fn both(store: &MemStore, key: &str, template: &str) -> [MemStore; 2] {
    let mut fast = store.clone();
    fast.put(key, template);
    let mut slow = store.clone();
    slow.put(key, interpreted(template));
    [fast, slow]
}

fn same(store: &MemStore, config: &str, key: &str, template: &str, requests: &[Request]) {
    assert!(Substitution::compile(template).is_some(), "{template:?}");
    assert!(Substitution::compile(&interpreted(template)).is_none());
    let [fast, slow] = both(store, key, template);
    for req in requests {
        let a: Response = fast.serve(&engine(config), req);
        let b: Response = slow.serve(&engine(config), req);
        assert_eq!(a.status, 200, "{req:?} {:?}", a.note);
        assert_eq!(
            (a.status, &a.headers, &a.body),
            (b.status, &b.headers, &b.body),
            "{template:?} {req:?}\nfast: {}\nslow: {}",
            String::from_utf8_lossy(&a.body),
            String::from_utf8_lossy(&b.body)
        );
    }
}

fn grandstream_store() -> MemStore {
    let mut store = MemStore::default();
    let pvalues: serde_json::Map<String, serde_json::Value> = (0..50)
        .map(|i| {
            (
                format!("P{}", 1000 + i),
                json!(format!("value-{i} {HOSTILE}")),
            )
        })
        .chain([
            ("P30".to_owned(), json!("global ntp")),
            ("P7".to_owned(), json!(7)),
            ("P8".to_owned(), json!(true)),
            ("P9".to_owned(), json!(null)),
        ])
        .collect();
    store
        .put(
            "vars/global.json",
            serde_json::to_vec(&json!({"pvalues": pvalues, "ntp": "global"})).unwrap(),
        )
        .put(
            "vars/vendors/grandstream.json",
            r#"{"pvalues": {"P1001": "vendor", "P64": "vendor-only"}, "ntp": "vendor"}"#,
        )
        .put(
            "vars/models/grandstream/gxp2170.json",
            r#"{"pvalues": {"P1002": "model"}}"#,
        )
        .put(
            "vars/profiles/office.json",
            r#"{"pvalues": {"P1003": "profile"}}"#,
        )
        .put(
            "devices/000b82123456.json",
            serde_json::to_vec(&json!({
                "mac": "000b82123456", "vendor": "grandstream", "model": "gxp2170",
                "profile": "office",
                "lines": [{"user": "1001", "password": format!("pw {HOSTILE}"),
                           "display_name": HOSTILE, "server": "pbx.example.com"}],
                "vars": {"pvalues": {"P1004": format!("device {HOSTILE}")}},
            }))
            .unwrap(),
        );
    store
}

const GRANDSTREAM: &str = "P271 = 1\n\
    P35 = {{ lines[0].user }}\n\
    P34 = {{ lines[0].password }}\n\
    P3 = {{ lines[0].display_name }}\n\
    # {{ mac }} {{ mac_upper }} {{ vendor }} {{ model }} {{ file }} {{ scope }} {{ first_boot }}\n\
    P30 = {{ vars.ntp }}\n\
    {% for name, value in vars.pvalues|dictsort %}\n\
    {{ name }} = {{ value }}\n\
    {% endfor %}\n";

#[test]
fn grandstream_files_are_the_interpreters() {
    let store = grandstream_store();
    let requests = [
        Request::get("/cfg000b82123456.xml").with_header("User-Agent", GS_UA),
        Request::get("/cfg000b82123456").with_header("User-Agent", GS_UA),
    ];
    same(
        &store,
        "{}",
        "templates/grandstream/cfg@mac.pvalues",
        GRANDSTREAM,
        &requests,
    );
    // Without the repeated P30 the XML is written straight from the template
    // (`substitution::pvalue_xml`); the same bytes.
    same(
        &store,
        "{}",
        "templates/grandstream/cfg@mac.pvalues",
        &GRANDSTREAM.replace("P30 = ", "P31 = "),
        &requests,
    );
    // The device file was made by the fast path: it carries every layer, merged.
    let [fast, _] = both(&store, "templates/grandstream/cfg@mac.pvalues", GRANDSTREAM);
    let body = String::from_utf8(fast.serve(&Engine::default(), &requests[0]).body).unwrap();
    for expected in [
        "<P1001>vendor</P1001>",
        "<P1002>model</P1002>",
        "<P1003>profile</P1003>",
        "<P64>vendor-only</P64>",
        "<P30>global ntp</P30>",
        "<P8>True</P8>",
    ] {
        assert!(body.contains(expected), "{expected} in {body}");
    }
}

#[test]
fn first_boot_files_are_the_interpreters() {
    let mut store = grandstream_store();
    let key = "devices/000b82123456.json";
    let mut record: serde_json::Value = serde_json::from_slice(&store.files[key]).unwrap();
    record["auth"] = json!({"token": "steady", "first_boot_token": "fb-dev"});
    record["vars"]["admin_password"] = json!("device-secret");
    store.put(key, serde_json::to_vec(&record).unwrap());
    let config =
        r#"{"policy":{"default":{"url_tokens":{"first_boot":"boot-tok","secret_vars":["ntp"]}}}}"#;
    let template =
        format!("{GRANDSTREAM}P2 = {{{{ vars.admin_password }}}}\nP237 = {{{{ device_token }}}}\n");
    same(
        &store,
        config,
        "templates/grandstream/cfg@mac.pvalues",
        &template,
        &[
            Request::get("/boot-tok/cfg000b82123456.xml"),
            Request::get("/fb-dev/cfg000b82123456.xml"),
            Request::get("/steady/cfg000b82123456.xml"),
            Request::get("/steady/cfg000b82123456"),
        ],
    );
}

#[test]
fn xml_and_text_files_are_the_interpreters() {
    let mut store = MemStore::example();
    let key = "devices/001565123456.json";
    let mut record: serde_json::Value = serde_json::from_slice(&store.files[key]).unwrap();
    record["lines"][0]["display_name"] = json!(HOSTILE);
    record["vars"] = json!({"label": HOSTILE, "n": -3, "list": ["x", HOSTILE]});
    store.put(key, serde_json::to_vec(&record).unwrap());
    let ua = "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56";
    same(
        &store,
        "{}",
        "templates/yealink/@mac.cfg",
        "  {% for line in lines %}\naccount.{{ line.user }}.label = {{ line.display_name }}\n  {% endfor %}\n\
         label = {{ vars.label }}|{{ vars.n }}|{{ vars.list[1] }}\n\
         {% for x in vars.list %}item = {{ x }}\n{% endfor %}",
        &[Request::get("/001565123456.cfg").with_header("User-Agent", ua)],
    );
    let key = "devices/000413123456.json";
    let mut record: serde_json::Value = serde_json::from_slice(&store.files[key]).unwrap();
    record["lines"][0]["display_name"] = json!(HOSTILE);
    record["vars"] = json!({"label": HOSTILE, "list": ["x", HOSTILE, 5]});
    store.put(key, serde_json::to_vec(&record).unwrap());
    same(
        &store,
        "{}",
        "templates/snom/@mac.xml",
        "<r a=\"{{ vars.label }}\">{% for x in vars.list %}<i>{{ x }}</i>{% endfor %}{{ lines[0].display_name }}</r>\n",
        &[Request::get("/000413123456.xml")],
    );
}

#[test]
fn a_tenant_never_reads_another_tenants_variables() {
    let config = r#"{"policy":{"tenants":[
        {"name":"acme","path_prefix":"/acme"},
        {"name":"beta","path_prefix":"/beta"}]}}"#;
    let engine = engine(config);
    let mut store = MemStore::default();
    let record = br#"{"mac":"000b82123456","vendor":"grandstream","model":"gxp2170"}"#;
    for tenant in ["acme", "beta"] {
        store
            .put(
                &format!("tenants/{tenant}/vars/global.json"),
                format!(r#"{{"ntp": "{tenant}-ntp"}}"#),
            )
            .put(
                &format!("tenants/{tenant}/devices/000b82123456.json"),
                &record[..],
            )
            .put(
                &format!("tenants/{tenant}/templates/grandstream/cfg@mac.pvalues"),
                "P30 = {{ vars.ntp }}\n",
            );
    }
    // The same bytes at the default tenant's key, too.
    store.put("vars/global.json", r#"{"ntp": "default-ntp"}"#);
    for _ in 0..2 {
        for tenant in ["acme", "beta"] {
            let body = store
                .serve(
                    &engine,
                    &Request::get(format!("/{tenant}/cfg000b82123456.xml")),
                )
                .body;
            let body = String::from_utf8(body).unwrap();
            assert!(body.contains(&format!("<P30>{tenant}-ntp</P30>")), "{body}");
        }
    }
    // A changed file is read again.
    store.put("tenants/acme/vars/global.json", r#"{"ntp": "acme-new"}"#);
    let body = store
        .serve(&engine, &Request::get("/acme/cfg000b82123456.xml"))
        .body;
    assert!(String::from_utf8(body)
        .unwrap()
        .contains("<P30>acme-new</P30>"));
}
