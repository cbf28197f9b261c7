//! Rendering a Grandstream device file with about 200 P-values, against a baseline measured in
//! the same run: the same engine serving an equally large stored (pre-rendered) file. Measured
//! both as a full render (the inputs change between requests) and as the steady state (the
//! inputs are unchanged, so the render cache answers). The template only substitutes values, so
//! it is rendered without minijinja's interpreter (`render::substitution`); the same template
//! made to need the interpreter is measured too.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Bencher, Criterion};
use provedge::{Config, Decision, Engine, Lookup, Request, StoreKey};

const NOW: u64 = 1_800_000_000;

fn store() -> HashMap<String, Vec<u8>> {
    let mut files = HashMap::new();
    let pvalues: serde_json::Map<String, serde_json::Value> = (0..200)
        .map(|i| {
            (
                format!("P{}", 1000 + i),
                serde_json::Value::from(format!("value-{i} & <more>")),
            )
        })
        .collect();
    files.insert(
        "vars/global.json".into(),
        serde_json::to_vec(&serde_json::json!({"pvalues": pvalues})).unwrap(),
    );
    files.insert(
        "devices/000b82123456.json".into(),
        br#"{"mac":"000b82123456","vendor":"grandstream","model":"gxp2170",
            "lines":[{"user":"1001","password":"secret","display_name":"Front Desk","server":"pbx.example.com"}]}"#
            .to_vec(),
    );
    files.insert(
        "templates/grandstream/cfg@mac.pvalues".into(),
        b"P271 = 1\nP35 = {{ lines[0].user }}\nP34 = {{ lines[0].password }}\nP3 = {{ lines[0].display_name }}\n\
{% for name, value in vars.pvalues|dictsort %}{{ name }} = {{ value }}\n{% endfor %}"
            .to_vec(),
    );
    files
}

fn serve(engine: &Engine, files: &HashMap<String, Vec<u8>>, req: &Request) -> usize {
    match engine.run(req, NOW, |k: &StoreKey| {
        files
            .get(k.as_str())
            // Fresh bytes each request, as a host hands over what it has just read when the
            // inputs changed (their digest is computed again, as it would be then).
            .map_or(Lookup::Missing, |b| Lookup::Found(b.clone().into()))
    }) {
        Decision::Respond(r) if r.status == 200 => r.body.len(),
        other => panic!("{other:?}"),
    }
}

/// A full render each request: requests alternate between two stores whose inputs differ.
fn full_render<'a>(
    engine: &'a Engine,
    files: [&'a HashMap<String, Vec<u8>>; 2],
    req: &'a Request,
) -> impl FnMut(&mut Bencher) + 'a {
    let mut flip = 0;
    move |b| {
        b.iter(|| {
            flip ^= 1;
            black_box(serve(engine, files[flip], black_box(req)))
        })
    }
}

fn bench(c: &mut Criterion) {
    let mut files = store();
    // As benches/load/run.sh runs the server: rate limits off (one client sends everything).
    let config =
        r#"{"policy": {"default": {"rate_limit": {"per_client": null, "per_mac": null}}}}"#;
    let engine = Engine::new(Config::from_json(config).unwrap()).unwrap();
    let render = Request::get("/cfg000b82123456.xml");
    let size = serve(&engine, &files, &render);
    // The baseline: a stored file of the same size, served by the same engine.
    files.insert("grandstream/gxp2170fw.bin".into(), vec![b'x'; size]);
    let stored = Request::get("/gxp2170fw.bin");
    // A second version of the store whose device record differs, so alternating between the
    // two makes every request a real render (the render cache never hits).
    let mut other = files.clone();
    other.insert(
        "devices/000b82123456.json".into(),
        String::from_utf8(files["devices/000b82123456.json"].clone())
            .unwrap()
            .replace("Front Desk", "Back Desk")
            .into_bytes(),
    );
    let binary = Request::get("/cfg000b82123456");
    // The same two stores with a template outside the substitution subset (a no-op `if`
    // appended), so minijinja's interpreter renders it: what the fast path saves.
    let interpreted = |files: &HashMap<String, Vec<u8>>| {
        let mut files = files.clone();
        let key = "templates/grandstream/cfg@mac.pvalues";
        let mut template = files[key].clone();
        template.extend_from_slice(b"{% if true %}{% endif %}");
        files.insert(key.into(), template);
        files
    };
    let (files_interpreted, other_interpreted) = (interpreted(&files), interpreted(&other));
    let mut group = c.benchmark_group("render");
    group.bench_function("baseline: stored file of the same size", |b| {
        b.iter(|| black_box(serve(&engine, &files, black_box(&stored))))
    });
    group.bench_function(
        "cfg<mac>.xml, 200 P-values, inputs changed (full render)",
        full_render(&engine, [&files, &other], &render),
    );
    group.bench_function(
        "cfg<mac> binary, 200 P-values, inputs changed (full render)",
        full_render(&engine, [&files, &other], &binary),
    );
    group.bench_function(
        "cfg<mac>.xml, 200 P-values, inputs changed, template outside the fast path (full render)",
        full_render(&engine, [&files_interpreted, &other_interpreted], &render),
    );
    group.bench_function(
        "cfg<mac>.xml, 200 P-values, inputs unchanged (render cache)",
        |b| b.iter(|| black_box(serve(&engine, &files, black_box(&render)))),
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
