#!/usr/bin/env python3
"""Checks deploy/docker against the rest of deploy/ (no Docker engine here).

  check_docker.py PROMEWMA_BINARY CSV2RW_BINARY

docker-compose.yml: the five services; every file or directory it mounts
from the repository exists, and the files the tests use are the ones
mounted (deploy/prometheus, deploy/alertmanager, deploy/grafana,
deploy/docker/promewma.yml); the files a mounted config names (rule
files) are mounted too; named volumes are declared. Every service is on
the host's network, so the addresses in the configs are host ports, and
they agree: Prometheus scrapes node_exporter and promewma where they
listen, remote-writes and remote-reads promewma there, sends alerts to
Alertmanager's port; promewma writes back to Prometheus' port;
Alertmanager's webhooks reach promewma's Teams relay on a channel
promewma.yml has; Grafana's datasource reaches Prometheus, and its
dashboard provider loads the mounted dashboards. The environment
variables the configs read are set. promewma.yml passes
`promewma --check-config`.

Dockerfile: bookworm stages, the build through tools/bootstrap.sh, a
non-root USER, a VOLUME at promewma.yml's data_dir, a HEALTHCHECK on
/-/healthy (a route of the server) at the port promewma listens on.
runtime-packages.sh, which the runtime stage installs from, names the
installed packages that hold the given binaries' libraries.
"""
import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import yaml  # Debian python3-yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCKER = os.path.join(ROOT, "deploy", "docker")
SERVICES = {"promewma", "prometheus", "alertmanager", "node-exporter", "grafana"}

problems = []


def bad(msg):
    problems.append(msg)


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def flag(service, name, default=None):
    """The value of --name=VALUE in a service's command, or default."""
    for arg in service.get("command", []) or []:
        if arg.startswith("--" + name + "="):
            return arg.split("=", 1)[1]
    return default


def port_of(address):
    """The port of "HOST:PORT", ":PORT" or a URL."""
    if "//" in address:
        return urlsplit(address).port
    return int(address.rsplit(":", 1)[1])


def host_of_url(url):
    return urlsplit(url).hostname


class Mounts:
    """A service's bind mounts: container path -> host path (absolute)."""

    def __init__(self, name, service, declared_volumes):
        self.binds = {}
        for v in service.get("volumes", []) or []:
            parts = v.split(":")
            source, target = parts[0], parts[1]
            if source.startswith(".") or source.startswith("/"):
                host = os.path.normpath(os.path.join(DOCKER, source))
                if source.startswith("."):
                    # A file of the repository: it must be there.
                    if not os.path.exists(host):
                        bad("docker-compose.yml: %s mounts %s, which does not exist"
                            % (name, source))
                    self.binds[target] = host
            elif source not in declared_volumes:
                bad("docker-compose.yml: %s mounts volume %s, not declared under "
                    "volumes:" % (name, source))

    def host_path(self, container_path):
        """The repository file behind a container path, or None."""
        for target, host in sorted(self.binds.items(), key=lambda kv: -len(kv[0])):
            if container_path == target:
                return host
            if container_path.startswith(target.rstrip("/") + "/"):
                return os.path.join(host, container_path[len(target.rstrip("/")) + 1:])
        return None


def expect_mounted(service_name, mounts, container_path, repo_path):
    host = mounts.host_path(container_path)
    want = os.path.join(ROOT, repo_path)
    if host is None:
        bad("docker-compose.yml: %s reads %s, which no volume mounts"
            % (service_name, container_path))
    elif os.path.normpath(host) != os.path.normpath(want):
        bad("docker-compose.yml: %s's %s is %s, not %s (the file the tests use)"
            % (service_name, container_path, os.path.relpath(host, ROOT), repo_path))
    return host


