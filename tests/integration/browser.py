"""Headless Chromium for the browser tests, driven with the W3C WebDriver
protocol over plain HTTP (urllib), as Debian's chromium-driver speaks it:
no client library beyond the standard one. Only loopback is used."""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from harness import free_port

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C element reference key


class WebDriverError(AssertionError):
    pass


class Browser:
    """One chromedriver and one headless Chromium session in a temporary profile."""

    def __init__(self, width=1200, height=800):
        self.size = (width, height)
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="chromium-", dir="/tmp")
        self.driver = None
        self.session = None

    def start(self):
        driver = shutil.which("chromedriver")
        if not driver:
            raise AssertionError("chromedriver is not installed: run make deps (scripts/deps.sh)")
        self.log = open(os.path.join(self.profile, "chromedriver.log"), "wb")
        self.driver = subprocess.Popen([driver, "--port=%d" % self.port, "--allowed-ips=127.0.0.1"],
                                       stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                       start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if self._call("GET", "/status")["ready"]:
                    break
            except (OSError, WebDriverError):
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("chromedriver did not come up on port %d" % self.port)
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", "--user-data-dir=" + self.profile,
                "--window-size=%d,%d" % self.size]
        opts = {"args": args}
        if os.path.exists("/usr/bin/chromium"):
            opts["binary"] = "/usr/bin/chromium"
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome",
                                                 "goog:chromeOptions": opts}}}
        self.session = self._call("POST", "/session", caps, timeout=120)["sessionId"]
        return self

    def stop(self):
        if self.session:
            try:
                self._call("DELETE", "/session/" + self.session, timeout=30)
            except (OSError, WebDriverError):
                pass
            self.session = None
        if self.driver:
            self.driver.terminate()
            try:
                self.driver.wait(15)
            except subprocess.TimeoutExpired:
                self.driver.kill()
                self.driver.wait(15)
            self.driver = None
            self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    # -- protocol ---------------------------------------------------------
    def _call(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data,
                                     method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise WebDriverError("%s %s: %s" % (method, path, e.read()[:500].decode(errors="replace")))

    def _s(self, method, path, body=None):
        return self._call(method, "/session/%s%s" % (self.session, path), body)

    # -- what the tests use ------------------------------------------------
    def open(self, url):
        self._s("POST", "/url", {"url": url})

    def url(self):
        return self._s("GET", "/url")

    def run(self, script, *args):
        """Runs `script` (a function body) in the page and returns its value."""
        return self._s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        """The element's reference, or None."""
        found = self._s("POST", "/elements", {"using": "css selector", "value": css})
        return found[0][ELEMENT] if found else None

    def wait_find(self, css, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            e = self.find(css)
            if e:
                return e
            time.sleep(0.05)
        raise AssertionError("no %s on %s within %ds" % (css, self.url(), timeout))

    def wait_until(self, script, timeout=20):
        """Waits until `script` returns a true value in the page; returns it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = self.run(script)
            if v:
                return v
            time.sleep(0.05)
        raise AssertionError("still false after %ds on %s: %s" % (timeout, self.url(), script))

    def text(self, element):
        return self._s("GET", "/element/%s/text" % element)

    def click(self, element):
        self._s("POST", "/element/%s/click" % element, {})

    def press(self, key):
        """Sends one key press to the focused element (WebDriver key codes: \\ue00c is Escape)."""
        self._s("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": [
            {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]})
        self._s("DELETE", "/actions")

    def screenshot(self, path):
        png = base64.b64decode(self._s("GET", "/screenshot"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(png)
        return png
