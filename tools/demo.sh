#!/usr/bin/env bash
# tools/demo.sh: the whole alerting path on this machine, on loopback.
#
#   node_exporter -> Prometheus (recording rule, remote_write) -> promewma
#   promewma -> write-back (:ewma, :upper_threshold, ...) -> Prometheus
#   Prometheus (deploy/prometheus/rules) -> Alertmanager -> promewma's Teams
#   relay -> a local Teams sink that shows the cards
#
# It installs what is missing (tools/bootstrap.sh), builds promewma and
# csv2rw, backfills three days of CPU history (deploy/local/demo_cpu.csv)
# into promewma and Prometheus, then replays a CPU spike live
# (deploy/local/demo_spike.csv), so that an alert fires and a card arrives
# within about three minutes, whatever this machine's own CPU does.
# Ctrl-C stops everything it started, and only that.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  cat <<EOF
Usage: tools/demo.sh [OPTIONS]       start the demo; Ctrl-C stops it
       tools/demo.sh stop [--dir DIR]  stop a demo running from DIR

Starts node_exporter, promewma (embedded store), Prometheus, Alertmanager
and a local Teams sink on 127.0.0.1, with the configs of deploy/local and
the rules of deploy/prometheus/rules, all under one demo directory.

Options:
  --dir DIR              demo directory: configs, data, logs
                         (default: build/demo; emptied at each start)
  --build-dir DIR        where promewma and csv2rw are built (default: build)
  --no-build             do not install packages or build; use the binaries
                         in --build-dir as they are
  --promewma-port N      default 9201
  --prometheus-port N    default 9090
  --alertmanager-port N  default 9093
  --node-exporter-port N default 9100
  --sink-port N          the Teams sink, default 9095
                         A port given here that is in use stops the demo,
                         naming it. A default port that is in use is
                         replaced by a free one, and said so.
  --free-ports           use free ports for all of them (ignores defaults)
  --until-alert          exit 0 once the sink has received a firing
                         CPUAboveAdaptiveThreshold card, 1 if none came
                         within --timeout; stops everything either way
  --timeout SECONDS      for --until-alert (default 300)

Environment:
  PROMEWMA_DEMO_TEAMS_URL  a Power Automate workflow URL: the relay posts the
                         cards to your Teams channel instead of the local sink
  -h, --help             this text
EOF
}

# --- options ---------------------------------------------------------------

DIR="$ROOT/build/demo"
BUILD="$ROOT/build"
BUILD_IT=1
UNTIL_ALERT=0
TIMEOUT=300
FREE_PORTS=0
STOP_ONLY=0
NAMES=(promewma prometheus alertmanager node_exporter sink)
declare -A PORT=([promewma]=9201 [prometheus]=9090 [alertmanager]=9093
                 [node_exporter]=9100 [sink]=9095)
declare -A GIVEN=()

die() { echo "demo: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    stop) STOP_ONLY=1 ;;
    --dir) DIR="$(realpath -m "${2:?--dir needs a directory}")"; shift ;;
    --build-dir) BUILD="$(realpath -m "${2:?--build-dir needs a directory}")"; shift ;;
    --no-build) BUILD_IT=0 ;;
    --promewma-port|--prometheus-port|--alertmanager-port|--node-exporter-port|--sink-port)
      name="${1#--}"; name="${name%-port}"; name="${name//-/_}"
      [[ "${2:-}" =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] && [ "$2" -le 65535 ] ||
        die "$1: expected a port 1..65535, got \"${2:-}\""
      PORT[$name]="$2"; GIVEN[$name]=1; shift ;;
    --free-ports) FREE_PORTS=1 ;;
    --until-alert) UNTIL_ALERT=1 ;;
    --timeout)
      [[ "${2:-}" =~ ^[0-9]+$ ]] || die "--timeout: expected seconds, got \"${2:-}\""
      TIMEOUT="$2"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument \"$1\" (see --help)" ;;
  esac
  shift
done

PIDS="$DIR/pids"

# --- stopping what a demo started -----------------------------------------
# $DIR/pids holds "NAME PID STARTTIME" per process this script started; the
# start time (from /proc) makes sure a PID the kernel has since given to
# another process is never signalled.

