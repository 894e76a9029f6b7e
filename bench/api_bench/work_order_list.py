#!/usr/bin/env python3
"""Work-order list API under load (issue #6): 100 000 work orders stored, 200 requests/s for --seconds,
latency median / p99 per query shape, on the release pvfleet-server with SQLite.

    cmake --preset release && cmake --build build/release -j2 --target pvfleet-server
    python3 bench/api_bench/work_order_list.py --bin build/release/server/server_app/pvfleet-server

The load generator keeps a fixed schedule over keep-alive connections (each connection sends its share of the
200 req/s at fixed times), so the latency is that of a request at 200 req/s, not under saturation; the
generator's own lag behind its schedule is reported too, so an overloaded client does not go unnoticed. If `wrk` is
installed it also reports the saturation throughput of the first query shape.
"""
import argparse, datetime, http.client, json, os, random, re, shutil, sqlite3, statistics, subprocess, sys, tempfile, threading, time

STATES = ["new"] * 3 + ["assigned"] * 2 + ["in_progress", "done"] + ["closed"] * 12 + ["cancelled"]
KINDS = ["not_producing", "comm_lost", "inverter_fault", "string_fault", "underperformance", "grid_outage"]
SEVERITY_PRIORITY = [("critical", "urgent", 1), ("major", "high", 3), ("minor", "normal", 14), ("info", "low", 30)]


def iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def seed(db_path, orders, sites, techs):
    rng = random.Random(20261201)
    db = sqlite3.connect(db_path)
    now = int(time.time() * 1000)
    db.executemany("INSERT INTO sites (site_id, created_at_ms, updated_at_ms) VALUES (?, ?, ?)",
                   [(f"site-{i:05d}", now, now) for i in range(sites)])
    rows = []
    for i in range(1, orders + 1):
        site = f"site-{rng.randrange(sites):05d}"
        state = rng.choice(STATES)
        sev, prio, days = rng.choice(SEVERITY_PRIORITY)
        created = now - rng.randrange(365 * 86400) * 1000
        due = created + days * 86400 * 1000
        is_open = 0 if state in ("closed", "cancelled") else 1
        kind = rng.choice(KINDS)
        device = f"inv{rng.randrange(1, 3)}"
        assignee = None if state == "new" else rng.choice(techs)
        closed = created + rng.randrange(1, days * 86400) * 1000 if not is_open else None
        body = {"id": 0, "site_id": site, "device_id": device, "fault_kind": kind, "severity": sev, "priority": prio,
                "state": state, "created_at": iso(created), "updated_at": iso(created), "due_at": iso(due),
                "ticket_id": f"{device}-{kind}-{i}", "summary": f"{device} {kind.replace('_', ' ')}",
                "evidence": [{"name": "ac_power_w", "observed": 0.0, "expected": 3200.0, "unit": "W", "t": iso(created)}],
                "condition_cleared": False, "cleared_at": None, "assignee": assignee,
                "closed_at": iso(closed) if closed else None, "close_reason": "", "reopen_count": 0}
        rows.append((site, device, kind, sev, prio, state, is_open, body["ticket_id"], body["summary"], assignee,
                     created, created, due, closed, json.dumps(body)))
    # Older orders closed: at most one open per (site, device, kind), as the one-open index demands.
    seen = set()
    fixed = []
    for r in reversed(rows):
        key = (r[0], r[1], r[2])
        if r[6] == 1 and key in seen:
            body = json.loads(r[14]); body["state"] = "closed"; body["closed_at"] = body["updated_at"]
            r = r[:5] + ("closed", 0) + r[7:13] + (r[10],) + (json.dumps(body),)
        if r[6] == 1: seen.add(key)
        fixed.append(r)
    db.executemany("INSERT INTO work_orders (site_id, device_id, kind, severity, priority, state, is_open, ticket_id, summary, "
                   "assignee, created_at_ms, updated_at_ms, due_at_ms, closed_at_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                   "?, ?, ?, ?, ?, ?)", reversed(fixed))
    db.commit()
    return db.execute("SELECT COUNT(*), SUM(is_open) FROM work_orders").fetchone()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--sites", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--connections", type=int, default=4)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="pvfleet-api-bench-")
    server = None
    try:
        conf = os.path.join(work, "server.json")
        json.dump({"database": {"kind": "sqlite", "path": "server.db"}, "http": {"listen": "127.0.0.1", "port": 0}}, open(conf, "w"))
        subprocess.run([a.bin, "migrate", "--config", conf], check=True, stdout=subprocess.DEVNULL)
        techs = [f"tech{i}" for i in range(20)]
        for name, role in [("bench", "back_office")] + [(t, "technician") for t in techs]:
            subprocess.run([a.bin, "user", "add", "--config", conf, "--name", name, "--role", role], input=b"bench password 123\n",
                           check=True, stdout=subprocess.DEVNULL, env={**os.environ, "PVFLEET_KDF_ITERATIONS": "1000"})
        t0 = time.time()
        total, open_ = seed(os.path.join(work, "server.db"), a.orders, a.sites, techs)
        print(f"seeded {total} work orders ({open_} open) on {a.sites} sites in {time.time() - t0:.1f} s")
        log = open(os.path.join(work, "server.log"), "w")
        server = subprocess.Popen([a.bin, "run", "--config", conf, "--log-level", "warn"], stdout=log, stderr=subprocess.STDOUT)
        port = 0
        for _ in range(200):
            time.sleep(0.05)
            m = re.search(r"http listening on [0-9.]+:(\d+)", open(os.path.join(work, "server.log")).read())
            if m: port = int(m.group(1)); break
        if not port:
            # --log-level warn hides the line: fall back to asking the OS
            out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
            m = re.search(r"127\.0\.0\.1:(\d+).*pid=%d" % server.pid, out)
            port = int(m.group(1)) if m else 0
        if not port: sys.exit("server did not start: " + open(os.path.join(work, "server.log")).read())
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request("POST", "/api/login", json.dumps({"user": "bench", "password": "bench password 123"}), {"Content-Type": "application/json"})
        token = json.loads(c.getresponse().read())["token"]
        page2 = json.loads((lambda r: r.read())((c.request("GET", "/api/work-orders?limit=50", headers={"Authorization": "Bearer " + token}), c.getresponse())[1]))["next_cursor"]
        shapes = [
            ("open, newest first", "/api/work-orders?open=1&limit=50"),
            ("state=new, urgency", "/api/work-orders?state=new&sort=urgency&limit=50"),
            ("by technician", "/api/work-orders?assignee=tech7&open=1&limit=50"),
            ("by site", "/api/work-orders?site_id=site-00042&limit=50"),
            ("priority=urgent", "/api/work-orders?priority=urgent&limit=50"),
            ("page 2 (cursor)", f"/api/work-orders?limit=50&cursor={page2}"),
        ]
        lat = {name: [] for name, _ in shapes}
        errors = [0]
        late = []  # how far behind its schedule each request went out (the generator's own lag)
        interval = a.connections / a.rate
        start = time.perf_counter() + 0.2
        lock = threading.Lock()

        def worker(k):
            conn = http.client.HTTPConnection("127.0.0.1", port)
            n = 0
            while True:
                due = start + (n * a.connections + k) / a.rate
                if due - start > a.seconds: return
                wait = due - time.perf_counter()
                if wait > 0: time.sleep(wait)
                name, path = shapes[(n * a.connections + k) % len(shapes)]
                t = time.perf_counter()
                conn.request("GET", path, headers={"Authorization": "Bearer " + token})
                r = conn.getresponse(); r.read()
                ms = (time.perf_counter() - t) * 1000
                with lock:
                    lat[name].append(ms)
                    late.append(max(0.0, t - due) * 1000)
                    if r.status != 200: errors[0] += 1
                n += 1

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(a.connections)]
        for th in threads: th.start()
        for th in threads: th.join()
        all_ms = sorted(x for v in lat.values() for x in v)
        p = lambda v, q: v[min(len(v) - 1, int(q * len(v)))]
        print(f"{len(all_ms)} requests in {a.seconds:.0f} s ({len(all_ms) / a.seconds:.0f} req/s, {errors[0]} errors), "
              f"{a.connections} keep-alive connections")
        print(f"all: median {statistics.median(all_ms):.2f} ms, p99 {p(all_ms, 0.99):.2f} ms, max {all_ms[-1]:.2f} ms; "
              f"generator lag p99 {sorted(late)[int(0.99 * (len(late) - 1))]:.1f} ms")
        for name, v in lat.items():
            v.sort()
            print(f"  {name:22s} median {statistics.median(v):6.2f} ms  p99 {p(v, 0.99):6.2f} ms  (n={len(v)})")
        if shutil.which("wrk"):
            out = subprocess.run(["wrk", "-t2", "-c4", "-d10s", "--latency", "-H", "Authorization: Bearer " + token,
                                  f"http://127.0.0.1:{port}{shapes[0][1]}"], capture_output=True, text=True).stdout
            print("wrk (saturation, first shape):\n" + out)
    finally:
        if server: server.terminate(); server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
