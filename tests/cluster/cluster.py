"""What the cluster tests share: the running cluster (scripts/cluster.sh,
started once by run.py), HTTP to the edge and to each pool host, the
service's MariaDB (CLUSTER_MYSQL=galera, the default: a Galera node in the
primary component; single: the stores') through unix sockets, the Redis in
use (CLUSTER_REDIS=sentinel: the primary the sentinels on r1..r3 name;
single: the stores' Redis on its unix socket), and the edge's access log
(which host served which request)."""

import concurrent.futures
import http.client
import json
import os
import re
import socket
import subprocess
import time
import sys
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
from harness import stackctl, wait_for  # noqa: E402,F401  (the cluster tests import it from here)

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
# popupctl's configuration on a pool host: the MySQL and the Redis the pool
# uses, with popupctl's account.
CTL_CONF = os.path.join(DIR, "h1", "popupctl.conf")
# Redis through Sentinel (scripts/cluster/redis.sh): a node and a sentinel
# on each of r1..r3.
REDIS_NODES = {"r%d" % i: (NET + ".%d" % (30 + i), 6379) for i in (1, 2, 3)}
SENTINELS = {"r%d" % i: (NET + ".%d" % (30 + i), 26379) for i in (1, 2, 3)}
REDIS_HOST_OF_ADDR = {"%s:%d" % a: h for h, a in REDIS_NODES.items()}
MASTER_NAME = "popup"
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


def redis_mode():
    """"sentinel" or "single": what the running cluster was started with
    (cluster.sh up writes DIR/redis-mode), else CLUSTER_REDIS's default."""
    try:
        with open(os.path.join(DIR, "redis-mode")) as f:
            return f.read().strip()
    except OSError:
        return os.environ.get("CLUSTER_REDIS", "sentinel")


class RespError(Exception):
    pass


