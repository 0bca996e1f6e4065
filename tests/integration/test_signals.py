"""Every signal a person might send (HUP, USR1, USR2, WINCH, TERM, INT,
QUIT) to the pool's supervisor, a worker, the writer's supervisor and the
writer does what README.md ("Signals") says, and each one leaves a log
line that names it: nothing takes the pool down silently."""

import os
import signal
import subprocess
import tempfile
import shutil
import unittest

from harness import BUILD, TOP, module_stack, child_pids, uid, popup_row, shown, alive

setUpModule, tearDownModule = module_stack(globals(), lambda s: s.set_popups([popup_row(1)]),
                                           WORKERS=2, THREADS=2)

# Neither stops the process they reach (HUP stops a worker: below).
KEPT = [signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH]
STOPS = [signal.SIGTERM, signal.SIGINT, signal.SIGQUIT]


def name(sig):
    return signal.Signals(sig).name


def lines_after(log, mark, pid):
    """The log's records after byte `mark` written by process `pid`."""
    return [x for x in stack.log(log)[mark:].splitlines() if " pid=%d " % pid in x]


def wait_line(log, mark, pid, text, timeout=20):
    return stack.wait_for(lambda: any(text in x for x in lines_after(log, mark, pid)), timeout)


class PoolSignals(unittest.TestCase):
    def assert_answers(self):
        self.assertEqual(stack.get_popup(uid("sig")).status, 200)
        self.assertEqual(stack.http().request("GET", "/api/healthz").status, 200)

    def test_supervisor_logs_and_keeps_serving_on_usr1_usr2_winch_and_reloads_on_hup(self):
        sup = stack.pid("popupd")
        for sig in KEPT + [signal.SIGHUP]:
            mark = len(stack.log("popupd.log"))
            os.kill(sup, sig)
            # The stack sets no log_file, so USR1 has nothing to reopen.
            want = {signal.SIGHUP: "supervisor: reload (SIGHUP)",
                    signal.SIGUSR1: "SIGUSR1 ignored: no log_file to reopen"}.get(
                        sig, "signal %s ignored" % name(sig))
            self.assertTrue(wait_line("popupd.log", mark, sup, want), stack.log("popupd.log")[mark:])
            self.assertTrue(alive(sup), name(sig))
            self.assert_answers()
        self.assertTrue(stack.wait_for(lambda: len(stack.worker_pids()) == 2, timeout=30))
        self.assert_answers()

    def test_a_worker_logs_and_ignores_usr1_usr2_winch(self):
        self.assertTrue(stack.wait_for(lambda: len(stack.worker_pids()) == 2, timeout=30))
        worker = stack.worker_pids()[0]
        for sig in KEPT:
            mark = len(stack.log("popupd.log"))
            os.kill(worker, sig)
            want = "SIGUSR1 ignored" if sig == signal.SIGUSR1 else "signal %s ignored" % name(sig)
            self.assertTrue(wait_line("popupd.log", mark, worker, want),
                            stack.log("popupd.log")[mark:])
            self.assertTrue(alive(worker), name(sig))
            self.assert_answers()

    def test_hup_term_int_quit_make_a_worker_leave_gracefully_and_it_is_replaced(self):
        sup = stack.pid("popupd")
        for sig in [signal.SIGHUP] + STOPS:
            self.assertTrue(stack.wait_for(lambda: len(stack.worker_pids()) == 2, timeout=30))
            worker = stack.worker_pids()[0]
            mark = len(stack.log("popupd.log"))
            os.kill(worker, sig)
            self.assertTrue(wait_line("popupd.log", mark, worker,
                                      "worker: graceful stop (%s)" % name(sig)),
                            stack.log("popupd.log")[mark:])
            self.assertTrue(stack.wait_for(lambda: not alive(worker), timeout=30), name(sig))
            self.assertTrue(stack.wait_for(
                lambda: len(stack.worker_pids()) == 2 and worker not in stack.worker_pids(),
                timeout=30), name(sig))
            # It left on its own, not killed by the signal's default action.
            self.assertNotIn("worker %d killed by signal" % worker, stack.log("popupd.log"))
            self.assertTrue(alive(sup))
            self.assert_answers()


