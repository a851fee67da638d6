#!/usr/bin/env python3
"""Independent reference for promewma's EWMA outputs, built on pandas.

Reads `timestamp_ms,value` lines on stdin (value may be nan, inf, -inf or
stale) and prints, for each line, `outcome,ewma,stddev,upper,lower,score`
with empty fields for outputs that are not emitted. Outcomes: applied,
stale, duplicate, conflict, out_of_order, not_finite.

With `--csv FILE`, reads a CPU history CSV instead, as csv2rw backfills it:
the original project's `Date,Timestamp,CPU_Utilization` or NAB's
`timestamp,value` (column names case-insensitive, zone-less times in UTC),
parsed by pandas (`read_csv`, `to_datetime`), rows in time order (stable).
Each output line is then prefixed with the row's `timestamp_ms,`.

The smoothing is computed by pandas' `Series.ewm(alpha=a, adjust=False)`
(`.mean()` and `.std()`, bias-corrected) over each run of accepted finite
samples between resets. pandas cannot do time-aware smoothing with
adjust=False, so for --half-life the recursion is evaluated directly from
its definition with numpy.

--spread error_rms | error_mean_abs: the spread is computed from the
one-step errors e_j = y_j - mean_{j-1} of each run, as pandas'
`ewm(alpha=spread_alpha, adjust=True).mean()` of e^2 (then the square
root) or of |e|. --transform log1p: y = log1p(x) (x <= -1 is not finite),
ewma and thresholds are expm1 of the estimator's, stddev and score stay in
log1p units.

--season-slots N (with --season-alpha, --season-min-history-ms): the
time-of-day spread, which pandas cannot express, evaluated from its
definition: the UTC day is cut into N slots; every sample after the first of
its run updates its slot with f = e^2 (|e| with error_mean_abs) of its
one-step error e, v = f in an empty slot, else v + season_alpha * (f - v),
each result rounded to bfloat16 as the engine stores it (to float32, then
to the top 16 bits, round to nearest even, with numpy). The profile and the
series' start survive resets. Once the sample's time is at least
min_history after the series' first sample and its slot holds a value, the
band's spread is max(spread, slot) (sqrt(slot) unless error_mean_abs); the
prior band reads the slot before the sample's update, the posterior band
and stddev after it.
"""
import argparse
import math
import sys

import numpy as np
import pandas as pd


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--alpha", type=float)
    p.add_argument("--half-life-ms", type=float)
    p.add_argument("--k", type=float, required=True)
    p.add_argument("--min-samples", type=int, required=True)
    p.add_argument("--reset-after-ms", type=int, required=True)
    p.add_argument("--basis", choices=["prior", "posterior"], required=True)
    p.add_argument("--csv", help="read this CPU history CSV instead of stdin")
    p.add_argument("--spread", default="ewm_std",
                   choices=["ewm_std", "error_rms", "error_mean_abs"])
    p.add_argument("--spread-alpha", type=float)
    p.add_argument("--transform", default="none", choices=["none", "log1p"])
    p.add_argument("--season-slots", type=int, default=0)
    p.add_argument("--season-alpha", type=float, default=0.0)
    p.add_argument("--season-min-history-ms", type=int, default=0)
    return p.parse_args()


DAY_MS = 24 * 3600 * 1000
EMPTY = None


def to_bfloat16(v):
    """v rounded to float32, then to its top 16 bits (nearest, ties even)."""
    with np.errstate(over="ignore"):
        bits = int(np.array([v], dtype=np.float32).view(np.uint32)[0])
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFFFFFF
    return float(np.array([(bits >> 16) << 16], dtype=np.uint32)
                 .view(np.float32)[0])


def season_spreads(times, values, means, firsts, args):
    """(prior, posterior) slot spreads per accepted sample; nan: unused."""
    n = len(values)
    prior, posterior = np.full(n, np.nan), np.full(n, np.nan)
    if args.season_slots == 0 or n == 0:
        return prior, posterior
    mean_abs = args.spread == "error_mean_abs"
    slots = [EMPTY] * args.season_slots
    start = times[0]

    def spread_of(i, slot):
        v = slots[slot]
        if v is EMPTY or times[i] - start < args.season_min_history_ms:
            return np.nan
        return v if mean_abs else math.sqrt(v)

    for i in range(n):
        slot = (times[i] % DAY_MS) * args.season_slots // DAY_MS
        prior[i] = spread_of(i, slot)
        if not firsts[i]:
            e = values[i] - means[i - 1]
            f = abs(e) if mean_abs else e * e
            old = slots[slot]
            slots[slot] = to_bfloat16(
                f if old is EMPTY else old + args.season_alpha * (f - old))
        posterior[i] = spread_of(i, slot)
    return prior, posterior


def widen(spread, slot_spread):
    """max(spread, slot) where the slot is in use; nan spread stays nan."""
    if math.isnan(spread) or math.isnan(slot_spread):
        return spread
    return max(spread, slot_spread)


