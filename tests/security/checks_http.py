"""HTTP transport attacks on the server and the gateway page: path traversal, request smuggling basics, size
and nesting limits, content types, slow headers and connection floods."""

import socket
import threading
import time
import urllib.parse

from hostile import NoResponse, build_request
from stack import SERVER_NOFILE, cpu_seconds, rss_kb

ALLOWED_REFUSALS = (400, 404, 414, 431)


def chunks_of(content, size=48):
    """A few distinctive pieces of a file: if any comes back in a body, the file leaked."""
    content = content.strip()
    if len(content) <= size:
        return [content] if content else []
    mid = len(content) // 2
    return [content[:size], content[mid:mid + size], content[-size:]]


def leaked(body, secrets):
    for label, content in secrets:
        for piece in chunks_of(content):
            if piece in body:
                return label
    return None


def traversal_outcome(resp, index_page, secrets):
    """None when the answer is a refusal or the SPA page; otherwise what is wrong."""
    hit = leaked(resp.body, secrets)
    if hit:
        return "leaked %s (%r)" % (hit, resp)
    if resp.status in ALLOWED_REFUSALS:
        return None
    if resp.status == 200 and resp.body == index_page and resp.headers.get("content-type", "").startswith(
            "text/html"):
        return None
    return "expected 404/400/414 or the SPA index.html as text/html, got %r" % (resp,)


def check_traversal(ctx):
    c, s = ctx.checks, ctx.stack
    with open("/etc/passwd", "rb") as f:
        passwd = f.read()
    with open(s.data + "/secret.key", "rb") as f:
        key = f.read()
    with open(ctx.source_dir + "/server/web/dev/mock-server.mjs", "rb") as f:
        mock = f.read()
    data_enc = urllib.parse.quote(s.data.lstrip("/"), safe="/")
    web_depth = len((ctx.source_dir + "/server/web/js").strip("/").split("/"))
    p_passwd = ("/etc/passwd", passwd)
    p_key = ("the server's secret.key", key)
    p_db = ("the server's SQLite database", b"SQLite format 3\x00")
    p_env = ("/proc/self/environ", ctx.marker.encode())
    p_mock = ("server/web/dev/mock-server.mjs", mock)
    index_page = ctx.server.request("GET", "/").body
    cases = [
        ("//etc/passwd", [p_passwd]),
        ("/%2fetc/passwd", [p_passwd]),
        ("/%2Fetc%2Fpasswd", [p_passwd]),
        ("/%2F" + data_enc + "/secret.key", [p_key]),
        ("//" + data_enc + "/secret.key", [p_key]),
        ("//" + data_enc + "/server.db", [p_db]),
        ("/%2f" + data_enc + "/server.db-wal", [p_db]),
        ("/./dev/mock-server.mjs", [p_mock]),
        ("/dev/mock-server.mjs", [p_mock]),
        ("/dev/./mock-server.mjs", [p_mock]),
        ("/js/../dev/mock-server.mjs", [p_mock]),
        ("/%64ev/mock-server.mjs", [p_mock]),
        ("/index.html%00.png", []),
        ("/..%2f..%2fetc/passwd", [p_passwd]),
        ("/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", [p_passwd]),
        ("/..\\..\\..\\..\\..\\..\\..\\..\\etc\\passwd", [p_passwd]),
        ("/%5c..%5c..%5c..%5c..%5c..%5c..%5c..%5cetc%5cpasswd", [p_passwd]),
        ("/js/../../secret.key", [p_key]),
        ("/js/" + "../" * web_depth + data_enc + "/secret.key", [p_key]),
        ("/js/" + "%2e%2e%2f" * web_depth + data_enc + "/secret.key", [p_key]),
        ("//proc/self/environ", [p_env]),
        ("/%2fproc/self/environ", [p_env]),
        ("/%2Fproc%2Fself%2Fenviron", [p_env]),
        ("///proc//self//environ", [p_env]),
        ("/api/..%2f..%2fetc/passwd", [p_passwd]),
        ("http://pvfleet.test//etc/passwd", [p_passwd]),
        ("//" + "./" * 4100 + "etc/passwd", [p_passwd]),
        ("/" + "a" * 8300, []),
    ]
    for target, secrets in cases:
        shown = target if len(target) < 90 else target[:40] + "…(%d bytes)" % len(target)
        try:
            resp = ctx.server.request("GET", target)
            problem = traversal_outcome(resp, index_page, secrets)
        except NoResponse as e:
            problem = None if str(e) == "connection closed" else "no answer: %s" % e
        c.check("traversal server GET %s" % shown, problem is None, problem or "refused or SPA page")

    gw_index = ctx.gateway.request("GET", "/").body
    gw_cases = [
        ("//etc/passwd", [p_passwd]),
        ("/local//etc/passwd", [p_passwd]),
        ("/local/%2fetc/passwd", [p_passwd]),
        ("/local/../../../../../../etc/passwd", [p_passwd]),
        ("/local/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", [p_passwd]),
        ("/local/..\\..\\..\\..\\etc\\passwd", [p_passwd]),
        ("/local/app.js%00.png", []),
        ("//proc/self/environ", [p_env]),
        ("/local/" + "./" * 4100 + "app.js", []),
    ]
    for target, secrets in gw_cases:
        shown = target if len(target) < 90 else target[:40] + "…(%d bytes)" % len(target)
        try:
            resp = ctx.gateway.request("GET", target)
            problem = traversal_outcome(resp, gw_index, secrets)
        except NoResponse as e:
            problem = None if str(e) == "connection closed" else "no answer: %s" % e
        c.check("traversal gateway GET %s" % shown, problem is None, problem or "refused")


