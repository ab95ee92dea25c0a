#!/usr/bin/env python3
"""The HTML report rendered in a real browser (headless Chromium), as CTest test `report_browser`.

Trains short Fashion-MNIST runs (DeepShift-PS with --report, APoT, DenseShift, FP32), writes the
reports (`train --report` and `shiftlab report` of all runs), then for each report:
  * loads it in headless Chromium (no network: only file://) and reads the page's own self-check
    (<pre id="selfcheck">): no console error or uncaught exception, every <svg class="plot"> has a
    visible data mark;
  * compares every number in its tables (td[data-key]) with metrics.jsonl / stats.jsonl;
  * checks it references nothing outside the file;
and takes screenshots (for docs/teaching.md) into WORK/screens.
Exits 77 (CTest: skipped) with the reason when no Chromium is installed. Python 3 standard library only.
"""
import argparse
import decimal
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77
QUICK = ["--test-batch-size", "500", "--print-freq", "100000", "--threads", "1"]
RUNS = {  # name -> extra flags
    "deepshift-ps": ["--quant", "deepshift-ps", "--weight-bits", "5", "--optimizer", "radam", "--lr", "0.01", "--report"],
    "apot": ["--quant", "apot", "--weight-bits", "4"],  # these three: docs/results.md's recipes (SGD, lr 0.01)
    "denseshift": ["--quant", "denseshift", "--weight-bits", "3"],
    "fp32": [],
}

failures = []


def check(ok, message):
    if not ok:
        failures.append(message)
        print("FAIL:", message)


