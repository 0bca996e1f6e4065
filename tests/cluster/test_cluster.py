"""Issue 25's acceptance on the cluster run.py started (scripts/cluster.sh):
affinity over two levels, a host cut off mid-load and healed, writes through
another host, distributed Locust. Test 6 (nothing left after down) is
run.py's, after the cluster is down."""

import os
import random
import subprocess
import threading
import time
import unittest
import uuid
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import Stack  # noqa: E402

from cluster import (DIR, EDGE, HOSTS, HOST_OF_ADDR, NET, POPUP, TOP, Conn, drained, edge_log, host_log, routed_to,
                     ensure_popup, parallel, pct, redis, script, served_by, shown, sql, wait_for)

RUN = uuid.uuid4().hex[:6]
NOW = int(time.time())


def setUpModule():
    ensure_popup()


def owners(uids, now):
    """Warms each uid with a GET through the edge (it is shown POPUP) and
    returns {uid: owner host} from the edge's access log."""
    res = parallel(lambda c, u: c.get(u, now, lang="eo"), uids)
    assert all(s == 200 and shown(b) == POPUP for s, b in res), res[:3]
    seen = served_by(edge_log(), uids)
    # "a, b": the edge tried a, then b (next upstream): b answered.
    return {u: HOST_OF_ADDR[ups[-1].split(", ")[-1]] for u, ups in seen.items()}


