#!/usr/bin/env python3
"""Does the Lua alternative (bench/lua/popup_bench.lua, /lua/popup) keep the
same contract as the service (/api/popup)? A cheap check, runnable on its
own (about half a minute):

  bench/lua_check.py [--users 20000] [--requests 3000] [--seed 7] [--build build]

Starts a private stack with the Lua locations (scripts/stack.sh with
NGINX_INCLUDE, DEMO=0, TEST_CLOCK=off), loads the bench data
(bench/gen_data.py), and sends one seeded sequence of requests, first to
/api and then, after the users' Redis hashes are put back as the data set
wrote them, to /lua: GETs and HEADs of Zipf-like users (so many users come
back and meet the state their earlier visits wrote), click and ignore
actions (form and JSON, uid in the query string or not, idempotency keys,
resent keys, unknown and disabled popups) and malformed requests. The
answers are compared request by request (status, body, Content-Type,
Cache-Control, Allow); so are the users' states after each run (cooldowns
relative to the write time, impressions, last action), and the writer must
have stored every event of both runs in MySQL (so the Lua events are in the
encoding it accepts). Prints the counts and exits 1 on any difference.
"""

import argparse
import http.client
import json
import math
import os
import pwd
import random
import subprocess
import sys
import tempfile
import time

from benchlib import free_port, lua_includes, stackctl, stop_on_sigterm

# The stack's MariaDB superuser: the OS user who started it, authenticated
# on the socket (the service account `popup` may only do what the service
# does; scripts/stack.sh).
DB_ADMIN = pwd.getpwuid(os.getuid()).pw_name

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Malformed requests: (method, path under the prefix, query, headers, body).
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}
BAD = [
    ("GET", "/popup", "platform=web", {}, None),
    ("GET", "/popup", "uid=a%20b", {}, None),
    ("GET", "/popup", "uid=" + "x" * 65, {}, None),
    ("GET", "/popup", "uid=u1&uid=u2", {}, None),
    ("GET", "/popup", "uid=u1&platform=tv", {}, None),
    ("GET", "/popup", "uid=u1&platform=ios&version=1..2", {}, None),
    ("GET", "/popup", "uid=u1&version=1.2.3.4.5", {}, None),
    ("GET", "/popup", "uid=u1&version=1234567890", {}, None),
    ("GET", "/popup", "uid=u1&lang=" + "e" * 36, {}, None),
    ("GET", "/popup", "uid=u1&lang=d%zz", {}, None),
    ("GET", "/popup", "uid=bad!&platform=tv&x=%4", {}, None),
    ("GET", "/popup", "platform=tv&uid=bad!", {}, None),
    ("GET", "/popup", "&&uid=u7&&lang=DE&platform=web", {}, None),
    ("GET", "/popup", "uid=u%37&platform=w%65b", {}, None),
    ("POST", "/popup", "uid=u1", FORM, "x=1"),
    ("GET", "/popup/action", "", {}, None),
    ("POST", "/popup/action", "", {"Content-Type": "text/csv"}, "uid=u1&popup_id=1&action=click"),
    ("POST", "/popup/action", "", FORM, "uid=u1&action=click"),
    ("POST", "/popup/action", "", FORM, "popup_id=1&action=click"),
    ("POST", "/popup/action", "", FORM, "uid=u1&popup_id=abc&action=click"),
    ("POST", "/popup/action", "", FORM, "uid=u1&popup_id=0&action=click"),
    ("POST", "/popup/action", "", FORM, "uid=u1&popup_id=1&action=like"),
    ("POST", "/popup/action", "", FORM, "uid=u1&popup_id=1"),
    ("POST", "/popup/action", "", FORM, "uid=u1&uid=u2&popup_id=1&action=click"),
    ("POST", "/popup/action", "", FORM, "uid=u1&popup_id=1&action=click&x=%g1"),
    ("POST", "/popup/action", "uid=u2", FORM, "uid=u1&popup_id=1&action=click"),
    ("POST", "/popup/action", "uid=bad!", FORM, "popup_id=1&action=click"),
    ("POST", "/popup/action", "", dict(FORM, **{"Idempotency-Key": "a b"}),
     "uid=u1&popup_id=1&action=click"),
    ("POST", "/popup/action", "", dict(FORM, **{"Idempotency-Key": "k1"}),
     "uid=u1&popup_id=1&action=click&action_id=k2"),
    ("POST", "/popup/action", "", JSON, "[1,2]"),
    ("POST", "/popup/action", "", JSON, "{not json"),
    ("POST", "/popup/action", "", JSON, '{"uid":7,"popup_id":1,"action":"click"}'),
    ("POST", "/popup/action", "", JSON, '{"uid":"u1","popup_id":"1","action":"click"}'),
    ("POST", "/popup/action", "", JSON, '{"uid":"u1","popup_id":1,"action":null}'),
    ("POST", "/popup/action", "", {"Content-Type": "Application/JSON; charset=utf-8"},
     '{"uid":"u1","popup_id":999999,"action":"click"}'),
    # navigator.sendBeacon's text/plain, holding either encoding
    ("POST", "/popup/action", "", {"Content-Type": "text/plain;charset=UTF-8"},
     ' {"uid":"u1","popup_id":999999,"action":"click"}'),
    ("POST", "/popup/action", "", {"Content-Type": "text/plain"}, "uid=u1&popup_id=999999&action=ignore"),
    ("POST", "/popup/action", "", {"Content-Type": "text/plain"}, "uid=u1&popup_id=1"),
    ("OPTIONS", "/popup", "uid=u1", {}, None),
    ("OPTIONS", "/popup/action", "", {}, None),
]