start_time() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null || true; }

ours() {  # ours PID STARTTIME: still the process we started
  [ -n "$2" ] && [ "$(start_time "$1")" = "$2" ]
}

stop_all() {
  [ -f "$PIDS" ] || return 0
  # Moved aside first: a demo waiting in the foreground sees its pid file
  # gone and ends quietly instead of reporting its children's exits.
  local list="$PIDS.stopping" name pid st left
  mv "$PIDS" "$list"
  while read -r name pid st; do
    if ours "$pid" "$st"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done < "$list"
  for _ in $(seq 1 150); do  # up to 15 s for a clean exit
    left=0
    while read -r name pid st; do
      if ours "$pid" "$st"; then left=1; fi
    done < "$list"
    [ "$left" -eq 0 ] && break
    sleep 0.1
  done
  while read -r name pid st; do
    if ours "$pid" "$st"; then
      echo "demo: $name (pid $pid) did not stop in 15 s: killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done < "$list"
  rm -f "$list"
}

if [ "$STOP_ONLY" -eq 1 ]; then
  [ -f "$PIDS" ] || { echo "demo: nothing running from $DIR"; exit 0; }
  stop_all
  echo "demo: stopped the demo in $DIR"
  exit 0
fi

# --- install and build -----------------------------------------------------

if [ "$BUILD_IT" -eq 1 ]; then
  "$ROOT/tools/bootstrap.sh"
  if [ ! -f "$BUILD/build.ninja" ]; then
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build "$BUILD" -j2 --target promewma csv2rw
fi
PROMEWMA="$BUILD/bin/promewma"
CSV2RW="$BUILD/bin/csv2rw"
for b in "$PROMEWMA" "$CSV2RW"; do
  [ -x "$b" ] || die "$b is not built (run without --no-build)"
done
need() {  # need BINARY PACKAGE
  command -v "$1" >/dev/null 2>&1 ||
    die "$1 not found: install the Debian package $2 (tools/bootstrap.sh)"
}
need prometheus prometheus
need prometheus-alertmanager prometheus-alertmanager
need prometheus-node-exporter prometheus-node-exporter
need python3 python3
need curl curl

# --- ports -----------------------------------------------------------------

