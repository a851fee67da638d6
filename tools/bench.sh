#!/usr/bin/env bash
# Side-by-side benchmark on loopback, in one run, on this machine: promewma
# (store on, write-back off), Prometheus 2.42 (--web.enable-remote-write-
# receiver) and VictoriaMetrics 1.79 get the very same pre-generated
# remote-write bodies (rwbench generate), and the same remote-read query.
#
#   1. ingest    INGEST_SERIES series, 500 samples per request, 2 keep-alive
#                connections; INGEST_ROUNDS rounds of timestamps per repeat,
#                INGEST_REPEAT repeats moving forward in time; each server
#                gets every repeat, in turn. Median samples/s and ratios.
#                Also promewma with write-back into a VictoriaMetrics of its
#                own, timed until the derived backlog is delivered. Each
#                round starts on a nearly idle machine, and a server's CPU
#                is read once its own background work has settled too.
#   2. memory    steady state, the way users live with it: the same series
#                get one more hour of 10-second samples per round (rwbench
#                write, 500 samples/request, 2 connections). RSS and
#                anonymous memory after each round, for STEADY_SERIES
#                (10000) series over STEADY_ROUNDS (12) rounds into
#                promewma, VictoriaMetrics and Prometheus, and for
#                promewma with write-back into a VictoriaMetrics of its
#                own while remote reads of the last hour run; then
#                STEADY_LARGE_SERIES (100000) over STEADY_LARGE_ROUNDS (3).
#                STEADY_SERVERS and STEADY_LARGE_SERVERS (promewma
#                victoriametrics prometheus) pick the servers,
#                STEADY_WRITEBACK_ROUNDS (STEADY_ROUNDS) the write-back
#                run's rounds; a run of 0 rounds is left out. promewma's
#                memory parts after each round, its head bytes per active
#                series after each run, and the heap trims' share of its
#                CPU. Markdown tables, and a PNG plot (gnuplot) in
#                $BENCH_OUT (default build/bench).
#   3. restart   MEM_SERIES new series x MEM_SAMPLES samples into a fresh
#                promewma: SIGKILL and restart (the whole request log
#                replays), then SIGTERM (checkpoint) and restart.
#   4. read      1,000 series x 1 h at 10 s; one query for all of them,
#                READ_REPEAT times, promewma against Prometheus.
#   5. csv2rw    a CSV_ROWS-row CSV in NAB's format, parsed, encoded and
#                written with --out; median rows/s of 3 (one core).
#   6. connections  the connection-count sweep: SWEEP_CONNECTIONS (2 32 128
#                512) keep-alive senders, SWEEP_SAMPLES samples per point,
#                500 samples per request on every connection (so at least
#                500 x connections series, and 10,000). Each server gets
#                the same bodies; samples/s, p50/p99 latency, failed
#                requests (connection errors and non-2xx, each sent again)
#                and the kernel's listen-queue overflows during the run
#                (nstat TcpExtListenOverflows, iproute2).
#
#   tools/bench.sh
#   MEM_SERIES=200000 INGEST_REPEAT=5 tools/bench.sh
#   PHASES=memory tools/bench.sh          # about 45 min on 2 cores (2 h loaded, 12 large rounds)
#   PHASES="ingest read" tools/bench.sh
#   PHASES=connections tools/bench.sh
#
# The machine is shared and noisy: compare ratios within one run, not
# absolute numbers across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/lib/common.sh

ingest_series="${INGEST_SERIES:-10000}"
ingest_rounds="${INGEST_ROUNDS:-600}"
ingest_repeat="${INGEST_REPEAT:-3}"
mem_series="${MEM_SERIES:-1000000}"
mem_samples="${MEM_SAMPLES:-10}"
read_repeat="${READ_REPEAT:-20}"
csv_rows="${CSV_ROWS:-5000000}"
sweep_connections="${SWEEP_CONNECTIONS:-2 32 128 512}"
sweep_samples="${SWEEP_SAMPLES:-4000000}"
steady_series="${STEADY_SERIES:-10000}"
steady_rounds="${STEADY_ROUNDS:-12}"
steady_large_series="${STEADY_LARGE_SERIES:-100000}"
steady_large_rounds="${STEADY_LARGE_ROUNDS:-3}"
steady_large_servers="${STEADY_LARGE_SERVERS:-promewma victoriametrics prometheus}"
steady_servers="${STEADY_SERVERS:-promewma victoriametrics prometheus}"
steady_writeback_rounds="${STEADY_WRITEBACK_ROUNDS:-$steady_rounds}"
bench_out="${BENCH_OUT:-build/bench}"
phases="${PHASES:-ingest memory restart read csv2rw connections}"

