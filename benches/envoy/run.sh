#!/usr/bin/env bash
# Load benchmark of the proxy-wasm filter through one Envoy, in one run: render mode (the filter
# answers from its cache), rewrite mode (the filter rewrites :path and Envoy proxies to nginx
# serving the pre-rendered file), and Envoy's own `direct_response` of the same bytes as the
# baseline. Prints requests/s and p99 latency of each and their ratios to the baseline.
# Two more baselines in the same Envoy: the floor filter (benches/floor-filter, a proxy-wasm
# filter that only answers the same bytes) for render mode, and Envoy proxying the same upstream
# request without any filter for rewrite mode. A second floor, the floor filter making the host
# calls render mode makes per request (`calls`), tells Envoy's cost of answering them apart from
# the filter's own work; rewrite mode's two floors are the floor filter letting requests through
# to the same origin (`pass`), and doing so after rewrite mode's host calls (`pass-calls`).
# Then cold start: Envoy launched with the filter
# until its first answer, less Envoy launched with `direct_response` alone (COLD_RUNS times,
# medians), and the module's compile time under wasmtime (PyPI `wasmtime` in a venv under
# ~/.cache/provedge) without and with wasmtime's compilation cache. Lines starting with `ROW `
# are for benches/all.sh.
#
#   benches/envoy/run.sh                         # defaults: wrk -t1 -c16 -d10s, 3 rounds, Envoy --concurrency 1
#   THREADS=2 CONNECTIONS=32 DURATION=15s benches/envoy/run.sh
#
# Uses the Envoy and wasm-opt that scripts/test-all installs (~/.cache/provedge), Debian's wrk and
# nginx (installed when missing). Everything listens on 127.0.0.1 and stops at exit. Not part of
# scripts/test-all: it is a measurement, not a check.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-16}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-18580}
DIRECT_PORT=${DIRECT_PORT:-18581}
ADMIN_PORT=${ADMIN_PORT:-18582}
ORIGIN_PORT=${ORIGIN_PORT:-18583}
FLOOR_PORT=${FLOOR_PORT:-18584}
FLOOR_CALLS_PORT=${FLOOR_CALLS_PORT:-18587}
PASS_PORT=${PASS_PORT:-18588}
PASS_CALLS_PORT=${PASS_CALLS_PORT:-18589}
PROXY_PORT=${PROXY_PORT:-18585}
COLD_PORT=${COLD_PORT:-18586}
COLD_RUNS=${COLD_RUNS:-5}
WASMTIME_VERSION=${WASMTIME_VERSION:-27.0.2}
FILE_PATH=/cfg000b82123456.xml
UA="Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456"
tools=${PROVEDGE_TOOLS:-$HOME/.cache/provedge}
ENVOY=${PROVEDGE_ENVOY:-$tools/envoy-venv/bin/envoy}
WASM_OPT=$tools/binaryen/node_modules/.bin/wasm-opt

need() {
  if ! command -v "$1" >/dev/null && [ ! -x "/usr/sbin/$1" ]; then
    echo "==> installing $2"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  fi
}
need wrk wrk
need nginx nginx
need curl curl
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$ENVOY" ] || { echo "no Envoy at $ENVOY: run scripts/test-all once" >&2; exit 1; }

echo "==> building the filter (profile wasm, then wasm-opt) and provedge"
cargo build --quiet -p provedge-filter --target wasm32-wasip1 --profile wasm
cargo build --quiet --release --bin provedge
target_dir=${CARGO_TARGET_DIR:-$root/target}
module=$target_dir/wasm32-wasip1/wasm/provedge_filter.wasm
if [ -x "$WASM_OPT" ]; then
  "$WASM_OPT" -Oz --converge --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
    --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types \
    "$module" -o "$target_dir/wasm32-wasip1/wasm/provedge_filter.opt.wasm"
  module=$target_dir/wasm32-wasip1/wasm/provedge_filter.opt.wasm
