"""The queue writer is supervised and its absence is visible (SPEC "GET /api/healthz", "Writes and the queue"): popup-writer's own
supervisor replaces a killed writer child and brakes a crash storm; a
killed supervisor takes its child with it; without a writer /api/healthz
says "degraded" with writers_alive 0 and a growing queue_oldest_age_s, and
returns to "ok" once a writer drains the backlog; an idle writer still
notices a lost database (popup_writer_mysql_reachable)."""

import os
import re
import signal
import time
import unittest

from harness import Proc, module_stack, child_pids, find_pids, popup_row, uid

setUpModule, tearDownModule = module_stack(globals(), BATCH_SIZE=50,
    setup=lambda s: s.set_popups([popup_row(1, show_cooldown_s=0)]))


def health():
    return stack.http().request("GET", "/api/healthz")


def supervisor():
    return Proc(stack, "popup-writer", "writer.log", pidfile="writer.pid")


def wait_child(sup_pid, not_pid=None, timeout=30):
    """The writer child of supervisor `sup_pid` (other than `not_pid`)."""
    found = []

    def one():
        found[:] = [p for p in child_pids(sup_pid) if p != not_pid]
        return bool(found)
    if not stack.wait_for(one, timeout=timeout):
        raise AssertionError("no writer child of %d within %d s:\n%s"
                             % (sup_pid, timeout, stack.log("writer.log")[-2000:]))
    return found[0]


def queue_actions(prefix, n):
    users = ["%s-%d" % (prefix, i) for i in range(n)]
    for u in users:
        r = stack.act(u, 1, "click")
        assert r.status == 202, r
    return users


def stored(prefix):
    return stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE uid LIKE '%s-%%'" % prefix)


def healthy_again():
    r = health()
    return r.status == 200 and r.json()["status"] == "ok" and r.json()["writers_alive"] == 1