tools/bootstrap.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "${PROMEWMA_JOBS:-2}" --target promewma rwbench csv2rw >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

has_phase() { [[ " $phases " == *" $1 "* ]]; }

# Fresh servers in $work/$1: sets pw_pid/pw_port, prom_*, vm_* and waits
# until all three are ready.
start_servers() {
  local dir="$work/$1"
  mkdir -p "$dir"
  pw_port=$(free_port); prom_port=$(free_port); vm_port=$(free_port)
  build/bin/promewma --listen "127.0.0.1:$pw_port" --data-dir "$dir/promewma" \
    --log-level warn 2>>"$dir/promewma.log" &
  pw_pid=$!; pids+=("$pw_pid")
  printf 'global:\n  scrape_interval: 1m\n' >"$dir/prometheus.yml"
  prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" --web.enable-remote-write-receiver \
    --log.level=warn 2>"$dir/prometheus.log" &
  prom_pid=$!; pids+=("$prom_pid")
  victoria-metrics -storageDataPath="$dir/vm" -httpListenAddr="127.0.0.1:$vm_port" \
    -loggerLevel=WARN -retentionPeriod=1y >"$dir/vm.log" 2>&1 &
  vm_pid=$!; pids+=("$vm_pid")
  wait_ready "http://127.0.0.1:$pw_port/-/ready" promewma
  wait_ready "http://127.0.0.1:$prom_port/-/ready" prometheus
  wait_ready "http://127.0.0.1:$vm_port/health" victoria-metrics
}
stop_servers() {
  kill "$pw_pid" "$prom_pid" "$vm_pid" 2>/dev/null || true
  wait "$pw_pid" "$prom_pid" "$vm_pid" 2>/dev/null || true
}
write_url() {  # server
  case "$1" in
    promewma) echo "http://127.0.0.1:$pw_port/api/v1/write" ;;
    prometheus) echo "http://127.0.0.1:$prom_port/api/v1/write" ;;
    victoriametrics) echo "http://127.0.0.1:$vm_port/api/v1/write" ;;
  esac
}
samples_per_s() { sed -E 's/.* ([0-9]+) samples\/s.*/\1/' <<<"$1"; }
samples_sent() { sed -E 's/.*: ([0-9]+) samples in.*/\1/' <<<"$1"; }
send_seconds() { sed -E 's/.* in ([0-9.]+) s, .*/\1/' <<<"$1"; }
pid_of() {  # server
  case "$1" in
    promewma) echo "$pw_pid" ;; victoriametrics) echo "$vm_pid" ;; prometheus) echo "$prom_pid" ;;
  esac
}
p99_ms() { sed -E 's/.*p99 ([0-9.]+) ms.*/\1/' <<<"$1"; }

now_ms=$(( $(date +%s) * 1000 ))
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

