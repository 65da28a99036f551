#!/usr/bin/env bash
# capture.sh: the capture and replay benchmark (issue 10), anchors measured
# in the same invocation, medians of RUNS runs (2 shared cores: noisy).
#
#   RUNS=3 bench/capture.sh        (make bench sets UMBRA, TOOLS, BENCH)
#
# 1. Replay against nginx on loopback (one worker): achieved vs requested
#    rate at 1x (2000 req/s recorded) and 10x (20000 req/s), with the p99
#    of how late requests left; at max, replay's rate against wrk's on the
#    same nginx with as many connections (the anchor).
# 2. pcap import: MB/s reassembling a synthetic 64-connection capture
#    (checked: every request written, none lost), against tcpdump reading
#    and rewriting the same file (libpcap's own speed, the anchor).
# 3. The proxy's capture tap: wrk through `umbra proxy` (1 worker) to nginx
#    with the tap off, on with no client, and on with a client writing a
#    file: the first two must not differ beyond noise.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
UMBRA=${UMBRA:-$ROOT/build/umbra}
BENCH=${BENCH:-$ROOT/build/bench}
RUNS=${RUNS:-3}
PCAP_MB=${PCAP_MB:-200}
TAP_SECONDS=${TAP_SECONDS:-5}
CONNS=${CONNS:-32}
OUT=${BENCH_OUT:-/tmp/umbra-bench-capture.$$}
NGINX_PORT=${NGINX_PORT:-18190}
PROXY_PORT=${PROXY_PORT:-18191}
mkdir -p "$OUT"
for t in nginx wrk tcpdump; do
	command -v "$t" >/dev/null || { echo "capture.sh: $t is needed" >&2; exit 1; }
done
[ -x "$BENCH/capture_gen" ] || { echo "capture.sh: build $BENCH/capture_gen (make bench)" >&2; exit 1; }

PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$OUT"
}
trap cleanup EXIT

. "$HERE/common.bash"
jget() { python3 -c "import json,sys; d=json.load(open('$1')); print(eval('d$2'))"; }

# --------------------------------------------------------------- nginx
cat >"$OUT/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $OUT/nginx.pid;
error_log $OUT/nginx.err warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 10000000;
	keepalive_timeout 120s;
	client_body_temp_path $OUT/body;
	proxy_temp_path $OUT/proxy;
	fastcgi_temp_path $OUT/fcgi;
	uwsgi_temp_path $OUT/uwsgi;
	scgi_temp_path $OUT/scgi;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		location / { default_type text/plain; return 200 "ok\n"; }
	}
}
EOF
nginx -p "$OUT" -c "$OUT/nginx.conf" &
PIDS+=($!)
wait_port "$NGINX_PORT"
TARGET=127.0.0.1:$NGINX_PORT

echo "# umbra capture/replay benchmark, $(date -u +%FT%TZ), $RUNS runs, medians"

# --------------------------------------------------------------- replay
"$BENCH/capture_gen" ucap "$OUT/r1.ucap" 10000 2000 / >/dev/null   # 5 s at 1x
"$BENCH/capture_gen" ucap "$OUT/r10.ucap" 40000 2000 / >/dev/null  # 2 s at 10x
"$BENCH/capture_gen" ucap "$OUT/rmax.ucap" 150000 2000 / >/dev/null
for i in $(seq 1 "$RUNS"); do
	echo "replay run $i/$RUNS ..." >&2
	"$UMBRA" replay "$OUT/r1.ucap" --target "$TARGET" --speed 1x -C "$CONNS" --format json >"$OUT/r1.$i.json" || exit 1
	"$UMBRA" replay "$OUT/r10.ucap" --target "$TARGET" --speed 10x -C "$CONNS" --format json >"$OUT/r10.$i.json" || exit 1
	"$UMBRA" replay "$OUT/rmax.ucap" --target "$TARGET" --speed max -C "$CONNS" --format json >"$OUT/rmax.$i.json" || exit 1
	wrk -t1 -c"$CONNS" -d3s "http://$TARGET/" | awk '/Requests\/sec/ {print $2}' >"$OUT/wrk.$i"
done
printf '\n%-8s %12s %12s %8s %12s %10s\n' speed requested achieved ratio "lag p99 ms" "p99 ms"
for s in 1 10; do
	req=$(for i in $(seq 1 "$RUNS"); do jget "$OUT/r$s.$i.json" '["target_rate"]'; done | median)
	ach=$(for i in $(seq 1 "$RUNS"); do jget "$OUT/r$s.$i.json" '["achieved_rate"]'; done | median)
	lag=$(for i in $(seq 1 "$RUNS"); do jget "$OUT/r$s.$i.json" '["lag"]["p99_ms"]'; done | median)
	lat=$(for i in $(seq 1 "$RUNS"); do jget "$OUT/r$s.$i.json" '["latency"]["p99_ms"]'; done | median)
	printf '%-8s %12.1f %12.1f %8s %12.3f %10.3f\n' "${s}x" "$req" "$ach" "$(ratio "$ach" "$req")" "$lag" "$lat"
