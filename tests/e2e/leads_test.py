#!/usr/bin/env python3
"""Browser test of the leads (docs/crm.md): pvfleet-server alone (no broker) with a sales team in its `leads`
config; an admin makes a capture channel, the company's website hands in an inquiry twice over the public route
(one lead, two inquiries); headless Chromium (tests/e2e/cdp.py) logs in as the sales rep, lands on the leads
list, opens the lead assigned to them round-robin, sees both inquiries, logs a call with a next step, sees the
lead contacted, converts it into a customer and a project (the touch on the project's timeline), finds its card
on the board in the site-survey column, and reads the board and the lead in zh-CN. Prints "skipped: ..." and passes without chromium.
`ctest -R leads_browser` (label browser)."""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from browser_test import http, run_browser_test, server_config, start_server  # noqa: E402
from cdp import CdpError  # noqa: E402

PASSWORDS = {"admin": "admin-leads-e2e-pw", "sam": "sam-leads-e2e-pw"}
FORM = {"name": "Paula Public", "phone": "+49 (0)89 555 0123", "email": "paula@example.org", "postcode": "80331",
        "roof_type": "tile", "monthly_bill": 140.0, "message": "Please send a quote", "consent_contact": True,
        "utm_source": "newsletter", "utm_campaign": "spring"}



def run(stack, browser, shots):
    work = stack.work
    cfg = server_config(stack, {"database": {"kind": "sqlite", "path": "server.db"},
                                "http": {"listen": "127.0.0.1", "port": 0},
                                "leads": {"default_country_code": "49",
                                          "assignment": {"regions": [{"name": "munich", "postcode_prefixes": ["80", "81"]}],
                                                         "teams": [{"name": "south", "regions": ["munich"],
                                                                    "members": ["sam"]}]}}},
                        [(n, r, n.title(), PASSWORDS[n]) for n, r in (("admin", "admin"), ("sam", "sales"))])
    base = start_server(stack, cfg)

    status, login = http(base, "POST", "/api/login", {"user": "admin", "password": PASSWORDS["admin"]})
    assert status == 200, "admin login: %s %s" % (status, login)
    status, channel = http(base, "POST", "/api/lead-channels", {"name": "Website", "source": "website"},
                           token=login["token"])
    assert status == 201, "channel: %s %s" % (status, channel)
    for i in range(2):
        form = dict(FORM, phone="0049 89 5550123") if i else FORM  # the same number typed another way
        status, got = http(base, "POST", "/api/public/leads", form, headers={"X-Pvfleet-Channel-Key": channel["key"]})
        assert status == 202, "public capture %d: %s %s" % (i, status, got)
    status, got = http(base, "POST", "/api/public/leads", FORM, headers={"X-Pvfleet-Channel-Key": "lck_wrong-key"})
    assert status == 401, "a wrong key: %s %s" % (status, got)

    p = browser.new_page(new_context=True)
    p.goto(base + "/")
    p.wait_testid("login-user")
    p.fill("login-user", "sam")
    p.fill("login-password", PASSWORDS["sam"])
    p.click("login-submit")
    p.wait_for("location.hash.startsWith('#/leads')", timeout=20, what="the sales rep's landing page (#/leads)")
    p.wait_testid("lead-row-1", timeout=20)
    assert "Paula Public" in p.text("lead-table"), p.text("lead-table")
    assert p.exists("nav-leads") and not p.exists("nav-dashboard"), "the sales rep's navigation"
    if shots:
        p.screenshot(os.path.join(shots, "leads-list.png"))
    p.click("lead-row-1")
    p.wait_testid("lead-inquiries", timeout=20)
    rows = p.eval("%s.querySelectorAll('tbody tr').length" % p.q("lead-inquiries"))
    assert rows == 2, "inquiries on the lead: %s" % rows
    p.select("lead-outcome", "scheduled")
    p.fill("touch-notes", "site visit on Friday")
    p.eval("(e => { e.value = '2030-01-10'; e.dispatchEvent(new Event('input', {bubbles: true})); })(%s)"
           % p.q("touch-next-step"))
    p.click("touch-save")
    p.wait_for("(%s || {textContent: ''}).textContent.includes('site visit on Friday')" % p.q("lead-touches"),
               timeout=20, what="the logged touch")
    p.wait_for("(%s || {}).value === 'contacted'" % p.q("lead-status"), timeout=20, what="status contacted")
    if shots:
        p.screenshot(os.path.join(shots, "lead-detail.png"), full_page=True)
    # Conversion (docs/projects.md): the lead becomes a customer and a project; the page moves to the project.
    p.click("lead-convert")
    p.wait_for("location.hash.startsWith('#/projects/')", timeout=20, what="the new project's page")
    p.wait_testid("project-stage", timeout=20)
    assert p.text("project-stage") == "Site survey", p.text("project-stage")  # the inquiry is behind it
    project_id = int(p.eval("location.hash.split('/')[2]"))
    p.wait_for("(%s || {textContent: ''}).textContent.includes('site visit on Friday')" % p.q("project-timeline"),
               timeout=20, what="the lead's touch on the project's timeline")
    if shots:
        p.screenshot(os.path.join(shots, "project-detail.png"), full_page=True)
    p.eval("location.hash = '#/projects'")  # in-page navigation: no load event
    p.wait_testid("project-card-%d" % project_id, timeout=20)
    column = p.eval("%s.closest('[data-testid^=project-col-]').dataset.testid" % p.q("project-card-%d" % project_id))
    assert column == "project-col-site_survey", column
    colour = p.eval("%s.dataset.colour" % p.q("project-card-%d" % project_id))
    assert colour == "green", "a new project's card: %s" % colour
    if shots:
        p.screenshot(os.path.join(shots, "project-board.png"))
    status, again = http(base, "POST", "/api/leads/1/convert", {}, token=login["token"])
    assert status == 409, "a second conversion: %s %s" % (status, again)
    p.select("lang-switch", "zh-CN")
    p.wait_for("document.body.textContent.includes('现场勘察')", timeout=20, what="the zh-CN board")
    p.eval("location.hash = '#/leads/1'")
    p.wait_testid("lead-project", timeout=20)
    p.wait_for("document.body.textContent.includes('跟进记录')", timeout=20, what="the zh-CN page")
    if p.errors:
        raise CdpError("script errors on the page: %s" % p.errors[:5])
    stack.check_alive()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--screenshots", help="save the list and the detail as PNG to this folder")
    args = ap.parse_args()
    # PVFLEET_KDF_ITERATIONS: cheap password hashes for the users of this test.
    return run_browser_test("leads_browser", lambda stack, browser: run(stack, browser, args.screenshots), args.bin_dir,
                            env={"PVFLEET_KDF_ITERATIONS": "1000"})


if __name__ == "__main__":
    sys.exit(main())