if has_phase ingest; then
  # 5 s apart, so one repeat spans 50 min of data: inside the 1 h window
  # Prometheus' head accepts behind its newest sample, even when one
  # connection runs ahead of the other.
  step_ms=5000
  span_ms=$(( ingest_rounds * step_ms ))
  first_ms=$(( now_ms - 2 * 3600 * 1000 - ingest_repeat * span_ms ))
  echo
  echo "generating $ingest_repeat x $ingest_series series x $ingest_rounds samples..."
  for r in $(seq 1 "$ingest_repeat"); do
    build/bin/rwbench generate --out "$work/ingest-$r" --series "$ingest_series" \
      --samples "$ingest_rounds" --step-ms "$step_ms" \
      --start-ms $(( first_ms + (r - 1) * span_ms )) --batch-size 500 \
      --connections 2 --metric node_cpu_utilization
  done
  start_servers ingest
  # A second promewma writing its derived series back into a VictoriaMetrics
  # of its own: the whole pipeline, timed until the write-back backlog is
  # delivered.
  wb_vm_port=$(free_port); wb_port=$(free_port)
  victoria-metrics -storageDataPath="$work/ingest/wb-vm" -httpListenAddr="127.0.0.1:$wb_vm_port" \
    -loggerLevel=WARN -retentionPeriod=1y >"$work/ingest/wb-vm.log" 2>&1 &
  wb_vm_pid=$!; pids+=("$wb_vm_pid")
  wait_ready "http://127.0.0.1:$wb_vm_port/health" victoria-metrics
  # Default queue settings but a 100 ms batch deadline, so that the last
  # partial batches do not add Prometheus' 5 s default to the timing.
  printf 'write_back:\n  - url: http://127.0.0.1:%s/api/v1/write\n    queue_config: {batch_send_deadline: 100ms}\n' \
    "$wb_vm_port" >"$work/ingest/wb-promewma.yml"
  build/bin/promewma --config "$work/ingest/wb-promewma.yml" --listen "127.0.0.1:$wb_port" \
    --data-dir "$work/ingest/wb-promewma" --log-level warn 2>>"$work/ingest/wb-promewma.log" &
  wb_pid=$!; pids+=("$wb_pid")
  wait_ready "http://127.0.0.1:$wb_port/-/ready" "promewma (write-back)"
  pending() {
    curl -fs "http://127.0.0.1:$wb_port/metrics" |
      awk '/^promewma_writeback_samples_pending/{s+=$2} END{print s+0}'
  }
  declare -A rates p99s cpus
  for r in $(seq 1 "$ingest_repeat"); do
    for server in promewma victoriametrics prometheus; do
      pid=$(pid_of "$server")
      settle
      cpu_before=$(cpu_s "$pid")
      out=$(build/bin/rwbench write --url "$(write_url "$server")" --in "$work/ingest-$r")
      echo "$server #$r: $out"
      rates[$server]+="$(samples_per_s "$out") "
      p99s[$server]+="$(p99_ms "$out") "
      samples=$(samples_sent "$out")
      settle  # its own background work is part of its cost
      cpus[$server]+="$(cpu_us_per_sample "$cpu_before" "$(cpu_s "$pid")" "$samples") "
    done
    settle
    cpu_before=$(cpu_s "$wb_pid")
    out=$(build/bin/rwbench write --url "http://127.0.0.1:$wb_port/api/v1/write" --in "$work/ingest-$r")
    # rwbench times its sending only (it loads the files first); the
    # pipeline's time is that plus the wait until the backlog is delivered.
    sent_at=$(date +%s.%N)
    while [ "$(pending)" != "0" ]; do sleep 0.02; done
    tail_s=$(python3 -c "print(f'{$(date +%s.%N) - $sent_at:.2f}')")
    seconds=$(python3 -c "print($(send_seconds "$out") + $tail_s)")
    samples=$(samples_sent "$out")
    echo "promewma + write-back #$r: $out; backlog delivered $tail_s s after the last request"
    rates[writeback]+="$(python3 -c "print(int($samples / $seconds))") "
    p99s[writeback]+="$(p99_ms "$out") "
    cpus[writeback]+="$(cpu_us_per_sample "$cpu_before" "$(cpu_s "$wb_pid")" "$samples") "
  done
  kill "$wb_pid" "$wb_vm_pid" 2>/dev/null || true
  wait "$wb_pid" "$wb_vm_pid" 2>/dev/null || true
  stop_servers
  pw_rate=$(median <<<"${rates[promewma]}")
  vm_rate=$(median <<<"${rates[victoriametrics]}")
  prom_rate=$(median <<<"${rates[prometheus]}")
  echo
  wb_rate=$(median <<<"${rates[writeback]}")
  row() {  # label, key, rate
    printf '| %s | %s | %s | %s | %sx |\n' "$1" "$3" "$(median <<<"${p99s[$2]}")" \
      "$(median <<<"${cpus[$2]}")" "$(ratio "$pw_rate" "$3")"
  }
  printf '| ingest (%s series, 500 samples/request, 2 connections) | samples/s (median of %s) | p99 request ms | server CPU us/sample | promewma / it |\n|---|---|---|---|---|\n' \
    "$ingest_series" "$ingest_repeat"
  row "promewma (store on)" promewma "$pw_rate"
  row "promewma, write-back to VictoriaMetrics (until delivered; promewma's CPU only)" writeback "$wb_rate"
  row "VictoriaMetrics 1.79" victoriametrics "$vm_rate"
  row "Prometheus 2.42" prometheus "$prom_rate"
  printf '\nCPU efficiency, VictoriaMetrics CPU per sample / promewma CPU per sample: %sx\n' \
    "$(ratio "$(median <<<"${cpus[victoriametrics]}")" "$(median <<<"${cpus[promewma]}")")"
  printf 'write-back pipeline / VictoriaMetrics direct: %sx (bar: >= 1x)\n' \
    "$(ratio "$wb_rate" "$vm_rate")"
  printf 'promewma CPU per input sample with write-back / VictoriaMetrics CPU per sample: %sx\n' \
    "$(ratio "$(median <<<"${cpus[writeback]}")" "$(median <<<"${cpus[victoriametrics]}")")"
