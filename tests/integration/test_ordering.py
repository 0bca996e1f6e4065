"""A user's stored state never goes back in time (docs/design.md "A user's state never goes back
in time", api/contract.md): every state carries its order
stamp and every store keeps the newer one, so an owner's impression stored
late never overwrites an action decided after it, whichever process wrote
the action; and a state that cannot be read is unknown, not empty. Against
real nginx, Redis and MariaDB; run it with FLUSH_MS=250 too, which makes
every impression reach Redis long after its answer."""

import glob
import os
import random
import signal
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

from harness import Proc, module_stack, popup_row, uid, shown

NOW = 1_800_000_000
setUpModule, tearDownModule = module_stack(globals())


def worker_sockets():
    return sorted(os.path.basename(p) for p in glob.glob(stack.path("popup.sock.*"))
                  if p.rsplit(".", 1)[1].isdigit())


def fcgi_get(u, sock, now):
    return stack.fcgi({"DOCUMENT_URI": "/api/popup", "QUERY_STRING": "uid=" + u,
                       "HTTP_X_POPUP_NOW": str(now)}, socket=sock)


def fcgi_act(u, action, sock, now):
    body = ("uid=%s&popup_id=1&action=%s" % (u, action)).encode()
    return stack.fcgi({"REQUEST_METHOD": "POST", "DOCUMENT_URI": "/api/popup/action",
                       "CONTENT_TYPE": "application/x-www-form-urlencoded",
                       "HTTP_X_POPUP_NOW": str(now)}, body, socket=sock)


class RedisPauses:
    """Freezes Redis (SIGSTOP) for 100-300 ms at random, with gaps of the
    same size, until stopped; always leaves it running."""

    def __init__(self, pid):
        self.pid, self.done, self.pauses = pid, threading.Event(), 0
        self.thread = threading.Thread(target=self.run)

    def run(self):
        rng = random.Random(7)
        while not self.done.is_set():
            os.kill(self.pid, signal.SIGSTOP)
            try:
                self.done.wait(rng.uniform(0.1, 0.3))
            finally:
                os.kill(self.pid, signal.SIGCONT)
            self.pauses += 1
            self.done.wait(rng.uniform(0.1, 0.3))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        os.kill(self.pid, signal.SIGCONT)


class Ordering(unittest.TestCase):
    def setUp(self):
        # show_cooldown 0: a late impression that overwrote the action would
        # let the next GET show the popup again.
        stack.set_popups([popup_row(1, show_cooldown_s=0, ignore_cooldown_s=3600,
                                    click_cooldown_s=None)])
        stack.wait_healthy()

    def test_actions_hold_through_redis_pauses_on_every_route(self):
        """1,000 users each visit, act and visit again while Redis freezes
        again and again, by four routes: through nginx with ?uid= on the
        action (the owner), with the uid in the body only (another worker),
        the action on the shared socket, and every request on a worker's
        own socket chosen at random (as if that worker owned the user). No
        user sees the popup after an acknowledged action, and once the queue
        drained Redis and MySQL both hold each user's action."""
        sockets = worker_sockets() or ["popup.sock"]
        users = [(uid("ord"), i % 4, "click" if i % 3 else "ignore") for i in range(1000)]
        rng = random.Random(11)
        picks = {u: (rng.choice(sockets), rng.choice(sockets)) for u, _, _ in users}

        def one(user):
            u, route, action = user
            a, b = picks[u]
            if route == 3:
                first = fcgi_get(u, a, NOW)
                r = fcgi_act(u, action, b, NOW)
            else:
                first = stack.get_popup(u, now=NOW)
                if route == 2:
                    r = fcgi_act(u, action, "popup.sock", NOW)
                else:
                    r = stack.act(u, 1, action, now=NOW, query_uid=route == 0)
            seen = first.status == 200 and first.json()["popup"] is not None
            if r.status != 202:
                return u, action, r.status, None, seen
            after = fcgi_get(u, a, NOW + 1) if route == 3 else stack.get_popup(u, now=NOW + 1)
            return u, action, 202, after, seen

        with RedisPauses(stack.pid("redis")) as pauses:
            with ThreadPoolExecutor(16) as pool:
                results = list(pool.map(one, users))
        self.assertGreater(pauses.pauses, 3)
        acked = [(u, a, after) for u, a, status, after, _ in results if status == 202]
        shown_to = {u for u, _, _, _, seen in results if seen}
        # Redis never froze for longer than its timeout: every action is taken.
        self.assertEqual(len(acked), len(users), [r for r in results if r[2] != 202][:5])
        violations = [(u, a, after) for u, a, after in acked
                      if after.status != 200 or after.json()["popup"] is not None]
        self.assertEqual(violations, [])
        self.assertTrue(stack.wait_drained(timeout=120))
        want = {u: a for u, a, _ in acked}
        # The action's state, and the impression counted even when the
        # action was stored before it (the count only grows).
        stale = []
        for u, action in want.items():
            fields = (stack.redis_raw("HGET", "popup:u:" + u, "1") or "").split(",")
            if len(fields) < 3 or fields[2] != action or int(fields[1]) < (u in shown_to):
                stale.append(("redis", u, action, fields))
        rows = stack.sql("SELECT uid, last_action, next_show_at, impressions FROM user_state "
                         "WHERE uid LIKE 'ord%' AND popup_id = 1")
        got = {r[0]: (r[1], int(r[2]), min(int(r[3]), 1)) for r in rows}
        for u, action in want.items():
            expect = (action, -1 if action == "click" else NOW + 3600, int(u in shown_to))
            if got.get(u) != expect:
                stale.append(("mysql", u, expect, got.get(u)))
        self.assertEqual(stale[:10], [], "%d users went back in time" % len(stale))


