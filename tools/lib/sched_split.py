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

Within promewma's part, the slowest 1% are split further by the state of
the event loop's thread: on a core, waiting for one (woken or preempted,
not yet running) or blocked (on a lock, or on the rest of the request),
with what ran on each core while it waited: the core it then ran on
("its core") and the other.

Usage: sched_split.py LATENCIES PERF_SCRIPT OFFSET
  LATENCIES    rwbench --latency-log lines: send time (ms since the epoch)
               and latency (ms)
  PERF_SCRIPT  `perf script -F comm,tid,cpu,time,event,trace` of a
               `perf sched record -k mono`
  OFFSET       a file holding CLOCK_REALTIME - CLOCK_MONOTONIC, in seconds,
               read when the trace started
"""
import bisect
import collections
import re
import sys

EVENT = re.compile(r"\s*(\S.*?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s+(.*)")
WAKING = re.compile(r"comm=(.*?) pid=(\d+)")
SWITCH = re.compile(r"prev_pid=(\d+) .*prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+)")


def is_promewma_loop(comm):
    return comm.startswith("http-loop") or comm == "promewma"


def percentile(values, q):  # nearest rank, as rwbench and soak.sh
    v = sorted(values)
    return v[int(q * (len(v) - 1) + 0.5)]


def read_trace(path, offset):
    """The trace's wake-ups (in order), each thread's events and each core's
    timeline of what ran on it."""
    wakings = []  # (time, waker comm, waker tid, woken comm, woken tid)
    thread = collections.defaultdict(list)  # tid -> (time, "wake"|"in"|"out R"|"out S", core)
    core = collections.defaultdict(list)  # core -> (time, comm running from then)
    for line in open(path):
        m = EVENT.match(line)
        if not m:
            continue
        comm, tid, cpu, t, event, rest = m.groups()
        t, cpu = float(t) + offset, int(cpu)
        if event == "sched:sched_waking":
            w = WAKING.search(rest)
            if w:
                wakings.append((t, comm, int(tid), w.group(1), int(w.group(2))))
                thread[int(w.group(2))].append((t, "wake", cpu))
        elif event == "sched:sched_switch":
            s = SWITCH.search(rest)
            if s:
                prev, state, next_comm, next_tid = s.groups()
                thread[int(prev)].append((t, "out R" if state.startswith("R") else "out S", cpu))
                thread[int(next_tid)].append((t, "in", cpu))
                core[cpu].append((t, "idle" if next_comm.startswith("swapper") else next_comm))
    wakings.sort()
    for events in list(thread.values()) + list(core.values()):
        events.sort()
    return wakings, thread, core


def ran_on(timeline, start, end):
    """ms each comm ran on a core between start and end."""
    out = collections.Counter()
    i = max(bisect.bisect_right([e[0] for e in timeline], start) - 1, 0)
    while i < len(timeline) and timeline[i][0] < end:
        a = max(timeline[i][0], start)
        b = min(timeline[i + 1][0] if i + 1 < len(timeline) else end, end)
        if b > a:
            out[timeline[i][1]] += (b - a) * 1000
        i += 1
    return out


def loop_states(events, core, start, end):
    """The event loop thread between start and end: ms on a core, waiting
    for one and blocked, and what ran on the cores while it waited."""
    times = [e[0] for e in events]
    i = bisect.bisect_right(times, start)
    state = "S"
    for _, kind, _ in events[:i][-1:]:
        state = {"in": "run", "wake": "R", "out R": "R", "out S": "S"}[kind]
    spent = {"run": 0.0, "R": 0.0, "S": 0.0}
    waits = []  # (from, to, core it then ran on)
    last = start
    for t, kind, cpu in events[i:]:
        if t > end:
            break
        spent[state] += (t - last) * 1000
        if state == "R":
            waits.append((last, t, cpu if kind == "in" else None))
        if not (kind == "wake" and state == "run"):
            state = {"in": "run", "wake": "R", "out R": "R", "out S": "S"}[kind]
        last = t
    spent[state] += (end - last) * 1000
    held = collections.Counter()
    for a, b, its in waits:
        for cpu, timeline in core.items():
            where = "its core" if cpu == its else "the other"
            for comm, ms in ran_on(timeline, a, b).items():
                held[f"{comm} on {where}"] += ms
    return spent["run"], spent["R"], spent["S"], held


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    offset = float(open(sys.argv[3]).read())
    requests = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
    wakings, thread, core = read_trace(sys.argv[2], offset)
    if not wakings:
        sys.exit("sched_split: no sched_waking events in " + sys.argv[2])
    times = [w[0] for w in wakings]
    switched_in = {tid: [e[0] for e in events if e[1] == "in"]
                   for tid, events in thread.items()}
    first, last = times[0], times[-1]
    split = []  # (latency, promewma's part, the client's wait, loop tid, sent, answered), ms
    for sent_ms, latency_ms in requests:
        sent = sent_ms / 1000.0
        done = sent + latency_ms / 1000.0
        if sent < first or done > last:
            continue
        i = bisect.bisect_left(times, sent - 0.0005)
        sender = loop = None
        while i < len(wakings) and wakings[i][0] < done:
            _, waker, waker_tid, woken, woken_tid = wakings[i]
            if waker == "rwbench" and is_promewma_loop(woken):
                sender, loop = waker_tid, woken_tid
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
        split.append((latency_ms, (answered - sent) * 1000, (runs[j] - answered) * 1000,
                      loop, sent, answered))
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
    slowest_part = sorted(split, key=lambda s: s[1])[int(0.99 * len(split)):]
    on_core = waiting = blocked = 0.0
    held = collections.Counter()
    for _, _, _, loop, sent, answered in slowest_part:
        r, w, b, h = loop_states(thread[loop], core, sent, answered)
        on_core, waiting, blocked = on_core + r, waiting + w, blocked + b
        held.update(h)
    n = len(slowest_part)
    print(f"promewma's slowest 1% ({n}), its event loop on average: on a core "
          f"{on_core / n:.2f} ms, waiting for one {waiting / n:.2f} ms, blocked "
          f"{blocked / n:.2f} ms")
    print("  while it waited, what ran (ms on average): " +
          ", ".join(f"{k} {v / n:.2f}" for k, v in held.most_common(8)))


if __name__ == "__main__":
    main()
