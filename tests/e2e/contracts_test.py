#!/usr/bin/env python3
"""Browser test of contracts and payments (docs/projects.md): pvfleet-server alone (no broker); over HTTP the
back office makes a customer, a project of the sales rep's, its signed contract and a payment plan (a deposit due
days ago, a rest due on the installation); headless Chromium (tests/e2e/cdp.py) logs in as the back office, sees
the deposit overdue on the project's page, refuses an amount that is no number without asking the server,
records the deposit in major units through the form (the server stores minor units exactly) and sees it paid,
in en and zh-CN; the project manager reads the contract without a payment form, and a sales rep who is not the
project's gets 404. Prints "skipped: ..." and
passes without chromium. `ctest -R contracts_browser` (label browser)."""

import argparse
import datetime
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from browser_test import http, log_in, run_browser_test, server_config, start_server  # noqa: E402
from cdp import CdpError  # noqa: E402

PASSWORDS = {"office": "office-contracts-e2e-pw", "sam": "sam-contracts-e2e-pw", "pm": "pm-contracts-e2e-pw"}



def login(p, base, user):
    log_in(p, base, user, PASSWORDS[user])


def run(stack, browser, shots):
    work = stack.work
    cfg = server_config(stack, {"database": {"kind": "sqlite", "path": "server.db"},
                                "http": {"listen": "127.0.0.1", "port": 0}},
                        [(n, r, n.title(), PASSWORDS[n])
                         for n, r in (("office", "back_office"), ("sam", "sales"), ("pm", "project_manager"))])
    base = start_server(stack, cfg)

    status, session = http(base, "POST", "/api/login", {"user": "office", "password": PASSWORDS["office"]})
    assert status == 200, "office login: %s %s" % (status, session)
    token = session["token"]
    status, customer = http(base, "POST", "/api/customers", {"name": "Klara Kunde"}, token=token)
    assert status == 201, "customer: %s %s" % (status, customer)
    status, project = http(base, "POST", "/api/projects",
                           {"name": "Kunde roof", "customer_id": customer["id"], "manager": "pm"}, token=token)
    assert status == 201, "project: %s %s" % (status, project)
    pid = project["id"]
    today = datetime.date.today()
    status, contract = http(base, "POST", "/api/projects/%d/contract" % pid,
                            {"number": "C-E2E-1", "amount": 1000000, "currency": "EUR",
                             "signed_on": str(today - datetime.timedelta(days=20)), "status": "signed"}, token=token)
    assert status == 201, "contract: %s %s" % (status, contract)
    for body in ({"label": "Deposit", "percent": 30, "due_on": str(today - datetime.timedelta(days=3))},
                 {"label": "On installation", "percent": 70, "after_milestone": "installation_done", "days": 14}):
        status, got = http(base, "POST", "/api/projects/%d/instalments" % pid, body, token=token)
        assert status == 201, "instalment: %s %s" % (status, got)
    deposit = got["instalments"][0]
    assert deposit["label"] == "Deposit" and deposit["state"] == "overdue", deposit

    p = browser.new_page(new_context=True)
    login(p, base, "office")
    p.eval("location.hash = '#/projects/%d'" % pid)
    p.wait_testid("project-contract", timeout=20)
    assert p.text("contract-number") == "C-E2E-1", p.text("contract-number")
    assert "10,000.00 EUR" in p.text("contract-total"), p.text("contract-total")
    state = "instalment-state-%d" % deposit["id"]
    assert p.text(state) == "Overdue", p.text(state)
    # Not a number: refused in the page, nothing sent.
    p.fill("payment-amount", "three thousand")
    p.click("payment-submit")
    p.wait_for("%s.classList.contains('invalid')" % p.q("payment-amount"), timeout=10, what="the amount marked")
    status, now = http(base, "GET", "/api/projects/%d/contract" % pid, token=token)
    assert now["payments"] == [], now["payments"]
    # The deposit, typed in euros with a comma: 3 000,00 € is 300 000 cents.
    p.fill("payment-amount", "3000,00")
    p.fill("payment-reference", "RF18 E2E")
    p.click("payment-submit")
    p.wait_for("(%s || {textContent: ''}).textContent === 'Paid'" % p.q(state), timeout=20, what="the deposit paid")
    status, now = http(base, "GET", "/api/projects/%d/contract" % pid, token=token)
    assert [x["amount"] for x in now["payments"]] == [300000], now["payments"]
    assert now["payments"][0]["reference"] == "RF18 E2E", now["payments"]
    assert now["summary"]["outstanding"] == 700000, now["summary"]
    if shots:
        p.screenshot(os.path.join(shots, "project-contract.png"), full_page=True)
    p.select("lang-switch", "zh-CN")
    p.wait_for("document.body.textContent.includes('付款计划')", timeout=20, what="the zh-CN contract card")
    p.wait_for("(%s || {textContent: ''}).textContent === '已付清'" % p.q(state), timeout=20, what="the zh-CN state")

    # The project manager reads the contract, and gets no payment form.
    q = browser.new_page(new_context=True)
    login(q, base, "pm")
    q.eval("location.hash = '#/projects/%d'" % pid)
    q.wait_testid("project-contract", timeout=20)
    assert not q.exists("payment-form"), "a project manager's page offers to record a payment"
    # The sales rep is not this project's rep: not theirs to see.
    status, got = http(base, "POST", "/api/login", {"user": "sam", "password": PASSWORDS["sam"]})
    assert status == 200
    status, got = http(base, "GET", "/api/projects/%d/contract" % pid, token=got["token"])
    assert status == 404, "another's contract for the rep: %s %s" % (status, got)
    for page in (p, q):
        if page.errors:
            raise CdpError("script errors on the page: %s" % page.errors[:5])
    stack.check_alive()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--screenshots", help="save the project's page as PNG to this folder")
    args = ap.parse_args()
    # PVFLEET_KDF_ITERATIONS: cheap password hashes for the users of this test.
    return run_browser_test("contracts_browser", lambda stack, browser: run(stack, browser, args.screenshots), args.bin_dir,
                            env={"PVFLEET_KDF_ITERATIONS": "1000"})


if __name__ == "__main__":
    sys.exit(main())