def find_chromium():
    for name in [os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]:
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def chromium(browser, args, url, timeout=60):
    """Runs headless Chromium on a file URL with a fresh profile and everything networked turned off."""
    with tempfile.TemporaryDirectory(prefix="shiftlab-chromium-") as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
               "--enable-logging=stderr", "--v=0", f"--user-data-dir={profile}"] + args + [url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


class Cells(html.parser.HTMLParser):
    """Collects td cells with data-key (their attributes and text) and the rows of table#runs."""

    def __init__(self):
        super().__init__()
        self.cells, self.run_rows = [], 0
        self._cell, self._in_runs, self._selfcheck, self.selfcheck = None, False, False, ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "runs":
            self._in_runs = True
        if tag == "tr" and self._in_runs:
            self.run_rows += 1
        if tag == "td" and "data-key" in a:
            self._cell = {"attrs": a, "text": ""}
        if tag == "pre" and a.get("id") == "selfcheck":
            self._selfcheck = True

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.cells.append(self._cell)
            self._cell = None
        if tag == "table":
            self._in_runs = False
        if tag == "pre":
            self._selfcheck = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data
        if self._selfcheck:
            self.selfcheck += data


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def displayed_matches(text, value):
    """True when `text` is `value` rounded to the digits shown."""
    d = decimal.Decimal(text.strip())
    tol = decimal.Decimal(5).scaleb(d.as_tuple().exponent - 1) * decimal.Decimal("1.000001")
    return abs(d - decimal.Decimal(repr(float(value)))) <= tol + decimal.Decimal("1e-12")


def check_report(browser, report, run_dirs, label):
    """Renders `report` and checks its self-check and table numbers against the runs' files."""
    with open(report) as f:
        page = f.read()
    external = re.findall(r'(?<![\w-])(?:src|href)\s*=\s*"(?!#)[^"]*"|url\(|@import|<link\b|<iframe\b|fetch\(|XMLHttpRequest', page)
    check(not external, f"{label}: references outside the file: {external[:3]}")
    start = time.time()
    r = chromium(browser, ["--dump-dom", "--virtual-time-budget=5000"], "file://" + os.path.abspath(report))
    check(r.returncode == 0, f"{label}: chromium exited {r.returncode}: {r.stderr[-2000:]}")
    console_errors = [l for l in r.stderr.splitlines() if "CONSOLE" in l and ("Uncaught" in l or "rror" in l)]
    check(not console_errors, f"{label}: console errors: {console_errors[:3]}")
    dom = Cells()
    dom.feed(r.stdout)
    check(dom.selfcheck.strip() != "", f"{label}: the page's self-check did not run (no script, or it failed)")
    if not dom.selfcheck.strip():
        return
    sc = json.loads(dom.selfcheck)
    print(f"{label}: {sc['plots']} plots, {sc['drawn']} drawn, {sc['cells']} table numbers, rendered in "
          f"{time.time() - start:.1f} s")
    check(sc["errors"] == [], f"{label}: errors on the page: {sc['errors']}")
    check(sc["plots"] >= 3, f"{label}: only {sc['plots']} plots")
    check(sc["drawn"] == sc["plots"], f"{label}: plots without visible content: {sc['empty']}")
    check(dom.run_rows == len(run_dirs) + 1, f"{label}: runs table has {dom.run_rows - 1} rows for {len(run_dirs)} runs")

    files = [{"metrics": read_jsonl(os.path.join(d, "metrics.jsonl")),
              "stats": read_jsonl(os.path.join(d, "stats.jsonl"))} for d in run_dirs]
    checked, layers_seen = 0, {}
    for cell in dom.cells:
        a = cell["attrs"]
        run, key = int(a["data-run"]), a["data-key"]
        rows = files[run][a["data-src"]]
        if a.get("data-epoch") is not None:
            rows = [x for x in rows if x["epoch"] == int(a["data-epoch"])]
        if "data-layer" in a:
            rows = [x for x in rows if x["layer"] == a["data-layer"]]
            layers_seen.setdefault(run, set()).add(a["data-layer"])
        if a.get("data-agg") == "sum":
            value = sum(x[key] for x in rows if isinstance(x.get(key), (int, float)))
        else:
            check(len(rows) == 1, f"{label}: cell {a} matches {len(rows)} rows")
            if len(rows) != 1:
                continue
            value = rows[0][key]
        value *= float(a.get("data-scale", "1"))
        check(displayed_matches(cell["text"], value), f"{label}: cell {a} shows {cell['text']!r}, the file has {value}")
        checked += 1
    check(checked > 0, f"{label}: no table number to check")
    for run, d in enumerate(run_dirs):  # the per-layer table lists every layer of the last epoch
        stats = files[run]["stats"]
        if stats:
            last = max(x["epoch"] for x in stats)
            want = {x["layer"] for x in stats if x["epoch"] == last}
            check(layers_seen.get(run) == want, f"{label}: layer table of {d} shows {layers_seen.get(run)}, want {want}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--shiftlab", required=True)
    p.add_argument("--work", required=True)
    # Small by default (the CTest run); docs/teaching.md's screenshots come from a larger run.
    p.add_argument("--subset", default="1000")
    p.add_argument("--test-subset", default="300")
    p.add_argument("--epochs", default="2")
    p.add_argument("--batch-size", default="50")
    args = p.parse_args()
    QUICK.extend(["--subset", args.subset, "--test-subset", args.test_subset, "--epochs", args.epochs,
                  "--batch-size", args.batch_size])
    browser = find_chromium()
    if not browser:
        print("SKIP: no Chromium found (install Debian's `chromium`, as scripts/setup.sh does, or set CHROMIUM)")
        return SKIP
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(os.path.join(args.work, "screens"))
    dirs, start = [], time.time()
    for name, flags in RUNS.items():
        d = os.path.join(args.work, name)
        r = subprocess.run([args.shiftlab, "train", "--out", d] + QUICK + flags, capture_output=True, text=True)
        check(r.returncode == 0, f"train {name} exited {r.returncode}: {r.stdout[-1500:]}{r.stderr[-1500:]}")
        if r.returncode != 0:
            return 1
        dirs.append(d)
    print(f"trained {len(dirs)} runs in {time.time() - start:.1f} s")
    ps = dirs[0]
    check(os.path.exists(os.path.join(ps, "report.html")), "train --report wrote no report.html")
    cmp_path = os.path.join(args.work, "compare.html")
    r = subprocess.run([args.shiftlab, "report"] + dirs + ["-o", cmp_path], capture_output=True, text=True)
    check(r.returncode == 0, f"report exited {r.returncode}: {r.stderr}")
    r = subprocess.run([args.shiftlab, "report", dirs[-1]], capture_output=True, text=True)  # default: RUN_DIR/report.html
    check(r.returncode == 0 and os.path.exists(os.path.join(dirs[-1], "report.html")), f"report of the FP32 run: {r.stderr}")

    check_report(browser, os.path.join(ps, "report.html"), [ps], "deepshift-ps report")
    check_report(browser, os.path.join(dirs[-1], "report.html"), [dirs[-1]], "fp32 report")
    check_report(browser, cmp_path, dirs, "comparison report")

    start = time.time()
    # Screenshots for docs/teaching.md: the top of the comparison, and each run's section alone
    # (REPORT#only-run-N hides the rest). A blank page compresses to a few kB; a drawn one does not.
    shots = [("compare", cmp_path, "", 1150)] + [(f"run-{n}", cmp_path, f"#only-run-{i}", 1500) for i, n in enumerate(RUNS)]
    for name, page, anchor, height in shots:
        png = os.path.join(args.work, "screens", name + ".png")
        r = chromium(browser, [f"--screenshot={png}", f"--window-size=1280,{height}", "--hide-scrollbars",
                               "--force-device-scale-factor=0.75"], "file://" + os.path.abspath(page) + anchor)
        size = os.path.getsize(png) if os.path.exists(png) else 0
        check(r.returncode == 0 and size > 20000, f"screenshot {name}: {size} bytes, exit {r.returncode}")

    print(f"took {len(shots)} screenshots in {time.time() - start:.1f} s")
    # Bad input: one clear error line naming the file, non-zero exit.
    bad = os.path.join(args.work, "bad")
    os.makedirs(bad)
    with open(os.path.join(bad, "metrics.jsonl"), "w") as f:
        f.write('{"epoch": 0, "lr": 0.1, "train_loss": 1, "test_loss": 1, "train_acc1": 1, "test_acc1": 1}\n{"epoch": 1,\n')
    for target, message in [(os.path.join(args.work, "missing"), "not a run directory"),
                            (bad, "metrics.jsonl:2: not valid JSON")]:
        r = subprocess.run([args.shiftlab, "report", target, "-o", os.path.join(args.work, "x.html")],
                           capture_output=True, text=True)
        check(r.returncode != 0 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1,
              f"report {target}: want one error line with {message!r}, got {r.returncode}: {r.stderr}")

    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("report_browser: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
