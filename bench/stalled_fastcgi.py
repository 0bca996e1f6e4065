"""Stalled and half-open FastCGI connections against the pool, on loopback
only: what the connection loop (fcgi/conn_loop.h) promises under them.

STALLED connections per worker socket send a whole BEGIN_REQUEST and
PARAMS of a POST and then only part of its body, never the end of STDIN;
HALF_OPEN more connections (spread over the worker sockets) send half a
record and nothing else. Each is opened again as soon as the pool closes
it. Meanwhile CLIENTS visitors GET a popup through nginx on kept
connections for SECONDS. Prints and saves
(bench/results/<stamp>-stalled.json) the normal requests answered and
failed with their p50/p99/max, and how long the pool took to close each
stalled connection (its deadline: 5 s after the request's first bytes).

  BUILD=build python3 bench/stalled_fastcgi.py [--stalled 20] [--half-open 900] [--seconds 25]
"""

import argparse
import glob
import os
import socket
import struct
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from harness import Stack, popup_row  # noqa: E402
from benchlib import percentile, raise_open_files, save_report  # noqa: E402


def record(kind, content):
    return struct.pack("!BBHHBx", 1, kind, 1, len(content), 0) + content


def params(env):
    out = b""
    for k, v in env.items():
        out += bytes([len(k), len(v)]) + k.encode() + v.encode()
    return out


BEGIN = record(1, struct.pack("!HB5x", 1, 1))  # responder, keep the connection
STALLED = (BEGIN +
           record(4, params({"REQUEST_METHOD": "POST", "DOCUMENT_URI": "/api/popup/action",
                             "CONTENT_TYPE": "application/x-www-form-urlencoded",
                             "CONTENT_LENGTH": "40"})) +
           record(4, b"") + record(5, b"uid=stalled"))
HALF_OPEN = BEGIN[:5]


class Pressure:
    """Keeps `per_socket` stalled connections on each socket and `half`
    half-open ones over all of them, reopening what the pool closes."""

    def __init__(self, sockets, per_socket, half):
        self.wanted = [(s, STALLED) for s in sockets for _ in range(per_socket)]
        self.wanted += [(sockets[i % len(sockets)], HALF_OPEN) for i in range(half)]
        self.open = {}  # socket object -> (path, payload, opened at)
        self.closed_after = {STALLED: [], HALF_OPEN: []}
        self.stop = threading.Event()

    def connect(self, path, payload):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(5)
        c.connect(path)
        c.sendall(payload)
        c.setblocking(False)
        self.open[c] = (path, payload, time.monotonic())

    def run(self):
        import select
        for path, payload in self.wanted:
            self.connect(path, payload)
        poller = select.poll()
        for c in self.open:
            poller.register(c, select.POLLIN | select.POLLHUP | select.POLLERR)
        while not self.stop.is_set():
            for fd, _ in poller.poll(100):
                c = next(s for s in self.open if s.fileno() == fd)
                try:
                    data = c.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    continue
                path, payload, opened = self.open.pop(c)
                self.closed_after[payload].append(time.monotonic() - opened)
                poller.unregister(c)
                c.close()
                self.connect(path, payload)
                newest = list(self.open)[-1]
                poller.register(newest, select.POLLIN | select.POLLHUP | select.POLLERR)
        for c in self.open:
            c.close()


def visitor(stack, until, latencies, failures):
    c = stack.http()
    n = 0
    while time.monotonic() < until:
        n += 1
        t0 = time.monotonic()
        try:
            r = stack.get_popup("v%d-%d" % (threading.get_ident() % 1000, n), conn=c)
            ok = r.status == 200
        except Exception:  # a failed request is counted, not raised
            ok = False
            c = stack.http()
        (latencies if ok else failures).append(time.monotonic() - t0)


def ms(values, p):
    v = percentile(values, p)
    return None if v is None else round(v * 1000, 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stalled", type=int, default=20)
    ap.add_argument("--half-open", type=int, default=900)
    ap.add_argument("--seconds", type=int, default=25)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()
    raise_open_files(65536)
    stack = Stack(NGINX_KEEPALIVE=64).start()
    try:
        stack.set_popups([popup_row(1, show_cooldown_s=0)])
        sockets = sorted(p for p in glob.glob(stack.path("popup.sock.*"))
                         if p.rsplit(".", 1)[1].isdigit()) or [stack.path("popup.sock")]
        pressure = Pressure(sockets, args.stalled, args.half_open)
        t = threading.Thread(target=pressure.run)
        t.start()
        time.sleep(1)  # every connection open before the clock starts
        latencies, failures = [], []
        until = time.monotonic() + args.seconds
        vs = [threading.Thread(target=visitor, args=(stack, until, latencies, failures))
              for _ in range(args.clients)]
        [v.start() for v in vs]
        [v.join() for v in vs]
        pressure.stop.set()
        t.join()
        stalled = pressure.closed_after[STALLED]
        half = pressure.closed_after[HALF_OPEN]
        out = {"worker_sockets": len(sockets), "stalled_per_socket": args.stalled,
               "half_open": args.half_open, "seconds": args.seconds,
               "answered": len(latencies), "failed": len(failures),
               "p50_ms": ms(latencies, 0.5), "p99_ms": ms(latencies, 0.99),
               "max_ms": ms(latencies, 1.0),
               "stalled_closed": len(stalled), "stalled_closed_after_s_min": min(stalled, default=None),
               "stalled_closed_after_s_max": max(stalled, default=None),
               "half_open_closed": len(half),
               "half_open_closed_after_s_max": max(half, default=None)}
    finally:
        stack.stop()
    save_report(out, "stalled")


if __name__ == "__main__":
    main()
