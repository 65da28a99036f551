#!/bin/sh
# provision.sh: the cost of a drift check and of a config diff on the
# control thread (bench/drift.c), medians of 51 runs each; then the cost
# of a change to production's config dir under `umbra run` per changed
# file, for changes of 1, 100, 1000 and 3000 files of a 3000-file dir,
# with the slowest /healthz answer meanwhile (bench/provision_change.py).
set -eu
echo "| what | median | anchor | ratio | note |"
echo "| --- | --- | --- | --- | --- |"
"$BENCH/drift" 200 51
"$BENCH/drift" 2000 21
echo
UMBRA=${UMBRA:-build/umbra} TOOLS=${TOOLS:-build/tools} \
	python3 "$(dirname "$0")/provision_change.py" 3000 "${RUNS:-3}"
