#!/usr/bin/env python3
"""A local stand-in for a Teams workflow (Power Automate's "When a Teams
webhook request is received"), for tools/demo.sh and the tests.

    tools/teams_sink/teams_sink.py --listen 127.0.0.1:0 --out cards.jsonl

POST (any path): the body is kept, appended as one JSON line to --out
    ({"received": "<UTC time>", "path": ..., "body": <the JSON posted>}), and
    answered 202 Accepted with an empty body, as Power Automate answers.
    A body that is not JSON is kept as a string and still answered 202:
    the sink records, it does not judge.
GET /           an HTML page listing the received cards, newest first:
                title, status (FIRING / RESOLVED), and each fact set
GET /cards.json the same as JSON: [{"received", "path", "title", "status",
                "facts": [[title, value], ...], "body"}, ...], oldest first
GET /-/healthy  200

On start it prints "teams_sink: listening on http://HOST:PORT" (the port
the kernel chose for port 0) on stdout. Earlier cards in --out are loaded,
so a restart shows them again. Python 3 standard library only.
"""
import argparse
import datetime
import html
import http.server
import json
import sys
import threading


def _walk(node):
    """Every dict inside a card, depth first, in document order."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def summarize(body):
    """(title, status, facts) of a posted Teams message."""
    cards = []
    if isinstance(body, dict):
        for attachment in body.get("attachments") or []:
            if isinstance(attachment, dict):
                cards.append(attachment.get("content"))
    title, status, facts = "", "", []
    for node in _walk(cards):
        kind = node.get("type")
        if kind == "TextBlock":
            text = str(node.get("text", ""))
            if not title:
                title = text
            if not status:
                for word in ("FIRING", "RESOLVED"):
                    if text.startswith(word):
                        status = word
        elif kind == "FactSet":
            for fact in node.get("facts") or []:
                if isinstance(fact, dict):
                    facts.append([str(fact.get("title", "")),
                                  str(fact.get("value", ""))])
    return title, status, facts


class Store:
    """The received messages, in memory and in the JSONL file."""

    def __init__(self, path):
        self._lock = threading.Lock()
        self._path = path
        self._entries = []
        if path:
            try:
                with open(path, encoding="utf-8") as f:
                    for line in f:
                        line = line.strip()
                        if line:
                            self._entries.append(json.loads(line))
            except FileNotFoundError:
                pass

    def add(self, path, raw):
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = raw.decode("utf-8", "replace")
        entry = {
            "received": datetime.datetime.now(datetime.timezone.utc)
                        .strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "path": path,
            "body": body,
        }
        with self._lock:
            self._entries.append(entry)
            if self._path:
                with open(self._path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry, sort_keys=True) + "\n")

    def cards(self):
        with self._lock:
            entries = list(self._entries)
        out = []
        for e in entries:
            title, status, facts = summarize(e["body"])
            out.append({"received": e["received"], "path": e["path"],
                        "title": title, "status": status, "facts": facts,
                        "body": e["body"]})
        return out


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>Teams sink: {count} cards</title>
<style>
body {{ font-family: sans-serif; margin: 2em; background: #f5f5f5; }}
.card {{ background: white; border-left: 6px solid #888; margin: 1em 0;
         padding: 0.6em 1em; box-shadow: 0 1px 3px #bbb; }}
.FIRING {{ border-color: #c4314b; }}
.RESOLVED {{ border-color: #237b4b; }}
.meta {{ color: #666; font-size: 0.85em; }}
td {{ padding: 0 1em 0 0; vertical-align: top; }}
</style></head><body>
<h1>Teams sink</h1>
<p>{count} cards received, newest first (this page reloads every 5 s;
<a href="/cards.json">cards.json</a>).</p>
{cards}
</body></html>
"""


def render(cards):
    parts = []
    for c in reversed(cards):
        rows = "".join("<tr><td><b>%s</b></td><td>%s</td></tr>"
                       % (html.escape(t), html.escape(v))
                       for t, v in c["facts"])
        parts.append(
            '<div class="card %s"><div class="meta">%s &middot; %s</div>'
            "<h3>%s</h3><div>%s</div><table>%s</table></div>"
            % (html.escape(c["status"]), html.escape(c["received"]),
               html.escape(c["path"]), html.escape(c["title"]),
               html.escape(c["status"]), rows))
    return PAGE.format(count=len(cards), cards="\n".join(parts))


def make_handler(store):
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "teams_sink"

        def _send(self, code, body=b"", content_type="text/plain"):
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            store.add(self.path, self.rfile.read(length))
            self._send(202)

        def do_GET(self):
            if self.path == "/":
                self._send(200, render(store.cards()).encode("utf-8"),
                           "text/html; charset=utf-8")
            elif self.path == "/cards.json":
                self._send(200, json.dumps(store.cards()).encode("utf-8"),
                           "application/json")
            elif self.path == "/-/healthy":
                self._send(200, b"ok\n")
            else:
                self._send(404, b"no such page\n")

        def log_message(self, fmt, *args):  # one line per request, stderr
            sys.stderr.write("teams_sink: %s %s\n"
                             % (self.address_string(), fmt % args))

    return Handler


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:0",
                        help="HOST:PORT (port 0: one the kernel chooses)")
    parser.add_argument("--out", default="",
                        help="JSONL file the received bodies are appended to")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    server = http.server.ThreadingHTTPServer(
        (host or "127.0.0.1", int(port)), make_handler(Store(args.out)))
    print("teams_sink: listening on http://%s:%d"
          % (server.server_address[0], server.server_address[1]), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
