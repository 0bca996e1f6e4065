"""Several writers drain the one queue (SPEC "Writes and the queue",
api/contract.md): popup-writer processes with distinct writer_ids share the
queue and store each event once; a writer that dies with a batch in its
processing list leaves it to a live peer, which takes it over once its
heartbeat has expired, applies it exactly once and leaves nothing in the
dead writer's list; MySQL keeps a user's newer state whichever writer
applies its batch last."""

import json
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import BUILD, TOP, Proc, child_pids, module_stack, popup_row, uid

setUpModule, tearDownModule = module_stack(globals(), BATCH_SIZE=50,
    setup=lambda s: s.set_popups([popup_row(1, show_cooldown_s=0)]))


class Writer:
    """One more popup-writer (supervisor and child) of the stack: its
    popup.conf with writer_id `wid` and `extra` keys, run as the stack's
    writer runs, logging to log/writer-<wid>.log."""

    def __init__(self, wid, account, **extra):
        self.wid = wid
        self.conf = stack.path("popup-%s.conf" % wid)
        self.log = "writer-%s.log" % wid
        with open(stack.conf()) as f:
            # The stack's popup.local.conf is left out: the keys here are the
            # last word.
            lines = [ln for ln in f.read().splitlines() if not ln.startswith("include")]
        lines.append("writer_id = %s" % wid)
        lines += ["%s = %s" % kv for kv in extra.items()]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(self.conf, 0o600)
        self.uid, self.gid, self.groups = account
        if os.getuid() == 0:
            os.chown(self.conf, self.uid, self.gid)
        self.proc = None

    def start(self):
        drop = {}
        if os.getuid() == 0 and self.uid != 0:
            drop = {"user": self.uid, "group": self.gid, "extra_groups": self.groups}
        with open(stack.path("log", self.log), "ab") as log:
            self.proc = subprocess.Popen(
                [os.path.join(TOP, BUILD, "popup-writer"), "--config", self.conf],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                cwd=stack.dir, **drop)
        return self

    def child(self, timeout=30):
        found = []

        def one():
            found[:] = child_pids(self.proc.pid)
            return bool(found)
        if not stack.wait_for(one, timeout=timeout):
            raise AssertionError("no writer child of %s:\n%s" % (self.wid, self.text()[-2000:]))
        return found[0]

    def text(self):
        return stack.log(self.log)

    def kill(self):
        """SIGKILL of its child and its supervisor: a host that dies. The
        supervisor is stopped first, so that it starts no new child (which,
        on its supervisor's death, would give the batch back to the queue)."""
        if self.proc is None:
            return
        os.kill(self.proc.pid, signal.SIGSTOP)
        for pid in child_pids(self.proc.pid) + [self.proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self):
        """A clean stop (SIGTERM): it finishes its batch and deletes its heartbeat."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc = None



class LostReplyProxy:
    """A unix-socket proxy in front of the stack's Redis that, once, lets a
    command containing `marker` reach Redis, waits for Redis's reply (so the
    command has run) and, instead of passing it on, closes the client's
    connection: a reply lost in a timeout or a failover, on demand."""

    def __init__(self, path, target, marker):
        self.path, self.target, self.marker = path, target, marker
        self.armed, self.dropped = True, 0
        self.lock = threading.Lock()
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(path)
        os.chmod(path, 0o777)  # the writer runs as the stack's writer account
        self.server.listen(16)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            doomed = threading.Event()
            threading.Thread(target=self.pump, args=(upstream, client, self.reply_lost, doomed),
                             daemon=True).start()
            threading.Thread(target=self.pump, args=(client, upstream, self.marked, doomed),
                             daemon=True).start()

    def marked(self, data, doomed):
        """A request: passes; dooms its connection if it is the marked command."""
        with self.lock:
            if self.armed and self.marker in data:
                self.armed = False
                doomed.set()
        return True

    def reply_lost(self, data, doomed):
        """A reply: passes unless its connection is doomed (the marked command
        ran: its reply is lost)."""
        if doomed.is_set():
            self.dropped += 1
        return not doomed.is_set()

    @staticmethod
    def pump(src, dst, passes, doomed):
        """Copies src to dst while passes(data, doomed); then closes both."""
        try:
            while True:
                data = src.recv(65536)
                if not data or not passes(data, doomed):
                    break
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):  # shutdown() also wakes the other direction's recv()
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self):
        self.server.close()
        os.unlink(self.path)


def retire(wid):
    """docs/runbook.md's retirement of a writer id, once it is stopped and
    its processing list is empty."""
    assert llen("popup:events:processing:" + wid) == 0, wid
    stack.redis("SREM", "popup:writers", wid)
    stack.redis("DEL", "popup:writer:" + wid, "popup:writer:%s:alive" % wid)


def llen(key):
    return int(stack.redis_raw("LLEN", key) or 0)


def stats(wid, field):
    return int(float(stack.redis_raw("HGET", "popup:writer:" + wid, field) or 0))


def stored(prefix):
    return stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE uid LIKE '%s-%%'" % prefix)


def distinct_stored(prefix):
    return stack.sql_int("SELECT COUNT(DISTINCT event_id) FROM popup_events WHERE uid LIKE '%s-%%'"
                         % prefix)


def queue_clicks(prefix, n):
    for i in range(n):
        r = stack.act("%s-%d" % (prefix, i), 1, "click")
        assert r.status == 202, r


def event(uid_, order, last_action, next_show_at):
    """An event as core/event.cc encodes it; its id from its order."""
    return json.dumps({"id": "%032x" % order, "uid": uid_, "popup_id": 1, "kind": last_action,
                       "ts": order // 1000000, "order": order, "next_show_at": next_show_at,
                       "impressions": 1, "last_action": last_action})


class Writers(unittest.TestCase):
    def setUp(self):
        self.extra = []
        self.ids = set()  # writer ids to retire afterwards
        self.stack_writer = Proc(stack, "popup-writer", "writer.log", pidfile="writer.pid")
        # The extra writers run as the stack's writer does.
        self.account = (self.stack_writer.uid, self.stack_writer.gid, self.stack_writer.groups)
        self.stack_writer_stopped = False

    def tearDown(self):
        for w in self.extra:
            w.stop()
        if self.stack_writer_stopped:
            self.stack_writer.start()
        self.assertTrue(stack.wait_drained(timeout=60))
        for wid in self.ids:
            retire(wid)

    def writer(self, wid, **extra):
        w = Writer(wid, self.account, **extra)
        self.extra.append(w)
        self.ids.add(wid)
        return w

    def stop_stack_writer(self):
        self.stack_writer.kill(signal.SIGTERM)
        self.stack_writer_stopped = True

    def test_writers_with_distinct_ids_share_the_queue_and_store_each_event_once(self):
        w2 = self.writer("w2").start()
        w3 = self.writer("w3").start()
        w2.child()
        w3.child()
        writers = ("w1", "w2", "w3")
        # Every writer has published its counters since it last applied a
        # batch: an idle writer publishes a lag of 0.
        self.assertTrue(stack.wait_for(lambda: all(
            stack.redis_raw("HGET", "popup:writer:" + w, "lag_seconds") == "0.000000"
            for w in writers), timeout=30),
            [stack.redis_raw("HGETALL", "popup:writer:" + w) for w in writers])
        before = {w: stats(w, "events_total") for w in writers}
        prefix = uid("shared")
        n = 400
        queue_clicks(prefix, n)
        self.assertTrue(stack.wait_drained(timeout=60))
        self.assertTrue(stack.wait_for(lambda: stored(prefix) == n, timeout=30), stored(prefix))
        self.assertEqual(distinct_stored(prefix), n)
        # Each event went through exactly one writer (the stats are published
        # within half a second of a batch).
        applied = lambda: sum(stats(w, "events_total") - before[w] for w in before)
        self.assertTrue(stack.wait_for(lambda: applied() == n, timeout=30),
                        (applied(), n, {w: stats(w, "events_total") for w in before}))

    def test_a_dead_writers_batch_is_taken_over_and_applied_exactly_once(self):
        # The stack's writer is stopped so that w2 takes the whole queue.
        self.stop_stack_writer()
        prefix = uid("orphan")
        n = 120
        queue_clicks(prefix, n)
        self.assertTrue(stack.wait_for(lambda: llen("popup:events") >= n, timeout=30),
                        llen("popup:events"))
        # w2 cannot reach MySQL: it takes the batch into its processing list
        # and holds it, retrying, with its heartbeat alive.
        w2 = self.writer("w2", mysql_socket=stack.path("no-such-mysql.sock")).start()
        in_hand = "popup:events:processing:w2"
        self.assertTrue(stack.wait_for(lambda: llen(in_hand) == n and llen("popup:events") == 0,
                                       timeout=30), (llen(in_hand), llen("popup:events")))
        self.assertTrue(stack.wait_for(lambda: "not applied" in w2.text(), timeout=30),
                        w2.text()[-2000:])
        self.assertEqual(stored(prefix), 0)
        # Its host dies with the batch in hand.
        w2.kill()
        self.assertEqual(llen(in_hand), n)
        w3 = self.writer("w3").start()
        w3.child()
        self.assertTrue(stack.wait_for(lambda: llen(in_hand) == 0, timeout=30), llen(in_hand))
        self.assertTrue(stack.wait_for(lambda: stored(prefix) == n, timeout=30), stored(prefix))
        self.assertEqual(distinct_stored(prefix), n)
        self.assertTrue(stack.wait_for(lambda: stats("w3", "recovered_batches_total") == 1,
                                       timeout=30), stack.redis("HGETALL", "popup:writer:w3"))
        self.assertIn("writer w2's heartbeat expired with %d events in hand" % n, w3.text())
        # The fence: a stalled w2 would find its lease lost.
        self.assertTrue(stack.redis_raw("GET", "popup:writer:w2:alive").startswith(
            "!taken over by w3"))
        self.assertTrue(stack.wait_for(
            lambda: stack.metrics().get('popup_writer_recovered_batches_total{writer="w3"}') == 1,
            timeout=30))
        # A fence is no live writer.
        self.assertEqual(stack.metrics().get('popup_writer_alive{writer="w2"}'), 0)
        self.assertEqual(stored(prefix), n)
        self.assertEqual(stack.sql_int(
            "SELECT COUNT(*) FROM user_state WHERE uid LIKE '%s-%%' AND last_action = 'click'"
            % prefix), n)

    def test_an_acknowledgement_whose_reply_is_lost_drops_no_other_batch(self):
        """The writer's LTRIM of a committed batch runs, but its reply is lost
        (a timeout; in a Redis failover, a replica that had received it is
        promoted): the writer retries it, and the retry must not drop the
        next batch, which nobody has applied (it once did: acknowledged
        actions went missing in the cluster's Redis cut-off test)."""
        self.stop_stack_writer()
        prefix = uid("lostack")
        n = 100
        queue_clicks(prefix, n)
        # kAcknowledgeScript, and no other script, trims KEYS[2].
        proxy = LostReplyProxy(stack.path("redis-lost-reply.sock"), stack.path("redis.sock"),
                               b"'LTRIM', KEYS[2]")
        try:
            w2 = self.writer("w2", batch_size=20,
                             redis="unix:" + proxy.path).start()
            self.assertTrue(stack.wait_for(lambda: llen("popup:events") == 0
                                           and llen("popup:events:processing:w2") == 0,
                                           timeout=60), w2.text()[-2000:])
            self.assertEqual(proxy.dropped, 1)
            self.assertTrue(stack.wait_for(lambda: stored(prefix) == n, timeout=30),
                            (stored(prefix), w2.text()[-2000:]))
            self.assertEqual(distinct_stored(prefix), n)
            self.assertIn("no longer at the oldest end", w2.text())
            w2.stop()
        finally:
            proxy.close()

    def test_mysql_keeps_the_newer_state_whichever_writer_applies_last(self):
        self.stop_stack_writer()
        u = uid("newer")
        base = int(time.time()) * 1000000
        old = event(u, base + 1, "show", 1000)
        new = event(u, base + 2, "click", 2000)
        # w2 died holding the older event; the newer one waits in the queue.
        # Its heartbeat is still alive for a few seconds: w3 applies the
        # newer event first, then takes over and applies the older one.
        stack.redis("SADD", "popup:writers", "w2")
        stack.redis("LPUSH", "popup:events:processing:w2", old)
        stack.redis("SET", "popup:writer:w2:alive", "gone-host:1", "PX", "10000")
        self.ids.add("w2")
        stack.redis("LPUSH", "popup:events", new)
        w3 = self.writer("w3").start()
        self.assertTrue(stack.wait_for(lambda: stack.sql_int(
            "SELECT COUNT(*) FROM popup_events WHERE uid = '%s'" % u) == 1, timeout=30))
        self.assertEqual(llen("popup:events:processing:w2"), 1)  # not yet: the other went first
        self.assertTrue(stack.wait_for(lambda: stack.sql_int(
            "SELECT COUNT(*) FROM popup_events WHERE uid = '%s'" % u) == 2, timeout=30),
            w3.text()[-2000:])
        self.assertEqual(llen("popup:events:processing:w2"), 0)
        self.assertEqual(stack.sql("SELECT last_action, next_show_at, ev_order FROM user_state "
                                   "WHERE uid = '%s' AND popup_id = 1" % u),
                         [["click", "2000", str(base + 2)]])


if __name__ == "__main__":
    unittest.main()