def uid_of(rng, users):
    # log-uniform over the ids, as bench/wrk/common.lua: u0 is the most frequent
    i = int(math.exp(rng.random() * math.log(users))) - 1
    return "u%d" % min(i, users - 1)


def visit_query(rng, users):
    platform = rng.choice(["web", "web", "web", "ios", "android"])
    q = "uid=%s&platform=%s" % (uid_of(rng, users), platform)
    if platform != "web":
        q += "&version=%d.%d" % (rng.randint(1, 6), rng.randint(0, 9))
    lang = rng.choice(["", "", "", "en", "de", "fr", "es", "ja"])
    if lang:
        q += "&lang=" + lang
    return q


def sequence(seed, users, ids, n):
    """The requests, as (method, path, query, headers, body); bodies and keys
    carry the placeholder RUN, which each run replaces (keyed actions have
    the same event id in both implementations, and the writer would take
    the second run's as duplicates)."""
    rng = random.Random(seed)
    out, keys = [], []
    for _ in range(n):
        r = rng.random()
        if r < 0.77:
            out.append(("GET", "/popup", visit_query(rng, users), {}, None))
        elif r < 0.80:
            out.append(("HEAD", "/popup", visit_query(rng, users), {}, None))
        elif r < 0.93:
            uid = uid_of(rng, users)
            pick = rng.random()
            pid = rng.choice(ids) if pick < 0.8 else (rng.randint(1, 200) if pick < 0.95 else 4242)
            action = rng.choice(["click", "ignore", "ignore"])
            headers, query = {}, ""
            if rng.random() < 0.3:
                query = "uid=" + uid
            key = None
            if rng.random() < 0.3:
                key = rng.choice(keys) if keys and rng.random() < 0.2 else "RUN-k%d" % len(keys)
                keys.append(key)
            if rng.random() < 0.6:
                body = "uid=%s&popup_id=%d&action=%s" % (uid, pid, action)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                if key:
                    body += "&action_id=" + key
            else:
                doc = {"uid": uid, "popup_id": pid, "action": action}
                if key:
                    headers["Idempotency-Key"] = key
                body = json.dumps(doc)
                headers["Content-Type"] = "application/json"
            out.append(("POST", "/popup/action", query, headers, body))
        else:
            out.append(rng.choice(BAD))
    return out


