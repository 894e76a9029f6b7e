#!/usr/bin/env python3
"""Browser test of the gateway updates view (docs/updates.md, docs/web-app.md "Updates").

mosquitto and pvfleet-server (with a `releases` section, the engine ticking every second, the web app of this
source tree); a tiny `pvfleet-edge` 0.2.0 package made with dpkg-deb, signed with scripts/sign-release and
uploaded; six sites of one customer whose fake gateways (mosquitto_sub / mosquitto_pub) report agent 0.1.0 and
answer each `update` command with the acks a real agent sends: upd-01 and upd-02 healthy, upd-03 rolled back,
upd-04 and upd-06 refuse the package, upd-05 stays installing. Then in headless Chromium:

- the back office (office) moves upd-06 to the candidate channel on the customer page and sees no actions on
  the updates pages;
- the admin starts a rollout through the form ([upd-01], then 100 %): a third stage of 50 % after 100 % is
  refused by the server and the error stands beside that stage; the detail page follows the sites by itself
  (auto-refresh) to healthy / rolled back (with the reason's journal lines) / failed / installing, upd-06 (candidate)
  left out; the state filter; pause (confirmed) and resume;
- a candidate rollout that pauses itself is listed first with its reason; leaving a running rollout's page stops
  its refresh; a manager reads without the releases; the detail in zh-CN; the form and the detail fit a phone;
- a server without a `releases` section says so on the updates page.

Prints "skipped: ..." and passes without chromium, mosquitto or dpkg-deb. `ctest -R updates_browser`.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from browser_test import run_browser_test  # noqa: E402
from cdp import CdpError  # noqa: E402
from pvfleet_stack import SERVER_LISTENING, StackError, wait_until  # noqa: E402

PASSWORDS = {"admin": "admin-updates-e2e-pw", "office": "office-updates-e2e-pw", "manager": "manager-updates-e2e-pw"}
SITES = ["upd-01", "upd-02", "upd-03", "upd-04", "upd-05", "upd-06"]
VERSION, OLD = "0.2.0", "0.1.0"
ROLLED_BACK = ("rolled_back: back on 0.1.0; the new agent did not report healthy within 180 s (no health.json)\n"
               "Jan 01 gw pvfleet-edge[812]: store: database disk image is malformed")
REFUSED = "package refused: signature: the signature is not made by a trusted release key (tried release-2025.pem)"
# What each site's fake gateway answers to its update command: (ack status, detail), in order.
ANSWERS = {
    "upd-01": "healthy", "upd-02": "healthy", "upd-03": "rolled_back", "upd-04": "refused", "upd-05": "installing",
    "upd-06": "refused",
}


def script(kind, size):
    downloading = ("accepted", "downloading %s (%d bytes)" % (VERSION, size))
    installing = ("accepted", "installing %s (was %s)" % (VERSION, OLD))
    return {"healthy": [downloading, installing, ("done", "healthy %s (was %s)" % (VERSION, OLD))],
            "rolled_back": [downloading, installing, ("failed", ROLLED_BACK)],
            "refused": [downloading, ("rejected", REFUSED)],
            "installing": [downloading, installing]}[kind]


def http(base, method, path, body=None, token=None, headers=None, raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def make_release(work):
    """pvfleet-edge 0.2.0 for arm64 built with dpkg-deb, signed with a new key; (deb path, keys dir)."""
    root = os.path.join(work, "pkg")
    os.makedirs(os.path.join(root, "DEBIAN"))
    os.makedirs(os.path.join(root, "usr", "share", "doc", "pvfleet-edge"))
    with open(os.path.join(root, "DEBIAN", "control"), "w") as f:
        f.write("Package: pvfleet-edge\nVersion: %s\nArchitecture: arm64\nMaintainer: pvfleet tests <t@example.org>\n"
                "Description: pvfleet gateway agent (browser test package)\n" % VERSION)
    with open(os.path.join(root, "usr", "share", "doc", "pvfleet-edge", "README"), "w") as f:
        f.write("test package\n" * 200)
    deb = os.path.join(work, "pvfleet-edge_%s_arm64.deb" % VERSION)
    run_checked(["dpkg-deb", "--build", "--root-owner-group", root, deb], work)
    signing = os.path.join(work, "signing")
    os.makedirs(signing)
    sign = os.path.join(SOURCE, "scripts", "sign-release")
    run_checked([sign, "--new-key", os.path.join(signing, "release-e2e")], work)
    run_checked([sign, deb, "--key", os.path.join(signing, "release-e2e.key")], work)
    keys = os.path.join(work, "release-keys")  # the server's trusted keys: the public half only
    os.makedirs(keys)
    shutil.copy(os.path.join(signing, "release-e2e.pem"), keys)
    return deb, keys


def run_checked(args, cwd, **kw):
    r = subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=60, **kw)
    if r.returncode != 0:
        raise StackError("%s: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r


class FakeGateways:
    """Answers update commands on the broker the way pvfleet-edge acks them (docs/protocol.md), per site."""

    def __init__(self, stack, port, release_size):
        self.port = port
        self.size = release_size
        self.seen = []  # (site, command_id) of the update commands received
        self.errors = []
        self.ready = threading.Event()
        self.sub = stack.start("gateways", [shutil.which("mosquitto_sub"), "-p", str(port), "-h", "127.0.0.1", "-q",
                                            "1", "-v", "-t", "pvfleet/v1/sites/+/commands", "-t", "pvfleet-e2e/ready"])
        self._log = stack.logs["gateways"]
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def publish(self, topic, payload, retain=False):
        args = [shutil.which("mosquitto_pub"), "-p", str(self.port), "-h", "127.0.0.1", "-q", "1", "-t", topic,
                "-m", json.dumps(payload) if not isinstance(payload, str) else payload]
        if retain:
            args.append("-r")
        subprocess.run(args, check=True, timeout=30, capture_output=True)

    def wait_ready(self):
        """Until the subscriber gets what is published (it subscribed before any command is sent)."""
        deadline = time.monotonic() + 20
        while not self.ready.is_set():
            if time.monotonic() > deadline:
                raise StackError("the fake gateways' subscriber never saw its own probe")
            self.publish("pvfleet-e2e/ready", "ping")
            self.ready.wait(0.5)

    def _follow(self):
        offset = 0
        while self.sub.poll() is None or offset < os.path.getsize(self._log):
            with open(self._log, encoding="utf-8", errors="replace") as f:
                f.seek(offset)
                chunk = f.read()
            complete = chunk[:chunk.rfind("\n") + 1]
            offset += len(complete.encode())
            for line in complete.splitlines():
                topic, _, payload = line.partition(" ")
                if topic == "pvfleet-e2e/ready":
                    self.ready.set()
                    continue
                try:
                    self._answer(json.loads(payload))
                except Exception as e:  # reported by the test, which then fails
                    self.errors.append("%s: %r" % (line[:200], e))
            time.sleep(0.1)

    def _answer(self, cmd):
        if cmd.get("command") != "update":
            return
        site = cmd["site_id"]
        self.seen.append((site, cmd["command_id"]))
        for status, detail in script(ANSWERS[site], self.size):
            time.sleep(0.2)
            self.publish("pvfleet/v1/sites/%s/acks" % site,
                         {"v": 1, "kind": "command_ack", "site_id": site, "command_id": cmd["command_id"],
                          "command": "update", "status": status, "at": int(time.time() * 1000), "detail": detail})


def login(browser, base, user):
    p = browser.new_page(new_context=True)
    p.goto(base + "/")
    p.wait_testid("login-user")
    p.fill("login-user", user)
    p.fill("login-password", PASSWORDS[user])
    p.click("login-submit")
    p.wait_testid("nav-updates", timeout=20)
    return p


def go(p, hash_):
    p.eval("location.hash = %s" % json.dumps(hash_))


def site_state(p, site):
    return ("(document.querySelector('[data-testid=rollout-site-%s] [data-state]') || {dataset: {}}).dataset.state"
            % site)


def run(stack, browser, shots):
    work = stack.work
    server = stack.binary("bin/pvfleet-server")
    mqtt_port = stack.start_mosquitto()
    deb, keys = make_release(work)
    with open(os.path.join(work, "server.json"), "w") as f:
        json.dump({"database": {"kind": "sqlite", "path": "server.db"},
                   "mqtt": {"uri": "tcp://127.0.0.1:%d" % mqtt_port, "client_id": "pvfleet-server-updates-e2e"},
                   "http": {"listen": "127.0.0.1", "port": 0},
                   "web_root": os.path.join(SOURCE, "server", "web"),  # this checkout's web app, not a staged copy
                   "releases": {"dir": "releases", "keys_dir": keys, "public_url": "https://pv.example.test",
                                "tick_s": 1}}, f)
    cfg = ["--config", os.path.join(work, "server.json")]
    for name, role in (("admin", "admin"), ("office", "back_office"), ("manager", "manager")):
        run_checked([server, "user", "add", *cfg, "--name", name, "--role", role, "--display-name", name.title()],
                    work, input=PASSWORDS[name] + "\n", env=stack.env)
    host, port = stack.start_and_wait_listening("server", [server, "run", *cfg], SERVER_LISTENING, timeout=30,
                                                cwd=work)
    base = "http://%s:%d" % (host, port)
    status, session = http(base, "POST", "/api/login", {"user": "admin", "password": PASSWORDS["admin"]})
    assert status == 200, "admin login: %s %s" % (status, session)
    token = session["token"]

    with open(deb, "rb") as f:
        body = f.read()
    with open(deb + ".sig") as f:
        sig = f.read().strip()
    status, release = http(base, "POST", "/api/releases", token=token, raw=body,
                           headers={"Content-Type": "application/vnd.debian.binary-package",
                                    "X-Release-Signature": sig})
    assert status == 201, "upload: %s %s" % (status, release)
    status, customer = http(base, "POST", "/api/customers", {"name": "Ulla Update", "address": "Teststr. 1"},
                            token=token)
    assert status == 201, "customer: %s %s" % (status, customer)
    for site in SITES:
        status, got = http(base, "PUT", "/api/sites/" + site, {"customer_id": customer["id"], "name": "Roof " + site,
                                                              "time_zone": "Europe/Berlin"}, token=token)
        assert status in (200, 201), "site %s: %s %s" % (site, status, got)
        if site != "upd-06":  # upd-06's settings are made in the browser
            status, got = http(base, "PUT", "/api/sites/%s/update-settings" % site, {"architecture": "arm64"},
                               token=token)
            assert status == 200, "update settings %s: %s %s" % (site, status, got)

    gateways = FakeGateways(stack, mqtt_port, len(body))
    gateways.wait_ready()
    now = int(time.time() * 1000)
    for site in SITES:
        gateways.publish("pvfleet/v1/sites/%s/status" % site,
                         {"v": 1, "kind": "status", "site_id": site, "state": "online", "sent_at": now,
                          "agent_version": OLD, "uptime_s": 600, "backlog_depth": 0, "config_version": "e2e-1",
                          "devices": []}, retain=True)
    for site in SITES:  # the version each site runs is known before the rollout takes its "from" version
        if not wait_until(lambda: http(base, "GET", "/api/sites/%s/status" % site, token=token)[0] == 200, 20, 0.2):
            raise StackError("the server never stored %s's status" % site)

    # --- back office: the site's update channel on the customer page; no actions on the updates pages ---
    office = login(browser, base, "office")
    go(office, "#/customers/%d" % customer["id"])
    office.wait_testid("update-channel-upd-06", timeout=20)
    office.select("update-channel-upd-06", "candidate")
    office.fill("update-arch-upd-06", "arm 64")
    office.click("update-save-upd-06")
    office.wait_for("!%s.hidden" % office.q("update-error-upd-06"), what="the architecture refused")
    assert "Debian architecture" in office.text("update-error-upd-06"), office.text("update-error-upd-06")
    office.fill("update-arch-upd-06", "arm64")
    office.click("update-save-upd-06")
    office.wait_testid("toast-success")
    status, got = http(base, "GET", "/api/sites/upd-06/update-settings", token=token)
    assert got == {"site_id": "upd-06", "channel": "candidate", "architecture": "arm64"}, got

    # --- admin: the form, with an error the server names by its key path ---
    admin = login(browser, base, "admin")
    go(admin, "#/updates")
    admin.wait_testid("release-row-%s-arm64" % VERSION)
    assert "release-e2e" in admin.text("release-table"), admin.text("release-table")
    admin.click("rollout-new")
    admin.wait_testid("rollout-form")
    admin.select("rollout-version", VERSION)
    admin.select("rollout-channel", "stable")
    admin.select("stage-mode-0", "sites")
    admin.fill("stage-value-0", "upd-01")
    admin.fill("stage-value-1", "100")
    admin.click("stage-add")
    admin.fill("stage-value-2", "50")
    admin.fill("rollout-max-failure", "60")
    admin.fill("rollout-start-delay", "0")
    if shots:
        admin.set_viewport(390, 844, mobile=True)
        admin.screenshot(os.path.join(shots, "rollout-form-phone.png"), full_page=True)
    admin.set_viewport(390, 844, mobile=True)
    wide = admin.eval("document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, "the rollout form is %s px wider than a phone" % wide
    admin.set_viewport(1280, 900)
    admin.click("rollout-submit")
    admin.wait_for("!%s.hidden" % admin.q("error-stages-2-value"), what="the error beside stage 3")
    assert "must rise" in admin.text("error-stages-2-value"), admin.text("error-stages-2-value")
    assert admin.eval("%s.getAttribute('aria-invalid')" % admin.q("stage-value-2")) == "true"
    assert admin.eval("location.hash") == "#/updates/new"
    admin.click("stage-remove-2")
    admin.click("rollout-submit")
    admin.wait_for("location.hash === '#/updates/rollouts/1'", what="the new rollout's page")

    # --- the detail follows the sites by itself ---
    expected = {"upd-01": "healthy", "upd-02": "healthy", "upd-03": "rolled_back", "upd-04": "failed",
                "upd-05": "installing"}
    for site, state in expected.items():
        admin.wait_for("%s === %s" % (site_state(admin, site), json.dumps(state)), timeout=60,
                       what="%s %s on the page without a reload" % (site, state))
    assert not admin.exists("rollout-site-upd-06"), "a candidate site in a stable rollout"
    assert admin.eval("%s.dataset.count" % admin.q("progress-healthy")) == "2"
    assert admin.eval("%s.dataset.count" % admin.q("progress-rolled_back")) == "1"
    assert "back on 0.1.0" in admin.text("rollout-site-upd-03"), admin.text("rollout-site-upd-03")
    from_version = admin.eval("%s.cells[3].textContent" % admin.q("rollout-site-upd-03"))
    assert from_version == OLD, "from version: %r" % from_version
    assert "database disk image is malformed" in admin.eval(
        "%s.querySelector('details pre').textContent" % admin.q("rollout-site-upd-03")), "the journal lines"
    assert "package refused" in admin.text("rollout-site-upd-04"), admin.text("rollout-site-upd-04")
    assert admin.text("rollout-stage") == "2 of 2", admin.text("rollout-stage")
    admin.select("site-state-filter", "failed")
    rows = admin.eval("[...document.querySelectorAll('[data-testid^=rollout-site-upd]')].map(e => e.dataset.testid)")
    assert rows == ["rollout-site-upd-04"], rows
    assert admin.eval("location.hash") == "#/updates/rollouts/1?state=failed"
    admin.select("site-state-filter", "")
    if shots:
        admin.eval("document.activeElement.blur(); window.scrollTo(0, 0)")
        admin.screenshot(os.path.join(shots, "rollout.png"), full_page=True)
    admin.set_viewport(390, 844, mobile=True)
    wide = admin.eval("document.documentElement.scrollWidth - window.innerWidth")
    assert wide <= 0, "the rollout page is %s px wider than a phone" % wide
    admin.set_viewport(1280, 900)

    # --- pause (confirmed) and resume ---
    admin.click("rollout-pause")
    admin.wait_for("%s.dataset.state === 'paused'" % admin.q("rollout-state"), what="paused")
    assert admin.dialogs and admin.dialogs[-1][0] == "confirm" and "#1" in admin.dialogs[-1][1], admin.dialogs
    assert "paused by admin" in admin.text("rollout-pause-reason"), admin.text("rollout-pause-reason")
    assert not admin.exists("rollout-pause") and admin.exists("rollout-cancel")
    status, got = http(base, "GET", "/api/rollouts/1", token=token)
    assert got["state"] == "paused", got["state"]

    # --- the back office reads without actions ---
    go(office, "#/updates/rollouts/1")
    office.wait_for("%s === 'rolled_back'" % site_state(office, "upd-03"), what="the rollout for the back office")
    for testid in ("rollout-pause", "rollout-resume", "rollout-cancel"):
        assert not office.exists(testid), "the back office sees %s" % testid
    go(office, "#/updates")
    office.wait_testid("rollout-row-1")
    assert not office.exists("rollout-new"), "the back office may not start a rollout"
    go(office, "#/updates/new")
    office.wait_for("location.hash === '#/dashboard'", what="the form refused to the back office")

    admin.click("rollout-resume")
    admin.wait_for("%s.dataset.state === 'running'" % admin.q("rollout-state"), what="running again")
    assert not admin.exists("rollout-pause-reason")

    # --- a candidate rollout pauses itself; leaving a running rollout's page stops its refresh ---
    status, second = http(base, "POST", "/api/rollouts", {"version": VERSION, "channel": "candidate",
                                                          "stages": [{"percent": 100}], "max_failure_percent": 0,
                                                          "start_delay_max_s": 0}, token=token)
    assert status == 201, "candidate rollout: %s %s" % (status, second)
    if not wait_until(lambda: http(base, "GET", "/api/rollouts/2", token=token)[1]["state"] == "paused", 30, 0.5):
        raise StackError("the candidate rollout did not pause itself")
    go(admin, "#/updates")
    admin.wait_testid("rollout-row-2")
    fetches = "performance.getEntriesByType('resource').filter(e => e.name.endsWith('/api/rollouts/1')).length"
    left_at, left_t = admin.eval(fetches), time.monotonic()
    order = admin.eval("[...document.querySelectorAll('[data-testid^=rollout-row-]')].map(e => e.dataset.testid)")
    assert order == ["rollout-row-2", "rollout-row-1"], "newest first: %s" % order
    row = admin.text("rollout-row-2")
    assert "stage 1: 1 of 1 sites failed or rolled back" in row and "Paused" in row, row
    if shots:
        admin.screenshot(os.path.join(shots, "updates.png"))

    # --- a manager reads, without the releases ---
    manager = login(browser, base, "manager")
    go(manager, "#/updates")
    manager.wait_testid("rollout-row-1")
    assert "administrators and the back office" in manager.text("release-table"), manager.text("release-table")
    assert not manager.exists("rollout-new")

    time.sleep(max(0.0, 11.5 - (time.monotonic() - left_t)))  # over one refresh period since rollout 1's page was left
    assert admin.eval(fetches) == left_at, "rollout 1 is still fetched after its page was left"

    # --- zh-CN ---
    go(admin, "#/updates/rollouts/1")
    admin.wait_for("%s === 'rolled_back'" % site_state(admin, "upd-03"))
    admin.select("lang-switch", "zh-CN")
    admin.wait_for("document.body.textContent.includes('已回滚')", what="the zh-CN rollout page")
    text = admin.eval("document.body.textContent")
    for word in ("安装中", "暂停", "第 2 / 2 阶段"):
        assert word in text, "zh-CN: %s missing" % word

    # --- a server without a releases section: the page says so instead of failing ---
    with open(os.path.join(work, "bare.json"), "w") as f:
        json.dump({"database": {"kind": "sqlite", "path": "bare.db"}, "http": {"listen": "127.0.0.1", "port": 0},
                   "web_root": os.path.join(SOURCE, "server", "web")}, f)
    bare_cfg = ["--config", os.path.join(work, "bare.json")]
    run_checked([server, "user", "add", *bare_cfg, "--name", "admin", "--role", "admin"], work,
                input=PASSWORDS["admin"] + "\n", env=stack.env)
    bare_host, bare_port = stack.start_and_wait_listening("bare-server", [server, "run", *bare_cfg], SERVER_LISTENING,
                                                          timeout=30, cwd=work)
    bare = login(browser, "http://%s:%d" % (bare_host, bare_port), "admin")
    go(bare, "#/updates")
    bare.wait_testid("updates-off")
    assert "not set up" in bare.text("updates-off"), bare.text("updates-off")

    for name, page in (("office", office), ("admin", admin), ("manager", manager), ("admin without releases", bare)):
        if page.errors:
            raise CdpError("script errors on the %s's page: %s" % (name, page.errors[:5]))
    if gateways.errors:
        raise StackError("fake gateways: %s" % gateways.errors[:3])
    sites_sent = sorted(s for s, _ in gateways.seen)
    assert sites_sent == SITES, "update commands went to %s" % sites_sent
    stack.check_alive()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--screenshots", help="save the rollout page, the list and the form on a phone to this folder")
    args = ap.parse_args()
    # PVFLEET_KDF_ITERATIONS: cheap password hashes for the users of this test.
    return run_browser_test("updates_browser", lambda stack, browser: run(stack, browser, args.screenshots), args.bin_dir,
                            env={"PVFLEET_KDF_ITERATIONS": "1000"},
                            needs=("mosquitto", "mosquitto_sub", "mosquitto_pub", "dpkg-deb", "openssl"))


if __name__ == "__main__":
    sys.exit(main())
