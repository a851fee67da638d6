#!/usr/bin/env python3
"""Fails when a Catch2 test name cannot be registered with ctest whole.

catch_discover_tests hands the names it lists to CMake as a list, and CMake
splits lists at ';'. A test named "a; b" becomes two ctest entries that
match nothing, so the test never runs and nothing says so. Each test binary
given on the command line is asked for its names; any name holding ';' is
printed and the check fails.

  check_test_names.py build/bin/db_test build/bin/wal_test ...
"""

import subprocess
import sys


def main(binaries):
    bad = []
    for binary in binaries:
        # Catch2 v2 exits with the number of tests listed, not 0.
        names = subprocess.run([binary, "--list-test-names-only"],
                               capture_output=True,
                               text=True).stdout.splitlines()
        if not names:
            bad.append(f"{binary}: lists no tests")
        bad += [f"{binary}: {name!r}" for name in names if ";" in name]
    for line in bad:
        print(line)
    if bad:
        print(f"{len(bad)} test name(s) ctest cannot register: "
              "replace ';' in the TEST_CASE name")
        return 1
    print(f"{len(binaries)} test binaries, every name registrable")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
