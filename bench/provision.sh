#!/bin/sh
# provision.sh: the cost of a drift check and of a config diff on the
# control thread (bench/drift.c), medians of 51 runs each.
set -eu
echo "| what | median | anchor | ratio | note |"
echo "| --- | --- | --- | --- | --- |"
"$BENCH/drift" 200 51
"$BENCH/drift" 2000 21