port_free() {
  python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A demo still running from this directory holds its ports: stop it first.
if [ -f "$PIDS" ]; then
  echo "demo: stopping the demo already running from $DIR"
  stop_all
fi

declare -A TAKEN=()
for name in "${NAMES[@]}"; do
  p="${PORT[$name]}"
  if [ "$FREE_PORTS" -eq 1 ] && [ -z "${GIVEN[$name]:-}" ]; then
    p="$(free_port)"
  elif ! port_free "$p" || [ -n "${TAKEN[$p]:-}" ]; then
    if [ -n "${GIVEN[$name]:-}" ]; then
      die "port $p for $name is in use: choose another with --${name//_/-}-port"
    fi
    p2="$(free_port)"
    echo "demo: port $p for $name is in use: using $p2 (--${name//_/-}-port to choose)"
    p="$p2"
  fi
  PORT[$name]="$p"
  TAKEN[$p]=1
done

# --- the demo directory ----------------------------------------------------

rm -rf "$DIR"
mkdir -p "$DIR"
: > "$PIDS"

# The shipped configs with the ports above (127.0.0.1:DEFAULT replaced in
# one pass, so a chosen port equal to another default is left alone) and
# the rules file by its absolute path.
render() {  # render SOURCE DEST
  python3 - "$1" "$2" "$ROOT/deploy/prometheus/rules/" \
      "9201=${PORT[promewma]}" "9090=${PORT[prometheus]}" \
      "9093=${PORT[alertmanager]}" "9100=${PORT[node_exporter]}" <<'EOF'
import re, sys
src, dest, rules = sys.argv[1:4]
ports = dict(a.split("=") for a in sys.argv[4:])
text = open(src).read()
text = re.sub(r"127\.0\.0\.1:(\d+)",
              lambda m: "127.0.0.1:" + ports.get(m.group(1), m.group(1)), text)
text = text.replace("../prometheus/rules/", rules)
open(dest, "w").write(text)
EOF
}
render "$ROOT/deploy/local/promewma.yml" "$DIR/promewma.yml"
render "$ROOT/deploy/local/prometheus.yml" "$DIR/prometheus.yml"
render "$ROOT/deploy/local/alertmanager.yml" "$DIR/alertmanager.yml"

URL_PROMEWMA="http://127.0.0.1:${PORT[promewma]}"
URL_PROMETHEUS="http://127.0.0.1:${PORT[prometheus]}"
URL_ALERTMANAGER="http://127.0.0.1:${PORT[alertmanager]}"
URL_NODE="http://127.0.0.1:${PORT[node_exporter]}"
URL_SINK="http://127.0.0.1:${PORT[sink]}"

# --- starting ----------------------------------------------------------------

cleanup() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping"
  stop_all
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() {  # start NAME COMMAND...: in the background, output to DIR/NAME.log
  local name="$1"; shift
  "$@" > "$DIR/$name.log" 2>&1 < /dev/null &
  local pid=$!
  echo "$name $pid $(start_time "$pid")" >> "$PIDS"
}

wait_ready() {  # wait_ready NAME URL
  local name="$1" url="$2" pid
  pid="$(awk -v n="$1" '$1 == n {print $2}' "$PIDS")"
  for _ in $(seq 1 600); do  # 60 s
    if curl -sf -o /dev/null "$url"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$DIR/$name.log" >&2
      die "$name exited at start (log: $DIR/$name.log)"
    fi
    sleep 0.1
  done
  tail -n 20 "$DIR/$name.log" >&2
  die "$name did not answer $url within 60 s (log: $DIR/$name.log)"
}

echo "demo: starting in $DIR"
start sink python3 "$ROOT/tools/teams_sink/teams_sink.py" \
    --listen "127.0.0.1:${PORT[sink]}" --out "$DIR/cards.jsonl"
wait_ready sink "$URL_SINK/-/healthy"

# node_exporter's CPU collector only: the demo graphs CPU.
start node_exporter prometheus-node-exporter \
    --web.listen-address="127.0.0.1:${PORT[node_exporter]}" \
    --collector.disable-defaults --collector.cpu
wait_ready node_exporter "$URL_NODE/metrics"

# The relay posts its cards to the local sink, or to a real Teams workflow
# when PROMEWMA_DEMO_TEAMS_URL holds one (deploy/local/promewma.yml).
if [ -n "${PROMEWMA_DEMO_TEAMS_URL:-}" ]; then
  CARDS_TO="Teams cards                the workflow in PROMEWMA_DEMO_TEAMS_URL (the sink gets none)"
else
  export PROMEWMA_DEMO_TEAMS_URL="$URL_SINK/workflows/demo"
  CARDS_TO="Teams cards (sink)         $URL_SINK/"
fi
start promewma "$PROMEWMA" --config "$DIR/promewma.yml" \
    --listen "127.0.0.1:${PORT[promewma]}" --data-dir "$DIR/promewma-data"
wait_ready promewma "$URL_PROMEWMA/-/ready"

start prometheus prometheus --config.file="$DIR/prometheus.yml" \
    --storage.tsdb.path="$DIR/prometheus-data" \
    --web.listen-address="127.0.0.1:${PORT[prometheus]}" \
    --web.external-url="$URL_PROMETHEUS/" \
    --web.enable-remote-write-receiver
wait_ready prometheus "$URL_PROMETHEUS/-/ready"

start alertmanager prometheus-alertmanager \
    --config.file="$DIR/alertmanager.yml" \
    --storage.path="$DIR/alertmanager-data" \
    --web.listen-address="127.0.0.1:${PORT[alertmanager]}" \
    --web.external-url="$URL_ALERTMANAGER/" \
    --cluster.listen-address=
wait_ready alertmanager "$URL_ALERTMANAGER/-/ready"

# --- data --------------------------------------------------------------------
# One series, instance="demo": the name the recording rule gives node CPU,
# so the shipped rules apply to it as to every real instance.

SERIES=(--metric instance:node_cpu_utilisation_percent:rate5m
        --label instance=demo --label job=node)

# Three days of history ending now, into both: promewma derives the band
# for all of it and writes it back; Prometheus keeps the raw history next
# to it (out of order, which its remote_write does not forward).
echo "demo: backfilling three days of CPU history (deploy/local/demo_cpu.csv)"
"$CSV2RW" "$ROOT/deploy/local/demo_cpu.csv" "${SERIES[@]}" --end-at-now \
    --url "$URL_PROMEWMA/api/v1/write" 2>> "$DIR/csv2rw.log"
"$CSV2RW" "$ROOT/deploy/local/demo_cpu.csv" "${SERIES[@]}" --end-at-now \
    --url "$URL_PROMETHEUS/api/v1/write" 2>> "$DIR/csv2rw.log"

# The live part, into Prometheus only: these samples arrive in order, so
# Prometheus' remote_write forwards them to promewma like any recorded
# CPU series, and the band comes back through write-back. Sent to both
# directly, each copy would carry its own send times.
echo "demo: replaying a CPU spike live (deploy/local/demo_spike.csv)"
start replay "$CSV2RW" "$ROOT/deploy/local/demo_spike.csv" "${SERIES[@]}" \
    --url "$URL_PROMETHEUS/api/v1/write" --replay 1 --shift-to-now --loop

# --- where to look -----------------------------------------------------------

urlencode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
BAND='{__name__=~"instance:node_cpu_utilisation_percent:rate5m(|:ewma|:upper_threshold)",instance="demo"}'
graph() {  # graph RANGE
  echo "$URL_PROMETHEUS/graph?g0.expr=$(urlencode "$BAND")&g0.tab=0&g0.range_input=$1"
}
cat <<EOF

promewma demo running (configs, data and logs in $DIR)
  CPU with its band, 3 days  $(graph 3d)
  CPU with its band, live    $(graph 30m)
  Prometheus alerts          $URL_PROMETHEUS/alerts
  Alertmanager               $URL_ALERTMANAGER/#/alerts
  $CARDS_TO
  promewma self-metrics      $URL_PROMEWMA/metrics
  promewma latest band       $URL_PROMEWMA/federate?match[]=$(urlencode "$BAND")

The spike starts 30 s into the replay; CPUAboveAdaptiveThreshold fires
at the first rule evaluation that sees it (for: 0s) and its card appears
on the sink page seconds later.
Stop: Ctrl-C here, or tools/demo.sh stop$( [ "$DIR" = "$ROOT/build/demo" ] || echo " --dir $DIR")
EOF

# --- running -----------------------------------------------------------------

alive_or_die() {
  local name pid st
  while read -r name pid st; do
    if ! ours "$pid" "$st" && [ -f "$PIDS" ]; then
      tail -n 20 "$DIR/$name.log" >&2 || true
      die "$name exited (log: $DIR/$name.log)"
    fi
  done < <(cat "$PIDS" 2>/dev/null)
}

firing_card() {  # prints the first firing CPUAboveAdaptiveThreshold card
  local cards
  cards="$(curl -sf "$URL_SINK/cards.json")" || return 1
  printf '%s' "$cards" | python3 -c '
import json, sys
for card in json.load(sys.stdin):
    text = json.dumps(card["body"])
    if card["status"] == "FIRING" and "CPUAboveAdaptiveThreshold" in text:
        print("demo: card received: %s: %s" % (card["title"], ", ".join(
            "%s=%s" % (t, v) for t, v in card["facts"])))
        sys.exit(0)
sys.exit(1)'
}

if [ "$UNTIL_ALERT" -eq 1 ]; then
  deadline=$(( $(date +%s) + TIMEOUT ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    [ -f "$PIDS" ] || die "stopped (tools/demo.sh stop) before a card came"
    alive_or_die
    if firing_card; then exit 0; fi
    sleep 2
  done
  echo "demo: no firing CPUAboveAdaptiveThreshold card within ${TIMEOUT} s" >&2
  echo "demo: Prometheus alerts: $(curl -s "$URL_PROMETHEUS/api/v1/alerts")" >&2
  exit 1
fi

# Until Ctrl-C, or until `tools/demo.sh stop` removes the pid file.
while [ -f "$PIDS" ]; do
  alive_or_die
  sleep 2
done
