"""A private stack for black-box tests: MariaDB, Redis, the FastCGI pool, the
writer and nginx in a temporary folder, started and stopped through
scripts/stack.sh (the same script `make run` uses), plus small clients for
HTTP, Redis and MySQL. Only loopback and unix sockets are used."""

import http.client
import json
import os
import pwd
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "scripts"))
import stackctl  # noqa: E402  scripts/stackctl.py: the one way to drive scripts/stack.sh

# The stack's MariaDB superuser: the OS user who started it, authenticated
# on the socket (the service account `popup` may only do what the service
# does; scripts/stack.sh).
DB_ADMIN = pwd.getpwuid(os.getuid()).pw_name

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", "build")


free_port = stackctl.free_port


class Http:
    """One keep-alive HTTP/1.1 connection to nginx."""

    def __init__(self, port, timeout=10):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                return Reply(r.status, dict((k.lower(), v) for k, v in r.getheaders()), data)
            except (http.client.HTTPException, ConnectionError, socket.timeout):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn:
            self.conn.close()
        self.conn = None


class Reply:
    def __init__(self, status, headers, data):
        self.status = status
        self.headers = headers
        self.data = data

    def json(self):
        return json.loads(self.data)

    def __repr__(self):
        return "Reply(%d, %r)" % (self.status, self.data[:300])


# What AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer print.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")



