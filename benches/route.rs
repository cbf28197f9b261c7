//! `route` over a mixed corpus of real request shapes, against a baseline measured in the same
//! run: the least any router must do (percent-decode, lower-case, one hash lookup of the path).

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use provedge::route::{self, RouteConfig};
use provedge::Request;

fn corpus() -> Vec<Request> {
    let rows: &[(&str, &str)] = &[
        ("/cfg000b82123456.xml", "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456"),
        ("/Grandstream/cfg000b82123456", ""),
        ("/cfg.xml", "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456"),
        ("/0004f2123456-phone.cfg", "FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 (SN:0004f2123456) Type/Application"),
        ("/000000000000.cfg", "FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 (SN:0004f2123456) Type/Application"),
        ("/y000000000066.cfg", "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56"),
        ("/prov/yealink/001565123456.cfg", "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56"),
        ("/algom0022EE123456.conf", ""),
        ("/algop8188.conf.md5", ""),
        ("/Cisco/CP-8841-3PCC/00562b123456.cfg", "Cisco-CP-8841-3PCC/11.3.1 (00562b123456)"),
        ("/SEP00562B123456.cnf.xml", ""),
        ("/snomD785-000413123456.htm", "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413123456 SXM:0 UXM:0)"),
        ("/0c383e123456.cfg", "Fanvil X5U-V2 2.12.16.17 0c383e123456"),
        ("/app/provision/index.php?mac=0004f2123456&file=%7b%24mac%7d-registration.cfg", ""),
        ("/index.html", "curl/8.5.0"),
        ("/../etc/passwd", ""),
    ];
    rows.iter()
        .map(|(p, ua)| {
            let r = Request::get(*p);
            if ua.is_empty() {
                r
            } else {
                r.with_header("User-Agent", *ua)
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let corpus = corpus();
    let cfg = RouteConfig::default();
    let known: HashMap<String, usize> = corpus
        .iter()
        .enumerate()
        .map(|(i, r)| (r.target.to_ascii_lowercase(), i))
        .collect();
    let mut group = c.benchmark_group("route");
    group.throughput(Throughput::Elements(corpus.len() as u64));
    group.bench_function("baseline: decode + lowercase + hash lookup", |b| {
        b.iter(|| {
            for r in &corpus {
                let decoded = percent_encoding::percent_decode_str(&r.target).decode_utf8_lossy();
                black_box(known.get(&decoded.to_ascii_lowercase()));
            }
        })
    });
    group.bench_function("provedge::route (mixed corpus)", |b| {
        b.iter(|| {
            for r in &corpus {
                let _ = black_box(route::route(black_box(r), &cfg));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
