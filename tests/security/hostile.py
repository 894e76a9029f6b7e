"""A hostile HTTP/1.1 client over raw sockets, and the check book of the attack suite.

Raw sockets because the attacks need bytes no polite client sends: encoded and doubled slashes, bare LF,
folded headers, conflicting framing headers, pipelining, half-sent headers. Every response read is recorded
(which server answered, the status and the headers) so the suite can check the security headers on all of them.
"""

import json
import socket
import time

SECURITY_HEADER_RULES = (
    ("content-security-policy", lambda v: "frame-ancestors 'none'" in v, "Content-Security-Policy with "
                                                                          "frame-ancestors 'none'"),
    ("x-frame-options", lambda v: v.strip().upper() == "DENY", "X-Frame-Options: DENY"),
    ("referrer-policy", lambda v: v.strip().lower() == "no-referrer", "Referrer-Policy: no-referrer"),
    ("x-content-type-options", lambda v: v.strip().lower() == "nosniff", "X-Content-Type-Options: nosniff"),
)


def missing_security_headers(headers):
    """Names of the agreed security headers a response lacks (or has with another value)."""
    return [label for name, ok, label in SECURITY_HEADER_RULES if not ok(headers.get(name, ""))]


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-cased name -> value (repeated names joined with ", ")
        self.body = body

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None

    def field(self):
        j = self.json()
        return j.get("field") if isinstance(j, dict) else None

    def __repr__(self):
        return "%s %s (%d bytes)" % (self.status, self.headers.get("content-type", ""), len(self.body))


class NoResponse(Exception):
    """The peer closed or timed out before a complete response."""


class Recorder:
    """Every response read, per server label ("server", "gateway"): (label, what, status, headers)."""

    def __init__(self):
        self.seen = []

    def add(self, label, what, resp):
        self.seen.append((label, what, resp.status, resp.headers))


RECORDER = Recorder()


class Conn:
    """One TCP connection; reads responses off a buffer so pipelined answers come out in order."""

    def __init__(self, addr, label, src=None, timeout=10.0):
        self.label = label
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if src:
            self.sock.bind((src, 0))
        self.sock.settimeout(timeout)
        self.sock.connect(addr)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise NoResponse("timed out")
        except ConnectionResetError:
            raise NoResponse("connection reset")
        if not chunk:
            raise NoResponse("connection closed")
        self.buf += chunk

    def read_response(self, method="GET", timeout=10.0, what=""):
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if time.monotonic() > deadline:
                raise NoResponse("timed out")
            self._fill(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            headers[key] = (headers[key] + ", " if key in headers else "") + value.strip()
        body = b""
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            pass
        elif "content-length" in headers:
            n = int(headers["content-length"].split(",")[0])
            while len(self.buf) < n:
                self._fill(deadline)
            body, self.buf = self.buf[:n], self.buf[n:]
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked(deadline)
        else:
            try:
                while True:
                    self._fill(deadline)
            except NoResponse:
                pass
            body, self.buf = self.buf, b""
        resp = Response(status, reason, headers, body)
        RECORDER.add(self.label, what, resp)
        return resp

    def _read_chunked(self, deadline):
        body = b""
        while True:
            while b"\r\n" not in self.buf:
                self._fill(deadline)
            size_line, self.buf = self.buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(self.buf) < size + 2:
                self._fill(deadline)
            body += self.buf[:size]
            self.buf = self.buf[size + 2:]
            if size == 0:
                return body

    def closed_within(self, timeout):
        """True when the peer closes (EOF or reset) within `timeout` s; data arriving meanwhile is kept."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self._fill(deadline)
            except NoResponse as e:
                if str(e) != "timed out":
                    return True
        return False


def build_request(method, target, headers=None, body=b"", host="pvfleet.test"):
    if isinstance(body, str):
        body = body.encode("utf-8")
    lines = ["%s %s HTTP/1.1" % (method, target), "Host: %s" % host]
    names = {k.lower() for k in (headers or {})}
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    if body and "content-length" not in names and "transfer-encoding" not in names:
        lines.append("Content-Length: %d" % len(body))
    elif not body and method in ("POST", "PUT", "PATCH", "DELETE") and "content-length" not in names:
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Endpoint:
    """A server under attack: its address and its label in the recorder."""

    def __init__(self, host, port, label):
        self.addr = (host, port)
        self.label = label

    def conn(self, src=None, timeout=10.0):
        return Conn(self.addr, self.label, src=src, timeout=timeout)

    def request(self, method, target, headers=None, body=b"", src=None, timeout=15.0, token=None):
        """One request on its own connection (Connection: close)."""
        h = dict(headers or {})
        h.setdefault("Connection", "close")
        if token:
            h["Authorization"] = "Bearer " + token
        c = self.conn(src=src, timeout=timeout)
        try:
            c.send(build_request(method, target, h, body))
            return c.read_response(method, timeout=timeout, what="%s %s" % (method, target[:80]))
        finally:
            c.close()

    def json_request(self, method, target, obj=None, token=None, headers=None, src=None, timeout=15.0):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        body = json.dumps(obj).encode("utf-8") if obj is not None else b""
        return self.request(method, target, h, body, src=src, timeout=timeout, token=token)


class Checks:
    """One line per check; `N passed, N failed` at the end."""

    def __init__(self, t0):
        self.t0 = t0
        self.results = []  # (name, ok, detail)

    def _line(self, word, name, detail):
        print("[%6.1f s] %s %s%s" % (time.monotonic() - self.t0, word, name, (": " + detail) if detail else ""),
              flush=True)

    def check(self, name, ok, detail=""):
        self.results.append((name, bool(ok), detail))
        self._line("PASS" if ok else "FAIL", name, detail)
        return bool(ok)

    def note(self, text):
        self._line("NOTE", text, "")

    def passed(self):
        return sum(1 for r in self.results if r[1])

    def failed(self):
        return [r for r in self.results if not r[1]]
