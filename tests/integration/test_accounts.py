"""Started as root, each daemon of the stack runs as its own account
(scripts/stack/accounts.sh), so that a compromised piece does not get the
others' data:

- MariaDB runs as mysql, Redis as redis, the writer and the pool as the
  service account (popup), nginx's workers as www-data; only nginx's master
  keeps uid 0.
- The service account cannot read MariaDB's data folder (password hashes in
  mysql/global_priv.MAD) nor list Redis's; nginx's workers reach neither
  store's socket nor popup.conf; the stores cannot read popup.conf.
- Sockets: MariaDB's and Redis's belong to the service's group (their
  set-group-id folders), the pool's to www-data's group; nobody else
  reaches any of them.
- GET and POST still work through nginx, also after a second start while
  it runs and after Redis was restarted as it ran.

Skipped when not root: then everything runs as the invoking user."""

import grp
import os
import pwd
import subprocess
import unittest

from harness import Proc, child_pids, module_stack

setUpModule, tearDownModule = module_stack(globals(), setup=lambda s: s.set_popups([{"id": 1}]))

PROBE = r"""
import os, socket, sys
for path in sys.argv[1:]:
    try:
        if path.endswith(".sock") or ".sock." in path:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            s.close()
        elif os.path.isdir(path):
            os.listdir(path)
        else:
            open(path).read(1)
        print(path, "ok")
    except PermissionError:
        print(path, "denied")
    except OSError as e:
        print(path, "error", e)
"""


