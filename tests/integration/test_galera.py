"""MariaDB as a 3-node Galera cluster (mysql_hosts, docs/deployment.md
"Galera cluster"): the writer and the pool use the first node that answers
and takes statements, move on when it dies, and the queue drains exactly
once. The harness's stack gives nginx, the pool, Redis and the writer; its
own MariaDB only seeds the popups; popup.local.conf points MySQL at three
Galera nodes on loopback ports in this module's temp folder.

Node B carries pc.weight=3 (of 5): it keeps the primary component alone,
so the test can stop one node and kill another (a real deployment with
equal weights needs two of three nodes alive)."""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from harness import Proc, free_port, module_stack, popup_row, uid, wait_for

GALERA_LIBS = ["/usr/lib/galera/libgalera_smm.so", "/usr/lib/libgalera_smm.so",
               "/usr/lib/galera-4/libgalera_smm.so"]
GALERA = next((p for p in GALERA_LIBS if os.path.exists(p)), None)
AS_ROOT = os.getuid() == 0
MISSING = ("no galera-4 library (apt-get install galera-4 rsync)" if not GALERA
           else "no rsync" if not shutil.which("rsync")
           else "no wsrep_sst_rsync" if not shutil.which("wsrep_sst_rsync") else None)

CNF = """[mariadbd]
datadir = {dir}/data
socket = {dir}/mysql.sock
pid-file = {dir}/mysql.pid
log-error = {dir}/mariadb.log
tmpdir = {dir}/tmp
port = {port}
bind-address = 127.0.0.1
skip-name-resolve
innodb-buffer-pool-size = 32M
innodb-log-file-size = 16M
innodb-autoinc-lock-mode = 2
binlog-format = ROW
default-storage-engine = InnoDB
max-connections = 300
wsrep-on = ON
wsrep-provider = {lib}
wsrep-cluster-name = popup_test
wsrep-cluster-address = gcomm://{peers}
wsrep-node-name = {name}
wsrep-node-address = 127.0.0.1:{gcomm}
wsrep-sst-method = rsync
wsrep-sst-receive-address = 127.0.0.1:{sst}
wsrep-provider-options = "gmcast.listen_addr=tcp://127.0.0.1:{gcomm};ist.recv_addr=127.0.0.1:{ist};evs.suspect_timeout=PT2S;evs.inactive_timeout=PT4S;evs.install_timeout=PT4S;evs.keepalive_period=PT0.5S;pc.weight={weight};gcache.size=64M"
"""


TAKEN = set()  # ports given to the module's nodes


def unused_port():
    """A free port no node of this module was given: free_port() may hand
    out one port twice before anything listens on it (once SST and IST of
    one node got the same port, and the node could never join)."""
    while True:
        p = free_port()
        if p not in TAKEN:
            TAKEN.add(p)
            return p


