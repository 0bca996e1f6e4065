"""The owner's memory is told of writes to its users by other hosts (and
anything else that writes popup:u:<uid>) through Redis's invalidation feed
(fcgi/invalidator.h), not after state_cache_stale_s. "Another host" is a
second popupd supervisor started here with its own sockets, pid file and
state_dir (so no shared generation table), on the stack's Redis and
MariaDB. Against real nginx, Redis and MariaDB.

Every popup here has a long show cooldown and a short ignore cooldown: the
owner's stale memory answers null (and records nothing), and obeying the
foreign ignore shows the popup again. (A poll that showed the popup from
stale memory would record an impression decided after the action, which
the stores keep as the newer state.)"""

import os
import signal
import socket
import struct
import subprocess
import time
import unittest

from harness import params, record, BUILD, TOP, child_pids, module_stack, popup_row, shown, uid

NOW = 1_800_000_000


def feed_on(stack):
    """The feed is off by default (its read-back costs Redis an HGETALL per
    reported user): switch it on the way an operator does, in the stack's
    popup.local.conf, and reload the pool."""
    with open(stack.path("popup.local.conf"), "a") as f:
        f.write("\ninvalidation_feed = on\n")
    r = stack.run_script("reload")
    assert r.returncode == 0, r.stdout + r.stderr
    stack.wait_healthy()


setUpModule, tearDownModule = module_stack(globals(), setup=feed_on)

# -- a minimal FastCGI client on one kept connection ---------------------------




class FcgiConn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.buf = b""

    def request(self, env, body=b""):
        """One request on the kept connection; returns (status, body bytes)."""
        env = dict(env, CONTENT_LENGTH=str(len(body)))
        msg = (record(1, struct.pack("!HB5x", 1, 1)) + record(4, params(env)) + record(4, b""))
        if body:
            msg += record(5, body)
        msg += record(5, b"")
        self.sock.sendall(msg)
        out = b""
        while True:
            while len(self.buf) < 8 or len(self.buf) < 8 + struct.unpack("!H", self.buf[4:6])[0] + self.buf[6]:
                got = self.sock.recv(65536)
                if not got:
                    raise AssertionError("the connection closed before END_REQUEST")
                self.buf += got
            _, kind, _, n, pad = struct.unpack("!BBHHB", self.buf[:7])
            content, self.buf = self.buf[8:8 + n], self.buf[8 + n + pad:]
            if kind == 6:
                out += content
            if kind == 3:
                head, _, data = out.partition(b"\r\n\r\n")
                status = 200
                for line in head.decode(errors="replace").split("\r\n"):
                    if line.lower().startswith("status:"):
                        status = int(line.split(":", 1)[1].split()[0])
                return status, data

    def close(self):
        self.sock.close()


def action_env(u, now):
    return {"REQUEST_METHOD": "POST", "DOCUMENT_URI": "/api/popup/action",
            "QUERY_STRING": "uid=" + u, "REQUEST_URI": "/api/popup/action?uid=" + u,
            "CONTENT_TYPE": "application/x-www-form-urlencoded", "REMOTE_ADDR": "127.0.0.1",
            "HTTP_X_POPUP_NOW": str(now)}


def action_body(u, action="ignore"):
    return ("uid=%s&popup_id=1&action=%s" % (u, action)).encode()


# -- the other host ------------------------------------------------------------