def main():
    binaries = sys.argv[1:]
    promewma_binary = binaries[0] if binaries else None
    compose = load_yaml(os.path.join(DOCKER, "docker-compose.yml"))
    services = compose.get("services", {})
    if set(services) != SERVICES:
        bad("docker-compose.yml: services %s, want %s"
            % (sorted(services), sorted(SERVICES)))
        return
    declared = set((compose.get("volumes") or {}).keys())
    mounts = {n: Mounts(n, s, declared) for n, s in services.items()}
    for n, s in services.items():
        if s.get("network_mode") != "host":
            bad("docker-compose.yml: %s is not on the host's network, so the "
                "127.0.0.1 addresses of deploy/ do not reach it" % n)

    # --- promewma --------------------------------------------------------------
    pw = services["promewma"]
    cmd = pw.get("command", [])
    if "--config" not in cmd:
        bad("docker-compose.yml: promewma is not given --config")
        return
    pw_config_path = expect_mounted("promewma", mounts["promewma"],
                                    cmd[cmd.index("--config") + 1],
                                    "deploy/docker/promewma.yml")
    pw_config = load_yaml(pw_config_path)
    pw_port = port_of(pw_config["listen"])
    data_dir = pw_config["data_dir"]
    if not any(v.split(":")[1] == data_dir and not v.startswith((".", "/"))
               for v in pw.get("volumes", [])):
        bad("docker-compose.yml: promewma's data_dir %s is not a named volume" % data_dir)
    pw_env = pw.get("environment", {}) or {}
    relay = pw_config.get("notify", {}).get("msteams", {})
    channels = {"": relay}
    channels.update({"/" + k: v for k, v in (relay.get("channels") or {}).items()})
    for ch in channels.values():
        env = ch.get("webhook_url_env")
        if env and env not in pw_env:
            bad("docker-compose.yml: promewma.yml reads %s, which promewma's "
                "environment does not set" % env)

    # --- Prometheus ------------------------------------------------------------
    prom = services["prometheus"]
    prom_port = port_of(flag(prom, "web.listen-address", ":9090"))
    if "--web.enable-remote-write-receiver" not in prom.get("command", []):
        bad("docker-compose.yml: Prometheus does not accept promewma's write-back "
            "(--web.enable-remote-write-receiver)")
    prom_config_container = flag(prom, "config.file", "/etc/prometheus/prometheus.yml")
    prom_config_path = expect_mounted("prometheus", mounts["prometheus"],
                                      prom_config_container,
                                      "deploy/prometheus/prometheus.yml")
    prom_config = load_yaml(prom_config_path)
    for rule_file in prom_config.get("rule_files", []):
        container = os.path.normpath(os.path.join(
            os.path.dirname(prom_config_container), rule_file))
        host = mounts["prometheus"].host_path(container)
        if host is None or not os.path.isfile(host):
            bad("docker-compose.yml: Prometheus loads %s, which is not mounted"
                % container)

    node_port = port_of(flag(services["node-exporter"], "web.listen-address", ":9100"))
    am_port = port_of(flag(services["alertmanager"], "web.listen-address", ":9093"))
    jobs = {j["job_name"]: [t for sc in j.get("static_configs", [])
                            for t in sc.get("targets", [])]
            for j in prom_config.get("scrape_configs", [])}
    for job, port in (("node", node_port), ("promewma", pw_port)):
        targets = jobs.get(job, [])
        if [port_of(t) for t in targets] != [port]:
            bad("prometheus.yml: job %s scrapes %s, but %s listens on port %d"
                % (job, targets, job, port))
    for section in ("remote_write", "remote_read"):
        urls = [e["url"] for e in prom_config.get(section, [])]
        if not urls or any(port_of(u) != pw_port or host_of_url(u) != "127.0.0.1"
                           for u in urls):
            bad("prometheus.yml: %s %s is not promewma on 127.0.0.1:%d"
                % (section, urls, pw_port))
    am_targets = [t for a in prom_config.get("alerting", {}).get("alertmanagers", [])
                  for sc in a.get("static_configs", []) for t in sc.get("targets", [])]
    if [port_of(t) for t in am_targets] != [am_port]:
        bad("prometheus.yml: alerts go to %s, but Alertmanager listens on port %d"
            % (am_targets, am_port))
    for target in pw_config.get("write_back", []):
        url = target["url"]
        if port_of(url) != prom_port or urlsplit(url).path != "/api/v1/write":
            bad("promewma.yml: write_back %s is not Prometheus' receiver on port %d"
                % (url, prom_port))

    # --- Alertmanager ----------------------------------------------------------
    am = services["alertmanager"]
    am_config = load_yaml(expect_mounted(
        "alertmanager", mounts["alertmanager"],
        flag(am, "config.file", "/etc/alertmanager/alertmanager.yml"),
        "deploy/alertmanager/alertmanager.yml"))
    for receiver in am_config.get("receivers", []):
        for hook in receiver.get("webhook_configs", []):
            url = urlsplit(hook["url"])
            m = re.fullmatch(r"/api/v1/notify/msteams(/[A-Za-z0-9_-]+)?", url.path)
            if url.port != pw_port or not m:
                bad("alertmanager.yml: receiver %s posts to %s, not promewma's "
                    "Teams relay on port %d" % (receiver["name"], hook["url"], pw_port))
            elif (m.group(1) or "") not in channels:
                bad("alertmanager.yml: receiver %s posts to channel %s, which "
                    "promewma.yml does not have" % (receiver["name"], m.group(1)))

    # --- Grafana ---------------------------------------------------------------
    gf = services["grafana"]
    gf_env = gf.get("environment", {}) or {}
    gmounts = mounts["grafana"]
    ds_path = expect_mounted("grafana", gmounts,
                             "/etc/grafana/provisioning/datasources/prometheus.yml",
                             "deploy/grafana/provisioning/datasources/prometheus.yml")
    provider_path = expect_mounted("grafana", gmounts,
                                   "/etc/grafana/provisioning/dashboards/promewma.yml",
                                   "deploy/grafana/provisioning/dashboards/promewma.yml")
    with open(ds_path, encoding="utf-8") as f:
        ds_text = f.read()
    for var in re.findall(r"\$\{(\w+)\}|\$__env\{(\w+)\}", ds_text):
        var = var[0] or var[1]
        if var not in gf_env:
            bad("docker-compose.yml: the datasource reads $%s, which Grafana's "
                "environment does not set" % var)
    ds = load_yaml(ds_path)["datasources"][0]
    url = re.sub(r"\$\{(\w+)\}", lambda m: str(gf_env.get(m.group(1), "")), ds["url"])
    if port_of(url) != prom_port:
        bad("Grafana's datasource %s is not Prometheus on port %d" % (url, prom_port))
    for p in load_yaml(provider_path)["providers"]:
        dash_dir = gmounts.host_path(p["options"]["path"])
        want = os.path.join(ROOT, "deploy", "grafana", "dashboards")
        if dash_dir is None or os.path.normpath(dash_dir) != want:
            bad("Grafana's dashboard provider loads %s, where deploy/grafana/"
                "dashboards is not mounted" % p["options"]["path"])

    # --- Dockerfile ------------------------------------------------------------
    with open(os.path.join(DOCKER, "Dockerfile"), encoding="utf-8") as f:
        dockerfile = f.read()
    # Continuation lines joined, comments dropped.
    lines = [l for l in re.sub(r"\\\n", " ", dockerfile).splitlines()
             if l.strip() and not l.lstrip().startswith("#")]
    stages = [l for l in lines if l.startswith("FROM ")]
    if len(stages) < 2 or any(not re.match(r"FROM debian:bookworm\b", l) for l in stages):
        bad("Dockerfile: want a multi-stage build on debian:bookworm, got %s" % stages)
    if not any(l.startswith("RUN ") and "tools/bootstrap.sh" in l for l in lines):
        bad("Dockerfile: the build does not install tools/bootstrap.sh's packages")
    users = [l.split()[1] for l in lines if l.startswith("USER ")]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        bad("Dockerfile: the image runs as root (USER %s)" % users)
    volumes = [l.split()[1] for l in lines if l.startswith("VOLUME ")]
    if data_dir not in volumes:
        bad("Dockerfile: no VOLUME at promewma.yml's data_dir %s (%s)" % (data_dir, volumes))
    health = [l for l in lines if l.startswith("HEALTHCHECK ")]
    m = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*)", health[0]) if health else None
    if not m or m.group(2) != "/-/healthy":
        bad("Dockerfile: no HEALTHCHECK on /-/healthy (%s)" % health)
    elif int(m.group(1)) != pw_port:
        bad("Dockerfile: the HEALTHCHECK asks port %s, promewma.yml listens on %d"
            % (m.group(1), pw_port))
    with open(os.path.join(ROOT, "src", "http", "server.cc"), encoding="utf-8") as f:
        if 'path == "/-/healthy"' not in f.read():
            bad("src/http/server.cc has no route /-/healthy")

    # --- the runtime stage's packages ---------------------------------------------
    if binaries:
        r = subprocess.run([os.path.join(DOCKER, "runtime-packages.sh")] + binaries,
                           capture_output=True, text=True)
        packages = r.stdout.split()
        if r.returncode != 0:
            bad("runtime-packages.sh: %s" % r.stderr)
        else:
            for want in ("libc6", "libstdc++6", "libssl3"):
                if want not in packages:
                    bad("runtime-packages.sh: %s is not among %s" % (want, packages))
            if not any(p.startswith("librocksdb") for p in packages):
                bad("runtime-packages.sh: no librocksdb among %s" % packages)
            q = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\n"] + packages,
                               capture_output=True, text=True)
            if q.returncode != 0:
                bad("runtime-packages.sh names packages that are not installed: %s"
                    % q.stderr)

    # --- promewma --check-config ------------------------------------------------
    if promewma_binary:
        env = dict(os.environ)
        for ch in channels.values():
            if ch.get("webhook_url_env"):
                env[ch["webhook_url_env"]] = "https://example.invalid/workflows/x"
        r = subprocess.run([promewma_binary, "--check-config", pw_config_path],
                           env=env, capture_output=True, text=True)
        if r.returncode != 0:
            bad("promewma --check-config deploy/docker/promewma.yml: %s%s"
                % (r.stdout, r.stderr))


if __name__ == "__main__":
    main()
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print("deploy/docker: compose file, mounts, ports and Dockerfile agree")
    sys.exit(1 if problems else 0)
