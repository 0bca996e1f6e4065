#!/usr/bin/env python3
"""`make bench`: the service against the physical limits of its own stack,
on the same machine in the same run.

Starts a private stack (scripts/stack.sh) plus the FastCGI floor and, in the
same nginx, the Lua alternative (bench/lua/: nginx + lua-nginx-module on the
same contract, Redis and data), loads the generated data set, then runs the
workloads interleaved (static, floor, floor+RT, popup, mixed, lua, lua
mixed, ..., the same at 256 connections, paced; again; ...) with wrk and
reports medians over the rounds: req/s, latency, errors, ratios to the
floor and to nginx static, new FastCGI connections per 1,000 requests,
TIME_WAIT sockets, Redis commands and round trips per request, MySQL
queries per request, CPU seconds per 1,000 requests for each process
group, peak worker RSS, and the acceptance figures. The table goes
to stdout and bench/results/<stamp>.md, the chart to
bench/results/<stamp>.png.

Environment: BUILD (build), BENCH_QUICK=1 (about 2.5 minutes), BENCH_USERS,
BENCH_ROUNDS, BENCH_SECONDS, BENCH_CONNECTIONS (64), BENCH_CONNECTIONS_HIGH
(256), BENCH_PACE (0.7), BENCH_CONF (popupd settings), WORKERS, THREADS,
FLOOR_WORKERS, FLOOR_THREADS, MYSQL_BUFFER_POOL (2G).
"""

import collections
import datetime
import grp
import json
import os
import pwd
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import free_port, lua_includes, pool_metrics, stackctl, stop_on_sigterm, wrk_result

# The stack's MariaDB superuser: the OS user who started it, authenticated
# on the socket (the service account `popup` may only do what the service
# does; scripts/stack.sh).
DB_ADMIN = pwd.getpwuid(os.getuid()).pw_name

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build")
QUICK = os.environ.get("BENCH_QUICK") == "1"
USERS = int(os.environ.get("BENCH_USERS", 100_000 if QUICK else 1_000_000))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 2 if QUICK else 3))
SECONDS = int(os.environ.get("BENCH_SECONDS", 3 if QUICK else 7))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", 64))
# Saturation is measured at 64 and at 256 client connections: the
# c256 rows, and the paced rows' connections.
HIGH = int(os.environ.get("BENCH_CONNECTIONS_HIGH", 256))
# The paced rows' target: this share of the Lua alternative's maximum rate
# (the best of lua and lua c256 in round 1).
PACE = float(os.environ.get("BENCH_PACE", 0.7))
# A round whose CPUs stood still (bench/stalls.py) this share of its time or
# more: a 100 ms stop of a CPU holds every request in flight there, so from
# about half a percent on the round's p99 is the host's, not the stack's.
FROZEN_LIMIT = 0.005
# The shipped unix-socket pool (scripts/stack.sh): a process per core, 2
# threads each. The floors keep the 4 x 32 shape they were always measured
# with; "floor pinned" is libfcgi's own model (fcgi-floor --pinned), where
# a kept connection pins a thread.
WORKERS = int(os.environ.get("WORKERS") or os.cpu_count())
THREADS = int(os.environ.get("THREADS") or 2)
FLOOR_WORKERS = int(os.environ.get("FLOOR_WORKERS") or 4)
FLOOR_THREADS = int(os.environ.get("FLOOR_THREADS") or 32)
# MariaDB's buffer pool (scripts/stack.sh, 256M by default): the users'
# state and the events a run writes (about 1.5 million) outgrow 256M, and
# InnoDB then writes pages out to read others: 170-310 MB/s of writes that
# cost the whole box CPU (GET 12.4-12.9k req/s against 16.3-18.9k with 2G,
# measured alternately on one stack). Sized to hold the data, as a deployment
# would be (docs/deployment.md).
MYSQL_BUFFER_POOL = os.environ.get("MYSQL_BUFFER_POOL") or "2G"
# floor+RT: the floor plus one Redis round trip (PING) per request, the
# ceiling for any design that needs one round trip per GET. lua and lua
# mixed: the same wrk scripts as popup and mixed, under /lua instead of /api
# (API_PREFIX), served by bench/lua/popup_bench.lua inside nginx.
# "body-uid": the visit mix with the actions' uid in the body only
# (wrk/mixed.lua, BODY_UID=1). "c256": the same as the row without it at
# HIGH connections. "paced": wrk's delay() hook (wrk/common.lua, PACE_MS)
# spreads the requests over HIGH connections at PACE x the Lua
# alternative's maximum rate (main()).
# name, URL path, wrk script, API_PREFIX for the script (/api: the service,
# /lua: the Lua alternative, None: a baseline), wrk connections, extra
# environment for the script, paced.
Workload = collections.namedtuple("Workload", "name path script prefix connections env paced")


def wl(name, path, script, prefix, connections=CONNECTIONS, env=None, paced=False):
    return Workload(name, path, script, prefix, connections, env or {}, paced)


C_HIGH = " c%d" % HIGH
# Each service row runs right before its Lua counterpart, and the floor
# right before them: this shared machine's speed drifts within a run (in
# one run every process group, the floors' and Lua's nginx included, took
# 1.4-1.7x the CPU per request late in round 3 for the same work), so the goals
# compare rows measured next to each other in the same round, and take the
# median of the rounds' ratios (paired_ratio()).
WORKLOADS = [wl("static", "/static-ok", "static.lua", None),
             wl("floor pinned", "/floor-pinned", "static.lua", None),
             wl("floor+RT", "/floor-redis", "static.lua", None),
             wl("floor", "/floor", "static.lua", None),
             wl("popup", "/", "popup.lua", "/api"), wl("lua", "/", "popup.lua", "/lua"),
             wl("popup warm", "/", "warm.lua", "/api"), wl("lua warm", "/", "warm.lua", "/lua"),
             wl("mixed", "/", "mixed.lua", "/api"), wl("lua mixed", "/", "mixed.lua", "/lua"),
             wl("mixed body-uid", "/", "mixed.lua", "/api", env={"BODY_UID": "1"}),
             wl("lua mixed body-uid", "/", "mixed.lua", "/lua", env={"BODY_UID": "1"}),
             wl("floor" + C_HIGH, "/floor", "static.lua", None, HIGH),
             wl("popup" + C_HIGH, "/", "popup.lua", "/api", HIGH),
             wl("lua" + C_HIGH, "/", "popup.lua", "/lua", HIGH),
             # Last, so that round 1's lua rows have set the pace. The floor
             # at the same rate: what this machine's tail is with no work
             # behind the answer.
             wl("floor paced", "/floor", "static.lua", None, HIGH, paced=True),
             wl("popup paced", "/", "popup.lua", "/api", HIGH, paced=True),
             wl("lua paced", "/", "popup.lua", "/lua", HIGH, paced=True)]
