#!/bin/bash
# mitigate.sh: the cost of the decide-and-act step per tick, against the
# analysis step it follows (make bench). bench/mitigate.c; medians of
# RUNS runs of TICKS ticks, thread CPU time.
set -euo pipefail
BENCH=${BENCH:-build/bench}
TICKS=${TICKS:-100000}
RUNS=${RUNS:-5}
"$BENCH/mitigate" "$TICKS" "$RUNS"
