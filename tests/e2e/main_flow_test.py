#!/usr/bin/env python3
"""The CRM's main flow in the browser, from first call to O&M (docs/projects.md, docs/notifications.md): mosquitto,
pvfleet-server, an SMTP sink; headless Chromium (tests/e2e/cdp.py).

1. The back office takes a call: a new lead through the form; the same person calling again attaches to that lead.
2. The lead is converted in the page into a customer, a project for the project manager and the site its gateway
   will report as.
3. The project manager, whose language is zh-CN, moves the project over from a spreadsheet: the grid-connection
   application was submitted 10 days ago (a past date through the milestone form).
4. The stall rule (application pending over 7 days) reminds the project manager and their supervisor: the reminder
   arrives by e-mail in each one's language and in the in-app inbox.
5. The gateway comes up: pvfleet-sim and pvfleet-edge for the project's site; its first production completes the
   commissioning milestone by itself, the project moves to O&M, and the project manager's page shows it.
Prints "skipped: ..." and passes without chromium or mosquitto. `ctest -R main_flow_browser` (label browser)."""

import argparse
import datetime
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from browser_test import http, log_in, run_browser_test, server_config, set_file, start_server  # noqa: E402
from cdp import CdpError  # noqa: E402
from pvfleet_stack import free_port, wait_until  # noqa: E402

PASSWORDS = {"office": "office-flow-e2e-pw", "pm": "pm-flow-e2e-pw", "boss": "boss-flow-e2e-pw",
             "admin": "admin-flow-e2e-pw"}
SITE_ID = "flow-site-1"
WEBHOOK_SECRET = "flow-e2e-webhook-secret-0123456789"
PM_EMAIL = "wang.fang@example.cn"
BOSS_EMAIL = "mia@example.com"



def login(p, base, user):
    log_in(p, base, user, PASSWORDS[user])


def set_date(p, testid, value):
    """A date input as a user's date picker leaves it (value, then input and change events)."""
    p.wait_testid(testid)
    p.eval("(() => { const e = %s; e.value = %s; e.dispatchEvent(new Event('input', {bubbles: true})); "
           "e.dispatchEvent(new Event('change', {bubbles: true})); })()" % (p.q(testid), json.dumps(value)))


SOURCE_DIR = [os.path.join(HERE, "..", "..")]


def args_source_dir():
    return SOURCE_DIR[0]


def start_gateway(stack, source_dir, mqtt_port, lon):
    """pvfleet-sim (one inverter under a clear mid-morning sky) and pvfleet-edge reporting as the project's site."""
    work = stack.work
    maps = os.path.join(source_dir, "firmware-config", "devices")
    sim_cfg = {"name": SITE_ID, "latitude_deg": 45.0, "longitude_deg": lon, "elevation_m": 200, "time_zone": "UTC",
               "clouds": "none", "listen": {"host": "127.0.0.1", "port": 0},
               "devices": [{"name": "inv1", "unit": 1, "profile": "sunspec", "ac_kw": 8.0, "phases": 3, "mppts": 2,
                            "manufacturer": "pvfleet", "model": "SIM-8K", "serial": "FLOW0001"}],
               "arrays": [{"id": "a", "device": "inv1", "mppt": 1, "dc_kwp": 4.5, "tilt_deg": 30, "azimuth_deg": 180},
                          {"id": "b", "device": "inv1", "mppt": 2, "dc_kwp": 4.5, "tilt_deg": 30, "azimuth_deg": 180}]}
    with open(os.path.join(work, "sim.json"), "w") as f:
        json.dump(sim_cfg, f)
    addr = stack.start_sim("sim", ["--site", os.path.join(work, "sim.json"), "--listen", "127.0.0.1:0", "--maps", maps])
    edge_cfg = {"format": 1, "site_id": SITE_ID, "config_version": "flow-1", "latitude": 45.0, "longitude": lon,
                "elevation_m": 200, "time_zone": "UTC",
                "endpoints": [{"id": "lan", "tcp": addr, "timing": {"pause_after_connect_ms": 0, "timeout_max_ms": 1000,
                                                                   "retries": 1}}],
                "inverters": [{"id": "inv1", "endpoint": "lan", "unit": 1, "profile": "auto", "ac_kw": 8.0}],
                "arrays": [{"inverter": "inv1", "dc_kw": 9.0, "tilt": 30, "azimuth": 180}],
                "poll": {"fast_s": 5, "slow_s": 30, "offline_max_s": 10},
                "store": {"path": "edge.db"}, "sync": {"batch_interval_s": 2},
                "mqtt": {"uri": "tcp://127.0.0.1:%d" % mqtt_port}, "maps_dir": maps}
    with open(os.path.join(work, "edge.json"), "w") as f:
        json.dump(edge_cfg, f)
    stack.start("edge", [stack.binary("bin/pvfleet-edge"), "run", "--config", "edge.json"], cwd=work)