# BENCH_ONLY=popup,floor: those workloads only (experiments; the ratios of
# the rows left out print as "-").
if os.environ.get("BENCH_ONLY"):
    ONLY = os.environ["BENCH_ONLY"].split(",")
    WORKLOADS = [w for w in WORKLOADS if w.name in ONLY]
BY_NAME = {w.name: w for w in WORKLOADS}
LUA = tuple(w.name for w in WORKLOADS if w.prefix == "/lua")
SERVICE = tuple(w.name for w in WORKLOADS if w.prefix == "/api")
# Before each measured round of a service row (the warm rows have their own
# warm pass), an unmeasured pass of the row itself (same script, uids,
# connections and pacing), 1 s at 64 connections and 3 s at 256: nginx
# closes pool connections that sat idle for its keepalive_timeout (60 s)
# while the other rows ran, and the column "new FastCGI conns/1k" is about
# connections reused once warm, not about reopening them once
# per round. nginx opens a connection whenever an nginx worker has more
# requests in flight to a worker slot than it holds connections to it, so
# the set grows to the peaks of the row's own pattern (body-only-uid
# actions all go to one slot): at 256 connections a 1 s pass of GETs left
# the measured round to open ~1 per 1,000 requests more in one run. Its
# accepts are in the JSON ("accepted_prepass"); the writer is drained again
# after it.


def prepass_seconds(w):
    return 1 if w.connections <= CONNECTIONS else 3
# BENCH_CONF="invalidation_feed = on; state_cache_stale_s = 30": popupd
# settings for the bench's stack, `;` between them, written into its
# popup.local.conf (which wins over the stack's popup.conf), e.g. to compare
# the invalidation feed off and on in otherwise equal runs.
STACK_CONF = [l.strip() for l in os.environ.get("BENCH_CONF", "").split(";") if l.strip()]
# The warm rows (wrk/warm.lua): returning visitors, WARM_USERS of the most
# frequent ids, each visited once (unmeasured, WARM_PASS=1) right before
# each measured round, so the owner holds their state: the "warm GET".
WARM_USERS = int(os.environ.get("WARM_USERS", 10_000))
WARM_PASS_SECONDS = 4
TICK = os.sysconf("SC_CLK_TCK")


def read_pid(path):
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def pids_matching(text, exe=None):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd and (exe is None or exe in cmd.split(" ")[0]):
            out.append(int(name))
    return out