fi
echo "==> module: $module ($(stat -c %s "$module") bytes)"
CARGO_TARGET_DIR=$target_dir/floor-filter cargo build --quiet --release --target wasm32-wasip1 \
  --manifest-path benches/floor-filter/Cargo.toml
floor=$target_dir/floor-filter/wasm32-wasip1/release/floor_filter.wasm
echo "==> floor filter: $floor ($(stat -c %s "$floor") bytes)"

work=$(mktemp -d /tmp/provedge-envoy-bench.XXXXXX)
chmod 755 "$work"
envoy_pid=
cleanup() {
  [ -n "$envoy_pid" ] && kill "$envoy_pid" 2>/dev/null || true
  [ -n "${cold_pid:-}" ] && kill "$cold_pid" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  sleep 0.2
  rm -rf "$work"
}
trap cleanup EXIT

# The store, plus the pre-rendered file rewrite mode forwards to: the same bytes everywhere.
cp -r examples/store "$work/store"
chmod -R a+rX "$work/store"
"$target_dir/release/provedge" render --store examples/store --user-agent "$UA" "$FILE_PATH" \
  >"$work/rendered.xml"
mkdir -p "$work/store/grandstream"
cp "$work/rendered.xml" "$work/store/grandstream/cfg000b82123456.xml"

mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx;
    proxy_temp_path $work/nginx;
    fastcgi_temp_path $work/nginx;
    uwsgi_temp_path $work/nginx;
    scgi_temp_path $work/nginx;
    keepalive_requests 100000;
    types { text/xml xml; }
    server {
        listen 127.0.0.1:$ORIGIN_PORT;
        root $work/store;
    }
}
EOF
"$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log"

plugin=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' \
  "{\"engine\": {\"policy\": {\"default\": {\"rate_limit\": {\"per_client\": null, \"per_mac\": null}}}},
    \"routes\": {\"rewrite\": {\"mode\": {\"rewrite\": {\"prefix\": \"\"}}}},
    \"origin\": {\"upstream\": \"store\", \"authority\": \"127.0.0.1:$ORIGIN_PORT\"},
    \"cache\": {\"ttl_secs\": 60}}")
body=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$work/rendered.xml")
# The second floor: the floor filter making the host calls render mode makes per request.
calls_body=$(python3 -c 'import json,sys; print(json.dumps("calls\n" + open(sys.argv[1]).read()))' \
  "$work/rendered.xml")
# Rewrite mode's floors: the floor filter letting requests through, and doing so after rewrite
# mode's host calls with `:path` replaced by what rewrite mode writes there.
upstream_path=/grandstream${FILE_PATH}
pass_calls=$(python3 -c 'import json,sys; print(json.dumps("pass-calls\n" + sys.argv[1]))' \
  "$upstream_path")
# The pieces of Envoy's configuration, shared by the load run and the cold starts.
# One wasm filter's entry in `http_filters`: name (also its VM's id), root id, module, plugin
# configuration (a JSON string), and `stop` for a filter that waits on the origin.
wasm_filter() {
  local stop=""
  [ "${5:-}" = stop ] && stop=$'\n                allow_on_headers_stop_iteration: true'
  cat <<YAML
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: $1
                root_id: $2$stop
                vm_config: {vm_id: $1, runtime: envoy.wasm.runtime.v8, code: {local: {filename: "$3"}}}
                configuration: {"@type": type.googleapis.com/google.protobuf.StringValue, value: $4}
YAML
}
# One listener: name, port, its routes (a YAML flow sequence), and the http filters before the
# router (none for a listener without a wasm filter).
listener() {
  cat <<YAML
  - name: $1
    address: {socket_address: {address: 127.0.0.1, port_value: $2}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${1//-/_}
          route_config:
            virtual_hosts:
            - {name: all, domains: ["*"], routes: $3}
          http_filters:
YAML
  if [ -n "${4:-}" ]; then printf '%s\n' "$4"; fi
  cat <<YAML
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
YAML
}
# The origin: nginx serving the store.
store_cluster() {
  cat <<YAML
  clusters:
  - name: store
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: store
      endpoints:
      - lb_endpoints:
        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $ORIGIN_PORT}}}
