"""popupctl against a real stack: every verb drives the stack's
MariaDB and Redis, and what it claims is checked against them and against
GET /api/popup.

- apply validates everything before it writes (nothing written on any
  error), shows a diff (--dry-run shows only that), writes in one
  transaction and publishes; export reads back to the same popups.
- explain answers what GET answers for the same visit at the same (test)
  clock, with reasons.
- report equals counts made from the raw events after a scripted mix of
  visits and actions, also after an event is replayed; retention deletes
  old raw events in batches and the report stays the same.
- Every change leaves an audit row that `history` shows, naming the
  operator and where the name came from; `revert` brings a popup back to
  a history entry.
- A change is all or nothing: with Redis down it writes, audits and
  publishes nothing, and says so.
- Usage errors exit 2 with one line; bad content (unknown languages,
  javascript: links, empty text, markup in button_text) is refused naming
  the field, and JSON errors name the line and column.

One stack for the module; each test starts from empty popups, events,
roll-ups and audit tables and uses fresh uids."""

import calendar
import csv
import getpass
import io
import json
import os
import re
import subprocess
import tempfile
import time
import unittest

import signal

from harness import BUILD, TOP, Proc, module_stack, uid, shown

setUpModule, tearDownModule = module_stack(globals())
DAY = 86400


def ctl(*args, stdin=None, env=None, conf=None):
    """Runs popupctl with the stack's configuration (or `conf`) and `env`
    over the environment (a None value removes the variable); (rc, stdout,
    stderr)."""
    environ = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            environ.pop(k, None)
        else:
            environ[k] = v
    r = subprocess.run([os.path.join(TOP, BUILD, "popupctl"), "--config", conf or stack.ctl_conf()] +
                       [str(a) for a in args], input=stdin, capture_output=True, text=True,
                       timeout=60, env=environ)
    return r.returncode, r.stdout, r.stderr


def ctl_ok(*args, **kw):
    rc, out, err = ctl(*args, **kw)
    if rc != 0:
        raise AssertionError("popupctl %s: rc %d\n%s%s" % (" ".join(map(str, args)), rc, out, err))
    return out


def ctl_json(*args):
    return json.loads(ctl_ok("--json", *args))


def published(out):
    """The version a command's "published version N" line names."""
    return int(out.split("published version ", 1)[1].split()[0])


def reset():
    """Empty popups, events, roll-ups and audit, published: the known state."""
    stack.wait_drained()
    stack.sql("DELETE FROM popups; DELETE FROM popup_events; DELETE FROM popup_daily;"
              " DELETE FROM popup_daily_users; DELETE FROM popup_audit; DELETE FROM user_state")
    stack.publish()
    stack.sql("DELETE FROM popup_audit")


def write_file(popups, extra=None):
    doc = {"popups": popups}
    doc.update(extra or {})
    f = tempfile.NamedTemporaryFile("w", suffix=".json", dir=stack.dir, delete=False)
    json.dump(doc, f)
    f.close()
    return f.name


def apply(popups):
    out = ctl_ok("apply", write_file(popups))
    stack.wait_config(published(out))
    return out


def row_count(table):
    return stack.sql_int("SELECT COUNT(*) FROM %s" % table)


SALE = {"id": 1, "name": "Winter sale", "priority": 10, "enabled": True,
        "starts_at": "2026-12-01T00:00:00+01:00", "ends_at": "2027-01-01T00:00:00Z",
        "platforms": ["web", "ios"], "min_version": "2.0", "max_version": None,
        "langs": ["de", "EN"], "rollout_percent": 50, "max_impressions": 3,
        "show_cooldown_s": 3600, "ignore_cooldown_s": 7200, "click_cooldown_s": None,
        "title": "It's \"-50%\" \\ é", "body": "line 1\nline 2", "image_url": "",
        "link_url": "https://example.com/sale"}
NEWS = {"id": 2, "name": "Newsletter", "title": "Join", "body": "Our weekly letter."}


