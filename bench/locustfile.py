"""A homepage visit, as Locust users (Locust 2.12, FastHttpUser).

Each task is one visit: GET /api/popup for a random user; when a popup comes
back, after a short think time the user ignores it (70 %), clicks it (20 %)
or does nothing (10 %). Users come from a Zipf-like (log-uniform) spread over
LOCUST_UIDS ids, so returning users meet their cooldowns.

  locust -f bench/locustfile.py --host http://127.0.0.1:8080
"""

import math
import os
import random

import locust.runners
from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

# Debian's python3-locust 2.12 has an empty version string, and an empty
# version in a worker's "client_ready" makes the master refuse it as "pre
# 2.0". Master and workers both import this file, so give them one.
if not locust.runners.__version__:
    locust.runners.__version__ = "2.12.1"

UIDS = int(os.environ.get("LOCUST_UIDS", "100000"))
PLATFORMS = ["web", "web", "web", "ios", "android"]


def pick_uid():
    i = int(math.exp(random.random() * math.log(UIDS))) - 1
    return "lu%d" % min(i, UIDS - 1)


class Visitor(FastHttpUser):
    wait_time = between(0.5, 2.0)

    @task
    def visit(self):
        uid = pick_uid()
        platform = random.choice(PLATFORMS)
        params = "uid=%s&platform=%s" % (uid, platform)
        if platform != "web":
            params += "&version=%d.%d" % (random.randint(1, 6), random.randint(0, 9))
        with self.client.get("/api/popup?" + params, name="/api/popup",
                             catch_response=True) as r:
            if r.status_code != 200:
                r.failure("status %d" % r.status_code)
                return
            try:
                popup = r.json()["popup"]
            except (ValueError, KeyError):
                r.failure("not the SPEC answer")
                return
        if not popup:
            return
        self.wait()  # think time before reacting
        roll = random.random()
        if roll < 0.7:
            action = "ignore"
        elif roll < 0.9:
            action = "click"
        else:
            return
        # ?uid= routes the action to the user's worker (docs/design.md "User affinity").
        with self.client.post("/api/popup/action?uid=" + uid, name="/api/popup/action",
                              json={"uid": uid, "popup_id": popup["id"], "action": action},
                              catch_response=True) as r:
            if r.status_code != 202:
                r.failure("status %d" % r.status_code)