fi

if has_phase memory; then
  mkdir -p "$bench_out"
  # One server alone on the machine per run, fresh, with its defaults
  # (promewma: checkpoint_interval 5m, store on). Each round sends the next
  # hour of 10-second samples of the same series; the hours end before now.
  # steady_run NAME SERIES ROUNDS [promewma args...]: appends
  # "NAME SERIES ROUND RSS_KB ANON_KB" lines to $bench_out/memory.dat.
  steady_run() {
    local name=$1 series=$2 rounds=$3; shift 3
    [ "$rounds" -gt 0 ] || return 0
    local dir="$work/steady-$name-$series" port pid url first_ms
    mkdir -p "$dir"
    port=$(free_port)
    case "$name" in
      promewma*)
        build/bin/promewma --listen "127.0.0.1:$port" --data-dir "$dir/data" \
          --log-level warn "$@" 2>>"$dir/promewma.log" &
        pid=$!; pids+=("$pid")
        wait_ready "http://127.0.0.1:$port/-/ready" promewma ;;
      victoriametrics)
        victoria-metrics -storageDataPath="$dir/vm" -httpListenAddr="127.0.0.1:$port" \
          -loggerLevel=WARN -retentionPeriod=1y >"$dir/vm.log" 2>&1 &
        pid=$!; pids+=("$pid")
        wait_ready "http://127.0.0.1:$port/health" victoria-metrics ;;
      prometheus)
        printf 'global:\n  scrape_interval: 1m\n' >"$dir/prometheus.yml"
        prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
          --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
          --log.level=warn 2>"$dir/prometheus.log" &
        pid=$!; pids+=("$pid")
        wait_ready "http://127.0.0.1:$port/-/ready" prometheus ;;
    esac
    url="http://127.0.0.1:$port/api/v1/write"
    first_ms=$(( (now_ms / 3600000 - rounds - 1) * 3600000 ))
    for r in $(seq 1 "$rounds"); do
      local from=$(( first_ms + (r - 1) * 3600000 )) reader=""
      if [ -n "${STEADY_READS:-}" ]; then
        # Remote reads of the hour before this one, all through the round.
        ( while :; do
            build/bin/rwbench read --url "http://127.0.0.1:$port/api/v1/read" \
              --start-ms $(( from - 3600000 )) --end-ms "$from" --repeat 1 >/dev/null 2>&1 || true
          done ) &
        reader=$!
      fi
      out=$(build/bin/rwbench write --url "$url" --series "$series" --samples 360 \
        --step-ms 10000 --batch-size 500 --connections 2 --start-ms "$from")
      if [ -n "$reader" ]; then kill "$reader" 2>/dev/null; wait "$reader" 2>/dev/null || true; fi
      sleep 1
      echo "$name $series $r $(rss_kb "$pid") $(anon_kb "$pid")" >>"$bench_out/memory.dat"
      echo "$name, $series series, round $r: RSS $(rss_kb "$pid") kB, anonymous $(anon_kb "$pid") kB; ${out##*: }"
      if [[ "$name" == promewma* ]]; then
        # The parts after each round, and what the heap trims cost so far
        # against the process' CPU: "NAME SERIES ROUND head memtables
        # block_cache heap_in_use heap_free rss trims trim_s cpu_s".
        curl -fs "http://127.0.0.1:$port/metrics" | awk -v pre="$name $series $r" -v cpu="$(cpu_s "$pid")" '
          /^promewma_memory_bytes\{part="(head|memtables|block_cache|heap_in_use|heap_free|rss)"\}/ {
            split($1, a, "\""); part[a[2]] = $2 }
          /^promewma_heap_trims_total / {trims = $2}
          /^promewma_heap_trim_seconds_total / {trim_s = $2}
          END {printf "%s %d %d %d %d %d %d %d %.3f %.2f\n", pre, part["head"], part["memtables"],
                 part["block_cache"], part["heap_in_use"], part["heap_free"], part["rss"],
                 trims, trim_s, cpu}' >>"$bench_out/memory-parts.dat"
      fi
    done
    if [[ "$name" == promewma* ]]; then
      local metrics
      metrics=$(curl -fs "http://127.0.0.1:$port/metrics")
      grep '^promewma_memory_bytes' <<<"$metrics" | sed "s/^/$name $series: /"
      # The head part per active series (its 4 MiB of first label blocks
      # included), the figure the 1 KiB bound is about.
      awk -v name="$name" -v n="$series" '
        /^promewma_memory_bytes\{part="head"\}/ {head = $2}
        /^promewma_series_active / {active = $2}
        END {if (active > 0) printf "%s %s: head %.0f bytes per active series\n", name, n, head / active}' <<<"$metrics"
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    settle
  }
  : >"$bench_out/memory.dat"
  : >"$bench_out/memory-parts.dat"
  echo
  for server in $steady_servers; do
    steady_run "$server" "$steady_series" "$steady_rounds"
  done
  # Write-back into a VictoriaMetrics of its own, with remote reads.
  if [ "$steady_writeback_rounds" -gt 0 ]; then
    wb_vm_port=$(free_port)
    victoria-metrics -storageDataPath="$work/steady-wb-vm" -httpListenAddr="127.0.0.1:$wb_vm_port" \
      -loggerLevel=WARN -retentionPeriod=1y >"$work/steady-wb-vm.log" 2>&1 &
    wb_vm_pid=$!; pids+=("$wb_vm_pid")
    wait_ready "http://127.0.0.1:$wb_vm_port/health" victoria-metrics
    STEADY_READS=1 steady_run promewma-writeback "$steady_series" "$steady_writeback_rounds" \
      --write-back-url "http://127.0.0.1:$wb_vm_port/api/v1/write"
    kill "$wb_vm_pid" 2>/dev/null || true; wait "$wb_vm_pid" 2>/dev/null || true
  fi
  for server in $steady_large_servers; do
    steady_run "$server" "$steady_large_series" "$steady_large_rounds"
  done

  # The tables: one column per server, RSS (anonymous) in MB per round.
  steady_table() {  # series, rounds, servers...
    local series=$1 rounds=$2; shift 2
    printf '\n| %s series: round (hours of data) |' "$series"
    for s in "$@"; do printf ' %s RSS (anon) MB |' "$s"; done
    printf '\n|---|'; for _ in "$@"; do printf -- '---|'; done; printf '\n'
    for r in $(seq 1 "$rounds"); do
      printf '| %s |' "$r"
      for s in "$@"; do
        awk -v s="$s" -v n="$series" -v r="$r" \
          '$1==s && $2==n && $3==r {printf " %.0f (%.0f) |", $4/1024, $5/1024}' "$bench_out/memory.dat"
      done
      printf '\n'
    done
  }
  steady_table "$steady_series" "$steady_rounds" promewma promewma-writeback victoriametrics prometheus
  steady_table "$steady_large_series" "$steady_large_rounds" $steady_large_servers
  # promewma's parts per round, MB, and the heap trims' share of its CPU.
  printf '\n| promewma: series, round | head | memtables | block cache | heap in use | heap free | RSS | trims | trim CPU / process CPU |\n'
  printf '|---|---|---|---|---|---|---|---|---|\n'
  awk '$1 == "promewma" {printf "| %d, %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %.2f s / %.1f s (%.1f%%) |\n",
       $2, $3, $4/1e6, $5/1e6, $6/1e6, $7/1e6, $8/1e6, $9/1e6, $10, $11, $12, ($12 > 0 ? 100 * $11 / $12 : 0)}' \
    "$bench_out/memory-parts.dat"

  # The plot: RSS over rounds, with promewma's documented bound marked:
  # the fixed part (the process itself, 22.5 MiB, memory.memtables +
  # memory.block_cache, 72 MiB by default, and memory.free_heap, 32 MiB)
  # and that plus the 1,143 bytes the head allocates per series (README,
  # Memory).
  fixed_mb=126.5
  per_series_mib=$(awk 'BEGIN {print 1143 / 1048576}')
  gnuplot <<GP
