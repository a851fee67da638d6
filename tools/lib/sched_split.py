#!/usr/bin/env python3
"""Splits each soak write's latency, as the load generator saw it, into
promewma's part and the load generator's own wait for a core.

The soak's latencies are measured by rwbench, on the same two cores as
promewma, its reader and its write-back target. A request is slow either
because promewma answered late or because rwbench, woken with the answer,
waited for a core before it could note the time. perf's scheduler trace
tells the two apart:

  send      rwbench writes the request (its latency log's start time); its
            thread wakes a promewma event loop (http-loop-N, or the main
            thread "promewma" that runs loop 0);
  answered  a promewma thread wakes that same rwbench thread: the answer
            is in its socket;
  running   the rwbench thread is switched in, and reads it.

promewma's part is send -> answered (the network on loopback included);
the load generator's wait is answered -> running.

Usage: sched_split.py LATENCIES PERF_SCRIPT OFFSET
  LATENCIES    rwbench --latency-log lines: send time (ms since the epoch)
               and latency (ms)
  PERF_SCRIPT  `perf script -F comm,tid,cpu,time,event,trace` of a
               `perf sched record -k mono`
  OFFSET       a file holding CLOCK_REALTIME - CLOCK_MONOTONIC, in seconds,
               read when the trace started
"""
import bisect
import re
import sys

EVENT = re.compile(r"\s*(\S.*?)\s+(\d+)\s+\[\d+\]\s+([\d.]+):\s+(\S+):\s+(.*)")
WAKING = re.compile(r"comm=(.*?) pid=(\d+)")
SWITCH_IN = re.compile(r"==> next_comm=(.*?) next_pid=(\d+)")


def is_promewma_loop(comm):
    return comm.startswith("http-loop") or comm == "promewma"


def percentile(values, q):  # nearest rank, as rwbench and soak.sh
    v = sorted(values)
    return v[int(q * (len(v) - 1) + 0.5)]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    offset = float(open(sys.argv[3]).read())
    requests = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
    wakings = []  # (time, waker comm, waker tid, woken comm, woken tid)
    switched_in = {}  # tid -> its switch-in times, in order
    for line in open(sys.argv[2]):
        m = EVENT.match(line)
        if not m:
            continue
        comm, tid, t, event, rest = m.groups()
        t = float(t) + offset
        if event == "sched:sched_waking":
            w = WAKING.search(rest)
            if w:
                wakings.append((t, comm, int(tid), w.group(1), int(w.group(2))))
        elif event == "sched:sched_switch":
            s = SWITCH_IN.search(rest)
            if s:
                switched_in.setdefault(int(s.group(2)), []).append(t)
    if not wakings:
        sys.exit("sched_split: no sched_waking events in " + sys.argv[2])
    wakings.sort()
    times = [w[0] for w in wakings]
    first, last = times[0], times[-1]
    split = []  # (latency, promewma's part, the client's wait), ms
    for sent_ms, latency_ms in requests:
        sent = sent_ms / 1000.0
        done = sent + latency_ms / 1000.0
        if sent < first or done > last:
            continue
        i = bisect.bisect_left(times, sent - 0.0005)
        sender = None
        while i < len(wakings) and wakings[i][0] < done:
            _, waker, waker_tid, woken, _ = wakings[i]
            if waker == "rwbench" and is_promewma_loop(woken):
                sender = waker_tid
                break
            i += 1
        answered = None
        while sender is not None and i < len(wakings) and wakings[i][0] <= done:
            t, waker, _, _, woken_tid = wakings[i]
            if is_promewma_loop(waker) and woken_tid == sender:
                answered = t
                break
            i += 1
        if answered is None:
            continue  # a wake-up outside the trace, or one we cannot tell
        runs = switched_in.get(sender, [])
        j = bisect.bisect_left(runs, answered)
        if j == len(runs):
            continue
        split.append((latency_ms, (answered - sent) * 1000, (runs[j] - answered) * 1000))
    if not split:
        sys.exit("sched_split: no request could be followed through the trace")
    lat = [s[0] for s in split]
    part = [s[1] for s in split]
    wait = [s[2] for s in split]
    print(f"requests followed through the trace: {len(split)} of the "
          f"{sum(1 for r in requests if first <= r[0] / 1000.0 <= last)} sent in it")
    print(f"as rwbench saw them: p50 {percentile(lat, .5):.2f} ms, p99 "
          f"{percentile(lat, .99):.2f} ms, p99/p50 {percentile(lat, .99) / percentile(lat, .5):.2f}")
    print(f"promewma's part (sent -> answered): p50 {percentile(part, .5):.2f} ms, "
          f"p90 {percentile(part, .9):.2f} ms, p99 {percentile(part, .99):.2f} ms, "
          f"p99/p50 {percentile(part, .99) / percentile(part, .5):.2f}")
    print(f"rwbench's wait for a core (answered -> running): p50 "
          f"{percentile(wait, .5):.3f} ms, p90 {percentile(wait, .9):.2f} ms, "
          f"p99 {percentile(wait, .99):.2f} ms")
    slow = sorted(split)[int(0.99 * len(split)):]
    print(f"the slowest 1% ({len(slow)}): {sum(s[0] for s in slow) / len(slow):.2f} ms "
          f"on average, of which promewma {sum(s[1] for s in slow) / len(slow):.2f} ms "
          f"and rwbench waiting {sum(s[2] for s in slow) / len(slow):.2f} ms")


if __name__ == "__main__":
    main()
