"""Data attacks: MQTT payload abuse on a real broker, CSV formula injection, wrong or missing personal-data key."""

import csv
import io
import json
import os
import re
import shutil
import subprocess
import threading
import time
import zlib

from hostile import NoResponse
from stack import child_env
from pvfleet_stack import wait_until  # noqa: E402 (on the path once stack is imported)

TOPIC = "pvfleet/v1/sites/%s/%s"
DEFAULT_MAX_SAMPLES = 450000  # used until docs/protocol.md documents the limit


def now_ms():
    return int(time.time() * 1000)


def telemetry(site, seq, samples=1, t0=None):
    t0 = t0 or now_ms() - 60000
    return {"v": 1, "kind": "telemetry", "site_id": site, "seq": seq, "sent_at": now_ms(),
            "devices": [{"device_id": "inv1", "t0": t0, "dt": [0] + [1] * (samples - 1),
                         "points": {"ac_power_w": [1000] * samples}}]}


def ticket_event(site, seq, ticket_id):
    t = now_ms()
    return {"v": 1, "kind": "ticket_event", "site_id": site, "seq": seq, "sent_at": t, "event": "opened", "at": t,
            "ticket": {"id": ticket_id, "device_id": "inv1", "fault_kind": "comm_lost", "severity": "major",
                       "state": "open", "summary": "inv1 silent (security test)", "evidence": [],
                       "opened_at": t, "updated_at": t}}


def status(site, last_seq):
    return {"v": 1, "kind": "status", "site_id": site, "state": "offline", "sent_at": now_ms(),
            "agent_version": "0.1.0", "config_version": "sec-1", "last_seq": last_seq}


