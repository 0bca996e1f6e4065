"""The write path end to end (SPEC "POST /api/popup/action", "Writes and the
queue"): actions through nginx, the Redis queue, the batched idempotent
writer, and what happens when the writer, MySQL or Redis goes away."""

import json
import os
import random
import signal
import threading
import time
import unittest
import urllib.parse

from harness import Proc, module_stack, child_pids, popup_row, uid

NOW = 1_800_000_000
setUpModule, tearDownModule = module_stack(globals(), BATCH_SIZE=50, setup=lambda s: s.set_popups(
    [popup_row(1, show_cooldown_s=0, ignore_cooldown_s=60, click_cooldown_s=120)]))


class Traffic:
    """Bounded concurrent traffic: each thread owns its users and records
    every event the service promised (a shown popup or a 202)."""

    def __init__(self, prefix, threads=4, ops=100, users=5, gets=True):
        self.prefix = prefix
        self.threads = threads
        self.ops = ops
        self.users = users
        self.gets = gets
        self.promised = 0
        self.failures = []
        self.last = {}  # uid -> (impressions, last_action)
        self.lock = threading.Lock()
        self.stop = threading.Event()  # ends the run before `ops`

    def worker(self, t):
        c = stack.http()
        rng = random.Random(t)
        mine = ["%s-%d-%d" % (self.prefix, t, i) for i in range(self.users)]
        state = {u: [0, None] for u in mine}
        promised = 0
        for i in range(self.ops):
            if self.stop.is_set():
                break
            u = rng.choice(mine)
            now = NOW + i
            try:
                if self.gets and rng.random() < 0.5:
                    r = stack.get_popup(u, now=now, conn=c)
                    if r.status == 200 and r.json()["popup"]:
                        promised += 1
                        state[u][0] += 1
                        state[u][1] = "show"
                    elif r.status != 200:
                        self.failures.append(r)
                else:
                    action = rng.choice(["click", "ignore"])
                    r = stack.act(u, 1, action, now=now, conn=c)
                    if r.status == 202:
                        promised += 1
                        state[u][1] = action
                    else:
                        self.failures.append(r)
            except Exception as e:  # noqa: BLE001 - a transport error is a failure too
                self.failures.append(e)
                c.close()
        with self.lock:
            self.promised += promised
            for u, (imp, last) in state.items():
                if last:
                    self.last[u] = (imp, last)

    def run(self):
        ts = [threading.Thread(target=self.worker, args=(t,)) for t in range(self.threads)]
        [t.start() for t in ts]
        return ts


def events_for(prefix):
    return stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE uid LIKE '%s-%%'" % prefix)


def states_for(prefix):
    rows = stack.sql("SELECT uid, impressions, last_action FROM user_state WHERE uid LIKE '%s-%%'"
                     % prefix)
    return {u: (int(i), a) for u, i, a in rows}


def ensure_writer():
    if not stack.wait_drained(timeout=60):
        raise AssertionError("queue did not drain: depth %s" % stack.redis("LLEN", "popup:events"))


def explain(prefix, expected):
    """The event history of the users whose durable state differs."""
    got = states_for(prefix)
    lines = []
    for u in sorted(set(got) | set(expected)):
        if got.get(u) != expected.get(u):
            lines.append("%s: mysql %s, expected %s" % (u, got.get(u), expected.get(u)))
            lines += ["   " + " ".join(r) for r in stack.sql(
                "SELECT ts, ev_order, kind, impressions, next_show_at FROM popup_events "
                "WHERE uid = '%s' ORDER BY ev_order" % u)]
            lines.append("   redis: " + stack.redis_raw("HGETALL", "popup:u:" + u).replace("\n", " "))
    lines = lines[:80]
    # A divergence usually follows a Redis or MySQL failure: show the pool's.
    with open(stack.path("log", "popupd.log"), errors="replace") as f:
        lines += ["   log: " + l.rstrip() for l in f if " info: " not in l][-10:]
    return "\n".join(lines)