class Node:
    def __init__(self, root, name, weight):
        self.name = name
        self.dir = os.path.join(root, name)
        self.weight = weight
        self.port, self.gcomm, self.ist, self.sst = (unused_port() for _ in range(4))
        self.proc = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def write_cnf(self, peers):
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        with open(os.path.join(self.dir, "my.cnf"), "w") as f:
            f.write(CNF.format(dir=self.dir, port=self.port, lib=GALERA, name=self.name,
                               peers=peers, gcomm=self.gcomm, sst=self.sst, ist=self.ist,
                               weight=self.weight))

    def install(self):
        args = ["mariadb-install-db", "--no-defaults", "--datadir=" + os.path.join(self.dir, "data"),
                "--auth-root-authentication-method=socket", "--skip-test-db"]
        if AS_ROOT:
            args.append("--user=mysql")
        r = subprocess.run(args, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("mariadb-install-db: " + r.stdout + r.stderr)
        if AS_ROOT:
            subprocess.run(["chown", "-R", "mysql:mysql", self.dir], check=True)

    def start(self, new_cluster=False):
        # rsync state transfer needs the server's own account: as root, mysql.
        args = ["mariadbd", "--defaults-file=" + os.path.join(self.dir, "my.cnf")]
        if AS_ROOT:
            args.append("--user=mysql")
        if new_cluster:
            args.append("--wsrep-new-cluster")
        with open(os.path.join(self.dir, "stdout.log"), "ab") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)

    def sql(self, query, user=None, check=True):
        r = subprocess.run(["mariadb", "--no-defaults", "-S", os.path.join(self.dir, "mysql.sock"),
                            "-u", user or "root", "-N", "-B", "-e", query],
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError("%s: sql failed: %s: %s" % (self.name, query[:200], r.stderr))
        return r

    def status(self, var):
        r = self.sql("SHOW GLOBAL STATUS LIKE '%s'" % var, check=False)
        if r.returncode != 0 or not r.stdout.strip():
            return None
        return r.stdout.split("\t", 1)[1].strip()

    def synced(self):
        return self.status("wsrep_ready") == "ON" and \
            self.status("wsrep_local_state_comment") == "Synced"

    def log(self):
        try:
            with open(os.path.join(self.dir, "mariadb.log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
                self.proc.kill()
                self.proc.wait(timeout=30)
            except ProcessLookupError:
                pass


class Cluster:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="ptgal", dir="/tmp")
        os.chmod(self.root, 0o755)  # the mysql account walks into its node's folder
        # B keeps quorum alone (see the module's docstring).
        self.a, self.b, self.c = Node(self.root, "a", 1), Node(self.root, "b", 3), Node(self.root, "c", 1)
        self.nodes = [self.a, self.b, self.c]
        peers = ",".join("127.0.0.1:%d" % n.gcomm for n in self.nodes)
        for n in self.nodes:
            n.write_cnf(peers)
            n.install()

    def wait_synced(self, node, timeout=90):
        if not wait_for(node.synced, timeout, interval=0.2):
            raise AssertionError("node %s not synced within %ds:\n%s" % (node.name, timeout, node.log()))

    def start(self, stack):
        self.a.start(new_cluster=True)
        self.wait_synced(self.a)
        self.seed(stack)
        for n in (self.b, self.c):
            n.start()
            self.wait_synced(n)

    def seed(self, stack):
        """The schema (scripts/migrate.sh), the service's accounts over TCP
        with sql/grants.sql, and the stack's popups."""
        top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.a.sql("CREATE DATABASE IF NOT EXISTS popup CHARACTER SET utf8mb4")
        r = subprocess.run([os.path.join(top, "scripts/migrate.sh"),
                            os.path.join(self.a.dir, "mysql.sock"), "popup"],
                           env=dict(os.environ, MYSQL_ADMIN="root"), capture_output=True,
                           text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("migrate: " + r.stdout + r.stderr)
        with open(stack.path("mysql.password")) as f:
            password = f.read().strip()
        self.a.sql("CREATE USER IF NOT EXISTS 'popup'@'127.0.0.1' IDENTIFIED BY '%s';"
                   "CREATE USER IF NOT EXISTS 'popupctl'@'127.0.0.1' IDENTIFIED BY '%s'"
                   % (password, password))
        with open(os.path.join(top, "sql/grants.sql")) as f:
            grants = f.read().replace("@SERVICE@", "popup").replace("@CTL@", "popupctl") \
                .replace("@HOST@", "127.0.0.1")
        r = subprocess.run(["mariadb", "--no-defaults", "-S", os.path.join(self.a.dir, "mysql.sock"),
                            "-u", "root", "popup"], input=grants, capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise RuntimeError("grants: " + r.stderr)
        dump = subprocess.run(["mariadb-dump", "--no-defaults", "-S", stack.path("mysql.sock"),
                               "-u", stack_admin(), "--no-create-info", "--replace",
                               "--skip-triggers", "popup", "popups", "config_meta"],
                              capture_output=True, text=True, timeout=60)
        if dump.returncode != 0:
            raise RuntimeError("dump: " + dump.stderr)
        r = subprocess.run(["mariadb", "--no-defaults", "-S", os.path.join(self.a.dir, "mysql.sock"),
                            "-u", "root", "popup"], input=dump.stdout, capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("load popups: " + r.stderr)

    def stop(self):
        for n in self.nodes:
            n.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def stack_admin():
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name


cluster = None
stack = None
_stack_up, _stack_down = module_stack(globals(), BATCH_SIZE=20,
                                      setup=lambda s: s.set_popups([popup_row(1, show_cooldown_s=0)]))


def setUpModule():
    global cluster
    if MISSING:
        raise unittest.SkipTest(MISSING)
    _stack_up()
    try:
        cluster = Cluster()
        cluster.start(stack)
        # A, then C, then B: when A dies the processes try the stopped C
        # (a hung node: its handshake times out) before B.
        with open(stack.path("popup.local.conf"), "a") as f:
            f.write("mysql_hosts = %s, %s, %s\n" % (cluster.a.address, cluster.c.address,
                                                   cluster.b.address))
        r = stack.run_script("reload")
        if r.returncode != 0:
            raise RuntimeError("reload: %s %s" % (r.stdout, r.stderr))
        writer = Proc(stack, "popup-writer", "writer.log", pidfile="writer.pid")
        writer.kill(signal.SIGTERM)
        writer.start()
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    global cluster
    try:
        if cluster:
            cluster.stop()
            cluster = None
    finally:
        _stack_down()


def health():
    return stack.http().request("GET", "/api/healthz").json()


def healthz_names(node, times=6):
    """Several answers (any worker may answer) all name `node` and say ok."""
    for _ in range(times):
        h = health()
        if h["mysql_node"] != node.address or h["mysql"] != "ok":
            return False
    return True


def writer_node():
    return stack.redis("HGET", "popup:writer:w1", "mysql_node").strip('"')


class Load(threading.Thread):
    """n keyed actions (one new user each), one at a time; counts the 202s."""

    def __init__(self, prefix, n):
        super().__init__(daemon=True)
        self.prefix, self.n, self.accepted, self.other = prefix, n, 0, []

    def run(self):
        for i in range(self.n):
            r = stack.act("%s-%d" % (self.prefix, i), 1, "click")
            if r.status == 202:
                self.accepted += 1
            else:
                self.other.append(r.status)
            time.sleep(0.01)


class Galera(unittest.TestCase):
    def test_1_writer_and_pool_move_on_when_their_node_dies_and_nothing_is_lost(self):
        a, b, c = cluster.a, cluster.b, cluster.c
        self.assertTrue(wait_for(lambda: healthz_names(a), 60), health())
        prefix = uid("gal")
        warm = Load(prefix + "-warm", 20)
        warm.run()
        self.assertTrue(stack.wait_drained(timeout=60))
        self.assertTrue(wait_for(lambda: writer_node() == a.address, 30), writer_node())

        load = Load(prefix, 300)
        load.start()
        time.sleep(0.5)  # the load is under way
        os.kill(c.proc.pid, signal.SIGSTOP)   # isolated: answers nothing
        os.kill(a.proc.pid, signal.SIGKILL)   # the writer's node
        a.proc.wait(timeout=30)
        load.join(timeout=120)
        self.assertFalse(load.is_alive())
        self.assertEqual(load.other, [])
        self.assertTrue(stack.wait_drained(timeout=90),
                        (health(), stack.log("writer.log")[-3000:]))
        self.assertTrue(wait_for(lambda: writer_node() == b.address, 30), writer_node())
        self.assertTrue(wait_for(lambda: healthz_names(b), 60), health())

        count = lambda q: int(b.sql(q + "", check=True).stdout.split()[0])  # noqa: E731
        for p, n in ((prefix + "-warm-", warm.accepted), (prefix + "-", warm.accepted + load.accepted)):
            self.assertEqual(count("SELECT COUNT(*) FROM popup.popup_events WHERE uid LIKE '%s%%'" % p), n)
            self.assertEqual(count("SELECT COUNT(DISTINCT event_id) FROM popup.popup_events "
                                   "WHERE uid LIKE '%s%%'" % p), n)
        self.assertEqual(count("SELECT COUNT(*) FROM popup.user_state WHERE uid LIKE '%s-%%'" % prefix),
                         warm.accepted + load.accepted)
        # The roll-ups count each event once: replayed batches add nothing.
        self.assertEqual(count("SELECT COALESCE(SUM(clicks), 0) FROM popup.popup_daily WHERE popup_id = 1"),
                         count("SELECT COUNT(*) FROM popup.popup_events WHERE popup_id = 1 "
                               "AND kind = 'click'"))
        m = stack.metrics()
        self.assertEqual(m.get('popup_writer_mysql_reachable{writer="w1"}'), 1)
        self.assertIn("node %s failed" % a.address, stack.log("writer.log"))

        # (2) The killed node, restarted, rejoins; the stopped one resumes.
        os.kill(c.proc.pid, signal.SIGCONT)
        a.start()
        self.assertTrue(wait_for(lambda: b.status("wsrep_cluster_size") == "3" and
                                 a.synced() and c.synced(), 90, interval=0.5),
                        (b.status("wsrep_cluster_size"), a.log(), c.log()))
        self.assertEqual(count("SELECT COUNT(*) FROM popup.popup_events WHERE uid LIKE '%s-%%'"
                               % prefix), warm.accepted + load.accepted)
        self.assertEqual(int(a.sql("SELECT COUNT(*) FROM popup.popup_events WHERE uid LIKE '%s-%%'"
                                   % prefix).stdout.split()[0]), warm.accepted + load.accepted)


if __name__ == "__main__":
    unittest.main()
