"""User affinity: nginx hashes the uid to
one worker's socket, the worker decides from the users it keeps in memory
and stores impressions behind the answer; actions are stored before theirs.
Against real nginx, Redis and MariaDB; the shared socket is reached with
cgi-fcgi, as spawn-fcgi pools and other FastCGI servers reach it."""

import os
import re
import signal
import subprocess
import threading
import time
import unittest

from harness import module_stack, child_pids, popup_row, uid, shown

NOW = 1_800_000_000
setUpModule, tearDownModule = module_stack(globals())


def supervisor_pid():
    with open(stack.path("popupd.pid")) as f:
        return int(f.read().split()[0])


def workers():
    return sorted(child_pids(supervisor_pid()))


def set_workers(n, **extra):
    """Rewrites popup.conf's pool size (and any extra keys) and reloads the
    pool and nginx with scripts/stack.sh reload; waits for n workers."""
    conf = open(stack.conf()).read()
    conf = re.sub(r"(?m)^workers = .*$", "workers = %d" % n, conf)
    for k, v in extra.items():
        conf = re.sub(r"(?m)^%s = .*\n" % k, "", conf) + "%s = %s\n" % (k, v)
    with open(stack.conf(), "w") as f:
        f.write(conf)
    before = set(workers())
    r = stack.run_script("reload")
    assert r.returncode == 0, r.stdout + r.stderr
    assert stack.wait_for(lambda: len(workers()) == n and not set(workers()) & before,
                          timeout=60), "the pool has %s, not %d new workers" % (workers(), n)
    stack.wait_healthy()


def reload_nginx():
    """nginx -s reload of the stack's nginx.conf; returns once the old
    nginx workers have left (their connections still use the old servers)."""
    with open(stack.path("nginx/nginx.pid")) as f:
        master = int(f.read())
    old = set(child_pids(master))
    subprocess.run(["nginx", "-p", stack.path("nginx"), "-c", stack.path("nginx/nginx.conf"),
                    "-e", stack.path("log/nginx-error.log"), "-s", "reload"], check=True)
    assert stack.wait_for(lambda: not old & set(child_pids(master)), timeout=60)


def fcgi_get(u, now=NOW):
    """GET /api/popup on the pool's shared socket (not routed by uid)."""
    return stack.fcgi({"DOCUMENT_URI": "/api/popup", "QUERY_STRING": "uid=" + u,
                       "HTTP_X_POPUP_NOW": str(now)})