class OtherHost:
    """A second popupd supervisor (one worker) on the stack's Redis and
    MariaDB, with its own listen socket, pid file and state_dir."""

    def __init__(self, stack):
        self.dir = stack.path("hostb")
        os.makedirs(os.path.join(self.dir, "state"), exist_ok=True)
        self.log = os.path.join(self.dir, "popupd.log")
        conf = os.path.join(self.dir, "popup.conf")
        with open(stack.conf()) as f:
            text = f.read()
        text += ("listen = unix:%s/popup.sock\npid_file = %s/popupd.pid\nstate_dir = %s/state\n"
                 "workers = 1\nthreads = 4\nadmin_listen = \n" % (self.dir, self.dir, self.dir))
        with open(conf, "w") as f:
            f.write(text)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([os.path.join(TOP, BUILD, "popupd"), "--config", conf],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        # Its worker's own socket: an action there is on that host's owner path.
        self.slot_sock = os.path.join(self.dir, "popup.sock.0")
        ok = stack.wait_for(lambda: len(child_pids(self.proc.pid)) == 1 and os.path.exists(self.slot_sock)
                            and self._answers(), timeout=60)
        if not ok:
            self.stop()
            raise AssertionError("the second popupd did not start:\n" + open(self.log).read())

    def _answers(self):
        try:
            c = FcgiConn(self.slot_sock)
            try:
                status, _ = c.request({"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/api/healthz"})
                return status in (200,)
            finally:
                c.close()
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def counter(name):
    return stack.metrics().get(name, 0)


class Invalidation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        stack.wait_healthy()
        stack.set_popups([popup_row(1, show_cooldown_s=3600, ignore_cooldown_s=1,
                                    click_cooldown_s=None)])
        cls.other = OtherHost(stack)

    @classmethod
    def tearDownClass(cls):
        cls.other.stop()

    def setUp(self):
        self.http = stack.http()
        self.b = FcgiConn(self.other.slot_sock)

    def tearDown(self):
        self.http.close()
        self.b.close()

    def visit(self, u):
        """The owner caches u: the popup is shown, then its show cooldown
        answers null from memory."""
        self.assertEqual(shown(stack.get_popup(u, now=NOW, conn=self.http)), 1)
        self.assertIsNone(shown(stack.get_popup(u, now=NOW + 5, conn=self.http)))

    def act_elsewhere(self, u):
        status, data = self.b.request(action_env(u, NOW + 10), action_body(u))
        self.assertEqual(status, 202, data)

    def obeyed(self, u, timeout=20):
        """Polls the owner through nginx until it shows the popup again (the
        foreign ignore's 1 s cooldown has passed at NOW + 20); the seconds it
        took, or None."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if shown(stack.get_popup(u, now=NOW + 20, conn=self.http)) == 1:
                return time.monotonic() - t0
            time.sleep(0.0005)
        return None

    def test_an_action_stored_by_another_host_is_obeyed_by_the_owner(self):
        n = int(os.environ.get("INVALIDATION_USERS", "1000"))
        users = [uid("ih") for _ in range(n)]
        for u in users:
            self.visit(u)
        lat = []
        for u in users:
            self.act_elsewhere(u)
            took = self.obeyed(u)
            self.assertIsNotNone(took, "the owner never obeyed the other host's action for " + u)
            lat.append(took)
        lat.sort()
        pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000  # noqa: E731
        print("\n  write -> obeyed over %d users: p50 %.2f ms, p99 %.2f ms, max %.2f ms"
              % (len(lat), pct(0.50), pct(0.99), lat[-1] * 1000))
        self.assertGreater(counter("popup_invalidations_total"), 0)

    def test_a_direct_hset_of_a_newer_state_is_seen_by_the_owner(self):
        u = uid("ihs")
        self.visit(u)
        self.assertTrue(stack.wait_drained())
        key = "popup:u:" + u
        fields = stack.redis_raw("HGET", key, "1").split(",")
        self.assertEqual(len(fields), 5, fields)
        # As an operator's tool would: the popup may show again from NOW + 1,
        # with a newer order stamp than the stored state.
        newer = "%d,1,ignore,%d,%d" % (NOW + 1, NOW + 1, int(fields[4]) + 1000)
        stack.redis("HSET", key, "1", newer)
        self.assertIsNotNone(self.obeyed(u), "the owner kept its copy after the HSET")

    def test_a_lost_subscription_is_survived_and_counted(self):
        u = uid("ihl")
        self.visit(u)
        losses = counter("popup_invalidation_feed_losses_total")
        killed = stack.redis("CLIENT", "KILL", "TYPE", "pubsub")
        self.assertGreaterEqual(int(killed.split()[-1]), 3, killed)  # each worker's feed
        self.act_elsewhere(u)
        self.assertIsNotNone(self.obeyed(u), "the owner missed a write made while its feed was down")
        self.assertTrue(stack.wait_for(
            lambda: counter("popup_invalidation_feed_losses_total") >= losses + 3, timeout=20))
        # Subscribed again: a later foreign write is reported as before.
        self.assertTrue(stack.wait_for(
            lambda: int(stack.redis("PUBSUB", "NUMSUB", "__redis__:invalidate").split()[-1]) >= 4,
            timeout=20))
        u2 = uid("ihl")
        self.visit(u2)
        self.act_elsewhere(u2)
        self.assertIsNotNone(self.obeyed(u2))

    def test_the_owners_own_writes_keep_its_memory(self):
        users = [uid("iho") for _ in range(40)]
        m0 = stack.metrics()
        for u in users:
            self.assertEqual(shown(stack.get_popup(u, now=NOW, conn=self.http)), 1)
        self.assertTrue(stack.wait_drained())
        # Each impression the owners stored was reported back and checked.
        self.assertTrue(stack.wait_for(
            lambda: counter("popup_invalidation_checks_total")
            >= m0.get("popup_invalidation_checks_total", 0) + len(users), timeout=20))
        m1 = stack.metrics()
        for u in users:
            self.assertIsNone(shown(stack.get_popup(u, now=NOW + 5, conn=self.http)))
        m2 = stack.metrics()
        delta = lambda a, b, k: b.get(k, 0) - a.get(k, 0)  # noqa: E731
        self.assertEqual(delta(m0, m1, "popup_invalidations_total"), 0)
        self.assertEqual(delta(m1, m2, "popup_memory_state_hits_total"), len(users))
        self.assertEqual(delta(m1, m2, "popup_get_redis_round_trips_total"), 0)


if __name__ == "__main__":
    unittest.main()
