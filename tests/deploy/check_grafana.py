#!/usr/bin/env python3
"""Checks deploy/grafana: the dashboards' JSON and the provisioning files.

Every dashboard under deploy/grafana/dashboards loads as JSON and has a
uid (unique across the dashboards) and a title; its panel ids are unique
(row panels' children included); every query names its datasource only
through the dashboard's "datasource" variable, so the provisioned
datasource, or any other Prometheus, can be picked; every variable a query
uses is defined on the dashboard or is one of Grafana's own. The
provisioning files parse, the dashboard provider loads a directory, and
the datasource's scrape interval is deploy/prometheus/prometheus.yml's
(Grafana's $__rate_interval is derived from it).

That the queries run, and return data, is checked against a real
Prometheus by tests/integration/grafana_dashboards_test.cc.
"""
import glob
import json
import os
import re
import sys

import yaml  # Debian python3-yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GRAFANA = os.path.join(ROOT, "deploy", "grafana")
EXPECTED_TITLES = {"CPU anomaly thresholds", "promewma"}
DS_VARIABLE_UIDS = {"${datasource}", "$datasource"}
# Grafana's built-in annotation source ("Annotations & Alerts").
BUILTIN_DS = {"type": "grafana", "uid": "-- Grafana --"}
GRAFANA_VARIABLES = {"__rate_interval", "__interval", "__interval_ms",
                     "__range", "__range_s", "__range_ms", "__from", "__to"}


def walk(node, path, out):
    """Yields (path, value) for every "datasource" key in the JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            p = path + "." + k
            if k == "datasource":
                out.append((p, v))
            walk(v, p, out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk(v, "%s[%d]" % (path, i), out)


def panels_of(dashboard):
    """Every panel, the panels inside collapsed rows included."""
    out = []
    for p in dashboard.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def queries_of(dashboard):
    """(where, expr) for every PromQL expression: panel targets,
    annotations and query variables."""
    out = []
    for p in panels_of(dashboard):
        for t in p.get("targets", []):
            out.append(("panel %s (%s) target %s" % (p.get("id"), p.get("title"),
                                                     t.get("refId")),
                        t.get("expr")))
    for a in dashboard.get("annotations", {}).get("list", []):
        if not a.get("builtIn"):
            out.append(("annotation %s" % a.get("name"), a.get("expr")))
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            out.append(("variable %s" % v.get("name"),
                        q.get("query") if isinstance(q, dict) else q))
    return out


def check_dashboard(name, d, problems):
    def bad(msg):
        problems.append("%s: %s" % (name, msg))

    if not d.get("uid"):
        bad("no uid")
    if not d.get("title"):
        bad("no title")
    ids = {}
    panels = panels_of(d)
    if not panels:
        bad("no panels")
    for p in panels:
        pid = p.get("id")
        if not isinstance(pid, int):
            bad("panel %r has no integer id" % p.get("title"))
        elif pid in ids:
            bad("panel id %d is used by %r and %r" % (pid, ids[pid], p.get("title")))
        else:
            ids[pid] = p.get("title")
        refs = [t.get("refId") for t in p.get("targets", [])]
        if len(refs) != len(set(refs)):
            bad("panel %d: duplicate refId in %s" % (pid, refs))
        if p.get("type") != "row" and not p.get("targets"):
            bad("panel %d (%s) has no query" % (pid, p.get("title")))

    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    ds_var = variables.get("datasource")
    if not ds_var or ds_var.get("type") != "datasource" or \
            ds_var.get("query") != "prometheus":
        bad('no variable "datasource" of type datasource (prometheus)')

    found = []
    walk(d, "", found)
    for where, ds in found:
        if isinstance(ds, str):
            ok = ds in DS_VARIABLE_UIDS
        elif isinstance(ds, dict):
            ok = ds.get("uid") in DS_VARIABLE_UIDS or ds == BUILTIN_DS
        else:
            ok = False
        if not ok:
            bad("%s: datasource %s is not the ${datasource} variable"
                % (where, json.dumps(ds)))

    for where, expr in queries_of(d):
        if not expr or not expr.strip():
            bad("%s: empty query" % where)
            continue
        for m in re.finditer(r"\$\{?(\w+)", expr):
            var = m.group(1)
            if var not in variables and var not in GRAFANA_VARIABLES:
                bad("%s: uses $%s, which is not a variable of the dashboard"
                    % (where, var))


def main():
    problems = []
    paths = sorted(glob.glob(os.path.join(GRAFANA, "dashboards", "*.json")))
    if not paths:
        problems.append("no dashboards under deploy/grafana/dashboards")
    uids = {}
    titles = set()
    for path in paths:
        name = os.path.relpath(path, ROOT)
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
        except ValueError as e:
            problems.append("%s: not JSON: %s" % (name, e))
            continue
        check_dashboard(name, d, problems)
        uid = d.get("uid")
        if uid in uids:
            problems.append("%s: uid %s is also %s's" % (name, uid, uids[uid]))
        uids[uid] = name
        titles.add(d.get("title"))
    for missing in sorted(EXPECTED_TITLES - titles):
        problems.append('no dashboard titled "%s"' % missing)

    def load_yaml(rel):
        with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
            return yaml.safe_load(f)

    sources = load_yaml("deploy/grafana/provisioning/datasources/prometheus.yml")
    proms = [s for s in sources.get("datasources", []) if s.get("type") == "prometheus"]
    if len(proms) != 1:
        problems.append("datasources/prometheus.yml: want one prometheus datasource, "
                        "got %d" % len(proms))
    else:
        scrape = load_yaml("deploy/prometheus/prometheus.yml")["global"]["scrape_interval"]
        interval = proms[0].get("jsonData", {}).get("timeInterval")
        if interval != scrape:
            problems.append("datasources/prometheus.yml: timeInterval %s is not "
                            "prometheus.yml's scrape_interval %s" % (interval, scrape))
        if not proms[0].get("url"):
            problems.append("datasources/prometheus.yml: no url")
    providers = load_yaml("deploy/grafana/provisioning/dashboards/promewma.yml")
    for p in providers.get("providers", []):
        if p.get("type") != "file" or not p.get("options", {}).get("path"):
            problems.append("dashboards/promewma.yml: provider %s does not load "
                            "a directory" % p.get("name"))
    if not providers.get("providers"):
        problems.append("dashboards/promewma.yml: no provider")

    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print("%d dashboards: %s" % (len(paths), ", ".join(sorted(titles))))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
