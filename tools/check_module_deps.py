#!/usr/bin/env python3
"""Checks that each src/<module> CMake library links exactly the modules its
sources include, and that the module graph has no cycle.

Run from anywhere: python3 tools/check_module_deps.py. Exit 0 when the
graph is honest; otherwise one line per problem and exit 1. ctest runs it.
"""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def declared_deps():
    text = open(os.path.join(ROOT, "CMakeLists.txt")).read()
    deps = {}
    for m in re.finditer(r"promewma_module\((\w+)(?: DEPS([^)]*))?\)", text):
        deps[m.group(1)] = set(re.findall(r"promewma::(\w+)", m.group(2) or ""))
    return deps


def included_modules(module):
    found = set()
    for path in glob.glob(os.path.join(ROOT, "src", module, "*")):
        with open(path) as f:
            for line in f:
                m = re.match(r'#include "(\w+)/', line)
                if m and m.group(1) not in (module, "promewma"):
                    found.add(m.group(1))
    return found


def main():
    deps = declared_deps()
    problems = []
    for module in sorted(os.listdir(os.path.join(ROOT, "src"))):
        if module not in deps:
            problems.append(f"src/{module}: no promewma_module({module}) in CMakeLists.txt")
            continue
        inc = included_modules(module)
        for m in sorted(inc - deps[module]):
            problems.append(f"src/{module} includes {m}/ but does not link promewma::{m}")
        for m in sorted(deps[module] - inc):
            problems.append(f"src/{module} links promewma::{m} but includes nothing of it")
    # No cycles: a depth-first walk never meets a module on its own path.
    state = {}

    def visit(module, path):
        if state.get(module) == "done":
            return
        if state.get(module) == "open":
            problems.append("module cycle: " + " -> ".join(path + [module]))
            return
        state[module] = "open"
        for d in sorted(deps.get(module, ())):
            visit(d, path + [module])
        state[module] = "done"

    for module in sorted(deps):
        visit(module, [])
    for p in problems:
        print(p)
    if not problems:
        print(f"{len(deps)} modules: each links exactly what it includes, no cycle")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
