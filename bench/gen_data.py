#!/usr/bin/env python3
"""Deterministic bench data: popups with varied targeting and per-user state
for a share of the users, loaded into the stack's MariaDB and warmed into its
Redis. The same seed gives the same data on every machine.

  bench/gen_data.py --dir STACK_DIR [--users 1000000] [--popups 200]
                    [--state-share 0.2] [--seed 42] [--build build]
"""

import argparse
import os
import pwd
import random
import subprocess
import sys
import time

# The stack's MariaDB superuser: the OS user who started it, authenticated
# on the socket (the service account `popup` may only do what the service
# does; scripts/stack.sh).
DB_ADMIN = pwd.getpwuid(os.getuid()).pw_name

PLATFORMS = ["", "", "", "web", "ios", "android", "ios,android", "web,android"]
LANGS = ["", "", "", "", "en", "de,fr", "es", "it,pt", "ja"]


def popups(n, rng, now):
    rows = []
    for i in range(1, n + 1):
        platforms = rng.choice(PLATFORMS)
        minv = maxv = None
        if platforms and "web" not in platforms and rng.random() < 0.5:
            minv = "%d.%d" % (rng.randint(1, 3), rng.randint(0, 9))
            if rng.random() < 0.5:
                maxv = "%d.%d" % (rng.randint(4, 6), rng.randint(0, 9))
        starts = ends = None
        if rng.random() < 0.1:
            ends = now - rng.randint(1, 86400)          # expired
        elif rng.random() < 0.1:
            starts = now + rng.randint(3600, 86400)     # not yet
        rows.append([
            i, "bench popup %d" % i, rng.randint(0, 100), 1 if rng.random() < 0.9 else 0,
            starts, ends, platforms, minv, maxv, rng.choice(LANGS),
            rng.choice([100, 100, 100, 50, 25, 10, 0]),
            rng.choice([None, None, None, 1, 3, 10]),
            rng.choice([600, 3600, 86400]), rng.choice([3600, 86400, 604800]),
            rng.choice([None, 86400, 604800, 2592000]),
            "Title %d \"quoted\" é" % i, "Body of popup %d" % i,
            "https://cdn.example.com/p/%d.png" % i, "https://example.com/l/%d" % i,
        ])
    return rows


def tsv(v):
    if v is None:
        return "\\N"
    return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--popups", type=int, default=200)
    ap.add_argument("--state-share", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--build", default="build")
    ap.add_argument("--ttl", type=int, default=7 * 86400)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    now = int(time.time())
    t0 = time.time()
    d = os.path.abspath(a.dir)
    tmp = os.path.join(d, "tmp")
    os.makedirs(tmp, exist_ok=True)

    prow = popups(a.popups, rng, now)
    with open(os.path.join(tmp, "popups.tsv"), "w") as f:
        for r in prow:
            f.write("\t".join(tsv(v) for v in r) + "\n")

    # State for a share of users: 1-3 popups each, a mix of cooldowns.
    state_path = os.path.join(tmp, "user_state.tsv")
    resp_path = os.path.join(tmp, "redis.resp")
    n_state = 0
    with open(state_path, "w") as st, open(resp_path, "wb") as rp:
        def cmd(*args):
            parts = [b"*%d\r\n" % len(args)]
            for x in args:
                x = x if isinstance(x, bytes) else str(x).encode()
                parts.append(b"$%d\r\n%s\r\n" % (len(x), x))
            rp.write(b"".join(parts))
        for u in range(a.users):
            uid = "u%d" % u
            key = "popup:u:" + uid
            fields = ["_", "1"]
            if rng.random() < a.state_share:
                for pid in rng.sample(range(1, a.popups + 1), rng.randint(1, 3)):
                    action = rng.choice(["show", "show", "ignore", "click"])
                    nxt = -1 if action == "click" and rng.random() < 0.3 else now + rng.randint(-86400, 86400)
                    imp = rng.randint(1, 5)
                    upd = now - rng.randint(0, 86400)
                    st.write("%s\t%d\t%d\t%d\t%s\t%d\t%d\t%032x\n" %
                             (uid, pid, nxt, imp, action, upd, upd * 1_000_000, rng.getrandbits(128)))
                    fields += [str(pid), "%d,%d,%s,%d" % (nxt, imp, action, upd)]
                    n_state += 1
            # Users without state are warmed too (the "_" marker caches "no state").
            cmd("HSET", key, *fields)
            cmd("EXPIRE", key, a.ttl)

    sock = os.path.join(d, "mysql.sock")
    sql = ("SET foreign_key_checks=0; SET unique_checks=0; DELETE FROM popups; "
           "LOAD DATA LOCAL INFILE '%s' INTO TABLE popups (id, name, priority, enabled, starts_at,"
           " ends_at, platforms, min_version, max_version, langs, rollout_percent, max_impressions,"
           " show_cooldown_s, ignore_cooldown_s, click_cooldown_s, title, body, image_url, link_url);"
           " TRUNCATE user_state; TRUNCATE popup_events;"
           " LOAD DATA LOCAL INFILE '%s' INTO TABLE user_state (uid, popup_id, next_show_at,"
           " impressions, last_action, updated_at, ev_order, event_id);"
           % (os.path.join(tmp, "popups.tsv"), state_path))
    subprocess.run(["mariadb", "--no-defaults", "--local-infile=1", "-S", sock, "-u", DB_ADMIN,
                    "popup", "-e", sql], check=True)
    redis = ["redis-cli", "-s", os.path.join(d, "redis.sock")]
    subprocess.run(redis + ["EVAL", "for _,k in ipairs(redis.call('KEYS','popup:u:*')) do "
                            "redis.call('UNLINK',k) end return 0", "0"], check=True,
                   stdout=subprocess.DEVNULL)
    with open(resp_path, "rb") as f:
        subprocess.run(redis + ["--pipe"], stdin=f, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([os.path.join(a.build, "popupctl"), "--config", os.path.join(d, "popupctl.conf"),
                    "publish"], check=True, stdout=subprocess.DEVNULL)
    print("gen_data: %d users (%d state rows), %d popups loaded and warmed in %.1f s"
          % (a.users, n_state, a.popups, time.time() - t0))


if __name__ == "__main__":
    sys.exit(main())