def probe_as(user, paths, groups=None):
    """{path: "ok" | "denied" | "error ..."}: what `user` (with its primary
    group and, when given, only these supplementary groups) gets when it
    connects to each socket, lists each folder or reads each file."""
    pw = pwd.getpwnam(user)
    extra = ["--groups=" + ",".join(groups)] if groups else ["--clear-groups"]
    r = subprocess.run(["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid] + extra +
                       ["--", "/usr/bin/python3", "-c", PROBE] + paths,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return dict(line.split(" ", 1) for line in r.stdout.splitlines())


def ids(pid):
    """{"Uid": [...4], "Gid": [...4], "Groups": [...]} of a process."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                out[key] = [int(v) for v in value.split()]
    return out


def uid_of(user):
    return pwd.getpwnam(user).pw_uid


def gid_of(group):
    return grp.getgrnam(group).gr_gid


class Accounts(unittest.TestCase):
    def setUp(self):
        if os.getuid() != 0:
            self.skipTest("not root: the stack runs everything as the invoking user "
                          "(run the integration tests as root to check the accounts)")
        self.svc = "popup" if not os.environ.get("SUDO_USER") else os.environ["SUDO_USER"]
        self.svc_uid = uid_of(self.svc)
        self.svc_gid = pwd.getpwnam(self.svc).pw_gid
        self.web_gid = pwd.getpwnam("www-data").pw_gid

    def pid(self, name):
        return stack.pid(name)

    def sockets(self):
        names = ["mysql.sock", "redis.sock", "popup.sock"]
        names += sorted(n for n in os.listdir(stack.dir) if n.startswith("popup.sock."))
        self.assertGreater(len(names), 3)  # the workers' own sockets
        return [stack.path(n) for n in names]

    def assert_runs_as(self, pid, uid, gid, groups, what):
        got = ids(pid)
        self.assertEqual(got["Uid"], [uid] * 4, what)
        self.assertEqual(got["Gid"], [gid] * 4, what)
        self.assertLessEqual(set(got["Groups"]), set(groups), what)
        self.assertNotIn(0, got["Groups"], what)

    def test_each_daemon_runs_as_its_account(self):
        mysql, redis = pwd.getpwnam("mysql"), pwd.getpwnam("redis")
        self.assert_runs_as(self.pid("mysql"), mysql.pw_uid, mysql.pw_gid, [], "mariadbd")
        self.assert_runs_as(self.pid("redis"), redis.pw_uid, redis.pw_gid, [], "redis-server")
        writer = self.pid("writer")
        for p in [writer] + child_pids(writer):
            self.assert_runs_as(p, self.svc_uid, self.svc_gid, [], "popup-writer %d" % p)
        sup = self.pid("popupd")
        workers = child_pids(sup)
        self.assertGreaterEqual(len(workers), 3)
        for p in [sup] + workers:
            # www-data's group for its sockets; the service's group (popup.conf,
            # the stores' sockets) as the one supplementary group.
            self.assert_runs_as(p, self.svc_uid, self.web_gid, [self.svc_gid], "popupd %d" % p)
            self.assertEqual(ids(p)["Groups"], [self.svc_gid])
        master = self.pid(os.path.join("nginx", "nginx"))
        self.assertEqual(ids(master)["Uid"][0], 0)
        nginx_workers = child_pids(master)
        self.assertGreaterEqual(len(nginx_workers), 1)
        web = pwd.getpwnam("www-data")
        for p in nginx_workers:
            self.assert_runs_as(p, web.pw_uid, web.pw_gid,
                                os.getgrouplist("www-data", web.pw_gid), "nginx worker %d" % p)

    def test_the_service_account_cannot_read_the_stores_data(self):
        priv = stack.path("mysql", "mysql", "global_priv.MAD")
        self.assertTrue(os.path.exists(priv))
        r = subprocess.run(["runuser", "-u", self.svc, "--", "cat", priv], capture_output=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"Permission denied", r.stderr)
        r = subprocess.run(["runuser", "-u", self.svc, "--", "ls", stack.path("redis")],
                           capture_output=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b"Permission denied", r.stderr)
        # With the pool's own groups too.
        got = probe_as(self.svc, [priv, stack.path("mysql"), stack.path("redis")],
                       groups=[str(self.svc_gid)])
        self.assertEqual(set(got.values()), {"denied"}, got)

    def test_sockets_and_files_are_reached_by_exactly_who_needs_them(self):
        for path in self.sockets():
            st = os.stat(path)
            self.assertEqual(st.st_mode & 0o777, 0o660, path)
            if path.endswith(("mysql.sock", "redis.sock")):
                self.assertEqual(st.st_gid, self.svc_gid, path)
            else:
                self.assertEqual((st.st_uid, st.st_gid), (self.svc_uid, self.web_gid), path)
        stores = [stack.path("mysql.sock"), stack.path("redis.sock")]
        pool = [p for p in self.sockets() if p not in stores]
        conf = [stack.conf(), stack.path("popup.local.conf")]
        secrets = [stack.path("mysql.password"), stack.path("popupctl.password"),
                   stack.ctl_conf()]
        everything = stores + pool + conf + secrets + [stack.path("redis.conf"),
                                                       stack.path("mariadb.cnf")]
        got = probe_as("nobody", everything)
        self.assertEqual(set(got.values()), {"denied"}, got)
        # nginx's workers: the pool's sockets only.
        got = probe_as("www-data", everything)
        self.assertEqual({p for p, v in got.items() if v == "ok"}, set(pool), got)
        # The pool (with its groups) and the writer: the stores, the pool's
        # sockets, popup.conf; not the passwords, popupctl's file nor the
        # stores' own configuration.
        for groups in ([str(self.svc_gid)], None):
            got = probe_as(self.svc, everything, groups=groups)
            self.assertEqual({p for p, v in got.items() if v == "ok"},
                             set(stores + pool + conf), got)
        # The stores: their own configuration and socket, nothing of the
        # service's.
        for user, own in (("mysql", ("mariadb.cnf", "mysql.sock")),
                          ("redis", ("redis.conf", "redis.sock"))):
            got = probe_as(user, everything)
            self.assertEqual({p for p, v in got.items() if v == "ok"},
                             {stack.path(n) for n in own}, (user, got))

    def test_the_service_answers_also_after_restarts(self):
        # A start while everything runs (`make run` again) leaves the
        # sockets' groups alone.
        r = stack.run_script("start")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for name in ("mysql.sock", "redis.sock"):
            self.assertEqual(os.stat(stack.path(name)).st_gid, self.svc_gid, name)
        shown = stack.get_popup("acct-user")
        self.assertEqual(shown.status, 200)
        self.assertEqual(shown.json()["popup"]["id"], 1, shown.data)
        self.assertEqual(stack.act("acct-user", 1, "click").status, 202)
        # Redis restarted as it ran: its new socket is again the service's
        # group's (the set-group-id folder), so the pool reaches it.
        redis = Proc(stack, "redis-server", "redis.log", pidfile="redis.pid",
                     argv=["redis-server", stack.path("redis.conf")])
        redis.kill()
        redis.start()
        self.assertTrue(stack.wait_for(lambda: stack.redis("PING") == "PONG", timeout=30))
        self.assertEqual(os.stat(stack.path("redis.sock")).st_gid, self.svc_gid)
        stack.wait_healthy()
        self.assertEqual(stack.get_popup("acct-user-2").status, 200)
        self.assertEqual(ids(redis.pid)["Uid"][0], uid_of("redis"))


if __name__ == "__main__":
    unittest.main()