class WritePath(unittest.TestCase):
    def setUp(self):
        stack.wait_healthy()
    def test_concurrent_clients_give_exactly_n_events_and_the_right_state(self):
        t = Traffic("conc", threads=6, ops=80)
        [th.join() for th in t.run()]
        self.assertEqual(t.failures, [])
        ensure_writer()
        self.assertEqual(events_for("conc"), t.promised)
        got = states_for("conc")
        self.assertEqual(got, t.last, explain("conc", t.last) if got != t.last else "")

    def test_action_state_is_visible_at_once(self):
        u = uid()
        stack.set_popups([popup_row(1, show_cooldown_s=0, ignore_cooldown_s=60, click_cooldown_s=120)])
        self.assertIsNotNone(stack.get_popup(u, now=NOW).json()["popup"])
        self.assertEqual(stack.act(u, 1, "ignore", now=NOW).status, 202)
        self.assertIsNone(stack.get_popup(u, now=NOW + 59).json()["popup"])
        self.assertIsNotNone(stack.get_popup(u, now=NOW + 60).json()["popup"])

    def test_actions_on_disabled_expired_or_future_popups_are_recorded(self):
        """SPEC: the user may have seen the popup a moment before the operator
        disabled it; only an id that never existed is 404."""
        module_popup = popup_row(1, show_cooldown_s=0, ignore_cooldown_s=60, click_cooldown_s=120)
        stack.set_popups([module_popup, popup_row(7, enabled=0, click_cooldown_s=500),
                          popup_row(8, ends_at=NOW - 10), popup_row(9, starts_at=NOW + 1000)])
        try:
            u = uid("gone")
            for pid in (7, 8, 9):
                r = stack.act(u, pid, "click", now=NOW)
                self.assertEqual(r.status, 202, (pid, r))
            self.assertEqual(stack.act(u, 6, "click", now=NOW).status, 404)
            ensure_writer()
            self.assertEqual(stack.sql("SELECT popup_id, next_show_at FROM user_state WHERE uid = '%s' "
                                       "ORDER BY popup_id" % u),
                             [["7", str(NOW + 500)], ["8", str(NOW + 86400)], ["9", str(NOW + 86400)]])
            # Still never shown.
            self.assertEqual(stack.get_popup(uid("gone"), now=NOW).json()["popup"]["id"], 1)
        finally:
            stack.set_popups([module_popup])

    def test_unknown_popup_is_404_and_queues_nothing(self):
        before = stack.redis("LLEN", "popup:events")
        r = stack.act(uid(), 999, "click")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["error"], "not_found")
        self.assertEqual(stack.redis("LLEN", "popup:events"), before)

    def test_bad_bodies_get_errors_and_queue_nothing(self):
        u = uid("bad")
        c = stack.http()
        cases = [
            ("application/json", "{not json", 400),
            ("application/json", '["a"]', 400),
            ("application/json", json.dumps({"uid": u, "popup_id": "1", "action": "click"}), 400),
            ("application/json", json.dumps({"uid": u, "popup_id": 1.5, "action": "click"}), 400),
            ("application/json", json.dumps({"uid": 5, "popup_id": 1, "action": "click"}), 400),
            ("application/json", json.dumps({"uid": u, "popup_id": 1, "action": "like"}), 400),
            ("application/json", json.dumps({"uid": u, "popup_id": 1}), 400),
            ("application/x-www-form-urlencoded", "uid=%s&popup_id=x&action=click" % u, 400),
            ("application/x-www-form-urlencoded", "uid=%s&action=click" % u, 400),
            ("text/csv", "uid=%s&popup_id=1&action=click" % u, 400),
            ("application/json", json.dumps({"uid": u, "popup_id": 1, "action": "click",
                                             "pad": "x" * 5000}), 413),
        ]
        for ctype, body, status in cases:
            r = c.request("POST", "/api/popup/action", body=body, headers={"Content-Type": ctype})
            self.assertEqual(r.status, status, (body[:80], r))
            self.assertIn(r.json()["error"], ("bad_request", "payload_too_large"))
        ensure_writer()
        self.assertEqual(stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE uid = '%s'" % u), 0)
        self.assertEqual(stack.redis_raw("HLEN", "popup:u:" + u), "0")

    def test_the_same_event_applied_twice_adds_one_row_and_keeps_state(self):
        u = uid("dup")
        ev = {"id": "%032x" % random.getrandbits(128), "uid": u, "popup_id": 1, "kind": "click",
              "ts": NOW, "order": int(time.time() * 1e6), "next_show_at": NOW + 120,
              "impressions": 2, "last_action": "click"}
        older = dict(ev, id="%032x" % random.getrandbits(128), order=ev["order"] - 10,
                     kind="show", last_action="show", impressions=1, next_show_at=NOW)
        text = json.dumps(ev)
        stack.redis("LPUSH", "popup:events", text)
        stack.redis("LPUSH", "popup:events", text)
        ensure_writer()
        stack.redis("LPUSH", "popup:events", text)
        stack.redis("LPUSH", "popup:events", json.dumps(older))
        ensure_writer()
        self.assertEqual(stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE uid = '%s'" % u), 2)
        self.assertEqual(stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE event_id = '%s'"
                                       % ev["id"]), 1)
        self.assertEqual(stack.sql("SELECT next_show_at, impressions, last_action, event_id "
                                   "FROM user_state WHERE uid = '%s'" % u),
                         [[str(NOW + 120), "2", "click", ev["id"]]])


    def test_a_backlog_of_several_batches_moves_at_once_and_commits_a_batch_at_a_time(self):
        """170 events wait while the writer is stopped (BATCH_SIZE is 50).
        The writer takes the queue over in one move (it fits in 16 batches)
        and applies what it holds in MySQL batches of 50, trimming each from
        its processing list: 4 batches, every event once, none left in hand,
        the users' last states."""
        ensure_writer()
        u = uid("backlog")
        order = int(time.time() * 1e6)
        events = [{"id": "%032x" % random.getrandbits(128), "uid": "%s-%d" % (u, i % 7),
                   "popup_id": 1, "kind": "show", "ts": NOW + i, "order": order + i,
                   "next_show_at": NOW + i, "impressions": i // 7 + 1, "last_action": "show"}
                  for i in range(170)]
        w = Proc(stack, "popup-writer", "writer.log", pidfile="writer.pid")
        w.kill(signal.SIGTERM, wait=60)
        try:
            # The oldest first: LPUSH puts each argument at the head in turn.
            stack.redis("LPUSH", "popup:events", *[json.dumps(e) for e in events])
        finally:
            w.start()
        ensure_writer()
        # The new writer's counters start at 0 and are published once it idles.
        stats = lambda: stack.redis_raw("HMGET", "popup:writer:w1", "batches_total",
                                        "events_total").split()
        self.assertTrue(stack.wait_for(lambda: stats() == ["4", "170"], timeout=60), stats())
        self.assertEqual(stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE uid LIKE '%s-%%'"
                                       % u), 170)
        self.assertEqual(stack.sql_int("SELECT COUNT(DISTINCT event_id) FROM popup_events "
                                       "WHERE uid LIKE '%s-%%'" % u), 170)
        self.assertEqual(stack.redis_raw("KEYS", "popup:events:processing:*"), "")
        self.assertEqual(stack.sql_int("SELECT MAX(impressions) FROM user_state WHERE uid LIKE "
                                       "'%s-%%'" % u), 170 // 7 + 1)


def mariadb():
    return Proc(stack, "mariadbd", "mariadb.log")


def redis_server():
    # Redis rewrites its process title, so its command is given.
    return Proc(stack, "redis-server", "redis.log", pidfile="redis.pid",
                argv=["redis-server", stack.path("redis.conf")])


class Failures(unittest.TestCase):
    """Each test breaks one part and puts it back; each starts only once the
    stack is healthy again (every breaker closed), whatever ran before."""

    def setUp(self):
        stack.wait_healthy()
        ensure_writer()

    def test_writer_killed_at_random_moments_loses_and_duplicates_nothing(self):
        t = Traffic("kill", threads=4, ops=5000)
        threads = t.run()
        rng = random.Random(7)
        kills = 0
        try:
            # The traffic runs until the kills are done (bounded by its ops),
            # however fast this machine is.
            while kills < 6 and any(th.is_alive() for th in threads):
                time.sleep(rng.uniform(0.05, 0.3))
                # writer.pid names popup-writer's supervisor. Even kills hit
                # the writer child (the supervisor starts another); odd kills
                # hit the supervisor, whose child then finishes its batch and
                # exits, and start it again.
                w = Proc(stack, "popup-writer", "writer.log", pidfile="writer.pid")
                if kills % 2 == 0:
                    self.assertTrue(stack.wait_for(lambda: child_pids(w.pid), timeout=30))
                    try:
                        os.kill(child_pids(w.pid)[0], signal.SIGKILL)
                    except (ProcessLookupError, IndexError):
                        continue
                    kills += 1
                    continue
                w.kill(signal.SIGKILL)
                kills += 1
                time.sleep(rng.uniform(0.0, 0.2))
                w.start()
        finally:
            t.stop.set()
            [th.join() for th in threads]
        self.assertEqual(kills, 6, "the traffic ended before the writer was killed 6 times")
        self.assertEqual(t.failures, [])
        ensure_writer()
        self.assertEqual(events_for("kill"), t.promised)
        got = states_for("kill")
        self.assertEqual(got, t.last, explain("kill", t.last) if got != t.last else "")

    def test_mysql_down_keeps_serving_and_the_backlog_drains(self):
        u = "mydown"
        warm = Traffic(u + "w", threads=1, ops=10)
        [th.join() for th in warm.run()]
        ensure_writer()
        db = mariadb()
        db.kill(signal.SIGTERM, wait=60)
        try:
            # Actions only: their state does not need MySQL once Redis knows the user.
            t = Traffic(u, threads=3, ops=60, gets=False)
            [th.join() for th in t.run()]
            self.assertEqual(t.failures, [])
            depth = int(stack.redis_raw("LLEN", "popup:events") or 0)
            in_hand = sum(int(stack.redis_raw("LLEN", k) or 0)
                          for k in stack.redis_raw("KEYS", "popup:events:processing:*").split())
            self.assertGreater(depth + in_hand, 0, "nothing waited for MySQL")
        finally:
            db.start()
        self.assertTrue(stack.wait_for(stack.mariadb_answers, timeout=60))
        ensure_writer()
        self.assertEqual(events_for(u), t.promised)
        self.assertEqual(states_for(u), t.last)

    def test_an_open_breaker_does_not_refuse_an_action_while_mysql_is_down(self):
        """Redis hung a moment ago, so every process skips it for
        redis_breaker_open_ms; MySQL is down. Redis answers again within
        that window, so an action is queued there instead of refused."""
        db = mariadb()
        db.kill(signal.SIGKILL)
        redis = redis_server()
        try:
            os.kill(redis.pid, signal.SIGSTOP)
            try:
                # Each process's refresher fails on its own; wait until every
                # breaker of the pool is open.
                self.assertTrue(stack.wait_for(
                    lambda: stack.metrics().get("popup_redis_breaker_open", 0) == 3, timeout=60))
            finally:
                os.kill(redis.pid, signal.SIGCONT)
            answers = [stack.act(uid("brk"), 1, "click", now=NOW) for _ in range(6)]
        finally:
            db.start()
        self.assertEqual([r.status for r in answers], [202] * 6, answers)
        self.assertTrue(stack.wait_for(stack.mariadb_answers, timeout=60))

    def test_redis_down_actions_end_in_mysql_or_get_503(self):
        users = ["rdown-%d" % i for i in range(20)]
        for u in users:  # warm these users' configuration path
            stack.get_popup(u, now=NOW)
        ensure_writer()
        before = {u: stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE uid = '%s'" % u)
                  for u in users}
        r = redis_server()
        r.kill(signal.SIGKILL)
        accepted = {}
        try:
            for i, u in enumerate(users):
                resp = stack.act(u, 1, "click", now=NOW + 10 + i)
                self.assertIn(resp.status, (202, 503), resp)
                if resp.status == 202:
                    accepted[u] = 1
            self.assertTrue(accepted, "no action accepted while MySQL was up")
            for u in users:
                got = stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE uid = '%s'" % u)
                self.assertEqual(got - before[u], accepted.get(u, 0), u)
        finally:
            r.start()
        stack.wait_healthy()

    def test_redis_hung_opens_the_breaker_and_gets_are_answered_from_mysql(self):
        """Redis hangs (SIGSTOP) instead of refusing connections. After
        redis_breaker_failures timeouts in a row a process skips Redis for a
        while, so GETs are answered from MySQL without paying the timeout each
        time; every impression still lands in MySQL; once Redis answers again
        events are queued in Redis again."""
        skips = stack.metrics().get("popup_redis_breaker_skips_total", 0)
        users = ["rhung-%d" % i for i in range(15)]
        redis = redis_server()
        os.kill(redis.pid, signal.SIGSTOP)
        try:
            answers = [stack.get_popup(u, now=NOW) for u in users]
            during = stack.metrics()
        finally:
            os.kill(redis.pid, signal.SIGCONT)
        self.assertEqual([r.status for r in answers], [200] * len(users), answers)
        self.assertTrue(all(r.json()["popup"] for r in answers), answers)
        self.assertGreater(during["popup_redis_breaker_skips_total"], skips)
        self.assertIn("circuit breaker open", stack.log("popupd.log"))
        # Written straight to MySQL, one impression each (behind the answers:
        # the write-behind stores them, docs/design.md "User affinity").
        self.assertTrue(stack.wait_for(lambda: events_for("rhung") == len(users), timeout=30),
                        events_for("rhung"))
        stack.wait_healthy()
        queued = stack.metrics()["popup_events_queued_total"]
        n = [0]

        def queued_again():
            n[0] += 1
            stack.get_popup("rhung-after-%d" % n[0], now=NOW)
            return stack.metrics()["popup_events_queued_total"] > queued
        self.assertTrue(stack.wait_for(queued_again, timeout=30, interval=0.2))

    def test_direct_mysql_write_reaches_redis_once_it_answers_again(self):
        """A user whose Redis hash outlives an outage: the click written
        straight to MySQL while Redis was down is copied into Redis once it is
        back, so its cooldown holds instead of Redis's older copy. Redis is
        killed, not frozen: a frozen Redis would still run the commands a
        timed-out worker had sent once it thaws, and the copy would then
        come from those, not from the repair."""
        u = uid("repair")
        # Until each worker's MySQL probe has seen MariaDB back from an
        # earlier test's outage, a user Redis lacks is shown nothing (and
        # nothing is recorded): ask until the popup is shown.
        self.assertTrue(stack.wait_for(lambda: stack.get_popup(u, now=NOW).json()["popup"],
                                       timeout=30))
        # The owner stores the impression behind its answer.
        self.assertTrue(stack.wait_for(lambda: stack.redis_raw("HGET", "popup:u:" + u, "1"), timeout=30))
        ensure_writer()
        repairs = stack.metrics().get("popup_redis_repairs_total", 0)
        redis = redis_server()
        # appendonly: the hash is in the AOF file once Redis answered, so it
        # outlives the kill.
        redis.kill(signal.SIGKILL)
        try:
            r = stack.act(u, 1, "click", now=NOW + 5)
        finally:
            redis.start()
        self.assertEqual(r.status, 202, r)
        self.assertEqual(stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE uid = '%s' "
                                       "AND kind = 'click'" % u), 1)
        self.assertTrue(stack.wait_for(
            lambda: ",click," in (stack.redis_raw("HGET", "popup:u:" + u, "1") or ""), timeout=30),
            stack.redis_raw("HGET", "popup:u:" + u, "1"))
        self.assertGreater(stack.metrics()["popup_redis_repairs_total"], repairs)
        # click_cooldown_s is 120: nothing 10 s later.
        self.assertIsNone(stack.get_popup(u, now=NOW + 10).json()["popup"])


def post_action(body, key=None, query="", conn=None, now=NOW, as_json=True):
    headers = {"X-Popup-Now": str(now)}
    if key:
        headers["Idempotency-Key"] = key
    if as_json:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body)
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        data = urllib.parse.urlencode(body)
    c = conn or stack.http()
    try:
        return c.request("POST", "/api/popup/action" + query, body=data, headers=headers)
    finally:
        if conn is None:
            c.close()


