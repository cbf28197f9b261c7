//! The steady path of a provisioning server, in the engine alone: a phone re-fetching its
//! device file (GET) and revalidating it (If-None-Match → 304) over the example store, with
//! every cache warm. The baseline, measured in the same run, is the least any host must do for
//! the same request: one hash-map lookup of the file's bytes and a copy of them.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use provedge::{Blob, Config, Decision, Engine, Lookup, Request, StoreKey};

const NOW: u64 = 1_800_000_000;

const UA: &str = "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456";
const PATH: &str = "/provision/cfg000b82123456.xml";

/// The store as a host's cache holds it: each file's bytes shared ([`Blob`]), so the engine is
/// handed the same blob on every request, as from the native server's or the Worker's cache.
fn load(dir: &Path, root: &Path, files: &mut HashMap<String, Blob>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            load(&path, root, files);
        } else {
            let key = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            files.insert(key, std::fs::read(&path).unwrap().into());
        }
    }
}

fn run(engine: &Engine, files: &HashMap<String, Blob>, req: &Request) -> (u16, usize) {
    match engine.run(req, NOW, |k: &StoreKey| {
        files
            .get(k.as_str())
            .map_or(Lookup::Missing, |b| Lookup::Found(b.clone()))
    }) {
        Decision::Respond(r) => (r.status, r.body.len()),
        other => panic!("{other:?}"),
    }
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/store");
    let mut files = HashMap::new();
    load(&root, &root, &mut files);
    // As benches/load/run.sh runs the server: rate limits off (one client sends everything).
    let config =
        r#"{"policy": {"default": {"rate_limit": {"per_client": null, "per_mac": null}}}}"#;
    let engine = Engine::new(Config::from_json(config).unwrap()).unwrap();
    let get = Request::get(PATH).with_header("user-agent", UA);
    let (status, size) = run(&engine, &files, &get);
    assert_eq!(status, 200);
    let etag = match engine.run(&get, NOW, |k| {
        files
            .get(k.as_str())
            .map_or(Lookup::Missing, |b| Lookup::Found(b.clone()))
    }) {
        Decision::Respond(r) => r.header("etag").unwrap().to_owned(),
        other => panic!("{other:?}"),
    };
    let revalidate = get.clone().with_header("if-none-match", &etag);
    assert_eq!(run(&engine, &files, &revalidate).0, 304);
    let rendered: HashMap<String, Vec<u8>> = [(
        "grandstream/cfg000b82123456.xml".to_owned(),
        vec![b'x'; size],
    )]
    .into();

    let mut group = c.benchmark_group("steady");
    group.bench_function("baseline: map lookup and copy", |b| {
        b.iter(|| {
            black_box(
                rendered
                    .get(black_box("grandstream/cfg000b82123456.xml"))
                    .cloned(),
            )
        })
    });
    group.bench_function("GET device file", |b| {
        b.iter(|| black_box(run(&engine, &files, black_box(&get))))
    });
    group.bench_function("If-None-Match → 304", |b| {
        b.iter(|| black_box(run(&engine, &files, black_box(&revalidate))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
