#!/usr/bin/env bash
# Checks the shipped Prometheus files with promtool (Debian package
# `prometheus`): `promtool.sh check-config | check-rules | test-rules`.
# A missing promtool fails the check and names the package.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
deploy="$root/deploy/prometheus"

promtool="${PROMTOOL:-$(command -v promtool || true)}"
if [ -z "$promtool" ] || [ ! -x "$promtool" ]; then
  echo "promtool not found: install the Debian package prometheus" \
       "(tools/bootstrap.sh installs it)" >&2
  exit 1
fi

case "${1:-}" in
  check-config)
    "$promtool" check config "$deploy/prometheus.yml"
    ;;
  check-rules)
    "$promtool" check rules "$deploy"/rules/*.yml
    ;;
  test-rules)
    # Rule files are named relative to each test file.
    cd "$deploy"
    "$promtool" test rules tests/*.test.yml
    ;;
  *)
    echo "usage: $0 check-config|check-rules|test-rules" >&2
    exit 2
    ;;
esac