class Cluster(unittest.TestCase):
    def test_1_affinity_and_same_answers_as_one_host(self):
        """Each user is served by one host and one worker there; 3 hosts
        answer 3,000 seeded requests as one host does."""
        rnd = random.Random(25)
        users, steps = 300, 10
        plan = []
        for i in range(users):
            q = rnd.choice([dict(platform="web"), dict(platform="ios", version="2.1"),
                            dict(platform="android", version="3.2"), dict(lang="de"),
                            dict(lang="es"), dict(lang="it"), dict(platform="ios", version="1.5")])
            acts = [rnd.choice(["get", "get", "click", "ignore"]) for _ in range(steps)]
            plan.append((i, q, acts))

        def play(prefix):
            def one(c, item):
                i, q, acts = item
                uid, out, last = "%s-%s-%d" % (prefix, RUN, i), [], None
                for s, a in enumerate(acts):
                    now = NOW + s * 700
                    if a == "get" or last is None:
                        st, b = c.get(uid, now, **q)
                        last = shown(b) if st == 200 else None
                        out.append((st, b))
                    else:
                        st, b = c.act(uid, last, a, now)
                        out.append((st, b))
                        last = None
                return out
            return one
        a = parallel(play("ca"), plan)  # through the edge: 3 hosts
        # The same requests (same uids: the rollout buckets by uid) on a
        # single-host stack of its own (tests/integration/harness.py).
        one = Stack(DEMO=1, WORKERS=2, THREADS=4)
        try:
            one.start()
            b = parallel(play("ca"), plan, addr=("127.0.0.1", one.port))
        finally:
            one.stop()
        self.assertEqual(sum(len(x) for x in a), users * steps)
        diff = [(i, x, y) for i, (x, y) in enumerate(zip(a, b)) if x != y]
        self.assertEqual(diff, [], "answers differ between 3 hosts and one host")
        uids = ["ca-%s-%d" % (RUN, i) for i in range(users)]
        edge = served_by(edge_log(), uids)
        hosts = {u: set(ups) for u, ups in edge.items()}
        self.assertTrue(all(len(s) == 1 for s in hosts.values()),
                        [u for u, s in hosts.items() if len(s) != 1][:5])
        per_host = {}
        for u, s in hosts.items():
            per_host.setdefault(HOST_OF_ADDR[next(iter(s))], []).append(u)
        self.assertEqual(set(per_host), set(HOSTS), "every host owns some users")
        for h, hu in per_host.items():
            workers = {u: set(ups) for u, ups in served_by(host_log(h), hu).items()}
            self.assertTrue(all(len(s) == 1 for s in workers.values()), (h, workers))
            print("\n  %s: %d users on %d worker sockets" % (
                h, len(hu), len(set().union(*workers.values()))), end="")

    def test_2_3_cut_host_mid_load_then_heal(self):
        """A host cut off mid-load: only its users move, few slow requests,
        no acknowledged action lost or doubled. Healed: its returning users
        obey every action taken while they were elsewhere."""
        warm = ["w-%s-%d" % (RUN, i) for i in range(3000)]
        own = owners(warm, NOW)
        h1_users = [u for u in warm if own[u] == "h1"][:1000]
        self.assertGreaterEqual(len(h1_users), 800, "h1 owns about a third of 3,000 users")
        # Load: one keyed action per fresh user (retried with its key until
        # a 202), through the edge; h1 is cut a second in.
        load = ["l-%s-%d" % (RUN, i) for i in range(3000)]
        load_owner = owners(load[:600], NOW)
        lat, acked, lock = {}, set(), threading.Lock()

        def act(c, u):
            t0 = time.time()
            while time.time() - t0 < 30:  # each action's own deadline
                try:
                    st, _ = c.act(u, POPUP, "ignore", NOW + 10, key="k-" + u)
                except OSError:
                    st = 0
                if st == 202:
                    with lock:
                        acked.add(u)
                    lat[u] = time.time() - t0
                    return st
                time.sleep(0.05)
            return None
        cutter = threading.Timer(1.0, lambda: script("cut", "h1"))
        cutter.start()
        parallel(act, load, threads=16)
        cutter.join()
        self.assertEqual(len(acked), len(load), "every action got its 202 within 30 s of retries")
        slow = sorted(v for v in lat.values() if v > 1.0)
        print("\n  load: %d keyed actions, p50 %.1f ms, p99 %.1f ms, max %.0f ms; %d over 1 s"
              % (len(lat), pct(lat.values(), 50) * 1e3, pct(lat.values(), 99) * 1e3,
                 max(lat.values()) * 1e3, len(slow)), end="")
        self.assertLessEqual(len(slow), 50, "at most a handful of slow requests")
        # Only h1's users moved: the others' later requests stayed on their host.
        seen = served_by(edge_log(), load[:600])
        for u, ups in seen.items():
            if load_owner[u] != "h1":
                self.assertEqual({HOST_OF_ADDR[x] for up in ups for x in up.split(", ")},
                                 {load_owner[u]}, u)
        self.assertTrue(wait_for(drained, 120), "the queue drained")
        counts = dict(tuple(l.split("\t")) for l in sql(
            "SELECT uid, COUNT(*) FROM popup_events WHERE uid LIKE 'l-%s-%%' AND kind='ignore' "
            "GROUP BY uid" % RUN).split("\n") if l)
        lost = [u for u in acked if u not in counts]
        doubled = [u for u, n in counts.items() if int(n) != 1]
        print("; lost %d, doubled %d" % (len(lost), len(doubled)), end="")
        if lost:  # what the stores and the hosts' logs say, for the report
            for u in lost[:4]:
                print("\n  lost %s: redis %s | keys %s | mysql %r" % (
                    u, redis("HGETALL", "popup:u:" + u), redis("KEYS", "*" + u + "*"),
                    sql("SELECT kind, event_id FROM popup_events WHERE uid='%s'" % u)), end="")
            print("\n  dead letters %s; hosts' warnings:\n%s" % (
                redis("LLEN", "popup:events:dead"), subprocess.run(
                    "grep -rh 'level=\\(warn\\|error\\)' %s/h*/log/ | cut -c1-250 | sort | "
                    "uniq -c | sort -rn | head -30" % DIR, shell=True, capture_output=True,
                    text=True).stdout), end="")
        self.assertEqual((lost, doubled), ([], []))

        # Test 3: while h1 is cut its users act elsewhere (half click, half
        # ignore); then h1 comes back.
        t_act = NOW + 100
        acts = {u: ("click" if i % 2 else "ignore") for i, u in enumerate(h1_users)}
        def act_until_acked(c, u):  # a 504 (sent to h1 on a kept connection): retried with its key
            for _ in range(20):
                st, _ = c.act(u, POPUP, acts[u], t_act, key="r-" + u)
                if st == 202:
                    return st
                time.sleep(0.1)
            return st
        res = parallel(act_until_acked, h1_users)
        self.assertTrue(all(s == 202 for s in res), res[:3])
        acked_at = time.time()
        script("heal", "h1")
        healed = time.time()
        # The edge tries h1 again after its fail_timeout (5 s).
        self.assertTrue(routed_to("h1", h1_users[0]), "the edge sends h1's users to h1 again")
        back_at = time.time()
        violations, first, stale_for, seen_wrong = [], {}, {}, {}
        poll_until = time.time() + 60  # for all the violators together

        def obeys(u, st, b):
            # ignore: hidden for 60 s, so at +120 s it shows again (stale
            # memory would say null: once a day); click: never again (the
            # next eligible popup, the demo's welcome, may show instead).
            return st == 200 and ((shown(b) == POPUP) == (acts[u] == "ignore"))

        def check(c, u):
            now = t_act + 120 if acts[u] == "ignore" else t_act + 90000
            st, b = c.get(u, now, lang="eo")
            first[u] = time.time()
            if not obeys(u, st, b):
                violations.append(u)
                seen_wrong[u] = (st, b[:80])
                # How long the owner's memory stays stale (measured, not
                # asserted): polled until it obeys.
                while time.time() < poll_until:
                    st, b = c.get(u, now, lang="eo")
                    if obeys(u, st, b):
                        stale_for[u] = time.time() - first[u]
                        break
                    time.sleep(0.2)
        parallel(check, h1_users)
        back = served_by(edge_log(), h1_users)
        on_h1 = sum(1 for ups in back.values() if ups[-1] == "%s:%d" % HOSTS["h1"])
        print("\n  heal: %d returning users, %d back on h1, %d violations; the edge sent them to "
              "h1 again %.1f s after the heal; write-to-obeyed p50 %.1f s, max %.1f s"
              % (len(h1_users), on_h1, len(violations), back_at - healed,
                 pct([t - acked_at for t in first.values()], 50),
                 max(t - acked_at for t in first.values())), end="")
        if violations:
            print("; the violators' owner obeyed after p50 %.1f s, max %.1f s, %d not within 60 s"
                  % (pct(stale_for.values(), 50), max(stale_for.values() or [0]),
                     len(violations) - len(stale_for)), end="")
        # Measured, not bounded: a healed host's first requests may be slow
        # (its store connections are made again), and the edge then leaves
        # it out for another fail_timeout; its users obey wherever they are.
        self.assertGreater(on_h1, 0, "h1's users came back to it")
        wrong = served_by(edge_log(), violations[:3])
        self.assertEqual(violations, [], "by action: %s; answers %s; edge log %s; events of the first: %s" % (
            {k: sum(1 for u in violations if acts[u] == k) for k in ("click", "ignore")},
            [seen_wrong[u] for u in violations[:3]], wrong,
            sql("SELECT kind, ts, next_show_at FROM popup_events WHERE uid='%s' ORDER BY ev_order"
                % violations[0]) if violations else ""))

    def test_4_write_through_another_host_reaches_owner(self):
        """An ignore written through another host reaches the owner's memory
        (invalidation feed): p99 over 1,000 writes."""
        users = ["x-%s-%d" % (RUN, i) for i in range(3000)]
        own = owners(users, NOW)
        h2_users = [u for u in users if own[u] == "h2"][:1000]
        self.assertGreaterEqual(len(h2_users), 800)
        lat = {}

        def write_then_poll(c, u):
            other = Conn(HOSTS["h3"])
            try:
                st, _ = other.act(u, POPUP, "ignore", NOW + 100, key="f-" + u)
            finally:
                other.close()
            assert st == 202, st
            t0 = time.time()
            while time.time() - t0 < 60:
                st, b = c.get(u, NOW + 220, lang="eo")
                if st == 200 and shown(b) == POPUP:
                    lat[u] = time.time() - t0
                    return
                time.sleep(0.005)
        parallel(write_then_poll, h2_users, threads=16)
        print("\n  foreign writes: %d, obeyed by the owner: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              % (len(h2_users), pct(lat.values(), 50) * 1e3, pct(lat.values(), 99) * 1e3,
                 max(lat.values() or [0]) * 1e3), end="")
        self.assertEqual(len(lat), len(h2_users), "every write reached the owner within 60 s")

    def test_5_distributed_locust(self):
        """Locust's master in lg1, two workers in lg2 and lg3, against the
        edge: no failures."""
        out = os.path.join(DIR, "log", "locust-%s" % RUN)
        lf = os.path.join(TOP, "bench", "locustfile.py")
        port = "5557"
        workers = [subprocess.Popen(
            [SCRIPT_PATH, "exec", lg, "/usr/bin/locust", "-f", lf, "--worker", "--master-host",
             NET + ".21", "--master-port", port, "--loglevel", "WARNING"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for lg in ("lg2", "lg3")]
        try:
            r = subprocess.run(
                [SCRIPT_PATH, "exec", "lg1", "/usr/bin/locust", "-f", lf, "--master",
                 "--master-bind-host", NET + ".21", "--master-bind-port", port, "--headless",
                 "--expect-workers", "2", "--expect-workers-max-wait", "60", "-u", "60", "-r", "30",
                 "-t", "20s", "--host", "http://%s:%d" % EDGE, "--csv", out, "--only-summary",
                 "--loglevel", "WARNING"], capture_output=True, text=True, timeout=180)
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                try:
                    w.wait(20)
                except subprocess.TimeoutExpired:
                    w.kill()
        with open(out + "_stats.csv") as f:
            agg = [l.split(",") for l in f if l.split(",")[1] == "Aggregated"][0]
        print("\n  locust: %s requests, %s failures, median %s ms, p99 %s ms"
              % (agg[2], agg[3], agg[5], agg[15] if len(agg) > 15 else "?"), end="")
        self.assertGreater(int(agg[2]), 0, r.stdout + r.stderr)
        self.assertEqual(int(agg[3]), 0, r.stdout + r.stderr)


SCRIPT_PATH = os.path.join(TOP, "scripts", "cluster.sh")