class Affinity(unittest.TestCase):
    def setUp(self):
        stack.wait_healthy()
        stack.set_popups([popup_row(1, show_cooldown_s=600, ignore_cooldown_s=3600,
                                    click_cooldown_s=None)])

    def test_each_user_has_one_worker_and_warm_gets_make_no_redis_round_trip(self):
        users = [uid() for _ in range(30)]
        owner = {}
        for u in users:
            r = stack.get_popup(u, now=NOW)
            self.assertEqual(shown(r), 1)
            owner[u] = r.headers["x-popup-worker"]
        m0 = stack.metrics()
        for i in range(1, 5):
            for u in users:
                r = stack.get_popup(u, now=NOW + i)
                self.assertIsNone(shown(r))  # the show cooldown, from memory
                self.assertEqual(r.headers["x-popup-worker"], owner[u], u)
        m1 = stack.metrics()
        self.assertGreater(len(set(owner.values())), 1, "every user went to one worker")
        delta = lambda k: m1.get(k, 0) - m0.get(k, 0)  # noqa: E731
        self.assertEqual(delta("popup_get_requests_total"), 120)
        self.assertEqual(delta("popup_memory_state_hits_total"), 120)
        self.assertEqual(delta("popup_get_redis_round_trips_total"), 0)
        self.assertEqual(delta("popup_shared_gets_total"), 0)

    def test_the_impression_reaches_redis_and_mysql_behind_the_answer(self):
        u = uid()
        self.assertEqual(shown(stack.get_popup(u, now=NOW)), 1)
        self.assertTrue(stack.wait_drained())
        # The fifth field is the state's order stamp (its version).
        self.assertEqual(stack.redis_raw("HGET", "popup:u:" + u, "1").split(",")[:4],
                         ["%d" % (NOW + 600), "1", "show", "%d" % NOW])
        self.assertEqual(stack.sql("SELECT impressions, last_action FROM user_state "
                                   "WHERE uid='%s' AND popup_id=1" % u), [["1", "show"]])

    def test_two_concurrent_visits_of_one_user_show_one_popup(self):
        for path in ("nginx", "shared socket"):
            for _ in range(10):
                u = uid()
                barrier = threading.Barrier(4)
                got = []

                def visit():
                    barrier.wait()
                    r = stack.get_popup(u, now=NOW) if path == "nginx" else fcgi_get(u)
                    got.append(shown(r))
                ts = [threading.Thread(target=visit) for _ in range(4)]
                [t.start() for t in ts]
                [t.join() for t in ts]
                self.assertEqual(sorted(got, key=str), [1, None, None, None], (path, u))
        self.assertTrue(stack.wait_drained())

    def test_an_action_is_obeyed_by_the_very_next_get_with_and_without_query_uid(self):
        # show_cooldown 0: without the action, the next GET would show it again.
        stack.set_popups([popup_row(1, show_cooldown_s=0, ignore_cooldown_s=3600,
                                    click_cooldown_s=None)])
        for query_uid in (True, False):
            for action in ("ignore", "click"):
                for _ in range(10):
                    u = uid()
                    self.assertEqual(shown(stack.get_popup(u, now=NOW)), 1)
                    r = stack.act(u, 1, action, now=NOW, query_uid=query_uid)
                    self.assertEqual(r.status, 202, r)
                    self.assertIsNone(shown(stack.get_popup(u, now=NOW)),
                                      (query_uid, action, u))
                    later = NOW + 3600 if action == "ignore" else NOW + 10**6
                    self.assertEqual(shown(stack.get_popup(u, now=later - 1)), None)
                    # The action's state stays in Redis: no late impression
                    # of the owner overwrote it.
                    self.assertTrue(stack.wait_drained())
                    self.assertIn("," + action + ",", stack.redis_raw("HGET", "popup:u:" + u, "1"))
        # Through the shared socket, the non-owner path, too.
        u = uid()
        self.assertEqual(shown(stack.get_popup(u, now=NOW)), 1)
        r = stack.fcgi({"REQUEST_METHOD": "POST", "DOCUMENT_URI": "/api/popup/action",
                        "CONTENT_TYPE": "application/x-www-form-urlencoded",
                        "QUERY_STRING": "uid=" + u, "HTTP_X_POPUP_NOW": str(NOW)},
                       ("uid=%s&popup_id=1&action=click" % u).encode())
        self.assertEqual(r.status, 202, r)
        self.assertIsNone(shown(stack.get_popup(u, now=NOW + 5)))

    def test_an_action_with_its_uid_in_the_body_only_reaches_the_owner(self):
        # nginx's $popup_route takes the uid from a form or JSON body too, so
        # such an action is decided by the user's owner, which then answers
        # the next GET from memory (a non-owner would have made it drop the
        # user and read Redis again).
        stack.set_popups([popup_row(1, show_cooldown_s=0, ignore_cooldown_s=3600,
                                    click_cooldown_s=None)])
        for as_json in (True, False):
            users = [uid() for _ in range(12)]
            owner = {u: stack.get_popup(u, now=NOW).headers["x-popup-worker"] for u in users}
            m0 = stack.metrics()
            for u in users:
                r = stack.act(u, 1, "ignore", now=NOW, as_json=as_json)
                self.assertEqual(r.status, 202, r)
                self.assertEqual(r.headers["x-popup-worker"], owner[u], (as_json, u))
                self.assertIsNone(shown(stack.get_popup(u, now=NOW + 1)), (as_json, u))
            m1 = stack.metrics()
            delta = lambda k: m1.get(k, 0) - m0.get(k, 0)  # noqa: E731
            # The action and the GET after it, each from the owner's memory.
            self.assertEqual(delta("popup_memory_state_hits_total"), 2 * len(users), as_json)
            self.assertEqual(delta("popup_memory_state_misses_total"), 0, as_json)
            self.assertGreater(len(set(owner.values())), 1, "every user went to one worker")
        # A body whose uid nginx cannot take (escaped) still works, off the
        # owner's fast path.
        u = uid()
        self.assertEqual(shown(stack.get_popup(u, now=NOW)), 1)
        c = stack.http()
        try:
            body = "popup_id=1&action=click&uid=" + "".join("%%%02X" % ord(ch) for ch in u)
            r = c.request("POST", "/api/popup/action", body=body,
                          headers={"Content-Type": "application/x-www-form-urlencoded",
                                   "X-Popup-Now": str(NOW)})
        finally:
            c.close()
        self.assertEqual(r.status, 202, r)
        self.assertIsNone(shown(stack.get_popup(u, now=NOW + 10**6)))

    def test_events_are_counted_per_popup_in_metrics(self):
        show, click = ('popup_popup_events_total{popup="1",kind="%s"}' % k for k in ("show", "click"))
        before = stack.metrics()
        users = [uid() for _ in range(3)]
        for u in users:
            self.assertEqual(shown(stack.get_popup(u, now=NOW)), 1)
        self.assertEqual(stack.act(users[0], 1, "click", now=NOW, query_uid=True).status, 202)
        self.assertTrue(stack.wait_drained())
        after = stack.metrics()
        self.assertEqual(after[show] - before.get(show, 0), 3)
        self.assertEqual(after[click] - before.get(click, 0), 1)

    def test_a_keyed_action_sent_twice_to_the_owner_counts_once(self):
        u = uid()
        self.assertEqual(shown(stack.get_popup(u, now=NOW)), 1)
        for _ in range(2):
            r = stack.act(u, 1, "click", now=NOW, query_uid=True,
                          headers={"Idempotency-Key": "k-" + u})
            self.assertEqual(r.status, 202)
        self.assertIsNone(shown(stack.get_popup(u, now=NOW + 10**6)))
        self.assertTrue(stack.wait_drained())
        self.assertTrue(stack.wait_for(lambda: stack.sql_int(
            "SELECT COUNT(*) FROM popup_events WHERE uid='%s' AND kind='click'" % u) == 1))


