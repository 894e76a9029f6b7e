#!/usr/bin/env python3
"""Browser test of a gateway's first boot: pvfleet-edge run without its site config serves the local page in
commissioning mode; headless Chromium (tests/e2e/cdp.py) logs in, sees only the Commissioning tab with the
installer's three steps, has a mistyped enrollment code refused on the gateway and a good one sent (to a server
that does not answer, whose failure is shown), scans and probes pvfleet-sim by HOST:PORT, is refused the template as it is, writes
the site config into the editor, validates and saves it, and sees the page turn into the running gateway's
(Live tab, the site id, the inverter's readings). Prints "skipped: ..." and passes without chromium.
`ctest -R commissioning_browser` (label browser)."""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from browser_test import run_browser_test  # noqa: E402
from cdp import CdpError  # noqa: E402
from pvfleet_stack import LOCAL_UI_LISTENING, StackError  # noqa: E402

PASSWORD = "installer-e2e-pw"
SIM_SITE = {
    "name": "first-boot", "latitude_deg": 47.99, "longitude_deg": 7.85, "elevation_m": 280,
    "time_zone": "Europe/Berlin", "clouds": "none", "listen": {"host": "127.0.0.1", "port": 0},
    "devices": [{"name": "inv1", "unit": 1, "profile": "sunspec", "ac_kw": 8.0, "phases": 3, "mppts": 2,
                 "manufacturer": "pvfleet", "model": "SIM-8K", "serial": "SIM0001"}],
    "arrays": [{"id": "a", "device": "inv1", "mppt": 1, "dc_kwp": 8.5, "tilt_deg": 35, "azimuth_deg": 180}]}


def visible(page, element_id):
    return page.eval("(e => !!e && !e.hidden && e.getBoundingClientRect().height > 0)(document.getElementById(%s))"
                     % json.dumps(element_id))


def run(stack, browser, source_dir, shots):
    with open(os.path.join(stack.work, "sim.json"), "w") as f:
        json.dump(SIM_SITE, f)
    where = stack.start_sim("sim", ["--site", "sim.json", "--listen", "127.0.0.1:0"])
    with open(os.path.join(stack.work, "local-ui.hash"), "w") as f:
        f.write(stack.hash_password(PASSWORD) + "\n")
    host, port = stack.start_and_wait_listening(
        "edge", [stack.binary("bin/pvfleet-edge"), "run", "--config", "site.json",
                 "--commissioning-listen", "127.0.0.1", "--commissioning-port", "0", "--clock", "trust"],
        LOCAL_UI_LISTENING)
    url = "http://%s:%d/" % (host, port)

    g = browser.new_page(new_context=True, width=420, height=900)  # a phone
    g.goto(url)
    g.wait_for("!document.getElementById('login').hidden", timeout=15, what="the login form")
    g.fill("login-password", PASSWORD)
    g.click("login-submit")
    g.wait_for("!document.getElementById('app').hidden", timeout=15, what="the page after login")
    g.wait_testid("commissioning-guide")
    g.wait_for("(e => !e.hidden)(%s)" % g.q("commissioning-guide"), timeout=15, what="the commissioning guide")
    assert not visible(g, "tab-live"), "the Live tab is shown without a site config"
    assert visible(g, "setup"), "the Commissioning tab is not shown"
    assert g.eval("document.getElementById('version').textContent") == "commissioning"
    if shots:
        g.screenshot(os.path.join(shots, "gateway-commissioning.png"), full_page=True)

    # The enrollment screen: a mistyped code is caught on the gateway, before anything is sent; a code that reads
    # (lower case, O for 0) goes to the server, here one that does not answer, and the reason is shown.
    g.fill("enroll-server", "https://127.0.0.1:1")
    g.fill("enroll-code", "7K3M-Q9TX-2HWD-R4N1")
    g.click("enroll-start")
    g.wait_for("(%s || {}).textContent.includes('mistyped')" % g.q("enroll-result"), timeout=15,
               what="the mistyped code refused")
    g.fill("enroll-code", "7k3m q9tx 2hwd r4no")
    g.click("enroll-start")
    g.wait_for("(e => e && e.textContent && !e.textContent.includes('mistyped') && !e.textContent.includes('running'))(%s)"
               % g.q("enroll-result"), timeout=60, what="the enrollment's answer")
    assert "enrolled" not in g.eval("%s.textContent" % g.q("enroll-result"))

    # 1. scan, 2. probe: by HOST:PORT.
    g.fill("scan-tcp", where)
    g.click("scan-start")
    g.wait_for("(%s || {}).textContent.includes('unit 1:')" % g.q("scan-result"), timeout=60, what="scan result")
    g.fill("probe-tcp", where)
    g.click("probe-start")
    g.wait_for("(%s || {}).textContent.includes('SIM-8K')" % g.q("probe-result"), timeout=60, what="probe result")

    # 3. the template as it is: refused with the key path.
    g.wait_for("%s.value.includes('CHANGE-ME')" % g.q("config-text"), timeout=15, what="the config template")
    g.click("config-validate")
    g.wait_for("(%s || {}).textContent.includes(\"site_id: 'CHANGE-ME'\")" % g.q("config-result"), timeout=15,
               what="the template refused by site_id")
    site = json.loads(g.eval("%s.value" % g.q("config-text")))
    site.update({"site_id": "first-boot-e2e", "latitude": 47.99, "longitude": 7.85,
                 "poll": {"fast_s": 2, "slow_s": 10},
                 "maps_dir": os.path.join(source_dir, "firmware-config", "devices")})
    site["endpoints"][0].update({"tcp": where, "timing": {"pause_after_connect_ms": 0}})
    site["inverters"][0].update({"profile": "sunspec", "ac_kw": 8})
    g.fill("config-text", json.dumps(site, indent=2))
    g.click("config-validate")
    g.wait_for("(%s || {}).textContent === 'Valid.'" % g.q("config-result"), timeout=15, what="'Valid.'")
    g.click("config-save")
    g.wait_for("(%s || {}).textContent.startsWith('Saved')" % g.q("config-result"), timeout=15, what="'Saved'")

    # The running gateway's page: Live tab back, the site id in the header, the inverter's readings.
    g.wait_for("document.getElementById('site').textContent === 'first-boot-e2e'", timeout=30,
               what="the site id in the header")
    g.wait_for("(e => !e.hidden)(%s)" % g.q("tab-live"), timeout=15, what="the Live tab")
    g.wait_for("(%s || {textContent: ''}).textContent.includes('W')" % g.q("device-inv1"), timeout=60,
               what="inv1's readings on the Live tab")
    assert not visible(g, "guide"), "the commissioning guide stays after the config was saved"
    if shots:
        g.screenshot(os.path.join(shots, "gateway-after-commissioning.png"), full_page=True)
    if g.errors:
        raise CdpError("script errors on the page: %s" % g.errors[:5])
    if not os.path.exists(os.path.join(stack.work, "site.json")):
        raise StackError("site.json was not installed")
    stack.check_alive()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--screenshots", help="save the two screens as PNG to this folder")
    args = ap.parse_args()
    return run_browser_test("commissioning_browser", lambda stack, browser: run(stack, browser, os.path.abspath(args.source_dir), args.screenshots), args.bin_dir)


if __name__ == "__main__":
    sys.exit(main())
