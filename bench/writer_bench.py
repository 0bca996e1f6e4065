#!/usr/bin/env python3
"""Writer throughput into MariaDB: fills the Redis queue with N valid events
while no writer runs, starts popup-writer, and measures events per second
until the queue is drained, plus MySQL statements per 1,000 events (from
the server's Questions counter). Goal: >= 20,000 events/s and <= 10
statements per 1,000 events.

  bench/writer_bench.py [--events 200000] [--batch-size 1000]
"""

import argparse
import json
import os
import pwd
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import free_port, stackctl, stop_on_sigterm

# The stack's MariaDB superuser: the OS user who started it, authenticated
# on the socket (the service account `popup` may only do what the service
# does; scripts/stack.sh).
DB_ADMIN = pwd.getpwuid(os.getuid()).pw_name

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build")


def main():
    stop_on_sigterm()
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=50_000 if os.environ.get("BENCH_QUICK") else 200_000)
    ap.add_argument("--batch-size", type=int, default=1000)  # the writer's default
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="pw", dir="/tmp")
    env = dict(os.environ, WRITER="0", DEMO="1", BUILD=BUILD, BATCH_SIZE=str(a.batch_size),
               HTTP_PORT=str(free_port()))
    stackctl.start(d, env)
    redis = ["redis-cli", "-s", os.path.join(d, "redis.sock")]
    mysql = ["mariadb", "--no-defaults", "-S", os.path.join(d, "mysql.sock"), "-u", DB_ADMIN,
             "popup", "-N", "-B", "-e"]
    try:
        rng = random.Random(1)
        now = int(time.time())
        order = now * 1_000_000
        resp = os.path.join(d, "events.resp")
        with open(resp, "wb") as f:
            chunk = []
            for i in range(a.events):
                order += 1
                kind = rng.choice(["show", "show", "show", "ignore", "click"])
                # ids as fcgi/stamper.cc makes them: the order stamp, then 64 random bits
                ev = {"id": "%016x%016x" % (order, rng.getrandbits(64)),
                      "uid": "w%d" % rng.randrange(a.events // 4),
                      "popup_id": rng.randint(1, 7), "kind": kind, "ts": now, "order": order,
                      "next_show_at": now + 3600, "impressions": rng.randint(1, 5), "last_action": kind}
                chunk.append(json.dumps(ev, separators=(",", ":")).encode())
                if len(chunk) == 1000 or i == a.events - 1:
                    args = [b"LPUSH", b"popup:events"] + chunk
                    f.write(b"*%d\r\n" % len(args))
                    for x in args:
                        f.write(b"$%d\r\n%s\r\n" % (len(x), x))
                    chunk = []
        with open(resp, "rb") as f:
            subprocess.run(redis + ["--pipe"], stdin=f, check=True, stdout=subprocess.DEVNULL)
        depth = int(subprocess.run(redis + ["LLEN", "popup:events"], capture_output=True, text=True).stdout)
        assert depth == a.events, depth

        def questions():
            out = subprocess.run(mysql + ["SHOW GLOBAL STATUS LIKE 'Questions'"], capture_output=True,
                                 text=True).stdout
            return int(out.split()[1])
        q0 = questions()
        t0 = time.time()
        log = open(os.path.join(d, "log", "writer.log"), "ab")
        w = subprocess.Popen([os.path.join(TOP, BUILD, "popup-writer"), "--config",
                              os.path.join(d, "popup.conf")], stdout=log, stderr=log)
        while True:
            left = int(subprocess.run(redis + ["LLEN", "popup:events"], capture_output=True,
                                      text=True).stdout)
            hand = int(subprocess.run(redis + ["LLEN", "popup:events:processing:w1"],
                                      capture_output=True, text=True).stdout)
            if left == 0 and hand == 0:
                break
            if time.time() - t0 > 600:
                raise RuntimeError("writer did not drain in 600 s")
            time.sleep(0.02)
        elapsed = time.time() - t0
        q1 = questions()
        w.terminate()
        w.wait(timeout=30)
        rows = int(subprocess.run(mysql + ["SELECT COUNT(*) FROM popup_events"], capture_output=True,
                                  text=True).stdout)
        stmts = q1 - q0 - 1  # minus the second status query itself
        out = ("| events | batch size | seconds | events/s | MySQL statements | statements / 1,000 events "
               "| rows in popup_events |\n|---|---|---|---|---|---|---|\n"
               "| %d | %d | %.2f | %.0f | %d | %.1f | %d |\n"
               % (a.events, a.batch_size, elapsed, a.events / elapsed, stmts,
                  stmts * 1000.0 / a.events, rows))
        print(out)
        os.makedirs(os.path.join(TOP, "bench/results"), exist_ok=True)
        path = os.path.join(TOP, "bench/results", time.strftime("%Y%m%d-%H%M%S") + "-writer.md")
        with open(path, "w") as f:
            f.write("# Writer benchmark\n\nCommand: `make bench-writer` (bench/writer_bench.py). "
                    "Events/s includes the time to detect the drained queue (20 ms polls).\n\n" + out)
        print("written:", path)
        return 0 if rows == a.events else 1
    finally:
        stackctl.stop(d, env)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
