#!/usr/bin/env python3
"""Rows 1-3 of benches/all.sh from criterion's saved estimates (target/criterion), as `ROW ` lines:
name|figure|baseline|ratio|target|met. Figures are medians per request (per iteration divided by
the corpus size criterion was told as throughput). Rows 1 and 2 give the ratio as a speed-up
(baseline time / provedge time); the others as provedge / baseline."""
import json
import os
import sys

root = sys.argv[1]
found = {}
for dirpath, _, files in os.walk(root):
    if os.path.basename(dirpath) == "new" and "benchmark.json" in files:
        bench = json.load(open(os.path.join(dirpath, "benchmark.json")))
        est = json.load(open(os.path.join(dirpath, "estimates.json")))
        per = (bench.get("throughput") or {}).get("Elements") or 1
        found[bench["group_id"], bench["function_id"]] = est["median"]["point_estimate"] / per


def ns(group, function):
    try:
        return found[group, function]
    except KeyError:
        sys.exit(f"criterion-rows: no estimate for {group}/{function} under {root}")


def fmt(v):
    return f"{v:.0f} ns" if v < 10_000 else f"{v / 1000:.1f} µs"


def row(name, figure, baseline, base_name, ratio, target, met, speedup=False):
    ratio = f"{ratio:.2f}x faster" if speedup else f"{ratio:.1f}"
    print(f"ROW {name}|{fmt(figure)}|{fmt(baseline)} ({base_name})|{ratio}|{target}|{'yes' if met else 'no'}")


route = ns("route", "provedge::route (mixed corpus)")
for conf in ("fusionpbx-install.conf", "fusionpbx-all.conf"):
    base = ns("route", f"baseline: nginx rules, PCRE2-JIT ({conf})")
    row(f"1. route per request vs nginx rules ({conf})", route, base, "PCRE2-JIT",
        base / route, "<= 150 ns and >= 10x faster", route <= 150 and base / route >= 10, True)
memo = ns("route", "provedge::RouteMemo::route (engine, warm)")
base = ns("route", "baseline: nginx rules, PCRE2-JIT (fusionpbx-install.conf)")
row("1b. route as the engine runs it (memo, warm) vs nginx rules (fusionpbx-install.conf)", memo,
    base, "PCRE2-JIT", base / memo, "<= 150 ns and >= 10x faster",
    memo <= 150 and base / memo >= 10, True)
for conf in ("fusionpbx-install.conf", "fusionpbx-all.conf"):
    ours = ns("nginx rules", f"provedge RuleSet::apply ({conf})")
    base = ns("nginx rules", f"baseline: PCRE2-JIT ({conf})")
    row(f"2. nginx-rules mode per request ({conf})", ours, base, "PCRE2-JIT", base / ours,
        ">= 5x faster", base / ours >= 5, True)
full = ns("render", "cfg<mac>.xml, 200 P-values, inputs changed (full render)")
stored = ns("render", "baseline: stored file of the same size")
row("3. full render, 200 P-values (native)", full, stored, "stored file, same size", full / stored,
    "<= 20 µs", full <= 20_000)
