#!/usr/bin/env python3
"""Where `make check`'s time went: reads the times the suites left in DIR
(unit/*.tap, Criterion's TAP reports; e2e.tsv, tests/e2e/run.py's) and
prints the ten slowest tests with their times, then one closing count.

    python3 tests/slowest.py build/times
"""
import glob
import os
import re
import sys

TOP = 10  # how many of the slowest to show

# Criterion's TAP line: "ok - suite::name  (0.12s)", "not ok - ...",
# skips carry "# SKIP".
TAP_LINE = re.compile(r"^(ok|not ok) - (\S+).*\(([\d.]+)s\)")


def unit_times(d):
    out = []
    for path in sorted(glob.glob(os.path.join(d, "unit", "*.tap"))):
        binary = os.path.basename(path)[:-len(".tap")]
        with open(path, errors="replace") as f:
            for line in f:
                m = TAP_LINE.match(line)
                if not m:
                    continue
                outcome = "ok" if m.group(1) == "ok" else "failed"
                if "# SKIP" in line:
                    outcome = "skipped"
                out.append((float(m.group(3)), f"unit {binary} {m.group(2)}",
                            outcome))
    return out


def e2e_times(d):
    out = []
    path = os.path.join(d, "e2e.tsv")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                secs, name, outcome = line.rstrip("\n").split("\t")
                out.append((float(secs), f"e2e {name}", outcome))
    return out


def main():
    if len(sys.argv) != 2:
        print("usage: slowest.py DIR", file=sys.stderr)
        return 2
    times = unit_times(sys.argv[1]) + e2e_times(sys.argv[1])
    if not times:
        print(f"slowest.py: no test times under {sys.argv[1]}",
              file=sys.stderr)
        return 1
    total = sum(t for t, _, _ in times)
    print(f"\nthe {TOP} slowest of {len(times)} tests "
          f"({total:.0f} s of test time in all):")
    for secs, name, _ in sorted(times, reverse=True)[:TOP]:
        print(f"  {secs:7.2f} s  {name}")
    count = {k: sum(1 for _, _, o in times if o == k)
             for k in ("ok", "failed", "skipped")}
    print(f"check: {count['ok']} passed, {count['failed']} failed, "
          f"{count['skipped']} skipped")
    return 1 if count["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
