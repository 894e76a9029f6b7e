"""A small Chrome DevTools protocol client over --remote-debugging-pipe (Python standard library only).

Chromium reads commands from fd 3 and writes responses and events to fd 4; every message is one JSON object
followed by a NUL byte. Pages are driven through flattened sessions (Target.attachToTarget with flatten=true):
commands carry a sessionId and so do the events of that page.

    browser = Browser.launch()                      # headless Chromium
    page = browser.new_page()                       # a tab in the default context
    other = browser.new_page(new_context=True)      # a tab in a fresh context (own cookies and storage)
    page.goto("http://127.0.0.1:8080/")
    page.wait_for("document.querySelector('[data-testid=login-user]')")
    page.fill("login-user", "office"); page.click("login-submit")
    png = page.screenshot()
    browser.close()

JavaScript dialogs (alert, confirm, prompt) are accepted automatically (a prompt gets Page.dialog_text, "" by
default), and recorded in Page.dialogs; uncaught exceptions and console errors of a page go to Page.errors.
"""

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time


class CdpError(Exception):
    """An error answer to a command, a timeout, or the browser going away."""


class Browser:
    def __init__(self, proc, to_browser, from_browser, profile_dir):
        self.proc = proc
        self._out = os.fdopen(to_browser, "wb", buffering=0)
        self._in = os.fdopen(from_browser, "rb", buffering=0)
        self._profile = profile_dir
        self._lock = threading.Lock()
        self._next_id = 0
        self._waiting = {}  # id -> queue.Queue(1)
        self._sessions = {}  # sessionId -> Page
        self._closed = False
        self.browser_errors = []
        self._reader = threading.Thread(target=self._read_loop, name="cdp-reader", daemon=True)
        self._reader.start()

    # --- start and stop ---

    @staticmethod
    def find_chromium():
        for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
            path = shutil.which(name)
            if path:
                return path
        for path in ("/usr/bin/chromium", "/usr/lib/chromium/chromium"):
            if os.access(path, os.X_OK):
                return path
        return None

    @classmethod
    def launch(cls, executable=None, extra_args=(), log_path=None, window_size=(1280, 900)):
        executable = executable or cls.find_chromium()
        if not executable:
            raise CdpError("no chromium executable found")
        profile = tempfile.mkdtemp(prefix="pvfleet-cdp-")
        # Our ends stay non-inheritable (Python's default); the child's ends are moved to fds 3 and 4.
        cmd_r, cmd_w = os.pipe()  # we write commands, chromium reads fd 3
        evt_r, evt_w = os.pipe()  # chromium writes fd 4, we read
        # Move the child's ends above any fd the dup2 targets could clobber.
        child_in = _dup_high(cmd_r)
        child_out = _dup_high(evt_w)
        os.close(cmd_r)
        os.close(evt_w)

        def wire_fds():  # runs in the child between fork and exec
            os.dup2(child_in, 3)  # dup2 makes the new fd inheritable
            os.dup2(child_out, 4)
            try:  # the browser goes when its parent dies (PR_SET_PDEATHSIG), even on SIGKILL
                import ctypes
                ctypes.CDLL("libc.so.6").prctl(1, 9)
            except Exception:
                pass

        args = [executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                "--user-data-dir=" + profile, "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--disable-sync",
                "--disable-component-update", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
                "--disable-dev-shm-usage", "--password-store=basic", "--use-mock-keychain",
                "--window-size=%d,%d" % window_size, "--lang=en-US", *extra_args, "about:blank"]
        log = open(log_path, "ab") if log_path else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=False,
                                    preexec_fn=wire_fds, env={**os.environ, "LANG": "en_US.UTF-8"})
        finally:
            os.close(child_in)
            os.close(child_out)
            if log_path:
                log.close()
        browser = cls(proc, cmd_w, evt_r, profile)
        browser.send("Target.setDiscoverTargets", {"discover": False})
        return browser

    def close(self):
        if self._closed:
            return
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        self._closed = True
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        for f in (self._out, self._in):
            try:
                f.close()
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def kill(self):
        """Last resort (signal handlers): no protocol, just the process."""
        self._closed = True
        if self.proc.poll() is None:
            self.proc.kill()

    # --- protocol ---

    def send(self, method, params=None, session_id=None, timeout=30):
        if self._closed:
            raise CdpError("browser closed")
        with self._lock:
            self._next_id += 1
            msg_id = self._next_id
            box = queue.Queue(1)
            self._waiting[msg_id] = box
            msg = {"id": msg_id, "method": method, "params": params or {}}
            if session_id:
                msg["sessionId"] = session_id
            try:
                self._out.write(json.dumps(msg).encode() + b"\0")
            except OSError as e:
                self._waiting.pop(msg_id, None)
                raise CdpError("%s: cannot write to the browser: %s" % (method, e))
        try:
            reply = box.get(timeout=timeout)
        except queue.Empty:
            self._waiting.pop(msg_id, None)
            raise CdpError("%s: no answer within %s s" % (method, timeout))
        if reply is None:
            raise CdpError("%s: the browser went away" % method)
        if "error" in reply:
            raise CdpError("%s: %s" % (method, reply["error"].get("message", reply["error"])))
        return reply.get("result", {})

    def send_async(self, method, params=None, session_id=None):
        """Send without waiting for the answer (used from the reader thread)."""
        with self._lock:
            self._next_id += 1
            msg = {"id": self._next_id, "method": method, "params": params or {}}
            if session_id:
                msg["sessionId"] = session_id
            try:
                self._out.write(json.dumps(msg).encode() + b"\0")
            except OSError:
                pass

    def _read_loop(self):
        buf = b""
        while True:
            try:
                chunk = self._in.read(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue
                self._dispatch(msg)
        # The browser is gone: wake every waiter.
        for box in list(self._waiting.values()):
            try:
                box.put_nowait(None)
            except queue.Full:
                pass
        self._waiting.clear()

    def _dispatch(self, msg):
        if "id" in msg:
            box = self._waiting.pop(msg["id"], None)
            if box:
                box.put(msg)
            return
        page = self._sessions.get(msg.get("sessionId"))
        if page:
            page._on_event(msg["method"], msg.get("params", {}))
        elif msg.get("method") == "Target.detachedFromTarget":
            self._sessions.pop(msg.get("params", {}).get("sessionId"), None)

    # --- pages ---

    def new_page(self, new_context=False, width=1280, height=900):
        params = {"url": "about:blank"}
        context_id = None
        if new_context:
            context_id = self.send("Target.createBrowserContext", {"disposeOnDetach": True})["browserContextId"]
            params["browserContextId"] = context_id
        target_id = self.send("Target.createTarget", params)["targetId"]
        session_id = self.send("Target.attachToTarget", {"targetId": target_id, "flatten": True})["sessionId"]
        page = Page(self, target_id, session_id, context_id)
        self._sessions[session_id] = page
        for domain in ("Page", "Runtime", "Network", "Log"):
            page.send(domain + ".enable")
        page.set_viewport(width, height)
        return page


# In-page wait for Page.wait_for: resolves with {ok: true, value} once the expression is truthy, or with
# {ok: false, error} when the slice ends. One check at a time; a check is due on every DOM mutation, hash change
# and interval tick.
_WAIT_JS = """(() => new Promise((resolve) => {
  let finished = false, running = false, again = false, lastError = null;
  const evaluate = async () => (%(expr)s);
  const finish = (result) => {
    if (finished) return;
    finished = true;
    observer.disconnect();
    window.removeEventListener('hashchange', check);
    clearInterval(tick);
    clearTimeout(stop);
    resolve(result);
  };
  async function check() {
    if (finished) return;
    if (running) { again = true; return; }
    running = true;
    try {
      const value = await evaluate();
      if (value) finish({ok: true, value});
    } catch (e) {
      lastError = String(e);
    }
    running = false;
    if (again && !finished) { again = false; check(); }
  }
  const observer = new MutationObserver(check);
  observer.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  window.addEventListener('hashchange', check);
  const tick = setInterval(check, %(interval_ms)d);
  const stop = setTimeout(() => finish({ok: false, error: lastError}), %(slice_ms)d);
  check();
}))()"""


def _dup_high(fd):
    import fcntl
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)


