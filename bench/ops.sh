#!/bin/bash
# ops.sh: the operational benchmark (issue 27). Generates the seeded corpus
# of bench/opsgen.py (three weeks of 5-minute cpu, request counts, latency,
# memory and queue series with daily and weekly cycles; spikes, dips,
# level shifts, variance changes, ramps, flatlines, lost and shifted days,
# changed noise shape) in NAB's layout, scores detectors on it with NAB's
# scorer (`umbra analyze --nab`), prints each one's per-kind recall and
# false positives (bench/opskinds.py), and the default detector's
# cross-validated scores on it and on NAB (`umbra analyze --cv`).
# Env (from make bench): UMBRA. OPS_CV=0 skips the cross-validations
# (several minutes each on a loaded machine).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 bench/opsgen.py "$tmp/ops" --seed 27
echo "-- operational benchmark (bench/opsgen.py --seed 27): per-kind recall"
"$UMBRA" analyze --nab "$tmp/ops" --out "$tmp/out" --per-file \
	--detector gaussian,zscore,ensemble2,ensemble3,stuck,season \
	| tee "$tmp/scores" | grep -v '^file '
python3 bench/opskinds.py < "$tmp/scores"
if [ "${OPS_CV:-1}" != 0 ]; then
	for spec in "data/nab category" "data/nab 5" "$tmp/ops 5"; do
		set -- $spec
		echo "-- cross-validation: $1 --cv $2"
		"$UMBRA" analyze --nab "$1" --cv "$2"
	done
fi
