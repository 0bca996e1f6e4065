"""MariaDB as three Galera nodes in the cluster (CLUSTER_MYSQL=galera,
scripts/cluster/galera.sh): under a bounded keyed-action load through the
edge, a node no process uses is cut off (and healed), then the node every
writer and worker uses (g1, the first of mysql_hosts, on a fresh cluster;
the processes stay on the node they moved to) is SIGKILLed. The writers
move on to the next node, the queue drains, every acknowledged action is in
MySQL exactly once, every host's /api/healthz says ok on a remaining node
(what it said meanwhile, polled every 0.2 s, is printed), and the killed
node rejoins with the same rows.

Equal weights: two of three nodes keep the primary component, so the cut
node is healed before the kill (with one node cut and another killed, the
last one alone is no majority and refuses statements). Test 2 makes that
window on purpose: the two nodes no writer uses cut off at once; healthz
says degraded (mysql down), the writers report no reachable node (the
metric of the alert PopupWriterNoDatabaseNode), and after the heal the
nodes form the primary component again and the queue drains. Test 3 holds
the known loss of that window (see its comment).
Measured numbers are printed for docs/deployment.md."""

import json
import os
import threading
import time
import unittest
import uuid

from cluster import (EDGE, GALERA, HOSTS, TOP, NODES, NODE_OF_ADDR, Conn, cluster_synced, drained,
                     node_primary, node_status, publish, redis, script, sql, wait_for)

RUN = uuid.uuid4().hex[:6]
NOW = int(time.time())
POPUP = 61
WRITERS = ["w-" + h for h in HOSTS]
NO_MAJORITY = {}  # test 2's outcome for test 3


def setUpModule():
    """This module's popup (lang zz: no other test's user sees it), published
    and taken by every host."""
    if not GALERA:
        raise unittest.SkipTest("CLUSTER_MYSQL=single: no Galera nodes")
    sql("REPLACE INTO popups (id, name, priority, enabled, platforms, langs, rollout_percent, "
        "show_cooldown_s, ignore_cooldown_s, click_cooldown_s, title, body, image_url, link_url) "
        "VALUES (%d, 'galera failover tests', 10, 1, '', 'zz', 100, 0, 60, NULL, 'G', 'B', '', '')"
        % POPUP)
    publish()
    version = int(redis("GET", "popup:config:version"))
    assert wait_for(lambda: all(healthz(h)[1].get("config_version", -1) >= version for h in HOSTS), 60), \
        {h: healthz(h) for h in HOSTS}


def writer_nodes():
    """{writer: (node name or "", reachable)} from the writers' published stats."""
    out = {}
    for w in WRITERS:
        node, reach = (redis("HGET", "popup:writer:" + w, f) for f in ("mysql_node", "mysql_reachable"))
        out[w] = (NODE_OF_ADDR.get(node, node), reach)
    return out


def healthz(h):
    c = Conn(HOSTS[h], timeout=10)
    try:
        st, b = c.request("GET", "/api/healthz")
        return st, json.loads(b)
    except (OSError, ValueError) as e:
        return 0, {"error": str(e)}
    finally:
        c.close()


class Load:
    """Keyed actions through the edge, one fresh user each, from `threads`
    threads until stop() or `bound` actions each; every action is retried
    with its key until it gets its 202 (60 s deadline)."""

    def __init__(self, prefix, threads=6, bound=3000, pause=0.02):
        self.prefix, self.bound, self.pause = prefix, bound, pause
        self.acked, self.failed, self.lock = set(), [], threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(t,), daemon=True) for t in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()

    def run(self, t):
        c = Conn(EDGE)
        try:
            for i in range(self.bound):
                if self.stopping.is_set():
                    return
                u = "%s-%d-%d" % (self.prefix, t, i)
                t0 = time.time()
                while True:
                    try:
                        st, _ = c.act(u, POPUP, "ignore", NOW + 10, key="g-" + u)
                    except OSError:
                        st = 0
                    if st == 202:
                        with self.lock:
                            self.acked.add(u)
                        break
                    if time.time() - t0 > 60:
                        with self.lock:
                            self.failed.append((u, st))
                        break
                    time.sleep(0.05)
                time.sleep(self.pause)
        finally:
            c.close()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(120)
        return not any(t.is_alive() for t in self.threads)


