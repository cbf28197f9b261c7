//! Templates from the store (issue 16): one base per vendor and small per-model children,
//! `include` and macros by `import`, all resolved in fetch rounds; the bounds; and caches that
//! account for every source a render used.

mod common;

use common::{MemStore, NOW};
use provedge::{Config, Decision, Engine, Request, Response};
use serde_json::json;

/// Drives a request to its response, counting store rounds.
fn rounds(engine: &Engine, store: &MemStore, req: &Request) -> (usize, Response) {
    let mut decision = engine.handle(req, NOW);
    let mut rounds = 0;
    loop {
        match decision {
            Decision::Fetch(fetch) => {
                rounds += 1;
                let answers = store.answers(&fetch);
                decision = fetch.resume(engine, answers);
            }
            Decision::Respond(resp) => return (rounds, resp),
            other => panic!("{other:?}"),
        }
    }
}

fn device(mac: &str, vendor: &str, model: &str, user: &str) -> String {
    json!({
        "mac": mac, "vendor": vendor, "model": model,
        "lines": [
            {"user": user, "password": format!("pw-{user}"), "display_name": format!("User {user}"),
             "server": "pbx.example.com", "port": 5061, "transport": "tls"},
            {"user": format!("9{user}"), "password": "second", "server": "pbx.example.com", "transport": "udp"}
        ],
        "keys": [
            {"type": "blf", "value": "1001", "label": "Desk & Co"},
            {"type": "speeddial", "value": "*97"}
        ]
    })
    .to_string()
}

/// The fleet: three Yealink and two Polycom models, one device each.
const FLEET: &[(&str, &str, &str, &str)] = &[
    ("001565000001", "yealink", "t46s", "/001565000001.cfg"),
    ("001565000002", "yealink", "t48s", "/001565000002.cfg"),
    ("001565000003", "yealink", "t54w", "/001565000003.cfg"),
    (
        "0004f2000001",
        "polycom",
        "vvx400",
        "/0004f2000001-phone.cfg",
    ),
    (
        "0004f2000002",
        "polycom",
        "vvx500",
        "/0004f2000002-phone.cfg",
    ),
];

fn fleet(templates: &[(String, String)]) -> MemStore {
    let mut store = MemStore::default();
    for (i, (mac, vendor, model, _)) in FLEET.iter().enumerate() {
        store.put(
            &format!("devices/{mac}.json"),
            device(mac, vendor, model, &format!("10{i}")),
        );
    }
    store.put("vars/global.json", r#"{"ntp": "ntp.example.com"}"#);
    for (key, source) in templates {
        store.put(key, source.as_str());
    }
    store
}

/// Today's layout: a full copy of the file per model, differing in a line or two.
fn copied_templates() -> Vec<(String, String)> {
    let yealink = |model: &str, extra: &str| {
        format!(
            "#!version:1.0.0.1\n\
             ## {model} for {{{{ mac }}}}\n\
             {{% for line in lines %}}\n\
             account.{{{{ loop.index }}}}.enable = 1\n\
             account.{{{{ loop.index }}}}.user_name = {{{{ line.user }}}}\n\
             account.{{{{ loop.index }}}}.password = {{{{ line.password }}}}\n\
             account.{{{{ loop.index }}}}.display_name = {{{{ line.display_name or line.user }}}}\n\
             account.{{{{ loop.index }}}}.sip_server.1.address = {{{{ line.server }}}}\n\
             {{% endfor %}}\n\
             {{% for key in keys %}}\n\
             linekey.{{{{ loop.index + 1 }}}}.type = {{{{ {{\"blf\": 16, \"speeddial\": 13}}[key.type] }}}}\n\
             linekey.{{{{ loop.index + 1 }}}}.value = {{{{ key.value }}}}\n\
             linekey.{{{{ loop.index + 1 }}}}.label = {{{{ key.label or key.value }}}}\n\
             {{% endfor %}}\n\
             local_time.ntp_server1 = {{{{ vars.ntp }}}}\n\
             {extra}"
        )
    };
    let polycom = |extra: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
             <polycomConfig>\n\
             \x20 <reg\n\
             {{% for line in lines %}}\n\
             \x20   reg.{{{{ loop.index }}}}.address=\"{{{{ line.user }}}}\"\n\
             \x20   reg.{{{{ loop.index }}}}.displayName=\"{{{{ line.display_name or line.user }}}}\"\n\
             {{% endfor %}}\n\
             \x20 />\n\
             {extra}\
             </polycomConfig>\n"
        )
    };
    vec![
        (
            "templates/yealink/t46s/@mac.cfg".into(),
            yealink("T46S", "phone_setting.backlight_time = 60\n"),
        ),
        (
            "templates/yealink/t48s/@mac.cfg".into(),
            yealink("T48S", "phone_setting.backlight_time = 0\n"),
        ),
        (
            "templates/yealink/t54w/@mac.cfg".into(),
            yealink(
                "T54W",
                "phone_setting.backlight_time = 60\nwifi.enable = 1\n",
            ),
        ),
        (
            "templates/polycom/vvx400/@mac-phone.cfg".into(),
            polycom(""),
        ),
        (
            "templates/polycom/vvx500/@mac-phone.cfg".into(),
            polycom("  <video video.enable=\"1\" />\n"),
        ),
    ]
}

