"""Authentication and roles: the route × role table generated from the OpenAPI document's x-roles, the
read-only manager, technicians' ticket commands on sites that are not theirs, and login floods."""

import json
import threading
import time

from hostile import NoResponse
from stack import password_of, rss_kb

ROLE_USERS = {"admin": "sec-admin", "back_office": "sec-office", "technician": "sec-tech",
              "manager": "sec-manager"}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Ending one's own session changes nothing but that session; every role may.
SESSION_ROUTES = {("POST", "/api/logout")}


def login(ctx, user, password, src=None):
    return ctx.server.json_request("POST", "/api/login", {"user": user, "password": password}, src=src)


def routes_from_openapi(ctx):
    """[(method, pattern, roles or None for public routes)] from GET /api/openapi.json."""
    doc = ctx.server.request("GET", "/api/openapi.json").json()
    out = []
    for pattern, ops in sorted(doc["paths"].items()):
        for method, op in sorted(ops.items()):
            out.append((method.upper(), pattern, op.get("x-roles")))
    return out


def make_filler(ctx):
    def fill(pattern):
        values = {"site_id": "sec-a", "device_id": "inv1", "ticket_id": "T-A-1"}
        values["id"] = str(ctx.ids["customer"] if pattern.startswith("/api/customers/") else ctx.ids["wo_a"])
        out = pattern
        while "{" in out:
            a = out.index("{")
            b = out.index("}", a)
            out = out[:a] + values.get(out[a + 1:b], "1") + out[b + 1:]
        return out
    return fill


def call(ctx, method, target, token):
    if method in WRITE_METHODS:
        return ctx.server.json_request(method, target, {}, token=token)
    return ctx.server.request(method, target, token=token)


def check_role_table(ctx, routes):
    """Every (route, method) × (no session, each role) from x-roles: 401 / 403 / allowed."""
    c = ctx.checks
    fill = make_filler(ctx)
    protected = [r for r in routes if r[2]]
    c.note("route × role table: %d protected routes from /api/openapi.json x-roles, %d public" % (
        len(protected), len(routes) - len(protected)))
    # Session-ending routes last: they end the session they are called with.
    protected.sort(key=lambda r: (r[0], r[1]) in SESSION_ROUTES)
    for method, pattern, roles in protected:
        target = fill(pattern)
        cells, wrong = [], []
        r = call(ctx, method, target, None)
        cells.append("none→%d" % r.status)
        if r.status != 401:
            wrong.append("no session: %d, expected 401" % r.status)
        for role in ROLE_USERS:
            r = call(ctx, method, target, ctx.tokens[role])
            cells.append("%s→%d" % (role, r.status))
            if role in roles:
                if r.status in (401, 403) or r.status >= 500:
                    wrong.append("%s is declared but got %d %s" % (role, r.status, (r.json() or {}).get("detail", "")))
            elif r.status != 403:
                wrong.append("%s is not declared but got %d" % (role, r.status))
        c.check("auth %s %s [%s]" % (method, pattern, ", ".join(cells)), not wrong, "; ".join(wrong))
    for role in ROLE_USERS:
        ctx.relogin_if_needed(role)
    for method, pattern, roles in routes:
        if pattern in ("/api/enroll", "/api/renew"):
            # Public, but an empty body is no enrollment or renewal: refused on its merits (400, or 503 without a
            # CA), never for want of a session.
            r = call(ctx, method, fill(pattern), None)
            c.check("public %s %s answers without a session" % (method, pattern), r.status in (400, 503), repr(r))
        elif pattern in ("/api/releases/{sha256}/download", "/api/log-bundles/{id}/upload"):
            # A gateway's download or upload link carries its own expiring token: without one, 404 like an unknown
            # release or bundle.
            r = call(ctx, method, fill(pattern), None)
            c.check("public %s %s without a valid link → 404" % (method, pattern), r.status == 404, repr(r))
        elif not roles and pattern != "/api/login" and not pattern.startswith("/api/public/"):
            r = call(ctx, method, fill(pattern), None)
            c.check("public %s %s answers without a session" % (method, pattern), r.status == 200, repr(r))
        elif pattern.startswith("/api/public/"):
            # CRM capture routes: no session, but a channel key; without one, 401 (and the refusal audited).
            r = call(ctx, method, fill(pattern), None)
            c.check("public %s %s without a channel key → 401" % (method, pattern), r.status == 401, repr(r))


