"""Runs every tests/integration/test_*.py with unittest and writes
"passed failed" to the file given with --counts."""

import argparse
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts")
    ap.add_argument("-k", dest="patterns", action="append",
                    help="only test ids containing this text (repeatable: any of them)")
    args = ap.parse_args()
    suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py", top_level_dir=here)
    if args.patterns:
        def filt(s):
            out = unittest.TestSuite()
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    out.addTest(filt(t))
                elif any(p in t.id() for p in args.patterns):
                    out.addTest(t)
            return out
        suite = filt(suite)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    if args.counts:
        with open(args.counts, "w") as f:
            f.write("%d %d\n" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