set terminal pngcairo size 1000,700 font ",11"
set output "$bench_out/memory.png"
set title "RSS: the same series, one more hour of 10-second samples per round"
set xlabel "round (hours of data)"
set ylabel "RSS, MiB"
set key below vertical maxrows 5 font ",9" width -12
set grid
set yrange [0:*]
f(s, n) = sprintf("< awk '\$1==\"%s\" && \$2==%d {print \$3, \$4/1024}' $bench_out/memory.dat", s, n)
plot f("promewma", $steady_series) with linespoints lw 2 title "promewma, $steady_series series", \
     f("promewma-writeback", $steady_series) with linespoints title "promewma + write-back + remote reads, $steady_series", \
     f("victoriametrics", $steady_series) with linespoints title "VictoriaMetrics 1.79, $steady_series", \
     f("prometheus", $steady_series) with linespoints title "Prometheus 2.42, $steady_series", \
     f("promewma", $steady_large_series) with linespoints lw 2 title "promewma, $steady_large_series series", \
     f("victoriametrics", $steady_large_series) with linespoints title "VictoriaMetrics 1.79, $steady_large_series", \
     f("prometheus", $steady_large_series) with linespoints title "Prometheus 2.42, $steady_large_series", \
     $fixed_mb with lines dt 2 lc rgb "gray40" title "promewma fixed part (process, memtables, block cache, free heap)", \
     $fixed_mb + $steady_series * $per_series_mib with lines dt 3 lc rgb "gray40" title "fixed + 1,143 bytes x $steady_series series", \
     $fixed_mb + $steady_large_series * $per_series_mib with lines dt 4 lc rgb "gray20" title "fixed + 1,143 bytes x $steady_large_series series"