/// The same fleet with one base per vendor: children extend it and override a block; the
/// base includes the accounts and imports macros for the line keys.
fn inherited_templates() -> Vec<(String, String)> {
    let t = |k: &str, s: &str| (k.to_owned(), s.to_owned());
    vec![
        t(
            "templates/yealink/base.cfg",
            "#!version:1.0.0.1\n\
             {% import \"yealink/macros.cfg\" as m %}\n\
             ## {% block model %}{% endblock %} for {{ mac }}\n\
             {% include \"yealink/accounts.cfg\" %}\n\
             {% for key in keys %}\n\
             {{ m.linekey(loop.index + 1, key) }}\n\
             {% endfor %}\n\
             local_time.ntp_server1 = {{ vars.ntp }}\n\
             {% block settings %}\n\
             phone_setting.backlight_time = 60\n\
             {% endblock %}\n",
        ),
        t(
            "templates/yealink/accounts.cfg",
            "{% for line in lines %}\n\
             account.{{ loop.index }}.enable = 1\n\
             account.{{ loop.index }}.user_name = {{ line.user }}\n\
             account.{{ loop.index }}.password = {{ line.password }}\n\
             account.{{ loop.index }}.display_name = {{ line.display_name or line.user }}\n\
             account.{{ loop.index }}.sip_server.1.address = {{ line.server }}\n\
             {% endfor %}\n",
        ),
        t(
            "templates/yealink/macros.cfg",
            "{% macro linekey(n, key) %}\n\
             linekey.{{ n }}.type = {{ {\"blf\": 16, \"speeddial\": 13}[key.type] }}\n\
             linekey.{{ n }}.value = {{ key.value }}\n\
             linekey.{{ n }}.label = {{ key.label or key.value }}\n\
             {%- endmacro %}\n",
        ),
        t(
            "templates/yealink/t46s/@mac.cfg",
            "{% extends \"yealink/base.cfg\" %}\n{% block model %}T46S{% endblock %}\n",
        ),
        t(
            "templates/yealink/t48s/@mac.cfg",
            "{% extends \"yealink/base.cfg\" %}\n\
             {% block model %}T48S{% endblock %}\n\
             {% block settings %}\nphone_setting.backlight_time = 0\n{% endblock %}\n",
        ),
        t(
            "templates/yealink/t54w/@mac.cfg",
            "{% extends \"Yealink/Base.cfg\" %}\n\
             {% block model %}T54W{% endblock %}\n\
             {% block settings %}\n{{ super() }}wifi.enable = 1\n{% endblock %}\n",
        ),
        t(
            "templates/polycom/base-phone.cfg",
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
             <polycomConfig>\n\
             \x20 <reg\n\
             {% for line in lines %}\n\
             \x20   reg.{{ loop.index }}.address=\"{{ line.user }}\"\n\
             \x20   reg.{{ loop.index }}.displayName=\"{{ line.display_name or line.user }}\"\n\
             {% endfor %}\n\
             \x20 />\n\
             {% block extra %}{% endblock %}\n\
             </polycomConfig>\n",
        ),
        t(
            "templates/polycom/@mac-phone.cfg",
            "{% extends \"polycom/base-phone.cfg\" %}\n",
        ),
        t(
            "templates/polycom/vvx500/@mac-phone.cfg",
            "{% extends \"polycom/base-phone.cfg\" %}\n\
             {% block extra %}\n  <video video.enable=\"1\" />\n{% endblock %}\n",
        ),
    ]
}

