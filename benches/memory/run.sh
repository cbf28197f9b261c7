#!/usr/bin/env bash
# Memory of `provedge serve` with many devices: for each N in DEVICES, a copy of examples/store
# with N generated Grandstream devices, a fresh server with the default configuration (rate limits
# off: one client sends everything), every device's file requested once, then the server's
# VmRSS and VmHWM. The baseline is the same server idle, before any request. Every cache the
# server keeps is bounded by a setting (docs/server.md, src/config.rs `memory`), so RSS must stop
# growing once the caches are full: the target is RSS within the idle figure plus the configured
# byte bounds of the caches that hold bodies (store 64 MiB, render 64 MiB, last-good 16 MiB).
# Lines starting with `ROW ` are for benches/all.sh.
#
#   benches/memory/run.sh                       # DEVICES="10000 100000"
#   DEVICES="1000 10000" benches/memory/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

DEVICES=${DEVICES:-10000 100000}
PORT=${PORT:-18680}
BOUND_MIB=$((64 + 64 + 16))

cargo build --release --quiet --bin provedge
target_dir=${CARGO_TARGET_DIR:-$root/target}
provedge=$target_dir/release/provedge

work=$(mktemp -d /tmp/provedge-memory.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  sleep 0.2
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/provedge.json" <<JSON
{"engine": {"policy": {"default": {"rate_limit": {"per_client": null, "per_mac": null}}}},
 "server": {"max_connections_per_ip": 65536}}
JSON
kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

echo "== RSS of provedge serve, each device's cfg<mac>.xml requested once (KiB)"
printf '%-10s %10s %10s %10s %12s\n' devices idle VmRSS VmHWM "requests/s"
for n in $DEVICES; do
  rm -rf "$work/store"
  cp -r examples/store "$work/store"
  rm -rf "$work/store/last-seen" "$work/store/uploads"
  python3 - "$work/store/devices" "$n" <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
tmpl = json.load(open(f"{d}/000b82123456.json"))
for i in range(n):
    mac = f"000b82{0x800000 + i:06x}"
    tmpl["mac"] = mac
    tmpl["lines"][0]["user"] = tmpl["lines"][0]["auth_id"] = str(100000 + i)
    with open(f"{d}/{mac}.json", "w") as f:
        json.dump(tmpl, f)
PY
  "$provedge" serve --store "$work/store" --listen "127.0.0.1:$PORT" --config "$work/provedge.json" \
    >/dev/null 2>"$work/provedge.err" &
  pid=$!
  for _ in $(seq 100); do
    curl -fso /dev/null "http://127.0.0.1:$PORT/healthz" && break
    sleep 0.1
  done
  idle=$(kib "$pid" VmRSS)
  rate=$(python3 - "$PORT" "$n" <<'PY'
import http.client, sys, threading, time
port, n = int(sys.argv[1]), int(sys.argv[2])
bad = []
def work(part):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(part, n, 2):
        mac = f"000b82{0x800000 + i:06x}"
        c.request("GET", f"/provision/cfg{mac}.xml",
                  headers={"User-Agent": f"Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId {mac}"})
        r = c.getresponse()
        r.read()
        if r.status != 200:
            bad.append((mac, r.status))
start = time.monotonic()
threads = [threading.Thread(target=work, args=(p,)) for p in range(2)]
for t in threads: t.start()
for t in threads: t.join()
if bad:
    sys.exit(f"{len(bad)} requests failed, first: {bad[0]}")
print(f"{n / (time.monotonic() - start):.0f}")
PY
)
  rss=$(kib "$pid" VmRSS)
  hwm=$(kib "$pid" VmHWM)
  printf '%-10s %10s %10s %10s %12s\n' "$n" "$idle" "$rss" "$hwm" "$rate"
  awk -v n="$n" -v i="$idle" -v r="$rss" -v b="$BOUND_MIB" 'BEGIN {
    printf "ROW 6. RSS, %d devices cached|%.1f MiB|%.1f MiB (idle)|%.2f|<= idle + %d MiB|%s\n", n, r / 1024, i / 1024, r / i, b, (r <= i + b * 1024) ? "yes" : "no"
  }'
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
done