def cpu_ticks(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except OSError:
            pass
    return total


def ctx_switches(pids):
    """Voluntary and involuntary context switches of every thread of pids:
    on a virtual machine a switch costs tens of microseconds, so this is
    where a thread-per-connection process spends much of its time."""
    total = 0
    for p in pids:
        try:
            tasks = os.listdir("/proc/%d/task" % p)
        except OSError:
            continue
        for t in tasks:
            try:
                with open("/proc/%d/task/%s/status" % (p, t)) as f:
                    total += sum(int(m) for m in re.findall(r"ctxt_switches:\s+(\d+)", f.read()))
            except OSError:
                pass
    return total


def rss_hwm_kb(pids):
    best = 0
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                m = re.search(r"VmHWM:\s+(\d+)", f.read())
            best = max(best, int(m.group(1)) if m else 0)
        except OSError:
            pass
    return best


class Stack:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pb", dir="/tmp")
        self.port = free_port()
        self.env = dict(os.environ, HTTP_PORT=str(self.port), DEMO="0", TEST_CLOCK="off",
                        ACCESS_LOG="off", BUILD=BUILD, WORKERS=str(WORKERS), THREADS=str(THREADS),
                        MYSQL_BUFFER_POOL=MYSQL_BUFFER_POOL, NGINX_INCLUDE=lua_includes(self.dir, TOP))

    def start(self):
        if STACK_CONF:
            # Made before the first start, so the stack keeps it (it writes
            # popup.local.conf only when missing) and the pool starts with it.
            with open(self.path("popup.local.conf"), "w") as f:
                f.write("# BENCH_CONF (bench/bench.py)\n" + "".join(l + "\n" for l in STACK_CONF))
        stackctl.start(self.dir, self.env)
        # As root the pool runs as the service account and its sockets are
        # for nginx's workers' group (scripts/stack/accounts.sh); the floors
        # run as that account with its own group (floor-redis reaches
        # redis.sock through it), their sockets like the pool's.
        drop = []
        if os.getuid() == 0:
            st = os.stat(self.path("popup.sock"))
            pw = pwd.getpwuid(st.st_uid)
            user, own = pw.pw_name, grp.getgrgid(pw.pw_gid).gr_name
            drop = ["-u", user, "-g", own, "-U", user, "-G", grp.getgrgid(st.st_gid).gr_name]
        subprocess.run(["spawn-fcgi", "-s", self.path("floor.sock"), "-M", "0660"] + drop + ["-F",
                        str(FLOOR_WORKERS), "-P", self.path("floor.pid"), "--",
                        os.path.join(TOP, BUILD, "fcgi-floor"), "--threads", str(FLOOR_THREADS)],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["spawn-fcgi", "-s", self.path("floor-redis.sock"), "-M", "0660"] + drop + ["-F",
                        str(FLOOR_WORKERS), "-P", self.path("floor-redis.pid"), "--",
                        os.path.join(TOP, BUILD, "fcgi-floor"), "--threads", str(FLOOR_THREADS),
                        "--redis", self.path("redis.sock")], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["spawn-fcgi", "-s", self.path("floor-pinned.sock"), "-M", "0660"] + drop +
                       ["-F", str(FLOOR_WORKERS), "-P", self.path("floor-pinned.pid"), "--",
                        os.path.join(TOP, BUILD, "fcgi-floor"), "--threads", str(FLOOR_THREADS),
                        "--pinned"], check=True, stdout=subprocess.DEVNULL)

    def stop(self):
        stackctl.stop(self.dir, self.env)
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def children_of(self, parents):
        return stackctl.children_of(parents)

    def groups(self):
        # nginx rewrites its process titles: the master's pid file and its children.
        master = read_pid(self.path("nginx", "nginx.pid"))
        # writer.pid names popup-writer's supervisor; the writer is its child.
        writer = read_pid(self.path("writer.pid"))
        return {
            "nginx": master + self.children_of(set(master)),
            "workers": pids_matching(self.path("popup.conf"), "popupd"),
            "redis": read_pid(self.path("redis.pid")),
            "mariadb": read_pid(self.path("mysql.pid")),
            "writer": writer + self.children_of(set(writer)),
            "floors": read_pid(self.path("floor.pid")) + read_pid(self.path("floor-redis.pid")) +
            read_pid(self.path("floor-pinned.pid")),
        }

    def redis_commands(self):
        out = subprocess.run(["redis-cli", "-s", self.path("redis.sock"), "INFO", "stats"],
                             capture_output=True, text=True).stdout
        return int(re.search(r"total_commands_processed:(\d+)", out).group(1))

    def redis_commandstats(self):
        """{command: (calls, microseconds)} from INFO commandstats: what the
        Lua rows count instead of the pool's metrics, and where Redis' own
        time goes (the event loop's reads and writes are not in it)."""
        out = subprocess.run(["redis-cli", "-s", self.path("redis.sock"), "INFO", "commandstats"],
                             capture_output=True, text=True).stdout
        return {m.group(1): (int(m.group(2)), int(m.group(3)))
                for m in re.finditer(r"cmdstat_(\w+):calls=(\d+),usec=(\d+)", out)}

    def redis_info(self, section, keys):
        out = subprocess.run(["redis-cli", "-s", self.path("redis.sock"), "INFO", section],
                             capture_output=True, text=True).stdout
        return {k: v.strip() for k, v in (l.split(":", 1) for l in out.splitlines() if ":" in l)
                if k in keys}

    def settle_aof(self, deadline_s=300):
        """Rewrites the append-only file once, waits for it, and turns the
        automatic rewrite off for the measured rounds. Loading a million
        users leaves an AOF that doubles within two or three rounds, and a
        rewrite is a forked child copying the whole data set: seconds of CPU
        on a 2-core machine, landing on whichever row runs then (its CPU is
        even counted as Redis' own when the child is reaped). That cost
        belongs to the data set's size and the operator's
        auto-aof-rewrite-percentage, not to a request; the table says how
        many rewrites ran during the rounds (none, unless one was already
        due)."""
        cli = ["redis-cli", "-s", self.path("redis.sock")]
        keys = ("aof_rewrite_in_progress", "aof_rewrite_scheduled")
        busy = lambda: any(v != "0" for v in self.redis_info("persistence", keys).values())  # noqa: E731
        end = time.time() + deadline_s
        while busy() and time.time() < end:
            time.sleep(0.2)
        subprocess.run(cli + ["BGREWRITEAOF"], capture_output=True)
        time.sleep(0.2)
        while busy() and time.time() < end:
            time.sleep(0.2)
        subprocess.run(cli + ["CONFIG", "SET", "auto-aof-rewrite-percentage", "0"], check=True,
                       capture_output=True)

    def backlog(self):
        """Events queued for the writer or in its hands (the stack's one
        writer, w1), after the workers' write-behind has had a moment."""
        time.sleep(0.1)
        out = subprocess.run(["redis-cli", "-s", self.path("redis.sock"), "EVAL",
                              "return redis.call('LLEN', KEYS[1]) + redis.call('LLEN', KEYS[2])",
                              "2", "popup:events", "popup:events:processing:w1"],
                             capture_output=True, text=True, check=True)
        return int(out.stdout.strip() or 0)

    def drain(self, deadline_s=300):
        """Waits until the writer has caught up, so that no workload pays
        for the one before it (a backlog left by the visit mix would land on
        the Lua GET that follows it, and so on)."""
        end = time.time() + deadline_s
        while self.backlog() > 0 and time.time() < end:
            time.sleep(0.2)

    def aof_rewrites(self):
        return int(self.redis_info("persistence", ("aof_rewrites",)).get("aof_rewrites", 0))

    def mysql_status(self):
        """Questions (every statement, the writer's included), Com_select
        (the pool's reads: the writer only inserts) and the InnoDB pages
        written out (a buffer pool smaller than the data flushes pages to
        read others: IO that loads the whole box, bench/README.md)."""
        out = subprocess.run(["mariadb", "--no-defaults", "-S", self.path("mysql.sock"),
                              "-u", DB_ADMIN, "-N", "-B", "-e",
                              "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Com_select',"
                              " 'Innodb_buffer_pool_pages_flushed')"],
                             capture_output=True, text=True).stdout
        v = dict(line.split("\t") for line in out.splitlines())
        # The status query itself counts as one question.
        return int(v["Questions"]) - 1, int(v["Com_select"]), int(v["Innodb_buffer_pool_pages_flushed"])

    def metrics(self):
        return pool_metrics(self.port)

    def enabled_ids(self):
        out = subprocess.run(["mariadb", "--no-defaults", "-S", self.path("mysql.sock"),
                              "-u", DB_ADMIN, "popup", "-N", "-B", "-e",
                              "SELECT id FROM popups WHERE enabled = 1 AND (ends_at IS NULL OR "
                              "ends_at > UNIX_TIMESTAMP()) AND (starts_at IS NULL OR starts_at <= "
                              "UNIX_TIMESTAMP())"], capture_output=True, text=True).stdout
        return ",".join(out.split())


def timewait_sampler(stop, samples, port):
    """TIME_WAIT sockets of this stack's HTTP port (the FastCGI upstream is a
    unix socket and has none)."""
    while not stop.is_set():
        out = subprocess.run(["ss", "-Htan", "state", "time-wait", "( sport = :%d or dport = :%d )"
                              % (port, port)], capture_output=True, text=True).stdout
        samples.append(len(out.splitlines()))
        stop.wait(1.0)


def wrk_cmd(stack, w, seconds, env):
    """wrk's command line and environment for workload w."""
    url = "http://127.0.0.1:%d%s" % (stack.port, w.path)
    cmd = ["wrk", "-t2", "-c%d" % w.connections, "-d%ds" % seconds, "--timeout", "5s",
           "-s", os.path.join(TOP, "bench/wrk", w.script), url]
    env = dict(env, WRK_THREADS="2", WRK_CONNECTIONS=str(w.connections), **w.env)
    if w.prefix:
        env["API_PREFIX"] = w.prefix
    return cmd, env


def run_wrk(stack, w, seconds, env):
    name = w.name
    cmd, env = wrk_cmd(stack, w, seconds, env)
    groups = stack.groups()
    before = {"cpu": {g: cpu_ticks(p) for g, p in groups.items()},
              "ctx": {g: ctx_switches(p) for g, p in groups.items()},
              "redis": stack.redis_commands(), "mysql": stack.mysql_status(),
              "metrics": stack.metrics() if name in SERVICE else {},
              "commands": stack.redis_commandstats()}
    stop, samples = threading.Event(), []
    sampler = threading.Thread(target=timewait_sampler, args=(stop, samples, stack.port))
    sampler.start()
    probe = subprocess.Popen([sys.executable, os.path.join(TOP, "bench/stalls.py"), str(seconds)],
                             stdout=subprocess.PIPE, text=True)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 60).stdout
        stalls = json.loads(probe.communicate(timeout=30)[0])
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait()
    stop.set()
    sampler.join()
    r = wrk_result(out)
    groups = stack.groups()
    after_cpu = {g: cpu_ticks(p) for g, p in groups.items()}
    n = max(r["requests"], 1)
    questions, selects, flushed = stack.mysql_status()
    res = {
        "workload": name, "connections": w.connections,
        "rps": r["requests"] / (r["duration_us"] / 1e6), "requests": r["requests"],
        "errors": r["errors"], "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000,
        "max_ms": r["max_us"] / 1000, "timewait": max(samples or [0]),
        "timewait_new": max(samples or [0]) - (samples or [0])[0],
        "redis_per_req": (stack.redis_commands() - before["redis"]) / n,
        "mysql_per_req": (questions - before["mysql"][0]) / n,
        "select_per_req": (selects - before["mysql"][1]) / n,
        "pages_flushed_per_1k": (flushed - before["mysql"][2]) / n * 1000,
        "cpu_per_1k": {g: (after_cpu[g] - before["cpu"][g]) / TICK / n * 1000 for g in after_cpu},
        "worker_rss_kb": rss_hwm_kb(groups["workers"]),
        "ctx_per_req": {g: (ctx_switches(p) - before["ctx"][g]) / n for g, p in groups.items()},
        # The share of the round the machine's CPUs stood still (bench/stalls.py).
        "frozen_share": stalls["frozen_share"], "longest_stall_ms": stalls["longest_ms"],
    }
    # Per command: (calls, microseconds) during the run.
    commands = {k: (c - before["commands"].get(k, (0, 0))[0], u - before["commands"].get(k, (0, 0))[1])
                for k, (c, u) in stack.redis_commandstats().items()}
    res["redis_cmd_us_per_req"] = {k: round(u / n, 2) for k, (c, u) in commands.items() if u > 0}
    res["redis_cmd_calls_per_req"] = {k: round(c / n, 3) for k, (c, u) in commands.items() if c > 0}
    if before["metrics"]:
        m_after = stack.metrics()
        gets = m_after.get("popup_get_requests_total", 0) - before["metrics"].get("popup_get_requests_total", 0)
        # The GETs' own round trips plus the write-behind's batches (which
        # also carry the mix's actions: an upper bound there).
        delta = lambda k: m_after.get(k, 0) - before["metrics"].get(k, 0)  # noqa: E731
        rts = delta("popup_get_redis_round_trips_total") + delta("popup_flush_redis_round_trips_total")
        res["redis_rt_per_get"] = rts / gets if gets else 0
        res["memory_hit_ratio"] = delta("popup_memory_state_hits_total") / gets if gets else 0
        # The invalidation feed's work (invalidation_feed = on): reported
        # users read back, and entries it dropped, per request.
        res["invalidation_checks_per_req"] = delta("popup_invalidation_checks_total") / n
        res["invalidations_per_req"] = delta("popup_invalidations_total") / n
        shows = (m_after.get("popup_events_queued_total", 0)
                 - before["metrics"].get("popup_events_queued_total", 0))
        res["events_per_req"] = shows / n
        # FastCGI connections the pool accepted during the round
        # (pool-wide counter), per 1,000 requests.
        res["accepted"] = delta("popup_fastcgi_connections_accepted_total")
        res["new_conns_per_1k"] = res["accepted"] / n * 1000
    if name in LUA:
        # Every event is one LPUSH; a GET's round trips are its HGETALL and,
        # when it shows, the write pipeline (LPUSH): the config timer's GETs
        # are off the request path, as the pool's refresher thread is. The
        # mix's GETs cannot be told apart from its actions here.
        delta = {k: commands.get(k, (0, 0))[0] for k in ("hgetall", "lpush")}
        res["events_per_req"] = delta["lpush"] / n
        if w.script != "mixed.lua":
            res["redis_rt_per_get"] = (delta["hgetall"] + delta["lpush"]) / n
    return res