def resp(addr, *args, timeout=1.5):
    """One command to the Redis (or sentinel) at addr over TCP: its reply as
    str, int, list or None; an error reply raises RespError, a node that does
    not answer within timeout OSError."""
    def line(f):
        b = f.readline()
        if not b.endswith(b"\r\n"):
            raise OSError("connection closed")
        return b[:-2]

    def read(f):
        b = line(f)
        t, rest = b[:1], b[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = f.read(n + 2)
            return data[:-2].decode(errors="replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [read(f) for _ in range(n)]
        raise OSError("bad reply %r" % b)
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    pw = _node_password() if addr[1] != 26379 else None
    if pw:  # AUTH first (the sentinels have no password)
        out = b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(pw), pw.encode()) + out
    with socket.create_connection(addr, timeout=timeout) as c:
        c.sendall(out)
        with c.makefile("rb") as f:
            if pw:
                read(f)
            return read(f)


def _node_password():
    """The Redis nodes' password (the stores host's, which cluster.sh gives
    r1..r3 too); None without one."""
    try:
        with open(os.path.join(DIR, "stores", "redis.password")) as f:
            return f.read().strip() or None
    except FileNotFoundError:
        return None


def _text(v):  # a reply as redis-cli prints it (no tty)
    if v is None:
        return ""
    if isinstance(v, list):
        return "\n".join(_text(x) for x in v)
    return str(v)


_sentinel_order = list(SENTINELS)


def primary():
    """"host:port" of the primary a sentinel names (the first that answers,
    starting with the one that answered last: a cut one costs its timeout
    once); "" when none answers."""
    for h in list(_sentinel_order):
        try:
            got = resp(SENTINELS[h], "SENTINEL", "get-master-addr-by-name", MASTER_NAME, timeout=1)
        except (OSError, RespError):
            _sentinel_order.remove(h)
            _sentinel_order.append(h)
            continue
        if isinstance(got, list) and len(got) == 2:
            return "%s:%s" % (got[0], got[1])
    return ""


def primary_host():
    """r1, r2 or r3: the node the sentinels name ("" when none)."""
    return REDIS_HOST_OF_ADDR.get(primary(), "")


def node(host, *args, timeout=1.5):
    """One command to Redis host host's redis-server (RespError, OSError)."""
    return resp(REDIS_NODES[host], *args, timeout=timeout)


def replication(host):
    """INFO replication of host's node as a dict ({} when it does not answer)."""
    try:
        text = node(host, "INFO", "replication")
    except (OSError, RespError):
        return {}
    return dict(l.strip().split(":", 1) for l in text.splitlines() if ":" in l)


def replica_of(host, primary_addr):
    i = replication(host)
    return (i.get("role") == "slave" and "%s:%s" % (i.get("master_host"), i.get("master_port")) == primary_addr
            and i.get("master_link_status") == "up")


def redis_healthy():
    """Every sentinel names the same primary, which answers ROLE master, and
    the two other nodes are its replicas with their links up."""
    names = set()
    for a in SENTINELS.values():
        try:
            got = resp(a, "SENTINEL", "get-master-addr-by-name", MASTER_NAME, timeout=1)
        except (OSError, RespError):
            return False
        names.add("%s:%s" % tuple(got) if isinstance(got, list) and len(got) == 2 else "")
    if len(names) != 1 or "" in names:
        return False
    p = names.pop()
    h = REDIS_HOST_OF_ADDR.get(p)
    if not h or replication(h).get("role") != "master":
        return False
    return all(replica_of(o, p) for o in REDIS_NODES if o != h)


def redis_env():
    """redis-cli's environment: the store host's Redis password (its stack
    makes one because it listens on the network)."""
    try:
        with open(os.path.join(DIR, "stores", "redis.password")) as f:
            return dict(os.environ, REDISCLI_AUTH=f.read().strip())
    except FileNotFoundError:
        return None


def redis(*args):
    """A command to the Redis in use, its reply as redis-cli prints it."""
    if redis_mode() == "sentinel":
        p = primary()
        if not p:
            return ""
        host, port = p.rsplit(":", 1)
        try:
            return _text(resp((host, int(port)), *args, timeout=10))
        except RespError as e:
            return str(e)
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


def publish():
    """popupctl publish into the Redis the pool hosts use (with the
    sentinels: DIR/redis-popupctl.conf, which cluster.sh up wrote), from
    the MySQL they use (CLUSTER_MYSQL=galera: a pool host's popupctl.conf)."""
    conf = (CTL_CONF if GALERA  # Galera's popups, into the Redis the pool hosts use
            else os.path.join(DIR, "redis-popupctl.conf") if redis_mode() == "sentinel"
            else os.path.join(DIR, "stores", "popupctl.conf"))
    subprocess.run([os.path.join(TOP, "build", "popupctl"), "--config", conf, "publish"],
                   check=True, capture_output=True)


def healthz(host):
    """(HTTP status, JSON body) of pool host host's /api/healthz; (0, {})
    when it does not answer."""
    c = Conn(HOSTS[host], timeout=5)
    try:
        st, b = c.request("GET", "/api/healthz")
        return st, json.loads(b)
    except (OSError, ValueError):
        return 0, {}
    finally:
        c.close()


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
    before = redis("GET", "popup:config:version")
    publish()  # into the Redis the pool hosts use (the sentinels' primary or the stores')
    assert redis("GET", "popup:config:version") != before

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
    return stackctl.parse_metrics(body)


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


def writers_mysql_sock():
    """The socket of the MySQL the writers use: the stores', or the Galera
    node w-h1 names (the nodes' processes all move in list order), else
    the first node in the primary component."""
    if not GALERA:
        return os.path.join(DIR, "stores", "mysql.sock")
    g = NODE_OF_ADDR.get(redis("HGET", "popup:writer:w-h1", "mysql_node"))
    if g:
        return node_sock(g)
    return node_sock(next((g for g in NODES if node_primary(g)), "g1"))


class TableLock:
    """A MariaDB session of the test's own (writers_mysql_sock(), as root)
    that holds LOCK TABLES `table` WRITE until release(): a writer's batch
    then waits in MariaDB between its take and its commit. query() runs a
    statement in that same session (other sessions would wait on the lock
    too)."""

    def __init__(self, table):
        self.p = subprocess.Popen(
            ["mariadb", "--no-defaults", "-S", writers_mysql_sock(), "-u",
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
