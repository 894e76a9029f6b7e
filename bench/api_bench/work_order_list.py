#!/usr/bin/env python3
"""Work-order list API under load (issue #6): 100 000 work orders stored, 200 requests/s measured with wrk,
latency median / p99 overall and per query shape, on the release pvfleet-server with SQLite.

    cmake --preset release && cmake --build build/release -j2 --target pvfleet-server
    python3 bench/api_bench/work_order_list.py --bin build/release/bin/pvfleet-server

This script prepares and orchestrates: it imports 2 000 customers with 10 000 sites (the server's own CSV import),
seeds the work orders, creates the users, starts the server, logs in once as a back-office user, and runs wrk with
paced.lua, which sends the requests at a fixed rate (R req/s over C keep-alive connections, each on its own
schedule) with the session token, rotating the query shapes. wrk prints its own latency distribution (--latency);
the Lua script also records every request (shape, latency, lateness behind its schedule, status), from which this
script computes the exact median / p99, the achieved rate (requests / wrk's measured duration) and the generator's
lateness, so a run where the client fell behind its schedule does not pass unnoticed. --runs N repeats wrk on
the same server and reports the median of the runs. --saturation adds a wrk run without pacing.
"""
import argparse, datetime, http.client, json, os, random, re, shutil, sqlite3, statistics, subprocess, sys, tempfile, threading, time

STATES = ["new"] * 3 + ["assigned"] * 2 + ["in_progress", "done"] + ["closed"] * 12 + ["cancelled"]
KINDS = ["not_producing", "comm_lost", "inverter_fault", "string_fault", "underperformance", "grid_outage"]
SEVERITY_PRIORITY = [("critical", "urgent", 1), ("major", "high", 3), ("minor", "normal", 14), ("info", "low", 30)]


def iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def customers_csv(path, sites, customers):
    """Every site belongs to one of `customers` customers (the server's import creates customers and sites)."""
    rng = random.Random(20261202)
    with open(path, "w") as f:
        f.write("customer_name,email,site_id,site_name\n")
        for i in range(sites):
            c = i if i < customers else rng.randrange(customers)  # each customer has at least one site
            f.write(f"Customer {c:05d},c{c:05d}@example.com,site-{i:05d},Site {i:05d}\n")


def seed(db_path, orders, sites, techs):
    rng = random.Random(20261201)
    db = sqlite3.connect(db_path)
    now = int(time.time() * 1000)
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


