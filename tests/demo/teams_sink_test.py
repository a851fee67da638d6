#!/usr/bin/env python3
"""tools/teams_sink/teams_sink.py, run as demo.sh runs it: a card posted
as promewma's relay posts it is answered 202, kept in the JSONL file, and
read back from /cards.json and the page; a restart shows it again."""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SINK = os.path.join(ROOT, "tools", "teams_sink", "teams_sink.py")

CARD = {
    "type": "message",
    "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": {
            "type": "AdaptiveCard", "version": "1.4",
            "body": [
                {"type": "Container", "style": "attention", "items": [
                    {"type": "TextBlock", "text": "CPU anomaly"},
                    {"type": "TextBlock", "text": "FIRING: 1 alert"}]},
                {"type": "Container", "items": [
                    {"type": "TextBlock",
                     "text": "FIRING: CPUAboveAdaptiveThreshold"},
                    {"type": "FactSet", "facts": [
                        {"title": "instance", "value": "demo"},
                        {"title": "value", "value": "95.4%"},
                        {"title": "threshold", "value": "24.2%"}]}]}],
        },
    }],
}


def start(out):
    proc = subprocess.Popen([sys.executable, SINK, "--listen", "127.0.0.1:0",
                             "--out", out], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline().strip()
    prefix = "teams_sink: listening on "
    assert line.startswith(prefix), line
    return proc, line[len(prefix):]


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode("utf-8")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cards.jsonl")
        proc, url = start(out)
        try:
            req = urllib.request.Request(
                url + "/workflows/abc", data=json.dumps(CARD).encode(),
                headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(req, timeout=10) as r:
                assert r.status == 202, r.status
                assert r.read() == b""
            status, text = get(url + "/cards.json")
            assert status == 200
            cards = json.loads(text)
            assert len(cards) == 1, cards
            c = cards[0]
            assert c["path"] == "/workflows/abc", c
            assert c["title"] == "CPU anomaly", c
            assert c["status"] == "FIRING", c
            assert c["facts"] == [["instance", "demo"], ["value", "95.4%"],
                                  ["threshold", "24.2%"]], c
            assert c["body"] == CARD
            status, page = get(url + "/")
            assert status == 200
            for want in ("1 cards received", "CPU anomaly", "FIRING",
                         "95.4%", "24.2%"):
                assert want in page, want
            with open(out, encoding="utf-8") as f:
                lines = f.read().splitlines()
            assert len(lines) == 1 and json.loads(lines[0])["body"] == CARD
        finally:
            proc.terminate()
            proc.wait(10)
        # A restart loads the file.
        proc, url = start(out)
        try:
            _, text = get(url + "/cards.json")
            assert [c["title"] for c in json.loads(text)] == ["CPU anomaly"]
        finally:
            proc.terminate()
            proc.wait(10)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