def run(stack, browser, shots):
    work = stack.work
    mqtt_port = stack.start_mosquitto(extra_conf="max_queued_messages 100000\n")
    # The SMTP sink: every message as received and as Python's e-mail parser decodes it (tests/support).
    mail_dir = os.path.join(work, "mail")
    smtp_port = free_port()
    # Run by its own #! line: Debian's python3, which has aiosmtpd (python3-aiosmtpd).
    stack.start("smtp", [os.path.join(HERE, "..", "support", "smtp_sink.py"), str(smtp_port), mail_dir])
    stack.wait_log("smtp", r"listening \d+", timeout=20)
    cfg = server_config(stack, {"database": {"kind": "sqlite", "path": "server.db"},
                                "mqtt": {"uri": "tcp://127.0.0.1:%d" % mqtt_port, "client_id": "pvfleet-server-flow"},
                                "http": {"listen": "127.0.0.1", "port": 0},
                                "reminders": {"check_interval_s": 2},
                                "webhooks": {"allow_loopback": True},
                                "smtp": {"url": "smtp://127.0.0.1:%d" % smtp_port, "from": "noreply@example.com"}},
                        [(n, r, d, PASSWORDS[n]) for n, r, d in (
                            ("office", "back_office", "Olivia Office"), ("pm", "project_manager", "Wang Fang"),
                            ("boss", "manager", "Mia Manager"), ("admin", "admin", "Ada Admin"))])
    base = start_server(stack, cfg)
    status, session = http(base, "POST", "/api/login", {"user": "office", "password": PASSWORDS["office"]})
    assert status == 200, "office login: %s %s" % (status, session)
    office_token = session["token"]
    # The admin's part, not this flow's: the project manager's supervisor.
    status, got = http(base, "POST", "/api/login", {"user": "admin", "password": PASSWORDS["admin"]})
    assert status == 200
    admin_token = got["token"]
    status, got = http(base, "PATCH", "/api/users/pm", {"supervisor": "boss"}, token=admin_token)
    assert status == 200, "supervisor: %s %s" % (status, got)

    # 0. The admin subscribes the company's other system (a receiver checking every signature) to all events.
    receiver_log = os.path.join(work, "webhook-hits.jsonl")
    stack.start("receiver", [sys.executable, os.path.join(HERE, "..", "integration", "webhooks", "receiver.py"),
                             WEBHOOK_SECRET, receiver_log])
    receiver_port = int(stack.wait_log("receiver", r"listening on (\d+)", timeout=15).group(1))
    a = browser.new_page(new_context=True)
    login(a, base, "admin")
    a.eval("location.hash = '#/admin/webhooks'")
    a.fill("webhook-url", "http://127.0.0.1:%d/ok" % receiver_port)
    a.fill("webhook-secret", WEBHOOK_SECRET)
    a.click("webhook-event-all")
    a.click("webhook-create")
    a.wait_for("document.querySelectorAll('[data-testid=webhook-table] tbody tr').length === 1", timeout=20,
               what="the webhook listed")
    webhook_id = int(a.eval("document.querySelector('[data-testid=webhook-table] tbody tr').dataset.testid"
                            ".split('-')[1]"))
    a.click("webhook-test-%d" % webhook_id)
    a.wait_for("(%s || {textContent: ''}).textContent === 'Delivered'" % a.q("webhook-last-%d" % webhook_id),
               timeout=30, what="the test ping delivered (the page reloads its list)")

    # 1. The back office takes a call.
    p = browser.new_page(new_context=True)
    login(p, base, "office")
    p.eval("location.hash = '#/leads'")
    p.click("lead-new")
    p.fill("lead-new-name", "Hannah Sonnenschein")
    p.fill("lead-new-phone", "+49 171 5550199")
    p.fill("lead-new-email", "hannah@example.de")
    p.fill("lead-new-address", "Am Hang 3, Freiburg")
    p.fill("lead-new-monthly_bill", "twelve")
    p.click("lead-new-save")
    p.wait_for("%s.classList.contains('invalid')" % p.q("lead-new-monthly_bill"), timeout=10,
               what="the bill marked as no number")
    p.fill("lead-new-monthly_bill", "140")
    p.fill("lead-new-desired_kwp", "8,5")
    p.select("lead-new-roof_type", "tile")
    p.fill("lead-new-message", "Wants a quote for the south roof")
    p.click("lead-new-save")
    p.wait_testid("lead-score", timeout=20)
    lead_id = int(p.eval("location.hash.split('/')[2]"))
    status, lead = http(base, "GET", "/api/leads/%d" % lead_id, token=office_token)
    assert status == 200 and lead["desired_kwp"] == 8.5 and lead["monthly_bill"] == 140, lead
    # The same person calls again (the number written another way): the inquiry attaches to the lead.
    p.eval("location.hash = '#/leads/new'")
    p.fill("lead-new-name", "Hannah S.")
    p.fill("lead-new-phone", "+49 (171) 555-0199")
    p.fill("lead-new-message", "Called again: asks about a battery")
    p.click("lead-new-save")
    p.wait_for("location.hash === '#/leads/%d'" % lead_id, timeout=20, what="the repeat call on the same lead")
    p.wait_for("document.querySelectorAll('[data-testid=lead-inquiries] tbody tr').length === 2", timeout=20,
               what="two inquiries on the lead")

    # The rest of last month's leads come from a spreadsheet: a refused cell is named, nothing is written; mended,
    # all rows are.
    sheet = os.path.join(work, "leads.csv")
    with open(sheet, "w", encoding="utf-8") as f:
        f.write("name,phone,email,desired_kwp,message\nLi Wei,+86 138 0013 8000,li.wei@example.cn,6.5,屋顶朝南\n"
                "Jonas Berg,+49 30 5550177,,lots,wants a battery\n")
    p.eval("location.hash = '#/leads'")
    set_file(p, "lead-import-file", sheet)
    p.click("lead-import-send")
    p.wait_testid("lead-import-errors", timeout=20)
    refused = p.eval("[...document.querySelectorAll('[data-testid=lead-import-errors] tbody tr')]"
                     ".map(r => [...r.cells].map(c => c.textContent))")
    assert len(refused) == 1 and refused[0][0] == "3" and refused[0][1] == "desired_kwp", refused
    status, listed = http(base, "GET", "/api/leads", token=office_token)
    assert [x["name"] for x in listed["items"]] == ["Hannah Sonnenschein"], listed["items"]
    with open(sheet, "w", encoding="utf-8") as f:
        f.write("name,phone,email,desired_kwp,message\nLi Wei,+86 138 0013 8000,li.wei@example.cn,6.5,屋顶朝南\n"
                "Jonas Berg,+49 30 5550177,,8,wants a battery\n")
    set_file(p, "lead-import-file", sheet)
    p.click("lead-import-send")
    p.wait_testid("lead-import-done", timeout=20)
    p.wait_for("document.querySelectorAll('[data-testid=lead-table] tbody tr').length === 3", timeout=20,
               what="the imported leads listed")
    p.eval("location.hash = '#/leads/%d'" % lead_id)
    p.wait_testid("lead-score", timeout=20)

    # 2. Converted into a customer, a project for the project manager and the site.
    g = time.gmtime()
    lon = round(((10.5 - (g.tm_hour + g.tm_min / 60)) * 15 + 180) % 360 - 180, 2)  # mid-morning at the site now
    p.select("convert-manager", "pm")
    p.click("convert-with-site")
    p.fill("convert-site_id", SITE_ID)
    p.fill("convert-latitude", "45")
    p.fill("convert-longitude", str(lon))
    p.fill("convert-time_zone", "UTC")
    p.click("lead-convert")
    p.wait_testid("project-milestones", timeout=20)
    project_id = int(p.eval("location.hash.split('/')[2]"))
    status, project = http(base, "GET", "/api/projects/%d" % project_id, token=office_token)
    assert status == 200 and project["manager"] == "pm" and project["site_id"] == SITE_ID, project

    # 3. The project manager gives their e-mail address and language (zh-CN) on the settings page, and moves the
    #    project over from a spreadsheet: dates in the past.
    q = browser.new_page(new_context=True)
    login(q, base, "pm")
    q.eval("location.hash = '#/settings/notifications'")
    q.fill("notif-email", PM_EMAIL)
    q.select("notif-language", "zh-CN")
    q.click("notif-save")
    status, _ = http(base, "GET", "/api/inbox", token=office_token)  # (a request between: the save has landed)
    q.wait_for("document.querySelector('.toast') !== null", timeout=10, what="the settings saved")
    status, boss_session = http(base, "POST", "/api/login", {"user": "boss", "password": PASSWORDS["boss"]})
    assert status == 200
    status, got = http(base, "PUT", "/api/me/notification-settings", {"email": BOSS_EMAIL, "language": "en"},
                       token=boss_session["token"])
    assert status == 200, "boss settings: %s %s" % (status, got)
    q.select("lang-switch", "zh-CN")
    q.eval("location.hash = '#/projects/%d'" % project_id)
    q.wait_testid("project-milestones", timeout=20)
    submitted_on = str(datetime.date.today() - datetime.timedelta(days=10))
    q.click("milestone-edit-open")
    milestone = next(m for m in project["milestones"] if m["key"] == "grid_application_submitted")
    q.select("milestone-edit-pick", str(milestone["id"]))
    set_date(q, "milestone-edit-done", submitted_on)
    q.click("milestone-edit-save")
    q.wait_for("%s.textContent.trim() !== ''" % q.q("project-stage"), timeout=20, what="the project page again")
    status, project = http(base, "GET", "/api/projects/%d" % project_id, token=office_token)
    done = {m["key"]: m["done_on"] for m in project["milestones"]}
    assert done["grid_application_submitted"] == submitted_on, done

    # 4. The reminder: in the inbox of the project manager (the header's count) and of their supervisor.
    status, pm_session = http(base, "POST", "/api/login", {"user": "pm", "password": PASSWORDS["pm"]})
    assert status == 200
    deadline = time.monotonic() + 30
    inbox = None
    while time.monotonic() < deadline:
        status, inbox = http(base, "GET", "/api/inbox", token=pm_session["token"])
        if status == 200 and inbox["unread"] > 0:
            break
        time.sleep(0.5)
    assert inbox and inbox["unread"] > 0, "no reminder in the project manager's inbox: %s" % inbox
    q.eval("location.reload()")
    q.wait_for("(%s || {hidden: true}).hidden === false" % q.q("inbox-unread"), timeout=20,
               what="the unread count in the project manager's header")
    # …and by e-mail, each in the recipient's language, decoded by Python's own parser.
    def mails():
        if not os.path.isdir(mail_dir):
            return []
        return [json.load(open(os.path.join(mail_dir, n), encoding="utf-8"))
                for n in sorted(os.listdir(mail_dir)) if n.endswith(".json")]

    def reminder_to(address):
        return [m for m in mails() if address in m["rcpt_tos"] and "Hannah Sonnenschein PV" in m["subject"]]
    pm_mail = wait_until(lambda: reminder_to(PM_EMAIL), 60, step=0.5)
    assert pm_mail, "no reminder e-mail to the project manager: %s" % [(m["rcpt_tos"], m["subject"]) for m in mails()]
    assert pm_mail[0]["subject"].startswith("逾期："), pm_mail[0]["subject"]
    assert "项目" in pm_mail[0]["body"] and pm_mail[0]["charset"] == "utf-8", pm_mail[0]
    boss_mail = wait_until(lambda: reminder_to(BOSS_EMAIL), 60, step=0.5)
    assert boss_mail, "no e-mail to the supervisor: %s" % [(m["rcpt_tos"], m["subject"]) for m in mails()]
    assert boss_mail[0]["subject"].startswith(("Overdue: ", "Escalated: ")), boss_mail[0]["subject"]

    # 5. The installation is done (the rest of the spreadsheet's dates), and the gateway comes up.
    status, project = http(base, "GET", "/api/projects/%d" % project_id, token=office_token)
    last_day = datetime.date.today() - datetime.timedelta(days=1)
    for m in project["milestones"]:
        if m["key"] != "commissioning" and not m["done_on"]:
            status, got = http(base, "PATCH", "/api/projects/%d/milestones/%d" % (project_id, m["id"]),
                               {"done_on": str(last_day)}, token=office_token,
                               headers={"If-Match": '"v%d"' % m["version"]})
            assert status == 200, "milestone %s: %s %s" % (m["key"], status, got)
    start_gateway(stack, args_source_dir(), mqtt_port, lon)
    deadline = time.monotonic() + 120
    commissioning = None
    while time.monotonic() < deadline:
        status, project = http(base, "GET", "/api/projects/%d" % project_id, token=office_token)
        commissioning = next(m for m in project["milestones"] if m["key"] == "commissioning")
        if commissioning["done_on"]:
            break
        time.sleep(1)
    assert commissioning and commissioning["done_on"] == str(datetime.datetime.now(datetime.timezone.utc).date()), \
        "commissioning not completed by the gateway's first production: %s" % commissioning
    assert project["stage"] == "om", project["stage"]
    status, site = http(base, "GET", "/api/sites/%s" % SITE_ID, token=office_token)
    assert status == 200 and site.get("commissioned_on") == commissioning["done_on"], site
    # The project manager's page (zh-CN) shows the handover.
    q.eval("location.reload()")
    q.wait_testid("project-timeline", timeout=20)
    q.wait_for("%s.textContent.includes('O&M') || %s.textContent.includes('运维')" % (q.q("project-stage"),
                                                                                      q.q("project-stage")),
               timeout=20, what="the O&M stage on the project manager's page")
    # The other system heard of it, signed.
    hits = wait_until(lambda: [json.loads(line) for line in open(receiver_log)]
                      if any("site.first_production" in line for line in open(receiver_log)) else None, 30)
    assert hits, "no site.first_production at the webhook receiver"
    assert all(h["signature_ok"] for h in hits), [h for h in hits if not h["signature_ok"]]
    events = [h["event"] for h in hits]
    for name in ("webhook.test", "lead.created", "project.stage_changed", "milestone.overdue", "site.first_production"):
        assert name in events, "%s missing at the receiver: %s" % (name, events)
    if shots:
        q.screenshot(os.path.join(shots, "project-flow.png"), full_page=True)
    for page in (p, q, a):
        if page.errors:
            raise CdpError("script errors on the page: %s" % page.errors[:5])
    stack.check_alive()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--source-dir", default=os.path.join(HERE, "..", ".."))
    ap.add_argument("--screenshots", help="save pages as PNG to this folder")
    args = ap.parse_args()
    SOURCE_DIR[0] = os.path.abspath(args.source_dir)
    return run_browser_test("main_flow_browser", lambda stack, browser: run(stack, browser, args.screenshots),
                            args.bin_dir, env={"PVFLEET_KDF_ITERATIONS": "1000"}, needs=("mosquitto",))


if __name__ == "__main__":
    sys.exit(main())
