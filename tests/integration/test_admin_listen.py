"""The operator endpoints on a socket of their own:
with it set, /api/metrics through the public nginx location is refused by
the pool itself and answered only through a location on the admin socket,
which nginx reaches with exactly what `popupd --check` prints. Without it
nothing changes (every other module reads /api/metrics publicly)."""

import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BUILD, TOP, Http, Stack, free_port, uid

stack = None
admin = None  # Http to the operators' nginx server
include_dir = None


def check_output(conf_text):
    """What `popupd --check` prints for a configuration file holding conf_text."""
    with tempfile.NamedTemporaryFile("w", suffix=".conf", dir=include_dir, delete=False) as f:
        f.write(conf_text)
    r = subprocess.run([os.path.join(TOP, BUILD, "popupd"), "--check", "--config", f.name],
                       capture_output=True, text=True, timeout=30)
    os.unlink(f.name)
    if r.returncode != 0:
        raise AssertionError("popupd --check failed: " + r.stderr)
    return r.stdout


def admin_server(snippet, port):
    """nginx's http-level text for the admin socket: the upstream as printed,
    and the printed location inside a server on `port`."""
    upstream, _, location = snippet.partition("# in a server{}")
    location = location.split("\n", 1)[1]
    return "%s\nserver {\n    listen 127.0.0.1:%d;\n%s}\n" % (upstream, port, location)


def setUpModule():
    global stack, admin, include_dir
    include_dir = tempfile.mkdtemp(prefix="pta", dir="/tmp")
    stack = Stack()
    sock = "unix:" + stack.path("admin.sock")
    out = check_output("listen = unix:%s\nadmin_listen = %s\n" % (stack.path("popup.sock"), sock))
    snippet = out[out.index("# admin_listen:"):]
    port = free_port()
    with open(os.path.join(include_dir, "http.conf"), "w") as f:
        f.write(admin_server(snippet, port))
    stack.env.update({"ADMIN_LISTEN": sock, "NGINX_INCLUDE": include_dir})
    stack.start()
    admin = Http(port)


def tearDownModule():
    if stack:
        stack.stop()
    shutil.rmtree(include_dir, ignore_errors=True)


class AdminListenTest(unittest.TestCase):
    def test_public_location_refuses_metrics_with_a_json_404(self):
        r = stack.http().request("GET", "/api/metrics")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.headers["content-type"], "application/json")
        self.assertEqual(r.json()["error"], "not_found")
        self.assertNotIn(b"popup_requests_total", r.data)

    def test_admin_location_answers_prometheus_text(self):
        stack.get_popup(uid())  # something to count
        r = admin.request("GET", "/api/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("text/plain"), r.headers)
        self.assertIn(b"# TYPE popup_requests_total counter", r.data)
        self.assertIn(b'popup_requests_total{endpoint="popup",status="200"}', r.data)

    def test_public_endpoints_still_answer_publicly(self):
        self.assertEqual(stack.get_popup(uid()).status, 200)
        self.assertEqual(stack.http().request("GET", "/api/healthz").status, 200)

    def test_admin_socket_serves_only_operator_endpoints_and_healthz(self):
        sock = "admin.sock"
        self.assertEqual(stack.fcgi({"DOCUMENT_URI": "/api/healthz",
                                     "REMOTE_ADDR": "127.0.0.1"}, socket=sock).status, 200)
        r = stack.fcgi({"DOCUMENT_URI": "/api/popup", "QUERY_STRING": "uid=" + uid(),
                        "REMOTE_ADDR": "127.0.0.1"}, socket=sock)
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json()["error"], "not_found")

    def test_admin_networks_still_apply_on_the_admin_socket(self):
        env = {"DOCUMENT_URI": "/api/metrics", "REMOTE_ADDR": "8.8.8.8"}
        r = stack.fcgi(env, socket="admin.sock")
        self.assertEqual(r.status, 403, r)
        env["REMOTE_ADDR"] = "127.0.0.1"
        self.assertEqual(stack.fcgi(env, socket="admin.sock").status, 200)
        # The public sockets refuse it whoever asks.
        self.assertEqual(stack.fcgi(env).status, 404)
        self.assertEqual(stack.fcgi(env, socket="popup.sock.0").status, 404)

    def test_check_prints_no_admin_pieces_without_admin_listen(self):
        out = check_output("listen = unix:/tmp/x-popup.sock\n")
        self.assertNotIn("popup_admin", out)
        self.assertIn("upstream popup_pool", out)


if __name__ == "__main__":
    unittest.main()
