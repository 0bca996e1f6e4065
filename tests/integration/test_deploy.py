"""Deploying the service: `make install` and its systemd units,
logs and metrics that operators' tools read, the dashboard and alert rules.

- `make install DESTDIR=...` puts exactly the expected tree in place, keeps
  an edited popup.conf, and `make uninstall` takes back all but that file.
- `systemd-analyze verify` accepts the installed units without a word (it
  runs without systemd as PID 1; a misspelled key makes it speak, which the
  test checks too).
- A live scrape of /api/metrics passes `promtool check metrics`, has no pid
  or up label, and carries popup_build_info and the process_* families;
  process_cpu_seconds_total does not fall when a worker is killed.
- `promtool check rules` accepts the alert rules, and every metric that the
  rules and the Grafana dashboard name is in a live scrape.
- Every line popupd and popup-writer log is logfmt with ts, level,
  component, pid and msg; log_level drops lower levels; with log_file, a
  SIGUSR1 makes every process of a pool reopen the file (logrotate), and
  without one SIGUSR1 harms nobody. queue_metrics = off leaves the queue's
  figures out.
- nginx's access log has one line per request with request and upstream
  times.

One stack (DEMO=1) for the module; the second pool that the log tests
start is stopped by the test that starts it."""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import BUILD, TOP, Http, alive, module_stack, child_pids, free_port, uid

setUpModule, tearDownModule = module_stack(globals(), DEMO=1)
LOGFMT = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


# -- helpers ---------------------------------------------------------------

def own_make_env():
    """This environment without the variables of a `make test` that runs
    the suite: a make started here is its own, not a sub-make (an inherited
    jobserver makes it warn on stderr)."""
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def make(*args, timeout=600):
    """`make ARGS` in the checkout for the build under test (BUILD)."""
    sanitizer = BUILD[len("build-"):] if BUILD.startswith("build-") else ""
    return subprocess.run(["make", "--no-print-directory", "SANITIZER=" + sanitizer] + list(args),
                          cwd=TOP, capture_output=True, text=True, timeout=timeout,
                          env=own_make_env())


def files_under(root):
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = os.stat(p).st_mode & 0o777
    return out


def logfmt(line):
    return {k: v[1:-1] if v.startswith('"') else v for k, v in LOGFMT.findall(line)}


def scrape_text():
    r = stack.http().request("GET", "/api/metrics")
    assert r.status == 200, r
    return r.data.decode()


def families(text):
    """{name: type} from the # TYPE lines."""
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


def fcgi_get(sock, path):
    env = {"REQUEST_METHOD": "GET", "DOCUMENT_URI": path, "REMOTE_ADDR": "127.0.0.1",
           "CONTENT_LENGTH": "0"}
    r = subprocess.run(["cgi-fcgi", "-bind", "-connect", sock], env=env, capture_output=True,
                       timeout=30)
    return r.stdout.decode(errors="replace")