# The settings a run was given through the environment (bench.py's own and
# scripts/stack.sh's), so that a report says how it was made.
ENV_KNOBS = ("BUILD", "BENCH_QUICK", "BENCH_USERS", "BENCH_ROUNDS", "BENCH_SECONDS", "BENCH_CONNECTIONS",
             "BENCH_CONNECTIONS_HIGH", "BENCH_PACE",
             "BENCH_ONLY", "BENCH_CONF", "WORKERS", "THREADS", "FLOOR_WORKERS", "FLOOR_THREADS", "WARM_USERS",
             "NGINX_WORKERS", "NGINX_KEEPALIVE", "FLUSH_MS", "FLUSH_EVENTS", "BATCH_SIZE", "BATCH_MS",
             "WRITE_BEHIND_SCHED", "MYSQL_BUFFER_POOL")


def command_line():
    env = ["%s=%s" % (k, shlex.quote(os.environ[k])) for k in ENV_KNOBS if os.environ.get(k)]
    return " ".join(env + ["make bench"])


def median_of(results, key, sub=None):
    vals = [(r[key][sub] if sub else r[key]) for r in results if key in r]
    return statistics.median(vals) if vals else 0


def ratio(summary, a, b, key="rps"):
    """summary[a][key] / summary[b][key], or None when either row is missing."""
    if a in summary and summary.get(b, {}).get(key):
        return summary[a][key] / summary[b][key]
    return None


