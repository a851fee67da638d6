#!/bin/sh
# Prints the Debian packages that hold the shared libraries the given
# binaries load, one a line, sorted: what the Dockerfile's runtime stage
# installs, so that the list follows the build instead of being kept by
# hand. Fails, naming the library, when no installed package holds one.
#
#   deploy/docker/runtime-packages.sh build/bin/promewma build/bin/csv2rw
set -eu

if [ $# -eq 0 ]; then
  echo "usage: $0 BINARY..." >&2
  exit 2
fi

libs=$(ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u)
for lib in $libs; do
  real=$(readlink -f "$lib")
  pkg=""
  # bookworm merges /lib into /usr/lib: dpkg knows a library under
  # either name, and ldd may report the other one.
  for path in "$lib" "$real" "/usr$lib" "/usr$real" "${lib#/usr}" "${real#/usr}"; do
    pkg=$(dpkg-query -S "$path" 2>/dev/null | awk -F': ' '$2 ~ /^\// { sub(/:.*/, "", $1); print $1; exit }')
    [ -n "$pkg" ] && break
  done
  if [ -z "$pkg" ]; then
    echo "runtime-packages.sh: no installed package holds $lib" >&2
    exit 1
  fi
  echo "$pkg"
done | sort -u