#[test]
fn a_base_per_vendor_renders_the_same_bytes_as_copied_templates() {
    let copied = fleet(&copied_templates());
    let inherited = fleet(&inherited_templates());
    for (mac, _, model, path) in FLEET {
        let a = copied.serve(&Engine::default(), &Request::get(*path));
        let b = inherited.serve(&Engine::default(), &Request::get(*path));
        assert_eq!(
            (a.status, b.status),
            (200, 200),
            "{mac} {model}: {:?} {:?}",
            a.note,
            b.note
        );
        assert_eq!(
            String::from_utf8_lossy(&a.body),
            String::from_utf8_lossy(&b.body),
            "{mac} {model}"
        );
        assert_eq!(a.header("etag"), b.header("etag"));
    }
    // And the bytes are what a phone wants: each model's own line, escaped values.
    let t54w = inherited.serve(&Engine::default(), &Request::get("/001565000003.cfg"));
    let text = String::from_utf8(t54w.body).unwrap();
    assert!(
        text.starts_with("#!version:1.0.0.1\n## T54W for 001565000003\n"),
        "{text}"
    );
    assert!(text.contains("linekey.2.label = Desk & Co\n") && text.ends_with("wifi.enable = 1\n"));
}

#[test]
fn the_example_store_uses_a_yealink_base_with_macros() {
    let store = MemStore::example();
    let engine = Engine::default();
    let yealink = Request::get("/001565123456.cfg");
    // The record; variables and `@mac.cfg`; the base it extends; the macros the base imports.
    let (n, resp) = rounds(&engine, &store, &yealink);
    assert_eq!((n, resp.status), (4, 200), "{:?}", resp.note);
    for key in [
        "templates/yealink/base.cfg",
        "templates/yealink/linekeys.cfg",
    ] {
        assert!(
            store.reads.borrow().iter().any(|k| k == key),
            "{key} not read"
        );
    }
    let (n, again) = rounds(&engine, &store, &yealink);
    assert_eq!((n, again), (1, resp));
}

#[test]
fn a_missing_template_is_a_500_naming_its_key_and_the_statement() {
    let mut store = fleet(&inherited_templates());
    store.remove("templates/yealink/base.cfg");
    let resp = store.serve(&Engine::default(), &Request::get("/001565000001.cfg"));
    assert_eq!((resp.status, resp.body.len()), (500, 0));
    let note = resp.note.unwrap();
    assert!(
        note.contains("templates/yealink/t46s/@mac.cfg line 1")
            && note
                .contains("`extends` reads templates/yealink/base.cfg, which is not in the store"),
        "{note}"
    );
    // One level down: the base's include.
    let mut store = fleet(&inherited_templates());
    store.remove("templates/yealink/accounts.cfg");
    let note = store
        .serve(&Engine::default(), &Request::get("/001565000002.cfg"))
        .note
        .unwrap();
    assert!(
        note.contains("templates/yealink/base.cfg line 4")
            && note.contains("templates/yealink/accounts.cfg"),
        "{note}"
    );
    // `ignore missing` is what it says.
    let mut store = fleet(&inherited_templates());
    store.put(
        "templates/polycom/@mac-phone.cfg",
        "{% extends \"polycom/base-phone.cfg\" %}{% block extra %}{% include \"polycom/local.cfg\" ignore missing %}{% endblock %}",
    );
    let resp = store.serve(&Engine::default(), &Request::get("/0004f2000001-phone.cfg"));
    assert_eq!(resp.status, 200, "{:?}", resp.note);
    // A name computed at render time cannot be read ahead: refused with the line.
    store.put(
        "templates/polycom/@mac-phone.cfg",
        "<a>\n{% include \"polycom/\" ~ model ~ \".cfg\" %}</a>\n",
    );
    let note = store
        .serve(&Engine::default(), &Request::get("/0004f2000001-phone.cfg"))
        .note
        .unwrap();
    assert!(
        note.contains("templates/polycom/@mac-phone.cfg line 2") && note.contains("string literal"),
        "{note}"
    );
    // A template error in a base names the base and its line, not the child.
    let mut store = fleet(&inherited_templates());
    store.put(
        "templates/polycom/base-phone.cfg",
        "<a>\n{{ no_such_variable }}\n</a>\n",
    );
    let note = store
        .serve(&Engine::default(), &Request::get("/0004f2000002-phone.cfg"))
        .note
        .unwrap();
    assert!(
        note.contains("templates/polycom/base-phone.cfg line 2"),
        "{note}"
    );
}

