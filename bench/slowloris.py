"""Slowloris against the stack's nginx, on loopback only.

One address (127.0.0.2) keeps CONNECTIONS connections open, each sending a
request line and then one header line every TRICKLE seconds, and opens a
new one whenever nginx closes one; meanwhile normal visitors from 127.0.0.1
(CLIENTS threads, a new connection per GET, as a first visit comes) ask for
a popup. Prints and saves (bench/results/<stamp>-slowloris.json) how many
normal requests were answered, failed and their latency, and how many slow
connections nginx shed.

  BUILD=build python3 bench/slowloris.py [--connections 9000] [--seconds 30]
"""

import argparse
import os
import socket
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from harness import Http, Stack, popup_row  # noqa: E402
from benchlib import percentile, raise_open_files, save_report  # noqa: E402


class Slow:
    def __init__(self, port, n):
        self.port, self.n = port, n
        self.socks = []
        self.opened = self.failed_connects = self.shed = 0
        self.stop = False

    def connect(self):
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", self.port))
            s.sendall(b"GET /api/popup?uid=slow HTTP/1.1\r\nHost: x\r\n")
        except OSError:
            s.close()
            self.failed_connects += 1
            return None
        s.setblocking(False)
        self.opened += 1
        return s

    def run(self, trickle):
        while len(self.socks) < self.n and not self.stop:
            s = self.connect()
            if s:
                self.socks.append(s)
        while not self.stop:
            t0 = time.time()
            alive = []
            for s in self.socks:
                try:
                    if s.recv(1) == b"":
                        raise OSError("closed")
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    self.shed += 1
                    s = None
                if s is not None:
                    try:
                        s.send(b"X-a: b\r\n")
                        alive.append(s)
                    except OSError:
                        s.close()
                        self.shed += 1
            while len(alive) < self.n and not self.stop and time.time() - t0 < trickle:
                s = self.connect()
                if s:
                    alive.append(s)
            self.socks = alive
            time.sleep(max(0.0, trickle - (time.time() - t0)))
        for s in self.socks:
            s.close()


def normal(port, deadline, out):
    while time.time() < deadline:
        t0 = time.time()
        try:
            r = Http(port, timeout=10).request("GET", "/api/popup?uid=n%d" % int(t0 * 1e6))
            ok = r.status == 200
        except OSError:
            ok = False
        out.append((ok, time.time() - t0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=9000)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--trickle", type=float, default=2)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()
    raise_open_files(args.connections * 2 + 1000)
    stack = Stack(NGINX_WORKERS=2, THREADS=16).start()
    try:
        stack.set_popups([popup_row(1)])
        slow = Slow(stack.port, args.connections)
        st = threading.Thread(target=slow.run, args=(args.trickle,))
        st.start()
        t_ramp = time.time()
        while slow.opened < args.connections and time.time() - t_ramp < 60:
            time.sleep(0.1)
        ramp = time.time() - t_ramp
        results = []
        deadline = time.time() + args.seconds
        threads = [threading.Thread(target=normal, args=(stack.port, deadline, results))
                   for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        slow.stop = True
        st.join()
        lat = [d for ok, d in results if ok]
        report = {
            "slow_connections": args.connections, "slow_opened": slow.opened,
            "slow_failed_connects": slow.failed_connects, "slow_shed_by_nginx": slow.shed,
            "ramp_s": round(ramp, 1), "seconds": args.seconds,
            "normal_requests": len(results), "normal_ok": len(lat),
            "normal_failed": len(results) - len(lat),
            "normal_p50_ms": round(percentile(lat, 0.5) * 1000, 1) if lat else None,
            "normal_p99_ms": round(percentile(lat, 0.99) * 1000, 1) if lat else None,
            "nginx_alerts": stack.log("nginx-error.log").count("worker_connections are not enough"),
        }
    finally:
        stack.stop()
    save_report(report, "slowloris")


if __name__ == "__main__":
    main()
