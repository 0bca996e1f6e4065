"""Kept FastCGI connections apart from threads (fcgi/conn_loop.h): a kept
connection serves request after request, idle connections cost the pool no
thread, a request that stalls half-sent holds nothing back and is closed at
its deadline, and a graceful stop answers what has begun and closes the
idle connections cleanly (SPEC "Processes and nginx")."""

import os
import signal
import socket
import struct
import threading
import time
import unittest

from harness import params, record, module_stack, popup_row, uid

NOW = 1_800_000_000
ACCEPTED = "popup_fastcgi_connections_accepted_total"
EXPIRED = "popup_fastcgi_connections_expired_total"
setUpModule, tearDownModule = module_stack(globals(), NGINX_KEEPALIVE=64,
    setup=lambda s: s.set_popups([popup_row(1, show_cooldown_s=0)]))




def begin(keep=True):
    return record(1, struct.pack("!HB5x", 1, 1 if keep else 0))


def get_env(user):
    return {"REQUEST_METHOD": "GET", "DOCUMENT_URI": "/api/popup", "QUERY_STRING": "uid=" + user,
            "REQUEST_URI": "/api/popup?uid=" + user, "REMOTE_ADDR": "127.0.0.1",
            "HTTP_X_POPUP_NOW": str(NOW)}


def whole_get(user, keep=True):
    """A whole GET /api/popup request as nginx sends it."""
    return begin(keep) + record(4, params(get_env(user))) + record(4, b"") + record(5, b"")


def connect(path):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(30)
    c.connect(path)
    return c


def read_answer(c):
    """Reads records until END_REQUEST; returns the stdout bytes."""
    buf, out = b"", b""
    while True:
        while len(buf) < 8 or len(buf) < 8 + struct.unpack("!H", buf[4:6])[0] + buf[6]:
            got = c.recv(65536)
            if not got:
                raise AssertionError("the connection closed before END_REQUEST")
            buf += got
        _, kind, _, n, pad = struct.unpack("!BBHHB", buf[:7])
        content, buf = buf[8:8 + n], buf[8 + n + pad:]
        if kind == 6:
            out += content
        if kind == 3:
            return out


def closed_cleanly(c, timeout=30):
    """True when the peer closes c (EOF) within timeout, without a reset."""
    c.settimeout(timeout)
    try:
        return c.recv(1) == b""
    except socket.timeout:
        return False


def closed(c, timeout=30):
    """True when the peer closes c within timeout; a reset counts (the peer
    closed with the unread half request in its buffer)."""
    try:
        return closed_cleanly(c, timeout)
    except ConnectionResetError:
        return True