class Authoring(unittest.TestCase):
    def setUp(self):
        reset()

    def test_apply_then_export_round_trips_and_a_second_apply_changes_nothing(self):
        out = apply([SALE, NEWS])
        self.assertIn("2 to create, 0 to update, 0 unchanged", out)
        self.assertEqual(stack.sql("SELECT starts_at, ends_at, platforms, langs, min_version,"
                                   " click_cooldown_s FROM popups WHERE id = 1"),
                         [["1796079600", "1798761600", "web,ios", "de,en", "2", "NULL"]])
        self.assertEqual(stack.sql("SELECT title, body FROM popups WHERE id = 1"),
                         [[SALE["title"].replace("\\", "\\\\"), "line 1\\nline 2"]])
        exported = ctl_ok("export")
        doc = json.loads(exported)
        self.assertEqual([p["id"] for p in doc["popups"]], [1, 2])
        sale = doc["popups"][0]
        self.assertEqual(sale["starts_at"], "2026-11-30T23:00:00Z")
        self.assertEqual(sale["langs"], ["de", "en"])
        self.assertEqual(sale["title"], SALE["title"])
        self.assertEqual(sale["body"], SALE["body"])
        self.assertEqual(doc["popups"][1]["rollout_percent"], 100)
        version = stack.sql_int("SELECT version FROM config_meta")
        path = os.path.join(stack.dir, "exported.json")
        ctl_ok("export", "--out", path)
        with open(path) as f:
            self.assertEqual(f.read(), exported)
        out = ctl_ok("apply", path)
        self.assertIn("0 to create, 0 to update, 2 unchanged", out)
        self.assertIn("nothing to change", out)
        self.assertEqual(stack.sql_int("SELECT version FROM config_meta"), version)
        # export | edit | apply: one field changes, the rest stays.
        doc["popups"][1]["title"] = "Join us"
        out = ctl_ok("apply", "-", stdin=json.dumps(doc))
        self.assertIn("0 to create, 1 to update, 1 unchanged", out)
        self.assertIn('title: "Join" -> "Join us"', out)
        stack.wait_config(published(out))
        self.assertEqual(stack.get_popup(uid()).json()["popup"]["title"], "Join us")

    def test_validation_errors_name_file_popup_and_field_and_write_nothing(self):
        apply([NEWS])
        before = stack.sql("SELECT * FROM popups")
        version = stack.sql_int("SELECT version FROM config_meta")
        audit = row_count("popup_audit")
        good = write_file([dict(SALE)])
        bad = write_file([
            dict(NEWS, title="changed"),
            {"id": 3, "name": "", "platforms": ["web", "tv"], "rollout_percent": 101,
             "starts_at": "2026-12-01 10:00", "min_version": "1.x", "colour": "red"},
            {"id": 4, "name": "x", "starts_at": "2026-12-02T00:00:00Z",
             "ends_at": "2026-12-01T00:00:00Z", "enabled": 1},
            {"id": 1, "name": "same id as in the other file", "title": "t", "body": "b"},
        ])
        rc, out, err = ctl("apply", good, bad)
        self.assertEqual(rc, 1, err)
        b = os.path.basename(bad)
        for needle in ["popup 3 (#2): name: must not be empty",
                       "popup 3 (#2): platforms: unknown platform \"tv\"",
                       "popup 3 (#2): rollout_percent: must be an integer from 0 to 100",
                       "popup 3 (#2): starts_at: must be an ISO-8601 time",
                       "popup 3 (#2): min_version: must be a dotted version",
                       "popup 3 (#2): colour: is not a popup field",
                       "popup 4 (#3): ends_at: must be after starts_at",
                       "popup 4 (#3): enabled: must be true or false",
                       "popup 1: id: given more than once"]:
            self.assertIn(needle, err)
        self.assertIn(b + ": popup 3 (#2)", err)
        self.assertIn("nothing was written", err)
        self.assertEqual(out, "")
        self.assertEqual(stack.sql("SELECT * FROM popups"), before)
        self.assertEqual(stack.sql_int("SELECT version FROM config_meta"), version)
        self.assertEqual(row_count("popup_audit"), audit)
        rc, _, err = ctl("apply", write_file([NEWS], {"popup": []}))
        self.assertEqual(rc, 1)
        self.assertIn("popup: is not a file field", err)
        rc, _, err = ctl("apply", os.path.join(stack.dir, "no-such.json"))
        self.assertEqual(rc, 1)
        self.assertIn("cannot read", err)
        rc, _, err = ctl("apply", "-", stdin="{not json")
        self.assertEqual(rc, 1)
        self.assertIn("-: not valid JSON at line 1, column 2: ", err)

    def test_the_readme_example_file_applies(self):
        out = ctl_ok("apply", "--dry-run", os.path.join(TOP, "ctl/examples/popups.json"))
        self.assertIn("2 to create, 0 to update, 0 unchanged", out)

    def test_dry_run_prints_the_difference_and_writes_nothing(self):
        apply([NEWS])
        before = stack.sql("SELECT * FROM popups")
        audit = row_count("popup_audit")
        version = stack.sql_int("SELECT version FROM config_meta")
        path = write_file([dict(NEWS, title="Join now", rollout_percent=20), SALE])
        out = ctl_ok("apply", "--dry-run", path)
        self.assertIn("+ 1 Winter sale\n", out)
        self.assertIn("    rollout_percent: 50\n", out)
        self.assertIn("~ 2 Newsletter\n", out)
        self.assertIn('    title: "Join" -> "Join now"\n', out)
        self.assertIn("    rollout_percent: 100 -> 20\n", out)
        self.assertIn("1 to create, 1 to update, 0 unchanged", out)
        self.assertNotIn("published", out)
        diff = ctl_json("apply", "--dry-run", path)
        self.assertEqual((diff["create"], diff["update"], diff["unchanged"]), (1, 1, 0))
        self.assertEqual(sorted(f["field"] for f in diff["changes"][1]["fields"]),
                         ["rollout_percent", "title"])
        self.assertEqual(stack.sql("SELECT * FROM popups"), before)
        self.assertEqual(row_count("popup_audit"), audit)
        self.assertEqual(stack.sql_int("SELECT version FROM config_meta"), version)


# Text that breaks SQL built by hand: quotes, backslashes, a comment, a
# statement of its own, a Ctrl-Z and non-ASCII.
HOSTILE = "x'; DROP TABLE popups; -- \\' \\\\ \" \x1a é"


