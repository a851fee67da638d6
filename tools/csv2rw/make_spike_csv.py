#!/usr/bin/env python3
"""Writes deploy/local/demo_spike.csv, the CPU series tools/demo.sh replays
live (csv2rw --replay 1 --shift-to-now) after backfilling demo_cpu.csv.

Twenty minutes at five-second resolution in the original project's format
(`Date,Timestamp,CPU_Utilization`, UTC, percent with two decimals),
starting where demo_cpu.csv ends: calm at about 14% (the level that
history ends on at midnight), a spike to about 95% from 0:30 to 4:30, then
calm again. With the demo's half_life (deploy/local/promewma.yml) the spike
stays above the adaptive threshold for about three minutes, longer than
the alert's `for:`. Seeded, so the file is the same on every run:

    tools/csv2rw/make_spike_csv.py > deploy/local/demo_spike.csv
"""
import datetime
import random
import sys

SEED = 20250116
START = datetime.datetime(2025, 1, 16, 0, 0, 0)  # demo_cpu.csv's end, UTC
STEP_S = 5
LENGTH_S = 20 * 60
SPIKE_FROM_S, SPIKE_TO_S = 30, 4 * 60 + 30
CALM, CALM_NOISE = 14.0, 1.5
PEAK, PEAK_NOISE = 95.0, 1.5


def main():
    rng = random.Random(SEED)
    out = sys.stdout
    out.write("Date,Timestamp,CPU_Utilization\n")
    for s in range(0, LENGTH_S, STEP_S):
        t = START + datetime.timedelta(seconds=s)
        if SPIKE_FROM_S <= s < SPIKE_TO_S:
            value = PEAK + rng.gauss(0.0, PEAK_NOISE)
        else:
            value = CALM + rng.gauss(0.0, CALM_NOISE)
        value = min(100.0, max(0.0, value))
        out.write("%s,%s,%.2f\n" % (t.strftime("%Y-%m-%d"),
                                    t.strftime("%H:%M:%S"), value))


if __name__ == "__main__":
    main()