def check_manager_read_only(ctx, routes):
    c = ctx.checks
    # The session's own state (logging out, reading one's inbox, one's own notification settings) is every role's
    # to change.
    declared = ["%s %s" % (m, p) for m, p, roles in routes
                if m in WRITE_METHODS and roles and "manager" in roles and (m, p) not in SESSION_ROUTES
                and not p.startswith("/api/inbox") and not p.startswith("/api/me/")]
    c.check("manager is declared on no write route", not declared, "declared on: " + ", ".join(declared))
    wo = ctx.ids["wo_a"]
    before = ctx.server.request("GET", "/api/work-orders/%s" % wo, token=ctx.tokens["back_office"])
    etag = before.headers.get("etag", "")
    state = (before.json() or {}).get("state")
    history = len((before.json() or {}).get("history", []))
    for body in ({}, {"reason": "manager was here"}, {"state": state}):
        current = ctx.server.request("GET", "/api/work-orders/%s" % wo, token=ctx.tokens["manager"])
        r = ctx.server.json_request("PATCH", "/api/work-orders/%s" % wo, body, token=ctx.tokens["manager"],
                                    headers={"If-Match": current.headers.get("etag", "")})
        c.check("manager PATCH /api/work-orders/{id} %s → 403" % json.dumps(body), r.status == 403, repr(r))
    after = ctx.server.request("GET", "/api/work-orders/%s" % wo, token=ctx.tokens["back_office"])
    c.check("manager's attempts left the work order unchanged",
            after.headers.get("etag") == etag and len((after.json() or {}).get("history", [])) == history,
            "ETag %s → %s, history %d → %d" % (etag, after.headers.get("etag"), history,
                                               len((after.json() or {}).get("history", []))))


def check_ticket_ownership(ctx):
    c = ctx.checks
    tech = ctx.tokens["technician"]
    for site, ticket, why in (("sec-b", "T-B-1", "another technician's site"),
                              ("sec-c", "T-C-1", "an unassigned site")):
        for action in ("acknowledge", "resolve"):
            r = ctx.server.json_request("POST", "/api/sites/%s/tickets/%s/%s" % (site, ticket, action),
                                        {"note": "not mine"}, token=tech)
            c.check("technician %s a ticket on %s → 403" % (action, why), r.status == 403, repr(r))
        time.sleep(1.5)  # a command would be on the broker by now
        cmds = ctx.server.request("GET", "/api/sites/%s/commands" % site, token=ctx.tokens["back_office"]).json()
        by_tech = [i for i in (cmds or {}).get("items", []) if i.get("issued_by") == "sec-tech"]
        heard = [m for m in ctx.commands_heard() if m[0] == site and m[1].get("command") in (
            "ack_ticket", "resolve_ticket")]
        c.check("no command reached %s's gateway for the technician" % why, not by_tech and not heard,
                "commands recorded %d, published %d" % (len(by_tech), len(heard)))
    # A technician reads nothing of a site without a work order of theirs (household address, coordinates,
    # serials): 404, as for a site that does not exist.
    reads = [(p, ctx.server.request("GET", "/api/sites/sec-b" + p, token=tech).status)
             for p in ("", "/devices", "/status", "/telemetry")]
    c.check("technician reads of another technician's site → 404", all(st == 404 for _, st in reads),
            ", ".join("%s→%d" % (p or "/", st) for p, st in reads))
    r = ctx.server.json_request("POST", "/api/sites/sec-a/tickets/T-A-1/acknowledge", {"note": "on my way"},
                                token=tech)
    c.check("technician acknowledges a ticket on the site of their open work order → 202", r.status == 202,
            repr(r))


# ---- login floods ----

def check_login_name_limits(ctx):
    c = ctx.checks
    r = login(ctx, "n" * 129, "x", src="127.0.0.40")
    c.check("login with a 129-byte user name → 400 field user", r.status == 400 and r.field() == "user", repr(r))
    r = login(ctx, "n" * 128, "x", src="127.0.0.40")
    c.check("login with a 128-byte unknown user name → 401", r.status == 401, repr(r))