class BoundParameters(unittest.TestCase):
    """popupctl's statements carry their values as bound parameters of
    prepared statements (lib/mysql Statement), never as SQL text."""

    def setUp(self):
        reset()

    def general_log(self, on):
        if on:
            stack.sql("TRUNCATE mysql.general_log; SET GLOBAL log_output = 'TABLE';"
                      " SET GLOBAL general_log = 1")
        else:
            stack.sql("SET GLOBAL general_log = 0")

    def test_hostile_text_round_trips_and_reaches_mysql_only_as_bound_values(self):
        popup = {"id": 7, "name": HOSTILE, "title": HOSTILE, "body": HOSTILE + "\nline 2",
                 "link_url": "https://example.com/?q=" + HOSTILE}
        before = stack.status_counter("Com_stmt_execute")
        self.general_log(True)
        try:
            apply([popup])
            disabled = published(ctl_ok("disable", "7"))
            ctl_ok("history", "7")
            ctl_ok("report", "--popup", "7", "--from", "2026-01-01", "--until", "2030-01-01")
            ctl_ok("retention", "--days", "1")
        finally:
            self.general_log(False)
        # The upsert and the audit row (apply), the same for disable, the
        # history, three report queries, retention's DELETE and its audit.
        self.assertGreaterEqual(stack.status_counter("Com_stmt_execute") - before, 10)
        # Every statement popupctl sent as text is free of the values: they
        # reached the server only with Execute (bound parameters).
        rows = stack.sql("SELECT command_type, argument FROM mysql.general_log"
                         " WHERE argument LIKE '%DROP TABLE popups%'")
        self.assertTrue(rows)
        self.assertEqual({r[0] for r in rows}, {"Execute"}, rows[:5])
        for text in ("INSERT INTO popups", "INSERT INTO popup_audit", "DELETE FROM popup_events",
                     "FROM popup_audit WHERE popup_id", "FROM popup_daily d WHERE"):
            kinds = {r[0] for r in stack.sql("SELECT command_type FROM mysql.general_log"
                                             " WHERE argument LIKE '%%%s%%'" % text)}
            self.assertIn("Prepare", kinds, text)
            self.assertNotIn("Query", kinds, text)
        stack.sql("TRUNCATE mysql.general_log")
        # Nothing was dropped, and the text round-trips byte for byte.
        self.assertEqual(row_count("popups"), 1)
        got = json.loads(ctl_ok("export"))["popups"][0]
        for field in ("name", "title", "body", "link_url"):
            self.assertEqual(got[field], popup[field], field)
        self.assertFalse(got["enabled"])
        stack.wait_config(disabled)
        self.assertEqual(shown(stack.get_popup(uid("hostile"))), None)
        stack.wait_config(published(ctl_ok("enable", "7")))
        r = stack.get_popup(uid("hostile"))
        self.assertEqual(r.json()["popup"]["title"], HOSTILE)
        history = ctl_json("history", "7")
        self.assertEqual([h["command"] for h in history], ["apply", "disable", "enable"])
        self.assertEqual(history[0]["after"]["title"], HOSTILE)