# ---- request smuggling basics ----

def _expect_400_and_close(ep, raw, name, checks):
    conn = ep.conn(timeout=10)
    try:
        conn.send(raw)
        try:
            resp = conn.read_response("POST", timeout=10, what=name)
        except NoResponse as e:
            checks.check("%s %s → 400 and close" % (ep.label, name), False, "no response: %s" % e)
            return
        closed = conn.closed_within(3)
        extra = conn.buf[:60]
        ok = resp.status == 400 and closed and not extra
        checks.check("%s %s → 400 and close" % (ep.label, name), ok,
                     "status %s, closed %s%s" % (resp.status, closed, ", then %r" % extra if extra else ""))
    finally:
        conn.close()


def check_smuggling(ctx):
    c = ctx.checks
    for ep, post, get, pipeline in (
            (ctx.server, "/api/login", "/api/health",
             [("/api/health", 200, b'"status"'), ("/api/openapi.json", 200, b'"openapi"'),
              ("/no-such-file.png", 404, b"")]),
            (ctx.gateway, "/local/api/login", "/local/app.css",
             [("/local/app.css", 200, b""), ("/local/api/state", 401, b""), ("/no-such-file.png", 404, b"")])):
        smuggled = b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % get.encode()
        _expect_400_and_close(
            ep, b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % post.encode() + smuggled,
            "Content-Length + Transfer-Encoding: chunked", c)
        _expect_400_and_close(
            ep, b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                b"Content-Length: 41\r\n\r\n{}" % post.encode() + smuggled,
            "two different Content-Length", c)
        _expect_400_and_close(
            ep, b"GET %s HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n" % get.encode(), "obs-fold header", c)
        _expect_400_and_close(ep, b"GET %s HTTP/1.1\nHost: x\n\n" % get.encode(), "bare LF line ends", c)
        conn = ep.conn(timeout=10)
        try:
            conn.send(b"".join(build_request("GET", t) for t, _, _ in pipeline))
            got = []
            for target, status, marker in pipeline:
                r = conn.read_response("GET", timeout=10, what="pipelined " + target)
                got.append((target, r.status, marker in r.body))
            ok = all(st == want and has for (_, st, has), (_, want, _) in zip(got, pipeline))
            c.check("%s pipelined requests answered in order" % ep.label, ok, repr(got))
        except NoResponse as e:
            c.check("%s pipelined requests answered in order" % ep.label, False, "no response: %s" % e)
        finally:
            conn.close()
    # Size limits of the request head (agreed: target > 8 kB → 414, headers > 16 kB → 431).
    for ep, path in ((ctx.server, "/api/health"), (ctx.gateway, "/local/app.css")):
        long_target = path + "?x=" + "a" * 9000
        r = _status_or_none(ep, "GET", long_target)
        c.check("%s request target of 9 kB → 414" % ep.label, r == 414, "got %s" % r)
        headers = {"X-Filler-%d" % i: "b" * 1000 for i in range(20)}
        r = _status_or_none(ep, "GET", path, headers)
        c.check("%s 20 kB of headers → 431" % ep.label, r == 431, "got %s" % r)
    health_ok(ctx, "after the smuggling attempts")


