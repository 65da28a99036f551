#!/bin/sh
# check-loaded.sh: `make check` on a busy machine, several times in a row,
# each from a fresh clone of HEAD, while stress-ng keeps both cores and
# some memory busy (issue 16: the suite must hold on a loaded 2-core host).
# Not part of CI: it takes RUNS times a loaded `make check`.
#
#   scripts/check-loaded.sh                 5 runs, plain build
#   RUNS=1 SANITIZE=address,undefined scripts/check-loaded.sh
#   STRESS="--cpu 2 --vm 1 --vm-bytes 512M"  the load (stress-ng flags)
#
# Prints one summary line per run (its exit status, wall time and the
# suite's closing count); exits 1 when any run failed. Each run's log is
# kept in $OUT (default build/check-loaded/).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
SANITIZE=${SANITIZE:-}
STRESS=${STRESS:---cpu 2 --vm 1 --vm-bytes 512M}
OUT=${OUT:-$top/build/check-loaded}
command -v stress-ng >/dev/null 2>&1 || "$top/scripts/deps.sh"
mkdir -p "$OUT"
rev=$(git -C "$top" rev-parse HEAD)
work=$(mktemp -d /tmp/umbra-check-loaded.XXXXXX)
stress_pid=""
run_pid=""
cleanup() {
	[ -n "$run_pid" ] && kill -TERM "-$run_pid" 2>/dev/null
	[ -n "$stress_pid" ] && kill -TERM "-$stress_pid" 2>/dev/null
	[ -n "$stress_pid" ] && wait "$stress_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stress-ng in its own process group, so that every worker goes with it.
# shellcheck disable=SC2086
setsid stress-ng $STRESS --quiet &
stress_pid=$!
echo "check-loaded: commit $rev, stress-ng $STRESS (pid $stress_pid)," \
    "$RUNS run(s), SANITIZE=${SANITIZE:-none}, logs in $OUT"

failed=0
i=1
while [ "$i" -le "$RUNS" ]; do
	rm -rf "$work/umbra"
	git clone -q "$top" "$work/umbra" &&
	    git -C "$work/umbra" checkout -q "$rev" || exit 1
	log="$OUT/run-$i.log"
	t0=$(date +%s)
	# its own process group, so that an interrupt stops all of it
	setsid sh -c 'cd "$1" && exec make check SANITIZE="$2"' sh \
	    "$work/umbra" "$SANITIZE" >"$log" 2>&1 &
	run_pid=$!
	wait "$run_pid"
	st=$?
	run_pid=""
	t1=$(date +%s)
	count=$(grep -E '^check: [0-9]+ passed' "$log" | tail -1)
	[ -n "$count" ] || count=$(grep -E '^(FAILED|Ran [0-9]+ tests)' "$log" |
	    tr '\n' ' ')
	echo "run $i: exit $st in $((t1 - t0)) s: $count"
	[ "$st" = 0 ] || failed=1
	i=$((i + 1))
done
exit $failed
