#!/usr/bin/env bash
# Installs what is missing, builds promewma from scratch and runs every test.
#
#   tools/check.sh            release build + tests, then the same tests under
#                             AddressSanitizer + UndefinedBehaviorSanitizer
#   PROMEWMA_SANITIZE=0 tools/check.sh   skip the sanitizer pass
#
# Build trees: build/ (RelWithDebInfo) and build-asan/.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/bootstrap.sh

jobs="${PROMEWMA_JOBS:-2}"

build_and_test() {
  local dir="$1"
  shift
  cmake -S . -B "$dir" -G Ninja "$@"
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 600)
}

echo "== release build and tests"
build_and_test build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROMEWMA_WERROR=ON

if [ "${PROMEWMA_SANITIZE:-1}" != "0" ]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
  build_and_test build-asan -DCMAKE_BUILD_TYPE=Debug \
    -DPROMEWMA_SANITIZE=address,undefined -DPROMEWMA_BUILD_BENCHMARKS=OFF
fi
