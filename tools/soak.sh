#!/usr/bin/env bash
# Soak: promewma under a bounded, steady load on loopback for SOAK_SECONDS
# (600), with series churn, remote reads and a write-back target, recorded
# at intervals so that drift (memory, latency, errors) shows.
#
#   - Writes: every SOAK_INTERVAL (10) seconds, `rwbench write` sends that
#     interval's samples (one a second) of SOAK_SERIES (5000) series, 500
#     samples a request over 2 keep-alive connections, paced evenly over
#     SOAK_SPREAD_MS (8 s of the 10) as a sender shipping samples as they
#     come does (SOAK_SPREAD_MS=0: a burst, as fast as promewma answers).
#   - Churn: every SOAK_GENERATION_SECONDS (40) the series get a new metric
#     name, so a new label set: a new generation, as when every pod is
#     replaced. promewma runs with series_idle_timeout SOAK_IDLE_TIMEOUT
#     (25s, well over an interval even on a busy machine) and
#     checkpoint_interval 5s (the drop is part of a checkpoint), so an old
#     generation leaves memory about 30 s after its last samples and at
#     most two generations are held while the total seen keeps growing.
#   - Reads: `rwbench read` once a second all through the run, the last
#     5 minutes of the current generation and of the one before it (dropped
#     from memory: read from the store) in turn.
#   - Write-back: the derived series go to a VictoriaMetrics of its own
#     (SOAK_WRITE_BACK=0: none).
#
# Every interval one line of $SOAK_OUT/soak.dat (default build/soak):
# promewma's RSS and anonymous memory, its CPU per written sample (all of
# its work: writes, reads, write-back, checkpoints), the write requests'
# p50/p99 latency, failed write requests, the reads' median latency and
# failures, write-back samples failed or dropped, series in memory and
# dropped so far, and three parts of promewma_memory_bytes (head,
# memtables, free heap), and promewma's log to $SOAK_OUT/promewma.log
# (SOAK_LOG_LEVEL, info: its checkpoints). Every answered write's latency goes to
# $SOAK_OUT/latencies.dat (elapsed s when sent, ms), for percentiles over a
# minute's 600 requests rather than an interval's 100 (whose p99 is the
# slowest but one). Then $SOAK_OUT/soak.png (gnuplot) and a markdown table,
# one row per minute, with the figures the README's claims rest on.
#
# SOAK_SCHED_TRACE=SECONDS records the scheduler (perf sched, as root)
# for that long from 40 s in, and splits each write's latency into
# promewma's part and rwbench's own wait for a core once answered, and
# the slowest of promewma's parts into time on a core, waiting for one and
# blocked (tools/lib/sched_split.py; the trace and its input stay in
# $SOAK_OUT).
#
#   tools/soak.sh                        # 10 minutes, the README's run
#   SOAK_SECONDS=180 SOAK_SCHED_TRACE=120 tools/soak.sh   # whose latency?
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib/common.sh

soak_seconds="${SOAK_SECONDS:-600}"
interval="${SOAK_INTERVAL:-10}"
series="${SOAK_SERIES:-5000}"
generation_seconds="${SOAK_GENERATION_SECONDS:-40}"
spread_ms="${SOAK_SPREAD_MS:-$(( interval * 800 ))}"
idle_timeout="${SOAK_IDLE_TIMEOUT:-25s}"
out="${SOAK_OUT:-build/soak}"

if ! command -v victoria-metrics >/dev/null; then
  echo "soak: victoria-metrics (the write-back target) is not installed" >&2
  exit 1
fi
if ! command -v gnuplot >/dev/null; then
  echo "soak: gnuplot is not installed" >&2
  exit 1
fi
sched_trace="${SOAK_SCHED_TRACE:-0}"
if [ "$sched_trace" != 0 ] && ! command -v perf >/dev/null; then
  echo "soak: SOAK_SCHED_TRACE needs perf (Debian's linux-perf)" >&2
  exit 1
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "${PROMEWMA_JOBS:-2}" --target promewma rwbench >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$out"

vm_port=$(free_port)
victoria-metrics -storageDataPath="$work/vm" -httpListenAddr="127.0.0.1:$vm_port" \
  -loggerLevel=WARN -retentionPeriod=1y >"$work/vm.log" 2>&1 &
pids+=("$!")
wait_ready "http://127.0.0.1:$vm_port/health" victoria-metrics