GP
  echo
  echo "plot: $bench_out/memory.png (data: $bench_out/memory.dat)"
fi

if has_phase restart; then
  echo
  echo "generating $mem_series new series x $mem_samples samples..."
  build/bin/rwbench generate --out "$work/memory" --series "$mem_series" \
    --samples "$mem_samples" --step-ms 15000 \
    --start-ms $(( now_ms - 3600 * 1000 )) --batch-size 500 --connections 2
  dir="$work/memory"
  mkdir -p "$dir"
  pw_port=$(free_port)
  # Not run in $(...): the server would hold the substitution's pipe open.
  restart_promewma() {  # sets pw_pid, and ready_s to the seconds to ready
    local start
    start=$(date +%s.%N)
    build/bin/promewma --listen "127.0.0.1:$pw_port" --data-dir "$dir/promewma" \
      --log-level info 2>>"$dir/promewma.log" &
    pw_pid=$!; pids+=("$pw_pid")
    wait_ready "http://127.0.0.1:$pw_port/-/ready" promewma
    ready_s=$(python3 -c "print(f'{$(date +%s.%N) - $start:.2f}')")
  }
  restart_promewma
  out=$(build/bin/rwbench write --url "$(write_url promewma)" --in "$work/memory")
  echo "promewma: $out"
  kill -KILL "$pw_pid"; wait "$pw_pid" 2>/dev/null || true
  restart_promewma
  replay_s=$ready_s
  start=$(date +%s.%N)
  kill -TERM "$pw_pid"; wait "$pw_pid" 2>/dev/null || true
  checkpoint_s=$(python3 -c "print(f'{$(date +%s.%N) - $start:.2f}')")
  checkpoint_mb=$(grep 'msg="checkpoint written"' "$dir/promewma.log" | tail -1 |
    sed -E 's/.* bytes=([0-9]+).*/\1/' | awk '{printf "%.0f", $1/1048576}')
  restart_promewma
  restore_s=$ready_s
  kill -TERM "$pw_pid"; wait "$pw_pid" 2>/dev/null || true
  printf '\n| promewma restart, %s series | seconds |\n|---|---|\n' "$mem_series"
  printf '| SIGKILL, then start: replay of the whole request log (%s samples) to ready | %s |\n' \
    "$(( mem_series * mem_samples ))" "$replay_s"
  printf '| SIGTERM: checkpoint (%s MB) and exit | %s |\n' "$checkpoint_mb" "$checkpoint_s"
  printf '| start from the checkpoint to ready | %s |\n' "$restore_s"