done
ach=$(for i in $(seq 1 "$RUNS"); do jget "$OUT/rmax.$i.json" '["achieved_rate"]'; done | median)
lat=$(for i in $(seq 1 "$RUNS"); do jget "$OUT/rmax.$i.json" '["latency"]["p99_ms"]'; done | median)
wrk=$(cat "$OUT"/wrk.* | median)
printf '%-8s %12s %12.1f %8s %12s %10.3f\n' max "-" "$ach" "-" "-" "$lat"
printf '%-8s %12s %12.1f\n' "wrk" "-" "$wrk"
printf 'replay max / wrk (same nginx, %d connections): %s\n' "$CONNS" "$(ratio "$ach" "$wrk")"

# --------------------------------------------------------------- pcap import
echo "pcap import ($PCAP_MB MB) ..." >&2
want=$("$BENCH/capture_gen" pcap "$OUT/big.pcap" "$PCAP_MB")
bytes=$(stat -c %s "$OUT/big.pcap")
for i in $(seq 1 "$RUNS"); do
	s=$(date +%s.%N)
	"$UMBRA" capture --pcap "$OUT/big.pcap" -w "$OUT/big.ucap" --force 2>"$OUT/imp.$i.log" || { cat "$OUT/imp.$i.log"; exit 1; }
	e=$(date +%s.%N)
	awk -v b="$bytes" -v s="$s" -v e="$e" 'BEGIN {printf "%.1f\n", b/1e6/(e-s)}' >>"$OUT/imp.mbs"
	s=$(date +%s.%N)
	tcpdump -r "$OUT/big.pcap" -w /dev/null 2>/dev/null
	e=$(date +%s.%N)
	awk -v b="$bytes" -v s="$s" -v e="$e" 'BEGIN {printf "%.1f\n", b/1e6/(e-s)}' >>"$OUT/td.mbs"
done
got=$(sed -n 's/.*requests seen: \([0-9]*\), written: \([0-9]*\).*/\2/p' "$OUT/imp.1.log")
lostn=$(sed -n 's/.*requests lost: \([0-9]*\).*/\1/p' "$OUT/imp.1.log")
imp=$(median <"$OUT/imp.mbs")
td=$(median <"$OUT/td.mbs")
printf '\npcap import: %s MB/s (umbra capture --pcap, wall clock), tcpdump -r -w /dev/null: %s MB/s, ratio %s\n' \
	"$imp" "$td" "$(ratio "$imp" "$td")"
printf '  %s exchanges generated, %s written, %s lost\n' "$want" "$got" "$lostn"
[ "$got" = "$want" ] && [ "$lostn" = 0 ] || { echo "capture.sh: import lost requests" >&2; exit 1; }

# --------------------------------------------------------------- tap cost
tap_cfg() {
	cat >"$OUT/p$1.yaml" <<EOF
service: bench
production:
  upstreams: [$TARGET]
listen:
  address: 127.0.0.1:$PROXY_PORT
  workers: 1
capture:
  tap: $2
  tap_socket: $OUT/tap.sock
EOF
}
tap_cfg off false
tap_cfg on true
run_proxy() { # MODE(off|idle|attached) RUN
	local cfg=$OUT/p$([ "$1" = off ] && echo off || echo on).yaml cap=
	"$UMBRA" proxy --config "$cfg" --log-level error &
	local pp=$!
	wait_port "$PROXY_PORT"
	if [ "$1" = attached ]; then
		"$UMBRA" capture --from-proxy --socket "$OUT/tap.sock" -w "$OUT/tap.ucap" --force --log-level error 2>"$OUT/tapcap.log" &
		cap=$!
		sleep 0.5
	fi
	wrk -t1 -c"$CONNS" -d"${TAP_SECONDS}s" "http://127.0.0.1:$PROXY_PORT/" | awk '/Requests\/sec/ {print $2}' >>"$OUT/tap.$1"
	[ -n "$cap" ] && { kill -INT "$cap"; wait "$cap"; }
	kill "$pp"
	wait "$pp" 2>/dev/null
}
for i in $(seq 1 "$RUNS"); do
	echo "tap run $i/$RUNS ..." >&2
	for m in off idle attached; do run_proxy "$m" "$i"; done
done
off=$(median <"$OUT/tap.off")
idle=$(median <"$OUT/tap.idle")
att=$(median <"$OUT/tap.attached")
printf '\nproxy req/s (wrk -c%d, 1 worker): tap off %s, tap on without client %s (ratio %s), with a client writing a file %s (ratio %s)\n' \
	"$CONNS" "$off" "$idle" "$(ratio "$idle" "$off")" "$att" "$(ratio "$att" "$off")"
grep -E "exchanges written|lost" "$OUT/tapcap.log" | sed 's/^/  last attached run: /'
