"""The GET /api/popup suite again, against a pool started by spawn-fcgi
(`spawn-fcgi -s SOCK -F N -- popupd --config FILE`) instead of the
supervisor."""

import unittest

import test_popup
from harness import Stack

stack = None


def setUpModule():
    global stack
    stack = Stack(POOL="spawn-fcgi").start()
    test_popup.stack = stack


def tearDownModule():
    if stack:
        stack.stop()
    test_popup.stack = None


class SpawnRedisplayRules(test_popup.RedisplayRules):
    pass


class SpawnSelection(test_popup.Selection):
    pass


class SpawnTargeting(test_popup.Targeting):
    pass


class SpawnErrors(test_popup.Errors):
    pass


class SpawnConfigCache(test_popup.ConfigCache):
    pass


class SpawnMetrics(unittest.TestCase):
    def test_the_workers_sample_the_listen_queue_without_a_supervisor(self):
        # Once per config_check_ms a worker reads the inherited socket's
        # accept queue and its backlog (stack.sh passes spawn-fcgi -b 4096).
        self.assertTrue(stack.wait_for(
            lambda: stack.metrics().get("popup_listen_backlog") == 4096, timeout=5),
            stack.metrics().get("popup_listen_backlog"))
        self.assertGreaterEqual(stack.metrics()["popup_listen_queue"], 0)


if __name__ == "__main__":
    unittest.main()