class Faults(unittest.TestCase):
    """Each test starts from a whole, healthy pool of 3."""

    def setUp(self):
        self.assertTrue(stack.wait_for(lambda: len(workers()) == 3, timeout=60))
        stack.wait_healthy()
        stack.set_popups([popup_row(1, show_cooldown_s=600)])

    def test_a_sigkilled_worker_loses_no_acknowledged_action(self):
        prefix = "k%d" % (time.time_ns() % 10**9)
        acked, errors, lock = [], [], threading.Lock()
        stop = threading.Event()

        def client(n):
            c = stack.http()
            for i in range(2000):
                if stop.is_set():
                    break
                u = "%s-%d-%d" % (prefix, n, i)
                try:
                    stack.get_popup(u, now=NOW, conn=c)  # an impression in the write-behind
                    r = stack.act(u, 1, "click", now=NOW, conn=c, query_uid=i % 2 == 0,
                                  headers={"Idempotency-Key": "a-" + u})
                    with lock:
                        (acked if r.status == 202 else errors).append(u)
                except Exception as e:  # noqa: BLE001
                    with lock:
                        errors.append(repr(e))
                    c.close()
        ts = [threading.Thread(target=client, args=(n,)) for n in range(6)]
        [t.start() for t in ts]
        try:
            self.assertTrue(stack.wait_for(lambda: len(acked) >= 100, timeout=60))
            victim = workers()[0]
            os.kill(victim, signal.SIGKILL)
            self.assertTrue(stack.wait_for(lambda: "worker %d killed by signal 9" % victim
                                           in stack.log("popupd.log"), timeout=30))
            self.assertTrue(stack.wait_for(lambda: len(workers()) == 3, timeout=30))
            n = len(acked)
            self.assertTrue(stack.wait_for(lambda: len(acked) >= n + 100, timeout=60))
        finally:
            stop.set()
            [t.join() for t in ts]
        self.assertTrue(stack.wait_drained(timeout=60))
        stored = {row[0] for row in stack.sql(
            "SELECT DISTINCT uid FROM popup_events WHERE kind='click' AND uid LIKE '%s-%%'" % prefix)}
        self.assertEqual(set(acked) - stored, set(), "acknowledged actions missing in MySQL")
        # Only the killed worker's requests in hand may have failed.
        self.assertLessEqual(len(errors), 16, errors[:5])

    def test_reload_with_more_then_fewer_workers_routes_every_user_to_one_worker(self):
        try:
            set_workers(4)
            self.assertTrue(os.path.exists(stack.path("popup.sock.3")))
            conf = open(stack.path("nginx/nginx.conf")).read()
            self.assertEqual(conf.count("popup.sock."), 4)
            owners = {}
            for u in [uid() for _ in range(40)]:
                pids = {stack.get_popup(u, now=NOW + i).headers["x-popup-worker"] for i in range(3)}
                self.assertEqual(len(pids), 1, u)
                owners[u] = pids.pop()
            self.assertEqual(len(set(owners.values())), 4, owners)
            set_workers(3)
            self.assertFalse(os.path.exists(stack.path("popup.sock.3")))
            for u in owners:
                self.assertEqual(stack.get_popup(u, now=NOW + 10).status, 200)
        finally:
            if len(workers()) != 3:
                set_workers(3)

    def test_when_every_worker_socket_fails_nginx_answers_through_the_shared_one(self):
        conf = stack.path("nginx/nginx.conf")
        good = open(conf).read()
        bad = re.sub(r"(?m)^( *).*# pool servers$", lambda m: m.group(1) +
                     "hash $popup_route consistent; server unix:%s max_fails=0; "
                     "server unix:%s max_fails=0; # pool servers"
                     % (stack.path("gone.0"), stack.path("gone.1")), good)
        self.assertNotEqual(bad, good)
        try:
            with open(conf, "w") as f:
                f.write(bad)
            reload_nginx()
            u = uid()
            self.assertEqual(shown(stack.get_popup(u, now=NOW)), 1)
            r = stack.act(u, 1, "click", now=NOW, query_uid=True)
            self.assertEqual(r.status, 202, r)
            # Past the show cooldown (600 s), inside the click's (a day).
            self.assertIsNone(shown(stack.get_popup(u, now=NOW + 1000)))
            self.assertIn("gone.0", stack.log("nginx-error.log"))
            self.assertTrue(stack.wait_drained())
            self.assertEqual(stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE uid='%s' "
                                           "AND kind='click'" % u), 1)
        finally:
            r = stack.run_script("reload")  # renders the real servers again
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_more_users_than_the_memory_budget_stay_within_it(self):
        try:
            set_workers(3, state_cache_mib=1)
            m = stack.metrics()
            self.assertEqual(m["popup_memory_state_budget_bytes"], 3 * 2**20)
            prefix = "m%d-" % (time.time_ns() % 10**9)
            users = 16000  # about 5,300 per worker; a 1 MiB budget holds about 3,400
            errors = []

            def client(n):
                c = stack.http()
                for i in range(n, users, 8):
                    r = stack.get_popup(prefix + str(i), now=NOW, conn=c)
                    if r.status != 200:
                        errors.append(r)
            ts = [threading.Thread(target=client, args=(n,)) for n in range(8)]
            [t.start() for t in ts]
            while any(t.is_alive() for t in ts):
                m = stack.metrics()
                self.assertLessEqual(m["popup_memory_state_bytes"], 3 * 2**20)
                time.sleep(0.2)  # sampling interval, not a wait for a condition
            [t.join() for t in ts]
            self.assertEqual(errors, [])
            # The gauges are published once a second: wait for the last.
            self.assertTrue(stack.wait_for(
                lambda: stack.metrics()["popup_memory_state_users"] > 0 and
                stack.metrics()["popup_memory_state_bytes"] > 2.5 * 2**20, timeout=10))
            m = stack.metrics()
            self.assertLessEqual(m["popup_memory_state_bytes"], 3 * 2**20)
            self.assertLess(m["popup_memory_state_users"], users)
            # Evicted users are read again and still obey their cooldown.
            for i in range(0, 200):
                self.assertIsNone(shown(stack.get_popup(prefix + str(i), now=NOW + 1)))
        finally:
            set_workers(3, state_cache_mib=64)


if __name__ == "__main__":
    unittest.main()
