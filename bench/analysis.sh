#!/bin/bash
# analysis.sh: throughput of the deviation analysis (make bench).
#
#  1. bench/analysis.c: points per second per core through the streaming
#     analyzer, against the seed formula alone as the anchor, and its
#     parts; medians of RUNS runs.
#  2. `umbra analyze` end to end on a generated day of 1-s points for
#     five metrics plus rps (two wide CSV files): reading, parsing and
#     analysing; the median wall time of RUNS runs.
#
# Env: BENCH (bench programs), UMBRA (the binary); TICKS, RUNS to
# override the sizes.
set -euo pipefail
BENCH=${BENCH:-build/bench}
UMBRA=${UMBRA:-build/umbra}
TICKS=${TICKS:-200000}
RUNS=${RUNS:-5}

"$BENCH/analysis" "$TICKS" "$RUNS"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp" <<'PY'
import random, sys
d = sys.argv[1]
r = random.Random(1)
T0 = 1767225600
for name in ("p", "s"):
    with open(f"{d}/{name}.csv", "w") as f:
        f.write("timestamp,rps,cpu,memory,latency_p50,latency_p99,net_tx\n")
        for k in range(86400):
            rps = 200 * (1 + r.gauss(0, 0.02))
            f.write("%d,%.2f,%.5f,%.0f,%.6f,%.6f,%.0f\n" % (
                T0 + k, rps, rps * 0.002 * (1 + r.gauss(0, 0.02)),
                3e8 * (1 + r.gauss(0, 0.003)),
                0.005 * (1 + r.gauss(0, 0.03)),
                0.03 * (1 + r.gauss(0, 0.06)),
                rps * 6000 * (1 + r.gauss(0, 0.02))))
PY
times=()
for i in $(seq "$RUNS"); do
	s=$(date +%s.%N)
	"$UMBRA" analyze --prod "$tmp/p.csv" --shadow "$tmp/s.csv" \
		>"$tmp/out" 2>"$tmp/err"
	e=$(date +%s.%N)
	times+=("$(echo "$e - $s" | bc)")
done
med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
bytes=$(($(stat -c %s "$tmp/p.csv") + $(stat -c %s "$tmp/s.csv")))
printf 'umbra analyze, one day of 1-s points, 5 metrics + rps, %d MB:\n' \
	$((bytes / 1000000))
printf '  median of %d runs: %.2f s, %.0f points/s end to end (%s)\n' \
	"$RUNS" "$med" "$(echo "86400 * 5 / $med" | bc -l)" "$(tail -1 "$tmp/err")"
