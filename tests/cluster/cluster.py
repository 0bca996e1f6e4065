"""What the cluster tests share: the running cluster (scripts/cluster.sh,
started once by run.py), HTTP to the edge and to each pool host, the
service's MariaDB (CLUSTER_MYSQL=galera, the default: a Galera node in the
primary component; single: the stores') and the stores' Redis through their
unix sockets, and the edge's access log (which host served which request)."""

import concurrent.futures
import http.client
import json
import os
import re
import subprocess
import time
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import wait_for  # noqa: E402,F401  (the cluster tests import it from here)

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
DIR = os.path.realpath(os.path.join(TOP, os.environ.get("CLUSTER_DIR", "run/cluster")))
SCRIPT = os.path.join(TOP, "scripts", "cluster.sh")
# CLUSTER_PREFIX and CLUSTER_NET as in scripts/cluster.sh (two clusters can
# run side by side).
PREFIX = os.environ.get("CLUSTER_PREFIX", "popc")
NET = os.environ.get("CLUSTER_NET", "10.77.0")
EDGE = (NET + ".2", 8080)
HOSTS = {"h1": (NET + ".11", 8080), "h2": (NET + ".12", 8080), "h3": (NET + ".13", 8080)}
HOST_OF_ADDR = {"%s:%d" % a: h for h, a in HOSTS.items()}
# CLUSTER_MYSQL as in scripts/cluster.sh: galera (g1..g3, the pool hosts'
# mysql_hosts in this order) or single (the stores' MariaDB).
GALERA = os.environ.get("CLUSTER_MYSQL", "galera") == "galera"
NODES = {"g1": NET + ".41:3306", "g2": NET + ".42:3306", "g3": NET + ".43:3306"} if GALERA else {}
NODE_OF_ADDR = {a: g for g, a in NODES.items()}
# popupctl's configuration on a pool host: the MySQL the pool uses (with
# popupctl's account) and the stores' Redis.
CTL_CONF = os.path.join(DIR, "h1", "popupctl.conf")
# The tests' own popup (setUpModule of test_cluster): shown once a day, an
# ignore hides it for 60 s only, a click for good. Users ask with lang=eo.
POPUP = 60