class Verbs(unittest.TestCase):
    def setUp(self):
        reset()
        apply([dict(SALE, starts_at=None, ends_at=None, rollout_percent=100), NEWS])

    def test_help_version_and_usage_errors(self):
        for argv in (["--help"], ["-h"], ["help"], ["list", "--help"]):
            r = subprocess.run([os.path.join(TOP, BUILD, "popupctl")] + argv, capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 0, argv)
            self.assertIn("usage: popupctl", r.stdout)
            self.assertEqual(r.stderr, "")
        r = subprocess.run([os.path.join(TOP, BUILD, "popupctl"), "--version"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("popupctl "), r.stdout)
        for argv in (["frobnicate"], ["show"], ["show", "1", "2"], ["list", "--bogus"],
                     ["rollout", "1", "101"], ["show", "x"], ["schedule", "1"],
                     ["explain"], ["report", "--popup"], [], ["schedule", "1", "--from", "tomorrow"],
                     ["report", "--from", "yesterday"], ["report", "--popup", "0"],
                     ["revert", "1", "x"], ["history", "x"], ["--by", "", "list"]):
            rc, out, err = ctl(*argv)
            self.assertEqual(rc, 2, "%s: %s" % (argv, err))
            self.assertEqual(out, "")
            # One line naming the problem and pointing at --help, not the whole help.
            self.assertRegex(err, r"^popupctl: [^\n]+ \(see popupctl --help\)\n$", argv)
        rc, _, err = ctl("show", "99")
        self.assertEqual(rc, 1)
        self.assertIn("no popup 99", err)

    def test_list_and_show(self):
        ctl_ok("schedule", "2", "--from", "2030-01-01T00:00:00Z")
        out = ctl_ok("list")
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("ID"))
        self.assertRegex(lines[1], r"^1 +Winter sale +yes +always +web,ios v2\.\.\* de,en +100% live$")
        self.assertRegex(lines[2], r"^2 +Newsletter +yes +from 2030-01-01T00:00:00Z +everyone +100% "
                                   r"no: not started: starts 2030-01-01T00:00:00Z$")
        listed = ctl_json("list")
        self.assertEqual([(p["id"], p["live"]) for p in listed], [(1, True), (2, False)])
        self.assertEqual(listed[1]["not_live_because"], ["not started: starts 2030-01-01T00:00:00Z"])
        shown_doc = json.loads(ctl_ok("show", "1"))
        self.assertEqual(shown_doc["popups"][0]["name"], "Winter sale")
        self.assertEqual(ctl_json("show", "1")["max_impressions"], 3)

    def test_enable_disable_schedule_rollout_take_effect_in_the_service(self):
        u = uid()
        self.assertEqual(shown(stack.get_popup(u, version="2.1", lang="de")), 1)
        out = ctl_ok("disable", "1")
        stack.wait_config(published(out))
        self.assertEqual(stack.sql_int("SELECT enabled FROM popups WHERE id = 1"), 0)
        self.assertEqual(shown(stack.get_popup(uid(), version="2.1", lang="de")), 2)
        self.assertIn("unchanged", ctl_ok("disable", "1"))
        stack.wait_config(published(ctl_ok("enable", "1")))
        self.assertEqual(shown(stack.get_popup(uid(), version="2.1", lang="de")), 1)
        out = ctl_ok("schedule", "1", "--from", "2027-01-01T00:00:00+02:00", "--until", "2027-02-01T00:00:00Z")
        stack.wait_config(published(out))
        self.assertEqual(stack.sql("SELECT starts_at, ends_at FROM popups WHERE id = 1"),
                         [["1798754400", "1801440000"]])
        self.assertEqual(shown(stack.get_popup(uid(), now=1798754399, version="2.1", lang="de")), 2)
        self.assertEqual(shown(stack.get_popup(uid(), now=1798754400, version="2.1", lang="de")), 1)
        rc, _, err = ctl("schedule", "1", "--until", "2026-01-01T00:00:00Z")
        self.assertEqual(rc, 1)
        self.assertIn("ends_at: must be after starts_at", err)
        rc, _, err = ctl("schedule", "1", "--from", "tomorrow")
        self.assertEqual(rc, 2)
        ctl_ok("schedule", "1", "--from", "none", "--until", "none")
        self.assertEqual(stack.sql("SELECT starts_at, ends_at FROM popups WHERE id = 1"), [["NULL", "NULL"]])
        stack.wait_config(published(ctl_ok("rollout", "1", "0")))
        self.assertEqual(stack.sql_int("SELECT rollout_percent FROM popups WHERE id = 1"), 0)
        self.assertEqual(shown(stack.get_popup(uid(), version="2.1", lang="de")), 2)

    def test_delete_only_without_events_and_publish(self):
        u = uid()
        self.assertEqual(shown(stack.get_popup(u, version="2.1", lang="de")), 1)
        self.assertTrue(stack.wait_for(lambda: row_count("popup_events") == 1))
        rc, _, err = ctl("delete", "1")
        self.assertEqual(rc, 1)
        self.assertIn("disable it instead", err)
        self.assertEqual(row_count("popups"), 2)
        out = ctl_ok("delete", "2")
        stack.wait_config(published(out))
        self.assertEqual(stack.sql("SELECT id FROM popups"), [["1"]])
        self.assertEqual(json.loads(stack.redis_raw("GET", "popup:config:set"))["popups"][0]["id"], 1)
        stack.sql("UPDATE popups SET title = 'by SQL' WHERE id = 1")
        out = ctl_ok("publish")
        stack.wait_config(published(out))
        self.assertEqual(stack.get_popup(uid(), version="2.1", lang="de").json()["popup"]["title"], "by SQL")
        self.assertEqual(ctl_json("publish")["popups"], 1)