fi

if has_phase read; then
  start_servers read
  start_ms=$(( now_ms - 3600 * 1000 ))
  end_ms=$(( start_ms + 359 * 10000 ))
  for server in promewma prometheus; do
    build/bin/rwbench write --url "$(write_url "$server")" --series 1000 \
      --samples 360 --step-ms 10000 --start-ms "$start_ms" --metric cpu >/dev/null
  done
  read_url() { echo "http://127.0.0.1:$1/api/v1/read"; }
  pw=$(build/bin/rwbench read --url "$(read_url "$pw_port")" \
    --start-ms "$start_ms" --end-ms "$end_ms" --metric cpu --repeat "$read_repeat")
  pw_streamed=$(build/bin/rwbench read --url "$(read_url "$pw_port")" \
    --start-ms "$start_ms" --end-ms "$end_ms" --metric cpu --repeat "$read_repeat" --streamed)
  prom=$(build/bin/rwbench read --url "$(read_url "$prom_port")" \
    --start-ms "$start_ms" --end-ms "$end_ms" --metric cpu --repeat "$read_repeat")
  stop_servers
  echo
  echo "$pw"
  echo "$pw_streamed"
  echo "$prom"
  ms() { sed -E 's/.*median ([0-9.]+) ms.*/\1/' <<<"$1"; }
  printf '\n| remote read, 1,000 series x 1 h at 10 s (median of %s) | response | ms | vs Prometheus |\n|---|---|---|---|\n' \
    "$read_repeat"
  printf '| Prometheus 2.42 | SAMPLES | %s | 1.00x |\n' "$(ms "$prom")"
  printf '| promewma | SAMPLES | %s | %sx faster |\n' "$(ms "$pw")" "$(ratio "$(ms "$prom")" "$(ms "$pw")")"
  printf '| promewma | STREAMED_XOR_CHUNKS | %s | %sx faster |\n' "$(ms "$pw_streamed")" \
    "$(ratio "$(ms "$prom")" "$(ms "$pw_streamed")")"
fi

if has_phase csv2rw; then
  # One sample a minute from 2014 on, values with two decimals like NAB's.
  awk -v n="$csv_rows" 'BEGIN {
    print "timestamp,value"
    t = 1388534400
    for (i = 0; i < n; i++) {
      printf "%s,%.2f\n", strftime("%Y-%m-%d %H:%M:%S", t + 60 * i, 1), (i * 7919) % 10000 / 100
    }
  }' >"$work/cpu.csv"
  # Wall time includes creating one file per 500-row batch, which on some
  # filesystems costs more kernel time than parsing and encoding the batch;
  # user CPU time is the parse + encode cost the bar is about.
  TIMEFORMAT='%R %U'
  for r in 1 2 3; do
    rm -rf "$work/csv-out"
    if ! { time build/bin/csv2rw "$work/cpu.csv" --out "$work/csv-out" 2>"$work/csv2rw.log"; } \
        2>"$work/csv2rw.time"; then
      cat "$work/csv2rw.log" >&2
      exit 1
    fi
    read -r wall user <"$work/csv2rw.time"
    csv_wall+="$(python3 -c "print(int($csv_rows / $wall))") "
    csv_user+="$(python3 -c "print(int($csv_rows / $user))") "
  done
  unset TIMEFORMAT
  printf '\n| csv2rw, %s rows, NAB format, --out (median of 3) | rows/s | bar |\n|---|---|---|\n' "$csv_rows"
  printf '| parse + encode (rows per second of user CPU, one thread) | %s | >= 2,000,000 |\n' \
    "$(median <<<"$csv_user")"
  printf '| wall clock, batch files written (one per 500 rows) | %s | |\n' "$(median <<<"$csv_wall")"
