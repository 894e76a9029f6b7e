#!/usr/bin/env python3
"""Login flood against pvfleet-server (issue #15, item 6): does password hashing stall the other requests?

    python3 bench/api_bench/login_flood.py --bin build/dev/bin/pvfleet-server

Prepares a fresh SQLite database with one user (the server's own `user add`), starts the server on a free
loopback port (no MQTT) and probes GET /api/health on its own connection every --interval seconds: first idle,
then while --clients threads each send logins back to back (each a PBKDF2-HMAC-SHA256 check at the production
cost of 210 000 iterations), each client as its own user. The logins use the right password: failed ones would
be refused (429) after a few attempts by the login limits, and then no hash would be computed at all; one user
for all clients would hit the per-account limit on attempts in flight. Prints the health latency (median,
p99, max) idle and under the flood, the logins per second and their statuses. Everything stays on 127.0.0.1 and
stops by itself.
"""
import argparse, http.client, json, os, re, shutil, statistics, subprocess, sys, tempfile, threading, time


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def summary(result):
    ms, timeouts = result
    return (f"n={len(ms)} median {statistics.median(ms):.1f} ms, p99 {percentile(ms, 99):.1f} ms, "
            f"max {max(ms):.1f} ms, {timeouts} without an answer within 10 s")


def start_server(binary, work, users):
    config = os.path.join(work, "server.json")
    with open(config, "w") as f:
        json.dump({"database": {"kind": "sqlite", "path": "server.db"}, "http": {"listen": "127.0.0.1", "port": 0},
                   "secret_key_file": "secret.key"}, f)
    with open(os.path.join(work, "secret.key"), "w") as f:
        f.write("00" * 32)
    with open(os.path.join(work, "pw"), "w") as f:
        f.write("correct horse battery\n")
    env = dict(os.environ)
    env.pop("PVFLEET_KDF_ITERATIONS", None)  # the production cost
    for i in range(users):
        subprocess.run([binary, "user", "add", "--config", config, "--name", f"bench{i:02d}", "--role", "technician",
                        "--password-file", os.path.join(work, "pw")], check=True, env=env, capture_output=True)
    log = open(os.path.join(work, "server.log"), "w+")
    proc = subprocess.Popen([binary, "run", "--config", config], stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 30
    while time.time() < deadline:
        log.seek(0)
        m = re.search(r"http listening on [0-9.]+:(\d+)", log.read())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    log.seek(0)
    sys.exit("server did not start:\n" + log.read())


def probe(port, seconds, interval, timeout=10):
    """Health latencies (ms) on one keep-alive connection, one request every `interval` s. A probe without an
    answer within `timeout` s counts as `timeout` and the connection is opened again."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    out, timeouts = [], 0
    end = time.time() + seconds
    while time.time() < end:
        t = time.perf_counter()
        try:
            conn.request("GET", "/api/health")
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                sys.exit(f"health answered {r.status}")
        except (OSError, http.client.HTTPException):
            timeouts += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        out.append((time.perf_counter() - t) * 1000)
        time.sleep(interval)
    conn.close()
    return out, timeouts


def flood(port, user, stop, statuses, lock):
    body = json.dumps({"user": user, "password": "correct horse battery"})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not stop.is_set():
        try:
            conn.request("POST", "/api/login", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            status = r.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            status = "error"
        with lock:
            statuses[status] = statuses.get(status, 0) + 1
    conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="pvfleet-server binary")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20, help="length of each phase")
    ap.add_argument("--interval", type=float, default=0.05, help="between two health probes")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="pvfleet-login-flood-")
    proc, port = start_server(os.path.abspath(args.bin), work, args.clients)
    try:
        idle = probe(port, args.seconds, args.interval)
        stop, lock, statuses = threading.Event(), threading.Lock(), {}
        threads = [threading.Thread(target=flood, args=(port, f"bench{i:02d}", stop, statuses, lock))
                   for i in range(args.clients)]
        for t in threads:
            t.start()
        time.sleep(2)  # every client has a login in flight
        t0 = time.time()
        before = sum(statuses.values())
        loaded = probe(port, args.seconds, args.interval)
        logins = sum(statuses.values()) - before
        rate = logins / (time.time() - t0)
        stop.set()
        for t in threads:
            t.join()
        print(f"health, idle:                  {summary(idle)}")
        print(f"health, {args.clients} clients logging in: {summary(loaded)}")
        print(f"logins: {rate:.1f}/s, statuses {dict(sorted(statuses.items(), key=str))}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