class Stack:
    def __init__(self, build, users):
        self.dir = tempfile.mkdtemp(prefix="plc", dir="/tmp")
        self.port = free_port()
        self.build = build
        self.users = users
        self.env = dict(os.environ, HTTP_PORT=str(self.port), DEMO="0", TEST_CLOCK="off",
                        BUILD=build, NGINX_INCLUDE=lua_includes(self.dir, TOP))

    def start(self):
        stackctl.start(self.dir, self.env)
        subprocess.run([sys.executable, os.path.join(TOP, "bench/gen_data.py"), "--dir", self.dir,
                        "--users", str(self.users), "--build", os.path.join(TOP, self.build)],
                       check=True)
        self.wait_config()

    def wait_config(self, seconds=15):
        """Until the pool serves the set gen_data.py published (workers check
        the version once a second; the Lua workers load it on first use)."""
        want = int(self.redis("GET", "popup:config:version"))
        deadline = time.time() + seconds
        while time.time() < deadline:
            seen = set()
            for _ in range(8):  # the answering worker varies
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/healthz")
                seen.add(json.loads(conn.getresponse().read())["config_version"])
                conn.close()
            if seen == {want}:
                return
            time.sleep(0.3)
        raise RuntimeError("the pool does not serve configuration version %d" % want)

    def stop(self):
        stackctl.stop(self.dir, self.env)
        subprocess.run(["rm", "-rf", self.dir])

    def redis(self, *args, stdin=None):
        return subprocess.run(["redis-cli", "-s", os.path.join(self.dir, "redis.sock")] + list(args),
                              stdin=stdin, capture_output=True, text=stdin is None, check=True).stdout

    def sql(self, query):
        return subprocess.run(["mariadb", "--no-defaults", "-S", os.path.join(self.dir, "mysql.sock"),
                               "-u", DB_ADMIN, "popup", "-N", "-B", "-e", query],
                              capture_output=True, text=True, check=True).stdout.split()

    def reset_users(self):
        """Every user hash as gen_data.py wrote it, no idempotency marker."""
        self.redis("EVAL", "for _,p in ipairs(ARGV) do for _,k in ipairs(redis.call('KEYS',p)) do "
                   "redis.call('UNLINK',k) end end return 0", "0", "popup:u:*", "popup:once:*")
        with open(os.path.join(self.dir, "tmp", "redis.resp"), "rb") as f:
            self.redis("--pipe", stdin=f)

    def states(self, uids):
        """{uid: {field: (next_show_at - updated_at or -1, impressions, last_action)}}:
        what a run wrote, independent of the second it wrote it in."""
        out = {}
        for uid in sorted(uids):
            flat = self.redis("--no-raw", "HGETALL", "popup:u:" + uid).split("\n")
            vals = [json.loads(x.split(") ", 1)[1]) for x in flat if ") " in x]
            h = {}
            for field, value in zip(vals[0::2], vals[1::2]):
                if field == "_":
                    h[field] = value
                    continue
                nxt, imp, act, upd = value.split(",")[:4]  # then the order stamp, if any
                h[field] = (-1 if nxt == "-1" else int(nxt) - int(upd), int(imp), act)
            out[uid] = h
        return out

    def wait_drained(self, seconds=60):
        deadline = time.time() + seconds
        while time.time() < deadline:
            waiting = int(self.redis("LLEN", "popup:events") or 0)
            for key in self.redis("KEYS", "popup:events:processing:*").split():
                waiting += int(self.redis("LLEN", key) or 0)
            if waiting == 0:
                return True
            time.sleep(0.2)
        return False


