#!/usr/bin/env python3
"""Parameter sweep over the backtest tool: windows caught against false
alert episodes, for the settings promewma's README "Choosing parameters"
reports.

Runs build/bin/backtest (the real engine) on every CSV in --data with the
labelled windows in --data/anomaly_windows.json, once per setting, and
prints markdown tables:

  table        the trade-off table: named settings, caught / false / NAB
  sensitivity  the chosen setting with each parameter moved by -50%, -25%,
               +25%, +50% (one at a time)
  loso         leave-one-series-out: for each file, the setting of a grid
               that scores best on the other files (caught - false / 4) is
               scored on the held-out file alone

Usage (from the repository):
  python3 tools/backtest/sweep.py --backtest build/bin/backtest \
      --data ../shared/data/nab [table] [sensitivity] [loso]
"""
import argparse
import glob
import itertools
import os
import re
import subprocess
import sys
import tempfile

# The chosen setting, promewma's defaults and the shipped rule's timing:
# the best the estimator's keys reach on these files with the shipped
# expression (cpu > cpu:upper_threshold). Keys are the config's `ewma:`
# keys (season_* are those of `season:`); `for`, `keep_firing_for` and
# `expr` are the rule's.
CHOSEN = {
    "span": 10,
    "spread": "error_rms",
    "spread_span": 10000,
    "transform": "none",
    "k": 4.5,
    "season_slots": 96,
    "season_span": 14,
    "season_min_history": "24h",
    "keep_firing_for": "12h",
    "for": "0s",
    "expr": "upper",
}

# The plain EWMA band: span 10, k 3, ewm_std, no transform, no season.
PLAIN = {"spread": "ewm_std", "spread_span": None, "transform": "none",
         "k": 3, "season_slots": 0}
NO_SEASON = {"season_slots": 0}
# The best setting without a season.
MEAN_ABS = {"spread": "error_mean_abs", "spread_span": 3000,
            "transform": "log1p", "k": 8, "season_slots": 0}

# Settings for the trade-off table: (name, changes to CHOSEN).
TABLE = [
    ("plain EWMA (span 10, k 3), no hysteresis",
     dict(PLAIN, keep_firing_for="0s")),
    ("plain EWMA, for 1m, keep_firing_for 2m",
     dict(PLAIN, keep_firing_for="2m", **{"for": "1m"})),
    ("plain EWMA, keep_firing_for 12h", PLAIN),
    ("error_mean_abs span 3000, log1p, k 8, 12h, no season", MEAN_ABS),
    ("error_rms span 10000, k 4.5, 12h, no season", NO_SEASON),
    ("error_rms span 10000, k 4.5, 12h, season 24 slots, span 56",
     {"season_slots": 24, "season_span": 56}),
    ("error_rms span 10000, k 4.5, 12h, season 48 slots, span 28",
     {"season_slots": 48, "season_span": 28}),
    ("season 96 slots, span 7", {"season_span": 7}),
    ("season 96 slots, span 21", {"season_span": 21}),
    ("season 96 slots, span 42", {"season_span": 42}),
    ("season, k 4", {"k": 4}),
    ("season, k 5", {"k": 5}),
    ("season, keep_firing_for 2h", {"keep_firing_for": "2h"}),
    ("season, keep_firing_for 6h", {"keep_firing_for": "6h"}),
    ("**error_rms span 10000, k 4.5, season 96 slots span 14, 12h "
     "(defaults, shipped rule)**", {}),
    ("season, keep_firing_for 24h", {"keep_firing_for": "24h"}),
    ("season, two-sided (a drop rule too)", {"expr": "two-sided"}),
    ("season, log1p", {"transform": "log1p"}),
    ("season, for 5m", {"for": "5m"}),
]

# Parameters moved by the sensitivity table, and how.
NUMERIC = ["span", "spread_span", "k", "season_slots", "season_span",
           "season_min_history", "keep_firing_for"]
DURATIONS = ["keep_firing_for", "season_min_history"]

TOTAL = re.compile(
    r"total: (\d+)/(\d+) windows caught, (\d+) false episodes, (\d+) missed, "
    r"NAB standard score (-?[\d.]+)")
ROW = re.compile(r"^(\S+\.csv)\s+\d+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+$")


