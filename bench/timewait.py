#!/usr/bin/env python3
"""The pool benchmarks, numbers reported (not a timed test):

1. TIME_WAIT with a TCP upstream: the pool (supervisor) on 127.0.0.1:PORT,
   sustained wrk load on GET /api/popup, TIME_WAIT sockets of the pool ports
   (PORT, the shared socket, and PORT + 1 + slot, each worker slot's, where
   nginx sends each user) sampled every second; with upstream keepalive (the
   shipped set-up) and without it (no `keepalive`, `fastcgi_keep_conn off`),
   side by side. The sockets are split by who closed first: nginx
   (TIME_WAIT on nginx's side, destination port = a pool port) or the pool
   (source port = a pool port).
   Then the acceptance run: keepalive, 256 connections for 60 s
   (--long-connections, --long-seconds), TIME_WAIT toward the pool counted
   right after it (goal <= 100). Every run reports the FastCGI connections
   the pool accepted during the measured load per 1,000 requests (goal for
   the keepalive runs: <= 1).
2. Overload: 10x the pool's connections (workers x threads x 10 wrk
   connections) on the shipped unix-socket set-up: errors and p99; and the
   same for a larger pool (4 x 32, the default until it was sized for the
   CPU), for comparison.

Each run gets its own stack with the bench data set (bench/gen_data.py,
BENCH_USERS users, 100,000 by default) warmed into Redis, so the figures are
about connections, not cold-cache MySQL reads.

  bench/timewait.py [--seconds 10] [--connections 64] [--long-seconds 60]
                    [--long-connections 256]
  environment: BUILD, BENCH_USERS; WORKERS, THREADS, NGINX_WORKERS and
  NGINX_KEEPALIVE pass through to scripts/stack.sh, whose defaults (the
  shipped set-ups: 4 x 64 threads over TCP, a process per core x 8 over
  the unix socket)
  apply when they are not set; the report reads the sizes back from each
  stack's popup.conf.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import free_port, free_port_block, pool_metrics, stackctl, stop_on_sigterm, wrk_result

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build")
USERS = int(os.environ.get("BENCH_USERS", 100_000))


def count_timewait(flt):
    out = subprocess.run(["ss", "-Htan", "state", "time-wait"] + ([flt] if flt else []),
                         capture_output=True, text=True).stdout
    return len(out.splitlines())


def port_filter(side, ports):
    """An ss filter for the pool's ports (first, last) on SIDE (dport or sport)."""
    return "( %s >= :%d and %s <= :%d )" % (side, ports[0], side, ports[1])


def sample_timewait(stop, samples, ports):
    """Every second: (closed by nginx, closed by the pool, whole machine);
    PORTS: the pool's first and last port."""
    while not stop.is_set():
        samples.append((count_timewait(port_filter("dport", ports)) if ports else 0,
                        count_timewait(port_filter("sport", ports)) if ports else 0,
                        count_timewait(None)))
        stop.wait(1.0)


def wrk(port, seconds, connections):
    env = dict(os.environ, USERS=str(USERS), WRK_DIR=os.path.join(TOP, "bench/wrk"))
    out = subprocess.run(["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "--timeout", "5s",
                          "-s", os.path.join(TOP, "bench/wrk/popup.lua"), "http://127.0.0.1:%d/" % port],
                         capture_output=True, text=True, env=env, timeout=seconds + 60).stdout
    r = wrk_result(out)
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def pool_shape(d):
    """workers, threads, nginx_workers, nginx_keepalive as stack.sh wrote them."""
    conf = {}
    with open(os.path.join(d, "popup.conf")) as f:
        for line in f:
            k, sep, v = line.partition("=")
            if sep and not k.strip().startswith("#"):
                conf[k.strip()] = v.strip()
    return {k: int(conf[k]) for k in ("workers", "threads", "nginx_workers", "nginx_keepalive")}


ACCEPTED = "popup_fastcgi_connections_accepted_total"
# A TCP pool's ports: the shared one and one per worker slot (64 slots is
# more than any pool here runs).
TCP_PORTS = 1 + max(64, int(os.environ.get("WORKERS") or 0))