def paired(rounds, a, b):
    """Round by round, rounds[a][i] / rounds[b][i] (rows measured next to
    each other in round i); None when either row is missing."""
    if not rounds.get(a) or not rounds.get(b):
        return None
    return [x / y for x, y in zip(rounds[a], rounds[b]) if y]


def paired_ratio(rounds, a, b):
    """The median of the rounds' a / b (paired()): what the goals compare,
    since the machine's speed drifts between rounds (see WORKLOADS)."""
    rs = paired(rounds, a, b)
    return statistics.median(rs) if rs else None


LUA_PAIRS = {"get": ("popup", "lua"), "get_high": ("popup" + C_HIGH, "lua" + C_HIGH),
             "warm": ("popup warm", "lua warm"), "mixed": ("mixed", "lua mixed"),
             "mixed_body_uid": ("mixed body-uid", "lua mixed body-uid")}


def lua_ratios(rounds):
    """popup x lua: the service's req/s over the Lua alternative's, the
    median of the rounds' ratios (goals: 1.8 on GET, 2 on warm GET, 1.5 on
    the visit mix with body-only uids). rounds: {row: [req/s per round]}."""
    return {k: paired_ratio(rounds, a, b) for k, (a, b) in LUA_PAIRS.items()}


def p99_rounds(meta):
    return {n: [r["p99_ms"] for r in rs] for n, rs in meta["rounds_detail"].items()}


def stood_still(meta):
    """One sentence on how long the machine's CPUs stood still, before and
    in the rounds."""
    check = meta.get("host_check")
    text = ("CPUs that stood still (bench/stalls.py): %.1f %% of %.0f s with every CPU busy before the "
            "run" % (check["frozen_share"] * 100, check["seconds"])) if check else ""
    rounds = [(r["frozen_share"], name, i + 1)
              for name, rs in meta["rounds_detail"].items() for i, r in enumerate(rs)]
    if not rounds:
        return text + "." if text else ""
    worst = max(rounds)
    over = sum(1 for r in rounds if r[0] >= FROZEN_LIMIT)
    return text + ("; " if text else "CPUs that stood still (bench/stalls.py): ") + (
        "at most %.1f %% of a round (%s, round %d); %d of %d rounds at %.1f %% or more." % (
            worst[0] * 100, worst[1], worst[2], over, len(rounds), FROZEN_LIMIT * 100))


def host_check(seconds=3):
    """bench/stalls.py while every CPU runs a busy loop, before the stack
    starts: whether the host stops this machine's CPUs once they are all
    busy, as every round will keep them. Its JSON line, as a dict."""
    hogs = [subprocess.Popen([sys.executable, "-c", "import time\nt = time.monotonic() + %f\n"
                              "while time.monotonic() < t: pass" % (seconds + 1)])
            for _ in range(os.cpu_count() or 1)]
    try:
        out = subprocess.run([sys.executable, os.path.join(TOP, "bench/stalls.py"), str(seconds)],
                             capture_output=True, text=True, timeout=seconds + 30).stdout
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    return json.loads(out)


def frozen_note(meta, names, what="its p99 is the host's"):
    """For a goal's line: the rounds the host disturbed, if any (only when
    every row the goal compares ran)."""
    if not all(meta["rounds_detail"].get(name) for name in names):
        return ""
    detail = meta["rounds_detail"]
    rounds = [i + 1 for i, row in enumerate(zip(*(detail[name] for name in names)))
              if any(r["frozen_share"] >= FROZEN_LIMIT for r in row)]
    if not rounds:
        return ""
    return " (CPUs stood still >= %.1f %% of round %s: %s)" % (
        FROZEN_LIMIT * 100, ", ".join(str(i) for i in rounds), what)


def fmt(x, spec="%.2f"):
    return "-" if x is None else spec % x


