#!/usr/bin/env python3
"""A webhook receiver for the webhooks test: verifies each request's X-Pvfleet-Signature with Python's own hmac
(independently of the server's code) and answers by path:
  /ok 200 · /flaky 500 on the first request, 200 after · /gone 410 · /hang sleeps 5 s · /huge 200 with 4 MiB
  /redirect 302 to the cloud metadata address
Every request is appended to LOG as one JSON line. Prints "listening on PORT" once bound (127.0.0.1, port 0).
usage: receiver.py SECRET LOG"""
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = sys.argv[1].encode()
LOG = sys.argv[2]
hits = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        given = self.headers.get("X-Pvfleet-Signature", "")
        with lock:
            hits[self.path] = hits.get(self.path, 0) + 1
            n = hits[self.path]
            with open(LOG, "a") as log:
                log.write(json.dumps({
                    "path": self.path, "signature_ok": hmac.compare_digest(expected, given),
                    "event": self.headers.get("X-Pvfleet-Event"), "delivery": self.headers.get("X-Pvfleet-Delivery"),
                    "content_type": self.headers.get("Content-Type"), "user_agent": self.headers.get("User-Agent"),
                    "body": body.decode()}) + "\n")
        if self.path == "/hang":
            time.sleep(5)
        status, payload, extra = 200, b"thanks", {}
        if self.path == "/flaky" and n == 1:
            status, payload = 500, b"not yet"
        elif self.path == "/gone":
            status, payload = 410, b"gone for good"
        elif self.path == "/huge":
            payload = b"x" * (4 * 1024 * 1024)
        elif self.path == "/redirect":
            status, extra = 302, {"Location": "http://169.254.169.254/latest/meta-data/"}
        try:
            self.send_response(status)
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print("listening on", server.server_address[1], flush=True)
server.serve_forever()