def action_rows(u):
    return stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE uid = '%s' AND kind <> 'show'" % u)


def workers():
    return child_pids(stack.pid("popupd"))


class Idempotency(unittest.TestCase):
    """SPEC: an action sent with an idempotency key is recorded once, however
    often it is sent; the uid may come from the query string."""

    def setUp(self):
        stack.wait_healthy()

    def test_a_retried_action_with_a_key_is_recorded_once(self):
        for how in ("header", "field", "form"):
            u = uid("idem")
            body = {"uid": u, "popup_id": 1, "action": "click"}
            if how == "header":
                send = lambda now: post_action(body, key="k-" + u, now=now)  # noqa: E731
            else:
                keyed = dict(body, action_id="k-" + u)
                send = lambda now: post_action(keyed, now=now, as_json=how == "field")  # noqa: E731
            # The retry comes later (its own clock): still the same action.
            replies = [send(NOW), send(NOW + 30), send(NOW + 60)]
            self.assertEqual([r.status for r in replies], [202] * 3, (how, replies))
            ensure_writer()
            self.assertEqual(action_rows(u), 1, how)
            # The state is the first try's: click at NOW, cooldown 120 s.
            self.assertEqual(stack.redis_raw("HGET", "popup:u:" + u, "1").split(",")[:3],
                             [str(NOW + 120), "0", "click"], how)
            # Another key is another action.
            self.assertEqual(post_action(body, key="other-" + u, now=NOW + 61).status, 202)
            ensure_writer()
            self.assertEqual(action_rows(u), 2, how)

    def test_actions_without_a_key_are_each_recorded(self):
        u = uid("nokey")
        for i in range(3):
            self.assertEqual(post_action({"uid": u, "popup_id": 1, "action": "ignore"},
                                         now=NOW + i).status, 202)
        ensure_writer()
        self.assertEqual(action_rows(u), 3)

    def test_markers_live_a_day_for_client_keys_and_minutes_for_nginx_ones(self):
        before = set(stack.redis_raw("KEYS", "popup:once:*").split())
        u = uid("ttl")
        self.assertEqual(post_action({"uid": u, "popup_id": 1, "action": "click"}, key="k").status, 202)
        keyed = set(stack.redis_raw("KEYS", "popup:once:*").split()) - before
        self.assertEqual(len(keyed), 1)
        self.assertGreater(int(stack.redis_raw("TTL", keyed.pop())), 3600)
        before = set(stack.redis_raw("KEYS", "popup:once:*").split())
        self.assertEqual(post_action({"uid": u, "popup_id": 1, "action": "ignore"}, now=NOW + 1).status, 202)
        by_nginx = set(stack.redis_raw("KEYS", "popup:once:*").split()) - before
        self.assertEqual(len(by_nginx), 1)
        self.assertTrue(0 < int(stack.redis_raw("TTL", by_nginx.pop())) <= 300)

    def test_bad_keys_and_uids_are_refused_and_record_nothing(self):
        u = uid("badkey")
        body = {"uid": u, "popup_id": 1, "action": "click"}
        for reply in [post_action(body, key="a b"), post_action(body, key="x" * 65),
                      post_action(dict(body, action_id="k1"), key="k2"),
                      post_action(dict(body, action_id=7)),
                      post_action(body, query="?uid=someone-else"),
                      post_action(body, query="?uid=a%20b")]:
            self.assertEqual(reply.status, 400, reply)
            self.assertEqual(reply.json()["error"], "bad_request")
        ensure_writer()
        self.assertEqual(action_rows(u), 0)
        self.assertEqual(stack.redis_raw("HLEN", "popup:u:" + u), "0")

    def test_the_uid_may_come_from_the_query_string(self):
        u = uid("quid")
        self.assertEqual(post_action({"popup_id": 1, "action": "ignore"}, query="?uid=" + u).status, 202)
        self.assertEqual(post_action({"uid": u, "popup_id": 1, "action": "click"},
                                     query="?uid=" + u, now=NOW + 1).status, 202)
        ensure_writer()
        self.assertEqual(action_rows(u), 2)

    def test_workers_killed_under_load_lose_and_duplicate_no_keyed_action(self):
        """Actions with keys while workers are SIGKILLed: nginx resends an
        action whose connection broke; the client resends what was not
        acknowledged. Every action ends up stored exactly once."""
        sent, acked, failed_first = [], set(), []
        lock = threading.Lock()
        stop = threading.Event()

        def client(t):
            c = stack.http()
            for i in range(2000):
                if stop.is_set():
                    break
                u, key = "kw-%d-%d" % (t, i % 7), "t%d-%d" % (t, i)
                body = {"uid": u, "popup_id": 1, "action": "click" if i % 2 else "ignore"}
                with lock:
                    sent.append((u, key, NOW + i))
                try:
                    r = post_action(body, key=key, conn=c, now=NOW + i)
                    ok = r.status == 202
                except Exception:  # noqa: BLE001 - a broken connection is an unacknowledged send
                    ok = False
                    c.close()
                with lock:
                    (acked.add((u, key)) if ok else failed_first.append((u, key, NOW + i, body)))
            c.close()
        ts = [threading.Thread(target=client, args=(t,)) for t in range(6)]
        [t.start() for t in ts]
        kills = 0
        try:
            while kills < 5 and any(t.is_alive() for t in ts):
                self.assertTrue(stack.wait_for(lambda: len(workers()) == 3, timeout=60))
                with lock:
                    mark = len(sent)
                self.assertTrue(stack.wait_for(lambda: len(sent) >= mark + 100, timeout=60))
                os.kill(random.choice(workers()), signal.SIGKILL)
                kills += 1
        finally:
            stop.set()
            [t.join() for t in ts]
        self.assertEqual(kills, 5)
        # The client resends what was not acknowledged, with the same key.
        retried = [post_action(body, key=key, now=now) for u, key, now, body in failed_first]
        self.assertTrue(all(r.status == 202 for r in retried), retried[:5])
        ensure_writer()
        rows = stack.sql("SELECT uid, ts, COUNT(*) FROM popup_events WHERE uid LIKE 'kw-%' "
                         "AND kind <> 'show' GROUP BY uid, ts")
        stored = sum(int(n) for _, _, n in rows)
        duplicated = sum(int(n) - 1 for _, _, n in rows)
        print("\n  keyed actions under %d worker kills: sent %d, acknowledged %d at once, "
              "%d resent by the client, stored %d, duplicated %d"
              % (kills, len(sent), len(acked), len(failed_first), stored, duplicated))
        self.assertEqual(duplicated, 0)
        self.assertEqual(stored, len(sent))


if __name__ == "__main__":
    unittest.main()