class WriterSignals(unittest.TestCase):
    def writer(self):
        sup = stack.pid("writer")
        self.assertTrue(stack.wait_for(lambda: len(child_pids(sup)) == 1, timeout=30))
        return sup, child_pids(sup)[0]

    def test_the_writer_and_its_supervisor_log_and_ignore_hup_usr1_usr2_winch(self):
        sup, child = self.writer()
        for pid in (sup, child):
            for sig in [signal.SIGHUP] + KEPT:
                mark = len(stack.log("writer.log"))
                os.kill(pid, sig)
                want = ("SIGUSR1 ignored" if sig == signal.SIGUSR1
                        else "signal %s ignored" % name(sig))
                self.assertTrue(wait_line("writer.log", mark, pid, want),
                                stack.log("writer.log")[mark:])
                self.assertTrue(alive(pid), name(sig))
        self.assertEqual(child_pids(sup), [child])
        self.assertTrue(stack.wait_drained(timeout=30))

    def test_term_int_quit_stop_the_writer_after_its_batch_and_it_is_replaced(self):
        for sig in STOPS:
            sup, child = self.writer()
            mark = len(stack.log("writer.log"))
            os.kill(child, sig)
            self.assertTrue(wait_line("writer.log", mark, child, "writer: stopped on %s" % name(sig)),
                            stack.log("writer.log")[mark:])
            self.assertTrue(stack.wait_for(
                lambda: len(child_pids(sup)) == 1 and child not in child_pids(sup), timeout=30))
            self.assertTrue(alive(sup))
        # Events still reach MySQL through the new writer.
        u = uid("sigw")
        self.assertEqual(shown(stack.get_popup(u)), 1)
        self.assertTrue(stack.wait_for(
            lambda: stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE uid = '%s'" % u) == 1,
            timeout=30))


class StopSignals(unittest.TestCase):
    """TERM, INT and QUIT stop a supervisor gracefully, with a line naming
    the signal. Each runs on a pool or writer of its own (the module's stack
    keeps running)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="psig", dir="/tmp")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_until_signal(self, program, extra, sig, ready, want):
        conf = os.path.join(self.dir, "%s-%s.conf" % (program, name(sig)))
        with open(stack.conf()) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text + extra)
        err_path = os.path.join(self.dir, "%s-%s.log" % (program, name(sig)))
        with open(err_path, "wb") as err:
            p = subprocess.Popen([os.path.join(TOP, BUILD, program), "--config", conf],
                                 stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                 start_new_session=True)
        try:
            self.assertTrue(stack.wait_for(lambda: ready(p.pid), timeout=30), open(err_path).read())
            p.send_signal(sig)
            p.wait(timeout=60)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        out = open(err_path).read()
        self.assertEqual(p.returncode, 0, out)
        self.assertIn(want % name(sig), out)
        self.assertIn("supervisor: stopped", out)

    def test_term_int_quit_stop_a_pool_gracefully(self):
        for sig in STOPS:
            d = os.path.join(self.dir, name(sig))
            os.makedirs(os.path.join(d, "state"))
            extra = ("listen = unix:%s/popup.sock\npid_file = %s/popupd.pid\nstate_dir = %s/state\n"
                     "workers = 1\nthreads = 2\nnginx_workers = 1\nnginx_keepalive = 1\n"
                     "queue_metrics = off\n" % (d, d, d))
            self.run_until_signal("popupd", extra, sig, lambda pid: len(child_pids(pid)) == 1,
                                  "supervisor: graceful stop (%s)")

    def test_term_int_quit_stop_a_writer_gracefully(self):
        for sig in STOPS:
            extra = "writer_id = sig%s\n" % name(sig).lower()
            self.run_until_signal("popup-writer", extra, sig, lambda pid: len(child_pids(pid)) == 1,
                                  "supervisor: stopping (%s)")


if __name__ == "__main__":
    unittest.main()