def acceptance(summary, meta):
    """the acceptance figures of this run, one line each, with the
    goal and whether this run met it ("-": a row it needs was not run)."""
    def verdict(ok):
        return "-" if ok is None else ("yes" if ok else "NO")

    def get(name, key):
        return summary.get(name, {}).get(key)

    lines = ["Goals, this run (goal; met?):", ""]
    conns = [(n, summary[n]["new_conns_per_1k"]) for n in SERVICE if "new_conns_per_1k" in summary[n]]
    worst = max((v for _, v in conns), default=None)
    lines.append("- new FastCGI connections per 1,000 requests once warm, unix sockets (<= 1): %s; "
                 "max %s, %s" % (", ".join("%s %.3f" % kv for kv in conns) or "-", fmt(worst, "%.3f"),
                                 verdict(None if worst is None else worst <= 1)))
    r = lua_ratios(meta["rounds"])
    for key, label, goal in (("get", "long-tail GET x lua, %d connections" % CONNECTIONS, 1.8),
                             ("get_high", "long-tail GET x lua, %d connections" % HIGH, 1.8),
                             ("mixed_body_uid", "visit mix with body-only uids x lua's", 1.5),
                             ("warm", "warm GET x lua warm", 2.0)):
        lines.append("- %s (>= %.1f): %s, %s" % (label, goal, fmt(r[key]),
                                                 verdict(None if r[key] is None else r[key] >= goal))
                     + frozen_note(meta, LUA_PAIRS[key], "a row the host stopped longer loses req/s"))
    p99s = p99_rounds(meta)
    for svc, lua in (("popup", "lua"), ("popup warm", "lua warm"), ("mixed body-uid", "lua mixed body-uid")):
        to_lua, to_floor = paired_ratio(p99s, svc, lua), paired_ratio(p99s, svc, "floor")
        ok = None if to_lua is None or to_floor is None else (to_lua <= 1 and to_floor <= 1.5)
        lines.append("- p99 at %d connections, %s (<= %s's and <= 1.5x the floor's, same round): "
                     "%s ms (median); x %s %s, x floor %s (per round: %s); %s" % (
                         CONNECTIONS, svc, lua, fmt(get(svc, "p99_ms")), lua, fmt(to_lua), fmt(to_floor),
                         ", ".join("%.2f" % x for x in paired(p99s, svc, "floor") or []) or "-",
                         verdict(ok)) + frozen_note(meta, (svc, lua, "floor")))
    pace = meta.get("pace")
    p, lp, fp = get("popup paced", "p99_ms"), get("lua paced", "p99_ms"), get("floor paced", "p99_ms")
    if pace:
        lines.append("- paced, %d connections at %.0f req/s (%.0f %% of lua's %.0f req/s, delay() %.2f ms "
                     "per request per connection; reached: popup %s, lua %s req/s): p99 popup paced "
                     "(<= 5 ms) %s ms, lua paced %s ms (floor paced, this machine's tail at that rate "
                     "with no work behind the answer: %s ms); %s" % (
                         HIGH, pace["target_rps"], PACE * 100, pace["lua_max_rps"], pace["pace_ms"],
                         fmt(get("popup paced", "rps"), "%.0f"), fmt(get("lua paced", "rps"), "%.0f"),
                         fmt(p), fmt(lp), fmt(fp), verdict(None if p is None else p <= 5))
                     + frozen_note(meta, ("popup paced", "lua paced")))
    lines.append("- TIME_WAIT toward a TCP pool after 60 s at %d connections (<= 100), and new "
                 "connections per 1,000 requests over TCP: `make bench-pool` (bench/timewait.py)" % HIGH)
    return lines


