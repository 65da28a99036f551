#!/usr/bin/env bash
# hostile.sh: production through umbra while the shadow or other clients
# attack it (issue 17), in one invocation:
#
#   RUNS=3 DURATION=10s bench/hostile.sh      (make bench sets UMBRA, TOOLS)
#
# umbra proxy (2 workers, every request mirrored) in front of testsvc;
# wrk (CONNS connections, DURATION) measures production's req/s and p99
# through it with each shadow: healthy (testsvc), endless (a chunked body
# without end), garbage, reset, stall (a head, then silence), slowread
# (takes the copies a byte every 10 ms). Then, with the healthy shadow,
# the same wrk beside clients that attack the proxy itself: 20 that ask
# for 20 MB and never read it (nevread), 500 that send a body a byte
# every 10 s (slowbody). Modes alternate within each run; medians.
#
# Prints per mode req/s, p99 and the proxy's peak RSS, and the targets:
# each hostile shadow >= 0.9x the healthy shadow's req/s, RSS <= 96 MiB
# throughout, and the attacked p99 within 1.5x of the unattacked one.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
. "$HERE/common.bash"
UMBRA=${UMBRA:-$ROOT/build/umbra}
TOOLS=${TOOLS:-$ROOT/build/tools}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
OUT=${BENCH_OUT:-/tmp/umbra-bench-hostile.$$}
PX=18300 PROD=18301 SHADOW=18302
SHADOWS="healthy endless garbage reset stall slowread"
CLIENTS="calm nevread slowbody"
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "hostile.sh: wrk is not installed" >&2; exit 1; }

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

"$TOOLS/testsvc" --port $PROD >/dev/null &
pids+=($!)
wait_port $PROD

# wrk's "99%" line in ms
p99_ms() {
	awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
		f = (u == "us") ? 0.001 : (u == "s") ? 1000 : 1; printf "%.2f\n", v * f }' "$1"
}
rps() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }

# attack clients against the proxy (python, in the background)
attack() {
	python3 - "$1" $PX >/dev/null 2>&1 <<'EOF' &
import socket, sys, time
mode, port = sys.argv[1], int(sys.argv[2])
socks = []
def conn():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    return s
if mode == "nevread":
    for _ in range(20):
        s = conn()
        s.sendall(b"GET /big?bytes=20000000 HTTP/1.1\r\nHost: h\r\n\r\n")
        socks.append(s)
    time.sleep(3600)
else:
    for _ in range(500):
        s = conn()
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n")
        socks.append(s)
    while True:
        for s in socks:
            try:
                s.send(b"x")
            except OSError:
                pass
        time.sleep(10)
EOF
	echo $!
}

# one measurement: shadow mode or client mode, run number
measure() {
	local mode=$1 run=$2 sh="" atk="" spid
	case $mode in
	healthy|calm|nevread|slowbody)
		"$TOOLS/testsvc" --port $SHADOW --name shadow >/dev/null & spid=$! ;;
	*)	"$TOOLS/hostilesvc" --port $SHADOW --mode "$mode" >/dev/null & spid=$! ;;
	esac
	wait_port $SHADOW
	"$UMBRA" proxy --listen 127.0.0.1:$PX --prod 127.0.0.1:$PROD \
		--shadow 127.0.0.1:$SHADOW --ratio 1 --workers 2 --log-level error \
		--stats-interval 1s 2>"$OUT/$mode.$run.log" &
	local ppid=$!
	wait_port $PX
	# the attack settles first (production builds the 20 MB responses)
	case $mode in nevread|slowbody) atk=$(attack $mode); sleep 3 ;; esac
	: >"$OUT/$mode.$run.rss"
	( while kill -0 $ppid 2>/dev/null; do
		awk '/^VmRSS:/ { print $2 }' /proc/$ppid/status >>"$OUT/$mode.$run.rss" 2>/dev/null
		sleep 0.1
	  done ) &
	local rpid=$!
	wrk -t2 -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$PX/users/1" \
		>"$OUT/$mode.$run.wrk" 2>&1
	# the peak, after the attack too
	local rss
	rss=$(awk '/^VmHWM:/ { print $2 }' /proc/$ppid/status)
	[ -n "$atk" ] && kill "$atk" 2>/dev/null
	kill $ppid $spid 2>/dev/null
	wait $ppid $spid $rpid 2>/dev/null
	echo "$mode $(rps "$OUT/$mode.$run.wrk") $(p99_ms "$OUT/$mode.$run.wrk") $rss" >>"$OUT/results"
}

echo "# umbra under attack, $(date -u +%FT%TZ), $RUNS runs of $DURATION, $CONNS connections, medians"
for run in $(seq 1 "$RUNS"); do
	for m in $SHADOWS $CLIENTS; do
		echo "run $run/$RUNS: $m ..." >&2
		measure "$m" "$run"
	done
done

col() { awk -v m="$1" -v c="$2" '$1 == m { print $c }' "$OUT/results" | median; }
maxcol() { awk -v m="$1" '$1 == m { print $4 }' "$OUT/results" | sort -n | tail -1; }
printf '\n%-10s %10s %9s %9s %12s\n' mode req/s p99ms ratio peakRSS_MiB
for m in $SHADOWS; do
	printf '%-10s %10s %9s %9s %12d\n' "$m" "$(col "$m" 2)" "$(col "$m" 3)" \
		"$(ratio "$(col "$m" 2)" "$(col healthy 2)")" $(( $(maxcol "$m") / 1024 ))
done
for m in $CLIENTS; do
	printf '%-10s %10s %9s %9s %12d\n' "$m" "$(col "$m" 2)" "$(col "$m" 3)" \
		"$(ratio "$(col "$m" 3)" "$(col calm 3)")" $(( $(maxcol "$m") / 1024 ))
done
echo
echo "targets: hostile shadows' req/s ratio >= 0.9 of healthy; attacked clients'"
echo "ratio (p99 / calm p99) <= 1.5; peak RSS <= 96 MiB. raw: $OUT"