YAML
}
to_store='[{match: {prefix: "/"}, route: {cluster: store}}]'
{
  echo "admin: {address: {socket_address: {address: 127.0.0.1, port_value: $ADMIN_PORT}}}"
  printf 'static_resources:\n  listeners:\n'
  listener filter "$PORT" '[{name: rewrite, match: {prefix: "/rewrite/"}, route: {cluster: store}},
                {name: render, match: {prefix: "/"}, route: {cluster: store}}]' \
    "$(wasm_filter provedge provedge "$module" "$plugin" stop)"
  listener floor "$FLOOR_PORT" "$to_store" "$(wasm_filter floor floor "$floor" "$body")"
  listener floor-calls "$FLOOR_CALLS_PORT" '[{name: render, match: {prefix: "/"}, route: {cluster: store}}]' \
    "$(wasm_filter floor-calls floor "$floor" "$calls_body")"
  listener proxy "$PROXY_PORT" "$to_store"
  listener pass "$PASS_PORT" "$to_store" "$(wasm_filter pass floor "$floor" '"pass"')"
  listener pass-calls "$PASS_CALLS_PORT" '[{name: rewrite, match: {prefix: "/"}, route: {cluster: store}}]' \
    "$(wasm_filter pass-calls floor "$floor" "$pass_calls")"
  listener direct "$DIRECT_PORT" "[{match: {prefix: \"/\"}, direct_response: {status: 200, body: {inline_string: $body}},
                response_headers_to_add: [{header: {key: content-type, value: \"text/xml; charset=utf-8\"}}]}]"
  store_cluster
} >"$work/envoy.yaml"
"$ENVOY" -c "$work/envoy.yaml" --concurrency 1 --base-id 4711 -l warn >"$work/envoy.log" 2>&1 &
envoy_pid=$!
for _ in $(seq 300); do
  curl -fso /dev/null "http://127.0.0.1:$ADMIN_PORT/ready" && break
  sleep 0.1
done

# Same bytes from all three, or the comparison means nothing. (The policy's rate limits are off,
# as in benches/load: one client address is all wrk has.)
curl -fs -A "$UA" "http://127.0.0.1:$PORT$FILE_PATH" >"$work/render.out"
curl -fs -A "$UA" "http://127.0.0.1:$PORT/rewrite$FILE_PATH" >"$work/rewrite.out"
curl -fs "http://127.0.0.1:$DIRECT_PORT$FILE_PATH" >"$work/direct.out"
curl -fs "http://127.0.0.1:$FLOOR_PORT$FILE_PATH" >"$work/floor.out"
curl -fs "http://127.0.0.1:$FLOOR_CALLS_PORT$FILE_PATH" >"$work/floor-calls.out"
# Envoy without the filter asks the origin for what rewrite mode asks it for, and so does the
# pass-through floor; its second floor writes that path itself.
curl -fs "http://127.0.0.1:$PROXY_PORT$upstream_path" >"$work/proxy.out"
curl -fs "http://127.0.0.1:$PASS_PORT$upstream_path" >"$work/pass.out"
curl -fs "http://127.0.0.1:$PASS_CALLS_PORT/rewrite$FILE_PATH" >"$work/pass-calls.out"
cmp "$work/render.out" "$work/rendered.xml"
cmp "$work/rewrite.out" "$work/rendered.xml"
cmp "$work/direct.out" "$work/rendered.xml"
cmp "$work/floor.out" "$work/rendered.xml"
cmp "$work/floor-calls.out" "$work/rendered.xml"
cmp "$work/proxy.out" "$work/rendered.xml"
cmp "$work/pass.out" "$work/rendered.xml"
cmp "$work/pass-calls.out" "$work/rendered.xml"
echo "==> all eight serve the same $(wc -c <"$work/rendered.xml")-byte file"

rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
p99() {
  awk '$1 == "99%" {
    v = $2
    if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v) }
    else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 }
    printf "%.3f", v
  }' "$1"
}
# Envoy's CPU time so far (user + system, clock ticks), from /proc.
envoy_ticks() { awk '{ print $14 + $15 }' "/proc/$envoy_pid/stat"; }
run() { # one round of one mode: name, round, url
  local name=$1 round=$2 url=$3 before after
  [ "$round" = 1 ] && wrk -t1 -c4 -d1s -H "User-Agent: $UA" "$url" >/dev/null # warm
  echo "==> round $round: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency $name" >&2
  before=$(envoy_ticks)
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "User-Agent: $UA" "$url" \
    >"$work/wrk-$name.$round.txt"
  after=$(envoy_ticks)
  # Envoy's CPU per request: what the mode costs Envoy's one worker, which a shared machine's
  # slow spells disturb far less than requests/s (the origin's and wrk's CPU are not in it).
  awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" \
    '/ requests in / { printf "%.2f\n", t / hz * 1e6 / $1 }' "$work/wrk-$name.$round.txt" \
    >>"$work/cpu-$name"
  if grep -E "Non-2xx|Socket errors" "$work/wrk-$name.$round.txt" >&2; then
    echo "$name: errors under load; the figures would not compare like with like" >&2
    exit 1
  fi
}
# The modes take turns, round after round, so a slow spell of a shared machine falls on all of
# them; each mode is then reported by its median round (`wrk-NAME.txt`).
modes=(direct render rewrite floor floor-calls proxy pass pass-calls)
url_of() {
  case $1 in
    direct) echo "http://127.0.0.1:$DIRECT_PORT$FILE_PATH" ;;
    render) echo "http://127.0.0.1:$PORT$FILE_PATH" ;;
    rewrite) echo "http://127.0.0.1:$PORT/rewrite$FILE_PATH" ;;
    floor) echo "http://127.0.0.1:$FLOOR_PORT$FILE_PATH" ;;
    floor-calls) echo "http://127.0.0.1:$FLOOR_CALLS_PORT$FILE_PATH" ;;
    proxy) echo "http://127.0.0.1:$PROXY_PORT$upstream_path" ;;
    pass) echo "http://127.0.0.1:$PASS_PORT$upstream_path" ;;
    pass-calls) echo "http://127.0.0.1:$PASS_CALLS_PORT/rewrite$FILE_PATH" ;;
  esac
}
for round in $(seq "$ROUNDS"); do
  for name in "${modes[@]}"; do run "$name" "$round" "$(url_of "$name")"; done