def wait_for(predicate, timeout=20, interval=0.05):
    """True once predicate() is; its last answer when timeout seconds passed."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()

class Stack:
    def __init__(self, **env):
        self.dir = tempfile.mkdtemp(prefix="pt", dir="/tmp")
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update({"HTTP_PORT": str(self.port), "HTTP_ADDR": "127.0.0.1",
                         "TEST_CLOCK": "on", "DEMO": "0", "BUILD": BUILD,
                         "WORKERS": "3", "THREADS": "8", "NGINX_WORKERS": "1",
                         "NGINX_KEEPALIVE": "4"})
        self.env.update({k: str(v) for k, v in env.items()})
        self.started = False

    # -- lifecycle -------------------------------------------------------
    def start(self):
        self.started = True
        try:
            stackctl.start(self.dir, self.env)
        except RuntimeError:
            self.stop()
            raise
        return self

    def run_script(self, command, **env):
        """scripts/stack.sh COMMAND DIR with this stack's settings (and
        `env` over them); the finished process, whatever its exit code."""
        return stackctl.run(command, self.dir, dict(self.env, **env))

    def stop(self, keep=False):
        if self.started:
            stackctl.stop(self.dir, self.env)
            self.started = False
        reports = self.sanitizer_reports()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        if reports:
            raise AssertionError("sanitizer reports in the stack's logs:\n" + "\n".join(reports))

    def sanitizer_reports(self):
        """Lines where a sanitizer build of a stack program reported a bug.
        A worker that dies of one is respawned and nginx retries its request,
        so only its log shows it; stop() fails the test module on any."""
        found = []
        logs = self.path("log")
        for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
            text = self.log(name)
            for marker in SANITIZER_MARKERS:
                at = text.find(marker)
                if at >= 0:
                    found.append("%s: %s" % (name, text[at:at + 1500]))
                    break
        return found

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def conf(self):
        return self.path("popup.conf")

    def ctl_conf(self):
        """popupctl's configuration: popup.conf with its own MariaDB account."""
        return self.path("popupctl.conf")

    def log(self, name):
        try:
            with open(self.path("log", name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def pid(self, name):
        with open(self.path(name + ".pid")) as f:
            return int(f.read().split()[0])

    # -- clients ---------------------------------------------------------
    def http(self):
        return Http(self.port)

    def get_popup(self, uid, now=None, conn=None, **params):
        q = {"uid": uid}
        q.update(params)
        headers = {"X-Popup-Now": str(now)} if now is not None else {}
        c = conn or self.http()
        try:
            return c.request("GET", "/api/popup?" + urllib.parse.urlencode(q), headers=headers)
        finally:
            if conn is None:
                c.close()

    def act(self, uid, popup_id, action, now=None, conn=None, as_json=True, query_uid=False,
            headers=None):
        """POST /api/popup/action; query_uid: also ?uid=U, so that nginx
        routes the action to the user's worker (user affinity)."""
        headers = dict(headers or {})
        if now is not None:
            headers["X-Popup-Now"] = str(now)
        if as_json:
            body = json.dumps({"uid": uid, "popup_id": popup_id, "action": action})
            headers["Content-Type"] = "application/json"
        else:
            body = urllib.parse.urlencode({"uid": uid, "popup_id": popup_id, "action": action})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        c = conn or self.http()
        try:
            path = "/api/popup/action"
            if query_uid:
                path += "?" + urllib.parse.urlencode({"uid": uid})
            return c.request("POST", path, body=body, headers=headers)
        finally:
            if conn is None:
                c.close()

    def fcgi(self, env, body=b"", socket="popup.sock"):
        """One request straight to the pool's socket with cgi-fcgi, as any
        FastCGI server could send it: `env` are the FastCGI parameters.
        socket: the shared one, or popup.sock.N for worker slot N's own.
        Returns Reply (status from the Status header, 200 without one)."""
        full = {"REQUEST_METHOD": "GET", "CONTENT_LENGTH": str(len(body))}
        full.update(env)
        r = subprocess.run(["cgi-fcgi", "-bind", "-connect", self.path(socket)],
                           input=body, env=full, capture_output=True, timeout=30)
        head, _, data = r.stdout.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode(errors="replace").split("\r\n"):
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        status = int(headers.get("status", "200").split()[0])
        return Reply(status, headers, data)

    def redis_env(self):
        """redis-cli's environment: the stack Redis's password when it has
        one (REDIS_AUTH=1)."""
        try:
            with open(self.path("redis.password")) as f:
                return dict(os.environ, REDISCLI_AUTH=f.read().strip())
        except FileNotFoundError:
            return None

    def redis(self, *args):
        r = subprocess.run(["redis-cli", "-s", self.path("redis.sock"), "--no-raw"] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=30, env=self.redis_env())
        return r.stdout.strip()

    def redis_raw(self, *args):
        r = subprocess.run(["redis-cli", "-s", self.path("redis.sock"), "--raw"] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=30, env=self.redis_env())
        return r.stdout.strip()

    def sql(self, query):
        r = subprocess.run(["mariadb", "--no-defaults", "-S", self.path("mysql.sock"), "-u", DB_ADMIN,
                            "popup", "-N", "-B", "-e", query],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("sql failed: %s: %s" % (query[:200], r.stderr))
        return [line.split("\t") for line in r.stdout.splitlines()]

    def sql_int(self, query):
        rows = self.sql(query)
        return int(rows[0][0]) if rows else 0

    def status_counter(self, name):
        return int(self.sql("SHOW GLOBAL STATUS LIKE '%s'" % name)[0][1])

    def publish(self, wait=True):
        """popupctl publish; with wait, returns once every live worker serves
        the published version. Returns that version."""
        r = subprocess.run([os.path.join(TOP, BUILD, "popupctl"), "--config", self.ctl_conf(), "publish"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("publish failed: " + r.stderr)
        version = int(r.stdout.split("published version ", 1)[1].split()[0])
        if wait:
            self.wait_config(version)
        return version

    def wait_config(self, version, timeout=30):
        """Waits until every live worker serves `version` or a newer one."""
        if not self.wait_for(lambda: self.metrics().get("popup_config_version_oldest", -1) >= version,
                             timeout=timeout):
            raise AssertionError("workers still serve version %s, not %d"
                                 % (self.metrics().get("popup_config_version_oldest"), version))

    def in_flight(self):
        """Requests nginx is working on now (stub_status "Writing"), less
        the status request itself: those waiting on the pool among them."""
        r = self.http().request("GET", "/nginx-status")
        for line in r.data.decode().splitlines():
            if "Writing:" in line:
                return int(line.split("Writing:")[1].split()[0]) - 1
        raise AssertionError("no Writing count in %r" % r)

    def wait_in_flight(self, n, timeout=30):
        """Waits until at least n requests are in progress in nginx."""
        if not self.wait_for(lambda: self.in_flight() >= n, timeout=timeout, interval=0.01):
            raise AssertionError("only %d of %d requests reached nginx" % (self.in_flight(), n))

    def set_popups(self, popups):
        """Replaces every popup in MySQL with `popups` (dicts of column: value) and publishes."""
        stmts = ["DELETE FROM popups"]
        for p in popups:
            row = {"name": "p%d" % p["id"], "body": "", "title": "t%d" % p["id"]}
            row.update(p)
            cols = ",".join(row)
            vals = ",".join(sql_literal(v) for v in row.values())
            stmts.append("INSERT INTO popups (%s) VALUES (%s)" % (cols, vals))
        self.sql(";".join(stmts))
        self.publish()

    def metrics(self):
        r = self.http().request("GET", "/api/metrics")
        return stackctl.parse_metrics(r.data.decode())

    def wait_for(self, predicate, timeout=20, interval=0.05):
        return wait_for(predicate, timeout, interval)

    def mariadb_answers(self):
        return subprocess.run(["mariadb-admin", "--no-defaults", "-S", self.path("mysql.sock"),
                               "-u", DB_ADMIN, "ping"], capture_output=True,
                              timeout=30).returncode == 0

    def health_problems(self):
        """What keeps the stack from the known state that every test starts
        from: Redis and MariaDB answer, healthz says 200, and no worker
        process skips Redis because of an earlier fault (its breaker)."""
        problems = []
        if self.redis("PING") != "PONG":
            problems.append("Redis does not answer PING")
        if not self.mariadb_answers():
            problems.append("MariaDB does not answer ping")
        try:
            r = self.http().request("GET", "/api/healthz")
            if r.status != 200:
                problems.append("healthz: %r" % r)
            if self.metrics().get("popup_redis_breaker_open", 0) != 0:
                problems.append("a worker's Redis circuit breaker is open")
        except Exception as e:  # noqa: BLE001 - nginx or the pool not answering is a problem too
            problems.append("HTTP: %r" % e)
        return problems

    def wait_healthy(self, timeout=60):
        """Waits for health_problems() to be empty; AssertionError naming
        what is still wrong when the deadline passes."""
        if not self.wait_for(lambda: not self.health_problems(), timeout=timeout, interval=0.1):
            raise AssertionError("the stack did not become healthy within %ds: %s"
                                 % (timeout, "; ".join(self.health_problems())))

    def wait_drained(self, timeout=30):
        """Waits until the workers' write-behind, the queue and every
        processing list are empty."""
        def empty():
            if self.metrics().get("popup_flush_waiting", 0) != 0:
                return False
            if self.redis("LLEN", "popup:events") != "(integer) 0":
                return False
            keys = self.redis_raw("KEYS", "popup:events:processing:*").split()
            return all(self.redis("LLEN", k) == "(integer) 0" for k in keys)
        return self.wait_for(empty, timeout)

    def worker_pids(self):
        """Live worker processes of the pool (children of the supervisor, or spawn-fcgi's)."""
        out = subprocess.run(["pgrep", "-f", self.conf()], capture_output=True, text=True).stdout
        pids = []
        for p in out.split():
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    cmd = f.read().split(b"\0")
                with open("/proc/%s/stat" % p) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"popupd"):
                pids.append((int(p), ppid))
        parents = {p for p, _ in pids}
        return [p for p, ppid in pids if ppid in parents] or [p for p, _ in pids]


def module_stack(namespace, setup=None, **env):
    """A test module's stack in one line:

        setUpModule, tearDownModule = module_stack(globals(), BATCH_SIZE=50)

    setUpModule starts Stack(**env) as the module's global `stack`, then
    calls setup(stack) when given (popups to publish, ...); tearDownModule
    stops it. `stack` is None until then."""
    namespace["stack"] = None

    def set_up():
        namespace["stack"] = Stack(**env).start()
        if setup:
            setup(namespace["stack"])

    def tear_down():
        if namespace["stack"]:
            namespace["stack"].stop()

    return set_up, tear_down


def raw_json_reply(sock):
    """Reads one small HTTP answer with a JSON body from a raw socket (for
    requests http.client cannot send): the bytes up to the body's closing
    brace, or up to EOF."""
    raw = b""
    while b"}" not in raw:
        chunk = sock.recv(4096)
        if not chunk:
            break
        raw += chunk
    return raw


def sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, float)):
        return str(v)
    return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"


def popup_row(pid, **kw):
    """A popup shown to everybody, with long cooldowns unless overridden."""
    row = {"id": pid, "priority": 10, "enabled": 1, "show_cooldown_s": 3600,
           "ignore_cooldown_s": 7200, "click_cooldown_s": 86400, "rollout_percent": 100,
           "title": "title %d" % pid, "body": "body", "image_url": "", "link_url": ""}
    row.update(kw)
    return row


def shown(reply):
    """The id of the popup a 200 GET answer shows, or None."""
    assert reply.status == 200, reply
    p = reply.json()["popup"]
    return p["id"] if p else None


def uid(prefix="u"):
    return "%s%d" % (prefix, random.randrange(10**12))


# -- FastCGI records, for tests that speak to a pool socket themselves -------

def record(kind, content, req_id=1):
    """One FastCGI record (version 1, no padding)."""
    return struct.pack("!BBHHBx", 1, kind, req_id, len(content), 0) + content


def params(env):
    """FastCGI name-value pairs (names and values under 128 bytes)."""
    out = b""
    for k, v in env.items():
        k, v = k.encode(), v.encode()
        out += bytes([len(k), len(v)]) + k + v
    return out


# -- process control for failure tests ------------------------------------

_cmdline = stackctl.cmdline


def alive(pid):
    """Whether `pid` is a live process (not gone, not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def find_pids(stack, program):
    """Processes whose argv[0] ends with `program` and whose command line
    mentions this stack's folder."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        cmd = _cmdline(int(name))
        if cmd and os.path.basename(cmd[0]).startswith(program) and any(stack.dir in a for a in cmd):
            out.append(int(name))
    return out


def proc_ids(pid):
    """(real uid, real gid, supplementary gids) of a process, from /proc."""
    uid = gid = None
    groups = []
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                uid = int(line.split()[1])
            elif line.startswith("Gid:"):
                gid = int(line.split()[1])
            elif line.startswith("Groups:"):
                groups = [int(g) for g in line.split()[1:]]
    return uid, gid, groups


def child_pids(pid):
    """Live processes whose parent is `pid` (popup-writer's supervisor forks
    the writer itself: writer.pid names the supervisor)."""
    return [p for p in stackctl.children_of({pid}) if alive(p)]


class Proc:
    """Kill a server of the stack and start it again with the same command."""

    def __init__(self, stack, program, log, pidfile=None, argv=None):
        self.stack = stack
        self.program = program
        self.log = log
        if pidfile:
            with open(stack.path(pidfile)) as f:
                self.pid = int(f.read().split()[0])
        else:
            pids = find_pids(stack, program)
            if not pids:
                raise RuntimeError("no %s running in %s" % (program, stack.dir))
            self.pid = min(pids)
        # Redis rewrites its process title, so its command is given.
        self.argv = argv or _cmdline(self.pid)
        # A stack started as root runs each server as its own account, the
        # pool with a supplementary group (scripts/stack/accounts.sh): a
        # restart runs as the same account with the same groups.
        self.uid, self.gid, self.groups = proc_ids(self.pid)

    def kill(self, sig=signal.SIGKILL, wait=30):
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.time() + wait
        while alive(self.pid) and time.time() < deadline:
            time.sleep(0.02)
        if alive(self.pid):
            raise RuntimeError("%s %d did not exit" % (self.program, self.pid))

    def start(self):
        drop = {}
        if os.getuid() == 0 and self.uid != 0:
            drop = {"user": self.uid, "group": self.gid, "extra_groups": self.groups}
        with open(self.stack.path("log", self.log), "ab") as log:
            p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 start_new_session=True, cwd=self.stack.dir, **drop)
        self.pid = p.pid
        pidfile = {"popup-writer": "writer.pid"}.get(self.program)
        if pidfile:
            # A new file: the old one may be the service account's, in a
            # sticky folder where fs.protected_regular=2 refuses root's
            # O_CREAT of another user's file.
            try:
                os.unlink(self.stack.path(pidfile))
            except FileNotFoundError:
                pass
            with open(self.stack.path(pidfile), "w") as f:
                f.write("%d\n" % p.pid)
        return p