def _status_or_none(ep, method, target, headers=None):
    try:
        return ep.request(method, target, headers).status
    except NoResponse as e:
        return "no response (%s)" % e


def health_ok(ctx, when):
    try:
        r = ctx.server.request("GET", "/api/health", timeout=20)
        ok = r.status == 200
        detail = repr(r)
    except (NoResponse, OSError) as e:
        ok, detail = False, str(e)
    return ctx.checks.check("server answers /api/health %s" % when, ok, detail)


# ---- bodies ----

def nested(depth, inner="1"):
    return "[" * depth + inner + "]" * depth


def check_bodies(ctx):
    c, srv = ctx.checks, ctx.server
    office = ctx.tokens["back_office"]
    wo_a = ctx.ids["wo_a"]
    # 2 MB body: the limit is enforced from Content-Length, before the body is read.
    conn = srv.conn(timeout=20)
    try:
        conn.send(build_request("POST", "/api/customers", {"Content-Type": "application/json",
                                                           "Authorization": "Bearer " + office,
                                                           "Content-Length": str(2 * 1024 * 1024)}))
        try:
            resp = conn.read_response("POST", timeout=3, what="2 MB body")
        except NoResponse:
            try:
                conn.send(b"{" + b" " * (2 * 1024 * 1024 - 2) + b"}")
            except OSError:
                pass
            resp = conn.read_response("POST", timeout=15, what="2 MB body")
        c.check("server 2 MB body → 413", resp.status == 413, repr(resp))
    except (NoResponse, OSError) as e:
        c.check("server 2 MB body → 413", False, "no response: %s" % e)
    finally:
        conn.close()
    health_ok(ctx, "after a 2 MB body")
    try:
        r = ctx.gateway.request("POST", "/local/api/login", {"Content-Type": "application/json"},
                                b'{"password":"' + b"x" * 300000 + b'"}')
        c.check("gateway 300 kB body → 413", r.status == 413, repr(r))
    except NoResponse as e:
        c.check("gateway 300 kB body → 413", False, "no response: %s" % e)

    for name, target, token, body in (
            ("POST /api/login", "/api/login", None, b'{"user":"\xff\xfe\xc3(","password":"x"}'),
            ("POST /api/customers", "/api/customers", office, b'{"name":"bad \xed\xa0\x80 utf8"}'),
            ("PATCH /api/work-orders/{id}", "/api/work-orders/%s" % wo_a, office, b'{"reason":"\xc0\xaf"}')):
        r = srv.request(name.split()[0], target, {"Content-Type": "application/json", "If-Match": '"v1"'}, body,
                        token=token)
        c.check("invalid UTF-8 in a JSON string of %s → 400" % name, r.status == 400, repr(r))
    health_ok(ctx, "after invalid UTF-8 bodies")

    # Deep nesting last: today's server overflows its stack copying a deep value (a crash ends the group).
    notes_before = _notes_count(ctx, wo_a)
    deep = nested(10000)
    cases = [
        ("10 000", "POST /api/login", "/api/login", None, '{"user":%s,"password":"x"}' % deep),
        ("10 000", "POST /api/customers", "/api/customers", office, '{"name":%s}' % deep),
        ("70", "POST /api/work-orders/{id}/notes", "/api/work-orders/%s/notes" % wo_a, office,
         '{"text":"deep","parts":[{"part":"p","device_id":%s}]}' % nested(70)),
        ("10 000", "POST /api/work-orders/{id}/notes", "/api/work-orders/%s/notes" % wo_a, office,
         '{"text":"deep","parts":[{"part":"p","device_id":%s}]}' % deep),
    ]
    for depth, name, target, token, body in cases:
        what = "JSON nested %s deep in %s → 400" % (depth, name)
        try:
            r = srv.request("POST", target, {"Content-Type": "application/json"}, body.encode(), token=token)
        except NoResponse as e:
            c.check(what, False, "no answer: %s" % e)
            return
        c.check(what, r.status == 400, repr(r))
        if not health_ok(ctx, "after a body nested %s deep" % depth):
            return
    c.check("deeply nested notes stored nothing", _notes_count(ctx, wo_a) == notes_before,
            "notes %s → %s" % (notes_before, _notes_count(ctx, wo_a)))