def script(*args, check=True):
    r = subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=600)
    if check and r.returncode != 0:
        raise AssertionError("cluster.sh %s failed: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r


class Conn:
    """One kept HTTP/1.1 connection (re-made after an error)."""

    def __init__(self, addr=EDGE, timeout=15):
        self.addr, self.timeout, self.c = addr, timeout, None

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            if self.c is None:
                self.c = http.client.HTTPConnection(*self.addr, timeout=self.timeout)
            try:
                self.c.request(method, path, body=body, headers=headers or {})
                r = self.c.getresponse()
                return r.status, r.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                self.c.close()
                self.c = None
                if attempt:
                    raise

    def get(self, uid, now, **params):
        q = dict(uid=uid, **params)
        return self.request("GET", "/api/popup?" + urllib.parse.urlencode(q),
                            headers={"X-Popup-Now": str(now)})

    def act(self, uid, popup_id, action, now, key=None):
        body = {"uid": uid, "popup_id": popup_id, "action": action}
        if key:
            body["action_id"] = key
        return self.request("POST", "/api/popup/action?" + urllib.parse.urlencode({"uid": uid}),
                            body=json.dumps(body),
                            headers={"Content-Type": "application/json", "X-Popup-Now": str(now)})

    def close(self):
        if self.c:
            self.c.close()


def shown(body):
    p = json.loads(body)["popup"]
    return p["id"] if p else None


def parallel(fn, items, threads=12, addr=EDGE):
    """fn(conn, item) for every item on `threads` kept connections; the
    results in the order of items."""
    idx = list(range(len(items)))
    chunks = [idx[i::threads] for i in range(threads)]

    def run(chunk):
        c = Conn(addr)
        try:
            return [(i, fn(c, items[i])) for i in chunk]
        finally:
            c.close()
    out = {}
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        for part in ex.map(run, chunks):
            for i, res in part:
                out[i] = res
    return [out[i] for i in idx]


def sql_on(sock, query, db="popup"):
    """The client as root on a MariaDB unix socket; the CompletedProcess."""
    return subprocess.run(["mariadb", "--no-defaults", "-S", sock, "-u", "root", "--batch", "-N",
                           *([db] if db else []), "-e", query],
                          capture_output=True, text=True, timeout=60)


def node_sock(g):
    return os.path.join(DIR, g, "mysql.sock")


def node_status(g, var):
    """A Galera node's SHOW GLOBAL STATUS value; None when it does not answer."""
    r = sql_on(node_sock(g), "SHOW GLOBAL STATUS LIKE '%s'" % var, db=None)
    if r.returncode != 0 or not r.stdout.strip():
        return None
    return r.stdout.split("\t", 1)[1].strip()


def node_primary(g):
    """In the primary component and Synced: it takes statements and holds
    every committed write."""
    return (node_status(g, "wsrep_cluster_status") == "Primary" and node_status(g, "wsrep_ready") == "ON"
            and node_status(g, "wsrep_local_state_comment") == "Synced")


def cluster_synced(size=3):
    """Every node runs, Synced in one primary component of `size` nodes."""
    return all(node_primary(g) and node_status(g, "wsrep_cluster_size") == str(size) for g in NODES)


def sql(query, node=None):
    """query's rows as text: on `node`, else on the first Galera node in the
    primary component (CLUSTER_MYSQL=galera), else on the stores' MariaDB."""
    if not GALERA:
        socks = [os.path.join(DIR, "stores", "mysql.sock")]
    elif node:
        socks = [node_sock(node)]
    else:
        socks = [node_sock(g) for g in NODES if node_primary(g)]
        if not socks:
            raise AssertionError("sql: no Galera node is in the primary component")
    r = None
    for sock in socks:
        # Causal reads: a node applies others' commits a moment after they
        # commit; wsrep_sync_wait makes the read wait for every one of them.
        r = sql_on(sock, ("SET SESSION wsrep_sync_wait = 1; " if GALERA else "") + query)
        if r.returncode == 0:
            return r.stdout
    raise AssertionError("sql failed: %s" % r.stderr)


def popupctl(*args):
    """popupctl (of BUILD, as make passes it) with a pool host's configuration."""
    build = os.path.join(TOP, os.environ.get("BUILD", "build"))
    return subprocess.run([os.path.join(build, "popupctl"), "--config", CTL_CONF, *args],
                          capture_output=True, text=True, timeout=120)


def redis(*args):
    return subprocess.run(["redis-cli", "-s", os.path.join(DIR, "stores", "redis.sock"), *args],
                          capture_output=True, text=True, timeout=30).stdout.strip()


def drained():
    if redis("LLEN", "popup:events") != "0":
        return False
    return all(redis("LLEN", k) == "0" for k in redis("KEYS", "popup:events:processing:*").split())


LINE = re.compile(r'uri="(?P<uri>[^"]*)" status=(?P<status>\d+) .*?upstream="(?P<up>[^"]*)"')


def log_lines(path):
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.search(line)
            if not m:
                continue
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(m.group("uri")).query)
            yield q.get("uid", [None])[0], m.group("up"), int(m.group("status"))


def served_by(path, uids, timeout=20):
    """{uid: [upstream of each request]} for uids from an nginx access log
    (buffered for up to 1 s: waits until every uid is there)."""
    uids = set(uids)
    out = {}

    def read():
        out.clear()
        for uid, up, _ in log_lines(path):
            if uid in uids:
                out.setdefault(uid, []).append(up)
        return len(out) == len(uids)
    wait_for(read, timeout)
    return out


def routed_to(host, uid, timeout=60):
    """Waits until the edge sends uid's requests to host again: 3 healthz
    requests in a row carrying uid (so hashed as that user's, without
    touching its state) answered by host, as its access log shows."""
    want = "%s:%d" % HOSTS[host]
    n = [0]

    def ok():
        n[0] += 1
        marks = ["%d-%d" % (n[0], i) for i in range(3)]
        c = Conn()
        try:
            for m in marks:
                c.request("GET", "/api/healthz?" + urllib.parse.urlencode({"uid": uid, "probe": m}))
        finally:
            c.close()
        got = {}

        def read():
            for line in open(edge_log(), errors="replace"):
                for m in marks:
                    if "probe=%s\"" % m in line and "uid=%s&" % urllib.parse.quote(uid) in line:
                        got[m] = LINE.search(line).group("up")
            return len(got) == len(marks)
        wait_for(read, 10)
        return len(got) == len(marks) and all(v == want for v in got.values())
    return wait_for(ok, timeout, interval=0.5)


def edge_log():
    return os.path.join(DIR, "edge", "log", "access.log")


def host_log(h):
    return os.path.join(DIR, h, "log", "nginx-access.log")


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100))] if v else float("nan")
