"""A writer's host dies with batches in its processing list: another
writer applies them exactly once (writer/drain.h's recovery of a dead
peer's processing list, on the cluster run.py started). The single-host
version is tests/integration/test_writers.py; here the host is cut off
(packets dropped, as when it dies) and its writer killed, and the other
hosts' writers take the batch over through the shared Redis."""

import os
import signal
import time
import unittest
import uuid

from cluster import (DIR, HOSTS, POPUP, TableLock, blocked_takers, drained, ensure_popup, metrics, parallel, redis,
                     script, sql, wait_for, writer_pids)

RUN = uuid.uuid4().hex[:6]
NOW = int(time.time())
QUEUE = "popup:events"
WRITERS = ("h1", "h2", "h3")
# The MySQL port every pool host reaches its database node(s) on
# (scripts/stack/popup.conf.in).
MYSQL_PORT = 3306


def setUpModule():
    ensure_popup()


def in_hand(host):
    return "popup:events:processing:w-" + host


def llen(key):
    return int(redis("LLEN", key) or 0)


def ours_in(key, prefix):
    """How many items of the list are events of users `prefix`-*."""
    return sum(1 for item in redis("LRANGE", key, "0", "-1").splitlines()
               if '"uid":"%s-' % prefix in item)


def recovered(host):
    """popup_writer_recovered_batches_total of every writer, as host's
    /api/metrics reports them."""
    return {k: v for k, v in metrics(host).items()
            if k.startswith("popup_writer_recovered_batches_total{")}


def writer_log(host):
    with open(os.path.join(DIR, host, "log", "writer.log"), errors="replace") as f:
        return f.read()


def no_mysql(host, on):
    """Makes host's processes unable to reach any MySQL node (each try is
    refused at once, inside host's namespace), or able again. Its writer
    then holds the batch it took and retries it, heartbeat alive, as
    test_writers.py's writer without a database does."""
    script("exec", host, "nft", "delete", "table", "inet", "writerdeath", check=False)
    if on:
        for cmd in ("add table inet writerdeath",
                    "add chain inet writerdeath out { type filter hook output priority 0; }",
                    "add rule inet writerdeath out tcp dport %d reject with tcp reset" % MYSQL_PORT):
            script("exec", host, "nft", cmd)


def breakers_open(host):
    """Workers of host whose Redis circuit breaker is open."""
    return sum(v for k, v in metrics(host).items() if k.startswith("popup_redis_breaker_open"))


