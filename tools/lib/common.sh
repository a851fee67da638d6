# Shell helpers shared by tools/bench.sh and tools/soak.sh: loopback ports,
# readiness, and a process' memory and CPU from /proc. Sourced, not run.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_ready() {  # url, name
  for _ in $(seq 1 600); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$(basename "$0"): $2 did not become ready at $1" >&2
  exit 1
}
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
anon_kb() { awk '/^Anonymous/{print $2}' "/proc/$1/smaps_rollup"; }
# CPU seconds (user + system) a process has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
# Microseconds of CPU per sample: cpu_us_per_sample BEFORE AFTER SAMPLES
# (awk: on a busy machine a python3 start can take seconds.)
cpu_us_per_sample() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.2f\n", (b - a) * 1e6 / n}'; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
# Waits (at most 20 s) until the machine is nearly idle: the servers share
# two cores, and the background work one leaves behind (VictoriaMetrics'
# merges, a write-back backlog, flushes) would otherwise be charged to the
# next one measured.
settle() {
  python3 - <<'PY'
import time
def busy_idle():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = f[3] + f[4]
    return sum(f) - idle, idle
deadline = time.time() + 20
while time.time() < deadline:
    b0, i0 = busy_idle()
    time.sleep(0.5)
    b1, i1 = busy_idle()
    if (b1 - b0) <= 0.1 * ((b1 - b0) + (i1 - i0)):
        break
PY
}
median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
