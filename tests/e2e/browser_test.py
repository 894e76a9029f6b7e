"""The frame every single-flow browser test shares (leads, contracts, updates, commissioning): Chromium found or
the test skipped, a work folder, the stack of processes, the browser launched, the flow run, everything stopped
on the way out, and the verdict printed — the work folder and the processes' log tails kept when it failed. Also
the steps every flow takes: an API request (`http`), the login form (`log_in`), a file chosen (`set_file`), the server's config and users (`server_config`) and its start (`start_server`).

    return run_browser_test("leads_browser", lambda stack, browser: run(stack, browser, shots), args.bin_dir,
                            env={"PVFLEET_KDF_ITERATIONS": "1000"})
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from cdp import Browser, CdpError
from pvfleet_stack import SERVER_LISTENING, Processes, StackError


def http(base, method, path, body=None, token=None, headers=None, raw=False):
    """One API request with a JSON body (or none): (status, parsed JSON answer — the raw bytes with raw=True)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            payload = r.read()
            return r.status, payload if raw else json.loads(payload or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def log_in(page, base, user, password):
    """The web app's login form, as a user fills it; returns once the app has left the form."""
    page.goto(base + "/")
    page.wait_testid("login-user")
    page.fill("login-user", user)
    page.fill("login-password", password)
    page.click("login-submit")
    page.wait_for("!document.querySelector('[data-testid=login-user]')", timeout=20, what="%s logged in" % user)


def set_file(page, testid, path):
    """A file chosen in an <input type=file>, as the file picker (or the camera) would."""
    doc = page.send("DOM.getDocument", {"depth": 0})
    node = page.send("DOM.querySelector", {"nodeId": doc["root"]["nodeId"], "selector": "[data-testid=%s]" % testid})
    if not node.get("nodeId"):
        raise CdpError("no file input %s" % testid)
    page.send("DOM.setFileInputFiles", {"files": [path], "nodeId": node["nodeId"]})
    page.eval("%s.dispatchEvent(new Event('change', {bubbles: true}))" % page.q(testid))


def server_config(stack, config, users):
    """Writes `config` as the work folder's server.json and adds `users` — (name, role, display name, password) —
    with the real binary; returns the --config arguments for pvfleet-server."""
    path = os.path.join(stack.work, "server.json")
    with open(path, "w") as f:
        json.dump(config, f)
    cfg = ["--config", path]
    server = stack.binary("bin/pvfleet-server")
    for name, role, display, password in users:
        r = subprocess.run([server, "user", "add", *cfg, "--name", name, "--role", role, "--display-name", display],
                           input=password + "\n", capture_output=True, text=True, cwd=stack.work, timeout=60,
                           env=stack.env)
        if r.returncode != 0:
            raise StackError("pvfleet-server user add %s: %s%s" % (name, r.stdout, r.stderr))
    return cfg


def start_server(stack, cfg):
    """pvfleet-server run with these --config arguments; returns its base URL once it listens."""
    host, port = stack.start_and_wait_listening("server", [stack.binary("bin/pvfleet-server"), "run", *cfg],
                                                SERVER_LISTENING, timeout=30, cwd=stack.work)
    return "http://%s:%d" % (host, port)


def run_browser_test(name, flow, bin_dir, env=None, needs=(), browser_args=()):
    """Runs flow(stack, browser); returns the exit status (0 also when skipped: Chromium or a program in `needs`
    missing). browser_args: extra Chromium flags (a fake camera)."""
    chromium = Browser.find_chromium()
    missing = ([] if chromium else ["chromium"]) + [n for n in needs if not shutil.which(n)]
    if missing:
        print("skipped: %s not found" % ", ".join(missing))
        return 0
    work = tempfile.mkdtemp(prefix="pvfleet-%s." % name)
    stack = Processes(os.path.abspath(bin_dir), work, env=dict(os.environ, **(env or {})), binary_grace_s=60)
    browser = None
    t0 = time.monotonic()
    error = None
    try:
        browser = Browser.launch(chromium, extra_args=tuple(browser_args), log_path=os.path.join(work, "chromium.log"))
        flow(stack, browser)
    except (StackError, CdpError, AssertionError) as e:
        error = str(e) or repr(e)
    finally:
        if browser:
            try:
                browser.close()
            except Exception:
                browser.kill()
        stack.stop_all()
    if error:
        print("%s FAILED: %s" % (name, error))
        print(stack.tail())
        print("work folder kept: " + work)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("%s: passed in %.0f s" % (name, time.monotonic() - t0))
    return 0
