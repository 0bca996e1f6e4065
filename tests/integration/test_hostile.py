"""Hostile input and other front ends: SQL only as prepared
statements, the core HTTP cases behind nginx, lighttpd mod_fastcgi and
cgi-fcgi, slow clients against nginx, and malformed FastCGI records sent
straight to the pool's socket."""

import json
import os
import pwd
import resource
import select
import socket
import struct
import subprocess
import time
import unittest
import urllib.parse

from harness import Http, free_port, module_stack, popup_row, raw_json_reply, uid

NOW = 1_800_000_000
setUpModule, tearDownModule = module_stack(globals())


class PreparedStatements(unittest.TestCase):
    def test_queries_that_carry_data_are_prepared_statements(self):
        """A new user's state is read from MySQL and its impression written
        by the writer, both with bound parameters: the server counts them as
        prepared-statement executions (Com_stmt_execute), and the text
        protocol carries no statement with the uid in it."""
        stack.set_popups([popup_row(1, show_cooldown_s=600)])
        users = [uid("ps.-_") for _ in range(5)]
        before = stack.status_counter("Com_stmt_execute")
        for u in users:
            r = stack.get_popup(u, now=NOW)
            self.assertEqual((r.status, r.json()["popup"]["id"]), (200, 1), r)
        self.assertTrue(stack.wait_drained())
        inlist = ",".join("'%s'" % u for u in users)
        self.assertTrue(stack.wait_for(lambda: stack.sql_int(
            "SELECT COUNT(*) FROM user_state WHERE uid IN (%s) AND impressions = 1" % inlist) == 5))
        after = stack.status_counter("Com_stmt_execute")
        # 5 reads of a missing user's state, and at least one batch (events
        # and states: 2 statements); the harness's own queries are text.
        self.assertGreaterEqual(after - before, 5 + 2)
        # The state written through bound parameters reads back exactly.
        self.assertEqual(stack.sql("SELECT uid, popup_id, impressions, last_action FROM user_state"
                                   " WHERE uid = '%s'" % users[0]), [[users[0], "1", "1", "show"]])


# -- the same core cases through three FastCGI front ends --------------------

