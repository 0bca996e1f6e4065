"""The stack's configuration files and an operator's edits
(scripts/stack/config.sh).

- DIR/popup.conf is the stack's: written again on a start, with only the
  keys the stack sets, and it ends with the include of DIR/popup.local.conf.
- DIR/popup.local.conf is the operator's: a start (`make run` on a stopped
  stack) never rewrites it, its keys win over popup.conf's, and
  `stack.sh reload` applies an edit of it to the running pool (log_file:
  the supervisor and the workers it spawns write to the new file).
- An edit popupd refuses is refused by reload with the file and line, and
  the running pool keeps serving with what it had.

- MYSQL_BUFFER_POOL reaches MariaDB, and a size it cannot be is refused
  before anything starts.

One stack for the module (with a MariaDB buffer pool other than the
default); each test puts popup.local.conf back."""

import os
import re
import unittest

from harness import child_pids, module_stack

BUFFER_POOL_MIB = 320  # not the stack's default (256M)
setUpModule, tearDownModule = module_stack(globals(), MYSQL_BUFFER_POOL="%dM" % BUFFER_POOL_MIB)


def local_conf():
    return stack.path("popup.local.conf")


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    # In place: as root the file is root's and shared with the service's
    # group (scripts/stack/accounts.sh); rewriting it keeps that.
    with open(path, "w") as f:
        f.write(text)


def answers():
    """"" when the pool serves GET /api/popup through nginx (after a start
    it may first be loading the configuration: waits for it), else the
    last answer."""
    last = []

    def ok():
        r = stack.get_popup("someone")
        last[:] = [r]
        return r.status == 200
    return "" if stack.wait_for(ok, timeout=30) else repr(last[0])


def with_children(name):
    """The process of DIR/<name>.pid and its children (the writer's
    supervisor forks the writer)."""
    pid = stack.pid(name)
    return [pid] + child_pids(pid)


class WriteBehindPolicy(unittest.TestCase):
    """MariaDB and the writer run under SCHED_BATCH (WRITE_BEHIND_SCHED,
    scripts/stack.sh), every thread of them; the request path does not."""

    def test_mariadb_and_the_writer_are_batch_work_and_the_request_path_is_not(self):
        policy = os.sched_getscheduler
        # The writer's supervisor and the writer it forked: both checked.
        self.assertEqual(len(with_children("writer")), 2)
        for name in ("mysql", "writer"):
            for pid in with_children(name):
                for tid in os.listdir("/proc/%d/task" % pid):
                    self.assertEqual(policy(int(tid)), os.SCHED_BATCH, "%s: thread %s" % (name, tid))
        for name in ("redis", "popupd"):
            for pid in with_children(name):
                self.assertEqual(policy(pid), os.SCHED_OTHER, name)


class BufferPool(unittest.TestCase):
    def test_the_setting_reaches_mariadb_and_a_bad_size_is_refused(self):
        self.assertEqual(stack.sql_int("SELECT @@innodb_buffer_pool_size"), BUFFER_POOL_MIB << 20)
        for bad in ("lots", "0", "2T", "512 M"):
            r = stack.run_script("start", MYSQL_BUFFER_POOL=bad)
            self.assertNotEqual(r.returncode, 0, bad)
            self.assertIn("MYSQL_BUFFER_POOL must be a size such as 256M or 2G, not '%s'" % bad,
                          r.stdout + r.stderr)
        # Refused before anything started or stopped: the stack serves on.
        self.assertEqual(answers(), "")


class OperatorSettings(unittest.TestCase):
    def setUp(self):
        self.original = read(local_conf())

    def tearDown(self):
        write(local_conf(), self.original)

    def test_popup_conf_holds_what_the_stack_sets_and_includes_the_operators_file(self):
        conf = read(stack.conf())
        keys = [m.group(1) for m in re.finditer(r"(?m)^(\w+) =", conf)]
        self.assertEqual(keys[-1], "include")
        self.assertIn("\ninclude = %s\n" % local_conf(), conf)
        for own in ("listen", "pid_file", "state_dir", "redis", "mysql_socket", "mysql_password",
                    "workers", "threads"):
            self.assertIn(own, keys)
        # Keys whose value is popupd's default are left to it.
        for default in ("key_prefix", "mysql_db", "writer_id", "log_file", "log_level"):
            self.assertNotIn(default, keys)
        self.assertEqual(len(keys), len(set(keys)), keys)

    def test_an_edit_takes_effect_on_reload_and_survives_a_restart(self):
        own_log = stack.path("state", "popupd-own.log")
        write(local_conf(), self.original + "log_file = %s\n" % own_log)
        r = stack.run_script("reload")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        sup = stack.pid("popupd")
        reloaded = "pid=%d msg=\"supervisor: reloaded" % sup
        self.assertTrue(stack.wait_for(lambda: os.path.exists(own_log) and reloaded in read(own_log),
                                       timeout=30), stack.log("popupd.log")[-2000:])
        self.assertNotIn(reloaded, stack.log("popupd.log"))
        self.assertEqual(answers(), "")

        # `make run` after `make stop`: popup.conf is written again, the
        # operator's file is kept and applied from the start.
        stack.run_script("stop")
        conf_before = read(stack.conf())
        r = stack.run_script("start")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("log_file = %s\n" % own_log, read(local_conf()))
        self.assertEqual(read(stack.conf()), conf_before)
        sup = stack.pid("popupd")
        listening = "pid=%d msg=\"supervisor: listening on" % sup
        self.assertTrue(stack.wait_for(lambda: listening in read(own_log), timeout=30),
                        read(own_log)[-2000:])
        self.assertNotIn(listening, stack.log("popupd.log"))
        self.assertEqual(answers(), "")

        # A second edit moves the log again, on reload alone.
        write(local_conf(), self.original + "log_file = %s\n" % stack.path("state", "again.log"))
        r = stack.run_script("reload")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(stack.wait_for(
            lambda: "supervisor: reloaded" in read(stack.path("state", "again.log")), timeout=30))

    def test_a_refused_edit_is_named_and_the_pool_keeps_serving(self):
        workers_before = sorted(stack.worker_pids())
        write(local_conf(), self.original + "\nworkers = many\n")
        r = stack.run_script("reload")
        self.assertNotEqual(r.returncode, 0)
        line = len(self.original.splitlines()) + 2
        self.assertIn("%s: line %d: " % (local_conf(), line), r.stdout + r.stderr)
        self.assertEqual(sorted(stack.worker_pids()), workers_before)
        self.assertEqual(answers(), "")
        # A start while everything runs changes nothing either.
        write(local_conf(), self.original)
        r = stack.run_script("start")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("already running", r.stdout)


if __name__ == "__main__":
    unittest.main()
