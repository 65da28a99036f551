#!/usr/bin/env bash
# sandbox.sh: what the proxy workers' seccomp filter (listen.sandbox,
# issue 19) costs the production path, in two numbers a shared, noisy
# machine disturbs little: the filter's cost per system call (thread CPU
# time, bench/sandbox.c) and `umbra proxy`'s system calls and CPU time per
# request (one worker, wrk to tests/tools/testsvc, plain and mirrored;
# calls counted with strace -c in a separate run). Overhead = extra ns per
# call x calls per request / CPU per request; the issue's bar is 2 %.
#
#   bench/sandbox.sh     (make bench sets UMBRA, TOOLS, BENCH)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
UMBRA=${UMBRA:-$ROOT/build/umbra}
TOOLS=${TOOLS:-$ROOT/build/tools}
BENCH=${BENCH:-$ROOT/build/bench}
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$TMP"; }
trap cleanup EXIT
for t in wrk strace; do
	command -v $t >/dev/null || { echo "sandbox.sh: $t is not installed" >&2; exit 1; }
done
fp() { python3 -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])"; }

out=$("$BENCH/sandbox") || exit 1
echo "$out"
extra_ns=$(echo "$out" | awk -F'|' '/ns \|$/ {gsub(/[ +ns]/, "", $5); print $5}')

BP=$(fp); SP=$(fp); LP=$(fp)
"$TOOLS/testsvc" --port "$BP" --name prod >/dev/null 2>&1 & PIDS+=($!)
"$TOOLS/testsvc" --port "$SP" --name shadow >/dev/null 2>&1 & PIDS+=($!)
printf 'service: bench\nproduction:\n  upstreams: [127.0.0.1:%s]\n' "$BP" >"$TMP/u.yaml"
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
wait_port "$BP" && wait_port "$SP" || { echo "sandbox.sh: testsvc did not start" >&2; exit 1; }
echo
echo "| traffic | calls/request | CPU us/request | overhead |"
echo "| --- | --- | --- | --- |"
for mode in plain mirror; do
	extra=()
	[ $mode = mirror ] && extra=(--shadow "127.0.0.1:$SP" --ratio 1)
	cmd=("$UMBRA" proxy --config "$TMP/u.yaml" --listen "127.0.0.1:$LP" --prod "127.0.0.1:$BP" "${extra[@]}" --workers 1 --log-level error)
	"${cmd[@]}" & P=$!; PIDS+=($P)
	wait_port "$LP" || { echo "sandbox.sh: umbra proxy did not start" >&2; exit 1; }
	wrk -t1 -c16 -d1s "http://127.0.0.1:$LP/" >/dev/null 2>&1
	c0=$(awk '{print $14+$15}' /proc/$P/stat)
	n=$(wrk -t1 -c16 -d4s "http://127.0.0.1:$LP/" 2>/dev/null | awk '/requests in/ {print $1}')
	c1=$(awk '{print $14+$15}' /proc/$P/stat)
	kill $P; wait $P 2>/dev/null
	cpu=$(python3 -c "print(($c1-$c0)/$(getconf CLK_TCK)*1e6/$n)")
	strace -f -c -o "$TMP/strace.txt" "${cmd[@]}" & ST=$!; PIDS+=($ST)
	wait_port "$LP" || { echo "sandbox.sh: umbra proxy did not start under strace" >&2; exit 1; }
	m=$(wrk -t1 -c16 -d3s "http://127.0.0.1:$LP/" 2>/dev/null | awk '/requests in/ {print $1}')
	kill "$(pgrep -P $ST)"; wait $ST 2>/dev/null
	calls=$(awk '$NF=="total" {print $4}' "$TMP/strace.txt")
	python3 -c "
c=$calls/$m; cpu=$cpu
print(f'| $mode | {c:.2f} | {cpu:.2f} | {100*c*$extra_ns/1000/cpu:.2f} % |')"
done
