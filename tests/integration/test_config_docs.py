"""The configuration has one source, the settings table that
`popupd --print-config` prints; README.md's table and
deploy/popup.conf.example repeat it and must not drift from it.

- `popupd --print-config` lists every key once with a description and a
  default, as lines a configuration file takes: with every "#key = default"
  line uncommented, `popupd --check` accepts it. popup-writer prints the
  same; --help of both mentions it; it refuses a --config.
- README.md's table (between the settings-table markers) has the same keys
  in the same order, with the same defaults and descriptions.
- deploy/popup.conf.example lists the same keys, defaults and descriptions,
  every value it sets sits under its own key, and popupd --check accepts it.
- scripts/gen_config_docs.py --check agrees (the files are what
  `make config-docs` writes), and it rewrites a drifted copy back.

The files are parsed here on their own, not with the generator's code, so a
generator that wrote the wrong thing would not also read it back as right.
No stack: only the built programs."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import BUILD, TOP

POPUPD = os.path.join(TOP, BUILD, "popupd")
WRITER = os.path.join(TOP, BUILD, "popup-writer")
GEN = os.path.join(TOP, "scripts", "gen_config_docs.py")
README = os.path.join(TOP, "README.md")
EXAMPLE = os.path.join(TOP, "deploy", "popup.conf.example")
DEFAULT_LINE = re.compile(r"^#([a-z][a-z0-9_]*) =(?: (.*))?$")


def run(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60)


def conf_docs(text):
    """[(key, default, description)] from a file in --print-config's form: a
    key's description is the "# " lines right before its "#key = default"
    line; anything after that line (a host's own lines) is not part of it."""
    out, desc = [], []
    for line in text.splitlines():
        m = DEFAULT_LINE.match(line)
        if m:
            out.append((m.group(1), m.group(2) or "", " ".join(desc)))
            desc = None
        elif line.startswith("# ") and desc is not None:
            desc.append(line[2:])
        elif not line.strip() or line.startswith("## "):
            desc = []
    return out


def readme_docs(text):
    """[(key, default, description)] from the table between the markers."""
    b = text.index("<!-- settings-table:begin -->")
    e = text.index("<!-- settings-table:end -->")
    rows = []
    for line in text[b:e].splitlines():
        m = re.match(r"^\| `([a-z0-9_]+)` \| (.*?) \| (.*) \|$", line)
        if m:
            default = "" if m.group(2) == "(empty)" else m.group(2).strip("`")
            rows.append((m.group(1), default, m.group(3)))
    return rows


def printed():
    r = run(POPUPD, "--print-config")
    assert r.returncode == 0, r.stderr
    return r.stdout


class PrintConfigTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pcfg", dir="/tmp")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_every_key_is_printed_once_with_a_description(self):
        docs = conf_docs(printed())
        keys = [k for k, _, _ in docs]
        self.assertEqual(len(keys), len(set(keys)), "a key printed twice")
        self.assertGreaterEqual(len(keys), 46)
        for key in ("listen", "user_affinity", "state_cache_mib", "state_cache_stale_s",
                    "flush_ms", "flush_events", "test_clock"):
            self.assertIn(key, keys)
        for key, _, desc in docs:
            self.assertTrue(desc.endswith("."), "%s: %r" % (key, desc))

    def test_the_printed_defaults_uncommented_are_a_file_popupd_accepts(self):
        text = "".join(line[1:] + "\n" for line in printed().splitlines()
                       if DEFAULT_LINE.match(line))
        path = os.path.join(self.tmp, "defaults.conf")
        with open(path, "w") as f:
            f.write(text)
        r = run(POPUPD, "--check", "--config", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration ok (2 workers x 2 threads", r.stdout)
        # A changed value is taken too: the lines are the file's own form.
        with open(path, "a") as f:
            f.write("workers = 3\n")
        self.assertIn("(3 workers x 2 threads", run(POPUPD, "--check", "--config", path).stdout)

    def test_popup_writer_prints_the_same_and_both_helps_mention_it(self):
        w = run(WRITER, "--print-config")
        self.assertEqual(w.returncode, 0, w.stderr)
        self.assertEqual(w.stdout, printed())
        for prog in (POPUPD, WRITER):
            h = run(prog, "--help")
            self.assertEqual(h.returncode, 0)
            self.assertIn("--print-config", h.stdout)

    def test_print_config_with_a_config_file_is_a_usage_error(self):
        r = run(POPUPD, "--print-config", "--config", EXAMPLE)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--print-config takes no --config", r.stderr)
        self.assertEqual(r.stdout, "")


class DocsMatchTheTableTest(unittest.TestCase):
    def assert_same_docs(self, got, what):
        want = conf_docs(printed())
        self.assertEqual([k for k, _, _ in got], [k for k, _, _ in want],
                         what + ": not the same keys in the same order")
        for (key, default, desc), (_, want_default, want_desc) in zip(got, want):
            self.assertEqual(default, want_default, "%s: default of %s" % (what, key))
            self.assertEqual(desc, want_desc, "%s: description of %s" % (what, key))

    def test_readme_table_has_every_key_default_and_description(self):
        with open(README) as f:
            self.assert_same_docs(readme_docs(f.read()), "README.md")

    def test_example_conf_has_every_key_default_and_description(self):
        with open(EXAMPLE) as f:
            self.assert_same_docs(conf_docs(f.read()), "deploy/popup.conf.example")

    def test_example_sets_each_value_under_its_own_key_and_passes_check(self):
        key = None
        with open(EXAMPLE) as f:
            for n, line in enumerate(f, 1):
                m = DEFAULT_LINE.match(line.rstrip("\n"))
                if m:
                    key = m.group(1)
                elif line.strip() and not line.startswith("#"):
                    self.assertEqual(line.split("=")[0].strip(), key,
                                     "line %d sets a key under #%s = " % (n, key))
        r = run(POPUPD, "--check", "--config", EXAMPLE)
        self.assertEqual(r.returncode, 0, r.stderr)


class GeneratorTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pgen", dir="/tmp")
        self.readme = os.path.join(self.tmp, "README.md")
        self.example = os.path.join(self.tmp, "popup.conf.example")
        shutil.copy(README, self.readme)
        shutil.copy(EXAMPLE, self.example)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def gen(self, *extra):
        return run("/usr/bin/python3", GEN, "--popupd", POPUPD, "--readme", self.readme,
                   "--example", self.example, *extra)

    def test_the_files_are_what_make_config_docs_writes(self):
        r = run("/usr/bin/python3", GEN, "--popupd", POPUPD, "--check")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_a_drifted_copy_is_reported_and_rewritten_keeping_the_hosts_lines(self):
        with open(self.readme) as f:
            text = f.read()
        with open(self.readme, "w") as f:
            f.write(text.replace("| `backlog` | `1024` |", "| `backlog` | `4096` |"))
        with open(self.example) as f:
            conf = f.read()
        # An old description, a key the table does not have yet, and a value
        # the operator changed: the last must survive the rewrite.
        conf = conf.replace("#workers = 2\nworkers = 2", "#workers = 2\nworkers = 6")
        conf = re.sub(r"(\n# )[^\n]*(\n#threads = 2\n)", r"\1old words\2", conf)
        conf = conf.replace("#flush_ms = 5\n", "")
        with open(self.example, "w") as f:
            f.write(conf)
        r = self.gen("--check")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("README.md and ", r.stderr)
        self.assertIn("+| `backlog` | `1024` |", r.stdout)
        r = self.gen()
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.readme) as f:
            self.assertEqual(f.read(), text)
        with open(self.example) as f:
            fixed = f.read()
        self.assertIn("\nworkers = 6\n", fixed)
        self.assertNotIn("old words", fixed)
        with open(EXAMPLE) as f:
            self.assertEqual(fixed, f.read().replace("\nworkers = 2\n", "\nworkers = 6\n"))
        self.assertEqual(self.gen("--check").returncode, 0)

    def test_a_value_under_another_key_or_an_unknown_key_is_refused_untouched(self):
        with open(self.example) as f:
            conf = f.read()
        for bad, why in [(conf.replace("#workers = 2\nworkers = 2", "#workers = 2\nthreads = 2"),
                          "sets threads under #workers"),
                         (conf + "\n#no_such_key = 1\n", "no_such_key is no longer a key")]:
            with open(self.example, "w") as f:
                f.write(bad)
            r = self.gen()
            self.assertEqual(r.returncode, 2, r.stdout)
            self.assertIn(why, r.stderr)
            with open(self.example) as f:
                self.assertEqual(f.read(), bad)


if __name__ == "__main__":
    unittest.main()
