#!/usr/bin/env bash
# Every performance target of issue 20 in one run, each against its baseline measured in the same
# run, printed as one table: row, provedge figure, baseline figure, ratio, target, met.
#
#   benches/all.sh            # full run: about 15 minutes on 2 cores
#   SMOKE=1 benches/all.sh    # quick validation of the harness (short runs; figures are noise)
#
# Rows come from the scripts that measure them, each printing `ROW name|figure|baseline|ratio|
# target|met` lines among its usual output (kept in the log this script names):
#   1-3  cargo bench --bench route --bench render  (benches/criterion-rows.py reads the estimates)
#   3    benches/wasm-crypto/v8                    render + encrypt in V8 (Node's WASI)
#   3    tests/worker_workerd.rs (ignored test)    render + encrypt in workerd
#   4    benches/envoy/run.sh                      Envoy + filter, floor filter, cold start, wasmtime
#   4    benches/filter-v8/run.sh                  the filter's own work per request in V8 (no Envoy)
#   5    benches/load/run.sh                       native server vs nginx static, 64/256 connections
#   6    benches/memory/run.sh                     RSS with 10k and 100k devices
# A section that fails becomes a row saying so; the others still run. Needs what each script
# needs (Envoy from scripts/test-all, Node.js; wrk and nginx are installed when missing).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target_dir=${CARGO_TARGET_DIR:-$root/target}

SMOKE=${SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
  criterion=(--warm-up-time 1 --measurement-time 2 --sample-size 10 --noplot)
  envoy=(DURATION=2s ROUNDS=1 COLD_RUNS=1)
  filter_v8=(ROUNDS=1 REQUESTS=2000)
  load=(ROUNDS=1 DURATION=2s)
  devices="1000 10000"
else
  criterion=(--noplot)
  envoy=(DURATION=5s ROUNDS=3 COLD_RUNS=5)
  filter_v8=(ROUNDS=3 REQUESTS=20000)
  load=(ROUNDS=3 DURATION=5s)
  devices="10000 100000"
fi

log=$(mktemp /tmp/provedge-bench-all.XXXXXX.log)
rows=$(mktemp /tmp/provedge-bench-rows.XXXXXX)
trap 'rm -f "$rows"' EXIT
echo "==> full output in $log"

# section NAME COMMAND...: runs it, keeps its ROW lines, and records a failure as a row.
section() {
  local name=$1
  shift
  echo "==> $name: $*" | tee -a "$log"
  local out
  out=$(mktemp)
  "$@" >"$out" 2>&1
  local rc=$?
  cat "$out" >>"$log"
  grep '^ROW ' "$out" | sed 's/^ROW //' >>"$rows"
  if [ "$rc" != 0 ]; then
    echo "$name|failed (exit $rc, see $log)|||-|no" >>"$rows"
    echo "    failed (exit $rc); last lines:" && tail -5 "$out" | sed 's/^/    /'
  fi
  rm -f "$out"
}

criterion_rows() {
  cargo bench --bench route --bench render -- "${criterion[@]}" &&
    python3 benches/criterion-rows.py "$target_dir/criterion"
}
section "rows 1-3: route, nginx rules, render (criterion)" criterion_rows
section "row 3: render + encrypt in V8" env CARGO_TARGET_DIR="$target_dir/wasm-crypto" benches/wasm-crypto/v8
# The Worker in real workerd (Miniflare, as scripts/test-all installs it): workerd's CPU per
# request for a full render + encryption of a 20 KiB file, against a refused request.
workerd_row() {
  scripts/build-worker &&
    PROVEDGE_REQUIRE_INTEROP=1 cargo test --release --test worker_workerd measure_costs_per_request \
      -- --ignored --nocapture --test-threads 1
}
section "row 3: render + encrypt in workerd" workerd_row
section "row 4: Envoy" env "${envoy[@]}" benches/envoy/run.sh
section "row 4: the filter's own work in V8" env "${filter_v8[@]}" benches/filter-v8/run.sh
section "row 5: native server vs nginx static" env "${load[@]}" CONNECTIONS="64 256" SCENARIOS=get \
  SERVERS="provedge nginx-static" benches/load/run.sh
section "row 6: memory" env DEVICES="$devices" benches/memory/run.sh

echo
echo "== issue 20 targets, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores$([ "$SMOKE" = 1 ] && echo ", SMOKE run: short runs, figures are noise")"
python3 - "$rows" <<'PY'
import sys
head = ["row", "provedge", "baseline (same run)", "ratio", "target", "met"]
rows = [line.rstrip("\n").split("|") for line in open(sys.argv[1]) if line.strip()]
rows = [(r + [""] * 6)[:6] for r in rows]
print("| " + " | ".join(head) + " |")
print("|" + "|".join("---" for _ in head) + "|")
for r in rows:
    print("| " + " | ".join(r) + " |")
PY