def alive(pid):
    """pid runs (a zombie, killed and not yet reaped, does not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


class WriterDeath(unittest.TestCase):
    def setUp(self):
        self.stopped = []  # writer pids SIGSTOPped by the test
        self.cleanups = []
        self.cut = False
        self.killed = False
        self.assertTrue(wait_for(drained, 120), "the queue drained before the test")
        for h in WRITERS:
            self.assertIsNotNone(writer_pids(h)[1], "%s runs a writer" % h)

    def tearDown(self):
        # The cluster as the next module expects it: every writer running,
        # h1 reachable, its writer started again, nothing left in the queue.
        self.resume()
        for f in self.cleanups:
            f()
        no_mysql("h1", False)
        if self.cut:
            script("heal", "h1")
            # h1's workers skipped Redis while cut off (their breakers): the
            # next test's actions must reach the queue, not MySQL directly.
            self.assertTrue(wait_for(lambda: breakers_open("h1") == 0, 60),
                            "h1's Redis breakers closed after the heal")
        if self.killed:
            script("start", "h1")
            self.assertTrue(wait_for(lambda: writer_pids("h1")[1] is not None, 30))
        self.assertTrue(wait_for(drained, 120), "the queue drained after the test")

    def pause(self, hosts):
        """SIGSTOP of these hosts' writers, then waits until none of them is
        left blocked in BLMOVE (its timeout, 1 s, passes in Redis), so none
        takes anything while paused."""
        for h in hosts:
            pid = writer_pids(h)[1]
            os.kill(pid, signal.SIGSTOP)
            self.stopped.append(pid)
        self.assertTrue(wait_for(lambda: not blocked_takers(hosts), 30), blocked_takers(hosts))

    def resume(self):
        for pid in self.stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.stopped = []

    def kill_writer(self, host):
        """SIGKILL of host's writer and its supervisor: the supervisor is
        stopped first, so that it starts no new writer (which would give the
        batch back to the queue)."""
        sup, child = writer_pids(host)
        os.kill(sup, signal.SIGSTOP)
        for pid in (child, sup):
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
        self.killed = True
        self.assertTrue(wait_for(lambda: not any(alive(p) for p in (child, sup) if p), 30))
        if child in self.stopped:
            self.stopped.remove(child)

    def dies_holding(self, name, hold, holding, release, query=lambda q: sql(q).splitlines()):
        """h1's writer alone takes n fresh events and is held (hold()) before
        it commits them (holding() once it waits); then h1 dies (link cut,
        writer killed), the other writers run again, release(); every
        event must be stored exactly once, by another writer."""
        prefix = "wd%s-%s" % (name, RUN)
        n = 300
        users = ["%s-%d" % (prefix, i) for i in range(n)]
        before = recovered("h2")
        # Every writer paused, the events queued: h1's writer alone then
        # takes all of them.
        self.pause(WRITERS)
        res = parallel(lambda c, u: c.act(u, POPUP, "ignore", NOW + 10, key="k-" + u)[0], users)
        self.assertEqual(res, [202] * n)
        self.assertEqual(ours_in(QUEUE, prefix), n)
        hold()
        h1 = writer_pids("h1")[1]
        os.kill(h1, signal.SIGCONT)
        self.stopped.remove(h1)
        self.assertTrue(wait_for(lambda: ours_in(in_hand("h1"), prefix) == n, 60),
                        (ours_in(in_hand("h1"), prefix), ours_in(QUEUE, prefix)))
        self.assertTrue(wait_for(holding, 60), writer_log("h1")[-2000:])
        held = llen(in_hand("h1"))
        self.assertEqual(query("SELECT COUNT(*) FROM popup_events WHERE uid LIKE '%s-%%'"
                               % prefix), ["0"])
        # The host dies: its link first (packets dropped), then its writer.
        script("cut", "h1")
        self.cut = True
        self.kill_writer("h1")
        self.assertEqual(ours_in(in_hand("h1"), prefix), n)
        t0 = time.time()
        self.resume()
        release()
        self.assertTrue(wait_for(drained, 300), "queue %d, h1's list %d" % (
            llen(QUEUE), llen(in_hand("h1"))))
        applied_after = time.time() - t0
        counts = dict(tuple(l.split("\t")) for l in sql(
            "SELECT uid, COUNT(*) FROM popup_events WHERE uid LIKE '%s-%%' AND kind = 'ignore' "
            "GROUP BY uid" % prefix).splitlines() if l)
        lost = [u for u in users if u not in counts]
        doubled = [u for u, c in counts.items() if int(c) != 1]
        took = {}

        def grew():
            took.clear()
            took.update({k: v - before.get(k, 0) for k, v in recovered("h2").items()
                         if v > before.get(k, 0)})
            return bool(took)
        wait_for(grew, 30)
        by = [k.split('"')[1] for k in took if "w-h1" not in k]
        print("\n  h1 died holding %d events (%d of the test's); taken over by %s; all applied "
              "%.1f s after its death; lost %d, doubled %d"
              % (held, n, ", ".join(by), applied_after, len(lost), len(doubled)), end="")
        self.assertEqual((lost[:5], doubled[:5]), ([], []))
        self.assertTrue(by, "a surviving writer's popup_writer_recovered_batches_total grew: %s %s"
                        % (before, recovered("h2")))
        self.assertEqual(sql("SELECT COUNT(*) FROM user_state WHERE uid LIKE '%s-%%' AND popup_id = %d "
                             "AND last_action = 'ignore'" % (prefix, POPUP)).strip(), str(n))

    def test_1_writer_retrying_its_batch(self):
        """h1's writer has no MySQL: it holds its batch and retries it,
        heartbeat alive, when its host dies."""
        log_at = len(writer_log("h1"))
        self.dies_holding("r", lambda: no_mysql("h1", True),
                          lambda: "not applied" in writer_log("h1")[log_at:], lambda: None)

    def test_2_writer_in_the_middle_of_its_commit(self):
        """h1's writer dies with its transaction open in MariaDB: its batch
        waits for a table lock the test holds when the host dies, so its
        statement runs when the lock goes, for a client that is gone (no
        FIN or RST reaches MariaDB: the link is cut)."""
        lock = []
        h1_addr = HOSTS["h1"][0]

        def hold():
            lock.append(TableLock("popup_events"))
            self.cleanups.append(lock[0].release)

        def holding():
            return lock[0].query(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE HOST LIKE '%s:%%' AND "
                "STATE LIKE 'Waiting for table metadata lock%%'" % h1_addr) != ["0"]
        self.dies_holding("m", hold, holding, lambda: lock[0].release(),
                          query=lambda q: lock[0].query(q))


if __name__ == "__main__":
    unittest.main()