class Mqtt:
    """mosquitto_pub for each message; one mosquitto_sub recording every command the server sends."""

    def __init__(self, stack):
        self.stack = stack
        self.port = stack.mqtt_port
        self.heard = []  # (site, command dict)
        self.lock = threading.Lock()
        self.sub = subprocess.Popen(
            [shutil.which("mosquitto_sub"), "-h", "127.0.0.1", "-p", str(self.port), "-q", "1",
             "-t", "pvfleet/v1/sites/+/commands", "-F", "%t %x"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        stack.procs["mosquitto_sub"] = self.sub
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.sub.stdout:
            topic, _, hexed = line.strip().partition(" ")
            try:
                raw = bytes.fromhex(hexed)
                if raw[:1] == b"\x78":
                    raw = zlib.decompress(raw)
                cmd = json.loads(raw)
            except (ValueError, zlib.error):
                continue
            with self.lock:
                self.heard.append((topic.split("/")[3], cmd))

    def commands(self):
        with self.lock:
            return list(self.heard)

    def publish(self, site, kind, payload):
        if isinstance(payload, dict):
            payload = json.dumps(payload, separators=(",", ":")).encode()
        path = os.path.join(self.stack.work, "payload.bin")
        with open(path, "wb") as f:
            f.write(payload)
        r = subprocess.run([shutil.which("mosquitto_pub"), "-h", "127.0.0.1", "-p", str(self.port), "-q", "1",
                            "-t", TOPIC % (site, kind), "-f", path], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("mosquitto_pub: %s" % r.stderr.strip())


def ingest_stats(ctx):
    return (ctx.server.request("GET", "/api/stats", token=ctx.tokens["back_office"]).json() or {}).get("ingest", {})


def site_known(ctx, site, timeout=15.0):
    try:
        r = ctx.server.request("GET", "/api/sites/%s" % site, token=ctx.tokens["back_office"], timeout=timeout)
    except (NoResponse, OSError):
        return False
    return r.status == 200


def wait_for(pred, timeout, step=0.3):
    return wait_until(pred, timeout, step)


def documented_max_samples(source_dir):
    """The samples-per-batch limit docs/protocol.md states: a line that speaks of samples and of a maximum
    ("at most", "max", "limit"), not of bytes; its first number of at least 1000. None when there is none."""
    with open(os.path.join(source_dir, "docs", "protocol.md"), encoding="utf-8") as f:
        text = f.read()
    for line in text.splitlines():
        low = line.lower()
        if "sample" not in low or not any(w in low for w in ("at most", "max", "limit")):
            continue
        if "bytes" in low or "b/sample" in low:
            continue
        for m in re.finditer(r"\d[\d \u202f\u00a0,]*\d|\d", line):
            n = int(re.sub(r"\D", "", m.group(0)))
            if n >= 1000:
                return n
    return None


def fenced(ctx, fence_site, timeout):
    """Publishes a valid batch for `fence_site` and waits until it is stored: ingest handles messages in order,
    so everything published before it has been stored or rejected by then. Seconds waited, or None."""
    t0 = time.monotonic()
    ctx.mqtt.publish(fence_site, "telemetry", telemetry(fence_site, 1, 3))
    if wait_for(lambda: site_known(ctx, fence_site), timeout, step=0.5):
        return time.monotonic() - t0
    return None


def rejected_since(ctx, before):
    return ingest_stats(ctx).get("rejected", 0) - before.get("rejected", 0)


def check_mqtt_abuse(ctx):
    c, mq = ctx.checks, ctx.mqtt
    documented = documented_max_samples(ctx.source_dir)
    max_samples = documented or DEFAULT_MAX_SAMPLES - 1
    c.note("samples per batch: %s" % ("%d documented in docs/protocol.md" % documented if documented
                                      else "no limit documented yet; sending %d" % DEFAULT_MAX_SAMPLES))
    abuse = [
        ("payload site_id ≠ topic", "sec-mq-topic", "telemetry", telemetry("sec-mq-other", 1), ["sec-mq-other"]),
        ("oversized payload (1.2 MB)", "sec-mq-big", "telemetry",
         b'{"v":1,"kind":"telemetry","site_id":"sec-mq-big","seq":1,"sent_at":1,"devices":[],"pad":"'
         + b"x" * 1200000 + b'"}', []),
        ("seq = 2^63", "sec-mq-seq63", "telemetry", telemetry("sec-mq-seq63", 2 ** 63), []),
        ("seq = 2^53", "sec-mq-seq53", "telemetry", telemetry("sec-mq-seq53", 2 ** 53), []),
    ]
    # A site with one stored batch, then a status claiming last_seq 2^62: no tail gap, no resends.
    mq.publish("sec-mq-last", "telemetry", telemetry("sec-mq-last", 1))
    wait_for(lambda: site_known(ctx, "sec-mq-last"), 15)
    before = ingest_stats(ctx)
    heard_before = len(mq.commands())
    for _, site, kind, payload, _ in abuse:
        mq.publish(site, kind, payload)
    mq.publish("sec-mq-last", "status", status("sec-mq-last", 2 ** 62))
    waited = fenced(ctx, "sec-mq-fence-1", 30)
    c.check("server ingests a valid message after abusive ones", waited is not None,
            "stored after %.1f s" % waited if waited is not None else "not stored within 30 s")
    rejected = rejected_since(ctx, before)
    c.check("abusive MQTT messages are rejected and counted", rejected == len(abuse) + 1,
            "%d rejected of %d" % (rejected, len(abuse) + 1))
    for name, site, _, _, others in abuse:
        stored = [x for x in [site] + others if site_known(ctx, x)]
        c.check("MQTT %s: nothing stored" % name, not stored, "site(s) created: %s" % stored if stored else "")
    # The 2^62 status: watch the commands topic for a few gap rounds (grace 1 s, retry 2 s).
    time.sleep(5)
    resends = [cmd for site, cmd in mq.commands()[heard_before:] if site == "sec-mq-last"]
    spans = [cmd.get("args", {}).get("to_seq", 0) - cmd.get("args", {}).get("from_seq", 0) + 1 for cmd in resends]
    c.check("status last_seq = 2^62 causes no resend commands", not resends,
            "%d resend command(s), ranges %s" % (len(resends), spans[:5]))
    too_wide = [cmd["args"] for _, cmd in mq.commands() if cmd.get("command") == "resend"
                and cmd.get("args", {}).get("to_seq", 0) - cmd.get("args", {}).get("from_seq", 0) >= 10000]
    c.check("no resend command asks for more than 10 000 seqs", not too_wide, "%s" % too_wide[:3])

    # One small compressed batch with too many samples: rejected, and the API does not stall meanwhile.
    before = ingest_stats(ctx)
    many = max_samples + 1
    mq.publish("sec-mq-many", "telemetry", zlib.compress(json.dumps(
        telemetry("sec-mq-many", 1, many, t0=now_ms() - 3600000), separators=(",", ":")).encode()))
    mq.publish("sec-mq-fence-2", "telemetry", telemetry("sec-mq-fence-2", 1, 3))
    slowest, stored, t0 = 0.0, False, time.monotonic()
    while not stored and time.monotonic() - t0 < 120:
        t1 = time.monotonic()
        stored = site_known(ctx, "sec-mq-fence-2", timeout=10)
        slowest = max(slowest, time.monotonic() - t1)
        time.sleep(0.3)
    c.check("the API answers within 1 s while a %d-sample batch arrives" % many, slowest < 1.0,
            "slowest answer %.2f s" % slowest)
    c.check("batch of %d samples (over the limit) is rejected, nothing stored" % many,
            stored and rejected_since(ctx, before) == 1 and not site_known(ctx, "sec-mq-many"),
            "rejected +%d, site %s, next message stored %s" % (
                rejected_since(ctx, before), "created" if site_known(ctx, "sec-mq-many") else "not created",
                "after %.1f s" % (time.monotonic() - t0) if stored else "not within 120 s"))


# ---- CSV formula injection ----

FORMULAS = ('=HYPERLINK("http://x","y")', "+SUM(1,2)", "-2+3", "@SUM(1)")


def check_csv_injection(ctx):
    c = ctx.checks
    office = ctx.tokens["back_office"]
    ids = []
    for i, text in enumerate(FORMULAS):
        r = ctx.server.json_request("POST", "/api/customers", {"name": text, "address": text,
                                                               "notes": "csv %d" % i}, token=office)
        if r.status == 201:
            ids.append(r.json()["id"])
        else:
            c.check("customer named %s is accepted" % text, False, repr(r))
    customers = [ctx.server.request("GET", "/api/customers/%s" % i, token=office).json() for i in ids]
    kept = [x["name"] for x in customers] == list(FORMULAS)
    c.check("the API keeps formula-like names as typed", kept, repr([x["name"] for x in customers]))
    c.note("the server writes no CSV itself (export is client-side, server/web/js/csv.js); checking that writer")
    node = shutil.which("node")
    if not node:
        c.note("skipped: the web app's CSV writer needs node")
        return
    script = ("import { toCsv } from %s;\n"
              "const rows = JSON.parse(require_stdin());\n" % json.dumps("file://" + os.path.join(
                  ctx.source_dir, "server", "web", "js", "csv.js")))
    script = script.replace("require_stdin()", "(await new Promise((ok) => { let s = ''; "
                                                "process.stdin.on('data', (d) => s += d); "
                                                "process.stdin.on('end', () => ok(s)); }))")
    script += ("process.stdout.write(toCsv(rows, [{label: 'name', value: (r) => r.name}, "
               "{label: 'address', value: (r) => r.address}]));\n")
    r = subprocess.run([node, "--input-type=module", "-e", script], input=json.dumps(customers),
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        c.check("the web app's CSV writer runs", False, r.stderr.strip()[:300])
        return
    rows = list(csv.reader(io.StringIO(r.stdout)))[1:]
    cells = [cell for row in rows for cell in row]
    dangerous = [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    visible = all(any(f in cell for cell in cells) for f in FORMULAS)
    c.check("CSV export neutralises cells starting with = + - @ (text kept)", not dangerous and visible,
            "dangerous cells %r" % dangerous[:4] if dangerous else "cells %r" % cells[:4])


# ---- personal-data key ----

def run_server_once(ctx, config, timeout=40):
    """Runs `pvfleet-server run` with this config; (exit code or None if it started, output)."""
    s = ctx.stack
    out_path = os.path.join(s.work, "keycheck-%d.log" % time.monotonic_ns())
    with open(out_path, "wb") as out:
        p = subprocess.Popen([s.server_bin, "run", "--config", config], stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, cwd=s.work, env=child_env(ctx.marker))
    deadline = time.monotonic() + timeout
    code = None
    while time.monotonic() < deadline:
        code = p.poll()
        with open(out_path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        if code is not None or "http listening on" in text:
            break
        time.sleep(0.2)
    if code is None:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    with open(out_path, encoding="utf-8", errors="replace") as f:
        return code, f.read()


def check_key_start_up(ctx):
    """Call with the main server stopped."""
    c, s = ctx.checks, ctx.stack
    key = os.path.join(s.data, "secret.key")
    other = os.path.join(s.work, "other.key")
    with open(other, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    os.chmod(other, 0o600)
    cfg = os.path.join(s.work, "server-other-key.json")
    s.write_server_config(cfg, secret_key_file=other)
    code, text = run_server_once(ctx, cfg)
    c.check("server with another key for the same database exits non-zero naming the key file",
            code not in (None, 0) and other in text,
            "started and served" if code is None else "exit %s: %s" % (code, text.strip()[-200:]))
    saved = key + ".saved"
    os.rename(key, saved)
    try:
        code, text = run_server_once(ctx, s.server_config)
        created = os.path.exists(key)
        c.check("server without its key file refuses to start and creates no new key",
                code not in (None, 0) and not created and key in text,
                "%s; %s" % ("started and served" if code is None else "exit %s" % code,
                            "a new key file was created" if created else "no key file created"))
    finally:
        if os.path.exists(key):
            os.remove(key)
        os.rename(saved, key)
