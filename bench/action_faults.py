#!/usr/bin/env python3
"""Actions while worker processes are SIGKILLed: counts
what was sent, acknowledged (202), answered otherwise, resent by the client
with its key, stored in MySQL, and stored twice. Each action is unique by
(uid, X-Popup-Now), so a second row for one is a duplicate.

  bench/action_faults.py [--seconds 60] [--kill-every 2] [--threads 8] [--keys client|none]

--keys client: every action carries an Idempotency-Key and the client
resends the unacknowledged ones with it (the guarantee: each stored once).
--keys none: no key; nginx's $request_id still makes its own resends the
same event, and nothing is resent by the client (the guarantee: no
duplicates; an unacknowledged action may or may not be stored).
"""

import argparse
import collections
import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "integration"))
from harness import Stack, child_pids  # noqa: E402
from benchlib import stop_on_sigterm  # noqa: E402

NOW = 1_800_000_000


def main():
    stop_on_sigterm()
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--kill-every", type=float, default=2)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--keys", choices=["client", "none"], default="client")
    a = ap.parse_args()
    stack = Stack(WORKERS=3, THREADS=8, NGINX_WORKERS=1, NGINX_KEEPALIVE=8).start()
    try:
        stack.set_popups([{"id": 1, "priority": 1, "enabled": 1, "show_cooldown_s": 0,
                           "ignore_cooldown_s": 60, "click_cooldown_s": 120,
                           "rollout_percent": 100, "title": "t", "body": "", "image_url": "",
                           "link_url": ""}])
        report = run(stack, a)
    finally:
        stack.stop()
    line = json.dumps(report)
    print(line)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                       time.strftime("%Y%m%d-%H%M%S") + "-action-faults-%s.json" % a.keys)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(line + "\n")
    print("report: " + out)


def run(stack, a):
    lock = threading.Lock()
    sent, acked, unacked = [], [], []
    answers = collections.Counter()
    deadline = time.time() + a.seconds

    def client(t):
        c = stack.http()
        i = 0
        while time.time() < deadline:
            u, now, key = "af-%d-%d" % (t, i % 50), NOW + i, "t%d-%d" % (t, i)
            body = {"uid": u, "popup_id": 1, "action": "click" if i % 2 else "ignore"}
            headers = {"Content-Type": "application/json", "X-Popup-Now": str(now)}
            if a.keys == "client":
                headers["Idempotency-Key"] = key
            try:
                r = c.request("POST", "/api/popup/action", body=json.dumps(body), headers=headers)
                status = r.status
            except Exception:  # noqa: BLE001 - a broken connection is an unacknowledged send
                status = "transport"
                c.close()
            with lock:
                sent.append((u, now))
                answers[status] += 1
                if status == 202:
                    acked.append((u, now))
                else:
                    unacked.append((body, headers))
            i += 1
        c.close()

    threads = [threading.Thread(target=client, args=(t,)) for t in range(a.threads)]
    [t.start() for t in threads]
    kills = 0
    while time.time() < deadline - a.kill_every / 2:
        time.sleep(a.kill_every)
        pids = child_pids(stack.pid("popupd"))
        if pids:
            try:
                os.kill(random.choice(pids), signal.SIGKILL)
                kills += 1
            except ProcessLookupError:
                pass
    [t.join() for t in threads]
    resent = collections.Counter()
    if a.keys == "client":
        c = stack.http()
        for body, headers in unacked:
            for _ in range(5):
                r = c.request("POST", "/api/popup/action", body=json.dumps(body), headers=headers)
                if r.status == 202:
                    break
            resent[r.status] += 1
    if not stack.wait_drained(timeout=120):
        raise SystemExit("the queue did not drain")
    rows = stack.sql("SELECT uid, ts, COUNT(*) FROM popup_events WHERE uid LIKE 'af-%' "
                     "AND kind <> 'show' GROUP BY uid, ts")
    stored = {(u, int(ts)): int(n) for u, ts, n in rows}
    return {
        "keys": a.keys, "seconds": a.seconds, "worker_kills": kills, "sent": len(sent),
        "acknowledged": len(acked), "answers": {str(k): v for k, v in answers.items()},
        "resent_by_client": dict((str(k), v) for k, v in resent.items()),
        "stored": sum(stored.values()), "distinct_stored": len(stored),
        "duplicated": sum(n - 1 for n in stored.values()),
        # client: every action sent was resent until acknowledged, so each
        # must be stored; none: only the acknowledged ones must be.
        "sent_but_not_stored": sum(1 for s in sent if s not in stored),
        "acknowledged_but_not_stored": sum(1 for s in acked if s not in stored),
    }


if __name__ == "__main__":
    main()
