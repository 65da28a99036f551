#!/bin/bash
# nab.sh: the Numenta Anomaly Benchmark. Prints every detector's NAB
# scores (standard, reward_low_FP_rate, reward_low_FN_rate, each at its
# corpus-wide best threshold) through `umbra analyze --nab`, the speed
# of every detector (median of 5 runs, one core), and the MASE of every
# forecaster at horizons 1, 12 and 60 against seasonal naive.
# Env (from make bench): UMBRA, BENCH.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "-- NAB scores (umbra analyze --nab data/nab --detector all)"
"$UMBRA" analyze --nab data/nab --out "$out" --detector all
rm -rf "$out"/*
echo
echo "-- speed"
"$BENCH/nabspeed" data/nab 5
echo
echo "-- forecast accuracy"
"$BENCH/mase" data/nab 5
