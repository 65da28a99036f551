#!/usr/bin/env python3
"""End-to-end test runner: discovers tests/e2e/test_*.py (unittest) and runs
them against the built binary ($UMBRA). Every test starts real processes on
loopback, bounded in time, and cleans them up on every exit path (lib.py).

    UMBRA=build/umbra python3 tests/e2e/run.py [-k PATTERN] [-v]
"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def main():
    pattern = None
    verbosity = 1
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "-k" and args:
            pattern = args.pop(0)
        elif a == "-v":
            verbosity = 2
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
    result = unittest.TextTestRunner(verbosity=verbosity).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
