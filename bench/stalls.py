#!/usr/bin/env python3
"""How long each CPU of the machine stood still while a benchmark round ran.

    python3 bench/stalls.py SECONDS [THRESHOLD_MS]

One probe per CPU this process may use, pinned to it and real-time
(SCHED_FIFO 1 when allowed, as root; else the normal policy): it sleeps
10 ms at a time for SECONDS and counts every wake-up that came at least
THRESHOLD_MS (default 5) late. Prints one JSON line:
{"seconds": ..., "cpus": N, "stalls": count, "frozen_ms": summed lateness
over the CPUs, "longest_ms": ..., "frozen_share": frozen_ms / (seconds x
cpus x 1000)}.

Why: on a virtual machine the host can stop a virtual CPU for a while (this
project's bench machine, when its host is busy: 100 ms at a time, several
times a second per CPU once both are loaded). Whatever ran there, nginx or a
worker with requests in hand, waits those 100 ms, and a round's p99 then
measures the host, not the service. A real-time task wakes within
microseconds of its timer whatever the stack is doing, so lateness past a
few milliseconds is the CPU's own absence, not the load's.
"""

import argparse
import json
import os
import time


def probe(cpu, seconds, threshold, out_fd):
    os.sched_setaffinity(0, {cpu})
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except (OSError, AttributeError):
        pass  # not root: lateness then also counts waits for the CPU
    step = 0.01
    stalls, frozen, longest = 0, 0.0, 0.0
    start = time.monotonic()
    last = start
    while last - start < seconds:
        time.sleep(step)
        now = time.monotonic()
        late = now - last - step
        if late >= threshold:
            stalls += 1
            frozen += late
            longest = max(longest, late)
        last = now
    os.write(out_fd, ("%d %f %f %f\n" % (stalls, frozen, longest, last - start)).encode())


def main():
    ap = argparse.ArgumentParser(description="How long each CPU stood still (see the module's doc).")
    ap.add_argument("seconds", type=float, help="how long to probe, 0 < SECONDS <= 3600")
    ap.add_argument("threshold_ms", type=float, nargs="?", default=5.0,
                    help="count a wake-up this late or later (default 5)")
    a = ap.parse_args()
    if not 0 < a.seconds <= 3600 or not a.threshold_ms > 0:
        ap.error("SECONDS must be in (0, 3600] and THRESHOLD_MS above 0")
    seconds, threshold = a.seconds, a.threshold_ms / 1000
    cpus = sorted(os.sched_getaffinity(0))
    r, w = os.pipe()
    children = []
    for cpu in cpus:
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                probe(cpu, seconds, threshold, w)
            finally:
                os._exit(0)
        children.append(pid)
    os.close(w)
    for pid in children:
        os.waitpid(pid, 0)
    with os.fdopen(r) as f:
        rows = [[float(x) for x in line.split()] for line in f if line.strip()]
    stalls = int(sum(row[0] for row in rows))
    frozen = sum(row[1] for row in rows)
    longest = max([row[2] for row in rows] or [0])
    span = max([row[3] for row in rows] or [seconds])
    print(json.dumps({"seconds": round(span, 3), "cpus": len(rows), "stalls": stalls,
                      "frozen_ms": round(frozen * 1000, 1), "longest_ms": round(longest * 1000, 1),
                      "frozen_share": round(frozen / (span * max(len(rows), 1)), 4)}))


if __name__ == "__main__":
    main()
