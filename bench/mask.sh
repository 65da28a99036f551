#!/bin/sh
# mask.sh: masking throughput (MB/s per core) for 1 KiB and 16 KiB JSON,
# form and text bodies, median of several runs, with memcpy and jansson
# round-trip anchors measured in the same run (bench/mask.c).
#   BENCH=build/bench bash bench/mask.sh [runs]
set -eu
BENCH=${BENCH:-build/bench}
exec "$BENCH/mask" "${1:-7}"
