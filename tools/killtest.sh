#!/usr/bin/env bash
# Repeated SIGKILLs under load: the ctest "repeated SIGKILLs at random
# moments lose no acknowledged sample" (tests/app/crash_recovery_test.cc)
# with KILLS kills (default 100; ctest runs 20). One ordered sender writes
# 50 series; promewma checkpoints every second; each kill comes 0 to
# 600 ms after the restart before it. After every restart, the EWMA of
# every series must equal the reference estimator's over what was
# acknowledged (or that and the request in flight), and remote read must
# return every acknowledged sample exactly once.
#
#   tools/killtest.sh [BUILD_DIR]        KILLS=<n> SEED=<n> to replay a run
#
# Prints the seed it used, then Catch's summary; exits non-zero on a loss.
set -euo pipefail
build=${1:-build}
kills=${KILLS:-100}
seed=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
test_binary="$build/bin/app_test"
if [[ ! -x $test_binary ]]; then
  echo "killtest: $test_binary not built (cmake --build $build --target app_test)" >&2
  exit 2
fi
start=$(date +%s)
PROMEWMA_KILLS=$kills PROMEWMA_KILL_SEED=$seed "$test_binary" \
  "repeated SIGKILLs at random moments lose no acknowledged sample"
echo "killtest: $kills kills, seed $seed, passed in $(( $(date +%s) - start )) s"