def _notes_count(ctx, wo):
    r = ctx.server.request("GET", "/api/work-orders/%s" % wo, token=ctx.tokens["back_office"])
    j = r.json() or {}
    return len(j.get("notes", []))


# ---- slow headers (run in the background while the other checks go on) ----

class SlowHeader(threading.Thread):
    """Sends a partial request head and then either nothing or a byte every 2 s; records when the peer
    closes."""

    def __init__(self, ctx, ep, trickle):
        super().__init__(daemon=True)
        self.ctx = ctx
        self.crashes_before = len(ctx.crashes)
        self.ep = ep
        self.trickle = trickle
        self.closed_after = None
        self.error = None

    def run(self):
        try:
            conn = self.ep.conn(timeout=30)
        except OSError as e:
            self.error = str(e)
            return
        t0 = time.monotonic()
        try:
            conn.send(b"GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: ")
            while time.monotonic() - t0 < 25:
                if conn.closed_within(2):
                    self.closed_after = time.monotonic() - t0
                    return
                if self.trickle:
                    try:
                        conn.send(b"a")
                    except OSError:
                        self.closed_after = time.monotonic() - t0
                        return
        finally:
            conn.close()

    def report(self, checks):
        self.join(timeout=30)
        what = "%s slow headers (%s) closed within 15 s" % (
            self.ep.label, "a byte every 2 s" if self.trickle else "partial head, then silence")
        if self.error:
            return checks.check(what, False, self.error)
        if self.ep.label == "server" and len(self.ctx.crashes) != self.crashes_before:
            return checks.check(what, False, "the server crashed meanwhile: no verdict")
        ok = self.closed_after is not None and self.closed_after <= 15
        checks.check(what, ok, "closed after %.1f s" % self.closed_after if self.closed_after
                     else "still open after 25 s")


def start_slow_headers(ctx):
    threads = [SlowHeader(ctx, ctx.server, False), SlowHeader(ctx, ctx.server, True),
               SlowHeader(ctx, ctx.gateway, False)]
    for t in threads:
        t.start()
    return threads


# ---- POST/PUT/PATCH/DELETE without application/json ----

def check_content_types(ctx, write_routes, fill, snapshot):
    """write_routes: [(method, pattern, roles)]; fill(pattern) → target; snapshot() → comparable state."""
    c = ctx.checks
    before = snapshot()
    variants = (("{} without Content-Type", {}, b"{}"),
                ("empty body without Content-Type", {}, b""),
                ("text/plain", {"Content-Type": "text/plain"}, b"{}"),
                ("form data", {"Content-Type": "application/x-www-form-urlencoded"}, b"a=b"))
    for method, pattern, roles in write_routes:
        role = "admin" if (not roles or "admin" in roles) else roles[0]
        token = ctx.tokens.get(role) if roles else None
        got = []
        for label, headers, body in variants:
            r = ctx.server.request(method, fill(pattern), headers, body, token=token)
            got.append((label, r.status))
            if r.status != 415 and token:
                ctx.relogin_if_needed(role)
                token = ctx.tokens.get(role)
        c.check("415 on %s %s without application/json" % (method, pattern),
                all(st == 415 for _, st in got), ", ".join("%s→%s" % g for g in got))
    after = snapshot()
    changed = {k: (before[k], after.get(k)) for k in before if before[k] != after.get(k)}
    c.check("415 requests changed nothing", not changed, "changed: %r" % changed if changed else repr(before))

    gw = ctx.gateway
    cookie = ctx.gateway_cookie
    gw_cases = (("POST /local/api/login text/plain", "/local/api/login", {"Content-Type": "text/plain"},
                 b'{"password":"x"}'),
                ("POST /local/api/logout, empty, no Content-Type", "/local/api/logout", {"Cookie": cookie}, b""),
                ("POST /local/api/tickets/x/acknowledge form data", "/local/api/tickets/x/acknowledge",
                 {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}, b"note=x"))
    for name, target, headers, body in gw_cases:
        r = gw.request("POST", target, headers, body)
        c.check("gateway 415 on %s" % name, r.status == 415, repr(r))
    r = gw.request("GET", "/local/api/state", {"Cookie": cookie})
    c.check("gateway session survives the refused requests", r.status == 200, repr(r))