def hours(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(s|m|h)", text)
    scale = {"s": 1 / 3600, "m": 1 / 60, "h": 1}[m.group(2)]
    return float(m.group(1)) * scale


def duration(h):
    minutes = round(h * 60)
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def config_text(setting):
    """The `ewma:` section of a setting, every key written out, so that the
    result does not depend on the built-in defaults."""
    lines = ["ewma:"]
    for key in ("span", "spread", "spread_span", "transform", "k"):
        if setting.get(key) is not None:
            lines.append(f"  {key}: {setting[key]}")
    slots = setting.get("season_slots") or 0
    season = [f"slots: {slots}"]
    if slots:
        season += [f"span: {setting['season_span']}",
                   f"min_history: {setting['season_min_history']}"]
    lines.append("  season: {" + ", ".join(season) + "}")
    return "\n".join(lines) + "\n"


def run(backtest, files, windows, setting):
    """Per-file (windows, caught, false, missed) and the total line."""
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        f.write(config_text(setting))
        config = f.name
    try:
        out = subprocess.run(
            [backtest, *files, "--config", config, "--windows", windows,
             "--expr", setting["expr"], "--for", setting["for"],
             "--keep-firing-for", setting["keep_firing_for"]],
            check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(config)
    per_file = {}
    for line in out.splitlines():
        m = ROW.match(line)
        if m:
            per_file[m.group(1)] = tuple(int(m.group(i)) for i in range(2, 6))
    m = TOTAL.search(out)
    if not m:
        sys.exit("no total line in backtest output:\n" + out)
    total = (int(m.group(1)), int(m.group(2)), int(m.group(3)),
             float(m.group(5)))
    return per_file, total


def with_changes(changes):
    s = dict(CHOSEN)
    s.update(changes)
    return s


def table(backtest, files, windows):
    print("| setting | windows caught | false episodes | NAB standard score |")
    print("|---|---|---|---|")
    for name, changes in TABLE:
        _, (caught, total, false, nab) = run(backtest, files, windows,
                                             with_changes(changes))
        print(f"| {name} | {caught}/{total} | {false} | {nab:.1f} |")


def sensitivity(backtest, files, windows):
    print("| parameter | -50% | -25% | chosen | +25% | +50% |")
    print("|---|---|---|---|---|---|")
    _, base = run(backtest, files, windows, CHOSEN)
    for key in NUMERIC:
        cells = []
        for f in (0.5, 0.75, None, 1.25, 1.5):
            if f is None:
                caught, total, false, _ = base
                cells.append(f"**{caught}/{total}, {false}**")
                continue
            if key in DURATIONS:
                value = duration(hours(CHOSEN[key]) * f)
            elif key == "k":
                value = round(CHOSEN[key] * f, 4)
            else:
                value = max(1, round(CHOSEN[key] * f))
            if key == "season_slots" and value > 96:
                cells.append(f"{value}: (at most 96)")
                continue
            _, (caught, total, false, _) = run(
                backtest, files, windows, with_changes({key: value}))
            cells.append(f"{value}: {caught}/{total}, {false}")
        print(f"| {key} ({CHOSEN[key]}) | " + " | ".join(cells) + " |")


def describe(s):
    text = (f"{s['spread']} span {s['spread_span']}, {s['transform']}, "
            f"k {s['k']}, {s['keep_firing_for']}")
    if s["season_slots"]:
        text += f", season span {s['season_span']}"
    return text + ("" if s["season_slots"] else ", no season")


def loso(backtest, files, windows):
    grid = []
    for season, k, span, keep in itertools.product(
            [None, 7, 14, 21], [4, 4.5, 5], [3000, 10000], ["6h", "12h"]):
        grid.append(with_changes({
            "k": k, "spread_span": span, "keep_firing_for": keep,
            "season_slots": 96 if season else 0, "season_span": season}))
    for k in [6.25, 7.5, 8]:
        grid.append(with_changes(dict(MEAN_ABS, k=k)))
    results = [run(backtest, files, windows, s)[0] for s in grid]
    names = sorted(results[0])
    print("| held out | chosen on the other files | caught | false |")
    print("|---|---|---|---|")
    sum_caught = sum_windows = sum_false = 0
    for held in names:
        def objective(i):
            c = sum(results[i][n][1] for n in names if n != held)
            f = sum(results[i][n][2] for n in names if n != held)
            return c - f / 4
        best = max(range(len(grid)), key=objective)
        w, c, f, _ = results[best][held]
        sum_caught += c
        sum_windows += w
        sum_false += f
        print(f"| {held} | {describe(grid[best])} | {c}/{w} | {f} |")
    print(f"| **all** | | **{sum_caught}/{sum_windows}** | **{sum_false}** |")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backtest", default="build/bin/backtest")
    p.add_argument("--data", default="../shared/data/nab")
    p.add_argument("what", nargs="*", default=["table"],
                   choices=["table", "sensitivity", "loso"])
    args = p.parse_args()
    files = sorted(glob.glob(os.path.join(args.data, "*.csv")))
    windows = os.path.join(args.data, "anomaly_windows.json")
    if not files or not os.path.exists(windows):
        sys.exit(f"{args.data}: no CSV files or no anomaly_windows.json")
    for what in args.what:
        {"table": table, "sensitivity": sensitivity, "loso": loso}[what](
            args.backtest, files, windows)
        print()


if __name__ == "__main__":
    main()