def table(summary, meta):
    def rps(name):
        return summary.get(name, {}).get("rps") or float("nan")
    floor, floor_rt, static = rps("floor"), rps("floor+RT"), rps("static")
    lines = [
        "# Benchmark %s on %s" % (meta["stamp"], meta["host"]), "",
        "Machine: %s, %d cores, load average %s before the run; wrk -t2 -c%d (the c%d and paced rows: "
        "-c%d), %d rounds x %d s per "
        "workload (interleaved, medians); %d users (warm rows: the %d most frequent, each visited "
        "once before the round), pool %d workers x %d threads, floors %d x %d, MariaDB buffer pool %s; "
        "command: `%s`. Redis AOF rewrites during the rounds: %d (one ran before them; see "
        "bench/README.md)." % (meta["host"], os.cpu_count(), meta["loadavg"], CONNECTIONS, HIGH, HIGH,
                             ROUNDS, SECONDS, USERS, WARM_USERS, WORKERS, THREADS, FLOOR_WORKERS,
                             FLOOR_THREADS, MYSQL_BUFFER_POOL, meta["command"], meta["aof_rewrites_in_rounds"])
        + " " + stood_still(meta), "",
        "| workload | conns | req/s | p50 ms | p99 ms | max ms | errors | new FastCGI conns/1k req | "
        "x floor | x floor+RT | x static | "
        "TIME_WAIT | Redis cmd/req | Redis RT/GET | memory hits/GET | events/req | MySQL q/req | MySQL SELECT/req | "
        "CPU s/1k nginx | workers | floors | Redis | MariaDB | writer | worker RSS MiB |",
        "|---" * 25 + "|",
    ]
    for w in WORKLOADS:
        name = w.name
        s = summary[name]
        c = s["cpu_per_1k"]
        opt = lambda k, spec="%.2f": (spec % s[k]) if k in s else "-"  # noqa: E731
        lines.append("| %s | %d | %.0f | %.2f | %.2f | %.1f | %d | %s | %.2f | %.2f | %.2f | %d (%+d) | %.2f | "
                     "%s | %s | %s | %.3f | %.4f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f |" % (
                         name, w.connections, s["rps"], s["p50_ms"], s["p99_ms"], s["max_ms"], s["errors"],
                         opt("new_conns_per_1k", "%.3f"),
                         s["rps"] / floor, s["rps"] / floor_rt, s["rps"] / static, s["timewait"],
                         s["timewait_new"], s["redis_per_req"],
                         opt("redis_rt_per_get"), opt("memory_hit_ratio"), opt("events_per_req"),
                         s["mysql_per_req"],
                         s["select_per_req"], c["nginx"], c["workers"], c["floors"], c["redis"],
                         c["mariadb"], c["writer"], s["worker_rss_kb"] / 1024))
    lines += ["", "Where the time goes (medians per request): context switches of each process group, "
              "and Redis' own time per command (INFO commandstats; EXEC and EVAL include the commands "
              "they run), the InnoDB pages MariaDB wrote out per 1,000 requests, and the share of "
              "the round this machine's CPUs stood still (bench/stalls.py: the host took them, and "
              "whatever ran there waited; from %.1f %% on, the round's p99 measures the host)."
              % (FROZEN_LIMIT * 100), "",
              "| workload | switches nginx | workers | floors | Redis | MariaDB | writer | InnoDB pages written/1k req "
              "| CPUs frozen % | Redis µs/req by command |",
              "|---" * 10 + "|"]
    for w in WORKLOADS:
        s = summary[w.name]
        x = s["ctx_per_req"]
        top = sorted(s["redis_cmd_us_per_req"].items(), key=lambda kv: -kv[1])[:5]
        lines.append("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.1f | %s |" % (
            w.name, x["nginx"], x["workers"], x["floors"], x["redis"], x["mariadb"], x["writer"],
            s["pages_flushed_per_1k"], s["frozen_share"] * 100,
            ", ".join("%s %.1f" % kv for kv in top if kv[1] >= 0.1) or "-"))
    r = lua_ratios(meta["rounds"])
    labels = (("get", "GET"), ("get_high", "GET at %d connections" % HIGH), ("warm", "warm GET"),
              ("mixed", "visit mix"), ("mixed_body_uid", "visit mix with body-only uids"))
    pairs = {k: paired(meta["rounds"], *LUA_PAIRS[k]) for k, _ in labels}
    per_round = "; ".join("%s %s" % (label, ", ".join("%.2f" % x for x in pairs[k]))
                          for k, label in labels if pairs[k])
    of_medians = ", ".join("%s %s" % (label, fmt(ratio(summary, *LUA_PAIRS[k]))) for k, label in labels)
    lines += ["", "popup x lua (the service's req/s over the Lua alternative's, bench/lua/; the median "
              "of the rounds' ratios, each service row measured right before its Lua row): "
              "GET %s, GET at %d connections %s, warm GET %s, visit mix %s, visit mix with body-only "
              "uids %s. The Lua rows run inside nginx: their CPU is in the nginx column." % (
                  fmt(r["get"]), HIGH, fmt(r["get_high"]), fmt(r["warm"]), fmt(r["mixed"]),
                  fmt(r["mixed_body_uid"])),
              "", "Per round: %s. The ratio of the medians instead: %s." % (per_round or "-", of_medians)]
    # Roughly the same work each round: when both rows of a pair cost more
    # CPU per request in one round, the machine ran slower then.
    drift = ["%s %s" % (n, ", ".join("%.3f" % sum(d["cpu_per_1k"].values()) for d in meta["rounds_detail"][n]))
             for pair in LUA_PAIRS.values() for n in pair if n in meta["rounds_detail"]]
    if drift:
        lines += ["", "CPU s per 1,000 requests (all groups) per round, the pairs above: %s. The same "
                  "work each round: a rise in both rows of a pair is this machine running slower "
                  "then, which the paired ratios cancel." % "; ".join(drift)]
    lines += [""] + acceptance(summary, meta)
    lines += ["", "New FastCGI conns/1k req: `popup_fastcgi_connections_accepted_total` (/api/metrics, "
              "the whole pool) after the round minus before, over the round's requests, x 1,000; "
              "each service round follows an unmeasured pass that reopens what nginx's 60 s "
              "keepalive_timeout closed while other rows ran (bench/README.md). \"-\": the Lua rows "
              "use no FastCGI; the floors have no such counter."]
    lines += ["", "Writer backlog when a round ended (events queued or in its hands, median; drained "
              "before the next workload starts): " + "; ".join(
                  "%s %.0f" % (w.name, summary[w.name]["backlog_end"]) for w in WORKLOADS)]
    lines += ["", "Per-round req/s: " + "; ".join(
        "%s %s" % (w.name, ", ".join("%.0f" % r for r in meta["rounds"][w.name])) for w in WORKLOADS)]
    return "\n".join(lines) + "\n"


def chart(summary, png):
    data = png[:-4] + ".dat"
    with open(data, "w") as f:
        for w in WORKLOADS:
            f.write('"%s" %.0f %.3f\n' % (w.name, summary[w.name]["rps"], summary[w.name]["p99_ms"]))
    script = ("set terminal png size 1200,480; set output '%s'; set style data histograms;"
              "set style fill solid 0.8; set boxwidth 0.8; set ylabel 'req/s (median)';"
              "set y2label 'p99 ms'; set y2tics; set ytics nomirror; set grid ytics;"
              "set xtics rotate by -30;"
              "set title 'popup service vs. its stack limits (same run)';"
              "plot '%s' using 2:xtic(1) title 'req/s', '' using 0:3 axes x1y2 with linespoints lw 2 "
              "pt 7 title 'p99 ms'" % (png, data))
    subprocess.run(["gnuplot", "-e", script], check=False)
    os.remove(data)


def unmeasured(stack, w, seconds, env):
    """wrk for workload w, not measured (warm and connection passes): the
    FastCGI connections the pool accepted meanwhile (service rows) and req/s."""
    cmd, env = wrk_cmd(stack, w, seconds, env)
    before = stack.metrics() if w.prefix == "/api" else {}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 60).stdout
    r = wrk_result(out)
    key = "popup_fastcgi_connections_accepted_total"
    accepted = stack.metrics().get(key, 0) - before.get(key, 0) if before else 0
    return {"accepted": accepted, "rps": r["requests"] / (r["duration_us"] / 1e6)}


def pace_for(stack, results, env):
    """The paced rows' target: PACE x the Lua alternative's maximum rate, the
    better of the lua rows' req/s in round 1 (or of a 3 s pass of lua when
    BENCH_ONLY left them out); delay() then pauses PACE_MS = connections /
    target x 1000 ms before each request of a connection."""
    rates = [results[n][0]["rps"] for n in ("lua", "lua" + C_HIGH) if results.get(n)]
    if not rates:
        rates = [unmeasured(stack, wl("lua", "/", "popup.lua", "/lua"), 3, env)["rps"]]
    target = PACE * max(rates)
    return {"lua_max_rps": max(rates), "target_rps": target, "pace_ms": HIGH / target * 1000}


