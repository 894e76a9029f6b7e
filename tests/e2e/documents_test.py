#!/usr/bin/env python3
"""Browser test of documents and photos (docs/documents.md): pvfleet-server alone (no broker), a work order
assigned to a technician written into its SQLite database; headless Chromium (tests/e2e/cdp.py) logs in as the
technician, finds the camera-opening file input on their work order, uploads a photo (a PNG made here) and sees
its thumbnail (served at size=thumb, 320 px) in en and zh-CN; the thumbnail's bytes are fetched again and the
original is the upload byte for byte. The serial field of the visit form: without BarcodeDetector (headless
Chromium on Linux has none) there is no Scan button and typing works; with a page-injected fake BarcodeDetector
and Chromium's fake camera (--use-fake-device-for-media-stream) the Scan button opens the camera and fills the
field with what the detector read from the video. Prints "skipped: ..." and passes without chromium.
`ctest -R documents_browser` (label browser)."""

import argparse
import json
import os
import sqlite3
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from browser_test import http, log_in, run_browser_test, server_config, set_file, start_server  # noqa: E402
from cdp import CdpError  # noqa: E402

PASSWORDS = {"office": "office-documents-e2e-pw", "tech": "tech-documents-e2e-pw"}

# A fake BarcodeDetector: it "reads" a code only from a video that has frames (the fake camera's).
FAKE_DETECTOR = """
window.__detects = 0;
window.BarcodeDetector = class {
  static async getSupportedFormats() { return ['qr_code', 'code_128']; }
  async detect(source) {
    window.__detects++;
    const ready = source && source.readyState >= 2 && source.videoWidth > 0;
    return ready ? [{ rawValue: 'SN-FAKE-4711', format: 'code_128' }] : [];
  }
};
"""


def png(width, height):
    """A PNG: the top-left quarter red, the rest blue."""
    rows = b""
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            row += b"\xe6\x14\x14" if (x < width // 2 and y < height // 2) else b"\x14\x14\xe6"
        rows += bytes(row)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))



def login(p, base, user):
    log_in(p, base, user, PASSWORDS[user])


