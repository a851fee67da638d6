#!/usr/bin/env bash
# Checks deploy/secure with the programs that read it, in a temporary copy
# where every file its configs name exists (certificates made here with
# openssl, the password files holding the example passwords):
#   promtool check web-config, promtool check config, amtool check-config,
#   promewma --check-config --web.config.file,
# then starts promewma with it and reads /metrics the way Prometheus does:
# over TLS with a client certificate and the example basic auth password,
# and is refused without them.
#   check_secure.sh PROMEWMA_BINARY
# A missing tool fails the check and names its Debian package.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
promewma="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"

need() {  # need TOOL PACKAGE: prints the tool's path
  local path
  path="$(command -v "$1" || true)"
  if [ -z "$path" ]; then
    echo "$1 not found: install the Debian package $2" \
         "(tools/bootstrap.sh installs it)" >&2
    exit 1
  fi
  echo "$path"
}
promtool="$(need promtool prometheus)"
amtool="$(need amtool prometheus-alertmanager)"
openssl="$(need openssl openssl)"
curl="$(need curl curl)"

tmp="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
cp "$root"/deploy/secure/*.yml "$tmp"/
cd "$tmp"

quiet() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; }
# One CA for promewma's certificate, one for its clients'.
for ca in promewma-ca clients-ca; do
  quiet "$openssl" req -x509 -newkey rsa:2048 -nodes -keyout "$ca.key" \
      -out "$ca.crt" -days 2 -subj "/CN=$ca"
done
quiet "$openssl" req -x509 -newkey rsa:2048 -nodes -keyout promewma.key \
    -out promewma.crt -days 2 -subj /CN=promewma.example.internal \
    -addext subjectAltName=DNS:promewma.example.internal \
    -addext basicConstraints=CA:FALSE -CA promewma-ca.crt -CAkey promewma-ca.key
for client in prometheus alertmanager; do
  quiet "$openssl" req -x509 -newkey rsa:2048 -nodes \
      -keyout "$client-client.key" -out "$client-client.crt" -days 2 \
      -subj "/CN=$client" -addext basicConstraints=CA:FALSE \
      -addext extendedKeyUsage=clientAuth -CA clients-ca.crt -CAkey clients-ca.key
  echo "example-$client-password" > "promewma-$client.password"
done

"$promtool" check web-config web-config.yml
"$promtool" check config prometheus.yml
"$amtool" check-config alertmanager.yml
"$promewma" --check-config promewma.yml --web.config.file web-config.yml

# The example passwords are the ones the hashes are of, and the port
# refuses a client without credentials or without a certificate.
"$promewma" --config promewma.yml --web.config.file web-config.yml \
    --listen 127.0.0.1:0 --data-dir "$tmp/data" 2>"$tmp/promewma.log" &
pid=$!
port=""
for _ in $(seq 1 100); do
  port="$(sed -n 's/.*msg=listening .*address=127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$tmp/promewma.log")"
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -z "$port" ]; then cat "$tmp/promewma.log" >&2; exit 1; fi
get() {  # get USER PASSWORD [CERT]: prints the HTTP status of GET /metrics
  local cert=()
  if [ -n "${3:-}" ]; then cert=(--cert "$3-client.crt" --key "$3-client.key"); fi
  "$curl" -s -o /dev/null -w '%{http_code}' --max-time 10 \
      --resolve "promewma.example.internal:$port:127.0.0.1" \
      --cacert promewma-ca.crt "${cert[@]}" -u "$1:$2" \
      "https://promewma.example.internal:$port/metrics" || true
}
expect() {  # expect WANT GOT WHAT
  if [ "$1" != "$2" ]; then
    echo "$3: expected $1, got $2" >&2
    cat "$tmp/promewma.log" >&2
    exit 1
  fi
  echo "$3: $2"
}
expect 200 "$(get prometheus example-prometheus-password prometheus)" \
    "prometheus, its password and certificate"
expect 200 "$(get alertmanager example-alertmanager-password alertmanager)" \
    "alertmanager, its password and certificate"
expect 401 "$(get prometheus wrong prometheus)" "a wrong password"
expect 000 "$(get prometheus example-prometheus-password)" \
    "no client certificate (the handshake fails)"
