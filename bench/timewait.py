#!/usr/bin/env python3
"""Issue 4's pool benchmarks, numbers reported (not a timed test):

1. TIME_WAIT with a TCP upstream: the pool on 127.0.0.1:PORT, sustained wrk
   load on GET /api/popup, TIME_WAIT sockets on the pool port sampled every
   second; with upstream keepalive (the shipped set-up) and without it
   (no `keepalive`, `fastcgi_keep_conn off`), side by side.
2. Overload: 10x the pool's connections (workers x threads x 10 wrk
   connections) for 10 s on the shipped unix-socket set-up: errors and p99.

  bench/timewait.py [--seconds 10]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import free_port, stop_on_sigterm

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build")
WORKERS, THREADS = int(os.environ.get("WORKERS", 4)), int(os.environ.get("THREADS", 32))


def run(extra_env, seconds, connections, tw_port=None):
    d = tempfile.mkdtemp(prefix="pt", dir="/tmp")
    port = free_port()
    env = dict(os.environ, HTTP_PORT=str(port), DEMO="1", BUILD=BUILD, WORKERS=str(WORKERS),
               THREADS=str(THREADS), **extra_env)
    sh = os.path.join(TOP, "scripts/stack.sh")
    try:
        subprocess.run([sh, "start", d], env=env, check=True, stdout=subprocess.DEVNULL)
        samples, stop = [], threading.Event()

        def sample():
            while not stop.is_set():
                if tw_port:
                    out = subprocess.run(["ss", "-Htan", "state", "time-wait",
                                          "( sport = :%d or dport = :%d )" % (tw_port, tw_port)],
                                         capture_output=True, text=True).stdout
                    samples.append(len(out.splitlines()))
                stop.wait(1.0)
        t = threading.Thread(target=sample)
        t.start()
        wenv = dict(os.environ, USERS="100000", WRK_DIR=os.path.join(TOP, "bench/wrk"))
        out = subprocess.run(["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "--timeout", "5s",
                              "-s", os.path.join(TOP, "bench/wrk/popup.lua"),
                              "http://127.0.0.1:%d/" % port], capture_output=True, text=True,
                             env=wenv, timeout=seconds + 60).stdout
        stop.set()
        t.join()
        m = re.search(r"RESULT (.*)", out)
        r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
        r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
        r["tw_max"] = max(samples or [0])
        r["tw_samples"] = samples
        return r
    finally:
        subprocess.run([sh, "stop", d], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(d, ignore_errors=True)


def main():
    stop_on_sigterm()
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    a = ap.parse_args()
    rows = []
    for label, ka in (("TCP upstream, keepalive (shipped)", "on"), ("TCP upstream, no keepalive", "off")):
        pool_port = free_port()
        r = run({"POOL_TCP_PORT": str(pool_port), "UPSTREAM_KEEPALIVE": ka}, a.seconds, 64, pool_port)
        rows.append((label, r))
        print("%s: %.0f req/s, TIME_WAIT max %d, samples %s" % (label, r["rps"], r["tw_max"],
                                                              r["tw_samples"]), flush=True)
    conns = WORKERS * THREADS * 10
    over = run({}, a.seconds, conns)
    md = ["# Pool benchmarks (issue 4)", "",
          "Command: `make bench-pool` (bench/timewait.py); %d s each, wrk -t2, GET /api/popup, "
          "pool %d workers x %d threads, 2 nginx workers." % (a.seconds, WORKERS, THREADS), "",
          "| set-up | connections | req/s | errors | p99 ms | TIME_WAIT on pool port (max of 1 s samples) |",
          "|---|---|---|---|---|---|"]
    for label, r in rows:
        md.append("| %s | 64 | %.0f | %d | %.1f | %d |" % (label, r["rps"], r["errors"], r["p99_us"] / 1000,
                                                          r["tw_max"]))
    md.append("| overload, unix socket (shipped) | %d (10x pool) | %.0f | %d | %.1f | - |" % (
        conns, over["rps"], over["errors"], over["p99_us"] / 1000))
    text = "\n".join(md) + "\n"
    print()
    print(text)
    os.makedirs(os.path.join(TOP, "bench/results"), exist_ok=True)
    path = os.path.join(TOP, "bench/results", time.strftime("%Y%m%d-%H%M%S") + "-pool.md")
    with open(path, "w") as f:
        f.write(text)
    print("written:", path)


if __name__ == "__main__":
    sys.exit(main())
