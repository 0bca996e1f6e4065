"""Redis with a password (`redis_password`; the stack's REDIS_AUTH=1, the
default of a store host that listens on the network): the pool, the writer
and popupctl authenticate on every connection, a client without the
password is refused, and a wrong password is reported by healthz while the
service keeps answering (from MySQL) until it is put right."""

import json
import os
import re
import subprocess
import unittest

from harness import module_stack, popup_row, shown, uid

NOW = 1_800_000_000
setUpModule, tearDownModule = module_stack(globals(), REDIS_AUTH="1")


def set_local_password(password):
    """popup.local.conf's redis_password (None: the line goes), then a
    reload of the pool and nginx."""
    path = stack.path("popup.local.conf")
    text = re.sub(r"(?m)^redis_password = .*\n", "", open(path).read())
    if password is not None:
        text += "redis_password = %s\n" % password
    with open(path, "w") as f:
        f.write(text)
    r = stack.run_script("reload")
    assert r.returncode == 0, r.stdout + r.stderr


def popupd_log():
    with open(stack.path("log/popupd.log"), errors="replace") as f:
        return f.read()


class RedisPassword(unittest.TestCase):
    def setUp(self):
        stack.wait_healthy()
        stack.set_popups([popup_row(1, show_cooldown_s=0, ignore_cooldown_s=3600,
                                    click_cooldown_s=None)])

    def test_a_client_without_the_password_is_refused(self):
        self.assertTrue(os.path.getsize(stack.path("redis.password")) > 20)
        env = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
        r = subprocess.run(["redis-cli", "-s", stack.path("redis.sock"), "GET", "popup:config:version"],
                           capture_output=True, text=True, timeout=30, env=env)
        self.assertIn("NOAUTH", r.stdout + r.stderr)
        self.assertRegex(open(stack.path("popup.conf")).read(), r"(?m)^redis_password = [A-Za-z0-9]{20}$")

    def test_the_pool_the_writer_and_popupctl_use_it(self):
        # set_popups published through popupctl; the pool serves it.
        u = uid()
        self.assertEqual(shown(stack.get_popup(u, now=NOW)), 1)
        self.assertEqual(stack.act(u, 1, "click", now=NOW, query_uid=True).status, 202)
        self.assertIsNone(shown(stack.get_popup(u, now=NOW + 10**6)))
        self.assertTrue(stack.wait_drained())
        self.assertIn(",click,", stack.redis_raw("HGET", "popup:u:" + u, "1"))
        self.assertEqual(stack.sql("SELECT last_action FROM user_state WHERE uid='%s' AND popup_id=1"
                                   % u), [["click"]])
        m = stack.metrics()
        self.assertGreater(m.get("popup_get_redis_round_trips_total", 0), 0)

    def test_a_wrong_password_is_reported_and_putting_it_right_heals(self):
        try:
            set_local_password("not-the-password")
            self.assertTrue(stack.wait_for(
                lambda: stack.http().request("GET", "/api/healthz").status != 200, timeout=60),
                "healthz stayed ok with a wrong Redis password")
            self.assertEqual(json.loads(stack.http().request("GET", "/api/healthz").data)["redis"],
                             "down")
            # The log says why.
            self.assertTrue(stack.wait_for(lambda: "redis AUTH" in popupd_log(), timeout=30),
                            popupd_log()[-2000:])
            # The answer still comes (from MySQL): a visitor sees no error.
            r = stack.get_popup(uid(), now=NOW)
            self.assertEqual(r.status, 200, r)
        finally:
            set_local_password(None)
        stack.wait_healthy()


if __name__ == "__main__":
    unittest.main()
