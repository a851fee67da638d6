#!/usr/bin/env python3
"""Every runbook_url in the shipped rules points at a heading of README.md.

The rules name README anchors (`README.md#promewmadown`); an anchor is a
heading's text as GitHub makes it: lower case, punctuation dropped, blanks
as '-'. Every alert must carry a runbook_url, and every anchor must exist.
"""
import glob
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def anchors(readme):
    out = set()
    in_code = False
    for line in readme.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        m = None if in_code else re.match(r"#{1,6}\s+(.*)", line)
        if m:
            text = m.group(1).strip().lower()
            text = re.sub(r"[^\w\- ]", "", text)
            out.add(text.replace(" ", "-"))
    return out


def main():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        known = anchors(f.read())
    problems = []
    rules = glob.glob(os.path.join(ROOT, "deploy", "prometheus", "rules", "*.yml"))
    if not rules:
        problems.append("no rules files under deploy/prometheus/rules")
    for path in rules:
        name = os.path.relpath(path, ROOT)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        # Each "- alert: NAME" block up to the next rule.
        blocks = re.split(r"\n\s*- (?=alert:|record:)", text)
        for block in blocks:
            m = re.match(r"alert:\s*(\S+)", block)
            if not m:
                continue
            alert = m.group(1)
            url = re.search(r'runbook_url:\s*"?README\.md#([^"\s]+)', block)
            if not url:
                problems.append("%s: %s: no runbook_url into README.md" % (name, alert))
            elif url.group(1) not in known:
                problems.append("%s: %s: README.md has no heading for #%s"
                                % (name, alert, url.group(1)))
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
