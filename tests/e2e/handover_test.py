#!/usr/bin/env python3
"""Browser test of the handover to O&M and the collection report (docs/projects.md): pvfleet-server alone (no
broker; its reminder scheduler passing every second). Over HTTP the back office makes a customer, a site in
Asia/Shanghai and a project on it, a signed contract with an instalment due today and a quarter of it paid. The
site's first production — a 0 W heartbeat, then 640 W — is written into the server's SQLite database as ingest
stores it (device, daily and 5-minute aggregates, raw readings: the ledger itself is tested in
tests/integration/projects handover); the server's pass commissions the project on the reading's Shanghai day.
Headless Chromium (tests/e2e/cdp.py) logs in as the back office, finds the first production and the commissioning
"by the plant" on the project's timeline and the collection rate (25.0 %) per month and per rep on the report
page reached from the navigation, in en and zh-CN. Prints "skipped: ..." and passes without chromium.
`ctest -R handover_browser` (label browser)."""

import argparse
import datetime
import json
import os
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from browser_test import http, log_in, run_browser_test, server_config, start_server  # noqa: E402
from cdp import CdpError  # noqa: E402

PASSWORDS = {"office": "office-handover-e2e-pw", "pm": "pm-handover-e2e-pw"}
SITE = "sh-e2e"



def login(p, base, user):
    log_in(p, base, user, PASSWORDS[user])


def write_production(db_path, readings):
    """The rows ingest writes for these (t_ms, watts) readings of one inverter (the site's zone: Asia/Shanghai)."""
    con = sqlite3.connect(db_path, timeout=30)
    with con:
        first, last = readings[0][0], readings[-1][0]
        con.execute("INSERT INTO devices (site_id, device_id, first_seen_ms, last_seen_ms) VALUES (?, 'inv1', ?, ?)",
                    (SITE, first, last))
        samples = [{"t": t, "values": {"ac_power_w": w, "energy_total_wh": 1000 + w}} for t, w in readings]
        con.execute("INSERT INTO telemetry_raw (site_id, device_id, t_first_ms, seq, t_last_ms, n, samples) "
                    "VALUES (?, 'inv1', ?, 1, ?, ?, ?)", (SITE, first, last, len(readings), json.dumps(samples)))
        buckets, days = {}, {}
        for t, w in readings:
            buckets.setdefault(t - t % 300000, []).append((t, w))
            local = datetime.datetime.fromtimestamp(t / 1000, datetime.timezone(datetime.timedelta(hours=8)))
            days.setdefault(local.date().isoformat(), []).append((t, w))
        for bucket, rs in buckets.items():
            ws = [w for _, w in rs]
            con.execute("INSERT INTO telemetry_5min (site_id, device_id, bucket_ms, point, n, sum, min, max) "
                        "VALUES (?, 'inv1', ?, 'ac_power_w', ?, ?, ?, ?)", (SITE, bucket, len(ws), sum(ws), min(ws), max(ws)))
        for day, rs in days.items():
            ws = [w for _, w in rs]
            con.execute("INSERT INTO telemetry_daily (site_id, device_id, day, point, n, sum, min, max, first_t_ms, "
                        "first, last_t_ms, last) VALUES (?, 'inv1', ?, 'ac_power_w', ?, ?, ?, ?, ?, ?, ?, ?)",
                        (SITE, day, len(ws), sum(ws), min(ws), max(ws), rs[0][0], rs[0][1], rs[-1][0], rs[-1][1]))
    con.close()


