#!/bin/sh
# metrics.sh: store ingest (bench/store.c) and collector cost
# (bench/collect.c); run by `make bench` with BENCH set to the built
# benchmark programs. The store's database goes to BENCH_DIR (default:
# /tmp), which should be the disk umbra's store would use.
set -eu
: "${BENCH:?set BENCH to the directory of the benchmark programs}"
echo "metrics: $(nproc) cores, $(uname -r)"
"$BENCH/store" "${BENCH_DIR:-/tmp}" 2000000 200
"$BENCH/collect" 100
