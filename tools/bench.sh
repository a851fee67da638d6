#!/usr/bin/env bash
# Side-by-side benchmark on loopback, in one run, on this machine.
#
# Today: remote read. The same 1,000 series x 1 h at 10 s are written to
# promewma and to Prometheus 2.42 (--web.enable-remote-write-receiver), then
# one query for all of them is timed against each one's /api/v1/read, and
# the ratio is printed. (Ingest against VictoriaMetrics comes with the
# rwbench issue.)
#
#   tools/bench.sh            # build, start both, load, time, stop
#   REPEAT=50 tools/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

tools/bootstrap.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "${PROMEWMA_JOBS:-2}" --target promewma rwbench >/dev/null

repeat="${REPEAT:-20}"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_ready() {  # url, name
  for _ in $(seq 1 300); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "bench: $2 did not become ready" >&2
  exit 1
}

pw_port=$(free_port)
prom_port=$(free_port)
build/bin/promewma --listen "127.0.0.1:$pw_port" --data-dir "$work/promewma" \
  --log-level warn 2>"$work/promewma.log" &
pids+=($!)
printf 'global:\n  scrape_interval: 1m\n' >"$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" --web.enable-remote-write-receiver \
  --log.level=warn 2>"$work/prometheus.log" &
pids+=($!)
wait_ready "http://127.0.0.1:$pw_port/-/ready" promewma
wait_ready "http://127.0.0.1:$prom_port/-/ready" prometheus

now_ms=$(( $(date +%s) * 1000 ))
start_ms=$(( now_ms - 3600 * 1000 ))
end_ms=$(( start_ms + 359 * 10000 ))
for url in "http://127.0.0.1:$pw_port/api/v1/write" \
           "http://127.0.0.1:$prom_port/api/v1/write"; do
  build/bin/rwbench write --url "$url" --series 1000 --samples 360 \
    --step-ms 10000 --start-ms "$start_ms" --metric cpu
done

echo
echo "remote read, 1,000 series x 1 h at 10 s, median of $repeat (request sent to response received):"
pw=$(build/bin/rwbench read --url "http://127.0.0.1:$pw_port/api/v1/read" \
  --start-ms "$start_ms" --end-ms "$end_ms" --metric cpu --repeat "$repeat")
pw_streamed=$(build/bin/rwbench read --url "http://127.0.0.1:$pw_port/api/v1/read" \
  --start-ms "$start_ms" --end-ms "$end_ms" --metric cpu --repeat "$repeat" --streamed)
prom=$(build/bin/rwbench read --url "http://127.0.0.1:$prom_port/api/v1/read" \
  --start-ms "$start_ms" --end-ms "$end_ms" --metric cpu --repeat "$repeat")
echo "$pw"
echo "$pw_streamed"
echo "$prom"
ms() { sed -E 's/.*median ([0-9.]+) ms.*/\1/' <<<"$1"; }
printf '\n| server | response | median ms | vs Prometheus |\n|---|---|---|---|\n'
printf '| Prometheus 2.42 | SAMPLES | %s | 1.00x |\n' "$(ms "$prom")"
printf '| promewma | SAMPLES | %s | %.2fx faster |\n' "$(ms "$pw")" \
  "$(python3 -c "print($(ms "$prom")/$(ms "$pw"))")"
printf '| promewma | STREAMED_XOR_CHUNKS | %s | %.2fx faster |\n' "$(ms "$pw_streamed")" \
  "$(python3 -c "print($(ms "$prom")/$(ms "$pw_streamed"))")"
