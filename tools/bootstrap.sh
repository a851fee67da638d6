#!/usr/bin/env bash
# Installs the Debian bookworm packages promewma builds and tests with.
# Idempotent: installs only what is missing, runs `apt-get update` at most
# once, and does nothing at all when everything is present.
#
#   tools/bootstrap.sh               everything: build, tests, peers, fuzzing
#   tools/bootstrap.sh --build-only  what building the binaries needs, with
#                                    -DPROMEWMA_BUILD_TESTS=OFF
#                                    -DPROMEWMA_BUILD_BENCHMARKS=OFF
#                                    (deploy/docker/Dockerfile)
set -euo pipefail

build_packages=(
  # toolchain
  g++ cmake ninja-build pkg-config git
  # libraries, all from Debian
  libprotobuf-dev protobuf-compiler libsnappy-dev libcpp-httplib-dev
  prometheus-cpp-dev libre2-dev libyaml-cpp-dev libcli11-dev
  nlohmann-json3-dev libspdlog-dev libxxhash-dev librocksdb-dev
  libssl-dev libhowardhinnant-date-dev tzdata libboost-dev libcrypt-dev
)

packages=(
  "${build_packages[@]}"
  # tests and benchmarks (openssl: the write-back TLS test makes its certs)
  catch2 libbenchmark-dev python3 python3-pandas curl openssl
  # the deploy/ checks read YAML (docker-compose.yml, k8s manifests, Grafana
  # provisioning)
  python3-yaml
  # bench.sh reads the kernel's listen-queue overflow counter with nstat
  iproute2
  # backtest --plot draws with gnuplot
  gnuplot
  # real peers for the integration tests (victoria-metrics ships vmagent);
  # a test whose peer is missing fails and names the package
  prometheus prometheus-node-exporter victoria-metrics prometheus-alertmanager
  # fuzzing (libFuzzer ships with clang's runtime)
  clang libclang-rt-14-dev
)

case "${1:-}" in
  "") ;;
  --build-only) packages=("${build_packages[@]}") ;;
  *) echo "usage: $0 [--build-only]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "bootstrap: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