def check_login_flood_memory(ctx, name_bytes, count=200, budget_s=60):
    """Failed logins with long, all different user names from one address: refused before any hashing or
    limiter entry, so the server's memory stays where it was."""
    c, pid = ctx.checks, ctx.stack.server_pid()
    rss0 = rss_kb(pid)
    statuses = {}
    fields = set()
    t0 = time.monotonic()
    sent = 0
    size = "%d kB" % (name_bytes // 1024) if name_bytes < 1 << 20 else "%d MB" % (name_bytes >> 20)
    for i in range(count):
        if time.monotonic() - t0 > budget_s:
            break
        body = json.dumps({"user": ("%06d" % i) + "u" * (name_bytes - 6), "password": "x"}).encode()
        try:
            r = ctx.server.request("POST", "/api/login", {"Content-Type": "application/json"}, body,
                                   src="127.0.0.50", timeout=30)
            statuses[r.status] = statuses.get(r.status, 0) + 1
            fields.add(r.field())
        except (NoResponse, OSError) as e:
            statuses[str(e)] = statuses.get(str(e), 0) + 1
        sent += 1
    time.sleep(1)
    growth = (rss_kb(pid) - rss0) / 1024
    c.check("%d logins with %s user names → 400 each" % (count, size),
            sent == count and statuses == {400: count} and fields == {"user"},
            "%d sent in %.0f s, statuses %r, fields %r" % (sent, time.monotonic() - t0, statuses, fields))
    c.check("server memory after %d logins with %s names grows < 20 MB" % (count, size),
            sent == count and growth < 20,
            "RSS %+.1f MB after %d requests" % (growth, sent))


def _until_429(ctx, attempts):
    """Runs attempt(i) → Response until a 429; returns (tries, response or None)."""
    for i, attempt in enumerate(attempts):
        r = attempt(i)
        if r.status == 429:
            return i + 1, r
    return len(attempts), None


def check_login_rate_limits(ctx, max_tries=30, max_tries_per_address=60):
    c = ctx.checks
    tries, r = _until_429(ctx, [lambda i: login(ctx, "nobody-%d" % i, "wrong", src="127.0.0.60")]
                          * max_tries_per_address)
    c.check("failed logins limited per address (different user names from one address → 429 + Retry-After)",
            r is not None and r.headers.get("retry-after", "").isdigit(),
            "429 after %d attempts, Retry-After %s" % (tries, r.headers.get("retry-after")) if r
            else "no 429 in %d attempts" % tries)
    tries, r = _until_429(ctx, [lambda i: login(ctx, "sec-victim", "wrong", src="127.0.0.%d" % (100 + i))]
                          * max_tries)
    ok = r is not None and r.headers.get("retry-after", "").isdigit()
    c.check("failed logins limited per account across addresses (→ 429 + Retry-After)", ok,
            "429 after %d attempts from %d addresses, Retry-After %s" % (tries, tries, r.headers.get("retry-after"))
            if r else "no 429 in %d attempts from %d addresses" % (tries, tries))
    return ok


def check_forwarded_for(ctx, max_tries=60):
    """The server trusts X-Forwarded-For from 127.0.0.1 only (its configured reverse proxy)."""
    c = ctx.checks
    via_proxy = lambda client: {"X-Forwarded-For": "203.0.113.9, " + client}  # the left entry is the client's lie
    tries, r = _until_429(ctx, [lambda i: ctx.server.json_request(
        "POST", "/api/login", {"user": "xff-nobody-%d" % i, "password": "wrong"},
        headers=via_proxy("198.51.100.7"), src="127.0.0.1")] * max_tries)
    c.check("behind the trusted proxy, failed logins are limited per client address (X-Forwarded-For → 429)",
            r is not None, "429 after %d attempts" % tries if r else "no 429 in %d attempts" % tries)
    other = ctx.server.json_request("POST", "/api/login", {"user": "xff-other", "password": "wrong"},
                                    headers=via_proxy("198.51.100.8"), src="127.0.0.1")
    c.check("another client behind the same proxy is not locked out (401, not 429)", other.status == 401,
            repr(other))
    # From an address that is not a trusted proxy the header is ignored: a spoofed one does not reset the limit.
    tries, r = _until_429(ctx, [lambda i: ctx.server.json_request(
        "POST", "/api/login", {"user": "xff-spoof-%d" % i, "password": "wrong"},
        headers={"X-Forwarded-For": "198.51.100.%d" % (20 + i)}, src="127.0.0.70")] * max_tries)
    c.check("X-Forwarded-For from an untrusted peer is ignored (the peer's own limit → 429)", r is not None,
            "429 after %d attempts" % tries if r else "no 429 in %d attempts with spoofed headers" % tries)


def check_lockout_after_restart(ctx):
    r = login(ctx, "sec-victim", "wrong-again", src="127.0.0.201")
    ctx.checks.check("per-account lockout holds after a server restart (new address → 429)",
                     r.status == 429 and r.headers.get("retry-after", "").isdigit(), repr(r))


def check_login_cpu_isolation(ctx, clients=16, seconds=3.0):
    """Password hashing must not stall the API: /api/health latency while 16 clients send logins (each from
    its own addresses and names, so no limiter spares the hashing)."""
    stop = time.monotonic() + seconds
    counts = [0] * clients

    def flood(k):
        i = 0
        while time.monotonic() < stop:
            try:
                login(ctx, "flood-%d-%d" % (k, i), "wrong", src="127.1.%d.%d" % (k + 1, i % 250 + 1))
            except (NoResponse, OSError):
                pass
            counts[k] += 1
            i += 1

    threads = [threading.Thread(target=flood, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    lat = []
    while time.monotonic() < stop:
        t0 = time.monotonic()
        try:
            ctx.server.request("GET", "/api/health", timeout=10)
            lat.append(time.monotonic() - t0)
        except (NoResponse, OSError):
            lat.append(10.0)
        time.sleep(0.1)
    for t in threads:
        t.join(timeout=15)
    lat.sort()
    median = lat[len(lat) // 2] if lat else 10.0
    ctx.checks.check("/api/health stays fast while %d clients send logins (median < 0.3 s)" % clients,
                     median < 0.3, "median %.3f s, max %.3f s over %d probes; %d logins sent" % (
                         median, lat[-1] if lat else 0, len(lat), sum(counts)))
