#!/usr/bin/env python3
"""tools/lib/sched_split.py on a made-up scheduler trace: each write's
latency is split at the moment promewma woke the sender with the answer,
into promewma's part and the sender's wait for a core; a request the
trace cannot follow is left out, not guessed."""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPLIT = os.path.join(ROOT, "tools", "lib", "sched_split.py")
OFFSET = 1_000_000.0  # realtime - monotonic, s


def waking(t, comm, tid, woken, woken_tid):
    return (f"{comm:>16} {tid:>6} [000] {t - OFFSET:.6f}: sched:sched_waking: "
            f"comm={woken} pid={woken_tid} prio=120 target_cpu=000\n")


def switch(t, prev, prev_tid, nxt, nxt_tid):
    return (f"{prev:>16} {prev_tid:>6} [001] {t - OFFSET:.6f}: sched:sched_switch: "
            f"prev_comm={prev} prev_pid={prev_tid} prev_prio=120 prev_state=S ==> "
            f"next_comm={nxt} next_pid={nxt_tid} next_prio=120\n")


def main():
    # Four requests from rwbench thread 500, 10 s apart:
    #   1: answered after 0.8 ms, running 0.1 ms later   -> 0.9 ms
    #   2: answered after 1.0 ms, running 3.0 ms later   -> 4.0 ms
    #   3: sent, but no promewma thread ever wakes 500    -> left out
    #   4: answered after 0.9 ms, running 0.2 ms later   -> 1.1 ms
    t = [OFFSET + 10, OFFSET + 20, OFFSET + 30, OFFSET + 40]
    trace = [
        waking(t[0] - 1, "swapper/0", 0, "perf", 9),  # the trace starts
        waking(t[0] + 0.00001, "rwbench", 500, "http-loop-3", 603),
        waking(t[0] + 0.0008, "http-loop-3", 603, "rwbench", 500),
        switch(t[0] + 0.0009, "http-loop-3", 603, "rwbench", 500),
        waking(t[1] + 0.00001, "rwbench", 500, "promewma", 600),
        waking(t[1] + 0.001, "promewma", 600, "rwbench", 500),
        switch(t[1] + 0.004, "victoria-metric", 700, "rwbench", 500),
        waking(t[2] + 0.00001, "rwbench", 500, "http-loop-1", 601),
        waking(t[3] + 0.00001, "rwbench", 500, "http-loop-1", 601),
        waking(t[3] + 0.0009, "http-loop-1", 601, "rwbench", 500),
        switch(t[3] + 0.0011, "http-query", 650, "rwbench", 500),
        waking(t[3] + 1, "swapper/0", 0, "perf", 9),  # and ends
    ]
    latencies = [(t[0], 0.9), (t[1], 4.0), (t[2], 2.0), (t[3], 1.1)]
    with tempfile.TemporaryDirectory() as d:
        paths = [os.path.join(d, n) for n in ("lat", "trace", "offset")]
        with open(paths[0], "w") as f:
            f.writelines(f"{s * 1000:.3f} {ms}\n" for s, ms in latencies)
        with open(paths[1], "w") as f:
            f.writelines(trace)
        with open(paths[2], "w") as f:
            f.write(f"{OFFSET}\n")
        out = subprocess.run([sys.executable, SPLIT] + paths, check=True,
                             capture_output=True, text=True).stdout
    print(out)
    failures = []

    def expect(pattern):
        if not re.search(pattern, out):
            failures.append(f"missing: {pattern}")

    expect(r"followed through the trace: 3 of the 4 sent")
    # Nearest rank over three requests: p50 the middle one, p90 the top.
    expect(r"as rwbench saw them: p50 1\.10 ms, p99 4\.00 ms")
    expect(r"promewma's part \(sent -> answered\): p50 0\.90 ms, p90 1\.00 ms, "
           r"p99 1\.00 ms, p99/p50 1\.11")
    expect(r"rwbench's wait for a core \(answered -> running\): p50 0\.200 ms, "
           r"p90 3\.00 ms")
    expect(r"the slowest 1% \(1\): 4\.00 ms on average, of which promewma 1\.00 ms "
           r"and rwbench waiting 3\.00 ms")
    for f in failures:
        print(f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
