#!/usr/bin/env python3
"""Attack suite: a hostile client against a real server, broker and gateway page over loopback.

    python3 tests/security/attack_test.py --bin-dir build/dev --source-dir . [--keep]

Starts mosquitto, pvfleet-server (SQLite, its personal-data key in a temporary data folder, a small descriptor
limit), one pvfleet-sim and one pvfleet-edge with its LAN page, seeds a user of every role, a customer, sites,
tickets and work orders (API and MQTT), then attacks: path traversal, the route × role table generated from
the OpenAPI document's x-roles, request smuggling basics, oversized / deeply nested / invalid UTF-8 bodies,
content types, slow headers, connection floods, login floods (memory before/after, per-address and
per-account limits, lockout across a restart), MQTT payload abuse, CSV formula injection, wrong-key start-up,
and the security headers of every response read. docs/security.md describes what each check stands for.

Prints one line per check and `N passed, N failed`; exits 1 when any check failed, 0 otherwise ("skipped: ..."
when mosquitto is missing). Every child process is stopped on the way out.
"""

import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checks_auth  # noqa: E402
import checks_data  # noqa: E402
import checks_http  # noqa: E402
from hostile import RECORDER, Checks, Endpoint, NoResponse, missing_security_headers  # noqa: E402
from stack import GATEWAY_PASSWORD, Stack, StackError, password_of  # noqa: E402

T0 = time.monotonic()


class Terminated(BaseException):
    pass


class Context:
    def __init__(self, stack, checks, source_dir, marker):
        self.stack = stack
        self.checks = checks
        self.source_dir = source_dir
        self.marker = marker
        self.server = None
        self.gateway = None
        self.tokens = {}  # role -> session token
        self.ids = {}
        self.mqtt = None
        self.gateway_cookie = ""
        self.crashes = []  # groups during which the server died

    def attach_server(self):
        self.server = Endpoint("127.0.0.1", self.stack.server_port, "server")

    def login_role(self, role):
        user = checks_auth.ROLE_USERS[role]
        r = checks_auth.login(self, user, password_of(user))
        if r.status != 200:
            raise StackError("login %s: %r %s" % (user, r, r.body[:200]))
        self.tokens[role] = r.json()["token"]

    def relogin_if_needed(self, role):
        if self.server.request("GET", "/api/me", token=self.tokens.get(role)).status != 200:
            self.login_role(role)

    def commands_heard(self):
        return self.mqtt.commands()


def seed(ctx):
    """A customer, sites sec-a / sec-b (linked) and sec-c (unassigned), a ticket and work order on each; the
    work order of sec-a is assigned to sec-tech, that of sec-b to sec-tech2."""
    srv, office = ctx.server, ctx.tokens["back_office"]
    r = srv.json_request("POST", "/api/customers", {"name": "Security Test Customer"}, token=office)
    if r.status != 201:
        raise StackError("POST /api/customers: %r %s" % (r, r.body[:200]))
    ctx.ids["customer"] = r.json()["id"]
    for site in ("sec-a", "sec-b"):
        r = srv.json_request("PUT", "/api/sites/" + site, {"customer_id": ctx.ids["customer"], "name": site},
                             token=office)
        if r.status not in (200, 201):
            raise StackError("PUT /api/sites/%s: %r %s" % (site, r, r.body[:200]))
    mq = ctx.mqtt
    for site, ticket in (("sec-a", "T-A-1"), ("sec-b", "T-B-1"), ("sec-c", "T-C-1")):
        mq.publish(site, "telemetry", checks_data.telemetry(site, 1, 3))
        mq.publish(site, "tickets", checks_data.ticket_event(site, 2, ticket))
    for site, tech in (("sec-a", "sec-tech"), ("sec-b", "sec-tech2"), ("sec-c", None)):
        items = []

        def found():
            items[:] = srv.request("GET", "/api/work-orders?site_id=" + site, token=office).json().get("items", [])
            return bool(items)
        if not checks_data.wait_for(found, 30):
            raise StackError("no work order for %s's ticket after 30 s" % site)
        wo = items[0]["id"]
        ctx.ids["wo_" + site[-1]] = wo
        if tech:
            etag = srv.request("GET", "/api/work-orders/%s" % wo, token=office).headers.get("etag", "")
            r = srv.json_request("PATCH", "/api/work-orders/%s" % wo, {"assignee": tech}, token=office,
                                 headers={"If-Match": etag})
            if r.status != 200:
                raise StackError("assigning work order %s to %s: %r %s" % (wo, tech, r, r.body[:200]))
    # The device exists once telemetry arrived.
    checks_data.wait_for(lambda: "inv1" in str(srv.request("GET", "/api/sites/sec-a/devices", token=office).body),
                         15)


