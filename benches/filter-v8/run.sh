#!/usr/bin/env bash
# Row 4's filter work without Envoy: the filter's time per request in V8 (Node's), run by the
# minimal proxy-wasm host in host.js, against the floor filter (benches/floor-filter) in the same
# host, rounds alternated. Envoy's own per-request work is in neither figure, and the hostcalls
# are answered by a few lines of JavaScript, so this is the part of row 4 the filter's code
# decides, with far less noise than wrk through Envoy.
# Prints `ROW ` lines for benches/all.sh (informative: no target of its own).
#
#   benches/filter-v8/run.sh            # ROUNDS=3 REQUESTS=20000
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-20000}
FILE_PATH=/cfg000b82123456.xml
UA="Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456"
target_dir=${CARGO_TARGET_DIR:-$root/target}
command -v node >/dev/null || { echo "no node: install Node.js (Debian: nodejs)" >&2; exit 1; }

scripts/build-filter >/dev/null
module=$target_dir/wasm32-wasip1/wasm/provedge_filter.opt.wasm
CARGO_TARGET_DIR=$target_dir/floor-filter cargo build --quiet --release --target wasm32-wasip1 \
  --manifest-path benches/floor-filter/Cargo.toml
floor=$target_dir/floor-filter/wasm32-wasip1/release/floor_filter.wasm
cargo build --quiet --release --bin provedge

work=$(mktemp -d /tmp/provedge-filter-v8.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The floor filter answers the bytes render mode answers.
"$target_dir/release/provedge" render --store examples/store --user-agent "$UA" "$FILE_PATH" \
  >"$work/body"

per_request() { # µs per request of one run: MODULE ROUTE PATH [PLUGIN_FILE]
  ROUTE=$2 PLUGIN_FILE=${4:-} node benches/filter-v8/host.js "$1" examples/store "$3" "$UA" \
    "$REQUESTS" | awk '/^per request/ { print $3 }'
}
for _ in $(seq "$ROUNDS"); do
  per_request "$floor" render "$FILE_PATH" "$work/body" >>"$work/floor"
  per_request "$module" render "$FILE_PATH" >>"$work/render"
  per_request "$module" rewrite "/rewrite$FILE_PATH" >>"$work/rewrite"
done
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
f=$(median "$work/floor")
echo "== the filter in Node's V8, µs per request (median of $ROUNDS rounds of $REQUESTS)"
for mode in render rewrite; do
  m=$(median "$work/$mode")
  echo "$mode: $m (floor filter $f)"
  echo "ROW 4. filter's own work per request in V8, $mode mode (Node proxy-wasm host)|$m µs|$f µs (floor filter)|$(awk -v a="$f" -v b="$m" 'BEGIN { printf "%.2f", a / b }')|report|-"
done
