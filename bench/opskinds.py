#!/usr/bin/env python3
"""opskinds.py: the per-kind table of the operational benchmark
(bench/opsgen.py). Reads `umbra analyze --nab DIR --per-file` output on
stdin (lines "file DETECTOR TYPE/TYPE-KIND-I.csv TP FN FP", counted at the
standard profile's corpus-wide threshold, and the score lines) and prints,
per detector, each anomaly kind's recall (windows detected / windows) and
false positives (detections outside windows in that kind's files).
Standard library only."""
import collections
import sys

KINDS = ["spike", "dip", "level_shift", "variance", "ramp", "flatline",
         "season_lost", "season_shift", "noise_shape", "none"]


def main():
    per = collections.OrderedDict()
    std = {}
    for line in sys.stdin:
        f = line.split()
        if len(f) >= 3 and f[1] == "standard":
            std[f[0]] = f[2]
        if len(f) != 6 or f[0] != "file":
            continue
        det, path = f[1], f[2]
        tp, fn, fp = int(f[3]), int(f[4]), int(f[5])
        kind = path.split("/")[-1].rsplit("-", 1)[0].split("-", 1)[1]
        k = per.setdefault(det, {}).setdefault(kind, [0, 0, 0])
        k[0] += tp
        k[1] += fn
        k[2] += fp
    for det, kinds in per.items():
        print("%s (standard %s): recall / FP per kind" %
              (det, std.get(det, "?")))
        print("| kind | windows | detected | recall | FP |")
        print("| --- | --- | --- | --- | --- |")
        for kind in KINDS:
            if kind not in kinds:
                continue
            tp, fn, fp = kinds[kind]
            n = tp + fn
            rec = "%.0f %%" % (100.0 * tp / n) if n else "-"
            print("| %s | %d | %d | %s | %d |" % (kind, n, tp, rec, fp))
        print()


if __name__ == "__main__":
    main()