def run(stack, browser, shots):
    work = stack.work
    cfg = server_config(stack, {"database": {"kind": "sqlite", "path": "server.db"},
                                "http": {"listen": "127.0.0.1", "port": 0}, "reminders": {"check_interval_s": 1}},
                        [(n, r, n.title(), PASSWORDS[n]) for n, r in (("office", "back_office"), ("pm", "project_manager"))])
    base = start_server(stack, cfg)

    status, session = http(base, "POST", "/api/login", {"user": "office", "password": PASSWORDS["office"]})
    assert status == 200, "office login: %s %s" % (status, session)
    token = session["token"]
    status, customer = http(base, "POST", "/api/customers", {"name": "Wang Fang"}, token=token)
    assert status == 201, "customer: %s %s" % (status, customer)
    status, site = http(base, "PUT", "/api/sites/" + SITE,
                        {"customer_id": customer["id"], "name": "Wang roof", "time_zone": "Asia/Shanghai"}, token=token)
    assert status in (200, 201), "site: %s %s" % (status, site)
    status, project = http(base, "POST", "/api/projects",
                           {"name": "Wang roof", "customer_id": customer["id"], "site_id": SITE, "manager": "pm"},
                           token=token)
    assert status == 201, "project: %s %s" % (status, project)
    pid = project["id"]
    today = datetime.date.today()
    status, got = http(base, "POST", "/api/projects/%d/contract" % pid,
                       {"number": "C-HO-1", "amount": 1000000, "currency": "EUR", "signed_on": str(today),
                        "status": "signed"}, token=token)
    assert status == 201, "contract: %s %s" % (status, got)
    status, got = http(base, "POST", "/api/projects/%d/instalments" % pid,
                       {"label": "Deposit", "amount": 400000, "due_on": str(today)}, token=token)
    assert status == 201, "instalment: %s %s" % (status, got)
    status, got = http(base, "POST", "/api/projects/%d/payments" % pid,
                       {"paid_on": str(today), "amount": 100000, "currency": "EUR", "method": "bank_transfer"},
                       token=token)
    assert status == 201, "payment: %s %s" % (status, got)

    # A heartbeat at 0 W, then production, both after the project was made.
    created = datetime.datetime.fromisoformat(project["created_at"].replace("Z", "+00:00"))
    t0 = int(created.timestamp() * 1000) + 2000
    write_production(os.path.join(work, "server.db"), [(t0, 0.0), (t0 + 10000, 640.0), (t0 + 20000, 700.0)])
    first_day = datetime.datetime.fromtimestamp((t0 + 10000) / 1000,
                                                datetime.timezone(datetime.timedelta(hours=8))).date().isoformat()
    deadline = time.monotonic() + 30
    while True:
        status, detail = http(base, "GET", "/api/projects/%d" % pid, token=token)
        done = [m for m in detail["milestones"] if m["key"] == "commissioning" and m["done_on"]]
        if done:
            break
        if time.monotonic() > deadline:
            raise CdpError("the commissioning milestone was not completed by the first production: %s" % detail)
        time.sleep(0.5)
    assert done[0]["done_on"] == first_day, (done[0], first_day)
    kinds = [e["kind"] for e in detail["timeline"]]
    assert "first_production" in kinds, kinds
    commissioned = [e for e in detail["timeline"] if e["kind"] == "milestone_done" and e["key"] == "commissioning"]
    assert commissioned and commissioned[0]["by"] == "system:handover", commissioned
    status, site = http(base, "GET", "/api/sites/" + SITE, token=token)
    assert site["commissioned_on"] == first_day and site["warranty_end"], site

    p = browser.new_page(new_context=True)
    login(p, base, "office")
    p.eval("location.hash = '#/projects/%d'" % pid)
    p.wait_testid("project-timeline", timeout=20)
    p.wait_for("%s.textContent.includes('First production')" % p.q("project-timeline"), timeout=20,
               what="the first production on the timeline")
    p.wait_for("%s.textContent.includes('by the plant (first production)')" % p.q("project-timeline"), timeout=20,
               what="the commissioning by the plant")
    assert "640 W" in p.text("project-timeline"), p.text("project-timeline")
    if shots:
        p.screenshot(os.path.join(shots, "project-handover.png"), full_page=True)

    # The collection report, from the navigation.
    p.wait_for("!!document.querySelector('a[href=\"#/reports/collections\"]')", timeout=20, what="the report's link")
    p.eval("document.querySelector('a[href=\"#/reports/collections\"]').click()")
    p.wait_testid("collections-by-month", timeout=20)
    p.wait_for("!!%s" % p.q("collections-month-rate"), timeout=20, what="a month's rate")
    assert p.text("collections-month-rate") == "25.0 %", p.text("collections-month-rate")
    assert p.text("collections-rep-rate") == "25.0 %", p.text("collections-rep-rate")
    assert "(no rep)" in p.text("collections-by-rep"), p.text("collections-by-rep")
    # A month range that is no month: refused in the page.
    p.fill("collections-from", "last year")
    p.click("collections-show")
    p.wait_for("%s.textContent.length > 0" % p.q("collections-error"), timeout=10, what="the bad month refused")
    if shots:
        p.screenshot(os.path.join(shots, "collections.png"), full_page=True)
    p.select("lang-switch", "zh-CN")
    p.wait_for("document.body.textContent.includes('回款率')", timeout=20, what="the zh-CN report")
    p.eval("location.hash = '#/projects/%d'" % pid)
    p.wait_for("document.body.textContent.includes('由电站（首次发电）完成')", timeout=20, what="the zh-CN timeline")

    # The project manager does not get the report (the API refuses them too).
    status, got = http(base, "POST", "/api/login", {"user": "pm", "password": PASSWORDS["pm"]})
    assert status == 200
    status, got = http(base, "GET", "/api/reports/collections", token=got["token"])
    assert status == 403, "the report for a project manager: %s %s" % (status, got)
    if p.errors:
        raise CdpError("script errors on the page: %s" % p.errors[:5])
    stack.check_alive()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--screenshots", help="save the project's page and the report as PNG to this folder")
    args = ap.parse_args()
    return run_browser_test("handover_browser", lambda stack, browser: run(stack, browser, args.screenshots), args.bin_dir,
                            env={"PVFLEET_KDF_ITERATIONS": "1000"})


if __name__ == "__main__":
    sys.exit(main())
