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


if __name__ == "__main__":
    unittest.main()