fi

if has_phase connections; then
  # Points move forward in time, 5 s a round, each with a metric of its
  # own (new series): inside the 1 h window Prometheus' head accepts
  # behind its newest sample.
  step_ms=5000
  declare -A sweep_series sweep_rounds
  total_span_ms=0
  for c in $sweep_connections; do
    series=$(( c * 500 > 10000 ? c * 500 : 10000 ))
    rounds=$(( sweep_samples / series > 1 ? sweep_samples / series : 1 ))
    sweep_series[$c]=$series; sweep_rounds[$c]=$rounds
    total_span_ms=$(( total_span_ms + rounds * step_ms ))
  done
  first_ms=$(( now_ms - 2 * 3600 * 1000 - total_span_ms ))
  echo
  for c in $sweep_connections; do
    echo "generating ${sweep_series[$c]} series x ${sweep_rounds[$c]} samples over $c connections..."
    build/bin/rwbench generate --out "$work/sweep-$c" --series "${sweep_series[$c]}" \
      --samples "${sweep_rounds[$c]}" --step-ms "$step_ms" --start-ms "$first_ms" \
      --batch-size 500 --connections "$c" --metric "node_cpu_sweep_$c"
    first_ms=$(( first_ms + sweep_rounds[$c] * step_ms ))
  done
  start_servers connections
  listen_overflows() { nstat -asz TcpExtListenOverflows | awk '/TcpExtListenOverflows/{print $2}'; }
  field() {  # output, sed expression; "-" when rwbench printed nothing
    if [ -z "$1" ]; then echo "-"; else sed -E "$2" <<<"$1"; fi
  }
  declare -A sweep_rate
  rows=()
  for c in $sweep_connections; do
    for server in promewma victoriametrics prometheus; do
      settle
      before=$(listen_overflows)
      # A run with undelivered bodies exits 1; its figures still count.
      out=$(build/bin/rwbench write --url "$(write_url "$server")" --in "$work/sweep-$c" \
        2>"$work/sweep-$c-$server.err") || true
      overflows=$(( $(listen_overflows) - before ))
      echo "$server, $c connections: ${out:-rwbench failed: $(cat "$work/sweep-$c-$server.err")}; listen overflows +$overflows"
      rate=$(field "$out" 's/.* ([0-9]+) samples\/s.*/\1/')
      sweep_rate[$c-$server]=$rate
      rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %s |' "$c" "$server" "$rate" \
        "$(field "$out" 's/.*p50 ([0-9.]+) ms.*/\1/')" "$(field "$out" 's/.*p99 ([0-9.]+) ms.*/\1/')" \
        "$(field "$out" 's/.* ([0-9]+) failed requests.*/\1/')" "$overflows")")
    done
  done
  stop_servers
  printf '\n| connections | server | samples/s | p50 ms | p99 ms | failed requests | listen overflows |\n|---|---|---|---|---|---|---|\n'
  printf '%s\n' "${rows[@]}"
  last=${sweep_connections##* }
  if [[ "${sweep_rate[$last-promewma]}" =~ ^[0-9]+$ && "${sweep_rate[$last-victoriametrics]}" =~ ^[0-9]+$ ]]; then
    printf '\nat %s connections, promewma / VictoriaMetrics: %sx (bar: >= 1x, with 0 failed requests at every point)\n' \
      "$last" "$(ratio "${sweep_rate[$last-promewma]}" "${sweep_rate[$last-victoriametrics]}")"
  fi
fi
