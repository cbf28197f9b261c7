#!/usr/bin/env bash
# Load benchmark: `provedge serve` against nginx serving the same pre-rendered file behind the
# FusionPBX rewrite rules, with identical wrk settings, in one run. Prints requests/s and p99
# latency for both and their ratios (provedge / nginx), for a full GET and for a revalidation
# (If-None-Match, 304). A third server, nginx-static, is nginx serving the same file at the same
# path with no rewrite rules at all (the floor for any server of a static file); CONNECTIONS may
# list several levels, each measured in turn. Lines starting with `ROW ` are for benches/all.sh.
#
#   benches/load/run.sh                 # defaults: -t2 -c32 -d5s, 3 rounds per server and scenario
#   THREADS=2 CONNECTIONS=64 DURATION=10s ROUNDS=5 benches/load/run.sh
#   CONNECTIONS="64 256" SCENARIOS=get SERVERS="provedge nginx-static" benches/load/run.sh
#
# Installs wrk and nginx (Debian packages) only when missing. Everything runs on 127.0.0.1 and
# stops by itself; temporary files go to a directory removed at exit. Not part of
# scripts/test-all: it is a measurement, not a check.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
PROVEDGE_PORT=${PROVEDGE_PORT:-18480}
NGINX_PORT=${NGINX_PORT:-18481}
STATIC_PORT=${STATIC_PORT:-18482}
SCENARIOS=${SCENARIOS:-get revalidate}
SERVERS=${SERVERS:-provedge nginx nginx-static}
# The phone and its file: a Grandstream asking for its own configuration.
FILE_PATH=/provision/cfg000b82123456.xml
UA="Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456"

need() {
  local bin=$1 pkg=$2
  if ! command -v "$bin" >/dev/null && [ ! -x "/usr/sbin/$bin" ]; then
    echo "==> installing $pkg"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
  fi
}
need wrk wrk
need nginx nginx
need curl curl
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

echo "==> building provedge (release)"
cargo build --release --quiet --bin provedge
target_dir=${CARGO_TARGET_DIR:-$root/target}
provedge=$target_dir/release/provedge

work=$(mktemp -d /tmp/provedge-load.XXXXXX)
chmod 755 "$work" # nginx workers run as an unprivileged user
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  sleep 0.2
  rm -rf "$work"
}
trap cleanup EXIT

# The same bytes for both: rendered once by provedge, stored for nginx.
mkdir -p "$work/www/rendered" "$work/nginx"
"$provedge" render --store examples/store --user-agent "$UA" "$FILE_PATH" \
  >"$work/www/rendered/cfg000b82123456.xml"
mkdir -p "$work/www/provision"
cp "$work/www/rendered/cfg000b82123456.xml" "$work/www$FILE_PATH"

# nginx as FusionPBX deployments run it: the wiki's rewrite rules (reference/seeds/002, from
# mcrane, plus the Grandstream cfg<mac> rule) in front of /app/provision/, which here serves the
# pre-rendered file instead of running PHP. Access log on, as provedge's is.
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log $work/nginx/access.log;
    client_body_temp_path $work/nginx;
    proxy_temp_path $work/nginx;
    fastcgi_temp_path $work/nginx;
    uwsgi_temp_path $work/nginx;
    scgi_temp_path $work/nginx;
    keepalive_requests 100000;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        rewrite "^.*/provision/aastra.cfg\$" /app/provision/?mac=\$1&file=aastra.cfg;
        rewrite "^.*/provision/([A-Fa-f0-9]{12})(\.(xml|cfg))?\$" /app/provision/index.php?mac=\$1 last;
        rewrite "^.*/provision/cfg([A-Fa-f0-9]{12})(\.(xml|cfg))?\$" /app/provision/?mac=\$1;
        location /app/provision/ {
            if (\$arg_mac !~ "^[A-Fa-f0-9]{12}\$") { return 404; }
            root $work/www;
            default_type "text/xml; charset=utf-8";
            try_files /rendered/cfg\$arg_mac.xml =404;
        }
    }
    # The same file at the same path, no rewrite rules: nginx as a plain static server.
    server {
        listen 127.0.0.1:$STATIC_PORT;
        root $work/www;
        default_type "text/xml; charset=utf-8";
    }
}
EOF
"$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log"