class Explain(unittest.TestCase):
    NOW = 1_800_000_000

    def setUp(self):
        reset()
        apply([
            {"id": 1, "name": "ios only", "priority": 50, "platforms": ["ios"], "title": "a", "body": "text a"},
            {"id": 2, "name": "german 2.x", "priority": 40, "langs": ["de"], "min_version": "2",
             "max_version": "2.9", "title": "b", "body": "text b"},
            {"id": 3, "name": "half", "priority": 30, "rollout_percent": 50, "title": "c", "body": "text c",
             "show_cooldown_s": 600},
            {"id": 4, "name": "later", "priority": 20, "starts_at": "2027-06-01T00:00:00Z", "title": "d", "body": "text d"},
            {"id": 5, "name": "off", "priority": 15, "enabled": False, "title": "e", "body": "text e"},
            {"id": 6, "name": "fallback", "priority": 10, "max_impressions": 1, "title": "f", "body": "text f",
             "click_cooldown_s": None},
        ])

    def explain(self, u, at, **visit):
        args = ["explain", "--uid", u, "--at", at]
        for k, v in visit.items():
            args += ["--" + k, v]
        return ctl_json(*args)

    def test_explain_answers_what_get_answers_for_the_same_visit_and_time(self):
        visits = [{}, {"platform": "ios"}, {"lang": "de", "version": "2.5"},
                  {"lang": "DE", "version": "3.0"}, {"platform": "android", "lang": "fr"}]
        checked = 0
        for i in range(6):
            for visit in visits:
                u = uid("x")
                seen = {}
                for step in range(3):
                    at = self.NOW + step * 700
                    before = self.explain(u, at, **visit)
                    got = shown(stack.get_popup(u, now=at, **visit))
                    self.assertEqual(before["answer"], got, (u, visit, at, before))
                    checked += 1
                    if got is None:
                        continue
                    # Wait until the impression reaches the state explain reads.
                    seen[got] = seen.get(got, 0) + 1
                    self.assertTrue(stack.wait_for(lambda: (self.verdict(
                        self.explain(u, at, **visit), got)["state"] or {}).get("impressions") == seen[got]))
        self.assertEqual(checked, 90)

    @staticmethod
    def verdict(e, pid):
        return [p for p in e["popups"] if p["id"] == pid][0]

    def test_reasons_name_each_rule(self):
        u = uid("r")
        e = self.explain(u, self.NOW, platform="web")
        v = {p["id"]: p for p in e["popups"]}
        self.assertIn("platform web not in ios", v[1]["reasons"])
        self.assertIn("no version given; the popup wants 2..2.9", v[2]["reasons"])
        self.assertIn("no language given; the popup wants de", v[2]["reasons"])
        self.assertIn("not started: starts 2027-06-01T00:00:00Z", v[4]["reasons"])
        self.assertIn("disabled", v[5]["reasons"])
        bucket = v[3]["bucket"]
        if bucket >= 50:
            self.assertIn("rollout: bucket %d is not below 50%%" % bucket, v[3]["reasons"])
            self.assertEqual(e["answer"], 6)
        else:
            self.assertEqual(e["answer"], 3)
            self.assertIn("eligible, but popup 3 comes first (priority)", v[6]["reasons"])
        self.assertEqual([p["id"] for p in e["popups"]], [1, 2, 3, 4, 5, 6])
        # The user's stored state: a cap, a click that ends it, a cooldown.
        ctl_ok("disable", "3")
        stack.wait_config(stack.sql_int("SELECT version FROM config_meta"))
        self.assertEqual(shown(stack.get_popup(u, now=self.NOW)), 6)
        self.assertTrue(stack.wait_for(lambda: "impressions cap reached: 1 of 1" in
                                       self.verdict(self.explain(u, self.NOW + 5), 6)["reasons"]))
        self.assertEqual(stack.act(u, 6, "click", now=self.NOW + 6).status, 202)
        self.assertTrue(stack.wait_for(lambda: "never again after a click" in
                                       self.verdict(self.explain(u, self.NOW + 7), 6)["reasons"]))
        text = ctl_ok("explain", "--uid", u, "--at", "2027-01-15T08:00:10Z")
        self.assertIn("answer: no popup", text)
        self.assertIn("  6  fallback  not shown: never again after a click; impressions cap reached: 1 of 1", text)
        rc, _, err = ctl("explain", "--uid", "bad uid!")
        self.assertEqual(rc, 2)
        rc, _, err = ctl("explain", "--uid", "u", "--at", "yesterday")
        self.assertEqual(rc, 2)