# ---- connection floods ----

def check_server_flood(ctx, count=300):
    c, s = ctx.checks, ctx.stack
    pid = s.server_pid()
    log_before = len(s.log_text("server"))
    rss0 = rss_kb(pid)
    socks = []
    try:
        for _ in range(count):
            try:
                socks.append(socket.create_connection(ctx.server.addr, timeout=3))
            except OSError:
                break
        c.note("server flood: %d idle connections open (server descriptor limit %d)" % (
            len(socks), SERVER_NOFILE))
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(5)
        share = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
        c.check("server CPU stays low under a connection flood", share < 0.5, "%.0f %% of a core" % (share * 100))
        lines = [ln for ln in s.log_text("server")[log_before:].splitlines() if "accept" in ln]
        c.check("server's accept errors are rate-limited in its log", len(lines) < 50,
                "%d accept lines in 5 s%s" % (len(lines), (": " + lines[0][:160]) if lines else ""))
        # At the connection cap a fresh client is told so at once (503), never left hanging; idle connections
        # are closed after the 10-s header timeout, which frees their slots, and then it is served.
        t1 = time.monotonic()
        first, served = None, None
        while time.monotonic() - t1 < 25 and served is None:
            try:
                r = ctx.server.request("GET", "/api/health", timeout=5)
                if first is None:
                    first = (r.status, time.monotonic() - t1)
                if r.status == 200:
                    served = time.monotonic() - t1
                elif r.status != 503:
                    break
            except (NoResponse, OSError) as e:
                if first is None:
                    first = (str(e), time.monotonic() - t1)
            if served is None:
                time.sleep(0.5)
        c.check("a fresh client is answered at once during the flood (200, or 503 at the connection cap)",
                first is not None and first[0] in (200, 503) and first[1] < 5,
                "first answer %s after %.1f s" % first if first else "no answer in 25 s")
        c.check("a fresh client is served during the flood once idle connections time out",
                served is not None, "served after %.1f s" % served if served is not None else
                "not served in 25 s (first answer %s)" % (first,))
        growth = (rss_kb(pid) - rss0) / 1024
        c.check("server memory stays bounded under the flood", growth < 64, "RSS +%.1f MB" % growth)
    finally:
        for sk in socks:
            sk.close()
    t1 = time.monotonic()
    try:
        r = ctx.server.request("GET", "/api/health", timeout=10)
        ok, detail = r.status == 200, "after %.1f s" % (time.monotonic() - t1)
    except (NoResponse, OSError) as e:
        ok, detail = False, str(e)
    c.check("server answers once the flood is gone", ok, detail)


def check_gateway_cap(ctx, count=40, cap=32):
    c = ctx.checks
    conns = []
    try:
        for _ in range(count):
            conn = ctx.gateway.conn(timeout=5)
            conns.append(conn)
            try:
                conn.send(build_request("GET", "/local/app.css"))
            except OSError:
                pass
        served = 0
        deadline = time.monotonic() + 4
        for conn in conns:
            try:
                r = conn.read_response("GET", timeout=max(0.05, deadline - time.monotonic()), what="cap")
                served += r.status == 200
            except (NoResponse, OSError):
                pass
        c.check("gateway page serves at most %d connections at once" % cap, 0 < served <= cap,
                "%d of %d concurrent keep-alive connections served" % (served, count))
    finally:
        for conn in conns:
            conn.close()
    time.sleep(0.5)
    try:
        r = ctx.gateway.request("GET", "/", timeout=10)
        ok, detail = r.status == 200, repr(r)
    except (NoResponse, OSError) as e:
        ok, detail = False, str(e)
    c.check("gateway page answers once those connections are closed", ok, detail)