done
for name in "${modes[@]}"; do
  median=$(for f in "$work/wrk-$name".*.txt; do echo "$(rps "$f") $f"; done | sort -g |
    awk '{ f[NR] = $2 } END { print f[int((NR + 1) / 2)] }')
  cp "$median" "$work/wrk-$name.txt"
  sort -g "$work/cpu-$name" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }' \
    >"$work/cpu-$name.median"
done
cpu() { cat "$work/cpu-$1.median"; }

base_rps=$(rps "$work/wrk-direct.txt")
base_p99=$(p99 "$work/wrk-direct.txt")
echo
echo "== GET $FILE_PATH through Envoy $("$ENVOY" --version | grep -o '1\.[0-9]*\.[0-9]*' | head -1)," \
  "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, median of $ROUNDS rounds, --concurrency 1, $(nproc) cores"
printf '%-16s %12s %10s %14s %12s %18s\n' mode "req/s" "p99 (ms)" "req/s ratio" "p99 ratio" \
  "Envoy CPU µs/req"
for name in "${modes[@]}"; do
  r=$(rps "$work/wrk-$name.txt")
  p=$(p99 "$work/wrk-$name.txt")
  awk -v n="$name" -v r="$r" -v p="$p" -v br="$base_rps" -v bp="$base_p99" -v c="$(cpu "$name")" 'BEGIN {
    label = (n == "direct") ? "direct_response" : (n == "floor") ? "floor filter" : (n == "floor-calls") ? "floor + calls" : (n == "proxy") ? "proxy, no filter" : (n == "pass") ? "pass filter" : (n == "pass-calls") ? "pass + calls" : n
    printf "%-16s %12.0f %10.3f %14.2f %12.2f %18.2f\n", label, r, p, r / br, p / bp, c
  }'