def usr1_pending(pid):
    """Whether a SIGUSR1 waits for delivery to `pid` (its shared pending set)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("ShdPnd:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGUSR1 - 1)))
    except OSError:
        pass
    return False


def stderr_target(pid):
    try:
        return os.readlink("/proc/%d/fd/2" % pid)
    except OSError:
        return None


def expected_tree(prefix="usr/local", etc="etc"):
    share = prefix + "/share/popup/"
    tree = {prefix + "/bin/" + p: 0o755 for p in ("popupd", "popup-writer", "popupctl")}
    tree.update({prefix + "/lib/systemd/system/popupd.service": 0o644,
                 prefix + "/lib/systemd/system/popup-writer.service": 0o644,
                 prefix + "/lib/sysusers.d/popup.conf": 0o644,
                 etc + "/popup/popup.conf.example": 0o644,
                 etc + "/popup/popup.conf": 0o640,
                 share + "scripts/migrate.sh": 0o755,
                 share + "web/popup.js": 0o644,
                 share + "nginx/popup-web.conf": 0o644})
    for f in ["README.md", "nginx/popup.conf", "nginx/fastcgi_params.conf", "nginx/README.md",
              "nginx/nginx.conf.in", "docs/runbook.md", "docs/deployment.md",
              "deploy/grafana/popup-dashboard.json", "deploy/prometheus/popup-rules.yml",
              "deploy/logrotate/popup", "sql/grants.sql"] + ["sql/migrations/" + m for m in
                                           os.listdir(os.path.join(TOP, "sql/migrations"))
                                           if m.endswith(".sql")]:
        tree[share + f] = 0o644
    return tree


# -- make install, systemd ----------------------------------------------------

class InstallTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pinst", dir="/tmp")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_make_install_into_a_destdir_installs_the_tree_and_uninstall_takes_it_back(self):
        dest = os.path.join(self.tmp, "root")
        r = make("install", "PREFIX=/usr/local", "DESTDIR=" + dest)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(files_under(dest), expected_tree())
        unit = open(os.path.join(dest, "usr/local/lib/systemd/system/popupd.service")).read()
        self.assertIn("\nExecStart=/usr/local/bin/popupd --config /etc/popup/popup.conf\n", unit)
        self.assertIn("\nDocumentation=file:///usr/local/share/popup/README.md\n", unit)
        self.assertNotRegex(unit, r"@[A-Z_]+@")
        # The installed programs run and accept the installed configuration.
        check = subprocess.run([os.path.join(dest, "usr/local/bin/popupd"), "--check", "--config",
                                os.path.join(dest, "etc/popup/popup.conf")],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stderr)
        # An operator's popup.conf survives a second install and the uninstall.
        conf = os.path.join(dest, "etc/popup/popup.conf")
        with open(conf, "a") as f:
            f.write("workers = 3\n")
        r = make("install", "PREFIX=/usr/local", "DESTDIR=" + dest)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("workers = 3", open(conf).read())
        r = make("uninstall", "PREFIX=/usr/local", "DESTDIR=" + dest)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(list(files_under(dest)), ["etc/popup/popup.conf"])
        self.assertFalse(os.path.exists(os.path.join(dest, "usr/local/share/popup")))

    def test_systemd_analyze_verify_accepts_the_installed_units_and_catches_a_typo(self):
        # Installed for real under a temporary prefix, so that the units'
        # ExecStart programs exist where verify looks for them.
        prefix, etc = os.path.join(self.tmp, "usr"), os.path.join(self.tmp, "etc")
        r = make("install", "PREFIX=" + prefix, "SYSCONFDIR=" + etc)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        units = [os.path.join(prefix, "lib/systemd/system", u)
                 for u in ("popupd.service", "popup-writer.service")]
        v = subprocess.run(["systemd-analyze", "verify", "--man=no"] + units,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual((v.returncode, v.stdout + v.stderr), (0, ""))
        bad = os.path.join(self.tmp, "popupd-typo.service")
        with open(bad, "w") as f:
            f.write(open(units[0]).read().replace("ProtectSystem=strict", "ProtectSystm=strict"))
        v = subprocess.run(["systemd-analyze", "verify", "--man=no", bad],
                           capture_output=True, text=True, timeout=60)
        self.assertIn("Unknown key 'ProtectSystm'", v.stderr)


    def test_the_readmes_verify_step_accepts_a_destdir_staging_tree_of_stripped_programs(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed")
        readme = open(os.path.join(TOP, "docs", "deployment.md")).read()
        m = re.search(r"```sh\n(make install PREFIX=/usr/local DESTDIR=/tmp/popup-stage\n"
                      r"make verify-units .*?)```", readme, re.S)
        self.assertIsNotNone(m, "docs/deployment.md's staging verify block")
        stage = os.path.join(self.tmp, "stage")
        sanitizer = BUILD[len("build-"):] if BUILD.startswith("build-") else ""
        script = m.group(1).replace("/tmp/popup-stage", stage).replace(
            "make ", "make --no-print-directory SANITIZER=%s " % sanitizer)
        r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=TOP,
                           capture_output=True, text=True, timeout=600, env=own_make_env())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # Nothing from systemd-analyze, only the target's own line.
        self.assertEqual(r.stderr, "")
        self.assertIn("verify-units: popupd.service popup-writer.service under %s" % stage, r.stdout)
        # A unit whose program is missing from the staging tree is refused.
        unit_path = os.path.join(stage, "usr/local/lib/systemd/system/popup-writer.service")
        with open(unit_path) as f:
            text = f.read()
        with open(unit_path, "w") as f:
            f.write(text.replace("/usr/local/bin/popup-writer --config",
                                 "/usr/local/bin/popup-writr --config"))
        r = make("verify-units", "PREFIX=/usr/local", "DESTDIR=" + stage)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("popup-writr is not executable", r.stderr)
        for p in ("popupd", "popup-writer", "popupctl"):
            path = os.path.join(stage, "usr/local/bin", p)
            sections = subprocess.run(["readelf", "-S", "-W", path], capture_output=True,
                                      text=True, timeout=30).stdout
            self.assertIn(".text", sections)
            self.assertNotIn(".debug_info", sections, p)
            built = subprocess.run(["readelf", "-S", "-W", os.path.join(TOP, BUILD, p)],
                                   capture_output=True, text=True, timeout=30).stdout
            self.assertIn(".debug_info", built, "the build tree keeps the debug info")
        # The staged units name the staged programs' real paths.
        unit = open(os.path.join(stage, "usr/local/lib/systemd/system/popupd.service")).read()
        self.assertIn("ExecStart=/usr/local/bin/popupd ", unit)


class HostNginxTest(unittest.TestCase):
    """The README's nginx steps on a host-style layout: the installed
    share/popup/nginx linked as <conf>/popup, the upstream that `popupd
    --check` prints in conf.d/, and a server that includes popup.conf."""

    def test_a_host_style_nginx_serves_the_api_with_the_installed_snippet(self):
        d = tempfile.mkdtemp(prefix="phost", dir="/tmp")
        nginx = None
        try:
            r = make("install", "PREFIX=/usr/local", "DESTDIR=" + os.path.join(d, "root"))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            conf = os.path.join(d, "nginx")
            os.makedirs(os.path.join(conf, "conf.d"))
            os.makedirs(os.path.join(conf, "logs"))
            os.symlink(os.path.join(d, "root/usr/local/share/popup/nginx"), os.path.join(conf, "popup"))
            # The README's line, for this stack's configuration.
            subprocess.run("%s --check --config %s | sed -n '/^\\(map\\|upstream\\)/,/^}/p' > %s"
                           % (os.path.join(TOP, BUILD, "popupd"), stack.conf(),
                              os.path.join(conf, "conf.d/popup-upstream.conf")),
                           shell=True, check=True, timeout=30)
            port = free_port()
            with open(os.path.join(conf, "nginx.conf"), "w") as f:
                f.write("%spid %s/nginx.pid;\nevents {}\nhttp {\n    include conf.d/*.conf;\n"
                        "    server {\n        listen 127.0.0.1:%d;\n        server_name _;\n"
                        "        include popup/popup.conf;\n    }\n}\n"
                        % ("user root;\n" if os.getuid() == 0 else "", conf, port))
            argv = ["nginx", "-p", conf, "-c", os.path.join(conf, "nginx.conf"),
                    "-e", os.path.join(conf, "logs/error.log")]
            t = subprocess.run(argv + ["-t"], capture_output=True, text=True, timeout=30)
            self.assertEqual(t.returncode, 0, t.stderr)
            nginx = subprocess.Popen(argv + ["-g", "daemon off;"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
            http = Http(port)

            def answers():
                try:
                    return http.request("GET", "/api/healthz").status == 200
                except OSError:
                    return False
            self.assertTrue(stack.wait_for(answers, timeout=20))
            r = http.request("GET", "/api/popup?uid=" + uid("host"))
            self.assertEqual(r.status, 200)
            self.assertIn("popup", r.json())
            r = http.request("GET", "/api/nope")
            self.assertEqual((r.status, r.json()["error"]), (404, "not_found"))
            self.assertIn("popup_requests_total", http.request("GET", "/api/metrics").data.decode())
            http.close()
        finally:
            if nginx:
                nginx.send_signal(signal.SIGQUIT)
                try:
                    nginx.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(nginx.pid, signal.SIGKILL)
                    nginx.wait()
            shutil.rmtree(d, ignore_errors=True)


# -- metrics, dashboard, rules ---------------------------------------------

class MetricsTest(unittest.TestCase):
    def setUp(self):
        stack.wait_healthy()

    def traffic(self):
        u = uid("m")
        self.assertEqual(stack.get_popup(u).status, 200)
        self.assertEqual(stack.act(u, 1, "click").status, 202)
        self.assertEqual(stack.http().request("GET", "/api/nope").status, 404)
        self.assertEqual(stack.http().request("GET", "/api/healthz").status, 200)
        self.assertTrue(stack.wait_for(
            lambda: stack.metrics().get('popup_writer_events_total{writer="w1"}', 0) > 0, timeout=30))

    def test_a_live_scrape_passes_promtool_check_metrics(self):
        self.traffic()
        text = scrape_text()
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))
        helps = set(re.findall(r"^# HELP (\S+) ", text, re.M))
        self.assertEqual(helps, set(families(text)))
        self.assertNotRegex(text, r'[{,](pid|up)="')
        for name, kind in families(text).items():
            if kind == "counter":
                self.assertTrue(name.endswith("_total"), name)

    def test_build_info_and_process_families_and_cpu_survives_a_killed_worker(self):
        m = stack.metrics()
        version = open(os.path.join(TOP, "VERSION")).read().strip()
        info = [k for k in m if k.startswith("popup_build_info{")]
        self.assertEqual(len(info), 1, info)
        self.assertTrue(info[0].startswith('popup_build_info{version="%s' % version), info)
        self.assertEqual(m[info[0]], 1)
        self.assertGreater(m["process_resident_memory_bytes"], 1 << 20)
        self.assertGreater(m["process_open_fds"], 3)
        self.assertGreater(m["process_max_fds"], 0)
        self.assertLessEqual(abs(time.time() - m["process_start_time_seconds"]), 86400)
        before = m["process_cpu_seconds_total"]
        restarts = m["popup_worker_restarts_total"]
        victim = stack.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        self.assertTrue(stack.wait_for(
            lambda: stack.metrics()["popup_worker_restarts_total"] > restarts, timeout=30))
        stack.wait_healthy()
        self.assertGreaterEqual(stack.metrics()["process_cpu_seconds_total"], before)

    def test_promtool_check_rules_accepts_the_alert_rules(self):
        r = subprocess.run(["promtool", "check", "rules",
                            os.path.join(TOP, "deploy/prometheus/popup-rules.yml")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout)

    def test_every_metric_the_dashboard_and_rules_use_is_in_a_live_scrape(self):
        self.traffic()
        fams = families(scrape_text())
        exprs = []
        with open(os.path.join(TOP, "deploy/grafana/popup-dashboard.json")) as f:
            for panel in json.load(f)["panels"]:
                exprs += [t["expr"] for t in panel["targets"]]
        # The whole rules file: expressions, and the names its texts mention.
        exprs.append(open(os.path.join(TOP, "deploy/prometheus/popup-rules.yml")).read())
        self.assertGreater(len(exprs), 20)
        used = set()
        for e in exprs:
            used |= set(re.findall(r"\b((?:popup|process)_[a-z0-9_]+)", e))
        self.assertGreater(len(used), 20)
        missing = []
        for name in sorted(used):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if name not in fams and fams.get(base) != "histogram":
                missing.append(name)
        self.assertEqual(missing, [])


# -- logs ---------------------------------------------------------------------

class LogTest(unittest.TestCase):
    def setUp(self):
        stack.wait_healthy()

    def test_every_line_of_the_programs_logs_is_logfmt_with_level_component_and_pid(self):
        seen = set()
        for name in ("popupd.log", "writer.log"):
            lines = stack.log(name).splitlines()
            self.assertTrue(lines, name)
            for line in lines:
                rec = logfmt(line)
                self.assertEqual(list(rec)[:5], ["ts", "level", "component", "pid", "msg"], line)
                self.assertRegex(rec["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
                self.assertIn(rec["level"], ("debug", "info", "warn", "error"))
                self.assertRegex(rec["pid"], r"^\d+$")
                seen.add(rec["component"])
        self.assertLessEqual({"popupd", "popup-writer"}, seen)

    def test_sigusr1_without_log_file_stops_no_process(self):
        sup = stack.pid("popupd")
        procs = [sup] + child_pids(sup) + [stack.pid("writer")] + child_pids(stack.pid("writer"))
        for p in procs:
            os.kill(p, signal.SIGUSR1)
        # Delivered (or discarded, when ignored) once no longer pending; a
        # process whose default action ran is gone by then.
        self.assertTrue(stack.wait_for(lambda: not any(usr1_pending(p) for p in procs), timeout=10))
        self.assertEqual([p for p in procs if not alive(p)], [])
        self.assertEqual(stack.get_popup(uid("s")).status, 200)
        self.assertEqual(stack.http().request("GET", "/api/healthz").status, 200)

    def test_log_file_is_reopened_by_every_process_on_sigusr1_and_log_level_filters(self):
        d = stack.path("pool2")
        os.makedirs(os.path.join(d, "state"), exist_ok=True)
        log = os.path.join(d, "popupd.log")
        sock = os.path.join(d, "popup.sock")
        conf = os.path.join(d, "popup.conf")
        with open(stack.conf()) as f:
            text = f.read()
        text += ("listen = unix:%s\npid_file = %s/popupd.pid\nstate_dir = %s/state\n"
                 "workers = 2\nthreads = 2\nnginx_workers = 1\nnginx_keepalive = 1\n"
                 "log_file = %s\nlog_level = warn\nqueue_metrics = off\n" % (sock, d, d, log))
        with open(conf, "w") as f:
            f.write(text)
        with open(os.path.join(d, "stderr"), "wb") as err:
            p = subprocess.Popen([os.path.join(TOP, BUILD, "popupd"), "--config", conf],
                                 stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                 start_new_session=True)
        try:
            self.assertTrue(stack.wait_for(
                lambda: len(child_pids(p.pid)) == 2 and "popup_workers 2" in fcgi_get(sock, "/api/metrics"),
                timeout=30), open(os.path.join(d, "stderr")).read())
            scrape = fcgi_get(sock, "/api/metrics")
            self.assertIn("popup_workers 2", scrape)
            self.assertNotIn("popup_queue_depth", scrape)
            self.assertNotIn("popup_writer_", scrape)
            self.assertIn("popup_queue_depth", scrape_text())  # the main stack: queue_metrics on
            # log_level = warn: the supervisor's info lines are not written.
            self.assertNotIn("level=info", open(log).read())
            procs = [p.pid] + child_pids(p.pid)
            for q in procs:
                self.assertEqual(stderr_target(q), log)
            os.rename(log, log + ".1")
            for q in procs:
                os.kill(q, signal.SIGUSR1)
            self.assertTrue(stack.wait_for(lambda: all(stderr_target(q) == log for q in procs),
                                           timeout=10), [stderr_target(q) for q in procs])
            self.assertEqual([q for q in procs if not alive(q)], [])
            self.assertIn("popup_workers 2", fcgi_get(sock, "/api/metrics"))
            # A warn line after the rotation goes to the new file only.
            os.kill(procs[1], signal.SIGKILL)
            self.assertTrue(stack.wait_for(
                lambda: "worker %d killed by signal 9" % procs[1] in open(log).read(), timeout=30))
            rec = logfmt(next(x for x in open(log) if "killed by signal 9" in x))
            self.assertEqual((rec["level"], rec["component"], rec["pid"]), ("warn", "popupd", str(p.pid)))
            self.assertNotIn("killed by signal", open(log + ".1").read())
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.assertEqual(p.returncode, 0)


# -- nginx's access log -------------------------------------------------------

class AccessLogTest(unittest.TestCase):
    def test_nginx_logs_each_request_with_request_and_upstream_times(self):
        u = uid("acc")
        self.assertEqual(stack.get_popup(u).status, 200)
        path = stack.path("log", "nginx-access.log")

        def line():
            try:
                with open(path) as f:
                    return next((x for x in f if "uid=%s" % u in x), None)
            except FileNotFoundError:
                return None
        self.assertTrue(stack.wait_for(lambda: line() is not None, timeout=10))
        rec = logfmt(line())
        self.assertEqual((rec["method"], rec["status"]), ("GET", "200"))
        self.assertEqual(rec["uri"], "/api/popup?uid=%s" % u)
        # Both in milliseconds, read from two clocks: the pool's share may
        # round one millisecond above the whole.
        self.assertGreaterEqual(float(rec["request_time"]) + 0.0015,
                                float(rec["upstream_response_time"]))
        self.assertGreaterEqual(float(rec["upstream_connect_time"]), 0)
        self.assertRegex(rec["request_id"], r"^[0-9a-f]{32}$")
        self.assertTrue(rec["upstream"].startswith("unix:"), rec)


if __name__ == "__main__":
    unittest.main()
