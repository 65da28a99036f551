#!/usr/bin/env bash
# proxy.sh: the proxy benchmark (issue 3), with nginx (plain and with its
# mirror module) and HAProxy as anchors measured in the same invocation,
# using the shared harness (../shared/bench/run.sh; SHADOWBENCH overrides).
#
#   RUNS=3 bench/proxy.sh        (make bench sets UMBRA)
#
# Prints, from the medians of RUNS runs:
#   - every scenario's req/s and p99
#   - the target ratios: mirror-fast vs nginx plain (>= 1.0) and vs nginx
#     mirror (>= 4); slow/dead/blackhole shadow vs umbra without a shadow
#     (throughput >= 0.9, p99 <= 1.2)
#   - below saturation (THINK_MS=10): p99 against nginx plain's
#   - RSS under a black-holed shadow at full rate for RSS_SECONDS (60):
#     max RSS against mirror.queue_bytes + 32 MiB
#   - 2 workers against 1 (unpinned, same run): >= 1.6
# Umbra mirrors every request (ratio 1), as nginx's mirror does.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
HARNESS=${SHADOWBENCH:-$(cd "$ROOT/.." && pwd)/shared/bench}
UMBRA=${UMBRA:-$ROOT/build/umbra}
RUNS=${RUNS:-3}
RSS_SECONDS=${RSS_SECONDS:-60}
OUT=${BENCH_OUT:-/tmp/umbra-bench-proxy.$$}
mkdir -p "$OUT"
if [ ! -x "$HARNESS/run.sh" ]; then
	echo "proxy.sh: the shared harness is not at $HARNESS (set SHADOWBENCH)" >&2
	exit 1
fi
PCMD="$UMBRA proxy --listen 127.0.0.1:{listen_port} --prod {prod} \${SHADOW_ADDR:+--shadow \$SHADOW_ADDR} --ratio 1 --workers \${UMBRA_WORKERS:-1} --log-level error"

# table FILE: "scenario req/s p99" lines of a harness results file
table() { awk '/^[a-z]/ && $3 ~ /^[0-9.]+$/ {print $1, $3, $5}' "$1"; }

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# metric RUNDIR-GLOB SCENARIO COLUMN(2=req/s, 3=p99): median over runs
metric() {
	local f
	for f in $1; do table "$f"; done | awk -v s="$2" -v c="$3" '$1==s {print $c}' | median
}

echo "# umbra proxy benchmark, $(date -u +%FT%TZ), $RUNS runs, medians"
for i in $(seq 1 "$RUNS"); do
	echo "run $i/$RUNS (saturation) ..." >&2
	LOGDIR=$OUT/sat$i "$HARNESS/run.sh" --proxy-cmd "$PCMD" --proxy-port 18100 \
		--proxy-name umbra >"$OUT/sat$i.txt" 2>&1 || { cat "$OUT/sat$i.txt"; exit 1; }
	cp "$OUT/sat$i/results.txt" "$OUT/sat$i.res"
done
echo "run (THINK_MS=10) ..." >&2
THINK_MS=10 LOGDIR=$OUT/think "$HARNESS/run.sh" --proxy-cmd "$PCMD" --proxy-port 18100 \
	--proxy-name umbra --proxy-shadows 'none fast' --only 'nginx-plain|umbra' \
	>"$OUT/think.txt" 2>&1 || { cat "$OUT/think.txt"; exit 1; }
cp "$OUT/think/results.txt" "$OUT/think.res"

printf '\n%-24s %10s %9s\n' scenario req/s p99ms
for s in direct nginx-plain nginx-mirror-fast nginx-mirror-slow nginx-mirror-dead \
	nginx-mirror-blackhole haproxy-plain umbra-plain umbra-mirror-fast \
	umbra-mirror-slow umbra-mirror-dead umbra-mirror-blackhole; do
	printf '%-24s %10s %9s\n' "$s" "$(metric "$OUT/sat*.res" "$s" 2)" "$(metric "$OUT/sat*.res" "$s" 3)"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b+0 == 0) print "nan"; else printf "%.2f", a/b}'; }
R() { metric "$OUT/sat*.res" "$1" "$2"; }
echo
echo "targets (ratios of medians, same invocation):"
printf '  mirror-fast / nginx-plain      %s  (>= 1.0)\n' "$(ratio "$(R umbra-mirror-fast 2)" "$(R nginx-plain 2)")"
printf '  mirror-fast / nginx-mirror     %s  (>= 4)\n' "$(ratio "$(R umbra-mirror-fast 2)" "$(R nginx-mirror-fast 2)")"
for k in slow dead blackhole; do
	printf '  mirror-%-9s / umbra-plain  %s  (>= 0.9)   p99 %s  (<= 1.2)\n' "$k" \
		"$(ratio "$(R umbra-mirror-$k 2)" "$(R umbra-plain 2)")" \
		"$(ratio "$(R umbra-mirror-$k 3)" "$(R umbra-plain 3)")"
done
T() { metric "$OUT/think.res" "$1" 3; }
printf '  THINK_MS=10 p99: umbra-plain %s ms, umbra-mirror-fast %s ms, nginx-plain %s ms (<= nginx)\n' \
	"$(T umbra-plain)" "$(T umbra-mirror-fast)" "$(T nginx-plain)"

# RSS under a black-holed shadow at full rate.
echo "run (RSS, black-holed shadow, ${RSS_SECONDS}s) ..." >&2
RSSCMD="bash $HERE/rss-sample.sh $OUT/rss.samples $PCMD"
DURATION=${RSS_SECONDS}s LOGDIR=$OUT/rss "$HARNESS/run.sh" --proxy-cmd "$RSSCMD" \
	--proxy-port 18100 --proxy-name umbra --proxy-shadows blackhole --only 'umbra' \
	>"$OUT/rss.txt" 2>&1 || { cat "$OUT/rss.txt"; exit 1; }
max_kib=$(sort -n "$OUT/rss.samples" | tail -1)
queue_mib=64
printf '  RSS under black-holed shadow: max %d MiB over %ss at %s req/s (bound: queue_bytes %d MiB + 32 MiB = %d MiB)\n' \
	$((max_kib / 1024)) "$RSS_SECONDS" "$(metric "$OUT/rss/results.txt" umbra-mirror-blackhole 2)" \
	$queue_mib $((queue_mib + 32))

# Two workers against one, unpinned, same invocation.
echo "run (workers, unpinned) ..." >&2
for w in 1 2; do
	UMBRA_WORKERS=$w PIN=0 LOGDIR=$OUT/w$w "$HARNESS/run.sh" --proxy-cmd "$PCMD" \
		--proxy-port 18100 --proxy-name "umbra$w" --proxy-shadows none \
		--only "umbra$w" >"$OUT/w$w.txt" 2>&1 || { cat "$OUT/w$w.txt"; exit 1; }
done
w1=$(metric "$OUT/w1/results.txt" umbra1-plain 2)
w2=$(metric "$OUT/w2/results.txt" umbra2-plain 2)
printf '  2 workers / 1 worker (unpinned): %s / %s = %s  (>= 1.6)\n' "$w2" "$w1" "$(ratio "$w2" "$w1")"
echo "raw results: $OUT"