#[test]
fn depth_and_count_are_bounded_with_errors_naming_the_template() {
    // Five levels below the file's template are fine…
    let chain = |levels: usize| {
        let mut store = fleet(&[]);
        store.put(
            "templates/yealink/t46s/@mac.cfg",
            "{% include \"yealink/l1.cfg\" %}",
        );
        for i in 1..=levels {
            let next = if i < levels {
                format!("{{% include \"yealink/l{}.cfg\" %}}", i + 1)
            } else {
                String::new()
            };
            store.put(
                &format!("templates/yealink/l{i}.cfg"),
                format!("level{i} = 1\n{next}"),
            );
        }
        store
    };
    let engine = Engine::default();
    let (n, ok) = rounds(&engine, &chain(5), &Request::get("/001565000001.cfg"));
    assert_eq!(ok.status, 200, "{:?}", ok.note);
    // The record, variables and the file's template, then one round per level.
    assert_eq!(n, 7);
    assert!(String::from_utf8_lossy(&ok.body).contains("level5 = 1"));
    // …six are not.
    let (n, deep) = rounds(
        &Engine::default(),
        &chain(6),
        &Request::get("/001565000001.cfg"),
    );
    assert_eq!((deep.status, n), (500, 7));
    let note = deep.note.unwrap();
    assert!(
        note.contains("templates/yealink/l5.cfg line 2") && note.contains("deeper than 5"),
        "{note}"
    );
    // 32 other templates are fine, 33 are not.
    let wide = |n: usize| {
        let mut store = fleet(&[]);
        let includes: String = (0..n)
            .map(|i| format!("{{% include \"yealink/w{i}.cfg\" %}}"))
            .collect();
        store.put("templates/yealink/t46s/@mac.cfg", includes);
        for i in 0..n {
            store.put(
                &format!("templates/yealink/w{i}.cfg"),
                format!("w{i} = 1\n"),
            );
        }
        store
    };
    let resp = wide(32).serve(&Engine::default(), &Request::get("/001565000001.cfg"));
    assert_eq!(resp.status, 200, "{:?}", resp.note);
    let resp = wide(33).serve(&Engine::default(), &Request::get("/001565000001.cfg"));
    assert_eq!(resp.status, 500);
    let note = resp.note.unwrap();
    assert!(
        note.contains("templates/yealink/t46s/@mac.cfg line 1")
            && note.contains("more than 32 other templates"),
        "{note}"
    );
}

#[test]
fn a_changed_base_re_renders_its_children_with_new_etags() {
    let mut store = fleet(&inherited_templates());
    let engine = Engine::default();
    let get = |store: &MemStore, path: &str| store.serve(&engine, &Request::get(path));
    let t46s = get(&store, "/001565000001.cfg");
    let t48s = get(&store, "/001565000002.cfg");
    let vvx = get(&store, "/0004f2000001-phone.cfg");
    let compiled = engine.templates().len();
    // Unchanged: the same bytes, the same ETag, nothing compiled again.
    assert_eq!(get(&store, "/001565000001.cfg"), t46s);
    assert_eq!(engine.templates().len(), compiled);
    // A changed base: every Yealink child changes, the Polycom file does not.
    let base = String::from_utf8(store.files["templates/yealink/base.cfg"].clone()).unwrap();
    store.put(
        "templates/yealink/base.cfg",
        base.replace("local_time.ntp_server1", "local_time.ntp_server2"),
    );
    for (before, path) in [(&t46s, "/001565000001.cfg"), (&t48s, "/001565000002.cfg")] {
        let after = get(&store, path);
        assert_eq!(after.status, 200);
        assert_ne!(after.header("etag"), before.header("etag"), "{path}");
        assert!(String::from_utf8_lossy(&after.body).contains("local_time.ntp_server2 = ntp"));
        // A phone revalidating with its old ETag gets the new file, not a 304.
        let revalidated = store.serve(
            &engine,
            &Request::get(path).with_header("If-None-Match", before.header("etag").unwrap()),
        );
        assert_eq!(revalidated.status, 200, "{path}");
    }
    assert_eq!(get(&store, "/0004f2000001-phone.cfg"), vvx);
    // So does a changed macro file two levels down.
    let before = get(&store, "/001565000001.cfg");
    let macros = String::from_utf8(store.files["templates/yealink/macros.cfg"].clone()).unwrap();
    store.put(
        "templates/yealink/macros.cfg",
        macros.replace("linekey.{{ n }}.value", "linekey.{{ n }}.extension"),
    );
    let after = get(&store, "/001565000001.cfg");
    assert_ne!(after.header("etag"), before.header("etag"));
    assert!(String::from_utf8_lossy(&after.body).contains("linekey.2.extension = 1001"));
}