class Reports(unittest.TestCase):
    def setUp(self):
        reset()
        apply([{"id": 1, "name": "one", "priority": 20, "rollout_percent": 70, "title": "a", "body": "text a",
                "show_cooldown_s": 3000, "ignore_cooldown_s": 3000, "click_cooldown_s": 3000},
               {"id": 2, "name": "two", "priority": 10, "title": "b", "body": "text b", "show_cooldown_s": 3000,
                "ignore_cooldown_s": 3000, "click_cooldown_s": 3000}])
        # Days relative to the real clock, so that retention has old and new ones.
        today = int(time.time()) // DAY * DAY
        self.days = [today - 40 * DAY, today - 39 * DAY, today - 1 * DAY]

    def visit_mix(self):
        """Visits and actions over three days by 30 users: deterministic in
        kind, with what GET returns deciding what is clicked or ignored."""
        http = stack.http()
        for d, day in enumerate(self.days):
            for i in range(30):
                u = "rep%d" % i
                for k in range(3):
                    at = day + 3600 + k * 3600 + i
                    got = shown(stack.get_popup(u, now=at, conn=http))
                    if got and (i + k + d) % 3 == 0:
                        self.assertEqual(stack.act(u, got, "click", now=at + 5, conn=http).status, 202)
                    elif got and (i + k + d) % 3 == 1:
                        self.assertEqual(stack.act(u, got, "ignore", now=at + 5, conn=http).status, 202)
        http.close()
        self.assertTrue(stack.wait_drained())

    def raw_counts(self):
        """Per (popup, day) from the raw event log: the numbers to match."""
        rows = stack.sql("SELECT popup_id, DATE('1970-01-01' + INTERVAL ts SECOND), SUM(kind='show'),"
                         " COUNT(DISTINCT IF(kind='show', uid, NULL)), SUM(kind='click'),"
                         " SUM(kind='ignore') FROM popup_events GROUP BY 1, 2 ORDER BY 1, 2")
        return {(int(r[0]), r[1]): tuple(int(x) for x in r[2:]) for r in rows}

    def test_report_equals_counts_from_the_raw_events_and_survives_replay_and_retention(self):
        self.visit_mix()
        raw = self.raw_counts()
        self.assertGreater(sum(v[0] for v in raw.values()), 100)
        self.assertGreater(sum(v[2] for v in raw.values()), 10)
        self.assertGreater(sum(v[3] for v in raw.values()), 10)
        rep = ctl_json("report")
        got = {(d["popup_id"], d["day"]): (d["impressions"], d["unique_users"], d["clicks"], d["ignores"])
               for d in rep["days"]}
        self.assertEqual(got, raw)
        for p in rep["popups"]:
            pid = p["popup_id"]
            total = stack.sql("SELECT SUM(kind='show'), COUNT(DISTINCT IF(kind='show', uid, NULL)),"
                              " SUM(kind='click'), SUM(kind='ignore') FROM popup_events"
                              " WHERE popup_id = %d" % pid)[0]
            self.assertEqual((p["impressions"], p["unique_users"], p["clicks"], p["ignores"]),
                             tuple(int(x) for x in total))
            self.assertAlmostEqual(p["ctr"], p["clicks"] / p["impressions"])
        self.assertEqual(rep["total"]["unique_users"],
                         stack.sql_int("SELECT COUNT(DISTINCT uid) FROM popup_events WHERE kind='show'"))
        # CSV and the --popup / --from / --until filters say the same.
        rows = list(csv.DictReader(io.StringIO(ctl_ok("report", "--csv"))))
        self.assertEqual(rows[-1]["popup_id"], "all")
        self.assertEqual(int(rows[-1]["impressions"]), rep["total"]["impressions"])
        first_day = time.strftime("%Y-%m-%d", time.gmtime(self.days[0]))
        one = ctl_json("report", "--popup", 1, "--from", first_day, "--until", first_day)
        self.assertEqual([(d["popup_id"], d["day"]) for d in one["days"]], [(1, first_day)])
        self.assertEqual(one["days"][0]["impressions"], raw[(1, first_day)][0])
        text = ctl_ok("report")
        self.assertIn("all      total", text)
        # A replayed event (the writer's idempotency) counts nothing.
        ev = stack.sql("SELECT event_id, uid, popup_id, kind, ts, ev_order, next_show_at, impressions"
                       " FROM popup_events WHERE kind = 'click' LIMIT 1")[0]
        item = json.dumps({"id": ev[0], "uid": ev[1], "popup_id": int(ev[2]), "kind": ev[3],
                           "ts": int(ev[4]), "order": int(ev[5]), "next_show_at": int(ev[6]),
                           "impressions": int(ev[7]), "last_action": ev[3]})
        stack.redis("LPUSH", "popup:events", item)
        self.assertTrue(stack.wait_drained())
        self.assertEqual(ctl_json("report"), rep)
        # A chart of one popup's days.
        png = os.path.join(stack.dir, "chart.png")
        ctl_ok("chart", "1", "--out", png)
        with open(png, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        rc, _, err = ctl("chart", "2", "--from", "2000-01-01", "--until", "2000-01-02")
        self.assertEqual(rc, 1)
        self.assertIn("no recorded days", err)
        # Retention: the two old days' raw events go, in batches; roll-ups stay.
        old = stack.sql_int("SELECT COUNT(*) FROM popup_events WHERE ts < %d" % (self.days[2] - DAY))
        recent = row_count("popup_events") - old
        out = ctl_json("retention", "--days", 30, "--batch", 7)
        self.assertEqual(out["deleted"], old)
        self.assertEqual(row_count("popup_events"), recent)
        self.assertEqual(ctl_json("report"), rep)
        self.assertEqual(ctl_json("retention", "--days", 30)["deleted"], 0)
        history = ctl_json("history")
        self.assertEqual([h["command"] for h in history if h["command"] == "retention"],
                         ["retention", "retention"])


class Audit(unittest.TestCase):
    def setUp(self):
        reset()

    def test_every_change_is_recorded_with_who_when_before_and_after(self):
        start = int(time.time())
        apply([NEWS])
        ctl_ok("disable", "2")
        ctl_ok("rollout", "2", "30")
        ctl_ok("schedule", "2", "--until", "2030-01-01T00:00:00Z")
        apply([dict(NEWS, title="Join us", rollout_percent=30, enabled=False,
                    ends_at="2030-01-01T00:00:00Z")])
        ctl_ok("enable", "2")
        ctl_ok("delete", "2")
        ctl_ok("publish")
        rc, _, _ = ctl("rollout", "2", "40")  # no popup 2 any more: no row
        self.assertEqual(rc, 1)
        history = ctl_json("history")
        self.assertEqual([(h["command"], h["popup_id"]) for h in history],
                         [("apply", 2), ("disable", 2), ("rollout", 2), ("schedule", 2),
                          ("apply", 2), ("enable", 2), ("delete", 2), ("publish", None)])
        me = getpass.getuser()
        for h in history:
            self.assertTrue(h["os_user"].startswith(os.environ.get("SUDO_USER") or me), h)
            at = calendar.timegm(time.strptime(h["at"], "%Y-%m-%dT%H:%M:%SZ"))
            self.assertLessEqual(abs(at - start), 120)
        self.assertIsNone(history[0]["before"])
        self.assertEqual(history[0]["after"]["title"], "Join")
        self.assertEqual((history[1]["before"]["enabled"], history[1]["after"]["enabled"]), (True, False))
        self.assertEqual((history[2]["before"]["rollout_percent"], history[2]["after"]["rollout_percent"]),
                         (100, 30))
        self.assertEqual(history[3]["after"]["ends_at"], "2030-01-01T00:00:00Z")
        self.assertEqual(history[4]["after"]["title"], "Join us")
        self.assertEqual(history[6]["before"]["id"], 2)
        self.assertIsNone(history[6]["after"])
        text = ctl_ok("history", "2")
        self.assertIn("disable popup 2\n    enabled: true -> false\n", text)
        self.assertIn('apply popup 2\n    title: "Join" -> "Join us"\n', text)
        self.assertNotIn("publish", text)
        self.assertIn("created: ", text)
        self.assertIn("deleted: ", text)



class AllOrNothing(unittest.TestCase):
    """With Redis down a change writes nothing (popups, audit, version) and
    says so; once Redis answers the same command does all three."""

    def setUp(self):
        reset()
        stack.wait_config(published(apply([dict(NEWS, id=101)])))

    def test_a_change_with_redis_down_writes_nothing_and_says_so(self):
        before = stack.sql("SELECT * FROM popups")
        version = stack.sql_int("SELECT version FROM config_meta")
        audit = row_count("popup_audit")
        redis = Proc(stack, "redis-server", "redis.log", pidfile="redis.pid",
                     argv=["redis-server", stack.path("redis.conf")])
        redis.kill(signal.SIGKILL)
        try:
            for argv in (["disable", "101"], ["rollout", "101", "5"], ["publish"],
                         ["apply", write_file([dict(NEWS, id=101, title="changed")])]):
                rc, out, err = ctl(*argv)
                self.assertEqual(rc, 1, argv)
                self.assertIn("nothing was written", err, argv)
                self.assertIn("Redis answers", err, argv)
                self.assertNotIn("published version", out, argv)
            self.assertEqual(stack.sql("SELECT * FROM popups"), before)
            self.assertEqual(stack.sql_int("SELECT version FROM config_meta"), version)
            self.assertEqual(row_count("popup_audit"), audit)
            # The tool agrees with the service: the popup is still enabled.
            self.assertEqual([p["enabled"] for p in ctl_json("list")], [True])
        finally:
            redis.start()
        stack.wait_healthy()
        self.assertEqual(shown(stack.get_popup(uid())), 101)
        out = ctl_ok("disable", "101")
        self.assertIn("written, audited and published version", out)
        stack.wait_config(published(out))
        self.assertEqual(shown(stack.get_popup(uid())), None)
        self.assertEqual([h["command"] for h in ctl_json("history", "101")], ["apply", "disable"])


class Operator(unittest.TestCase):
    """The audit trail names the operator and where the name came from."""

    def setUp(self):
        reset()
        apply([NEWS])

    def last(self):
        h = ctl_json("history")[-1]
        return h["os_user"], h["os_user_from"]

    def test_by_then_sudo_user_then_the_configured_name_then_user(self):
        ctl_ok("--by", "Alice Admin", "rollout", "2", "10", env={"SUDO_USER": "bob"})
        self.assertEqual(self.last(), ("Alice Admin", "--by"))
        ctl_ok("rollout", "2", "20", env={"SUDO_USER": "bob", "USER": "root"})
        self.assertEqual(self.last(), ("bob", "SUDO_USER"))
        conf = os.path.join(stack.dir, "popupctl-named.conf")
        with open(stack.ctl_conf()) as f, open(conf, "w") as g:
            g.write(f.read() + "\nctl_operator = ops-team\n")
        rc, out, err = ctl("rollout", "2", "30", env={"SUDO_USER": None, "USER": "root"}, conf=conf)
        self.assertEqual(rc, 0, err)
        self.assertIn("by ops-team (from ctl_operator)", out)
        self.assertEqual(self.last(), ("ops-team", "ctl_operator"))
        ctl_ok("rollout", "2", "40", env={"SUDO_USER": None, "USER": "carol"})
        self.assertEqual(self.last(), ("carol", "USER"))
        self.assertIn("carol (USER) rollout popup 2", ctl_ok("history", "2"))
        rc, _, err = ctl("rollout", "2", "50", env={"SUDO_USER": "bad\x01name"})
        self.assertEqual(rc, 1)
        self.assertIn("SUDO_USER: the name must not contain control characters", err)
        self.assertEqual(stack.sql_int("SELECT rollout_percent FROM popups WHERE id = 2"), 40)


class Messages(unittest.TestCase):
    def setUp(self):
        reset()
        apply([NEWS])

    def test_errors_name_the_place_once(self):
        rc, _, err = ctl("apply", "-", stdin='{"popups": [\n  {"id": 2,\n   "name": x}\n]}')
        self.assertEqual(rc, 1)
        self.assertIn("popupctl: error: -: not valid JSON at line 3, column 12: syntax error", err)
        ctl_ok("schedule", "2", "--from", "2027-01-01T00:00:00Z")
        rc, _, err = ctl("schedule", "2", "--until", "2026-01-01T00:00:00Z")
        self.assertEqual(rc, 1)
        self.assertEqual(err, "popupctl: popup 2: ends_at: must be after starts_at; nothing was written\n")

    def test_content_rules_refuse_the_file_naming_the_field(self):
        before = stack.sql("SELECT * FROM popups")
        audit = row_count("popup_audit")
        path = write_file([dict(NEWS, langs=["english"], link_url="javascript:alert(1)",
                                title="", body="", button_text="<b>Go</b>"),
                           dict(SALE, image_url="data:image/png;base64,AA", button_text="x" * 41)])
        rc, out, err = ctl("apply", path)
        self.assertEqual(rc, 1)
        for needle in ['popup 2 (#1): langs: "english" is not a language code',
                       "popup 2 (#1): link_url: must be an http(s) URL or a relative one, not a javascript: URL",
                       "popup 2 (#1): title: must not be empty",
                       "popup 2 (#1): body: must not be empty",
                       "popup 2 (#1): button_text: must be plain text",
                       "popup 1 (#2): image_url: must be an http(s) URL or a relative one",
                       "popup 1 (#2): button_text: must be at most 40 characters"]:
            self.assertIn(needle, err)
        self.assertIn("nothing was written", err)
        self.assertEqual(out, "")
        self.assertEqual(stack.sql("SELECT * FROM popups"), before)
        self.assertEqual(row_count("popup_audit"), audit)

    def test_report_json_numbers_are_plain_decimals(self):
        stack.sql("INSERT INTO popup_daily (day, popup_id, impressions, clicks, ignores) VALUES"
                  " ('2026-11-01', 2, 2, 1, 0), ('2026-11-01', 3, 0, 0, 0)")
        text = ctl_ok("--json", "report", "--from", "2026-11-01", "--until", "2026-11-01")
        self.assertNotRegex(text, r"[0-9][eE][-+]?[0-9]")
        self.assertIn('"ctr":0.5}', text)
        self.assertIn('"ctr":0}', text)
        self.assertEqual(json.loads(text)["total"]["ctr"], 0.5)


class ButtonText(unittest.TestCase):
    def setUp(self):
        reset()

    def test_button_text_reaches_the_answer_and_is_absent_without_one(self):
        out = apply([dict(NEWS, button_text="Jetzt lesen \u2013 gratis")])
        self.assertEqual(stack.sql("SELECT button_text FROM popups WHERE id = 2"), [["Jetzt lesen \u2013 gratis"]])
        self.assertEqual(stack.get_popup(uid()).json()["popup"]["button_text"], "Jetzt lesen \u2013 gratis")
        self.assertEqual(ctl_json("show", "2")["button_text"], "Jetzt lesen \u2013 gratis")
        out = apply([dict(NEWS, button_text="")])
        self.assertIn('button_text: "Jetzt lesen \u2013 gratis" -> ""', out)
        self.assertNotIn("button_text", stack.get_popup(uid()).json()["popup"])


class Revert(unittest.TestCase):
    def setUp(self):
        reset()

    def test_revert_brings_back_a_history_entry_and_refuses_other_entries(self):
        apply([NEWS, SALE])
        ctl_ok("rollout", "2", "30")
        apply([dict(NEWS, title="Join us", rollout_percent=30, button_text="Sign up")])
        ctl_ok("disable", "2")
        history = ctl_json("history", "2")
        first = history[0]["id"]
        out = ctl_ok("revert", "2", "#%d" % first)
        self.assertIn("reverting popup 2 to history entry #%d" % first, out)
        stack.wait_config(published(out))
        self.assertEqual(ctl_json("show", "2"), json.loads(json.dumps(history[0]["after"])))
        r = stack.get_popup(uid(), version="2.1", lang="fr").json()["popup"]
        self.assertEqual((r["id"], r["title"]), (2, "Join"))
        self.assertNotIn("button_text", r)
        last = ctl_json("history", "2")[-1]
        self.assertEqual((last["command"], last["after"]), ("revert", history[0]["after"]))
        self.assertEqual(last["before"]["enabled"], False)
        self.assertIn("unchanged", ctl_ok("revert", "2", str(first)))
        audit = row_count("popup_audit")
        sale = [h for h in ctl_json("history", "1")][0]["id"]
        for argv, needle in ((["revert", "2", sale], "is not a change of popup 2"),
                             (["revert", "2", "999999"], "there is no history entry #999999")):
            rc, _, err = ctl(*argv)
            self.assertEqual(rc, 1, argv)
            self.assertIn(needle, err)
        self.assertEqual(row_count("popup_audit"), audit)
        # A deleted popup (one nobody saw, so delete takes it) comes back
        # from an entry before its deletion, not from the deletion.
        apply([dict(NEWS, id=3, enabled=False, title="Three")])
        created = ctl_json("history", "3")[-1]["id"]
        ctl_ok("delete", "3")
        deleted = ctl_json("history", "3")[-1]["id"]
        rc, _, err = ctl("revert", "3", deleted)
        self.assertEqual(rc, 1)
        self.assertIn("deleted popup 3: there is nothing to revert to", err)
        stack.wait_config(published(ctl_ok("revert", "3", created)))
        self.assertEqual(stack.sql("SELECT title, enabled FROM popups WHERE id = 3"), [["Three", "0"]])
        self.assertEqual([h["command"] for h in ctl_json("history", "3")], ["apply", "delete", "revert"])


class Versions(unittest.TestCase):
    def test_one_version_from_VERSION_and_the_schema_from_the_database(self):
        with open(os.path.join(TOP, "VERSION")) as f:
            version = f.read().strip()
        outs = []
        for prog in ("popupctl", "popupd", "popup-writer"):
            r = subprocess.run([os.path.join(TOP, BUILD, prog), "--version"], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            first = r.stdout.splitlines()[0]
            self.assertRegex(first, r"^%s %s(\+g[0-9a-f]+)?$" % (prog, re.escape(version)))
            outs.append(first.split()[1])
        self.assertEqual(len(set(outs)), 1, outs)
        newest = sorted(os.listdir(os.path.join(TOP, "sql", "migrations")))[-1]
        # sql/grants.sql lets popupctl's account read schema_migrations.
        rc, out, err = ctl("--version")
        self.assertEqual(rc, 0, err)
        self.assertIn("database schema: %d (%s); this popupctl needs %d\n"
                      % (int(newest[:3]), newest, int(newest[:3])), out)

if __name__ == "__main__":
    unittest.main()