class WriterHealth(unittest.TestCase):
    def setUp(self):
        # Every test starts with one supervised writer and a healthy stack.
        wait_child(stack.pid("writer"))
        self.assertTrue(stack.wait_for(healthy_again, timeout=30), health())

    def test_a_killed_writer_child_is_replaced_and_the_queue_drains(self):
        sup = stack.pid("writer")
        old = wait_child(sup)
        os.kill(old, signal.SIGKILL)
        prefix = uid("respawn")
        queue_actions(prefix, 20)
        new = wait_child(sup, not_pid=old)
        self.assertNotEqual(new, old)
        self.assertTrue(stack.wait_drained(timeout=60))
        self.assertEqual(stored(prefix), 20)
        self.assertRegex(stack.log("writer.log"),
                         r"writer %d killed by signal 9 .*; respawning" % old)
        self.assertTrue(stack.wait_for(healthy_again, timeout=30), health())

    def test_without_a_writer_healthz_is_degraded_and_recovers_when_one_returns(self):
        sup = supervisor()
        child = wait_child(sup.pid)
        sup.kill(signal.SIGKILL)
        # PR_SET_PDEATHSIG: the child follows its supervisor.
        self.assertTrue(stack.wait_for(lambda: not find_pids(stack, "popup-writer"), timeout=30),
                        "writer %d outlived its supervisor" % child)
        self.assertTrue(stack.wait_for(lambda: health().json()["writers_alive"] == 0, timeout=30),
                        health())
        prefix = uid("nowriter")
        queue_actions(prefix, 30)
        first = health().json()
        self.assertEqual(first["status"], "degraded", first)
        self.assertGreaterEqual(first["queue_depth"], 30, first)
        self.assertTrue(stack.wait_for(
            lambda: health().json()["queue_oldest_age_s"] > first["queue_oldest_age_s"],
            timeout=30), (first, health()))
        r = health()
        self.assertEqual(r.status, 200)
        self.assertEqual((r.json()["status"], r.json()["writers_alive"]), ("degraded", 0), r)
        m = stack.metrics()
        self.assertEqual(m["popup_writers_alive"], 0)
        self.assertGreaterEqual(m["popup_queue_oldest_age_seconds"], 1.0)
        self.assertEqual(m['popup_writer_alive{writer="w1"}'], 0)
        self.assertNotIn('popup_writer_lag_seconds{writer="w1"}', m)

        sup.start()
        self.assertTrue(stack.wait_drained(timeout=60))
        self.assertEqual(stored(prefix), 30)
        self.assertTrue(stack.wait_for(healthy_again, timeout=30), health())
        after = health().json()
        self.assertEqual((after["queue_oldest_age_s"], after["writers_alive"]), (0, 1), after)
        self.assertIn('popup_writer_lag_seconds{writer="w1"}', stack.metrics())

    def test_an_idle_writer_reports_the_database_lost_and_back(self):
        """With nothing queued the writer applies no batch, yet it checks its
        database while idle: stopping the only MariaDB turns
        popup_writer_mysql_reachable to 0, starting it again back to 1."""
        self.assertTrue(stack.wait_drained(timeout=60))
        metric = 'popup_writer_mysql_reachable{writer="w1"}'
        reachable = lambda: stack.metrics().get(metric)  # noqa: E731
        batches = lambda: stack.redis_raw("HGET", "popup:writer:w1", "batches_total")  # noqa: E731
        self.assertTrue(stack.wait_for(lambda: reachable() == 1, timeout=30), reachable())
        # The last batch's counters may be published a moment after the queue
        # drained: overwrite the lag and wait for an idle writer's report
        # (lag 0, all counters, after a second with nothing queued).
        stack.redis("HSET", "popup:writer:w1", "lag_seconds", "stale")
        self.assertTrue(stack.wait_for(lambda: stack.redis_raw(
            "HGET", "popup:writer:w1", "lag_seconds") == "0.000000", timeout=30))
        before = batches()
        db = Proc(stack, "mariadbd", "mariadb.log")
        db.kill(signal.SIGTERM, wait=60)
        try:
            self.assertTrue(stack.wait_for(lambda: reachable() == 0, timeout=60),
                            (reachable(), stack.log("writer.log")[-2000:]))
            self.assertEqual(stack.redis_raw("HGET", "popup:writer:w1", "mysql_node"), "")
            # No batch found it: the queue stayed empty.
            self.assertEqual(batches(), before)
            self.assertEqual(stack.redis_raw("LLEN", "popup:events"), "0")
        finally:
            db.start()
        self.assertTrue(stack.wait_for(stack.mariadb_answers, timeout=60))
        self.assertTrue(stack.wait_for(lambda: reachable() == 1, timeout=60),
                        (reachable(), stack.log("writer.log")[-2000:]))
        self.assertNotEqual(stack.redis_raw("HGET", "popup:writer:w1", "mysql_node"), "")
        self.assertEqual(batches(), before)
        self.assertRegex(stack.log("writer.log"), r"idle, and the database does not answer")
        self.assertRegex(stack.log("writer.log"), r"the database answers again")
        self.assertTrue(stack.wait_for(healthy_again, timeout=60), health())

    def test_a_crash_storm_is_braked_then_the_writer_comes_back(self):
        with open(stack.conf()) as f:
            original = f.read()
        sup = supervisor()
        try:
            with open(stack.conf(), "a") as f:
                f.write("crash_storm_count = 3\ncrash_storm_window_s = 60\ncrash_storm_pause_s = 4\n")
            sup.kill(signal.SIGTERM)
            sup.start()
            child = None
            for _ in range(3):
                child = wait_child(sup.pid, not_pid=child)
                os.kill(child, signal.SIGKILL)
            self.assertTrue(stack.wait_for(
                lambda: "pausing respawn for 4 s" in stack.log("writer.log"), timeout=30),
                stack.log("writer.log")[-2000:])
            back = wait_child(sup.pid, not_pid=child)
            self.assertNotEqual(back, child)
            started_line = (r"^ts=(\S+?)\.\d+Z level=info component=popup-writer pid=%d "
                            r'msg="supervisor: started writer %d"$' % (sup.pid, back))
            # The child exists before its supervisor logs it: wait for the line.
            stack.wait_for(lambda: re.search(started_line, stack.log("writer.log"), re.M),
                           timeout=30)
            log = stack.log("writer.log")
            braked = re.search(r"^ts=(\S+?)\.\d+Z level=error component=popup-writer pid=%d "
                               r'msg="supervisor: the writer died 3 times within 60 s; pausing '
                               r"respawn" % sup.pid, log, re.M)
            started = re.search(started_line, log, re.M)
            self.assertTrue(braked and started, log[-2000:])
            pause = (time.mktime(time.strptime(started.group(1), "%Y-%m-%dT%H:%M:%S")) -
                     time.mktime(time.strptime(braked.group(1), "%Y-%m-%dT%H:%M:%S")))
            # Logged in whole seconds: a 4 s pause shows as at least 3.
            self.assertGreaterEqual(pause, 3, log[-2000:])
        finally:
            with open(stack.conf(), "w") as f:
                f.write(original)
            sup.kill(signal.SIGTERM)
            sup.start()
        self.assertTrue(stack.wait_for(healthy_again, timeout=30), health())


if __name__ == "__main__":
    unittest.main()