# One client sends every request here, so the policy's per-client and per-MAC rate limits and
# the server's per-client connection cap (made for phones, not for wrk) are off, as nginx has none.
# Last-seen records go to the run's directory, not into the example store.
cat >"$work/provedge.json" <<EOF
{"engine": {"policy": {"default": {"rate_limit": {"per_client": null, "per_mac": null}}}},
 "server": {"max_connections_per_ip": 65536, "last_seen_dir": "$work/last-seen"}}
EOF
"$provedge" serve --store examples/store --listen "127.0.0.1:$PROVEDGE_PORT" --config "$work/provedge.json" \
  >"$work/provedge.log" 2>"$work/provedge.err" &
provedge_pid=$!
pids+=("$provedge_pid")

wait_up() {
  for _ in $(seq 100); do
    curl -fso /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2
  exit 1
}
wait_up "http://127.0.0.1:$PROVEDGE_PORT/healthz"
wait_up "http://127.0.0.1:$NGINX_PORT$FILE_PATH"
wait_up "http://127.0.0.1:$STATIC_PORT$FILE_PATH"

# Same request, same bytes: the comparison is only fair if both serve exactly the same file.
curl -fs -A "$UA" "http://127.0.0.1:$PROVEDGE_PORT$FILE_PATH" >"$work/from-provedge"
curl -fs -A "$UA" "http://127.0.0.1:$NGINX_PORT$FILE_PATH" >"$work/from-nginx"
cmp "$work/from-provedge" "$work/from-nginx"
curl -fs -A "$UA" "http://127.0.0.1:$STATIC_PORT$FILE_PATH" >"$work/from-static"
cmp "$work/from-provedge" "$work/from-static"
echo "==> all three serve the same $(wc -c <"$work/from-nginx")-byte file for $FILE_PATH"

# CPU time (clock ticks: user, system) a server's processes have used so far: provedge's one
# process, or nginx's master and workers. Divided by the requests of a run, it is the server's
# CPU cost per request, which the machine's noise (wrk shares its cores) disturbs far less than
# requests/s.
cpu_ticks() {
  local pids
  if [ "$1" = provedge ]; then pids=$provedge_pid; else # nginx and nginx-static share the workers
    pids="$(cat "$work/nginx.pid") $(pgrep -P "$(cat "$work/nginx.pid")" | tr '\n' ' ')"
  fi
  for p in $pids; do awk '{ print $14, $15 }' "/proc/$p/stat"; done |
    awk '{ u += $1; s += $2 } END { print u, s }'
}
tick_us=$((1000000 / $(getconf CLK_TCK)))

# One wrk run against server $1: prints "req/s p99_ms errors cpu_us user_us sys_us" (CPU per
# request; errors: non-2xx/3xx responses plus socket errors).
measure() {
  local name=$1 url=$2
  shift 2
  local before after
  before=$(cpu_ticks "$name")
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "User-Agent: $UA" "$@" "$url" \
    >"$work/run.txt"
  cat "$work/run.txt" >>"$work/wrk.txt"
  after=$(cpu_ticks "$name")
  awk -v before="$before" -v after="$after" -v tick_us="$tick_us" '
      /^Requests\/sec:/ { rps = $2 }
      $1 == "99%" {
        v = $2
        if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v) }
        else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 }
        p99 = v
      }
      /Non-2xx or 3xx responses:/ { errors += $NF }
      /Socket errors:/ { errors += 1 }
      / requests in / { n = $1 }
      END {
        split(before, b, " "); split(after, a, " ")
        user = (a[1] - b[1]) * tick_us / n; sys = (a[2] - b[2]) * tick_us / n
        printf "%s %.3f %d %.2f %.2f %.2f\n", rps, p99, errors, user + sys, user, sys
      }' "$work/run.txt"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# Warm them (provedge's render and store caches, nginx's open files).
wrk -t1 -c4 -d1s -H "User-Agent: $UA" "http://127.0.0.1:$PROVEDGE_PORT$FILE_PATH" >/dev/null
wrk -t1 -c4 -d1s -H "User-Agent: $UA" "http://127.0.0.1:$NGINX_PORT$FILE_PATH" >/dev/null
wrk -t1 -c4 -d1s -H "User-Agent: $UA" "http://127.0.0.1:$STATIC_PORT$FILE_PATH" >/dev/null