def run(extra_env, seconds, connections, pool_port=None, warm_connections=64):
    """One private stack, one wrk run; returns wrk's numbers plus TIME_WAIT
    samples and the FastCGI connections the pool accepted during the run."""
    d = tempfile.mkdtemp(prefix="pt", dir="/tmp")
    port = free_port()
    env = dict(os.environ, HTTP_PORT=str(port), DEMO="0", TEST_CLOCK="off", ACCESS_LOG="off",
               BUILD=BUILD, **extra_env)
    try:
        stackctl.start(d, env)
        shape = pool_shape(d)
        if callable(connections):
            connections = connections(shape)
        subprocess.run([sys.executable, os.path.join(TOP, "bench/gen_data.py"), "--dir", d, "--users",
                        str(USERS), "--build", os.path.join(TOP, BUILD)], check=True,
                       stdout=subprocess.DEVNULL)
        # Every worker loads the configuration set; for the TCP runs at the
        # run's connections, so that the run starts warm ("once
        # warm"): nginx has opened what it keeps.
        wrk(port, 1, warm_connections if warm_connections else connections)
        time.sleep(1)
        accepted_before = pool_metrics(port).get(ACCEPTED, 0)
        # A TCP pool listens on pool_port (the shared socket) and on
        # pool_port + 1 + slot for each worker slot, where nginx sends each
        # user (user affinity: core/settings.cc slot_address).
        ports = (pool_port, pool_port + shape["workers"]) if pool_port else None
        samples, stop = [], threading.Event()
        sampler = threading.Thread(target=sample_timewait, args=(stop, samples, ports))
        sampler.start()
        try:
            r = wrk(port, seconds, connections)
        finally:
            stop.set()
            sampler.join()
        r["tw_nginx"] = max(s[0] for s in samples)
        r["tw_pool"] = max(s[1] for s in samples)
        r["tw_machine"] = max(s[2] for s in samples)
        r["tw_samples"] = [s[0] + s[1] for s in samples]
        # TIME_WAIT toward the pool when the load ends (both sides: a socket
        # stays 60 s, so after 60 s of load this is every close of the last 60 s).
        r["tw_end"] = (count_timewait(port_filter("dport", ports)) + count_timewait(port_filter("sport", ports))
                       if ports else None)
        r["shape"] = shape
        r["connections"] = connections
        r["keepalive"] = extra_env.get("UPSTREAM_KEEPALIVE", "on") == "on"
        total = pool_metrics(port).get(ACCEPTED, 0)
        r["accepted_total"] = int(total)
        # The metrics read itself may have needed a connection: at most one.
        r["accepted"] = int(total - accepted_before)
        r["new_per_1k"] = r["accepted"] / max(r["requests"], 1) * 1000
        r["seconds"] = seconds
        return r
    finally:
        stackctl.stop(d, env)
        shutil.rmtree(d, ignore_errors=True)


def shape_text(r):
    sh = r["shape"]
    if not r["keepalive"]:
        return "%d x %d, no keepalive" % (sh["workers"], sh["threads"])
    return "%d x %d, keepalive %d x %d" % (sh["workers"], sh["threads"], sh["nginx_workers"],
                                          sh["nginx_keepalive"])


