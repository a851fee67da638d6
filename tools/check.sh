#!/usr/bin/env bash
# Installs what is missing, builds promewma from scratch and runs every test.
#
#   tools/check.sh            release build + tests, then the same tests under
#                             AddressSanitizer + UndefinedBehaviorSanitizer,
#                             then the concurrent units' under ThreadSanitizer
#   PROMEWMA_SANITIZE=0 tools/check.sh   skip the sanitizer pass
#   PROMEWMA_FUZZ_SECONDS=0 tools/check.sh  skip the short fuzzing pass
#   PROMEWMA_TSAN=0 tools/check.sh       skip the ThreadSanitizer pass
#
# The ThreadSanitizer pass builds only the test binaries of the units that
# run threads against each other: the engine with several writers (head,
# db), the write-back queues (writeback), the store (store) and the server
# (http), and runs their tests; a data race fails it. Suppressions for
# what is not ours are in tools/tsan.supp. Cost, measured once from
# scratch (rm -rf build-tsan, CCACHE_DISABLE=1, -j2, -O1 -g1) on the 2-core
# development machine while another build ran beside it (load average 6.3
# to 9.1): the build of these five targets (98 steps) took 416 s (6.9 min),
# their 144 tests 127 s (2.1 min): 9 minutes for the pass. An earlier
# build at RelWithDebInfo's -O2 -g took 37.6 minutes under a heavier load
# (12 to 16), cpp-httplib's src/http/server.cc alone 10 and 18 of them.
#
# Build trees: build/ (RelWithDebInfo), build-fuzz/ (clang, libFuzzer),
# build-asan/ and build-tsan/.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/bootstrap.sh

jobs="${PROMEWMA_JOBS:-2}"

# ctest arguments of the next build_and_test, e.g. tests to leave out.
ctest_args=()

build_and_test() {
  local dir="$1"
  shift
  cmake -S . -B "$dir" -G Ninja "$@"
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 600 "${ctest_args[@]}")
}

echo "== release build and tests"
build_and_test build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROMEWMA_WERROR=ON

if [ "${PROMEWMA_FUZZ_SECONDS:-30}" != "0" ] && command -v clang++ >/dev/null; then
  echo "== libFuzzer: decoders, ${PROMEWMA_FUZZ_SECONDS:-30}s per target"
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROMEWMA_BUILD_FUZZERS=ON \
    -DPROMEWMA_BUILD_TESTS=OFF -DPROMEWMA_BUILD_BENCHMARKS=OFF
  cmake --build build-fuzz -j "$jobs"
  for target in tests/fuzz/corpus/*/; do
    name=$(basename "$target")
    corpus=$(mktemp -d)
    cp "$target"/* "$corpus"/
    build-fuzz/bin/"${name}_fuzzer" -max_total_time="${PROMEWMA_FUZZ_SECONDS:-30}" \
      -print_final_stats=1 "$corpus" 2>&1 | tail -n 3
    rm -rf "$corpus"
  done
fi

# The sanitizers replace glibc's malloc, so the tests of what glibc's
# allocator does (arenas, mallinfo2's heap figures, a series' bytes in the
# allocator, anonymous memory over hours of data, series churn, the trims
# memory.free_heap sets, buffers mapped on their own) have nothing to
# measure there (AddressSanitizer's quarantine keeps freed memory by
# design). They run in the release pass above.
glibc_allocator_tests='app:(/metrics shows each memory part|anonymous memory stays flat|series churn: memory follows|memory.free_heap sets)|common:a freed buffer of 1 MiB|head:the allocator holds'

if [ "${PROMEWMA_SANITIZE:-1}" != "0" ]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
  ctest_args=(-E "$glibc_allocator_tests")
  build_and_test build-asan -DCMAKE_BUILD_TYPE=Debug \
    -DPROMEWMA_SANITIZE=address,undefined -DPROMEWMA_BUILD_BENCHMARKS=OFF
fi

if [ "${PROMEWMA_TSAN:-1}" != "0" ]; then
  echo "== ThreadSanitizer: the concurrent units"
  tsan_units=(head db writeback store http)
  # -O1 -g1: the instrumented build is the pass's cost (cpp-httplib's
  # server.cc above all); -O1 keeps the code TSan sees close to the release
  # build's without -O2's compile time, and -g1's line tables are all a
  # report needs (function, file, line).
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DPROMEWMA_SANITIZE=thread -DPROMEWMA_BUILD_BENCHMARKS=OFF
  cmake --build build-tsan -j "$jobs" --target "${tsan_units[@]/%/_test}"
  # halt_on_error: the first race fails its test, with both stacks.
  # history_size=7 (the most): with the default a busy test's older access
  # could lose its stack, and a hand-off inside RocksDB's memtable (see
  # tools/tsan.supp) then showed only our side, which the suppression by
  # module cannot match: db_test's "reads while chunks are sealed" failed
  # 7 times in 20 that way, 0 in 20 with it.
  units_regex=$(IFS='|'; echo "${tsan_units[*]}")
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=7 suppressions=$PWD/tools/tsan.supp" \
    ctest --test-dir build-tsan --output-on-failure -j "$jobs" --timeout 600 \
      -R "^($units_regex):" -E "$glibc_allocator_tests"
fi