class Lighttpd:
    """lighttpd 1.4 with mod_fastcgi on a private port, pointing /api/ at the
    pool's shared socket (popup.sock), as an operator would set it up."""

    def __init__(self, stack):
        self.dir = stack.path("lighttpd")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        conf = os.path.join(self.dir, "lighttpd.conf")
        with open(conf, "w") as f:
            f.write('server.document-root = "%s"\n' % self.dir)
            f.write('server.bind = "127.0.0.1"\nserver.port = %d\n' % self.port)
            f.write('server.errorlog = "%s"\n' % stack.path("log", "lighttpd-error.log"))
            f.write('server.modules = ("mod_fastcgi")\n')
            f.write('fastcgi.server = ("/api/" => (("socket" => "%s", "check-local" => "disable")))\n'
                    % stack.path("popup.sock"))
        self.proc = subprocess.Popen(["lighttpd", "-D", "-f", conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        ok = stack.wait_for(self.listening, timeout=30)
        if not ok:
            self.stop()
            raise AssertionError("lighttpd did not listen: %s" % stack.log("lighttpd-error.log"))

    def listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


class CgiFcgi:
    """cgi-fcgi by hand: REQUEST_URI and QUERY_STRING only (no DOCUMENT_URI,
    SCRIPT_NAME or PATH_INFO), a Reply like an HTTP client's."""

    def request(self, method, path, body=None, headers=None):
        env = {"REQUEST_METHOD": method, "REQUEST_URI": path,
               "QUERY_STRING": path.partition("?")[2], "REMOTE_ADDR": "127.0.0.1"}
        for k, v in (headers or {}).items():
            if k.lower() == "content-type":
                env["CONTENT_TYPE"] = v
            else:
                env["HTTP_" + k.upper().replace("-", "_")] = v
        data = body.encode() if isinstance(body, str) else (body or b"")
        return stack.fcgi(env, data)

    def close(self):
        pass


class CoreCases:
    """The HTTP suite's core cases; subclasses say how requests travel."""

    def client(self):
        raise NotImplementedError

    def check_error(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r.headers)
        self.assertEqual(r.json()["error"], code, r)

    def test_get_shows_the_popup_then_withholds_it(self):
        stack.set_popups([popup_row(1, show_cooldown_s=600)])
        u = uid("m")
        c = self.client()
        r = c.request("GET", "/api/popup?uid=" + u, headers={"X-Popup-Now": str(NOW)})
        self.assertEqual((r.status, r.json()["popup"]["id"]), (200, 1), r)
        self.assertEqual(r.headers.get("cache-control"), "no-store")
        r = c.request("GET", "/api/popup?uid=" + u, headers={"X-Popup-Now": str(NOW + 1)})
        self.assertEqual((r.status, r.json()), (200, {"popup": None}), r)
        r = c.request("GET", "/api/popup?uid=" + u, headers={"X-Popup-Now": str(NOW + 601)})
        self.assertEqual(r.json()["popup"]["id"], 1, r)

    def test_actions_as_form_and_json_are_accepted_and_applied(self):
        stack.set_popups([popup_row(1, show_cooldown_s=10, ignore_cooldown_s=1000)])
        c = self.client()
        for as_json in (False, True):
            u = uid("a")
            fields = {"uid": u, "popup_id": 1, "action": "ignore"}
            body, ctype = ((json.dumps(fields), "application/json") if as_json else
                           (urllib.parse.urlencode(fields), "application/x-www-form-urlencoded"))
            r = c.request("POST", "/api/popup/action", body=body,
                          headers={"Content-Type": ctype, "X-Popup-Now": str(NOW)})
            self.assertEqual((r.status, r.json()), (202, {"ok": True}), r)
            r = c.request("GET", "/api/popup?uid=" + u, headers={"X-Popup-Now": str(NOW + 500)})
            self.assertEqual(r.json(), {"popup": None}, r)

    def test_action_with_uid_in_the_query(self):
        stack.set_popups([popup_row(1)])
        u = uid("q")
        r = self.client().request("POST", "/api/popup/action?uid=" + u, body="popup_id=1&action=click",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 202, r)

    def test_healthz(self):
        r = self.client().request("GET", "/api/healthz")
        self.assertEqual((r.status, r.json()["status"]), (200, "ok"), r)

    def test_errors_are_json(self):
        c = self.client()
        self.check_error(c.request("GET", "/api/popup"), 400, "bad_request")
        self.check_error(c.request("GET", "/api/popup?uid=a%20b"), 400, "bad_request")
        self.check_error(c.request("GET", "/api/nothing"), 404, "not_found")
        self.check_error(c.request("GET", "/api/popup/action"), 405, "method_not_allowed")
        r = c.request("POST", "/api/popup?uid=a", body="x",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.check_error(r, 405, "method_not_allowed")
        r = c.request("POST", "/api/popup/action", body="popup_id=1",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.check_error(r, 400, "bad_request")


class BehindNginx(CoreCases, unittest.TestCase):
    def client(self):
        return stack.http()


class BehindLighttpd(CoreCases, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lighttpd = Lighttpd(stack)

    @classmethod
    def tearDownClass(cls):
        cls.lighttpd.stop()

    def client(self):
        return Http(self.lighttpd.port)


class ThroughCgiFcgi(CoreCases, unittest.TestCase):
    def client(self):
        return CgiFcgi()


# -- slow clients against nginx -----------------------------------------------

def open_files(n):
    """Raises this process's descriptor limit to at least n (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def connect_from(addr, port):
    s = socket.socket()
    s.bind((addr, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def closed_by_peer(socks, timeout):
    """How many of `socks` the peer closed (EOF or reset) within `timeout` s."""
    poller = select.poll()
    by_fd = {s.fileno(): s for s in socks}
    for fd in by_fd:
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    closed = 0
    deadline = time.time() + timeout
    while by_fd and time.time() < deadline:
        for fd, _ in poller.poll(200):
            try:
                data = by_fd[fd].recv(4096)
            except OSError:
                data = b""
            if not data:
                poller.unregister(fd)
                del by_fd[fd]
                closed += 1
    return closed


class SlowClients(unittest.TestCase):
    """One address (127.0.0.2) opens thousands of connections and trickles
    headers (slowloris) or holds bodies; the rest of the world (127.0.0.1)
    must still be answered, and nginx must shed the slow ones on its own."""

    SLOW = 4500  # more than the 4,096 connections one nginx worker had

    def test_thousands_of_slow_headers_do_not_starve_normal_requests(self):
        open_files(self.SLOW + 1000)
        slow = []
        try:
            for _ in range(self.SLOW):
                s = connect_from("127.0.0.2", stack.port)
                s.sendall(b"GET /api/popup?uid=slow HTTP/1.1\r\nHost: x\r\n")
                slow.append(s)
            answered = 0
            for i in range(20):
                try:
                    r = Http(stack.port, timeout=10).request("GET", "/api/popup?uid=n%d" % i)
                    answered += r.status == 200
                except OSError:
                    pass
            self.assertEqual(answered, 20)
            self.assertNotIn("worker_connections are not enough", stack.log("nginx-error.log"))
            # client_header_timeout (5 s; nginx's default is 60 s): nginx
            # closes every trickler by itself.
            self.assertEqual(closed_by_peer(slow, timeout=30), self.SLOW)
        finally:
            for s in slow:
                s.close()

    def test_one_address_holds_at_most_64_requests(self):
        held = []
        try:
            for _ in range(64):
                s = connect_from("127.0.0.2", stack.port)
                s.sendall(b"POST /api/popup/action HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                          b"Content-Type: application/x-www-form-urlencoded\r\n\r\nuid=")
                held.append(s)
            self.assertTrue(stack.wait_for(lambda: stack.in_flight() >= 64, timeout=30))
            s = connect_from("127.0.0.2", stack.port)
            held.append(s)
            s.sendall(b"GET /api/healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            raw = raw_json_reply(s)
            self.assertTrue(raw.startswith(b"HTTP/1.1 429"), raw[:200])
            self.assertEqual(json.loads(raw.split(b"\r\n\r\n", 1)[1])["error"], "too_many_requests")
            # Another address is not affected.
            self.assertEqual(stack.http().request("GET", "/api/healthz").status, 200)
            # client_body_timeout (5 s; default 60 s): the held bodies are
            # given up within seconds.
            self.assertEqual(closed_by_peer(held[:64], timeout=30), 64)
        finally:
            for s in held:
                s.close()


# -- malformed FastCGI records on the pool's socket ----------------------------

def record(rtype, content, request_id=1, padding=0):
    """One FastCGI record (version 1)."""
    return struct.pack(">BBHHBx", 1, rtype, request_id, len(content), padding) + content + b"\0" * padding


def begin_request(keep=False):
    return record(1, struct.pack(">HB5x", 1, 1 if keep else 0))


def long_len(n):
    return struct.pack(">I", n | 0x80000000)


def send_and_wait_close(path, data, timeout=20):
    """Sends raw bytes to a unix socket and returns what came back before the
    peer closed (or `timeout` passed)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    got = b""
    try:
        s.connect(path)
        s.sendall(data)
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    finally:
        s.close()
    return got


def vm_peak_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmPeak:"):
                return int(line.split()[1])
    raise AssertionError("no VmPeak for %d" % pid)


class MalformedRecords(unittest.TestCase):
    """Only a process that can open the pool's socket can send these; each
    must cost at most its own connection, never the worker process and the
    requests its other threads are serving."""

    CASES = {
        # Name and value lengths whose sum overflows libfcgi's int (2^31 - 1
        # each): the allocation fails and libfcgi asserts (SIGABRT).
        "lengths_overflow": long_len(0x7fffffff) + long_len(0x7fffffff) + b"A" * 64,
        # 2 GiB for one parameter's name, which nothing legitimate sends.
        "huge_name": long_len(0x7ffffff0) + b"\x01" + b"B" * 64,
        # A value length cut off by the end of the params stream.
        "truncated_length": b"\x04\x80\x00",
    }

    def test_a_malformed_record_never_takes_a_worker_down(self):
        sock = stack.path("popup.sock")
        before = sorted(stack.worker_pids())
        self.assertTrue(before)
        # Growth, not the absolute peak: AddressSanitizer's shadow memory
        # alone maps terabytes.
        peak = {pid: vm_peak_kib(pid) for pid in before}
        c = stack.http()
        for name, params in self.CASES.items():
            for keep in (False, True):
                data = begin_request(keep) + record(4, params)
                if name == "truncated_length":
                    data += record(4, b"")
                t0 = time.time()
                send_and_wait_close(sock, data)
                # Refused at once, not read into a 4 GiB buffer while the
                # connection pins a thread.
                self.assertLess(time.time() - t0, 5, name)
                r = c.request("GET", "/api/healthz")
                self.assertEqual(r.status, 200, (name, r))
        # Each worker's own socket too (user affinity).
        for slot in range(len(before)):
            send_and_wait_close(stack.path("popup.sock.%d" % slot),
                                begin_request() + record(4, self.CASES["lengths_overflow"]))
        for i in range(20):
            self.assertEqual(stack.get_popup(uid("after")).status, 200)
        self.assertEqual(sorted(stack.worker_pids()), before)
        for pid in before:
            self.assertLess(vm_peak_kib(pid) - peak[pid], 3 * 1024 * 1024,
                            "worker %d mapped gigabytes" % pid)
        self.assertNotIn("signal", stack.log("popupd.log").split("supervisor: listening", 1)[-1])


# -- who may reach what -------------------------------------------------------

def service_sql(query, account="popup", password_file="mysql.password"):
    """A statement as the service's MariaDB account (or popupctl's), its
    password from the stack's 0600 file, handed over in the environment."""
    with open(stack.path(password_file)) as f:
        password = f.read().strip()
    return subprocess.run(["mariadb", "--no-defaults", "-S", stack.path("mysql.sock"), "-u", account,
                           "popup", "-N", "-B", "-e", query], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, MYSQL_PWD=password))


def ctl_sql(query):
    return service_sql(query, "popupctl", "popupctl.password")


class LeastPrivilege(unittest.TestCase):
    def mode(self, *parts):
        return os.stat(stack.path(*parts)).st_mode & 0o777

    def test_the_stack_folder_and_its_secrets_are_private(self):
        self.assertEqual(self.mode("mysql.password"), 0o600)
        if os.getuid() != 0:
            self.assertEqual(self.mode(), 0o700)
            for name in ("popup.conf", "redis.conf"):
                self.assertEqual(self.mode(name), 0o600, name)
            for name in ("mysql", "redis", "log"):
                self.assertEqual(self.mode(name) & 0o077, 0, name)
            return
        # As root (scripts/stack/accounts.sh; test_accounts.py checks who
        # reaches what): DIR is root's, sticky, the service's group may make
        # files in it and everyone else only pass through; each
        # configuration is root's and shared with the one account that
        # reads it; each data folder is its daemon's own.
        svc = pwd.getpwuid(os.stat(stack.path("writer.pid")).st_uid)
        svc_uid, svc_gid = svc.pw_uid, svc.pw_gid
        mysql, redis, web = (pwd.getpwnam(n) for n in ("mysql", "redis", "www-data"))
        st = os.stat(stack.dir)
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777), (0, svc_gid, 0o1771))
        for name, gid in (("popup.conf", svc_gid), ("popup.local.conf", svc_gid),
                          ("redis.conf", redis.pw_gid), ("mariadb.cnf", mysql.pw_gid)):
            st = os.stat(stack.path(name))
            self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777), (0, gid, 0o640), name)
        self.assertEqual(os.stat(stack.path("mysql.password")).st_uid, 0)
        for name, owner in (("mysql", mysql.pw_uid), ("redis", redis.pw_uid), ("state", svc_uid)):
            st = os.stat(stack.path(name))
            self.assertEqual((st.st_uid, st.st_mode & 0o777), (owner, 0o700), name)
        for name, owner in (("mysql.run", mysql.pw_uid), ("redis.run", redis.pw_uid)):
            st = os.stat(stack.path(name))
            self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777), (owner, svc_gid, 0o2750),
                             name)
        st = os.stat(stack.path("log"))
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777), (0, svc_gid, 0o751))
        st = os.stat(stack.path("nginx"))
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777), (0, web.pw_gid, 0o750))

    def test_the_mysql_password_is_generated_and_never_on_a_command_line(self):
        with open(stack.path("mysql.password")) as f:
            password = f.read().strip()
        self.assertGreaterEqual(len(password), 20)
        self.assertNotEqual(password, "popup")
        with open(stack.conf()) as f:
            self.assertIn("mysql_password = " + password, f.read())
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    self.assertNotIn(password.encode(), f.read(), pid)
            except OSError:
                continue

    def test_the_service_account_has_only_what_the_service_uses(self):
        self.assert_account(service_sql, allowed=(
            "SELECT COUNT(*) FROM popups", "SELECT version FROM config_meta",
            "SELECT COUNT(*) FROM user_state",
            # the Galera commit check reads a batch's ids back (lib/mysql_events.cc)
            "SELECT COUNT(event_id) FROM popup_events"), denied=(
            "CREATE TABLE x (i INT)", "DROP TABLE popup_events", "ALTER TABLE popups ADD x INT",
            "CREATE TRIGGER t AFTER INSERT ON popup_events FOR EACH ROW SET @x = 1",
            "DELETE FROM user_state",
            "UPDATE popup_events SET uid = 'x'", "DELETE FROM popup_audit",
            "DELETE FROM popup_daily", "UPDATE popup_daily_users SET uid = 'x'",
            "SELECT COUNT(*) FROM schema_migrations", "SELECT COUNT(*) FROM mysql.user",
            # popupctl's privileges, not the service's
            "INSERT INTO popups (id, name, title, body) VALUES (999, 'x', 'x', 'x')",
            "UPDATE popups SET enabled = 0", "DELETE FROM popups",
            "UPDATE config_meta SET version = version + 1", "DELETE FROM popup_events",
            "SELECT uid FROM popup_events", "SELECT * FROM popup_events",
            "SELECT COUNT(*) FROM popup_audit",
            "INSERT INTO popup_audit (at, os_user, command) VALUES (1, 'x', 'x')",
            # the roll-up upsert reads only the counts it adds to
            "SELECT popup_id, day FROM popup_daily", "SELECT * FROM popup_daily_users"))
        # The wrong password is refused.
        r = subprocess.run(["mariadb", "--no-defaults", "-S", stack.path("mysql.sock"), "-u", "popup",
                            "popup", "-e", "SELECT 1"], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, MYSQL_PWD="popup"))
        self.assertNotEqual(r.returncode, 0)

    def test_popupctl_has_an_account_of_its_own_without_ddl(self):
        """popupctl.conf names the account popupctl with its own password
        (0600 files the service account cannot read); it may author but
        has no DDL and no write to user states or events."""
        self.assertEqual(self.mode("popupctl.password"), 0o600)
        self.assertEqual(self.mode("popupctl.conf"), 0o600)
        self.assertEqual(os.stat(stack.ctl_conf()).st_uid, os.getuid())
        with open(stack.path("popupctl.password")) as f:
            password = f.read().strip()
        with open(stack.path("mysql.password")) as f:
            self.assertNotEqual(password, f.read().strip())
        with open(stack.ctl_conf()) as f:
            text = f.read()
        self.assertIn("\nmysql_user = popupctl\n", text)
        self.assertIn("\nmysql_password = %s\n" % password, text)
        with open(stack.conf()) as f:
            self.assertNotIn(password, f.read())
        self.assert_account(ctl_sql, allowed=(
            "SELECT COUNT(*) FROM popups", "SELECT COUNT(*) FROM popup_audit",
            "SELECT COUNT(*) FROM popup_daily_users", "SELECT COUNT(*) FROM user_state",
            "SELECT COUNT(*) FROM schema_migrations"), denied=(
            "CREATE TABLE x (i INT)", "DROP TABLE popups", "ALTER TABLE popups ADD x INT",
            "DELETE FROM user_state", "INSERT INTO user_state (uid, popup_id) VALUES ('x', 1)",
            "INSERT INTO popup_events (event_id, uid, popup_id, kind, ts) VALUES ('x', 'x', 1, 'show', 1)",
            "DELETE FROM popup_audit", "DELETE FROM schema_migrations"))

    def assert_account(self, run_sql, allowed, denied):
        """Each statement of `allowed` runs as the account; each of
        `denied` is refused for lack of a privilege."""
        for q in allowed:
            r = run_sql(q)
            self.assertEqual(r.returncode, 0, (q, r.stderr))
        for q in denied:
            r = run_sql(q)
            self.assertNotEqual(r.returncode, 0, q)
            self.assertIn("denied", r.stderr, q)


if __name__ == "__main__":
    unittest.main()