def report(rows, overs, seconds, connections, long_row):
    md = ["# Pool benchmarks", "",
          "Command: `make bench-pool` (bench/timewait.py); %d s each, wrk -t2, GET /api/popup over %d "
          "warmed users; supervisor pools with the shipped sizes (pool: workers x threads; "
          "keepalive: nginx workers x upstream keepalive per nginx worker); load average %.2f at "
          "the end." % (seconds, USERS, os.getloadavg()[0]), "",
          "| set-up | pool | connections | s | req/s | errors | p50 ms | p99 ms | TIME_WAIT on the pool "
          "ports: closed by nginx | closed by the pool | toward the pool at the end | TIME_WAIT on "
          "the machine | FastCGI connections accepted | new FastCGI conns/1k req |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, r in rows + ([long_row] if long_row else []) + overs:
        tcp = label.startswith("TCP")
        md.append("| %s | %s | %s | %d | %.0f | %d | %.1f | %.1f | %s | %s | %s | %d | %d | %.3f |" % (
            label, shape_text(r), r["connections"] if tcp else "%d (10x pool)" % r["connections"],
            r["seconds"], r["rps"], r["errors"], r["p50_us"] / 1000, r["p99_us"] / 1000,
            r["tw_nginx"] if tcp else "-", r["tw_pool"] if tcp else "-",
            r["tw_end"] if tcp else "-", r["tw_machine"], r["accepted"], r["new_per_1k"]))
    if long_row:
        r = long_row[1]
        md += ["", "Goal, TCP pool (keepalive): TIME_WAIT toward the pool after %d s at %d "
               "connections: %d (goal <= 100; %s); new FastCGI connections per 1,000 requests: %.3f "
               "(goal <= 1; %s)." % (r["seconds"], r["connections"], r["tw_end"],
                                     "yes" if r["tw_end"] <= 100 else "NO", r["new_per_1k"],
                                     "yes" if r["new_per_1k"] <= 1 else "NO")]
    md += ["", "TIME_WAIT columns: the maximum of 1 s samples during the run (a socket stays in "
           "TIME_WAIT for 60 s, so this is every connection closed during the run). "
           "TIME_WAIT samples on the pool ports (keepalive / none): %s / %s." % (
               rows[0][1]["tw_samples"], rows[1][1]["tw_samples"]),
           "Pool ports: the shared one and each worker slot's (POOL_TCP_PORT + 1 + slot). "
           "Toward the pool at the end: TIME_WAIT sockets with a pool port on either side, "
           "counted right after the load stops. "
           "FastCGI connections accepted: the delta of popup_fastcgi_connections_accepted_total "
           "(/api/metrics, the whole pool) over the measured load, after an unmeasured 1 s warm-up "
           "(at the run's connections for the TCP runs, at 64 for the overload runs; the overload "
           "runs therefore include opening their connections); new FastCGI conns/1k req: that over "
           "wrk's requests x 1,000.",
           "Overload latency is bounded below by connections / throughput (Little's law): " +
           "; ".join("%s: %d / %.0f req/s = %.0f ms mean" % (
               shape_text(r), r["connections"], r["rps"], r["connections"] / max(r["rps"], 1) * 1000)
               for _, r in overs) + "."]
    return "\n".join(md) + "\n"


def main():
    stop_on_sigterm()
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--long-seconds", type=int, default=60,
                    help="the TCP run: keepalive, --long-connections for this long (0: skip)")
    ap.add_argument("--long-connections", type=int, default=256)
    a = ap.parse_args()
    rows = []
    for label, ka in (("TCP upstream, keepalive (shipped)", "on"), ("TCP upstream, no keepalive", "off")):
        pool_port = free_port_block(TCP_PORTS)
        r = run({"POOL_TCP_PORT": str(pool_port), "UPSTREAM_KEEPALIVE": ka}, a.seconds, a.connections,
                pool_port, warm_connections=None)
        rows.append((label, r))
        print("%s: %.0f req/s, %d errors, TIME_WAIT closed by nginx %d, by the pool %d, new FastCGI "
              "conns/1k %.3f" % (label, r["rps"], r["errors"], r["tw_nginx"], r["tw_pool"],
                                 r["new_per_1k"]), flush=True)
    long_row = None
    if a.long_seconds > 0:
        pool_port = free_port_block(TCP_PORTS)
        r = run({"POOL_TCP_PORT": str(pool_port), "UPSTREAM_KEEPALIVE": "on"}, a.long_seconds,
                a.long_connections, pool_port, warm_connections=None)
        long_row = ("TCP upstream, keepalive, %d s at %d connections" % (a.long_seconds, a.long_connections),
                    r)
        print("%s: %.0f req/s, %d errors, TIME_WAIT toward the pool at the end %d, new FastCGI "
              "conns/1k %.3f" % (long_row[0], r["rps"], r["errors"], r["tw_end"], r["new_per_1k"]),
              flush=True)
    overs = []
    for label, env in (("overload, unix socket (shipped)", {}),
                       ("overload, unix socket, larger pool", {"WORKERS": "4", "THREADS": "32"})):
        over = run(env, a.seconds, lambda sh: 10 * sh["workers"] * sh["threads"])
        overs.append((label, over))
        print("%s: %d connections, %.0f req/s, %d errors, p99 %.1f ms" % (
            label, over["connections"], over["rps"], over["errors"], over["p99_us"] / 1000), flush=True)
    text = report(rows, overs, a.seconds, a.connections, long_row)
    print()
    print(text)
    os.makedirs(os.path.join(TOP, "bench/results"), exist_ok=True)
    path = os.path.join(TOP, "bench/results", "%s-%s-pool.md" % (time.strftime("%Y%m%d-%H%M%S"),
                                                                 os.uname().nodename))
    with open(path, "w") as f:
        f.write(text)
    print("written:", path)


if __name__ == "__main__":
    sys.exit(main())