def gone(pid):
    """The process has exited (or is a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


class KeptConnections(unittest.TestCase):

    def setUp(self):
        stack.wait_healthy()

    def test_a_kept_connection_serves_many_requests_the_accept_counter_barely_moves(self):
        for _ in range(20):  # warm: nginx has its connections to every worker
            self.assertEqual(stack.get_popup(uid(), now=NOW).status, 200)
        before = stack.metrics()[ACCEPTED]
        statuses = []

        def client():
            c = stack.http()
            got = [stack.get_popup(uid(), now=NOW, conn=c).status for _ in range(500)]
            c.close()
            statuses.extend(got)
        ts = [threading.Thread(target=client) for _ in range(4)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        self.assertEqual(statuses, [200] * 2000)
        grew = stack.metrics()[ACCEPTED] - before
        self.assertLessEqual(grew, 30, "%d new FastCGI connections for 2,000 requests" % grew)

    def test_one_raw_connection_answers_request_after_request(self):
        c = connect(stack.path("popup.sock.0"))
        try:
            for _ in range(50):
                c.sendall(whole_get(uid()))
                self.assertIn(b'"popup"', read_answer(c))
        finally:
            c.close()

    def test_a_connection_without_keep_conn_is_closed_after_its_answer(self):
        c = connect(stack.path("popup.sock.0"))
        try:
            c.sendall(whole_get(uid(), keep=False))
            self.assertIn(b'"popup"', read_answer(c))
            self.assertTrue(closed_cleanly(c))
        finally:
            c.close()

    def test_a_thousand_idle_connections_do_not_stop_service(self):
        before = stack.metrics()[ACCEPTED]
        idle = []
        try:
            for i in range(1000):
                idle.append(connect(stack.path("popup.sock.%d" % (i % 3))))
            # Every one accepted and held by the workers (24 threads in all).
            self.assertTrue(stack.wait_for(lambda: stack.metrics()[ACCEPTED] >= before + 1000,
                                           timeout=60),
                            "accepted %d of 1,000" % (stack.metrics()[ACCEPTED] - before))
            started = time.time()
            replies = [stack.get_popup(uid(), now=NOW) for _ in range(60)]
            self.assertEqual([r.status for r in replies], [200] * 60, replies)
            self.assertLess(time.time() - started, 30)
            # And a raw request on one more connection beside them.
            c = connect(stack.path("popup.sock.1"))
            c.sendall(whole_get(uid()))
            self.assertIn(b'"popup"', read_answer(c))
            c.close()
        finally:
            [c.close() for c in idle]

    def test_stalled_requests_hold_nothing_back_and_are_closed_at_their_deadline(self):
        before = stack.metrics().get(EXPIRED, 0)
        half_params = begin() + record(4, params(get_env("stall")))  # PARAMS never end
        cut = half_params[:-7]                                     # half a PARAMS record
        no_body_end = (begin() + record(4, params(dict(get_env("stall"), REQUEST_METHOD="POST",
                                                        CONTENT_LENGTH="10"))) +
                       record(4, b"") + record(5, b"uid="))  # STDIN never ends
        stalled = []
        try:
            # 12 per worker socket: more than each worker's threads (2).
            for i in range(36):
                c = connect(stack.path("popup.sock.%d" % (i % 3)))
                c.sendall((half_params, cut, no_body_end)[i % 3])
                stalled.append(c)
            replies = [stack.get_popup(uid(), now=NOW) for _ in range(30)]
            self.assertEqual([r.status for r in replies], [200] * 30, replies)
            # Each is closed once its deadline (5 s after its first bytes) passed.
            for c in stalled:
                self.assertTrue(closed(c), "a stalled connection stayed open")
            self.assertTrue(stack.wait_for(lambda: stack.metrics()[EXPIRED] >= before + 36,
                                           timeout=10))
        finally:
            [c.close() for c in stalled]

    def test_sigterm_answers_begun_requests_and_closes_kept_connections_cleanly(self):
        kept = [connect(stack.path("popup.sock.0")) for _ in range(5)]
        arriving = connect(stack.path("popup.sock.0"))
        try:
            worker = None
            for c in kept:
                c.sendall(whole_get(uid()))
                answer = read_answer(c)
                worker = int(answer.split(b"X-Popup-Worker: ")[1].split(b"\r\n")[0])
            request = whole_get(uid())
            arriving.sendall(request[:40])  # begun, not whole
            self.assertTrue(stack.wait_for(
                lambda: stack.metrics().get("popup_fastcgi_requests_in_hand", 0) >= 1))
            os.kill(worker, signal.SIGTERM)
            # The idle kept connections are closed (EOF, no reset) ...
            for c in kept:
                self.assertTrue(closed_cleanly(c), "a kept connection was not closed")
            # ... and the request that had begun is answered, then closed.
            arriving.sendall(request[40:])
            self.assertIn(b'"popup"', read_answer(arriving))
            self.assertTrue(closed_cleanly(arriving))
            self.assertTrue(stack.wait_for(lambda: gone(worker), timeout=15))
            # The supervisor replaces it; the slot answers again.
            fresh = connect(stack.path("popup.sock.0"))
            fresh.sendall(whole_get(uid()))
            self.assertIn(b'"popup"', read_answer(fresh))
            fresh.close()
        finally:
            [c.close() for c in kept + [arriving]]


if __name__ == "__main__":
    unittest.main()