#[test]
fn store_rounds_with_inheritance_and_a_steady_phone_costs_one() {
    let mut store = fleet(&inherited_templates());
    let engine = Engine::default();
    let t46s = Request::get("/001565000001.cfg");
    // Cold engine: the record; variables and the file's template; its base; the base's
    // include and import.
    let (n, first) = rounds(&engine, &store, &t46s);
    assert_eq!((n, first.status), (4, 200));
    // Steady: the earlier record names the templates, and the templates' remembered
    // references name the rest, so one round, the same bytes.
    for _ in 0..3 {
        let (n, again) = rounds(&engine, &store, &t46s);
        assert_eq!((n, &again.body), (1, &first.body));
    }
    // A device never seen, of another model whose child is new to the engine but whose
    // base is known: the record, then the child with every known template it reaches. The
    // child's own references are only known once it is read: one more round.
    let (n, _) = rounds(&engine, &store, &Request::get("/001565000002.cfg"));
    assert_eq!(n, 3);
    let (n, _) = rounds(&engine, &store, &Request::get("/001565000002.cfg"));
    assert_eq!(n, 1);
    // A changed base that keeps its references: still one round.
    let base = String::from_utf8(store.files["templates/yealink/base.cfg"].clone()).unwrap();
    store.put("templates/yealink/base.cfg", base.replace("60", "90"));
    let (n, changed) = rounds(&engine, &store, &t46s);
    assert_eq!(n, 1);
    assert_ne!(changed.body, first.body);
    // A base that includes a new template: one more round once, then one round again.
    store.put(
        "templates/yealink/base.cfg",
        format!("{}{{% include \"yealink/extra.cfg\" %}}", base),
    );
    store.put("templates/yealink/extra.cfg", "extra = 1\n");
    let (n, extra) = rounds(&engine, &store, &t46s);
    assert_eq!(n, 2);
    assert!(String::from_utf8_lossy(&extra.body).ends_with("extra = 1\n"));
    let (n, _) = rounds(&engine, &store, &t46s);
    assert_eq!(n, 1);
}

#[test]
fn templates_are_read_in_the_tenants_namespace() {
    let engine = Engine::new(
        Config::from_json(r#"{"policy":{"tenants":[{"name":"beta","path_prefix":"/beta"}]}}"#)
            .unwrap(),
    )
    .unwrap();
    let mut store = MemStore::default();
    for (ns, marker) in [("", "root"), ("tenants/beta/", "beta")] {
        store.put(
            &format!("{ns}devices/001565000001.json"),
            device("001565000001", "yealink", "t46s", "100"),
        );
        store.put(
            &format!("{ns}templates/yealink/@mac.cfg"),
            "{% extends \"yealink/base.cfg\" %}",
        );
        store.put(
            &format!("{ns}templates/yealink/base.cfg"),
            format!("tenant = {marker}\n"),
        );
    }
    let beta = store.serve(&engine, &Request::get("/beta/001565000001.cfg"));
    assert_eq!(beta.status, 200, "{:?}", beta.note);
    assert!(String::from_utf8_lossy(&beta.body).contains("tenant = beta"));
    assert!(store
        .reads
        .borrow()
        .iter()
        .all(|k| k.starts_with("tenants/beta/")));
    let root = store.serve(&engine, &Request::get("/001565000001.cfg"));
    assert!(String::from_utf8_lossy(&root.body).contains("tenant = root"));
    // The same path, again for beta: beta's base, not the default tenant's compiled one.
    let beta = store.serve(&engine, &Request::get("/beta/001565000001.cfg"));
    assert!(String::from_utf8_lossy(&beta.body).contains("tenant = beta"));
}
