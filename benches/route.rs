//! `route` over a mixed corpus of real request shapes, against baselines measured in the same
//! run: the least any router must do (percent-decode, lower-case, one hash lookup of the path),
//! and what nginx spends on the same paths: FusionPBX's rewrite rules run by PCRE2 with JIT
//! (`nginx/mod.rs`). The group `nginx rules` times provedge's nginx-rules mode
//! (`RuleSet::apply`) against PCRE2-JIT on the same rule files and paths.
//!
//! nginx sees the corpus's files under FusionPBX's `/provision/` (where the phones of a
//! FusionPBX deployment fetch them), so the PCRE2 baseline and `RuleSet::apply` run on
//! `/provision` + each path; `route` runs on the paths as the phones send them to provedge.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use provedge::rewrite::{Outcome, RewriteInput, RuleSet};
use provedge::route::{self, RouteConfig};
use provedge::Request;

mod nginx;

/// The FusionPBX rule files the baselines run: the install script's server block, and every
/// wiki rule list in one file.
const RULE_FILES: &[(&str, &str)] = &[
    (
        "fusionpbx-install.conf",
        include_str!("../tests/data/rewrite/fusionpbx-install.conf"),
    ),
    (
        "fusionpbx-all.conf",
        include_str!("../tests/data/rewrite/fusionpbx-all.conf"),
    ),
];

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
    let targets: Vec<String> = corpus
        .iter()
        .map(|r| {
            if r.target.starts_with("/app/provision/") {
                r.target.clone()
            } else {
                format!("/provision{}", r.target)
            }
        })
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
    // As the engine routes: phones repeat their requests, so it remembers routes by method,
    // target and User-Agent (`memory.route_entries`); warm, every request of the corpus hits.
    let memo = route::RouteMemo::default();
    group.bench_function("provedge::RouteMemo::route (engine, warm)", |b| {
        b.iter(|| {
            for r in &corpus {
                let _ = black_box(memo.route(black_box(r), &cfg));
            }
        })
    });
    for (name, text) in RULE_FILES {
        let mut pcre2 = nginx::Pcre2Rules::parse(text);
        group.bench_function(format!("baseline: nginx rules, PCRE2-JIT ({name})"), |b| {
            b.iter(|| {
                for t in &targets {
                    black_box(pcre2.apply(black_box(t.as_bytes())));
                }
            })
        });
    }
    group.finish();

    // nginx-rules mode against PCRE2-JIT on the same file and targets.
    let mut group = c.benchmark_group("nginx rules");
    group.throughput(Throughput::Elements(targets.len() as u64));
    for (name, text) in RULE_FILES {
        let rules = RuleSet::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut pcre2 = nginx::Pcre2Rules::parse(text);
        agreement(name, &rules, &mut pcre2, &targets);
        group.bench_function(format!("baseline: PCRE2-JIT ({name})"), |b| {
            b.iter(|| {
                for t in &targets {
                    black_box(pcre2.apply(black_box(t.as_bytes())));
                }
            })
        });
        group.bench_function(format!("provedge RuleSet::apply ({name})"), |b| {
            b.iter(|| {
                for t in &targets {
                    black_box(rules.apply(black_box(&RewriteInput::new(t))));
                }
            })
        });
    }
    group.finish();
}

/// The baseline is only fair if it does the same work: says (on stderr) on how many targets
/// PCRE2's evaluation ends where `RuleSet::apply` does.
fn agreement(name: &str, rules: &RuleSet, pcre2: &mut nginx::Pcre2Rules, targets: &[String]) {
    let mut same = 0;
    for t in targets {
        let ours = match rules.apply(&RewriteInput::new(t)) {
            Outcome::Internal(i) => Some(nginx::Result::Pass {
                uri: i.uri().to_vec(),
                args: i.args().to_vec(),
            }),
            Outcome::Redirect(_) => None,
            Outcome::BadRequest(_) => Some(nginx::Result::BadRequest),
            other => {
                eprintln!("{name}: {t}: {other:?}");
                continue;
            }
        };
        let theirs = pcre2.apply(t.as_bytes());
        match (ours, &theirs) {
            (None, nginx::Result::Redirect(_)) => same += 1,
            (Some(o), _) if o == theirs => same += 1,
            (o, _) => eprintln!("{name}: {t}: provedge {o:?}, PCRE2 evaluation {theirs:?}"),
        }
    }
    eprintln!(
        "{name}: the PCRE2 evaluation ends where RuleSet::apply does on {same} of {} targets",
        targets.len()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
