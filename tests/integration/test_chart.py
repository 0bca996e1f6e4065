"""`popupctl chart` reads well for 1, 14 and 90 days: one image per case
(SVG, which the test parses, and the PNG an operator gets), with distinct
x tick labels that carry the year, titles on both y axes and the x axis,
and the legend outside the plotted data. The images stay in the test
output folder ($TEST_OUTPUT, else BUILD/test-output) under chart/:
chart-1.png, chart-14.png, chart-90.png and their SVGs."""

import datetime
import os
import re
import shutil
import subprocess
import unittest
import xml.etree.ElementTree as ET

from harness import BUILD, TOP, module_stack

setUpModule, tearDownModule = module_stack(globals())

OUT = os.path.join(os.environ.get("TEST_OUTPUT") or os.path.join(TOP, BUILD, "test-output"),
                   "chart")
SVG = "{http://www.w3.org/2000/svg}"
FIRST = datetime.date(2026, 12, 6)
TRANSLATE = re.compile(r"translate\(([-\d.]+),([-\d.]+)\)")
POINTS = re.compile(r"([-\d.]+),([-\d.]+)")


def ctl(*args):
    r = subprocess.run([os.path.join(TOP, BUILD, "popupctl"), "--config", stack.ctl_conf()] +
                       [str(a) for a in args], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def texts(root):
    """(text, x, y) of every text the SVG draws, at its group's translate."""
    out = []
    for g in root.iter(SVG + "g"):
        m = TRANSLATE.search(g.get("transform", ""))
        if not m:
            continue
        for t in g.findall(SVG + "text"):
            out.append(("".join(t.itertext()).strip(), float(m.group(1)), float(m.group(2))))
    return out


def plot_area(root):
    """The border's box (x0, y0, x1, y1): the closed path with 5 corners."""
    for p in root.iter(SVG + "path"):
        pts = [(float(x), float(y)) for x, y in POINTS.findall(p.get("d", ""))]
        if p.get("d", "").rstrip().endswith("Z") and len(pts) == 5 and pts[0] == pts[-1]:
            xs, ys = [x for x, _ in pts], [y for _, y in pts]
            if max(xs) - min(xs) > 400 and max(ys) - min(ys) > 200:
                return min(xs), min(ys), max(xs), max(ys)
    raise AssertionError("no plot border in the SVG")


def data_points(root, title):
    """The points of a plotted series (gnuplot's <g id="gnuplot_plot_N">
    titled `title`), without its legend sample."""
    for g in root.iter(SVG + "g"):
        if (g.get("id") or "").startswith("gnuplot_plot_") and g.findtext(SVG + "title") == title:
            pts = []
            for p in g.iter(SVG + "path"):
                pts += [(float(x), float(y)) for x, y in POINTS.findall(p.get("d", ""))]
            for p in g.iter(SVG + "polygon"):
                pts += [(float(x), float(y)) for x, y in POINTS.findall(p.get("points", ""))]
            return pts
    raise AssertionError("no series %r" % title)


class ChartTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rows = []
        for i in range(90):
            day = FIRST - datetime.timedelta(days=89 - i)
            rows.append("('%s', 1, %d, %d, %d)" % (day, 1000 + 37 * i, 20 + i % 11, 5))
        stack.sql("DELETE FROM popup_daily; INSERT INTO popup_daily (day, popup_id, impressions,"
                  " clicks, ignores) VALUES " + ",".join(rows))

    def chart(self, days):
        start = FIRST - datetime.timedelta(days=days - 1)
        out = {}
        for ext in ("svg", "png"):
            path = stack.path("chart-%d.%s" % (days, ext))
            rc, text = ctl("chart", "1", "--out", path, "--from", start, "--until", FIRST)
            self.assertEqual(rc, 0, text)
            out[ext] = path
        with open(out["png"], "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        os.makedirs(OUT, exist_ok=True)
        for path in out.values():
            shutil.copy(path, OUT)
        return ET.parse(out["svg"]).getroot(), start

    def check(self, days):
        root, start = self.chart(days)
        x0, y0, x1, y1 = plot_area(root)
        drawn = texts(root)
        # Tick labels under the x axis: full dates, all different, within
        # the charted days, the first day included.
        ticks = [t for t, _, y in drawn if re.fullmatch(r"\d{4}-\d\d-\d\d", t) and y > y1]
        self.assertTrue(ticks)
        self.assertLessEqual(len(ticks), 15)
        self.assertEqual(len(ticks), len(set(ticks)), ticks)
        self.assertIn(str(start), ticks)
        for t in ticks:
            self.assertTrue(str(start) <= t <= str(FIRST), t)
        labels = [t for t, _, _ in drawn]
        for title in ("day (UTC)", "impressions per day", "click-through rate (%)"):
            self.assertIn(title, labels)
        # The legend's entries sit outside the plot area, and every plotted
        # point inside it, so the legend covers none of the data.
        legend = [(x, y) for t, x, y in drawn if t in ("impressions", "CTR %")]
        self.assertEqual(len(legend), 2)
        for x, y in legend:
            self.assertFalse(x0 <= x <= x1 and y0 <= y <= y1, (x, y, (x0, y0, x1, y1)))
        # Each series has its data in the plot area (its legend sample,
        # drawn in the same group, is the part outside).
        for series in ("impressions", "CTR %"):
            inside = [(x, y) for x, y in data_points(root, series)
                      if x0 - 0.6 <= x <= x1 + 0.6 and y0 - 0.6 <= y <= y1 + 0.6]
            self.assertTrue(inside, series)

    def test_one_day(self):
        self.check(1)

    def test_fourteen_days(self):
        self.check(14)

    def test_ninety_days(self):
        self.check(90)

    def test_a_range_without_days_is_refused(self):
        rc, text = ctl("chart", "1", "--out", stack.path("none.svg"), "--from", "2000-01-01",
                       "--until", "2000-01-02")
        self.assertNotEqual(rc, 0)
        self.assertIn("no recorded days", text)


if __name__ == "__main__":
    unittest.main()