done
echo "filter counters: $(curl -s "http://127.0.0.1:$ADMIN_PORT/stats" | grep -E 'wasmcustom.provedge.(cache.hit.local|requests.grandstream.200)' | tr '\n' ' ')"
row_ratio() { # name, figure file, baseline file, baseline name, target ratio (none: report only)
  awk -v n="$1" -v a="$(rps "$2")" -v b="$(rps "$3")" -v bn="$4" -v t="${5:-}" 'BEGIN {
    target = (t == "") ? "report" : sprintf(">= %.1fx", t)
    met = (t == "") ? "-" : (a / b >= t) ? "yes" : "no"
    printf "ROW %s|%.0f req/s|%.0f req/s (%s)|%.2f|%s|%s\n", n, a, b, bn, a / b, target, met
  }'
}
row_ratio "4. Envoy render mode / floor filter" "$work/wrk-render.txt" "$work/wrk-floor.txt" \
  "floor filter" 0.9
row_ratio "4. Envoy rewrite mode / proxy without filter" "$work/wrk-rewrite.txt" "$work/wrk-proxy.txt" \
  "Envoy proxy, no filter" 0.9
# Informative: how far the host calls alone take the floor, and render mode against that.
row_ratio "4. Envoy floor filter making render mode's host calls / floor filter" \
  "$work/wrk-floor-calls.txt" "$work/wrk-floor.txt" "floor filter"
row_ratio "4. Envoy render mode / floor filter making its host calls" \
  "$work/wrk-render.txt" "$work/wrk-floor-calls.txt" "floor + calls"
# Informative: rewrite mode's floors against the proxy without a filter, and rewrite mode against
# the second one.
row_ratio "4. Envoy pass-through floor filter / proxy without filter" \
  "$work/wrk-pass.txt" "$work/wrk-proxy.txt" "Envoy proxy, no filter"
row_ratio "4. Envoy pass-through floor filter making rewrite mode's host calls / proxy without filter" \
  "$work/wrk-pass-calls.txt" "$work/wrk-proxy.txt" "Envoy proxy, no filter"
row_ratio "4. Envoy rewrite mode / pass-through floor making its host calls" \
  "$work/wrk-rewrite.txt" "$work/wrk-pass-calls.txt" "pass + calls"
kill "$envoy_pid" 2>/dev/null || true
wait "$envoy_pid" 2>/dev/null || true
envoy_pid=

