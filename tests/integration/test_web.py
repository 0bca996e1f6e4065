"""The homepage side: the demo shop page in headless Chromium
against a test stack (the popup appears, a click and a close are recorded in
MySQL, a page on another origin gets the popup through CORS), CORS and
text/plain bodies over plain HTTP, the content contract, the static
files nginx serves from web/, and popup.js as `make install` ships it: a
host-style nginx with the installed nginx/popup-web.conf serves it with
Access-Control-Allow-Origin for the origins of cors_origins (a page on a
listed origin imports it in Chromium, an unlisted one cannot), an ETag that
answers 304, no-cache and gzip.

Screenshots go to the test output folder: $TEST_OUTPUT, else
BUILD/test-output, under web/ (popup.png is the demo page with its popup)."""

import functools
import gzip
import http.server
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import unittest
import urllib.parse

from browser import Browser
from harness import BUILD, TOP, Http, Stack, free_port, popup_row, uid

OUT = os.path.join(os.environ.get("TEST_OUTPUT") or os.path.join(TOP, BUILD, "test-output"), "web")
ESCAPE = "\ue00c"

stack = None
browser = None
pages = []  # (server, thread): web/ served from two other origins
ALLOWED = free_port()  # an origin in the stack's cors_origins
DENIED = free_port()   # one that is not


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve_web(port):
    handler = functools.partial(QuietHandler, directory=os.path.join(TOP, "web"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    pages.append((server, t))


def setUpModule():
    global stack, browser
    stack = Stack(CORS_ORIGINS="http://127.0.0.1:%d" % ALLOWED).start()
    serve_web(ALLOWED)
    serve_web(DENIED)
    browser = Browser().start()


def tearDownModule():
    if browser:
        browser.stop()
    for server, t in pages:
        server.shutdown()
        server.server_close()
        t.join(10)
    if stack:
        stack.stop()


def site():
    return "http://127.0.0.1:%d" % stack.port


def events(u, kind):
    return stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE uid = '%s' AND kind = '%s'"
                         % (u, kind))


def wait_event(test, u, kind):
    test.assertTrue(stack.wait_for(lambda: events(u, kind) == 1, timeout=30),
                    "no %s of %s in MySQL" % (kind, u))


def next_visit(u):
    r = stack.get_popup(u)
    assert r.status == 200, r
    return r.json()


# show_cooldown_s = 0: without an action the popup would come back at once,
# so a {"popup":null} on the next visit is the action's doing.
SALE = popup_row(1, show_cooldown_s=0, ignore_cooldown_s=3600, click_cooldown_s=None,
                 title="Spring sale: 20% off tents",
                 body="Use code <b>SPRING20</b> at checkout.\nValid until Sunday.",
                 # A page of the same site that does not load popup.js, so the
                 # navigation's own visit does not race the click's beacon.
                 link_url="/api/healthz")


class DemoPageInChromium(unittest.TestCase):
    def setUp(self):
        stack.set_popups([SALE])

    def open_with_popup(self, base, u, api=None):
        q = {"uid": u}
        if api:
            q["api"] = api
        browser.open(base + "/?" + urllib.parse.urlencode(q))
        return browser.wait_find('[role="dialog"]')

    def test_the_popup_shows_and_its_link_records_a_click_in_mysql(self):
        u = uid("click")
        dialog = self.open_with_popup(site(), u)
        self.assertEqual(browser.run("return document.querySelector('.popupjs-title').textContent"),
                         SALE["title"])
        self.assertEqual(browser.run("return document.activeElement.className"), "popupjs-close")
        self.assertEqual(browser.run(
            "const d = document.querySelector('[role=dialog]');"
            "return [d.getAttribute('aria-modal'), document.getElementById("
            "d.getAttribute('aria-labelledby')).textContent]"), ["true", SALE["title"]])
        png = browser.screenshot(os.path.join(OUT, "popup.png"))
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        self.assertGreater(len(png), 10000)
        self.assertIn("Use code <b>SPRING20</b>", browser.text(dialog))
        browser.click(browser.find(".popupjs-link"))
        browser.wait_until("return location.pathname === '/api/healthz'")
        wait_event(self, u, "click")
        self.assertEqual(events(u, "show"), 1)
        self.assertEqual(next_visit(u), {"popup": None})
        # The page itself, loaded again, shows nothing either.
        browser.open(site() + "/?uid=" + u)
        self.assertEqual(browser.wait_until("return document.documentElement.dataset.popup"), "none")
        self.assertIsNone(browser.find('[role="dialog"]'))

    def test_the_close_button_records_an_ignore(self):
        u = uid("close")
        self.open_with_popup(site(), u)
        browser.click(browser.find(".popupjs-close"))
        self.assertEqual(browser.wait_until("return document.documentElement.dataset.popup"
                                            " !== 'shown' && document.documentElement.dataset.popup"),
                         "ignore:beacon")
        self.assertIsNone(browser.find('[role="dialog"]'))
        wait_event(self, u, "ignore")
        self.assertEqual(events(u, "click"), 0)
        self.assertEqual(next_visit(u), {"popup": None})

    def test_escape_records_an_ignore(self):
        u = uid("esc")
        self.open_with_popup(site(), u)
        browser.press(ESCAPE)
        browser.wait_until("return !document.querySelector('[role=dialog]')")
        wait_event(self, u, "ignore")
        self.assertEqual(next_visit(u), {"popup": None})

    def test_a_page_on_another_origin_gets_the_popup_through_cors(self):
        u = uid("cors")
        page = "http://127.0.0.1:%d" % ALLOWED
        self.open_with_popup(page, u, api=site() + "/api")
        self.assertEqual(browser.run("return location.origin"), page)
        browser.screenshot(os.path.join(OUT, "cross-origin.png"))
        browser.click(browser.find(".popupjs-close"))  # a cross-origin beacon
        wait_event(self, u, "ignore")
        self.assertEqual(next_visit(u), {"popup": None})

    def test_a_page_on_an_origin_not_listed_gets_no_popup(self):
        u = uid("denied")
        browser.open("http://127.0.0.1:%d/?%s" % (DENIED, urllib.parse.urlencode(
            {"uid": u, "api": site() + "/api"})))
        self.assertEqual(browser.wait_until("return document.documentElement.dataset.popup"), "error")
        self.assertIsNone(browser.find('[role="dialog"]'))

    def test_markup_and_script_urls_in_content_stay_inert_in_the_browser(self):
        evil = popup_row(2, show_cooldown_s=0, title='<img src=x onerror="document.title=1">',
                         body="<script>document.title='pwned'</script>",
                         link_url="javascript:document.title='pwned'",
                         image_url="javascript:alert(1)")
        stack.set_popups([evil])
        self.open_with_popup(site(), uid("evil"))
        self.assertEqual(browser.run(
            "const d = document.querySelector('[role=dialog]');"
            "return [d.querySelector('.popupjs-title').textContent,"
            " d.querySelector('.popupjs-body').textContent,"
            " d.querySelectorAll('script, img, a').length, document.title]"),
            [evil["title"], evil["body"], 0, "Northwind Outfitters: gear for every trail"])


class CorsOverHttp(unittest.TestCase):
    ORIGIN = "http://127.0.0.1:%d" % ALLOWED

    def test_a_preflight_from_a_listed_origin_is_allowed(self):
        r = stack.http().request("OPTIONS", "/api/popup/action", headers={
            "Origin": self.ORIGIN, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, idempotency-key"})
        self.assertEqual(r.status, 204, r)
        h = r.headers
        self.assertEqual(h.get("access-control-allow-origin"), self.ORIGIN)
        self.assertEqual(h.get("access-control-allow-methods"), "POST, OPTIONS")
        self.assertEqual(h.get("access-control-allow-headers"), "Content-Type, Idempotency-Key")
        self.assertEqual(h.get("vary"), "Origin")
        self.assertNotIn("access-control-allow-credentials", h)
        self.assertEqual(r.data, b"")

    def test_a_preflight_from_another_origin_gets_no_allowance(self):
        r = stack.http().request("OPTIONS", "/api/popup", headers={
            "Origin": "http://127.0.0.1:%d" % DENIED, "Access-Control-Request-Method": "GET"})
        self.assertEqual(r.status, 204)
        self.assertNotIn("access-control-allow-origin", r.headers)
        self.assertEqual(r.headers.get("vary"), "Origin")
        self.assertEqual(r.headers.get("allow"), "GET, HEAD, OPTIONS")

    def test_answers_carry_the_origin_only_for_listed_origins(self):
        c = stack.http()
        r = c.request("GET", "/api/popup?uid=" + uid(), headers={"Origin": self.ORIGIN})
        self.assertEqual((r.status, r.headers.get("access-control-allow-origin")), (200, self.ORIGIN))
        self.assertEqual(r.headers.get("vary"), "Origin")
        r = c.request("GET", "/api/popup?uid=" + uid())
        self.assertNotIn("access-control-allow-origin", r.headers)
        self.assertEqual(r.headers.get("vary"), "Origin")
        r = c.request("POST", "/api/popup/action", body=json.dumps(
            {"uid": uid(), "popup_id": 999999, "action": "click"}),
            headers={"Origin": self.ORIGIN, "Content-Type": "application/json"})
        self.assertEqual((r.status, r.headers.get("access-control-allow-origin")), (404, self.ORIGIN))
        # Operators' endpoints are not for pages.
        r = c.request("GET", "/api/metrics", headers={"Origin": self.ORIGIN})
        self.assertEqual(r.status, 200)
        self.assertNotIn("access-control-allow-origin", r.headers)


class TextPlainBodies(unittest.TestCase):
    """What navigator.sendBeacon sends for a string: text/plain;charset=UTF-8."""

    def setUp(self):
        stack.set_popups([SALE])

    def post(self, u, body):
        return stack.http().request("POST", "/api/popup/action?uid=" + u, body=body,
                                    headers={"Content-Type": "text/plain;charset=UTF-8"})

    def test_a_form_body_is_recorded_once_however_often_it_is_resent(self):
        u = uid("beacon")
        body = "popup_id=1&action=click&action_id=k%s" % u
        for _ in range(3):
            r = self.post(u, body)
            self.assertEqual((r.status, r.json()), (202, {"ok": True}))
        self.assertEqual(next_visit(u), {"popup": None})  # click_cooldown_s NULL: never again
        self.assertTrue(stack.wait_drained())
        wait_event(self, u, "click")

    def test_a_json_body_is_recorded(self):
        u = uid("beaconj")
        r = self.post(u, json.dumps({"uid": u, "popup_id": 1, "action": "ignore"}))
        self.assertEqual(r.status, 202, r)
        wait_event(self, u, "ignore")

    def test_a_body_in_neither_encoding_is_a_bad_request(self):
        u = uid("beaconx")
        for body in ("{broken", "hello", ""):
            r = self.post(u, body)
            self.assertEqual((r.status, r.json()["error"]), (400, "bad_request"), body)


class ContentContract(unittest.TestCase):
    def test_title_and_body_come_back_exactly_as_stored(self):
        title = '<script>alert("x")</script> & \u00e9 \u20ac'
        body = "<b>bold</b>\n<a href='javascript:x'>y</a> \\ \"q\""
        stack.set_popups([popup_row(3, title=title, body=body, link_url="https://shop.example/a?b=1&c=2")])
        p = next_visit(uid("content"))["popup"]
        self.assertEqual((p["title"], p["body"], p["link_url"]),
                         (title, body, "https://shop.example/a?b=1&c=2"))


class StaticFiles(unittest.TestCase):
    def test_nginx_serves_the_demo_page_and_the_client(self):
        c = stack.http()
        r = c.request("GET", "/")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/html"))
        self.assertIn(b'src="shop.js"', r.data)
        for path in ("/popup.js", "/shop.js"):
            r = c.request("GET", path)
            self.assertEqual(r.status, 200, path)
            self.assertEqual(r.headers["content-type"], "text/javascript", path)
        self.assertTrue(c.request("GET", "/shop.css").headers["content-type"].startswith("text/css"))

    def test_the_stack_serves_popup_js_as_a_host_does(self):
        listed = "http://127.0.0.1:%d" % ALLOWED
        r = stack.http().request("GET", "/popup.js", headers={"Origin": listed, "Accept-Encoding": "gzip"})
        self.assertEqual((r.status, r.headers.get("access-control-allow-origin"),
                          r.headers.get("content-encoding")), (200, listed, "gzip"))
        self.assertIn("etag", r.headers)
        r = stack.http().request("GET", "/popup.js", headers={"Origin": "http://127.0.0.1:%d" % DENIED})
        self.assertNotIn("access-control-allow-origin", r.headers)

    def test_only_the_top_level_of_web_is_served(self):
        c = stack.http()
        for path in ("/test/popup.test.mjs", "/test/fake_dom.mjs", "/test/", "/nothing.js"):
            r = c.request("GET", path)
            self.assertEqual((r.status, r.json()["error"]), (404, "not_found"), path)


def make(*args, timeout=600):
    """`make ARGS` in the checkout for the build under test (BUILD)."""
    sanitizer = BUILD[len("build-"):] if BUILD.startswith("build-") else ""
    return subprocess.run(["make", "--no-print-directory", "SANITIZER=" + sanitizer] + list(args),
                          cwd=TOP, capture_output=True, text=True, timeout=timeout)


class ShippedPopupJs(unittest.TestCase):
    """web/README.md "Shipping popup.js", the cross-origin way: `make install`
    under a temporary prefix, a host's nginx laid out as the README says
    (the installed share/popup/nginx as <conf>/popup, what `popupd --check`
    prints for the stack's popup.conf in conf.d/, a server{} that includes
    popup.conf and popup-web.conf), Debian's default_type."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="pweb", dir="/tmp")
        cls.nginx = None
        try:
            prefix = os.path.join(cls.dir, "usr")
            r = make("install", "PREFIX=" + prefix, "SYSCONFDIR=" + os.path.join(cls.dir, "etc"))
            if r.returncode != 0:
                raise AssertionError(r.stdout + r.stderr)
            cls.installed = os.path.join(prefix, "share/popup/web/popup.js")
            conf = os.path.join(cls.dir, "nginx")
            for sub in ("conf.d", "logs"):
                os.makedirs(os.path.join(conf, sub))
            os.symlink(os.path.join(prefix, "share/popup/nginx"), os.path.join(conf, "popup"))
            subprocess.run("%s --check --config %s | sed -n '/^\\(map\\|upstream\\)/,/^}/p' > %s"
                           % (os.path.join(TOP, BUILD, "popupd"), stack.conf(),
                              os.path.join(conf, "conf.d/popup-upstream.conf")),
                           shell=True, check=True, timeout=30)
            cls.port = free_port()
            with open(os.path.join(conf, "nginx.conf"), "w") as f:
                f.write("%spid %s/nginx.pid;\nevents {}\nhttp {\n"
                        "    default_type application/octet-stream;\n"
                        "    include conf.d/*.conf;\n"
                        "    server {\n        listen 127.0.0.1:%d;\n        server_name _;\n"
                        "        include popup/popup.conf;\n        include popup/popup-web.conf;\n"
                        "    }\n}\n" % ("user root;\n" if os.getuid() == 0 else "", conf, cls.port))
            argv = ["nginx", "-p", conf, "-c", os.path.join(conf, "nginx.conf"),
                    "-e", os.path.join(conf, "logs/error.log")]
            t = subprocess.run(argv + ["-t"], capture_output=True, text=True, timeout=30)
            if t.returncode != 0:
                raise AssertionError(t.stderr)
            cls.nginx = subprocess.Popen(argv + ["-g", "daemon off;"], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True)

            def answers():
                try:
                    return Http(cls.port).request("GET", "/popup.js").status == 200
                except OSError:
                    return False
            if not stack.wait_for(answers, timeout=20):
                raise AssertionError("the host nginx does not answer on %d" % cls.port)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.nginx:
            cls.nginx.send_signal(signal.SIGQUIT)
            try:
                cls.nginx.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(cls.nginx.pid, signal.SIGKILL)
                cls.nginx.wait()
            cls.nginx = None
        shutil.rmtree(cls.dir, ignore_errors=True)

    def get(self, headers=None, path="/popup.js"):
        return Http(self.port).request("GET", path, headers=headers)

    def host(self):
        return "http://127.0.0.1:%d" % self.port

    def test_make_install_ships_popup_js_and_the_snippet_points_at_it(self):
        with open(os.path.join(TOP, "web/popup.js"), "rb") as f:
            source = f.read()
        with open(self.installed, "rb") as f:
            self.assertEqual(f.read(), source)
        snippet = open(os.path.join(self.dir, "usr/share/popup/nginx/popup-web.conf")).read()
        self.assertIn("root %s;" % os.path.dirname(self.installed), snippet)
        self.assertNotRegex(snippet, r"@[A-Z_]+@")
        r = self.get()
        self.assertEqual((r.status, r.data), (200, source))
        self.assertEqual(r.headers["content-type"], "text/javascript")
        self.assertEqual(r.headers["cache-control"], "no-cache")
        self.assertEqual(r.headers["x-content-type-options"], "nosniff")

    def test_a_listed_origin_gets_access_control_allow_origin_and_others_do_not(self):
        listed = "http://127.0.0.1:%d" % ALLOWED
        r = self.get({"Origin": listed})
        self.assertEqual(r.headers.get("access-control-allow-origin"), listed)
        self.assertIn("Origin", r.headers.get("vary", ""))
        self.assertNotIn("access-control-allow-credentials", r.headers)
        for other in ("http://127.0.0.1:%d" % DENIED, "https://evil.example", None):
            r = self.get({"Origin": other} if other else None)
            self.assertEqual(r.status, 200)
            self.assertNotIn("access-control-allow-origin", r.headers, other)

    def test_the_etag_answers_304_without_a_body(self):
        r = self.get()
        etag = r.headers["etag"]
        again = self.get({"If-None-Match": etag})
        self.assertEqual((again.status, again.data), (304, b""))
        self.assertEqual(again.headers.get("etag"), etag)
        self.assertEqual(self.get({"If-None-Match": '"other"'}).status, 200)

    def test_gzip_for_clients_that_accept_it(self):
        plain = self.get()
        r = self.get({"Accept-Encoding": "gzip"})
        self.assertEqual(r.headers.get("content-encoding"), "gzip")
        self.assertEqual(gzip.decompress(r.data), plain.data)
        self.assertLess(len(r.data), len(plain.data) / 2)
        self.assertNotIn("content-encoding", plain.headers)
        # A compressed answer's (weak) ETag still revalidates.
        again = self.get({"Accept-Encoding": "gzip", "If-None-Match": r.headers["etag"]})
        self.assertEqual(again.status, 304)

    def test_a_page_on_a_listed_origin_imports_it_and_an_unlisted_one_cannot(self):
        url = self.host() + "/popup.js"
        script = ("return import(arguments[0]).then(m => typeof m.showPopup, "
                  "e => 'failed: ' + e.message)")
        browser.open("http://127.0.0.1:%d/test/" % ALLOWED)  # an HTML page there
        self.assertEqual(browser.run(script, url), "function")
        browser.open("http://127.0.0.1:%d/test/" % DENIED)
        self.assertTrue(browser.run(script, url).startswith("failed: "))

    def test_nginx_errors_under_api_are_json_on_a_host_with_another_default_type(self):
        r = Http(self.port).request("POST", "/api/popup/action", body="x" * 5000,
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((r.status, r.headers["content-type"]), (413, "application/json"))
        self.assertEqual(r.json()["error"], "payload_too_large")


if __name__ == "__main__":
    unittest.main()