def pct(v, q):
    """The q-quantile of sorted v (nearest rank)."""
    return v[min(len(v) - 1, max(0, int(-(-q * len(v) // 1)) - 1))]


def run_wrk(a, port, token, shapes_file, out_file, rate, seconds, connections):
    env = {**os.environ, "PVF_TOKEN": token, "PVF_SHAPES": shapes_file, "PVF_RATE": str(rate),
           "PVF_CONNECTIONS": str(connections), "PVF_OUT": out_file}
    cmd = ["wrk", f"-t{connections}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s",
           "-s", os.path.join(os.path.dirname(os.path.abspath(__file__)), "paced.lua"), f"http://127.0.0.1:{port}"]
    text = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    per_shape, late, statuses, summary = {}, [], {}, {}
    for line in open(out_file):
        f = line.rstrip("\n").split("\t")
        if f[0] == "#wrk":
            summary = {k: int(v) for k, v in (x.split("=") for x in f[1:])}
            continue
        per_shape.setdefault(f[0], []).append(int(f[1]) / 1000)
        late.append(int(f[2]) / 1000)
        statuses[f[3]] = statuses.get(f[3], 0) + 1
    all_ms = sorted(x for v in per_shape.values() for x in v)
    return {"wrk_text": text, "summary": summary, "all": all_ms, "shapes": {k: sorted(v) for k, v in per_shape.items()},
            "late": sorted(late), "statuses": statuses, "rate": summary["requests"] / (summary["duration_us"] / 1e6)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--sites", type=int, default=10_000)
    ap.add_argument("--customers", type=int, default=2_000)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--connections", type=int, default=10, help="wrk connections (and threads)")
    ap.add_argument("--runs", type=int, default=3, help="wrk runs on the same server; the median run is reported")
    ap.add_argument("--saturation", action="store_true", help="also run wrk unpaced on the default list")
    ap.add_argument("--keep", action="store_true", help="keep the working directory (database, logs, wrk output)")
    a = ap.parse_args()
    if not shutil.which("wrk"): sys.exit("wrk is required (apt-get install wrk)")
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
        csv_path = os.path.join(work, "customers.csv")
        customers_csv(csv_path, a.sites, a.customers)
        subprocess.run([a.bin, "import", "customers", csv_path, "--config", conf], check=True, stdout=subprocess.DEVNULL)
        total, open_ = seed(os.path.join(work, "server.db"), a.orders, a.sites, techs)
        db = sqlite3.connect(os.path.join(work, "server.db"))
        # a customer of typical size (median number of work orders)
        by_customer = db.execute("SELECT s.customer_id, COUNT(*) FROM work_orders w JOIN sites s ON s.site_id = w.site_id "
                                 "GROUP BY s.customer_id ORDER BY 2, 1").fetchall()
        customer, customer_orders = by_customer[len(by_customer) // 2]
        site_orders = db.execute("SELECT COUNT(*) FROM work_orders WHERE site_id = 'site-00042'").fetchone()[0]
        db.close()
        print(f"seeded {total} work orders ({open_} open) on {a.sites} sites of {len(by_customer)} customers "
              f"in {time.time() - t0:.1f} s")
        log = open(os.path.join(work, "server.log"), "w")
        server = subprocess.Popen([a.bin, "run", "--config", conf, "--log-level", "warn"], stdout=log, stderr=subprocess.STDOUT)
        port = 0
        for _ in range(200):
            time.sleep(0.05)
            m = re.search(r"http listening on [0-9.]+:(\d+)", open(os.path.join(work, "server.log")).read())
            if m: port = int(m.group(1)); break
            out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout  # --log-level warn hides the line
            m = re.search(r"127\.0\.0\.1:(\d+).*pid=%d," % server.pid, out)
            if m: port = int(m.group(1)); break
        if not port: sys.exit("server did not start: " + open(os.path.join(work, "server.log")).read())
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request("POST", "/api/login", json.dumps({"user": "bench", "password": "bench password 123"}), {"Content-Type": "application/json"})
        token = json.loads(c.getresponse().read())["token"]
        auth = {"Authorization": "Bearer " + token}
        c.request("GET", "/api/work-orders?open=1&limit=50", headers=auth)
        page2 = json.loads(c.getresponse().read())["next_cursor"]
        shapes = [
            ("open, newest first", "/api/work-orders?open=1&limit=50"),
            ("state=new, by urgency", "/api/work-orders?state=new&sort=urgency&limit=50"),
            ("by technician, open", "/api/work-orders?assignee=tech7&open=1&limit=50"),
            ("priority=urgent", "/api/work-orders?priority=urgent&limit=50"),
            (f"by site ({site_orders})", "/api/work-orders?site_id=site-00042&limit=50"),
            (f"by customer ({customer_orders})", f"/api/work-orders?customer_id={customer}&limit=50"),
            ("page 2 (cursor)", f"/api/work-orders?open=1&limit=50&cursor={page2}"),
        ]
        for _, path in shapes:  # every shape answers 200 with items
            c.request("GET", path, headers=auth)
            r = c.getresponse(); body = json.loads(r.read())
            if r.status != 200 or not body["items"]: sys.exit(f"{path}: {r.status} {body}")
        shapes_file = os.path.join(work, "shapes.tsv")
        with open(shapes_file, "w") as f:
            for name, path in shapes: f.write(f"{name}\t{path}\n")
        print(f"wrk: {a.rate:.0f} req/s paced over {a.connections} keep-alive connections, {a.seconds} s per run, "
              f"{a.runs} run(s), {len(shapes)} query shapes in rotation")
        runs = []
        for i in range(a.runs):
            r = run_wrk(a, port, token, shapes_file, os.path.join(work, f"wrk-{i}.tsv"), a.rate, a.seconds, a.connections)
            runs.append(r)
            bad = sum(n for s, n in r["statuses"].items() if s != "200")
            print(f"run {i + 1}: {len(r['all'])} requests, achieved {r['rate']:.1f} req/s, {bad} non-200, "
                  f"{r['summary']['errors']} socket errors; median {statistics.median(r['all']):.2f} ms, "
                  f"p99 {pct(r['all'], 0.99):.2f} ms, max {r['all'][-1]:.2f} ms "
                  f"(wrk's histogram: p50 {r['summary']['p50_us'] / 1000:.2f} ms, p99 {r['summary']['p99_us'] / 1000:.2f} ms); "
                  f"generator lateness p99 {pct(r['late'], 0.99):.1f} ms")
        med = sorted(runs, key=lambda r: pct(r["all"], 0.99))[len(runs) // 2]
        print(f"\nmedian run (by p99), wrk --latency output:\n{med['wrk_text']}")
        print(f"{'shape':28s} {'n':>6s} {'median':>9s} {'p99':>9s} {'max':>9s}")
        print(f"{'all':28s} {len(med['all']):6d} {statistics.median(med['all']):7.2f}ms {pct(med['all'], 0.99):7.2f}ms {med['all'][-1]:7.2f}ms")
        for name, _ in shapes:
            v = med["shapes"].get(name, [])
            if v: print(f"{name:28s} {len(v):6d} {statistics.median(v):7.2f}ms {pct(v, 0.99):7.2f}ms {v[-1]:7.2f}ms")
        p99s = sorted(pct(r["all"], 0.99) for r in runs)
        meds = sorted(statistics.median(r["all"]) for r in runs)
        rates = sorted(r["rate"] for r in runs)
        print(f"\nover {len(runs)} runs: p99 {', '.join(f'{x:.2f}' for x in p99s)} ms (median {statistics.median(p99s):.2f}); "
              f"median {statistics.median(meds):.2f} ms; achieved rate {', '.join(f'{x:.1f}' for x in rates)} req/s")
        if a.saturation:
            out = subprocess.run(["wrk", "-t2", "-c4", "-d10s", "--latency", "-H", "Authorization: Bearer " + token,
                                  f"http://127.0.0.1:{port}{shapes[0][1]}"], capture_output=True, text=True).stdout
            print("wrk (saturation, first shape, unpaced):\n" + out)
    finally:
        if server: server.terminate(); server.wait(timeout=10)
        if a.keep: print("kept", work)
        else: shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
