"""make test-cluster: brings the cluster up once (scripts/cluster.sh up, with
TEST_CLOCK=on so the tests set "now"), runs tests/cluster/test_*.py, and
always takes it down again (also on a failure or ^C); then checks that
nothing of it is left. Ends with one line "N passed, N failed"."""

import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402


def leftovers():
    """Test 6: after down, no namespace, veth, bridge, nft table or process."""
    found = []
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found += ["namespace " + l.split()[0] for l in ns.splitlines() if l.startswith(cluster.PREFIX + "-")]
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    found += ["link " + l.split(":")[1].strip().split("@")[0] for l in links.splitlines()
              if l.split(":")[1].strip().startswith(cluster.PREFIX + "-")]
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    found += [l for l in tables.splitlines() if cluster.PREFIX in l.split()]
    procs = subprocess.run(["pgrep", "-af", cluster.DIR + "/"], capture_output=True, text=True).stdout
    found += ["process " + l for l in procs.splitlines() if "pgrep" not in l]
    return found


def main():
    start = time.time()
    env = dict(os.environ, TEST_CLOCK="on")
    os.environ["TEST_CLOCK"] = "on"

    def stop(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, stop)
    passed = failed = 0
    try:
        subprocess.run([cluster.SCRIPT, "down"], env=env, capture_output=True)
        r = subprocess.run([cluster.SCRIPT, "up"], env=env)
        if r.returncode != 0:
            print("cluster did not come up")
            failed += 1
        else:
            suite = unittest.defaultTestLoader.discover(os.path.dirname(cluster.__file__),
                                                        pattern="test_*.py")
            if len(sys.argv) > 2 and sys.argv[1] == "-k":  # only tests whose id has this text
                suite = unittest.TestSuite(t for s in suite for c in s for t in c
                                           if sys.argv[2] in t.id())
            res = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
            # An expected failure is a known bug, neither passed nor failed
            # (named below); a test so marked that passes fails the run, so
            # the mark goes once the bug is fixed.
            f = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
            failed += f
            passed += (res.testsRun - f - len(res.skipped) - len(res.expectedFailures))
            for t, _ in res.expectedFailures:
                print("known failure (not counted): %s" % t.id())
    except KeyboardInterrupt:
        print("interrupted")
        failed += 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        subprocess.run([cluster.SCRIPT, "down"], env=env)
        left = leftovers()
        print("test_down_leaves_nothing (6): %s" % ("ok" if not left else "FAIL: %s" % left))
        if left:
            failed += 1
        else:
            passed += 1
    print("make test-cluster took %.0f s" % (time.time() - start))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
