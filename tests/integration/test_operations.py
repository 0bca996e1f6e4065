"""Operating a stack: restarts keep what operators
changed, and a second pool cannot take the socket from a running one.

- Demo data goes in once, when the database is created: a stop and start,
  or a start while parts run, keeps popup 1's title as an operator set it
  and does not publish a new configuration version.
- The programs refuse unknown flags (exit 2, usage on stderr); a second
  popupd for the same configuration is refused by the pid file's lock, and
  without it by the socket that answers; `stack.sh status` reports a pool
  whose socket does not answer.

One stack (DEMO=1) for the module; every test starts by bringing it to a
running, answering state, so none depends on what another left behind."""

import os
import random
import signal
import subprocess
import time
import unittest

from harness import BUILD, TOP, alive, module_stack, uid

VERSION_KEY = "popup:config:version"
setUpModule, tearDownModule = module_stack(globals(), DEMO=1)


# -- helpers ---------------------------------------------------------------

def program(name):
    return os.path.join(TOP, BUILD, name)


def run_program(argv, timeout=20):
    """Runs argv in a session of its own; one that is still running after
    `timeout` (the faults: a second pool or writer that started) is killed
    with its process group and reported as rc None."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out, err
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        return None, out, err


def stack_sh(cmd):
    return stack.run_script(cmd)


def supervisor():
    return stack.pid("popupd")


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def socket_inode():
    return os.stat(stack.path("popup.sock")).st_ino


def healthy():
    try:
        r = stack.http().request("GET", "/api/healthz")
    except OSError:
        return False
    return r.status == 200 and r.json().get("status") == "ok"


def popup1_title():
    """The title a fresh web visitor is shown (popup 1 is the demo's only
    popup for a plain web visit)."""
    r = stack.get_popup(uid("t"))
    if r.status != 200 or not r.json()["popup"]:
        return None
    return r.json()["popup"]["title"]


def version():
    return stack.redis_raw("GET", VERSION_KEY)


class Operations(unittest.TestCase):
    def setUp(self):
        # Known state: every piece running (a start repairs what a test
        # stopped) and the pool answering through nginx.
        stack.start()
        self.assertTrue(stack.wait_for(healthy, timeout=60), "the stack did not become healthy")

    def assert_first_pool_serves(self, sup, requests=12):
        """Requests through nginx succeed and are answered by `sup`'s workers."""
        workers = children(sup)
        self.assertTrue(workers, "supervisor %d has no workers" % sup)
        for _ in range(requests):
            r = stack.get_popup(uid("s"))
            self.assertEqual(r.status, 200, r)
            self.assertIn(int(r.headers["x-popup-worker"]), workers | children(sup))

    def set_title(self):
        """Gives popup 1 a new title in MySQL, publishes it, waits until the
        pool serves it; returns (title, configuration version)."""
        title = "operator title %d" % random.randrange(10**9)
        stack.sql("UPDATE popups SET title='%s' WHERE id=1" % title)
        stack.publish()
        self.assertTrue(stack.wait_for(lambda: popup1_title() == title, timeout=20),
                        "the pool did not serve the published title")
        return title, version()

    def assert_title_and_version_kept(self, title, v):
        self.assertEqual(stack.sql("SELECT title FROM popups WHERE id=1"), [[title]])
        self.assertEqual(version(), v)
        self.assertTrue(stack.wait_for(lambda: popup1_title() == title, timeout=20),
                        "served title: %r" % popup1_title())
        # Still the same a while later: nothing published behind the start.
        self.assertEqual(version(), v)

    # -- item 3: demo data goes in once -------------------------------------

    def test_stop_and_start_keep_the_operators_title_and_the_configuration_version(self):
        title, v = self.set_title()
        self.assertTrue(v.isdigit(), v)
        stack.stop(keep=True)
        stack.start()
        self.assertTrue(stack.wait_for(healthy, timeout=60))
        self.assert_title_and_version_kept(title, v)

    def test_a_start_while_partly_running_keeps_the_title_and_the_version(self):
        title, v = self.set_title()
        nginx = stack.pid("nginx/nginx")
        os.kill(nginx, signal.SIGQUIT)
        self.assertTrue(stack.wait_for(lambda: not alive(nginx), timeout=30))
        r = stack_sh("start")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("already running", r.stdout)  # the other pieces were kept
        self.assertTrue(stack.wait_for(healthy, timeout=60))
        self.assert_title_and_version_kept(title, v)

    # -- item 4: a second pool cannot take the socket --------------------------

    def test_unknown_flags_exit_2_with_usage_and_the_pool_keeps_serving(self):
        sup, inode = supervisor(), socket_inode()
        conf = stack.conf()
        for argv in ([program("popupd"), "--config", conf, "--bogus"],
                     [program("popup-writer"), "--config", conf, "--bogus"],
                     [program("popupctl"), "--config", conf, "--bogus", "publish"]):
            rc, _, err = run_program(argv)
            self.assertEqual(rc, 2, "%s: rc %s, stderr %r" % (argv, rc, err[-500:]))
            self.assertIn("--bogus", err)
            # popupctl's usage errors are one line pointing at --help.
            self.assertIn("see popupctl --help" if "popupctl" in argv[0] else "usage:", err)
        self.assertEqual(socket_inode(), inode)
        self.assertEqual(supervisor(), sup)
        self.assert_first_pool_serves(sup)

    def test_a_second_popupd_is_refused_by_the_pid_file_lock(self):
        sup, inode = supervisor(), socket_inode()
        rc, _, err = run_program([program("popupd"), "--config", stack.conf()])
        self.assertEqual(rc, 1, "rc %s, stderr %r" % (rc, err[-500:]))
        self.assertIn("locked by pid %d" % sup, err)
        self.assertEqual(socket_inode(), inode)
        self.assertEqual(supervisor(), sup)
        self.assert_first_pool_serves(sup)
        self.assertEqual(stack_sh("status").returncode, 0)

    def test_a_second_popupd_without_the_pid_file_does_not_replace_an_answering_socket(self):
        sup, inode = supervisor(), socket_inode()
        # The same pool without pid_file (as before the setting existed):
        # only the socket check stands between it and the running pool.
        second = stack.path("tmp", "second.conf")
        with open(stack.conf()) as f, open(second, "w") as out:
            out.writelines(l for l in f if not l.startswith("pid_file"))
        rc, _, err = run_program([program("popupd"), "--config", second])
        self.assertEqual(rc, 1, "rc %s, stderr %r" % (rc, err[-500:]))
        self.assertIn("is in use", err)
        self.assertEqual(socket_inode(), inode)
        self.assert_first_pool_serves(sup)

    def test_status_fails_when_the_pools_processes_are_stopped(self):
        sup = supervisor()
        frozen = [sup] + sorted(children(sup))
        try:
            for p in frozen:
                os.kill(p, signal.SIGSTOP)
            r = stack_sh("status")
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertIn("NOT ANSWERING", r.stdout)
        finally:
            for p in frozen:
                try:
                    os.kill(p, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        self.assertTrue(stack.wait_for(lambda: stack_sh("status").returncode == 0, timeout=30))

    def test_status_fails_when_the_socket_is_gone(self):
        sock, moved = stack.path("popup.sock"), stack.path("popup.sock.moved")
        os.rename(sock, moved)
        try:
            r = stack_sh("status")
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertIn("NOT ANSWERING", r.stdout)
        finally:
            os.rename(moved, sock)
        r = stack_sh("status")
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_workers_do_not_keep_the_pid_file_open(self):
        pid_file = os.path.realpath(stack.path("popupd.pid"))
        sup = supervisor()

        def holders():
            out = []
            for p in [sup] + sorted(children(sup)):
                try:
                    fds = os.listdir("/proc/%d/fd" % p)
                except OSError:
                    continue
                for fd in fds:
                    try:
                        if os.readlink("/proc/%d/fd/%s" % (p, fd)) == pid_file:
                            out.append(p)
                    except OSError:
                        pass
            return out

        self.assertEqual(holders(), [sup])

    def test_a_start_after_the_supervisor_was_killed_brings_a_new_pool(self):
        sup = supervisor()
        old_workers = children(sup)
        os.kill(sup, signal.SIGKILL)
        self.assertTrue(stack.wait_for(lambda: not alive(sup), timeout=30))
        stack.start()
        new = supervisor()
        self.assertNotEqual(new, sup)
        # The old workers left with their supervisor (they got SIGTERM).
        self.assertTrue(stack.wait_for(lambda: not any(alive(p) for p in old_workers), timeout=30))
        self.assertTrue(stack.wait_for(healthy, timeout=60))
        self.assert_first_pool_serves(new)


if __name__ == "__main__":
    unittest.main()