def run(port, prefix, label, seq):
    """Sends seq under prefix on one kept connection; returns the answers and
    the number of events the run should have queued."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    answers, events, used_keys = [], 0, set()
    for method, path, query, headers, body in seq:
        headers = {k: v.replace("RUN", label) for k, v in headers.items()}
        body = body.replace("RUN", label) if body is not None else None
        url = prefix + path + ("?" + query if query else "")
        conn.request(method, url, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read().decode()
        answers.append((r.status, data, r.getheader("Content-Type"), r.getheader("Cache-Control"),
                        r.getheader("Allow")))
        if method == "GET" and r.status == 200 and json.loads(data)["popup"] is not None:
            events += 1
        if method == "POST" and r.status == 202:
            key = headers.get("Idempotency-Key") or (
                body.split("action_id=")[1] if "action_id=" in body else None)
            uid = json.loads(body)["uid"] if body.startswith("{") else body.split("&")[0][4:]
            if key is None or (uid, key) not in used_keys:
                events += 1
            if key is not None:
                used_keys.add((uid, key))
    conn.close()
    return answers, events


def popup_id(answer):
    try:
        p = json.loads(answer[1])["popup"]
    except (ValueError, KeyError, TypeError):
        return "n/a"
    return p["id"] if p else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    a = ap.parse_args()
    stop_on_sigterm()
    stack = Stack(a.build, a.users)
    try:
        t0 = time.time()
        stack.start()
        ids = [int(x) for x in stack.sql(
            "SELECT id FROM popups WHERE enabled = 1 AND (ends_at IS NULL OR ends_at > "
            "UNIX_TIMESTAMP()) AND (starts_at IS NULL OR starts_at <= UNIX_TIMESTAMP())")]
        seq = sequence(a.seed, a.users, ids, a.requests)
        uids = {q.split("uid=")[1].split("&")[0] for _, _, q, _, _ in seq if q.startswith("uid=u")}
        uids |= {json.loads(b)["uid"] for _, _, _, _, b in seq if b and b.startswith('{"uid": "u')}
        uids |= {b.split("&")[0][4:] for _, _, _, _, b in seq if b and b.startswith("uid=u")}
        api, api_events = run(stack.port, "/api", "a", seq)
        api_states = stack.states(uids)
        stack.reset_users()
        lua, lua_events = run(stack.port, "/lua", "b", seq)
        lua_states = stack.states(uids)
        drained = stack.wait_drained()
        stored = int(stack.sql("SELECT COUNT(*) FROM popup_events")[0])

        same = sum(1 for x, y in zip(api, lua) if x == y)
        gets = [i for i, (m, _, _, _, _) in enumerate(seq) if m in ("GET", "HEAD") and api[i][0] == 200]
        same_id = sum(1 for i in gets if popup_id(api[i]) == popup_id(lua[i]))
        shown = sum(1 for i in gets if popup_id(api[i]) is not None and seq[i][0] == "GET")
        by_status = {}
        for x in api:
            by_status[x[0]] = by_status.get(x[0], 0) + 1
        state_diff = [u for u in uids if api_states.get(u) != lua_states.get(u)]
        print("lua_check: %d requests (statuses %s), %d answers identical (status, body, headers); "
              "popup id equal in %d of %d GET/HEAD answers (%d showed a popup)"
              % (len(seq), dict(sorted(by_status.items())), same, same_id, len(gets), shown))
        print("lua_check: user states equal after both runs for %d of %d users; events stored in "
              "MySQL %d, expected %d (/api %d + /lua %d)%s; %.0f s"
              % (len(uids) - len(state_diff), len(uids), stored, api_events + lua_events, api_events,
                 lua_events, "" if drained else ", queue NOT drained", time.time() - t0))
        bad = 0
        for i, (x, y) in enumerate(zip(api, lua)):
            if x != y:
                bad += 1
                if bad <= 10:
                    m, path, q, h, b = seq[i]
                    print("  #%d %s %s?%s %s\n    api %s\n    lua %s" % (i, m, path, q, b or "", x, y))
        for u in state_diff[:10]:
            print("  state of %s: api %s lua %s" % (u, api_states.get(u), lua_states.get(u)))
        ok = same == len(seq) and not state_diff and drained and stored == api_events + lua_events
        print("lua_check: %s" % ("PASS" if ok else "FAIL"))
        return 0 if ok else 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