class Watch(threading.Thread):
    """Polls every pool host's /api/healthz and the writers' stats every
    0.2 s: [(time, {host: (status, mysql, node)}, {writer: (node, reachable)})]."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples, self.stopping = [], threading.Event()

    def run(self):
        while not self.stopping.is_set():
            hz = {}
            for h in HOSTS:
                st, b = healthz(h)
                hz[h] = (b.get("status", "http %d" % st), b.get("mysql"),
                         NODE_OF_ADDR.get(b.get("mysql_node"), b.get("mysql_node")))
            self.samples.append((time.time(), hz, writer_nodes()))
            time.sleep(0.2)

    def stop(self):
        self.stopping.set()
        self.join(30)


def tally(load, prefix):
    """({uid: rows} of prefix's users on a node of the primary component,
    acknowledged users without a row, users with more than one)."""
    counts = dict(tuple(l.split("\t")) for l in sql(
        "SELECT uid, COUNT(*) FROM popup_events WHERE uid LIKE '%s-%%' GROUP BY uid" % prefix
    ).split("\n") if l)
    return (counts, sorted(u for u in load.acked if u not in counts),
            sorted(u for u, c in counts.items() if int(c) != 1))


def events_on(node, prefix):
    return int(sql("SELECT COUNT(*) FROM popup_events WHERE uid LIKE '%s-%%'" % prefix, node=node).split()[0])


class GaleraFailover(unittest.TestCase):
    def test_1_cut_then_kill_the_writers_node(self):
        prefix = "gf-%s" % RUN
        self.assertTrue(wait_for(cluster_synced, 120, interval=0.5),
                        {g: node_status(g, "wsrep_cluster_size") for g in NODES})
        load = Load(prefix)
        watch = Watch()
        watch.start()
        load.start()
        self.addCleanup(watch.stop)
        self.addCleanup(load.stop)
        self.assertTrue(wait_for(lambda: len(load.acked) >= 100, 60), "the load is under way")
        # The writers' nodes: on a fresh cluster all use g1 (the first of
        # mysql_hosts); after a failover they stay where they moved to. The
        # node to kill is w-h1's; the node to cut is one no writer uses
        # (the last such in list order after it, so the killed node's
        # successor stays whole where it can).
        self.assertTrue(wait_for(lambda: all(v[0] in NODES and v[1] == "1" for v in writer_nodes().values()), 60),
                        writer_nodes())
        order = list(NODES)
        old = writer_nodes()[WRITERS[0]][0]
        after_old = [order[(order.index(old) + i) % 3] for i in (1, 2)]
        unused = [g for g in after_old if g not in {v[0] for v in writer_nodes().values()}]
        self.assertTrue(unused, "the writers use all three nodes: %s" % writer_nodes())
        cut, nxt = unused[-1], next(g for g in after_old if g != unused[-1])
        print("\n  writers on %s: cut %s, kill %s" % (writer_nodes(), cut, old), end="")
        # Also after a failure, the next module finds three nodes (cleanups
        # run last first: heal, then start).
        self.addCleanup(script, "start", old, check=False)
        self.addCleanup(script, "heal", cut, check=False)
        try:
            # 1. C (no process uses it) cut off: W and N keep the primary
            # component; the writers go on on W.
            t_cut = time.time()
            script("cut", cut)
            self.assertTrue(wait_for(lambda: node_status(old, "wsrep_cluster_size") == "2", 60, interval=0.2),
                            "%s and %s evict %s" % (old, nxt, cut))
            evicted = time.time() - t_cut
            before = events_on(old, prefix)
            self.assertTrue(wait_for(lambda: events_on(old, prefix) > before + 50, 60),
                            "the writers go on while %s is cut off" % cut)
            self.assertNotIn(cut, {v[0] for v in writer_nodes().values()})
            script("heal", cut)
            t_heal = time.time()
            self.assertTrue(wait_for(cluster_synced, 180, interval=0.5), "%s rejoins" % cut)
            rejoined = time.time() - t_heal

            # 2. W, every writer's node, SIGKILLed mid-load.
            t_kill = time.time()
            script("kill", old, "mysql")
            moved = {}

            def all_moved():
                for wr, (node, reach) in writer_nodes().items():
                    if wr not in moved and node in NODES and node != old and reach == "1":
                        moved[wr] = time.time() - t_kill
                return len(moved) == len(WRITERS)
            self.assertTrue(wait_for(all_moved, 120, interval=0.1), (writer_nodes(), moved))
            self.assertTrue(wait_for(lambda: all(healthz(h)[1].get("status") == "ok" and
                                                 healthz(h)[1].get("mysql_node") in (NODES[nxt], NODES[cut])
                                                 for h in HOSTS), 120), {h: healthz(h) for h in HOSTS})
            healthy_after = time.time() - t_kill
            # The load goes on a while on the new node, then ends.
            acked = len(load.acked)
            self.assertTrue(wait_for(lambda: len(load.acked) >= acked + 200, 120), "the load goes on")
        finally:
            self.assertTrue(load.stop(), "the load's threads ended")
            watch.stop()
        self.assertEqual(load.failed, [], "every action got its 202 within 60 s of retries")
        self.assertTrue(wait_for(drained, 180), "the queue drained")

        # Exact counts on a node of the primary component: 0 lost, 0 doubled.
        counts, lost, doubled = tally(load, prefix)
        rows = sum(int(c) for c in counts.values())

        # What the watch saw after the kill: healthz not ok (per host), the
        # writers without a node; the longest gap between writer progress.
        after = [s for s in watch.samples if s[0] >= t_kill]
        degraded = {h: [round(t - t_kill, 1) for t, hz, _ in after if hz[h][0] != "ok"] for h in HOSTS}
        seen = sorted({hz[h] for _, hz, _ in after for h in HOSTS})
        no_node = [round(t - t_kill, 1) for t, _, wn in after if any(r != "1" for _, r in wn.values())]
        print("\n  %s cut: evicted after %.1f s, the writers stayed on %s; healed: Synced again after %.1f s"
              % (cut, evicted, old, rejoined), end="")
        print("\n  %s killed: the writers moved on after %s s (%s); every host's healthz ok on %s/%s "
              "after %.1f s" % (old, ", ".join("%.1f" % moved[wr] for wr in WRITERS),
                                ", ".join("%s on %s" % (wr, writer_nodes()[wr][0]) for wr in WRITERS),
                                nxt, cut, healthy_after), end="")
        print("\n  healthz answers after the kill: %s; not ok at %s; writers reporting no node at %s"
              % (seen, {h: (v[0], v[-1], len(v)) if v else None for h, v in degraded.items()},
                 (no_node[0], no_node[-1], len(no_node)) if no_node else None), end="")
        print("\n  load: %d keyed actions acknowledged, %d rows; lost %d, doubled %d"
              % (len(load.acked), rows, len(lost), len(doubled)), end="")
        self.assertEqual((lost[:5], doubled[:5]), ([], []))
        self.assertEqual(rows, len(counts))

        # 3. W restarted: it rejoins; all three hold the same rows.
        t_start = time.time()
        script("start", old)
        self.assertTrue(wait_for(cluster_synced, 180, interval=0.5),
                        {g: (node_status(g, "wsrep_cluster_size"), node_status(g, "wsrep_local_state_comment"))
                         for g in NODES})
        back = time.time() - t_start
        per_node = {g: events_on(g, prefix) for g in NODES}
        print("\n  %s restarted: Synced in a cluster of 3 after %.1f s; rows per node %s" % (old, back, per_node),
              end="")
        self.assertEqual(set(per_node.values()), {rows}, per_node)
        self.assertTrue(all(node_primary(g) for g in NODES))
        # The writers stay on the node they moved to (the first is not
        # preferred again) and still reach it.
        self.assertTrue(all(r == "1" for _, r in writer_nodes().values()), writer_nodes())
        # The alert "writer cannot reach any database node" reads the
        # writers' gauge, which every host's /api/metrics exports.
        with open(os.path.join(TOP, "deploy", "prometheus", "popup-rules.yml")) as f:
            rules = f.read()
        self.assertIn("alert: PopupWriterNoDatabaseNode", rules)
        self.assertIn("expr: min by (writer) (popup_writer_mysql_reachable) == 0", rules)
        # /api/metrics answers 127.0.0.1 only: asked from h1 itself.
        r = script("exec", "h1", "curl", "-sf", "--interface", "127.0.0.1",
                   "http://%s:%d/api/metrics" % HOSTS["h1"])
        for w in WRITERS:
            self.assertIn('popup_writer_mysql_reachable{writer="%s"} 1' % w, r.stdout)

    def test_2_no_majority_then_back(self):
        """The two nodes the writers do not use cut off at once: the one
        left is no majority and refuses statements. Every host's healthz
        says degraded with mysql down, the writers report no reachable node
        (what PopupWriterNoDatabaseNode reads), actions are still taken;
        healed, the three nodes form the primary component again by
        themselves, the writers drain the backlog, rows exact."""
        prefix = "gq-%s" % RUN
        self.assertTrue(wait_for(cluster_synced, 180, interval=0.5),
                        {g: node_status(g, "wsrep_cluster_size") for g in NODES})
        load = Load(prefix, threads=4)
        load.start()
        self.addCleanup(load.stop)
        self.assertTrue(wait_for(lambda: len(load.acked) >= 100, 60), "the load is under way")
        self.assertTrue(wait_for(lambda: len({v[0] for v in writer_nodes().values()}) == 1 and
                                 all(v[0] in NODES for v in writer_nodes().values()), 60), writer_nodes())
        left = writer_nodes()[WRITERS[0]][0]
        cut = [g for g in NODES if g != left]
        for g in cut:
            self.addCleanup(script, "heal", g, check=False)
        t_cut = time.time()
        for g in cut:
            script("cut", g)
        self.assertTrue(wait_for(lambda: node_status(left, "wsrep_cluster_status") == "non-Primary", 60,
                                 interval=0.2), node_status(left, "wsrep_cluster_status"))
        self.assertTrue(wait_for(lambda: all(r == "0" for _, r in writer_nodes().values()), 90, interval=0.2),
                        writer_nodes())
        no_node = time.time() - t_cut
        self.assertTrue(wait_for(lambda: all(healthz(h)[1].get("status") == "degraded" and
                                             healthz(h)[1].get("mysql") == "down" for h in HOSTS), 60),
                        {h: healthz(h) for h in HOSTS})
        degraded = time.time() - t_cut
        acked_in_window = len(load.acked)
        self.assertTrue(wait_for(lambda: len(load.acked) >= acked_in_window + 50, 60),
                        "actions are taken while no node takes statements")
        t_heal = time.time()
        for g in cut:
            script("heal", g)
        self.assertTrue(wait_for(cluster_synced, 180, interval=0.5),
                        {g: (node_status(g, "wsrep_cluster_status"), node_status(g, "wsrep_cluster_size"))
                         for g in NODES})
        primary = time.time() - t_heal
        self.assertTrue(wait_for(lambda: all(r == "1" for _, r in writer_nodes().values()), 120), writer_nodes())
        self.assertTrue(wait_for(lambda: all(healthz(h)[1].get("status") == "ok" for h in HOSTS), 120),
                        {h: healthz(h) for h in HOSTS})
        ok_again = time.time() - t_heal
        self.assertTrue(load.stop(), "the load's threads ended")
        self.assertEqual(load.failed, [], "every action got its 202 within 60 s of retries")
        self.assertTrue(wait_for(drained, 180), "the queue drained")
        counts, lost, doubled = tally(load, prefix)
        print("\n  %s and %s cut: %s non-Primary; the writers reported no reachable node after %.1f s, every "
              "healthz degraded (mysql down) after %.1f s; healed: primary component of 3 again after %.1f s, "
              "writers and healthz ok after %.1f s; %d actions acknowledged, lost %d, doubled %d"
              % (cut[0], cut[1], left, no_node, degraded, primary, ok_again, len(load.acked), len(lost),
                 len(doubled)), end="")
        per_node = {g: events_on(g, prefix) for g in NODES}
        print("; rows per node %s; dead letters %s" % (per_node, redis("LLEN", "popup:events:dead")), end="")
        for u in lost[:3]:  # what Redis holds of a lost action's user
            print("\n  lost %s: redis %s" % (u, redis("HGETALL", "popup:u:" + u).replace("\n", " ")), end="")
        NO_MAJORITY.update(lost=lost, acked=len(load.acked))
        self.assertEqual(doubled[:5], [])

    # Before the writers checked their node after each commit, a few
    # acknowledged actions (10-13 of 2,281-2,945 in every run) were missing
    # here: commits released by the isolated node as it left the primary
    # component, which the re-formed cluster does not have
    # (lib/mysql_events.cc, Mysql::apply_events_once).
    def test_3_no_majority_loses_no_action(self):
        """Every action acknowledged in test 2 is in MySQL."""
        self.assertIn("lost", NO_MAJORITY, "test 2 did not get to count")
        self.assertEqual(NO_MAJORITY["lost"][:5], [], "%d of %d lost" % (len(NO_MAJORITY["lost"]),
                                                                       NO_MAJORITY["acked"]))