def run(stack, browser):
    work = stack.work
    cfg = server_config(stack, {"database": {"kind": "sqlite", "path": "server.db"},
                                "http": {"listen": "127.0.0.1", "port": 0}},
                        [(n, r, n.title(), PASSWORDS[n]) for n, r in (("office", "back_office"), ("tech", "technician"))])
    # A site, its inverter and an open work order assigned to the technician (the gateway's part of the story is
    # tested elsewhere).
    db = sqlite3.connect(os.path.join(work, "server.db"))
    db.execute("INSERT INTO sites (site_id, name, created_at_ms, updated_at_ms) VALUES ('doc-site', 'Roof', 0, 0)")
    db.execute("INSERT INTO devices (site_id, device_id, vendor, model, serial, first_seen_ms, last_seen_ms) "
               "VALUES ('doc-site', 'inv1', 'SMA', 'STP 10', 'SN-OLD-1', 0, 0)")
    wo = db.execute("INSERT INTO work_orders (site_id, device_id, kind, severity, priority, state, is_open, assignee, "
                    "summary, created_at_ms, updated_at_ms, due_at_ms, body) VALUES ('doc-site', 'inv1', "
                    "'inverter_fault', 'major', 'high', 'assigned', 1, 'tech', 'Inverter fault', 1767225600000, "
                    "1767225600000, 4102444800000, '{}') RETURNING id").fetchone()[0]
    # The order as the work-order rules store it (workorders::work_order_to_json).
    body = {"id": wo, "site_id": "doc-site", "device_id": "inv1", "fault_kind": "inverter_fault", "input": None,
            "severity": "major", "priority": "high", "state": "assigned", "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z", "due_at": "2099-12-31T00:00:00Z", "ticket_id": "",
            "summary": "Inverter fault", "evidence": [], "condition_cleared": False, "cleared_at": None,
            "assignee": "tech", "closed_at": None, "close_reason": "", "reopen_count": 0}
    db.execute("UPDATE work_orders SET body = ? WHERE id = ?", (json.dumps(body), wo))
    db.commit()
    db.close()
    base = start_server(stack, cfg)
    photo = os.path.join(work, "serial-plate.png")
    with open(photo, "wb") as f:
        f.write(png(400, 300))

    # The technician's phone: the documents card on their order.
    p = browser.new_page(new_context=True, width=390, height=844)
    assert p.eval("'BarcodeDetector' in window") is False, "this Chromium has a BarcodeDetector: the fallback is untested"
    login(p, base, "tech")
    p.eval("location.hash = '#/my/%d'" % wo)
    p.wait_testid("documents-card", timeout=20)
    p.wait_testid("doc-empty", timeout=20)
    assert p.eval("%s.getAttribute('capture')" % p.q("doc-file-input")) == "environment", "the camera does not open"
    assert p.eval("%s.getAttribute('accept')" % p.q("doc-file-input")) == "image/*,application/pdf"
    p.select("doc-category", "serial_plate")
    p.fill("doc-caption", "Plate of inv1")
    set_file(p, "doc-file-input", photo)
    p.click("doc-upload")
    p.wait_for("(() => { const i = document.querySelector('[data-testid=doc-thumb]'); "
               "return !!i && i.complete && i.naturalWidth > 0; })()", timeout=20, what="the thumbnail loaded")
    size = p.eval("(() => { const i = document.querySelector('[data-testid=doc-thumb]'); "
                  "return [i.naturalWidth, i.naturalHeight]; })()")
    assert size == [320, 240], "thumbnail size %s" % size
    assert "Plate of inv1" in p.text("documents-card"), p.text("documents-card")
    assert "Serial plate" in p.text("documents-card"), p.text("documents-card")
    # What the server stored is the upload, byte for byte.
    status, session = http(base, "POST", "/api/login", {"user": "office", "password": PASSWORDS["office"]})
    assert status == 200
    status, listed = http(base, "GET", "/api/work-orders/%d/documents" % wo, token=session["token"])
    assert status == 200 and len(listed["items"]) == 1, listed
    status, original = http(base, "GET", listed["items"][0]["content_url"], token=session["token"], raw=True)
    with open(photo, "rb") as f:
        assert status == 200 and original == f.read(), "the original differs from the upload"

    # The serial field without BarcodeDetector: no Scan button, typing works.
    p.click("note-add-part")
    p.wait_testid("part-serial-0")
    assert not p.exists("serial-scan"), "a Scan button without BarcodeDetector"
    p.fill("part-serial-0", "SN-TYPED-1")

    p.select("lang-switch", "zh-CN")
    p.wait_for("document.body.textContent.includes('文件与照片')", timeout=20, what="the zh-CN documents card")
    p.wait_for("document.body.textContent.includes('铭牌')", timeout=20, what="the zh-CN category")
    p.wait_for("(() => { const i = document.querySelector('[data-testid=doc-thumb]'); "
               "return !!i && i.complete && i.naturalWidth === 320; })()", timeout=20, what="the zh-CN thumbnail")
    p.select("lang-switch", "en")

    # With a (fake) BarcodeDetector and Chromium's fake camera: Scan fills the field from the video.
    q = browser.new_page(new_context=True, width=390, height=844)
    q.send("Page.addScriptToEvaluateOnNewDocument", {"source": FAKE_DETECTOR})
    login(q, base, "tech")
    q.eval("location.hash = '#/my/%d'" % wo)
    q.wait_testid("note-add-part", timeout=20)
    q.click("note-add-part")
    q.wait_for("(() => { const b = document.querySelector('[data-testid=serial-scan]'); return !!b && !b.hidden; })()",
               timeout=20, what="the Scan button (a camera found)")
    q.click("serial-scan")
    q.wait_for("%s.value === 'SN-FAKE-4711'" % q.q("part-serial-0"), timeout=30, what="the scanned serial")
    q.wait_for("!document.querySelector('[data-testid=scan-overlay]')", timeout=10, what="the scanner closed")
    assert q.eval("window.__detects") >= 1
    # Typing over it still works.
    q.fill("part-serial-0", "SN-TYPED-2")
    for page in (p, q):
        if page.errors:
            raise CdpError("script errors on the page: %s" % page.errors[:5])
    stack.check_alive()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", required=True)
    args = ap.parse_args()
    return run_browser_test("documents_browser", run, args.bin_dir, env={"PVFLEET_KDF_ITERATIONS": "1000"},
                            browser_args=("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"))


if __name__ == "__main__":
    sys.exit(main())