# Two scenarios: a full GET (200), and the revalidation phones send every few minutes, most of
# the traffic (304 with each server's own ETag). Rounds alternate between the servers so that
# drift in the machine's speed hits all alike; medians are reported.
etag_of() { curl -fsI -A "$UA" "$1" | awk 'tolower($1) == "etag:" { sub(/\r$/, "", $2); print $2 }'; }
port_of() { case $1 in provedge) echo "$PROVEDGE_PORT" ;; nginx) echo "$NGINX_PORT" ;; nginx-static) echo "$STATIC_PORT" ;; esac; }
declare -A etag
for name in $SERVERS; do etag[$name]=$(etag_of "http://127.0.0.1:$(port_of "$name")$FILE_PATH"); done
failed=0
: >"$work/results"
for conns in $CONNECTIONS; do
  for scenario in $SCENARIOS; do
    for round in $(seq "$ROUNDS"); do
      for name in $SERVERS; do
        url="http://127.0.0.1:$(port_of "$name")$FILE_PATH"
        if [ "$scenario" = get ]; then
          line=$(CONNECTIONS=$conns measure "$name" "$url")
        else
          line=$(CONNECTIONS=$conns measure "$name" "$url" -H "If-None-Match: ${etag[$name]}")
        fi
        echo "   c$conns $scenario round $round $name: $line (req/s p99_ms errors cpu_us/req user sys)"
        echo "$conns $scenario $name $line" >>"$work/results"
        [ "$(echo "$line" | awk '{print $3}')" = 0 ] || failed=1
      done
    done
  done
done

for conns in $CONNECTIONS; do
  echo
  echo "== results: GET $FILE_PATH, wrk -t$THREADS -c$conns -d$DURATION --latency, median of $ROUNDS alternating rounds, $(nproc) cores"
  printf '%-11s %-12s %10s %10s %14s %8s %8s\n' scenario server "req/s" "p99 (ms)" "CPU us/req" user sys
  for scenario in $SCENARIOS; do
    for name in $SERVERS; do
      col() { awk -v c="$conns" -v s="$scenario" -v n="$name" -v k="$1" '$1 == c && $2 == s && $3 == n { print $k }' "$work/results" | median; }
      r=$(col 4) p=$(col 5) c=$(col 7) cu=$(col 8) cs=$(col 9)
      printf '%-11s %-12s %10s %10s %14s %8s %8s\n' "$scenario" "$name" "$r" "$p" "$c" "$cu" "$cs"
      key=${name//-/_}
      eval "${key}_rps=$r ${key}_p99=$p ${key}_cpu=$c"
    done
    for base in nginx nginx_static; do
      case " $SERVERS " in *" provedge "*) ;; *) continue ;; esac
      case " ${SERVERS//-/_} " in *" $base "*) ;; *) continue ;; esac
      eval "b_rps=\$${base}_rps b_p99=\$${base}_p99 b_cpu=\$${base}_cpu"
      awk -v a="$provedge_rps" -v b="$b_rps" -v c="$provedge_p99" -v d="$b_p99" \
        -v e="$provedge_cpu" -v f="$b_cpu" -v s="$scenario" -v n="${base//_/-}" 'BEGIN {
        printf "%-11s ratio provedge/%s: req/s %.2f, p99 %.2f, CPU per request %.2f\n", s, n, a / b, c / d, e / f
      }'
      if [ "$base" = nginx_static ]; then
        awk -v a="$provedge_rps" -v b="$b_rps" -v c="$provedge_p99" -v d="$b_p99" -v s="$scenario" -v k="$conns" 'BEGIN {
          met = (a / b >= 1.0 && c <= 2) ? "yes" : "no"
          printf "ROW 5. native server, %d connections, %s|%.0f req/s, p99 %.2f ms|%.0f req/s, p99 %.2f ms (nginx static)|%.2f|>= 1.0x, p99 <= 2 ms|%s\n", k, s, a, c, b, d, a / b, met
        }'
      fi
    done
  done
done
case " $SERVERS " in
  *" provedge "*" nginx "*)
    echo "status of each: provedge $(curl -s -o /dev/null -w '%{http_code}' -A "$UA" -H "If-None-Match: ${etag[provedge]}" "http://127.0.0.1:$PROVEDGE_PORT$FILE_PATH")," \
      "nginx $(curl -s -o /dev/null -w '%{http_code}' -A "$UA" -H "If-None-Match: ${etag[nginx]}" "http://127.0.0.1:$NGINX_PORT$FILE_PATH") on revalidation" ;;
esac
if [ "$failed" = 1 ]; then
  echo "errors during the run (see above): the figures do not count" >&2
  exit 1
fi
