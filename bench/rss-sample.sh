#!/usr/bin/env bash
# rss-sample.sh OUT CMD...: runs CMD (in the foreground, for the harness)
# and appends its RSS in KiB to OUT every second.
out=$1
shift
"$@" &
pid=$!
( while kill -0 "$pid" 2>/dev/null; do
	awk '/^VmRSS/ {print $2}' "/proc/$pid/status" >>"$out" 2>/dev/null
	sleep 1
  done ) &
trap 'kill -TERM $pid 2>/dev/null' TERM INT
wait "$pid"