class Page:
    """One tab, driven through its flattened session."""

    def __init__(self, browser, target_id, session_id, context_id=None):
        self.browser = browser
        self.target_id = target_id
        self.session_id = session_id
        self.context_id = context_id
        self.errors = []  # uncaught exceptions, console.error texts and CSP violations
        self.dialogs = []  # (type, message) of every dialog, accepted automatically
        self.dialog_text = ""  # what a prompt() answers
        self.http_errors = []  # (status, url) of responses >= 400
        self._load_event = threading.Event()

    def send(self, method, params=None, timeout=30):
        return self.browser.send(method, params, session_id=self.session_id, timeout=timeout)

    def _on_event(self, method, params):
        if method == "Page.javascriptDialogOpening":
            self.dialogs.append((params.get("type"), params.get("message")))
            answer = {"accept": True}
            if params.get("type") == "prompt":
                answer["promptText"] = self.dialog_text
            self.browser.send_async("Page.handleJavaScriptDialog", answer, session_id=self.session_id)
        elif method == "Page.loadEventFired":
            self._load_event.set()
        elif method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            self.errors.append("exception: " + str((d.get("exception") or {}).get("description") or d.get("text")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append("console.error: " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("source") == "security":
            # Content-Security-Policy violations: the server's CSP must let the app run unchanged.
            self.errors.append("security: " + str(params["entry"].get("text", "")))
        elif method == "Network.responseReceived":
            r = params.get("response", {})
            if r.get("status", 0) >= 400:
                self.http_errors.append((r.get("status"), r.get("url")))

    # --- navigation and scripts ---

    def goto(self, url, timeout=30):
        self._load_event.clear()
        res = self.send("Page.navigate", {"url": url}, timeout=timeout)
        if res.get("errorText"):
            raise CdpError("navigate %s: %s" % (url, res["errorText"]))
        if not self._load_event.wait(timeout):
            raise CdpError("navigate %s: no load event within %s s" % (url, timeout))

    def reload(self, timeout=30):
        self._load_event.clear()
        self.send("Page.reload", {"ignoreCache": True})
        if not self._load_event.wait(timeout):
            raise CdpError("reload: no load event within %s s" % timeout)

    def eval(self, expression, timeout=30):
        """The value of a JavaScript expression (promises are awaited); exceptions raise CdpError."""
        res = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True,
                                              "userGesture": True}, timeout=timeout)
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            raise CdpError("evaluate failed: %s" % ((d.get("exception") or {}).get("description") or d.get("text")))
        return res.get("result", {}).get("value")

    def wait_for(self, expression, timeout=20, interval=0.25, what=None):
        """Until the expression is truthy; returns its value, raises CdpError on timeout.

        The page does the waiting: it checks the expression again on every DOM change and hash change, and every
        `interval` s for what no event announces (an `await fetch(...)` in the expression), so the answer comes as
        soon as the page has it. The wait runs in slices, so a navigation that ends a slice early starts the next
        one on the new document."""
        deadline = time.monotonic() + timeout
        last_err = None
        while True:
            slice_s = max(0.1, min(5.0, deadline - time.monotonic()))
            try:
                res = self.eval(_WAIT_JS % {"expr": expression, "interval_ms": int(interval * 1000),
                                            "slice_ms": int(slice_s * 1000)}, timeout=slice_s + 30)
                if res and res.get("ok"):
                    return res["value"]
                if res and res.get("error"):
                    last_err = res["error"]
            except CdpError as e:  # e.g. the execution context went away with a navigation
                last_err = e
            if time.monotonic() > deadline:
                raise CdpError("timed out after %s s waiting for %s%s" % (
                    timeout, what or expression, " (last error: %s)" % last_err if last_err else ""))

    # --- elements by data-testid ---

    @staticmethod
    def sel(testid):
        return "[data-testid=%s]" % json.dumps(testid)

    def q(self, testid):
        """JavaScript expression for the element with this data-testid."""
        return "document.querySelector(%s)" % json.dumps(self.sel(testid))

    def exists(self, testid):
        return bool(self.eval("!!%s" % self.q(testid)))

    def text(self, testid):
        return self.eval("(%s || {}).textContent || null" % self.q(testid))

    def wait_testid(self, testid, timeout=20):
        return self.wait_for("!!%s" % self.q(testid), timeout=timeout, what="[data-testid=%s]" % testid)

    def click(self, testid, timeout=20):
        """A real mouse click in the middle of the element (scrolled into view); checks nothing covers it."""
        self.wait_testid(testid, timeout)
        box = self.eval("""(() => {
          const e = %s; e.scrollIntoView({block: 'center', inline: 'center'});
          const r = e.getBoundingClientRect();
          const x = r.left + r.width / 2, y = r.top + r.height / 2;
          const hit = document.elementFromPoint(x, y);
          return {x, y, w: r.width, h: r.height, hit: !!hit && (hit === e || e.contains(hit)),
                  hitDesc: hit ? hit.tagName + '.' + hit.className : null, disabled: !!e.disabled};
        })()""" % self.q(testid))
        if box["w"] <= 0 or box["h"] <= 0:
            raise CdpError("click %s: element is not visible" % testid)
        if box["disabled"]:
            raise CdpError("click %s: element is disabled" % testid)
        if not box["hit"]:
            raise CdpError("click %s: covered by %s" % (testid, box["hitDesc"]))
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box["x"], "y": box["y"], "button": "left",
                                                   "buttons": 1 if kind == "mousePressed" else 0, "clickCount": 1})

    def fill(self, testid, value, timeout=20):
        """Focus the field, select what is in it and type the value (real key input)."""
        self.wait_testid(testid, timeout)
        self.eval("(() => { const e = %s; e.scrollIntoView({block: 'center'}); e.focus(); e.select && e.select(); "
                  "e.value = ''; })()" % self.q(testid))
        self.send("Input.insertText", {"text": value})
        got = self.eval("%s.value" % self.q(testid))
        if got != value:
            raise CdpError("fill %s: the field holds %r, not %r" % (testid, got, value))

    def select(self, testid, value, timeout=20):
        """Choose an option of a <select> as a user would (value set, input and change events)."""
        self.wait_testid(testid, timeout)
        ok = self.eval("""(() => { const s = %s; if (![...s.options].some(o => o.value === %s)) return false;
          s.focus(); s.value = %s; s.dispatchEvent(new Event('input', {bubbles: true}));
          s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()""" % (
            self.q(testid), json.dumps(value), json.dumps(value)))
        if not ok:
            opts = self.eval("[...%s.options].map(o => o.value)" % self.q(testid))
            raise CdpError("select %s: no option %r (options: %s)" % (testid, value, opts))

    # --- viewport and screenshots ---

    def set_viewport(self, width, height, mobile=False, scale=1):
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                         "deviceScaleFactor": scale, "mobile": mobile})

    def screenshot(self, path=None, full_page=False):
        params = {"format": "png"}
        if full_page:
            m = self.send("Page.getLayoutMetrics")
            size = m.get("cssContentSize") or m.get("contentSize")
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 4000),
                              "scale": 1}
            params["captureBeyondViewport"] = True
        import base64
        data = base64.b64decode(self.send("Page.captureScreenshot", params, timeout=60)["data"])
        if path:
            with open(path, "wb") as f:
                f.write(data)
        return data
