#!/usr/bin/env python3
"""Writes deploy/local/demo_cpu.csv, the demo CPU history csv2rw ships with.

Three days at one-minute resolution in the original project's format
(header `Date,Timestamp,CPU_Utilization`, times in UTC, values in percent
with two decimals): a daily cycle (quiet nights, a busy early afternoon),
Gaussian noise, and three clear spikes that an EWMA band should flag.
Seeded, so the file is the same on every run:

    tools/csv2rw/make_demo_csv.py > deploy/local/demo_cpu.csv
"""
import datetime
import math
import random
import sys

SEED = 20250113
START = datetime.datetime(2025, 1, 13, 0, 0, 0)  # a Monday, UTC
DAYS = 3

# (minutes from START, duration in minutes, peak in percent)
SPIKES = [
    (0 * 1440 + 10 * 60 + 17, 4, 92.0),   # day 1, 10:17: a batch job
    (1 * 1440 + 3 * 60 + 40, 6, 78.0),    # day 2, 03:40: at night, stands out most
    (2 * 1440 + 15 * 60 + 5, 3, 97.5),    # day 3, 15:05: on top of the daily peak
]


def main():
    rng = random.Random(SEED)
    out = sys.stdout
    out.write("Date,Timestamp,CPU_Utilization\n")
    for minute in range(DAYS * 1440):
        t = START + datetime.timedelta(minutes=minute)
        hour = (minute % 1440) / 60.0
        # Daily cycle: 12% at 02:00, 48% at 14:00.
        value = 30.0 - 18.0 * math.cos((hour - 2.0) / 24.0 * 2 * math.pi)
        value += rng.gauss(0.0, 2.5)
        for start, length, peak in SPIKES:
            if start <= minute < start + length:
                value = peak + rng.gauss(0.0, 1.5)
        value = min(100.0, max(0.0, value))
        out.write("%s,%s,%.2f\n" % (t.strftime("%Y-%m-%d"),
                                    t.strftime("%H:%M:%S"), value))


if __name__ == "__main__":
    main()
