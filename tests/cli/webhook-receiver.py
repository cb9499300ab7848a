#!/usr/bin/env python3
"""A webhook receiver for qbk's notification tests (standard library only).

    webhook-receiver.py --dir DIR [--port 0] [--port-file FILE]
                        [--status CODE] [--delay SECONDS]

Listens on 127.0.0.1, answers every POST with --status (default 200) and
records it (--delay waits that long before answering, to test timeouts):
one JSON line {"path", "content_type", "body"} per request is
appended to DIR/requests.jsonl ("body" is the parsed JSON document, or the
text when it is not JSON), and the raw body is kept as DIR/NNNN.body.
The chosen port is written to --port-file once the socket listens.  Serves
until SIGTERM.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
count = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        text = raw.decode("utf-8", "replace")
        try:
            body = json.loads(text)
        except ValueError:
            body = text
        rec = {"path": self.path,
               "content_type": self.headers.get("Content-Type"),
               "body": body}
        with lock:
            count += 1
            with open(os.path.join(args.dir, "%04d.body" % count), "wb") as f:
                f.write(raw)
            with open(os.path.join(args.dir, "requests.jsonl"), "a") as f:
                f.write(json.dumps(rec, sort_keys=True) + "\n")
        if args.delay > 0:
            time.sleep(args.delay)
        out = b'{"status":"success"}'
        self.send_response(args.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, fmt, *a):
        sys.stderr.write("webhook-receiver: " + (fmt % a) + "\n")


ap = argparse.ArgumentParser()
ap.add_argument("--dir", required=True)
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--port-file")
ap.add_argument("--status", type=int, default=200)
ap.add_argument("--delay", type=float, default=0)
args = ap.parse_args()
os.makedirs(args.dir, exist_ok=True)
srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
signal.signal(signal.SIGTERM, lambda *a: threading.Thread(
    target=srv.shutdown).start())
if args.port_file:
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
srv.serve_forever()
