#!/bin/bash
# analysis.sh: throughput of the deviation analysis (make bench).
#
#  1. bench/analysis.c: points per second per core through the streaming
#     analyzer, against the seed formula alone as the anchor, and its
#     parts; medians of RUNS runs.
#  2. `umbra analyze` end to end on a generated day of 1-s points for
#     five metrics plus rps (two wide CSV files): reading, parsing and
#     analysing; the median CPU time of RUNS runs.
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
# CPU time (user + system) of each run, from getrusage of the children:
# the host is shared, wall time would measure the neighbours too.
python3 - "$RUNS" "$UMBRA" "$tmp" <<'PY'
import os, resource, subprocess, sys
runs, umbra, d = int(sys.argv[1]), sys.argv[2], sys.argv[3]
cpu = []
for _ in range(runs):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([umbra, "analyze", "--prod", f"{d}/p.csv",
                        "--shadow", f"{d}/s.csv"], capture_output=True,
                       text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu.append(after.ru_utime - before.ru_utime +
               after.ru_stime - before.ru_stime)
cpu.sort()
med = cpu[runs // 2] if runs % 2 else (cpu[runs // 2 - 1] + cpu[runs // 2]) / 2
size = os.path.getsize(f"{d}/p.csv") + os.path.getsize(f"{d}/s.csv")
print(f"umbra analyze, one day of 1-s points, 5 metrics + rps, "
      f"{size // 1000000} MB:")
print(f"  median of {runs} runs: {med:.2f} s of CPU, "
      f"{86400 * 5 / med:.0f} points/s end to end, parsing included "
      f"({r.stderr.strip().splitlines()[-1]})")
PY