def read_csv(path):
    """(timestamp_ms, value text) rows of a CSV in csv2rw's built-in formats."""
    df = pd.read_csv(path, dtype=str)
    columns = {c.strip().lower(): c for c in df.columns}
    if "date" in columns and "timestamp" in columns:
        text = (df[columns["date"]].str.strip() + " " +
                df[columns["timestamp"]].str.strip())
    else:
        text = df[columns["timestamp"]].str.strip()
    value_column = columns.get("cpu_utilization", columns.get("value"))
    times = pd.to_datetime(text, utc=True)
    ms = (times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    values = df[value_column].str.strip().astype(float)
    order = np.argsort(ms.to_numpy(), kind="stable")
    return [(int(ms.iloc[i]), repr(float(values.iloc[i]))) for i in order]


def read_input():
    rows = []
    for line in sys.stdin:
        ts, value = line.strip().split(",")
        rows.append((int(ts), value))
    return rows


def classify(rows, log1p):
    """Applies the ordering rules; returns outcomes and accepted finite rows."""
    outcomes = []
    last_ts, last_value = None, None
    for ts, value in rows:
        if value in ("nan", "inf", "-inf") or (
                log1p and value != "stale" and not float(value) > -1):
            outcomes.append("not_finite")
            continue
        if last_ts is not None and ts < last_ts:
            outcomes.append("out_of_order")
            continue
        if last_ts is not None and ts == last_ts:
            outcomes.append("duplicate" if value == last_value else "conflict")
            continue
        last_ts, last_value = ts, value
        outcomes.append("stale" if value == "stale" else "applied")
    return outcomes


def segments(times, reset_after_ms):
    """Index ranges of runs split where the gap exceeds reset_after."""
    start = 0
    for i in range(1, len(times)):
        if reset_after_ms > 0 and times[i] - times[i - 1] > reset_after_ms:
            yield start, i
            start = i
    if times:
        yield start, len(times)


def error_spread(mean, values, args, alpha):
    """The spread of one segment from its one-step errors (pandas)."""
    errors = pd.Series(np.asarray(values[1:]) - mean[:-1], dtype="float64")
    f = errors ** 2 if args.spread == "error_rms" else errors.abs()
    beta = args.spread_alpha if args.spread_alpha else alpha
    spread = f.ewm(alpha=beta, adjust=True).mean().to_numpy()
    if args.spread == "error_rms":
        spread = np.sqrt(spread)
    return np.concatenate([[np.nan], spread])


def smooth(times, values, args):
    """Returns (mean, std) arrays for one segment."""
    mean, std = smooth_mean_std(times, values, args)
    if args.spread != "ewm_std":
        if args.half_life_ms is not None and not args.spread_alpha:
            raise SystemExit("error spreads with half_life need --spread-alpha")
        std = error_spread(mean, values, args, args.alpha)
    return mean, std


def smooth_mean_std(times, values, args):
    """pandas' ewm mean and std (or the half_life recursion)."""
    if args.half_life_ms is None:
        s = pd.Series(values, dtype="float64")
        ewm = s.ewm(alpha=args.alpha, adjust=False)
        return ewm.mean().to_numpy(), ewm.std().to_numpy()
    n = len(values)
    mean, std = np.empty(n), np.full(n, np.nan)
    m, spread, w2 = values[0], 0.0, 1.0
    mean[0] = m
    for i in range(1, n):
        a = 1 - 2 ** (-(times[i] - times[i - 1]) / args.half_life_ms)
        d = values[i] - m
        m = m + a * d
        spread = (1 - a) * (spread + a * d * d)
        w2 = (1 - a) ** 2 * w2 + a * a
        mean[i] = m
        std[i] = math.sqrt(spread / (1 - w2)) if 1 - w2 > 0 else np.nan
    return mean, std


def fmt(x):
    return "" if x is None else repr(float(x))


def main():
    args = parse_args()
    rows = read_csv(args.csv) if args.csv else read_input()
    log1p = args.transform == "log1p"
    outcomes = classify(rows, log1p)
    applied = [i for i, o in enumerate(outcomes) if o == "applied"]
    times = [rows[i][0] for i in applied]
    values = [float(rows[i][1]) for i in applied]
    if log1p:
        values = [math.log1p(v) for v in values]
    back = math.expm1 if log1p else (lambda v: v)
    result = {}
    runs = []
    all_means, firsts = [], []
    for lo, hi in segments(times, args.reset_after_ms):
        mean, std = smooth(times[lo:hi], values[lo:hi], args)
        runs.append((lo, hi, mean, std))
        all_means.extend(mean)
        firsts.extend([True] + [False] * (hi - lo - 1))
    season_prior, season_posterior = season_spreads(
        times, values, all_means, firsts, args)
    for lo, hi, mean, std in runs:
        raw = np.array(std)
        std, prior_std = raw.copy(), raw.copy()
        for j in range(hi - lo):
            # The prior band of sample j uses raw[j - 1] widened by the
            # slot of sample j's time, before its update.
            if j > 0:
                prior_std[j - 1] = widen(raw[j - 1], season_prior[lo + j])
            std[j] = widen(raw[j], season_posterior[lo + j])
        for j in range(hi - lo):
            x = values[lo + j]
            if args.basis == "prior":
                bj, count = j - 1, j
            else:
                bj, count = j, j + 1
            band = None
            band_std = prior_std if args.basis == "prior" else std
            if (bj >= 0 and count >= args.min_samples
                    and not math.isnan(band_std[bj])):
                band = (mean[bj], band_std[bj])
            sd = None if math.isnan(std[j]) else std[j]
            upper = lower = score = None
            if band is not None:
                bm, bs = band
                upper, lower = back(bm + args.k * bs), back(bm - args.k * bs)
                width, dist = args.k * bs, abs(x - bm)
                score = (0.0 if dist == 0 else math.inf) if width == 0 else dist / width
            result[applied[lo + j]] = (back(mean[j]), sd, upper, lower, score)
    out = []
    for i, outcome in enumerate(outcomes):
        fields = result.get(i, (None,) * 5)
        line = ",".join([outcome] + [fmt(f) for f in fields])
        out.append("%d,%s" % (rows[i][0], line) if args.csv else line)
    print("\n".join(out))


if __name__ == "__main__":
    main()
