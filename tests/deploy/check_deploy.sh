#!/usr/bin/env bash
# Checks the shipped configs with the peers' own tools:
#   check_deploy.sh check-config | check-rules | test-rules   (promtool,
#                   Debian package prometheus)
#   check_deploy.sh check-alertmanager   (amtool, prometheus-alertmanager)
# A missing tool fails the check and names the package.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
deploy="$root/deploy/prometheus"

need() {  # need TOOL PACKAGE [PATH]: prints the tool's path
  local path="${3:-$(command -v "$1" || true)}"
  if [ -z "$path" ] || [ ! -x "$path" ]; then
    echo "$1 not found: install the Debian package $2" \
         "(tools/bootstrap.sh installs it)" >&2
    exit 1
  fi
  echo "$path"
}

case "${1:-}" in
  check-config)
    promtool="$(need promtool prometheus "${PROMTOOL:-}")"
    "$promtool" check config "$deploy/prometheus.yml" \
        "$root/deploy/local/prometheus.yml" \
        "$root/deploy/scaleout/prometheus.yml"
    ;;
  check-rules)
    promtool="$(need promtool prometheus "${PROMTOOL:-}")"
    "$promtool" check rules "$deploy"/rules/*.yml
    ;;
  test-rules)
    promtool="$(need promtool prometheus "${PROMTOOL:-}")"
    # Rule files are named relative to each test file.
    cd "$deploy"
    "$promtool" test rules tests/*.test.yml
    ;;
  check-alertmanager)
    amtool="$(need amtool prometheus-alertmanager)"
    "$amtool" check-config "$root/deploy/alertmanager/alertmanager.yml" \
        "$root/deploy/local/alertmanager.yml"
    ;;
  *)
    echo "usage: $0 check-config|check-rules|test-rules|check-alertmanager" >&2
    exit 2
    ;;
esac