pw_port=$(free_port)
cat >"$work/promewma.yml" <<EOF
checkpoint_interval: ${SOAK_CHECKPOINT_INTERVAL:-5s}
series_idle_timeout: $idle_timeout
EOF
# SOAK_WRITE_BACK=0 leaves write-back out (to tell what it costs the writes).
if [ "${SOAK_WRITE_BACK:-1}" != 0 ]; then
  cat >>"$work/promewma.yml" <<EOF
write_back:
  - url: http://127.0.0.1:$vm_port/api/v1/write
    queue_config: {batch_send_deadline: 1s}
EOF
fi
build/bin/promewma --config "$work/promewma.yml" --listen "127.0.0.1:$pw_port" \
  --data-dir "$work/promewma" --log-level "${SOAK_LOG_LEVEL:-info}" 2>"$out/promewma.log" &
pw_pid=$!; pids+=("$pw_pid")
wait_ready "http://127.0.0.1:$pw_port/-/ready" promewma

# A sum over the samples of a metric family in promewma's /metrics.
metric_sum() {  # metrics text, name regex
  awk -v re="^($2)[{ ]" '$0 ~ re {s += $NF} END {printf "%.0f", s + 0}' <<<"$1"
}

part_mib() {  # a part of promewma_memory_bytes in $metrics
  awk -v re="^promewma_memory_bytes[{]part=\"$1\"[}]" '$0 ~ re {printf "%.1f", $NF / 1048576}' <<<"$metrics"
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
echo 0 >"$work/generation"
# The reader: one query after another; each line "READ ms" or "ERR".
# SOAK_READS=0 leaves it out (to tell what the reads cost the writes).
(
  turn=0
  while [ "${SOAK_READS:-1}" != 0 ]; do
    g=$(cat "$work/generation")
    if [ $(( turn++ % 2 )) -eq 1 ] && [ "$g" -gt 0 ]; then g=$(( g - 1 )); fi
    end=$(now_ms)
    if r=$(build/bin/rwbench read --url "http://127.0.0.1:$pw_port/api/v1/read" \
        --metric "soak_gen_$g" --start-ms $(( end - 300000 )) --end-ms "$end" \
        --repeat 1 2>>"$work/reads.err"); then
      sed -E 's/.*median ([0-9.]+) ms.*/READ \1/' <<<"$r"
    else
      echo ERR
    fi
    sleep 1
  done
) >"$work/reads.log" &
pids+=("$!")

: >"$out/latencies.dat"
if [ "$sched_trace" != 0 ]; then
  : >"$out/latencies_unix.dat"
  (
    sleep 40
    python3 -c 'import time; print(time.clock_gettime(time.CLOCK_REALTIME) - time.clock_gettime(time.CLOCK_MONOTONIC))' \
      >"$out/sched.offset"
    perf sched record -k mono -o "$out/sched.perf" -- sleep "$sched_trace" >"$out/sched.log" 2>&1
  ) &
  pids+=("$!")
  tracer=$!
fi
echo "# elapsed_s rss_mib anon_mib cpu_us_per_sample write_p50_ms write_p99_ms write_failed read_ms read_failed writeback_failed series_active series_dropped head_mib memtables_mib heap_free_mib" \
  >"$out/soak.dat"
echo "soak: ${soak_seconds}s, $series series per generation, a new generation every ${generation_seconds}s, recorded every ${interval}s into $out/soak.dat"
start_s=$(date +%s)
first_ms=$(( start_s * 1000 - interval * 1000 ))
cpu_before=$(cpu_s "$pw_pid")
reads_seen=0
wb_before=0
rounds=$(( soak_seconds / interval ))
for i in $(seq 0 $(( rounds - 1 ))); do
  g=$(( i * interval / generation_seconds ))
  echo "$g" >"$work/generation"
  w=$(build/bin/rwbench write --url "http://127.0.0.1:$pw_port/api/v1/write" \
    --series "$series" --samples "$interval" --step-ms 1000 \
    --start-ms $(( first_ms + i * interval * 1000 )) --batch-size 500 --connections 2 \
    --spread-ms "$spread_ms" --latency-log "$work/latencies" \
    --metric "soak_gen_$g" 2>>"$work/writes.err") || true
  if [ -f "$work/latencies" ]; then
    awk -v s="$start_s" '{printf "%.3f %s\n", $1 / 1000 - s, $2}' "$work/latencies" >>"$out/latencies.dat"
    if [ "$sched_trace" != 0 ]; then cat "$work/latencies" >>"$out/latencies_unix.dat"; fi
    rm -f "$work/latencies"
  fi
  # The rest of the interval idle, then the figures at its end.
  sleep_s=$(awk -v end=$(( start_s + (i + 1) * interval )) -v now="$(date +%s.%N)" \
    'BEGIN {printf "%.2f", (end > now ? end - now : 0)}')
  sleep "$sleep_s"
  cpu_now=$(cpu_s "$pw_pid")
  metrics=$(curl -fs "http://127.0.0.1:$pw_port/metrics")
  wb_now=$(metric_sum "$metrics" 'promewma_writeback_samples_failed_total|promewma_writeback_samples_dropped_total')
  mapfile -t reads < <(tail -n +"$(( reads_seen + 1 ))" "$work/reads.log")
  reads_seen=$(( reads_seen + ${#reads[@]} ))
  read_ms=$(printf '%s\n' "${reads[@]}" | awk '$1=="READ"{print $2}' | tr '\n' ' ' | median)
  read_failed=$(printf '%s\n' "${reads[@]}" | grep -c '^ERR' || true)
  if [ -n "$w" ]; then
    samples=$(sed -E 's/.*: ([0-9]+) samples in.*/\1/' <<<"$w")
    p50=$(sed -E 's/.*p50 ([0-9.]+) ms.*/\1/' <<<"$w")
    p99=$(sed -E 's/.*p99 ([0-9.]+) ms.*/\1/' <<<"$w")
    failed=$(sed -E 's/.* ([0-9]+) failed requests.*/\1/' <<<"$w")
  else  # rwbench printed nothing: every sample of the interval failed
    samples=$(( series * interval )); p50=0; p99=0; failed=$(( series * interval / 500 ))
  fi
  line="$(( $(date +%s) - start_s )) $(awk '{printf "%.1f", $1/1024}' <<<"$(rss_kb "$pw_pid")") \
$(awk '{printf "%.1f", $1/1024}' <<<"$(anon_kb "$pw_pid")") \
$(cpu_us_per_sample "$cpu_before" "$cpu_now" "$samples") $p50 $p99 $failed ${read_ms:-0} $read_failed \
$(( wb_now - wb_before )) $(metric_sum "$metrics" promewma_series_active) \
$(metric_sum "$metrics" promewma_series_dropped_total) $(part_mib head) $(part_mib memtables) \
$(part_mib heap_free)"
  echo "$line" >>"$out/soak.dat"
  echo "$line"
  cpu_before=$cpu_now
  wb_before=$wb_now
done

gnuplot <<GP
set terminal pngcairo size 1000,800 font ",11"
set output "$out/soak.png"
set multiplot layout 3,1 title "promewma soak: $series series per generation, a new one every ${generation_seconds}s, reads and write-back"
set grid
set key outside right
set xlabel "elapsed, s"
set ylabel "MiB"
set yrange [0:*]
plot "$out/soak.dat" using 1:2 with linespoints title "RSS", \
     "" using 1:3 with linespoints title "anonymous", \
     "" using 1:14 with linespoints title "memtables", \
     "" using 1:15 with linespoints title "free heap", \
     "" using 1:13 with linespoints title "head"
set ylabel "ms (log)"
set logscale y
set yrange [*:*]
plot "$out/soak.dat" using 1:5 with linespoints title "write p50", \
     "" using 1:6 with linespoints title "write p99", \
     "" using 1:8 with linespoints title "read (median)"
unset logscale y
set ylabel "series"
set yrange [0:*]
set offsets 0, 0, graph 0.15, 0
set y2label "us CPU / sample"
set y2tics
plot "$out/soak.dat" using 1:11 with linespoints title "in memory", \
     "" using 1:4 axes x1y2 with linespoints title "CPU per sample"
unset multiplot
GP

# One row a minute, and the figures the claims rest on.
python3 - "$out/soak.dat" "$series" "$interval" "$out/latencies.dat" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if not l.startswith("#")]
series, interval = int(sys.argv[2]), int(sys.argv[3])
latencies = [tuple(map(float, l.split())) for l in open(sys.argv[4])]
E, RSS, ANON, CPU, P50, P99, WF, READ, RF, WBF, ACTIVE, DROPPED, HEAD, MEMT, FREE = range(15)
def pct(values, q):  # as rwbench: the nearest rank
    v = sorted(values)
    return v[int(q * (len(v) - 1) + 0.5)] if v else 0.0
def minute_latencies(b):
    return [ms for t, ms in latencies if b[0][E] - interval <= t < b[-1][E]]
print("| minute | RSS MiB (max) | anonymous MiB (max) | CPU us/sample (median) | write p50 ms | write p99 ms | read ms (median) | failed writes / reads / write-back samples | series in memory (max) | series dropped | head / memtables / free heap MiB (last) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
per_min = 60 // interval
for m in range(0, len(rows), per_min):
    b = rows[m:m + per_min]
    print(f"| {m // per_min + 1} | {max(r[RSS] for r in b):.0f} | {max(r[ANON] for r in b):.0f} "
          f"| {statistics.median(r[CPU] for r in b):.2f} | {pct(minute_latencies(b), 0.5):.2f} "
          f"| {pct(minute_latencies(b), 0.99):.2f} | {statistics.median(r[READ] for r in b):.1f} "
          f"| {sum(r[WF] for r in b):.0f} / {sum(r[RF] for r in b):.0f} / {sum(r[WBF] for r in b):.0f} "
          f"| {max(r[ACTIVE] for r in b):.0f} | {b[-1][DROPPED]:.0f} "
          f"| {b[-1][HEAD]:.1f} / {b[-1][MEMT]:.1f} / {b[-1][FREE]:.1f} |")
# The active set is stable once the first generation has been dropped.
stable = [r for r in rows if r[DROPPED] > 0]
print()
print(f"series seen: {int(rows[-1][DROPPED] + rows[-1][ACTIVE])}, "
      f"in memory at most {max(r[ACTIVE] for r in rows):.0f}")
if len(stable) >= 2:
    half = len(stable) // 2
    print(f"RSS once the active set is stable (from {stable[0][E]:.0f} s): "
          f"{min(r[RSS] for r in stable):.0f}..{max(r[RSS] for r in stable):.0f} MiB; "
          f"max of its first half {max(r[RSS] for r in stable[:half]):.0f} MiB, "
          f"of its second half {max(r[RSS] for r in stable[half:]):.0f} MiB; "
          f"RSS less memtables {min(r[RSS] - r[MEMT] for r in stable):.0f}.."
          f"{max(r[RSS] - r[MEMT] for r in stable):.0f} MiB, first half max "
          f"{max(r[RSS] - r[MEMT] for r in stable[:half]):.0f}, second half max "
          f"{max(r[RSS] - r[MEMT] for r in stable[half:]):.0f}; head "
          f"{min(r[HEAD] for r in stable):.1f}..{max(r[HEAD] for r in stable):.1f} MiB")
ratios = [r[P99] / r[P50] for r in rows if r[P50] > 0]
print(f"write p99 / p50 per interval: median {statistics.median(ratios):.2f}, max {max(ratios):.2f}; "
      f"intervals over 3x: {sum(1 for x in ratios if x > 3)} of {len(ratios)}")
minutes = [rows[m:m + per_min] for m in range(0, len(rows), per_min)]
mr = [pct(minute_latencies(b), 0.99) / pct(minute_latencies(b), 0.5) for b in minutes if minute_latencies(b)]
every = [ms for _, ms in latencies]
print(f"write p99 / p50 per minute: median {statistics.median(mr):.2f}, max {max(mr):.2f}, minutes over 3x: "
      f"{sum(1 for x in mr if x > 3)} of {len(mr)}; whole run: p50 {pct(every, 0.5):.2f} ms, "
      f"p99 {pct(every, 0.99):.2f} ms, p99.9 {pct(every, 0.999):.2f} ms, max {max(every):.2f} ms over {len(every)} requests")
print(f"errors: {sum(r[WF] for r in rows):.0f} failed write requests, {sum(r[RF] for r in rows):.0f} failed reads, "
      f"{sum(r[WBF] for r in rows):.0f} write-back samples failed or dropped")
PY
echo
echo "plot: $out/soak.png (data: $out/soak.dat)"
if [ "$sched_trace" != 0 ]; then
  wait "$tracer" || true
  echo
  if [ -s "$out/sched.perf" ]; then
    perf script -i "$out/sched.perf" -F comm,tid,cpu,time,event,trace >"$out/sched.txt" 2>/dev/null
    python3 tools/lib/sched_split.py "$out/latencies_unix.dat" "$out/sched.txt" "$out/sched.offset"
  else
    echo "soak: no scheduler trace (see $out/sched.log)" >&2
  fi
fi
