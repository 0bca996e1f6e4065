"""What the cluster tests share: the running cluster (scripts/cluster.sh,
started once by run.py), HTTP to the edge and to each pool host, the stores'
MariaDB and Redis through their unix sockets, and the edge's access log
(which host served which request)."""

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


def sql(query):
    r = subprocess.run(["mariadb", "--no-defaults", "-S", os.path.join(DIR, "stores", "mysql.sock"),
                        "-u", "root", "--batch", "-N", "popup", "-e", query],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("sql failed: %s" % r.stderr)
    return r.stdout


def redis_env():
    """redis-cli's environment: the store host's Redis password (its stack
    makes one because it listens on the network)."""
    try:
        with open(os.path.join(DIR, "stores", "redis.password")) as f:
            return dict(os.environ, REDISCLI_AUTH=f.read().strip())
    except FileNotFoundError:
        return None


def redis(*args):
    return subprocess.run(["redis-cli", "-s", os.path.join(DIR, "stores", "redis.sock"), *args],
                          capture_output=True, text=True, timeout=30, env=redis_env()).stdout.strip()


# The events in the queue and in every writer's processing list, counted
# in one script: read one command at a time, a list a writer took over
# (RENAME into a processing list that KEYS had not listed) or gave back in
# between would be missed, and the queue would look drained while a batch
# is still on its way to MySQL.
IN_FLIGHT = ("local n = redis.call('LLEN', KEYS[1]) "
             "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do n = n + redis.call('LLEN', k) end "
             "return n")


def drained():
    return redis("EVAL", IN_FLIGHT, "1", "popup:events", "popup:events:processing:*") == "0"


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


def ensure_popup():
    """The tests' popup POPUP for lang=eo (shown once a day, an ignore hides
    it for 60 s, a click for good), published; idempotent, so each module
    may run alone (run.py -k)."""
    sql("REPLACE INTO popups (id, name, priority, enabled, platforms, langs, rollout_percent, "
        "show_cooldown_s, ignore_cooldown_s, click_cooldown_s, title, body, image_url, link_url) "
        "VALUES (%d, 'cluster tests', 500, 1, '', 'eo', 100, 86400, 60, NULL, 'T', 'B', '', '')"
        % POPUP)
    subprocess.run([os.path.join(TOP, "build", "popupctl"), "--config",
                    os.path.join(DIR, "stores", "popupctl.conf"), "publish"],
                   check=True, capture_output=True)
    def everywhere():  # every host's workers took it (probes of fresh users)
        tag = "%x" % int(time.time() * 1e6)
        for i, a in enumerate(list(HOSTS.values()) * 4):
            c = Conn(a)
            try:
                if shown(c.get("probe-%s-%d" % (tag, i), int(time.time()), lang="eo")[1]) != POPUP:
                    return False
            finally:
                c.close()
        return True
    assert wait_for(everywhere, 30), "the hosts did not take the tests' popup"


def writer_pids(host):
    """(supervisor, writer) pids of pool host's popup-writer: its stack's
    writer.pid and that process's child (None while it has none)."""
    with open(os.path.join(DIR, host, "writer.pid")) as f:
        sup = int(f.read().split()[0])
    with open("/proc/%d/task/%d/children" % (sup, sup)) as f:
        kids = [int(p) for p in f.read().split()]
    return sup, (kids[0] if kids else None)


def metrics(host):
    """{'name{labels}': value} of a pool host's /api/metrics, asked of its
    pool's socket itself with cgi-fcgi as from loopback (the host's nginx
    serves it to loopback only, and listens on the host's address)."""
    env = dict(os.environ, REQUEST_METHOD="GET", DOCUMENT_URI="/api/metrics",
               SCRIPT_NAME="/api/metrics", QUERY_STRING="", REMOTE_ADDR="127.0.0.1")
    sock = os.path.join(DIR, host, "popup.sock")
    with open(os.path.join(DIR, host, "popup.conf")) as f:  # its `listen`, as stack.sh reads it
        for line in f:
            if line.startswith("listen = unix:"):
                sock = line.split("unix:", 1)[1].strip()
    r = subprocess.run(["cgi-fcgi", "-bind", "-connect", sock],
                       env=env, capture_output=True, text=True, timeout=30)
    head, _, body = r.stdout.replace("\r\n", "\n").partition("\n\n")
    if r.returncode != 0 or not head.startswith("Status: 200"):
        raise AssertionError("%s /api/metrics: %s %s" % (host, r.stdout[:300], r.stderr[:300]))
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            out[k] = float(v)
    return out


def blocked_takers(hosts):
    """Redis clients of these pool hosts that are blocked in BLMOVE (a
    writer waiting for the queue's next item: Redis moves it to that
    writer's processing list even while the writer process is stopped)."""
    addrs = tuple(HOSTS[h][0] + ":" for h in hosts)
    out = []
    for line in redis("CLIENT", "LIST").splitlines():
        f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        if f.get("addr", "").startswith(addrs) and f.get("cmd") == "blmove" and "b" in f.get("flags", ""):
            out.append(f["addr"])
    return out


class TableLock:
    """A MariaDB session of the test's own (the stores' MariaDB, as root)
    that holds LOCK TABLES `table` WRITE until release(): a writer's batch
    then waits in MariaDB between its take and its commit. query() runs a
    statement in that same session (other sessions would wait on the lock
    too)."""

    def __init__(self, table):
        self.p = subprocess.Popen(
            ["mariadb", "--no-defaults", "-S", os.path.join(DIR, "stores", "mysql.sock"), "-u",
             "root", "--batch", "-N", "--unbuffered", "popup"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            bufsize=1)
        # Bounded: a session holding the table (a writer stopped mid-batch)
        # fails the test instead of hanging it.
        self.query("SET SESSION lock_wait_timeout = 30")
        self.query("LOCK TABLES %s WRITE" % table)

    def query(self, q):
        """The rows of q (tab-separated lines)."""
        mark = "-- done %s --" % time.time()
        self.p.stdin.write("%s;\nSELECT '%s';\n" % (q, mark))
        self.p.stdin.flush()
        rows = []
        for line in self.p.stdout:  # ends when the session fails
            if line.rstrip("\n") == mark:
                return rows
            rows.append(line.rstrip("\n"))
        raise AssertionError("the locking session ended: %s" % self.p.stderr.read())

    def release(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("UNLOCK TABLES;\n")
                self.p.stdin.close()
            except BrokenPipeError:
                pass
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