# Cold start: a fresh Envoy with one listener, from launch to its first 200, for provedge's
# filter, the floor filter and `direct_response` (Envoy's own start-up, subtracted).
cold_config() { # kind -> yaml on stdout
  local filter="" route=$to_store
  case $1 in
    provedge) filter=$(wasm_filter provedge provedge "$module" "$plugin" stop) ;;
    floor) filter=$(wasm_filter floor floor "$floor" "$body") ;;
    direct) route="[{match: {prefix: \"/\"}, direct_response: {status: 200, body: {inline_string: $body}}}]" ;;
  esac
  printf 'static_resources:\n  listeners:\n'
  listener cold "$COLD_PORT" "$route" "$filter"
  store_cluster
}
# Launches Envoy and polls every millisecond until a GET answers 200: prints the milliseconds.
cold_once() {
  python3 - "$ENVOY" "$work/cold-$1.yaml" "$COLD_PORT" "$FILE_PATH" "$UA" "$work/cold.log" <<'PY'
import http.client, subprocess, sys, time
envoy, config, port, path, ua, log = sys.argv[1:]
start = time.monotonic()
proc = subprocess.Popen([envoy, "-c", config, "--concurrency", "1", "--base-id", "4712", "-l", "warn"],
                        stdout=open(log, "ab"), stderr=subprocess.STDOUT)
try:
    while time.monotonic() - start < 60:
        try:
            c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
            c.request("GET", path, headers={"User-Agent": ua})
            if c.getresponse().status == 200:
                print(f"{(time.monotonic() - start) * 1000:.1f}")
                break
        except OSError:
            time.sleep(0.001)
    else:
        sys.exit("no answer from the cold Envoy in 60 s")
finally:
    proc.terminate()
    proc.wait()
PY
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for kind in direct floor provedge; do cold_config "$kind" >"$work/cold-$kind.yaml"; done
: >"$work/cold.txt"
for _ in $(seq "$COLD_RUNS"); do
  for kind in direct floor provedge; do echo "$kind $(cold_once "$kind")" >>"$work/cold.txt"; done
done
cold() { awk -v k="$1" '$1 == k { print $2 }' "$work/cold.txt" | median; }
echo
echo "== cold start: launch to first 200, median of $COLD_RUNS (ms)"
printf '%-18s %8s\n' direct_response "$(cold direct)" "floor filter" "$(cold floor)" provedge "$(cold provedge)"
awk -v p="$(cold provedge)" -v f="$(cold floor)" -v d="$(cold direct)" 'BEGIN {
  printf "ROW 4. Envoy cold start (module load to first answer)|%.1f ms|%.1f ms (floor filter)|%.2f|<= 50 ms|%s\n", p - d, f - d, (p - d) / (f - d > 0 ? f - d : 1), (p - d <= 50) ? "yes" : "no"
}'

# The module under wasmtime, as ngx_wasm_module loads it: compile time without a cache, and with
# wasmtime's compilation cache (first start compiles and stores, later starts load).
venv=$tools/wasmtime-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import wasmtime" 2>/dev/null; then
  echo "==> installing wasmtime==$WASMTIME_VERSION (PyPI) in $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "wasmtime==$WASMTIME_VERSION"
fi
"$venv/bin/python" - "$module" "$floor" "$work/wasmtime-cache" "$COLD_RUNS" <<'PY'
import importlib.metadata, os, statistics, sys, time, wasmtime
module, floor, cache_dir, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
os.makedirs(cache_dir, exist_ok=True)
# Outside the cache directory: wasmtime's cache cleaner removes files it did not write there.
toml = cache_dir + ".toml"
with open(toml, "w") as f:
    f.write(f'[cache]\nenabled = true\ndirectory = "{os.path.abspath(cache_dir)}"\n')
def compile_ms(path, cached):
    config = wasmtime.Config()
    if cached:
        config.cache = toml
    engine = wasmtime.Engine(config)
    data = open(path, "rb").read()
    start = time.perf_counter()
    wasmtime.Module(engine, data)
    return (time.perf_counter() - start) * 1000
res = {}
for name, path in (("provedge", module), ("floor", floor)):
    res[name, "none"] = statistics.median(compile_ms(path, False) for _ in range(runs))
    compile_ms(path, True)  # fills the cache
    res[name, "hit"] = statistics.median(compile_ms(path, True) for _ in range(runs))
print(f"== wasmtime {importlib.metadata.version('wasmtime')} compile, median of {runs} (ms)")
for (name, mode), ms in res.items():
    print(f"{name:10} {'no cache' if mode == 'none' else 'cache hit':10} {ms:10.1f}")
p, f = res["provedge", "none"], res["floor", "none"]
print(f"ROW 4. wasmtime compile, no cache|{p:.0f} ms|{f:.1f} ms (floor filter)|{p / f:.0f}|report|-")
p, f = res["provedge", "hit"], res["floor", "hit"]
print(f"ROW 4. wasmtime compile, cache hit|{p:.1f} ms|{f:.1f} ms (floor filter)|{p / f:.1f}|<= 50 ms|{'yes' if p <= 50 else 'no'}")
PY
