"""GET /api/popup through nginx against real MariaDB and Redis: re-display
rules, selection, targeting, caches, errors (SPEC "GET /api/popup")."""

import glob
import json
import os
import signal
import threading
import time
import unittest
import urllib.parse

from harness import module_stack, popup_row, raw_json_reply, uid, shown

NOW = 1_800_000_000
setUpModule, tearDownModule = module_stack(globals())


def worker_sockets():
    """The pool's per-worker sockets (user affinity); none under spawn-fcgi."""
    return sorted(os.path.basename(p) for p in glob.glob(stack.path("popup.sock.*"))
                  if p.rsplit(".", 1)[1].isdigit())


class RedisplayRules(unittest.TestCase):
    def setUp(self):
        stack.set_popups([popup_row(1, show_cooldown_s=600, ignore_cooldown_s=1200,
                                    click_cooldown_s=None, max_impressions=3,
                                    title='Sale "50%" <b>off</b> é')])

    def test_popup_returned_then_withheld_during_cooldown_then_shown_again(self):
        u = uid()
        r = stack.get_popup(u, now=NOW)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "application/json")
        self.assertEqual(r.headers["cache-control"], "no-store")
        self.assertEqual(r.json(), {"popup": {"id": 1, "title": 'Sale "50%" <b>off</b> é',
                                              "body": "body", "image_url": "", "link_url": ""}})
        self.assertIsNone(shown(stack.get_popup(u, now=NOW)))
        self.assertIsNone(shown(stack.get_popup(u, now=NOW + 599)))
        self.assertEqual(shown(stack.get_popup(u, now=NOW + 600)), 1)

    def test_max_impressions_stops_the_popup(self):
        u = uid()
        for i in range(3):
            self.assertEqual(shown(stack.get_popup(u, now=NOW + i * 1000)), 1)
        self.assertIsNone(shown(stack.get_popup(u, now=NOW + 10_000)))

    def test_ignore_sets_its_cooldown(self):
        u = uid()
        self.assertEqual(shown(stack.get_popup(u, now=NOW)), 1)
        self.assertEqual(stack.act(u, 1, "ignore", now=NOW + 10).status, 202)
        self.assertIsNone(shown(stack.get_popup(u, now=NOW + 1209)))
        self.assertEqual(shown(stack.get_popup(u, now=NOW + 1210)), 1)

    def test_click_with_null_cooldown_is_never_shown_again(self):
        u = uid()
        self.assertEqual(shown(stack.get_popup(u, now=NOW)), 1)
        self.assertEqual(stack.act(u, 1, "click", now=NOW + 1, as_json=False).status, 202)
        self.assertIsNone(shown(stack.get_popup(u, now=NOW + 10**8)))

    def test_read_your_writes_across_workers(self):
        slots = worker_sockets()
        if slots:
            # User affinity: the owner decided in memory and stores the
            # impression behind its answer; every other worker, asked on its
            # own socket as if it owned the user, reads it from Redis.
            for _ in range(3):
                u = uid()
                self.assertEqual(shown(stack.get_popup(u, now=NOW)), 1)
                readers = set()
                for sock in slots:
                    r = stack.fcgi({"DOCUMENT_URI": "/api/popup", "QUERY_STRING": "uid=" + u,
                                    "HTTP_X_POPUP_NOW": str(NOW + 1)}, socket=sock)
                    self.assertIsNone(shown(r), sock)
                    readers.add(r.headers["x-popup-worker"])
                self.assertEqual(len(readers), len(slots))
            return
        # One shared socket (spawn-fcgi): Redis is frozen while 12 reads
        # arrive, so they are all in flight at once and occupy 12 accept
        # threads: every worker process answers.
        redis_pid = stack.pid("redis")
        for _ in range(3):
            u = uid()
            first = stack.get_popup(u, now=NOW)
            self.assertEqual(shown(first), 1)
            replies = []
            os.kill(redis_pid, signal.SIGSTOP)
            try:
                ts = [threading.Thread(target=lambda: replies.append(stack.get_popup(u, now=NOW + 1)))
                      for _ in range(12)]
                [t.start() for t in ts]
                stack.wait_in_flight(12)
            finally:
                os.kill(redis_pid, signal.SIGCONT)
            [t.join() for t in ts]
            self.assertEqual(len(replies), 12)
            for r in replies:
                self.assertIsNone(shown(r))
            readers = {r.headers["x-popup-worker"] for r in replies}
            self.assertTrue(readers - {first.headers["x-popup-worker"]},
                            "no read came from another worker process")

    def concurrent_gets(self, u, now, n=12):
        """n GETs of one user released at once. With one shared socket
        (spawn-fcgi) Redis is frozen while they arrive, so every one of them
        is past nginx and waiting on Redis; with user affinity they all
        reach the user's one worker, which takes them one at a time."""
        replies = []
        if worker_sockets():
            barrier = threading.Barrier(n)

            def visit():
                barrier.wait()
                replies.append(stack.get_popup(u, now=now))
            ts = [threading.Thread(target=visit) for _ in range(n)]
            [t.start() for t in ts]
            [t.join() for t in ts]
            return [shown(r) for r in replies]
        redis_pid = stack.pid("redis")
        os.kill(redis_pid, signal.SIGSTOP)
        try:
            ts = [threading.Thread(target=lambda: replies.append(stack.get_popup(u, now=now)))
                  for _ in range(n)]
            [t.start() for t in ts]
            stack.wait_in_flight(n)
        finally:
            os.kill(redis_pid, signal.SIGCONT)
        [t.join() for t in ts]
        self.assertEqual(len(replies), n)
        return [shown(r) for r in replies]

    def test_concurrent_visits_of_one_user_show_the_popup_once(self):
        # A user Redis has never seen (each request reads MySQL first) and a
        # known user whose cooldown has run out: either way one impression.
        u = uid()
        self.assertEqual(sorted(self.concurrent_gets(u, NOW), key=str), [1] + [None] * 11)
        self.assertEqual(sorted(self.concurrent_gets(u, NOW + 600), key=str), [1] + [None] * 11)
        stack.wait_drained()
        self.assertEqual(stack.redis_raw("HGET", "popup:u:" + u, "1").split(",")[:3],
                         [str(NOW + 1200), "2", "show"])
        stack.wait_drained()
        self.assertEqual(stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE uid = '%s'" % u), 2)

    def test_a_stored_state_that_does_not_decode_counts_as_none(self):
        u = uid()
        self.assertEqual(shown(stack.get_popup(u, now=NOW)), 1)
        # Asked on the shared socket, which decides from Redis every time
        # (the user's owner keeps its copy in memory, docs/design.md "User affinity").
        def shared_get(now):
            return stack.fcgi({"DOCUMENT_URI": "/api/popup", "QUERY_STRING": "uid=" + u,
                               "HTTP_X_POPUP_NOW": str(now)})
        stack.wait_drained()
        for junk in ("garbage", "1,2,show", "-5,1,show,1", "1,1,shown,1", "9" * 19 + ",1,show,1"):
            stack.redis("HSET", "popup:u:" + u, "1", junk)
            self.assertEqual(shown(shared_get(NOW + 1)), 1, junk)
            self.assertEqual(stack.redis_raw("HGET", "popup:u:" + u, "1").split(",")[:4],
                             ["%d" % (NOW + 601), "1", "show", "%d" % (NOW + 1)], junk)
            self.assertIsNone(shown(shared_get(NOW + 2)), junk)


class Selection(unittest.TestCase):
    def test_highest_priority_wins_and_ties_go_to_lowest_id(self):
        stack.set_popups([popup_row(5, priority=10), popup_row(3, priority=50),
                          popup_row(4, priority=50), popup_row(9, priority=1)])
        u = uid()
        order = [shown(stack.get_popup(u, now=NOW)) for _ in range(5)]
        self.assertEqual(order, [3, 4, 5, 9, None])

    def test_inactive_popups_are_not_shown(self):
        stack.set_popups([popup_row(1, enabled=0, priority=99),
                          popup_row(2, ends_at=NOW, priority=98),
                          popup_row(3, starts_at=NOW + 1, priority=97),
                          popup_row(4, starts_at=NOW, ends_at=NOW + 1, priority=1)])
        self.assertEqual(shown(stack.get_popup(uid(), now=NOW)), 4)
        self.assertEqual(shown(stack.get_popup(uid(), now=NOW + 1)), 3)
        self.assertEqual(shown(stack.get_popup(uid(), now=NOW - 1)), 2)


class Targeting(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        stack.set_popups([
            popup_row(1, platforms="ios", min_version="1.9", max_version="2.0", priority=90),
            popup_row(2, platforms="android,web", langs="de,FR", priority=80),
            popup_row(3, rollout_percent=0, priority=70),
            popup_row(4, rollout_percent=50, priority=60),
            popup_row(5, priority=1),
        ])

    def first(self, **params):
        return shown(stack.get_popup(uid(), now=NOW, **params))

    def test_platform_and_numeric_version_range(self):
        self.assertEqual(self.first(platform="ios", version="1.10"), 1)
        self.assertEqual(self.first(platform="ios", version="2"), 1)
        self.assertNotEqual(self.first(platform="ios", version="2.0.1"), 1)
        self.assertNotEqual(self.first(platform="ios", version="1.8.99"), 1)
        self.assertNotEqual(self.first(platform="ios"), 1)
        self.assertNotEqual(self.first(platform="web", version="1.10"), 1)

    def test_languages_are_case_insensitive_and_required_when_set(self):
        self.assertEqual(self.first(platform="android", lang="fr"), 2)
        self.assertEqual(self.first(lang="DE"), 2)
        self.assertNotEqual(self.first(lang="en"), 2)
        self.assertNotEqual(self.first(), 2)

    def test_rollout_buckets_follow_crc32(self):
        import zlib
        hits = 0
        for i in range(60):
            u = "roll%d" % i
            expected = 4 if zlib.crc32(("%s:4" % u).encode()) % 100 < 50 else 5
            got = shown(stack.get_popup(u, now=NOW))
            self.assertNotEqual(got, 3, "rollout 0 reached a user")
            self.assertEqual(got, expected, u)
            hits += got == 4
        self.assertTrue(0 < hits < 60)


class ConfigCache(unittest.TestCase):
    def test_published_change_is_served_within_2_seconds(self):
        stack.set_popups([popup_row(1)])
        self.assertEqual(shown(stack.get_popup(uid(), now=NOW)), 1)
        stack.sql("UPDATE popups SET id = 2, title = 'new' WHERE id = 1")
        t0 = time.time()
        version = stack.publish(wait=False)
        # Every worker reports the version it serves (popup_config_version_oldest).
        stack.wait_config(version, timeout=30)
        self.assertLessEqual(time.time() - t0, 2.0, "SPEC: every worker within 2 seconds")
        # Every worker switched: ask many fresh users over fresh connections.
        self.assertTrue(all(shown(stack.get_popup(uid(), now=NOW)) == 2 for _ in range(12)))

    def test_redis_flush_reloads_from_mysql_in_one_process(self):
        stack.set_popups([popup_row(7)])
        self.assertEqual(shown(stack.get_popup(uid(), now=NOW)), 7)
        before = stack.metrics().get("popup_config_mysql_loads_total", 0)
        stack.redis("FLUSHALL")
        errors = []

        def client():
            for _ in range(30):
                r = stack.get_popup(uid(), now=NOW)
                if r.status != 200 or shown(r) != 7:
                    errors.append(r)
                time.sleep(0.05)
        threads = [threading.Thread(target=client) for _ in range(6)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        self.assertEqual(errors, [])
        self.assertEqual(stack.redis_raw("EXISTS", "popup:config:set"), "1")
        after = stack.metrics().get("popup_config_mysql_loads_total", 0)
        self.assertEqual(after - before, 1)

    def test_warm_get_sends_no_query_to_mysql(self):
        stack.set_popups([popup_row(1, show_cooldown_s=3600)])
        u = uid()
        self.assertEqual(shown(stack.get_popup(u, now=NOW)), 1)
        c = stack.http()
        stack.get_popup(u, now=NOW + 1, conn=c)
        for _ in range(12):
            stack.get_popup(u, now=NOW + 1, conn=c)
        # The writer stores the first GET's impression with prepared
        # statements, which Com_stmt_execute counts too: let it finish first.
        self.assertTrue(stack.wait_for(lambda: stack.sql_int(
            "SELECT COUNT(*) FROM popup_events WHERE uid = '%s'" % u) == 1))
        before = (stack.status_counter("Com_select"), stack.status_counter("Com_stmt_execute"))
        for _ in range(50):
            self.assertIsNone(shown(stack.get_popup(u, now=NOW + 2, conn=c)))
        after = (stack.status_counter("Com_select"), stack.status_counter("Com_stmt_execute"))
        self.assertEqual(after, before)


class Errors(unittest.TestCase):
    def check(self, reply, status, code):
        self.assertEqual(reply.status, status, reply)
        self.assertTrue(reply.headers["content-type"].startswith("application/json"), reply.headers)
        body = reply.json()
        self.assertEqual(body["error"], code)
        self.assertTrue(body["message"])

    def test_missing_and_bad_uid(self):
        c = stack.http()
        self.check(c.request("GET", "/api/popup"), 400, "bad_request")
        self.check(c.request("GET", "/api/popup?uid="), 400, "bad_request")
        self.check(c.request("GET", "/api/popup?uid=a%20b"), 400, "bad_request")
        self.check(c.request("GET", "/api/popup?uid=" + "x" * 65), 400, "bad_request")
        self.check(c.request("GET", "/api/popup?uid=%ZZ"), 400, "bad_request")
        self.check(c.request("GET", "/api/popup?uid=ok&platform=tv"), 400, "bad_request")
        self.check(c.request("GET", "/api/popup?uid=ok&version=1.x"), 400, "bad_request")
        self.check(c.request("GET", "/api/popup?uid=ok&uid=other"), 400, "bad_request")

    def test_unknown_path_and_wrong_method(self):
        c = stack.http()
        self.check(c.request("GET", "/api/nothing"), 404, "not_found")
        self.check(c.request("GET", "/elsewhere"), 404, "not_found")
        r = c.request("POST", "/api/popup?uid=a", body="x",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.check(r, 405, "method_not_allowed")
        self.assertEqual(r.headers.get("allow"), "GET, HEAD, OPTIONS")
        self.check(c.request("GET", "/api/popup/action"), 405, "method_not_allowed")
        self.check(c.request("DELETE", "/api/healthz"), 405, "method_not_allowed")

    def test_healthz_reports_redis_mysql_and_queue(self):
        r = stack.http().request("GET", "/api/healthz")
        self.assertEqual(r.status, 200)
        body = r.json()
        self.assertEqual((body["status"], body["redis"], body["mysql"]), ("ok", "ok", "ok"))
        self.assertIn("queue_depth", body)

    def test_head_answers_like_get_and_changes_no_state(self):
        stack.set_popups([popup_row(1, show_cooldown_s=600)])
        u = uid()
        c = stack.http()
        for _ in range(3):
            r = c.request("HEAD", "/api/popup?uid=" + u, headers={"X-Popup-Now": str(NOW)})
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers["content-type"], "application/json")
            self.assertEqual(r.data, b"")
        self.assertEqual(stack.redis_raw("HGET", "popup:u:" + u, "1"), "")
        stack.wait_drained()
        self.assertEqual(stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE uid = '%s'" % u), 0)
        # The first GET still gets the popup, and records it once.
        self.assertEqual(shown(stack.get_popup(u, now=NOW)), 1)
        stack.wait_drained()  # the impression is stored behind the answer
        self.assertEqual(stack.redis_raw("HGET", "popup:u:" + u, "1").split(",")[1], "1")
        r = c.request("HEAD", "/api/popup?uid=a%20b")
        self.assertEqual((r.status, r.data), (400, b""))

    def test_errors_nginx_raises_itself_are_json(self):
        c = stack.http()
        self.check(c.request("GET", "/api/popup?uid=" + "a" * 9000), 414, "bad_request")
        self.check(c.request("GET", "/api/healthz", headers={"X-Big": "a" * 9000}), 400, "bad_request")
        self.check(c.request("TRACE", "/api/healthz"), 405, "method_not_allowed")
        self.check(c.request("POST", "/api/popup/action", body="x",
                             headers={"Transfer-Encoding": "gzip"}), 501, "not_implemented")
        import socket
        s = socket.create_connection(("127.0.0.1", stack.port), timeout=10)
        try:
            s.sendall(b"GET /api/healthz HTTP/3.0\r\nHost: x\r\n\r\n")
            raw = raw_json_reply(s)
        finally:
            s.close()
        self.assertTrue(raw.startswith(b"HTTP/1.1 505"), raw[:100])
        self.assertEqual(json.loads(raw.split(b"\r\n\r\n", 1)[1])["error"], "bad_request")
        self.check(c.request("POST", "/api"), 404, "not_found")
        self.check(c.request("GET", "/api"), 404, "not_found")
        # Bodies nginx cannot read: a chunk size that is not hex, or one too
        # large for any integer.
        for size in (b"zz", b"ffffffffffffffff"):
            s = socket.create_connection(("127.0.0.1", stack.port), timeout=10)
            try:
                s.sendall(b"POST /api/popup/action HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: application/x-www-form-urlencoded\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n" + size + b"\r\nuid=a\r\n0\r\n\r\n")
                raw = raw_json_reply(s)
            finally:
                s.close()
            head, _, body = raw.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 400"), raw[:200])
            self.assertIn(b"content-type: application/json", head.lower(), raw[:300])
            self.assertEqual(json.loads(body)["error"], "bad_request", raw)

    def test_an_unknown_path_is_never_echoed_as_invalid_utf8(self):
        r = stack.http().request("GET", "/api/%FF%FE%C3")
        self.check(r, 404, "not_found")
        r.data.decode("utf-8")  # raises on invalid UTF-8
        self.assertIn("/api/???", r.json()["message"])

    def test_json_keys_given_twice_are_400(self):
        r = stack.http().request("POST", "/api/popup/action",
                                 body='{"uid":"dupkey","popup_id":1,"popup_id":999999,"action":"click"}',
                                 headers={"Content-Type": "application/json"})
        self.check(r, 400, "bad_request")
        self.assertIn("popup_id is given more than once", r.json()["message"])

    def test_metrics_refused_to_a_peer_outside_the_admin_networks(self):
        env = {"DOCUMENT_URI": "/api/metrics", "REMOTE_ADDR": "8.8.8.8"}
        self.check(stack.fcgi(env), 403, "forbidden")
        self.check(stack.fcgi({"DOCUMENT_URI": "/api/metrics"}), 403, "forbidden")
        r = stack.fcgi(dict(env, REMOTE_ADDR="127.0.0.1"))
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"popup_workers", r.data)

    def test_any_fastcgi_server_reaches_the_endpoints(self):
        stack.set_popups([popup_row(1)])
        u = uid("lighttpd")
        # lighttpd mod_fastcgi with the prefix /api/popup: SCRIPT_NAME and
        # PATH_INFO, no DOCUMENT_URI.
        body = ("uid=%s&popup_id=1&action=ignore" % u).encode()
        r = stack.fcgi({"REQUEST_METHOD": "POST", "SCRIPT_NAME": "/api/popup", "PATH_INFO": "/action",
                        "CONTENT_TYPE": "application/x-www-form-urlencoded",
                        "REQUEST_URI": "/api/popup/action"}, body)
        self.assertEqual(r.status, 202, r)
        r = stack.fcgi({"SCRIPT_NAME": "/api/popup", "QUERY_STRING": "uid=" + u,
                        "REQUEST_URI": "/api/popup?uid=" + u})
        self.assertEqual((r.status, json.loads(r.data)), (200, {"popup": None}), r)
        # REQUEST_URI alone (cgi-fcgi by hand).
        r = stack.fcgi({"REQUEST_URI": "/api/popup?uid=other-" + u, "QUERY_STRING": "uid=other-" + u})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(json.loads(r.data)["popup"]["id"], 1)

    def test_garbage_input_never_breaks_a_worker(self):
        c = stack.http()
        junk = ["uid=%00", "uid=" + "%" * 50, "uid=a&lang=" + "x" * 5000, "\x01\x02=\x03",
                "uid=a&version=99999999999.1", "uid=a&version=1.2.3.4.5", "&&&&", "uid"]
        for q in junk:
            r = c.request("GET", "/api/popup?" + urllib.parse.quote(q, safe="=&%"))
            self.assertIn(r.status, (200, 400), (q, r))
            json.loads(r.data)
        self.assertEqual(stack.http().request("GET", "/api/healthz").status, 200)


if __name__ == "__main__":
    unittest.main()
