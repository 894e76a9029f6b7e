"""The frame every single-flow browser test shares (leads, contracts, updates, commissioning): Chromium found or
the test skipped, a work folder, the stack of processes, the browser launched, the flow run, everything stopped
on the way out, and the verdict printed — the work folder and the processes' log tails kept when it failed.

    return run_browser_test("leads_browser", lambda stack, browser: run(stack, browser, shots), args.bin_dir,
                            env={"PVFLEET_KDF_ITERATIONS": "1000"})
"""

import os
import shutil
import tempfile
import time

from cdp import Browser, CdpError
from pvfleet_stack import Processes, StackError


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
