#!/usr/bin/env python3
"""End-to-end test runner: discovers tests/e2e/test_*.py (unittest) and runs
them against the built binary ($UMBRA). Every test starts real processes on
loopback, bounded in time, and cleans them up on every exit path (lib.py).

    UMBRA=build/umbra python3 tests/e2e/run.py [-k PATTERN] [-v] [--times F]

--times F writes each test's wall time and outcome to F (tab-separated),
which `make check` reads for its list of the slowest tests.
"""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class TimedResult(unittest.TextTestResult):
    """A text result that also keeps each test's wall time and outcome."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.times = []  # (seconds, test id, outcome)
        self._outcome = "ok"

    def startTest(self, test):
        self._t0 = time.monotonic()
        self._outcome = "ok"
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        self.times.append((time.monotonic() - self._t0, test.id(),
                           self._outcome))

    def addFailure(self, test, err):
        self._outcome = "failed"
        super().addFailure(test, err)

    def addError(self, test, err):
        self._outcome = "failed"
        super().addError(test, err)

    def addSkip(self, test, reason):
        self._outcome = "skipped"
        super().addSkip(test, reason)


def main():
    pattern = None
    verbosity = 1
    times = None
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "-k" and args:
            pattern = args.pop(0)
        elif a == "-v":
            verbosity = 2
        elif a == "--times" and args:
            times = args.pop(0)
        else:
            print(f"run.py: unknown argument {a}", file=sys.stderr)
            return 2
    if not os.environ.get("UMBRA"):
        print("run.py: set UMBRA to the umbra binary", file=sys.stderr)
        return 2
    loader = unittest.TestLoader()
    if pattern:
        loader.testNamePatterns = [f"*{pattern}*"]
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    result = unittest.TextTestRunner(verbosity=verbosity,
                                     resultclass=TimedResult).run(suite)
    if times:
        with open(times, "w") as f:
            for secs, name, outcome in result.times:
                f.write(f"{secs:.3f}\t{name}\t{outcome}\n")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
