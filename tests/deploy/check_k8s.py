#!/usr/bin/env python3
"""Checks the Kubernetes manifests of deploy/k8s (no cluster here).

  check_k8s.py PROMEWMA_BINARY

Parses every manifest and checks the references between them: the
StatefulSet's serviceName is the headless Service, whose selector picks
the pod template and whose targetPort is a container port; every
volumeMount has a volume or a claim template; the ConfigMap and Secret
the volumes name exist with the keys they project; --config is a file of
the ConfigMap's mount; promewma.yml's data_dir is the claim's mount, its
listen port the container port, and its webhook_url_file a key of the
mounted Secret; the probes ask /-/ready (readiness) and /-/healthy
(liveness) on the container port; the pod runs as the image's non-root
uid (deploy/docker/Dockerfile). Then it runs the binary: --check-config
on the ConfigMap's promewma.yml (the Secret's value in a file), and the
server started with it, where each probe path answers 200 and a path
that is not a route 404.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml  # Debian python3-yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
K8S = os.path.join(ROOT, "deploy", "k8s")

problems = []


def bad(msg):
    problems.append(msg)


def objects():
    out = {}
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    out[(doc["kind"], doc["metadata"]["name"])] = doc
    return out


def under(path, mounts):
    """(mount, relative path) of the volumeMount that holds `path`."""
    best = None
    for m in mounts:
        mp = m["mountPath"].rstrip("/")
        if path.startswith(mp + "/") and (best is None or len(mp) > len(best[0]["mountPath"])):
            best = (m, path[len(mp) + 1:])
    return best


def projected_keys(volume):
    """path in the volume -> key of its ConfigMap or Secret."""
    source = volume.get("configMap") or volume.get("secret")
    return {i["path"]: i["key"] for i in source.get("items", [])}


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def run_server(binary, config_path, probes):
    with tempfile.TemporaryDirectory() as data:
        err_path = os.path.join(data, "stderr")
        with open(err_path, "w") as err:
            proc = subprocess.Popen(
                [binary, "--config", config_path, "--listen", "127.0.0.1:0",
                 "--data-dir", os.path.join(data, "data")],
                stdout=subprocess.DEVNULL, stderr=err)
        try:
            port = None
            deadline = time.time() + 20
            while port is None and time.time() < deadline and proc.poll() is None:
                with open(err_path) as f:
                    m = re.search(r"msg=listening .*address=127\.0\.0\.1:(\d+)", f.read())
                if m:
                    port = int(m.group(1))
                else:
                    time.sleep(0.1)
            if port is None:
                with open(err_path) as f:
                    bad("promewma with the ConfigMap's config did not start: %s" % f.read())
                return
            for kind, path in probes:
                status = None
                deadline = time.time() + 15  # /-/ready: once recovery is done
                while time.time() < deadline:
                    status = get("http://127.0.0.1:%d%s" % (port, path))
                    if status == 200:
                        break
                    time.sleep(0.2)
                if status != 200:
                    bad("%s probe: GET %s answered %s, not 200" % (kind, path, status))
            status = get("http://127.0.0.1:%d/-/no-such-route" % port)
            if status != 404:
                bad("GET /-/no-such-route answered %s, not 404: the probe check "
                    "cannot tell a route from none" % status)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else None
    objs = objects()
    sets = [o for (k, _), o in objs.items() if k == "StatefulSet"]
    if len(sets) != 1:
        bad("want one StatefulSet, got %d" % len(sets))
        return
    sts = sets[0]
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    for k, v in spec["selector"]["matchLabels"].items():
        if labels.get(k) != v:
            bad("StatefulSet: selector %s=%s does not pick its pod template" % (k, v))

    svc = objs.get(("Service", spec["serviceName"]))
    if svc is None:
        bad("StatefulSet: serviceName %s is not a Service" % spec["serviceName"])
    elif svc["spec"].get("clusterIP") != "None":
        bad("Service %s is not headless (clusterIP: None)" % spec["serviceName"])

    (container,) = pod["containers"]
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    if svc is not None:
        for k, v in svc["spec"]["selector"].items():
            if labels.get(k) != v:
                bad("Service: selector %s=%s does not pick the pods" % (k, v))
        for p in svc["spec"]["ports"]:
            t = p.get("targetPort", p["port"])
            if t not in ports and t not in ports.values():
                bad("Service: targetPort %s is not a container port %s" % (t, ports))

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
    mounts = container.get("volumeMounts", [])
    for m in mounts:
        if m["name"] not in volumes and m["name"] not in claims:
            bad("volumeMount %s has no volume or claim template" % m["name"])
    for name, v in volumes.items():
        if "configMap" in v:
            kind, ref, data_keys = "ConfigMap", v["configMap"]["name"], "data"
        elif "secret" in v:
            kind, ref, data_keys = "Secret", v["secret"]["secretName"], None
        else:
            continue
        obj = objs.get((kind, ref))
        if obj is None:
            bad("volume %s names %s %s, which no manifest defines" % (name, kind, ref))
            continue
        keys = set(obj.get("data", {}) or {}) | set(obj.get("stringData", {}) or {})
        for key in projected_keys(v).values():
            if key not in keys:
                bad("volume %s projects key %s, which %s %s does not have"
                    % (name, key, kind, ref))

    def file_of(path, what):
        """The ConfigMap/Secret value a container path holds."""
        hit = under(path, mounts)
        if hit is None or hit[0]["name"] not in volumes:
            bad("%s %s is not in a ConfigMap or Secret mount" % (what, path))
            return None
        v = volumes[hit[0]["name"]]
        key = projected_keys(v).get(hit[1], hit[1])
        if "configMap" in v:
            obj = objs.get(("ConfigMap", v["configMap"]["name"]), {})
            return (obj.get("data") or {}).get(key)
        obj = objs.get(("Secret", v["secret"]["secretName"]), {})
        return (obj.get("stringData") or {}).get(key)

    args = container.get("args", [])
    if "--config" not in args:
        bad("the container is not given --config")
        return
    config_text = file_of(args[args.index("--config") + 1], "--config")
    if config_text is None:
        return
    config = yaml.safe_load(config_text)

    host, port = config["listen"].rsplit(":", 1)
    if host not in ("0.0.0.0", "", "[::]"):
        bad("promewma.yml: listen %s is not reachable from the kubelet's probes" % config["listen"])
    if int(port) not in ports.values():
        bad("promewma.yml listens on %s, not a container port %s" % (port, ports))
    data_mount = [m for m in mounts if m["name"] in claims]
    if [m["mountPath"] for m in data_mount] != [config["data_dir"]]:
        bad("promewma.yml: data_dir %s is not the claim template's mount %s"
            % (config["data_dir"], [m["mountPath"] for m in data_mount]))
    url_file = config.get("notify", {}).get("msteams", {}).get("webhook_url_file")
    secret_url = file_of(url_file, "webhook_url_file") if url_file else None
    hit = under(url_file, mounts) if url_file else None
    if not url_file or secret_url is None or "secret" not in volumes.get(hit[0]["name"], {}):
        bad("promewma.yml: the Teams workflow URL does not come from a mounted Secret")

    probes = []
    for kind, want in (("readinessProbe", "/-/ready"), ("livenessProbe", "/-/healthy")):
        probe = container.get(kind, {}).get("httpGet")
        if not probe:
            bad("no %s" % kind)
            continue
        if probe["path"] != want:
            bad("%s asks %s, want %s" % (kind, probe["path"], want))
        if probe["port"] not in ports and probe["port"] not in ports.values():
            bad("%s port %s is not a container port" % (kind, probe["port"]))
        probes.append((kind, probe["path"]))

    sc = pod.get("securityContext", {})
    with open(os.path.join(ROOT, "deploy", "docker", "Dockerfile"), encoding="utf-8") as f:
        users = re.findall(r"^USER (\d+)", f.read(), re.M)
    if not sc.get("runAsNonRoot") or [str(sc.get("runAsUser"))] != users[-1:]:
        bad("pod securityContext: runAsNonRoot with runAsUser %s (the Dockerfile's "
            "USER %s) wanted" % (sc.get("runAsUser"), users))
    if not sc.get("fsGroup"):
        bad("pod securityContext: no fsGroup, so the volume may not be writable")
    res = container.get("resources", {})
    if not res.get("requests", {}).get("memory") or not res.get("limits", {}).get("memory"):
        bad("the container has no memory request and limit")

    if not binary:
        return
    with tempfile.TemporaryDirectory() as tmp:
        config_path = os.path.join(tmp, "promewma.yml")
        url_path = os.path.join(tmp, "teams-workflow-url")
        with open(url_path, "w") as f:
            f.write(secret_url or "")
        with open(config_path, "w") as f:
            f.write(config_text.replace(url_file, url_path))
        r = subprocess.run([binary, "--check-config", config_path],
                           capture_output=True, text=True)
        if r.returncode != 0:
            bad("promewma --check-config on the ConfigMap: %s%s" % (r.stdout, r.stderr))
            return
        run_server(binary, config_path, probes)


if __name__ == "__main__":
    main()
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print("deploy/k8s: references, probes and config agree")
    sys.exit(1 if problems else 0)