def main():
    stop_on_sigterm()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    host = socket.gethostname()
    loadavg = "%.2f" % os.getloadavg()[0]
    stack = Stack()
    try:
        t0 = time.time()
        check = host_check()
        if check["frozen_share"] >= FROZEN_LIMIT:
            print("bench: the host stopped this machine's CPUs %.1f %% of %.0f s while all were busy "
                  "(bench/stalls.py): the rounds' p99 will measure the host; the report marks the "
                  "rounds it hit (bench/README.md)" % (check["frozen_share"] * 100, check["seconds"]),
                  flush=True)
        stack.start()
        subprocess.run([sys.executable, os.path.join(TOP, "bench/gen_data.py"), "--dir", stack.dir,
                        "--users", str(USERS), "--build", os.path.join(TOP, BUILD)], check=True)
        stack.settle_aof()
        rewrites = stack.aof_rewrites()
        env = dict(os.environ, USERS=str(USERS), WRK_DIR=os.path.join(TOP, "bench/wrk"),
                   POPUP_IDS=stack.enabled_ids())
        env["WARM_USERS"] = str(WARM_USERS)
        # Warm-up: every worker loads the set, connections open.
        unmeasured(stack, wl("popup", "/", "popup.lua", "/api"), 2, env)
        unmeasured(stack, wl("lua", "/", "popup.lua", "/lua"), 2, env)
        results = {w.name: [] for w in WORKLOADS}
        prepass = {w.name: [] for w in WORKLOADS if w.name in SERVICE}
        pace = None
        for rnd in range(ROUNDS):
            for w in WORKLOADS:
                stack.drain()
                wenv = env
                if w.paced:
                    pace = pace or pace_for(stack, results, env)
                    wenv = dict(env, PACE_MS="%.4f" % pace["pace_ms"])
                if w.script == "warm.lua":
                    done = unmeasured(stack, w, WARM_PASS_SECONDS, dict(env, WARM_PASS="1"))
                elif w.name in SERVICE:
                    # The row itself, so the measured round starts warm.
                    done = unmeasured(stack, w, prepass_seconds(w), wenv)
                    stack.drain()
                if w.name in SERVICE:
                    prepass[w.name].append(done["accepted"])
                r = run_wrk(stack, w, SECONDS, wenv)
                # What the round left to the writer (drained, unmeasured, before
                # the next workload): the reader sees how far behind it was.
                r["backlog_end"] = stack.backlog()
                results[w.name].append(r)
                print("round %d %-18s %8.0f req/s p99 %6.2f ms errors %d%s" % (
                    rnd + 1, w.name, r["rps"], r["p99_ms"], r["errors"],
                    "  new FastCGI conns/1k %.3f" % r["new_conns_per_1k"] if "new_conns_per_1k" in r
                    else ""), flush=True)
        summary = {}
        for name, rs in results.items():
            s = {k: median_of(rs, k) for k in ("rps", "p50_ms", "p99_ms", "max_ms", "timewait",
                                                "timewait_new", "redis_per_req", "mysql_per_req", "select_per_req",
                                                "pages_flushed_per_1k", "worker_rss_kb", "frozen_share")}
            s["connections"] = BY_NAME[name].connections
            s["errors"] = sum(r["errors"] for r in rs)
            s["max_ms"] = max(r["max_ms"] for r in rs)
            s["worker_rss_kb"] = max(r["worker_rss_kb"] for r in rs)
            s["backlog_end"] = statistics.median(r["backlog_end"] for r in rs)
            for k in ("redis_rt_per_get", "memory_hit_ratio", "events_per_req", "new_conns_per_1k"):
                if k in rs[0]:
                    s[k] = median_of(rs, k)
            s["cpu_per_1k"] = {g: median_of(rs, "cpu_per_1k", g) for g in rs[0]["cpu_per_1k"]}
            s["ctx_per_req"] = {g: median_of(rs, "ctx_per_req", g) for g in rs[0]["ctx_per_req"]}
            for key in ("redis_cmd_us_per_req", "redis_cmd_calls_per_req"):
                cmds = sorted({c for r in rs for c in r[key]})
                s[key] = {c: statistics.median(r[key].get(c, 0) for r in rs) for c in cmds}
            summary[name] = s
        meta = {"stamp": stamp, "host": host, "loadavg": loadavg, "host_check": check,
                "aof_rewrites_in_rounds": stack.aof_rewrites() - rewrites,
                "command": command_line(), "pace": pace,
                "rounds": {n: [r["rps"] for r in rs] for n, rs in results.items()},
                # Each round's p99 and CPU per 1,000 requests by process group:
                # what changed when a row slows down from round to round.
                "rounds_detail": {n: [{"p99_ms": r["p99_ms"], "cpu_per_1k": r["cpu_per_1k"],
                                       "events_per_req": r.get("events_per_req"),
                                       "frozen_share": r["frozen_share"],
                                       "longest_stall_ms": r["longest_stall_ms"]} for r in rs]
                                  for n, rs in results.items()},
                "accepted": {n: [r["accepted"] for r in rs] for n, rs in results.items() if n in SERVICE},
                "accepted_prepass": prepass}
        meta["popup_x_lua"] = lua_ratios(meta["rounds"])
        md = table(summary, meta)
        md += "\nTotal time %.0f s.\n" % (time.time() - t0)
        outdir = os.path.join(TOP, "bench/results")
        os.makedirs(outdir, exist_ok=True)
        base = os.path.join(outdir, "%s-%s%s" % (stamp, host, "-quick" if QUICK else ""))
        with open(base + ".md", "w") as f:
            f.write(md)
        with open(base + ".json", "w") as f:
            json.dump({"summary": summary, "meta": meta}, f, indent=1)
        chart(summary, base + ".png")
        print()
        print(md)
        print("written: %s.md, %s.png" % (base, base))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
