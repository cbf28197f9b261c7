#!/usr/bin/env bash
# Soak: a million mixed requests through `provedge serve` and a hundred thousand through Envoy
# with the filter, RSS sampled at every tenth of the way (issue 18). A measurement, not a check:
# not part of scripts/test-all. The mix (benches/soak/mix.lua): device files of four vendors,
# 304 revalidations, uploads, refusals.
#
#   benches/soak/run.sh                        # 1,000,000 native + 100,000 Envoy
#   NATIVE=100000 ENVOY=10000 benches/soak/run.sh
#
# wrk runs by time, not count: each tenth runs for the time the calibration says it needs, and
# the requests wrk reports are summed. Needs wrk (Debian), Envoy and the filter as
# scripts/test-all installs and builds them.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
NATIVE=${NATIVE:-1000000}
ENVOY=${ENVOY:-100000}
PORT=${PORT:-18580}
ENVOY_PORT=${ENVOY_PORT:-18581}
ORIGIN_PORT=${ORIGIN_PORT:-18582}
tools=${PROVEDGE_TOOLS:-$HOME/.cache/provedge}
command -v wrk >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

cargo build --release --quiet --bin provedge
provedge=${CARGO_TARGET_DIR:-$root/target}/release/provedge
work=$(mktemp -d /tmp/provedge-soak.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cp -r examples/store "$work/store"

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
etag() { curl -fsI -A "$2" "$1" | awk -F': ' 'tolower($1) == "etag" {gsub("\r", "", $2); print $2}'; }

# soak NAME URL PID TOTAL: ten rounds of about TOTAL/10 requests, RSS after each.
soak() {
  local name=$1 url=$2 pid=$3 total=$4
  local gs poly yea
  gs=$(etag "$url/cfg000b82123456.xml" "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456")
  poly=$(etag "$url/0004f2123456-phone.cfg" "FileTransport PolycomVVX-VVX_400-UA/5.9.0.9373")
  yea=$(etag "$url/001565123456.cfg" "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56")
  sed -e "s|\"ETAG_GS\"|'$gs'|; s|\"ETAG_POLY\"|'$poly'|; s|\"ETAG_YEA\"|'$yea'|" \
    benches/soak/mix.lua >"$work/mix-$name.lua"
  local rate secs done=0 start_rss
  start_rss=$(rss_kb "$pid")
  rate=$(wrk -t2 -c16 -d2s -s "$work/mix-$name.lua" "$url" | awk '/Requests\/sec/ {print int($2)}')
  secs=$(( (total / 10) / (rate > 0 ? rate : 1) + 1 ))
  echo "== $name: $total requests in ten rounds of ${secs}s (calibrated at $rate req/s); RSS before: $start_rss kB"
  printf '%-6s %12s %10s %10s\n' round requests "RSS kB" "non-2xx/3xx"
  for round in $(seq 1 10); do
    local out n errs
    out=$(wrk -t2 -c16 -d"${secs}s" -s "$work/mix-$name.lua" "$url")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    errs=$(awk '/Non-2xx or 3xx/ {print $NF}' <<<"$out")
    done=$((done + n))
    printf '%-6s %12s %10s %10s\n' "$round" "$done" "$(rss_kb "$pid")" "${errs:-0}"
    [ "$done" -ge "$total" ] && break
  done
}

cat >"$work/native.json" <<JSON
{"engine": {"policy": {"default": {"rate_limit": {"per_client": null, "per_mac": null}}}},
 "server": {"max_connections_per_ip": 65536}}
JSON
"$provedge" serve --store "$work/store" --listen "127.0.0.1:$PORT" --config "$work/native.json" \
  >/dev/null 2>"$work/native.err" &
native=$!
pids+=("$native")
for _ in $(seq 100); do curl -fso /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
soak native "http://127.0.0.1:$PORT" "$native" "$NATIVE"

envoy_bin=${PROVEDGE_ENVOY:-$tools/envoy-venv/bin/envoy}
module=${PROVEDGE_FILTER_WASM:-${CARGO_TARGET_DIR:-$root/target}/wasm32-wasip1/wasm/provedge_filter.opt.wasm}
if [ "$ENVOY" -gt 0 ] && [ -x "$envoy_bin" ] && [ -f "$module" ]; then
  # The origin: the store served by provedge's own folder store would hide the filter's origin
  # path, so a plain HTTP server holds the keys (uploads are refused by it: 501, counted).
  python3 -m http.server "$ORIGIN_PORT" --bind 127.0.0.1 -d "$work/store" >/dev/null 2>&1 &
  pids+=("$!")
  sed -e "s|port_value: 10000|port_value: $ENVOY_PORT|; s|port_value: 9901|port_value: $((ENVOY_PORT + 10))|" \
      -e "s|port_value: 8081|port_value: $ORIGIN_PORT|; s|127.0.0.1:8081|127.0.0.1:$ORIGIN_PORT|" \
      -e "s|target/wasm32-wasip1/wasm/provedge_filter.opt.wasm|$module|" \
      -e 's|"engine": {"mode": "serve"}|"engine": {"mode": "serve", "policy": {"default": {"rate_limit": {"per_client": null, "per_mac": null}}}}|' \
      examples/envoy.yaml >"$work/envoy.yaml"
  "$envoy_bin" -c "$work/envoy.yaml" --concurrency 1 --base-id 77 -l warning >"$work/envoy.log" 2>&1 &
  envoy=$!
  pids+=("$envoy")
  for _ in $(seq 100); do curl -fso /dev/null -A "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456" "http://127.0.0.1:$ENVOY_PORT/cfg000b82123456.xml" && break; sleep 0.2; done
  soak envoy "http://127.0.0.1:$ENVOY_PORT" "$envoy" "$ENVOY"
else
  echo "== envoy: skipped (no Envoy at $envoy_bin or no module at $module)"
fi
