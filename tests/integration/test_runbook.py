"""docs/runbook.md as written: its blocks marked `<!-- runbook-test: NAME -->`
run against a private stack with data. The upgrade's migration step runs on
the live pool under load; backup, damage, restore gives back every row and
the users' states. Also the access log's `popup_private` format (README
"Personal data"): no uid, no full client address."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import unittest

from harness import DB_ADMIN, TOP, Stack, popup_row, shown, uid, alive

RUNBOOK = os.path.join(TOP, "docs", "runbook.md")
stack = None


def setUpModule():
    global stack
    # The access log in the private format (stack.sh ACCESS_LOG=private).
    stack = Stack(ACCESS_LOG="private")
    stack.start()
    stack.set_popups([popup_row(1, priority=20), popup_row(2, priority=10)])


def tearDownModule():
    if stack:
        stack.stop()


def block(name):
    """The sh block that follows `<!-- runbook-test: NAME -->`."""
    text = open(RUNBOOK).read()
    m = re.search(r"<!-- runbook-test: %s -->\s*```sh\n(.*?)```" % re.escape(name), text, re.S)
    assert m, "no runbook-test block %r in docs/runbook.md" % name
    return m.group(1)


def run_block(name, share=TOP, backup=None):
    """Runs a runbook block with bash -e -o pipefail and the runbook's
    variables pointing into the stack; (rc, output)."""
    env = dict(os.environ, SHARE=share, DB_SOCK=stack.path("mysql.sock"), DB_ADMIN=DB_ADMIN,
               DB="popup", RCLI="redis-cli -s %s" % stack.path("redis.sock"), P="popup",
               BACKUP=backup or stack.path("backup"))
    r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block(name)], env=env,
                       capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr


def stop_piece(pidfile):
    pid = stack.pid(pidfile)
    os.kill(pid, signal.SIGTERM)
    assert stack.wait_for(lambda: not alive(pid), timeout=60), pidfile


class Load:
    """GETs in a loop on a thread; the statuses it saw."""

    def __enter__(self):
        self.stop = threading.Event()
        self.statuses = []
        self.t = threading.Thread(target=self.run)
        self.t.start()
        return self

    def run(self):
        c = stack.http()
        while not self.stop.is_set():
            try:
                self.statuses.append(c.request("GET", "/api/popup?uid=" + uid("load")).status)
            except Exception as e:  # noqa: BLE001 - any failure counts
                self.statuses.append(repr(e))

    def __exit__(self, *exc):
        self.stop.set()
        self.t.join()


class UpgradeTest(unittest.TestCase):
    def test_the_migration_step_applies_a_new_migration_on_a_running_pool(self):
        # An install whose share/popup has one migration the database lacks.
        share = tempfile.mkdtemp(prefix="pshare", dir="/tmp")
        try:
            os.makedirs(os.path.join(share, "scripts"))
            shutil.copy(os.path.join(TOP, "scripts", "migrate.sh"), os.path.join(share, "scripts"))
            shutil.copytree(os.path.join(TOP, "sql", "migrations"),
                            os.path.join(share, "sql", "migrations"))
            with open(os.path.join(share, "sql", "migrations", "999_runbook_probe.sql"), "w") as f:
                f.write("CREATE TABLE IF NOT EXISTS runbook_probe (id INT PRIMARY KEY);\n")
            with Load() as load:
                rc, out = run_block("migrate", share=share)
                self.assertEqual(rc, 0, out)
                self.assertIn("applying 999_runbook_probe.sql", out)
                self.assertTrue(stack.wait_for(lambda: len(load.statuses) > 20, timeout=30))
            self.assertEqual({s for s in load.statuses}, {200}, load.statuses[:20])
            self.assertEqual(stack.sql_int(
                "SELECT COUNT(*) FROM schema_migrations WHERE version = 999"), 1)
            rc, out = run_block("migrate", share=share)
            self.assertEqual(rc, 0, out)
            self.assertIn("up to date", out)
        finally:
            shutil.rmtree(share, ignore_errors=True)
            stack.sql("DROP TABLE IF EXISTS runbook_probe;"
                      " DELETE FROM schema_migrations WHERE version = 999")


class BackupRestoreTest(unittest.TestCase):
    COUNTS = {"popups": "SELECT COUNT(*) FROM popups",
              "user_state": "SELECT COUNT(*) FROM user_state",
              "popup_events": "SELECT COUNT(*) FROM popup_events",
              "daily": "SELECT COALESCE(SUM(impressions + clicks + ignores), 0) FROM popup_daily",
              "daily_users": "SELECT COUNT(*) FROM popup_daily_users"}

    def counts(self):
        return {k: stack.sql_int(q) for k, q in self.COUNTS.items()}

    def test_backup_then_restore_gives_back_every_row_and_each_users_state(self):
        clicked = [uid("rb") for _ in range(5)]
        for u in clicked:
            self.assertEqual(shown(stack.get_popup(u)), 1)
            self.assertEqual(stack.act(u, 1, "click", query_uid=True).status, 202)
        seen = [uid("rs") for _ in range(5)]
        for u in seen:
            self.assertEqual(shown(stack.get_popup(u)), 1)
        self.assertTrue(stack.wait_drained(timeout=60))
        self.assertTrue(stack.wait_for(
            lambda: stack.sql_int("SELECT COUNT(*) FROM popup_events") >= 15, timeout=60))
        before = self.counts()
        self.assertGreater(before["user_state"], 0)

        rc, out = run_block("drained")
        self.assertEqual(rc, 0, out)
        self.assertTrue(out.split() and set(out.split()) == {"0"}, out)
        rc, out = run_block("backup")
        self.assertEqual(rc, 0, out)
        for f in ("popup.sql.gz", "redis.rdb"):
            self.assertGreater(os.path.getsize(stack.path("backup", f)), 0, f)

        # The loss: rows deleted and changed after the backup.
        stack.sql("DELETE FROM user_state; DELETE FROM popup_events; DELETE FROM popup_daily;"
                  " DELETE FROM popup_daily_users; UPDATE popups SET title = 'broken'")
        self.assertEqual(stack.sql_int("SELECT COUNT(*) FROM user_state"), 0)

        # As the runbook says: the writer and the pool stop, restore, start.
        stop_piece("writer")
        stop_piece("popupd")
        rc, out = run_block("restore")
        self.assertEqual(rc, 0, out)
        stack.start()
        stack.wait_healthy()

        self.assertEqual(self.counts(), before)
        self.assertEqual(stack.sql_int("SELECT COUNT(*) FROM popups WHERE title = 'broken'"), 0)
        # Each user's state came back from MySQL: a click keeps popup 1
        # away for a day, an impression for an hour; a new user sees it.
        for u in clicked + seen:
            self.assertNotEqual(shown(stack.get_popup(u)), 1, u)
        self.assertEqual(shown(stack.get_popup(uid("new"))), 1)


class PrivateAccessLogTest(unittest.TestCase):
    def test_popup_private_logs_no_uid_and_no_full_client_address(self):
        u = uid("secret")
        self.assertEqual(stack.get_popup(u).status, 200)
        path = stack.path("log", "nginx-access.log")

        def lines():
            try:
                with open(path) as f:
                    return [x for x in f if 'uri="/api/popup"' in x]
            except FileNotFoundError:
                return []
        self.assertTrue(stack.wait_for(lambda: lines(), timeout=20))
        text = open(path).read()
        self.assertNotIn(u, text)
        self.assertNotIn("uid=", text)
        self.assertNotIn("127.0.0.1", text)
        line = lines()[-1]
        self.assertRegex(line, r"^ts=\S+ client=127\.0\.0\.0 method=GET uri=\"/api/popup\" "
                               r"status=200 ")


if __name__ == "__main__":
    unittest.main()