def gateway_login(ctx):
    r = ctx.gateway.json_request("POST", "/local/api/login", {"password": GATEWAY_PASSWORD})
    cookie = r.headers.get("set-cookie", "").split(";")[0]
    if r.status not in (200, 204) or not cookie:
        raise StackError("gateway login: %r" % r)
    ctx.gateway_cookie = cookie


def snapshot(ctx):
    """State the refused write requests must not change."""
    srv, office = ctx.server, ctx.tokens["back_office"]
    wo = srv.request("GET", "/api/work-orders/%s" % ctx.ids["wo_a"], token=office)
    out = {"work order ETag": wo.headers.get("etag"),
           "work order notes": len((wo.json() or {}).get("notes", [])),
           "customer ETag": srv.request("GET", "/api/customers/%s" % ctx.ids["customer"],
                                        token=office).headers.get("etag"),
           "site ETag": srv.request("GET", "/api/sites/sec-a", token=office).headers.get("etag"),
           "device": srv.request("GET", "/api/sites/sec-a/devices", token=office).body,
           "users": srv.request("GET", "/api/users", token=office).body,
           "customers": len(srv.request("GET", "/api/customers?limit=500", token=office).json()["items"])}
    for site in ("sec-a", "sec-b"):
        cmds = srv.request("GET", "/api/sites/%s/commands" % site, token=office).json()
        out["commands to " + site] = len(cmds.get("items", []))
    return out


def check_headers_everywhere(checks):
    for label in ("server", "gateway"):
        seen = [x for x in RECORDER.seen if x[0] == label]
        bad = [(what, status, missing_security_headers(h)) for _, what, status, h in seen
               if missing_security_headers(h)]
        example = "; ".join("%s → %s lacks %s" % (w[:60], st, ", ".join(m)) for w, st, m in bad[:3])
        checks.check("every %s response carries the security headers" % label, seen and not bad,
                     "%d of %d responses lack some: %s" % (len(bad), len(seen), example) if bad
                     else "%d responses" % len(seen))


def server_crash_summary(stack):
    text = stack.log_text("server")
    for line in text.splitlines():
        if "SUMMARY:" in line or "runtime error" in line:
            return line.strip()[:200]
    return "no sanitizer summary in its log"


def group(ctx, name, fn, *args, server_running=True):
    """Runs one group of checks; an exception fails the group, a dead server is noted and restarted so that
    the remaining groups still run."""
    c, s = ctx.checks, ctx.stack
    result = None
    try:
        result = fn(*args)
    except (StackError, Terminated):
        raise
    except Exception as e:  # a broken connection, an unexpected answer: the group stops here
        c.check("%s ran to the end" % name, False, "%s: %s" % (type(e).__name__, str(e)[:300]))
    proc = s.procs.get("server")
    if not server_running or proc is None or server_answers(ctx):
        return result
    try:
        proc.wait(timeout=30)  # a sanitizer report takes a while to write
        what = "exited with status %s: %s" % (proc.returncode, server_crash_summary(s))
    except subprocess.TimeoutExpired:
        what = "stopped answering /api/health (restarted)"
    ctx.crashes.append("%s: %s" % (name, what))
    c.check("server survives %s" % name, False, what)
    s.start_server()
    ctx.attach_server()
    for role in checks_auth.ROLE_USERS:
        ctx.login_role(role)
    return result


def server_answers(ctx):
    try:
        return ctx.server.request("GET", "/api/health", timeout=20).status == 200
    except (NoResponse, OSError):
        return False