class UnknownIsNotEmpty(unittest.TestCase):
    def setUp(self):
        stack.set_popups([popup_row(1, show_cooldown_s=3600, click_cooldown_s=None)])
        stack.wait_healthy()

    def test_a_click_only_in_mysql_survives_a_hung_mariadb(self):
        """A user whose "never again" is only in MySQL (not in Redis) visits
        while MariaDB is frozen: no popup, no impression, and the click is
        still there once MariaDB answers again."""
        u = uid("hung")
        stack.sql("INSERT INTO user_state (uid, popup_id, next_show_at, impressions, last_action,"
                  " updated_at, ev_order, event_id) VALUES ('%s', 1, -1, 1, 'click', %d, %d, '%s')"
                  % (u, NOW - 60, int(time.time() * 1e6), "c" * 32))
        self.assertEqual(stack.redis_raw("EXISTS", "popup:u:" + u), "0")
        db = Proc(stack, "mariadbd", "mariadb.log")
        os.kill(db.pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            r = stack.get_popup(u, now=NOW)
            took = time.monotonic() - t0
            # The probe notices within its interval plus its slow mark (1 s);
            # every healthz answers within a second meanwhile.
            health_took, health = 0.0, None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                t0 = time.monotonic()
                health = stack.http().request("GET", "/api/healthz")
                health_took = max(health_took, time.monotonic() - t0)
                if health.json()["mysql"] != "ok":
                    break
                time.sleep(0.05)
        finally:
            os.kill(db.pid, signal.SIGCONT)
        # A read of a user's states waits at most 500 ms for MySQL
        # (fcgi/mysql_reader.h kDeadlineMs); healthz reads the probe's
        # verdict and asks MySQL nothing. Both within a second.
        self.assertLess(took, 1.0)
        self.assertLess(health_took, 1.0)
        # Degraded, not down: Redis still answers popups for the users it holds.
        self.assertIn(health.json()["mysql"], ("slow", "down"), health)
        self.assertEqual(health.json()["status"], "degraded", health)
        # 200 {"popup":null} or a 503 the client retries: never the popup.
        if r.status == 200:
            self.assertIsNone(shown(r))
        else:
            self.assertEqual(r.status, 503, r)
        stack.wait_healthy()
        self.assertTrue(stack.wait_drained())
        self.assertIsNone(shown(stack.get_popup(u, now=NOW + 10**6)))
        self.assertTrue(stack.wait_drained())
        self.assertEqual(stack.sql("SELECT next_show_at, last_action FROM user_state "
                                   "WHERE uid = '%s'" % u), [["-1", "click"]])
        self.assertEqual(stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE uid = '%s'" % u), 0)


if __name__ == "__main__":
    unittest.main()
