"""Small helpers shared by the bench scripts."""

import json
import os
import resource
import re
import socket
import sys
import time
import urllib.request

# scripts/stackctl.py: how every bench script starts and stops its stack.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import stackctl  # noqa: E402  (re-exported)


free_port = stackctl.free_port


def free_port_block(count):
    """A port N on 127.0.0.1 such that N ... N+count-1 are all free, below the
    kernel's ephemeral range: a TCP pool listens on N and each worker slot on
    N+1+slot (core/settings.cc slot_address), and a port in the ephemeral
    range may be taken by any outgoing connection (another test run's, a
    previous stack's in TIME_WAIT) between this check and the pool's bind."""
    import random
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(10000, max(low - count, 10001))
        socks = []
        try:
            for p in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no block of %d free ports below %d" % (count, low))


def stop_on_sigterm():
    """Turn SIGTERM (timeout, kill) into SystemExit so that the callers'
    `finally` blocks stop their stacks instead of leaving servers behind."""
    import signal
    import sys
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def wrk_result(out):
    """The numbers of the RESULT line our wrk scripts print (wrk/common.lua)."""
    m = re.search(r"RESULT (.*)", out)
    if not m:
        raise RuntimeError("wrk gave no result:\n" + out)
    return {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


def pool_metrics(port):
    """The pool's /api/metrics through nginx on PORT: {series: value}."""
    with urllib.request.urlopen("http://127.0.0.1:%d/api/metrics" % port, timeout=10) as r:
        return stackctl.parse_metrics(r.read().decode())


def lua_includes(stack_dir, top):
    """Renders bench/lua/{main,http,server}.conf.in into STACK_DIR/lua-nginx/
    and returns that folder, for scripts/stack.sh's NGINX_INCLUDE: the
    stack's nginx then loads lua-nginx-module and serves the Lua
    alternative under /lua (bench/lua/popup_bench.lua)."""
    import os
    out = os.path.join(stack_dir, "lua-nginx")
    os.makedirs(out, exist_ok=True)
    for level in ("main", "http", "server"):
        with open(os.path.join(top, "bench/lua", level + ".conf.in")) as f:
            text = f.read().replace("@TOP@", top).replace("@RUN_DIR@", stack_dir)
        with open(os.path.join(out, level + ".conf"), "w") as f:
            f.write(text)
    return out


def percentile(values, p):
    """The value at fraction p (0..1) of the sorted values; None for none."""
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else None


def raise_open_files(n):
    """This process's descriptor limit to n, or to the hard limit if lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n), hard))


def save_report(report, kind):
    """Prints the report (JSON) and saves it as
    bench/results/<date>-<time>-<kind>.json; returns the file's path."""
    print(json.dumps(report, indent=1))
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, time.strftime("%Y%m%d-%H%M%S") + "-" + kind + ".json")
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    print("saved", path)
    return path