def run(ctx, args):
    c, s = ctx.checks, ctx.stack
    s.start_broker()
    s.seed_users()
    s.start_server()
    ctx.attach_server()
    s.start_gateway()
    ctx.gateway = Endpoint("127.0.0.1", s.gateway_port, "gateway")
    ctx.mqtt = checks_data.Mqtt(s)
    for role in checks_auth.ROLE_USERS:
        ctx.login_role(role)
    seed(ctx)
    gateway_login(ctx)
    c.note("stack up: server :%d, gateway page :%d, broker :%d, work folder %s" % (
        s.server_port, s.gateway_port, s.mqtt_port, s.work))

    group(ctx, "path traversal", checks_http.check_traversal, ctx)
    routes = checks_auth.routes_from_openapi(ctx)
    group(ctx, "the route × role table", checks_auth.check_role_table, ctx, routes)
    group(ctx, "the manager checks", checks_auth.check_manager_read_only, ctx, routes)
    group(ctx, "the ticket ownership checks", checks_auth.check_ticket_ownership, ctx)
    group(ctx, "request smuggling", checks_http.check_smuggling, ctx)
    write_routes = [(m, p, roles) for m, p, roles in routes if m in checks_auth.WRITE_METHODS]
    write_routes.sort(key=lambda r: (r[0], r[1]) in checks_auth.SESSION_ROUTES)
    group(ctx, "the content-type checks", checks_http.check_content_types, ctx, write_routes,
          checks_auth.make_filler(ctx), lambda: snapshot(ctx))
    group(ctx, "oversized, deep and invalid bodies", checks_http.check_bodies, ctx)
    slow = checks_http.start_slow_headers(ctx)  # in the background, for the next ~25 s
    group(ctx, "CSV injection", checks_data.check_csv_injection, ctx)
    group(ctx, "MQTT payload abuse", checks_data.check_mqtt_abuse, ctx)
    for t in slow:
        t.report(c)
    group(ctx, "login name limits", checks_auth.check_login_name_limits, ctx)
    group(ctx, "the login flood", checks_auth.check_login_flood_memory, ctx, args.login_name_kb * 1024)
    group(ctx, "concurrent logins", checks_auth.check_login_cpu_isolation, ctx)
    locked = group(ctx, "login rate limits", checks_auth.check_login_rate_limits, ctx)
    group(ctx, "X-Forwarded-For from the trusted proxy only", checks_auth.check_forwarded_for, ctx)
    group(ctx, "the gateway connection cap", checks_http.check_gateway_cap, ctx)
    group(ctx, "the connection flood", checks_http.check_server_flood, ctx)

    s.stop("server")
    group(ctx, "wrong-key start-up", checks_data.check_key_start_up, ctx, server_running=False)
    s.start_server()
    ctx.attach_server()
    if locked:
        group(ctx, "the lockout after a restart", checks_auth.check_lockout_after_restart, ctx)
    else:
        c.check("per-account lockout holds after a server restart", False, "no lockout to begin with")
    checks_http.health_ok(ctx, "at the end")
    check_headers_everywhere(c)
    c.check("the server never crashed during the attacks", not ctx.crashes, "; ".join(ctx.crashes))
    dead = [n for n, p in s.procs.items() if p.poll() is not None and n != "mosquitto_sub"]
    c.check("no other component exited during the attacks", not dead, "exited: %s" % dead)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--source-dir", default=".")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--login-name-kb", type=int, default=256,
                    help="size of the user names of the login flood (200 logins; 1024 for the issue's 1 MB names, "
                         "slow under a sanitizer build)")
    args = ap.parse_args()
    for tool in ("mosquitto", "mosquitto_pub", "mosquitto_sub"):
        if not shutil.which(tool):
            print("skipped: %s not found" % tool)
            return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))

    def on_signal(signum, _frame):
        raise Terminated("signal %d" % signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    work = tempfile.mkdtemp(prefix="pvfleet-security.")
    marker = "pvfleet-marker-" + os.urandom(8).hex()
    stack = Stack(os.path.abspath(args.bin_dir), os.path.abspath(args.source_dir), work, marker)
    checks = Checks(T0)
    ctx = Context(stack, checks, os.path.abspath(args.source_dir), marker)
    error = None
    try:
        run(ctx, args)
    except StackError as e:
        error = str(e)
    except Terminated as e:
        error = "terminated by " + str(e)
    except Exception:
        error = traceback.format_exc()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        stack.stop_all()
    failed = checks.failed()
    if error:
        print("stopped at: " + error)
    if error or failed:
        print(stack.tail())
        print("work folder kept: " + work)
    elif not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed%s (%.0f s)" % (checks.passed(), len(failed) + (1 if error else 0),
                                               " (run stopped early)" if error else "", time.monotonic() - T0))
    return 1 if error or failed else 0


if __name__ == "__main__":
    sys.exit(main())
